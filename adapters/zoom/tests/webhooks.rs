//! Zoom's webhook checks against what the fake Zoom sends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::{Json, Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use hub_adapter_zoom::webhooks::url_validation;
use hub_core::signing::{SignatureError, verify_v0};
use hub_testkit::zoom::FakeZoom;
use serde_json::{Value, json};

/// A receiver that answers url_validation and reports each signature check.
async fn receiver(secret: String) -> String {
    async fn hook(State(secret): State<String>, headers: HeaderMap, body: Bytes) -> Json<Value> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let checked = verify_v0(
            &secret,
            header("x-zm-request-timestamp"),
            header("x-zm-signature"),
            &body,
            chrono::Utc::now().timestamp(),
        );
        let event: Value = serde_json::from_slice(&body).unwrap();
        if event["event"] == "endpoint.url_validation" {
            let plain = event["payload"]["plainToken"].as_str().unwrap();
            return Json(url_validation(&secret, plain));
        }
        Json(json!({"signature": checked.map_err(|e: SignatureError| e.to_string()).err()}))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route("/hook", post(hook)).with_state(secret);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/hook")
}

#[tokio::test]
async fn the_url_validation_answer_and_the_signature_are_zooms() {
    hub_core::tls::init();
    let zoom = FakeZoom::start().await;
    let secret = zoom.app().webhook_secret;
    let url = receiver(secret.clone()).await;

    let answer: Value = zoom.validate_endpoint(&url).await.json().await.unwrap();
    let plain = answer["plainToken"].as_str().unwrap();
    assert_eq!(
        answer["encryptedToken"].as_str().unwrap(),
        hub_core::signing::hmac_sha256_hex(&secret, plain.as_bytes())
    );
    assert_eq!(answer["encryptedToken"].as_str().unwrap().len(), 64);

    let signed: Value = zoom
        .deliver_webhook(&url, "meeting.started", json!({"object": {"id": 1}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(signed["signature"], Value::Null, "{signed}");

    let wrong = receiver("not-the-secret".into()).await;
    let refused: Value = zoom
        .deliver_webhook(&wrong, "meeting.started", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        refused["signature"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
}
