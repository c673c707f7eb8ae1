//! The peer-conference schedule builder: from the rooms, the time slots, the
//! proposed sessions (with their hosts and who voted for them) and the lead's
//! pins, it decides which sessions make the programme and puts each in a room
//! and a slot.
//!
//! It answers two questions, in this order.
//!
//! *Which sessions.* The most wanted: sessions are ranked by votes (ties by
//! proposal id, so the answer never depends on input order), and the ranking
//! is walked once, keeping a session when it and the sessions kept before it
//! can still all be placed — in rooms that seat their expected attendance,
//! with no host in two sessions of one slot, around the pins. A less wanted
//! session therefore never takes a place a more wanted one could have had.
//! Each session left out gets a reason a lead can act on ([`Unplaced`]).
//!
//! *Where.* Among the arrangements of the kept sessions, the one with the
//! fewest clashes: pairs of sessions in one slot that the same registrant
//! voted for, each a moment someone has to choose. Rooms only matter for
//! capacity — a slot's sessions fit iff, sorted by size, each fits the room
//! of the same rank among the slot's free rooms sorted by capacity — so the
//! search is over slots. It starts from the best of a first feasible
//! arrangement and the greedy baseline ([`greedy`]), improves it by simulated
//! annealing (moves and swaps between slots), then runs an exact
//! branch-and-bound that proves the minimum on small conferences and, when
//! its budget runs out on big ones, keeps the best arrangement found.
//!
//! Every search has a fixed budget of work, and the randomness is a seeded
//! generator in this module: the same input gives the same schedule, in
//! bounded time. The price of the bound: on a conference so large and so
//! tangled by shared hosts that the search for a place for a session runs
//! out of budget, that session is reported [`Unplaced::HostsBusy`] though a
//! rearrangement might exist. Checking whether a session fits at all is
//! exact and cheap for room sizes; only host conflicts need the search.
//! Pure logic: no storage, no clock.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::ids::{ProposalId, RegistrationId, RoomId, SlotId};

/// A room, with the number of people it seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Which room.
    pub id: RoomId,
    /// How many people it seats.
    pub capacity: u32,
}

/// A time slot. Slots are given in time order and never overlap; every room
/// is available in every slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Which slot.
    pub id: SlotId,
}

/// A proposed session, with its hosts and its votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The proposal.
    pub id: ProposalId,
    /// The proposer and the co-hosts, as normalized emails: none of them can
    /// be in two sessions of one slot.
    pub hosts: Vec<String>,
    /// The registrations that voted for it (a repeated one counts once).
    pub voters: Vec<RegistrationId>,
}

/// A lead's decision that a session takes place in this room and slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The session.
    pub session: ProposalId,
    /// Its room.
    pub room: RoomId,
    /// Its slot.
    pub slot: SlotId,
}

/// Everything the builder needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildInput {
    /// The rooms.
    pub rooms: Vec<Room>,
    /// The slots, in time order.
    pub slots: Vec<Slot>,
    /// The proposed sessions.
    pub sessions: Vec<Session>,
    /// Sessions the lead has already placed; the builder fills around them.
    pub pins: Vec<Pin>,
    /// The share of a session's voters expected to come; see
    /// [`expected_attendance`].
    pub show_up_factor: f64,
}

/// A session's place in the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The session.
    pub session: ProposalId,
    /// Its room.
    pub room: RoomId,
    /// Its slot.
    pub slot: SlotId,
    /// Whether a pin put it there.
    pub pinned: bool,
}

/// Why a session is not in the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unplaced {
    /// Its expected attendance exceeds every room's capacity: a bigger room,
    /// or splitting the session, would be needed.
    TooBigForAnyRoom {
        /// Its expected attendance.
        expected: u32,
        /// The capacity of the largest room.
        largest: u32,
    },
    /// Every room-slot that seats it went to a more wanted session or a pin:
    /// another slot or room would be needed.
    NoRoomLeft,
    /// Enough free room-slots seat it, but host conflicts rule out every
    /// arrangement: one of its hosts (or a host of a session that would have
    /// to move to make way) is in another session in each slot it could take
    /// (or, on a very large conference, the search for an arrangement ran out
    /// of budget; see the module documentation).
    HostsBusy,
}

/// A session left out, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Unfitted {
    /// The session.
    pub session: ProposalId,
    /// Why it did not fit.
    #[serde(flatten)]
    pub reason: Unplaced,
}

/// What the builder made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// The placed sessions, by slot (time order) and then by room (input
    /// order).
    pub placements: Vec<Placement>,
    /// The sessions left out, most wanted first.
    pub unfitted: Vec<Unfitted>,
    /// The clashes of the placements; see [`clash_count`].
    pub clashes: u32,
}

/// Why the builder refused its input. Each message names what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Two sessions share an id.
    #[error("session {session} is listed twice: each proposal can be scheduled once")]
    DuplicateSession {
        /// The repeated id.
        session: ProposalId,
    },
    /// Two rooms share an id.
    #[error("room {room} is listed twice")]
    DuplicateRoom {
        /// The repeated id.
        room: RoomId,
    },
    /// Two slots share an id.
    #[error("slot {slot} is listed twice")]
    DuplicateSlot {
        /// The repeated id.
        slot: SlotId,
    },
    /// A pin names a session that is not being scheduled.
    #[error(
        "a pin names session {session}, which is not among the sessions being scheduled: \
         remove the pin or accept the session"
    )]
    UnknownSession {
        /// The pinned session.
        session: ProposalId,
    },
    /// A pin names a room the conference does not have.
    #[error(
        "session {session} is pinned to room {room}, which is not one of this conference's \
         rooms: pin it to another room"
    )]
    UnknownRoom {
        /// The pinned session.
        session: ProposalId,
        /// The unknown room.
        room: RoomId,
    },
    /// A pin names a slot the conference does not have.
    #[error(
        "session {session} is pinned to slot {slot}, which is not one of this conference's \
         slots: pin it to another slot"
    )]
    UnknownSlot {
        /// The pinned session.
        session: ProposalId,
        /// The unknown slot.
        slot: SlotId,
    },
    /// One session has two pins.
    #[error("session {session} is pinned twice: keep one of its pins")]
    SessionPinnedTwice {
        /// The session.
        session: ProposalId,
    },
    /// Two pins name the same room in the same slot.
    #[error(
        "sessions {first} and {second} are both pinned to room {room} in slot {slot}: \
         move one of them"
    )]
    RoomSlotPinnedTwice {
        /// The room.
        room: RoomId,
        /// The slot.
        slot: SlotId,
        /// The session pinned there first.
        first: ProposalId,
        /// The session pinned there too.
        second: ProposalId,
    },
    /// Pins put a host in two sessions of one slot.
    #[error(
        "{host} hosts session {first} and session {second}, both pinned to slot {slot}: \
         move one of them to another slot"
    )]
    HostPinnedTwice {
        /// The host.
        host: String,
        /// The slot.
        slot: SlotId,
        /// The session pinned there first.
        first: ProposalId,
        /// The other session pinned there.
        second: ProposalId,
    },
    /// A pinned session expects more people than its room seats.
    #[error(
        "session {session} expects {expected} people but is pinned to room {room}, which \
         seats {capacity}: pin it to a bigger room"
    )]
    PinTooSmall {
        /// The session.
        session: ProposalId,
        /// The room.
        room: RoomId,
        /// The session's expected attendance.
        expected: u32,
        /// The room's capacity.
        capacity: u32,
    },
}

/// A product within this much above a whole number is that number: in binary
/// floating point 100 × 0.07 is 7.000000000000001, and 7 people are meant.
const ROUNDING_SLACK: f64 = 1e-9;

/// How many of a session's `votes` are expected to come: `votes ×
/// show_up_factor`, rounded up (a room must seat the last person too).
///
/// The factor is a share, so it is clamped to [0, 1]: a factor above 1 would
/// claim more people than voted, and a negative one fewer than none. A NaN
/// factor counts as 1, the cautious reading (everyone who voted comes).
#[must_use]
pub fn expected_attendance(votes: usize, show_up_factor: f64) -> u32 {
    let factor = if show_up_factor.is_nan() {
        1.0
    } else {
        show_up_factor.clamp(0.0, 1.0)
    };
    let people = (votes as f64 * factor - ROUNDING_SLACK).ceil();
    // `as` saturates: at least 0, at most u32::MAX.
    people as u32
}

/// The clashes of `placements`: for each slot, for each pair of its
/// sessions, the number of registrants who voted for both — how many times a
/// registrant has to choose between two sessions they wanted. Placements of
/// sessions missing from `input` count for nothing.
#[must_use]
pub fn clash_count(input: &BuildInput, placements: &[Placement]) -> u32 {
    let sessions: HashMap<ProposalId, &Session> =
        input.sessions.iter().map(|s| (s.id, s)).collect();
    let mut wanted: HashMap<(SlotId, RegistrationId), u32> = HashMap::new();
    for placement in placements {
        let Some(session) = sessions.get(&placement.session) else {
            continue;
        };
        for voter in distinct_voters(session) {
            *wanted.entry((placement.slot, voter)).or_default() += 1;
        }
    }
    // A registrant who wanted k sessions of one slot is in k(k-1)/2 pairs.
    let pairs: u64 = wanted
        .values()
        .map(|&k| u64::from(k) * u64::from(k.saturating_sub(1)) / 2)
        .sum();
    u32::try_from(pairs).unwrap_or(u32::MAX)
}

/// Builds the schedule: the most wanted sessions that can all be placed,
/// arranged with as few clashes as the search finds (the minimum on small
/// conferences; see the module documentation).
///
/// # Errors
///
/// A [`BuildError`] when the input is inconsistent: repeated ids, or pins
/// that name unknown sessions, rooms or slots, pin a session twice, pin two
/// sessions to one room-slot, put a host in two places at once, or put a
/// session in a room too small for it.
pub fn build(input: &BuildInput) -> Result<Schedule, BuildError> {
    let problem = Problem::prepare(input)?;
    let (state, reasons) = choose(&problem);
    let baseline = greedy_fill(&problem);
    let state = arrange(&problem, state, &baseline);
    let placed = (0..problem.n)
        .filter(|&s| state.slot_of[s] != NONE)
        .map(|s| (s, state.slot_of[s], NONE))
        .collect();
    let placed = problem.with_rooms(placed);
    Ok(problem.schedule(input, &placed, &reasons))
}

/// The baseline the builder is measured against: pins first, then sessions
/// by votes, each to the first slot (in time order) with a free room (in
/// input order) that seats it and none of its hosts busy; no look-ahead and
/// no attempt to avoid clashes.
///
/// # Errors
///
/// The same [`BuildError`]s as [`build`].
pub fn greedy(input: &BuildInput) -> Result<Schedule, BuildError> {
    let problem = Problem::prepare(input)?;
    let baseline = greedy_fill(&problem);
    Ok(problem.schedule(input, &baseline.placed, &baseline.reasons))
}

/// Marks "no slot" (or "no room") in index vectors.
const NONE: usize = usize::MAX;

/// Work, in session-slot checks, that one search for a feasible arrangement
/// may spend while choosing the sessions. Enough for an exhaustive search on
/// any conference of a dozen sessions in a few slots.
const CHOOSE_SEARCH_WORK: u64 = 2_000_000;

/// Work that all those searches together may spend, so a conference where
/// many sessions need one keeps a bounded build time.
const CHOOSE_TOTAL_WORK: u64 = 20_000_000;

/// Work the final branch-and-bound may spend.
const ARRANGE_SEARCH_WORK: u64 = 4_000_000;

/// Annealing steps per (movable session × slot), and at most in all.
const ANNEAL_STEPS_PER_CHOICE: u64 = 1000;
const ANNEAL_MAX_STEPS: u64 = 1_000_000;

/// The annealing's final temperature: clashes are whole numbers, so at this
/// temperature a worse move is accepted with odds of e^-10 per clash.
const ANNEAL_COLD: f64 = 0.1;

/// The seed of the annealing's generator; fixed, so builds are repeatable.
const SEED: u64 = 0x636f_7068_7562_2d31;

/// The input checked and indexed. Sessions are numbered by rank (0 is the
/// most wanted); rooms and slots by input position.
#[derive(Debug)]
struct Problem {
    /// Sessions.
    n: usize,
    /// Slots.
    slots: usize,
    /// u64 words in a bitset over sessions.
    words: usize,
    /// The input index of the session of each rank.
    order: Vec<usize>,
    /// Expected attendance, by rank.
    size: Vec<u32>,
    /// Row `s` (`words` long) has a bit for each session sharing a host with `s`.
    conflicts: Vec<u64>,
    /// For each session, the sessions sharing voters with it and how many,
    /// sorted by session.
    neighbours: Vec<Vec<(usize, u32)>>,
    /// The (slot, room) a session is pinned to.
    pin: Vec<Option<(usize, usize)>>,
    /// Whether a slot holds a pin.
    slot_pinned: Vec<bool>,
    /// For each slot, its unpinned rooms by capacity (largest first, then
    /// input order).
    free_rooms: Vec<Vec<usize>>,
    /// Their capacities, in the same order.
    free_caps: Vec<Vec<u32>>,
    /// Every unpinned room-slot's capacity, largest first.
    all_free_caps: Vec<u32>,
    /// The largest room's capacity (0 without rooms).
    largest: u32,
    /// Room capacities, room ids and slot ids, by index.
    room_caps: Vec<u32>,
    room_ids: Vec<RoomId>,
    slot_ids: Vec<SlotId>,
}

impl Problem {
    fn prepare(input: &BuildInput) -> Result<Self, BuildError> {
        let mut room_index = HashMap::new();
        for (i, room) in input.rooms.iter().enumerate() {
            if room_index.insert(room.id, i).is_some() {
                return Err(BuildError::DuplicateRoom { room: room.id });
            }
        }
        let mut slot_index = HashMap::new();
        for (i, slot) in input.slots.iter().enumerate() {
            if slot_index.insert(slot.id, i).is_some() {
                return Err(BuildError::DuplicateSlot { slot: slot.id });
            }
        }
        let mut session_index = HashMap::new();
        for (i, session) in input.sessions.iter().enumerate() {
            if session_index.insert(session.id, i).is_some() {
                return Err(BuildError::DuplicateSession {
                    session: session.id,
                });
            }
        }

        let sessions = &input.sessions;
        let n = sessions.len();
        let voters: Vec<Vec<RegistrationId>> = sessions.iter().map(distinct_voters).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            voters[b]
                .len()
                .cmp(&voters[a].len())
                .then(sessions[a].id.cmp(&sessions[b].id))
        });
        let mut rank_of = vec![0; n];
        for (rank, &i) in order.iter().enumerate() {
            rank_of[i] = rank;
        }
        let size: Vec<u32> = order
            .iter()
            .map(|&i| expected_attendance(voters[i].len(), input.show_up_factor))
            .collect();

        let words = n.div_ceil(64);
        let mut conflicts = vec![0u64; n * words];
        let mut by_host: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (rank, &i) in order.iter().enumerate() {
            for host in &sessions[i].hosts {
                let hosted = by_host.entry(host.as_str()).or_default();
                if hosted.last() != Some(&rank) {
                    hosted.push(rank);
                }
            }
        }
        for hosted in by_host.values() {
            for &a in hosted {
                for &b in hosted {
                    if a != b {
                        conflicts[a * words + b / 64] |= 1 << (b % 64);
                    }
                }
            }
        }

        let mut ballots: HashMap<RegistrationId, Vec<usize>> = HashMap::new();
        for (rank, &i) in order.iter().enumerate() {
            for &voter in &voters[i] {
                ballots.entry(voter).or_default().push(rank);
            }
        }
        let mut shared: HashMap<(usize, usize), u32> = HashMap::new();
        for ballot in ballots.values() {
            for (k, &a) in ballot.iter().enumerate() {
                for &b in &ballot[k + 1..] {
                    *shared.entry((a.min(b), a.max(b))).or_default() += 1;
                }
            }
        }
        let mut neighbours = vec![Vec::new(); n];
        for (&(a, b), &w) in &shared {
            neighbours[a].push((b, w));
            neighbours[b].push((a, w));
        }
        for list in &mut neighbours {
            list.sort_unstable();
        }

        let slots = input.slots.len();
        let mut pin = vec![None; n];
        let mut taken: HashMap<(usize, usize), ProposalId> = HashMap::new();
        let mut pinned_in: Vec<Vec<usize>> = vec![Vec::new(); slots];
        for p in &input.pins {
            let Some(&i) = session_index.get(&p.session) else {
                return Err(BuildError::UnknownSession { session: p.session });
            };
            let Some(&room) = room_index.get(&p.room) else {
                return Err(BuildError::UnknownRoom {
                    session: p.session,
                    room: p.room,
                });
            };
            let Some(&slot) = slot_index.get(&p.slot) else {
                return Err(BuildError::UnknownSlot {
                    session: p.session,
                    slot: p.slot,
                });
            };
            let rank = rank_of[i];
            if pin[rank].is_some() {
                return Err(BuildError::SessionPinnedTwice { session: p.session });
            }
            if let Some(&first) = taken.get(&(slot, room)) {
                return Err(BuildError::RoomSlotPinnedTwice {
                    room: p.room,
                    slot: p.slot,
                    first,
                    second: p.session,
                });
            }
            let capacity = input.rooms[room].capacity;
            if size[rank] > capacity {
                return Err(BuildError::PinTooSmall {
                    session: p.session,
                    room: p.room,
                    expected: size[rank],
                    capacity,
                });
            }
            for &other in &pinned_in[slot] {
                let other_hosts = &sessions[order[other]].hosts;
                if let Some(host) = sessions[i].hosts.iter().find(|h| other_hosts.contains(h)) {
                    return Err(BuildError::HostPinnedTwice {
                        host: host.clone(),
                        slot: p.slot,
                        first: sessions[order[other]].id,
                        second: p.session,
                    });
                }
            }
            taken.insert((slot, room), p.session);
            pin[rank] = Some((slot, room));
            pinned_in[slot].push(rank);
        }

        let mut free_rooms = Vec::with_capacity(slots);
        let mut free_caps = Vec::with_capacity(slots);
        let mut all_free_caps = Vec::new();
        for slot in 0..slots {
            let mut rooms: Vec<usize> = (0..input.rooms.len())
                .filter(|&room| !taken.contains_key(&(slot, room)))
                .collect();
            rooms.sort_by_key(|&room| (std::cmp::Reverse(input.rooms[room].capacity), room));
            let caps: Vec<u32> = rooms.iter().map(|&r| input.rooms[r].capacity).collect();
            all_free_caps.extend_from_slice(&caps);
            free_rooms.push(rooms);
            free_caps.push(caps);
        }
        all_free_caps.sort_unstable_by(|a, b| b.cmp(a));

        Ok(Self {
            n,
            slots,
            words,
            order,
            size,
            conflicts,
            neighbours,
            pin,
            slot_pinned: pinned_in.iter().map(|p| !p.is_empty()).collect(),
            free_rooms,
            free_caps,
            all_free_caps,
            largest: input.rooms.iter().map(|r| r.capacity).max().unwrap_or(0),
            room_caps: input.rooms.iter().map(|r| r.capacity).collect(),
            room_ids: input.rooms.iter().map(|r| r.id).collect(),
            slot_ids: input.slots.iter().map(|s| s.id).collect(),
        })
    }

    /// Voters `a` and `b` share.
    fn shared(&self, a: usize, b: usize) -> u32 {
        let list = &self.neighbours[a];
        list.binary_search_by_key(&b, |&(x, _)| x)
            .map_or(0, |k| list[k].1)
    }

    /// Gives rooms to (session, slot, room) triples whose room is [`NONE`]:
    /// pinned sessions their pinned room, the others of each slot, largest
    /// first, the free rooms largest first — which fits whenever any room
    /// assignment does.
    fn with_rooms(&self, placed: Vec<(usize, usize, usize)>) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::with_capacity(placed.len());
        let mut by_slot: Vec<Vec<usize>> = vec![Vec::new(); self.slots];
        for (s, slot, room) in placed {
            if room != NONE {
                out.push((s, slot, room));
            } else if let Some((pin_slot, pin_room)) = self.pin[s] {
                out.push((s, pin_slot, pin_room));
            } else {
                by_slot[slot].push(s);
            }
        }
        for (slot, mut sessions) in by_slot.into_iter().enumerate() {
            sessions.sort_by_key(|&s| (std::cmp::Reverse(self.size[s]), s));
            for (s, &room) in sessions.into_iter().zip(&self.free_rooms[slot]) {
                out.push((s, slot, room));
            }
        }
        out
    }

    /// The schedule of (session, slot, room) triples and the reasons of the
    /// sessions left out (indexed by rank).
    fn schedule(
        &self,
        input: &BuildInput,
        placed: &[(usize, usize, usize)],
        reasons: &[Option<Unplaced>],
    ) -> Schedule {
        let mut ordered = placed.to_vec();
        ordered.sort_by_key(|&(s, slot, room)| (slot, room, s));
        let placements: Vec<Placement> = ordered
            .into_iter()
            .map(|(s, slot, room)| Placement {
                session: input.sessions[self.order[s]].id,
                room: self.room_ids[room],
                slot: self.slot_ids[slot],
                pinned: self.pin[s].is_some(),
            })
            .collect();
        let unfitted = reasons
            .iter()
            .enumerate()
            .filter_map(|(s, reason)| {
                reason.map(|reason| Unfitted {
                    session: input.sessions[self.order[s]].id,
                    reason,
                })
            })
            .collect();
        let clashes = clash_count(input, &placements);
        Schedule {
            placements,
            unfitted,
            clashes,
        }
    }
}

/// A session's voters, each once.
fn distinct_voters(session: &Session) -> Vec<RegistrationId> {
    let mut voters = session.voters.clone();
    voters.sort_unstable();
    voters.dedup();
    voters
}

/// Whether `sizes` (largest first), less one entry equal to `remove` and
/// plus `add`, fit rooms of capacities `caps` (largest first): a multiset of
/// sessions fits a multiset of rooms iff, both sorted, each session fits the
/// room of its rank.
fn fits_sizes(sizes: &[u32], remove: Option<u32>, add: u32, caps: &[u32]) -> bool {
    let mut pending_removal = remove;
    let mut added = false;
    let mut rest = sizes.iter().copied().peekable();
    let mut rank = 0;
    loop {
        let next = loop {
            match rest.peek() {
                Some(&v) if pending_removal == Some(v) => {
                    pending_removal = None;
                    rest.next();
                }
                other => break other.copied(),
            }
        };
        let size = match next {
            Some(v) if added || v >= add => {
                rest.next();
                v
            }
            _ if !added => {
                added = true;
                add
            }
            _ => return true,
        };
        match caps.get(rank) {
            Some(&cap) if size <= cap => rank += 1,
            _ => return false,
        }
    }
}

/// An arrangement being built or searched: which slot each session is in,
/// and what that costs.
#[derive(Debug, Clone)]
struct State {
    /// The slot of each session, or [`NONE`].
    slot_of: Vec<usize>,
    /// Row `t` (`words` long): the sessions in slot `t`, pinned or not.
    members: Vec<u64>,
    /// For each slot, the expected attendance of its unpinned sessions,
    /// largest first (pinned ones have their room already).
    sizes: Vec<Vec<u32>>,
    /// For each slot, its unpinned sessions.
    movable: Vec<Vec<usize>>,
    /// `inc[s * slots + t]`: the clashes `s` would add to slot `t` as it is.
    inc: Vec<u32>,
    /// The clashes of the arrangement.
    cost: u64,
}

impl State {
    /// The arrangement holding the pinned sessions only.
    fn new(p: &Problem) -> Self {
        let mut state = Self {
            slot_of: vec![NONE; p.n],
            members: vec![0; p.slots * p.words],
            sizes: vec![Vec::new(); p.slots],
            movable: vec![Vec::new(); p.slots],
            inc: vec![0; p.n * p.slots],
            cost: 0,
        };
        for s in 0..p.n {
            if let Some((slot, _)) = p.pin[s] {
                state.assign(p, s, slot);
            }
        }
        state
    }

    /// The pinned sessions plus `vars[k]` in `slots[k]`.
    fn with(p: &Problem, vars: &[usize], slots: &[usize]) -> Self {
        let mut state = Self::new(p);
        for (&s, &slot) in vars.iter().zip(slots) {
            state.assign(p, s, slot);
        }
        state
    }

    /// Whether none of `s`'s hosts is in slot `t`, not counting session
    /// `except` (or anyone, with [`NONE`]).
    fn hosts_free(&self, p: &Problem, s: usize, t: usize, except: usize) -> bool {
        let row = &p.conflicts[s * p.words..(s + 1) * p.words];
        let slot = &self.members[t * p.words..(t + 1) * p.words];
        row.iter().zip(slot).enumerate().all(|(w, (a, b))| {
            let mut both = a & b;
            if except / 64 == w {
                both &= !(1u64 << (except % 64));
            }
            both == 0
        })
    }

    /// Whether unpinned `s` can join slot `t`.
    fn fits(&self, p: &Problem, s: usize, t: usize) -> bool {
        self.hosts_free(p, s, t, NONE)
            && fits_sizes(&self.sizes[t], None, p.size[s], &p.free_caps[t])
    }

    /// Whether unpinned `s` can take the place of unpinned `out` in slot `t`.
    fn fits_instead(&self, p: &Problem, s: usize, t: usize, out: usize) -> bool {
        self.hosts_free(p, s, t, out)
            && fits_sizes(
                &self.sizes[t],
                Some(p.size[out]),
                p.size[s],
                &p.free_caps[t],
            )
    }

    fn assign(&mut self, p: &Problem, s: usize, t: usize) {
        self.cost += u64::from(self.inc[s * p.slots + t]);
        for &(x, w) in &p.neighbours[s] {
            self.inc[x * p.slots + t] += w;
        }
        self.members[t * p.words + s / 64] |= 1 << (s % 64);
        if p.pin[s].is_none() {
            let size = p.size[s];
            let at = self.sizes[t].partition_point(|&v| v >= size);
            self.sizes[t].insert(at, size);
            self.movable[t].push(s);
        }
        self.slot_of[s] = t;
    }

    fn unassign(&mut self, p: &Problem, s: usize) {
        let t = self.slot_of[s];
        if t == NONE {
            return;
        }
        for &(x, w) in &p.neighbours[s] {
            self.inc[x * p.slots + t] -= w;
        }
        self.cost -= u64::from(self.inc[s * p.slots + t]);
        self.members[t * p.words + s / 64] &= !(1 << (s % 64));
        if p.pin[s].is_none() {
            let size = p.size[s];
            if let Some(at) = self.sizes[t].iter().position(|&v| v == size) {
                self.sizes[t].remove(at);
            }
            if let Some(at) = self.movable[t].iter().position(|&x| x == s) {
                self.movable[t].swap_remove(at);
            }
        }
        self.slot_of[s] = NONE;
    }

    /// The unpinned placed sessions, by rank, and their slots.
    fn placed_movable(&self, p: &Problem) -> (Vec<usize>, Vec<usize>) {
        let vars: Vec<usize> = (0..p.n)
            .filter(|&s| p.pin[s].is_none() && self.slot_of[s] != NONE)
            .collect();
        let slots = vars.iter().map(|&s| self.slot_of[s]).collect();
        (vars, slots)
    }
}

/// Walks the ranking and keeps each session that can join the ones kept
/// before it; returns their arrangement and, by rank, why the others could
/// not.
fn choose(p: &Problem) -> (State, Vec<Option<Unplaced>>) {
    let mut state = State::new(p);
    let mut reasons = vec![None; p.n];
    let mut kept_sizes: Vec<u32> = Vec::new();
    let mut work_left = CHOOSE_TOTAL_WORK;
    for (s, reason) in reasons.iter_mut().enumerate() {
        if p.pin[s].is_some() {
            continue;
        }
        let size = p.size[s];
        if size > p.largest {
            *reason = Some(Unplaced::TooBigForAnyRoom {
                expected: size,
                largest: p.largest,
            });
            continue;
        }
        // Hosts aside, slots do not matter: the kept sessions plus this one
        // fit iff they fit the free room-slots, all sorted by size.
        if !fits_sizes(&kept_sizes, None, size, &p.all_free_caps) {
            *reason = Some(Unplaced::NoRoomLeft);
            continue;
        }
        if place_directly(p, &mut state, s)
            || place_by_moving_one(p, &mut state, s)
            || place_by_search(p, &mut state, s, &mut work_left)
        {
            let at = kept_sizes.partition_point(|&v| v >= size);
            kept_sizes.insert(at, size);
        } else {
            *reason = Some(Unplaced::HostsBusy);
        }
    }
    (state, reasons)
}

/// Puts `s` in the slot where it fits and adds the fewest clashes, if any.
fn place_directly(p: &Problem, state: &mut State, s: usize) -> bool {
    let best = (0..p.slots)
        .filter(|&t| state.fits(p, s, t))
        .min_by_key(|&t| (state.inc[s * p.slots + t], t));
    match best {
        Some(t) => {
            state.assign(p, s, t);
            true
        }
        None => false,
    }
}

/// Makes way for `s` by moving one unpinned session to another slot.
fn place_by_moving_one(p: &Problem, state: &mut State, s: usize) -> bool {
    for t in 0..p.slots {
        for &out in &state.movable[t] {
            if !state.fits_instead(p, s, t, out) {
                continue;
            }
            if let Some(to) = (0..p.slots).find(|&to| to != t && state.fits(p, out, to)) {
                state.unassign(p, out);
                state.assign(p, out, to);
                state.assign(p, s, t);
                return true;
            }
        }
    }
    false
}

/// Searches for an arrangement of the kept sessions plus `s`, starting from
/// the current one; adopts it when found within the budget.
fn place_by_search(p: &Problem, state: &mut State, s: usize, work_left: &mut u64) -> bool {
    let (mut vars, mut hint) = state.placed_movable(p);
    let at = vars.partition_point(|&v| v < s);
    vars.insert(at, s);
    hint.insert(at, NONE);
    let per_node = (vars.len() * p.slots).max(1) as u64;
    let work = CHOOSE_SEARCH_WORK.min(*work_left);
    let mut search = Search::new(p, vars, hint, work / per_node, true, u64::MAX);
    search.run();
    *work_left = work_left.saturating_sub(search.nodes_used * per_node);
    match search.best {
        Some(slots) => {
            *state = State::with(p, &search.vars, &slots);
            true
        }
        None => false,
    }
}

/// The greedy baseline's outcome, by rank.
#[derive(Debug)]
struct Baseline {
    /// (session, slot, room) of each placed session.
    placed: Vec<(usize, usize, usize)>,
    /// Why each other session was left out.
    reasons: Vec<Option<Unplaced>>,
}

fn greedy_fill(p: &Problem) -> Baseline {
    let rooms = p.room_ids.len();
    let mut state = State::new(p);
    let mut taken = vec![false; p.slots * rooms];
    let mut placed = Vec::new();
    let mut reasons = vec![None; p.n];
    for s in 0..p.n {
        if let Some((slot, room)) = p.pin[s] {
            taken[slot * rooms + room] = true;
            placed.push((s, slot, room));
        }
    }
    for (s, reason) in reasons.iter_mut().enumerate() {
        if p.pin[s].is_some() {
            continue;
        }
        let size = p.size[s];
        if size > p.largest {
            *reason = Some(Unplaced::TooBigForAnyRoom {
                expected: size,
                largest: p.largest,
            });
            continue;
        }
        let mut free_fitting = false;
        let mut spot = None;
        'slots: for slot in 0..p.slots {
            for room in 0..rooms {
                if taken[slot * rooms + room] || p.room_caps[room] < size {
                    continue;
                }
                free_fitting = true;
                if state.hosts_free(p, s, slot, NONE) {
                    spot = Some((slot, room));
                    break 'slots;
                }
                continue 'slots;
            }
        }
        match spot {
            Some((slot, room)) => {
                taken[slot * rooms + room] = true;
                state.assign(p, s, slot);
                placed.push((s, slot, room));
            }
            None if free_fitting => *reason = Some(Unplaced::HostsBusy),
            None => *reason = Some(Unplaced::NoRoomLeft),
        }
    }
    Baseline { placed, reasons }
}

/// Arranges the chosen sessions with as few clashes as the budget finds.
fn arrange(p: &Problem, chosen: State, baseline: &Baseline) -> State {
    let (vars, _) = chosen.placed_movable(p);
    let mut start = chosen;
    // The greedy arrangement of the same sessions is a start too, so the
    // builder never does worse than the baseline it is compared with.
    let mut greedy_slots = vec![NONE; p.n];
    for &(s, slot, _) in &baseline.placed {
        if p.pin[s].is_none() {
            greedy_slots[s] = slot;
        }
    }
    let greedy_count = greedy_slots.iter().filter(|&&t| t != NONE).count();
    if greedy_count == vars.len() && vars.iter().all(|&s| greedy_slots[s] != NONE) {
        let slots: Vec<usize> = vars.iter().map(|&s| greedy_slots[s]).collect();
        let greedy_state = State::with(p, &vars, &slots);
        if greedy_state.cost < start.cost {
            start = greedy_state;
        }
    }
    let mut best_cost = start.cost;
    let mut best_slots: Vec<usize> = vars.iter().map(|&s| start.slot_of[s]).collect();
    let mut rng = SplitMix(SEED);
    let (annealed_cost, annealed) = anneal(p, &mut start, &vars, &mut rng);
    if annealed_cost < best_cost {
        best_cost = annealed_cost;
        best_slots = annealed;
    }
    if best_cost > 0 && !vars.is_empty() {
        let per_node = (vars.len() * p.slots).max(1) as u64;
        let hint = vec![NONE; vars.len()];
        let mut search = Search::new(
            p,
            vars.clone(),
            hint,
            ARRANGE_SEARCH_WORK / per_node,
            false,
            best_cost,
        );
        search.run();
        if let Some(slots) = search.best {
            best_slots = slots;
        }
    }
    State::with(p, &vars, &best_slots)
}

/// A tiny deterministic generator (SplitMix64): the builder needs
/// randomness only to explore, and must give the same schedule each time.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (which must not be 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A change to an arrangement.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Session `s` to slot `to`.
    Shift { s: usize, to: usize },
    /// Sessions `a` and `b` trade slots.
    Swap { a: usize, b: usize },
}

/// A random feasible move of one of `vars`, with the change in clashes it
/// makes; `None` when the draw was not feasible.
fn propose(p: &Problem, state: &State, vars: &[usize], rng: &mut SplitMix) -> Option<(Move, i64)> {
    let a = vars[rng.below(vars.len())];
    let from = state.slot_of[a];
    let mut to = rng.below(p.slots - 1);
    if to >= from {
        to += 1;
    }
    let others = &state.movable[to];
    let pick = rng.below(others.len() + 1);
    let inc = |s: usize, t: usize| i64::from(state.inc[s * p.slots + t]);
    if pick == others.len() {
        if !state.fits(p, a, to) {
            return None;
        }
        Some((Move::Shift { s: a, to }, inc(a, to) - inc(a, from)))
    } else {
        let b = others[pick];
        if !(state.fits_instead(p, a, to, b) && state.fits_instead(p, b, from, a)) {
            return None;
        }
        // Each one's clashes with the other are counted in its new slot's
        // `inc`, but the other has left.
        let both = 2 * i64::from(p.shared(a, b));
        let delta = inc(a, to) + inc(b, from) - inc(a, from) - inc(b, to) - both;
        Some((Move::Swap { a, b }, delta))
    }
}

fn apply(p: &Problem, state: &mut State, change: Move) {
    match change {
        Move::Shift { s, to } => {
            state.unassign(p, s);
            state.assign(p, s, to);
        }
        Move::Swap { a, b } => {
            let (ta, tb) = (state.slot_of[a], state.slot_of[b]);
            state.unassign(p, a);
            state.unassign(p, b);
            state.assign(p, a, tb);
            state.assign(p, b, ta);
        }
    }
}

/// Simulated annealing over moves and swaps of `vars` between slots, from
/// `state`; returns the best cost seen and the slots of `vars` then.
fn anneal(p: &Problem, state: &mut State, vars: &[usize], rng: &mut SplitMix) -> (u64, Vec<usize>) {
    let mut best_cost = state.cost;
    let mut best: Vec<usize> = vars.iter().map(|&s| state.slot_of[s]).collect();
    if vars.is_empty() || p.slots < 2 || best_cost == 0 {
        return (best_cost, best);
    }
    // Start hot enough to accept a typical worsening move about a third of
    // the time; the typical size is sampled, since it depends on the votes.
    let mut worse = (0u64, 0u64);
    for _ in 0..(vars.len() * 4).max(64) {
        if let Some((_, delta)) = propose(p, state, vars, rng)
            && delta > 0
        {
            worse.0 += delta.unsigned_abs();
            worse.1 += 1;
        }
    }
    let hot = if worse.1 == 0 {
        1.0
    } else {
        (worse.0 as f64 / worse.1 as f64).max(ANNEAL_COLD)
    };
    let steps =
        (vars.len() as u64 * p.slots as u64 * ANNEAL_STEPS_PER_CHOICE).min(ANNEAL_MAX_STEPS);
    let cooling = (ANNEAL_COLD / hot).powf(1.0 / steps as f64);
    let mut temperature = hot;
    for _ in 0..steps {
        temperature *= cooling;
        let Some((change, delta)) = propose(p, state, vars, rng) else {
            continue;
        };
        if delta <= 0 || rng.unit() < (-(delta as f64) / temperature).exp() {
            apply(p, state, change);
            if state.cost < best_cost {
                best_cost = state.cost;
                for (slot, &s) in best.iter_mut().zip(vars) {
                    *slot = state.slot_of[s];
                }
                if best_cost == 0 {
                    break;
                }
            }
        }
    }
    (best_cost, best)
}

/// A depth-first search over slots for the sessions `vars`, around the pins:
/// the most constrained session first (fewest slots it fits), its slots by
/// the clashes they add. With `first_only` it stops at the first
/// arrangement (a feasibility check); otherwise it is a branch-and-bound for
/// arrangements cheaper than `bound`, pruned by a floor that adds to the
/// clashes so far each remaining session's cheapest slot.
#[derive(Debug)]
struct Search<'p> {
    p: &'p Problem,
    state: State,
    vars: Vec<usize>,
    done: Vec<bool>,
    /// A slot to try first for each var ([`NONE`] for none).
    hint: Vec<usize>,
    nodes_left: u64,
    nodes_used: u64,
    first_only: bool,
    /// Arrangements must cost less than this to count.
    bound: u64,
    /// The slots of `vars` in the best arrangement found.
    best: Option<Vec<usize>>,
}

impl<'p> Search<'p> {
    fn new(
        p: &'p Problem,
        vars: Vec<usize>,
        hint: Vec<usize>,
        nodes: u64,
        first_only: bool,
        bound: u64,
    ) -> Self {
        Self {
            p,
            state: State::new(p),
            done: vec![false; vars.len()],
            vars,
            hint,
            nodes_left: nodes,
            nodes_used: 0,
            first_only,
            bound,
            best: None,
        }
    }

    fn run(&mut self) {
        let remaining = self.vars.len();
        self.descend(remaining);
    }

    /// Returns true to stop the whole search.
    fn descend(&mut self, remaining: usize) -> bool {
        let p = self.p;
        if remaining == 0 {
            if self.state.cost < self.bound {
                self.bound = self.state.cost;
                self.best = Some(self.vars.iter().map(|&s| self.state.slot_of[s]).collect());
            }
            // Nothing beats zero clashes.
            return self.first_only || self.bound == 0;
        }
        if self.nodes_left == 0 {
            return true;
        }
        self.nodes_left -= 1;
        self.nodes_used += 1;

        let mut pick: Option<(usize, usize)> = None;
        let mut floor = self.state.cost;
        for (i, &s) in self.vars.iter().enumerate() {
            if self.done[i] {
                continue;
            }
            let mut options = 0;
            let mut cheapest = u32::MAX;
            for t in 0..p.slots {
                if self.state.fits(p, s, t) {
                    options += 1;
                    cheapest = cheapest.min(self.state.inc[s * p.slots + t]);
                }
            }
            if options == 0 {
                return false;
            }
            floor += u64::from(cheapest);
            let better = match pick {
                None => true,
                Some((j, fewest)) => {
                    options < fewest || (options == fewest && p.size[s] > p.size[self.vars[j]])
                }
            };
            if better {
                pick = Some((i, options));
            }
        }
        if floor >= self.bound {
            return false;
        }
        let Some((i, _)) = pick else {
            return false;
        };
        let s = self.vars[i];
        let mut choices: Vec<(bool, u32, usize)> = Vec::new();
        let mut empty_tried = false;
        for t in 0..p.slots {
            if !self.state.fits(p, s, t) {
                continue;
            }
            // Empty slots without pins are interchangeable: try one.
            if !p.slot_pinned[t] && self.state.movable[t].is_empty() {
                if empty_tried {
                    continue;
                }
                empty_tried = true;
            }
            choices.push((t != self.hint[i], self.state.inc[s * p.slots + t], t));
        }
        choices.sort_unstable();
        self.done[i] = true;
        let mut stop = false;
        for (_, _, t) in choices {
            self.state.assign(p, s, t);
            stop = self.descend(remaining - 1);
            self.state.unassign(p, s);
            if stop {
                break;
            }
        }
        self.done[i] = false;
        stop
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn proposal(n: u128) -> ProposalId {
        ProposalId(Uuid::from_u128(n))
    }

    fn voter(n: u128) -> RegistrationId {
        RegistrationId(Uuid::from_u128(n))
    }

    fn rooms(capacities: &[u32]) -> Vec<Room> {
        capacities
            .iter()
            .enumerate()
            .map(|(i, &capacity)| Room {
                id: RoomId(Uuid::from_u128(1000 + i as u128)),
                capacity,
            })
            .collect()
    }

    fn slots(count: usize) -> Vec<Slot> {
        (0..count)
            .map(|i| Slot {
                id: SlotId(Uuid::from_u128(2000 + i as u128)),
            })
            .collect()
    }

    /// Session `n` hosted by `host`, with voters `first..first + votes`.
    fn session(n: u128, host: &str, first: u128, votes: u128) -> Session {
        Session {
            id: proposal(n),
            hosts: vec![host.to_owned()],
            voters: (first..first + votes).map(voter).collect(),
        }
    }

    fn input(capacities: &[u32], slot_count: usize, sessions: Vec<Session>) -> BuildInput {
        BuildInput {
            rooms: rooms(capacities),
            slots: slots(slot_count),
            sessions,
            pins: Vec::new(),
            show_up_factor: 1.0,
        }
    }

    fn reason_of(schedule: &Schedule, id: ProposalId) -> Option<Unplaced> {
        schedule
            .unfitted
            .iter()
            .find(|u| u.session == id)
            .map(|u| u.reason)
    }

    fn placement_of(schedule: &Schedule, id: ProposalId) -> Option<Placement> {
        schedule
            .placements
            .iter()
            .copied()
            .find(|p| p.session == id)
    }

    #[test]
    fn expected_attendance_rounds_up_and_clamps_the_factor() {
        assert_eq!(expected_attendance(10, 0.7), 7);
        assert_eq!(expected_attendance(3, 0.7), 3);
        assert_eq!(expected_attendance(100, 0.07), 7);
        assert_eq!(expected_attendance(10, 1.5), 10);
        assert_eq!(expected_attendance(10, -0.5), 0);
        assert_eq!(expected_attendance(10, f64::NAN), 10);
        assert_eq!(expected_attendance(0, 0.7), 0);
    }

    #[test]
    fn clash_count_counts_shared_voters_for_each_pair_in_a_slot() {
        let build_input = input(
            &[10, 10, 10],
            2,
            vec![
                session(1, "a@x", 0, 4),
                session(2, "b@x", 2, 4),
                session(3, "c@x", 3, 4),
            ],
        );
        let slot = build_input.slots[0].id;
        let place = |n: u128, room: usize| Placement {
            session: proposal(n),
            room: build_input.rooms[room].id,
            slot,
            pinned: false,
        };
        // Voters 0-3, 2-5 and 3-6: pairs share 2, 1 and 3.
        let all = [place(1, 0), place(2, 1), place(3, 2)];
        assert_eq!(clash_count(&build_input, &all), 6);
        assert_eq!(clash_count(&build_input, &all[..2]), 2);
    }

    #[test]
    fn a_session_bigger_than_every_room_is_too_big_for_any_room() {
        let schedule = build(&input(
            &[20, 30],
            2,
            vec![session(1, "a@x", 0, 31), session(2, "b@x", 0, 5)],
        ))
        .unwrap();
        assert_eq!(
            reason_of(&schedule, proposal(1)),
            Some(Unplaced::TooBigForAnyRoom {
                expected: 31,
                largest: 30
            })
        );
        assert!(placement_of(&schedule, proposal(2)).is_some());
    }

    #[test]
    fn the_forty_ninth_session_in_forty_eight_room_slots_has_no_room_left() {
        let sessions = (0..49)
            .map(|i| session(i, &format!("h{i}@x"), i * 1000, 60 - i))
            .collect();
        let schedule = build(&input(&[100; 6], 8, sessions)).unwrap();
        assert_eq!(schedule.placements.len(), 48);
        assert_eq!(
            schedule.unfitted,
            vec![Unfitted {
                session: proposal(48),
                reason: Unplaced::NoRoomLeft
            }]
        );
    }

    #[test]
    fn a_room_that_went_to_more_wanted_sessions_is_no_room_left_even_with_small_rooms_free() {
        // One big room and two slots: the two most wanted big sessions take
        // it; the third big one has only small rooms left.
        let schedule = build(&input(
            &[50, 5],
            2,
            vec![
                session(1, "a@x", 0, 40),
                session(2, "b@x", 100, 39),
                session(3, "c@x", 200, 38),
                session(4, "d@x", 300, 2),
            ],
        ))
        .unwrap();
        assert_eq!(
            reason_of(&schedule, proposal(3)),
            Some(Unplaced::NoRoomLeft)
        );
        assert!(placement_of(&schedule, proposal(4)).is_some());
    }

    #[test]
    fn a_host_with_more_sessions_than_slots_is_busy_for_the_extras() {
        let sessions = (0..4)
            .map(|i| session(i, "busy@x", i * 100, 10 - i))
            .collect();
        let schedule = build(&input(&[20, 20, 20], 2, sessions)).unwrap();
        let placed: Vec<ProposalId> = schedule.placements.iter().map(|p| p.session).collect();
        assert_eq!(placed.len(), 2);
        assert!(placed.contains(&proposal(0)) && placed.contains(&proposal(1)));
        assert_eq!(reason_of(&schedule, proposal(2)), Some(Unplaced::HostsBusy));
        assert_eq!(reason_of(&schedule, proposal(3)), Some(Unplaced::HostsBusy));
        assert_ne!(schedule.placements[0].slot, schedule.placements[1].slot);
    }

    #[test]
    fn a_co_host_counts_like_the_proposer() {
        let mut shared = session(2, "b@x", 100, 5);
        shared.hosts.push("a@x".to_owned());
        let schedule = build(&input(&[20, 20], 1, vec![session(1, "a@x", 0, 9), shared])).unwrap();
        assert_eq!(reason_of(&schedule, proposal(2)), Some(Unplaced::HostsBusy));
    }

    #[test]
    fn a_kept_session_moves_to_make_way_for_a_less_wanted_one() {
        // 1 and 2 first share slot 0; 3 (hosts a, c) then takes slot 1, and
        // 4 (hosts b, c) fits only once 2 moves to slot 1.
        let mut third = session(3, "a@x", 200, 8);
        third.hosts.push("c@x".to_owned());
        let mut fourth = session(4, "b@x", 300, 7);
        fourth.hosts.push("c@x".to_owned());
        let schedule = build(&input(
            &[10, 10],
            2,
            vec![
                session(1, "a@x", 0, 10),
                session(2, "b@x", 100, 9),
                third,
                fourth,
            ],
        ))
        .unwrap();
        assert!(schedule.unfitted.is_empty(), "{schedule:?}");
    }

    #[test]
    fn a_less_wanted_session_is_kept_when_only_moving_several_makes_way() {
        // Slot 2 has one free room (a pin takes the other). "a" hosts 1, 2
        // and 3, "b" hosts 2, 4 and 5: each needs one session per slot, so
        // slot 2's free room must go to 2, the session they share. Placing
        // by rank puts 1, 2, 3 in slots 0, 1, 2 and 4 in slot 0; 5 then
        // fits only if 2 and 3 trade slots, which no single move does.
        let mut second = session(2, "a@x", 100, 4);
        second.hosts.push("b@x".to_owned());
        let mut build_input = input(
            &[10, 10],
            3,
            vec![
                session(1, "a@x", 0, 5),
                second,
                session(3, "a@x", 200, 3),
                session(4, "b@x", 300, 2),
                session(5, "b@x", 400, 1),
                session(6, "p@x", 500, 0),
            ],
        );
        build_input.pins.push(Pin {
            session: proposal(6),
            room: build_input.rooms[0].id,
            slot: build_input.slots[2].id,
        });
        let schedule = build(&build_input).unwrap();
        assert!(schedule.unfitted.is_empty(), "{schedule:?}");
        assert_eq!(
            placement_of(&schedule, proposal(2)).map(|p| p.slot),
            Some(build_input.slots[2].id)
        );
        // The baseline, placing each session once and for all, cannot.
        let baseline = greedy(&build_input).unwrap();
        assert_eq!(reason_of(&baseline, proposal(5)), Some(Unplaced::HostsBusy));
    }

    #[test]
    fn pins_stay_where_they_were_put_and_the_rest_fills_around_them() {
        let mut build_input = input(
            &[30, 20],
            2,
            (0..4)
                .map(|i| session(i, &format!("h{i}@x"), 0, 10 + i))
                .collect(),
        );
        // The least wanted session is pinned to the big room of the first
        // slot; the others fill the three room-slots left.
        build_input.pins.push(Pin {
            session: proposal(0),
            room: build_input.rooms[0].id,
            slot: build_input.slots[0].id,
        });
        let schedule = build(&build_input).unwrap();
        assert_eq!(
            placement_of(&schedule, proposal(0)),
            Some(Placement {
                session: proposal(0),
                room: build_input.rooms[0].id,
                slot: build_input.slots[0].id,
                pinned: true,
            })
        );
        assert_eq!(schedule.placements.len(), 4);
        assert_eq!(schedule.placements.iter().filter(|p| p.pinned).count(), 1);
        let greedy_schedule = greedy(&build_input).unwrap();
        assert!(greedy_schedule.placements.contains(&Placement {
            session: proposal(0),
            room: build_input.rooms[0].id,
            slot: build_input.slots[0].id,
            pinned: true,
        }));
    }

    #[test]
    fn sessions_sharing_voters_go_to_different_slots() {
        // 1 and 2 share all voters, as do 3 and 4; greedy puts the two most
        // wanted together.
        let build_input = input(
            &[50, 50],
            2,
            vec![
                session(1, "a@x", 0, 20),
                session(2, "b@x", 0, 19),
                session(3, "c@x", 100, 18),
                session(4, "d@x", 100, 17),
            ],
        );
        let schedule = build(&build_input).unwrap();
        assert_eq!(schedule.clashes, 0);
        assert!(greedy(&build_input).unwrap().clashes > 0);
    }

    fn pinned_input() -> BuildInput {
        let mut sessions: Vec<Session> = (0..3)
            .map(|i| session(i, &format!("h{i}@x"), 0, 5))
            .collect();
        sessions[2].hosts.push("h0@x".to_owned());
        input(&[10, 4], 2, sessions)
    }

    fn pin(build_input: &BuildInput, n: u128, room: usize, slot: usize) -> Pin {
        Pin {
            session: proposal(n),
            room: build_input.rooms[room].id,
            slot: build_input.slots[slot].id,
        }
    }

    #[test]
    fn pins_that_cannot_hold_are_refused_naming_the_session() {
        let base = pinned_input();
        let unknown = ProposalId(Uuid::from_u128(99));
        let cases: Vec<(Vec<Pin>, BuildError)> = vec![
            (
                vec![Pin {
                    session: unknown,
                    ..pin(&base, 0, 0, 0)
                }],
                BuildError::UnknownSession { session: unknown },
            ),
            (
                vec![Pin {
                    room: RoomId(Uuid::from_u128(98)),
                    ..pin(&base, 0, 0, 0)
                }],
                BuildError::UnknownRoom {
                    session: proposal(0),
                    room: RoomId(Uuid::from_u128(98)),
                },
            ),
            (
                vec![Pin {
                    slot: SlotId(Uuid::from_u128(97)),
                    ..pin(&base, 0, 0, 0)
                }],
                BuildError::UnknownSlot {
                    session: proposal(0),
                    slot: SlotId(Uuid::from_u128(97)),
                },
            ),
            (
                vec![pin(&base, 0, 0, 0), pin(&base, 0, 1, 1)],
                BuildError::SessionPinnedTwice {
                    session: proposal(0),
                },
            ),
            (
                vec![pin(&base, 0, 0, 0), pin(&base, 1, 0, 0)],
                BuildError::RoomSlotPinnedTwice {
                    room: base.rooms[0].id,
                    slot: base.slots[0].id,
                    first: proposal(0),
                    second: proposal(1),
                },
            ),
            (
                vec![
                    pin(&base, 0, 0, 1),
                    pin(&base, 2, 0, 0),
                    pin(&base, 1, 1, 1),
                ],
                BuildError::PinTooSmall {
                    session: proposal(1),
                    room: base.rooms[1].id,
                    expected: 5,
                    capacity: 4,
                },
            ),
            (
                vec![
                    pin(&base, 0, 0, 0),
                    pin(&base, 2, 0, 1),
                    pin(&base, 1, 0, 1),
                ],
                BuildError::RoomSlotPinnedTwice {
                    room: base.rooms[0].id,
                    slot: base.slots[1].id,
                    first: proposal(2),
                    second: proposal(1),
                },
            ),
        ];
        for (pins, expected) in cases {
            let build_input = BuildInput {
                pins,
                ..base.clone()
            };
            let error = build(&build_input).unwrap_err();
            assert_eq!(error, expected);
            assert_eq!(greedy(&build_input).unwrap_err(), expected);
        }

        let mut roomy = base.clone();
        roomy.rooms = rooms(&[10, 10]);
        roomy.pins = vec![pin(&roomy, 0, 0, 0), pin(&roomy, 2, 1, 0)];
        let error = build(&roomy).unwrap_err();
        assert_eq!(
            error,
            BuildError::HostPinnedTwice {
                host: "h0@x".to_owned(),
                slot: roomy.slots[0].id,
                first: proposal(0),
                second: proposal(2),
            }
        );
        let message = error.to_string();
        assert!(message.contains(&proposal(2).to_string()), "{message}");
        assert!(message.contains("h0@x"), "{message}");
    }

    #[test]
    fn repeated_ids_are_refused() {
        let mut build_input = pinned_input();
        build_input.sessions.push(session(1, "z@x", 0, 1));
        assert_eq!(
            build(&build_input).unwrap_err(),
            BuildError::DuplicateSession {
                session: proposal(1)
            }
        );
    }

    #[test]
    fn the_same_input_gives_the_same_schedule_whatever_the_session_order() {
        let sessions: Vec<Session> = (0..30)
            .map(|i| {
                let mut s = session(i, &format!("h{}@x", i % 7), (i * 7) % 40, 3 + i % 11);
                s.voters.extend((0..3).map(|k| voter(100 + (i * k) % 13)));
                s
            })
            .collect();
        let build_input = BuildInput {
            show_up_factor: 0.7,
            ..input(&[8, 10, 12, 6], 4, sessions)
        };
        let first = build(&build_input).unwrap();
        assert_eq!(build(&build_input).unwrap(), first);
        let mut reversed = build_input.clone();
        reversed.sessions.reverse();
        assert_eq!(build(&reversed).unwrap(), first);
    }

    #[test]
    fn an_unfitted_session_serializes_with_its_reason_beside_it() {
        let json = serde_json::to_value(Unfitted {
            session: proposal(1),
            reason: Unplaced::TooBigForAnyRoom {
                expected: 9,
                largest: 8,
            },
        })
        .unwrap();
        assert_eq!(json["reason"], "too_big_for_any_room");
        assert_eq!(json["expected"], 9);
        let json = serde_json::to_value(Unfitted {
            session: proposal(1),
            reason: Unplaced::NoRoomLeft,
        })
        .unwrap();
        assert_eq!(json["reason"], "no_room_left");
    }

    #[test]
    fn fits_sizes_matches_sorted_sessions_to_sorted_rooms() {
        assert!(fits_sizes(&[5, 3], None, 4, &[6, 4, 3]));
        assert!(!fits_sizes(&[5, 3], None, 5, &[6, 4, 3]));
        assert!(fits_sizes(&[5, 3], Some(5), 6, &[6, 4]));
        assert!(!fits_sizes(&[5, 3], None, 1, &[6, 4]));
        assert!(fits_sizes(&[], None, 0, &[0]));
        assert!(!fits_sizes(&[], None, 0, &[]));
    }
}
