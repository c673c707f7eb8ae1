//! Peer conferences on PostgreSQL. Whatever counts seats or schedules a
//! conference first locks the conference's row, and a vote locks the
//! voter's registration row, so concurrent requests (on any instance) are
//! counted one after the other. The locks are `FOR NO KEY UPDATE`: they
//! order the counters without blocking the inserts whose foreign keys name
//! the locked row (a `FOR UPDATE` would, and a vote racing its voter's
//! cancellation could then deadlock).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hub_core::{
    Email,
    ids::{CommunityId, ConferenceId, ProposalId, RegistrationId, RoomId},
    model::{
        audit::NewAuditEvent,
        conference::{
            Conference, NewRegistrantLink, Placement, Proposal, ProposalSummary,
            RegistrantLinkPurpose, Registration, RegistrationStatus, Room, Slot, Vote, VoteOutcome,
        },
    },
    ports::{conference_store::ConferenceStore, store::StoreError},
};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::{
    conference_sql::{
        self as sql, ConferenceRow, PlacementRow, ProposalRow, ProposalSummaryRow, RegistrationRow,
        RoomRow, SlotRow, VoteRow, bind_conference, bind_proposal_fields, write_error,
    },
    error::{internal, store_error},
    postgres::{PgStore, append_audit_in},
};

/// The row lock of a read that a count or a change depends on.
const LOCK: &str = " FOR NO KEY UPDATE";

fn locked(statement: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(statement.replace("{lock}", LOCK))
}

/// The conference's capacity, or `NotFound`.
async fn lock_conference(
    conn: &mut PgConnection,
    conference: ConferenceId,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(locked(sql::LOCK_CONFERENCE))
        .bind(conference.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| StoreError::NotFound("this conference".into()))
}

/// The conference of a registration, or `NotFound`; `lock` is [`LOCK`] to
/// hold the registration's row.
async fn conference_of_registration(
    conn: &mut PgConnection,
    registration: RegistrationId,
    lock: &str,
) -> Result<ConferenceId, StoreError> {
    sqlx::query_scalar(AssertSqlSafe(
        sql::CONFERENCE_OF_REGISTRATION.replace("{lock}", lock),
    ))
    .bind(registration.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?
    .map(ConferenceId)
    .ok_or_else(|| StoreError::NotFound("this registration".into()))
}

/// The conference of a proposal, or `NotFound`; `lock` is [`LOCK`] to hold
/// the proposal's row.
async fn conference_of_proposal(
    conn: &mut PgConnection,
    proposal: ProposalId,
    lock: &str,
) -> Result<ConferenceId, StoreError> {
    sqlx::query_scalar(AssertSqlSafe(
        sql::CONFERENCE_OF_PROPOSAL.replace("{lock}", lock),
    ))
    .bind(proposal.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?
    .map(ConferenceId)
    .ok_or_else(|| StoreError::NotFound("this proposal".into()))
}

async fn registration_in(
    conn: &mut PgConnection,
    id: RegistrationId,
) -> Result<Registration, StoreError> {
    sqlx::query_as::<_, RegistrationRow>(sql::REGISTRATION_BY_ID)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| StoreError::NotFound("this registration".into()))?
        .into_registration()
}

/// Seats the first waitlisted while fewer than `capacity` are seated; the
/// caller holds the conference's lock.
async fn fill_in(
    conn: &mut PgConnection,
    conference: ConferenceId,
    capacity: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Registration>, StoreError> {
    let seated: i64 = sqlx::query_scalar(sql::COUNT_SEATED)
        .bind(conference.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
    let free = capacity - seated;
    if free <= 0 {
        return Ok(Vec::new());
    }
    let next: Vec<Uuid> = sqlx::query_scalar(sql::FIRST_WAITLISTED)
        .bind(conference.0)
        .bind(free)
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;
    let mut newly_seated = Vec::with_capacity(next.len());
    for id in next {
        let row = sqlx::query_as::<_, RegistrationRow>(sql::SEAT_REGISTRATION)
            .bind(id)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(internal)?;
        newly_seated.push(row.into_registration()?);
    }
    Ok(newly_seated)
}

#[async_trait]
impl ConferenceStore for PgStore {
    async fn create_conference(
        &self,
        conference: &Conference,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        bind_conference!(sqlx::query(sql::INSERT_CONFERENCE), conference)
            .bind(conference.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                write_error(
                    e,
                    &format!(
                        "the community has a conference at {} already: choose another slug",
                        conference.slug
                    ),
                    "this community",
                )
            })?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn conference(&self, id: ConferenceId) -> Result<Option<Conference>, StoreError> {
        sqlx::query_as::<_, ConferenceRow>(sql::CONFERENCE_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(ConferenceRow::into_conference)
            .transpose()
    }

    async fn conference_by_slug(
        &self,
        community: CommunityId,
        slug: &str,
    ) -> Result<Option<Conference>, StoreError> {
        sqlx::query_as::<_, ConferenceRow>(sql::CONFERENCE_BY_SLUG)
            .bind(community.0)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(ConferenceRow::into_conference)
            .transpose()
    }

    async fn community_conferences(
        &self,
        community: CommunityId,
    ) -> Result<Vec<Conference>, StoreError> {
        sqlx::query_as::<_, ConferenceRow>(sql::COMMUNITY_CONFERENCES)
            .bind(community.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(ConferenceRow::into_conference)
            .collect()
    }

    async fn claim_conference_places(
        &self,
        conference: ConferenceId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::CLAIM_CONFERENCE_PLACES)
            .bind(conference.0)
            .bind(owner)
            .bind(now)
            .bind(until)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_conference_places(
        &self,
        conference: ConferenceId,
        owner: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::RELEASE_CONFERENCE_PLACES)
            .bind(conference.0)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn published_conferences(&self) -> Result<Vec<Conference>, StoreError> {
        sqlx::query_as::<_, ConferenceRow>(sql::PUBLISHED_CONFERENCES)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(ConferenceRow::into_conference)
            .collect()
    }

    async fn update_conference(
        &self,
        conference: &Conference,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let done = bind_conference!(sqlx::query(sql::UPDATE_CONFERENCE), conference)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                store_error(
                    e,
                    &format!(
                        "the community has a conference at {} already: choose another slug",
                        conference.slug
                    ),
                )
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("this conference".into()));
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn conference_rooms(&self, conference: ConferenceId) -> Result<Vec<Room>, StoreError> {
        sqlx::query_as::<_, RoomRow>(sql::CONFERENCE_ROOMS)
            .bind(conference.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(RoomRow::into_room)
            .collect()
    }

    async fn conference_slots(&self, conference: ConferenceId) -> Result<Vec<Slot>, StoreError> {
        Ok(sqlx::query_as::<_, SlotRow>(sql::CONFERENCE_SLOTS)
            .bind(conference.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(Slot::from)
            .collect())
    }

    async fn replace_venue_grid(
        &self,
        conference: ConferenceId,
        rooms: &[Room],
        slots: &[Slot],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        lock_conference(&mut tx, conference).await?;
        let taken = "a room or slot with this id belongs to another conference";
        let existing: HashSet<Uuid> = sqlx::query_scalar(sql::ROOM_IDS)
            .bind(conference.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        for room in rooms {
            let done = if existing.contains(&room.id.0) {
                sqlx::query(sql::UPDATE_ROOM)
                    .bind(room.id.0)
                    .bind(conference.0)
                    .bind(&room.name)
                    .bind(i64::from(room.capacity))
                    .bind(i64::from(room.position))
                    .execute(&mut *tx)
                    .await
            } else {
                sqlx::query(sql::INSERT_ROOM)
                    .bind(room.id.0)
                    .bind(conference.0)
                    .bind(&room.name)
                    .bind(i64::from(room.capacity))
                    .bind(i64::from(room.position))
                    .bind(&room.zoom_meeting_id)
                    .bind(&room.join_url)
                    .execute(&mut *tx)
                    .await
            };
            done.map_err(|e| store_error(e, taken))?;
        }
        let kept: HashSet<Uuid> = rooms.iter().map(|room| room.id.0).collect();
        for gone in existing.difference(&kept) {
            sqlx::query(sql::DELETE_ROOM)
                .bind(*gone)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        let existing: HashSet<Uuid> = sqlx::query_scalar(sql::SLOT_IDS)
            .bind(conference.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        for slot in slots {
            let statement = if existing.contains(&slot.id.0) {
                sql::UPDATE_SLOT
            } else {
                sql::INSERT_SLOT
            };
            sqlx::query(statement)
                .bind(slot.id.0)
                .bind(conference.0)
                .bind(slot.starts_at)
                .bind(slot.ends_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| store_error(e, taken))?;
        }
        let kept: HashSet<Uuid> = slots.iter().map(|slot| slot.id.0).collect();
        for gone in existing.difference(&kept) {
            sqlx::query(sql::DELETE_SLOT)
                .bind(*gone)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn expand_conference_recipients(
        &self,
        delivery: hub_core::ids::DeliveryId,
        conference: ConferenceId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(sql::EXPAND_CONFERENCE_RECIPIENTS)
            .bind(delivery.0)
            .bind(conference.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(crate::sql::SET_RECIPIENTS_TOTAL)
            .bind(delivery.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let total: Option<i64> = sqlx::query_scalar(crate::sql::RECIPIENTS_TOTAL)
            .bind(delivery.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?
            .ok_or_else(|| StoreError::NotFound(format!("the delivery {delivery}")))?;
        tx.commit().await.map_err(internal)?;
        Ok(total.unwrap_or(0).unsigned_abs())
    }

    async fn set_room_meeting(
        &self,
        room: RoomId,
        meeting_id: &str,
        join_url: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sql::SET_ROOM_MEETING)
            .bind(room.0)
            .bind(meeting_id)
            .bind(join_url)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("this room".into()));
        }
        Ok(())
    }

    async fn create_registration(
        &self,
        registration: &Registration,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(sql::INSERT_REGISTRATION)
            .bind(registration.id.0)
            .bind(registration.conference_id.0)
            .bind(registration.email.normalized())
            .bind(registration.email.display())
            .bind(&registration.name)
            .bind(registration.status.as_str())
            .bind(registration.created_at)
            .bind(registration.confirmed_at)
            .bind(registration.seated_at)
            .bind(registration.cancelled_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                write_error(
                    e,
                    &format!(
                        "{} is registered for this conference already",
                        registration.email
                    ),
                    "this conference",
                )
            })?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn registration(&self, id: RegistrationId) -> Result<Option<Registration>, StoreError> {
        sqlx::query_as::<_, RegistrationRow>(sql::REGISTRATION_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(RegistrationRow::into_registration)
            .transpose()
    }

    async fn registration_by_email(
        &self,
        conference: ConferenceId,
        email: &Email,
    ) -> Result<Option<Registration>, StoreError> {
        sqlx::query_as::<_, RegistrationRow>(sql::REGISTRATION_BY_EMAIL)
            .bind(conference.0)
            .bind(email.normalized())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(RegistrationRow::into_registration)
            .transpose()
    }

    async fn registrations(
        &self,
        conference: ConferenceId,
    ) -> Result<Vec<Registration>, StoreError> {
        sqlx::query_as::<_, RegistrationRow>(sql::REGISTRATIONS)
            .bind(conference.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(RegistrationRow::into_registration)
            .collect()
    }

    async fn reopen_registration(
        &self,
        id: RegistrationId,
        name: &str,
        _now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Registration, StoreError> {
        let mut tx = self.write().await?;
        let reopened = sqlx::query_as::<_, RegistrationRow>(sql::REOPEN_REGISTRATION)
            .bind(id.0)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
        let Some(reopened) = reopened else {
            // Not cancelled: nothing changes, so nothing is audited.
            return registration_in(&mut tx, id).await;
        };
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)?;
        reopened.into_registration()
    }

    async fn confirm_registration(
        &self,
        id: RegistrationId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Registration, StoreError> {
        let mut tx = self.write().await?;
        // The conference's lock comes first: it orders every change of its
        // registrations' seats (a lock on the registration first could
        // deadlock with a fill of the waitlist).
        let conference = conference_of_registration(&mut tx, id, "").await?;
        let capacity = lock_conference(&mut tx, conference).await?;
        let registration = registration_in(&mut tx, id).await?;
        if registration.status != RegistrationStatus::Pending {
            return Ok(registration);
        }
        let seated: i64 = sqlx::query_scalar(sql::COUNT_SEATED)
            .bind(conference.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        let (status, seated_at) = if seated < capacity {
            (RegistrationStatus::Confirmed, Some(now))
        } else {
            (RegistrationStatus::Waitlisted, None)
        };
        let confirmed = sqlx::query_as::<_, RegistrationRow>(sql::CONFIRM_REGISTRATION)
            .bind(id.0)
            .bind(status.as_str())
            .bind(now)
            .bind(seated_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?
            .into_registration()?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)?;
        Ok(confirmed)
    }

    async fn cancel_registration(
        &self,
        id: RegistrationId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<(Registration, Vec<Registration>), StoreError> {
        let mut tx = self.write().await?;
        // The conference's lock comes first: it orders every change of its
        // registrations' seats (a lock on the registration first could
        // deadlock with a fill of the waitlist).
        let conference = conference_of_registration(&mut tx, id, "").await?;
        let capacity = lock_conference(&mut tx, conference).await?;
        let registration = registration_in(&mut tx, id).await?;
        if registration.status == RegistrationStatus::Cancelled {
            return Ok((registration, Vec::new()));
        }
        let cancelled = sqlx::query_as::<_, RegistrationRow>(sql::CANCEL_REGISTRATION)
            .bind(id.0)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?
            .into_registration()?;
        sqlx::query(sql::DELETE_VOTES_OF_REGISTRATION)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let seated = fill_in(&mut tx, conference, capacity, now).await?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)?;
        Ok((cancelled, seated))
    }

    async fn fill_seats(
        &self,
        conference: ConferenceId,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<Vec<Registration>, StoreError> {
        let mut tx = self.write().await?;
        let capacity = lock_conference(&mut tx, conference).await?;
        let seated = fill_in(&mut tx, conference, capacity, now).await?;
        if seated.is_empty() {
            // Nobody was waiting or no seat was free: nothing to audit.
            return Ok(seated);
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)?;
        Ok(seated)
    }

    async fn create_registrant_link(&self, link: &NewRegistrantLink) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_REGISTRANT_LINK)
            .bind(&link.token_hash)
            .bind(link.purpose.as_str())
            .bind(link.registration_id.0)
            .bind(link.created_at)
            .bind(link.expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "this link exists already", "this registration"))?;
        Ok(())
    }

    async fn spend_registrant_link(
        &self,
        token_hash: &str,
        purpose: RegistrantLinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<Option<RegistrationId>, StoreError> {
        let mut tx = self.write().await?;
        let spent: Option<Uuid> = sqlx::query_scalar(sql::SPEND_REGISTRANT_LINK)
            .bind(token_hash)
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(spent.map(RegistrationId))
    }

    async fn recent_registrant_links(
        &self,
        registration: RegistrationId,
        purpose: RegistrantLinkPurpose,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(sql::RECENT_REGISTRANT_LINKS)
            .bind(registration.0)
            .bind(purpose.as_str())
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(internal)?;
        Ok(count.unsigned_abs())
    }

    async fn create_proposal(
        &self,
        proposal: &Proposal,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let query = sqlx::query(sql::INSERT_PROPOSAL)
            .bind(proposal.id.0)
            .bind(proposal.conference_id.0)
            .bind(proposal.proposer.0);
        let done = bind_proposal_fields!(query, proposal)
            .bind(proposal.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "this proposal exists already", "this proposal"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(
                "a registration of the proposer for this conference".into(),
            ));
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn proposal(&self, id: ProposalId) -> Result<Option<Proposal>, StoreError> {
        sqlx::query_as::<_, ProposalRow>(sql::PROPOSAL_BY_ID)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(ProposalRow::into_proposal)
            .transpose()
    }

    async fn proposals(
        &self,
        conference: ConferenceId,
    ) -> Result<Vec<ProposalSummary>, StoreError> {
        sqlx::query_as::<_, ProposalSummaryRow>(sql::PROPOSALS)
            .bind(conference.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(ProposalSummaryRow::into_summary)
            .collect()
    }

    async fn update_proposal(
        &self,
        proposal: &Proposal,
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let query = sqlx::query(sql::UPDATE_PROPOSAL).bind(proposal.id.0);
        let done = bind_proposal_fields!(query, proposal)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                write_error(
                    e,
                    "this proposal exists already",
                    "the proposal it was merged into",
                )
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("this proposal".into()));
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn merge_proposal(
        &self,
        merged: ProposalId,
        into: ProposalId,
        co_hosts: &[Email],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        if merged == into {
            return Err(StoreError::Conflict(
                "a proposal cannot be merged into itself: choose another one".into(),
            ));
        }
        let mut tx = self.write().await?;
        let conference = conference_of_proposal(&mut tx, merged, LOCK).await?;
        if conference_of_proposal(&mut tx, into, LOCK).await? != conference {
            return Err(StoreError::NotFound(
                "the proposal to merge into, in this conference,".into(),
            ));
        }
        for statement in [sql::MOVE_VOTES, sql::MARK_MERGED] {
            sqlx::query(statement)
                .bind(merged.0)
                .bind(into.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        for statement in [sql::DELETE_VOTES_OF_PROPOSAL, sql::DELETE_PLACEMENT] {
            sqlx::query(statement)
                .bind(merged.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        sqlx::query(sql::SET_CO_HOSTS)
            .bind(into.0)
            .bind(sql::co_hosts_text(co_hosts))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn cast_vote(
        &self,
        registration: RegistrationId,
        proposal: ProposalId,
        budget: u32,
        now: DateTime<Utc>,
        audit: NewAuditEvent,
    ) -> Result<VoteOutcome, StoreError> {
        let mut tx = self.write().await?;
        let conference = conference_of_registration(&mut tx, registration, LOCK).await?;
        if conference_of_proposal(&mut tx, proposal, "").await? != conference {
            return Err(StoreError::NotFound(
                "this proposal, in the registration's conference,".into(),
            ));
        }
        let voted: i64 = sqlx::query_scalar(sql::HAS_VOTED)
            .bind(proposal.0)
            .bind(registration.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        if voted > 0 {
            return Ok(VoteOutcome::AlreadyVoted);
        }
        let held: i64 = sqlx::query_scalar(sql::VOTES_HELD)
            .bind(registration.0)
            .bind(conference.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        if held >= i64::from(budget) {
            return Ok(VoteOutcome::OverBudget);
        }
        sqlx::query(sql::INSERT_VOTE)
            .bind(proposal.0)
            .bind(registration.0)
            .bind(conference.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)?;
        Ok(VoteOutcome::Cast)
    }

    async fn withdraw_vote(
        &self,
        registration: RegistrationId,
        proposal: ProposalId,
        audit: NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(sql::DELETE_VOTE)
            .bind(proposal.0)
            .bind(registration.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)?;
        Ok(true)
    }

    async fn conference_votes(&self, conference: ConferenceId) -> Result<Vec<Vote>, StoreError> {
        Ok(sqlx::query_as::<_, VoteRow>(sql::CONFERENCE_VOTES)
            .bind(conference.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(Vote::from)
            .collect())
    }

    async fn placements(&self, conference: ConferenceId) -> Result<Vec<Placement>, StoreError> {
        Ok(sqlx::query_as::<_, PlacementRow>(sql::PLACEMENTS)
            .bind(conference.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?
            .into_iter()
            .map(Placement::from)
            .collect())
    }

    async fn replace_placements(
        &self,
        conference: ConferenceId,
        placements: &[Placement],
        audit: NewAuditEvent,
    ) -> Result<(), StoreError> {
        if let Some(conflict) = sql::schedule_conflict(placements) {
            return Err(conflict);
        }
        let mut tx = self.write().await?;
        lock_conference(&mut tx, conference).await?;
        let before = sqlx::query_as::<_, PlacementRow>(sql::PLACEMENTS)
            .bind(conference.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(sql::DELETE_PLACEMENTS)
            .bind(conference.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        for placement in sql::keep_conversations(placements, before) {
            let done = sqlx::query(sql::INSERT_PLACEMENT)
                .bind(placement.proposal_id.0)
                .bind(conference.0)
                .bind(placement.room_id.0)
                .bind(placement.slot_id.0)
                .bind(placement.pinned)
                .bind(&placement.slack_conversation)
                .bind(&placement.slack_url)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    store_error(
                        e,
                        "two sessions are placed in the same room and slot: move one of them",
                    )
                })?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(
                    "a session, room or slot of this schedule, in this conference,".into(),
                ));
            }
        }
        append_audit_in(&mut tx, audit).await?;
        tx.commit().await.map_err(internal)
    }

    async fn set_session_conversation(
        &self,
        proposal: ProposalId,
        conversation: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sql::SET_SESSION_CONVERSATION)
            .bind(proposal.0)
            .bind(conversation)
            .bind(url)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("this session in the schedule".into()));
        }
        Ok(())
    }
}
