//! Membership sync: read a channel's side completely, match people by
//! normalized email, and plan what to change on each side by the channel's
//! direction, under the consent rules and the guardrails.
//!
//! - A partial read is never the truth: a failed page fails the whole read.
//! - An `opted_out` in the hub is never overridden, in any direction: such a
//!   person is not added to the channel, and is removed from it where the
//!   direction lets the hub change the channel.
//! - People imported from a channel get that channel's consent only.
//! - A plan that would remove more than a share *and* more than a count of a
//!   side, or that reads an empty side where the last run saw members, is
//!   held for a lead's approval instead of applied.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use serde::Serialize;

use crate::{
    Email,
    ids::{ChannelId, MemberId, SyncRunId},
    model::{
        audit::NewAuditEvent,
        channel::{Channel, ChannelHealth, ChannelKind},
        event::InboundEvent,
        member::{ConsentChannel, ConsentStatus, Member, MemberState},
        sync::{SyncCounts, SyncDirection, SyncJob, SyncRun, SyncRunState},
    },
    ports::{
        adapter::{AdapterError, AdapterFactory, ChannelAdapter, ChannelEvent, RemoteMember},
        clock::Clock,
        store::{Store, StoreError},
    },
    secrets::SecretKeys,
};

/// Which consent a channel kind's membership stands for.
#[must_use]
pub fn consent_channel(kind: ChannelKind) -> Option<ConsentChannel> {
    match kind {
        ChannelKind::EmailList | ChannelKind::Mailman => Some(ConsentChannel::Email),
        ChannelKind::Slack => Some(ConsentChannel::Slack),
        ChannelKind::Zoom => Some(ConsentChannel::Zoom),
        ChannelKind::Conference => Some(ConsentChannel::Conference),
        ChannelKind::Webhook => None,
    }
}

/// A hub member as a sync sees them: just what matching and planning need,
/// so reading 100,000 of them stays cheap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPerson {
    /// The member.
    pub id: MemberId,
    /// Their email.
    pub email: Email,
    /// Their name.
    pub name: String,
    /// Active or left.
    pub state: MemberState,
    /// Their consent for the channel being synced.
    pub consent: ConsentStatus,
}

impl SyncPerson {
    /// The sync's view of a member, for one channel's consent.
    #[must_use]
    pub fn of(member: &Member, consent: ConsentChannel) -> Self {
        Self {
            id: member.id,
            email: member.email.clone(),
            name: member.name.clone(),
            state: member.state,
            consent: member.consent(consent),
        }
    }
}

/// Every member of a community with their consent for each channel: one
/// read of the hub for the syncs of all its channels.
#[derive(Debug, Clone, Default)]
pub struct HubRoster {
    /// The members; each one's `consent` is unset here (`None`).
    pub people: Vec<SyncPerson>,
    /// Each member's consent per channel, in [`HubRoster::CHANNELS`] order.
    pub consents: Vec<[ConsentStatus; 4]>,
}

impl HubRoster {
    /// The order of [`HubRoster::consents`].
    pub const CHANNELS: [ConsentChannel; 4] = [
        ConsentChannel::Email,
        ConsentChannel::Slack,
        ConsentChannel::Zoom,
        ConsentChannel::Conference,
    ];

    /// The roster as one channel's sync sees it.
    #[must_use]
    pub fn for_channel(&self, channel: ConsentChannel) -> Vec<SyncPerson> {
        let index = Self::CHANNELS
            .iter()
            .position(|c| *c == channel)
            .unwrap_or(0);
        self.people
            .iter()
            .zip(&self.consents)
            .map(|(person, consents)| SyncPerson {
                consent: consents[index],
                ..person.clone()
            })
            .collect()
    }
}

/// A channel's members, read to the end.
#[derive(Debug, Clone, Default)]
pub struct RemoteSide {
    /// Everyone, in the channel's order.
    pub members: Vec<RemoteMember>,
    /// How many calls reading took.
    pub api_calls: u32,
}

/// Reads every page of a channel's members.
///
/// # Errors
/// The first page's [`AdapterError`]: a partial read is never returned.
pub async fn read_remote(adapter: &dyn ChannelAdapter) -> Result<RemoteSide, AdapterError> {
    let mut side = RemoteSide::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = adapter.list_members(cursor.as_deref()).await?;
        side.api_calls += 1;
        side.members.extend(page.members);
        match page.next_cursor {
            // A cursor that repeats would loop forever: treat it as a broken read.
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Err(AdapterError::Transient(format!(
                    "the channel returned the cursor {next:?} twice"
                )));
            }
            Some(next) if !next.is_empty() => cursor = Some(next),
            _ => return Ok(side),
        }
    }
}

/// Guardrail limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Guardrails {
    /// A plan removing more than this share of a side…
    pub max_remove_fraction: f64,
    /// …and more than this many people is held.
    pub max_remove_count: usize,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            max_remove_fraction: 0.10,
            max_remove_count: 3,
        }
    }
}

/// A person to add to the hub from the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubAdd {
    /// Their email.
    pub email: Email,
    /// Their name in the channel.
    pub name: String,
    /// Their id in the channel.
    pub external_id: String,
}

/// A hub member to add to the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelAdd {
    /// The member.
    pub member_id: MemberId,
    /// Their email.
    pub email: Email,
    /// Their name.
    pub name: String,
}

/// Someone to remove from the channel, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRemoval {
    /// Their id in the channel.
    pub external_id: String,
    /// Their email.
    pub email: Email,
    /// `opted_out`, `left`, or `not_in_hub`.
    pub reason: &'static str,
}

/// A hub member whose consent for this channel the sync sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentChange {
    /// The member.
    pub member_id: MemberId,
    /// Their email.
    pub email: Email,
    /// What it becomes.
    pub status: ConsentStatus,
}

/// Why a plan is held rather than applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Hold {
    /// Too many removals from one side.
    TooManyRemovals {
        /// `hub` or `channel`.
        side: &'static str,
        /// How many would go.
        removals: usize,
        /// Out of how many.
        of: usize,
    },
    /// The channel read empty, though the last run saw members there.
    EmptySide {
        /// How many the last run saw.
        last_seen: usize,
    },
}

impl Hold {
    /// The hold a stored plan records (see [`SyncPlan::for_storage`]).
    #[must_use]
    pub fn from_stored(plan: &serde_json::Value) -> Option<Self> {
        let held = plan.get("held")?;
        let number = |key: &str| {
            held.get(key)
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        match held.get("reason")?.as_str()? {
            "too_many_removals" => Some(Self::TooManyRemovals {
                side: match held.get("side")?.as_str()? {
                    "hub" => "hub",
                    "channel" => "channel",
                    _ => return None,
                },
                removals: number("removals")?,
                of: number("of")?,
            }),
            "empty_side" => Some(Self::EmptySide {
                last_seen: number("last_seen")?,
            }),
            _ => None,
        }
    }

    /// The hold in a sentence, for the lead.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::TooManyRemovals { side, removals, of } => format!(
                "it would remove {removals} of {of} people from the {side}, past the guardrail"
            ),
            Self::EmptySide { last_seen } => {
                format!("the channel read empty, though the last run saw {last_seen} members there")
            }
        }
    }

    /// Whether a lead's approval of `self` also covers `fresh`, the hold of
    /// the plan made when the approval is carried out: the same kind of hold,
    /// removing no more people. A plan that grew since the lead read it is
    /// held again rather than applied on an approval of something smaller.
    #[must_use]
    pub fn covers(&self, fresh: &Self) -> bool {
        match (self, fresh) {
            (
                Self::TooManyRemovals { side, removals, .. },
                Self::TooManyRemovals {
                    side: fresh_side,
                    removals: fresh_removals,
                    ..
                },
            ) => side == fresh_side && fresh_removals <= removals,
            (Self::EmptySide { .. }, Self::EmptySide { .. }) => true,
            _ => false,
        }
    }
}

/// What one run would change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncPlan {
    /// New hub members from the channel (import, mirror).
    pub hub_adds: Vec<HubAdd>,
    /// Hub members whose consent for this channel the channel's membership
    /// sets (import, mirror): subscribed where they are in the channel, none
    /// where the sync had subscribed them and they are gone.
    pub consent_changes: Vec<ConsentChange>,
    /// Hub members to add to the channel (export, mirror).
    pub channel_adds: Vec<ChannelAdd>,
    /// People to remove from the channel (export, mirror).
    pub channel_removals: Vec<ChannelRemoval>,
    /// Channel accounts without an email, for a lead to link by hand.
    pub unmatched: Vec<String>,
    /// People already in step.
    pub unchanged: usize,
    /// Why the plan is held, if it is.
    pub held: Option<Hold>,
    /// Channel ids of the people the hub wants in the channel's groups
    /// (export, mirror): see `ChannelAdapter::settle_groups`.
    #[serde(skip)]
    pub group_members: Vec<String>,
}

/// A stored plan read back for showing (see [`SyncPlan::for_storage`]):
/// each list's first entries, every total, and why it is held.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct StoredPlan {
    /// New hub members from the channel.
    pub hub_adds: Vec<StoredEntry>,
    /// Consent the sync sets in the hub.
    pub consent_changes: Vec<StoredEntry>,
    /// Hub members to add to the channel.
    pub channel_adds: Vec<StoredEntry>,
    /// People to remove from the channel.
    pub channel_removals: Vec<StoredEntry>,
    /// Channel accounts without an email.
    pub unmatched: Vec<String>,
    /// People already in step.
    pub unchanged: u64,
    /// Each list's full length.
    pub totals: StoredTotals,
    /// Whether some list was cut to [`STORED_PLAN_ENTRIES`].
    pub truncated: bool,
    /// Why it is held, if it is.
    #[serde(skip)]
    pub held: Option<Hold>,
}

/// One person in a stored plan's list; fields a list does not have are empty.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct StoredEntry {
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Why they are removed (`opted_out`, `left`, `not_in_hub`).
    pub reason: String,
    /// The consent the sync sets.
    pub status: String,
}

/// The full length of each list of a stored plan.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(default)]
pub struct StoredTotals {
    /// New hub members.
    pub hub_adds: u64,
    /// Consent changes.
    pub consent_changes: u64,
    /// Channel adds.
    pub channel_adds: u64,
    /// Channel removals.
    pub channel_removals: u64,
    /// Unmatched accounts.
    pub unmatched: u64,
}

impl StoredPlan {
    /// Reads a run's stored plan; a run that never planned (a failed read)
    /// reads as an empty plan.
    #[must_use]
    pub fn read(plan: &serde_json::Value) -> Self {
        let mut stored: Self = serde_json::from_value(plan.clone()).unwrap_or_default();
        stored.held = Hold::from_stored(plan);
        stored
    }
}

/// The run among a job's recent ones (newest first) whose plan a guardrail
/// holds for a lead: the latest run that is not a dry run, if it is held.
#[must_use]
pub fn held_run(recent: &[crate::model::sync::SyncRun]) -> Option<&crate::model::sync::SyncRun> {
    recent
        .iter()
        .find(|r| r.state != crate::model::sync::SyncRunState::Planned)
        .filter(|r| r.state == crate::model::sync::SyncRunState::Held)
}

/// How many entries of each list a stored plan keeps; the totals are kept too.
pub const STORED_PLAN_ENTRIES: usize = 1_000;

impl SyncPlan {
    /// The plan as a run keeps it: every total, and the first
    /// [`STORED_PLAN_ENTRIES`] entries of each list (a first sync of a large
    /// community would otherwise store megabytes per run).
    #[must_use]
    pub fn for_storage(&self) -> serde_json::Value {
        fn first<T: Serialize>(list: &[T]) -> serde_json::Value {
            serde_json::to_value(&list[..list.len().min(STORED_PLAN_ENTRIES)]).unwrap_or_default()
        }
        let lengths = [
            self.hub_adds.len(),
            self.consent_changes.len(),
            self.channel_adds.len(),
            self.channel_removals.len(),
            self.unmatched.len(),
        ];
        let truncated = lengths.iter().any(|n| *n > STORED_PLAN_ENTRIES);
        serde_json::json!({
            "hub_adds": first(&self.hub_adds),
            "consent_changes": first(&self.consent_changes),
            "channel_adds": first(&self.channel_adds),
            "channel_removals": first(&self.channel_removals),
            "unmatched": first(&self.unmatched),
            "unchanged": self.unchanged,
            "held": self.held,
            "totals": {
                "hub_adds": self.hub_adds.len(),
                "consent_changes": self.consent_changes.len(),
                "channel_adds": self.channel_adds.len(),
                "channel_removals": self.channel_removals.len(),
                "unmatched": self.unmatched.len(),
            },
            "truncated": truncated,
        })
    }

    /// Whether applying it would change nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hub_adds.is_empty()
            && self.consent_changes.is_empty()
            && self.channel_adds.is_empty()
            && self.channel_removals.is_empty()
    }
}

/// Plans a sync of `hub` (the community's members, with their consent for
/// this channel) with `remote` (the channel's, read completely);
/// `last_seen` is how many members the previous run read from the channel.
#[must_use]
pub fn plan(
    direction: SyncDirection,
    hub: &[SyncPerson],
    remote: &[RemoteMember],
    last_seen: Option<usize>,
    guardrails: Guardrails,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    let by_email: HashMap<&str, &SyncPerson> =
        hub.iter().map(|m| (m.email.normalized(), m)).collect();
    let mut in_channel: HashSet<&str> = HashSet::new();
    let imports = matches!(
        direction,
        SyncDirection::Import | SyncDirection::Mirror | SyncDirection::Observe
    );
    let exports = matches!(
        direction,
        SyncDirection::Export | SyncDirection::Mirror | SyncDirection::Observe
    );

    for account in remote {
        let Some(email) = &account.email else {
            plan.unmatched.push(account.external_id.clone());
            continue;
        };
        if !in_channel.insert(email.normalized()) {
            continue; // the same person twice in the channel: one is enough
        }
        match by_email.get(email.normalized()) {
            None if imports => {
                if exports {
                    plan.group_members.push(account.external_id.clone());
                }
                plan.hub_adds.push(HubAdd {
                    email: email.clone(),
                    name: account.name.clone(),
                    external_id: account.external_id.clone(),
                });
            }
            None if exports => plan.channel_removals.push(ChannelRemoval {
                external_id: account.external_id.clone(),
                email: email.clone(),
                reason: "not_in_hub",
            }),
            None => {}
            Some(member) => {
                let current = member.consent;
                let gone = member.state == MemberState::Left;
                if current == ConsentStatus::OptedOut || gone {
                    if exports {
                        plan.channel_removals.push(ChannelRemoval {
                            external_id: account.external_id.clone(),
                            email: email.clone(),
                            reason: if gone { "left" } else { "opted_out" },
                        });
                    } else {
                        plan.unchanged += 1;
                    }
                } else if imports && current == ConsentStatus::None {
                    if exports {
                        plan.group_members.push(account.external_id.clone());
                    }
                    plan.consent_changes.push(ConsentChange {
                        member_id: member.id,
                        email: member.email.clone(),
                        status: ConsentStatus::Subscribed,
                    });
                } else {
                    if exports && current == ConsentStatus::Subscribed {
                        plan.group_members.push(account.external_id.clone());
                    }
                    plan.unchanged += 1;
                }
            }
        }
    }

    for member in hub {
        if in_channel.contains(member.email.normalized()) || member.state == MemberState::Left {
            continue;
        }
        if member.consent != ConsentStatus::Subscribed {
            continue;
        }
        if exports {
            plan.channel_adds.push(ChannelAdd {
                member_id: member.id,
                email: member.email.clone(),
                name: member.name.clone(),
            });
        } else {
            // Import only: the channel is the truth, and they are not in it.
            plan.consent_changes.push(ConsentChange {
                member_id: member.id,
                email: member.email.clone(),
                status: ConsentStatus::None,
            });
        }
    }

    plan.held = hold(&plan, hub.len(), remote.len(), last_seen, guardrails);
    plan
}

fn hold(
    plan: &SyncPlan,
    hub_size: usize,
    remote_size: usize,
    last_seen: Option<usize>,
    g: Guardrails,
) -> Option<Hold> {
    if remote_size == 0
        && let Some(last_seen) = last_seen.filter(|n| *n > 0)
    {
        return Some(Hold::EmptySide { last_seen });
    }
    let too_many = |removals: usize, of: usize| {
        removals > g.max_remove_count && (removals as f64) > g.max_remove_fraction * (of as f64)
    };
    let channel_removals = plan.channel_removals.len();
    if too_many(channel_removals, remote_size) {
        return Some(Hold::TooManyRemovals {
            side: "channel",
            removals: channel_removals,
            of: remote_size,
        });
    }
    let hub_removals = plan
        .consent_changes
        .iter()
        .filter(|c| c.status != ConsentStatus::Subscribed)
        .count();
    if too_many(hub_removals, hub_size) {
        return Some(Hold::TooManyRemovals {
            side: "hub",
            removals: hub_removals,
            of: hub_size,
        });
    }
    None
}

/// How a run is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Plan and keep the plan; change nothing.
    DryRun,
    /// Plan and apply, unless a guardrail holds the plan.
    Apply,
    /// Plan and apply past a guardrail, as far as a lead's approval of a
    /// held plan covers the fresh one (see [`Hold::covers`]).
    ApplyApproved(Hold),
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No plan is held for the channel, so there is nothing to approve.
    #[error("{0}")]
    NothingHeld(String),
    /// No such channel, or it has no sync schedule.
    #[error("{0}")]
    NotFound(String),
    /// The channel cannot sync members (a webhook).
    #[error("{0}")]
    Unsupported(String),
    /// The channel's tool failed the request.
    #[error("the channel failed: {0}")]
    Channel(#[from] AdapterError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which consent a run syncs, and the hub's members if they were read
/// already (by [`SyncEngine::run_many`]).
struct HubSide<'a> {
    consent: ConsentChannel,
    roster: Option<&'a HubRoster>,
}

/// Runs membership syncs.
#[derive(Debug, Clone)]
pub struct SyncEngine {
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    refresher: Option<Arc<dyn crate::ports::install::TokenRefresher>>,
    /// Who holds a token-refresh lease taken by this engine.
    owner: String,
    /// Mails invitations where a tool cannot add people itself.
    mailer: Option<Arc<dyn crate::ports::mailer::Mailer>>,
}

impl SyncEngine {
    /// An engine over these parts.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        adapters: Arc<dyn AdapterFactory>,
        keys: Arc<SecretKeys>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            adapters,
            keys,
            clock,
            refresher: None,
            owner: format!("sync-{}", &crate::auth::new_secret().0[..12]),
            mailer: None,
        }
    }

    /// With a mail server, for invitations into tools that cannot add
    /// people themselves.
    #[must_use]
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::ports::mailer::Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
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

    /// The channel's secret in the clear, refreshed first where it rotates.
    async fn secret_of(
        &self,
        channel: &Channel,
        encrypted: Option<&str>,
    ) -> Result<Option<String>, crate::credentials::CredentialError> {
        let parts = crate::credentials::RefreshParts {
            store: self.store.as_ref(),
            keys: &self.keys,
            refresher: self.refresher.as_deref(),
            owner: &self.owner,
            now: self.clock.now(),
        };
        crate::credentials::secret_for(parts, channel, encrypted).await
    }

    /// Runs the channel's sync once and keeps the run. A failed read or a
    /// revoked token is a failed run (kept, with its error), not an `Err`.
    ///
    /// # Errors
    /// [`SyncError`] when the run cannot start at all.
    pub async fn run(&self, channel_id: ChannelId, mode: RunMode) -> Result<SyncRun, SyncError> {
        self.run_with(channel_id, mode, None).await
    }

    /// Runs several channels' syncs in turn, reading each community's
    /// members once for all of its channels (read again after a run that
    /// changed the hub). One result per channel, in order.
    pub async fn run_many(
        &self,
        channels: &[ChannelId],
        mode: RunMode,
    ) -> Vec<Result<SyncRun, SyncError>> {
        let mut rosters: HashMap<crate::ids::CommunityId, HubRoster> = HashMap::new();
        let mut results = Vec::with_capacity(channels.len());
        for &channel_id in channels {
            let result = async {
                let (channel, _) = self
                    .store
                    .channel_with_secret(channel_id)
                    .await?
                    .ok_or_else(|| {
                        SyncError::NotFound(format!("there is no channel {channel_id}"))
                    })?;
                let community = channel.community_id;
                if let std::collections::hash_map::Entry::Vacant(slot) = rosters.entry(community) {
                    slot.insert(self.store.sync_roster_all(community).await?);
                }
                let run = self
                    .run_with(channel_id, mode, rosters.get(&community))
                    .await?;
                if run.state == SyncRunState::Applied
                    && (run.counts.added > 0 || run.counts.updated > 0 || run.counts.removed > 0)
                {
                    rosters.remove(&community);
                }
                Ok(run)
            }
            .await;
            results.push(result);
        }
        results
    }

    async fn run_with(
        &self,
        channel_id: ChannelId,
        mode: RunMode,
        hub: Option<&HubRoster>,
    ) -> Result<SyncRun, SyncError> {
        let (channel, secret) = self
            .store
            .channel_with_secret(channel_id)
            .await?
            .ok_or_else(|| SyncError::NotFound(format!("there is no channel {channel_id}")))?;
        let job = self.store.sync_job_of(channel_id).await?.ok_or_else(|| {
            SyncError::NotFound(format!(
                "the channel {:?} has no sync schedule",
                channel.name
            ))
        })?;
        let consent = consent_channel(channel.kind).ok_or_else(|| {
            SyncError::Unsupported(format!("{} channels have no members to sync", channel.kind))
        })?;
        let mut run = SyncRun {
            id: SyncRunId::new(),
            job_id: job.id,
            state: SyncRunState::Failed,
            plan: serde_json::Value::Null,
            counts: SyncCounts::default(),
            error: None,
            started_at: self.clock.now(),
            finished_at: None,
        };
        let hub = HubSide {
            consent,
            roster: hub,
        };
        self.execute(&channel, secret.as_deref(), &job, hub, mode, &mut run)
            .await?;
        run.finished_at = Some(self.clock.now());
        self.store.record_sync_run(&run).await?;
        Ok(run)
    }

    /// Discards the plan a guardrail is holding for the channel (its latest
    /// run other than dry runs), so the next run plans afresh. Returns the
    /// discarded run.
    ///
    /// # Errors
    /// [`SyncError::NotFound`] when the channel has no sync schedule.
    pub async fn discard_held(&self, channel_id: ChannelId) -> Result<Option<SyncRun>, SyncError> {
        let Some(mut held) = self.held_run(channel_id).await? else {
            return Ok(None);
        };
        held.state = SyncRunState::Discarded;
        held.finished_at = Some(self.clock.now());
        self.store.record_sync_run(&held).await?;
        Ok(Some(held))
    }

    /// Applies the plan a guardrail is holding for the channel, as the lead
    /// approved it: the channel is read again and planned afresh, and the
    /// fresh plan is applied when the approval covers it (no more removals
    /// than the lead read); otherwise the fresh plan is held in its turn.
    ///
    /// # Errors
    /// [`SyncError::NothingHeld`] when no plan is held for the channel.
    pub async fn approve_held(&self, channel_id: ChannelId) -> Result<SyncRun, SyncError> {
        let held = self.held_run(channel_id).await?.ok_or_else(|| {
            SyncError::NothingHeld(
                "no plan is held for this channel, so there is nothing to approve".into(),
            )
        })?;
        let hold = Hold::from_stored(&held.plan).ok_or_else(|| {
            SyncError::NothingHeld(format!(
                "the held run {} does not say why it was held; run the sync again",
                held.id
            ))
        })?;
        self.run(channel_id, RunMode::ApplyApproved(hold)).await
    }

    /// The channel's held run: its latest run other than dry runs, if that
    /// one is held (a run applied or discarded since settled it).
    ///
    /// # Errors
    /// [`SyncError::NotFound`] when the channel has no sync schedule.
    pub async fn held_run(&self, channel_id: ChannelId) -> Result<Option<SyncRun>, SyncError> {
        let job = self.store.sync_job_of(channel_id).await?.ok_or_else(|| {
            SyncError::NotFound(format!("the channel {channel_id} has no sync schedule"))
        })?;
        let runs = self.store.sync_runs(job.id, 50).await?;
        Ok(runs
            .into_iter()
            .find(|r| r.state != SyncRunState::Planned)
            .filter(|r| r.state == SyncRunState::Held))
    }

    async fn execute(
        &self,
        channel: &Channel,
        secret: Option<&str>,
        job: &SyncJob,
        hub: HubSide<'_>,
        mode: RunMode,
        run: &mut SyncRun,
    ) -> Result<(), SyncError> {
        let consent = hub.consent;
        let secret = match self.secret_of(channel, secret).await {
            Ok(secret) => secret,
            Err(e) => {
                run.error = Some(e.to_string());
                return Ok(());
            }
        };
        let adapter = match self.adapters.adapter(channel, secret.as_deref()) {
            Ok(adapter) => adapter,
            Err(e) => {
                run.error = Some(e.to_string());
                return Ok(());
            }
        };
        let remote = read_remote(adapter.as_ref()).await;
        crate::metrics::count_adapter_call(channel.kind, "read_members", &remote);
        let remote = match remote {
            Ok(remote) => remote,
            Err(error) => {
                self.note_auth_failure(channel, &error).await?;
                run.error = Some(format!(
                    "reading the channel failed, so nothing was changed: {error}"
                ));
                return Ok(());
            }
        };
        run.counts.api_calls = u64::from(remote.api_calls);
        let mut remote = remote;
        read_as_linked(
            &mut remote.members,
            self.store.channel_account_links(channel.id).await?,
        );
        let hub = match hub.roster {
            Some(roster) => roster.for_channel(consent),
            None => {
                self.store
                    .sync_roster(channel.community_id, consent)
                    .await?
            }
        };
        let guardrails = Guardrails {
            max_remove_fraction: job.max_remove_fraction,
            max_remove_count: job.max_remove_count as usize,
        };
        let last_seen = job
            .last_seen
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let plan = plan(job.direction, &hub, &remote.members, last_seen, guardrails);
        run.counts.unchanged = plan.unchanged as u64;
        run.counts.unmatched = plan.unmatched.len() as u64;
        run.plan = plan.for_storage();
        let held = match (plan.held, mode) {
            (None, _) => false,
            (Some(fresh), RunMode::ApplyApproved(approved)) => {
                let covered = approved.covers(&fresh);
                if !covered {
                    run.error = Some(
                        "the plan changed since it was approved and would now remove more; \
                         it is held again for a fresh look"
                            .into(),
                    );
                }
                !covered
            }
            (Some(_), _) => true,
        };
        if mode == RunMode::DryRun || job.direction == SyncDirection::Observe {
            run.state = SyncRunState::Planned;
            return Ok(());
        }
        if held {
            run.state = SyncRunState::Held;
            return Ok(());
        }
        self.apply(channel, adapter.as_ref(), consent, &plan, run)
            .await?;
        self.store
            .set_sync_last_seen(job.id, remote.members.len() as u64)
            .await?;
        Ok(())
    }

    async fn apply(
        &self,
        channel: &Channel,
        adapter: &dyn ChannelAdapter,
        consent: ConsentChannel,
        plan: &SyncPlan,
        run: &mut SyncRun,
    ) -> Result<(), SyncError> {
        if !plan.hub_adds.is_empty() || !plan.consent_changes.is_empty() {
            let audit = NewAuditEvent {
                actor: format!("system:sync:{}", channel.id),
                action: "sync.apply".into(),
                community_id: Some(channel.community_id),
                subject: channel.name.clone(),
                details: serde_json::json!({
                    "added": plan.hub_adds.len(),
                    "consent_changes": plan.consent_changes.len(),
                }),
            };
            self.store
                .apply_sync_to_hub(
                    channel.community_id,
                    consent,
                    &plan.hub_adds,
                    &plan.consent_changes,
                    audit,
                )
                .await?;
            run.counts.added += plan.hub_adds.len() as u64;
            for change in &plan.consent_changes {
                if change.status == ConsentStatus::Subscribed {
                    run.counts.updated += 1;
                } else {
                    run.counts.removed += 1;
                }
            }
        }
        // The channel's side, one call each. A revoked token stops the run:
        // nothing more is changed until the channel is reconnected.
        let outside = adapter.outside_invite();
        for add in &plan.channel_adds {
            if let Some(invite) = &outside {
                self.invite(channel, invite, add, run).await?;
                continue;
            }
            run.counts.api_calls += 1;
            let added = adapter.add_member(&add.email, &add.name).await;
            crate::metrics::count_adapter_call(channel.kind, "add_member", &added);
            match added {
                Ok(_) => run.counts.added += 1,
                Err(error) => {
                    if self.stop_on(channel, &error, run).await? {
                        return Ok(());
                    }
                }
            }
        }
        for removal in &plan.channel_removals {
            run.counts.api_calls += 1;
            let removed = adapter.remove_member(&removal.external_id).await;
            crate::metrics::count_adapter_call(channel.kind, "remove_member", &removed);
            match removed {
                Ok(()) => run.counts.removed += 1,
                Err(error) => {
                    if self.stop_on(channel, &error, run).await? {
                        return Ok(());
                    }
                }
            }
        }
        if !plan.group_members.is_empty() {
            let departed = self.store.group_departures(channel.id).await?;
            let settled = adapter.settle_groups(&plan.group_members, &departed).await;
            crate::metrics::count_adapter_call(channel.kind, "settle_groups", &settled);
            match settled {
                Ok(changes) => {
                    run.counts.added += changes.added;
                    run.counts.api_calls += changes.api_calls;
                }
                Err(error) => {
                    if self.stop_on(channel, &error, run).await? {
                        return Ok(());
                    }
                }
            }
        }
        run.state = SyncRunState::Applied;
        Ok(())
    }

    /// Mails `add` the tool's invite link, once per person and channel.
    async fn invite(
        &self,
        channel: &Channel,
        invite: &crate::ports::adapter::OutsideInvite,
        add: &ChannelAdd,
        run: &mut SyncRun,
    ) -> Result<(), SyncError> {
        let Some(mailer) = &self.mailer else {
            run.counts.errors += 1;
            run.error = Some(format!(
                "{} is not in {}, and this hub has no mail server to send them the invite link: set [mail] smtp_url",
                add.email, invite.place
            ));
            return Ok(());
        };
        if !self
            .store
            .claim_invitation(channel.id, &add.email, self.clock.now())
            .await?
        {
            return Ok(()); // invited before: once is enough
        }
        let greeting = if add.name.trim().is_empty() {
            "Hello,".to_owned()
        } else {
            format!("Hello {},", add.name.trim())
        };
        let mail = crate::ports::mailer::OutgoingMail {
            to: add.email.clone(),
            subject: format!("An invitation to {}", invite.place),
            text: format!(
                "{greeting}\n\nyou are on the roster of a community that talks in {}, and you are not in it yet. Join here:\n\n{}\n\nThis invitation is sent once; if you would rather not join, there is nothing to do.\n",
                invite.place, invite.link
            ),
            html: None,
            message_id: format!(
                "invite.{}.{}@cophub.invalid",
                channel.id,
                &crate::auth::hash_secret(add.email.normalized())[..16]
            ),
            calendar: None,
        };
        match mailer.send(&mail).await {
            Ok(()) => run.counts.invited += 1,
            Err(error) => {
                // Not sent: the next run tries again.
                self.store.forget_invitation(channel.id, &add.email).await?;
                run.counts.errors += 1;
                run.error = Some(format!(
                    "the invitation to {} was not sent: {error}",
                    add.email
                ));
            }
        }
        Ok(())
    }

    /// Counts a failed change; `true` when the run must stop (the token is gone).
    async fn stop_on(
        &self,
        channel: &Channel,
        error: &AdapterError,
        run: &mut SyncRun,
    ) -> Result<bool, SyncError> {
        run.counts.errors += 1;
        run.error = Some(error.to_string());
        if matches!(error, AdapterError::Auth(_)) {
            self.note_auth_failure(channel, error).await?;
            run.state = SyncRunState::Failed;
            return Ok(true);
        }
        Ok(false)
    }

    async fn note_auth_failure(
        &self,
        channel: &Channel,
        error: &AdapterError,
    ) -> Result<(), StoreError> {
        if let AdapterError::Auth(message) = error {
            let health = ChannelHealth::NeedsReconnect {
                last_error: message.clone(),
            };
            self.store.set_channel_health(channel.id, &health).await?;
        }
        Ok(())
    }
}

impl SyncEngine {
    /// The groups (Slack conversations) a lead can choose for a channel,
    /// asked of its tool now.
    ///
    /// # Errors
    /// `NotFound` for an unknown channel; `Channel` with the tool's failure.
    pub async fn groups(
        &self,
        channel_id: ChannelId,
    ) -> Result<Vec<crate::ports::adapter::RemoteGroup>, SyncError> {
        let (_, adapter) = self.adapter(channel_id).await?;
        Ok(adapter.list_groups().await?)
    }

    /// The channel and the adapter that reaches it, its secret refreshed
    /// first where it rotates.
    ///
    /// # Errors
    /// `NotFound` for an unknown channel; `Channel` when its credentials or
    /// settings cannot make an adapter.
    pub async fn adapter(
        &self,
        channel_id: ChannelId,
    ) -> Result<(Channel, Arc<dyn ChannelAdapter>), SyncError> {
        let (channel, secret) = self
            .store
            .channel_with_secret(channel_id)
            .await?
            .ok_or_else(|| SyncError::NotFound(format!("there is no channel {channel_id}")))?;
        let secret = self
            .secret_of(&channel, secret.as_deref())
            .await
            .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        let adapter = self.adapters.adapter(&channel, secret.as_deref())?;
        Ok((channel, adapter))
    }

    /// Processes a kept event and records the outcome: a Slack event
    /// through its channel's adapter, a Zoom webhook by
    /// [`crate::calls::attendance::process`]. An event whose processing
    /// failed for storage stays waiting, for
    /// [`SyncEngine::process_waiting_events`].
    ///
    /// # Errors
    /// [`StoreError`] when storage fails.
    pub async fn process_event(&self, event: &InboundEvent) -> Result<(), StoreError> {
        // Zoom's webhooks tell of calls, not of members.
        if event.source == crate::model::event::ZOOM {
            return crate::calls::attendance::process(
                self.store.as_ref(),
                self.clock.as_ref(),
                event,
            )
            .await;
        }
        let Some(kind) = crate::model::event::channel_kind(&event.source) else {
            return self
                .store
                .finish_inbound_event(
                    &event.source,
                    &event.event_id,
                    "no channel takes this source's events",
                    self.clock.now(),
                )
                .await;
        };
        let outcome = match self.take_event(kind, event).await {
            Ok(outcome) => outcome,
            Err(SyncError::Store(e)) => return Err(e),
            Err(other) => other.to_string(),
        };
        self.store
            .finish_inbound_event(&event.source, &event.event_id, &outcome, self.clock.now())
            .await
    }

    /// Processes the events of `source` kept more than a minute ago and not
    /// processed (their process stopped between keeping and processing).
    /// Returns how many it processed.
    ///
    /// # Errors
    /// [`StoreError`] when storage fails.
    pub async fn process_waiting_events(&self, source: &str) -> Result<usize, StoreError> {
        let before = self.clock.now() - chrono::Duration::minutes(1);
        let waiting = self
            .store
            .unprocessed_inbound_events(source, before, 100)
            .await?;
        for event in &waiting {
            self.process_event(event).await?;
        }
        Ok(waiting.len())
    }

    /// Processes a pushed event of `kind` channels: routes it to the
    /// channels whose `team_id` setting is its routing key, and does what
    /// each channel's adapter reads in it. A person who joined or left is
    /// synced alone, by the same plan and rules as a whole run (their
    /// channel's direction, opt-outs untouched); revoked access marks the
    /// channel for reconnecting. Returns what it did, for the event's record.
    ///
    /// # Errors
    /// [`SyncError::Store`] when storage fails (the event is then taken
    /// again later).
    pub async fn take_event(
        &self,
        kind: ChannelKind,
        event: &InboundEvent,
    ) -> Result<String, SyncError> {
        let channels: Vec<Channel> = self
            .store
            .channels_of_kind(kind)
            .await?
            .into_iter()
            .filter(|c| {
                c.settings
                    .get("team_id")
                    .and_then(serde_json::Value::as_str)
                    == Some(event.routing_key.as_str())
            })
            .collect();
        if channels.is_empty() {
            return Ok(format!("no channel is connected to {}", event.routing_key));
        }
        let mut outcomes = Vec::with_capacity(channels.len());
        for channel in &channels {
            let outcome = self.take_event_for(channel, event).await?;
            outcomes.push(format!("{}: {outcome}", channel.name));
        }
        Ok(outcomes.join("; "))
    }

    async fn take_event_for(
        &self,
        channel: &Channel,
        event: &InboundEvent,
    ) -> Result<String, SyncError> {
        let Some((channel, secret)) = self.store.channel_with_secret(channel.id).await? else {
            return Ok("the channel is gone".into());
        };
        let secret = match self.secret_of(&channel, secret.as_deref()).await {
            Ok(secret) => secret,
            Err(e) => return Ok(format!("its secret cannot be used: {e}")),
        };
        let adapter = match self.adapters.adapter(&channel, secret.as_deref()) {
            Ok(adapter) => adapter,
            Err(e) => return Ok(format!("it cannot be reached: {e}")),
        };
        let (person, present) = match adapter.interpret_event(&event.payload) {
            ChannelEvent::Ignore(why) => return Ok(why),
            ChannelEvent::AccessRevoked(why) => {
                let health = ChannelHealth::NeedsReconnect {
                    last_error: why.clone(),
                };
                self.store.set_channel_health(channel.id, &health).await?;
                return Ok(format!("needs reconnecting: {why}"));
            }
            ChannelEvent::GroupMembership {
                group,
                external_id,
                joined,
            } => {
                self.store
                    .record_group_membership(
                        channel.id,
                        &group,
                        &external_id,
                        joined,
                        self.clock.now(),
                    )
                    .await?;
                return Ok(if joined {
                    format!("{external_id} joined {group}")
                } else {
                    format!("{external_id} left {group} and is not invited back into it")
                });
            }
            ChannelEvent::MemberPresent(person) => (person, true),
            ChannelEvent::MemberGone(person) => (person, false),
        };
        let Some(job) = self.store.sync_job_of(channel.id).await? else {
            return Ok("the channel has no sync schedule, so the hub keeps no one from it".into());
        };
        let Some(consent) = consent_channel(channel.kind) else {
            return Ok("the channel has no members".into());
        };
        let Some(email) = person.email.clone() else {
            return Ok(format!(
                "{} has no visible email: left unmatched",
                person.external_id
            ));
        };
        let hub: Vec<SyncPerson> = self
            .store
            .member_by_email(channel.community_id, &email)
            .await?
            .map(|member| SyncPerson::of(&member, consent))
            .into_iter()
            .collect();
        let remote = if present { vec![person] } else { Vec::new() };
        // One person: no guardrail can be meant for them.
        let open = Guardrails {
            max_remove_fraction: 1.0,
            max_remove_count: usize::MAX,
        };
        let plan = plan(job.direction, &hub, &remote, None, open);
        if job.direction == SyncDirection::Observe
            || (plan.hub_adds.is_empty() && plan.consent_changes.is_empty())
        {
            return Ok(format!("{email}: nothing for the hub to change"));
        }
        let audit = NewAuditEvent {
            actor: format!("system:event:{}", channel.id),
            action: "sync.apply".into(),
            community_id: Some(channel.community_id),
            subject: channel.name.clone(),
            details: serde_json::json!({
                "event": event.event_id,
                "added": plan.hub_adds.len(),
                "consent_changes": plan.consent_changes.len(),
            }),
        };
        self.store
            .apply_sync_to_hub(
                channel.community_id,
                consent,
                &plan.hub_adds,
                &plan.consent_changes,
                audit,
            )
            .await?;
        Ok(format!(
            "{email}: {} added, {} consent changed",
            plan.hub_adds.len(),
            plan.consent_changes.len()
        ))
    }
}

/// Why a sync schedule cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression is not one.
    #[error(transparent)]
    Cron(#[from] crate::schedule::InvalidCron),
    /// The guardrail share is not between 0 and 1.
    #[error(
        "the guardrail share must be between 0 and 1 (0.10 holds plans removing more than 10 %)"
    )]
    Fraction,
    /// The channel cannot sync members.
    #[error("{0} channels have no members to sync")]
    Unsupported(ChannelKind),
    /// Storage refused it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Gives each account the channel shares no email for, and a lead linked
/// to a member, that member's email, so the plan matches it like any other.
fn read_as_linked(members: &mut [RemoteMember], links: Vec<(String, Email)>) {
    if links.is_empty() {
        return;
    }
    let links: HashMap<String, Email> = links.into_iter().collect();
    for member in members.iter_mut().filter(|m| m.email.is_none()) {
        member.email = links.get(&member.external_id).cloned();
    }
}

/// The longest channel account id a lead may link, in characters (Slack's
/// and Zoom's are far shorter).
const MAX_EXTERNAL_ID_CHARS: usize = 200;

/// Why an account could not be linked.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The account id is empty or not one; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// No member of the community has that email.
    #[error("no member of this community has the address {0}")]
    NoSuchMember(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Links a channel account that comes without an email (the sync run's
/// "accounts without an email") to the community's member with `email`;
/// the next sync reads the account as that member. Audited under the
/// member's email, so it shows in their history.
///
/// # Errors
/// [`LinkError`].
pub async fn link_account(
    store: &dyn Store,
    channel: &Channel,
    external_id: &str,
    email: &str,
    actor: &str,
) -> Result<(), LinkError> {
    let external_id = external_id.trim();
    if external_id.is_empty()
        || external_id.chars().count() > MAX_EXTERNAL_ID_CHARS
        || external_id.chars().any(char::is_control)
    {
        return Err(LinkError::Invalid(
            "the channel account to link is missing or not an account id".into(),
        ));
    }
    let email = Email::parse(email.trim())
        .map_err(|e| LinkError::Invalid(format!("the member's email: {e}")))?;
    let member = store
        .member_by_email(channel.community_id, &email)
        .await?
        .ok_or_else(|| LinkError::NoSuchMember(email.to_string()))?;
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "member.account_linked".into(),
        community_id: Some(channel.community_id),
        subject: member.email.normalized().to_owned(),
        details: serde_json::json!({"channel": channel.name, "account": external_id}),
    };
    store
        .link_channel_account(channel.id, external_id, member.id, audit)
        .await?;
    Ok(())
}

/// Changes which way a channel's scheduled sync goes (only reading the
/// channel's people, or keeping the channel in step too), audited; nothing
/// changes when it already goes that way.
///
/// # Errors
/// `NotFound` when the channel has no schedule; otherwise storage errors.
pub async fn change_direction(
    store: &dyn Store,
    channel: &Channel,
    direction: SyncDirection,
    actor: &str,
) -> Result<SyncJob, StoreError> {
    let job = store
        .sync_job_of(channel.id)
        .await?
        .ok_or_else(|| StoreError::NotFound("This channel's sync schedule".into()))?;
    if job.direction == direction {
        return Ok(job);
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "sync.direction".into(),
        community_id: Some(channel.community_id),
        subject: channel.name.clone(),
        details: serde_json::json!({"from": job.direction, "to": direction}),
    };
    store
        .change_sync_direction(channel.id, direction, audit)
        .await
}

/// Gives a channel its sync schedule, checked.
///
/// # Errors
/// [`ScheduleError`].
pub async fn schedule_channel(
    store: &dyn Store,
    channel: &Channel,
    direction: SyncDirection,
    cron: &str,
    guardrails: Guardrails,
    actor: &str,
) -> Result<SyncJob, ScheduleError> {
    let parsed = crate::schedule::CronSchedule::parse(cron)?;
    if !(0.0..=1.0).contains(&guardrails.max_remove_fraction) {
        return Err(ScheduleError::Fraction);
    }
    if consent_channel(channel.kind).is_none() {
        return Err(ScheduleError::Unsupported(channel.kind));
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "sync.schedule".into(),
        community_id: Some(channel.community_id),
        subject: channel.name.clone(),
        details: serde_json::json!({"direction": direction, "cron": parsed.as_str(), "guardrails": guardrails}),
    };
    let job = crate::model::sync::NewSyncJob {
        direction,
        cron: parsed.as_str().to_owned(),
        max_remove_fraction: guardrails.max_remove_fraction,
        max_remove_count: u32::try_from(guardrails.max_remove_count).unwrap_or(u32::MAX),
    };
    Ok(store.create_sync_job(channel.id, job, audit).await?)
}

/// Runs each sync job at its cron ticks. Every instance may run a scheduler:
/// a tick is claimed in the database before it runs, so it runs once.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    engine: SyncEngine,
    clock: Arc<dyn Clock>,
    owner: String,
}

impl Scheduler {
    /// A scheduler named `owner` (for the claims it makes).
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        engine: SyncEngine,
        clock: Arc<dyn Clock>,
        owner: String,
    ) -> Self {
        Self {
            store,
            engine,
            clock,
            owner,
        }
    }

    /// Runs every job whose tick has come and that no instance has claimed,
    /// after taking the pushed events (Slack's, Zoom's) a stopped process
    /// left waiting. Returns the runs this instance made.
    ///
    /// # Errors
    /// [`StoreError`] when the jobs cannot be read; a job that fails to run
    /// is logged and the others still run.
    pub async fn run_once(&self) -> Result<Vec<SyncRun>, StoreError> {
        let now = self.clock.now();
        let mut runs = Vec::new();
        for source in [crate::model::event::SLACK, crate::model::event::ZOOM] {
            if let Err(error) = self.engine.process_waiting_events(source).await {
                tracing::error!(%error, source, "waiting pushed events could not be processed");
            }
        }
        for job in self.store.sync_jobs().await? {
            match self.tick(&job, now).await {
                Ok(Some(run)) => runs.push(run),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(job = %job.id, %error, "a scheduled sync could not run")
                }
            }
        }
        Ok(runs)
    }

    async fn tick(
        &self,
        job: &SyncJob,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<SyncRun>, SyncError> {
        let schedule = match crate::schedule::CronSchedule::parse(&job.cron) {
            Ok(schedule) => schedule,
            Err(error) => {
                tracing::warn!(job = %job.id, %error, "a sync job has an unreadable schedule");
                return Ok(None);
            }
        };
        let Some((channel, _)) = self.store.channel_with_secret(job.channel_id).await? else {
            return Ok(None);
        };
        let tz = match self.store.community(channel.community_id).await? {
            Some(community) => community.timezone.parse().unwrap_or(chrono_tz::Tz::UTC),
            None => return Ok(None),
        };
        let since = self
            .store
            .last_cron_tick(job.id)
            .await?
            .unwrap_or(job.created_at);
        let Some(tick) = schedule.latest_due(tz, since, now) else {
            return Ok(None);
        };
        if !self
            .store
            .claim_cron_tick(job.id, tick, &self.owner)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(self.engine.run(job.channel_id, RunMode::Apply).await?))
    }

    /// Runs until `shutdown` resolves, looking every `every`.
    pub async fn run(
        &self,
        every: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.run_once().await {
                tracing::error!(%error, "the sync scheduler could not read its jobs");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn a_linked_account_without_an_email_is_read_as_its_member() {
        let ada = Email::parse("ada@example.org").unwrap_or_else(|e| panic!("{e}"));
        let other = Email::parse("cy@example.org").unwrap_or_else(|e| panic!("{e}"));
        let mut members = vec![
            RemoteMember {
                external_id: "U1".into(),
                email: None,
                name: "Hidden".into(),
            },
            RemoteMember {
                external_id: "U2".into(),
                email: Some(other.clone()),
                name: "Shown".into(),
            },
            RemoteMember {
                external_id: "U3".into(),
                email: None,
                name: "Unlinked".into(),
            },
        ];
        // A link never overrides an email the channel does share.
        read_as_linked(
            &mut members,
            vec![("U1".into(), ada.clone()), ("U2".into(), ada.clone())],
        );
        assert_eq!(members[0].email.as_ref(), Some(&ada));
        assert_eq!(members[1].email.as_ref(), Some(&other));
        assert_eq!(members[2].email, None);
    }
    use crate::model::member::{CommunityRole, Consent, ConsentSource};

    #[test]
    fn a_hold_survives_storage_and_an_approval_covers_only_as_many_removals() {
        let approved = Hold::TooManyRemovals {
            side: "channel",
            removals: 200,
            of: 1000,
        };
        let plan = SyncPlan {
            held: Some(approved),
            ..SyncPlan::default()
        };
        assert_eq!(Hold::from_stored(&plan.for_storage()), Some(approved));
        let empty = Hold::EmptySide { last_seen: 40 };
        assert_eq!(
            Hold::from_stored(&serde_json::json!({ "held": empty })),
            Some(empty)
        );
        assert_eq!(
            Hold::from_stored(&serde_json::json!({ "held": null })),
            None
        );

        let fewer = Hold::TooManyRemovals {
            side: "channel",
            removals: 150,
            of: 900,
        };
        let more = Hold::TooManyRemovals {
            side: "channel",
            removals: 201,
            of: 1000,
        };
        let other_side = Hold::TooManyRemovals {
            side: "hub",
            removals: 10,
            of: 1000,
        };
        assert!(approved.covers(&approved));
        assert!(approved.covers(&fewer));
        assert!(!approved.covers(&more));
        assert!(!approved.covers(&other_side));
        assert!(!approved.covers(&empty));
        assert!(empty.covers(&Hold::EmptySide { last_seen: 7 }));
    }

    fn member(email: &str, consent: ConsentStatus, state: MemberState) -> Member {
        Member {
            id: MemberId::new(),
            community_id: crate::ids::CommunityId::new(),
            email: Email::parse(email).unwrap(),
            name: email.into(),
            role: CommunityRole::Member,
            state,
            consents: vec![Consent {
                channel: ConsentChannel::Slack,
                status: consent,
                changed_at: Utc::now(),
                source: ConsentSource::Member,
            }],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn remote(email: Option<&str>, id: &str) -> RemoteMember {
        RemoteMember {
            external_id: id.into(),
            email: email.map(|e| Email::parse(e).unwrap()),
            name: id.into(),
        }
    }

    fn slack_plan(direction: SyncDirection, hub: &[Member], remote: &[RemoteMember]) -> SyncPlan {
        plan(direction, &people(hub), remote, None, Guardrails::default())
    }

    fn people(hub: &[Member]) -> Vec<SyncPerson> {
        hub.iter()
            .map(|m| SyncPerson::of(m, ConsentChannel::Slack))
            .collect()
    }

    #[test]
    fn import_adds_new_people_with_this_channels_consent_only_and_matches_by_normalized_email() {
        let hub = [member(
            "ada@example.org",
            ConsentStatus::None,
            MemberState::Active,
        )];
        let remote = [
            remote(Some("ADA@example.org"), "U1"),
            remote(Some("bob@example.org"), "U2"),
            remote(None, "B1"),
        ];
        let p = slack_plan(SyncDirection::Import, &hub, &remote);
        assert_eq!(p.hub_adds.len(), 1);
        assert_eq!(p.hub_adds[0].email.normalized(), "bob@example.org");
        assert_eq!(
            p.consent_changes.len(),
            1,
            "ada is in Slack: her Slack consent becomes subscribed"
        );
        assert_eq!(p.consent_changes[0].status, ConsentStatus::Subscribed);
        assert_eq!(p.unmatched, ["B1"]);
        assert!(
            p.channel_adds.is_empty() && p.channel_removals.is_empty(),
            "import never touches the channel"
        );
    }

    #[test]
    fn a_mirror_keeps_in_the_groups_exactly_the_consenting_people_of_the_channel() {
        let hub = [
            member(
                "ada@example.org",
                ConsentStatus::Subscribed,
                MemberState::Active,
            ),
            member("bob@example.org", ConsentStatus::None, MemberState::Active),
            member(
                "cy@example.org",
                ConsentStatus::OptedOut,
                MemberState::Active,
            ),
            member(
                "di@example.org",
                ConsentStatus::Subscribed,
                MemberState::Left,
            ),
            member(
                "ed@example.org",
                ConsentStatus::Subscribed,
                MemberState::Active,
            ),
        ];
        let in_slack = [
            remote(Some("ada@example.org"), "U1"),
            remote(Some("bob@example.org"), "U2"),
            remote(Some("cy@example.org"), "U3"),
            remote(Some("di@example.org"), "U4"),
            remote(Some("new@example.org"), "U5"),
        ];
        let mirror = slack_plan(SyncDirection::Mirror, &hub, &in_slack);
        assert_eq!(
            mirror.group_members,
            ["U1", "U2", "U5"],
            "the subscribed, the newly subscribed and the newly imported; never the opted-out or the departed"
        );
        let import = slack_plan(SyncDirection::Import, &hub, &in_slack);
        assert!(
            import.group_members.is_empty(),
            "import never touches the channel"
        );
    }

    #[test]
    fn an_opt_out_is_never_overridden_in_any_direction() {
        let hub = [member(
            "ada@example.org",
            ConsentStatus::OptedOut,
            MemberState::Active,
        )];
        let in_slack = [remote(Some("ada@example.org"), "U1")];
        let import = slack_plan(SyncDirection::Import, &hub, &in_slack);
        assert!(
            import.consent_changes.is_empty(),
            "import leaves the opt-out alone"
        );
        let mirror = slack_plan(SyncDirection::Mirror, &hub, &in_slack);
        assert_eq!(mirror.channel_removals.len(), 1);
        assert_eq!(mirror.channel_removals[0].reason, "opted_out");
        assert!(mirror.consent_changes.is_empty());
        let export = slack_plan(SyncDirection::Export, &hub, &[]);
        assert!(
            export.channel_adds.is_empty(),
            "an opted-out member is never added"
        );
    }

    #[test]
    fn export_adds_subscribed_members_and_removes_strangers_and_leavers() {
        let hub = [
            member(
                "ada@example.org",
                ConsentStatus::Subscribed,
                MemberState::Active,
            ),
            member(
                "bob@example.org",
                ConsentStatus::Subscribed,
                MemberState::Left,
            ),
            member("cy@example.org", ConsentStatus::None, MemberState::Active),
        ];
        let remote = [
            remote(Some("bob@example.org"), "U2"),
            remote(Some("eve@example.org"), "U9"),
        ];
        let p = slack_plan(SyncDirection::Export, &hub, &remote);
        assert_eq!(p.channel_adds.len(), 1);
        assert_eq!(p.channel_adds[0].email.normalized(), "ada@example.org");
        let reasons: Vec<_> = p.channel_removals.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, ["left", "not_in_hub"]);
        assert!(p.hub_adds.is_empty(), "export never adds to the hub");
    }

    #[test]
    fn the_same_plan_twice_is_empty_once_applied() {
        let hub = [member(
            "ada@example.org",
            ConsentStatus::Subscribed,
            MemberState::Active,
        )];
        let remote = [remote(Some("ada@example.org"), "U1")];
        for direction in [
            SyncDirection::Import,
            SyncDirection::Export,
            SyncDirection::Mirror,
        ] {
            let p = slack_plan(direction, &hub, &remote);
            assert!(p.is_empty(), "{direction:?}: {p:?}");
            assert_eq!(p.unchanged, 1);
        }
    }

    fn members(n: usize) -> Vec<Member> {
        (0..n)
            .map(|i| {
                member(
                    &format!("p{i}@example.org"),
                    ConsentStatus::Subscribed,
                    MemberState::Active,
                )
            })
            .collect()
    }

    fn remotes(n: usize) -> Vec<RemoteMember> {
        (0..n)
            .map(|i| remote(Some(&format!("p{i}@example.org")), &format!("U{i}")))
            .collect()
    }

    #[test]
    fn losing_one_of_five_is_applied_but_losing_two_hundred_of_a_thousand_is_held() {
        let small = slack_plan(SyncDirection::Import, &members(5), &remotes(4));
        assert_eq!(small.consent_changes.len(), 1);
        assert_eq!(small.held, None, "1 removal is under the count of 3");
        let large = slack_plan(SyncDirection::Import, &members(1000), &remotes(800));
        assert_eq!(
            large.held,
            Some(Hold::TooManyRemovals {
                side: "hub",
                removals: 200,
                of: 1000
            })
        );
        // The same on the channel's side.
        let mut hub = members(1000);
        for m in &mut hub[..200] {
            m.consents[0].status = ConsentStatus::OptedOut;
        }
        let export = slack_plan(SyncDirection::Export, &hub, &remotes(1000));
        assert!(matches!(
            export.held,
            Some(Hold::TooManyRemovals {
                side: "channel",
                removals: 200,
                ..
            })
        ));
    }

    #[test]
    fn a_stored_plan_keeps_every_total_and_the_first_entries() {
        let p = slack_plan(
            SyncDirection::Import,
            &[],
            &remotes(STORED_PLAN_ENTRIES + 5),
        );
        let stored = p.for_storage();
        assert_eq!(
            stored["hub_adds"].as_array().unwrap().len(),
            STORED_PLAN_ENTRIES
        );
        assert_eq!(stored["totals"]["hub_adds"], STORED_PLAN_ENTRIES + 5);
        assert_eq!(stored["truncated"], true);
        assert_eq!(
            slack_plan(SyncDirection::Import, &[], &remotes(3)).for_storage()["truncated"],
            false
        );
    }

    #[test]
    fn an_empty_channel_where_the_last_run_saw_members_is_held() {
        let p = plan(
            SyncDirection::Import,
            &people(&members(3)),
            &[],
            Some(3),
            Guardrails::default(),
        );
        assert_eq!(p.held, Some(Hold::EmptySide { last_seen: 3 }));
        let first = plan(SyncDirection::Import, &[], &[], None, Guardrails::default());
        assert_eq!(first.held, None, "a new, empty channel is fine");
    }
}
