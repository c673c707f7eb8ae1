//! A community's connections to external tools, and the identities members
//! have in them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::word_enum;
use crate::ids::{ChannelId, CommunityId, MemberId};

/// Which tool a channel connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// cophub's own list, delivered over SMTP.
    EmailList,
    /// A GNU Mailman 3 list, mirrored over its REST API.
    Mailman,
    /// A Slack workspace.
    Slack,
    /// A Zoom account.
    Zoom,
    /// cophub's native peer conferences.
    Conference,
    /// An outgoing webhook.
    Webhook,
}
word_enum!(ChannelKind {
    EmailList => "email_list",
    Mailman => "mailman",
    Slack => "slack",
    Zoom => "zoom",
    Conference => "conference",
    Webhook => "webhook",
});

/// Whether a channel works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChannelHealth {
    /// Working.
    Ok,
    /// Its credentials were revoked or expired: nothing is sent until a lead
    /// reconnects it.
    NeedsReconnect {
        /// What the tool said.
        last_error: String,
    },
    /// Recent work failed.
    Failing {
        /// What went wrong last.
        last_error: String,
    },
}

impl ChannelHealth {
    /// The state in one word: `ok`, `needs_reconnect` or `failing`.
    #[must_use]
    pub fn word(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NeedsReconnect { .. } => "needs_reconnect",
            Self::Failing { .. } => "failing",
        }
    }

    /// The state for a person: `ok`, or what is wrong and what the tool said.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Ok => "ok".to_owned(),
            Self::NeedsReconnect { last_error } => format!("needs reconnecting: {last_error}"),
            Self::Failing { last_error } => format!("failing: {last_error}"),
        }
    }
}

/// A connection of a community to one external tool.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// Its id.
    pub id: ChannelId,
    /// The community it belongs to.
    pub community_id: CommunityId,
    /// The tool.
    pub kind: ChannelKind,
    /// A name for the lead ("Main list", "RSE Slack").
    pub name: String,
    /// Non-secret settings, as the adapter reads them.
    pub settings: serde_json::Value,
    /// Whether it works.
    pub health: ChannelHealth,
    /// Sends start at least this many milliseconds apart, across all workers.
    pub min_interval_ms: u32,
    /// When it was connected.
    pub created_at: DateTime<Utc>,
}

/// A channel to connect. The secret is already encrypted (see
/// `secrets::SecretKeys`); the store never sees it in the clear.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// The tool.
    pub kind: ChannelKind,
    /// A name for the lead.
    pub name: String,
    /// Non-secret settings.
    pub settings: serde_json::Value,
    /// The credentials, encrypted.
    pub encrypted_secret: Option<String>,
    /// Pacing between sends, in milliseconds.
    pub min_interval_ms: u32,
}

/// A member's identity in one channel.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// The member.
    pub member_id: MemberId,
    /// The channel.
    pub channel_id: ChannelId,
    /// The channel's id for the person (Slack user id, Zoom registrant id…).
    pub external_id: String,
    /// The channel's handle for the person, if it has one.
    pub handle: Option<String>,
    /// When the identity was first seen.
    pub first_seen_at: DateTime<Utc>,
    /// When it was last seen in a sync.
    pub last_seen_at: DateTime<Utc>,
}
