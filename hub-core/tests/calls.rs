//! Calls through the lander against scriptable fake channels: a call lands in
//! Zoom first (which makes the link) and then in Slack; each change reaches
//! each channel once, whatever fails on the way. Time is a `ManualClock`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{NaiveDateTime, Utc};
use hub_core::{
    calls::{
        lander::Lander,
        schedule::{self, CallError, CallRequest},
    },
    model::{
        call::{Call, CallStatus, LandingState},
        channel::{ChannelHealth, ChannelKind},
        community::Community,
    },
    outbox::OutboxSettings,
    ports::{
        adapter::CallScope,
        clock::{Clock, ManualClock},
        store::Store,
    },
    secrets::SecretKeys,
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{CallOp, FakeChannel, FakeChannels, Scripted},
    fixtures,
};

struct Setup {
    store: Arc<dyn Store>,
    community: Community,
    zoom: FakeChannel,
    slack: FakeChannel,
    factory: FakeChannels,
    clock: ManualClock,
    _db: TestDatabase,
}

fn settings() -> OutboxSettings {
    OutboxSettings {
        lease: Duration::from_secs(60),
        batch: 10,
        max_attempts: 4,
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(60),
        ..OutboxSettings::default()
    }
}

async fn setup() -> Setup {
    let db = TestDatabase::from_env().await;
    let store = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    let zoom_channel = fixtures::channel(store.as_ref(), community.id, ChannelKind::Zoom, 0).await;
    let slack_channel =
        fixtures::channel(store.as_ref(), community.id, ChannelKind::Slack, 0).await;
    // A channel that shows no calls gets no landing.
    fixtures::channel(store.as_ref(), community.id, ChannelKind::Webhook, 0).await;
    let zoom = FakeChannel::new();
    zoom.set_hosts_calls(true);
    zoom.set_lookups(true);
    let slack = FakeChannel::new();
    let factory = FakeChannels(HashMap::from([
        (zoom_channel.id, zoom.clone()),
        (slack_channel.id, slack.clone()),
    ]));
    Setup {
        store,
        community,
        zoom,
        slack,
        factory,
        clock: ManualClock::new(Utc::now()),
        _db: db,
    }
}

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn weekly() -> CallRequest {
    CallRequest {
        title: "Community call".into(),
        agenda: "1. News".into(),
        starts_at_local: at("2099-03-03 10:00"),
        timezone: "America/New_York".into(),
        duration_minutes: 60,
        rrule: Some("FREQ=WEEKLY;BYDAY=TU;COUNT=6".into()),
        registration: false,
    }
}

impl Setup {
    fn lander(&self) -> Lander {
        Lander::new(
            self.store.clone(),
            Arc::new(self.factory.clone()),
            Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
            Arc::new(self.clock.clone()),
            settings(),
            "worker".into(),
        )
    }

    async fn schedule(&self) -> Call {
        schedule::schedule(
            self.store.as_ref(),
            self.community.id,
            &weekly(),
            "lead",
            self.clock.now(),
        )
        .await
        .unwrap()
    }

    async fn call(&self, call: &Call) -> Call {
        self.store.call(call.id).await.unwrap().unwrap()
    }

    /// Runs the lander until nothing is due now.
    async fn settle(&self) {
        let lander = self.lander();
        for _ in 0..10 {
            if lander.run_once().await.unwrap() == 0 {
                return;
            }
        }
        panic!("the lander never settled");
    }

    async fn states(&self, call: &Call) -> Vec<LandingState> {
        self.store
            .call_landings(call.id)
            .await
            .unwrap()
            .iter()
            .map(|l| l.state)
            .collect()
    }
}

#[tokio::test]
async fn a_call_lands_in_zoom_first_and_slack_shows_its_link() {
    let s = setup().await;
    let call = s.schedule().await;
    s.settle().await;

    let zoom = s.zoom.calls();
    assert!(
        matches!(&zoom[..], [CallOp::Scheduled { key, remote_ref, .. }] if *key == format!("call-{}", call.id) && remote_ref == "call-1"),
        "{zoom:?}"
    );
    let kept = s.call(&call).await;
    assert_eq!(
        kept.join_url.as_deref(),
        Some("https://fake.example/j/call-1")
    );
    assert_eq!(kept.zoom_meeting_id.as_deref(), Some("call-1"));
    let slack = s.slack.calls();
    assert!(
        matches!(&slack[..], [CallOp::Scheduled { join_url: Some(url), .. }] if url == "https://fake.example/j/call-1"),
        "Slack posts once, with the link: {slack:?}"
    );
    assert_eq!(s.states(&call).await, vec![LandingState::Landed; 2]);
}

#[tokio::test]
async fn each_change_reaches_each_channel_and_the_sequence_moves_only_with_time() {
    let s = setup().await;
    let call = s.schedule().await;
    s.settle().await;
    assert_eq!(s.call(&call).await.sequence, 0);

    // A new title is a change for the channels, not a new calendar version.
    let mut retitled = weekly();
    retitled.title = "Community call (open floor)".into();
    let call = schedule::change(
        s.store.as_ref(),
        s.call(&call).await,
        &retitled,
        "lead",
        s.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(call.sequence, 0);
    s.settle().await;
    assert!(
        matches!(s.zoom.calls().last(), Some(CallOp::Updated { scope: CallScope::Series, title, .. }) if title == "Community call (open floor)")
    );
    assert!(matches!(
        s.slack.calls().last(),
        Some(CallOp::Updated {
            scope: CallScope::Series,
            ..
        })
    ));

    // One occurrence moved, another cancelled: each reaches the channels as itself.
    let second = call.occurrences()[1].original;
    let third = call.occurrences()[2].original;
    let call = schedule::move_occurrence(
        s.store.as_ref(),
        call,
        second,
        second + chrono::Duration::hours(2),
        90,
        "lead",
        s.clock.now(),
    )
    .await
    .unwrap();
    let call = schedule::cancel_occurrence(s.store.as_ref(), call, third, "lead", s.clock.now())
        .await
        .unwrap();
    assert_eq!(call.sequence, 2);
    let zoom_before = s.zoom.calls().len();
    s.settle().await;
    let zoom = s.zoom.calls();
    assert_eq!(
        &zoom[zoom_before..],
        &[
            CallOp::Updated {
                remote_ref: "call-1".into(),
                scope: CallScope::Occurrence(second),
                title: call.title.clone(),
                join_url: call.join_url.clone()
            },
            CallOp::Cancelled {
                remote_ref: "call-1".into(),
                scope: CallScope::Occurrence(third)
            },
        ]
    );
    let kept = s.call(&call).await;
    assert_eq!(kept.occurrences()[1].duration_minutes, 90);
    assert!(kept.occurrences()[2].cancelled);

    // The whole call off: cancelled everywhere, once.
    let call = schedule::cancel(s.store.as_ref(), kept, "lead", s.clock.now())
        .await
        .unwrap();
    assert_eq!(call.status, CallStatus::Cancelled);
    assert_eq!(call.sequence, 3);
    s.settle().await;
    assert!(matches!(
        s.zoom.calls().last(),
        Some(CallOp::Cancelled {
            scope: CallScope::Series,
            ..
        })
    ));
    assert!(matches!(
        s.slack.calls().last(),
        Some(CallOp::Cancelled {
            scope: CallScope::Series,
            ..
        })
    ));
    let again = schedule::cancel(s.store.as_ref(), s.call(&call).await, "lead", s.clock.now())
        .await
        .unwrap();
    assert_eq!(again.sequence, 3, "cancelling twice changes nothing");
    assert!(matches!(
        schedule::cancel_occurrence(s.store.as_ref(), again, second, "lead", s.clock.now()).await,
        Err(CallError::Cancelled)
    ));
}

#[tokio::test]
async fn a_lost_answer_to_the_create_never_makes_a_second_meeting() {
    let s = setup().await;
    s.zoom.script([Scripted::AmbiguousAfterPosting]);
    let call = s.schedule().await;
    assert_eq!(s.lander().run_once().await.unwrap(), 1);
    let landing = s.store.call_landings(call.id).await.unwrap();
    assert!(landing.iter().all(|l| l.state == LandingState::Pending));
    assert!(s.slack.calls().is_empty(), "Slack waits for the meeting");

    s.clock.advance(chrono::Duration::seconds(120));
    s.settle().await;
    let scheduled = s
        .zoom
        .calls()
        .iter()
        .filter(|op| matches!(op, CallOp::Scheduled { .. }))
        .count();
    assert_eq!(
        scheduled,
        1,
        "the retry found the first meeting: {:?}",
        s.zoom.calls()
    );
    assert_eq!(
        s.call(&call).await.join_url.as_deref(),
        Some("https://fake.example/j/call-1")
    );
    assert_eq!(s.slack.calls().len(), 1);
}

#[tokio::test]
async fn rate_limits_and_outages_wait_and_a_refusal_is_shown_without_holding_slack() {
    let s = setup().await;
    s.zoom.script([
        Scripted::RateLimited(Duration::from_secs(30)),
        Scripted::Transient,
        Scripted::Permanent,
    ]);
    let call = s.schedule().await;
    let lander = s.lander();
    lander.run_once().await.unwrap();
    assert_eq!(lander.run_once().await.unwrap(), 0, "waits out the 429");
    s.clock.advance(chrono::Duration::seconds(31));
    lander.run_once().await.unwrap();
    let landing = s.store.call_landings(call.id).await.unwrap();
    let zoom = landing.iter().find(|l| l.last_error.is_some()).unwrap();
    assert!(
        zoom.last_error.as_deref().unwrap().contains("503"),
        "{zoom:?}"
    );
    s.clock.advance(chrono::Duration::seconds(120));
    lander.run_once().await.unwrap();
    s.settle().await;
    let landing = s.store.call_landings(call.id).await.unwrap();
    let failed: Vec<_> = landing
        .iter()
        .filter(|l| l.state == LandingState::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("invalid_arguments")
    );
    assert!(
        matches!(
            &s.slack.calls()[..],
            [CallOp::Scheduled { join_url: None, .. }]
        ),
        "Slack gets the call without a link"
    );
    assert!(s.zoom.calls().is_empty());
}

#[tokio::test]
async fn a_revoked_token_puts_the_channel_up_for_reconnecting_and_the_call_waits() {
    let s = setup().await;
    s.slack.script([Scripted::Auth]);
    let call = s.schedule().await;
    s.settle().await;
    let channels = s.store.channels(s.community.id).await.unwrap();
    let slack = channels
        .iter()
        .find(|c| c.kind == ChannelKind::Slack)
        .unwrap();
    assert!(matches!(slack.health, ChannelHealth::NeedsReconnect { .. }));
    assert!(s.slack.calls().is_empty());
    let landing = s.store.call_landings(call.id).await.unwrap();
    assert!(
        landing
            .iter()
            .any(|l| l.channel_id == slack.id && l.state == LandingState::Pending)
    );

    s.store
        .set_channel_health(slack.id, &ChannelHealth::Ok)
        .await
        .unwrap();
    s.settle().await;
    assert_eq!(
        s.slack.calls().len(),
        1,
        "it lands once the channel works again"
    );
}

#[tokio::test]
async fn bad_calls_are_refused_with_what_is_wrong() {
    let s = setup().await;
    let now = s.clock.now();
    let cases: Vec<(CallRequest, &str)> = vec![
        (
            CallRequest {
                title: " ".into(),
                ..weekly()
            },
            "title",
        ),
        (
            CallRequest {
                timezone: "Mars/Olympus".into(),
                ..weekly()
            },
            "not a timezone",
        ),
        (
            CallRequest {
                duration_minutes: 0,
                ..weekly()
            },
            "1 to 1440 minutes",
        ),
        (
            CallRequest {
                starts_at_local: at("2001-01-02 10:00"),
                rrule: None,
                ..weekly()
            },
            "in the past",
        ),
        (
            CallRequest {
                rrule: Some("FREQ=YEARLY;COUNT=3".into()),
                ..weekly()
            },
            "FREQ=YEARLY",
        ),
    ];
    for (request, expected) in cases {
        let error = schedule::schedule(s.store.as_ref(), s.community.id, &request, "lead", now)
            .await
            .unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert!(
        s.store
            .community_calls(s.community.id)
            .await
            .unwrap()
            .is_empty()
    );
    let call = s.schedule().await;
    let error =
        schedule::cancel_occurrence(s.store.as_ref(), call, at("2099-03-04 10:00"), "lead", now)
            .await
            .unwrap_err();
    assert!(error.to_string().contains("no occurrence"), "{error}");
}

#[tokio::test]
async fn a_call_members_register_for_makes_its_meeting_the_zoom_channels_roster() {
    let s = setup().await;
    let request = CallRequest {
        registration: true,
        ..weekly()
    };
    schedule::schedule(
        s.store.as_ref(),
        s.community.id,
        &request,
        "lead",
        s.clock.now(),
    )
    .await
    .unwrap();
    s.settle().await;
    let channels = s.store.channels(s.community.id).await.unwrap();
    let zoom = channels
        .iter()
        .find(|c| c.kind == ChannelKind::Zoom)
        .unwrap();
    assert_eq!(
        zoom.settings["registration_meetings"],
        serde_json::json!(["call-1"])
    );
    let job = s
        .store
        .sync_job_of(zoom.id)
        .await
        .unwrap()
        .expect("a sync keeps registrants in step");
    assert_eq!(job.direction, hub_core::model::sync::SyncDirection::Mirror);

    // A call without registration leaves the roster alone.
    schedule::schedule(
        s.store.as_ref(),
        s.community.id,
        &weekly(),
        "lead",
        s.clock.now(),
    )
    .await
    .unwrap();
    s.settle().await;
    let channels = s.store.channels(s.community.id).await.unwrap();
    let zoom = channels
        .iter()
        .find(|c| c.kind == ChannelKind::Zoom)
        .unwrap();
    assert_eq!(
        zoom.settings["registration_meetings"],
        serde_json::json!(["call-1"])
    );
}

#[tokio::test]
async fn once_an_occurrence_has_ended_the_slack_post_moves_on_to_the_next() {
    let s = setup().await;
    let call = s.schedule().await;
    s.settle().await;
    let slack_before = s.slack.calls().len();
    let zoom_before = s.zoom.calls().len();

    // During the first occurrence nothing moves; once it has ended, Slack's
    // post moves on (with its reminder), and Zoom is left alone.
    let first = call.occurrences()[0];
    s.clock
        .advance(first.starts_at + chrono::Duration::minutes(30) - s.clock.now());
    s.settle().await;
    assert_eq!(s.slack.calls().len(), slack_before);
    s.clock.advance(chrono::Duration::minutes(31));
    s.settle().await;
    let slack = s.slack.calls();
    assert_eq!(slack.len(), slack_before + 1, "{slack:?}");
    assert!(matches!(
        slack.last(),
        Some(CallOp::Updated {
            scope: CallScope::Series,
            ..
        })
    ));
    assert_eq!(s.zoom.calls().len(), zoom_before);

    // Once is enough until the next occurrence ends.
    s.clock.advance(chrono::Duration::minutes(139));
    s.settle().await;
    assert_eq!(s.slack.calls().len(), slack_before + 1);
}
