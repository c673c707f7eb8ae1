//! Storage of peer conferences, as the rest of cophub sees it: a part of
//! [`Store`](super::store::Store) (its supertrait) kept apart because a
//! conference is a world of its own — rooms, slots, registrations with their
//! waitlist, proposals, votes and the schedule.
//!
//! Every method that changes something and takes a [`NewAuditEvent`] writes
//! the change and the audit entry in one transaction: both or neither.
//! Seats and vote budgets are counted inside the writing transaction, under
//! a lock (PostgreSQL: the conference's or the registration's row; SQLite:
//! `BEGIN IMMEDIATE`), so concurrent requests never overfill them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::StoreError;
use crate::{
    Email,
    ids::{CommunityId, ConferenceId, ProposalId, RegistrationId, RoomId},
    model::{
        audit::NewAuditEvent,
        conference::{
            Conference, NewRegistrantLink, Placement, Proposal, ProposalSummary,
            RegistrantLinkPurpose, Registration, Room, Slot, Vote, VoteOutcome,
        },
    },
};

/// Peer conferences in storage.
#[async_trait]
pub trait ConferenceStore: Send + Sync {
    // --- conferences ---------------------------------------------------------------

    /// Keeps a new conference.
    ///
    /// # Errors
    /// `Conflict` when the community has a conference with this slug;
    /// `NotFound` for an unknown community.
    async fn create_conference(
        &self,
        conference: &Conference,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// A conference.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn conference(&self, id: ConferenceId) -> Result<Option<Conference>, StoreError>;

    /// A community's conference by its slug.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn conference_by_slug(
        &self,
        community: CommunityId,
        slug: &str,
    ) -> Result<Option<Conference>, StoreError>;

    /// A community's conferences, by first day.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn community_conferences(
        &self,
        community: CommunityId,
    ) -> Result<Vec<Conference>, StoreError>;

    /// Every community's conferences whose schedule is published (and not
    /// yet done): what the worker brings into the other channels.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn published_conferences(&self) -> Result<Vec<Conference>, StoreError>;

    /// Takes the lease on opening a conference's meetings and
    /// conversations for `owner` until `until`, so that one worker at a
    /// time does it; `false` while another holds it.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn claim_conference_places(
        &self,
        conference: ConferenceId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives that lease back (only its owner can).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn release_conference_places(
        &self,
        conference: ConferenceId,
        owner: &str,
    ) -> Result<(), StoreError>;

    /// Replaces everything of a conference but its id, community and
    /// creation time with `conference`'s.
    ///
    /// # Errors
    /// `NotFound` for an unknown conference; `Conflict` for a taken slug.
    async fn update_conference(
        &self,
        conference: &Conference,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    // --- rooms and slots ---------------------------------------------------------

    /// A conference's rooms, by position.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn conference_rooms(&self, conference: ConferenceId) -> Result<Vec<Room>, StoreError>;

    /// A conference's slots, by start.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn conference_slots(&self, conference: ConferenceId) -> Result<Vec<Slot>, StoreError>;

    /// Makes `rooms` and `slots` the conference's: those whose id it has are
    /// updated in place (a room keeps its meeting), the others are added,
    /// and rooms or slots not listed are removed with the placements in them.
    ///
    /// # Errors
    /// `NotFound` for an unknown conference.
    async fn replace_venue_grid(
        &self,
        conference: ConferenceId,
        rooms: &[Room],
        slots: &[Slot],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Keeps the Zoom meeting made for a room.
    ///
    /// # Errors
    /// `NotFound` for an unknown room.
    async fn set_room_meeting(
        &self,
        room: RoomId,
        meeting_id: &str,
        join_url: &str,
    ) -> Result<(), StoreError>;

    // --- registrations -----------------------------------------------------------

    /// Keeps a new registration.
    ///
    /// # Errors
    /// `Conflict` when the address (in any letter case) is registered for
    /// this conference already; `NotFound` for an unknown conference.
    async fn create_registration(
        &self,
        registration: &Registration,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// A registration.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn registration(&self, id: RegistrationId) -> Result<Option<Registration>, StoreError>;

    /// The registration of an address for a conference.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn registration_by_email(
        &self,
        conference: ConferenceId,
        email: &Email,
    ) -> Result<Option<Registration>, StoreError>;

    /// A conference's registrations, in the order people asked.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn registrations(
        &self,
        conference: ConferenceId,
    ) -> Result<Vec<Registration>, StoreError>;

    /// Takes a cancelled registration back to pending (the person asked
    /// again), with the name they gave now; any other state is returned as
    /// it is.
    ///
    /// # Errors
    /// `NotFound` for an unknown registration.
    async fn reopen_registration(
        &self,
        id: RegistrationId,
        name: &str,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Registration, StoreError>;

    /// Confirms a pending registration: it is seated (`confirmed`) while
    /// fewer than the conference's capacity are, else `waitlisted`; counted
    /// under the conference's lock, so never more seated than seats. Any
    /// other state is returned as it is, with no audit entry.
    ///
    /// # Errors
    /// `NotFound` for an unknown registration.
    async fn confirm_registration(
        &self,
        id: RegistrationId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Registration, StoreError>;

    /// Cancels a registration (pending, seated or waitlisted) and withdraws
    /// its votes; then seats the first waitlisted (by confirmation time)
    /// while seats are free. Returns the cancelled registration and those
    /// newly seated. Cancelling a cancelled one changes nothing.
    ///
    /// # Errors
    /// `NotFound` for an unknown registration.
    async fn cancel_registration(
        &self,
        id: RegistrationId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(Registration, Vec<Registration>), StoreError>;

    /// Seats the first waitlisted while seats are free (after a lead raised
    /// the capacity) and returns them.
    ///
    /// # Errors
    /// `NotFound` for an unknown conference.
    async fn fill_seats(
        &self,
        conference: ConferenceId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Vec<Registration>, StoreError>;

    /// Keeps a registrant's mailed link (its hash).
    ///
    /// # Errors
    /// `NotFound` for an unknown registration.
    async fn create_registrant_link(&self, link: &NewRegistrantLink) -> Result<(), StoreError>;

    /// Uses a link up: the registration it belongs to, if it is of this
    /// kind, unused and unexpired at `now`; it then never works again.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn spend_registrant_link(
        &self,
        token_hash: &str,
        purpose: RegistrantLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<RegistrationId>, StoreError>;

    /// How many links of this kind a registration got since `since`.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn recent_registrant_links(
        &self,
        registration: RegistrationId,
        purpose: RegistrantLinkPurpose,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    // --- proposals and votes ---------------------------------------------------------

    /// Keeps a new proposal.
    ///
    /// # Errors
    /// `NotFound` for an unknown conference or proposer.
    async fn create_proposal(
        &self,
        proposal: &Proposal,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// A proposal.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn proposal(&self, id: ProposalId) -> Result<Option<Proposal>, StoreError>;

    /// A conference's proposals in every state, in the order they came, each
    /// with its proposer and vote count.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn proposals(&self, conference: ConferenceId)
    -> Result<Vec<ProposalSummary>, StoreError>;

    /// Replaces a proposal's title, description, format, co-hosts and state.
    ///
    /// # Errors
    /// `NotFound` for an unknown proposal.
    async fn update_proposal(
        &self,
        proposal: &Proposal,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Merges `merged` into `into`: `merged` becomes `Merged(into)` and
    /// leaves the schedule, its votes move to `into` (someone who voted for
    /// both keeps one vote, and the other is given back), and `into`'s
    /// co-hosts become `co_hosts`.
    ///
    /// # Errors
    /// `NotFound` for an unknown proposal.
    async fn merge_proposal(
        &self,
        merged: ProposalId,
        into: ProposalId,
        co_hosts: &[Email],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Casts a vote unless the registration voted for the proposal already
    /// or holds `budget` votes in the conference; counted under the
    /// registration's lock. Only a cast vote is audited.
    ///
    /// # Errors
    /// `NotFound` for an unknown registration or proposal.
    async fn cast_vote(
        &self,
        registration: RegistrationId,
        proposal: ProposalId,
        budget: u32,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<VoteOutcome, StoreError>;

    /// Withdraws a vote; `false` when there was none (nothing audited).
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn withdraw_vote(
        &self,
        registration: RegistrationId,
        proposal: ProposalId,
        audit: NewAuditEvent,
    ) -> Result<bool, StoreError>;

    /// Every vote of a conference.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn conference_votes(&self, conference: ConferenceId) -> Result<Vec<Vote>, StoreError>;

    /// Makes the recipient rows of a delivery to a conference's channel,
    /// once (as `Store::expand_recipients` does for a list): each active
    /// member with a live registration (seated or waitlisted) for
    /// `conference` and the conference's consent — except those the same
    /// announcement reaches through an email list channel, so someone both
    /// on the list and registered gets one copy. Returns the delivery's
    /// recipient total.
    ///
    /// # Errors
    /// `NotFound` for an unknown delivery.
    async fn expand_conference_recipients(
        &self,
        delivery: crate::ids::DeliveryId,
        conference: ConferenceId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    // --- the schedule ------------------------------------------------------------

    /// A conference's placed sessions.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn placements(&self, conference: ConferenceId) -> Result<Vec<Placement>, StoreError>;

    /// Makes `placements` the conference's whole schedule. A session placed
    /// before keeps its Slack conversation.
    ///
    /// # Errors
    /// `Conflict` when two share a room and slot; `NotFound` for an unknown
    /// conference, room, slot or proposal.
    async fn replace_placements(
        &self,
        conference: ConferenceId,
        placements: &[Placement],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError>;

    /// Keeps the Slack conversation made for a placed session.
    ///
    /// # Errors
    /// `NotFound` when the session is not placed.
    async fn set_session_conversation(
        &self,
        proposal: ProposalId,
        conversation: &str,
        url: &str,
    ) -> Result<(), StoreError>;
}
