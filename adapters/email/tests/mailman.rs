//! The Mailman adapter against a real GNU Mailman 3.3.10 core (REST API 3.1,
//! SQLite), started once by scripts/test through scripts/peers/mailman-stack,
//! which exports where it runs. Mailman's outgoing mail goes to a recording
//! SMTP sink; posts reach Mailman through an SMTP-to-LMTP forwarder standing
//! in for the site's MTA.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a panic is a failed test

use std::time::Duration;

use chrono::Utc;
use hub_adapter_email::{MailmanAdapter, SmtpSender, SmtpSettings};
use hub_core::{
    Email,
    ids::{AnnouncementId, CommunityId},
    model::announcement::Announcement,
    ports::adapter::{AdapterError, ChannelAdapter},
};
use hub_testkit::mailman::{MODERATOR_PASSWORD, MailmanPeer};
use serde_json::json;

fn adapter(peer: &MailmanPeer, list_id: &str, password: &str, moderator: &str) -> MailmanAdapter {
    let sender = SmtpSender::new(&SmtpSettings {
        url: peer.smtp.clone().into(),
        pool_size: 2,
        timeout: Duration::from_secs(20),
        rate_per_second: None,
        from: "cophub <hub@example.net>".parse().unwrap(),
        dkim: None,
    })
    .unwrap();
    MailmanAdapter::new(
        &json!({
            "rest_url": peer.rest,
            "rest_user": peer.user,
            "list_id": list_id,
            "list_address": list_id.replacen('.', "@", 1),
            "allow_local": true,
            "page_size": 2,
        }),
        Some(&json!({"rest_password": password, "moderator_password": moderator}).to_string()),
        Some(sender),
    )
    .unwrap()
}

fn uuid_like() -> String {
    hub_core::ids::MemberId::new().0.simple().to_string()[20..].to_owned()
}

async fn all_members(adapter: &MailmanAdapter) -> Vec<String> {
    let mut emails = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = adapter.list_members(cursor.as_deref()).await.unwrap();
        pages += 1;
        emails.extend(
            page.members
                .iter()
                .map(|m| m.email.as_ref().unwrap().normalized().to_owned()),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 100);
    }
    emails.sort();
    emails
}

#[tokio::test]
async fn members_are_mirrored_both_ways_and_a_post_reaches_them_through_moderation() {
    let Some(peer) = MailmanPeer::from_env() else {
        return;
    };
    let list_id = peer.fresh_list().await;
    // People already on the Mailman list.
    for (email, name) in [
        ("alice@example.com", "Alice"),
        ("bob@example.com", "Bob"),
        ("carol@example.com", "Carol"),
    ] {
        peer.subscribe(&list_id, email, name).await;
    }
    let adapter = adapter(&peer, &list_id, &peer.password, MODERATOR_PASSWORD);
    adapter.health().await.unwrap();

    // Import: every page (two members a page here) read.
    assert_eq!(
        all_members(&adapter).await,
        ["alice@example.com", "bob@example.com", "carol@example.com"]
    );
    let first = adapter.list_members(None).await.unwrap();
    assert_eq!(first.members.len(), 2);
    assert_eq!(first.members[0].name, "Alice");

    // Export: subscribe (twice is fine) and unsubscribe (twice is fine).
    let dave = Email::parse("Dave@Example.com").unwrap();
    assert_eq!(
        adapter.add_member(&dave, "Dave").await.unwrap(),
        "dave@example.com"
    );
    adapter.add_member(&dave, "Dave").await.unwrap();
    adapter.remove_member("bob@example.com").await.unwrap();
    adapter.remove_member("bob@example.com").await.unwrap();
    assert_eq!(
        all_members(&adapter).await,
        ["alice@example.com", "carol@example.com", "dave@example.com"]
    );

    // A post with the moderator password passes moderation and Mailman
    // delivers it to every member.
    let title = format!("Cophub post {}", uuid_like());
    let announcement = Announcement {
        id: AnnouncementId::new(),
        community_id: CommunityId::new(),
        title: title.clone(),
        body_markdown: "Hello **list**.".into(),
        author: "test".into(),
        send_at: None,
        created_at: Utc::now(),
        revision: 1,
        retracted_at: None,
    };
    let receipt = adapter.post(&announcement, "delivery-1").await.unwrap();
    assert!(
        receipt.remote_ref.starts_with("<delivery-1@"),
        "{receipt:?}"
    );
    let delivered = peer.wait_delivered(&title, 3).await;
    assert_eq!(
        delivered,
        ["alice@example.com", "carol@example.com", "dave@example.com"]
    );
}

#[tokio::test]
async fn mailman_failures_have_their_class() {
    let Some(peer) = MailmanPeer::from_env() else {
        return;
    };
    let list_id = peer.fresh_list().await;

    // A wrong REST password: the channel needs reconnecting.
    let wrong = adapter(&peer, &list_id, "not-the-password", MODERATOR_PASSWORD);
    assert!(matches!(
        wrong.list_members(None).await,
        Err(AdapterError::Auth(_))
    ));
    assert!(matches!(wrong.health().await, Err(AdapterError::Auth(_))));

    // An unknown list: refused, with Mailman's reason.
    let unknown = adapter(
        &peer,
        "no-such-list.example.org",
        &peer.password,
        MODERATOR_PASSWORD,
    );
    let error = unknown.list_members(None).await.unwrap_err();
    assert!(matches!(error, AdapterError::Permanent(_)), "{error:?}");

    // Nothing listening: try again later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = MailmanAdapter::new(
        &json!({"rest_url": format!("http://127.0.0.1:{port}/3.1"), "list_id": list_id,
            "list_address": "x@example.org", "allow_local": true}),
        Some(r#"{"rest_password": "x"}"#),
        None,
    )
    .unwrap();
    assert!(matches!(
        down.list_members(None).await,
        Err(AdapterError::Transient(_))
    ));

    // Loopback is refused unless the owner marked the channel local.
    let unmarked = MailmanAdapter::new(
        &json!({"rest_url": peer.rest, "list_id": list_id, "list_address": "x@example.org"}),
        Some(r#"{"rest_password": "x"}"#),
        None,
    )
    .unwrap();
    let refused = unmarked.health().await.unwrap_err();
    assert!(
        matches!(&refused, AdapterError::Permanent(m) if m.contains("local")),
        "{refused:?}"
    );
}

/// A stand-in that answers every request with one canned HTTP response, for
/// the failures a real Mailman will not produce on demand.
async fn canned(status: &'static str, headers: &'static str, body: &'static str) -> String {
    let response = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{address}/3.1")
}

fn adapter_at(rest: &str) -> MailmanAdapter {
    MailmanAdapter::new(
        &json!({"rest_url": rest, "list_id": "l.example.org", "list_address": "l@example.org", "allow_local": true}),
        Some(r#"{"rest_password": "x"}"#),
        None,
    )
    .unwrap()
}

#[tokio::test]
async fn a_500_a_malformed_roster_and_an_empty_list_are_told_apart() {
    let error = adapter_at(&canned("500 Internal Server Error", "", "{}").await)
        .list_members(None)
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error:?}");
    let error = adapter_at(
        &canned(
            "200 OK",
            "Content-Type: application/json\r\n",
            "{\"entri\":",
        )
        .await,
    )
    .list_members(None)
    .await
    .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Transient(m) if m.contains("could not be read")),
        "{error:?}"
    );
    // Mailman leaves `entries` out when the list is empty.
    let empty = adapter_at(
        &canned(
            "200 OK",
            "Content-Type: application/json\r\n",
            "{\"start\": 0, \"total_size\": 0}",
        )
        .await,
    )
    .list_members(None)
    .await
    .unwrap();
    assert!(empty.members.is_empty() && empty.next_cursor.is_none());
    let error = adapter_at(&canned("429 Too Many Requests", "Retry-After: 7\r\n", "").await)
        .list_members(None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)),
        "{error:?}"
    );
}

#[test]
fn unusable_settings_and_secrets_are_refused_with_a_reason() {
    for (settings, secret, expected) in [
        (json!({}), Some(r#"{"rest_password": "x"}"#), "rest_url"),
        (
            json!({"rest_url": "ftp://h/3.1", "list_id": "l.example.org", "list_address": "l@example.org"}),
            Some(r#"{"rest_password": "x"}"#),
            "http",
        ),
        (
            json!({"rest_url": "http://h/3.1", "list_id": "l/../x", "list_address": "l@example.org"}),
            Some(r#"{"rest_password": "x"}"#),
            "list_id",
        ),
        (
            json!({"rest_url": "http://h/3.1", "list_id": "l.example.org", "list_address": "nope"}),
            Some(r#"{"rest_password": "x"}"#),
            "list_address",
        ),
        (
            json!({"rest_url": "http://h/3.1", "list_id": "l.example.org", "list_address": "l@example.org"}),
            Some("restpass"),
            "JSON",
        ),
        (
            json!({"rest_url": "http://h/3.1", "list_id": "l.example.org", "list_address": "l@example.org"}),
            None,
            "JSON",
        ),
    ] {
        let error = MailmanAdapter::new(&settings, secret, None).unwrap_err();
        assert!(
            matches!(&error, AdapterError::Permanent(m) if m.contains(expected)),
            "{settings}: {error:?}"
        );
    }
}
