//! Peer conferences in storage, the part both backends share: the SQL they
//! run as it is (`{lock}` marks where PostgreSQL locks the row it reads and
//! SQLite, already holding its write lock, adds nothing), the rows as both
//! databases return them, and their translation into domain types.

use chrono::{DateTime, NaiveDate, Utc};
use hub_core::{
    Email,
    ids::{CommunityId, ConferenceId, ProposalId, RegistrationId, RoomId, SlotId},
    model::conference::{
        Conference, Placement, Proposal, ProposalState, ProposalSummary, Registration, Room, Slot,
        Vote,
    },
    ports::store::StoreError,
};
use uuid::Uuid;

use crate::error::{corrupt, store_error};

/// Maps a driver error of a write: a missing parent row (a foreign key)
/// means `missing` was not found, a uniqueness violation is `conflict`.
pub(crate) fn write_error(error: sqlx::Error, conflict: &str, missing: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_foreign_key_violation()
    {
        return StoreError::NotFound(missing.to_owned());
    }
    store_error(error, conflict)
}

/// A count as the domain keeps it; negative or huge counts are corrupt.
pub(crate) fn count(value: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt(format!("{what}: {value}")))
}

// --- conferences ---------------------------------------------------------------

macro_rules! conference_columns {
    () => {
        "id, community_id, slug, name, description, starts_on, ends_on, timezone, venue, \
         capacity, phase, registration_closed, vote_budget, show_up_factor, ranking_public, \
         created_at"
    };
}

/// `$1`–`$15` as [`bind_conference!`] binds them, then the creation time.
pub(crate) const INSERT_CONFERENCE: &str = concat!(
    "INSERT INTO conferences (",
    conference_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
/// `$1`–`$15` as [`bind_conference!`] binds them; the id and community
/// name the row, which keeps its creation time.
pub(crate) const UPDATE_CONFERENCE: &str = "UPDATE conferences SET slug = $3, name = $4, \
     description = $5, starts_on = $6, ends_on = $7, timezone = $8, venue = $9, capacity = $10, \
     phase = $11, registration_closed = $12, vote_budget = $13, show_up_factor = $14, \
     ranking_public = $15 WHERE id = $1 AND community_id = $2";
pub(crate) const CONFERENCE_BY_ID: &str = concat!(
    "SELECT ",
    conference_columns!(),
    " FROM conferences WHERE id = $1"
);
pub(crate) const CONFERENCE_BY_SLUG: &str = concat!(
    "SELECT ",
    conference_columns!(),
    " FROM conferences WHERE community_id = $1 AND slug = $2"
);
pub(crate) const COMMUNITY_CONFERENCES: &str = concat!(
    "SELECT ",
    conference_columns!(),
    " FROM conferences WHERE community_id = $1 ORDER BY starts_on, created_at, id"
);
pub(crate) const PUBLISHED_CONFERENCES: &str = concat!(
    "SELECT ",
    conference_columns!(),
    " FROM conferences WHERE phase = 'schedule_published' ORDER BY starts_on, created_at, id"
);
/// `$1` conference: its capacity, read under the conference's lock, which
/// orders everything that counts its seats or changes its schedule.
pub(crate) const LOCK_CONFERENCE: &str = "SELECT capacity FROM conferences WHERE id = $1{lock}";

/// Binds what [`INSERT_CONFERENCE`] and [`UPDATE_CONFERENCE`] take as
/// `$1`–`$15`: the id, community, slug, name, description, days, zone,
/// venue, capacity, phase, whether registration is closed, vote budget,
/// show-up factor and whether the ranking is public.
macro_rules! bind_conference {
    ($query:expr, $conference:expr) => {
        $query
            .bind($conference.id.0)
            .bind($conference.community_id.0)
            .bind(&$conference.slug)
            .bind(&$conference.name)
            .bind(&$conference.description)
            .bind($conference.starts_on)
            .bind($conference.ends_on)
            .bind($conference.timezone.name())
            .bind(&$conference.venue)
            .bind(i64::from($conference.capacity))
            .bind($conference.phase.as_str())
            .bind($conference.registration_closed)
            .bind(i64::from($conference.vote_budget))
            .bind($conference.show_up_factor)
            .bind($conference.ranking_public)
    };
}
pub(crate) use bind_conference;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConferenceRow {
    id: Uuid,
    community_id: Uuid,
    slug: String,
    name: String,
    description: String,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    timezone: String,
    venue: Option<String>,
    capacity: i64,
    phase: String,
    registration_closed: bool,
    vote_budget: i64,
    show_up_factor: f64,
    ranking_public: bool,
    created_at: DateTime<Utc>,
}

impl ConferenceRow {
    pub(crate) fn into_conference(self) -> Result<Conference, StoreError> {
        Ok(Conference {
            id: ConferenceId(self.id),
            community_id: CommunityId(self.community_id),
            timezone: self
                .timezone
                .parse()
                .map_err(|_| corrupt(format!("conference timezone {:?}", self.timezone)))?,
            slug: self.slug,
            name: self.name,
            description: self.description,
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            venue: self.venue,
            capacity: count(self.capacity, "conference capacity")?,
            phase: self.phase.parse().map_err(corrupt)?,
            registration_closed: self.registration_closed,
            vote_budget: count(self.vote_budget, "vote budget")?,
            show_up_factor: self.show_up_factor,
            ranking_public: self.ranking_public,
            created_at: self.created_at,
        })
    }
}

// --- rooms and slots ---------------------------------------------------------

pub(crate) const CONFERENCE_ROOMS: &str = "SELECT id, conference_id, name, capacity, position, \
     zoom_meeting_id, join_url FROM conference_rooms WHERE conference_id = $1 ORDER BY position, id";
pub(crate) const ROOM_IDS: &str = "SELECT id FROM conference_rooms WHERE conference_id = $1";
/// `$1` room, `$2` conference, `$3` name, `$4` capacity, `$5` position: the
/// room keeps its meeting.
pub(crate) const UPDATE_ROOM: &str = "UPDATE conference_rooms SET name = $3, capacity = $4, \
     position = $5 WHERE id = $1 AND conference_id = $2";
pub(crate) const INSERT_ROOM: &str = "INSERT INTO conference_rooms \
     (id, conference_id, name, capacity, position, zoom_meeting_id, join_url) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
/// Its placements go with it (`ON DELETE CASCADE`).
pub(crate) const DELETE_ROOM: &str = "DELETE FROM conference_rooms WHERE id = $1";
pub(crate) const SET_ROOM_MEETING: &str =
    "UPDATE conference_rooms SET zoom_meeting_id = $2, join_url = $3 WHERE id = $1";

pub(crate) const CONFERENCE_SLOTS: &str = "SELECT id, conference_id, starts_at, ends_at \
     FROM conference_slots WHERE conference_id = $1 ORDER BY starts_at, ends_at, id";
pub(crate) const SLOT_IDS: &str = "SELECT id FROM conference_slots WHERE conference_id = $1";
pub(crate) const UPDATE_SLOT: &str = "UPDATE conference_slots SET starts_at = $3, ends_at = $4 \
     WHERE id = $1 AND conference_id = $2";
pub(crate) const INSERT_SLOT: &str =
    "INSERT INTO conference_slots (id, conference_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)";
/// Its placements go with it (`ON DELETE CASCADE`).
pub(crate) const DELETE_SLOT: &str = "DELETE FROM conference_slots WHERE id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RoomRow {
    id: Uuid,
    conference_id: Uuid,
    name: String,
    capacity: i64,
    position: i64,
    zoom_meeting_id: Option<String>,
    join_url: Option<String>,
}

impl RoomRow {
    pub(crate) fn into_room(self) -> Result<Room, StoreError> {
        Ok(Room {
            id: RoomId(self.id),
            conference_id: ConferenceId(self.conference_id),
            name: self.name,
            capacity: count(self.capacity, "room capacity")?,
            position: count(self.position, "room position")?,
            zoom_meeting_id: self.zoom_meeting_id,
            join_url: self.join_url,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SlotRow {
    id: Uuid,
    conference_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl From<SlotRow> for Slot {
    fn from(row: SlotRow) -> Self {
        Self {
            id: SlotId(row.id),
            conference_id: ConferenceId(row.conference_id),
            starts_at: row.starts_at,
            ends_at: row.ends_at,
        }
    }
}

// --- registrations -----------------------------------------------------------

macro_rules! registration_columns {
    () => {
        "id, conference_id, email, email_display, name, status, created_at, confirmed_at, \
         seated_at, cancelled_at"
    };
}

pub(crate) const INSERT_REGISTRATION: &str = concat!(
    "INSERT INTO conference_registrations (",
    registration_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);
pub(crate) const REGISTRATION_BY_ID: &str = concat!(
    "SELECT ",
    registration_columns!(),
    " FROM conference_registrations WHERE id = $1"
);
pub(crate) const REGISTRATION_BY_EMAIL: &str = concat!(
    "SELECT ",
    registration_columns!(),
    " FROM conference_registrations WHERE conference_id = $1 AND email = $2"
);
pub(crate) const REGISTRATIONS: &str = concat!(
    "SELECT ",
    registration_columns!(),
    " FROM conference_registrations WHERE conference_id = $1 ORDER BY created_at, id"
);
/// `$1` registration: its conference, and with `{lock}` the registration's
/// row lock (which orders a registrant's votes).
pub(crate) const CONFERENCE_OF_REGISTRATION: &str =
    "SELECT conference_id FROM conference_registrations WHERE id = $1{lock}";
/// `$1` registration, `$2` name: a cancelled registration back to pending.
pub(crate) const REOPEN_REGISTRATION: &str = concat!(
    "UPDATE conference_registrations SET status = 'pending', name = $2, confirmed_at = NULL, \
     seated_at = NULL, cancelled_at = NULL WHERE id = $1 AND status = 'cancelled' RETURNING ",
    registration_columns!()
);
/// `$1` registration, `$2` status (`confirmed` or `waitlisted`), `$3` now,
/// `$4` when seated (now, or NULL on the waitlist).
pub(crate) const CONFIRM_REGISTRATION: &str = concat!(
    "UPDATE conference_registrations SET status = $2, confirmed_at = $3, seated_at = $4 \
     WHERE id = $1 RETURNING ",
    registration_columns!()
);
pub(crate) const CANCEL_REGISTRATION: &str = concat!(
    "UPDATE conference_registrations SET status = 'cancelled', cancelled_at = $2 \
     WHERE id = $1 RETURNING ",
    registration_columns!()
);
pub(crate) const COUNT_SEATED: &str = "SELECT COUNT(*) FROM conference_registrations \
     WHERE conference_id = $1 AND status = 'confirmed'";
/// `$1` conference, `$2` how many: the first waitlisted, by confirmation.
pub(crate) const FIRST_WAITLISTED: &str = "SELECT id FROM conference_registrations \
     WHERE conference_id = $1 AND status = 'waitlisted' ORDER BY confirmed_at, id LIMIT $2";
pub(crate) const SEAT_REGISTRATION: &str = concat!(
    "UPDATE conference_registrations SET status = 'confirmed', seated_at = $2 \
     WHERE id = $1 AND status = 'waitlisted' RETURNING ",
    registration_columns!()
);
pub(crate) const DELETE_VOTES_OF_REGISTRATION: &str =
    "DELETE FROM conference_votes WHERE registration_id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RegistrationRow {
    id: Uuid,
    conference_id: Uuid,
    email: String,
    email_display: String,
    name: String,
    status: String,
    created_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    seated_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
}

impl RegistrationRow {
    pub(crate) fn into_registration(self) -> Result<Registration, StoreError> {
        Ok(Registration {
            id: RegistrationId(self.id),
            conference_id: ConferenceId(self.conference_id),
            email: Email::from_stored(self.email, self.email_display),
            name: self.name,
            status: self.status.parse().map_err(corrupt)?,
            created_at: self.created_at,
            confirmed_at: self.confirmed_at,
            seated_at: self.seated_at,
            cancelled_at: self.cancelled_at,
        })
    }
}

pub(crate) const INSERT_REGISTRANT_LINK: &str = "INSERT INTO registrant_links \
     (token_hash, purpose, registration_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
/// `$1` hash, `$2` purpose, `$3` now.
pub(crate) const SPEND_REGISTRANT_LINK: &str = "UPDATE registrant_links SET used_at = $3 \
     WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
     RETURNING registration_id";
pub(crate) const RECENT_REGISTRANT_LINKS: &str = "SELECT COUNT(*) FROM registrant_links \
     WHERE registration_id = $1 AND purpose = $2 AND created_at > $3";

// --- proposals and votes ---------------------------------------------------------

macro_rules! proposal_columns {
    () => {
        "p.id, p.conference_id, p.proposer_id, p.title, p.description, p.format, p.co_hosts, \
         p.state, p.merged_into, p.created_at"
    };
}

/// `$1` id, `$2` conference, `$3` proposer, `$4` title, `$5` description,
/// `$6` format, `$7` co-hosts, `$8` state, `$9` merged into, `$10` created:
/// nothing unless the proposer is registered for the conference.
pub(crate) const INSERT_PROPOSAL: &str = "INSERT INTO conference_proposals \
     (id, conference_id, proposer_id, title, description, format, co_hosts, state, merged_into, \
     created_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM conference_registrations \
     WHERE id = $3 AND conference_id = $2";
pub(crate) const PROPOSAL_BY_ID: &str = concat!(
    "SELECT ",
    proposal_columns!(),
    " FROM conference_proposals p WHERE p.id = $1"
);
/// `$1` conference: every proposal with its proposer and vote count.
pub(crate) const PROPOSALS: &str = concat!(
    "SELECT ",
    proposal_columns!(),
    ", r.name AS proposer_name, r.email AS proposer_email, \
     r.email_display AS proposer_email_display, \
     (SELECT COUNT(*) FROM conference_votes v WHERE v.proposal_id = p.id) AS votes \
     FROM conference_proposals p JOIN conference_registrations r ON r.id = p.proposer_id \
     WHERE p.conference_id = $1 ORDER BY p.created_at, p.id"
);
/// `$1` proposal, then `$2`–`$7` as in [`INSERT_PROPOSAL`]'s `$4`–`$9`.
pub(crate) const UPDATE_PROPOSAL: &str = "UPDATE conference_proposals SET title = $2, \
     description = $3, format = $4, co_hosts = $5, state = $6, merged_into = $7 WHERE id = $1";
/// `$1` proposal: its conference, under the row's lock.
pub(crate) const CONFERENCE_OF_PROPOSAL: &str =
    "SELECT conference_id FROM conference_proposals WHERE id = $1{lock}";
/// `$1` merged, `$2` into: the votes of people who did not vote for both.
pub(crate) const MOVE_VOTES: &str = "UPDATE conference_votes SET proposal_id = $2 \
     WHERE proposal_id = $1 AND registration_id NOT IN \
     (SELECT registration_id FROM conference_votes WHERE proposal_id = $2)";
pub(crate) const DELETE_VOTES_OF_PROPOSAL: &str =
    "DELETE FROM conference_votes WHERE proposal_id = $1";
pub(crate) const MARK_MERGED: &str =
    "UPDATE conference_proposals SET state = 'merged', merged_into = $2 WHERE id = $1";
pub(crate) const SET_CO_HOSTS: &str = "UPDATE conference_proposals SET co_hosts = $2 WHERE id = $1";

pub(crate) const HAS_VOTED: &str =
    "SELECT COUNT(*) FROM conference_votes WHERE proposal_id = $1 AND registration_id = $2";
/// `$1` registration, `$2` conference: the votes the registration holds there.
pub(crate) const VOTES_HELD: &str = "SELECT COUNT(*) FROM conference_votes \
     WHERE registration_id = $1 AND conference_id = $2";
pub(crate) const INSERT_VOTE: &str = "INSERT INTO conference_votes \
     (proposal_id, registration_id, conference_id, created_at) VALUES ($1, $2, $3, $4)";
pub(crate) const DELETE_VOTE: &str =
    "DELETE FROM conference_votes WHERE proposal_id = $1 AND registration_id = $2";
pub(crate) const CONFERENCE_VOTES: &str = "SELECT proposal_id, registration_id \
     FROM conference_votes WHERE conference_id = $1 ORDER BY created_at, proposal_id, registration_id";

/// How a proposal's co-hosts are stored: a JSON array of normalized addresses.
pub(crate) fn co_hosts_text(co_hosts: &[Email]) -> String {
    let addresses: Vec<&str> = co_hosts.iter().map(Email::normalized).collect();
    serde_json::to_string(&addresses).unwrap_or_else(|_| "[]".into())
}

/// A proposal's state as stored: the word, and the proposal it was merged into.
pub(crate) fn state_columns(state: ProposalState) -> (&'static str, Option<Uuid>) {
    match state {
        ProposalState::Open => ("open", None),
        ProposalState::Merged(into) => ("merged", Some(into.0)),
        ProposalState::Withdrawn => ("withdrawn", None),
    }
}

/// Binds `proposal`'s title, description, format, co-hosts, state and the
/// proposal it was merged into, in that order.
macro_rules! bind_proposal_fields {
    ($query:expr, $proposal:expr) => {{
        let (state, merged_into) = $crate::conference_sql::state_columns($proposal.state);
        $query
            .bind(&$proposal.title)
            .bind(&$proposal.description)
            .bind($proposal.format.as_str())
            .bind($crate::conference_sql::co_hosts_text(&$proposal.co_hosts))
            .bind(state)
            .bind(merged_into)
    }};
}
pub(crate) use bind_proposal_fields;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProposalRow {
    id: Uuid,
    conference_id: Uuid,
    proposer_id: Uuid,
    title: String,
    description: String,
    format: String,
    co_hosts: String,
    state: String,
    merged_into: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl ProposalRow {
    pub(crate) fn into_proposal(self) -> Result<Proposal, StoreError> {
        let co_hosts: Vec<String> = serde_json::from_str(&self.co_hosts)
            .map_err(|e| corrupt(format!("proposal co-hosts: {e}")))?;
        let state = match (self.state.as_str(), self.merged_into) {
            ("open", None) => ProposalState::Open,
            ("merged", Some(into)) => ProposalState::Merged(ProposalId(into)),
            ("withdrawn", None) => ProposalState::Withdrawn,
            (other, _) => return Err(corrupt(format!("proposal state {other:?}"))),
        };
        Ok(Proposal {
            id: ProposalId(self.id),
            conference_id: ConferenceId(self.conference_id),
            proposer: RegistrationId(self.proposer_id),
            title: self.title,
            description: self.description,
            format: self.format.parse().map_err(corrupt)?,
            co_hosts: co_hosts
                .into_iter()
                .map(|address| Email::from_stored(address.clone(), address))
                .collect(),
            state,
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ProposalSummaryRow {
    #[sqlx(flatten)]
    proposal: ProposalRow,
    proposer_name: String,
    proposer_email: String,
    proposer_email_display: String,
    votes: i64,
}

impl ProposalSummaryRow {
    pub(crate) fn into_summary(self) -> Result<ProposalSummary, StoreError> {
        Ok(ProposalSummary {
            proposal: self.proposal.into_proposal()?,
            proposer_name: self.proposer_name,
            proposer_email: Email::from_stored(self.proposer_email, self.proposer_email_display),
            votes: count(self.votes, "vote count")?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct VoteRow {
    proposal_id: Uuid,
    registration_id: Uuid,
}

impl From<VoteRow> for Vote {
    fn from(row: VoteRow) -> Self {
        Self {
            proposal_id: ProposalId(row.proposal_id),
            registration_id: RegistrationId(row.registration_id),
        }
    }
}

// --- the schedule ------------------------------------------------------------

/// `$1` conference: its placements by slot, then room.
pub(crate) const PLACEMENTS: &str = "SELECT p.proposal_id, p.room_id, p.slot_id, p.pinned, \
     p.slack_conversation, p.slack_url FROM conference_placements p \
     JOIN conference_slots s ON s.id = p.slot_id JOIN conference_rooms r ON r.id = p.room_id \
     WHERE p.conference_id = $1 ORDER BY s.starts_at, r.position, p.proposal_id";
pub(crate) const DELETE_PLACEMENTS: &str =
    "DELETE FROM conference_placements WHERE conference_id = $1";
/// `$1` proposal, `$2` conference, `$3` room, `$4` slot, `$5` pinned, `$6`
/// conversation, `$7` its link: nothing unless the proposal, room and slot
/// are the conference's.
pub(crate) const INSERT_PLACEMENT: &str = "INSERT INTO conference_placements \
     (proposal_id, conference_id, room_id, slot_id, pinned, slack_conversation, slack_url) \
     SELECT $1, $2, $3, $4, $5, $6, $7 FROM conference_proposals p \
     WHERE p.id = $1 AND p.conference_id = $2 \
     AND EXISTS (SELECT 1 FROM conference_rooms r WHERE r.id = $3 AND r.conference_id = $2) \
     AND EXISTS (SELECT 1 FROM conference_slots s WHERE s.id = $4 AND s.conference_id = $2)";
pub(crate) const DELETE_PLACEMENT: &str =
    "DELETE FROM conference_placements WHERE proposal_id = $1";
pub(crate) const SET_SESSION_CONVERSATION: &str = "UPDATE conference_placements \
     SET slack_conversation = $2, slack_url = $3 WHERE proposal_id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PlacementRow {
    proposal_id: Uuid,
    room_id: Uuid,
    slot_id: Uuid,
    pinned: bool,
    slack_conversation: Option<String>,
    slack_url: Option<String>,
}

impl From<PlacementRow> for Placement {
    fn from(row: PlacementRow) -> Self {
        Self {
            proposal_id: ProposalId(row.proposal_id),
            room_id: RoomId(row.room_id),
            slot_id: SlotId(row.slot_id),
            pinned: row.pinned,
            slack_conversation: row.slack_conversation,
            slack_url: row.slack_url,
        }
    }
}

/// Why a schedule cannot be kept as given, before anything is written: two
/// sessions in one room and slot, or one session in two places.
pub(crate) fn schedule_conflict(placements: &[Placement]) -> Option<StoreError> {
    let mut places = std::collections::HashSet::new();
    let mut sessions = std::collections::HashSet::new();
    for placement in placements {
        if !places.insert((placement.room_id, placement.slot_id)) {
            return Some(StoreError::Conflict(
                "two sessions are placed in the same room and slot: move one of them".into(),
            ));
        }
        if !sessions.insert(placement.proposal_id) {
            return Some(StoreError::Conflict(
                "a session is placed twice: keep it in one room and slot".into(),
            ));
        }
    }
    None
}

/// Keeps the Slack conversation of sessions placed before: by proposal, the
/// stored conversation (with its link) wins over what the new placement
/// carries.
pub(crate) fn keep_conversations(
    placements: &[Placement],
    before: Vec<PlacementRow>,
) -> Vec<Placement> {
    let before: std::collections::HashMap<Uuid, PlacementRow> = before
        .into_iter()
        .map(|row| (row.proposal_id, row))
        .collect();
    placements
        .iter()
        .map(|placement| match before.get(&placement.proposal_id.0) {
            Some(old) if old.slack_conversation.is_some() => Placement {
                slack_conversation: old.slack_conversation.clone(),
                slack_url: old.slack_url.clone(),
                ..placement.clone()
            },
            _ => placement.clone(),
        })
        .collect()
}

/// `$1` delivery, `$2` conference, `$3` now: the recipients of a delivery to
/// a conference's channel — members with a live registration and the
/// conference's consent, less those an email list delivery of the same
/// announcement reaches.
pub(crate) const EXPAND_CONFERENCE_RECIPIENTS: &str = "INSERT INTO recipients \
     (delivery_id, member_id, email, name, state, attempts, next_attempt_at) \
     SELECT d.id, m.id, m.email_display, m.name, 'pending', 0, $3 FROM deliveries d \
     JOIN announcements a ON a.id = d.announcement_id \
     JOIN conference_registrations r ON r.conference_id = $2 \
       AND r.status IN ('confirmed', 'waitlisted') \
     JOIN members m ON m.community_id = a.community_id AND m.email = r.email \
       AND m.state = 'active' \
     JOIN member_consents c ON c.member_id = m.id AND c.channel = 'conference' \
       AND c.status = 'subscribed' AND c.delivery_disabled_at IS NULL \
     WHERE d.id = $1 AND d.recipients_total IS NULL \
       AND NOT EXISTS (SELECT 1 FROM deliveries l \
         JOIN channels ch ON ch.id = l.channel_id AND ch.kind = 'email_list' \
         JOIN member_consents e ON e.member_id = m.id AND e.channel = 'email' \
           AND e.status = 'subscribed' AND e.delivery_disabled_at IS NULL \
         WHERE l.announcement_id = d.announcement_id AND l.id <> d.id) \
     ON CONFLICT DO NOTHING";

/// `$1` conference, `$2` owner, `$3` now, `$4` lease end: takes the lease on
/// opening the conference's meetings and conversations, when free or run
/// out (or held by `$2` already).
pub(crate) const CLAIM_CONFERENCE_PLACES: &str = "UPDATE conferences \
     SET places_lease_owner = $2, places_lease_until = $4 \
     WHERE id = $1 AND (places_lease_until IS NULL OR places_lease_until < $3 \
       OR places_lease_owner = $2)";
/// `$1` conference, `$2` owner: gives the lease back.
pub(crate) const RELEASE_CONFERENCE_PLACES: &str = "UPDATE conferences \
     SET places_lease_owner = NULL, places_lease_until = NULL \
     WHERE id = $1 AND places_lease_owner = $2";
