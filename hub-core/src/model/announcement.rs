//! Announcements and their deliveries: one message, written once, delivered to
//! every target channel through the outbox.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::word_enum;
use crate::ids::{AnnouncementId, ChannelId, CommunityId, DeliveryId, MemberId};

/// One message to a community, written in Markdown.
#[derive(Debug, Clone, Serialize)]
pub struct Announcement {
    /// Its id.
    pub id: AnnouncementId,
    /// The community.
    pub community_id: CommunityId,
    /// The title (a mail subject, a Slack header).
    pub title: String,
    /// The body, Markdown; sanitized per channel when rendered.
    pub body_markdown: String,
    /// Who wrote it, as an audit actor (`user:<email>`, `cli`).
    pub author: String,
    /// When to send it; `None` means at once.
    pub send_at: Option<DateTime<Utc>>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// 1 as published; each edit adds one.
    pub revision: u32,
    /// When a lead retracted it; it cannot be edited after that.
    pub retracted_at: Option<DateTime<Utc>>,
}

/// An announcement to publish, with the channels it goes to.
#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    /// The title, 1 to 200 characters, no line breaks.
    pub title: String,
    /// The body, Markdown.
    pub body_markdown: String,
    /// Who wrote it.
    pub author: String,
    /// When to send it; `None` means at once.
    pub send_at: Option<DateTime<Utc>>,
    /// When its deliveries become due: `send_at`, or the time of publishing.
    pub due_at: DateTime<Utc>,
    /// The channels, each of this community; one delivery each.
    pub targets: Vec<ChannelId>,
}

/// Where a delivery (or one recipient of it) stands.
///
/// `pending → sending → sent | retry_wait → sending … | failed | dead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be claimed.
    Pending,
    /// Claimed by a worker whose lease has not run out.
    Sending,
    /// Delivered; the remote reference is kept.
    Sent,
    /// Failed for now; tried again at `next_attempt_at`.
    RetryWait,
    /// Refused for good (a permanent error); a lead may retry.
    Failed,
    /// Gave up after the maximum number of attempts.
    Dead,
    /// Not needed any more: a post retracted before it went out, an edit
    /// or retraction of a post that never reached the channel.
    Cancelled,
}
word_enum!(DeliveryState {
    Pending => "pending",
    Sending => "sending",
    Sent => "sent",
    RetryWait => "retry_wait",
    Failed => "failed",
    Dead => "dead",
    Cancelled => "cancelled",
});

impl DeliveryState {
    /// Waiting to be claimed (now or at its next attempt).
    #[must_use]
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Pending | Self::RetryWait)
    }
}

/// What a delivery does in its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryAction {
    /// Posts the announcement (one per channel).
    Post,
    /// Replaces the posted message with the announcement's current text.
    Edit,
    /// Takes the posted message down.
    Retract,
}
word_enum!(DeliveryAction {
    Post => "post",
    Edit => "edit",
    Retract => "retract",
});

/// One announcement's delivery to one channel.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The announcement.
    pub announcement_id: AnnouncementId,
    /// The channel.
    pub channel_id: ChannelId,
    /// Post, edit or retract.
    pub action: DeliveryAction,
    /// Where it stands.
    pub state: DeliveryState,
    /// How many times it was tried.
    pub attempts: u32,
    /// When it is due next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Until when the claiming worker holds it.
    pub lease_until: Option<DateTime<Utc>>,
    /// The remote reference once sent (Slack ts, webhook id…).
    pub remote_ref: Option<String>,
    /// The last error, for the lead.
    pub last_error: Option<String>,
    /// How many sends may have reached the channel twice (a crash or a lost
    /// answer where the channel could not be asked).
    pub possible_duplicates: u32,
}

/// One person's copy of a delivery on a many-recipient channel (the native
/// list), so a retry resends only what failed.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// The member.
    pub member_id: MemberId,
    /// Their address as given, when the delivery was first worked on.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// How many times it was tried.
    pub attempts: u32,
    /// How many sends may have reached them twice.
    pub possible_duplicates: u32,
}

impl Recipient {
    /// The key that names this person's copy across retries (the email
    /// channel builds its Message-ID from it, so a resend is recognisable).
    #[must_use]
    pub fn idempotency_key(&self) -> String {
        format!("{}.{}", self.delivery_id, self.member_id)
    }
}

/// How a delivery's recipients stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecipientCounts {
    /// All of them.
    pub total: u64,
    /// Delivered.
    pub sent: u64,
    /// Waiting for their first or next try, or held by a worker.
    pub waiting: u64,
    /// Refused for good, or out of attempts.
    pub failed: u64,
    /// No longer wanted (they opted out or left before their turn).
    pub cancelled: u64,
    /// Sends that may have reached someone twice.
    pub possible_duplicates: u64,
}
