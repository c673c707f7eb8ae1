//! People in a community, their role, and their consent per channel.
//!
//! Consent is the rule that protects members: importing a person from one
//! channel sets that channel's consent only, and an `opted_out` recorded here
//! is never overridden by a sync or an import. Only the member's own action or
//! a lead's explicit, audited change on the member's page re-subscribes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::word_enum;
use crate::{
    Email,
    ids::{CommunityId, MemberId},
};

/// A person in one community, keyed by normalized email.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// The community it belongs to.
    pub community_id: CommunityId,
    /// The member's email (normalized for matching, display form kept).
    pub email: Email,
    /// The name to show; may be empty when no channel told us one.
    pub name: String,
    /// Lead or member.
    pub role: CommunityRole,
    /// Active, or left (members are never hard-deleted by a sync).
    pub state: MemberState,
    /// Consent per channel; a channel without an entry is `none`.
    pub consents: Vec<Consent>,
    /// When the member was created.
    pub created_at: DateTime<Utc>,
    /// When the member last changed.
    pub updated_at: DateTime<Utc>,
}

impl Member {
    /// The member's consent for a channel (`none` when never set).
    #[must_use]
    pub fn consent(&self, channel: ConsentChannel) -> ConsentStatus {
        self.consents
            .iter()
            .find(|c| c.channel == channel)
            .map_or(ConsentStatus::None, |c| c.status)
    }
}

/// A member's role in a community. Instance owners are users, not a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommunityRole {
    /// Runs the community in cophub.
    Lead,
    /// Takes part.
    Member,
}
word_enum!(CommunityRole { Lead => "lead", Member => "member" });

/// Whether a member is still part of the community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    /// Takes part.
    Active,
    /// Left; kept for history, never deleted by a sync.
    Left,
}
word_enum!(MemberState { Active => "active", Left => "left" });

/// The channels a person can consent to be reached on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentChannel {
    /// The email list (native or Mailman).
    Email,
    /// The Slack workspace.
    Slack,
    /// Zoom calls and registrations.
    Zoom,
    /// Peer conferences.
    Conference,
}
word_enum!(ConsentChannel { Email => "email", Slack => "slack", Zoom => "zoom", Conference => "conference" });

/// A member's consent for one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// May be reached on the channel.
    Subscribed,
    /// Asked not to be; no sync or import changes this.
    OptedOut,
    /// Never said either way: not reached where consent is needed.
    None,
}
word_enum!(ConsentStatus { Subscribed => "subscribed", OptedOut => "opted_out", None => "none" });

/// How a consent came to be what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// A lead's CSV import.
    Import,
    /// A lead's explicit change on the member's page or through the API.
    Lead,
    /// The member's own action (join form, preferences, unsubscribe link).
    Member,
    /// A channel sync.
    Sync,
}
word_enum!(ConsentSource { Import => "import", Lead => "lead", Member => "member", Sync => "sync" });

/// One channel's consent, with when and how it was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    /// The channel.
    pub channel: ConsentChannel,
    /// The status.
    pub status: ConsentStatus,
    /// When it was set.
    pub changed_at: DateTime<Utc>,
    /// How it was set.
    pub source: ConsentSource,
}

/// What is needed to create a member.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// The email.
    pub email: Email,
    /// The name, possibly empty.
    pub name: String,
    /// The role.
    pub role: CommunityRole,
    /// Email consent to record, if any.
    pub email_consent: Option<ConsentStatus>,
}

/// A change to a member; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct MemberUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new role.
    pub role: Option<CommunityRole>,
    /// A new state.
    pub state: Option<MemberState>,
    /// New consents, each with the source that set it.
    pub consents: Vec<(ConsentChannel, ConsentStatus, ConsentSource)>,
}

impl MemberUpdate {
    /// Whether applying this update to `member` would change nothing.
    #[must_use]
    pub fn changes_nothing_for(&self, member: &Member) -> bool {
        self.name.as_ref().is_none_or(|n| *n == member.name)
            && self.role.is_none_or(|r| r == member.role)
            && self.state.is_none_or(|s| s == member.state)
            && self
                .consents
                .iter()
                .all(|(channel, status, _)| member.consent(*channel) == *status)
    }
}

/// Why a name cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a name must have at most 200 characters and no line breaks or control characters")]
pub struct InvalidName;

/// Trims a person's name and checks it is safe to put in a mail header.
///
/// # Errors
/// [`InvalidName`] for control characters (CR/LF could inject headers) or
/// more than 200 characters.
pub fn clean_name(input: &str) -> Result<String, InvalidName> {
    let name = input.trim();
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(InvalidName);
    }
    Ok(name.to_owned())
}

/// Filters and position for one page of a roster.
#[derive(Debug, Clone, Default)]
pub struct MemberQuery {
    /// Matches a part of the name or the email, ignoring letter case.
    pub search: Option<String>,
    /// Only this role.
    pub role: Option<CommunityRole>,
    /// Only this state.
    pub state: Option<MemberState>,
    /// Only members with this consent on this channel.
    pub consent: Option<(ConsentChannel, ConsentStatus)>,
    /// Only members who are not subscribed on this channel (with `consent`:
    /// "in Slack but not on the list").
    pub absent: Option<ConsentChannel>,
    /// Start after this normalized email (the cursor).
    pub after: Option<String>,
    /// At most this many (1 to 500).
    pub limit: u32,
}
