//! Calls as calendars, read back by the real parsers from PyPI (icalendar,
//! and recurring-ical-events to expand the repeats): what a member's
//! calendar program would understand, not what our own text looks like.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDateTime, Utc};
use chrono_tz::Tz;
use hub_core::{
    Email,
    calls::{
        ical::{self, Entry, Method, Sender},
        recurrence::Recurrence,
    },
    ids::{CallId, CommunityId},
    model::call::{Call, CallStatus, OccurrenceOverride},
};
use hub_testkit::ical_check;
use serde_json::Value;

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn weekly(zone: Tz, start: &str, count: u32) -> Call {
    let start = at(start);
    Call {
        id: CallId::new(),
        community_id: CommunityId::new(),
        title: "RSE community call".into(),
        agenda: "1. News, from everyone\n2. Open floor; questions welcome".into(),
        starts_at_local: start,
        timezone: zone,
        duration_minutes: 60,
        recurrence: Some(
            Recurrence::parse(&format!("FREQ=WEEKLY;COUNT={count}"), start, zone).unwrap(),
        ),
        overrides: vec![],
        cancelled_occurrences: vec![],
        registration: false,
        status: CallStatus::Scheduled,
        zoom_meeting_id: Some("81234567890".into()),
        join_url: Some("https://zoom.example/j/81234567890?pwd=abc".into()),
        recording_url: None,
        sequence: 0,
        created_at: Utc::now(),
    }
}

fn sender() -> Sender {
    Sender {
        name: "Research Software Engineers".into(),
        email: Email::parse("rse@lists.example.org").unwrap(),
        uid_host: "hub.example.org".into(),
    }
}

fn entry(call: &Call, with_join_url: bool) -> Entry<'_> {
    Entry {
        call,
        page_url: Some("https://hub.example.org/c/rse/calls"),
        join_url: call.join_url.as_deref().filter(|_| with_join_url),
    }
}

fn member() -> Email {
    Email::parse("ada@example.org").unwrap()
}

fn column<'a>(parsed: &'a Value, field: &str) -> Vec<&'a str> {
    parsed["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o[field].as_str().unwrap())
        .collect()
}

/// The weekly call's occurrences across `change`, in the call's zone: the
/// wall-clock time stays, the UTC time moves by the change.
fn keeps_local_time(
    zone: Tz,
    start: &str,
    window: (&str, &str),
    utc_before: &str,
    utc_after: &str,
) {
    let call = weekly(zone, start, 6);
    let calendar = ical::feed(&sender(), &[entry(&call, false)], Utc::now());
    let Some(parsed) = ical_check::parse(&calendar, Some(window)) else {
        return;
    };
    assert_eq!(parsed["timezones"], serde_json::json!([zone.name()]));
    let local = column(&parsed, "local");
    assert_eq!(local.len(), 6, "{parsed:#}");
    let wall_clock = &start[11..];
    assert!(
        local
            .iter()
            .all(|l| l.ends_with(&format!("T{wall_clock}:00"))),
        "{local:?}"
    );
    let utc: Vec<&str> = column(&parsed, "utc").iter().map(|u| &u[11..16]).collect();
    assert_eq!(utc.first(), Some(&utc_before), "{utc:?}");
    assert_eq!(utc.last(), Some(&utc_after), "{utc:?}");
    assert!(
        parsed["occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["uid"] == parsed["events"][0]["uid"] && o["minutes"] == 60)
    );
}

#[test]
fn a_weekly_call_in_new_york_stays_at_ten_across_both_changes_of_clock() {
    // Daylight time ends on 1 November 2026 and starts on 14 March 2027.
    keeps_local_time(
        chrono_tz::America::New_York,
        "2026-10-20 10:00",
        ("2026-10-01", "2026-12-31"),
        "14:00",
        "15:00",
    );
    keeps_local_time(
        chrono_tz::America::New_York,
        "2027-03-02 10:00",
        ("2027-03-01", "2027-05-01"),
        "15:00",
        "14:00",
    );
}

#[test]
fn a_weekly_call_in_berlin_stays_at_ten_across_both_changes_of_clock() {
    // Summer time ends on 25 October 2026 and starts on 28 March 2027.
    keeps_local_time(
        chrono_tz::Europe::Berlin,
        "2026-10-06 10:00",
        ("2026-10-01", "2026-12-31"),
        "08:00",
        "09:00",
    );
    keeps_local_time(
        chrono_tz::Europe::Berlin,
        "2027-03-16 10:00",
        ("2027-03-01", "2027-05-01"),
        "09:00",
        "08:00",
    );
}

#[test]
fn the_invitation_its_update_and_its_cancel_read_as_one_event_changing() {
    let mut call = weekly(chrono_tz::America::New_York, "2026-10-20 10:00", 6);
    let invite = ical::invitation(
        &sender(),
        entry(&call, true),
        &member(),
        Method::Request,
        Utc::now(),
    );
    let Some(first) = ical_check::parse(&invite, Some(("2026-10-01", "2026-12-31"))) else {
        return;
    };
    assert_eq!(first["method"], "REQUEST");
    let event = &first["events"][0];
    assert_eq!(event["sequence"], 0);
    assert_eq!(event["status"], "CONFIRMED");
    assert_eq!(event["tzid"], "America/New_York");
    assert_eq!(
        event["location"],
        "https://zoom.example/j/81234567890?pwd=abc"
    );
    assert_eq!(event["summary"], "RSE community call");
    assert!(
        event["description"]
            .as_str()
            .unwrap()
            .contains("Open floor; questions welcome")
    );
    assert_eq!(event["attendees"][0]["address"], "mailto:ada@example.org");
    assert_eq!(event["attendees"][0]["rsvp"], "FALSE");
    assert_eq!(event["organizer"], "mailto:rse@lists.example.org");
    let uid = event["uid"].as_str().unwrap().to_owned();
    assert_eq!(uid, format!("call-{}@hub.example.org", call.id));

    // One occurrence moved and longer, another cancelled: the update.
    call.overrides.push(OccurrenceOverride {
        original: at("2026-11-03 10:00"),
        starts_at_local: at("2026-11-04 15:00"),
        duration_minutes: 90,
    });
    call.cancelled_occurrences.push(at("2026-11-10 10:00"));
    call.sequence = 1;
    let update = ical::invitation(
        &sender(),
        entry(&call, true),
        &member(),
        Method::Request,
        Utc::now(),
    );
    let second = ical_check::parse(&update, Some(("2026-10-01", "2026-12-31"))).unwrap();
    assert_eq!(second["method"], "REQUEST");
    assert!(
        second["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["uid"] == uid.as_str() && e["sequence"] == 1)
    );
    assert_eq!(
        second["events"][1]["recurrence_id"],
        "2026-11-03T10:00:00-05:00"
    );
    assert_eq!(
        column(&second, "local"),
        [
            "2026-10-20T10:00:00",
            "2026-10-27T10:00:00",
            "2026-11-04T15:00:00",
            "2026-11-17T10:00:00",
            "2026-11-24T10:00:00",
        ]
    );
    let minutes: Vec<u64> = second["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["minutes"].as_u64().unwrap())
        .collect();
    assert_eq!(minutes, [60, 60, 90, 60, 60]);

    // The whole call off.
    call.status = CallStatus::Cancelled;
    call.sequence = 2;
    let cancel = ical::invitation(
        &sender(),
        entry(&call, true),
        &member(),
        Method::Cancel,
        Utc::now(),
    );
    let third = ical_check::parse(&cancel, None).unwrap();
    assert_eq!(third["method"], "CANCEL");
    assert_eq!(
        third["events"].as_array().unwrap().len(),
        1,
        "the series, no override"
    );
    assert_eq!(third["events"][0]["uid"], uid.as_str());
    assert_eq!(third["events"][0]["sequence"], 2);
    assert_eq!(third["events"][0]["status"], "CANCELLED");
    assert_eq!(third["events"][0]["recurrence_id"], Value::Null);
}

#[test]
fn the_public_feed_carries_no_join_url_and_the_private_one_does() {
    let berlin = weekly(chrono_tz::Europe::Berlin, "2026-12-01 17:00", 4);
    let mut one_off = weekly(chrono_tz::America::New_York, "2026-12-03 12:00", 1);
    one_off.recurrence = None;
    one_off.title = "Mentoring, special edition".into();
    let public = ical::feed(
        &sender(),
        &[entry(&berlin, false), entry(&one_off, false)],
        Utc::now(),
    );
    assert!(!public.contains("zoom.example"));
    let Some(parsed) = ical_check::parse(&public, Some(("2026-11-01", "2027-01-31"))) else {
        return;
    };
    assert_eq!(parsed["method"], "PUBLISH");
    assert_eq!(parsed["calname"], "Research Software Engineers");
    assert_eq!(
        parsed["timezones"],
        serde_json::json!(["America/New_York", "Europe/Berlin"])
    );
    assert_eq!(column(&parsed, "utc").len(), 5);
    assert!(
        parsed["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["location"].is_null() && e["attendees"] == serde_json::json!([]))
    );

    let private = ical::feed(
        &sender(),
        &[entry(&berlin, true), entry(&one_off, true)],
        Utc::now(),
    );
    let parsed = ical_check::parse(&private, None).unwrap();
    assert!(
        parsed["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["location"] == "https://zoom.example/j/81234567890?pwd=abc")
    );
}
