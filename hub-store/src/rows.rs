//! Rows as both databases return them, and their translation into domain
//! types. The column types decode on SQLite and PostgreSQL alike, so the
//! translation lives here once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hub_core::{
    Email,
    ids::{CommunityId, MemberId, UserId},
    model::{
        audit::AuditEvent,
        community::{Community, Slug},
        member::{Consent, Member},
        user::User,
    },
    ports::store::{StoreError, UserCredentials},
};
use uuid::Uuid;

use crate::error::corrupt;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    email_display: String,
    password_hash: String,
    is_owner: bool,
    created_at: DateTime<Utc>,
}

impl UserRow {
    pub(crate) fn into_credentials(self) -> UserCredentials {
        UserCredentials {
            password_hash: self.password_hash.clone(),
            user: self.into_user(),
        }
    }

    pub(crate) fn into_user(self) -> User {
        User {
            id: UserId(self.id),
            email: Email::from_stored(self.email, self.email_display),
            is_owner: self.is_owner,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CommunityRow {
    id: Uuid,
    slug: String,
    name: String,
    timezone: String,
    created_at: DateTime<Utc>,
}

impl CommunityRow {
    pub(crate) fn into_community(self) -> Result<Community, StoreError> {
        Ok(Community {
            id: CommunityId(self.id),
            slug: Slug::parse(&self.slug).map_err(corrupt)?,
            name: self.name,
            timezone: self.timezone,
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemberRow {
    id: Uuid,
    community_id: Uuid,
    email: String,
    email_display: String,
    name: String,
    role: String,
    state: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl MemberRow {
    /// The normalized email: the roster's order and cursor.
    pub(crate) fn email(&self) -> &str {
        &self.email
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConsentRow {
    member_id: Uuid,
    channel: String,
    status: String,
    changed_at: DateTime<Utc>,
    source: String,
}

/// Joins member rows with their consent rows (in any order).
pub(crate) fn members_with_consents(
    members: Vec<MemberRow>,
    consents: Vec<ConsentRow>,
) -> Result<Vec<Member>, StoreError> {
    let mut by_member: HashMap<Uuid, Vec<Consent>> = HashMap::new();
    for row in consents {
        by_member.entry(row.member_id).or_default().push(Consent {
            channel: row.channel.parse().map_err(corrupt)?,
            status: row.status.parse().map_err(corrupt)?,
            changed_at: row.changed_at,
            source: row.source.parse().map_err(corrupt)?,
        });
    }
    members
        .into_iter()
        .map(|row| {
            let mut consents = by_member.remove(&row.id).unwrap_or_default();
            consents.sort_by_key(|c| c.channel.as_str());
            Ok(Member {
                id: MemberId(row.id),
                community_id: CommunityId(row.community_id),
                email: Email::from_stored(row.email, row.email_display),
                name: row.name,
                role: row.role.parse().map_err(corrupt)?,
                state: row.state.parse().map_err(corrupt)?,
                consents,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    seq: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    community_id: Option<Uuid>,
    subject: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    pub(crate) fn into_event(self) -> AuditEvent {
        AuditEvent {
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            community_id: self.community_id.map(CommunityId),
            subject: self.subject,
            details: self.details,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}
