//! Calls: the community calendar feed and the lander, on a fresh database
//! (SQLite, or PostgreSQL with `COPHUB_TEST_BACKEND=postgres` and
//! `COPHUB_TEST_DATABASE_URL`). One community with `BENCH_CALLS` weekly
//! calls (default 200, 50 occurrences each, in three zones), each landing in
//! a Zoom and a Slack channel (the testkit's fake channels, which accept at
//! once), so the numbers are the hub's own work:
//!
//! - schedule: `calls::schedule::schedule` per call (check, store, audit);
//! - land: `Lander::run_once` until nothing is due (Zoom first, then Slack),
//!   per landing;
//! - feed: `calls::feed::calendar` for the whole community (what
//!   `/c/{slug}/calendar.ics` serves), median of 5, with its size.
//!
//! Prints raw lines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{collections::HashMap, sync::Arc, time::Instant};

use chrono::{Duration, Utc};
use hub_core::{
    Email,
    calls::{
        feed,
        lander::Lander,
        schedule::{CallRequest, schedule},
    },
    model::{call::LandingState, channel::ChannelKind},
    outbox::OutboxSettings,
    ports::{clock::SystemClock, store::Store},
    secrets::SecretKeys,
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{FakeChannel, FakeChannels},
    fixtures,
};

#[tokio::main]
async fn main() {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let db = TestDatabase::from_env().await;
    let store: Arc<dyn Store> = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    let zoom = fixtures::channel(store.as_ref(), community.id, ChannelKind::Zoom, 0).await;
    let slack = fixtures::channel(store.as_ref(), community.id, ChannelKind::Slack, 0).await;
    let zoom_fake = FakeChannel::new();
    zoom_fake.set_hosts_calls(true);
    let factory = FakeChannels(HashMap::from([
        (zoom.id, zoom_fake),
        (slack.id, FakeChannel::new()),
    ]));
    println!(
        "backend={} calls={calls}",
        db.url().split(':').next().unwrap_or("?")
    );

    let zones = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"];
    let first = (Utc::now() + Duration::days(2)).date_naive();
    let started = Instant::now();
    for i in 0..calls {
        let request = CallRequest {
            title: format!("Call {i}"),
            agenda: "1. News\n2. Open floor".into(),
            starts_at_local: (first + Duration::days(i64::try_from(i % 7).unwrap()))
                .and_hms_opt(10, 0, 0)
                .unwrap(),
            timezone: zones[i % zones.len()].into(),
            duration_minutes: 60,
            rrule: Some("FREQ=WEEKLY;COUNT=50".into()),
            registration: false,
        };
        schedule(store.as_ref(), community.id, &request, "bench", Utc::now())
            .await
            .unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "schedule: {calls} calls in {:.3} s ({:.2} ms each)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / calls as f64
    );

    let lander = Lander::new(
        store.clone(),
        Arc::new(factory),
        Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
        Arc::new(SystemClock),
        OutboxSettings {
            batch: 50,
            ..OutboxSettings::default()
        },
        "bench".into(),
    );
    let started = Instant::now();
    let mut landed = 0;
    loop {
        let n = lander.run_once().await.unwrap();
        if n == 0 {
            break;
        }
        landed += n;
    }
    let elapsed = started.elapsed();
    println!(
        "land: {landed} landings in {:.3} s ({:.0} per second)",
        elapsed.as_secs_f64(),
        landed as f64 / elapsed.as_secs_f64()
    );
    for call in store.community_calls(community.id).await.unwrap() {
        for landing in store.call_landings(call.id).await.unwrap() {
            assert_eq!(landing.state, LandingState::Landed, "{landing:?}");
        }
    }

    let sender = feed::sender(
        &community,
        &Email::parse("hub@example.org").unwrap(),
        "https://hub.example.org",
    );
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let text = feed::calendar(
            store.as_ref(),
            &community,
            &sender,
            "https://hub.example.org",
            None,
            Utc::now(),
        )
        .await
        .unwrap();
        times.push(started.elapsed().as_secs_f64());
        size = text.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "feed: {calls} calls ({} occurrences) in {:.1} ms (median of 5; min {:.1}, max {:.1}), {} bytes",
        calls * 50,
        times[2] * 1000.0,
        times[0] * 1000.0,
        times[4] * 1000.0,
        size
    );
}
