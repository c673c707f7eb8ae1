//! Calls as a lead's script meets them: scheduled, read back with their
//! occurrences, changed, moved and cancelled through the JSON API, and the
//! same through `cophub call …`. The communities here have no Zoom or Slack
//! channel, so a call has no landings; the lander is tested in hub-core.

use std::process::Output;

use hub_testkit::database::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    api,
    helpers::{OWNER_EMAIL, TestApp, spawn_app},
};

/// A Tuesday, far enough ahead that the test keeps working for decades.
const START: &str = "2099-01-13T10:00";

async fn owner_app(lead: &str) -> (TestApp, String) {
    let app = spawn_app().await;
    app.setup_owner().await;
    app.create_community("rse", lead).await;
    let token = app.api_token(OWNER_EMAIL).await;
    (app, token)
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = api(app, token, method, path).await;
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn weekly(count: u32) -> Value {
    json!({
        "title": "RSE coffee",
        "agenda": "News, then *one* topic.",
        "starts_at_local": START,
        "timezone": "Europe/Berlin",
        "duration_minutes": 60,
        "rrule": format!("FREQ=WEEKLY;COUNT={count}"),
    })
}

#[tokio::test]
async fn a_call_scheduled_through_the_api_reads_back_with_its_occurrences() {
    let (app, token) = owner_app(OWNER_EMAIL).await;
    let (status, created) = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/communities/rse/calls",
        Some(weekly(3)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["title"], "RSE coffee");
    assert_eq!(created["starts_at_local"], START);
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["sequence"], 0);
    assert_eq!(created["registration"], false);
    let rule = created["rrule"].as_str().unwrap();
    assert!(
        rule.contains("FREQ=WEEKLY") && rule.contains("COUNT=3"),
        "{rule}"
    );
    assert!(created["join_url"].is_null(), "no Zoom channel made one");
    // Berlin is an hour ahead of UTC in January.
    assert_eq!(created["next_occurrence_at"], "2099-01-13T09:00:00Z");
    assert_eq!(
        created["landings"],
        json!([]),
        "the community shows no calls anywhere"
    );
    let starts: Vec<&str> = created["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2099-01-13T09:00:00Z",
            "2099-01-20T09:00:00Z",
            "2099-01-27T09:00:00Z"
        ]
    );
    assert_eq!(created["occurrences"][1]["original"], "2099-01-20T10:00");
    assert_eq!(created["occurrences"][1]["duration_minutes"], 60);
    assert_eq!(created["occurrences"][1]["cancelled"], false);

    let id = created["id"].as_str().unwrap();
    let (status, shown) = send(
        &app,
        &token,
        Method::GET,
        &format!("/api/v1/communities/rse/calls/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown, created, "read back as it was answered");

    let (status, listed) = send(
        &app,
        &token,
        Method::GET,
        "/api/v1/communities/rse/calls",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["occurrences"], created["occurrences"]);
    assert!(listed["items"][0].get("landings").is_none());
    assert_eq!(
        listed["calendar_url"],
        app.url("/c/rse/calendar.ics").as_str()
    );

    // The owner leads the community, so they get their own feed, with the call.
    let feed = listed["member_calendar_url"].as_str().unwrap();
    assert!(feed.starts_with(&app.url("/c/rse/calendar/")), "{feed}");
    let calendar = reqwest::get(feed).await.unwrap();
    assert_eq!(calendar.status(), 200);
    assert!(calendar.text().await.unwrap().contains("RSE coffee"));
}

#[tokio::test]
async fn bad_call_input_is_refused_with_422_and_the_sentence_and_nothing_is_kept() {
    let (app, token) = owner_app("").await;
    let with = |change: Value| {
        let mut body = weekly(3);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    for (body, status, says) in [
        (
            with(json!({"starts_at_local": "2001-01-09T10:00"})),
            422,
            "the call would start in the past (2001-01-09 10:00 Europe/Berlin)",
        ),
        (
            with(json!({"rrule": "FREQ=HOURLY;COUNT=3"})),
            422,
            "FREQ=HOURLY",
        ),
        (
            with(json!({"rrule": "FREQ=WEEKLY;COUNT=99"})),
            422,
            "COUNT=99",
        ),
        (with(json!({"rrule": "FREQ=WEEKLY"})), 422, "add COUNT"),
        (
            with(json!({"timezone": "Mars/Base"})),
            422,
            "\"Mars/Base\" is not a timezone",
        ),
        (
            with(json!({"duration_minutes": 0})),
            422,
            "1 to 1440 minutes",
        ),
        (with(json!({"title": " "})), 422, "a title must have"),
        (
            with(json!({"starts_at_local": "next Tuesday"})),
            422,
            "starts_at_local must be a local date and time",
        ),
        (with(json!({"duration": 60})), 400, "duration"),
        (
            with(json!({"duration_minutes": -5})),
            400,
            "duration_minutes",
        ),
    ] {
        let (got, answer) = send(
            &app,
            &token,
            Method::POST,
            "/api/v1/communities/rse/calls",
            Some(body.clone()),
        )
        .await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
        let code = if status == 422 {
            "invalid"
        } else {
            "bad_request"
        };
        assert_eq!(answer["error"]["code"], code);
    }
    let (_, rule) = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/communities/rse/calls",
        Some(with(json!({"rrule": "FREQ=HOURLY;COUNT=3"}))),
    )
    .await;
    assert_eq!(
        rule["error"]["message"],
        "the repeat rule cannot be scheduled: FREQ=HOURLY: Zoom repeats a call daily, weekly or monthly"
    );
    let (_, listed) = send(
        &app,
        &token,
        Method::GET,
        "/api/v1/communities/rse/calls",
        None,
    )
    .await;
    assert_eq!(listed["items"], json!([]), "nothing was kept");
}

#[tokio::test]
async fn a_call_of_another_community_is_not_found() {
    let (app, token) = owner_app("lead@example.org").await;
    app.create_community("theirs", "").await;
    let (_, theirs) = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/communities/theirs/calls",
        Some(weekly(2)),
    )
    .await;
    let id = theirs["id"].as_str().unwrap().to_owned();

    // Even the owner, who sees both communities, finds it only under its own.
    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/v1/communities/rse/calls/{id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/communities/rse/calls/{id}"),
            Some(json!({"title": "Taken over"})),
        ),
        (
            Method::POST,
            format!("/api/v1/communities/rse/calls/{id}/cancel"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/communities/rse/calls/{id}/occurrences/{START}/cancel"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/communities/rse/calls/not-an-id".to_owned(),
            None,
        ),
    ] {
        let (status, answer) = send(&app, &token, method, &path, body).await;
        assert_eq!(status, 404, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
    }

    // A lead of `rse` gets 404 for the other community, never 403.
    let store = &app.server.as_ref().unwrap().store;
    store
        .create_user(
            hub_core::model::user::NewUser {
                email: hub_core::Email::parse("lead@example.org").unwrap(),
                password_hash: hub_core::auth::hash_password("lead password 123").unwrap(),
                is_owner: false,
            },
            hub_testkit::fixtures::audit(),
        )
        .await
        .unwrap();
    let lead = app.api_token("lead@example.org").await;
    for (method, path) in [
        (Method::GET, "/api/v1/communities/theirs/calls".to_owned()),
        (
            Method::GET,
            format!("/api/v1/communities/theirs/calls/{id}"),
        ),
        (
            Method::POST,
            format!("/api/v1/communities/theirs/calls/{id}/cancel"),
        ),
    ] {
        let (status, _) = send(&app, &lead, method, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, mine) = send(
        &app,
        &lead,
        Method::GET,
        "/api/v1/communities/rse/calls",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(mine["items"], json!([]));
    let (_, still) = send(
        &app,
        &token,
        Method::GET,
        &format!("/api/v1/communities/theirs/calls/{id}"),
        None,
    )
    .await;
    assert_eq!(still["status"], "scheduled", "nothing reached it");
    assert_eq!(still["title"], "RSE coffee");
}

#[tokio::test]
async fn changing_moving_and_cancelling_raise_the_sequence_and_a_cancelled_call_stays_so() {
    let (app, token) = owner_app("").await;
    let (_, created) = send(
        &app,
        &token,
        Method::POST,
        "/api/v1/communities/rse/calls",
        Some(weekly(4)),
    )
    .await;
    let path = format!(
        "/api/v1/communities/rse/calls/{}",
        created["id"].as_str().unwrap()
    );
    let call = |method: Method, suffix: &str, body: Option<Value>| {
        let app = &app;
        let token = token.clone();
        let path = format!("{path}{suffix}");
        async move { send(app, &token, method, &path, body).await }
    };

    // A new title is no new version of the invitation; a new length is.
    let (status, renamed) = call(
        Method::PATCH,
        "",
        Some(json!({"title": "RSE coffee (bring questions)"})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["sequence"], 0);
    assert_eq!(renamed["agenda"], "News, then *one* topic.", "kept");
    assert_eq!(renamed["rrule"], created["rrule"], "kept");
    let (_, longer) = call(Method::PATCH, "", Some(json!({"duration_minutes": 90}))).await;
    assert_eq!(longer["sequence"], 1);
    assert_eq!(longer["title"], "RSE coffee (bring questions)");
    assert_eq!(longer["occurrences"][3]["duration_minutes"], 90);

    let (status, moved) = call(
        Method::POST,
        "/occurrences/2099-01-20T10:00/move",
        Some(json!({"starts_at_local": "2099-01-21T11:30", "duration_minutes": 45})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["sequence"], 2);
    let second = &moved["occurrences"][1];
    assert_eq!(
        second["original"], "2099-01-20T10:00",
        "still named by its first start"
    );
    assert_eq!(second["starts_at_local"], "2099-01-21T11:30");
    assert_eq!(second["starts_at"], "2099-01-21T10:30:00Z");
    assert_eq!(second["duration_minutes"], 45);

    let (status, skipped) = call(Method::POST, "/occurrences/2099-01-27T10:00/cancel", None).await;
    assert_eq!(status, 200, "{skipped}");
    assert_eq!(skipped["sequence"], 3);
    assert_eq!(skipped["occurrences"][2]["cancelled"], true);
    assert_eq!(skipped["occurrences"][3]["cancelled"], false);
    assert_eq!(skipped["status"], "scheduled");

    let (status, unknown) = call(Method::POST, "/occurrences/2099-01-14T10:00/cancel", None).await;
    assert_eq!(status, 404);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2099-01-14 10:00"),
        "{unknown}"
    );
    let (status, past) = call(
        Method::POST,
        "/occurrences/2099-02-03T10:00/move",
        Some(json!({"starts_at_local": "2001-01-01T10:00"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        past["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in the past")
    );

    let (status, cancelled) = call(Method::POST, "/cancel", None).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["sequence"], 4);
    assert!(cancelled["next_occurrence_at"].is_null());
    assert!(
        cancelled["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["cancelled"] == true)
    );
    let (status, again) = call(Method::POST, "/cancel", None).await;
    assert_eq!(status, 200, "cancelling twice is no error");
    assert_eq!(again["sequence"], 4, "and changes nothing");

    for (method, suffix, body) in [
        (Method::PATCH, "", Some(json!({"title": "Back on"}))),
        (
            Method::POST,
            "/occurrences/2099-02-03T10:00/move",
            Some(json!({"starts_at_local": "2099-02-03T11:00"})),
        ),
        (Method::POST, "/occurrences/2099-02-03T10:00/cancel", None),
    ] {
        let (status, answer) = call(method, suffix, body).await;
        assert_eq!(status, 409, "{suffix}: {answer}");
        assert_eq!(answer["error"]["message"], "this call is cancelled");
    }
    let (_, shown) = call(Method::GET, "", None).await;
    assert_eq!(shown["sequence"], 4);
    assert_eq!(shown["status"], "cancelled");
}

// --- the command line ---------------------------------------------------------

struct Cli {
    data_dir: tempfile::TempDir,
    db: TestDatabase,
    key: String,
}

impl Cli {
    async fn new() -> Self {
        Self {
            data_dir: tempfile::tempdir().unwrap(),
            db: TestDatabase::from_env().await,
            key: hub_core::secrets::SecretKeys::generate_hex(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        crate::helpers::cophub_command()
            .args(args)
            .args([
                "--data-dir",
                self.data_dir.path().to_str().unwrap(),
                "--database-url",
                self.db.url(),
            ])
            .env("COPHUB_SECRET_KEY", &self.key)
            .env("COPHUB_LOG_FILTER", "warn")
            .output()
            .unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts exit code 2 and one sentence on stderr that says `says`.
fn refused(output: &Output, says: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    assert!(err.contains(says), "{err}");
    assert!(stdout(output).is_empty());
}

#[tokio::test]
async fn the_cli_schedules_lists_and_cancels_calls_and_bad_input_exits_2() {
    let cli = Cli::new().await;
    let created = cli.run(&["community", "create", "--slug", "rse", "--name", "RSE"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let dir = tempfile::tempdir().unwrap();
    let agenda = dir.path().join("agenda.md");
    std::fs::write(&agenda, "1. News\n2. One topic\n").unwrap();
    let schedule = |extra: &[&str]| {
        let mut args = vec![
            "call",
            "schedule",
            "--community",
            "rse",
            "--title",
            "RSE coffee",
            "--start",
            "2099-01-13 10:00",
            "--timezone",
            "Europe/Berlin",
            "--duration",
            "60",
        ];
        args.extend_from_slice(extra);
        cli.run(&args)
    };

    let scheduled = schedule(&[
        "--rrule",
        "FREQ=WEEKLY;COUNT=10",
        "--agenda-file",
        agenda.to_str().unwrap(),
        "--registration",
    ]);
    assert!(scheduled.status.success(), "{}", stderr(&scheduled));
    let id = stdout(&scheduled).trim().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "the id alone: {id:?}");

    let text = cli.run(&["call", "list", "--community", "rse"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let line = stdout(&text);
    assert!(line.starts_with(&id), "{line}");
    assert!(line.contains("scheduled"), "{line}");
    assert!(line.contains("2099-01-13 10:00 Europe/Berlin"), "{line}");
    assert!(line.contains("next 2099-01-13T09:00:00+00:00"), "{line}");

    let cancelled = cli.run(&[
        "call",
        "cancel",
        "--community",
        "rse",
        "--call",
        &id,
        "--occurrence",
        "2099-01-20 10:00",
    ]);
    assert!(cancelled.status.success(), "{}", stderr(&cancelled));
    let json = cli.run(&["call", "list", "--community", "rse", "--format", "json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let listed: Value = serde_json::from_slice(&json.stdout).unwrap();
    let call = &listed[0];
    assert_eq!(call["id"], id.as_str());
    assert_eq!(call["agenda"], "1. News\n2. One topic\n");
    assert_eq!(call["registration"], true);
    assert_eq!(call["sequence"], 1);
    assert_eq!(call["occurrences"].as_array().unwrap().len(), 10);
    assert_eq!(call["occurrences"][1]["cancelled"], true);
    assert_eq!(call["occurrences"][0]["cancelled"], false);

    // Bad input: exit 2, one sentence, nothing kept.
    refused(&schedule(&["--rrule", "FREQ=WEEKLY;COUNT=99"]), "COUNT=99");
    refused(
        &cli.run(&[
            "call",
            "schedule",
            "--community",
            "rse",
            "--title",
            "Late",
            "--start",
            "2001-01-09 10:00",
            "--timezone",
            "UTC",
            "--duration",
            "30",
        ]),
        "in the past",
    );
    refused(
        &cli.run(&[
            "call",
            "schedule",
            "--community",
            "rse",
            "--title",
            "Far",
            "--start",
            "2099-01-13 10:00",
            "--timezone",
            "Mars/Base",
            "--duration",
            "30",
        ]),
        "\"Mars/Base\" is not a timezone",
    );
    refused(
        &cli.run(&[
            "call",
            "schedule",
            "--community",
            "rse",
            "--title",
            "When",
            "--start",
            "Tuesday",
            "--timezone",
            "UTC",
            "--duration",
            "30",
        ]),
        "--start \"Tuesday\" is not a local time",
    );
    refused(
        &cli.run(&["call", "list", "--community", "nowhere"]),
        "no community with the slug \"nowhere\"",
    );
    refused(
        &cli.run(&[
            "call",
            "cancel",
            "--community",
            "rse",
            "--call",
            &id,
            "--occurrence",
            "2099-01-14 10:00",
        ]),
        "the call has no occurrence starting 2099-01-14 10:00",
    );
    refused(
        &cli.run(&[
            "call",
            "cancel",
            "--community",
            "rse",
            "--call",
            &uuid::Uuid::new_v4().to_string(),
        ]),
        "the community rse has no call",
    );
    let listed: Value = serde_json::from_slice(
        &cli.run(&["call", "list", "--community", "rse", "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing more was kept");

    let whole = cli.run(&["call", "cancel", "--community", "rse", "--call", &id]);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let again = cli.run(&["call", "cancel", "--community", "rse", "--call", &id]);
    assert!(again.status.success(), "cancelling twice is no error");
    let listed: Value = serde_json::from_slice(
        &cli.run(&["call", "list", "--community", "rse", "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(listed[0]["status"], "cancelled");
    assert_eq!(listed[0]["sequence"], 2);
    assert!(listed[0]["next_occurrence_at"].is_null());
    refused(
        &cli.run(&[
            "call",
            "cancel",
            "--community",
            "rse",
            "--call",
            &id,
            "--occurrence",
            "2099-01-27 10:00",
        ]),
        "this call is cancelled",
    );
}
