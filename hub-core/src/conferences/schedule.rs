//! The schedule: the builder run over a conference's rooms, slots, open
//! sessions, votes and a lead's pins; pinning, moving and taking a session
//! off by hand (checked against the same rules the builder keeps); and
//! publishing it, which ends voting.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::{
    ConferenceError, audit,
    builder::{self, BuildInput, Pin, Unfitted},
    channel,
    sessions::ranking,
    setup::set_phase,
};
use crate::{
    Email,
    ids::{ProposalId, RegistrationId, RoomId, SlotId},
    model::{
        community::Community,
        conference::{
            Conference, ConferencePhase, Placement, ProposalState, ProposalSummary, Room, Slot,
        },
    },
    ports::store::Store,
};

/// Everything the schedule is made of, read once.
#[derive(Debug, Clone)]
pub struct ScheduleParts {
    /// Rooms, by position.
    pub rooms: Vec<Room>,
    /// Slots, by start.
    pub slots: Vec<Slot>,
    /// Every proposal, with votes.
    pub proposals: Vec<ProposalSummary>,
    /// Who voted for what.
    pub voters: HashMap<ProposalId, Vec<RegistrationId>>,
    /// The schedule as it stands.
    pub placements: Vec<Placement>,
}

impl ScheduleParts {
    /// Reads them.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn read(store: &dyn Store, conference: &Conference) -> Result<Self, ConferenceError> {
        let mut voters: HashMap<ProposalId, Vec<RegistrationId>> = HashMap::new();
        for vote in store.conference_votes(conference.id).await? {
            voters
                .entry(vote.proposal_id)
                .or_default()
                .push(vote.registration_id);
        }
        Ok(Self {
            rooms: store.conference_rooms(conference.id).await?,
            slots: store.conference_slots(conference.id).await?,
            proposals: store.proposals(conference.id).await?,
            voters,
            placements: store.placements(conference.id).await?,
        })
    }

    fn hosts(&self, id: ProposalId) -> Vec<Email> {
        self.proposals
            .iter()
            .find(|s| s.proposal.id == id)
            .map(|s| {
                std::iter::once(s.proposer_email.clone())
                    .chain(s.proposal.co_hosts.iter().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn votes(&self, id: ProposalId) -> usize {
        self.voters.get(&id).map_or(0, Vec::len)
    }

    /// The builder's view of them, with the pins as they stand.
    #[must_use]
    pub fn input(&self, conference: &Conference) -> BuildInput {
        BuildInput {
            rooms: self
                .rooms
                .iter()
                .map(|r| builder::Room {
                    id: r.id,
                    capacity: r.capacity,
                })
                .collect(),
            slots: self
                .slots
                .iter()
                .map(|s| builder::Slot { id: s.id })
                .collect(),
            sessions: ranking(&self.proposals)
                .into_iter()
                .map(|s| builder::Session {
                    id: s.proposal.id,
                    hosts: self
                        .hosts(s.proposal.id)
                        .iter()
                        .map(|e| e.normalized().to_owned())
                        .collect(),
                    voters: self.voters.get(&s.proposal.id).cloned().unwrap_or_default(),
                })
                .collect(),
            pins: self
                .placements
                .iter()
                .filter(|p| p.pinned)
                .map(|p| Pin {
                    session: p.proposal_id,
                    room: p.room_id,
                    slot: p.slot_id,
                })
                .collect(),
            show_up_factor: conference.show_up_factor,
        }
    }
}

/// What a run of the builder made.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// Sessions placed.
    pub placed: usize,
    /// Sessions that did not fit, and why.
    pub unfitted: Vec<Unfitted>,
    /// Voter clashes of the new schedule.
    pub clashes: u32,
    /// Voter clashes of the simple baseline (each session, most wanted
    /// first, into the first place it fits), for comparison.
    pub baseline_clashes: u32,
}

/// Builds the schedule around the pins and keeps it (not yet public).
///
/// # Errors
/// [`ConferenceError::Closed`] once published; [`ConferenceError::Invalid`]
/// with no rooms or slots, or for pins that break a rule.
pub async fn build(
    store: &dyn Store,
    conference: &Conference,
    actor: &str,
) -> Result<BuildReport, ConferenceError> {
    if conference.phase >= ConferencePhase::SchedulePublished {
        return Err(ConferenceError::Closed(
            "the schedule is published: move sessions by hand instead of building it again".into(),
        ));
    }
    let parts = ScheduleParts::read(store, conference).await?;
    if parts.rooms.is_empty() || parts.slots.is_empty() {
        return Err(ConferenceError::invalid(
            "add rooms and slots before building the schedule",
        ));
    }
    let input = parts.input(conference);
    let built = builder::build(&input).map_err(|e| ConferenceError::invalid(e.to_string()))?;
    let baseline = builder::greedy(&input).map_err(|e| ConferenceError::invalid(e.to_string()))?;
    let kept: HashMap<ProposalId, &Placement> = parts
        .placements
        .iter()
        .map(|p| (p.proposal_id, p))
        .collect();
    let placements: Vec<Placement> = built
        .placements
        .iter()
        .map(|p| Placement {
            proposal_id: p.session,
            room_id: p.room,
            slot_id: p.slot,
            pinned: p.pinned,
            slack_conversation: kept
                .get(&p.session)
                .and_then(|k| k.slack_conversation.clone()),
            slack_url: kept.get(&p.session).and_then(|k| k.slack_url.clone()),
        })
        .collect();
    let entry = audit(
        actor,
        "schedule.build",
        conference,
        json!({"placed": placements.len(), "unfitted": built.unfitted.len(), "clashes": built.clashes}),
    );
    store
        .replace_placements(conference.id, &placements, entry)
        .await?;
    Ok(BuildReport {
        placed: placements.len(),
        unfitted: built.unfitted,
        clashes: built.clashes,
        baseline_clashes: baseline.clashes,
    })
}

/// Pins a session to a room and slot (moving it there if placed
/// elsewhere). A session not pinned that sat there leaves the schedule
/// until the builder runs again.
///
/// # Errors
/// [`ConferenceError::Invalid`] when another pinned session sits there,
/// a host would be in two places at once, or the room is too small for the
/// session's expected attendance; [`ConferenceError::Closed`] once the
/// conference is over.
pub async fn pin(
    store: &dyn Store,
    conference: &Conference,
    session: ProposalId,
    room: RoomId,
    slot: SlotId,
    actor: &str,
) -> Result<(), ConferenceError> {
    if conference.phase == ConferencePhase::Done {
        return Err(ConferenceError::Closed("this conference is over".into()));
    }
    let parts = ScheduleParts::read(store, conference).await?;
    let summary = parts
        .proposals
        .iter()
        .find(|s| s.proposal.id == session && s.proposal.state == ProposalState::Open)
        .ok_or(ConferenceError::NotFound("the session"))?;
    let room_row = parts
        .rooms
        .iter()
        .find(|r| r.id == room)
        .ok_or(ConferenceError::NotFound("the room"))?;
    if !parts.slots.iter().any(|s| s.id == slot) {
        return Err(ConferenceError::NotFound("the slot"));
    }
    let expected = builder::expected_attendance(parts.votes(session), conference.show_up_factor);
    if expected > room_row.capacity {
        return Err(ConferenceError::invalid(format!(
            "{:?} expects {expected} people ({} votes × {}), more than {} holds ({})",
            summary.proposal.title,
            parts.votes(session),
            conference.show_up_factor,
            room_row.name,
            room_row.capacity
        )));
    }
    let title = |id: ProposalId| {
        parts
            .proposals
            .iter()
            .find(|s| s.proposal.id == id)
            .map_or_else(String::new, |s| s.proposal.title.clone())
    };
    if let Some(sitting) = parts
        .placements
        .iter()
        .find(|p| p.room_id == room && p.slot_id == slot && p.proposal_id != session && p.pinned)
    {
        return Err(ConferenceError::invalid(format!(
            "{:?} is pinned to that room and slot: unpin or move it first",
            title(sitting.proposal_id)
        )));
    }
    let hosts = parts.hosts(session);
    for other in parts
        .placements
        .iter()
        .filter(|p| p.slot_id == slot && p.proposal_id != session && p.room_id != room)
    {
        if let Some(shared) = parts
            .hosts(other.proposal_id)
            .iter()
            .find(|h| hosts.contains(h))
        {
            return Err(ConferenceError::invalid(format!(
                "{shared} hosts {:?} in that slot already, and cannot be in two places at once",
                title(other.proposal_id)
            )));
        }
    }
    let previous = parts.placements.iter().find(|p| p.proposal_id == session);
    let mut placements: Vec<Placement> = parts
        .placements
        .iter()
        .filter(|p| p.proposal_id != session && !(p.room_id == room && p.slot_id == slot))
        .cloned()
        .collect();
    placements.push(Placement {
        proposal_id: session,
        room_id: room,
        slot_id: slot,
        pinned: true,
        slack_conversation: previous.and_then(|p| p.slack_conversation.clone()),
        slack_url: previous.and_then(|p| p.slack_url.clone()),
    });
    let entry = audit(
        actor,
        "schedule.pin",
        conference,
        json!({"session": session, "room": room, "slot": slot}),
    );
    store
        .replace_placements(conference.id, &placements, entry)
        .await?;
    Ok(())
}

/// Unpins a session (it stays where it is until the builder runs again),
/// or takes it off the schedule.
///
/// # Errors
/// [`ConferenceError::NotFound`] when the session is not placed.
pub async fn release(
    store: &dyn Store,
    conference: &Conference,
    session: ProposalId,
    take_off: bool,
    actor: &str,
) -> Result<(), ConferenceError> {
    let placements = store.placements(conference.id).await?;
    if !placements.iter().any(|p| p.proposal_id == session) {
        return Err(ConferenceError::NotFound("the session in the schedule"));
    }
    let changed: Vec<Placement> = placements
        .into_iter()
        .filter(|p| !(take_off && p.proposal_id == session))
        .map(|p| {
            if p.proposal_id == session {
                Placement { pinned: false, ..p }
            } else {
                p
            }
        })
        .collect();
    let action = if take_off {
        "schedule.take_off"
    } else {
        "schedule.unpin"
    };
    let entry = audit(actor, action, conference, json!({"session": session}));
    store
        .replace_placements(conference.id, &changed, entry)
        .await?;
    Ok(())
}

/// Publishes the schedule: voting ends, the schedule page and the
/// calendar show it, and an announcement goes to the conference's audience
/// (its registrants and the community's email lists) through the outbox.
///
/// # Errors
/// [`ConferenceError::Closed`] unless the conference is voting (or
/// proposing); [`ConferenceError::Invalid`] with nothing scheduled.
pub async fn publish(
    store: &dyn Store,
    community: &Community,
    conference: &Conference,
    public_url: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Conference, ConferenceError> {
    if conference.phase >= ConferencePhase::SchedulePublished
        || conference.phase == ConferencePhase::Registration
    {
        return Err(ConferenceError::Closed(format!(
            "a schedule is published after proposals and voting; {} is in its {} phase",
            conference.name,
            conference.phase.label().to_lowercase()
        )));
    }
    if store.placements(conference.id).await?.is_empty() {
        return Err(ConferenceError::invalid(
            "nothing is scheduled yet: build the schedule first",
        ));
    }
    let published = set_phase(store, conference, ConferencePhase::SchedulePublished, actor).await?;
    let (title, body) = channel::schedule_announcement(public_url, community, &published);
    channel::announce(store, community, &published, &title, &body, actor, now).await?;
    Ok(published)
}

/// One session in the grid.
#[derive(Debug, Clone, Serialize)]
pub struct GridSession {
    /// Its proposal.
    pub proposal: ProposalSummary,
    /// Its place.
    pub placement: Placement,
    /// The people it expects.
    pub expected: u32,
}

/// One slot's row of the grid: a cell per room.
#[derive(Debug, Clone, Serialize)]
pub struct GridRow {
    /// The slot.
    pub slot: Slot,
    /// A cell per room, in the rooms' order.
    pub cells: Vec<Option<GridSession>>,
}

/// The schedule as a grid of slots × rooms.
#[must_use]
pub fn grid(conference: &Conference, parts: &ScheduleParts) -> Vec<GridRow> {
    parts
        .slots
        .iter()
        .map(|slot| GridRow {
            slot: slot.clone(),
            cells: parts
                .rooms
                .iter()
                .map(|room| {
                    let placement = parts
                        .placements
                        .iter()
                        .find(|p| p.room_id == room.id && p.slot_id == slot.id)?;
                    let proposal = parts
                        .proposals
                        .iter()
                        .find(|s| s.proposal.id == placement.proposal_id)?;
                    Some(GridSession {
                        proposal: proposal.clone(),
                        placement: placement.clone(),
                        expected: builder::expected_attendance(
                            parts.votes(placement.proposal_id),
                            conference.show_up_factor,
                        ),
                    })
                })
                .collect(),
        })
        .collect()
}
