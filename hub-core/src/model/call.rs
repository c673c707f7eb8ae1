//! Calls: scheduled once, landing in every channel.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::ids::{CallId, CommunityId};

/// A call, possibly recurring.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// Its id.
    pub id: CallId,
    /// The community.
    pub community_id: CommunityId,
    /// The title.
    pub title: String,
    /// The agenda, Markdown.
    pub agenda: String,
    /// The local start time in `timezone`, so a weekly call keeps its local
    /// time across daylight-saving changes.
    pub starts_at_local: NaiveDateTime,
    /// An IANA timezone name.
    pub timezone: String,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// An RFC 5545 RRULE, when recurring.
    pub rrule: Option<String>,
    /// Occurrences (by their original local start) that are cancelled.
    pub cancelled_occurrences: Vec<NaiveDateTime>,
    /// Whether members register (each then gets a personal join link).
    pub registration: bool,
    /// The Zoom meeting id, once created.
    pub zoom_meeting_id: Option<String>,
    /// The join URL, once created; never shown on public pages.
    pub join_url: Option<String>,
    /// Raised when time, place or status change (iCalendar SEQUENCE).
    pub sequence: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}
