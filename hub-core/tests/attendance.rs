//! Zoom's webhooks applied to calls through a real store: who joined (a
//! member by address, a guest as given, each once per time held), when a
//! time held started and ended, the recording, what is ignored, and events
//! a stopped process left waiting, taken by the scheduler a minute later.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Duration, TimeZone, Utc};
use hub_core::{
    calls::{
        attendance::{self, AttendanceSummary},
        schedule::{self, CallRequest},
    },
    model::{
        call::{Call, CallJoin, LandingOutcome},
        channel::{Channel, ChannelKind},
        community::Community,
        event::{InboundEvent, ZOOM},
        member::{CommunityRole, NewMember},
    },
    ports::{
        clock::{Clock, ManualClock},
        store::Store,
    },
    secrets::SecretKeys,
    sync::{Scheduler, SyncEngine},
};
use hub_testkit::{database::TestDatabase, fake_adapter::FakeChannels, fixtures};
use serde_json::{Value, json};

const MEETING: &str = "81234567890";

struct Setup {
    store: Arc<dyn Store>,
    community: Community,
    zoom: Channel,
    call: Call,
    _db: TestDatabase,
}

/// The community `rse` with the member Ada, a Zoom channel and a call held
/// in meeting [`MEETING`].
async fn setup() -> Setup {
    let db = TestDatabase::from_env().await;
    let store = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    store
        .create_member(
            community.id,
            NewMember {
                email: hub_core::Email::parse("ada@example.org").unwrap(),
                name: "Ada Lovelace".into(),
                role: CommunityRole::Member,
                email_consent: None,
            },
            fixtures::audit(),
        )
        .await
        .unwrap();
    let zoom = fixtures::channel(store.as_ref(), community.id, ChannelKind::Zoom, 0).await;
    let now = Utc::now();
    let call = schedule::schedule(
        store.as_ref(),
        community.id,
        &CallRequest {
            title: "Community call".into(),
            agenda: String::new(),
            starts_at_local: chrono::NaiveDate::from_ymd_opt(2027, 3, 2)
                .unwrap()
                .and_hms_opt(15, 0, 0)
                .unwrap(),
            timezone: "UTC".into(),
            duration_minutes: 60,
            rrule: None,
            registration: false,
        },
        "test",
        now,
    )
    .await
    .unwrap();
    // The Zoom landing makes the meeting, as the lander would.
    store
        .claim_call_landings("w", now, now + Duration::minutes(5), 10)
        .await
        .unwrap();
    let landed = LandingOutcome::Landed {
        revision: 1,
        remote_ref: Some(MEETING.into()),
        join: Some(CallJoin {
            meeting_id: MEETING.into(),
            join_url: format!("https://zoom.example/j/{MEETING}"),
        }),
    };
    assert!(
        store
            .finish_call_landing("w", call.id, zoom.id, &landed, now)
            .await
            .unwrap()
    );
    let call = store.call(call.id).await.unwrap().unwrap();
    Setup {
        store,
        community,
        zoom,
        call,
        _db: db,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// An event as the hook keeps it: Zoom's body, routed by the channel.
fn kept(channel: &Channel, id: &str, body: Value, received_at: DateTime<Utc>) -> InboundEvent {
    InboundEvent {
        source: ZOOM.into(),
        event_id: id.into(),
        routing_key: channel.id.to_string(),
        kind: body["event"].as_str().unwrap_or_default().into(),
        payload: body,
        received_at,
        processed_at: None,
        outcome: None,
    }
}

fn joined(instance: &str, name: &str, email: &str, time: &str) -> Value {
    json!({
        "event": "meeting.participant_joined",
        "event_ts": 1_804_000_000_000_i64,
        "payload": {"account_id": "A", "object": {
            "id": MEETING, "uuid": instance, "host_id": "h", "topic": "Community call",
            "type": 2, "start_time": "2027-03-02T15:00:00Z", "duration": 60,
            "timezone": "UTC",
            "participant": {"user_id": "1", "user_name": name, "id": "p", "email": email,
                "join_time": time},
        }},
    })
}

#[tokio::test]
async fn a_member_is_known_by_address_a_guest_kept_as_given_and_each_counted_once() {
    let s = setup().await;
    let take = |body: Value| {
        let event = kept(&s.zoom, "e", body, Utc::now());
        let store = s.store.clone();
        async move { attendance::take(store.as_ref(), &event).await.unwrap() }
    };
    let ada = take(joined(
        "week1==",
        "Ada L.",
        "ADA@example.org",
        "2027-03-02T15:01:00Z",
    ))
    .await;
    assert!(
        ada.starts_with("member ") && ada.contains("joined"),
        "{ada}"
    );
    let again = take(joined(
        "week1==",
        "Ada L.",
        "ada@example.org",
        "2027-03-02T15:20:00Z",
    ))
    .await;
    assert!(again.contains("already"), "{again}");
    let guest = take(joined(
        "week1==",
        "Grace",
        "grace@elsewhere.org",
        "2027-03-02T15:02:00Z",
    ))
    .await;
    assert!(guest.starts_with("guest \"Grace\""), "{guest}");
    let phone = take(joined("week1==", "Phone user", "", "2027-03-02T15:03:00Z")).await;
    assert!(phone.contains("joined"), "{phone}");

    let kept = s.store.call_attendance(s.call.id).await.unwrap();
    assert_eq!(kept.len(), 3);
    let member = s
        .store
        .member_by_email(
            s.community.id,
            &hub_core::Email::parse("ada@example.org").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept[0].member_id, Some(member.id));
    assert_eq!(
        kept[0].joined_at,
        at("2027-03-02T15:01:00Z"),
        "the first join stays"
    );
    assert_eq!(
        (
            kept[1].member_id,
            kept[1].email.as_deref(),
            kept[1].person.as_str()
        ),
        (
            None,
            Some("grace@elsewhere.org"),
            "email:grace@elsewhere.org"
        )
    );
    assert_eq!(
        (kept[2].email.as_deref(), kept[2].person.as_str()),
        (None, "name:Phone user")
    );
}

#[tokio::test]
async fn a_time_held_gets_its_start_and_end_and_the_call_its_recording() {
    let s = setup().await;
    let apply = |id: &str, body: Value| {
        let event = kept(&s.zoom, id, body, Utc::now());
        let store = s.store.clone();
        async move { attendance::take(store.as_ref(), &event).await.unwrap() }
    };
    let object = json!({"id": MEETING, "uuid": "week1==", "start_time": "2027-03-02T15:00:10Z",
        "end_time": "2027-03-02T16:02:00Z"});
    apply(
        "s",
        json!({"event": "meeting.started", "payload": {"object": object}}),
    )
    .await;
    apply(
        "j",
        joined("week1==", "Ada", "ada@example.org", "2027-03-02T15:01:00Z"),
    )
    .await;
    let ended = apply(
        "e",
        json!({"event": "meeting.ended", "payload": {"object": object}}),
    )
    .await;
    assert!(ended.contains("ended"), "{ended}");
    let recorded = apply(
        "r",
        json!({"event": "recording.completed", "payload": {"object": {
            "id": MEETING.parse::<u64>().unwrap(), "uuid": "week1==",
            "share_url": "https://zoom.example/rec/share/abc"}}}),
    )
    .await;
    assert!(recorded.contains("recording"), "{recorded}");

    let call = s.store.call(s.call.id).await.unwrap().unwrap();
    assert_eq!(
        call.recording_url.as_deref(),
        Some("https://zoom.example/rec/share/abc")
    );
    let summary = attendance::summarize(
        &s.store.call_attendance(call.id).await.unwrap(),
        &s.store.call_instances(call.id).await.unwrap(),
    );
    assert_eq!(
        summary,
        Some(AttendanceSummary {
            people: 1,
            last_started: at("2027-03-02T15:00:10Z"),
            last_ended: Some(at("2027-03-02T16:02:00Z")),
        })
    );
}

#[tokio::test]
async fn meetings_channels_and_events_the_hub_does_not_know_are_ignored() {
    let s = setup().await;
    let other = fixtures::community(s.store.as_ref(), "other").await;
    let foreign = fixtures::channel(s.store.as_ref(), other.id, ChannelKind::Zoom, 0).await;
    let slack = fixtures::channel(s.store.as_ref(), s.community.id, ChannelKind::Slack, 0).await;
    let join = joined("week1==", "Ada", "ada@example.org", "2027-03-02T15:01:00Z");
    let mut unknown_meeting = join.clone();
    unknown_meeting["payload"]["object"]["id"] = json!("99999999999");
    let cases = [
        (kept(&s.zoom, "1", unknown_meeting, Utc::now()), "no call"),
        (kept(&foreign, "2", join.clone(), Utc::now()), "no call"),
        (
            kept(&slack, "3", join.clone(), Utc::now()),
            "channel is gone",
        ),
        (
            kept(
                &s.zoom,
                "4",
                json!({"event": "meeting.participant_left"}),
                Utc::now(),
            ),
            "does not use",
        ),
    ];
    for (event, reason) in cases {
        let outcome = attendance::take(s.store.as_ref(), &event).await.unwrap();
        assert!(
            outcome.starts_with("ignored: ") && outcome.contains(reason),
            "{outcome} / {reason}"
        );
    }
    assert!(s.store.call_attendance(s.call.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn zoom_events_a_stopped_process_left_are_taken_by_the_scheduler_a_minute_later() {
    let s = setup().await;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 2, 16, 0, 0).unwrap());
    let event = kept(
        &s.zoom,
        "left-behind",
        joined("week1==", "Ada", "ada@example.org", "2027-03-02T15:01:00Z"),
        clock.now(),
    );
    assert!(s.store.record_inbound_event(&event).await.unwrap());
    let keys = Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap());
    let clock_arc: Arc<dyn Clock> = Arc::new(clock.clone());
    let engine = SyncEngine::new(
        s.store.clone(),
        Arc::new(FakeChannels(HashMap::new())),
        keys,
        clock_arc.clone(),
    );
    let scheduler = Scheduler::new(s.store.clone(), engine, clock_arc, "test".into());

    // Still fresh: the process that kept it may be processing it.
    scheduler.run_once().await.unwrap();
    assert!(s.store.call_attendance(s.call.id).await.unwrap().is_empty());

    clock.advance(Duration::minutes(2));
    scheduler.run_once().await.unwrap();
    assert_eq!(s.store.call_attendance(s.call.id).await.unwrap().len(), 1);
    assert!(
        s.store
            .unprocessed_inbound_events(ZOOM, clock.now(), 10)
            .await
            .unwrap()
            .is_empty(),
        "finished"
    );
}
