//! Storage, as the rest of cophub sees it. hub-store implements it for SQLite
//! and for PostgreSQL; one contract suite holds both to the same behaviour.
//!
//! Every method that changes something and takes a [`NewAuditEvent`] writes
//! the change and the audit entry in one transaction: both or neither.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    Email,
    idempotency::{IdempotencyKey, KeptResponse, KeyUse},
    ids::{
        AnnouncementId, ApiTokenId, CallId, ChannelId, CommunityId, DeliveryId, MemberId,
        SyncJobId, SyncRunId, UserId,
    },
    import::ImportPlan,
    model::{
        announcement::{Announcement, Delivery, NewAnnouncement, Recipient, RecipientCounts},
        audit::{AuditEvent, AuditQuery, NewAuditEvent},
        call::{
            Attendance, Call, CallInstance, CallLanding, ClaimedLanding, Invitee, LandingOutcome,
        },
        channel::{Channel, ChannelHealth, ChannelKind, NewChannel},
        community::{Community, NewCommunity},
        event::InboundEvent,
        member::{ConsentChannel, Member, MemberQuery, MemberUpdate, NewMember},
        sync::{NewSyncJob, SyncJob, SyncRun},
        user::{ApiToken, CommunityLead, NewUser, Session, User},
    },
    outbox::{ClaimedDelivery, Finish},
    page::Page,
    sync::{ConsentChange, HubAdd, SyncPerson},
};

/// How many deliveries are in each state, and how many sends may have
/// reached their channel twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxSummary {
    /// Deliveries per state word (`pending`, `sent`, …).
    pub by_state: std::collections::BTreeMap<String, u64>,
    /// The sum of every delivery's possible duplicates.
    pub possible_duplicates: u64,
}

/// How much work the database holds, for `/metrics`: each map is keyed by
/// (channel kind, state) words, e.g. `("slack", "sent")`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCounts {
    /// Deliveries per channel kind and delivery state.
    pub deliveries: std::collections::BTreeMap<(String, String), u64>,
    /// Sync runs per channel kind and run state (`applied`, `failed`, …).
    pub sync_runs: std::collections::BTreeMap<(String, String), u64>,
}

/// Renders the answer to an announcement published with an idempotency key,
/// to be kept with the key ([`Store::publish_once`]).
pub type Respond = dyn Fn(&Announcement, &[Delivery]) -> KeptResponse + Send + Sync;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist.
    #[error("{0} was not found")]
    NotFound(String),
    /// It would break a uniqueness rule (a taken slug or email).
    #[error("{0}")]
    Conflict(String),
    /// The value holds something the database cannot keep (a NUL character
    /// in text, on PostgreSQL); the message says what.
    #[error("{0}")]
    Unstorable(String),
    /// The database could not be reached or is overloaded.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a broken database. Logged, never shown.
    #[error("storage error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A user together with its password hash, for logging in.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// Its PHC-format password hash.
    pub password_hash: String,
}

/// Everything cophub keeps.
#[async_trait]
pub trait Store: super::conference_store::ConferenceStore + Send + Sync + std::fmt::Debug {
    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;

    // --- users, sessions, tokens -------------------------------------------

    /// How many users exist (zero means the instance is not set up yet).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn count_users(&self) -> Result<u64, StoreError>;

    /// Creates a user.
    ///
    /// # Errors
    /// `Conflict` when a user with that email exists.
    async fn create_user(&self, user: NewUser, audit: NewAuditEvent) -> Result<User, StoreError>;

    /// A user and its password hash, by email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn user_credentials(&self, email: &Email) -> Result<Option<UserCredentials>, StoreError>;

    /// Replaces any setup token by a new one (only its hash is kept).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn replace_setup_token(
        &self,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Whether a setup token is valid now.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn setup_token_is_valid(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Spends a setup token and creates the first owner with it, atomically.
    ///
    /// # Errors
    /// `NotFound` when the token is unknown, expired or spent, or a user
    /// already exists.
    async fn redeem_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        owner: NewUser,
        audit: NewAuditEvent,
    ) -> Result<User, StoreError>;

    /// Starts a session.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// A live session and its user: one that has been used within `idle` and
    /// began after `absolute_cutoff`. Marks it used at `now`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn touch_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle_cutoff: DateTime<Utc>,
        absolute_cutoff: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;

    /// Ends a session (logout). Ending an unknown session is not an error.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;

    /// Creates an API token for a user (only its hash is kept).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn create_api_token(
        &self,
        user_id: UserId,
        name: &str,
        token_hash: &str,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// The user an API token belongs to.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn user_by_api_token(&self, token_hash: &str) -> Result<Option<User>, StoreError>;

    /// API tokens, newest first: one user's, or every user's for `None`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn api_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiToken>, StoreError>;

    /// One API token, by id.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn api_token(&self, id: ApiTokenId) -> Result<Option<ApiToken>, StoreError>;

    /// Revokes an API token: it is deleted, so the next request with it is
    /// refused (nothing caches a token's user).
    ///
    /// # Errors
    /// `NotFound` when there is no such token (revoked meanwhile).
    async fn revoke_api_token(
        &self,
        id: ApiTokenId,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Every user, by email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// Makes a user an owner, or makes it no longer one. The owners are
    /// counted inside the writing transaction under a lock, so two owners
    /// taking it from each other at once cannot leave the instance with none.
    ///
    /// # Errors
    /// `NotFound` when there is no such user; `Conflict` when it would take
    /// it from the last owner.
    async fn set_owner(
        &self,
        user: UserId,
        is_owner: bool,
        audit: NewAuditEvent,
    ) -> Result<User, StoreError>;

    /// Every community's active leads, by community name then email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn community_leads(&self) -> Result<Vec<CommunityLead>, StoreError>;

    // --- communities ----------------------------------------------------------

    /// Creates a community, and its first lead when one is given.
    ///
    /// # Errors
    /// `Conflict` when the slug is taken.
    async fn create_community(
        &self,
        community: NewCommunity,
        first_lead: Option<NewMember>,
        audit: NewAuditEvent,
    ) -> Result<Community, StoreError>;

    /// A community by id.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn community(&self, id: CommunityId) -> Result<Option<Community>, StoreError>;

    /// A community by slug.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn community_by_slug(&self, slug: &str) -> Result<Option<Community>, StoreError>;

    /// The communities a user may see: all for an owner; for anyone else,
    /// those where an active member with the user's email is a lead.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn communities_for(&self, user: &User) -> Result<Vec<Community>, StoreError>;

    /// Sets who may read a community's archive of past announcements.
    ///
    /// # Errors
    /// `NotFound` for an unknown community; `Unavailable` or `Internal`.
    async fn set_archive_visibility(
        &self,
        community: CommunityId,
        archive: crate::model::community::ArchiveVisibility,
        audit: NewAuditEvent,
    ) -> Result<Community, StoreError>;

    // --- members ----------------------------------------------------------------

    /// One member of a community.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn member(
        &self,
        community: CommunityId,
        id: MemberId,
    ) -> Result<Option<Member>, StoreError>;

    /// A community's member with this (normalized) email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn member_by_email(
        &self,
        community: CommunityId,
        email: &Email,
    ) -> Result<Option<Member>, StoreError>;

    /// A member found by id alone, in whichever community (for signed
    /// links that carry only the member).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn member_by_id(&self, id: MemberId) -> Result<Option<Member>, StoreError>;

    /// Counts a bounce for a member as [`crate::bounces::next_score`] says
    /// (in the transaction that reads the old score), and stops email
    /// delivery to them at the threshold; `audit` is appended when it
    /// counted. `None` when a bounce already counted today.
    ///
    /// # Errors
    /// `NotFound` for an unknown member; `Unavailable` or `Internal`.
    async fn record_bounce(
        &self,
        member: MemberId,
        kind: crate::bounces::BounceKind,
        reason: &str,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Option<crate::bounces::BounceRecord>, StoreError>;

    /// Turns email delivery back on for a member whose bounces stopped it,
    /// and starts their bounce score again.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn resume_email_delivery(
        &self,
        member: MemberId,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// A member's bounce record, if they ever bounced.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn bounce_record(
        &self,
        member: MemberId,
    ) -> Result<Option<crate::bounces::BounceRecord>, StoreError>;

    /// Stores a member link (its hash).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn create_member_link(
        &self,
        link: crate::membership::NewMemberLink,
    ) -> Result<(), StoreError>;

    /// A link that still works (unused, unexpired), left as it is.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn member_link(
        &self,
        token_hash: &str,
        purpose: crate::membership::LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::membership::MemberLink>, StoreError>;

    /// Uses a link up, if it still works: of two concurrent callers, one
    /// gets it.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn spend_member_link(
        &self,
        token_hash: &str,
        purpose: crate::membership::LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::membership::MemberLink>, StoreError>;

    /// How many links of a kind went to an address since `since`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn recent_member_links(
        &self,
        community: CommunityId,
        email: &Email,
        purpose: crate::membership::LinkPurpose,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// One page of a community's roster, ordered by normalized email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn list_members(
        &self,
        community: CommunityId,
        query: &MemberQuery,
    ) -> Result<Page<Member>, StoreError>;

    /// Every member of a community, ordered by normalized email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn all_members(&self, community: CommunityId) -> Result<Vec<Member>, StoreError>;

    /// Adds a member.
    ///
    /// # Errors
    /// `Conflict` when the community has a member with that email.
    async fn create_member(
        &self,
        community: CommunityId,
        member: NewMember,
        audit: NewAuditEvent,
    ) -> Result<Member, StoreError>;

    /// Changes a member.
    ///
    /// # Errors
    /// `NotFound` when the community has no such member.
    async fn update_member(
        &self,
        community: CommunityId,
        id: MemberId,
        update: MemberUpdate,
        audit: NewAuditEvent,
    ) -> Result<Member, StoreError>;

    /// Applies an import plan in one transaction: all of it or none.
    ///
    /// # Errors
    /// `Conflict` when a planned new member was added meanwhile (plan again).
    async fn apply_import(
        &self,
        community: CommunityId,
        plan: &ImportPlan,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    // --- channels ------------------------------------------------------------------

    /// Connects a channel to a community.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn create_channel(
        &self,
        community: CommunityId,
        channel: NewChannel,
        audit: NewAuditEvent,
    ) -> Result<Channel, StoreError>;

    /// A community's channels.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn channels(&self, community: CommunityId) -> Result<Vec<Channel>, StoreError>;

    /// Every channel of one kind, in every community (events are routed by
    /// the workspace they name).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn channels_of_kind(&self, kind: ChannelKind) -> Result<Vec<Channel>, StoreError>;

    /// Keeps a pushed event before it is acknowledged; `false` when the
    /// same `(source, event_id)` was kept before (a sender's retry).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn record_inbound_event(&self, event: &InboundEvent) -> Result<bool, StoreError>;

    /// Records what processing an event did.
    ///
    /// # Errors
    /// `NotFound` for an unknown event.
    async fn finish_inbound_event(
        &self,
        source: &str,
        event_id: &str,
        outcome: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Events of `source` that arrived before `before` and are not yet
    /// processed, oldest first (a process that stopped between keeping and
    /// processing them leaves these).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn unprocessed_inbound_events(
        &self,
        source: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<InboundEvent>, StoreError>;

    /// Marks a channel working again, with a new encrypted secret if one is
    /// given (else it keeps its own): its waiting deliveries go out again.
    ///
    /// # Errors
    /// `NotFound` for an unknown channel.
    async fn reconnect_channel(
        &self,
        channel: ChannelId,
        encrypted_secret: Option<String>,
        audit: NewAuditEvent,
    ) -> Result<Channel, StoreError>;

    /// Takes the right to refresh a channel's rotating token until `until`,
    /// unless another holder's right has not run out by `now`. `true` when
    /// taken.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_secret_refresh(
        &self,
        channel: ChannelId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Keeps a refreshed (encrypted) secret and gives the right back; only
    /// while `owner` holds it. `false` when it no longer does.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn store_refreshed_secret(
        &self,
        channel: ChannelId,
        encrypted_secret: &str,
        owner: &str,
    ) -> Result<bool, StoreError>;

    /// Gives the right to refresh back without a new secret.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn release_secret_refresh(
        &self,
        channel: ChannelId,
        owner: &str,
    ) -> Result<(), StoreError>;

    /// Records that `email` is invited into the channel's tool now; `false`
    /// when they were invited before (nobody is invited twice).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_invitation(
        &self,
        channel: ChannelId,
        email: &Email,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Forgets an invitation whose mail could not be sent, so the next sync
    /// tries again.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn forget_invitation(&self, channel: ChannelId, email: &Email) -> Result<(), StoreError>;

    /// Records that a person left one of the channel's groups by themselves
    /// (`joined: false`), or came back (`joined: true`, which forgets it).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn record_group_membership(
        &self,
        channel: ChannelId,
        group: &str,
        external_id: &str,
        joined: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Who left which of the channel's groups by themselves: `(group, external id)`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn group_departures(
        &self,
        channel: ChannelId,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Keeps a new call, and a landing in each of `channels` (each pending
    /// the whole series, due now).
    ///
    /// # Errors
    /// `NotFound` for an unknown community or channel.
    async fn create_call(
        &self,
        call: &Call,
        channels: &[ChannelId],
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// A call.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn call(&self, id: CallId) -> Result<Option<Call>, StoreError>;

    /// A community's calls, by first start.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn community_calls(&self, community: CommunityId) -> Result<Vec<Call>, StoreError>;

    /// Replaces what a person changes of a call with `call`'s (not its
    /// meeting, join link or recording: the channels set those), and has
    /// every channel catch up with `scope` of it (a new revision, due now,
    /// failures forgotten).
    ///
    /// # Errors
    /// `NotFound` for an unknown call.
    async fn change_call(
        &self,
        call: &Call,
        scope: crate::ports::adapter::CallScope,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Where a call stands in each of its channels.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn call_landings(&self, call: CallId) -> Result<Vec<CallLanding>, StoreError>;

    /// Hands out up to `limit` landings due at `now` under a lease held by
    /// `owner` until `lease_until`. A call's other channels wait while its
    /// Zoom channel (which makes the join link they show) is pending.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_call_landings(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedLanding>, StoreError>;

    /// Records how an attempt ended, if `owner` still holds the lease;
    /// `false` when it does not (nothing is written).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn finish_call_landing(
        &self,
        owner: &str,
        call: CallId,
        channel: ChannelId,
        outcome: &LandingOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` active members who take the community's email and have
    /// not been sent version `sequence` of the call's invitation; with
    /// `only_invited`, only those sent an earlier version (a cancel goes to
    /// no one who never had the invitation).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn call_invitees(
        &self,
        call: CallId,
        sequence: u32,
        only_invited: bool,
        limit: u32,
    ) -> Result<Vec<Invitee>, StoreError>;

    /// The personal join links `member` was mailed, by call (for calls
    /// people register for: each registrant's own Zoom link).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn member_join_links(
        &self,
        member: MemberId,
    ) -> Result<Vec<(CallId, String)>, StoreError>;

    /// Records that these members were sent version `sequence` of the
    /// call's invitation, with the join link each was given (a link kept
    /// from an earlier version stays where none is given).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn record_invitations(
        &self,
        call: CallId,
        sent: &[crate::model::call::SentInvitation],
        sequence: u32,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Has one channel bring the whole call in line again (a new revision,
    /// due at `now`), without any change of the call: a Slack post moves on
    /// to the next occurrence, with its reminder, once one has ended.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn refresh_call_landing(
        &self,
        call: CallId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Every call not cancelled, in every community (the day-before
    /// reminders look through them).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn scheduled_calls(&self) -> Result<Vec<Call>, StoreError>;

    /// Claims up to `limit` members who were sent the call's invitation,
    /// still take the community's email, and have not been reminded of
    /// `occurrence` (its original local start): each is marked reminded
    /// before the mail goes, so no one is reminded twice (a crash loses a
    /// reminder rather than doubling one).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_reminders(
        &self,
        call: CallId,
        occurrence: chrono::NaiveDateTime,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Invitee>, StoreError>;

    /// Replaces a channel's (non-secret) settings.
    ///
    /// # Errors
    /// `NotFound` for an unknown channel.
    async fn change_channel_settings(
        &self,
        channel: ChannelId,
        settings: &serde_json::Value,
        audit: NewAuditEvent,
    ) -> Result<Channel, StoreError>;

    /// Records whether a channel works. A channel that needs reconnecting gets
    /// no deliveries until it is `ok` again.
    ///
    /// # Errors
    /// `NotFound` for an unknown channel.
    async fn set_channel_health(
        &self,
        channel: ChannelId,
        health: &ChannelHealth,
    ) -> Result<(), StoreError>;

    /// Hands out the channel's next send slot: the later of `now` and the
    /// previous slot plus `interval`. Every worker on the database shares it.
    ///
    /// # Errors
    /// `NotFound` for an unknown channel.
    async fn reserve_send_slot(
        &self,
        channel: ChannelId,
        now: DateTime<Utc>,
        interval: chrono::Duration,
    ) -> Result<DateTime<Utc>, StoreError>;

    /// Sends nothing to the channel before `until` (a rate limit's Retry-After).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn hold_channel_until(
        &self,
        channel: ChannelId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    // --- the outbox -----------------------------------------------------------------

    /// Writes an announcement and one pending delivery per target, in one
    /// transaction.
    ///
    /// # Errors
    /// `NotFound` when a target is not a channel of the community.
    async fn publish(
        &self,
        community: CommunityId,
        announcement: NewAnnouncement,
        audit: NewAuditEvent,
    ) -> Result<(Announcement, Vec<Delivery>), StoreError>;

    /// Publishes like [`Store::publish`], once per idempotency key, in one
    /// transaction that first claims the key (a live key of another request
    /// is [`KeyUse::Mismatch`]; of the same request, its kept answer), then
    /// publishes, renders the answer with `respond` and keeps it, created at
    /// `now`. A concurrent request with the same key waits for this one and
    /// gets its answer; nothing is kept when publishing fails. Keys older
    /// than [`crate::idempotency::KEY_LIFETIME`] count as new, and some of
    /// them are purged.
    ///
    /// # Errors
    /// As [`Store::publish`]; `NotFound` too when the key's API token is gone.
    async fn publish_once(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
        community: CommunityId,
        announcement: NewAnnouncement,
        audit: NewAuditEvent,
        respond: &Respond,
    ) -> Result<KeyUse, StoreError>;

    /// What a key still kept at `now` came to: `Repeat` with its answer for
    /// the same request, `Mismatch` for another; `None` when the key is new
    /// (never `First`).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn kept_key(
        &self,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyUse>, StoreError>;

    /// Edits or retracts an announcement and queues what each channel needs
    /// ([`crate::announcements::change_steps`]), in one transaction with the
    /// deliveries locked. The audit event gets the announcement's community.
    /// Returns the announcement as changed and all its deliveries.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when it was retracted already.
    async fn change_announcement(
        &self,
        announcement: AnnouncementId,
        change: &crate::announcements::AnnouncementChange,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(Announcement, Vec<Delivery>), StoreError>;

    /// Sends a failed or dead delivery again: pending now, its attempts
    /// counted afresh. Audited with the announcement's community.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the delivery is neither failed nor dead.
    async fn retry_delivery(
        &self,
        delivery: DeliveryId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Delivery, StoreError>;

    /// Makes the recipient rows of a delivery to a many-recipient channel,
    /// once: the community's active members subscribed to `consent` now.
    /// Later calls change nothing. Returns how many there are.
    ///
    /// # Errors
    /// `NotFound`, `Unavailable` or `Internal`.
    async fn expand_recipients(
        &self,
        delivery: DeliveryId,
        consent: ConsentChannel,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Claims up to `limit` of a delivery's recipients for `owner` until
    /// `lease_until`: waiting ones whose time has come, and ones whose lease
    /// ran out (a crashed worker's; counted as possible duplicates). Only
    /// people still subscribed to `consent` are claimed; once none is left
    /// to claim, those who opted out or left meanwhile are cancelled.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_recipients(
        &self,
        delivery: DeliveryId,
        consent: ConsentChannel,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Recipient>, StoreError>;

    /// Records the outcomes of a claimed batch, in one transaction; an
    /// outcome whose lease `owner` lost is ignored. Returns how many counted.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn finish_recipients(
        &self,
        delivery: DeliveryId,
        owner: &str,
        outcomes: &[(MemberId, Finish)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// How a delivery's recipients stand, and when the next waiting one is due.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn recipient_counts(
        &self,
        delivery: DeliveryId,
    ) -> Result<(RecipientCounts, Option<DateTime<Utc>>), StoreError>;

    /// Claims up to `limit` due deliveries for `owner` until `lease_until`:
    /// pending or waiting ones whose time has come, and `sending` ones whose
    /// lease ran out (a crashed worker's; counted as a possible duplicate).
    /// Channels that need reconnecting or are held are skipped. No two
    /// workers ever hold the same delivery.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Extends a lease `owner` still holds; `false` when it no longer does.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn renew_lease(
        &self,
        delivery: DeliveryId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records an attempt's outcome, if `owner` still holds the lease
    /// (`false` otherwise: another worker took the delivery over).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn finish_delivery(
        &self,
        delivery: DeliveryId,
        owner: &str,
        finish: Finish,
    ) -> Result<bool, StoreError> {
        let kept = self.finish_deliveries(owner, &[(delivery, finish)]).await?;
        Ok(kept.first().copied().unwrap_or(false))
    }

    /// Records several attempts' outcomes in one transaction; for each,
    /// whether `owner` still held its lease (an outcome it lost is ignored).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`: then none is recorded.
    async fn finish_deliveries(
        &self,
        owner: &str,
        outcomes: &[(DeliveryId, Finish)],
    ) -> Result<Vec<bool>, StoreError>;

    /// An announcement's deliveries.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn deliveries(&self, announcement: AnnouncementId) -> Result<Vec<Delivery>, StoreError>;

    /// One announcement.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn announcement(
        &self,
        announcement: AnnouncementId,
    ) -> Result<Option<Announcement>, StoreError>;

    /// A community's announcements, newest first.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn announcements(
        &self,
        community: CommunityId,
        limit: u32,
    ) -> Result<Vec<Announcement>, StoreError>;

    /// One page of a community's archive: the announcements that went out
    /// (not retracted, and due by `now`), newest first by when they went
    /// out (`send_at`, else when written), then by id; `after` is where the
    /// page before ended.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn archived_announcements(
        &self,
        community: CommunityId,
        now: DateTime<Utc>,
        after: Option<&crate::archive::ArchivePosition>,
        limit: u32,
    ) -> Result<Vec<Announcement>, StoreError>;

    /// Counts of every delivery by state.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn outbox_summary(&self) -> Result<OutboxSummary, StoreError>;

    /// Deliveries and sync runs counted by channel kind and state.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn work_counts(&self) -> Result<WorkCounts, StoreError>;

    // --- membership sync ---------------------------------------------------------------

    /// A channel and its encrypted secret.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn channel_with_secret(
        &self,
        channel: ChannelId,
    ) -> Result<Option<(Channel, Option<String>)>, StoreError>;

    /// Gives a channel its sync schedule.
    ///
    /// # Errors
    /// `Conflict` when the channel has one already.
    async fn create_sync_job(
        &self,
        channel: ChannelId,
        job: NewSyncJob,
        audit: NewAuditEvent,
    ) -> Result<SyncJob, StoreError>;

    /// Links a channel account the channel gives no email for to a member
    /// (replacing an earlier link of that account), audited.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn link_channel_account(
        &self,
        channel: ChannelId,
        external_id: &str,
        member: MemberId,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// The channel accounts linked to `member`, as `(channel, account id)`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn member_account_links(
        &self,
        member: MemberId,
    ) -> Result<Vec<(ChannelId, String)>, StoreError>;

    /// The channel's linked accounts, each with its member's email.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn channel_account_links(
        &self,
        channel: ChannelId,
    ) -> Result<Vec<(String, Email)>, StoreError>;

    /// Changes the direction of a channel's sync schedule (a lead who wants
    /// Slack kept in step, not only read), keeping its times and guardrails.
    ///
    /// # Errors
    /// `NotFound` when the channel has no schedule.
    async fn change_sync_direction(
        &self,
        channel: ChannelId,
        direction: crate::model::sync::SyncDirection,
        audit: NewAuditEvent,
    ) -> Result<SyncJob, StoreError>;

    /// Every sync schedule, for the scheduler.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sync_jobs(&self) -> Result<Vec<SyncJob>, StoreError>;

    /// A channel's sync schedule.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sync_job_of(&self, channel: ChannelId) -> Result<Option<SyncJob>, StoreError>;

    /// Remembers how many members the last complete read found.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn set_sync_last_seen(&self, job: SyncJobId, seen: u64) -> Result<(), StoreError>;

    /// Keeps a run (its plan, counts and state).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn record_sync_run(&self, run: &SyncRun) -> Result<(), StoreError>;

    /// A job's runs, newest first.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sync_runs(&self, job: SyncJobId, limit: u32) -> Result<Vec<SyncRun>, StoreError>;

    /// Every member of a community with their consent for each channel, for
    /// the syncs of several channels at once.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sync_roster_all(
        &self,
        community: CommunityId,
    ) -> Result<crate::sync::HubRoster, StoreError>;

    /// One run, wherever it belongs.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sync_run(&self, run: SyncRunId) -> Result<Option<SyncRun>, StoreError>;

    /// Every member of a community as a sync of `consent`'s channel sees them.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sync_roster(
        &self,
        community: CommunityId,
        consent: ConsentChannel,
    ) -> Result<Vec<SyncPerson>, StoreError>;

    /// Applies a plan's hub side in one transaction: new members (with this
    /// channel's consent only, set by the sync) and consent changes. A member
    /// who opted out meanwhile is left alone.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`; nothing is written then.
    async fn apply_sync_to_hub(
        &self,
        community: CommunityId,
        consent: ConsentChannel,
        adds: &[HubAdd],
        changes: &[ConsentChange],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Claims one tick of a job for `owner`; `false` when another instance
    /// claimed it first, so each tick runs once.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_cron_tick(
        &self,
        job: SyncJobId,
        tick: DateTime<Utc>,
        owner: &str,
    ) -> Result<bool, StoreError>;

    /// The latest tick claimed for a job, by any instance.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn last_cron_tick(&self, job: SyncJobId) -> Result<Option<DateTime<Utc>>, StoreError>;

    // --- audit -------------------------------------------------------------------

    /// Appends an entry to the audit chain on its own.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn append_audit(&self, event: NewAuditEvent) -> Result<AuditEvent, StoreError>;

    /// The audit chain in order, from entry `from_seq` on, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn audit_events(&self, from_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;

    /// One page of the audit log, newest first, filtered by `query`; the
    /// cursor is the last entry's seq.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn audit_page(&self, query: &AuditQuery) -> Result<Page<AuditEvent>, StoreError>;

    // --- what Zoom tells of calls (its webhooks) -----------------------------------

    /// The community's call held in Zoom meeting `meeting_id` (its number,
    /// as text), if any.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn call_by_zoom_meeting(
        &self,
        community: CommunityId,
        meeting_id: &str,
    ) -> Result<Option<Call>, StoreError>;

    /// Keeps that someone joined a time the call's meeting was held, once
    /// per `(call, instance, person)`: `false` when that person was kept
    /// for that instance before (a rejoin, a replayed event; the first join
    /// time stays), or the call is unknown.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn record_attendance(&self, attendance: &Attendance) -> Result<bool, StoreError>;

    /// Records when a time the call's meeting was held started and/or
    /// ended; a time not given keeps what was recorded before.
    ///
    /// # Errors
    /// `NotFound` for an unknown call.
    async fn record_call_instance(
        &self,
        call: CallId,
        instance: &str,
        started_at: Option<DateTime<Utc>>,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// The times the call's meeting was held, by start (those with no
    /// start known last).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn call_instances(&self, call: CallId) -> Result<Vec<CallInstance>, StoreError>;

    /// Everyone who joined the call, every time it was held, by join time.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn call_attendance(&self, call: CallId) -> Result<Vec<Attendance>, StoreError>;

    /// Puts the recording's link on the call (Zoom's share link).
    ///
    /// # Errors
    /// `NotFound` for an unknown call.
    async fn set_call_recording(&self, call: CallId, url: &str) -> Result<(), StoreError>;
}
