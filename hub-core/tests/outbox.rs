//! The outbox engine against a scriptable fake channel: one test per class
//! of channel failure, crashes (a lease that runs out), pacing, and
//! scheduled announcements. Time is a `ManualClock`, so retries are
//! reached by moving the clock, not by waiting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use hub_core::{
    announcements::{AnnouncementChange, PublishError, publish, retry_delivery},
    ids::{AnnouncementId, ChannelId},
    model::{
        announcement::{Delivery, DeliveryAction, DeliveryState},
        channel::{ChannelHealth, ChannelKind},
        community::Community,
    },
    outbox::{Outbox, OutboxSettings},
    ports::{
        clock::{Clock, ManualClock, SystemClock},
        store::{Store, StoreError},
    },
    secrets::SecretKeys,
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{Change, FakeChannel, FakeFactory, Scripted},
    fixtures,
};

struct Setup {
    store: Arc<dyn Store>,
    community: Community,
    channel: ChannelId,
    fake: FakeChannel,
    clock: ManualClock,
    _db: TestDatabase,
}

fn settings() -> OutboxSettings {
    OutboxSettings {
        lease: Duration::from_secs(60),
        batch: 50,
        concurrency: 4,
        max_attempts: 3,
        backoff_base: Duration::from_secs(10),
        backoff_max: Duration::from_secs(60),
        idle_poll: Duration::from_millis(10),
        recipient_batch: 50,
        recipient_concurrency: 4,
    }
}

async fn setup(min_interval_ms: u32) -> Setup {
    let db = TestDatabase::from_env().await;
    let store = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    let channel = fixtures::channel(
        store.as_ref(),
        community.id,
        ChannelKind::Webhook,
        min_interval_ms,
    )
    .await;
    Setup {
        store,
        community,
        channel: channel.id,
        fake: FakeChannel::new(),
        clock: ManualClock::new(Utc::now()),
        _db: db,
    }
}

impl Setup {
    fn worker(&self, name: &str) -> Outbox {
        self.worker_with(name, Arc::new(self.clock.clone()))
    }

    fn worker_with(&self, name: &str, clock: Arc<dyn Clock>) -> Outbox {
        Outbox::new(
            self.store.clone(),
            Arc::new(FakeFactory(self.fake.clone())),
            Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
            clock,
            settings(),
            name.into(),
        )
    }

    async fn publish(&self, title: &str) -> AnnouncementId {
        publish(
            self.store.as_ref(),
            self.clock.now(),
            self.community.id,
            title,
            "Body",
            vec![self.channel],
            None,
            "test",
        )
        .await
        .unwrap()
        .0
        .id
    }

    async fn delivery(&self, announcement: AnnouncementId) -> Delivery {
        self.store
            .deliveries(announcement)
            .await
            .unwrap()
            .pop()
            .unwrap()
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }
}

#[tokio::test]
async fn an_announcement_is_delivered_once_and_its_reference_kept() {
    let s = setup(0).await;
    let id = s.publish("Hello").await;
    let worker = s.worker("w");
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0, "nothing left to do");
    let delivery = s.delivery(id).await;
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(delivery.remote_ref, Some(format!("ref-{}", delivery.id)));
    assert_eq!(
        s.fake.posts(),
        vec![(delivery.id.to_string(), "Hello".to_owned())]
    );
}

#[tokio::test]
async fn a_rate_limit_holds_the_whole_channel_until_retry_after_and_spends_no_attempt() {
    let s = setup(0).await;
    s.fake
        .script([Scripted::RateLimited(Duration::from_secs(30))]);
    let first = s.publish("First").await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let waiting = s.delivery(first).await;
    assert_eq!(
        (waiting.state, waiting.attempts),
        (DeliveryState::RetryWait, 0)
    );
    let second = s.publish("Second").await;
    s.advance(29);
    assert_eq!(
        worker.run_once().await.unwrap(),
        0,
        "nothing is sent before Retry-After ends"
    );
    assert_eq!(s.fake.attempts(), 1);
    s.advance(2);
    assert_eq!(worker.run_once().await.unwrap(), 2);
    assert_eq!(s.delivery(first).await.state, DeliveryState::Sent);
    assert_eq!(s.delivery(second).await.state, DeliveryState::Sent);
}

#[tokio::test]
async fn server_errors_back_off_and_a_delivery_dies_after_its_attempts() {
    let s = setup(0).await;
    s.fake.script([
        Scripted::Transient,
        Scripted::Transient,
        Scripted::Transient,
        Scripted::Transient,
    ]);
    let id = s.publish("Storm").await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let first = s.delivery(id).await;
    assert_eq!((first.state, first.attempts), (DeliveryState::RetryWait, 1));
    // PostgreSQL keeps microseconds, the clock nanoseconds: the stored time
    // may read up to a microsecond early.
    let wait = (first.next_attempt_at.unwrap() - s.clock.now())
        .num_microseconds()
        .unwrap();
    assert!(
        (999_999..=10_000_000).contains(&wait),
        "backs off within the first ceiling: {wait} µs"
    );
    for _ in 0..2 {
        s.advance(61);
        worker.run_once().await.unwrap();
    }
    let dead = s.delivery(id).await;
    assert_eq!((dead.state, dead.attempts), (DeliveryState::Dead, 3));
    assert!(dead.last_error.unwrap().contains("503"));
    s.advance(3600);
    assert_eq!(worker.run_once().await.unwrap(), 0, "the dead stay dead");
    assert_eq!(s.fake.attempts(), 3);
}

#[tokio::test]
async fn a_revoked_token_parks_the_channel_until_it_is_reconnected() {
    let s = setup(0).await;
    s.fake.script([Scripted::Auth]);
    let id = s.publish("Hello").await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let parked = s.delivery(id).await;
    assert_eq!(
        (parked.state, parked.attempts),
        (DeliveryState::RetryWait, 0)
    );
    let channel = s
        .store
        .channels(s.community.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(matches!(
        channel.health,
        ChannelHealth::NeedsReconnect { .. }
    ));
    s.advance(3600);
    assert_eq!(
        worker.run_once().await.unwrap(),
        0,
        "nothing is retried until the channel is reconnected"
    );
    s.store
        .set_channel_health(s.channel, &ChannelHealth::Ok)
        .await
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(s.delivery(id).await.state, DeliveryState::Sent);
}

#[tokio::test]
async fn a_refusal_fails_at_once_and_is_not_retried_until_a_lead_asks() {
    let s = setup(0).await;
    s.fake.script([Scripted::Permanent]);
    let id = s.publish("Bad blocks").await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let failed = s.delivery(id).await;
    assert_eq!(failed.state, DeliveryState::Failed);
    assert!(failed.last_error.unwrap().contains("invalid_blocks"));
    s.advance(3600);
    assert_eq!(worker.run_once().await.unwrap(), 0);

    // The lead fixed the cause and presses "retry".
    let retried = retry_delivery(s.store.as_ref(), s.clock.now(), id, failed.id, "user:lead")
        .await
        .unwrap();
    assert_eq!(
        (retried.state, retried.attempts),
        (DeliveryState::Pending, 0)
    );
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(s.delivery(id).await.state, DeliveryState::Sent);
    let again = retry_delivery(s.store.as_ref(), s.clock.now(), id, failed.id, "user:lead")
        .await
        .unwrap_err();
    assert!(
        matches!(again, StoreError::Conflict(_)),
        "a sent delivery is not sent again"
    );
    let audit = s.store.audit_events(0, 100).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "delivery.retry" && e.community_id == Some(s.community.id))
    );
}

#[tokio::test]
async fn a_lost_answer_is_settled_by_looking_where_the_channel_allows_it() {
    let s = setup(0).await;
    s.fake.set_lookups(true);
    s.fake.script([Scripted::AmbiguousAfterPosting]);
    let id = s.publish("Hello").await;
    s.worker("w").run_once().await.unwrap();
    let delivery = s.delivery(id).await;
    assert_eq!(
        (delivery.state, delivery.possible_duplicates),
        (DeliveryState::Sent, 0)
    );
    assert_eq!(s.fake.posts().len(), 1, "found, not posted again");
}

#[tokio::test]
async fn a_lost_answer_where_nothing_can_be_looked_up_is_retried_and_counted_as_a_possible_duplicate()
 {
    let s = setup(0).await;
    s.fake.script([Scripted::AmbiguousAfterPosting]);
    let id = s.publish("Hello").await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let waiting = s.delivery(id).await;
    assert_eq!(
        (waiting.state, waiting.possible_duplicates),
        (DeliveryState::RetryWait, 1)
    );
    s.advance(61);
    worker.run_once().await.unwrap();
    assert_eq!(s.delivery(id).await.state, DeliveryState::Sent);
    assert_eq!(
        s.fake.posts().len(),
        2,
        "the duplicate really happened, and was counted"
    );
    assert_eq!(
        s.store.outbox_summary().await.unwrap().possible_duplicates,
        1
    );
}

#[tokio::test]
async fn a_crashed_workers_lease_runs_out_and_another_worker_delivers() {
    let s = setup(0).await;
    let id = s.publish("Hello").await;
    let now = s.clock.now();
    // A worker claims and dies without a word.
    let claimed = s
        .store
        .claim_deliveries("dead-worker", now, now + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let survivor = s.worker("survivor");
    assert_eq!(
        survivor.run_once().await.unwrap(),
        0,
        "the lease still holds"
    );
    s.advance(61);
    assert_eq!(survivor.run_once().await.unwrap(), 1);
    let delivery = s.delivery(id).await;
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(
        delivery.possible_duplicates, 1,
        "the dead worker may have sent it"
    );
}

#[tokio::test]
async fn the_pace_holds_between_two_workers() {
    let s = setup(200).await;
    for i in 0..5 {
        s.publish(&format!("n{i}")).await;
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (a, b) = (s.worker_with("a", clock.clone()), s.worker_with("b", clock));
    let started = std::time::Instant::now();
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(ra.unwrap() + rb.unwrap(), 5);
    // Five sends 200 ms apart take at least 800 ms, whichever worker sends them.
    assert!(
        started.elapsed() >= Duration::from_millis(790),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.fake.posts().len(), 5);
}

#[tokio::test]
async fn a_scheduled_announcement_waits_for_its_time() {
    let s = setup(0).await;
    let at = s.clock.now() + chrono::Duration::hours(2);
    let (announcement, _) = publish(
        s.store.as_ref(),
        s.clock.now(),
        s.community.id,
        "Later",
        "",
        vec![s.channel],
        Some(at),
        "test",
    )
    .await
    .unwrap();
    let worker = s.worker("w");
    s.advance(7199);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    s.advance(2);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(s.delivery(announcement.id).await.state, DeliveryState::Sent);
}

#[tokio::test]
async fn bad_announcements_are_refused_before_anything_is_written() {
    let s = setup(0).await;
    for (title, targets) in [
        ("", vec![s.channel]),
        ("Line\nbreak", vec![s.channel]),
        ("No target", vec![]),
    ] {
        assert!(
            publish(
                s.store.as_ref(),
                s.clock.now(),
                s.community.id,
                title,
                "",
                targets,
                None,
                "t"
            )
            .await
            .is_err()
        );
    }
    let unknown = publish(
        s.store.as_ref(),
        s.clock.now(),
        s.community.id,
        "T",
        "",
        vec![ChannelId::new()],
        None,
        "t",
    )
    .await;
    assert!(unknown.is_err());
    assert!(s.store.outbox_summary().await.unwrap().by_state.is_empty());
}

async fn change(
    s: &Setup,
    id: AnnouncementId,
    change: AnnouncementChange,
) -> Result<Vec<Delivery>, PublishError> {
    hub_core::announcements::change(s.store.as_ref(), s.clock.now(), id, change, "test")
        .await
        .map(|(_, deliveries)| deliveries)
}

fn edit(title: &str) -> AnnouncementChange {
    AnnouncementChange::Edit {
        title: title.into(),
        body_markdown: "New body".into(),
    }
}

fn of(deliveries: &[Delivery], action: DeliveryAction) -> Vec<DeliveryState> {
    deliveries
        .iter()
        .filter(|d| d.action == action)
        .map(|d| d.state)
        .collect()
}

#[tokio::test]
async fn an_edit_before_the_post_goes_out_changes_the_post_and_queues_nothing() {
    let s = setup(0).await;
    let id = s.publish("Draft").await;
    let deliveries = change(&s, id, edit("Final")).await.unwrap();
    assert_eq!(of(&deliveries, DeliveryAction::Edit), []);
    s.worker("w").run_once().await.unwrap();
    assert_eq!(s.fake.posts()[0].1, "Final");
    assert!(s.fake.changes().is_empty());
}

#[tokio::test]
async fn an_edit_after_the_post_is_sent_through_the_adapter_once_however_many_edits_wait() {
    let s = setup(0).await;
    let id = s.publish("Call on Friday").await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let post = s.delivery(id).await;
    let remote_ref = post.remote_ref.clone().unwrap();

    let deliveries = change(&s, id, edit("Call on Monday")).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Edit),
        [DeliveryState::Pending]
    );
    // A second edit before the first went out: the waiting edit sends the newest text.
    let deliveries = change(&s, id, edit("Call on Tuesday")).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Edit),
        [DeliveryState::Pending]
    );
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(
        s.fake.changes(),
        [Change::Edited {
            remote_ref: remote_ref.clone(),
            title: "Call on Tuesday".into(),
            revision: 3,
        }]
    );
    // A later edit is a new delivery, sent in its turn.
    change(&s, id, edit("Call on Wednesday")).await.unwrap();
    worker.run_once().await.unwrap();
    let deliveries = s.store.deliveries(id).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Edit),
        [DeliveryState::Sent, DeliveryState::Sent]
    );
    assert_eq!(s.fake.posts().len(), 1, "edits never post again");
    assert_eq!(s.fake.changes().len(), 2);
}

#[tokio::test]
async fn an_edit_of_a_post_in_flight_waits_for_it_and_a_failed_edit_retries() {
    let s = setup(0).await;
    let id = s.publish("Hello").await;
    // The post fails for now, then the edit's first try hits a 5xx.
    s.fake.script([Scripted::Transient]);
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    assert_eq!(s.delivery(id).await.state, DeliveryState::RetryWait);
    // Waiting to retry counts as not out: the retry carries the new text.
    let deliveries = change(&s, id, edit("Hello again")).await.unwrap();
    assert_eq!(of(&deliveries, DeliveryAction::Edit), []);
    s.advance(120);
    worker.run_once().await.unwrap();
    assert_eq!(s.fake.posts()[0].1, "Hello again");

    s.fake.script([Scripted::Transient]);
    change(&s, id, edit("Third text")).await.unwrap();
    worker.run_once().await.unwrap();
    let deliveries = s.store.deliveries(id).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Edit),
        [DeliveryState::RetryWait]
    );
    s.advance(120);
    worker.run_once().await.unwrap();
    let deliveries = s.store.deliveries(id).await.unwrap();
    assert_eq!(of(&deliveries, DeliveryAction::Edit), [DeliveryState::Sent]);
    assert_eq!(s.fake.changes().len(), 1);
}

#[tokio::test]
async fn a_retraction_cancels_what_has_not_gone_out_and_takes_down_what_has() {
    let s = setup(0).await;
    let unsent = s.publish("Not yet").await;
    let deliveries = change(&s, unsent, AnnouncementChange::Retract)
        .await
        .unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Post),
        [DeliveryState::Cancelled]
    );
    assert_eq!(of(&deliveries, DeliveryAction::Retract), []);
    let worker = s.worker("w");
    assert_eq!(worker.run_once().await.unwrap(), 0, "nothing to send");
    assert!(s.fake.posts().is_empty());

    let sent = s.publish("Out there").await;
    worker.run_once().await.unwrap();
    let remote_ref = s.delivery(sent).await.remote_ref.unwrap();
    // An edit still waiting is not needed once the post comes down.
    s.fake.script([Scripted::Transient]);
    change(&s, sent, edit("Edited")).await.unwrap();
    worker.run_once().await.unwrap();
    let deliveries = change(&s, sent, AnnouncementChange::Retract).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Edit),
        [DeliveryState::Cancelled]
    );
    assert_eq!(
        of(&deliveries, DeliveryAction::Retract),
        [DeliveryState::Pending]
    );
    worker.run_once().await.unwrap();
    assert_eq!(
        s.fake.changes(),
        [Change::Retracted { remote_ref }],
        "the failed edit never went through; the retraction did"
    );

    // Retracted is final.
    let again = change(&s, sent, edit("Back?")).await.unwrap_err();
    assert!(
        matches!(again, PublishError::Store(StoreError::Conflict(_))),
        "{again:?}"
    );
    let twice = change(&s, sent, AnnouncementChange::Retract)
        .await
        .unwrap_err();
    assert!(matches!(
        twice,
        PublishError::Store(StoreError::Conflict(_))
    ));
    let bad = change(&s, s.publish("x").await, edit(""))
        .await
        .unwrap_err();
    assert!(matches!(bad, PublishError::Title), "{bad:?}");
}

#[tokio::test]
async fn a_retraction_queued_while_the_post_is_in_flight_waits_for_the_post() {
    let s = setup(0).await;
    let id = s.publish("In flight").await;
    // A worker claims the post and dies: it stays `sending` until its lease ends.
    s.store
        .claim_deliveries(
            "crashed",
            s.clock.now(),
            s.clock.now() + chrono::Duration::seconds(60),
            10,
        )
        .await
        .unwrap();
    let deliveries = change(&s, id, AnnouncementChange::Retract).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Post),
        [DeliveryState::Sending]
    );
    assert_eq!(
        of(&deliveries, DeliveryAction::Retract),
        [DeliveryState::Pending]
    );
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let deliveries = s.store.deliveries(id).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Retract),
        [DeliveryState::RetryWait],
        "waits for the post, spending no attempt"
    );
    assert!(s.fake.changes().is_empty());
    // The lease runs out; the post is re-sent, then taken down.
    s.advance(61);
    worker.run_once().await.unwrap();
    s.advance(1);
    worker.run_once().await.unwrap();
    let deliveries = s.store.deliveries(id).await.unwrap();
    assert_eq!(of(&deliveries, DeliveryAction::Post), [DeliveryState::Sent]);
    assert_eq!(
        of(&deliveries, DeliveryAction::Retract),
        [DeliveryState::Sent]
    );
    assert_eq!(s.fake.changes().len(), 1);
    let retract = deliveries
        .iter()
        .find(|d| d.action == DeliveryAction::Retract)
        .unwrap();
    assert_eq!(retract.attempts, 1, "the waits were refunded");
}

#[tokio::test]
async fn a_post_that_never_arrived_cancels_its_edit() {
    let s = setup(0).await;
    let id = s.publish("Refused").await;
    s.store
        .claim_deliveries(
            "crashed",
            s.clock.now(),
            s.clock.now() + chrono::Duration::seconds(60),
            10,
        )
        .await
        .unwrap();
    change(&s, id, edit("Refused, edited")).await.unwrap();
    // The post is refused for good when it is retried.
    s.fake.script([Scripted::Permanent]);
    s.advance(61);
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    s.advance(1);
    worker.run_once().await.unwrap();
    let deliveries = s.store.deliveries(id).await.unwrap();
    assert_eq!(
        of(&deliveries, DeliveryAction::Post),
        [DeliveryState::Failed]
    );
    assert_eq!(
        of(&deliveries, DeliveryAction::Edit),
        [DeliveryState::Cancelled]
    );
}

/// A native-list-like channel (each subscriber gets their own copy) in a
/// community of 300 members, 100 of them subscribed to email.
async fn list_setup() -> (Setup, ChannelId) {
    let s = setup(0).await;
    let plan = hub_core::import::plan_import(
        hub_core::import::parse_csv(fixtures::members_csv(300).as_bytes()).unwrap(),
        &[],
        false,
    )
    .unwrap();
    s.store
        .apply_import(s.community.id, &plan, fixtures::audit())
        .await
        .unwrap();
    let list = fixtures::channel(s.store.as_ref(), s.community.id, ChannelKind::EmailList, 0)
        .await
        .id;
    s.fake.set_per_recipient(true);
    (s, list)
}

impl Setup {
    async fn publish_to(&self, title: &str, channel: ChannelId) -> AnnouncementId {
        publish(
            self.store.as_ref(),
            self.clock.now(),
            self.community.id,
            title,
            "Body",
            vec![channel],
            None,
            "test",
        )
        .await
        .unwrap()
        .0
        .id
    }

    fn distinct_copies(&self) -> usize {
        let keys: std::collections::HashSet<String> =
            self.fake.copies().into_iter().map(|(key, _)| key).collect();
        keys.len()
    }
}

#[tokio::test]
async fn a_list_delivery_sends_each_subscriber_their_own_copy_in_batches() {
    let (s, list) = list_setup().await;
    let id = s.publish_to("Newsletter", list).await;
    assert_eq!(s.worker("w").run_once().await.unwrap(), 1);
    let delivery = s.delivery(id).await;
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(delivery.remote_ref.as_deref(), Some("100 recipients"));
    let copies = s.fake.copies();
    assert_eq!(copies.len(), 100);
    assert_eq!(s.distinct_copies(), 100);
    // Only the subscribed (every third person in the fixture) get one.
    assert!(copies.iter().all(|(_, email)| {
        let n: usize = email[6..12].parse().unwrap();
        n.is_multiple_of(3)
    }));
    let (counts, _) = s.store.recipient_counts(delivery.id).await.unwrap();
    assert_eq!((counts.total, counts.sent), (100, 100));
    assert_eq!(s.fake.posts().len(), 0, "no single post for everyone");
}

#[tokio::test]
async fn a_retry_resends_only_the_recipients_that_failed() {
    let (s, list) = list_setup().await;
    s.fake.script([Scripted::Transient, Scripted::Permanent]);
    let id = s.publish_to("Newsletter", list).await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let waiting = s.delivery(id).await;
    assert_eq!(waiting.state, DeliveryState::RetryWait, "{waiting:?}");
    assert_eq!(s.fake.copies().len(), 98);

    s.advance(61);
    worker.run_once().await.unwrap();
    let failed = s.delivery(id).await;
    assert_eq!(failed.state, DeliveryState::Failed);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("1 of 100 recipients could not be reached")
    );
    assert_eq!(
        s.fake.copies().len(),
        99,
        "the transient one went out, alone"
    );

    retry_delivery(s.store.as_ref(), s.clock.now(), id, failed.id, "user:lead")
        .await
        .unwrap();
    worker.run_once().await.unwrap();
    assert_eq!(s.delivery(id).await.state, DeliveryState::Sent);
    assert_eq!(s.fake.copies().len(), 100, "the refused one, alone");
    assert_eq!(s.distinct_copies(), 100);
}

#[tokio::test]
async fn a_crash_mid_list_resends_at_most_the_batch_in_flight_and_counts_it() {
    let (s, list) = list_setup().await;
    let id = s.publish_to("Newsletter", list).await;
    // A worker claims the delivery and a batch of 50 recipients, sends 10
    // of them, and dies.
    let lease = s.clock.now() + chrono::Duration::seconds(60);
    let claimed = s
        .store
        .claim_deliveries("crashed", s.clock.now(), lease, 10)
        .await
        .unwrap();
    let delivery = claimed[0].delivery.id;
    use hub_core::model::member::ConsentChannel;
    s.store
        .expand_recipients(delivery, ConsentChannel::Email, s.clock.now())
        .await
        .unwrap();
    let batch = s
        .store
        .claim_recipients(
            delivery,
            ConsentChannel::Email,
            "crashed",
            s.clock.now(),
            lease,
            50,
        )
        .await
        .unwrap();
    assert_eq!(batch.len(), 50);
    use hub_core::ports::adapter::ChannelAdapter;
    for recipient in &batch[..10] {
        s.fake
            .post_to(
                &claimed[0].announcement,
                recipient,
                &recipient.idempotency_key(),
            )
            .await
            .unwrap();
    }
    // Another worker finds nothing until the leases run out, then finishes.
    let worker = s.worker("w");
    assert_eq!(worker.run_once().await.unwrap(), 0);
    s.advance(61);
    worker.run_once().await.unwrap();
    assert_eq!(s.delivery(id).await.state, DeliveryState::Sent);
    assert_eq!(s.distinct_copies(), 100, "everyone got theirs");
    let duplicates = s.fake.copies().len() - 100;
    assert_eq!(
        duplicates, 10,
        "only the sends of the batch in flight were repeated"
    );
    let (counts, _) = s.store.recipient_counts(delivery).await.unwrap();
    assert_eq!(
        counts.possible_duplicates, 50,
        "the whole batch in flight is counted as possible duplicates"
    );
}

#[tokio::test]
async fn a_rate_limit_stops_the_list_and_people_who_opt_out_meanwhile_get_nothing() {
    let (s, list) = list_setup().await;
    s.fake
        .script([Scripted::RateLimited(Duration::from_secs(30))]);
    let id = s.publish_to("Newsletter", list).await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let sent_first = s.fake.copies().len();
    assert!(
        sent_first <= 3,
        "at most the sends already under way went out: {sent_first}"
    );
    assert_eq!(s.delivery(id).await.state, DeliveryState::RetryWait);
    // Before the pause ends, everyone not yet reached opts out but five.
    let reached: std::collections::HashSet<String> = s
        .fake
        .copies()
        .into_iter()
        .map(|(_, email)| email)
        .collect();
    let mut kept = 0;
    for member in s.store.all_members(s.community.id).await.unwrap() {
        use hub_core::model::member::{ConsentChannel, ConsentSource, ConsentStatus, MemberUpdate};
        if member.consent(ConsentChannel::Email) != ConsentStatus::Subscribed
            || reached.contains(&member.email.to_string())
        {
            continue;
        }
        if kept < 5 {
            kept += 1;
            continue;
        }
        let update = MemberUpdate {
            consents: vec![(
                ConsentChannel::Email,
                ConsentStatus::OptedOut,
                ConsentSource::Member,
            )],
            ..MemberUpdate::default()
        };
        s.store
            .update_member(s.community.id, member.id, update, fixtures::audit())
            .await
            .unwrap();
    }
    s.advance(15);
    assert_eq!(worker.run_once().await.unwrap(), 0, "the channel is paused");
    s.advance(16);
    worker.run_once().await.unwrap();
    let delivery = s.delivery(id).await;
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(s.fake.copies().len(), sent_first + 5);
    let (counts, _) = s.store.recipient_counts(delivery.id).await.unwrap();
    assert_eq!(counts.cancelled, 100 - sent_first as u64 - 5);
}

#[tokio::test]
async fn a_token_revoked_mid_list_parks_the_channel_and_spends_no_attempt() {
    let (s, list) = list_setup().await;
    s.fake.script([Scripted::Auth]);
    let id = s.publish_to("Newsletter", list).await;
    let worker = s.worker("w");
    worker.run_once().await.unwrap();
    let sent_first = s.fake.copies().len();
    assert!(sent_first <= 3, "{sent_first}");
    let channel = s
        .store
        .channels(s.community.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == list)
        .unwrap();
    assert!(matches!(
        channel.health,
        ChannelHealth::NeedsReconnect { .. }
    ));
    s.advance(3600);
    assert_eq!(
        worker.run_once().await.unwrap(),
        0,
        "nothing is sent until it is reconnected"
    );
    let delivery = s.delivery(id).await;
    assert_eq!(delivery.state, DeliveryState::RetryWait);
    let (counts, _) = s.store.recipient_counts(delivery.id).await.unwrap();
    assert_eq!(counts.waiting, 100 - sent_first as u64);
    assert_eq!(counts.failed, 0);
}
