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
        }
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
        let mut tasks = tokio::task::JoinSet::new();
        for work in claimed {
            let this = self.clone();
            let permit = semaphore.clone();
            tasks.spawn(async move {
                let _permit = permit.acquire_owned().await;
                this.deliver(work).await;
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
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

    async fn deliver(&self, work: ClaimedDelivery) {
        let id = work.delivery.id;
        let finish = self.attempt(&work).await;
        let outcome = format!("{finish:?}");
        match self
            .store
            .finish_delivery(id, &self.worker_id, finish)
            .await
        {
            Ok(true) => tracing::debug!(delivery = %id, outcome, "delivery attempt recorded"),
            Ok(false) => {
                tracing::warn!(delivery = %id, "the lease ran out before the outcome was recorded")
            }
            Err(error) => {
                tracing::error!(delivery = %id, %error, "could not record a delivery outcome")
            }
        }
    }

    async fn attempt(&self, work: &ClaimedDelivery) -> Finish {
        let secret = match work
            .encrypted_secret
            .as_deref()
            .map(|s| self.keys.decrypt(s))
            .transpose()
        {
            Ok(secret) => secret,
            Err(error) => {
                return Finish::Failed {
                    error: error.to_string(),
                };
            }
        };
        let adapter = match self.adapters.adapter(&work.channel, secret.as_deref()) {
            Ok(adapter) => adapter,
            Err(error) => {
                return Finish::Failed {
                    error: error.to_string(),
                };
            }
        };
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
        let now = self.clock.now();
        let interval = chrono::Duration::milliseconds(i64::from(channel.min_interval_ms));
        let slot = self
            .store
            .reserve_send_slot(channel.id, now, interval)
            .await?;
        if let Ok(wait) = (slot - now).to_std() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
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
        let attempts = work.delivery.attempts;
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
