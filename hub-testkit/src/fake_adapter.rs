//! A scriptable channel: its members, its answers to each post (success, any
//! error class, latency), and what it was sent — for testing the engine
//! without any real tool.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use hub_core::{
    Email,
    model::{
        announcement::{Announcement, Recipient},
        call::Call,
        channel::Channel,
    },
    ports::adapter::{
        AdapterError, AdapterFactory, CallReceipt, CallScope, Capabilities, ChannelAdapter,
        Receipt, RemoteMember, RemotePage,
    },
};

/// What the fake answers to one post.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Accept it.
    Accept,
    /// Rate limited for this long.
    RateLimited(Duration),
    /// A 5xx or a timeout before sending.
    Transient,
    /// The post is made, but the answer is lost.
    AmbiguousAfterPosting,
    /// The token was revoked.
    Auth,
    /// The tool refuses the post.
    Permanent,
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Scripted>,
    posts: Vec<(String, String)>,
    attempts: usize,
    members: Vec<RemoteMember>,
    page_size: usize,
    fail_page: Option<(usize, Scripted)>,
    member_ops: VecDeque<Scripted>,
    member_calls: usize,
    latency: Duration,
    lookups: bool,
    changes: Vec<Change>,
    per_recipient: bool,
    copies: Vec<(String, String)>,
    calls: Vec<CallOp>,
    hosts_calls: bool,
}

/// Something done to a call that took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOp {
    /// Scheduled under `key`, answered with `remote_ref`.
    Scheduled {
        /// The idempotency key.
        key: String,
        /// The reference handed back.
        remote_ref: String,
        /// The call's title then.
        title: String,
        /// Its join link then.
        join_url: Option<String>,
    },
    /// Brought in line with the call.
    Updated {
        /// The reference.
        remote_ref: String,
        /// What was updated.
        scope: CallScope,
        /// The call's title then.
        title: String,
        /// Its join link then.
        join_url: Option<String>,
    },
    /// Cancelled.
    Cancelled {
        /// The reference.
        remote_ref: String,
        /// What was cancelled.
        scope: CallScope,
    },
}

/// An edit or a retraction that took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The message `remote_ref` now reads `title` (at `revision`).
    Edited {
        /// The post's reference.
        remote_ref: String,
        /// Its new title.
        title: String,
        /// The announcement's revision.
        revision: u32,
    },
    /// The message `remote_ref` was taken down.
    Retracted {
        /// The post's reference.
        remote_ref: String,
    },
}

/// A fake channel; clones share their state.
#[derive(Debug, Clone, Default)]
pub struct FakeChannel(Arc<Mutex<State>>);

impl FakeChannel {
    /// A channel that accepts everything at once.
    #[must_use]
    pub fn new() -> Self {
        let fake = Self::default();
        fake.state().page_size = 100;
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next posts get these answers, in order; after them, `Accept`.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state().script.extend(answers);
    }

    /// Every post takes this long.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// Whether `find_post` can look up earlier posts (like Slack or Zoom).
    pub fn set_lookups(&self, lookups: bool) {
        self.state().lookups = lookups;
    }

    /// The members the channel lists, in pages of `page_size`.
    pub fn set_members(&self, members: Vec<RemoteMember>, page_size: usize) {
        let mut state = self.state();
        state.members = members;
        state.page_size = page_size.max(1);
    }

    /// Reading page `page` (1-based) answers with `error` instead.
    pub fn fail_page(&self, page: usize, error: Scripted) {
        self.state().fail_page = Some((page, error));
    }

    /// The next adds and removals get these answers, in order; then `Accept`.
    pub fn script_member_changes(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state().member_ops.extend(answers);
    }

    /// The members the channel has now.
    #[must_use]
    pub fn members(&self) -> Vec<RemoteMember> {
        self.state().members.clone()
    }

    /// How many adds and removals were attempted.
    #[must_use]
    pub fn member_changes(&self) -> usize {
        self.state().member_calls
    }

    /// Posts that took effect: (idempotency key, title), in order.
    #[must_use]
    pub fn posts(&self) -> Vec<(String, String)> {
        self.state().posts.clone()
    }

    /// Sends each person their own copy (like the native email list).
    pub fn set_per_recipient(&self, per_recipient: bool) {
        self.state().per_recipient = per_recipient;
    }

    /// Copies sent to one person that took effect: (idempotency key, email), in order.
    #[must_use]
    pub fn copies(&self) -> Vec<(String, String)> {
        self.state().copies.clone()
    }

    /// Edits and retractions that took effect, in order.
    #[must_use]
    pub fn changes(&self) -> Vec<Change> {
        self.state().changes.clone()
    }

    /// Calls scheduled, updated and cancelled, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<CallOp> {
        self.state().calls.clone()
    }

    /// Hosts the calls it schedules (like Zoom): each gets a join link.
    pub fn set_hosts_calls(&self, hosts: bool) {
        self.state().hosts_calls = hosts;
    }

    /// How many posts were attempted, successful or not.
    #[must_use]
    pub fn attempts(&self) -> usize {
        self.state().attempts
    }
}

#[async_trait]
impl ChannelAdapter for FakeChannel {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_members: true,
            manage_members: true,
            post: true,
            edit: true,
            calls: true,
            per_recipient: self.state().per_recipient,
        }
    }

    async fn list_members(&self, cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        let state = self.state();
        let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let page = start / state.page_size + 1;
        if let Some((failing, error)) = &state.fail_page
            && *failing == page
        {
            return Err(error_of(error)
                .unwrap_or_else(|| AdapterError::Transient(format!("page {page} failed"))));
        }
        let end = (start + state.page_size).min(state.members.len());
        Ok(RemotePage {
            members: state.members[start.min(end)..end].to_vec(),
            next_cursor: (end < state.members.len()).then(|| end.to_string()),
        })
    }

    async fn add_member(&self, email: &Email, name: &str) -> Result<String, AdapterError> {
        let mut state = self.state();
        state.member_calls += 1;
        if let Some(error) = state.member_ops.pop_front().as_ref().and_then(error_of) {
            return Err(error);
        }
        let id = format!("U{}", state.members.len() + 1);
        state.members.push(RemoteMember {
            external_id: id.clone(),
            email: Some(email.clone()),
            name: name.to_owned(),
        });
        Ok(id)
    }

    async fn remove_member(&self, external_id: &str) -> Result<(), AdapterError> {
        self.state()
            .members
            .retain(|m| m.external_id != external_id);
        Ok(())
    }

    async fn post(
        &self,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let answer = self.next_answer().await;
        let posted = || {
            self.state()
                .posts
                .push((idempotency_key.to_owned(), announcement.title.clone()));
        };
        match answer {
            Scripted::Accept => {
                posted();
                Ok(Receipt {
                    remote_ref: format!("ref-{idempotency_key}"),
                    url: None,
                })
            }
            Scripted::RateLimited(retry_after) => Err(AdapterError::RateLimited { retry_after }),
            Scripted::Transient => Err(AdapterError::Transient("503 from the fake".into())),
            Scripted::AmbiguousAfterPosting => {
                posted();
                Err(AdapterError::Ambiguous("the fake's answer was lost".into()))
            }
            Scripted::Auth => Err(AdapterError::Auth("token_revoked".into())),
            Scripted::Permanent => Err(AdapterError::Permanent("invalid_blocks".into())),
        }
    }

    async fn post_to(
        &self,
        _announcement: &Announcement,
        recipient: &Recipient,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let answer = self.next_answer().await;
        if let Some(error) = error_of(&answer) {
            return Err(error);
        }
        self.state()
            .copies
            .push((idempotency_key.to_owned(), recipient.email.clone()));
        if matches!(answer, Scripted::AmbiguousAfterPosting) {
            return Err(AdapterError::Ambiguous("the fake's answer was lost".into()));
        }
        Ok(Receipt {
            remote_ref: format!("<{idempotency_key}@fake>"),
            url: None,
        })
    }

    async fn edit(
        &self,
        remote_ref: &str,
        announcement: &Announcement,
        _idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let answer = self.next_answer().await;
        self.change(
            &answer,
            remote_ref,
            Change::Edited {
                remote_ref: remote_ref.to_owned(),
                title: announcement.title.clone(),
                revision: announcement.revision,
            },
        )?;
        Ok(Receipt {
            remote_ref: remote_ref.to_owned(),
            url: None,
        })
    }

    async fn retract(&self, remote_ref: &str, _idempotency_key: &str) -> Result<(), AdapterError> {
        let answer = self.next_answer().await;
        self.change(
            &answer,
            remote_ref,
            Change::Retracted {
                remote_ref: remote_ref.to_owned(),
            },
        )
    }

    async fn find_post(&self, idempotency_key: &str) -> Result<Option<Receipt>, AdapterError> {
        let state = self.state();
        if !state.lookups {
            return Err(AdapterError::Unsupported(
                "the fake cannot look up posts".into(),
            ));
        }
        Ok(state
            .posts
            .iter()
            .find(|(key, _)| key == idempotency_key)
            .map(|(key, _)| Receipt {
                remote_ref: format!("ref-{key}"),
                url: None,
            }))
    }

    async fn schedule_call(
        &self,
        call: &Call,
        idempotency_key: &str,
    ) -> Result<CallReceipt, AdapterError> {
        {
            // Like Zoom's marker: a lookup finds what an earlier attempt made.
            let state = self.state();
            if state.lookups
                && let Some(CallOp::Scheduled {
                    remote_ref,
                    join_url,
                    ..
                }) = state.calls.iter().find(
                    |op| matches!(op, CallOp::Scheduled { key, .. } if key == idempotency_key),
                )
            {
                return Ok(CallReceipt {
                    remote_ref: remote_ref.clone(),
                    join_url: join_url.clone(),
                });
            }
        }
        let answer = self.next_answer().await;
        if let Some(error) = error_of(&answer) {
            return Err(error);
        }
        let mut state = self.state();
        let remote_ref = format!("call-{}", state.calls.len() + 1);
        let join_url = state
            .hosts_calls
            .then(|| format!("https://fake.example/j/{remote_ref}"));
        state.calls.push(CallOp::Scheduled {
            key: idempotency_key.to_owned(),
            remote_ref: remote_ref.clone(),
            title: call.title.clone(),
            join_url: call.join_url.clone().or_else(|| join_url.clone()),
        });
        if matches!(answer, Scripted::AmbiguousAfterPosting) {
            return Err(AdapterError::Ambiguous("the fake's answer was lost".into()));
        }
        Ok(CallReceipt {
            remote_ref,
            join_url,
        })
    }

    async fn update_call(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<CallReceipt, AdapterError> {
        let answer = self.next_answer().await;
        if let Some(error) = error_of(&answer) {
            return Err(error);
        }
        let mut state = self.state();
        let join_url = state
            .hosts_calls
            .then(|| format!("https://fake.example/j/{remote_ref}"));
        state.calls.push(CallOp::Updated {
            remote_ref: remote_ref.to_owned(),
            scope,
            title: call.title.clone(),
            join_url: call.join_url.clone(),
        });
        Ok(CallReceipt {
            remote_ref: remote_ref.to_owned(),
            join_url,
        })
    }

    async fn cancel_call(
        &self,
        remote_ref: &str,
        _call: &Call,
        scope: CallScope,
    ) -> Result<Option<CallReceipt>, AdapterError> {
        let answer = self.next_answer().await;
        if let Some(error) = error_of(&answer) {
            return Err(error);
        }
        self.state().calls.push(CallOp::Cancelled {
            remote_ref: remote_ref.to_owned(),
            scope,
        });
        Ok(None)
    }

    async fn health(&self) -> Result<(), AdapterError> {
        Ok(())
    }
}

impl FakeChannel {
    /// Counts an attempt, takes the next scripted answer and waits the latency.
    async fn next_answer(&self) -> Scripted {
        let (answer, latency) = {
            let mut state = self.state();
            state.attempts += 1;
            (
                state.script.pop_front().unwrap_or(Scripted::Accept),
                state.latency,
            )
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        answer
    }

    /// Carries out an edit or a retraction as `answer` says, on a message
    /// that must exist (like Slack's `message_not_found`).
    fn change(
        &self,
        answer: &Scripted,
        remote_ref: &str,
        change: Change,
    ) -> Result<(), AdapterError> {
        if let Some(error) = error_of(answer) {
            return Err(error);
        }
        let mut state = self.state();
        if !state
            .posts
            .iter()
            .any(|(key, _)| format!("ref-{key}") == remote_ref)
        {
            return Err(AdapterError::Permanent("message_not_found".into()));
        }
        state.changes.push(change);
        if matches!(answer, Scripted::AmbiguousAfterPosting) {
            return Err(AdapterError::Ambiguous("the fake's answer was lost".into()));
        }
        Ok(())
    }
}

/// The error a scripted answer stands for (`None` for success).
fn error_of(answer: &Scripted) -> Option<AdapterError> {
    match answer {
        Scripted::Accept | Scripted::AmbiguousAfterPosting => None,
        Scripted::RateLimited(retry_after) => Some(AdapterError::RateLimited {
            retry_after: *retry_after,
        }),
        Scripted::Transient => Some(AdapterError::Transient("503 from the fake".into())),
        Scripted::Auth => Some(AdapterError::Auth("token_revoked".into())),
        Scripted::Permanent => Some(AdapterError::Permanent("invalid_arguments".into())),
    }
}

/// Hands out the same fake for every channel.
#[derive(Debug, Clone, Default)]
pub struct FakeFactory(pub FakeChannel);

impl AdapterFactory for FakeFactory {
    fn adapter(
        &self,
        _channel: &Channel,
        _secret: Option<&str>,
    ) -> Result<Arc<dyn ChannelAdapter>, AdapterError> {
        Ok(Arc::new(self.0.clone()))
    }
}

/// Hands out each channel its own fake, by channel id.
#[derive(Debug, Clone, Default)]
pub struct FakeChannels(pub std::collections::HashMap<hub_core::ids::ChannelId, FakeChannel>);

impl AdapterFactory for FakeChannels {
    fn adapter(
        &self,
        channel: &Channel,
        _secret: Option<&str>,
    ) -> Result<Arc<dyn ChannelAdapter>, AdapterError> {
        let fake = self.0.get(&channel.id).ok_or_else(|| {
            AdapterError::Unsupported(format!("no fake for the channel {}", channel.id))
        })?;
        Ok(Arc::new(fake.clone()))
    }
}
