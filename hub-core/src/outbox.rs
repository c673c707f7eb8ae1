//! The outbox: announcements become one delivery per target channel, written
//! in the same transaction as the announcement; workers claim due deliveries
//! under a lease, post them through the channel's adapter, and record what
//! happened. A crash leaves `sending` work whose lease runs out; it is claimed
//! again. Delivery is at least once, made effectively once where the channel
//! lets us look ([`ChannelAdapter::find_post`]).
//!
//! The engine acts on the class of an [`AdapterError`] alone:
//! - `RateLimited`: wait as long as asked (the whole channel waits), no attempt spent;
//! - `Transient`: back off with jitter, until the attempts run out (then `dead`);
//! - `Ambiguous`: ask the channel first; where it cannot be asked, retry and
//!   count a possible duplicate;
//! - `Auth`: the channel needs reconnecting; its work waits, no attempt spent;
//! - `Permanent`, `Unsupported`: `failed`, shown to the lead, who may retry.
//!
//! An edit or a retraction is a delivery too, done through the adapter's
//! `edit` / `retract` once the post it changes has gone out (it waits while
//! the post is on its way, and is cancelled if the post never arrived).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::{
    ids::DeliveryId,
    model::{
        announcement::{Announcement, Delivery, DeliveryAction, DeliveryState},
        channel::{Channel, ChannelHealth},
    },
    ports::{
        adapter::{AdapterError, AdapterFactory, ChannelAdapter, Receipt},
        clock::Clock,
        store::{Store, StoreError},
    },
    secrets::SecretKeys,
};

/// How the outbox works.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How long a claim holds before another worker may take the work over.
    pub lease: Duration,
    /// How many deliveries one step claims.
    pub batch: u32,
    /// How many deliveries one worker sends at once.
    pub concurrency: usize,
    /// After this many failed attempts a delivery is dead.
    pub max_attempts: u32,
    /// The first retry waits about this long, doubling each time…
    pub backoff_base: Duration,
    /// …up to this.
    pub backoff_max: Duration,
    /// How long the worker loop sleeps when there is nothing to do.
    pub idle_poll: Duration,
    /// Recipients claimed at a time on a many-recipient channel.
    pub recipient_batch: u32,
    /// How many of them one worker sends at once.
    pub recipient_concurrency: usize,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            batch: 8,
            concurrency: 8,
            max_attempts: 8,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            idle_poll: Duration::from_millis(500),
            recipient_batch: 100,
            recipient_concurrency: 16,
        }
    }
}

/// A delivery a worker holds, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery (already in `sending`, its attempt counted).
    pub delivery: Delivery,
    /// What to send.
    pub announcement: Announcement,
    /// Where to send it.
    pub channel: Channel,
    /// The channel's credentials, still encrypted.
    pub encrypted_secret: Option<String>,
}

/// How a delivery attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Delivered.
    Sent {
        /// The channel's reference.
        remote_ref: String,
        /// The send may have happened twice.
        possible_duplicate: bool,
    },
    /// Try again at `at`.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// What went wrong.
        error: String,
        /// This attempt does not count (rate limits, a channel to reconnect).
        refund_attempt: bool,
        /// The send may have happened (an answer was lost).
        possible_duplicate: bool,
    },
    /// Refused for good; a lead may retry.
    Failed {
        /// Why.
        error: String,
    },
    /// Out of attempts.
    Dead {
        /// The last error.
        error: String,
    },
    /// Not needed any more (an edit or retraction of a post that never
    /// reached the channel).
    Cancelled {
        /// Why.
        reason: String,
    },
}

/// The longest a send to one recipient waits for its slot; a longer wait
/// is a pause (a rate limit), and the recipient is sent later instead.
const MAX_PACE_WAIT: Duration = Duration::from_secs(5);

/// Where the post an edit or retraction changes stands.
enum PostedRef {
    /// Out, with the channel's reference.
    Sent(String),
    /// Not yet: try again soon.
    Later,
    /// It never reached the channel.
    Never,
}

/// One worker of the outbox.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    settings: OutboxSettings,
    worker_id: String,
    refresher: Option<Arc<dyn crate::ports::install::TokenRefresher>>,
}

impl Outbox {
    /// A worker named `worker_id` (unique per process: it owns its leases).
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        adapters: Arc<dyn AdapterFactory>,
        keys: Arc<SecretKeys>,
        clock: Arc<dyn Clock>,
        settings: OutboxSettings,
        worker_id: String,
    ) -> Self {
        Self {
            store,
            adapters,
            keys,
            clock,
            settings,
            worker_id,
            refresher: None,
        }
    }

    /// With the refresher of rotating tokens (Slack's, where the app rotates them).
    #[must_use]
    pub fn with_refresher(
        mut self,
        refresher: Arc<dyn crate::ports::install::TokenRefresher>,
    ) -> Self {
        self.refresher = Some(refresher);
        self
    }

    /// Claims one batch of due deliveries and works through it. Returns how
    /// many were claimed (zero: nothing is due).
    ///
    /// # Errors
    /// [`StoreError`] when the claim itself fails; a failure recording one
    /// delivery's outcome is logged, and its lease runs out and it is retried.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let lease_until = now + chrono_duration(self.settings.lease);
        let claimed = self
            .store
            .claim_deliveries(&self.worker_id, now, lease_until, self.settings.batch)
            .await?;
        let count = claimed.len();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(
            self.settings.concurrency.max(1),
        ));
        // Outcomes go to one recorder, which writes whatever has arrived in
        // one transaction (a group commit): each outcome waits for at most
        // the write before it, not for the rest of the batch.
        let (outcomes, mut arrived) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = tokio::task::JoinSet::new();
        for work in claimed {
            let this = self.clone();
            let permit = semaphore.clone();
            let outcomes = outcomes.clone();
            tasks.spawn(async move {
                let _permit = permit.acquire_owned().await;
                let id = work.delivery.id;
                let finish = this.attempt(&work).await;
                let _ = outcomes.send((id, finish));
            });
        }
        drop(outcomes);
        let mut pending = Vec::new();
        while let Some(first) = arrived.recv().await {
            pending.push(first);
            while let Ok(more) = arrived.try_recv() {
                pending.push(more);
            }
            self.record(&mut pending).await;
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
    }

    /// Writes these outcomes in one transaction, and logs each.
    async fn record(&self, outcomes: &mut Vec<(DeliveryId, Finish)>) {
        match self
            .store
            .finish_deliveries(&self.worker_id, outcomes)
            .await
        {
            Ok(kept) => {
                for ((id, finish), kept) in outcomes.iter().zip(kept) {
                    if kept {
                        tracing::debug!(delivery = %id, outcome = ?finish, "delivery attempt recorded");
                    } else {
                        tracing::warn!(delivery = %id, "the lease ran out before the outcome was recorded");
                    }
                }
            }
            // Their leases run out and they are claimed again.
            Err(error) => {
                tracing::error!(%error, count = outcomes.len(), "could not record delivery outcomes")
            }
        }
        outcomes.clear();
    }

    /// Runs until `shutdown` resolves, sleeping while nothing is due.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.run_once().await {
                Ok(0) => self.settings.idle_poll,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::error!(%error, "the outbox could not claim work");
                    self.settings.idle_poll * 4
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn attempt(&self, work: &ClaimedDelivery) -> Finish {
        let parts = crate::credentials::RefreshParts {
            store: self.store.as_ref(),
            keys: &self.keys,
            refresher: self.refresher.as_deref(),
            owner: &self.worker_id,
            now: self.clock.now(),
        };
        let adapter = match crate::credentials::adapter_for(
            parts,
            self.adapters.as_ref(),
            &work.channel,
            work.encrypted_secret.as_deref(),
        )
        .await
        {
            Ok(adapter) => adapter,
            // Refused: the channel is marked for reconnecting; try again once it is.
            Err(crate::credentials::CredentialError::Refused(error)) => {
                return Finish::Retry {
                    at: self.clock.now(),
                    error,
                    refund_attempt: true,
                    possible_duplicate: false,
                };
            }
            Err(crate::credentials::CredentialError::Store(error)) => {
                return self.retry_after(work.delivery.attempts, error.to_string(), true, false);
            }
            Err(error) => {
                return Finish::Failed {
                    error: error.to_string(),
                };
            }
        };
        if work.delivery.action == DeliveryAction::Post && adapter.capabilities().per_recipient {
            return self.fan_out(work, adapter).await;
        }
        if let Err(error) = self.wait_for_pace(&work.channel).await {
            return self.retry_later(work, error.to_string(), true, false);
        }
        let key = work.delivery.id.to_string();
        let result = match work.delivery.action {
            DeliveryAction::Post => {
                self.with_renewed_lease(work.delivery.id, adapter.post(&work.announcement, &key))
                    .await
            }
            action => {
                let remote_ref = match self.posted_ref(work).await {
                    Ok(PostedRef::Sent(remote_ref)) => remote_ref,
                    Ok(PostedRef::Later) => {
                        return Finish::Retry {
                            at: self.clock.now() + chrono_duration(self.settings.idle_poll * 4),
                            error: "waiting for the post to go out first".into(),
                            refund_attempt: true,
                            possible_duplicate: false,
                        };
                    }
                    Ok(PostedRef::Never) => {
                        return Finish::Cancelled {
                            reason: "the post never reached the channel".into(),
                        };
                    }
                    Err(error) => return self.retry_later(work, error.to_string(), true, false),
                };
                let change = async {
                    if action == DeliveryAction::Edit {
                        adapter.edit(&remote_ref, &work.announcement, &key).await
                    } else {
                        adapter.retract(&remote_ref, &key).await.map(|()| Receipt {
                            remote_ref: remote_ref.clone(),
                            url: None,
                        })
                    }
                };
                self.with_renewed_lease(work.delivery.id, change).await
            }
        };
        self.classify(work, adapter.as_ref(), &key, result).await
    }

    /// Sends a many-recipient delivery person by person. The delivery is
    /// sent when everyone is; it waits while some wait for a retry, and
    /// fails when some were refused for good (a lead's retry resends only
    /// those).
    async fn fan_out(&self, work: &ClaimedDelivery, adapter: Arc<dyn ChannelAdapter>) -> Finish {
        let Some(consent) = crate::sync::consent_channel(work.channel.kind) else {
            return Finish::Failed {
                error: format!("{} channels have no recipients", work.channel.kind),
            };
        };
        let id = work.delivery.id;
        let sent = self
            .with_renewed_lease(id, self.send_to_recipients(work, adapter, consent))
            .await;
        match sent {
            Ok(Some(stop)) => return stop,
            Ok(None) => {}
            Err(error) => return self.retry_later(work, error.to_string(), true, false),
        }
        let (counts, next) = match self.store.recipient_counts(id).await {
            Ok(counts) => counts,
            Err(error) => return self.retry_later(work, error.to_string(), true, false),
        };
        let now = self.clock.now();
        if counts.waiting > 0 {
            return Finish::Retry {
                at: next.unwrap_or(now).max(now),
                error: format!(
                    "{} of {} recipients wait for a retry",
                    counts.waiting, counts.total
                ),
                refund_attempt: true,
                possible_duplicate: false,
            };
        }
        if counts.failed > 0 {
            return Finish::Failed {
                error: format!(
                    "{} of {} recipients could not be reached",
                    counts.failed, counts.total
                ),
            };
        }
        Finish::Sent {
            remote_ref: format!("{} recipients", counts.sent),
            possible_duplicate: false,
        }
    }

    /// Works through the delivery's due recipients a batch at a time, each
    /// batch sent `recipient_concurrency` at once and recorded in one
    /// transaction while the next batch goes out.
    /// `Some` when the channel said to stop (a rate limit, a revoked token).
    async fn send_to_recipients(
        &self,
        work: &ClaimedDelivery,
        adapter: Arc<dyn ChannelAdapter>,
        consent: crate::model::member::ConsentChannel,
    ) -> Result<Option<Finish>, StoreError> {
        let id = work.delivery.id;
        match crate::conferences::channel::conference_of(&work.channel) {
            Some(conference) => {
                self.store
                    .expand_conference_recipients(id, conference, self.clock.now())
                    .await?
            }
            None => {
                self.store
                    .expand_recipients(id, consent, self.clock.now())
                    .await?
            }
        };
        let announcement = Arc::new(work.announcement.clone());
        let mut recording: Option<tokio::task::JoinHandle<Result<u64, StoreError>>> = None;
        loop {
            let now = self.clock.now();
            let batch = self
                .store
                .claim_recipients(
                    id,
                    consent,
                    &self.worker_id,
                    now,
                    now + chrono_duration(self.settings.lease),
                    self.settings.recipient_batch,
                )
                .await?;
            if batch.is_empty() {
                if let Some(previous) = recording.take() {
                    joined(previous.await)?;
                }
                return Ok(None);
            }
            // A channel with no pace between sends is asked once a batch
            // whether it is paused (a write on the database), not once a
            // recipient: at thousands of messages a second that write was
            // most of the work.
            let paced = work.channel.min_interval_ms > 0;
            if !paced {
                let pause = match self.send_slot(&work.channel).await {
                    Ok(wait) if wait <= MAX_PACE_WAIT => {
                        tokio::time::sleep(wait).await;
                        None
                    }
                    Ok(wait) => Some((
                        self.clock.now() + chrono_duration(wait),
                        "not sent: the channel is paused".to_owned(),
                    )),
                    Err(error) => Some((self.clock.now(), error.to_string())),
                };
                if let Some((at, error)) = pause {
                    if let Some(previous) = recording.take() {
                        joined(previous.await)?;
                    }
                    let unsent: Vec<_> = batch
                        .iter()
                        .map(|r| {
                            let finish = Finish::Retry {
                                at,
                                error: error.clone(),
                                refund_attempt: true,
                                possible_duplicate: false,
                            };
                            (r.member_id, finish)
                        })
                        .collect();
                    self.store
                        .finish_recipients(id, &self.worker_id, &unsent, self.clock.now())
                        .await?;
                    continue;
                }
            }
            let semaphore = Arc::new(tokio::sync::Semaphore::new(
                self.settings.recipient_concurrency.max(1),
            ));
            // Set by a rate limit or a revoked token: the sends not yet
            // started go back unsent, their attempt refunded.
            let halted = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut sends = tokio::task::JoinSet::new();
            for recipient in batch {
                let (this, adapter, announcement) =
                    (self.clone(), adapter.clone(), announcement.clone());
                let (permit, channel, halted) =
                    (semaphore.clone(), work.channel.clone(), halted.clone());
                sends.spawn(async move {
                    let _permit = permit.acquire_owned().await;
                    let unsent = |at: DateTime<Utc>, error: String| Finish::Retry {
                        at,
                        error,
                        refund_attempt: true,
                        possible_duplicate: false,
                    };
                    if halted.load(std::sync::atomic::Ordering::SeqCst) {
                        let finish = unsent(
                            this.clock.now(),
                            "not sent: the channel asked us to stop".into(),
                        );
                        return (recipient.member_id, finish, None);
                    }
                    match if paced {
                        this.send_slot(&channel).await
                    } else {
                        Ok(Duration::ZERO)
                    } {
                        // A pace: wait for it.
                        Ok(wait) if wait <= MAX_PACE_WAIT => tokio::time::sleep(wait).await,
                        // A pause (the channel said to slow down): not now.
                        Ok(wait) => {
                            let at = this.clock.now() + chrono_duration(wait);
                            let finish = unsent(at, "not sent: the channel is paused".into());
                            return (recipient.member_id, finish, None);
                        }
                        Err(error) => {
                            let finish = unsent(this.clock.now(), error.to_string());
                            return (recipient.member_id, finish, None);
                        }
                    }
                    if halted.load(std::sync::atomic::Ordering::SeqCst) {
                        let finish = unsent(
                            this.clock.now(),
                            "not sent: the channel asked us to stop".into(),
                        );
                        return (recipient.member_id, finish, None);
                    }
                    let key = recipient.idempotency_key();
                    let result = adapter.post_to(&announcement, &recipient, &key).await;
                    // Stop the others at once, before recording why.
                    if matches!(
                        result,
                        Err(AdapterError::RateLimited { .. } | AdapterError::Auth(_))
                    ) {
                        halted.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    let (finish, stop) =
                        this.classify_recipient(&channel, &recipient, result).await;
                    (recipient.member_id, finish, stop)
                });
            }
            let mut outcomes = Vec::new();
            let mut stop = None;
            while let Some(joined) = sends.join_next().await {
                match joined {
                    Ok((member, finish, halt)) => {
                        outcomes.push((member, finish));
                        stop = stop.or(halt);
                    }
                    // A send that panicked keeps its lease; it runs out and
                    // the recipient is claimed again.
                    Err(error) => {
                        tracing::error!(delivery = %id, %error, "a send failed to finish")
                    }
                }
            }
            // Recorded while the next batch is claimed and sent: the
            // database's time no longer adds to every batch's. The one
            // before is awaited first, so records stay in order and at most
            // two batches are ever unrecorded (what a crash may resend).
            if let Some(previous) = recording.take() {
                joined(previous.await)?;
            }
            let (store, worker, now) =
                (self.store.clone(), self.worker_id.clone(), self.clock.now());
            let record =
                tokio::spawn(
                    async move { store.finish_recipients(id, &worker, &outcomes, now).await },
                );
            if stop.is_some() {
                joined(record.await)?;
                return Ok(stop);
            }
            recording = Some(record);
        }
    }

    /// One recipient's outcome, and the delivery's when the whole channel
    /// must stop (a rate limit holds it; a revoked token parks it).
    async fn classify_recipient(
        &self,
        channel: &Channel,
        recipient: &crate::model::announcement::Recipient,
        result: Result<Receipt, AdapterError>,
    ) -> (Finish, Option<Finish>) {
        crate::metrics::count_adapter_call(channel.kind, "post_to", &result);
        let error = match result {
            Ok(receipt) => {
                return (
                    Finish::Sent {
                        remote_ref: receipt.remote_ref,
                        possible_duplicate: false,
                    },
                    None,
                );
            }
            Err(error) => error,
        };
        let message = error.to_string();
        let now = self.clock.now();
        let pause = |at: DateTime<Utc>| Finish::Retry {
            at,
            error: message.clone(),
            refund_attempt: true,
            possible_duplicate: false,
        };
        match error {
            AdapterError::RateLimited { retry_after } => {
                let until = now + chrono_duration(retry_after);
                if let Err(e) = self.store.hold_channel_until(channel.id, until).await {
                    tracing::warn!(channel = %channel.id, error = %e, "could not pause the channel");
                }
                (pause(until), Some(pause(until)))
            }
            AdapterError::Auth(_) => {
                let health = ChannelHealth::NeedsReconnect {
                    last_error: message.clone(),
                };
                if let Err(e) = self.store.set_channel_health(channel.id, &health).await {
                    tracing::error!(channel = %channel.id, error = %e, "could not mark the channel for reconnecting");
                }
                (pause(now), Some(pause(now)))
            }
            AdapterError::Transient(_) => (
                self.retry_after(recipient.attempts, message, false, false),
                None,
            ),
            // Nothing can be looked up per person: retry, and count it.
            AdapterError::Ambiguous(_) => (
                self.retry_after(recipient.attempts, message, false, true),
                None,
            ),
            AdapterError::Permanent(_) | AdapterError::Unsupported(_) => {
                (Finish::Failed { error: message }, None)
            }
        }
    }

    /// Where the post an edit or retraction changes stands.
    async fn posted_ref(&self, work: &ClaimedDelivery) -> Result<PostedRef, StoreError> {
        let deliveries = self.store.deliveries(work.announcement.id).await?;
        let post = deliveries
            .into_iter()
            .find(|d| d.channel_id == work.delivery.channel_id && d.action == DeliveryAction::Post);
        Ok(match post {
            Some(post) => match (post.state, post.remote_ref) {
                (DeliveryState::Sent, Some(remote_ref)) => PostedRef::Sent(remote_ref),
                (DeliveryState::Pending | DeliveryState::Sending | DeliveryState::RetryWait, _) => {
                    PostedRef::Later
                }
                _ => PostedRef::Never,
            },
            None => PostedRef::Never,
        })
    }

    /// Waits for the channel's next send slot, which the store hands out so
    /// that the pace holds across every worker.
    async fn wait_for_pace(&self, channel: &Channel) -> Result<(), StoreError> {
        let wait = self.send_slot(channel).await?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Reserves the channel's next send slot; how long until it comes.
    async fn send_slot(&self, channel: &Channel) -> Result<Duration, StoreError> {
        let now = self.clock.now();
        let interval = chrono::Duration::milliseconds(i64::from(channel.min_interval_ms));
        let slot = self
            .store
            .reserve_send_slot(channel.id, now, interval)
            .await?;
        Ok((slot - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// Runs `work`, renewing the delivery's lease while it takes long.
    async fn with_renewed_lease<T>(
        &self,
        id: DeliveryId,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(work);
        let every = self.settings.lease / 3;
        loop {
            tokio::select! {
                result = &mut work => return result,
                () = tokio::time::sleep(every) => {
                    let until = self.clock.now() + chrono_duration(self.settings.lease);
                    if let Err(error) = self.store.renew_lease(id, &self.worker_id, until).await {
                        tracing::warn!(delivery = %id, %error, "could not renew a lease");
                    }
                }
            }
        }
    }

    async fn classify(
        &self,
        work: &ClaimedDelivery,
        adapter: &dyn ChannelAdapter,
        key: &str,
        result: Result<Receipt, AdapterError>,
    ) -> Finish {
        crate::metrics::count_adapter_call(
            work.channel.kind,
            work.delivery.action.as_str(),
            &result,
        );
        let error = match result {
            Ok(receipt) => {
                return Finish::Sent {
                    remote_ref: receipt.remote_ref,
                    possible_duplicate: false,
                };
            }
            Err(error) => error,
        };
        let message = error.to_string();
        match error {
            AdapterError::RateLimited { retry_after } => {
                let until = self.clock.now() + chrono_duration(retry_after);
                if let Err(e) = self.store.hold_channel_until(work.channel.id, until).await {
                    tracing::warn!(channel = %work.channel.id, error = %e, "could not pause the channel");
                }
                Finish::Retry {
                    at: until,
                    error: message,
                    refund_attempt: true,
                    possible_duplicate: false,
                }
            }
            AdapterError::Transient(_) => self.retry_later(work, message, false, false),
            // Edits and retractions are safe to repeat: no lookup needed.
            AdapterError::Ambiguous(_) if work.delivery.action != DeliveryAction::Post => {
                self.retry_later(work, message, false, false)
            }
            AdapterError::Ambiguous(_) => match adapter.find_post(key).await {
                Ok(Some(receipt)) => Finish::Sent {
                    remote_ref: receipt.remote_ref,
                    possible_duplicate: false,
                },
                Ok(None) => self.retry_later(work, message, false, false),
                Err(_) => self.retry_later(work, message, false, true),
            },
            AdapterError::Auth(_) => {
                let health = ChannelHealth::NeedsReconnect {
                    last_error: message.clone(),
                };
                if let Err(e) = self
                    .store
                    .set_channel_health(work.channel.id, &health)
                    .await
                {
                    tracing::error!(channel = %work.channel.id, error = %e, "could not mark the channel for reconnecting");
                }
                Finish::Retry {
                    at: self.clock.now(),
                    error: message,
                    refund_attempt: true,
                    possible_duplicate: false,
                }
            }
            AdapterError::Permanent(_) | AdapterError::Unsupported(_) => {
                Finish::Failed { error: message }
            }
        }
    }

    fn retry_later(
        &self,
        work: &ClaimedDelivery,
        error: String,
        refund: bool,
        possible_duplicate: bool,
    ) -> Finish {
        self.retry_after(work.delivery.attempts, error, refund, possible_duplicate)
    }

    /// Retry after a failure, backing off by `attempts`; dead once they run
    /// out (unless the attempt is refunded).
    fn retry_after(
        &self,
        attempts: u32,
        error: String,
        refund: bool,
        possible_duplicate: bool,
    ) -> Finish {
        if !refund && attempts >= self.settings.max_attempts {
            return Finish::Dead { error };
        }
        Finish::Retry {
            at: self.clock.now() + chrono_duration(backoff(&self.settings, attempts)),
            error,
            refund_attempt: refund,
            possible_duplicate,
        }
    }
}

/// Exponential backoff with full jitter: a random wait up to
/// `base × 2^(attempts-1)`, capped; never less than a tenth of the cap's base
/// so retries cannot spin.
#[must_use]
pub fn backoff(settings: &OutboxSettings, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let ceiling = settings
        .backoff_base
        .saturating_mul(1 << exponent)
        .min(settings.backoff_max);
    let mut random = [0u8; 8];
    let fraction = if getrandom::fill(&mut random).is_ok() {
        // 53 bits make an f64 in [0, 1) without bias.
        (u64::from_le_bytes(random) >> 11) as f64 / (1u64 << 53) as f64
    } else {
        0.5
    };
    let floor = settings.backoff_base / 10;
    ceiling.mul_f64(fraction).max(floor)
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// The result of a recording task, a task that could not finish counting as
/// a storage failure.
fn joined(
    result: Result<Result<u64, StoreError>, tokio::task::JoinError>,
) -> Result<u64, StoreError> {
    result.map_err(|e| StoreError::Internal(Box::new(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_its_ceiling_and_never_spins() {
        let settings = OutboxSettings {
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(60),
            ..OutboxSettings::default()
        };
        for attempts in 0..30 {
            let wait = backoff(&settings, attempts);
            assert!(wait >= Duration::from_secs(1), "{attempts}: {wait:?}");
            assert!(wait <= Duration::from_secs(60), "{attempts}: {wait:?}");
        }
        let later: Vec<Duration> = (0..50).map(|_| backoff(&settings, 6)).collect();
        assert!(
            later.iter().any(|w| *w > Duration::from_secs(10)),
            "jitter spreads up to the ceiling"
        );
        assert!(later.windows(2).any(|w| w[0] != w[1]), "jittered");
    }
}
