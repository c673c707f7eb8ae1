//! Rows as both databases return them, and their translation into domain
//! types. The column types decode on SQLite and PostgreSQL alike, so the
//! translation lives here once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hub_core::{
    Email,
    calls::recurrence::Recurrence,
    ids::{
        AnnouncementId, CallId, ChannelId, CommunityId, DeliveryId, MemberId, SyncJobId, SyncRunId,
        UserId,
    },
    model::{
        announcement::{Announcement, Delivery, Recipient, RecipientCounts},
        audit::AuditEvent,
        call::{Attendance, Call, CallInstance, CallLanding, CallStatus, Invitee, LandingState},
        channel::{Channel, ChannelHealth},
        community::{Community, Slug},
        member::{Consent, Member},
        sync::{SyncJob, SyncRun},
        user::User,
    },
    outbox::ClaimedDelivery,
    ports::{
        adapter::CallScope,
        store::{StoreError, UserCredentials},
    },
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
pub(crate) struct SessionUserRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) last_seen_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CommunityRow {
    id: Uuid,
    slug: String,
    name: String,
    timezone: String,
    created_at: DateTime<Utc>,
    archive: String,
}

impl CommunityRow {
    pub(crate) fn into_community(self) -> Result<Community, StoreError> {
        Ok(Community {
            id: CommunityId(self.id),
            slug: Slug::parse(&self.slug).map_err(corrupt)?,
            name: self.name,
            timezone: self.timezone,
            created_at: self.created_at,
            archive: self.archive.parse().map_err(corrupt)?,
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
    /// The member's id.
    pub(crate) fn id(&self) -> Uuid {
        self.id
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

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChannelRow {
    id: Uuid,
    community_id: Uuid,
    kind: String,
    name: String,
    settings: String,
    secret: Option<String>,
    health: String,
    last_error: Option<String>,
    min_interval_ms: i64,
    created_at: DateTime<Utc>,
}

impl ChannelRow {
    /// The channel, and its encrypted secret.
    pub(crate) fn into_channel(self) -> Result<(Channel, Option<String>), StoreError> {
        let last_error = self.last_error.unwrap_or_default();
        let health = match self.health.as_str() {
            "ok" => ChannelHealth::Ok,
            "needs_reconnect" => ChannelHealth::NeedsReconnect { last_error },
            "failing" => ChannelHealth::Failing { last_error },
            other => return Err(corrupt(format!("channel health {other:?}"))),
        };
        let channel = Channel {
            id: ChannelId(self.id),
            community_id: CommunityId(self.community_id),
            kind: self.kind.parse().map_err(corrupt)?,
            name: self.name,
            settings: serde_json::from_str(&self.settings).map_err(corrupt)?,
            health,
            min_interval_ms: u32::try_from(self.min_interval_ms).map_err(corrupt)?,
            created_at: self.created_at,
        };
        Ok((channel, self.secret))
    }
}

/// The stored words for a health.
pub(crate) fn health_columns(health: &ChannelHealth) -> (&'static str, Option<&str>) {
    match health {
        ChannelHealth::Ok => ("ok", None),
        ChannelHealth::NeedsReconnect { last_error } => ("needs_reconnect", Some(last_error)),
        ChannelHealth::Failing { last_error } => ("failing", Some(last_error)),
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AnnouncementRow {
    id: Uuid,
    community_id: Uuid,
    title: String,
    body_markdown: String,
    author: String,
    send_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    revision: i32,
    retracted_at: Option<DateTime<Utc>>,
}

impl AnnouncementRow {
    pub(crate) fn into_announcement(self) -> Announcement {
        Announcement {
            revision: u32::try_from(self.revision).unwrap_or(1),
            retracted_at: self.retracted_at,
            id: AnnouncementId(self.id),
            community_id: CommunityId(self.community_id),
            title: self.title,
            body_markdown: self.body_markdown,
            author: self.author,
            send_at: self.send_at,
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    id: Uuid,
    announcement_id: Uuid,
    channel_id: Uuid,
    action: String,
    state: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    remote_ref: Option<String>,
    last_error: Option<String>,
    possible_duplicates: i32,
}

impl DeliveryRow {
    pub(crate) fn announcement_id(&self) -> Uuid {
        self.announcement_id
    }

    pub(crate) fn channel_id(&self) -> Uuid {
        self.channel_id
    }

    pub(crate) fn into_delivery(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            id: DeliveryId(self.id),
            announcement_id: AnnouncementId(self.announcement_id),
            channel_id: ChannelId(self.channel_id),
            action: self.action.parse().map_err(corrupt)?,
            state: self.state.parse().map_err(corrupt)?,
            attempts: u32::try_from(self.attempts).map_err(corrupt)?,
            next_attempt_at: Some(self.next_attempt_at),
            lease_until: self.lease_until,
            remote_ref: self.remote_ref,
            last_error: self.last_error,
            possible_duplicates: u32::try_from(self.possible_duplicates).map_err(corrupt)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RecipientRow {
    delivery_id: Uuid,
    member_id: Uuid,
    email: String,
    name: String,
    state: String,
    attempts: i32,
    possible_duplicates: i32,
}

impl RecipientRow {
    pub(crate) fn into_recipient(self) -> Result<Recipient, StoreError> {
        Ok(Recipient {
            delivery_id: DeliveryId(self.delivery_id),
            member_id: MemberId(self.member_id),
            email: self.email,
            name: self.name,
            state: self.state.parse().map_err(corrupt)?,
            attempts: u32::try_from(self.attempts).map_err(corrupt)?,
            possible_duplicates: u32::try_from(self.possible_duplicates).map_err(corrupt)?,
        })
    }
}

/// Adds up [`crate::sql::RECIPIENT_COUNTS`]' rows.
pub(crate) fn recipient_counts(rows: Vec<(String, i64, i64)>) -> RecipientCounts {
    let mut counts = RecipientCounts::default();
    for (state, count, duplicates) in rows {
        let count = count.unsigned_abs();
        counts.total += count;
        counts.possible_duplicates += duplicates.unsigned_abs();
        match state.as_str() {
            "sent" => counts.sent += count,
            "failed" | "dead" => counts.failed += count,
            "cancelled" => counts.cancelled += count,
            _ => counts.waiting += count,
        }
    }
    counts
}

/// Puts claimed deliveries together with their announcements and channels.
pub(crate) fn claimed(
    deliveries: Vec<DeliveryRow>,
    announcements: Vec<AnnouncementRow>,
    channels: Vec<ChannelRow>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let announcements: HashMap<Uuid, Announcement> = announcements
        .into_iter()
        .map(|row| (row.id, row.into_announcement()))
        .collect();
    let mut by_channel = HashMap::new();
    for row in channels {
        let id = row.id;
        by_channel.insert(id, row.into_channel()?);
    }
    deliveries
        .into_iter()
        .map(|row| {
            let announcement = announcements
                .get(&row.announcement_id)
                .cloned()
                .ok_or_else(|| corrupt("a delivery without its announcement"))?;
            let (channel, encrypted_secret) = by_channel
                .get(&row.channel_id)
                .cloned()
                .ok_or_else(|| corrupt("a delivery without its channel"))?;
            Ok(ClaimedDelivery {
                delivery: row.into_delivery()?,
                announcement,
                channel,
                encrypted_secret,
            })
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SyncJobRow {
    id: Uuid,
    channel_id: Uuid,
    direction: String,
    cron: String,
    max_remove_fraction: f64,
    max_remove_count: i64,
    last_seen: Option<i64>,
    created_at: DateTime<Utc>,
}

impl SyncJobRow {
    pub(crate) fn into_job(self) -> Result<SyncJob, StoreError> {
        Ok(SyncJob {
            id: SyncJobId(self.id),
            channel_id: ChannelId(self.channel_id),
            direction: self.direction.parse().map_err(corrupt)?,
            cron: self.cron,
            max_remove_fraction: self.max_remove_fraction,
            max_remove_count: u32::try_from(self.max_remove_count).map_err(corrupt)?,
            last_seen: self.last_seen.map(i64::unsigned_abs),
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SyncRunRow {
    id: Uuid,
    job_id: Uuid,
    state: String,
    plan: String,
    counts: String,
    error: Option<String>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl SyncRunRow {
    pub(crate) fn into_run(self) -> Result<SyncRun, StoreError> {
        Ok(SyncRun {
            id: SyncRunId(self.id),
            job_id: SyncJobId(self.job_id),
            state: self.state.parse().map_err(corrupt)?,
            plan: serde_json::from_str(&self.plan).map_err(corrupt)?,
            counts: serde_json::from_str(&self.counts).map_err(corrupt)?,
            error: self.error,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SyncPersonRow {
    pub(crate) id: Uuid,
    pub(crate) email: String,
    pub(crate) email_display: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) consent: String,
}

impl SyncPersonRow {
    pub(crate) fn into_person(self) -> Result<hub_core::sync::SyncPerson, StoreError> {
        Ok(hub_core::sync::SyncPerson {
            id: MemberId(self.id),
            email: Email::from_stored(self.email, self.email_display),
            name: self.name,
            state: self.state.parse().map_err(corrupt)?,
            consent: self.consent.parse().map_err(corrupt)?,
        })
    }
}

/// A member with their consent for every channel, as `sync_roster_all` reads them.
pub(crate) type HubRosterRow = (Uuid, String, String, String, String, [String; 4]);

/// Builds the roster of [`HubRosterRow`]s.
pub(crate) fn hub_roster(
    rows: impl IntoIterator<Item = HubRosterRow>,
) -> Result<hub_core::sync::HubRoster, StoreError> {
    let mut roster = hub_core::sync::HubRoster::default();
    for (id, email, email_display, name, state, consents) in rows {
        roster.people.push(
            SyncPersonRow {
                id,
                email,
                email_display,
                name,
                state,
                consent: "none".into(),
            }
            .into_person()?,
        );
        let mut parsed = [hub_core::model::member::ConsentStatus::None; 4];
        for (slot, word) in parsed.iter_mut().zip(&consents) {
            *slot = word.parse().map_err(corrupt)?;
        }
        roster.consents.push(parsed);
    }
    Ok(roster)
}

/// A chunk of new members as JSON rows for a bulk insert that the database
/// unpacks itself (`json_each` on SQLite, `jsonb_to_recordset` on
/// PostgreSQL): one bound parameter instead of ten per row, which is where a
/// 100,000-row import spent its time. Returns the members' JSON and the
/// email-consent rows' JSON.
pub(crate) fn bulk_member_json(
    chunk: &[hub_core::model::member::NewMember],
) -> (String, Option<String>) {
    let mut members = Vec::with_capacity(chunk.len());
    let mut consents = Vec::new();
    for member in chunk {
        let id = Uuid::now_v7().simple().to_string();
        if let Some(status) = member.email_consent {
            consents.push(serde_json::json!({"id": id, "status": status.as_str()}));
        }
        members.push(serde_json::json!({
            "id": id,
            "email": member.email.normalized(),
            "display": member.email.display(),
            "name": member.name,
            "name_lower": member.name.to_lowercase(),
            "role": member.role.as_str(),
        }));
    }
    let consents = (!consents.is_empty()).then(|| serde_json::Value::Array(consents).to_string());
    (serde_json::Value::Array(members).to_string(), consents)
}

/// A bounce record with whether email delivery is stopped.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BounceRow {
    score: f64,
    last_bounce_on: chrono::NaiveDate,
    last_reason: String,
    counted: i64,
    delivery_disabled_at: Option<DateTime<Utc>>,
}

impl From<BounceRow> for hub_core::bounces::BounceRecord {
    fn from(row: BounceRow) -> Self {
        Self {
            score: hub_core::bounces::BounceScore {
                score: row.score,
                last_bounce_on: row.last_bounce_on,
            },
            last_reason: row.last_reason,
            counted: u64::try_from(row.counted).unwrap_or_default(),
            email_disabled_at: row.delivery_disabled_at,
        }
    }
}

/// A member link as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemberLinkRow {
    purpose: String,
    community_id: Uuid,
    email_display: String,
    name: String,
    expires_at: DateTime<Utc>,
}

impl TryFrom<MemberLinkRow> for hub_core::membership::MemberLink {
    type Error = hub_core::ports::store::StoreError;

    fn try_from(row: MemberLinkRow) -> Result<Self, Self::Error> {
        Ok(Self {
            purpose: row
                .purpose
                .parse()
                .map_err(|e| corrupt(format!("member_links.purpose: {e}")))?,
            community_id: hub_core::ids::CommunityId(row.community_id),
            email: hub_core::Email::parse(&row.email_display)
                .map_err(|e| corrupt(format!("member_links.email: {e}")))?,
            name: row.name,
            expires_at: row.expires_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InboundEventRow {
    source: String,
    event_id: String,
    routing_key: String,
    kind: String,
    payload: String,
    received_at: DateTime<Utc>,
    processed_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
}

impl InboundEventRow {
    pub(crate) fn into_event(self) -> Result<hub_core::model::event::InboundEvent, StoreError> {
        Ok(hub_core::model::event::InboundEvent {
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| corrupt(format!("inbound event {}: {e}", self.event_id)))?,
            source: self.source,
            event_id: self.event_id,
            routing_key: self.routing_key,
            kind: self.kind,
            received_at: self.received_at,
            processed_at: self.processed_at,
            outcome: self.outcome,
        })
    }
}

/// How a local start is stored: `YYYY-MM-DDTHH:MM:SS`, so it sorts as text.
const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A local wall-clock time as stored.
pub(crate) fn local_text(at: chrono::NaiveDateTime) -> String {
    at.format(LOCAL_FORMAT).to_string()
}

fn parse_local(text: &str) -> Result<chrono::NaiveDateTime, StoreError> {
    chrono::NaiveDateTime::parse_from_str(text, LOCAL_FORMAT)
        .map_err(|_| corrupt(format!("local time {text:?}")))
}

/// A call's columns as bound, in [`crate::sql::CALL_COLUMNS`] order after the
/// two ids.
pub(crate) struct CallColumns {
    pub(crate) starts_at_local: String,
    pub(crate) rrule: Option<String>,
    pub(crate) overrides: String,
    pub(crate) cancelled_occurrences: String,
    pub(crate) duration_minutes: i64,
    pub(crate) sequence: i64,
}

impl CallColumns {
    pub(crate) fn of(call: &Call) -> Self {
        let cancelled: Vec<String> = call
            .cancelled_occurrences
            .iter()
            .map(|at| local_text(*at))
            .collect();
        Self {
            starts_at_local: local_text(call.starts_at_local),
            rrule: call.recurrence.as_ref().map(ToString::to_string),
            overrides: serde_json::to_string(&call.overrides).unwrap_or_else(|_| "[]".into()),
            cancelled_occurrences: serde_json::to_string(&cancelled)
                .unwrap_or_else(|_| "[]".into()),
            duration_minutes: i64::from(call.duration_minutes),
            sequence: i64::from(call.sequence),
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CallRow {
    id: Uuid,
    community_id: Uuid,
    title: String,
    agenda: String,
    starts_at_local: String,
    timezone: String,
    duration_minutes: i64,
    rrule: Option<String>,
    overrides: String,
    cancelled_occurrences: String,
    registration: bool,
    status: String,
    zoom_meeting_id: Option<String>,
    join_url: Option<String>,
    recording_url: Option<String>,
    sequence: i64,
    created_at: DateTime<Utc>,
}

impl CallRow {
    pub(crate) fn into_call(self) -> Result<Call, StoreError> {
        let timezone: chrono_tz::Tz = self
            .timezone
            .parse()
            .map_err(|_| corrupt(format!("call timezone {:?}", self.timezone)))?;
        let starts_at_local = parse_local(&self.starts_at_local)?;
        let recurrence = self
            .rrule
            .map(|rule| Recurrence::parse(&rule, starts_at_local, timezone))
            .transpose()
            .map_err(|e| corrupt(format!("call rule: {e}")))?;
        let overrides = serde_json::from_str(&self.overrides)
            .map_err(|e| corrupt(format!("call overrides: {e}")))?;
        let cancelled: Vec<String> = serde_json::from_str(&self.cancelled_occurrences)
            .map_err(|e| corrupt(format!("cancelled occurrences: {e}")))?;
        Ok(Call {
            id: CallId(self.id),
            community_id: CommunityId(self.community_id),
            title: self.title,
            agenda: self.agenda,
            starts_at_local,
            timezone,
            duration_minutes: u32::try_from(self.duration_minutes)
                .map_err(|_| corrupt("call duration"))?,
            recurrence,
            overrides,
            cancelled_occurrences: cancelled
                .iter()
                .map(|at| parse_local(at))
                .collect::<Result<_, _>>()?,
            registration: self.registration,
            status: CallStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("call status {:?}", self.status)))?,
            zoom_meeting_id: self.zoom_meeting_id,
            join_url: self.join_url,
            recording_url: self.recording_url,
            sequence: u32::try_from(self.sequence).map_err(|_| corrupt("call sequence"))?,
            created_at: self.created_at,
        })
    }
}

/// What a landing still has to catch up with, as stored (JSON: `"series"`
/// or an occurrence's original local start).
pub(crate) fn pending_text(pending: &[CallScope]) -> String {
    let words: Vec<String> = pending
        .iter()
        .map(|scope| match scope {
            CallScope::Series => "series".to_owned(),
            CallScope::Occurrence(at) => local_text(*at),
        })
        .collect();
    serde_json::to_string(&words).unwrap_or_else(|_| "[\"series\"]".into())
}

fn parse_pending(text: &str) -> Result<Vec<CallScope>, StoreError> {
    let words: Vec<String> =
        serde_json::from_str(text).map_err(|e| corrupt(format!("landing pending: {e}")))?;
    words
        .iter()
        .map(|word| {
            if word == "series" {
                Ok(CallScope::Series)
            } else {
                parse_local(word).map(CallScope::Occurrence)
            }
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LandingRow {
    call_id: Uuid,
    channel_id: Uuid,
    revision: i64,
    landed_revision: i64,
    pending: String,
    remote_ref: Option<String>,
    state: String,
    attempts: i64,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
}

impl LandingRow {
    pub(crate) fn into_landing(self) -> Result<CallLanding, StoreError> {
        let count = |n: i64| u32::try_from(n).map_err(|_| corrupt("landing counter"));
        Ok(CallLanding {
            call_id: CallId(self.call_id),
            channel_id: ChannelId(self.channel_id),
            revision: count(self.revision)?,
            landed_revision: count(self.landed_revision)?,
            pending: parse_pending(&self.pending)?,
            remote_ref: self.remote_ref,
            state: LandingState::parse(&self.state)
                .ok_or_else(|| corrupt(format!("landing state {:?}", self.state)))?,
            attempts: count(self.attempts)?,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InviteeRow {
    member_id: Uuid,
    email: String,
    email_display: String,
    name: String,
    sequence_sent: Option<i64>,
    join_url: Option<String>,
    takes_zoom: bool,
}

impl InviteeRow {
    pub(crate) fn into_invitee(self) -> Result<Invitee, StoreError> {
        Ok(Invitee {
            member_id: MemberId(self.member_id),
            email: Email::from_stored(self.email, self.email_display),
            name: self.name,
            invited_sequence: self
                .sequence_sent
                .map(|n| u32::try_from(n).map_err(|_| corrupt("invitation sequence")))
                .transpose()?,
            join_url: self.join_url,
            takes_zoom: self.takes_zoom,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AttendanceRow {
    call_id: Uuid,
    instance: String,
    person: String,
    member_id: Option<Uuid>,
    name: String,
    email: Option<String>,
    joined_at: DateTime<Utc>,
}

impl From<AttendanceRow> for Attendance {
    fn from(row: AttendanceRow) -> Self {
        Self {
            call_id: CallId(row.call_id),
            instance: row.instance,
            person: row.person,
            member_id: row.member_id.map(MemberId),
            name: row.name,
            email: row.email,
            joined_at: row.joined_at,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CallInstanceRow {
    call_id: Uuid,
    instance: String,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
}

impl From<CallInstanceRow> for CallInstance {
    fn from(row: CallInstanceRow) -> Self {
        Self {
            call_id: CallId(row.call_id),
            instance: row.instance,
            started_at: row.started_at,
            ended_at: row.ended_at,
        }
    }
}

/// An API token with its user's email (never its hash).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    id: Uuid,
    user_id: Uuid,
    email: String,
    email_display: String,
    name: String,
    created_at: DateTime<Utc>,
}

impl From<ApiTokenRow> for hub_core::model::user::ApiToken {
    fn from(row: ApiTokenRow) -> Self {
        Self {
            id: hub_core::ids::ApiTokenId(row.id),
            user_id: UserId(row.user_id),
            user_email: Email::from_stored(row.email, row.email_display),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

/// A lead member with its community's slug and name.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CommunityLeadRow {
    community_id: Uuid,
    community_slug: String,
    community_name: String,
    member_id: Uuid,
    email: String,
    email_display: String,
    name: String,
}

impl From<CommunityLeadRow> for hub_core::model::user::CommunityLead {
    fn from(row: CommunityLeadRow) -> Self {
        Self {
            community_id: CommunityId(row.community_id),
            community_slug: row.community_slug,
            community_name: row.community_name,
            member_id: MemberId(row.member_id),
            email: Email::from_stored(row.email, row.email_display),
            name: row.name,
        }
    }
}
