//! A community that already runs GNU Mailman: its list mirrored both ways
//! through the sync engine (the consent rules included), and an
//! announcement posted through the outbox that Mailman delivers — against
//! the real Mailman 3 core scripts/test starts.

use hub_core::{
    channels::{ChannelRequest, add},
    model::{
        channel::ChannelKind,
        member::{ConsentChannel, ConsentStatus},
        sync::{NewSyncJob, SyncDirection},
    },
};
use hub_testkit::{
    fixtures::audit,
    mailman::{MODERATOR_PASSWORD, MailmanPeer},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, spawn_app_configured},
};

const ROSTER: &str = "email,name,role,email_list
ada@example.net,Ada,member,yes
bob@example.net,Bob,member,no
cy@example.net,Cy,member,
";

#[tokio::test(flavor = "multi_thread")]
async fn a_mailman_list_is_mirrored_both_ways_and_receives_announcements() {
    let Some(peer) = MailmanPeer::from_env() else {
        return;
    };
    let list_id = peer.fresh_list().await;
    // On the Mailman list already: Dee (not in the hub) and Bob (who opted
    // out in the hub, and must not be put back or kept).
    peer.subscribe(&list_id, "dee@example.net", "Dee").await;
    peer.subscribe(&list_id, "bob@example.net", "Bob").await;

    let smtp = peer.smtp.clone();
    let app = spawn_app_configured(|config| {
        config.mail.smtp_url = Some(smtp.into());
        config.outbox.idle_poll_ms = 50;
    })
    .await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    assert_eq!(app.import_csv("rse", ROSTER, &[]).await.status(), 200);
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    // Bob said no on the hub side: an explicit opt-out.
    let bob = store
        .all_members(community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.email.normalized() == "bob@example.net")
        .unwrap();
    hub_core::roster::change_member(
        store.as_ref(),
        bob,
        hub_core::model::member::MemberUpdate {
            consents: vec![(
                ConsentChannel::Email,
                ConsentStatus::OptedOut,
                hub_core::model::member::ConsentSource::Member,
            )],
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap();

    let keys = app.config.secret_keys().unwrap();
    let channel = add(
        store.as_ref(),
        &keys,
        community.id,
        ChannelRequest {
            kind: ChannelKind::Mailman,
            name: "Mailman list".into(),
            settings: json!({
                "rest_url": peer.rest, "rest_user": peer.user, "list_id": list_id,
                "list_address": list_id.replacen('.', "@", 1), "allow_local": true,
                "from": "RSE <rse@example.net>",
            }),
            secret: Some(
                json!({"rest_password": peer.password, "moderator_password": MODERATOR_PASSWORD})
                    .to_string(),
            ),
            min_interval_ms: 0,
        },
        "test",
    )
    .await
    .unwrap();
    store
        .create_sync_job(
            channel.id,
            NewSyncJob {
                direction: SyncDirection::Mirror,
                cron: "@daily".into(),
                max_remove_fraction: 0.10,
                max_remove_count: 3,
            },
            audit(),
        )
        .await
        .unwrap();

    let token = app.api_token(OWNER_EMAIL).await;
    let sync = format!("/api/v1/communities/rse/channels/{}/sync", channel.id);
    let run = api(&app, &token, Method::POST, &sync)
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 201);
    let run: Value = run.json().await.unwrap();
    assert_eq!(run["state"], "applied", "{run}");

    // Dee came into the hub with email consent; Ada went to Mailman; Bob's
    // opt-out took him off Mailman; Cy (never asked) stays off.
    assert_eq!(
        peer.members(&list_id).await,
        ["ada@example.net", "dee@example.net"]
    );
    let consent = |email: &'static str| {
        let store = store.clone();
        async move {
            store
                .all_members(community.id)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.email.normalized() == email)
                .map(|m| m.consent(ConsentChannel::Email))
        }
    };
    assert_eq!(
        consent("dee@example.net").await,
        Some(ConsentStatus::Subscribed)
    );
    assert_eq!(
        consent("bob@example.net").await,
        Some(ConsentStatus::OptedOut)
    );

    // A second run changes nothing.
    let again: Value = api(&app, &token, Method::POST, &sync)
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["counts"]["added"], 0, "{again}");
    assert_eq!(again["counts"]["removed"], 0, "{again}");

    // An announcement goes to the list through moderation, and Mailman
    // delivers it to its members.
    let title = format!("Mailman announcement {}", list_id);
    let created = api(&app, &token, Method::POST, "/api/v1/communities/rse/announcements")
        .await
        .json(&json!({"title": title, "body_markdown": "Hello **list**.", "channels": [channel.id.to_string()]}))
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
    for _ in 0..200 {
        let shown: Value = api(&app, &token, Method::GET, &path)
            .await
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        delivery = shown["deliveries"][0].clone();
        if delivery["state"] != "pending" && delivery["state"] != "sending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(delivery["state"], "sent", "{delivery}");
    let delivered = peer.wait_delivered(&title, 2).await;
    assert_eq!(delivered, ["ada@example.net", "dee@example.net"]);
}
