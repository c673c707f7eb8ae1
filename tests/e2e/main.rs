//! End-to-end tests of the whole binary: the server over HTTP as a browser
//! and an API client meet it, and the command line as an operator meets it.
//! The suite runs on SQLite, and on PostgreSQL with `COPHUB_TEST_BACKEND=postgres`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_matrix;
mod accessibility;
mod api_fuzz;
mod archive;
mod audit;
mod browser;
mod calls;
mod calls_api;
mod cli;
mod conference_places;
mod conferences;
mod conferences_api;
mod demo;
mod email;
mod helpers;
mod idempotency;
mod lead_day;
mod mailman;
mod metrics;
mod outbox;
mod overview;
mod security;
mod slack;
mod sync;
mod users;
mod zoom_hooks;

use helpers::{OWNER_EMAIL, OWNER_PASSWORD, between, spawn_app};
use serde_json::Value;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn the_setup_link_creates_the_owner_once_and_logs_them_in() {
    let app = spawn_app().await;
    // Before setup, the dashboard asks for a login.
    assert_eq!(app.get("/").await.headers()["location"], "/login");
    app.setup_owner().await;
    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains(OWNER_EMAIL));

    // The link is spent.
    let link = app
        .setup_link
        .as_deref()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_owned();
    assert_eq!(app.get(&link).await.status(), 404);
    let again = app
        .post_form(
            &link,
            &[
                ("email", "mallory@example.org"),
                ("password", "0123456789ab"),
                ("password_again", "0123456789ab"),
            ],
        )
        .await;
    assert_eq!(again.status(), 404);
    assert_eq!(app.get("/setup/made-up-token").await.status(), 404);
}

#[tokio::test]
async fn setup_refuses_a_weak_password_or_a_bad_email_and_keeps_the_link() {
    let app = spawn_app().await;
    let link = app
        .setup_link
        .as_deref()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_owned();
    let weak = app
        .post_form(
            &link,
            &[
                ("email", OWNER_EMAIL),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("10 to 1024 characters"));
    let bad = app
        .post_form(
            &link,
            &[
                ("email", "not an email"),
                ("password", OWNER_PASSWORD),
                ("password_again", OWNER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("not a valid email address")
    );
    // Nothing was spent: the link still works.
    app.setup_owner().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_many_are_rate_limited() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.logout().await;
    let wrong = app.login(OWNER_EMAIL, "wrong password!").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The email or the password is wrong.")
    );
    // An unknown account answers the same way, revealing nothing.
    let unknown = app.login("nobody@example.org", "wrong password!").await;
    assert_eq!(unknown.status(), 401);
    for _ in 0..4 {
        app.login(OWNER_EMAIL, "wrong password!").await;
    }
    let limited = app.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    assert_eq!(
        limited.status(),
        429,
        "even the right password waits once the limit is hit"
    );
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("Too many failed logins")
    );
}

#[tokio::test]
async fn login_rotates_the_session_and_logout_ends_it_on_the_server() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let first = app.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let first_cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    let second = app.login(OWNER_EMAIL, OWNER_PASSWORD).await;
    let second_cookie = second.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert_ne!(
        first_cookie, second_cookie,
        "every login makes a new session"
    );
    assert!(second_cookie.contains("HttpOnly") && second_cookie.contains("SameSite=Lax"));

    // A copy of the session cookie stops working once the user logs out.
    let stolen = between(&second_cookie, "cophub_session=", ";")
        .unwrap()
        .to_owned();
    let thief = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let as_thief = || {
        thief
            .get(app.url("/"))
            .header("cookie", format!("cophub_session={stolen}"))
            .send()
    };
    assert_eq!(as_thief().await.unwrap().status(), 200);
    assert_eq!(app.logout().await.status(), 303);
    assert_eq!(as_thief().await.unwrap().headers()["location"], "/login");
}

#[tokio::test]
async fn a_cross_origin_post_or_a_form_without_its_token_is_refused() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let csrf = app.csrf().await;
    let form = [
        ("slug", "evil"),
        ("name", "Evil"),
        ("timezone", "UTC"),
        ("csrf", csrf.as_str()),
    ];
    let cross_site = app
        .client
        .post(app.url("/communities"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let other_origin = app
        .client
        .post(app.url("/communities"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(other_origin.status(), 403);
    let no_token = app
        .client
        .post(app.url("/communities"))
        .form(&[("slug", "evil"), ("name", "Evil"), ("timezone", "UTC")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    assert!(no_token.text().await.unwrap().contains("security token"));
    let wrong_token = app
        .client
        .post(app.url("/communities"))
        .form(&[
            ("slug", "evil"),
            ("name", "Evil"),
            ("timezone", "UTC"),
            ("csrf", "guessed"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_token.status(), 403);
    // None of them created anything.
    assert!(
        !app.get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("/communities/evil/")
    );
}

#[tokio::test]
async fn an_owner_creates_a_community_imports_a_csv_and_sees_the_roster_after_a_restart() {
    let mut app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "lead@example.org").await;
    let csv = "Email,Name,Role,email_list,phone\n\
        ada@example.org,Ada Lovelace,member,yes,123\n\
        grace@example.org,Grace Hopper,lead,no,456\n";
    let imported = app.import_csv("rse", csv, &[]).await;
    assert_eq!(imported.status(), 200);
    let page = imported.text().await.unwrap();
    assert_eq!(between(&page, "<span id=\"created\">", "<"), Some("2"));
    assert!(
        page.contains("phone"),
        "the ignored column is named in a warning"
    );

    app.restart().await;
    assert!(
        app.setup_link.is_none(),
        "no setup link once an owner exists"
    );
    let roster = app.get("/communities/rse/members").await;
    assert_eq!(roster.status(), 200, "the session survives a restart");
    let roster = roster.text().await.unwrap();
    for name in ["Ada Lovelace", "Grace Hopper", "lead@example.org"] {
        assert!(roster.contains(name), "{name} is on the roster");
    }
}

#[tokio::test]
async fn a_bad_csv_imports_nothing_and_lists_every_bad_row() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let csv = "email,name,role\n\
        ada@example.org,Ada,member\n\
        not-an-email,X,member\n\
        Ada@Example.org,Ada Again,member\n\
        boss@example.org,Boss,owner\n";
    let rejected = app.import_csv("rse", csv, &[]).await;
    assert_eq!(rejected.status(), 422);
    let page = rejected.text().await.unwrap();
    assert!(page.contains("Nothing was imported"));
    assert!(page.contains("line 3:") && page.contains("not a valid email address"));
    assert!(page.contains("line 5:") && page.contains("owner"));
    assert!(page.contains("same person as on line 2"));
    assert!(
        !app.get("/communities/rse/members")
            .await
            .text()
            .await
            .unwrap()
            .contains("ada@example.org")
    );

    let skipped = app.import_csv("rse", csv, &["skip_invalid"]).await;
    assert_eq!(skipped.status(), 200);
    let page = skipped.text().await.unwrap();
    assert_eq!(between(&page, "<span id=\"created\">", "<"), Some("1"));
    let roster = app
        .get("/communities/rse/members")
        .await
        .text()
        .await
        .unwrap();
    assert!(roster.contains("Ada Again"), "the later row won");

    let garbage = app.import_csv("rse", "\"unterminated,\n\u{0}", &[]).await;
    assert_eq!(garbage.status(), 422);
    let not_csv = app.import_csv("rse", "name,role\nAda,lead\n", &[]).await;
    assert_eq!(not_csv.status(), 422);
    assert!(not_csv.text().await.unwrap().contains("no email column"));
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let dry = app
        .import_csv("rse", "email\nada@example.org\n", &["dry_run"])
        .await;
    assert_eq!(dry.status(), 200);
    let page = dry.text().await.unwrap();
    assert!(page.contains("Dry run"));
    assert!(
        !app.get("/communities/rse/members")
            .await
            .text()
            .await
            .unwrap()
            .contains("ada@example.org")
    );
}

/// The roster's "Next page" link.
fn next_page_link(page: &str) -> Option<String> {
    let end = page.find("\" rel=\"next\"")?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(page[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn the_roster_searches_filters_and_pages() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("big", "").await;
    app.import_csv("big", &hub_testkit::fixtures::members_csv(120), &[])
        .await;
    let first = app
        .get("/communities/big/members")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        first.contains("person000000@example.org") && first.contains("person000049@example.org")
    );
    assert!(!first.contains("person000050@example.org"));
    let next = next_page_link(&first).expect("a next page");
    let second = app.get(&next).await.text().await.unwrap();
    assert!(
        second.contains("person000050@example.org") && !second.contains("person000049@example.org")
    );

    let found = app
        .get("/communities/big/members?q=MEMBER%20000077")
        .await
        .text()
        .await
        .unwrap();
    assert!(found.contains("person000077@example.org"));
    assert!(!found.contains("person000076@example.org"));
    let leads = app
        .get("/communities/big/members?role=lead")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        leads.contains("person000010@example.org") && !leads.contains("person000011@example.org")
    );
    let listed = app
        .get("/communities/big/members?consent=email:subscribed")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("person000003@example.org") && !listed.contains("person000004@example.org")
    );

    // In Slack but not on the list: of two people in Slack, the one who
    // does not take the list.
    let store = app.server.as_ref().unwrap().store.clone();
    let big = store.community_by_slug("big").await.unwrap().unwrap();
    for address in ["person000003@example.org", "person000004@example.org"] {
        use hub_core::model::member::{ConsentChannel, ConsentSource, ConsentStatus, MemberUpdate};
        let member = store
            .member_by_email(big.id, &hub_core::Email::parse(address).unwrap())
            .await
            .unwrap()
            .unwrap();
        store
            .update_member(
                big.id,
                member.id,
                MemberUpdate {
                    consents: vec![(
                        ConsentChannel::Slack,
                        ConsentStatus::Subscribed,
                        ConsentSource::Sync,
                    )],
                    ..MemberUpdate::default()
                },
                hub_testkit::fixtures::audit(),
            )
            .await
            .unwrap();
    }
    let roster = app
        .get("/communities/big/members")
        .await
        .text()
        .await
        .unwrap();
    let preset = "/communities/big/members?consent=slack%3Asubscribed&amp;absent=email";
    assert!(roster.contains(preset), "the preset is offered");
    let only_slack = app
        .get(&preset.replace("&amp;", "&"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        only_slack.contains("person000004@example.org")
            && !only_slack.contains("person000003@example.org"),
        "{only_slack}"
    );
    assert!(only_slack.contains("<option value=\"email\" selected>not on the list</option>"));
    assert_eq!(
        app.get("/communities/big/members?absent=fax")
            .await
            .status(),
        400
    );

    let bad = app.get("/communities/big/members?role=owner").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        app.get("/communities/big/members?after=%%%").await.status(),
        400
    );
}

#[tokio::test]
async fn a_lead_sees_only_their_community_and_its_ids_answer_404_elsewhere() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("mine", "lead@example.org").await;
    app.create_community("theirs", "").await;
    app.import_csv("theirs", "email\nsecret@example.org\n", &[])
        .await;
    let theirs_member = {
        let page = app
            .get("/communities/theirs/members")
            .await
            .text()
            .await
            .unwrap();
        let rows = page.split("<tbody>").nth(1).unwrap();
        between(rows, "/communities/theirs/members/", "\"")
            .unwrap()
            .to_owned()
    };
    // The lead gets a login from the owner.
    let store = &app.server.as_ref().unwrap().store;
    store
        .create_user(
            hub_core::model::user::NewUser {
                email: hub_core::Email::parse("Lead@Example.org").unwrap(),
                password_hash: hub_core::auth::hash_password("lead password 123").unwrap(),
                is_owner: false,
            },
            hub_core::model::audit::NewAuditEvent {
                actor: "test".into(),
                action: "user.create".into(),
                community_id: None,
                subject: "lead".into(),
                details: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    app.logout().await;
    assert_eq!(
        app.login("lead@example.org", "lead password 123")
            .await
            .status(),
        303
    );
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("href=\"/communities/mine\""));
    assert!(!home.contains("/communities/theirs"));
    assert!(
        !home.contains("New community"),
        "only owners create communities"
    );
    assert_eq!(app.get("/communities/mine/members").await.status(), 200);
    assert_eq!(app.get("/communities/theirs/members").await.status(), 404);
    assert_eq!(
        app.get(&format!("/communities/theirs/members/{theirs_member}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/communities/mine/members/{theirs_member}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get("/communities/theirs/members.csv").await.status(),
        404
    );
    let create = app
        .post_form(
            "/communities",
            &[("slug", "new"), ("name", "New"), ("timezone", "UTC")],
        )
        .await;
    assert_eq!(create.status(), 403);
}

#[tokio::test]
async fn a_lead_adds_and_edits_a_member_and_consent_changes_are_audited() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let added = app
        .post_form(
            "/communities/rse/members",
            &[
                ("email", "Ada@Example.org"),
                ("name", "Ada"),
                ("role", "member"),
                ("email_consent", "subscribed"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let member_url = added.headers()["location"].to_str().unwrap().to_owned();
    let twice = app
        .post_form(
            "/communities/rse/members",
            &[("email", "ada@example.org"), ("name", "Ada")],
        )
        .await;
    assert_eq!(twice.status(), 409);
    assert!(twice.text().await.unwrap().contains("already a member"));
    let injected = app
        .post_form(
            "/communities/rse/members",
            &[("email", "eve@example.org"), ("name", "Eve\r\nBcc: x@y.z")],
        )
        .await;
    assert_eq!(injected.status(), 422);

    let edited = app
        .post_form(
            &member_url,
            &[
                ("name", "Ada Lovelace"),
                ("role", "lead"),
                ("state", "active"),
                ("email_consent", "opted_out"),
            ],
        )
        .await;
    assert_eq!(edited.status(), 303);
    let page = app.get(&member_url).await.text().await.unwrap();
    assert!(page.contains("Ada Lovelace"));
    assert!(page.contains("<td>opted_out</td>") && page.contains("<td>lead</td>"));

    let store = &app.server.as_ref().unwrap().store;
    let events = store.audit_events(1, 100).await.unwrap();
    let update = events
        .iter()
        .find(|e| e.action == "member.update")
        .expect("the change was audited");
    assert_eq!(update.actor, format!("user:{OWNER_EMAIL}"));
    assert!(update.details.contains("opted_out"));
    assert_eq!(
        hub_core::model::audit::verify_chain(&events),
        Ok(events.len() as u64)
    );
}

#[tokio::test]
async fn an_export_imports_back_without_changes() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    app.import_csv("rse", "email,name,role,email_list\nada@example.org,\"Lovelace, Ada\",lead,yes\nbob@example.org,Bob,member,no\n", &[])
        .await;
    let export = app.get("/communities/rse/members.csv").await;
    assert_eq!(export.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = export.text().await.unwrap();
    assert!(csv.starts_with("email,name,role,state,email_list"));
    assert!(csv.contains("\"Lovelace, Ada\""));
    let again = app.import_csv("rse", &csv, &[]).await.text().await.unwrap();
    assert_eq!(between(&again, "<span id=\"created\">", "<"), Some("0"));
    assert_eq!(between(&again, "<span id=\"updated\">", "<"), Some("0"));
    assert_eq!(between(&again, "<span id=\"unchanged\">", "<"), Some("2"));
}

// --- the JSON API -----------------------------------------------------------

async fn api(
    app: &helpers::TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token)
}

#[tokio::test]
async fn the_api_needs_a_token_and_answers_errors_in_one_shape() {
    let app = spawn_app().await;
    let anonymous = reqwest::get(app.url("/api/v1/communities")).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );

    let wrong = api(&app, "made-up", reqwest::Method::GET, "/api/v1/communities")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = reqwest::get(app.url("/api/v1/nothing-here")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
}

#[tokio::test]
async fn the_api_manages_communities_and_members_with_cursor_pages() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let created = api(&app, &token, reqwest::Method::POST, "/api/v1/communities")
        .await
        .json(&serde_json::json!({"slug": "rse", "name": "RSE", "timezone": "Europe/Berlin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let taken = api(&app, &token, reqwest::Method::POST, "/api/v1/communities")
        .await
        .json(&serde_json::json!({"slug": "rse", "name": "RSE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);
    let bad = api(&app, &token, reqwest::Method::POST, "/api/v1/communities")
        .await
        .json(&serde_json::json!({"slug": "rse2", "name": "RSE", "timezone": "Mars/Base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(
        bad.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mars/Base")
    );
    let malformed = api(&app, &token, reqwest::Method::POST, "/api/v1/communities")
        .await
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["error"]["code"],
        "bad_request"
    );

    let import = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/communities/rse/members/import",
    )
    .await
    .header("content-type", "text/csv")
    .body(hub_testkit::fixtures::members_csv(25))
    .send()
    .await
    .unwrap();
    assert_eq!(import.status(), 200);
    assert_eq!(import.json::<Value>().await.unwrap()["created"], 25);

    let mut seen = Vec::new();
    let mut path = "/api/v1/communities/rse/members?limit=10".to_owned();
    loop {
        let page: Value = api(&app, &token, reqwest::Method::GET, &path)
            .await
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/communities/rse/members?limit=10&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered, no repeats");

    let added = api(&app, &token, reqwest::Method::POST, "/api/v1/communities/rse/members")
        .await
        .json(&serde_json::json!({"email": "Zed@Example.org", "name": "Zed", "email_consent": "subscribed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["consents"]["email"]["status"], "subscribed");
    let id = added["id"].as_str().unwrap();
    let patched: Value = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/communities/rse/members/{id}"),
    )
    .await
    .json(&serde_json::json!({"role": "lead", "consents": {"email": "opted_out"}}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(patched["role"], "lead");
    assert_eq!(patched["consents"]["email"]["status"], "opted_out");
    assert_eq!(patched["consents"]["email"]["source"], "lead");
    let unknown_field = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/api/v1/communities/rse/members/{id}"),
    )
    .await
    .json(&serde_json::json!({"rol": "lead"}))
    .send()
    .await
    .unwrap();
    assert_eq!(unknown_field.status(), 400);
    let filtered: Value = api(
        &app,
        &token,
        reqwest::Method::GET,
        "/api/v1/communities/rse/members?consent=email:opted_out",
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let bad_limit = api(
        &app,
        &token,
        reqwest::Method::GET,
        "/api/v1/communities/rse/members?limit=0",
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(bad_limit.status(), 400);
}

#[tokio::test]
async fn an_api_import_with_bad_rows_lists_them_and_writes_nothing() {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let token = app.api_token(OWNER_EMAIL).await;
    let rejected = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/communities/rse/members/import",
    )
    .await
    .body("email,role\nada@example.org,member\nbob,member\ncy@example.org,owner\n")
    .send()
    .await
    .unwrap();
    assert_eq!(rejected.status(), 422);
    let body: Value = rejected.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_rows");
    let lines: Vec<u64> = body["error"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4]);
    let page: Value = api(
        &app,
        &token,
        reqwest::Method::GET,
        "/api/v1/communities/rse/members",
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes_the_server_answers() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let doc: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 5);
    app.create_community("rse", "").await;
    // Paths naming a conference by its short name name this one.
    let conference = api(
        &app,
        &token,
        reqwest::Method::POST,
        "/api/v1/communities/rse/conferences",
    )
    .await
    .json(&serde_json::json!({
        "slug": "unconf", "name": "Unconference", "starts_on": "2027-03-04",
        "ends_on": "2027-03-04", "timezone": "Europe/Berlin", "capacity": 10,
        "vote_budget": 3, "show_up_factor": 0.7,
    }))
    .send()
    .await
    .unwrap();
    assert_eq!(conference.status(), 201);
    for path in paths.keys() {
        let concrete = path
            .replace("{slug}", "rse")
            .replace("{conference}", "unconf")
            .replace("{id}", "00000000-0000-0000-0000-000000000000");
        let methods = paths[path].as_object().unwrap();
        if methods.contains_key("get") {
            let status = api(&app, &token, reqwest::Method::GET, &concrete)
                .await
                .send()
                .await
                .unwrap()
                .status();
            assert!(status == 200 || status == 404, "{path}: {status}");
            if !path.contains("{id}") {
                assert_eq!(status, 200, "{path} answers");
            }
        }
    }
}
