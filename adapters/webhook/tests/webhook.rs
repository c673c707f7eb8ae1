//! The webhook adapter against a receiver written from the published
//! contract (hub-testkit), over real HTTP on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use hub_adapter_webhook::WebhookAdapter;
use hub_core::{
    ids::{AnnouncementId, CommunityId},
    model::announcement::Announcement,
    ports::adapter::{AdapterError, ChannelAdapter},
};
use hub_testkit::webhook_receiver::{Fault, WebhookReceiver};

const SECRET: &str = "whsec-test-secret";

fn announcement() -> Announcement {
    Announcement {
        id: AnnouncementId::new(),
        community_id: CommunityId::new(),
        title: "Call on <Friday> & more".into(),
        body_markdown: "Bring **questions**.".into(),
        author: "test".into(),
        send_at: None,
        created_at: Utc::now(),
        revision: 1,
        retracted_at: None,
    }
}

fn adapter(url: &str, extra: serde_json::Value) -> WebhookAdapter {
    hub_core::tls::init();
    let mut settings = serde_json::json!({"url": url, "allow_local": true, "timeout_seconds": 1});
    for (key, value) in extra.as_object().unwrap() {
        settings[key] = value.clone();
    }
    WebhookAdapter::new(&settings, Some(SECRET)).unwrap()
}

#[tokio::test]
async fn a_signed_announcement_arrives_once_with_a_valid_signature() {
    let receiver = WebhookReceiver::start(SECRET).await;
    let receipt = adapter(&receiver.url, serde_json::json!({}))
        .post(&announcement(), "delivery-1")
        .await
        .unwrap();
    assert_eq!(receipt.remote_ref, "delivery-1");
    let stats = receiver.stats();
    assert_eq!((stats.distinct, stats.total, stats.refused), (1, 1, 0));
    let body = &receiver.bodies()[0];
    assert_eq!(body["delivery_id"], "delivery-1");
    assert_eq!(body["announcement"]["title"], "Call on <Friday> & more");
}

#[tokio::test]
async fn edits_and_retractions_are_signed_events_naming_the_post_they_change() {
    let receiver = WebhookReceiver::start(SECRET).await;
    let hook = adapter(&receiver.url, serde_json::json!({}));
    assert!(hook.capabilities().edit);
    let mut edited = announcement();
    hook.post(&edited, "post-1").await.unwrap();
    edited.title = "Call moved to Monday".into();
    edited.revision = 2;
    let receipt = hook.edit("post-1", &edited, "edit-1").await.unwrap();
    assert_eq!(receipt.remote_ref, "edit-1");
    hook.retract("post-1", "retract-1").await.unwrap();
    let stats = receiver.stats();
    assert_eq!(
        (stats.distinct, stats.refused),
        (3, 0),
        "each signed and verified"
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies[1]["type"], "announcement.edited");
    assert_eq!(bodies[1]["replaces"], "post-1");
    assert_eq!(bodies[1]["announcement"]["title"], "Call moved to Monday");
    assert_eq!(bodies[1]["announcement"]["revision"], 2);
    assert_eq!(bodies[2]["type"], "announcement.retracted");
    assert_eq!(bodies[2]["replaces"], "post-1");
    assert_eq!(bodies[2]["delivery_id"], "retract-1");
}

#[tokio::test]
async fn a_slack_format_webhook_cannot_edit_or_retract_and_says_so() {
    let receiver = WebhookReceiver::start("").await;
    hub_core::tls::init();
    let slack = WebhookAdapter::new(
        &serde_json::json!({"url": receiver.url, "format": "slack", "allow_local": true}),
        None,
    )
    .unwrap();
    assert!(!slack.capabilities().edit);
    let edit = slack.edit("d", &announcement(), "e").await.unwrap_err();
    assert!(matches!(edit, AdapterError::Unsupported(_)), "{edit:?}");
    let retract = slack.retract("d", "r").await.unwrap_err();
    assert!(
        matches!(retract, AdapterError::Unsupported(_)),
        "{retract:?}"
    );
    assert_eq!(receiver.stats().total, 0, "nothing was sent");
}

#[tokio::test]
async fn a_receiver_with_another_secret_refuses_it_and_the_channel_needs_reconnecting() {
    let receiver = WebhookReceiver::start("a different secret").await;
    let error = adapter(&receiver.url, serde_json::json!({}))
        .post(&announcement(), "d")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Auth(_)), "{error:?}");
    assert_eq!(receiver.stats().refused, 1);
}

#[tokio::test]
async fn the_slack_format_is_a_text_payload_with_mrkdwn_escaped() {
    let receiver = WebhookReceiver::start("").await;
    let slack = WebhookAdapter::new(
        &serde_json::json!({"url": receiver.url, "format": "slack", "allow_local": true}),
        None,
    )
    .unwrap();
    hub_core::tls::init();
    slack.post(&announcement(), "d").await.unwrap();
    let body = &receiver.bodies()[0];
    assert_eq!(
        body["text"],
        "*Call on &lt;Friday&gt; &amp; more*\n\nBring **questions**."
    );
}

#[tokio::test]
async fn each_answer_maps_to_its_error_class() {
    let receiver = WebhookReceiver::start(SECRET).await;
    receiver.script([
        Fault::Status(429, Some(7)),
        Fault::Status(429, None),
        Fault::Status(503, None),
        Fault::Status(404, None),
        Fault::Status(400, None),
    ]);
    let hook = adapter(&receiver.url, serde_json::json!({}));
    let a = announcement();
    match hook.post(&a, "d").await {
        Err(AdapterError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(7))
        }
        other => panic!("{other:?}"),
    }
    match hook.post(&a, "d").await {
        Err(AdapterError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(30))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        hook.post(&a, "d").await,
        Err(AdapterError::Transient(_))
    ));
    assert!(matches!(
        hook.post(&a, "d").await,
        Err(AdapterError::Permanent(_))
    ));
    assert!(matches!(
        hook.post(&a, "d").await,
        Err(AdapterError::Permanent(_))
    ));
    assert_eq!(
        receiver.stats().total,
        0,
        "none of those counted as delivered"
    );
}

#[tokio::test]
async fn a_timeout_after_the_request_went_out_is_ambiguous_and_the_timeout_fires() {
    let receiver = WebhookReceiver::start(SECRET).await;
    receiver.script([Fault::SlowAfterCounting(Duration::from_secs(5))]);
    let started = std::time::Instant::now();
    let error = adapter(&receiver.url, serde_json::json!({}))
        .post(&announcement(), "d")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 1 s timeout fired: {:?}",
        started.elapsed()
    );
    assert_eq!(receiver.stats().total, 1, "it did arrive: hence ambiguous");
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = adapter(
        &format!("http://127.0.0.1:{port}/hook"),
        serde_json::json!({}),
    )
    .post(&announcement(), "d")
    .await
    .unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_the_channel_is_marked_local() {
    let receiver = WebhookReceiver::start(SECRET).await;
    hub_core::tls::init();
    let guarded =
        WebhookAdapter::new(&serde_json::json!({"url": receiver.url}), Some(SECRET)).unwrap();
    let error = guarded.post(&announcement(), "d").await.unwrap_err();
    match error {
        AdapterError::Permanent(message) => {
            assert!(message.contains("mark the channel as local"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(receiver.stats().total, 0);
    let ftp = WebhookAdapter::new(
        &serde_json::json!({"url": "ftp://example.org/x"}),
        Some(SECRET),
    )
    .unwrap();
    assert!(matches!(
        ftp.post(&announcement(), "d").await,
        Err(AdapterError::Permanent(_))
    ));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // A redirect could lead past the address check, so a 3xx is a refusal.
    let receiver = WebhookReceiver::start(SECRET).await;
    receiver.script([Fault::Status(307, None)]);
    let error = adapter(&receiver.url, serde_json::json!({}))
        .post(&announcement(), "d")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Permanent(_)), "{error:?}");
}
