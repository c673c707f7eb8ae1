//! The worker that brings each channel in line with its calls: it claims
//! landings under a lease (Zoom's first, as it makes the join link the others
//! show), carries out what changed through the channel's adapter, and records
//! the revision reached. Every step is safe to repeat: a schedule finds what
//! an earlier, ambiguous attempt made (the adapter's contract), an update
//! states the whole current truth, a cancel of something gone is done.

use std::{sync::Arc, time::Duration};

use crate::{
    model::{
        call::{CallJoin, CallStatus, ClaimedLanding, LandingOutcome, LandingState},
        channel::{ChannelHealth, ChannelKind},
    },
    outbox::{OutboxSettings, backoff},
    ports::{
        adapter::{AdapterError, AdapterFactory, CallReceipt, CallScope, ChannelAdapter},
        clock::Clock,
        install::TokenRefresher,
        store::Store,
    },
    secrets::SecretKeys,
};

/// The idempotency key a call is scheduled under in every channel: one call,
/// one key, so a retry finds the first attempt's meeting or post.
#[must_use]
pub fn call_key(call: &crate::model::call::Call) -> String {
    format!("call-{}", call.id)
}

/// Brings channels in line with their calls.
#[derive(Debug)]
pub struct Lander {
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    settings: OutboxSettings,
    worker_id: String,
    refresher: Option<Arc<dyn TokenRefresher>>,
    invitations: Option<super::invitations::Invitations>,
    /// When this worker last looked for due reminders.
    reminded_at: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

/// How often a worker looks for day-before reminders that are due.
const REMINDER_PASS_SECONDS: i64 = 60;

impl Lander {
    /// A worker named `worker_id` (unique per process: it owns its leases),
    /// with the outbox's lease, batch and backoff settings.
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
            invitations: None,
            reminded_at: std::sync::Mutex::new(None),
        }
    }

    /// Mails invitations for the email list's landings.
    #[must_use]
    pub fn with_invitations(mut self, invitations: super::invitations::Invitations) -> Self {
        self.invitations = Some(invitations);
        self
    }

    /// Refreshes rotating tokens (Slack's) before they are used.
    #[must_use]
    pub fn with_refresher(mut self, refresher: Arc<dyn TokenRefresher>) -> Self {
        self.refresher = Some(refresher);
        self
    }

    /// One step: claims what is due and carries it out. Returns how many
    /// landings it handled.
    ///
    /// # Errors
    /// Storage failures while claiming; each landing's own failure is
    /// recorded on it instead.
    pub async fn run_once(&self) -> Result<usize, crate::ports::store::StoreError> {
        // First, so a post it moves on is claimed in this same step.
        self.remind().await?;
        let now = self.clock.now();
        let lease = now + chrono_duration(self.settings.lease);
        let claimed = self
            .store
            .claim_call_landings(&self.worker_id, now, lease, self.settings.batch)
            .await?;
        for work in &claimed {
            let outcome = self.attempt(work).await;
            let done = self
                .store
                .finish_call_landing(
                    &self.worker_id,
                    work.landing.call_id,
                    work.landing.channel_id,
                    &outcome,
                    self.clock.now(),
                )
                .await?;
            if !done {
                tracing::warn!(call = %work.landing.call_id, channel = %work.landing.channel_id, "the lease ran out before the outcome was written; another worker repeats it");
            }
        }
        Ok(claimed.len())
    }

    /// Once a minute at most: moves Slack posts of recurring calls on to
    /// their next occurrence, and sends the day-before reminders that are
    /// due.
    async fn remind(&self) -> Result<usize, crate::ports::store::StoreError> {
        let now = self.clock.now();
        {
            let mut last = self
                .reminded_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| now - at < chrono::Duration::seconds(REMINDER_PASS_SECONDS)) {
                return Ok(0);
            }
            *last = Some(now);
        }
        // Read once for both: the posts to move on and the reminders due.
        let calls = self.store.scheduled_calls().await?;
        super::reminders::move_posts_on(self.store.as_ref(), &calls, now).await?;
        let Some(invitations) = &self.invitations else {
            return Ok(0);
        };
        super::reminders::send_due(self.store.as_ref(), invitations, &calls, now).await
    }

    /// Runs until `shutdown` resolves, resting `idle` when nothing is due.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.run_once().await {
                Ok(0) => self.settings.idle_poll,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::error!(%error, "could not claim call landings");
                    self.settings.idle_poll
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn attempt(&self, work: &ClaimedLanding) -> LandingOutcome {
        if work.channel.kind == ChannelKind::EmailList {
            return self.invite(work).await;
        }
        let adapter = match crate::credentials::adapter_for(
            self.refresh_parts(),
            self.adapters.as_ref(),
            &work.channel,
            work.encrypted_secret.as_deref(),
        )
        .await
        {
            Ok(adapter) => adapter,
            // Refused: the channel is marked for reconnecting and waits.
            Err(crate::credentials::CredentialError::Refused(error)) => {
                return LandingOutcome::Retry {
                    at: self.clock.now(),
                    error,
                };
            }
            Err(crate::credentials::CredentialError::Store(error)) => {
                return self.retry(work, error.to_string());
            }
            Err(error) => {
                return LandingOutcome::Failed {
                    error: error.to_string(),
                };
            }
        };
        let result = self.carry_out(work, adapter.as_ref()).await;
        // One landing's steps count as one call: the outcome is the last step's.
        crate::metrics::count_adapter_call(work.channel.kind, "land_call", &result);
        match result {
            Ok(receipt) => {
                let hosts = work.channel.kind == ChannelKind::Zoom;
                if hosts
                    && work.call.registration
                    && let Some(receipt) = &receipt
                    && let Err(error) =
                        register_through(self.store.as_ref(), &work.channel, &receipt.remote_ref)
                            .await
                {
                    return self.retry(work, error.to_string());
                }
                LandingOutcome::Landed {
                    revision: work.landing.revision,
                    join: receipt.as_ref().filter(|_| hosts).and_then(|r| {
                        r.join_url.clone().map(|join_url| CallJoin {
                            meeting_id: r.remote_ref.clone(),
                            join_url,
                        })
                    }),
                    remote_ref: receipt.map(|r| r.remote_ref),
                }
            }
            Err(error) => self.failed(work, error).await,
        }
    }

    /// The email list's part: each member's invitation, by the hub's mail.
    async fn invite(&self, work: &ClaimedLanding) -> LandingOutcome {
        let Some(invitations) = &self.invitations else {
            return LandingOutcome::Failed {
                error: "this hub has no mail server: set mail.smtp_url (COPHUB_MAIL__SMTP_URL) and restart".into(),
            };
        };
        let registrar = if work.call.registration && work.call.status != CallStatus::Cancelled {
            match self.registrar(&work.call).await {
                Ok(registrar) => registrar,
                Err(why) => return self.retry(work, why),
            }
        } else {
            None
        };
        match super::invitations::send(
            self.store.as_ref(),
            invitations,
            &self.keys,
            &work.call,
            registrar.as_ref(),
            self.clock.now(),
        )
        .await
        {
            Ok(()) => LandingOutcome::Landed {
                revision: work.landing.revision,
                remote_ref: None,
                join: None,
            },
            Err(super::invitations::NotSent::Later(error)) => self.retry(work, error),
            Err(super::invitations::NotSent::Never(error)) => LandingOutcome::Failed { error },
        }
    }

    /// What registers a call's invitees for its Zoom meeting: `None` where
    /// the call has no Zoom channel, or its meeting could not be made (then
    /// the invitations carry the call's own link); `Err` while the meeting
    /// is still being made, so the invitations wait for it.
    async fn registrar(
        &self,
        call: &crate::model::call::Call,
    ) -> Result<Option<super::invitations::Registrar>, String> {
        let store_error = |e: crate::ports::store::StoreError| e.to_string();
        for landing in self
            .store
            .call_landings(call.id)
            .await
            .map_err(store_error)?
        {
            let Some((channel, encrypted)) = self
                .store
                .channel_with_secret(landing.channel_id)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            if channel.kind != ChannelKind::Zoom {
                continue;
            }
            let Some(meeting) = landing.remote_ref else {
                if landing.state == LandingState::Failed {
                    return Ok(None);
                }
                return Err("waiting for the Zoom meeting, so that each member is mailed their own join link".into());
            };
            return match crate::credentials::adapter_for(
                self.refresh_parts(),
                self.adapters.as_ref(),
                &channel,
                encrypted.as_deref(),
            )
            .await
            {
                Ok(adapter) => Ok(Some(super::invitations::Registrar { adapter, meeting })),
                Err(
                    error @ (crate::credentials::CredentialError::Refused(_)
                    | crate::credentials::CredentialError::Store(_)),
                ) => Err(format!(
                    "cannot reach Zoom to register the members yet: {error}"
                )),
                Err(error) => {
                    tracing::warn!(call = %call.id, %error, "cannot reach Zoom to register the members; their invitations carry the call's link");
                    Ok(None)
                }
            };
        }
        Ok(None)
    }

    fn refresh_parts(&self) -> crate::credentials::RefreshParts<'_> {
        crate::credentials::RefreshParts {
            store: self.store.as_ref(),
            keys: &self.keys,
            refresher: self.refresher.as_deref(),
            owner: &self.worker_id,
            now: self.clock.now(),
        }
    }

    /// What the landing's pending changes ask of the channel.
    async fn carry_out(
        &self,
        work: &ClaimedLanding,
        adapter: &dyn ChannelAdapter,
    ) -> Result<Option<CallReceipt>, AdapterError> {
        let call = &work.call;
        let Some(remote_ref) = work.landing.remote_ref.as_deref() else {
            if call.status == CallStatus::Cancelled {
                // Cancelled before it reached the channel: nothing to take back.
                return Ok(None);
            }
            // The schedule carries the whole call, overrides and all.
            return adapter.schedule_call(call, &call_key(call)).await.map(Some);
        };
        if call.status == CallStatus::Cancelled {
            adapter
                .cancel_call(remote_ref, call, CallScope::Series)
                .await?;
            return Ok(None);
        }
        // A step may hand back a new reference (Slack's reminder moved on):
        // the next step uses it.
        let mut receipt: Option<CallReceipt> = None;
        for scope in &work.landing.pending {
            let current = receipt
                .as_ref()
                .map_or(remote_ref, |r| r.remote_ref.as_str());
            let changed = match scope {
                CallScope::Occurrence(original)
                    if call.cancelled_occurrences.contains(original) =>
                {
                    adapter.cancel_call(current, call, *scope).await?
                }
                _ => Some(adapter.update_call(current, call, *scope).await?),
            };
            if changed.is_some() {
                receipt = changed;
            }
        }
        Ok(receipt)
    }

    async fn failed(&self, work: &ClaimedLanding, error: AdapterError) -> LandingOutcome {
        let message = error.to_string();
        let now = self.clock.now();
        match error {
            AdapterError::RateLimited { retry_after } => LandingOutcome::Retry {
                at: now + chrono_duration(retry_after),
                error: message,
            },
            // Safe to repeat: a schedule looks for its own first.
            AdapterError::Transient(_) | AdapterError::Ambiguous(_) => self.retry(work, message),
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
                LandingOutcome::Retry {
                    at: now,
                    error: message,
                }
            }
            AdapterError::Permanent(_) | AdapterError::Unsupported(_) => {
                LandingOutcome::Failed { error: message }
            }
        }
    }

    fn retry(&self, work: &ClaimedLanding, error: String) -> LandingOutcome {
        let attempts = work.landing.attempts + 1;
        if attempts >= self.settings.max_attempts {
            return LandingOutcome::Failed {
                error: format!("gave up after {attempts} attempts: {error}"),
            };
        }
        LandingOutcome::Retry {
            at: self.clock.now() + chrono_duration(backoff(&self.settings, attempts)),
            error,
        }
    }
}

/// Makes `meeting` one whose registrants are the Zoom channel's members, so
/// the channel's sync registers every member who has not opted out of Zoom
/// (each then gets a personal join link) and cancels those who leave; the
/// first such meeting gives the channel an hourly mirror sync.
///
/// # Errors
/// Storage failures.
pub async fn register_through(
    store: &dyn Store,
    channel: &crate::model::channel::Channel,
    meeting: &str,
) -> Result<(), crate::ports::store::StoreError> {
    const FIELD: &str = "registration_meetings";
    let mut settings = channel.settings.clone();
    let listed = settings[FIELD]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(meeting)));
    if !listed {
        if !settings.is_object() {
            settings = serde_json::json!({});
        }
        let mut ids = settings[FIELD].as_array().cloned().unwrap_or_default();
        ids.push(serde_json::Value::String(meeting.to_owned()));
        settings[FIELD] = serde_json::Value::Array(ids);
        store
            .change_channel_settings(
                channel.id,
                &settings,
                crate::model::audit::NewAuditEvent {
                    actor: "system:calls".into(),
                    action: "channel.registration_meeting".into(),
                    community_id: Some(channel.community_id),
                    subject: channel.id.to_string(),
                    details: serde_json::json!({"meeting": meeting}),
                },
            )
            .await?;
    }
    if store.sync_job_of(channel.id).await?.is_none() {
        crate::sync::schedule_channel(
            store,
            channel,
            crate::model::sync::SyncDirection::Mirror,
            "@hourly",
            crate::sync::Guardrails::default(),
            "system:calls",
        )
        .await
        .map_err(|e| match e {
            crate::sync::ScheduleError::Store(e) => e,
            other => crate::ports::store::StoreError::Internal(other.to_string().into()),
        })?;
    }
    Ok(())
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
