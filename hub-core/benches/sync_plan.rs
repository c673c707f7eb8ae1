//! From reading both sides to a stored plan, for 100,000 members across four
//! channels, as `cophub sync --community` runs them (`SyncEngine::run_many`:
//! the hub read once for all four): the hub side from the store (SQLite, or PostgreSQL with
//! `COPHUB_TEST_BACKEND=postgres` and `COPHUB_TEST_DATABASE_URL`), each
//! channel's side from an in-process fake (pages of 1,000), then the plan and
//! the stored run. Prints raw timings; `scripts/bench-sync` runs it.
//!
//! `BENCH_MEMBERS` changes the size (default 100000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{sync::Arc, time::Instant};

use hub_core::{
    Email,
    import::{parse_csv, plan_import},
    model::{
        channel::{ChannelKind, NewChannel},
        community::NewCommunity,
        sync::SyncDirection,
    },
    ports::{adapter::RemoteMember, clock::SystemClock, store::Store},
    secrets::SecretKeys,
    sync::{Guardrails, RunMode, SyncEngine, schedule_channel},
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{FakeChannel, FakeChannels},
    fixtures::audit,
};

#[tokio::main]
async fn main() {
    let members: usize = std::env::var("BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let db = TestDatabase::from_env().await;
    let backend = if db.url().starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    let store: Arc<dyn Store> = hub_store::open(db.url()).await.unwrap();
    let community = store
        .create_community(
            NewCommunity::new("bench", "Bench", "UTC").unwrap(),
            None,
            audit(),
        )
        .await
        .unwrap();
    let csv = hub_testkit::fixtures::members_csv(members);
    let plan = plan_import(parse_csv(csv.as_bytes()).unwrap(), &[], false).unwrap();
    store
        .apply_import(community.id, &plan, audit())
        .await
        .unwrap();

    // Four channels, each with the community minus 2 % plus 1 % strangers,
    // so every plan has work in it without tripping a guardrail.
    let kinds = [
        ChannelKind::Slack,
        ChannelKind::Zoom,
        ChannelKind::Conference,
        ChannelKind::Mailman,
    ];
    let mut fakes = FakeChannels::default();
    let mut channels = Vec::new();
    for (n, kind) in kinds.into_iter().enumerate() {
        let channel = store
            .create_channel(
                community.id,
                NewChannel {
                    kind,
                    name: format!("{kind}"),
                    settings: serde_json::json!({}),
                    encrypted_secret: None,
                    min_interval_ms: 0,
                },
                audit(),
            )
            .await
            .unwrap();
        schedule_channel(
            store.as_ref(),
            &channel,
            SyncDirection::Mirror,
            "@daily",
            Guardrails::default(),
            "bench",
        )
        .await
        .unwrap();
        let fake = FakeChannel::new();
        let remote: Vec<RemoteMember> = (0..members)
            .filter(|i| i % 50 != n)
            .map(|i| RemoteMember {
                external_id: format!("U{i}"),
                email: Some(Email::parse(&format!("person{i:06}@example.org")).unwrap()),
                name: format!("Member {i:06}"),
            })
            .chain((0..members / 100).map(|i| RemoteMember {
                external_id: format!("X{i}"),
                email: Some(Email::parse(&format!("stranger{i}@example.net")).unwrap()),
                name: format!("Stranger {i}"),
            }))
            .collect();
        fake.set_members(remote, 1_000);
        fakes.0.insert(channel.id, fake);
        channels.push((kind, channel.id));
    }
    let engine = SyncEngine::new(
        store.clone(),
        Arc::new(fakes),
        Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
        Arc::new(SystemClock),
    );

    println!(
        "sync_plan: {members} members, 4 channels, backend {backend}, mode dry run (read both sides, plan, store the run)"
    );
    // As `cophub sync --community` runs them: one engine, the community's
    // members read once for all four channels.
    let started = Instant::now();
    let ids: Vec<_> = channels.iter().map(|(_, id)| *id).collect();
    let runs = engine.run_many(&ids, RunMode::DryRun).await;
    for ((kind, _), run) in channels.iter().zip(runs) {
        let run = run.unwrap();
        let plan = &run.plan;
        let took = run.finished_at.unwrap() - run.started_at;
        println!(
            "  {kind:<10} {:>8.1} ms (this channel's run, after the shared hub read)  api_calls={} unchanged={} hub_adds={} channel_adds={} held={}",
            took.num_microseconds().unwrap() as f64 / 1000.0,
            run.counts.api_calls,
            run.counts.unchanged,
            plan["totals"]["hub_adds"],
            plan["totals"]["channel_adds"],
            plan["held"].is_object(),
        );
    }
    println!(
        "total: {:.1} ms for 4 channels",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
