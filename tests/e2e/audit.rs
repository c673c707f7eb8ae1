//! The audit log as people meet it: `cophub audit verify` on a chain that is
//! whole, then changed and cut behind cophub's back; a lead's audit page
//! and its API, filtered and paged, and who may not read them.

use std::process::Output;

use hub_core::model::audit::NewAuditEvent;
use serde_json::Value;

use crate::helpers::{OWNER_EMAIL, TestApp, between, cophub_command, spawn_app};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs SQL on a SQLite file with the `sqlite3` program, as someone with the
/// file could.
fn sqlite3(file: &std::path::Path, sql: &str) {
    let output = std::process::Command::new("sqlite3")
        .arg(file)
        .arg(sql)
        .output()
        .expect("the sqlite3 program is installed");
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn audit_verify_passes_a_whole_chain_and_names_a_changed_or_removed_entry() {
    let data_dir = tempfile::tempdir().unwrap();
    let db = hub_testkit::database::TestDatabase::sqlite();
    let file = std::path::PathBuf::from(db.url().strip_prefix("sqlite://").unwrap());
    let key = hub_core::secrets::SecretKeys::generate_hex();
    let run = |args: &[&str]| {
        cophub_command()
            .args(args)
            .args(["--data-dir", data_dir.path().to_str().unwrap()])
            .args(["--database-url", db.url()])
            .env("COPHUB_SECRET_KEY", &key)
            .env("COPHUB_LOG_FILTER", "warn")
            .output()
            .unwrap()
    };
    for slug in ["rse", "hpc", "ml"] {
        let made = run(&["community", "create", "--slug", slug, "--name", slug]);
        assert!(made.status.success(), "{}", stderr(&made));
    }
    let csv = data_dir.path().join("members.csv");
    std::fs::write(
        &csv,
        "email,name\nada@example.org,Ada\nbob@example.org,Bob\n",
    )
    .unwrap();
    let imported = run(&[
        "members",
        "import",
        "--community",
        "rse",
        csv.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));

    let whole = run(&["audit", "verify"]);
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let line = stdout(&whole);
    let last_hash = line
        .trim()
        .strip_prefix("audit chain intact: 4 entries, last hash ")
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(last_hash.len(), 64, "{line}");

    // Someone with the file drops the database's append-only guard and
    // changes what entry 2 says.
    sqlite3(
        &file,
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; \
         UPDATE audit_events SET details = details || ' ' WHERE seq = 2;",
    );
    let changed = run(&["audit", "verify"]);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    let sentence = stderr(&changed);
    assert_eq!(sentence.lines().count(), 1, "one sentence: {sentence}");
    assert!(
        sentence.contains("broken at entry 2 (")
            && sentence.contains("by cli: community.create on \"hpc\"")
            && sentence.contains("its content was changed after it was written"),
        "{sentence}"
    );
    assert!(stdout(&changed).is_empty());

    // Put back, the chain checks out again; then a middle entry goes.
    sqlite3(
        &file,
        "UPDATE audit_events SET details = substr(details, 1, length(details) - 1) WHERE seq = 2;",
    );
    assert_eq!(run(&["audit", "verify"]).status.code(), Some(0));
    sqlite3(&file, "DELETE FROM audit_events WHERE seq = 2;");
    let removed = run(&["audit", "verify"]);
    assert_eq!(removed.status.code(), Some(1), "{}", stderr(&removed));
    let sentence = stderr(&removed);
    assert!(
        sentence.contains("broken at entry 3 (")
            && sentence.contains("community.create on \"ml\"")
            && sentence.contains("the entries between entry 1 and it were removed"),
        "{sentence}"
    );
}

/// The seqs a log page shows, in order.
fn seqs(page: &str) -> Vec<i64> {
    page.split("<tr data-seq=\"")
        .skip(1)
        .map(|row| row[..row.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The "Older entries" link of a log page, as a path.
fn older(page: &str) -> Option<String> {
    let link = between(page, "<a href=\"", "\" rel=\"next\"")?;
    let link = link.rsplit("<a href=\"").next().unwrap();
    // The page escapes `&` in its links (`&#38;`, or `&amp;`).
    Some(link.replace("&#38;", "&").replace("&amp;", "&"))
}

/// Every seq of a log, page by page from `path`.
async fn walk(app: &TestApp, path: &str) -> Vec<i64> {
    let mut all = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        assert!(all.len() < 1000, "the pages never end: {path}");
        let page = app.get(&path).await;
        assert_eq!(page.status(), 200, "{path}");
        let page = page.text().await.unwrap();
        all.extend(seqs(&page));
        next = older(&page);
    }
    all
}

async fn make_user(app: &TestApp, email: &str, password: &str) {
    let store = &app.server.as_ref().unwrap().store;
    store
        .create_user(
            hub_core::model::user::NewUser {
                email: hub_core::Email::parse(email).unwrap(),
                password_hash: hub_core::auth::hash_password(password).unwrap(),
                is_owner: false,
            },
            NewAuditEvent {
                actor: "cli".into(),
                action: "user.create".into(),
                community_id: None,
                subject: email.into(),
                details: serde_json::json!({"owner": false}),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lead_reads_their_communitys_audit_log_filtered_and_paged_and_nobody_else_does() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "lead@example.org").await;
    app.create_community("other", "").await;
    app.import_csv("rse", "email,name\nplain@example.org,Plain\n", &[])
        .await;
    app.import_csv("other", "email\nsecret@example.org\n", &[])
        .await;
    let store = app.server.as_ref().unwrap().store.clone();
    let rse = store.community_by_slug("rse").await.unwrap().unwrap();
    // Sixty sync changes, so the log runs over more than one page; one
    // carries markup, which the page must show as text.
    for i in 0..60 {
        store
            .append_audit(NewAuditEvent {
                actor: "system:sync:chan-1".into(),
                action: "sync.apply".into(),
                community_id: Some(rse.id),
                subject: format!("run {i}"),
                details: serde_json::json!({"added": i, "note": "<script>alert(1)</script>"}),
            })
            .await
            .unwrap();
    }
    make_user(&app, "lead@example.org", "lead password 123").await;
    make_user(&app, "plain@example.org", "plain password 123").await;

    app.logout().await;
    assert_eq!(
        app.login("lead@example.org", "lead password 123")
            .await
            .status(),
        303
    );
    let added = app
        .post_form(
            "/communities/rse/members",
            &[("email", "new@example.org"), ("name", "New")],
        )
        .await;
    assert_eq!(added.status(), 303);

    // The whole community, newest first, in pages of fifty.
    let first = app.get("/communities/rse/audit").await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    assert!(first.contains("href=\"/communities/rse/audit\">Audit log</a>"));
    assert!(first.contains("<label>Who"), "every filter has a label");
    assert_eq!(seqs(&first).len(), 50);
    assert!(first.contains("user:lead@example.org") && first.contains("member.create"));
    assert!(
        first.contains("&#60;script&#62;alert(1)") && !first.contains("<script>"),
        "{first}"
    );
    assert!(
        !first.contains("secret@example.org"),
        "another community's entry"
    );
    let every = walk(&app, "/communities/rse/audit").await;
    let expected: Vec<i64> = store
        .audit_events(1, 1000)
        .await
        .unwrap()
        .iter()
        .rev()
        .filter(|e| e.community_id == Some(rse.id))
        .map(|e| e.seq)
        .collect();
    assert_eq!(every, expected);
    assert!(every.len() > 60);

    // Filters: a person, an action prefix, days.
    let by_lead = app
        .get("/communities/rse/audit?actor=Lead%40Example.org")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(seqs(&by_lead).len(), 1, "{by_lead}");
    assert!(by_lead.contains("new@example.org"));
    let sync_only = walk(
        &app,
        "/communities/rse/audit?actor=system%3Async&action=sync.",
    )
    .await;
    assert_eq!(sync_only.len(), 60);
    let members = app
        .get("/communities/rse/audit?action=member")
        .await
        .text()
        .await
        .unwrap();
    assert!(!seqs(&members).is_empty() && !members.contains("sync.apply"));
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    assert!(
        seqs(
            &app.get(&format!("/communities/rse/audit?from={tomorrow}"))
                .await
                .text()
                .await
                .unwrap()
        )
        .is_empty()
    );
    assert_eq!(
        walk(
            &app,
            &format!("/communities/rse/audit?from={today}&to={today}")
        )
        .await,
        expected
    );
    let bad = app.get("/communities/rse/audit?from=yesterday").await;
    assert_eq!(bad.status(), 400);

    // The API answers the same rows.
    let token = app.api_token("lead@example.org").await;
    let api = async |path: String| {
        app.client
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
    };
    let mut from_api = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = api(format!(
            "/api/v1/communities/rse/audit?actor=system:sync&limit=25&cursor={cursor}"
        ))
        .await
        .json()
        .await
        .unwrap();
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["actor"], "system:sync:chan-1");
            assert_eq!(item["details"]["note"], "<script>alert(1)</script>");
            from_api.push(item["seq"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(from_api, sync_only);
    let by_lead_api: Value = api("/api/v1/communities/rse/audit?actor=lead@example.org".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_lead_api["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_lead_api["items"][0]["action"], "member.create");
    let elsewhere = api("/api/v1/communities/other/audit".into()).await;
    assert_eq!(elsewhere.status(), 404);
    let bad = api("/api/v1/communities/rse/audit?to=2026-01-01&from=2026-02-01".into()).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("before they begin"));

    // Another community, and the whole log, are not the lead's to read.
    assert_eq!(app.get("/communities/other/audit").await.status(), 404);
    assert_eq!(app.get("/audit").await.status(), 403);

    // A member of the community with a login sees nothing; nor does anyone
    // logged out.
    app.logout().await;
    assert_eq!(
        app.get("/communities/rse/audit").await.headers()["location"],
        "/login"
    );
    assert_eq!(app.get("/audit").await.headers()["location"], "/login");
    assert_eq!(
        app.login("plain@example.org", "plain password 123")
            .await
            .status(),
        303
    );
    assert_eq!(app.get("/communities/rse/audit").await.status(), 404);
    let anonymous = app
        .client
        .get(app.url("/api/v1/communities/rse/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn an_owner_reads_the_whole_log_and_verifies_the_chain() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let whole = app.get("/audit").await;
    assert_eq!(whole.status(), 200);
    let whole = whole.text().await.unwrap();
    // Entries of no community (the owner's setup) and of a community.
    assert!(whole.contains("owner.setup") && whole.contains(&format!("user:{OWNER_EMAIL}")));
    assert!(whole.contains("<a href=\"/communities/rse/audit\">rse</a>"));
    let community = app
        .get("/communities/rse/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(!community.contains("owner.setup") && community.contains("community.create"));
    assert!(
        community.contains("href=\"/audit\""),
        "owners get the whole log from there"
    );

    let verified = app.get("/audit?verify=1").await.text().await.unwrap();
    assert!(
        verified.contains("The audit chain is intact: ")
            && verified.contains("role=\"status\" class=\"health-ok\""),
        "{verified}"
    );
}

/// A member's page lists what was changed about them, newest first, and
/// nothing about anyone else.
#[tokio::test]
async fn a_members_page_shows_their_own_history() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let token = app.api_token(OWNER_EMAIL).await;
    let mut ids = Vec::new();
    for (email, name) in [("ada@example.org", "Ada"), ("bob@example.org", "Bob")] {
        let created: Value = app
            .client
            .post(app.url("/api/v1/communities/rse/members"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"email": email, "name": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let renamed = app
        .client
        .patch(app.url(&format!("/api/v1/communities/rse/members/{}", ids[0])))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200, "{}", renamed.text().await.unwrap());

    let page = app
        .get(&format!("/communities/rse/members/{}", ids[0]))
        .await
        .text()
        .await
        .unwrap();
    let history = between(&page, "<table class=\"history\">", "</table>")
        .unwrap_or_else(|| panic!("the page has a history: {page}"));
    let update = history.find("member.update").expect("the rename");
    let create = history.find("member.create").expect("the creation");
    assert!(update < create, "newest first: {history}");
    assert!(history.contains("Ada Lovelace"), "{history}");
    assert!(!history.contains("bob@example.org"), "{history}");
}
