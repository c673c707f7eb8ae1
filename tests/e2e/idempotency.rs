//! `Idempotency-Key` on `POST …/announcements`, as an API client meets it:
//! a retry gets the first answer and publishes nothing, the key with another
//! body is refused, keys are per token, concurrent retries publish once, and
//! a key is new again after 24 hours.

use std::sync::Arc;

use hub_core::model::channel::ChannelKind;
use hub_testkit::{
    fake_adapter::{FakeChannel, FakeFactory},
    fixtures,
};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app_with},
};

const PATH: &str = "/api/v1/communities/rse/announcements";

/// An owner, the community `rse` with one channel (a fake, so nothing
/// leaves the machine), and that channel's id.
async fn app_with_a_channel() -> (TestApp, String) {
    let app = spawn_app_with(Arc::new(FakeFactory(FakeChannel::new()))).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let channel = fixtures::channel(store.as_ref(), community.id, ChannelKind::Slack, 0).await;
    (app, channel.id.to_string())
}

async fn post(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> Response {
    let mut request = api(app, token, Method::POST, PATH).await.json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn published(app: &TestApp, token: &str) -> Vec<String> {
    let list: Value = api(app, token, Method::GET, PATH)
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn announcement(channel: &str, title: &str) -> Value {
    json!({"title": title, "body_markdown": "See you **there**.", "channels": [channel]})
}

#[tokio::test]
async fn a_repeated_idempotency_key_publishes_once_and_answers_the_same() {
    let (app, channel) = app_with_a_channel().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let body = announcement(&channel, "Call for talks");

    let first = post(&app, &token, Some("key-1"), &body).await;
    assert_eq!(first.status(), 201);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first = first.text().await.unwrap();
    let again = post(&app, &token, Some("key-1"), &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(
        again.text().await.unwrap(),
        first,
        "the same answer, byte for byte"
    );
    let id = serde_json::from_str::<Value>(&first).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(published(&app, &token).await, std::slice::from_ref(&id));

    // The key with another body is refused, and publishes nothing.
    let changed = post(
        &app,
        &token,
        Some("key-1"),
        &announcement(&channel, "Other"),
    )
    .await;
    assert_eq!(changed.status(), 422);
    let error: Value = changed.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{error}"
    );
    assert_eq!(published(&app, &token).await.len(), 1);

    // Keys are per token: another client's key of the same name is its own.
    let other_token = app.api_token(OWNER_EMAIL).await;
    let theirs = post(&app, &other_token, Some("key-1"), &body).await;
    assert_eq!(theirs.status(), 201);
    assert!(!theirs.headers().contains_key("idempotent-replayed"));
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(theirs["id"].as_str().unwrap(), id);
    assert_eq!(published(&app, &token).await.len(), 2);

    // Without a key, every request publishes.
    assert_eq!(post(&app, &token, None, &body).await.status(), 201);
    assert_eq!(post(&app, &token, None, &body).await.status(), 201);
    assert_eq!(published(&app, &token).await.len(), 4);
}

#[tokio::test]
async fn a_refused_request_keeps_no_key_and_bad_keys_are_refused() {
    let (app, channel) = app_with_a_channel().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let body = announcement(&channel, "Call for talks");
    for bad in ["", "with space", &"k".repeat(256)] {
        let refused = post(&app, &token, Some(bad), &body).await;
        assert_eq!(refused.status(), 400, "{bad:?}");
        let error: Value = refused.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{error}"
        );
    }
    let non_ascii = api(&app, &token, Method::POST, PATH)
        .await
        .json(&body)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(non_ascii.status(), 400);
    assert!(published(&app, &token).await.is_empty());

    // A request refused on its content keeps nothing: the corrected one
    // may use the same key.
    let no_channel = json!({"title": "Call for talks", "body_markdown": "", "channels": []});
    let refused = post(&app, &token, Some("k".repeat(255).as_str()), &no_channel).await;
    assert_eq!(refused.status(), 422);
    let corrected = post(&app, &token, Some("k".repeat(255).as_str()), &body).await;
    assert_eq!(corrected.status(), 201);
    assert!(!corrected.headers().contains_key("idempotent-replayed"));
    assert_eq!(published(&app, &token).await.len(), 1);
}

/// Concurrent requests with one key: the first claims it, the others wait
/// for its transaction and get its answer (none is refused with 409).
#[tokio::test]
async fn concurrent_requests_with_one_key_publish_once_and_all_get_its_answer() {
    let (app, channel) = app_with_a_channel().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let body = announcement(&channel, "Raced");
    let answers = futures::future::join_all(
        (0..8).map(|_| async { post(&app, &token, Some("raced"), &body).await }),
    )
    .await;
    let mut bodies = Vec::new();
    let mut replayed = 0;
    for answer in answers {
        assert_eq!(answer.status(), 201);
        if answer.headers().contains_key("idempotent-replayed") {
            replayed += 1;
        }
        bodies.push(answer.text().await.unwrap());
    }
    assert_eq!(replayed, 7, "one request published, the others replayed");
    assert!(bodies.iter().all(|b| *b == bodies[0]), "one answer for all");
    assert_eq!(published(&app, &token).await.len(), 1);
}

#[tokio::test]
async fn a_key_is_new_again_after_24_hours() {
    let (app, channel) = app_with_a_channel().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let body = announcement(&channel, "Weekly notes");
    let first: Value = post(&app, &token, Some("weekly"), &body)
        .await
        .json()
        .await
        .unwrap();
    age_idempotency_keys(&app, chrono::Duration::hours(23)).await;
    let replayed = post(&app, &token, Some("weekly"), &body).await;
    assert_eq!(
        replayed.headers()["idempotent-replayed"],
        "true",
        "23 hours: kept"
    );

    age_idempotency_keys(&app, chrono::Duration::hours(2)).await;
    let fresh = post(&app, &token, Some("weekly"), &body).await;
    assert_eq!(fresh.status(), 201);
    assert!(
        !fresh.headers().contains_key("idempotent-replayed"),
        "25 hours: new"
    );
    let fresh: Value = fresh.json().await.unwrap();
    assert_ne!(fresh["id"], first["id"]);
    assert_eq!(published(&app, &token).await.len(), 2);
}

/// Moves every kept key's creation back by `by`, in the app's database: the
/// server's clock is the system's, so the keys grow old instead. SQLite
/// through Python's own sqlite3 module (the test peers need Python anyway),
/// PostgreSQL through psql.
async fn age_idempotency_keys(app: &TestApp, by: chrono::Duration) {
    let url = app.config.database_url();
    let output = if let Some(path) = url.strip_prefix("sqlite://") {
        // Written as sqlx writes a time for SQLite, so text order is time order.
        const AGE: &str = "import sqlite3, sys, datetime\n\
            db = sqlite3.connect(sys.argv[1], timeout=30)\n\
            by = datetime.timedelta(seconds=int(sys.argv[2]))\n\
            rows = db.execute('SELECT token_hash, idempotency_key, created_at FROM idempotency_keys').fetchall()\n\
            for token, key, at in rows:\n\
            \x20   older = datetime.datetime.fromisoformat(at) - by\n\
            \x20   db.execute('UPDATE idempotency_keys SET created_at = ? WHERE token_hash = ? AND idempotency_key = ?',\n\
            \x20              (older.isoformat(), token, key))\n\
            db.commit()\n";
        tokio::process::Command::new("python3")
            .args(["-c", AGE, path, &by.num_seconds().to_string()])
            .output()
            .await
    } else {
        let statement = format!(
            "UPDATE idempotency_keys SET created_at = created_at - interval '{} seconds'",
            by.num_seconds()
        );
        tokio::process::Command::new("psql")
            .args(["-w", "-v", "ON_ERROR_STOP=1", &url, "-c", &statement])
            .output()
            .await
    }
    .expect("python3 or psql runs");
    assert!(
        output.status.success(),
        "could not age the keys: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
