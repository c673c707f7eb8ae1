//! Outbox throughput with a no-op channel: claim → deliver → complete per
//! second, on a fresh database (SQLite, or PostgreSQL with
//! `COPHUB_TEST_BACKEND=postgres` and `COPHUB_TEST_DATABASE_URL`). One
//! community, one channel without pacing whose adapter is the testkit's fake
//! (it accepts every post at once), `BENCH_JOBS` announcements to it (default
//! 20000), then one outbox worker drains them. Prints raw lines;
//! `scripts/bench-outbox` runs it beside graphile-worker.
//!
//! The enqueue (one `publish` per announcement, each its own transaction, from
//! `BENCH_PUBLISHERS` tasks at once) is timed but is not the measure. The
//! drain calls `Outbox::run_once` in a loop, which is what `Outbox::run` does
//! while there is work, until every delivery has been claimed and finished.
//! At the end it checks that every delivery is `sent`, each posted exactly
//! once, none a possible duplicate.
//!
//! `BENCH_CONCURRENCY` (default 8) and `BENCH_BATCH` (default 8) are the
//! worker's settings; both defaults are `config/default.toml`'s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{collections::HashSet, sync::Arc, time::Duration, time::Instant};

use hub_core::{
    announcements::publish,
    model::channel::ChannelKind,
    outbox::{Outbox, OutboxSettings},
    ports::{clock::SystemClock, store::Store},
    secrets::SecretKeys,
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{FakeChannel, FakeFactory},
    fixtures,
};

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(raw) => match raw.parse() {
            Ok(value) if value > 0 => value,
            _ => panic!("{name} must be a positive whole number (got '{raw}')"),
        },
        Err(_) => default,
    }
}

#[tokio::main]
async fn main() {
    let jobs = setting("BENCH_JOBS", 20_000);
    let concurrency = setting("BENCH_CONCURRENCY", 8);
    let batch = setting("BENCH_BATCH", 8);
    let db = TestDatabase::from_env().await;
    let backend = if db.url().starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    // SQLite takes one writer at a time, so more publishers only queue for
    // its lock; PostgreSQL takes them side by side.
    let publishers = setting("BENCH_PUBLISHERS", if backend == "sqlite" { 1 } else { 8 });
    let store: Arc<dyn Store> = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "bench").await;
    let channel = fixtures::channel(store.as_ref(), community.id, ChannelKind::Webhook, 0).await;
    let fake = FakeChannel::new();

    println!(
        "outbox_throughput: system=cophub backend={backend} jobs={jobs} concurrency={concurrency} \
         batch={batch} adapter=no-op (hub-testkit FakeChannel, accepts at once) pacing=0 ms publishers={publishers}"
    );

    let enqueue = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for publisher in 0..publishers {
        let store = store.clone();
        let (community, channel) = (community.id, channel.id);
        tasks.spawn(async move {
            for n in (publisher..jobs).step_by(publishers) {
                publish(
                    store.as_ref(),
                    chrono::Utc::now(),
                    community,
                    &format!("Announcement {n}"),
                    "Body",
                    vec![channel],
                    None,
                    "bench",
                )
                .await
                .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let enqueue = enqueue.elapsed().as_secs_f64();
    let pending = store.outbox_summary().await.unwrap().by_state["pending"];
    assert_eq!(
        pending, jobs as u64,
        "every announcement has a pending delivery"
    );
    println!(
        "enqueue: {enqueue:.3} s ({:.1} announcements/s, one publish transaction each)",
        jobs as f64 / enqueue
    );

    let outbox = Outbox::new(
        store.clone(),
        Arc::new(FakeFactory(fake.clone())),
        Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
        Arc::new(SystemClock),
        OutboxSettings {
            batch: u32::try_from(batch).unwrap(),
            concurrency,
            ..OutboxSettings::default()
        },
        "bench-worker".into(),
    );
    let drain = Instant::now();
    let mut claimed = 0;
    let mut steps = 0;
    while claimed < jobs {
        let step = outbox.run_once().await.unwrap();
        assert!(
            step > 0,
            "the outbox found nothing due with {claimed} of {jobs} claimed"
        );
        claimed += step;
        steps += 1;
    }
    let drain = drain.elapsed().as_secs_f64();
    println!(
        "drain: {drain:.3} s ({steps} run_once steps, first claim until the last outcome recorded)"
    );
    println!("rate: {:.1} deliveries/s", jobs as f64 / drain);

    let summary = store.outbox_summary().await.unwrap();
    let posts = fake.posts();
    let keys: HashSet<&str> = posts.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        summary.by_state.get("sent").copied(),
        Some(jobs as u64),
        "every delivery is sent: {summary:?}"
    );
    assert_eq!(
        summary.by_state.len(),
        1,
        "no delivery in another state: {summary:?}"
    );
    assert_eq!(summary.possible_duplicates, 0, "no possible duplicates");
    assert_eq!(posts.len(), jobs, "one post per delivery");
    assert_eq!(keys.len(), jobs, "no delivery posted twice");
    assert_eq!(fake.attempts(), jobs, "no attempt failed");
    println!("check: {jobs} deliveries sent, each posted exactly once, 0 possible duplicates");
    println!(
        "result system=cophub backend={backend} jobs={jobs} concurrency={concurrency} \
         enqueue_s={enqueue:.3} drain_s={drain:.3} per_second={:.1}",
        jobs as f64 / drain
    );
    // Let the PostgreSQL pool's connections close before the database is dropped.
    drop(store);
    tokio::time::sleep(Duration::from_millis(100)).await;
}
