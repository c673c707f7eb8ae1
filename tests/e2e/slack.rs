//! A community's Slack workspace, as a lead and Slack meet the hub: the
//! install through OAuth v2, the first import, choosing conversations, an
//! announcement through the outbox, and the Events API keeping the roster
//! fresh — against hub-testkit's fake Slack, which follows Slack's method
//! pages and shares nothing with the adapter.

use std::time::Duration;

use hub_core::model::{
    channel::{Channel, ChannelKind},
    member::{ConsentChannel, ConsentStatus},
};
use hub_testkit::slack::{FakeSlack, NewUser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, between, spawn_app_configured},
};

/// A hub whose Slack app is the fake's.
pub async fn slack_app(slack: &FakeSlack) -> TestApp {
    let (api_url, authorize_url, app) = (slack.api_url(), slack.authorize_url(), slack.app());
    spawn_app_configured(move |config| {
        config.slack.api_url = api_url;
        config.slack.authorize_url = authorize_url;
        config.slack.client_id = Some(app.client_id);
        config.slack.client_secret = Some(app.client_secret.into());
        config.slack.signing_secret = Some(app.signing_secret.into());
        config.outbox.idle_poll_ms = 50;
    })
    .await
}

/// Where a redirect goes.
fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// What the lead's browser does at Slack: opens the consent page the hub
/// sent it to and presses the button; returns where Slack sends it back.
async fn at_slack(authorize: &str, decision: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Allow"), "{page}");
    let request = between(&page, "name=\"request\" value=\"", "\"").unwrap();
    let form_url = authorize.split('?').next().unwrap();
    let back = browser
        .post(form_url)
        .form(&[("request", request), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302, "{}", back.text().await.unwrap());
    location(&back)
}

/// Installs the fake's app into community `rse` as its owner; returns the channel.
pub async fn install(app: &TestApp) -> Channel {
    let started = app
        .post_form("/communities/rse/channels/slack/install", &[])
        .await;
    assert_eq!(started.status(), 303, "{}", started.text().await.unwrap());
    let back = at_slack(&location(&started), "allow").await;
    let path = back
        .strip_prefix(&app.base)
        .expect("Slack sends the lead back here");
    assert!(path.starts_with("/slack/oauth/callback?"), "{path}");
    let done = app.get(path).await;
    assert_eq!(done.status(), 303, "{}", done.text().await.unwrap());
    assert!(location(&done).starts_with("/communities/rse/channels?connected="));
    let store = &app.server.as_ref().unwrap().store;
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    store
        .channels(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.kind == ChannelKind::Slack)
        .expect("the install made a Slack channel")
}

/// A Slack channel an operator connected by pasting the bot token, with a
/// daily sync in `direction`.
async fn pasted_channel(
    app: &TestApp,
    slack: &FakeSlack,
    settings: Value,
    direction: hub_core::model::sync::SyncDirection,
) -> Channel {
    let store = &app.server.as_ref().unwrap().store;
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let keys = app.config.secret_keys().unwrap();
    let channel = hub_core::channels::add(
        store.as_ref(),
        &keys,
        community.id,
        hub_core::channels::ChannelRequest {
            kind: ChannelKind::Slack,
            name: "Slack".into(),
            settings,
            secret: Some(slack.bot_token()),
            min_interval_ms: 1000,
        },
        "test",
    )
    .await
    .unwrap();
    store
        .create_sync_job(
            channel.id,
            hub_core::model::sync::NewSyncJob {
                direction,
                cron: "@daily".into(),
                max_remove_fraction: 0.10,
                max_remove_count: 3,
            },
            hub_testkit::fixtures::audit(),
        )
        .await
        .unwrap();
    channel
}

async fn slack_consent(app: &TestApp, email: &str) -> Option<ConsentStatus> {
    let store = &app.server.as_ref().unwrap().store;
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    store
        .all_members(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email.normalized() == email)
        .map(|m| m.consent(ConsentChannel::Slack))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lead_installs_slack_and_the_workspace_people_fill_the_roster() {
    let slack = FakeSlack::start().await;
    slack.add_users(3);
    let app = slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let page = app
        .get("/communities/rse/channels")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Connect Slack"), "{page}");

    let channel = install(&app).await;
    assert_eq!(channel.name, "Slack: Fake Workspace");
    assert_eq!(channel.settings["team_id"], slack.team_id());
    assert_eq!(channel.min_interval_ms, 1000);
    for i in 0..3 {
        assert_eq!(
            slack_consent(&app, &format!("person{i}@example.org")).await,
            Some(ConsentStatus::Subscribed),
            "imported with Slack consent"
        );
    }
    let roster = app
        .get("/communities/rse/members")
        .await
        .text()
        .await
        .unwrap();
    assert!(roster.contains("person2@example.org"), "{roster}");
    let store = &app.server.as_ref().unwrap().store;
    let job = store
        .sync_job_of(channel.id)
        .await
        .unwrap()
        .expect("an hourly import");
    assert_eq!(job.cron, "@hourly");
    // The token is kept encrypted, never in the clear.
    let (_, secret) = store
        .channel_with_secret(channel.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!secret.unwrap().contains("xoxb-"));

    // Installing again (a lead reconnecting) keeps one channel.
    let again = install(&app).await;
    assert_eq!(again.id, channel.id);
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    assert_eq!(store.channels(community.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_install_that_is_not_the_leads_or_was_refused_changes_nothing() {
    let slack = FakeSlack::start().await;
    let app = slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;

    // The lead says no at Slack.
    let started = app
        .post_form("/communities/rse/channels/slack/install", &[])
        .await;
    let back = at_slack(&location(&started), "cancel").await;
    let refused = app.get(back.strip_prefix(&app.base).unwrap()).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("did not install"));

    // A state that was tampered with, or none.
    let started = app
        .post_form("/communities/rse/channels/slack/install", &[])
        .await;
    let back = at_slack(&location(&started), "allow").await;
    let path = back.strip_prefix(&app.base).unwrap().to_owned();
    let (before, state) = path.split_once("state=").unwrap();
    let mut forged = state.to_owned();
    forged.replace_range(forged.len() - 2.., "00");
    let forged = app.get(&format!("{before}state={forged}")).await;
    assert_eq!(forged.status(), 400);
    let bare = app.get(path.split("&state=").next().unwrap()).await;
    assert_eq!(bare.status(), 400);

    // Another browser (no session) cannot finish it.
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let other = stranger.get(app.url(&path)).send().await.unwrap();
    assert!(
        location(&other).starts_with("/login"),
        "a stranger is asked to log in"
    );
    assert_eq!(slack.calls("oauth.v2.access"), 0, "no code was exchanged");

    // The genuine one works once; the same code again is refused by Slack.
    assert_eq!(app.get(&path).await.status(), 303);
    let replay = app.get(&path).await;
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("invalid_code"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_announcement_reaches_the_chosen_conversation_and_members_are_invited_there() {
    let slack = FakeSlack::start().await;
    let people = slack.add_users(3);
    let general = slack.create_conversation("general", false);
    let random = slack.create_conversation("random", false);
    slack.leave(&random, &slack.bot_user_id());
    let app = slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    // An operator who installed the app by hand pastes its bot token.
    let channel = pasted_channel(
        &app,
        &slack,
        json!({"conversations": []}),
        hub_core::model::sync::SyncDirection::Mirror,
    )
    .await;

    let page = app
        .get(&format!(
            "/communities/rse/channels/{}/conversations",
            channel.id
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("#general") && page.contains("#random"),
        "{page}"
    );
    let chosen = app
        .post_form(
            &format!("/communities/rse/channels/{}/conversations", channel.id),
            &[
                ("conversation", &general),
                ("conversation", &random),
                ("announce", &random),
            ],
        )
        .await;
    assert_eq!(chosen.status(), 303, "{}", chosen.text().await.unwrap());
    let unknown = app
        .post_form(
            &format!("/communities/rse/channels/{}/conversations", channel.id),
            &[("conversation", "C0NOTTHERE"), ("announce", "C0NOTTHERE")],
        )
        .await;
    assert_eq!(unknown.status(), 422);

    // A mirror imports the workspace's people and invites them into both.
    let token = app.api_token(OWNER_EMAIL).await;
    let run: Value = api(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/communities/rse/channels/{}/sync", channel.id),
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(run["state"], "applied", "{run}");
    for conversation in [&general, &random] {
        let members = slack.members(conversation);
        assert!(people.iter().all(|p| members.contains(p)), "{members:?}");
    }

    // The announcement goes to #random, which the app joined by itself.
    let created = api(&app, &token, Method::POST, "/api/v1/communities/rse/announcements")
        .await
        .json(&json!({"title": "Hello Slack", "body_markdown": "A **bold** start & more.", "channels": [channel.id.to_string()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let path = format!(
        "/api/v1/communities/rse/announcements/{}",
        created["id"].as_str().unwrap()
    );
    let mut delivery = Value::Null;
    for _ in 0..100 {
        let shown: Value = api(&app, &token, Method::GET, &path)
            .await
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        delivery = shown["deliveries"][0].clone();
        if delivery["state"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivery["state"], "sent", "{delivery}");
    let posted = slack.messages(&random);
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].blocks[1]["text"]["text"],
        "A *bold* start &amp; more."
    );
    assert!(slack.messages(&general).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn events_keep_the_roster_fresh_once_each_and_only_when_signed() {
    let slack = FakeSlack::start().await;
    let app = slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let channel = install(&app).await;
    let hook = app.url("/hooks/slack/events");

    // Slack checks the URL first.
    let challenge = slack
        .deliver_signed(
            &hook,
            r#"{"type":"url_verification","challenge":"c4ll","token":"x"}"#,
            None,
        )
        .await;
    assert_eq!(challenge.status(), 200);
    assert_eq!(
        challenge.json::<Value>().await.unwrap()["challenge"],
        "c4ll"
    );

    // A person joins the workspace.
    let ada = slack.add_user(NewUser::person("Ada Lovelace", "ada@example.org"));
    let user = json!({"id": ada, "name": "ada", "real_name": "Ada Lovelace", "deleted": false,
        "is_bot": false, "profile": {"email": "ada@example.org", "real_name": "Ada Lovelace"}});
    let joined = slack
        .deliver_event(&hook, json!({"type": "team_join", "user": user}))
        .await;
    assert_eq!(joined.status(), 200);
    let mut consent = None;
    for _ in 0..50 {
        consent = slack_consent(&app, "ada@example.org").await;
        if consent.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(consent, Some(ConsentStatus::Subscribed));

    // Slack retries an event it thinks was lost: kept once.
    let body = json!({"type": "event_callback", "team_id": slack.team_id(), "event_id": "EvFIXED1",
        "event_time": 1, "event": {"type": "user_change", "user": user}})
    .to_string();
    let first = slack.deliver_signed(&hook, &body, None).await;
    assert_eq!(first.json::<Value>().await.unwrap()["ok"], true);
    let retry = slack.deliver_signed(&hook, &body, Some(1)).await;
    assert_eq!(retry.json::<Value>().await.unwrap()["duplicate"], true);

    // Unsigned, tampered or stale requests are refused.
    let client = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();
    let unsigned = client.post(&hook).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let tampered = client
        .post(&hook)
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", slack.sign(now, &body))
        .body(body.replace("EvFIXED1", "EvFIXED2"))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    let old = now - 600;
    let stale = client
        .post(&hook)
        .header("x-slack-request-timestamp", old.to_string())
        .header("x-slack-signature", slack.sign(old, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);

    // Deactivated in Slack: the import takes the Slack consent away.
    let mut gone = user.clone();
    gone["deleted"] = json!(true);
    slack
        .deliver_event(&hook, json!({"type": "user_change", "user": gone}))
        .await;
    for _ in 0..50 {
        if slack_consent(&app, "ada@example.org").await == Some(ConsentStatus::None) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        slack_consent(&app, "ada@example.org").await,
        Some(ConsentStatus::None)
    );

    // The app is uninstalled: the channel needs reconnecting.
    slack
        .deliver_event(&hook, json!({"type": "app_uninstalled"}))
        .await;
    let store = &app.server.as_ref().unwrap().store;
    let mut health = String::new();
    for _ in 0..50 {
        let (now, _) = store
            .channel_with_secret(channel.id)
            .await
            .unwrap()
            .unwrap();
        health = now.health.word().to_owned();
        if health == "needs_reconnect" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(health, "needs_reconnect");
}

/// Rewrites a channel's stored secret as if its token expired at `expires_at`.
async fn age_token(app: &TestApp, channel: &Channel, expires_at: i64, refresh_token: Option<&str>) {
    let store = &app.server.as_ref().unwrap().store;
    let keys = app.config.secret_keys().unwrap();
    let (_, stored) = store
        .channel_with_secret(channel.id)
        .await
        .unwrap()
        .unwrap();
    let mut secret: Value = serde_json::from_str(&keys.decrypt(&stored.unwrap()).unwrap()).unwrap();
    secret["expires_at"] = json!(expires_at);
    if let Some(token) = refresh_token {
        secret["refresh_token"] = json!(token);
    }
    hub_core::channels::reconnect(
        store.as_ref(),
        &keys,
        channel.id,
        Some(&secret.to_string()),
        "test",
    )
    .await
    .unwrap();
}

fn slack_app_as_refresher(
    app: &TestApp,
) -> std::sync::Arc<dyn hub_core::ports::install::TokenRefresher> {
    std::sync::Arc::new(app.config.slack_app(&app.base).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotating_token_is_refreshed_once_across_workers_and_kept_before_it_is_used() {
    let slack = FakeSlack::start().await;
    slack.set_token_rotation(true);
    slack.add_users(2);
    let app = slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let channel = install(&app).await;
    let store = app.server.as_ref().unwrap().store.clone();
    let keys = std::sync::Arc::new(app.config.secret_keys().unwrap());
    let stored = |store: std::sync::Arc<dyn hub_core::ports::store::Store>| {
        let keys = keys.clone();
        async move {
            let (_, secret) = store
                .channel_with_secret(channel.id)
                .await
                .unwrap()
                .unwrap();
            serde_json::from_str::<Value>(&keys.decrypt(&secret.unwrap()).unwrap()).unwrap()
        }
    };
    let installed = stored(store.clone()).await;
    assert!(installed["refresh_token"].as_str().is_some(), "{installed}");
    let twelve_hours = chrono::Utc::now().timestamp() + 43_000;
    assert!(installed["expires_at"].as_i64().unwrap() > twelve_hours);
    let exchanges = slack.calls("oauth.v2.access");

    // The token is about to expire: two workers want it at once.
    age_token(&app, &channel, chrono::Utc::now().timestamp() + 60, None).await;
    let refresher = slack_app_as_refresher(&app);
    let (channel_now, encrypted) = store
        .channel_with_secret(channel.id)
        .await
        .unwrap()
        .unwrap();
    let worker = |owner: &'static str| {
        let (store, keys, refresher, channel_now, encrypted) = (
            store.clone(),
            keys.clone(),
            refresher.clone(),
            channel_now.clone(),
            encrypted.clone(),
        );
        async move {
            let parts = hub_core::credentials::RefreshParts {
                store: store.as_ref(),
                keys: &keys,
                refresher: Some(refresher.as_ref()),
                owner,
                now: chrono::Utc::now(),
            };
            hub_core::credentials::secret_for(parts, &channel_now, encrypted.as_deref())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (one, two) = tokio::join!(worker("worker-1"), worker("worker-2"));
    assert_eq!(
        slack.calls("oauth.v2.access"),
        exchanges + 1,
        "refreshed once"
    );
    assert_eq!(one, two, "both use the one fresh token");
    let fresh = stored(store.clone()).await;
    assert_eq!(fresh.to_string(), one, "kept before it is used");
    assert_ne!(fresh["refresh_token"], installed["refresh_token"]);
    assert_ne!(fresh["bot_token"], installed["bot_token"]);

    // The fresh token works: a sync through the API reads the workspace.
    let token = app.api_token(OWNER_EMAIL).await;
    let run: Value = api(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/communities/rse/channels/{}/sync", channel.id),
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(run["state"], "applied", "{run}");

    // A spent refresh token: Slack refuses, and the channel asks to be reconnected.
    age_token(
        &app,
        &channel,
        chrono::Utc::now().timestamp() + 60,
        Some("xoxe-1-spent"),
    )
    .await;
    let run: Value = api(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/communities/rse/channels/{}/sync", channel.id),
    )
    .await
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        run["error"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_refresh_token"),
        "{run}"
    );
    let (now, _) = store
        .channel_with_secret(channel.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.health.word(), "needs_reconnect");
}

#[tokio::test(flavor = "multi_thread")]
async fn people_outside_the_workspace_are_mailed_its_invite_link_once() {
    let Some(sink) = hub_testkit::smtp_sink::SmtpSink::start().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    slack.add_users(1);
    let (api_url, sink_url) = (slack.api_url(), sink.url());
    let app = spawn_app_configured(move |config| {
        config.slack.api_url = api_url;
        config.mail.smtp_url = Some(sink_url.into());
        config.mail.from = "RSE <rse@example.net>".into();
    })
    .await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let roster = "email,name,role\nnew@example.net,Nia New,member\n";
    assert_eq!(app.import_csv("rse", roster, &[]).await.status(), 200);
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    // The lead records that Nia wants Slack too.
    let nia = store.all_members(community.id).await.unwrap().remove(0);
    hub_core::roster::change_member(
        store.as_ref(),
        nia,
        hub_core::model::member::MemberUpdate {
            consents: vec![(
                ConsentChannel::Slack,
                ConsentStatus::Subscribed,
                hub_core::model::member::ConsentSource::Lead,
            )],
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap();
    let channel = pasted_channel(
        &app,
        &slack,
        json!({"team_name": "Data Stewards", "invite_link": "https://join.slack.com/t/stewards/shared_invite/zt-abc"}),
        hub_core::model::sync::SyncDirection::Export,
    )
    .await;
    assert_eq!(
        slack_consent(&app, "new@example.net").await,
        Some(ConsentStatus::Subscribed)
    );
    let token = app.api_token(OWNER_EMAIL).await;
    let sync = format!("/api/v1/communities/rse/channels/{}/sync", channel.id);
    let run = || async {
        api(&app, &token, Method::POST, &sync)
            .await
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let first = run().await;
    assert_eq!(first["counts"]["invited"], 1, "{first}");
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].rcpt_tos, ["new@example.net"]);
    let parsed = mails[0].parsed();
    assert_eq!(
        parsed
            .headers
            .iter()
            .find(|h| h.get_key() == "Subject")
            .unwrap()
            .get_value(),
        "An invitation to the Slack workspace Data Stewards"
    );
    let body = parsed.get_body().unwrap();
    assert!(
        body.contains("https://join.slack.com/t/stewards/shared_invite/zt-abc"),
        "{body}"
    );
    assert!(body.contains("Hello Nia New"), "{body}");

    let second = run().await;
    assert_eq!(second["counts"]["invited"], 0, "{second}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "invited once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_who_leaves_a_conversation_is_not_invited_back_until_they_return() {
    let slack = FakeSlack::start().await;
    let people = slack.add_users(2);
    let general = slack.create_conversation("general", false);
    let app = slack_app(&slack).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let store = app.server.as_ref().unwrap().store.clone();
    let channel = pasted_channel(
        &app,
        &slack,
        json!({"conversations": [general], "team_id": slack.team_id()}),
        hub_core::model::sync::SyncDirection::Mirror,
    )
    .await;
    let token = app.api_token(OWNER_EMAIL).await;
    let sync = format!("/api/v1/communities/rse/channels/{}/sync", channel.id);
    let run = || async {
        api(&app, &token, Method::POST, &sync)
            .await
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let hook = app.url("/hooks/slack/events");
    let processed = |event_id: &'static str| {
        let store = store.clone();
        async move {
            for _ in 0..50 {
                let waiting = store
                    .unprocessed_inbound_events(
                        "slack",
                        chrono::Utc::now() + chrono::Duration::minutes(1),
                        100,
                    )
                    .await
                    .unwrap();
                if !waiting.iter().any(|e| e.event_id.starts_with(event_id)) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the event was not processed");
        }
    };

    assert_eq!(run().await["state"], "applied");
    assert!(people.iter().all(|p| slack.members(&general).contains(p)));

    // Person 0 leaves #general by themselves; Slack tells the hub.
    slack.leave(&general, &people[0]);
    let left = slack
        .deliver_event(
            &hook,
            json!({"type": "member_left_channel", "user": people[0], "channel": general}),
        )
        .await;
    assert_eq!(left.status(), 200);
    processed("Ev").await;
    let again = run().await;
    assert_eq!(again["state"], "applied", "{again}");
    assert!(
        !slack.members(&general).contains(&people[0]),
        "not invited back"
    );

    // They come back by themselves: from then on the sync keeps them there.
    slack.join(&general, &people[0]);
    slack
        .deliver_event(
            &hook,
            json!({"type": "member_joined_channel", "user": people[0], "channel": general}),
        )
        .await;
    processed("Ev").await;
    assert!(store.group_departures(channel.id).await.unwrap().is_empty());
}
