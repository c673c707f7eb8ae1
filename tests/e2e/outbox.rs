//! The outbox and cron across real processes: `cophub worker` killed with
//! SIGKILL mid-delivery and restarted, two workers sharing one database, and
//! two instances taking the same cron ticks. The webhook receiver runs in
//! this test process and counts by delivery id.

use std::{
    process::{Child, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use hub_core::{
    channels::{ChannelRequest, add},
    ids::ChannelId,
    model::{channel::ChannelKind, community::NewCommunity},
    ports::store::Store,
    secrets::SecretKeys,
};
use hub_testkit::{
    database::TestDatabase, fixtures::audit, smtp_sink::SmtpSink, webhook_receiver::WebhookReceiver,
};

const SIGNING_SECRET: &str = "kill-test-signing-secret";

struct Fixture {
    db: TestDatabase,
    store: Arc<dyn Store>,
    key: String,
    community: hub_core::ids::CommunityId,
}

async fn fixture() -> Fixture {
    let db = TestDatabase::from_env().await;
    let store = hub_store::open(db.url()).await.unwrap();
    let community = store
        .create_community(
            NewCommunity::new("rse", "RSE", "UTC").unwrap(),
            None,
            audit(),
        )
        .await
        .unwrap()
        .id;
    Fixture {
        db,
        store,
        key: SecretKeys::generate_hex(),
        community,
    }
}

impl Fixture {
    async fn webhook(&self, url: &str, min_interval_ms: u32) -> ChannelId {
        let keys = SecretKeys::from_hex_list(&self.key).unwrap();
        let request = ChannelRequest {
            kind: ChannelKind::Webhook,
            name: format!("hook {min_interval_ms}"),
            settings: serde_json::json!({"url": url, "allow_local": true, "timeout_seconds": 5}),
            secret: Some(SIGNING_SECRET.into()),
            min_interval_ms,
        };
        add(self.store.as_ref(), &keys, self.community, request, "test")
            .await
            .unwrap()
            .id
    }

    async fn publish(&self, count: usize, channel: ChannelId) {
        for i in 0..count {
            hub_core::announcements::publish(
                self.store.as_ref(),
                chrono::Utc::now(),
                self.community,
                &format!("Announcement {i}"),
                "Body",
                vec![channel],
                None,
                "test",
            )
            .await
            .unwrap();
        }
    }

    /// A `cophub worker` process whose leases last `lease_seconds`.
    fn worker(&self, lease_seconds: u32) -> Child {
        self.worker_with(lease_seconds, &[])
    }

    /// A `cophub worker` process with extra arguments.
    fn worker_with(&self, lease_seconds: u32, extra: &[&str]) -> Child {
        self.worker_env(lease_seconds, extra, &[])
    }

    /// A `cophub worker` process with extra arguments and settings.
    fn worker_env(&self, lease_seconds: u32, extra: &[&str], env: &[(&str, &str)]) -> Child {
        let mut command = crate::helpers::cophub_command();
        command
            .args(["worker", "--database-url", self.db.url(), "--data-dir"])
            .arg(std::env::temp_dir())
            .args(extra)
            .env("COPHUB_SECRET_KEY", &self.key)
            .env("COPHUB_LOG_FILTER", "error")
            .env("COPHUB_OUTBOX__LEASE_SECONDS", lease_seconds.to_string())
            .env("COPHUB_OUTBOX__IDLE_POLL_MS", "50")
            .env("COPHUB_OUTBOX__BACKOFF_BASE_SECONDS", "1")
            .env("COPHUB_OUTBOX__BACKOFF_MAX_SECONDS", "2")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cophub worker starts")
    }

    async fn sent(&self) -> u64 {
        self.store
            .outbox_summary()
            .await
            .unwrap()
            .by_state
            .get("sent")
            .copied()
            .unwrap_or(0)
    }

    async fn wait_until_sent(&self, count: u64, limit: Duration) {
        let started = Instant::now();
        while self.sent().await < count {
            assert!(
                started.elapsed() < limit,
                "only {} of {count} sent after {limit:?}",
                self.sent().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A pseudo-random number from the clock, so kills land at varied points.
fn jitter(max_ms: u64) -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    ) % max_ms
}

#[tokio::test]
async fn killing_the_worker_ten_times_loses_nothing_and_duplicates_only_what_was_in_flight() {
    let fixture = fixture().await;
    let receiver = WebhookReceiver::start(SIGNING_SECRET).await;
    let channel = fixture.webhook(&receiver.url, 0).await;
    fixture.publish(2_000, channel).await;

    let mut kills = 0;
    while kills < 10 {
        // Short leases, so the next worker takes over a killed one's claims soon.
        let mut worker = fixture.worker(2);
        tokio::time::sleep(Duration::from_millis(300 + jitter(1_000))).await;
        worker.kill().unwrap(); // SIGKILL: no chance to clean up
        worker.wait().unwrap();
        kills += 1;
        let stats = receiver.stats();
        eprintln!(
            "kill {kills}: {} distinct, {} received",
            stats.distinct, stats.total
        );
    }
    let mut last = fixture.worker(2);
    fixture
        .wait_until_sent(2_000, Duration::from_secs(180))
        .await;
    last.kill().unwrap();
    last.wait().unwrap();

    let stats = receiver.stats();
    let duplicates = stats.total - stats.distinct;
    let counted = fixture
        .store
        .outbox_summary()
        .await
        .unwrap()
        .possible_duplicates;
    eprintln!(
        "after {kills} kills: {} announcements arrived, {} deliveries received, {duplicates} duplicates, {counted} counted as possible duplicates",
        stats.distinct, stats.total
    );
    assert_eq!(stats.distinct, 2_000, "every announcement arrived");
    assert_eq!(stats.refused, 0);
    // A kill can only duplicate the sends under way at that moment: at most
    // the worker's concurrency (8) each time.
    assert!(duplicates <= 10 * 8, "{duplicates} duplicates");
    assert!(
        counted >= duplicates,
        "every real duplicate was counted as possible ({counted} < {duplicates})"
    );
}

#[tokio::test]
async fn two_workers_on_one_database_send_each_delivery_once_and_keep_the_pace() {
    let fixture = fixture().await;
    let receiver = WebhookReceiver::start(SIGNING_SECRET).await;
    let fast = fixture.webhook(&receiver.url, 0).await;
    fixture.publish(1_000, fast).await;
    let paced_receiver = WebhookReceiver::start(SIGNING_SECRET).await;
    let paced = fixture.webhook(&paced_receiver.url, 100).await;
    fixture.publish(15, paced).await;

    let mut workers = [fixture.worker(30), fixture.worker(30)];
    fixture
        .wait_until_sent(1_015, Duration::from_secs(120))
        .await;
    for worker in &mut workers {
        worker.kill().unwrap();
        worker.wait().unwrap();
    }
    let stats = receiver.stats();
    let summary = fixture.store.outbox_summary().await.unwrap();
    assert_eq!(
        (stats.distinct, stats.total),
        (1_000, 1_000),
        "each delivery performed exactly once ({} counted as possible duplicates)",
        summary.possible_duplicates
    );
    let mut arrivals = paced_receiver.arrivals();
    arrivals.sort();
    assert_eq!(arrivals.len(), 15);
    // Sends start 100 ms apart whichever worker makes them; arrivals add the
    // network's noise, so check the span and the typical gap, not each gap.
    // Without the pace, 15 sends from two workers arrive within a few ms.
    let span = (arrivals[14] - arrivals[0]).num_milliseconds();
    assert!(span >= 1_200, "15 paced sends arrived within {span} ms");
    let mut gaps: Vec<i64> = arrivals
        .windows(2)
        .map(|p| (p[1] - p[0]).num_milliseconds())
        .collect();
    gaps.sort_unstable();
    assert!(
        gaps[gaps.len() / 2] >= 80,
        "the median gap is {} ms: {gaps:?}",
        gaps[gaps.len() / 2]
    );
}

#[tokio::test]
async fn two_instances_run_each_cron_tick_once_and_missed_ticks_once() {
    use chrono::{DurationRound, TimeDelta};
    let fixture = fixture().await;
    // A Slack channel synced every minute. It has no token, so each run
    // fails and says so, but it is still a run, kept once.
    let channel = hub_testkit::fixtures::channel(
        fixture.store.as_ref(),
        fixture.community,
        ChannelKind::Slack,
        0,
    )
    .await;
    let job = fixture
        .store
        .create_sync_job(
            channel.id,
            hub_core::model::sync::NewSyncJob {
                direction: hub_core::model::sync::SyncDirection::Import,
                cron: "* * * * *".into(),
                max_remove_fraction: 0.1,
                max_remove_count: 3,
            },
            audit(),
        )
        .await
        .unwrap();
    let first = job
        .created_at
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap()
        + TimeDelta::minutes(2)
        + TimeDelta::seconds(20);
    // Three simulated minutes, then ten minutes of downtime.
    let passes = [
        first,
        first + TimeDelta::minutes(1),
        first + TimeDelta::minutes(2),
        first + TimeDelta::minutes(12),
    ];
    for (i, at) in passes.iter().enumerate() {
        let at = at.to_rfc3339();
        // Both instances take the same minute at the same moment.
        let mut instances = [
            fixture.worker_with(30, &["--once", "--now", &at]),
            fixture.worker_with(30, &["--once", "--now", &at]),
        ];
        for instance in &mut instances {
            let status = instance.wait().unwrap();
            assert!(status.success(), "pass {i}: {status}");
        }
        let runs = fixture.store.sync_runs(job.id, 100).await.unwrap();
        assert_eq!(runs.len(), i + 1, "after pass {i} at {at}: {runs:#?}");
    }
    let runs = fixture.store.sync_runs(job.id, 100).await.unwrap();
    assert!(
        runs.iter().all(|r| r
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no bot token"))),
        "{runs:#?}"
    );
    assert_eq!(
        fixture.store.last_cron_tick(job.id).await.unwrap(),
        Some(passes[3].duration_trunc(TimeDelta::minutes(1)).unwrap()),
        "after the downtime only the latest missed tick ran"
    );
}

#[tokio::test]
async fn killing_the_worker_mid_list_send_reaches_all_10000_and_duplicates_only_batches_in_flight()
{
    const SUBSCRIBERS: usize = 10_000;
    const BATCH: usize = 50;
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let fixture = fixture().await;
    let community = fixture
        .store
        .community(fixture.community)
        .await
        .unwrap()
        .unwrap();
    let mut csv = String::from("email,name,role,email_list\n");
    for i in 0..SUBSCRIBERS {
        csv.push_str(&format!("person{i:05}@example.net,Person {i},member,yes\n"));
    }
    hub_core::roster::import_csv(
        fixture.store.as_ref(),
        &community,
        csv.as_bytes(),
        hub_core::roster::ImportOptions::default(),
        "test",
    )
    .await
    .unwrap();
    let keys = SecretKeys::from_hex_list(&fixture.key).unwrap();
    let list = add(
        fixture.store.as_ref(),
        &keys,
        fixture.community,
        ChannelRequest {
            kind: ChannelKind::EmailList,
            name: "RSE list".into(),
            settings: serde_json::json!({"list_address": "rse@lists.example.org"}),
            secret: None,
            min_interval_ms: 0,
        },
        "test",
    )
    .await
    .unwrap()
    .id;
    fixture.publish(1, list).await;
    let smtp = sink.url();
    let batch = BATCH.to_string();
    let worker = || {
        fixture.worker_env(
            2,
            &[],
            &[
                ("COPHUB_MAIL__SMTP_URL", smtp.as_str()),
                ("COPHUB_OUTBOX__RECIPIENT_BATCH", batch.as_str()),
            ],
        )
    };

    for kill in 1..=10 {
        let mut running = worker();
        tokio::time::sleep(Duration::from_millis(300 + jitter(1_000))).await;
        running.kill().unwrap(); // SIGKILL, mid-send
        running.wait().unwrap();
        eprintln!(
            "kill {kill}: {} messages at the server",
            sink.messages().len()
        );
    }
    let mut last = worker();
    fixture.wait_until_sent(1, Duration::from_secs(300)).await;
    last.kill().unwrap();
    last.wait().unwrap();

    let messages = sink.messages();
    let mut per_id = std::collections::HashMap::<String, usize>::new();
    let mut recipients = std::collections::HashSet::new();
    for message in &messages {
        *per_id.entry(message.header("Message-ID")).or_default() += 1;
        recipients.insert(message.rcpt_tos[0].clone());
    }
    let duplicates = messages.len() - per_id.len();
    let announcement = fixture
        .store
        .announcements(fixture.community, 1)
        .await
        .unwrap()
        .remove(0);
    let delivery = fixture.store.deliveries(announcement.id).await.unwrap()[0].id;
    let (counts, _) = fixture.store.recipient_counts(delivery).await.unwrap();
    let counted = counts.possible_duplicates;
    assert_eq!(
        (counts.sent, counts.total),
        (SUBSCRIBERS as u64, SUBSCRIBERS as u64)
    );
    eprintln!(
        "after 10 kills: {} messages, {} distinct Message-IDs, {} recipients, {duplicates} duplicates, {counted} counted as possible duplicates",
        messages.len(),
        per_id.len(),
        recipients.len()
    );
    assert_eq!(
        recipients.len(),
        SUBSCRIBERS,
        "every subscriber got the message"
    );
    assert_eq!(per_id.len(), SUBSCRIBERS, "one Message-ID per subscriber");
    // A kill can duplicate only what was sent and not yet recorded: the
    // batch being recorded and the batch being sent, two at most per kill.
    assert!(duplicates <= 10 * 2 * BATCH, "{duplicates} duplicates");
    assert!(
        counted >= duplicates as u64,
        "every real duplicate was counted as possible ({counted} < {duplicates})"
    );
}
