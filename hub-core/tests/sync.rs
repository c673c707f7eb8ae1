//! Membership sync runs against a scriptable fake channel: complete reads,
//! guardrails, consent, idempotent apply, and every failure that must leave
//! the hub and the channel untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Utc;
use hub_core::{
    Email,
    ids::ChannelId,
    model::{
        channel::{ChannelHealth, ChannelKind, NewChannel},
        community::Community,
        member::{CommunityRole, ConsentChannel, ConsentStatus, NewMember},
        sync::{NewSyncJob, SyncDirection, SyncRunState},
    },
    ports::{clock::ManualClock, store::Store},
    secrets::SecretKeys,
    sync::{Hold, RunMode, SyncEngine, SyncError},
};
use hub_testkit::{
    database::TestDatabase,
    fake_adapter::{FakeChannel, FakeFactory, Scripted},
    fixtures::{self, audit},
};

struct Setup {
    store: Arc<dyn Store>,
    community: Community,
    channel: ChannelId,
    fake: FakeChannel,
    engine: SyncEngine,
    _db: TestDatabase,
}

async fn setup(direction: SyncDirection) -> Setup {
    let db = TestDatabase::from_env().await;
    let store = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    let channel = fixtures::channel(store.as_ref(), community.id, ChannelKind::Slack, 0)
        .await
        .id;
    let job = NewSyncJob {
        direction,
        cron: "@daily".into(),
        max_remove_fraction: 0.10,
        max_remove_count: 3,
    };
    store.create_sync_job(channel, job, audit()).await.unwrap();
    let fake = FakeChannel::new();
    let engine = SyncEngine::new(
        store.clone(),
        Arc::new(FakeFactory(fake.clone())),
        Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
        Arc::new(ManualClock::new(Utc::now())),
    );
    Setup {
        store,
        community,
        channel,
        fake,
        engine,
        _db: db,
    }
}

impl Setup {
    async fn hub_size(&self) -> usize {
        self.store
            .all_members(self.community.id)
            .await
            .unwrap()
            .len()
    }

    async fn slack_subscribed(&self) -> usize {
        let members = self.store.all_members(self.community.id).await.unwrap();
        members
            .iter()
            .filter(|m| m.consent(ConsentChannel::Slack) == ConsentStatus::Subscribed)
            .count()
    }

    async fn add_hub_member(&self, email: &str, slack: Option<ConsentStatus>) {
        let member = self
            .store
            .create_member(
                self.community.id,
                NewMember {
                    email: Email::parse(email).unwrap(),
                    name: email.into(),
                    role: CommunityRole::Member,
                    email_consent: None,
                },
                audit(),
            )
            .await
            .unwrap();
        if let Some(status) = slack {
            self.store
                .update_member(
                    self.community.id,
                    member.id,
                    hub_core::model::member::MemberUpdate {
                        consents: vec![(
                            ConsentChannel::Slack,
                            status,
                            hub_core::model::member::ConsentSource::Member,
                        )],
                        ..Default::default()
                    },
                    audit(),
                )
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn an_import_adds_people_with_slack_consent_only_and_a_second_run_changes_nothing() {
    let s = setup(SyncDirection::Import).await;
    s.fake.set_members(fixtures::remote_people(0..250), 100);
    let run = s.engine.run(s.channel, RunMode::Apply).await.unwrap();
    assert_eq!(run.state, SyncRunState::Applied, "{:?}", run.error);
    assert_eq!((run.counts.added, run.counts.api_calls), (250, 3));
    assert_eq!(s.hub_size().await, 250);
    let members = s.store.all_members(s.community.id).await.unwrap();
    assert!(
        members
            .iter()
            .all(|m| m.consent(ConsentChannel::Email) == ConsentStatus::None),
        "not subscribed to email"
    );
    assert_eq!(s.slack_subscribed().await, 250);

    let again = s.engine.run(s.channel, RunMode::Apply).await.unwrap();
    assert_eq!(
        (
            again.counts.added,
            again.counts.updated,
            again.counts.unchanged
        ),
        (0, 0, 250)
    );
    let runs = s.store.sync_runs(run.job_id, 10).await.unwrap();
    assert_eq!(runs.len(), 2, "every run is kept");
    let kept = s.store.sync_run(again.id).await.unwrap().unwrap();
    assert_eq!((kept.job_id, kept.counts), (again.job_id, again.counts));
    assert!(
        s.store
            .sync_run(hub_core::ids::SyncRunId::new())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_read_that_fails_on_page_three_changes_nothing() {
    let s = setup(SyncDirection::Import).await;
    s.fake.set_members(fixtures::remote_people(0..250), 100);
    s.fake.fail_page(3, Scripted::Transient);
    let run = s.engine.run(s.channel, RunMode::Apply).await.unwrap();
    assert_eq!(run.state, SyncRunState::Failed);
    assert!(run.error.unwrap().contains("nothing was changed"));
    assert_eq!(s.hub_size().await, 0, "two good pages are not the truth");
}

#[tokio::test]
async fn a_token_revoked_while_reading_parks_the_channel() {
    let s = setup(SyncDirection::Mirror).await;
    s.fake.set_members(fixtures::remote_people(0..50), 20);
    s.fake.fail_page(2, Scripted::Auth);
    let run = s.engine.run(s.channel, RunMode::Apply).await.unwrap();
    assert_eq!(run.state, SyncRunState::Failed);
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
    assert_eq!(s.hub_size().await, 0);
    assert_eq!(s.fake.member_changes(), 0);
}

#[tokio::test]
async fn a_token_revoked_mid_apply_stops_before_any_removal() {
    let s = setup(SyncDirection::Export).await;
    s.add_hub_member("p0@example.org", Some(ConsentStatus::Subscribed))
        .await;
    s.add_hub_member("new1@example.org", Some(ConsentStatus::Subscribed))
        .await;
    s.add_hub_member("new2@example.org", Some(ConsentStatus::Subscribed))
        .await;
    s.add_hub_member("p1@example.org", Some(ConsentStatus::OptedOut))
        .await;
    s.fake.set_members(fixtures::remote_people(0..40), 100);
    s.fake
        .script_member_changes([Scripted::Accept, Scripted::Auth]);
    let run = s
        .engine
        .run(
            s.channel,
            RunMode::ApplyApproved(Hold::TooManyRemovals {
                side: "channel",
                removals: 100,
                of: 100,
            }),
        )
        .await
        .unwrap();
    assert_eq!(run.state, SyncRunState::Failed);
    assert_eq!(
        (run.counts.added, run.counts.removed, run.counts.errors),
        (1, 0, 1)
    );
    assert_eq!(
        s.fake.members().len(),
        41,
        "one add went through, no removal did"
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
}

#[tokio::test]
async fn an_empty_channel_where_the_last_run_saw_members_is_held() {
    let s = setup(SyncDirection::Import).await;
    s.fake.set_members(fixtures::remote_people(0..5), 100);
    assert_eq!(
        s.engine.run(s.channel, RunMode::Apply).await.unwrap().state,
        SyncRunState::Applied
    );
    s.fake.set_members(Vec::new(), 100);
    let run = s.engine.run(s.channel, RunMode::Apply).await.unwrap();
    assert_eq!(run.state, SyncRunState::Held);
    assert_eq!(run.plan["held"]["reason"], "empty_side");
    assert_eq!(s.slack_subscribed().await, 5, "nothing was applied");
}

#[tokio::test]
async fn five_losing_one_is_applied_and_a_thousand_losing_two_hundred_is_held_until_approved() {
    let small = setup(SyncDirection::Import).await;
    small.fake.set_members(fixtures::remote_people(0..5), 100);
    small
        .engine
        .run(small.channel, RunMode::Apply)
        .await
        .unwrap();
    small.fake.set_members(fixtures::remote_people(0..4), 100);
    let run = small
        .engine
        .run(small.channel, RunMode::Apply)
        .await
        .unwrap();
    assert_eq!((run.state, run.counts.removed), (SyncRunState::Applied, 1));
    assert_eq!(small.slack_subscribed().await, 4);

    let large = setup(SyncDirection::Import).await;
    large
        .fake
        .set_members(fixtures::remote_people(0..1000), 300);
    large
        .engine
        .run(large.channel, RunMode::Apply)
        .await
        .unwrap();
    large.fake.set_members(fixtures::remote_people(0..800), 300);
    let held = large
        .engine
        .run(large.channel, RunMode::Apply)
        .await
        .unwrap();
    assert_eq!(held.state, SyncRunState::Held);
    assert_eq!(held.plan["held"]["removals"], 200);
    assert_eq!(
        large.slack_subscribed().await,
        1000,
        "held: nothing applied"
    );
    let dry = large
        .engine
        .run(large.channel, RunMode::DryRun)
        .await
        .unwrap();
    assert_eq!(dry.state, SyncRunState::Planned);
    assert_eq!(
        large.slack_subscribed().await,
        1000,
        "a dry run changes nothing"
    );
    // A discarded plan stays on record, and the next run plans afresh.
    let discarded = large
        .engine
        .discard_held(large.channel)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        discarded.id, held.id,
        "the held run, not the dry run after it"
    );
    assert!(
        large
            .engine
            .discard_held(large.channel)
            .await
            .unwrap()
            .is_none()
    );
    let runs = large.store.sync_runs(held.job_id, 10).await.unwrap();
    assert!(
        runs.iter()
            .any(|r| r.id == held.id && r.state == SyncRunState::Discarded)
    );
    // Nothing is held any more, so there is nothing to approve.
    assert!(matches!(
        large.engine.approve_held(large.channel).await,
        Err(SyncError::NothingHeld(_))
    ));
    let held_again = large
        .engine
        .run(large.channel, RunMode::Apply)
        .await
        .unwrap();
    assert_eq!(held_again.state, SyncRunState::Held);
    // More people leave before the lead approves: an approval of 200
    // removals does not cover 300, so the fresh plan is held in its turn.
    large.fake.set_members(fixtures::remote_people(0..700), 300);
    let grown = large.engine.approve_held(large.channel).await.unwrap();
    assert_eq!(grown.state, SyncRunState::Held);
    assert_eq!(grown.plan["held"]["removals"], 300);
    assert!(grown.error.is_some(), "the lead is told why");
    assert_eq!(large.slack_subscribed().await, 1000);
    let approved = large.engine.approve_held(large.channel).await.unwrap();
    assert_eq!(
        (approved.state, approved.counts.removed),
        (SyncRunState::Applied, 300)
    );
    assert_eq!(large.slack_subscribed().await, 700);
    assert_eq!(
        large.hub_size().await,
        1000,
        "members are never deleted by a sync"
    );
}

#[tokio::test]
async fn a_mirror_never_resubscribes_an_opt_out_and_removes_them_from_the_channel() {
    let s = setup(SyncDirection::Mirror).await;
    s.add_hub_member("p0@example.org", Some(ConsentStatus::OptedOut))
        .await;
    s.fake.set_members(fixtures::remote_people(0..3), 100);
    let run = s.engine.run(s.channel, RunMode::Apply).await.unwrap();
    assert_eq!(run.state, SyncRunState::Applied, "{:?}", run.error);
    let members = s.store.all_members(s.community.id).await.unwrap();
    let ada = members
        .iter()
        .find(|m| m.email.normalized() == "p0@example.org")
        .unwrap();
    assert_eq!(ada.consent(ConsentChannel::Slack), ConsentStatus::OptedOut);
    assert!(
        s.fake.members().iter().all(|m| m.external_id != "U0"),
        "removed from Slack"
    );
    assert_eq!(s.hub_size().await, 3);
}

#[tokio::test]
async fn two_schedulers_run_each_minute_once_over_three_simulated_minutes_and_catch_up_once() {
    use hub_core::{ports::clock::Clock, sync::Scheduler};
    let s = setup(SyncDirection::Import).await;
    // A second job on the same community, scheduled every minute.
    let channel = s
        .store
        .create_channel(
            s.community.id,
            NewChannel {
                kind: ChannelKind::Zoom,
                name: "zoom".into(),
                settings: serde_json::json!({}),
                encrypted_secret: None,
                min_interval_ms: 0,
            },
            audit(),
        )
        .await
        .unwrap();
    let job = hub_core::sync::schedule_channel(
        s.store.as_ref(),
        &channel,
        SyncDirection::Import,
        "* * * * *",
        hub_core::sync::Guardrails::default(),
        "test",
    )
    .await
    .unwrap();
    s.fake.set_members(fixtures::remote_people(0..3), 100);
    let clock = ManualClock::new(job.created_at);
    let engine = SyncEngine::new(
        s.store.clone(),
        Arc::new(FakeFactory(s.fake.clone())),
        Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
        Arc::new(clock.clone()),
    );
    let a = Scheduler::new(
        s.store.clone(),
        engine.clone(),
        Arc::new(clock.clone()),
        "a".into(),
    );
    let b = Scheduler::new(s.store.clone(), engine, Arc::new(clock.clone()), "b".into());
    // Only the per-minute job's runs count: the daily job of the setup
    // comes due too when the real clock is just before midnight.
    let of_job = |runs: Vec<hub_core::model::sync::SyncRun>| {
        runs.iter().filter(|r| r.job_id == job.id).count()
    };
    let mut ran = 0;
    for _ in 0..3 {
        clock.advance(chrono::Duration::minutes(1));
        let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
        ran += of_job(ra.unwrap()) + of_job(rb.unwrap());
    }
    // The per-minute job ran 3 times, not 6.
    assert_eq!(ran, 3);
    assert_eq!(s.store.sync_runs(job.id, 100).await.unwrap().len(), 3);

    // Down for an hour: the missed ticks run once.
    clock.advance(chrono::Duration::minutes(60));
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(of_job(ra.unwrap()) + of_job(rb.unwrap()), 1);
    assert_eq!(
        s.store
            .last_cron_tick(job.id)
            .await
            .unwrap()
            .unwrap()
            .timestamp()
            % 60,
        0
    );
    assert!(s.store.last_cron_tick(job.id).await.unwrap().unwrap() <= clock.now());

    let bad = hub_core::sync::schedule_channel(
        s.store.as_ref(),
        &channel,
        SyncDirection::Import,
        "every minute",
        hub_core::sync::Guardrails::default(),
        "test",
    )
    .await;
    assert!(bad.unwrap_err().to_string().contains("five fields"));
}

#[tokio::test]
async fn syncing_a_communitys_channels_together_reads_the_hub_once_and_again_after_a_change() {
    let db = TestDatabase::from_env().await;
    let store = hub_store::open(db.url()).await.unwrap();
    let community = fixtures::community(store.as_ref(), "rse").await;
    // Two lists on email consent: one imports its people, the other is fed
    // from the hub.
    let mut fakes = hub_testkit::fake_adapter::FakeChannels::default();
    let mut ids = Vec::new();
    for direction in [SyncDirection::Import, SyncDirection::Export] {
        let channel =
            fixtures::channel(store.as_ref(), community.id, ChannelKind::Mailman, 0).await;
        let job = NewSyncJob {
            direction,
            cron: "@daily".into(),
            max_remove_fraction: 0.10,
            max_remove_count: 3,
        };
        store
            .create_sync_job(channel.id, job, audit())
            .await
            .unwrap();
        fakes.0.insert(channel.id, FakeChannel::new());
        ids.push(channel.id);
    }
    fakes.0[&ids[0]].set_members(fixtures::remote_people(0..10), 100);
    let engine = SyncEngine::new(
        store.clone(),
        Arc::new(fakes.clone()),
        Arc::new(SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap()),
        Arc::new(ManualClock::new(Utc::now())),
    );

    let planned = engine.run_many(&ids, RunMode::DryRun).await;
    let planned: Vec<_> = planned.into_iter().map(Result::unwrap).collect();
    assert_eq!(planned[0].plan["totals"]["hub_adds"], 10);
    assert_eq!(planned[1].plan["totals"]["channel_adds"], 0);
    assert_eq!(store.all_members(community.id).await.unwrap().len(), 0);

    let applied = engine.run_many(&ids, RunMode::Apply).await;
    let applied: Vec<_> = applied.into_iter().map(Result::unwrap).collect();
    assert_eq!(applied[0].counts.added, 10);
    assert_eq!(
        applied[1].counts.added, 10,
        "the second list saw the people the first one brought in"
    );
    assert_eq!(fakes.0[&ids[1]].members().len(), 10);

    let unknown = engine
        .run_many(&[hub_core::ids::ChannelId::new()], RunMode::DryRun)
        .await;
    assert!(matches!(unknown[0], Err(SyncError::NotFound(_))));
}
