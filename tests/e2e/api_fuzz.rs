//! The JSON API against its own OpenAPI document, fuzzed by Schemathesis
//! (from PyPI, `scripts/peers/schemathesis`): a live server with an owner, a
//! community with members, its email list, a call, a conference and an
//! announcement, whose ids the fuzzer is given so that it reaches past
//! "not found". Any server error, undocumented status, wrong content type or
//! body that does not match its schema fails the test, with Schemathesis's
//! report printed.
//!
//! The run is bounded (`MAX_EXAMPLES` per operation, one fixed seed unless
//! `COPHUB_TEST_FUZZ_SEED` names another) so that it takes under a minute.
//! Without the peer the test is skipped, unless
//! `COPHUB_TEST_REQUIRE_SCHEMATHESIS=1` (set by `scripts/test`). The other
//! tests here pin what it found, and what it cannot send.

use std::path::PathBuf;

use hub_core::{
    channels::{ChannelRequest, add},
    model::channel::ChannelKind,
};
use hub_testkit::{fixtures, smtp_sink::SmtpSink};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app_configured},
};

/// Set to `1` to make a missing Schemathesis fail the test instead of
/// skipping it.
const REQUIRE_ENV: &str = "COPHUB_TEST_REQUIRE_SCHEMATHESIS";

/// Test cases per operation and phase, unless `COPHUB_TEST_FUZZ_EXAMPLES`
/// asks for more (a longer hunt by hand).
const MAX_EXAMPLES: &str = "25";

/// The checks that must hold for every answer.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
     response_schema_conformance";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/peers/schemathesis")
}

/// Installs the peer; `false` (with a note) when it cannot be had here and
/// is not required.
async fn schemathesis_installed() -> bool {
    let installed = tokio::process::Command::new(script())
        .arg("install")
        .output()
        .await;
    let why = match installed {
        Ok(output) if output.status.success() => return true,
        Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
        Err(error) => error.to_string(),
    };
    assert!(
        std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
        "Schemathesis is required ({REQUIRE_ENV}=1) but could not be installed: {why}"
    );
    eprintln!("skipping the API fuzz test: Schemathesis could not be installed ({why})");
    false
}

async fn send(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    let response = api(app, token, method, path)
        .await
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// The ids the fuzzer should try, by path parameter.
#[derive(Default)]
struct Known {
    ids: Vec<String>,
    conferences: Vec<String>,
    originals: Vec<String>,
}

/// A community worth fuzzing: members, the native email list, a weekly
/// call, a conference with rooms and slots, and an announcement.
async fn populate(app: &TestApp, token: &str) -> Known {
    let mut known = Known::default();
    app.create_community("rse", "lead@example.org").await;
    let store = app.server.as_ref().unwrap().store.clone();
    let community = store.community_by_slug("rse").await.unwrap().unwrap();
    let import = api(
        app,
        token,
        Method::POST,
        "/api/v1/communities/rse/members/import",
    )
    .await
    .header("content-type", "text/csv")
    .body(fixtures::members_csv(12))
    .send()
    .await
    .unwrap();
    assert_eq!(import.status(), 200);
    let members = api(app, token, Method::GET, "/api/v1/communities/rse/members")
        .await
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    for member in members["items"].as_array().unwrap().iter().take(4) {
        known.ids.push(member["id"].as_str().unwrap().to_owned());
    }

    let channel = add(
        store.as_ref(),
        &app.config.secret_keys().unwrap(),
        community.id,
        ChannelRequest {
            kind: ChannelKind::EmailList,
            name: "RSE list".into(),
            settings: json!({"list_address": "rse@lists.example.org"}),
            secret: None,
            min_interval_ms: 0,
        },
        "test",
    )
    .await
    .unwrap();
    known.ids.push(channel.id.to_string());

    let call = send(
        app,
        token,
        Method::POST,
        "/api/v1/communities/rse/calls",
        json!({
            "title": "RSE coffee",
            "agenda": "News, then one topic.",
            "starts_at_local": "2031-01-07T10:00",
            "timezone": "Europe/Berlin",
            "duration_minutes": 60,
            "rrule": "FREQ=WEEKLY;COUNT=4",
        }),
    )
    .await;
    known.ids.push(call["id"].as_str().unwrap().to_owned());
    known.originals.push("2031-01-14T10:00".into());

    let conference = send(
        app,
        token,
        Method::POST,
        "/api/v1/communities/rse/conferences",
        json!({
            "slug": "unconf", "name": "RSE Unconference", "starts_on": "2031-03-04",
            "ends_on": "2031-03-05", "timezone": "Europe/Berlin", "capacity": 20,
            "vote_budget": 3, "show_up_factor": 0.8,
        }),
    )
    .await;
    known.conferences.push("unconf".into());
    known
        .conferences
        .push(conference["id"].as_str().unwrap().to_owned());
    send(
        app,
        token,
        Method::PUT,
        "/api/v1/communities/rse/conferences/unconf/grid",
        json!({
            "rooms": [{"name": "Hall", "capacity": 20}],
            "slots": [{"starts_at_local": "2031-03-04T09:00", "ends_at_local": "2031-03-04T10:00"}],
        }),
    )
    .await;

    let announcement = send(
        app,
        token,
        Method::POST,
        "/api/v1/communities/rse/announcements",
        json!({"title": "Welcome", "body_markdown": "Hello **all**.", "channels": [channel.id]}),
    )
    .await;
    known
        .ids
        .push(announcement["id"].as_str().unwrap().to_owned());
    for delivery in announcement["deliveries"].as_array().unwrap() {
        known.ids.push(delivery["id"].as_str().unwrap().to_owned());
    }
    known
}

/// Schemathesis's configuration: the known ids as dictionaries, bound to the
/// path parameters with a probability, so that generated values (which
/// test the parsing and the 404s) still get their turn.
fn config(known: &Known) -> String {
    let list = |values: &[String]| {
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[dictionaries.slugs]\nvalues = [\"rse\"]\n\
         [dictionaries.ids]\nvalues = [{ids}]\n\
         [dictionaries.conferences]\nvalues = [{conferences}]\n\
         [dictionaries.originals]\nvalues = [{originals}]\n\
         [parameters]\n\
         \"path.slug\" = {{ dictionary = \"slugs\", probability = 0.9 }}\n\
         \"path.id\" = {{ dictionary = \"ids\", probability = 0.7 }}\n\
         \"path.delivery\" = {{ dictionary = \"ids\", probability = 0.7 }}\n\
         \"path.session\" = {{ dictionary = \"ids\", probability = 0.5 }}\n\
         \"path.conference\" = {{ dictionary = \"conferences\", probability = 0.8 }}\n\
         \"path.original\" = {{ dictionary = \"originals\", probability = 0.7 }}\n",
        ids = list(&known.ids),
        conferences = list(&known.conferences),
        originals = list(&known.originals),
    )
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    if !schemathesis_installed().await {
        return;
    }
    // A hub as an operator runs it, mail included (registrations are mailed
    // a link): every channel is local, the native list and the conference,
    // both sending to the SMTP sink, so nothing leaves the machine.
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let smtp_url = sink.url();
    let app = spawn_app_configured(|config| config.mail.smtp_url = Some(smtp_url.into())).await;
    app.setup_owner().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let known = populate(&app, &token).await;
    let work = tempfile::tempdir().unwrap();
    let config_file = work.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(&known)).unwrap();
    let seed = std::env::var("COPHUB_TEST_FUZZ_SEED").unwrap_or_else(|_| "20261128".into());
    let examples =
        std::env::var("COPHUB_TEST_FUZZ_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.into());

    let output = tokio::process::Command::new(script())
        .arg("--config-file")
        .arg(&config_file)
        .args([
            "--no-color",
            "run",
            &app.url("/api/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            CHECKS,
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            "--generation-database",
            "none",
            "--continue-on-failure",
            "--request-timeout",
            "20",
            "--workers",
            "2",
        ])
        .current_dir(work.path())
        .output()
        .await
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "Schemathesis found answers the OpenAPI document does not describe (seed {seed}); \
         its report is above"
    );
    // A run that tested nothing would pass too; make sure it did not.
    assert!(
        report.contains("generated") && report.contains("Tested:"),
        "Schemathesis reported no test cases"
    );
}

/// What the fuzzer cannot send (a path that is not UTF-8) or does not
/// (a body of another type) is answered in the API's error shape as well,
/// with a status the document lists.
#[tokio::test]
async fn malformed_requests_get_the_documented_json_errors() {
    let app = crate::helpers::spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let token = app.api_token(OWNER_EMAIL).await;
    let doc: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cases = [
        (
            Method::GET,
            "/api/v1/communities/%FF",
            "/api/v1/communities/{slug}",
            "get",
            400,
            "bad_request",
        ),
        (
            Method::GET,
            "/api/v1/communities/rse/members/%C3%28",
            "/api/v1/communities/{slug}/members/{id}",
            "get",
            400,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/v1/communities",
            "/api/v1/communities",
            "post",
            415,
            "unsupported_media_type",
        ),
    ];
    for (method, path, documented, verb, status, code) in cases {
        let answer = api(&app, &token, method, path)
            .await
            .header("content-type", "text/plain")
            .body("slug=rse")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "{path}");
        assert_eq!(
            answer.headers()["content-type"],
            "application/json",
            "{path}"
        );
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        let response = &doc["paths"][documented][verb]["responses"][status.to_string()];
        assert_eq!(
            response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
            "{documented} documents {status}"
        );
    }
}

/// A finding of the fuzzer: registering an address the mail server refuses
/// (550 mailbox unavailable) answered 502 "try again in a few minutes",
/// a server error for what is a fault of the address.
#[tokio::test]
async fn registering_an_address_the_mail_server_refuses_is_a_422() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let smtp_url = sink.url();
    let app = spawn_app_configured(|config| config.mail.smtp_url = Some(smtp_url.into())).await;
    app.setup_owner().await;
    app.create_community("rse", "").await;
    let token = app.api_token(OWNER_EMAIL).await;
    send(
        &app,
        &token,
        Method::POST,
        "/api/v1/communities/rse/conferences",
        json!({
            "slug": "unconf", "name": "RSE Unconference", "starts_on": "2031-03-04",
            "ends_on": "2031-03-04", "timezone": "Europe/Berlin", "capacity": 20,
            "vote_budget": 3, "show_up_factor": 0.8,
        }),
    )
    .await;
    let refused = api(
        &app,
        &token,
        Method::POST,
        "/api/v1/communities/rse/conferences/unconf/registrations",
    )
    .await
    .json(&json!({"email": "ada+reject@example.org"}))
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check the address"),
        "{body}"
    );
}

/// A finding of the fuzzer, on PostgreSQL only: a community name holding a
/// NUL character (`\u0000`) answered 500, as PostgreSQL's text cannot keep
/// one. Now any address or body holding a NUL is refused with 400 on both
/// backends, and nothing is created.
#[tokio::test]
async fn a_nul_character_is_refused_with_400_and_nothing_is_created() {
    let app = crate::helpers::spawn_app().await;
    app.setup_owner().await;
    let token = app.api_token(OWNER_EMAIL).await;
    let answer = api(&app, &token, Method::POST, "/api/v1/communities")
        .await
        .json(&json!({ "slug": "ct", "name": "Before\u{0}after" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("NUL character"),
        "{body}"
    );
    let search = api(
        &app,
        &token,
        Method::GET,
        "/api/v1/communities/ct/members?q=a%00b",
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(search.status(), 400);
    let listed: Value = api(&app, &token, Method::GET, "/api/v1/communities")
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !listed.to_string().contains("\"ct\""),
        "no community was created: {listed}"
    );
}
