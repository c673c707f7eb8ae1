//! The Zoom channel against hub-testkit's fake Zoom, which follows Zoom's
//! docs and shares nothing with the adapter: calls as meetings, registrants
//! as members, Team Chat posts, and every failure class.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashSet, time::Duration};

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;
use hub_adapter_zoom::{
    ZoomAdapter,
    client::{Credentials, ZoomApi, ZoomClient},
};
use hub_core::{
    Email,
    calls::recurrence::{End, Frequency, Recurrence},
    ids::{AnnouncementId, CallId, CommunityId},
    model::{
        announcement::Announcement,
        call::{Call, CallStatus, OccurrenceOverride},
    },
    ports::adapter::{AdapterError, CallScope, ChannelAdapter},
};
use hub_testkit::zoom::{FakeZoom, Fault, Meeting};
use reqwest::Method;
use serde_json::{Value, json};

const CREATE: &str = "POST /users/{userId}/meetings";
const REGISTRANTS: &str = "GET /meetings/{meetingId}/registrants";
const STATUS: &str = "PUT /meetings/{meetingId}/registrants/status";

fn api(zoom: &FakeZoom) -> ZoomApi {
    ZoomApi {
        api_url: zoom.api_url(),
        oauth_url: zoom.oauth_url(),
        timeout: Duration::from_secs(1),
        default_retry_after: Duration::from_secs(2),
    }
}

fn secret(zoom: &FakeZoom) -> String {
    let app = zoom.app();
    json!({
        "account_id": app.account_id,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "webhook_secret": app.webhook_secret,
    })
    .to_string()
}

fn adapter(zoom: &FakeZoom, settings: Value) -> ZoomAdapter {
    ZoomAdapter::new(api(zoom), &settings, &secret(zoom)).unwrap()
}

/// A client of its own, to set the fake up as another Zoom user would.
fn raw_client(zoom: &FakeZoom) -> ZoomClient {
    let app = zoom.app();
    ZoomClient::new(
        api(zoom),
        Credentials {
            account_id: app.account_id,
            client_id: app.client_id,
            client_secret: app.client_secret,
        },
    )
    .unwrap()
}

fn at(date: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    date.and_hms_opt(hour, minute, 0).unwrap()
}

/// `days` from today, at 15:00.
fn days_ahead(days: u64) -> NaiveDateTime {
    at(Utc::now().date_naive() + Days::new(days), 15, 0)
}

fn call(title: &str, start: NaiveDateTime, zone: Tz, rule: Option<&str>) -> Call {
    Call {
        id: CallId::new(),
        community_id: CommunityId::new(),
        title: title.into(),
        agenda: "1. News\n2. **Open** floor".into(),
        starts_at_local: start,
        timezone: zone,
        duration_minutes: 60,
        recurrence: rule.map(|r| Recurrence::parse(r, start, zone).unwrap()),
        overrides: vec![],
        cancelled_occurrences: vec![],
        registration: false,
        status: CallStatus::Scheduled,
        zoom_meeting_id: None,
        join_url: None,
        recording_url: None,
        sequence: 0,
        created_at: Utc::now(),
    }
}

/// Next year's end of daylight time in New York: the first Sunday of November.
fn new_york_fall_back() -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(Utc::now().year() + 1, 11, Weekday::Sun, 1).unwrap()
}

/// A weekly Tuesday 10:00 call in New York, four times, across the change.
fn weekly_new_york_call() -> Call {
    let first_tuesday = new_york_fall_back() - Days::new(12);
    assert_eq!(first_tuesday.weekday(), Weekday::Tue);
    call(
        "Weekly stewards' call",
        at(first_tuesday, 10, 0),
        chrono_tz::America::New_York,
        Some("FREQ=WEEKLY;BYDAY=TU;COUNT=4"),
    )
}

fn the_meeting(zoom: &FakeZoom, remote_ref: &str) -> Meeting {
    zoom.meeting(remote_ref.parse().unwrap())
        .expect("the meeting exists")
}

/// Local wall-clock starts of a meeting's occurrences in `zone`.
fn local_starts(meeting: &Meeting, zone: Tz) -> Vec<(NaiveDateTime, String)> {
    meeting
        .occurrences
        .iter()
        .map(|o| {
            let utc = chrono::DateTime::parse_from_rfc3339(&o.start_time).unwrap();
            (utc.with_timezone(&zone).naive_local(), o.status.clone())
        })
        .collect()
}

#[tokio::test]
async fn a_weekly_call_across_the_change_to_winter_time_keeps_its_local_time_in_zoom() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let call = weekly_new_york_call();
    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();

    let meeting = the_meeting(&zoom, &receipt.remote_ref);
    assert_eq!(receipt.join_url.as_deref(), Some(meeting.join_url.as_str()));
    assert_eq!(meeting.kind, 8, "recurring with a fixed time");
    assert_eq!(meeting.timezone, "America/New_York");
    assert_eq!(meeting.topic, "Weekly stewards' call");
    assert!(
        meeting
            .agenda
            .ends_with(&format!("\n\ncophub-call:{}", call.id))
    );
    let recurrence = meeting.recurrence.clone().unwrap();
    assert_eq!(recurrence["type"], 2);
    assert_eq!(recurrence["weekly_days"], "3", "Tuesday is Zoom's 3");
    assert_eq!(recurrence["end_times"], 4);
    assert_eq!(meeting.settings["approval_type"], 2, "no registration");

    let zone = chrono_tz::America::New_York;
    let starts = local_starts(&meeting, zone);
    assert_eq!(starts.len(), 4);
    assert!(
        starts
            .iter()
            .all(|(s, _)| s.time() == at(s.date(), 10, 0).time())
    );
    let utc_hours: Vec<String> = meeting
        .occurrences
        .iter()
        .map(|o| o.start_time[11..13].to_owned())
        .collect();
    assert_eq!(
        utc_hours,
        ["14", "14", "15", "15"],
        "the offset changes, not the wall clock"
    );
    // Zoom's occurrence ids are the original starts in Unix milliseconds.
    for (occurrence, ours) in meeting.occurrences.iter().zip(call.occurrences()) {
        assert_eq!(
            occurrence.occurrence_id,
            ours.starts_at.timestamp_millis().to_string()
        );
    }
}

#[tokio::test]
async fn moving_one_occurrence_changes_that_occurrence_alone() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let mut call = weekly_new_york_call();
    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    let second = call.occurrences()[1].original;
    call.overrides.push(OccurrenceOverride {
        original: second,
        starts_at_local: second + chrono::Duration::hours(2),
        duration_minutes: 90,
    });

    let changed = adapter
        .update_call(&receipt.remote_ref, &call, CallScope::Occurrence(second))
        .await
        .unwrap();
    assert_eq!(changed.remote_ref, receipt.remote_ref);
    assert_eq!(changed.join_url, receipt.join_url);

    let meeting = the_meeting(&zoom, &receipt.remote_ref);
    let starts = local_starts(&meeting, call.timezone);
    assert_eq!(starts[1].0, second + chrono::Duration::hours(2));
    assert_eq!(meeting.occurrences[1].duration, 90);
    for i in [0, 2, 3] {
        assert_eq!(
            starts[i].0.time(),
            second.time(),
            "occurrence {i} untouched"
        );
        assert_eq!(meeting.occurrences[i].duration, 60);
    }

    // The series changed later keeps the move.
    call.title = "Weekly stewards' call (new name)".into();
    adapter
        .update_call(&receipt.remote_ref, &call, CallScope::Series)
        .await
        .unwrap();
    let meeting = the_meeting(&zoom, &receipt.remote_ref);
    assert_eq!(meeting.topic, "Weekly stewards' call (new name)");
    assert_eq!(
        local_starts(&meeting, call.timezone)[1].0,
        second + chrono::Duration::hours(2)
    );
    assert_eq!(zoom.meetings().len(), 1);
}

#[tokio::test]
async fn a_cancelled_occurrence_is_deleted_and_stays_so_when_the_series_changes() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let mut call = weekly_new_york_call();
    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    let third = call.occurrences()[2].original;
    call.cancelled_occurrences.push(third);

    adapter
        .cancel_call(&receipt.remote_ref, &call, CallScope::Occurrence(third))
        .await
        .unwrap();
    let statuses: Vec<String> =
        local_starts(&the_meeting(&zoom, &receipt.remote_ref), call.timezone)
            .into_iter()
            .map(|(_, status)| status)
            .collect();
    assert_eq!(statuses, ["available", "available", "deleted", "available"]);

    // Cancelling it again, and changing the series, are both fine.
    adapter
        .cancel_call(&receipt.remote_ref, &call, CallScope::Occurrence(third))
        .await
        .unwrap();
    call.duration_minutes = 45;
    adapter
        .update_call(&receipt.remote_ref, &call, CallScope::Series)
        .await
        .unwrap();
    let meeting = the_meeting(&zoom, &receipt.remote_ref);
    assert_eq!(meeting.duration, 45);
    assert_eq!(meeting.occurrences[2].status, "deleted");
    assert_eq!(
        meeting
            .occurrences
            .iter()
            .filter(|o| o.status == "available")
            .count(),
        3
    );
}

#[tokio::test]
async fn a_call_scheduled_with_cancellations_and_moves_has_them_in_zoom_at_once() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let mut call = weekly_new_york_call();
    let originals: Vec<NaiveDateTime> = call.occurrences().iter().map(|o| o.original).collect();
    call.cancelled_occurrences.push(originals[0]);
    call.overrides.push(OccurrenceOverride {
        original: originals[3],
        starts_at_local: originals[3] - chrono::Duration::minutes(30),
        duration_minutes: 60,
    });
    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    let meeting = the_meeting(&zoom, &receipt.remote_ref);
    let starts = local_starts(&meeting, call.timezone);
    assert_eq!(starts[0].1, "deleted");
    assert_eq!(starts[3].0, originals[3] - chrono::Duration::minutes(30));
}

#[tokio::test]
async fn cancelling_the_series_deletes_the_meeting_and_cancelling_again_is_done() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let call = weekly_new_york_call();
    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();

    adapter
        .cancel_call(&receipt.remote_ref, &call, CallScope::Series)
        .await
        .unwrap();
    assert!(zoom.meetings().is_empty());
    adapter
        .cancel_call(&receipt.remote_ref, &call, CallScope::Series)
        .await
        .expect("a meeting already gone counts as cancelled");

    let error = adapter
        .cancel_call("not-a-number", &call, CallScope::Series)
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Permanent(_)), "{error}");
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_again_not_made_twice() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let call = call(
        "Monthly call",
        days_ahead(10),
        chrono_tz::Europe::Berlin,
        None,
    );
    zoom.fail_next(CREATE, Fault::AfterEffect(Duration::from_secs(3)));
    let error = adapter.schedule_call(&call, "call-1").await.unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");
    assert_eq!(zoom.meetings().len(), 1, "Zoom made it");

    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    let meetings = zoom.meetings();
    assert_eq!(meetings.len(), 1, "never two meetings for one call");
    assert_eq!(receipt.remote_ref, meetings[0].id.to_string());
    assert_eq!(
        receipt.join_url.as_deref(),
        Some(meetings[0].join_url.as_str())
    );
    assert_eq!(zoom.calls(CREATE), 1, "the retry created nothing");
}

#[tokio::test]
async fn a_lost_create_with_a_long_agenda_is_found_though_the_list_cuts_the_marker_off() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let mut call = call(
        "Monthly call",
        days_ahead(10),
        chrono_tz::Europe::Berlin,
        None,
    );
    call.agenda = "A long agenda. ".repeat(40);
    zoom.fail_next(CREATE, Fault::AfterEffect(Duration::from_secs(3)));
    let error = adapter.schedule_call(&call, "call-1").await.unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");

    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    let meetings = zoom.meetings();
    assert_eq!(meetings.len(), 1, "never two meetings for one call");
    assert_eq!(receipt.remote_ref, meetings[0].id.to_string());
    assert_eq!(zoom.calls(CREATE), 1, "the retry created nothing");
}

#[tokio::test]
async fn a_call_overlapping_the_first_hosts_meetings_goes_to_the_next_host() {
    let zoom = FakeZoom::start().await;
    let second = zoom.add_user("second@example.org");
    let adapter = adapter(
        &zoom,
        json!({"hosts": ["host@example.org", "second@example.org"]}),
    );
    let berlin = chrono_tz::Europe::Berlin;
    let first = adapter
        .schedule_call(&call("First", days_ahead(5), berlin, None), "a")
        .await
        .unwrap();
    let overlapping = adapter
        .schedule_call(
            &call(
                "Second",
                days_ahead(5) + chrono::Duration::minutes(30),
                berlin,
                None,
            ),
            "b",
        )
        .await
        .unwrap();
    let later = adapter
        .schedule_call(&call("Third", days_ahead(6), berlin, None), "c")
        .await
        .unwrap();
    let host = |receipt: &hub_core::ports::adapter::CallReceipt| {
        the_meeting(&zoom, &receipt.remote_ref).host_id
    };
    assert_eq!(host(&overlapping), second);
    assert_ne!(host(&first), second);
    assert_eq!(host(&later), host(&first), "the first host is free then");

    // A weekly meeting is busy on every occurrence, not only its next one.
    let start = days_ahead(20);
    let weekly = call(
        "Weekly",
        start,
        berlin,
        Some(&format!(
            "FREQ=WEEKLY;BYDAY={};COUNT=5",
            ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
                [start.weekday().num_days_from_monday() as usize]
        )),
    );
    let weekly = adapter.schedule_call(&weekly, "d").await.unwrap();
    let clash = adapter
        .schedule_call(
            &call("Clash", start + chrono::Duration::days(14), berlin, None),
            "e",
        )
        .await
        .unwrap();
    assert_ne!(host(&weekly), second);
    assert_eq!(host(&clash), second);
}

/// Registers `emails` for a meeting as people registering themselves would.
async fn register(zoom: &FakeZoom, meeting: &str, emails: impl IntoIterator<Item = String>) {
    let client = raw_client(zoom);
    zoom.set_rate_limits(false);
    for email in emails {
        client
            .call(
                Method::POST,
                &format!("/meetings/{meeting}/registrants"),
                Some(&json!({"email": email, "first_name": "Reg", "last_name": "Istrant"})),
            )
            .await
            .unwrap();
    }
    zoom.set_rate_limits(true);
}

/// A one-off call with registration on, scheduled `days` ahead.
async fn registration_meeting(adapter: &ZoomAdapter, days: u64) -> String {
    let mut call = call(
        "Registered call",
        days_ahead(days),
        chrono_tz::Europe::Berlin,
        None,
    );
    call.registration = true;
    adapter.schedule_call(&call, "r").await.unwrap().remote_ref
}

#[tokio::test]
async fn members_are_every_registrant_past_300_once_across_two_meetings() {
    let zoom = FakeZoom::start().await;
    let setup = adapter(&zoom, json!({}));
    let a = registration_meeting(&setup, 3).await;
    let b = registration_meeting(&setup, 4).await;
    register(
        &zoom,
        &a,
        (0..650).map(|i| format!("person{i:03}@example.org")),
    )
    .await;
    register(
        &zoom,
        &b,
        (0..20)
            .map(|i| format!("Person{i:03}@Example.org"))
            .chain((0..10).map(|i| format!("other{i}@example.org"))),
    )
    .await;

    let adapter = adapter(&zoom, json!({"registration_meetings": [a, b]}));
    let page = adapter.list_members(None).await.unwrap();
    assert!(page.next_cursor.is_none(), "one page");
    assert_eq!(page.members.len(), 660);
    let ids: HashSet<&str> = page
        .members
        .iter()
        .map(|m| m.external_id.as_str())
        .collect();
    assert_eq!(ids.len(), 660, "deduplicated by email");
    assert!(ids.contains("person019@example.org"));
    assert!(ids.iter().all(|id| *id == id.to_lowercase()));
    let ada = &page.members[0];
    assert_eq!(ada.name, "Reg Istrant");
    assert_eq!(
        ada.email.as_ref().map(Email::normalized),
        Some(ada.external_id.as_str())
    );
    assert_eq!(zoom.calls(REGISTRANTS), 4, "three pages of 300, then one");
    assert!(
        adapter
            .list_members(Some("next"))
            .await
            .unwrap()
            .members
            .is_empty()
    );

    // A failed page fails the whole read.
    zoom.fail_next(REGISTRANTS, Fault::Pass);
    zoom.fail_next(REGISTRANTS, Fault::Status(503));
    let error = adapter.list_members(None).await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
}

#[tokio::test]
async fn cancelling_45_registrants_takes_two_status_calls_of_at_most_30() {
    let zoom = FakeZoom::start().await;
    let setup = adapter(&zoom, json!({}));
    let meeting = registration_meeting(&setup, 3).await;
    let emails: Vec<String> = (0..45).map(|i| format!("p{i}@example.org")).collect();
    register(&zoom, &meeting, emails.clone()).await;
    register(&zoom, &meeting, ["stays@example.org".to_owned()]).await;

    let adapter = adapter(&zoom, json!({"registration_meetings": [meeting]}));
    let mut asked: Vec<String> = emails.iter().map(|e| e.to_uppercase()).collect();
    asked.push("never-registered@example.org".into());
    let cancelled = adapter.cancel_registrants(&meeting, &asked).await.unwrap();
    assert_eq!(cancelled, 45);
    // The fake refuses a status call naming more than 30, so two that
    // succeeded were at most 30 each.
    assert_eq!(zoom.calls(STATUS), 2);
    let registrants = zoom.registrants(meeting.parse().unwrap());
    assert_eq!(
        registrants.iter().filter(|r| r.status == "denied").count(),
        45
    );
    let left = adapter.list_members(None).await.unwrap().members;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].external_id, "stays@example.org");
}

#[tokio::test]
async fn a_member_added_removed_and_added_again_is_registered_for_every_occurrence() {
    let zoom = FakeZoom::start().await;
    let setup = adapter(&zoom, json!({}));
    let mut weekly = weekly_new_york_call();
    weekly.registration = true;
    let recurring = setup.schedule_call(&weekly, "w").await.unwrap().remote_ref;
    let once = registration_meeting(&setup, 3).await;
    let settings = json!({"registration_meetings": [recurring, once]});
    let adapter = adapter(&zoom, settings.clone());
    let ada = Email::parse("Ada@Example.org").unwrap();

    let id = adapter.add_member(&ada, "Ada King Lovelace").await.unwrap();
    assert_eq!(id, "ada@example.org");
    adapter
        .add_member(&ada, "Ada King Lovelace")
        .await
        .expect("already registered is fine");
    for meeting in [&recurring, &once] {
        let registrants = zoom.registrants(meeting.parse().unwrap());
        assert_eq!(registrants.len(), 1);
        assert_eq!(registrants[0].first_name, "Ada");
        assert_eq!(registrants[0].last_name, "King Lovelace");
        assert_eq!(registrants[0].status, "approved");
    }
    assert_eq!(
        zoom.registrants(recurring.parse().unwrap())[0]
            .occurrence_ids
            .len(),
        4,
        "every occurrence"
    );

    adapter.remove_member(&id).await.unwrap();
    assert!(adapter.list_members(None).await.unwrap().members.is_empty());

    // A later run (a fresh adapter) adds her back: approved again.
    let later = self::adapter(&zoom, settings);
    later.add_member(&ada, "Ada King Lovelace").await.unwrap();
    let members = later.list_members(None).await.unwrap().members;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "Ada King Lovelace");
    for meeting in [&recurring, &once] {
        assert_eq!(zoom.registrants(meeting.parse().unwrap()).len(), 1);
    }
}

#[tokio::test]
async fn registering_for_a_call_answers_the_persons_own_link_and_the_same_one_again() {
    const ADD: &str = "POST /meetings/{meetingId}/registrants";
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let mut weekly = weekly_new_york_call();
    weekly.registration = true;
    let meeting = adapter.schedule_call(&weekly, "w").await.unwrap();
    let ada = Email::parse("Ada@Example.org").unwrap();

    let link = adapter
        .register_for_call(&meeting.remote_ref, &ada, "Ada Lovelace")
        .await
        .unwrap();
    let registrants = zoom.registrants(meeting.remote_ref.parse().unwrap());
    assert_eq!(registrants.len(), 1);
    assert_eq!(link, registrants[0].join_url);
    assert_ne!(
        Some(&link),
        meeting.join_url.as_ref(),
        "her own, not the meeting's"
    );
    assert_eq!(registrants[0].occurrence_ids.len(), 4, "every occurrence");
    let again = adapter
        .register_for_call(&meeting.remote_ref, &ada, "Ada Lovelace")
        .await
        .unwrap();
    assert_eq!(again, link, "registered before: the same link");

    // Cancelled, then registered again by a fresh adapter: approved again,
    // with the link Zoom kept for her.
    adapter
        .cancel_registrants(&meeting.remote_ref, &["ada@example.org".into()])
        .await
        .unwrap();
    let later = self::adapter(&zoom, json!({}));
    let back = later
        .register_for_call(&meeting.remote_ref, &ada, "Ada Lovelace")
        .await
        .unwrap();
    assert_eq!(back, link);
    assert_eq!(
        zoom.registrants(meeting.remote_ref.parse().unwrap())[0].status,
        "approved"
    );

    // A malformed answer may hide a registration: asked again, it is found.
    let bob = Email::parse("bob@example.org").unwrap();
    zoom.fail_next(ADD, Fault::Malformed);
    let error = later
        .register_for_call(&meeting.remote_ref, &bob, "Bob")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Ambiguous(_)), "{error}");
    zoom.fail_next(ADD, Fault::RateLimited(None));
    let error = later
        .register_for_call(&meeting.remote_ref, &bob, "Bob")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::RateLimited { .. }), "{error}");
    // A meeting that is not Zoom's number is refused for good.
    let error = later
        .register_for_call("not-a-meeting", &bob, "Bob")
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Permanent(_)), "{error}");
}

#[tokio::test]
async fn a_429_waits_as_zoom_says_or_the_configured_default() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    adapter.health().await.unwrap();

    zoom.fail_next("GET /users", Fault::RateLimited(Some(7)));
    let error = adapter.health().await.unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(7)),
        "{error}"
    );
    zoom.fail_next(CREATE, Fault::RateLimited(None));
    let error = adapter
        .schedule_call(
            &call("Call", days_ahead(3), chrono_tz::Europe::Berlin, None),
            "k",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::RateLimited { retry_after } if retry_after == Duration::from_secs(2)),
        "{error}"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_run_goes_on() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let mut call = weekly_new_york_call();
    let receipt = adapter.schedule_call(&call, "call-1").await.unwrap();
    zoom.expire_tokens();
    call.title = "Renamed".into();
    adapter
        .update_call(&receipt.remote_ref, &call, CallScope::Series)
        .await
        .unwrap();
    assert_eq!(the_meeting(&zoom, &receipt.remote_ref).topic, "Renamed");
    assert_eq!(zoom.calls("POST /oauth/token"), 2);
}

#[tokio::test]
async fn zoom_failures_are_transient_and_a_malformed_read_too() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let call = call("Call", days_ahead(3), chrono_tz::Europe::Berlin, None);

    zoom.fail_next(CREATE, Fault::Status(502));
    let error = adapter.schedule_call(&call, "k").await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
    assert!(zoom.meetings().is_empty());

    zoom.fail_next("GET /users/{userId}/meetings", Fault::Malformed);
    let error = adapter.schedule_call(&call, "k").await.unwrap_err();
    assert!(matches!(error, AdapterError::Transient(_)), "{error}");
    assert!(
        zoom.meetings().is_empty(),
        "nothing made from a read that failed"
    );

    adapter.schedule_call(&call, "k").await.unwrap();
    assert_eq!(zoom.meetings().len(), 1);
}

#[tokio::test]
async fn a_rule_zoom_refuses_stays_permanent_with_zooms_message() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let start = days_ahead(3);
    let mut call = call("Too sparse", start, chrono_tz::Europe::Berlin, None);
    // Past Recurrence::parse's checks, as if the rule came from elsewhere.
    call.recurrence = Some(Recurrence {
        frequency: Frequency::Weekly,
        interval: 13,
        weekdays: vec![start.weekday()],
        monthly: None,
        end: End::Count(2),
    });
    let error = adapter.schedule_call(&call, "k").await.unwrap_err();
    let AdapterError::Permanent(message) = &error else {
        panic!("{error}")
    };
    assert!(message.contains("Too sparse"), "{message}");
    assert!(message.contains("repeat_interval"), "{message}");
    assert!(message.contains("code 300"), "{message}");
}

#[tokio::test]
async fn a_monthly_last_friday_rule_is_zooms_last_week() {
    let zoom = FakeZoom::start().await;
    let adapter = adapter(&zoom, json!({}));
    let year = Utc::now().year() + 1;
    let march_end = NaiveDate::from_ymd_opt(year, 3, 31).unwrap();
    let last_friday = march_end
        - Days::new(u64::from(
            (7 + march_end.weekday().num_days_from_monday() - Weekday::Fri.num_days_from_monday())
                % 7,
        ));
    let call = call(
        "Last Friday",
        at(last_friday, 16, 0),
        chrono_tz::Europe::Berlin,
        Some("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3"),
    );
    let receipt = adapter.schedule_call(&call, "k").await.unwrap();
    let meeting = the_meeting(&zoom, &receipt.remote_ref);
    let recurrence = meeting.recurrence.clone().unwrap();
    assert_eq!(recurrence["type"], 3);
    assert_eq!(recurrence["monthly_week"], -1);
    assert_eq!(recurrence["monthly_week_day"], 6, "Friday is Zoom's 6");
    for (start, _) in local_starts(&meeting, call.timezone) {
        assert_eq!(start.weekday(), Weekday::Fri);
        assert!(
            (start.date() + Days::new(7)).month() != start.month(),
            "the last one"
        );
        assert_eq!(start.time(), at(start.date(), 16, 0).time());
    }
}

fn announcement(title: &str, body: &str) -> Announcement {
    Announcement {
        id: AnnouncementId::new(),
        community_id: CommunityId::new(),
        title: title.into(),
        body_markdown: body.into(),
        author: "cli".into(),
        send_at: None,
        created_at: Utc::now(),
        revision: 1,
        retracted_at: None,
    }
}

#[tokio::test]
async fn an_announcement_lands_in_the_team_chat_channel_cut_to_fit() {
    let zoom = FakeZoom::start().await;
    let channel = zoom.create_chat_channel("data-stewards");
    let adapter = adapter(&zoom, json!({"chat_channel": channel}));
    assert!(adapter.capabilities().post);
    assert!(!adapter.capabilities().edit);

    let receipt = adapter
        .post(
            &announcement(
                "Call on Tuesday",
                "Bring **one** question.\n\n- [Notes](https://example.org/notes)",
            ),
            "d-1",
        )
        .await
        .unwrap();
    let messages = zoom.chat_messages(&channel);
    assert_eq!(messages.len(), 1);
    assert_eq!(receipt.remote_ref, messages[0].id);
    assert_eq!(
        messages[0].message,
        "Call on Tuesday\n\nBring one question.\n\n• Notes (https://example.org/notes)"
    );

    let long = "A sentence of the report. ".repeat(300);
    adapter
        .post(&announcement("Report", &long), "d-2")
        .await
        .unwrap();
    let cut = &zoom.chat_messages(&channel)[1].message;
    assert!(cut.chars().count() <= 4096, "{}", cut.chars().count());
    assert!(cut.ends_with("…\n\n(continued on the community page)"));
    assert!(matches!(
        adapter.find_post("d-2").await.unwrap_err(),
        AdapterError::Unsupported(_)
    ));

    let silent = self::adapter(&zoom, json!({}));
    assert!(!silent.capabilities().post);
    assert!(silent.capabilities().calls && silent.capabilities().manage_members);
    assert!(matches!(
        silent
            .post(&announcement("T", "B"), "d-3")
            .await
            .unwrap_err(),
        AdapterError::Unsupported(_)
    ));
}

#[tokio::test]
async fn unusable_settings_and_secrets_are_refused_with_a_sentence() {
    let zoom = FakeZoom::start().await;
    for (settings, part) in [
        (json!({"host": ["me"]}), "unknown field"),
        (json!({"hosts": []}), "hosts is empty"),
        (json!({"hosts": ["a/b"]}), "not a Zoom user id"),
        (
            json!({"registration_meetings": ["abc"]}),
            "not a meeting number",
        ),
    ] {
        let error = ZoomAdapter::new(api(&zoom), &settings, &secret(&zoom)).unwrap_err();
        assert!(
            matches!(&error, AdapterError::Permanent(m) if m.contains(part)),
            "{settings}: {error}"
        );
    }
    let error = ZoomAdapter::new(
        api(&zoom),
        &json!({}),
        r#"{"client_id": "x", "client_secret": "very-secret"}"#,
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("account_id") && !text.contains("very-secret"),
        "{text}"
    );

    let wrong = json!({"account_id": "fake-account", "client_id": "fake-client-id",
        "client_secret": "wrong"})
    .to_string();
    let adapter = ZoomAdapter::new(api(&zoom), &json!({}), &wrong).unwrap();
    assert!(!format!("{adapter:?}").contains("wrong"));
    assert!(matches!(
        adapter.health().await.unwrap_err(),
        AdapterError::Auth(_)
    ));
}
