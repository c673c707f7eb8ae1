//! The Zoom API client against hub-testkit's fake Zoom, which follows Zoom's
//! docs and shares nothing with the adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hub_adapter_zoom::client::{Credentials, ZoomApi, ZoomClient};
use hub_core::ports::adapter::AdapterError;
use hub_testkit::zoom::{FakeZoom, Fault};
use reqwest::Method;
use serde_json::json;

fn client(zoom: &FakeZoom, secret: Option<&str>) -> ZoomClient {
    let app = zoom.app();
    ZoomClient::new(
        ZoomApi {
            api_url: zoom.api_url(),
            oauth_url: zoom.oauth_url(),
            timeout: Duration::from_secs(1),
            default_retry_after: Duration::from_secs(2),
        },
        Credentials {
            account_id: app.account_id,
            client_id: app.client_id,
            client_secret: secret.map_or(app.client_secret, str::to_owned),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn one_token_serves_every_call_and_an_expired_one_is_renewed_once() {
    let zoom = FakeZoom::start().await;
    let client = client(&zoom, None);
    let (a, b) = tokio::join!(
        client.call(Method::GET, "/users", None),
        client.call(Method::GET, "/users", None)
    );
    assert!(
        a.unwrap()["users"]
            .as_array()
            .is_some_and(|u| !u.is_empty())
    );
    b.unwrap();
    client.call(Method::GET, "/users", None).await.unwrap();
    assert_eq!(
        zoom.calls("POST /oauth/token"),
        1,
        "one token, one renewal at a time"
    );

    zoom.expire_tokens();
    client.call(Method::GET, "/users", None).await.unwrap();
    assert_eq!(
        zoom.calls("POST /oauth/token"),
        2,
        "renewed once, and the call made again"
    );
}

#[tokio::test]
async fn wrong_credentials_ask_for_a_reconnect() {
    let zoom = FakeZoom::start().await;
    let error = client(&zoom, Some("wrong"))
        .call(Method::GET, "/users", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Auth(m) if m.contains("client")),
        "{error}"
    );
}

#[tokio::test]
async fn every_failure_gets_its_class() {
    let zoom = FakeZoom::start().await;
    let client = client(&zoom, None);
    client.call(Method::GET, "/users", None).await.unwrap();

    zoom.fail_next("GET /users", Fault::RateLimited(Some(7)));
    let error = client.call(Method::GET, "/users", None).await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)),
        "{error}"
    );
    zoom.fail_next("GET /users", Fault::RateLimited(None));
    let error = client.call(Method::GET, "/users", None).await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(2)),
        "a 429 without Retry-After waits the configured default: {error}"
    );
    zoom.fail_next("GET /users", Fault::Status(503));
    assert!(matches!(
        client.call(Method::GET, "/users", None).await.unwrap_err(),
        AdapterError::Transient(_)
    ));
    zoom.fail_next("GET /users", Fault::Malformed);
    assert!(matches!(
        client.call(Method::GET, "/users", None).await.unwrap_err(),
        AdapterError::Transient(_)
    ));
    let error = client
        .call(Method::GET, "/meetings/12345678901", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Permanent(m) if m.contains("3001")),
        "{error}"
    );

    // A meeting created, but the answer never came: ambiguous, and it exists.
    zoom.fail_next(
        "POST /users/{userId}/meetings",
        Fault::AfterEffect(Duration::from_secs(3)),
    );
    let body = json!({"topic": "Monthly call", "type": 2, "start_time": "2026-12-04T15:00:00Z",
        "duration": 60, "timezone": "Europe/Berlin", "agenda": "cophub:call-1"});
    let error = client
        .call(Method::POST, "/users/me/meetings", Some(&body))
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");
    assert_eq!(zoom.meetings().len(), 1, "the meeting was made");
}
