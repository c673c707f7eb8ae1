//! `/metrics`: an owner's API token reads it on the main address, anyone
//! else is refused, and `[metrics] listen` serves it without
//! authentication on its own address.

use hub_core::{
    channels::{ChannelRequest, add},
    model::{audit::NewAuditEvent, channel::ChannelKind, user::NewUser},
    secrets::SecretKeys,
};
use hub_testkit::webhook_receiver::WebhookReceiver;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{OWNER_EMAIL, spawn_app_configured};

#[tokio::test]
async fn an_owners_token_reads_the_metrics_a_leads_is_refused_and_the_metrics_address_needs_none() {
    let app = spawn_app_configured(|config| {
        config.metrics.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    app.setup_owner().await;
    app.create_community("rse", "lead@example.org").await;
    let store = app.server.as_ref().unwrap().store.clone();
    let keys =
        SecretKeys::from_hex_list(app.config.secret_key.as_ref().unwrap().expose_secret()).unwrap();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let receiver = WebhookReceiver::start("hook secret").await;
    let channel = add(
        store.as_ref(),
        &keys,
        community.id,
        ChannelRequest {
            kind: ChannelKind::Webhook,
            name: "hook".into(),
            settings: json!({"url": receiver.url, "allow_local": true}),
            secret: Some("hook secret".into()),
            min_interval_ms: 0,
        },
        "test",
    )
    .await
    .unwrap();
    let token = app.api_token(OWNER_EMAIL).await;
    let client = reqwest::Client::new();
    let created = client
        .post(app.url("/api/v1/communities/rse/announcements"))
        .bearer_auth(&token)
        .json(&json!({"title": "Metrics", "body_markdown": "Hello.", "channels": [channel.id.to_string()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let path = format!(
        "/api/v1/communities/rse/announcements/{}",
        created["id"].as_str().unwrap()
    );
    let mut state = Value::Null;
    for _ in 0..100 {
        let shown: Value = client
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state = shown["deliveries"][0]["state"].clone();
        if state == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, "sent");

    let metrics = client
        .get(app.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.unwrap();
    for expected in [
        "# TYPE cophub_deliveries gauge\n",
        "cophub_deliveries{kind=\"webhook\",state=\"sent\"} 1\n",
        "# TYPE cophub_sync_runs gauge\n",
        "# TYPE cophub_adapter_calls_total counter\n",
        "cophub_adapter_calls_total{kind=\"webhook\",operation=\"post\",outcome=\"ok\"} ",
        "# TYPE cophub_http_request_duration_seconds histogram\n",
        "cophub_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/communities/{slug}/announcements\",status=\"201\",le=\"+Inf\"} ",
        "cophub_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/communities/{slug}/announcements/{id}\",status=\"200\"} ",
    ] {
        assert!(
            text.contains(expected),
            "{expected} is missing from:\n{text}"
        );
    }
    assert!(
        !text.contains("route=\"/api/v1/communities/rse"),
        "routes are patterns, never paths"
    );

    // Without a token: 401; a lead's token: 403.
    let anonymous = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    store
        .create_user(
            NewUser {
                email: hub_core::Email::parse("lead@example.org").unwrap(),
                password_hash: hub_core::auth::hash_password("lead password 123").unwrap(),
                is_owner: false,
            },
            NewAuditEvent {
                actor: "test".into(),
                action: "user.create".into(),
                community_id: None,
                subject: "lead".into(),
                details: json!({}),
            },
        )
        .await
        .unwrap();
    let lead_token = app.api_token("lead@example.org").await;
    let lead = client
        .get(app.url("/metrics"))
        .bearer_auth(&lead_token)
        .send()
        .await
        .unwrap();
    assert_eq!(lead.status(), 403);
    assert_eq!(
        lead.json::<Value>().await.unwrap()["error"]["code"],
        "forbidden"
    );

    // The metrics address asks for nothing, and serves nothing else.
    let address = app.server.as_ref().unwrap().metrics_address.unwrap();
    let open = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    assert!(
        open.text()
            .await
            .unwrap()
            .contains("cophub_deliveries{kind=\"webhook\",state=\"sent\"} 1\n")
    );
    let other = reqwest::get(format!("http://{address}/api/v1/communities"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn a_worker_serves_its_metrics_on_the_metrics_address() {
    // This test makes no app, whose start installs the TLS provider reqwest needs.
    hub_core::tls::init();
    let db = hub_testkit::database::TestDatabase::from_env().await;
    let data_dir = tempfile::tempdir().unwrap();
    // A free port, given back for the worker to take.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut worker = crate::helpers::cophub_command()
        .args(["worker", "--database-url", db.url(), "--data-dir"])
        .arg(data_dir.path())
        .env("COPHUB_SECRET_KEY", SecretKeys::generate_hex())
        .env("COPHUB_LOG_FILTER", "error")
        .env("COPHUB_METRICS__LISTEN", address.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(answer) = reqwest::get(format!("http://{address}/metrics")).await {
            assert_eq!(answer.status(), 200);
            text = answer.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert!(text.contains("# TYPE cophub_deliveries gauge\n"), "{text}");
    assert!(text.contains("# TYPE cophub_adapter_calls_total counter\n"));
}
