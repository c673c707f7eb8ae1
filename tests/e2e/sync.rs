//! Membership sync and announcements as a lead meets them: the Sync page
//! (dry run, run now, a held plan's diff, approve, discard) and the same
//! through the API, against a fake Slack-like channel from hub-testkit.

use std::{sync::Arc, time::Duration};

use hub_core::model::{channel::ChannelKind, community::Community, sync::NewSyncJob};
use hub_testkit::{
    fake_adapter::{FakeChannel, FakeFactory},
    fixtures::{self, audit},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app_with},
};

pub(crate) struct Synced {
    pub(crate) app: TestApp,
    pub(crate) fake: FakeChannel,
    community: Community,
    channel: String,
}

/// An owner, the community `rse`, and a Slack channel importing its members
/// from a fake workspace of 40 people.
pub(crate) async fn synced_app() -> Synced {
    let fake = FakeChannel::new();
    fake.set_members(fixtures::remote_people(0..40), 15);
    let app = spawn_app_with(Arc::new(FakeFactory(fake.clone()))).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let channel = fixtures::channel(store.as_ref(), community.id, ChannelKind::Slack, 0).await;
    let job = NewSyncJob {
        direction: hub_core::model::sync::SyncDirection::Import,
        cron: "@daily".into(),
        max_remove_fraction: 0.10,
        max_remove_count: 3,
    };
    store
        .create_sync_job(channel.id, job, audit())
        .await
        .unwrap();
    Synced {
        app,
        fake,
        community,
        channel: channel.id.to_string(),
    }
}

impl Synced {
    pub(crate) async fn in_slack(&self) -> usize {
        let store = &self.app.server.as_ref().unwrap().store;
        store
            .all_members(self.community.id)
            .await
            .unwrap()
            .iter()
            .filter(|m| {
                m.consent(hub_core::model::member::ConsentChannel::Slack)
                    == hub_core::model::member::ConsentStatus::Subscribed
            })
            .count()
    }

    /// Posts a Sync page form; returns the page it redirects to.
    async fn click(&self, action: &str, mode: Option<&str>) -> String {
        let path = format!("/communities/rse/sync/{}/{action}", self.channel);
        let fields: Vec<(&str, &str)> = mode.map(|m| ("mode", m)).into_iter().collect();
        let response = self.app.post_form(&path, &fields).await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let page = self.app.get(&location).await;
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    }
}

#[tokio::test]
async fn a_lead_plans_runs_and_approves_a_held_sync_on_the_sync_page() {
    let s = synced_app().await;
    let page = s
        .app
        .get("/communities/rse/sync")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("slack"), "{page}");
    assert!(page.contains("<code>@daily</code>"));
    assert!(page.contains("never"));

    let dry = s.click("run", Some("dry_run")).await;
    assert!(dry.contains("state-planned"), "{dry}");
    assert!(dry.contains("+ p0@example.org"));
    assert!(dry.contains("Into the hub from the channel (40)"));
    assert_eq!(s.in_slack().await, 0, "a dry run changes nothing");

    let applied = s.click("run", Some("apply")).await;
    assert!(applied.contains("state-applied"), "{applied}");
    assert_eq!(s.in_slack().await, 40);

    // Half the workspace leaves: past the guardrail, so the plan is held.
    s.fake.set_members(fixtures::remote_people(0..20), 15);
    let held = s.click("run", Some("apply")).await;
    assert!(held.contains("Held for a lead"), "{held}");
    assert!(held.contains("remove 20 of 40 people"), "{held}");
    assert!(held.contains("− p20@example.org"));
    assert!(held.contains("Approve and apply"));
    assert_eq!(s.in_slack().await, 40, "held: nothing applied");
    let overview = s
        .app
        .get("/communities/rse/sync")
        .await
        .text()
        .await
        .unwrap();
    assert!(overview.contains("A plan is held"), "{overview}");

    let approved = s.click("approve", None).await;
    assert!(approved.contains("state-applied"), "{approved}");
    assert!(!approved.contains("Approve and apply"));
    assert_eq!(s.in_slack().await, 20);
    let overview = s
        .app
        .get("/communities/rse/sync")
        .await
        .text()
        .await
        .unwrap();
    assert!(!overview.contains("A plan is held"));

    // Nothing is held now: a stale discard is refused, and changes nothing.
    let stale = s
        .app
        .post_form(&format!("/communities/rse/sync/{}/discard", s.channel), &[])
        .await;
    assert_eq!(stale.status(), 409);
    assert!(stale.text().await.unwrap().contains("nothing to discard"));

    let bad_mode = s
        .app
        .post_form(
            &format!("/communities/rse/sync/{}/run", s.channel),
            &[("mode", "everything")],
        )
        .await;
    assert_eq!(bad_mode.status(), 400);
    for path in [
        "/communities/rse/sync/not-an-id/run".to_owned(),
        format!("/communities/rse/sync/{}/run", uuid::Uuid::new_v4()),
    ] {
        let response = s.app.post_form(&path, &[("mode", "apply")]).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert_eq!(
        s.app
            .get("/communities/rse/sync/runs/not-a-run")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_held_plan_is_discarded_from_its_page() {
    let s = synced_app().await;
    s.click("run", Some("apply")).await;
    s.fake.set_members(Vec::new(), 15);
    let held = s.click("run", Some("apply")).await;
    assert!(held.contains("the channel read empty"), "{held}");
    let discarded = s.click("discard", None).await;
    assert!(discarded.contains("state-discarded"), "{discarded}");
    assert!(!discarded.contains("Approve and apply"));
    assert_eq!(s.in_slack().await, 40, "a discarded plan changes nothing");
}

#[tokio::test]
async fn the_api_runs_lists_approves_and_discards_syncs() {
    let s = synced_app().await;
    let token = s.app.api_token(OWNER_EMAIL).await;
    let call = |method: Method, path: String| {
        let app = &s.app;
        let token = token.clone();
        async move { api(app, &token, method, &path).await.send().await.unwrap() }
    };

    let channels: Value = call(Method::GET, "/api/v1/communities/rse/channels".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(channels[0]["id"], s.channel.as_str());
    assert_eq!(channels[0]["sync"]["direction"], "import");
    assert_eq!(channels[0]["health"], "ok");

    let sync = format!("/api/v1/communities/rse/channels/{}/sync", s.channel);
    let dry = call(Method::POST, format!("{sync}?dry_run=true")).await;
    assert_eq!(dry.status(), 201);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(dry["state"], "planned");
    assert_eq!(dry["plan"]["totals"]["hub_adds"], 40);
    assert_eq!(s.in_slack().await, 0);

    let applied: Value = call(Method::POST, sync.clone()).await.json().await.unwrap();
    assert_eq!(applied["state"], "applied");
    assert_eq!(applied["counts"]["added"], 40);

    s.fake.set_members(fixtures::remote_people(0..30), 15);
    let held: Value = call(Method::POST, sync.clone()).await.json().await.unwrap();
    assert_eq!(held["state"], "held");
    assert_eq!(held["plan"]["held"]["removals"], 10);
    let discarded = call(Method::POST, format!("{sync}/discard")).await;
    assert_eq!(discarded.status(), 200);
    let discarded: Value = discarded.json().await.unwrap();
    assert_eq!(
        (&discarded["id"], &discarded["state"]),
        (&held["id"], &json!("discarded"))
    );
    let nothing = call(Method::POST, format!("{sync}/approve")).await;
    assert_eq!(nothing.status(), 409);
    let error: Value = nothing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "conflict");

    call(Method::POST, sync.clone()).await;
    let approved = call(Method::POST, format!("{sync}/approve")).await;
    assert_eq!(approved.status(), 201);
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(approved["state"], "applied");
    assert_eq!(s.in_slack().await, 30);

    let runs: Value = call(Method::GET, format!("{sync}/runs?limit=10"))
        .await
        .json()
        .await
        .unwrap();
    let states: Vec<&str> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["applied", "held", "discarded", "applied", "planned"],
        "newest first; the approved plan's held run stays on record"
    );
    let one: Value = call(
        Method::GET,
        format!(
            "/api/v1/communities/rse/sync/runs/{}",
            approved["id"].as_str().unwrap()
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["counts"]["removed"], 10);

    // A revoked token fails the run and parks the channel until a lead
    // reconnects it.
    s.fake
        .fail_page(1, hub_testkit::fake_adapter::Scripted::Auth);
    let failed: Value = call(Method::POST, sync.clone()).await.json().await.unwrap();
    assert_eq!(failed["state"], "failed");
    let channels: Value = call(Method::GET, "/api/v1/communities/rse/channels".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(channels[0]["health"], "needs_reconnect");
    assert!(
        channels[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("token_revoked")
    );
    let reconnect = format!("/api/v1/communities/rse/channels/{}/reconnect", s.channel);
    for (body, status) in [
        (json!({"secret": " "}), 422),
        (json!({"token": "x"}), 400),
        (json!({"secret": "xoxb-new"}), 200),
    ] {
        let response = api(&s.app, &token, Method::POST, &reconnect)
            .await
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
        if status == 200 {
            let channel: Value = response.json().await.unwrap();
            assert_eq!(channel["health"], "ok");
            assert!(channel["last_error"].is_null());
        }
    }

    for (method, path, status) in [
        (Method::GET, format!("{sync}/runs?limit=0"), 400),
        (Method::GET, format!("{sync}/runs?limit=x"), 400),
        (Method::POST, format!("{sync}?dry_run=maybe"), 400),
        (
            Method::POST,
            "/api/v1/communities/rse/channels/nope/sync".to_owned(),
            404,
        ),
        (
            Method::GET,
            format!("/api/v1/communities/rse/sync/runs/{}", uuid::Uuid::new_v4()),
            404,
        ),
        (
            Method::POST,
            format!("/api/v1/communities/other/channels/{}/sync", s.channel),
            404,
        ),
    ] {
        let response = call(method.clone(), path.clone()).await;
        assert_eq!(response.status(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{method} {path}");
    }
}

/// Reads the announcement at `path` until one of its deliveries is `action`
/// in `state` (the server's worker delivers in the background).
async fn wait_for_delivery(
    app: &TestApp,
    token: &str,
    path: &str,
    action: &str,
    state: &str,
) -> Value {
    for _ in 0..100 {
        let shown: Value = api(app, token, Method::GET, path)
            .await
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let reached = shown["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["action"] == action && d["state"] == state);
        if reached {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {action} delivery of {path} reached {state}");
}

#[tokio::test]
async fn the_api_publishes_an_announcement_and_shows_each_delivery() {
    let s = synced_app().await;
    let token = s.app.api_token(OWNER_EMAIL).await;
    let post = |body: Value| {
        let app = &s.app;
        let token = token.clone();
        async move {
            api(
                app,
                &token,
                Method::POST,
                "/api/v1/communities/rse/announcements",
            )
            .await
            .json(&body)
            .send()
            .await
            .unwrap()
        }
    };
    let created = post(json!({
        "title": "Call for talks",
        "body_markdown": "Propose a session for **May**.",
        "channels": [s.channel, s.channel],
    }))
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        created["deliveries"].as_array().unwrap().len(),
        1,
        "one delivery per channel, however often it is named"
    );
    let path = format!(
        "/api/v1/communities/rse/announcements/{}",
        created["id"].as_str().unwrap()
    );

    // The worker inside the server delivers it to the fake channel.
    let shown = wait_for_delivery(&s.app, &token, &path, "post", "sent").await;
    assert_eq!(shown["deliveries"][0]["state"], "sent", "{shown}");
    assert!(shown["deliveries"][0]["remote_ref"].is_string());
    assert_eq!(s.fake.posts().len(), 1);

    // An edit reaches the channel through its edit call, not a second post.
    let patch = api(&s.app, &token, Method::PATCH, &path)
        .await
        .json(&json!({"title": "Call for talks (extended)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let patched: Value = patch.json().await.unwrap();
    assert_eq!(patched["revision"], 2);
    assert_eq!(patched["body_markdown"], "Propose a session for **May**.");
    wait_for_delivery(&s.app, &token, &path, "edit", "sent").await;
    assert_eq!(s.fake.posts().len(), 1);
    assert!(matches!(
        &s.fake.changes()[..],
        [hub_testkit::fake_adapter::Change::Edited { title, revision: 2, .. }] if title == "Call for talks (extended)"
    ));
    let retract = api(&s.app, &token, Method::POST, &format!("{path}/retract"))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(retract.status(), 200);
    let retracted = wait_for_delivery(&s.app, &token, &path, "retract", "sent").await;
    assert!(retracted["retracted_at"].is_string());
    assert_eq!(s.fake.changes().len(), 2);
    let too_late = api(&s.app, &token, Method::PATCH, &path)
        .await
        .json(&json!({"body_markdown": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_late.status(), 409);

    let listed: Value = api(
        &s.app,
        &token,
        Method::GET,
        "/api/v1/communities/rse/announcements",
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(listed["items"][0]["title"], "Call for talks (extended)");

    // A refusal fails the delivery; the lead's retry sends it again.
    s.fake
        .script([hub_testkit::fake_adapter::Scripted::Permanent]);
    let refused: Value = post(json!({
        "title": "Refused once",
        "body_markdown": "x",
        "channels": [s.channel],
    }))
    .await
    .json()
    .await
    .unwrap();
    let refused_path = format!(
        "/api/v1/communities/rse/announcements/{}",
        refused["id"].as_str().unwrap()
    );
    let delivery = refused["deliveries"][0]["id"].as_str().unwrap().to_owned();
    wait_for_delivery(&s.app, &token, &refused_path, "post", "failed").await;
    let retry = format!("{refused_path}/deliveries/{delivery}/retry");
    let retried = api(&s.app, &token, Method::POST, &retry)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    wait_for_delivery(&s.app, &token, &refused_path, "post", "sent").await;
    let not_failed = api(&s.app, &token, Method::POST, &retry)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(not_failed.status(), 409);

    let later = post(json!({
        "title": "Next month",
        "body_markdown": "Soon.",
        "channels": [s.channel],
        "send_at": "2099-01-01T09:00:00Z",
    }))
    .await;
    let later: Value = later.json().await.unwrap();
    assert_eq!(later["deliveries"][0]["state"], "pending");
    assert_eq!(later["send_at"], "2099-01-01T09:00:00Z");

    for (body, status) in [
        (
            json!({"title": "", "body_markdown": "x", "channels": [s.channel]}),
            422,
        ),
        (
            json!({"title": "No channel", "body_markdown": "x", "channels": []}),
            422,
        ),
        (
            json!({"title": "Elsewhere", "body_markdown": "x", "channels": [uuid::Uuid::new_v4()]}),
            422,
        ),
        (
            json!({"title": "Typo", "body": "x", "channels": [s.channel]}),
            400,
        ),
    ] {
        let response = post(body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].is_string());
    }
    let missing = api(
        &s.app,
        &token,
        Method::GET,
        &format!(
            "/api/v1/communities/rse/announcements/{}",
            uuid::Uuid::new_v4()
        ),
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_announcements_page_refuses_bad_input_with_a_message_and_writes_nothing() {
    let s = synced_app().await;
    let page = s.app.get("/communities/rse/announcements").await;
    assert_eq!(page.status(), 200);
    let no_channel = s
        .app
        .post_form(
            "/communities/rse/announcements",
            &[("title", "Hello"), ("body_markdown", "x")],
        )
        .await;
    assert_eq!(no_channel.status(), 422);
    let text = no_channel.text().await.unwrap();
    assert!(text.contains("choose at least one channel"), "{text}");
    assert!(
        text.contains("value=\"Hello\""),
        "the form keeps what was typed"
    );
    let foreign = s
        .app
        .post_form(
            "/communities/rse/announcements",
            &[
                ("title", "Hello"),
                ("body_markdown", "x"),
                ("channel", &uuid::Uuid::new_v4().to_string()),
            ],
        )
        .await;
    assert_eq!(foreign.status(), 400);
    let store = &s.app.server.as_ref().unwrap().store;
    assert!(
        store
            .announcements(s.community.id, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was written"
    );

    let created = s
        .app
        .post_form(
            "/communities/rse/announcements",
            &[
                ("title", "Hello"),
                ("body_markdown", "x"),
                ("channel", &s.channel),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let path = created.headers()["location"].to_str().unwrap().to_owned();
    let bad_edit = s
        .app
        .post_form(
            &format!("{path}/edit"),
            &[("title", "  "), ("body_markdown", "y")],
        )
        .await;
    assert_eq!(bad_edit.status(), 422);
    assert!(bad_edit.text().await.unwrap().contains("a title must have"));
    let id = path.rsplit('/').next().unwrap();
    let delivery = store
        .deliveries(id.parse().unwrap())
        .await
        .unwrap()
        .remove(0);
    let not_failed = s
        .app
        .post_form(&format!("{path}/deliveries/{}/retry", delivery.id), &[])
        .await;
    assert_eq!(not_failed.status(), 409);
    assert_eq!(
        s.app
            .get("/communities/rse/announcements/not-an-id")
            .await
            .status(),
        404
    );
}

/// "Send at" on the compose form is the community's local time (Europe/
/// Berlin here); what is not a date and time is refused with a message and
/// writes nothing.
#[tokio::test]
async fn the_announcements_page_schedules_for_a_local_time() {
    let s = synced_app().await;
    let store = &s.app.server.as_ref().unwrap().store;
    let bad = s
        .app
        .post_form(
            "/communities/rse/announcements",
            &[
                ("title", "Later"),
                ("body_markdown", "x"),
                ("channel", &s.channel),
                ("send_at", "tomorrow morning"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let text = bad.text().await.unwrap();
    assert!(text.contains("is not a date and time"), "{text}");
    assert!(text.contains("value=\"tomorrow morning\""), "{text}");
    assert!(
        store
            .announcements(s.community.id, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let scheduled = s
        .app
        .post_form(
            "/communities/rse/announcements",
            &[
                ("title", "Later"),
                ("body_markdown", "x"),
                ("channel", &s.channel),
                ("send_at", "2030-06-01T09:30"),
            ],
        )
        .await;
    assert_eq!(scheduled.status(), 303);
    let written = store.announcements(s.community.id, 10).await.unwrap();
    assert_eq!(
        written[0].send_at.map(|at| at.to_rfc3339()).as_deref(),
        Some("2030-06-01T07:30:00+00:00"),
        "09:30 in Berlin's summer is 07:30 UTC"
    );
    let list = s
        .app
        .get("/communities/rse/announcements")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("(send at 2030-06-01 09:30 Europe/Berlin)"),
        "{list}"
    );
}

/// An account the channel shares no email for is listed on the run's page;
/// a lead links it to a member there, and the next run reads it as them.
#[tokio::test]
async fn a_lead_links_an_account_without_an_email_to_a_member() {
    let s = synced_app().await;
    let mut people = fixtures::remote_people(0..3);
    people.push(hub_core::ports::adapter::RemoteMember {
        external_id: "U0HIDDEN".into(),
        email: None,
        name: "Hidden Address".into(),
    });
    s.fake.set_members(people, 15);
    s.app
        .post_form(
            "/communities/rse/members",
            &[
                ("email", "ada@example.net"),
                ("name", "Ada"),
                ("role", "member"),
                ("state", "active"),
                ("email_consent", "none"),
            ],
        )
        .await;
    let page = s.click("run", Some("apply")).await;
    assert!(
        page.contains("Channel accounts without an email (1)"),
        "{page}"
    );
    assert!(page.contains("value=\"U0HIDDEN\""), "{page}");
    let run = hub_web_run_id(&page);

    // Bad input is refused with a message; nothing is linked.
    for (email, wanted) in [
        ("not an address", "is not a valid email address"),
        (
            "nobody@example.net",
            "no member of this community has the address",
        ),
    ] {
        let refused = s
            .app
            .post_form(
                &format!("/communities/rse/sync/{}/link", s.channel),
                &[("account", "U0HIDDEN"), ("email", email), ("run", &run)],
            )
            .await;
        assert_eq!(refused.status(), 422);
        let text = refused.text().await.unwrap();
        assert!(text.contains(wanted), "{text}");
    }

    let linked = s
        .app
        .post_form(
            &format!("/communities/rse/sync/{}/link", s.channel),
            &[
                ("account", "U0HIDDEN"),
                ("email", "Ada@Example.net"),
                ("run", &run),
            ],
        )
        .await;
    assert_eq!(linked.status(), 303, "{}", linked.text().await.unwrap());
    assert_eq!(
        linked.headers()["location"],
        format!("/communities/rse/sync/runs/{run}").as_str()
    );

    let page = s.click("run", Some("apply")).await;
    assert!(
        page.contains("Channel accounts without an email (0)"),
        "{page}"
    );
    let store = &s.app.server.as_ref().unwrap().store;
    let ada = store
        .member_by_email(
            s.community.id,
            &hub_core::Email::parse("ada@example.net").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ada.consent(hub_core::model::member::ConsentChannel::Slack),
        hub_core::model::member::ConsentStatus::Subscribed,
        "the linked account is Ada's presence in Slack"
    );
    // Her page tells of the link.
    let member_page = s
        .app
        .get(&format!("/communities/rse/members/{}", ada.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        member_page.contains("member.account_linked"),
        "{member_page}"
    );
    let linked = crate::helpers::between(&member_page, "<table class=\"linked\">", "</table>")
        .unwrap_or_else(|| panic!("the page lists linked accounts: {member_page}"));
    assert!(linked.contains("U0HIDDEN"), "{linked}");
}

/// The run id in a run page's link form.
fn hub_web_run_id(page: &str) -> String {
    crate::helpers::between(page, "name=\"run\" value=\"", "\"")
        .expect("the page links accounts for its run")
        .to_owned()
}
