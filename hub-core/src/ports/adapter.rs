//! The one trait every channel implements. An adapter declares what its tool
//! can do and implements that; the engine acts on the class of an error alone.

use std::time::Duration;

use async_trait::async_trait;

use crate::{
    Email,
    model::{
        announcement::{Announcement, Recipient},
        call::Call,
        channel::Channel,
    },
};

/// What a channel's tool supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one flag per independent capability
pub struct Capabilities {
    /// Can list its members.
    pub list_members: bool,
    /// Can add and remove members.
    pub manage_members: bool,
    /// Can post announcements.
    pub post: bool,
    /// Can edit or retract a posted announcement.
    pub edit: bool,
    /// Sends each person their own copy ([`ChannelAdapter::post_to`]):
    /// the outbox keeps one recipient row per person.
    pub per_recipient: bool,
    /// Can schedule calls.
    pub calls: bool,
}

/// A person as a channel knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMember {
    /// The channel's id for them.
    pub external_id: String,
    /// Their email, when the channel shares it.
    pub email: Option<Email>,
    /// Their name.
    pub name: String,
}

/// One page of a channel's members.
#[derive(Debug, Clone, Default)]
pub struct RemotePage {
    /// The members on this page.
    pub members: Vec<RemoteMember>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What bringing a channel's own groups in step changed
/// ([`ChannelAdapter::settle_groups`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// People added to a group.
    pub added: u64,
    /// Calls it took.
    pub api_calls: u64,
}

/// How a person outside the channel's tool joins it by themselves, where
/// the tool cannot add them (Slack outside Enterprise Grid): the hub mails
/// them the link, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideInvite {
    /// What they are invited into, for the mail ("the Slack workspace Data Stewards").
    pub place: String,
    /// Where they join.
    pub link: String,
}

/// A group within a channel's tool (a Slack conversation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteGroup {
    /// The tool's id for it.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Only invited people see it.
    pub private: bool,
    /// How many people are in it.
    pub members: u64,
}

/// A conversation a channel's tool opened for the hub (a conference
/// session's own Slack conversation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedGroup {
    /// The tool's id for it.
    pub id: String,
    /// Where a person opens it.
    pub url: String,
}

/// What a pushed event means for a channel ([`ChannelAdapter::interpret_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// Nothing the hub keeps.
    Ignore(String),
    /// The tool took the hub's access away (an uninstall, revoked tokens):
    /// the channel needs reconnecting.
    AccessRevoked(String),
    /// A person is in the channel now (joined, or changed their profile).
    MemberPresent(RemoteMember),
    /// A person left the channel (deactivated).
    MemberGone(RemoteMember),
    /// A person joined (`true`) or left (`false`) one of the channel's
    /// groups by themselves: one who left is not invited back by a sync.
    GroupMembership {
        /// The group's id.
        group: String,
        /// The person's id in the channel.
        external_id: String,
        /// Joined or left.
        joined: bool,
    },
}

/// One part of an announcement as a channel will show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewPart {
    /// What it is, for a person ("Email, HTML part", "Slack message 1").
    pub label: String,
    /// How to show it.
    pub format: PreviewFormat,
    /// The part itself, as it would be sent.
    pub content: String,
}

/// How a preview part is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewFormat {
    /// Sanitized HTML, shown rendered.
    Html,
    /// Plain text.
    Text,
    /// JSON, shown as its source.
    Json,
}

/// What a channel answered when something was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The remote reference: Slack ts, Message-ID, webhook delivery id.
    pub remote_ref: String,
    /// A URL a person can open, if there is one (a join URL, a permalink).
    pub url: Option<String>,
}

/// What a channel answered when a call was scheduled or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReceipt {
    /// The remote reference (Zoom's meeting id, Slack's post): what later
    /// changes name.
    pub remote_ref: String,
    /// Where people join, when the channel hosts the call (Zoom).
    pub join_url: Option<String>,
}

/// Which part of a call a change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallScope {
    /// The whole call, every occurrence.
    Series,
    /// One occurrence, named by its original local start.
    Occurrence(chrono::NaiveDateTime),
}

/// The class of a channel failure. The engine acts on the class alone.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// Slow down: try again after the given time.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// How long the tool asked us to wait.
        retry_after: Duration,
    },
    /// 5xx, a timeout, a reset connection: try again later.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The request went out but the answer was lost: look before retrying.
    #[error("the request may or may not have been carried out: {0}")]
    Ambiguous(String),
    /// The token was revoked or expired: the channel needs reconnecting.
    #[error("the channel's credentials no longer work: {0}")]
    Auth(String),
    /// The tool refused the request: show the lead, do not retry.
    #[error("refused: {0}")]
    Permanent(String),
    /// The tool cannot do this at all.
    #[error("this channel cannot do that: {0}")]
    Unsupported(String),
}

/// A channel's tool, as the engine drives it.
#[async_trait]
pub trait ChannelAdapter: Send + Sync + std::fmt::Debug {
    /// What this tool supports.
    fn capabilities(&self) -> Capabilities;

    /// One page of members, starting at `cursor` (`None`: the first page).
    ///
    /// # Errors
    /// Any [`AdapterError`] class; a failed page fails the whole read.
    async fn list_members(&self, cursor: Option<&str>) -> Result<RemotePage, AdapterError>;

    /// Adds a person to the channel.
    ///
    /// # Errors
    /// Any [`AdapterError`] class; `Unsupported` where members cannot be managed.
    async fn add_member(&self, email: &Email, name: &str) -> Result<String, AdapterError>;

    /// Removes a person from the channel.
    ///
    /// # Errors
    /// Any [`AdapterError`] class; `Unsupported` where members cannot be managed.
    async fn remove_member(&self, external_id: &str) -> Result<(), AdapterError>;

    /// After a sync, puts the channel's own groups in step with the hub:
    /// everyone in `keep` (channel ids of people the hub wants there, already
    /// in the channel's member list) joins each group the channel uses —
    /// Slack's conversations within a workspace. Where a tool has no groups,
    /// nothing happens (the default). `departed` lists `(group, person)`
    /// pairs of people who left a group by themselves: they are not invited
    /// back into it.
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    async fn settle_groups(
        &self,
        keep: &[String],
        departed: &[(String, String)],
    ) -> Result<GroupChanges, AdapterError> {
        let _ = (keep, departed);
        Ok(GroupChanges::default())
    }

    /// How people the tool cannot add join by themselves; `None` where the
    /// tool adds people itself (the default), or has no link configured.
    fn outside_invite(&self) -> Option<OutsideInvite> {
        None
    }

    /// The groups a lead can choose for the channel (Slack's conversations
    /// the app can see).
    ///
    /// # Errors
    /// `Unsupported` where the tool has no groups (the default); any other
    /// class otherwise.
    async fn list_groups(&self) -> Result<Vec<RemoteGroup>, AdapterError> {
        Err(AdapterError::Unsupported(
            "this channel has no groups".into(),
        ))
    }

    /// Opens a public conversation named `name` (lower-case letters, digits
    /// and dashes, at most 80 characters) about `purpose`, for a conference
    /// session; when one of that name exists already (an earlier attempt
    /// whose answer was lost), that one is answered, so a retry never opens
    /// two.
    ///
    /// # Errors
    /// `Unsupported` where the tool has no conversations (the default); any
    /// other class otherwise.
    async fn open_group(&self, name: &str, purpose: &str) -> Result<OpenedGroup, AdapterError> {
        let _ = (name, purpose);
        Err(AdapterError::Unsupported(
            "this channel cannot open conversations".into(),
        ))
    }

    /// Posts an announcement. The same `idempotency_key` on a retry must not
    /// post twice where the tool lets us look.
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    async fn post(
        &self,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError>;

    /// Sends one person their copy of an announcement, on a channel with
    /// [`Capabilities::per_recipient`]. The same `idempotency_key` on a
    /// retry names the same copy (the email channel's Message-ID).
    ///
    /// # Errors
    /// `Unsupported` where the channel posts once for everyone (the
    /// default); any other class otherwise.
    async fn post_to(
        &self,
        announcement: &Announcement,
        recipient: &Recipient,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let _ = (announcement, recipient, idempotency_key);
        Err(AdapterError::Unsupported(
            "this channel posts once for everyone".into(),
        ))
    }

    /// Looks for a post made earlier with this idempotency key, to settle an
    /// [`AdapterError::Ambiguous`] outcome before any retry.
    ///
    /// # Errors
    /// `Unsupported` where the channel cannot be asked (the engine then
    /// retries and counts a possible duplicate); any other class otherwise.
    async fn find_post(&self, idempotency_key: &str) -> Result<Option<Receipt>, AdapterError> {
        let _ = idempotency_key;
        Err(AdapterError::Unsupported("looking up earlier posts".into()))
    }

    /// Replaces a posted message (`remote_ref`, from the post's receipt)
    /// with the announcement's current text. Doing it twice is harmless.
    ///
    /// # Errors
    /// `Unsupported` where posts cannot be edited (the default); any other
    /// class otherwise.
    async fn edit(
        &self,
        remote_ref: &str,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let _ = (remote_ref, announcement, idempotency_key);
        Err(AdapterError::Unsupported(
            "editing a sent message; send a correction instead".into(),
        ))
    }

    /// Takes a posted message down. A message already gone counts as done.
    ///
    /// # Errors
    /// `Unsupported` where posts cannot be taken down (the default); any
    /// other class otherwise.
    async fn retract(&self, remote_ref: &str, idempotency_key: &str) -> Result<(), AdapterError> {
        let _ = (remote_ref, idempotency_key);
        Err(AdapterError::Unsupported(
            "taking a sent message down; send a correction instead".into(),
        ))
    }

    /// Schedules a call in the channel's tool (a Zoom meeting, a Slack post
    /// with its reminder). The same `idempotency_key` on a retry must find
    /// what an earlier, ambiguous attempt made rather than make a second.
    ///
    /// # Errors
    /// `Unsupported` where the channel has no calls (the default); any other
    /// class otherwise.
    async fn schedule_call(
        &self,
        call: &Call,
        idempotency_key: &str,
    ) -> Result<CallReceipt, AdapterError> {
        let _ = (call, idempotency_key);
        Err(AdapterError::Unsupported("scheduling calls".into()))
    }

    /// Brings a scheduled call (`remote_ref`, from its receipt) in line with
    /// `call` as it is now, for the whole series or one occurrence. Doing it
    /// twice is harmless.
    ///
    /// # Errors
    /// `Unsupported` where the channel has no calls (the default); any other
    /// class otherwise.
    async fn update_call(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<CallReceipt, AdapterError> {
        let _ = (remote_ref, call, scope);
        Err(AdapterError::Unsupported("scheduling calls".into()))
    }

    /// Cancels a scheduled call, or one occurrence of it. A call already
    /// gone counts as done. Answers a new receipt where cancelling changed
    /// the call's reference (Slack's post moves on to the next occurrence
    /// with a new reminder), `None` where it did not.
    ///
    /// # Errors
    /// `Unsupported` where the channel has no calls (the default); any other
    /// class otherwise.
    async fn cancel_call(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<Option<CallReceipt>, AdapterError> {
        let _ = (remote_ref, call, scope);
        Err(AdapterError::Unsupported("scheduling calls".into()))
    }

    /// Registers one person for a scheduled call's meeting (`remote_ref`,
    /// from its receipt), for every occurrence, and answers the join link
    /// made for them alone. Someone registered before gets their link again,
    /// and one whose registration was cancelled is approved again.
    ///
    /// # Errors
    /// `Unsupported` where the channel has no registrations (the default);
    /// `Permanent` where the meeting takes none; any other class otherwise.
    async fn register_for_call(
        &self,
        remote_ref: &str,
        email: &Email,
        name: &str,
    ) -> Result<String, AdapterError> {
        let _ = (remote_ref, email, name);
        Err(AdapterError::Unsupported(
            "registering people for calls".into(),
        ))
    }

    /// The announcement as this channel will show it — the message's parts
    /// as they would be sent — without sending anything.
    ///
    /// # Errors
    /// `Unsupported` where the channel cannot show one (the default);
    /// `Permanent` where its settings could not send it at all.
    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        let _ = announcement;
        Err(AdapterError::Unsupported("a preview".into()))
    }

    /// What a pushed event (its whole body) means for this channel. Channels
    /// without pushed events ignore them (the default).
    fn interpret_event(&self, payload: &serde_json::Value) -> ChannelEvent {
        let _ = payload;
        ChannelEvent::Ignore("this channel takes no pushed events".into())
    }

    /// Whether the channel works now.
    ///
    /// # Errors
    /// The [`AdapterError`] class that describes why not.
    async fn health(&self) -> Result<(), AdapterError>;
}

/// Makes the adapter for a channel: the one place that knows every kind.
pub trait AdapterFactory: Send + Sync + std::fmt::Debug {
    /// The adapter for `channel`, given its decrypted secret.
    ///
    /// # Errors
    /// `Permanent` when the channel's settings are unusable; `Unsupported`
    /// for a kind this build cannot drive.
    fn adapter(
        &self,
        channel: &Channel,
        secret: Option<&str>,
    ) -> Result<std::sync::Arc<dyn ChannelAdapter>, AdapterError>;
}
