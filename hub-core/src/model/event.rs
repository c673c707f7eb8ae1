//! Events other systems push to the hub (Slack's Events API, Zoom's
//! webhooks): stored before they are acknowledged, processed afterwards,
//! deduplicated by the sender's id.

use chrono::{DateTime, Utc};

/// One pushed event.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEvent {
    /// Who sent it (`slack`, `zoom`).
    pub source: String,
    /// The sender's id for it; a retry carries the same.
    pub event_id: String,
    /// What routes it to a channel (Slack's team id, a Zoom channel's id).
    pub routing_key: String,
    /// Its type (`team_join`, `tokens_revoked`, …).
    pub kind: String,
    /// The whole body, as sent.
    pub payload: serde_json::Value,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When it was processed; `None` while it waits.
    pub processed_at: Option<DateTime<Utc>>,
    /// What processing did, for operators.
    pub outcome: Option<String>,
}

/// The source of Slack's events.
pub const SLACK: &str = "slack";

/// The source of Zoom's webhooks (routed by the channel's id, since each
/// Zoom channel has its own URL and secret).
pub const ZOOM: &str = "zoom";

/// The kind of channel a source's events are for.
#[must_use]
pub fn channel_kind(source: &str) -> Option<super::channel::ChannelKind> {
    match source {
        SLACK => Some(super::channel::ChannelKind::Slack),
        ZOOM => Some(super::channel::ChannelKind::Zoom),
        _ => None,
    }
}
