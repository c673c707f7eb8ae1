#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fake Zoom checked against Zoom's contract with a plain HTTP client:
//! what a real account would answer, so adapter tests can trust it.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Json, Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::America::New_York;
use hmac::{Hmac, KeyInit, Mac};
use hub_testkit::zoom::{FakeZoom, Fault, ZoomApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

fn client() -> reqwest::Client {
    hub_core::tls::init();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Asks the token endpoint with these credentials and parameters.
async fn token_request(
    zoom: &FakeZoom,
    client_id: &str,
    secret: &str,
    grant_type: &str,
    account_id: &str,
) -> reqwest::Response {
    client()
        .post(zoom.oauth_url())
        .basic_auth(client_id, Some(secret))
        .query(&[("grant_type", grant_type), ("account_id", account_id)])
        .send()
        .await
        .unwrap()
}

/// A good access token, through the token endpoint.
async fn token(zoom: &FakeZoom) -> String {
    let app = zoom.app();
    let answer: Value = token_request(
        zoom,
        &app.client_id,
        &app.client_secret,
        "account_credentials",
        &app.account_id,
    )
    .await
    .json()
    .await
    .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    zoom: &FakeZoom,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = client()
        .request(method, format!("{}{path}", zoom.api_url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body, headers)
}

async fn get(zoom: &FakeZoom, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, body, _) = call(zoom, token, reqwest::Method::GET, path, None).await;
    (status, body)
}

async fn create(zoom: &FakeZoom, token: &str, body: &Value) -> (StatusCode, Value) {
    let (status, body, _) = call(
        zoom,
        token,
        reqwest::Method::POST,
        "/users/me/meetings",
        Some(body),
    )
    .await;
    (status, body)
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn the_token_flow_refuses_bad_credentials_and_expired_tokens_answer_124() {
    let zoom = FakeZoom::start().await;
    let app = zoom.app();

    let good = token_request(
        &zoom,
        &app.client_id,
        &app.client_secret,
        "account_credentials",
        &app.account_id,
    )
    .await;
    assert_eq!(good.status(), StatusCode::OK);
    let good: Value = good.json().await.unwrap();
    assert_eq!(good["token_type"], "bearer");
    assert_eq!(good["expires_in"], 3599);
    assert_eq!(good["api_url"], zoom.base_url());
    assert!(good.get("refresh_token").is_none());
    let first = good["access_token"].as_str().unwrap().to_owned();

    let wrong_secret = token_request(
        &zoom,
        &app.client_id,
        "nope",
        "account_credentials",
        &app.account_id,
    )
    .await;
    assert_eq!(wrong_secret.status(), StatusCode::BAD_REQUEST);
    let wrong_secret: Value = wrong_secret.json().await.unwrap();
    assert_eq!(wrong_secret["error"], "invalid_client");
    assert_eq!(wrong_secret["reason"], "Invalid client_id or client_secret");

    let wrong_account = token_request(
        &zoom,
        &app.client_id,
        &app.client_secret,
        "account_credentials",
        "someone-else",
    )
    .await;
    assert_eq!(wrong_account.status(), StatusCode::BAD_REQUEST);
    let wrong_account: Value = wrong_account.json().await.unwrap();
    assert_eq!(wrong_account["error"], "invalid_request");
    assert_eq!(wrong_account["reason"], "Invalid account_id");

    let wrong_grant = token_request(
        &zoom,
        &app.client_id,
        &app.client_secret,
        "client_credentials",
        &app.account_id,
    )
    .await;
    let wrong_grant: Value = wrong_grant.json().await.unwrap();
    assert_eq!(wrong_grant["error"], "unsupported_grant_type");

    // The parameters may come in a form body too.
    let form = client()
        .post(zoom.oauth_url())
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .form(&[
            ("grant_type", "account_credentials"),
            ("account_id", app.account_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);

    let (status, users) = get(&zoom, &first, "/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["users"][0]["email"], "host@example.org");
    assert_eq!(users["users"][0]["type"], 2);
    assert_eq!(users["next_page_token"], "");

    let response = client()
        .get(format!("{}/users", zoom.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let missing: Value = response.json().await.unwrap();
    assert_eq!(missing["code"], 124);
    assert_eq!(missing["message"], "Invalid access token.");

    zoom.expire_tokens();
    let (status, expired) = get(&zoom, &first, "/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired["code"], 124);
    assert_eq!(expired["message"], "Access token is expired.");

    let fresh = token(&zoom).await;
    let (status, _) = get(&zoom, &fresh, "/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(zoom.tokens_issued(), 3);
    assert_eq!(zoom.calls("POST /oauth/token"), 6);
    assert_eq!(zoom.calls("GET /users"), 4);
}

#[tokio::test]
async fn a_weekly_meeting_keeps_its_new_york_wall_clock_across_the_dst_change() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    // Tuesday 20 October 2026, 10:00 in New York; DST ends on 1 November.
    let (status, created) = create(
        &zoom,
        &token,
        &json!({
            "topic": "Community call",
            "type": 8,
            "start_time": "2026-10-20T10:00:00",
            "timezone": "America/New_York",
            "duration": 45,
            "agenda": "cophub:community-call",
            "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "3", "end_times": 6},
            "settings": {"approval_type": 0, "registration_type": 1, "join_before_host": true},
            "tracking_fields": [{"field": "source", "value": "cophub"}],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_u64().unwrap();
    assert_eq!(id.to_string().len(), 11);
    assert_eq!(created["type"], 8);
    assert_eq!(created["start_time"], "2026-10-20T14:00:00Z");
    assert_eq!(created["join_url"], format!("https://zoom.example/j/{id}"));
    assert_eq!(created["settings"]["join_before_host"], true);
    assert_eq!(created["tracking_fields"][0]["value"], "cophub");
    let occurrences = created["occurrences"].as_array().unwrap();
    assert_eq!(occurrences.len(), 6);
    let mut utc_hours = BTreeSet::new();
    for (i, occurrence) in occurrences.iter().enumerate() {
        let start: DateTime<Utc> = occurrence["start_time"].as_str().unwrap().parse().unwrap();
        let local = start.with_timezone(&New_York);
        assert_eq!((local.hour(), local.minute()), (10, 0), "{occurrence}");
        assert_eq!(
            local.date_naive(),
            New_York
                .with_ymd_and_hms(2026, 10, 20, 0, 0, 0)
                .unwrap()
                .date_naive()
                + chrono::Days::new(7 * i as u64)
        );
        assert_eq!(
            occurrence["occurrence_id"],
            start.timestamp_millis().to_string()
        );
        assert_eq!(occurrence["status"], "available");
        assert_eq!(occurrence["duration"], 45);
        utc_hours.insert(start.hour());
    }
    assert_eq!(utc_hours, BTreeSet::from([14, 15]), "the UTC hour moves");

    // Move the third occurrence (3 November) to 11:00 and rename it.
    let third = occurrences[2]["occurrence_id"].as_str().unwrap().to_owned();
    let (status, _, _) = call(
        &zoom,
        &token,
        reqwest::Method::PATCH,
        &format!("/meetings/{id}?occurrence_id={third}"),
        Some(&json!({"start_time": "2026-11-03T11:00:00", "topic": "Moved call", "type": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, one) = get(
        &zoom,
        &token,
        &format!("/meetings/{id}?occurrence_id={third}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["start_time"], "2026-11-03T16:00:00Z");
    assert_eq!(one["topic"], "Moved call");
    assert_eq!(one["type"], 8, "type is not an occurrence field");
    let meeting = zoom.meeting(id).unwrap();
    assert_eq!(meeting.topic, "Community call");
    assert_eq!(meeting.occurrences[2].start_time, "2026-11-03T16:00:00Z");
    assert_eq!(meeting.occurrences[2].occurrence_id, third);

    // Delete the fourth occurrence.
    let fourth = occurrences[3]["occurrence_id"].as_str().unwrap().to_owned();
    let (status, _, _) = call(
        &zoom,
        &token,
        reqwest::Method::DELETE,
        &format!("/meetings/{id}?occurrence_id={fourth}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, whole) = get(&zoom, &token, &format!("/meetings/{id}")).await;
    assert_eq!(whole["occurrences"][3]["status"], "deleted");
    assert_eq!(whole["occurrences"][4]["status"], "available");
    assert_eq!(zoom.meeting(id).unwrap().occurrences[3].status, "deleted");

    // Delete the series.
    let (status, _, _) = call(
        &zoom,
        &token,
        reqwest::Method::DELETE,
        &format!("/meetings/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = get(&zoom, &token, &format!("/meetings/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["code"], 3001);
    assert_eq!(gone["message"], format!("Meeting does not exist: {id}."));
    assert!(zoom.meetings().is_empty());
}

#[tokio::test]
async fn a_start_time_without_z_is_local_to_the_timezone_or_the_users() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let (_, utc) = create(
        &zoom,
        &token,
        &json!({"type": 2, "start_time": "2026-07-01T10:00:00Z", "timezone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(utc["start_time"], "2026-07-01T10:00:00Z");
    let (_, local) = create(
        &zoom,
        &token,
        &json!({"type": 2, "start_time": "2026-07-01T10:00:00", "timezone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(local["start_time"], "2026-07-01T08:00:00Z");
    // No time zone: the user's (America/Los_Angeles).
    let (_, users) = create(&zoom, &token, &json!({"start_time": "2026-07-01T10:00:00"})).await;
    assert_eq!(users["start_time"], "2026-07-01T17:00:00Z");
    assert_eq!(users["timezone"], "America/Los_Angeles");
    assert_eq!(users["type"], 2);
}

#[tokio::test]
async fn invalid_meetings_answer_code_300_naming_the_field_and_unknowns_404() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let cases = [
        (json!({"type": 3}), "type"),
        (json!({"type": 1}), "type"),
        (json!({"topic": "x".repeat(201)}), "topic"),
        (json!({"agenda": "x".repeat(2001)}), "agenda"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"start_time": "next tuesday"}), "start_time"),
        (
            json!({"type": 8, "start_time": "2026-10-20T10:00:00Z"}),
            "recurrence",
        ),
        (
            json!({"type": 8, "recurrence": {"type": 2, "repeat_interval": 13, "weekly_days": "2"}}),
            "repeat_interval",
        ),
        (
            json!({"type": 8, "recurrence": {"type": 1, "repeat_interval": 91}}),
            "repeat_interval",
        ),
        (
            json!({"type": 8, "recurrence": {"type": 3, "repeat_interval": 4, "monthly_day": 1}}),
            "repeat_interval",
        ),
        (
            json!({"type": 8, "recurrence": {"type": 1, "end_times": 51}}),
            "end_times",
        ),
        (
            json!({"type": 8, "recurrence": {"type": 1, "end_times": 3, "end_date_time": "2027-01-01T00:00:00Z"}}),
            "end_times",
        ),
        (json!({"settings": {"approval_type": 5}}), "approval_type"),
    ];
    for (body, field) in cases {
        let (status, answer) = create(&zoom, &token, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["code"], 300, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{body}: {answer}"
        );
    }
    let (status, answer, _) = call(
        &zoom,
        &token,
        reqwest::Method::POST,
        "/users/nobody@example.org/meetings",
        Some(&json!({"topic": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], 1001);
    assert_eq!(
        answer["message"],
        "User does not exist: nobody@example.org."
    );
    let (status, answer) = get(&zoom, &token, "/meetings/81234567890").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], 3001);
    assert!(zoom.meetings().is_empty());
}

#[tokio::test]
async fn the_upcoming_list_shows_the_agenda_and_leaves_out_past_meetings() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let soon = (Utc::now() + chrono::TimeDelta::days(3)).format("%Y-%m-%dT%H:%M:%SZ");
    let (_, future) = create(
        &zoom,
        &token,
        &json!({"topic": "Future", "start_time": soon.to_string(), "agenda": "Talk\n\ncophub:event:42"}),
    )
    .await;
    let (_, past) = create(
        &zoom,
        &token,
        &json!({"topic": "Past", "start_time": "2020-01-01T10:00:00Z"}),
    )
    .await;
    let (status, upcoming) = get(
        &zoom,
        &token,
        "/users/me/meetings?type=upcoming&page_size=300",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed = upcoming["meetings"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{upcoming}");
    assert_eq!(listed[0]["id"], future["id"]);
    assert_eq!(listed[0]["agenda"], "Talk\n\ncophub:event:42");
    assert_eq!(upcoming["next_page_token"], "");
    let (_, scheduled) = get(&zoom, &token, "/users/me/meetings?type=scheduled").await;
    let ids: Vec<&Value> = scheduled["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert!(ids.contains(&&past["id"]) && ids.contains(&&future["id"]));
}

#[tokio::test]
async fn registrants_page_by_next_page_token_and_status_updates_stop_at_30() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    zoom.set_rate_limits(false);
    let (_, meeting) = create(
        &zoom,
        &token,
        &json!({"topic": "Open call", "start_time": "2030-01-01T10:00:00Z",
                "settings": {"approval_type": 0}}),
    )
    .await;
    let id = meeting["id"].as_u64().unwrap();
    let http = client();
    let url = format!("{}/meetings/{id}/registrants", zoom.api_url());
    let mut join_urls = BTreeSet::new();
    let mut first_registrant = String::new();
    for i in 0..650 {
        let answer: Value = http
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"email": format!("p{i}@example.org"), "first_name": "P", "last_name": i.to_string()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["id"].as_u64(), Some(id), "{answer}");
        join_urls.insert(answer["join_url"].as_str().unwrap().to_owned());
        if i == 0 {
            first_registrant = answer["registrant_id"].as_str().unwrap().to_owned();
        }
    }
    assert_eq!(join_urls.len(), 650, "personal join links are unique");

    // The same email again answers the registrant already there.
    let again = http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"email": "P0@example.org", "first_name": "P"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["registrant_id"], first_registrant.as_str());
    assert_eq!(zoom.registrants(id).len(), 650);

    let mut seen = Vec::new();
    let mut next = String::new();
    let mut pages = Vec::new();
    loop {
        let (status, page) = get(
            &zoom,
            &token,
            &format!(
                "/meetings/{id}/registrants?status=approved&page_size=300&next_page_token={next}"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total_records"], 650);
        let registrants = page["registrants"].as_array().unwrap();
        pages.push(registrants.len());
        seen.extend(
            registrants
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        next = page["next_page_token"].as_str().unwrap().to_owned();
        if next.is_empty() {
            break;
        }
    }
    assert_eq!(pages, vec![300, 300, 50]);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 650);

    let status_body = |n: usize| {
        let registrants: Vec<Value> = seen.iter().take(n).map(|id| json!({"id": id})).collect();
        json!({"action": "deny", "registrants": registrants})
    };
    let path = format!("/meetings/{id}/registrants/status");
    let (status, refused, _) = call(
        &zoom,
        &token,
        reqwest::Method::PUT,
        &path,
        Some(&status_body(31)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["code"], 300);
    assert!(refused["message"].as_str().unwrap().contains("registrants"));
    let (status, _, _) = call(
        &zoom,
        &token,
        reqwest::Method::PUT,
        &path,
        Some(&status_body(30)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, denied) = get(
        &zoom,
        &token,
        &format!("/meetings/{id}/registrants?status=denied"),
    )
    .await;
    assert_eq!(denied["total_records"], 30);
    assert_eq!(
        denied["registrants"].as_array().unwrap().len(),
        30,
        "default page of 30"
    );
    assert_eq!(
        zoom.registrants(id)
            .iter()
            .filter(|r| r.status == "approved")
            .count(),
        620
    );
}

#[tokio::test]
async fn a_meeting_without_registration_refuses_registrants_with_3000() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let (_, meeting) = create(&zoom, &token, &json!({"topic": "No registration"})).await;
    let id = meeting["id"].as_u64().unwrap();
    let (status, answer, _) = call(
        &zoom,
        &token,
        reqwest::Method::POST,
        &format!("/meetings/{id}/registrants"),
        Some(&json!({"email": "a@example.org", "first_name": "A"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["code"], 3000);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("Registration has not been enabled for this meeting")
    );
}

#[tokio::test]
async fn registrants_of_a_recurring_meeting_can_pick_occurrences() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let (_, meeting) = create(
        &zoom,
        &token,
        &json!({"type": 8, "start_time": "2030-03-04T09:00:00", "timezone": "Europe/Berlin",
                "recurrence": {"type": 1, "repeat_interval": 7, "end_times": 3},
                "settings": {"approval_type": 1, "registration_type": 3}}),
    )
    .await;
    let id = meeting["id"].as_u64().unwrap();
    let second = meeting["occurrences"][1]["occurrence_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer, _) = call(
        &zoom,
        &token,
        reqwest::Method::POST,
        &format!("/meetings/{id}/registrants?occurrence_ids={second}"),
        Some(&json!({"email": "b@example.org", "first_name": "B"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["occurrences"].as_array().unwrap().len(), 1);
    let registrant = &zoom.registrants(id)[0];
    assert_eq!(registrant.status, "pending", "approval_type 1 is manual");
    assert_eq!(registrant.occurrence_ids, vec![second.clone()]);
    let (_, pending) = get(
        &zoom,
        &token,
        &format!("/meetings/{id}/registrants?status=pending&occurrence_id={second}"),
    )
    .await;
    assert_eq!(pending["total_records"], 1);
}

#[tokio::test]
async fn over_the_per_second_limit_429s_alternate_with_and_without_retry_after() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let http = client();
    let url = format!("{}/users", zoom.api_url());
    // All at once, so the 62 land well inside one second even on a busy machine.
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..62 {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        requests.spawn(async move {
            let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
            let retry = response.headers().get("retry-after").cloned();
            (
                response.status(),
                retry,
                response.json::<Value>().await.unwrap(),
            )
        });
    }
    let answers = requests.join_all().await;
    let ok = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::OK)
        .count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        (ok, limited.len()),
        (60, 2),
        "60 a second on a Medium route"
    );
    assert!(limited.iter().all(|(_, _, body)| body["code"] == 429
        && body["message"].as_str().unwrap().contains("per-second")));
    let with_header: Vec<_> = limited
        .iter()
        .filter(|(_, retry, _)| retry.is_some())
        .collect();
    assert_eq!(
        with_header.len(),
        1,
        "Zoom does not always send Retry-After"
    );
    assert_eq!(with_header[0].1.as_ref().unwrap(), "1");

    // A scripted 429 says whether it carries the header.
    zoom.fail_next("GET /meetings/{meetingId}", Fault::RateLimited(Some(7)));
    zoom.fail_next("GET /meetings/{meetingId}", Fault::RateLimited(None));
    let (status, _, headers) = call(&zoom, &token, reqwest::Method::GET, "/meetings/1", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers.get("retry-after").unwrap(), "7");
    let (status, _, headers) = call(&zoom, &token, reqwest::Method::GET, "/meetings/1", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_none());
}

#[tokio::test]
async fn the_101st_meeting_of_a_user_in_a_day_is_refused_until_midnight() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let http = client();
    let url = format!("{}/users/me/meetings", zoom.api_url());
    for burst in 0..2 {
        if burst > 0 {
            // Stay under the 60 a second of a Medium route.
            tokio::time::sleep(Duration::from_millis(1050)).await;
        }
        for _ in 0..50 {
            let response = http
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"topic": "t"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
        }
    }
    let refused = http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"topic": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 429);
    assert_eq!(zoom.meetings().len(), 100);
}

#[tokio::test]
async fn faults_answer_instead_or_after_the_meeting_was_created() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let label = "POST /users/{userId}/meetings";

    zoom.fail_next(label, Fault::Status(503));
    let response = client()
        .post(format!("{}/users/me/meetings", zoom.api_url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(zoom.meetings().is_empty(), "a 503 is not carried out");

    zoom.fail_next(
        label,
        Fault::ZoomError(400, 3000, "Cannot create".to_owned()),
    );
    let (status, answer) = create(&zoom, &token, &json!({"topic": "t"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["code"], 3000);

    zoom.fail_next(label, Fault::AfterEffect(Duration::from_millis(600)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let error = impatient
        .post(format!("{}/users/me/meetings", zoom.api_url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "Created anyway"}))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    let meetings = zoom.meetings();
    assert_eq!(
        meetings.len(),
        1,
        "the meeting exists although the client timed out"
    );
    assert_eq!(meetings[0].topic, "Created anyway");

    zoom.fail_next(label, Fault::Malformed);
    let response = client()
        .post(format!("{}/users/me/meetings", zoom.api_url()))
        .bearer_auth(&token)
        .json(&json!({"topic": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err());
    assert_eq!(zoom.meetings().len(), 1);
    assert_eq!(zoom.calls(label), 4);
}

#[tokio::test]
async fn team_chat_messages_reach_known_channels_only() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let channel = zoom.create_chat_channel("community");
    let (status, sent, _) = call(
        &zoom,
        &token,
        reqwest::Method::POST,
        "/chat/users/me/messages",
        Some(&json!({"message": "Call at 10", "to_channel": channel})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let messages = zoom.chat_messages(&channel);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].id, sent["id"].as_str().unwrap());
    assert_eq!(messages[0].message, "Call at 10");
    let (status, unknown, _) = call(
        &zoom,
        &token,
        reqwest::Method::POST,
        "/chat/users/me/messages",
        Some(&json!({"message": "x", "to_channel": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["code"], 5301);
    let (_, channels) = get(&zoom, &token, "/chat/users/me/channels").await;
    assert_eq!(channels["channels"][0]["id"], channel.as_str());
    assert_eq!(channels["channels"][0]["name"], "community");
    assert_eq!(channels["next_page_token"], "");
}

/// What a webhook endpoint under test received.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A webhook endpoint that records requests and answers the URL validation
/// challenge as Zoom's guide says.
async fn endpoint(secret: &str) -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let state = (secret.to_owned(), Arc::clone(&seen));
    let router = Router::new()
        .route(
            "/zoom",
            post(
                |State((secret, seen)): State<(String, Arc<Mutex<Vec<Received>>>)>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let body = String::from_utf8(body.to_vec()).unwrap();
                    seen.lock().unwrap().push(Received {
                        headers,
                        body: body.clone(),
                    });
                    let event: Value = serde_json::from_str(&body).unwrap();
                    if event["event"] == "endpoint.url_validation" {
                        let plain = event["payload"]["plainToken"].as_str().unwrap().to_owned();
                        let encrypted = hmac_hex(&secret, &plain);
                        return Json(json!({"plainToken": plain, "encryptedToken": encrypted}));
                    }
                    Json(json!({}))
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{address}/zoom"), seen)
}

#[tokio::test]
async fn webhooks_are_signed_with_the_secret_over_timestamp_and_body() {
    let app = ZoomApp {
        webhook_secret: "s3cret".to_owned(),
        ..ZoomApp::default()
    };
    let zoom = FakeZoom::start_with(app).await;
    let (url, seen) = endpoint("s3cret").await;
    let response = zoom
        .deliver_webhook(
            &url,
            "meeting.started",
            json!({"account_id": "fake-account", "object": {"id": "81234567890"}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let received = seen.lock().unwrap()[0].clone();
    let timestamp = received.headers["x-zm-request-timestamp"]
        .to_str()
        .unwrap()
        .to_owned();
    let seconds: i64 = timestamp.parse().unwrap();
    assert!((Utc::now().timestamp() - seconds).abs() < 5);
    let expected = format!(
        "v0={}",
        hmac_hex("s3cret", &format!("v0:{timestamp}:{}", received.body))
    );
    assert_eq!(
        received.headers["x-zm-signature"].to_str().unwrap(),
        expected
    );
    assert_eq!(zoom.sign(seconds, &received.body), expected);
    let body: Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(body["event"], "meeting.started");
    assert_eq!(body["payload"]["object"]["id"], "81234567890");
    let event_ts = body["event_ts"].as_i64().unwrap();
    assert!(
        (event_ts / 1000 - seconds).abs() <= 1,
        "event_ts is in milliseconds"
    );
}

#[tokio::test]
async fn the_url_validation_challenge_carries_a_plain_token_to_hash() {
    let zoom = FakeZoom::start().await;
    let secret = zoom.app().webhook_secret;
    let (url, seen) = endpoint(&secret).await;
    let response = zoom.validate_endpoint(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let received = seen.lock().unwrap()[0].clone();
    let sent: Value = serde_json::from_str(&received.body).unwrap();
    assert_eq!(sent["event"], "endpoint.url_validation");
    assert!(sent["event_ts"].is_i64());
    let plain = sent["payload"]["plainToken"].as_str().unwrap();
    assert!(!plain.is_empty());
    assert_eq!(answer["plainToken"], plain);
    assert_eq!(answer["encryptedToken"], hmac_hex(&secret, plain));
    assert!(received.headers.contains_key("x-zm-signature"));
    // Two challenges carry different tokens.
    zoom.validate_endpoint(&url).await;
    let second: Value = serde_json::from_str(&seen.lock().unwrap()[1].body).unwrap();
    assert_ne!(second["payload"]["plainToken"], plain);
}

#[tokio::test]
async fn monthly_recurrences_take_the_last_weekday_and_skip_short_months() {
    let zoom = FakeZoom::start().await;
    let token = token(&zoom).await;
    let starts = |meeting: &Value| -> Vec<String> {
        meeting["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["start_time"].as_str().unwrap().to_owned())
            .collect()
    };
    // The last Friday of each month, 18:00 in Berlin (CEST from 29 March).
    let (status, last_friday) = create(
        &zoom,
        &token,
        &json!({"type": 8, "start_time": "2026-01-30T18:00:00", "timezone": "Europe/Berlin",
                "recurrence": {"type": 3, "monthly_week": -1, "monthly_week_day": 6, "end_times": 4}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{last_friday}");
    assert_eq!(
        starts(&last_friday),
        [
            "2026-01-30T17:00:00Z",
            "2026-02-27T17:00:00Z",
            "2026-03-27T17:00:00Z",
            "2026-04-24T16:00:00Z"
        ]
    );
    // The 31st: months without one are skipped.
    let (_, thirty_first) = create(
        &zoom,
        &token,
        &json!({"type": 8, "start_time": "2026-01-31T09:00:00Z", "timezone": "UTC",
                "recurrence": {"type": 3, "monthly_day": 31, "end_times": 3}}),
    )
    .await;
    assert_eq!(
        starts(&thirty_first),
        [
            "2026-01-31T09:00:00Z",
            "2026-03-31T09:00:00Z",
            "2026-05-31T09:00:00Z"
        ]
    );
    // Every second day until an end date.
    let (_, daily) = create(
        &zoom,
        &token,
        &json!({"type": 8, "start_time": "2026-06-01T09:00:00Z", "timezone": "UTC",
                "recurrence": {"type": 1, "repeat_interval": 2, "end_date_time": "2026-06-06T00:00:00Z"}}),
    )
    .await;
    assert_eq!(
        starts(&daily),
        [
            "2026-06-01T09:00:00Z",
            "2026-06-03T09:00:00Z",
            "2026-06-05T09:00:00Z"
        ]
    );
}
