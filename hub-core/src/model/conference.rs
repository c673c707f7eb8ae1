//! Peer conferences: participant-driven events whose attendees propose and
//! choose the sessions.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{call::serialize_zone, word_enum};
use crate::{
    Email,
    ids::{CommunityId, ConferenceId, ProposalId, RegistrationId, RoomId, SlotId},
};

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

impl ConferencePhase {
    /// The phase after this one, if any.
    #[must_use]
    pub fn next(self) -> Option<Self> {
        match self {
            Self::Registration => Some(Self::Proposals),
            Self::Proposals => Some(Self::Voting),
            Self::Voting => Some(Self::SchedulePublished),
            Self::SchedulePublished => Some(Self::Done),
            Self::Done => None,
        }
    }

    /// How a person reads it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Registration => "Registration",
            Self::Proposals => "Proposals",
            Self::Voting => "Voting",
            Self::SchedulePublished => "Schedule published",
            Self::Done => "Done",
        }
    }
}

/// A peer conference.
#[derive(Debug, Clone, Serialize)]
pub struct Conference {
    /// Its id.
    pub id: ConferenceId,
    /// The community.
    pub community_id: CommunityId,
    /// Its name in links, unique in the community.
    pub slug: String,
    /// The name.
    pub name: String,
    /// A description, Markdown.
    pub description: String,
    /// The first day.
    pub starts_on: NaiveDate,
    /// The last day.
    pub ends_on: NaiveDate,
    /// The zone its slots are shown in.
    #[serde(serialize_with = "serialize_zone")]
    pub timezone: Tz,
    /// The venue, or `None` when online.
    pub venue: Option<String>,
    /// How many people can register before the waitlist starts.
    pub capacity: u32,
    /// The current phase.
    pub phase: ConferencePhase,
    /// Whether a lead closed registration before the phases would close it.
    pub registration_closed: bool,
    /// How many sessions each registrant may vote for.
    pub vote_budget: u32,
    /// The share of a session's voters expected to come (0–1), which sizes
    /// its room.
    pub show_up_factor: f64,
    /// Whether registrants see the ranking while voting (leads always do).
    pub ranking_public: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Conference {
    /// Whether people can register now: from the registration phase through
    /// voting, unless a lead closed it.
    #[must_use]
    pub fn registration_open(&self) -> bool {
        !self.registration_closed && self.phase <= ConferencePhase::Voting
    }

    /// Whether it happens online (each room then gets a Zoom meeting).
    #[must_use]
    pub fn online(&self) -> bool {
        self.venue.is_none()
    }
}

/// A room, with the people it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Room {
    /// Its id.
    pub id: RoomId,
    /// The conference.
    pub conference_id: ConferenceId,
    /// Its name.
    pub name: String,
    /// How many people fit.
    pub capacity: u32,
    /// Its place in the list.
    pub position: u32,
    /// The Zoom meeting of an online conference's room, once made.
    pub zoom_meeting_id: Option<String>,
    /// Its join link, once made.
    pub join_url: Option<String>,
}

/// A time slot; sessions of one slot run at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// Its id.
    pub id: SlotId,
    /// The conference.
    pub conference_id: ConferenceId,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// Asked, not confirmed by the mailed link yet: holds no seat.
    Pending,
    /// Has a seat.
    Confirmed,
    /// Confirmed, waiting for a seat.
    Waitlisted,
    /// Gave the seat (or the place on the waitlist) up.
    Cancelled,
}
word_enum!(RegistrationStatus {
    Pending => "pending",
    Confirmed => "confirmed",
    Waitlisted => "waitlisted",
    Cancelled => "cancelled",
});

/// One person's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// Its id.
    pub id: RegistrationId,
    /// The conference.
    pub conference_id: ConferenceId,
    /// Their address (unique in the conference in any letter case).
    pub email: Email,
    /// Their name.
    pub name: String,
    /// Where it stands.
    pub status: RegistrationStatus,
    /// When they asked.
    pub created_at: DateTime<Utc>,
    /// When they confirmed (the waitlist's order).
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When they got their seat.
    pub seated_at: Option<DateTime<Utc>>,
    /// When they cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Registration {
    /// Whether they may propose, vote and come: confirmed with a seat.
    #[must_use]
    pub fn has_seat(&self) -> bool {
        self.status == RegistrationStatus::Confirmed
    }
}

/// What a registrant's mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrantLinkPurpose {
    /// Confirms the registration.
    Confirm,
    /// Signs a registrant in to propose, vote or cancel.
    Access,
}
word_enum!(RegistrantLinkPurpose { Confirm => "confirm", Access => "access" });

/// A registrant's link to store (the hash of its secret, never the secret).
#[derive(Debug, Clone)]
pub struct NewRegistrantLink {
    /// SHA-256 of the secret in the link.
    pub token_hash: String,
    /// What it is for.
    pub purpose: RegistrantLinkPurpose,
    /// Whose.
    pub registration_id: RegistrationId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The kind of a proposed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionFormat {
    /// An open discussion.
    Discussion,
    /// A talk.
    Talk,
    /// Hands-on work.
    Workshop,
    /// A panel.
    Panel,
    /// A demonstration.
    Demo,
}
word_enum!(SessionFormat {
    Discussion => "discussion",
    Talk => "talk",
    Workshop => "workshop",
    Panel => "panel",
    Demo => "demo",
});

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "into")]
pub enum ProposalState {
    /// Up for votes and the schedule.
    Open,
    /// A lead merged it into another proposal (its votes went there).
    Merged(ProposalId),
    /// Its proposer withdrew it.
    Withdrawn,
}

/// A proposed session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// Its id.
    pub id: ProposalId,
    /// The conference.
    pub conference_id: ConferenceId,
    /// Who proposed it.
    pub proposer: RegistrationId,
    /// The title.
    pub title: String,
    /// What it is about, Markdown.
    pub description: String,
    /// Its kind.
    pub format: SessionFormat,
    /// Who runs it with the proposer (addresses; they need not be
    /// registered yet).
    pub co_hosts: Vec<Email>,
    /// Where it stands.
    pub state: ProposalState,
    /// When it was proposed.
    pub created_at: DateTime<Utc>,
}

/// A proposal with what the lists show of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalSummary {
    /// The proposal.
    pub proposal: Proposal,
    /// The proposer's name.
    pub proposer_name: String,
    /// The proposer's address.
    pub proposer_email: Email,
    /// How many registrants voted for it.
    pub votes: u32,
}

/// One registrant's vote for one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Vote {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// The voter.
    pub registration_id: RegistrationId,
}

/// What casting a vote did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Counted.
    Cast,
    /// They had voted for it already; nothing changed.
    AlreadyVoted,
    /// Their budget was spent; nothing changed.
    OverBudget,
}

/// A session's place in the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The session.
    pub proposal_id: ProposalId,
    /// Its room.
    pub room_id: RoomId,
    /// Its slot.
    pub slot_id: SlotId,
    /// Whether a lead put it there (the builder works around it).
    pub pinned: bool,
    /// The session's own Slack conversation, once made.
    pub slack_conversation: Option<String>,
    /// A link to that conversation.
    pub slack_url: Option<String>,
}
