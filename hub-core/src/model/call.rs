//! Calls: scheduled once, landing in every channel.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{
    calls::recurrence::{Recurrence, local_instant},
    ids::{CallId, CommunityId},
};

/// One occurrence of a recurring call moved or lengthened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceOverride {
    /// The occurrence's original local start (its RECURRENCE-ID).
    pub original: NaiveDateTime,
    /// Its new local start.
    pub starts_at_local: NaiveDateTime,
    /// Its length in minutes.
    pub duration_minutes: u32,
}

/// Whether a call is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// It happens.
    Scheduled,
    /// The whole call (every occurrence) is cancelled.
    Cancelled,
}

impl CallStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "scheduled" => Some(Self::Scheduled),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

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
    /// The IANA timezone.
    #[serde(serialize_with = "serialize_zone")]
    pub timezone: Tz,
    /// Length in minutes.
    pub duration_minutes: u32,
    /// The repeat rule, when recurring.
    pub recurrence: Option<Recurrence>,
    /// Occurrences moved or lengthened, by their original local start.
    pub overrides: Vec<OccurrenceOverride>,
    /// Occurrences (by their original local start) that are cancelled.
    pub cancelled_occurrences: Vec<NaiveDateTime>,
    /// Whether members register (each then gets a personal join link).
    pub registration: bool,
    /// Scheduled or cancelled as a whole.
    pub status: CallStatus,
    /// The Zoom meeting id, once created.
    pub zoom_meeting_id: Option<String>,
    /// The join URL, once created; never shown on public pages.
    pub join_url: Option<String>,
    /// The recording's link, once Zoom has one.
    pub recording_url: Option<String>,
    /// Raised when time, place or status change (iCalendar SEQUENCE).
    pub sequence: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
pub(crate) fn serialize_zone<S: serde::Serializer>(
    zone: &Tz,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(zone.name())
}

/// One time a call happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Its original local start: how it is named (RECURRENCE-ID, Zoom's
    /// occurrence).
    pub original: NaiveDateTime,
    /// When it starts, local (after any override).
    pub starts_at_local: NaiveDateTime,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Its length in minutes.
    pub duration_minutes: u32,
    /// Cancelled on its own.
    pub cancelled: bool,
}

impl Call {
    /// Every occurrence, in order of original start, overrides applied,
    /// cancelled ones included and marked.
    #[must_use]
    pub fn occurrences(&self) -> Vec<Occurrence> {
        let originals = match &self.recurrence {
            Some(rule) => rule.occurrences(self.starts_at_local, self.timezone),
            None => vec![self.starts_at_local],
        };
        originals
            .into_iter()
            .map(|original| {
                let moved = self.overrides.iter().find(|o| o.original == original);
                let starts_at_local = moved.map_or(original, |o| o.starts_at_local);
                Occurrence {
                    original,
                    starts_at_local,
                    starts_at: local_instant(self.timezone, starts_at_local),
                    duration_minutes: moved.map_or(self.duration_minutes, |o| o.duration_minutes),
                    cancelled: self.status == CallStatus::Cancelled
                        || self.cancelled_occurrences.contains(&original),
                }
            })
            .collect()
    }

    /// The first occurrence still to happen (not cancelled, not yet ended)
    /// at `now`.
    #[must_use]
    pub fn next_occurrence(&self, now: DateTime<Utc>) -> Option<Occurrence> {
        self.occurrences().into_iter().find(|o| {
            !o.cancelled
                && o.starts_at + chrono::Duration::minutes(i64::from(o.duration_minutes)) > now
        })
    }

    /// The first start, UTC.
    #[must_use]
    pub fn starts_at(&self) -> DateTime<Utc> {
        local_instant(self.timezone, self.starts_at_local)
    }
}

/// Where a call stands in one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LandingState {
    /// The channel has not caught up with the call's latest change yet.
    Pending,
    /// The channel shows the call as it is.
    Landed,
    /// The channel refused; the lead sees why, nothing is retried until the
    /// call changes again.
    Failed,
}

impl LandingState {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Landed => "landed",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "landed" => Some(Self::Landed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A call in one channel: what the channel still has to catch up with.
/// Every change of the call raises `revision` and adds what it touched to
/// `pending`; a worker brings the channel in line and records the revision
/// it reached, so a change made meanwhile is carried out too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLanding {
    /// The call.
    pub call_id: CallId,
    /// The channel.
    pub channel_id: crate::ids::ChannelId,
    /// The call's latest revision for this channel.
    pub revision: u32,
    /// The revision the channel shows.
    pub landed_revision: u32,
    /// What changed since: the series, or single occurrences.
    pub pending: Vec<crate::ports::adapter::CallScope>,
    /// The channel's reference (a Zoom meeting id, a Slack post), once made.
    pub remote_ref: Option<String>,
    /// Where it stands.
    pub state: LandingState,
    /// Attempts since the last success.
    pub attempts: u32,
    /// Not tried again before this.
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// A landing a worker holds, with what it needs to carry it out.
#[derive(Debug, Clone)]
pub struct ClaimedLanding {
    /// The landing (its attempt not yet counted).
    pub landing: CallLanding,
    /// The call as it is now.
    pub call: Call,
    /// The channel.
    pub channel: crate::model::channel::Channel,
    /// The channel's credentials, still encrypted.
    pub encrypted_secret: Option<String>,
}

/// The meeting a call is held in, once the hosting channel made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallJoin {
    /// The meeting's id.
    pub meeting_id: String,
    /// Where people join.
    pub join_url: String,
}

/// How an attempt to bring a channel in line ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LandingOutcome {
    /// The channel shows `revision` of the call.
    Landed {
        /// The revision carried out.
        revision: u32,
        /// The channel's reference.
        remote_ref: Option<String>,
        /// The meeting, when this channel hosts the call: a new or changed
        /// one is kept on the call and the other channels catch up with it.
        join: Option<CallJoin>,
    },
    /// Try again at `at`.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        error: String,
    },
    /// The channel refused; shown to the lead.
    Failed {
        /// Why.
        error: String,
    },
}

/// Adds `change` to what a channel still has to catch up with: the series
/// covers every occurrence, and an occurrence is listed once.
#[must_use]
pub fn merge_pending(
    pending: &[crate::ports::adapter::CallScope],
    change: crate::ports::adapter::CallScope,
) -> Vec<crate::ports::adapter::CallScope> {
    use crate::ports::adapter::CallScope;
    if change == CallScope::Series || pending.contains(&CallScope::Series) {
        return vec![CallScope::Series];
    }
    let mut merged = pending.to_vec();
    if !merged.contains(&change) {
        merged.push(change);
    }
    merged
}

/// A member to mail a call's invitation (or its update, or its cancel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    /// The member.
    pub member_id: crate::ids::MemberId,
    /// Their address.
    pub email: crate::Email,
    /// Their name.
    pub name: String,
    /// The version of the invitation they were last sent, if any.
    pub invited_sequence: Option<u32>,
    /// Their own join link, once they were registered for the call's meeting.
    pub join_url: Option<String>,
    /// Whether they take Zoom (subscribed there), so they may be registered.
    pub takes_zoom: bool,
}

/// One member's invitation as mailed: who, and the join link of their own it
/// carried, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentInvitation {
    /// The member.
    pub member_id: crate::ids::MemberId,
    /// The link made for them alone (a Zoom registrant's).
    pub join_url: Option<String>,
}

/// Someone who joined one time a call's meeting was held, as Zoom told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendance {
    /// The call.
    pub call_id: CallId,
    /// The time the meeting was held (Zoom's meeting UUID): a recurring
    /// call has one per occurrence that ran.
    pub instance: String,
    /// Who, as counted once per call and instance: `member:<id>`, else
    /// `email:<address>`, else `name:<name>` (made by
    /// `calls::attendance::person_key`).
    pub person: String,
    /// The member, when the address Zoom gave is one of the community's.
    pub member_id: Option<crate::ids::MemberId>,
    /// The name shown in the meeting.
    pub name: String,
    /// The address Zoom gave, as given.
    pub email: Option<String>,
    /// When they (first) joined.
    pub joined_at: DateTime<Utc>,
}

/// One time a call's meeting was held: when it started and ended, as far
/// as Zoom said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInstance {
    /// The call.
    pub call_id: CallId,
    /// Zoom's meeting UUID for this time.
    pub instance: String,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}
