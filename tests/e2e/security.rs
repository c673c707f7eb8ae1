//! What every response carries for the browser's protection — pages, API
//! answers, errors, static files, webhooks — and the limit on request
//! bodies, as a client meets them over HTTP.

use serde_json::{Value, json};

use crate::helpers::{OWNER_EMAIL, spawn_app, spawn_app_configured};

fn assert_protected(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"))
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "same-origin", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
}

#[tokio::test]
async fn pages_api_answers_errors_static_files_and_webhooks_carry_the_security_headers() {
    let app = spawn_app().await;
    for (path, status) in [
        ("/login", 200),
        ("/static/app.css", 200),
        ("/healthz", 200),
        ("/api/v1/nothing-here", 404),
        ("/api/v1/communities", 401),
        ("/setup/made-up-token", 404),
        ("/no-such-page", 404),
        ("/", 303),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_protected(&response, path);
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "{path}: no HSTS over a plain-http public URL"
        );
    }
    let hook = app
        .client
        .post(app.url("/hooks/slack/events"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(hook.status().is_client_error(), "{}", hook.status());
    assert_protected(&hook, "/hooks/slack/events");
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app =
        spawn_app_configured(|config| config.public_url = Some("https://hub.example.org".into()))
            .await;
    for path in ["/login", "/api/v1/communities", "/static/app.css"] {
        let response = app.get(path).await;
        assert_protected(&response, path);
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_oversized_body_answers_413_and_an_import_keeps_its_larger_limit() {
    let app = spawn_app().await;
    app.setup_owner().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let two_mib = "x".repeat(2 * 1024 * 1024);

    let json_body = reqwest::Client::new()
        .post(app.url("/api/v1/communities"))
        .bearer_auth(&token)
        .json(&json!({"slug": "big", "name": two_mib}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 413);
    assert_protected(&json_body, "an oversized JSON body");
    let error: Value = json_body.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_large", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1 MiB"),
        "{error}"
    );

    let form = app
        .post_form(
            "/communities",
            &[("slug", "big"), ("name", &two_mib), ("timezone", "UTC")],
        )
        .await;
    assert_eq!(form.status(), 413);
    assert!(
        form.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(form.text().await.unwrap().contains("too large"));

    // The members import takes more than the default limit.
    app.create_community("rse", "").await;
    let csv = format!("email,notes\nada@example.org,{two_mib}\n");
    let imported = app.import_csv("rse", &csv, &[]).await;
    assert_eq!(imported.status(), 200);
}
