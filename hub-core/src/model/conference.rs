//! Peer conferences: participant-driven events whose attendees propose and
//! choose the sessions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::word_enum;
use crate::ids::{CommunityId, ConferenceId};

/// The phases a lead moves a conference through, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConferencePhase {
    /// People register.
    Registration,
    /// Registrants propose sessions (registration stays open unless closed).
    Proposals,
    /// Registrants vote.
    Voting,
    /// The schedule is public.
    SchedulePublished,
    /// Over.
    Done,
}
word_enum!(ConferencePhase {
    Registration => "registration",
    Proposals => "proposals",
    Voting => "voting",
    SchedulePublished => "schedule_published",
    Done => "done",
});

/// A peer conference.
#[derive(Debug, Clone, Serialize)]
pub struct Conference {
    /// Its id.
    pub id: ConferenceId,
    /// The community.
    pub community_id: CommunityId,
    /// The name.
    pub name: String,
    /// A description, Markdown.
    pub description: String,
    /// The first day.
    pub starts_on: NaiveDate,
    /// The last day.
    pub ends_on: NaiveDate,
    /// An IANA timezone name.
    pub timezone: String,
    /// The venue, or `None` when online.
    pub venue: Option<String>,
    /// How many people can register before the waitlist starts.
    pub capacity: u32,
    /// The current phase.
    pub phase: ConferencePhase,
    /// Whether registration was closed before the phases would close it.
    pub registration_closed: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}
