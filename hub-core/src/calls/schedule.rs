//! Scheduling, changing and cancelling calls: the rules, and what each
//! change asks of the channels. A call is kept with a landing in each channel
//! that shows calls (Zoom hosts it; Slack posts it with a reminder); the
//! [`super::lander::Lander`] brings each channel in line.
//!
//! SEQUENCE (what calendar programs compare) is raised only when the time,
//! the place or the status changes; a new title or agenda is carried to the
//! channels but is not a new version of the invitation.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use crate::{
    calls::recurrence::{Recurrence, RuleError, local_instant},
    ids::{CallId, CommunityId},
    model::{
        audit::NewAuditEvent,
        call::{Call, CallStatus, OccurrenceOverride},
        channel::{Channel, ChannelKind},
    },
    ports::{
        adapter::CallScope,
        store::{Store, StoreError},
    },
};

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest call, in minutes (Zoom's meetings last at most a day).
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;

/// A call as a lead describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The title.
    pub title: String,
    /// The agenda, Markdown.
    pub agenda: String,
    /// The first start, local to `timezone`.
    pub starts_at_local: NaiveDateTime,
    /// An IANA timezone name.
    pub timezone: String,
    /// Minutes.
    pub duration_minutes: u32,
    /// An RRULE, when it repeats.
    pub rrule: Option<String>,
    /// Whether members register (each gets a personal join link).
    pub registration: bool,
}

/// Why a call cannot be scheduled or changed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The title is empty, too long, or has line breaks.
    #[error("a title must have 1 to {MAX_TITLE} characters and no line breaks")]
    Title,
    /// Not an IANA timezone.
    #[error("{0:?} is not a timezone: use a name such as Europe/Berlin or America/New_York")]
    Timezone(String),
    /// The length is out of range.
    #[error("a call lasts 1 to {MAX_DURATION_MINUTES} minutes")]
    Duration,
    /// The start has passed.
    #[error("the call would start in the past ({0})")]
    Past(String),
    /// The repeat rule cannot be used.
    #[error("the repeat rule cannot be scheduled: {0}")]
    Rule(#[from] RuleError),
    /// The occurrence named is not one of the call's.
    #[error("the call has no occurrence starting {0}")]
    NoSuchOccurrence(String),
    /// The call is cancelled: nothing more can change.
    #[error("this call is cancelled")]
    Cancelled,
    /// Storage refused it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A local date and time as people and scripts write it: `2027-01-12T10:00`
/// (what a `datetime-local` field sends), with a space instead of the `T`,
/// or with seconds.
#[must_use]
pub fn read_local(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

/// Whether a channel of this kind shows calls: Zoom hosts them, Slack
/// posts them, the native email list mails each member the invitation.
#[must_use]
pub fn shows_calls(kind: ChannelKind) -> bool {
    matches!(
        kind,
        ChannelKind::Zoom | ChannelKind::Slack | ChannelKind::EmailList
    )
}

fn audit(actor: &str, action: &str, call: &Call, details: serde_json::Value) -> NewAuditEvent {
    NewAuditEvent {
        actor: actor.to_owned(),
        action: action.to_owned(),
        community_id: Some(call.community_id),
        subject: call.id.to_string(),
        details,
    }
}

/// The request's fields, checked: the title, timezone, length and rule,
/// and that the start is still to come when `new_start` (a call already
/// under way can still be retitled).
fn checked(
    request: &CallRequest,
    now: DateTime<Utc>,
    new_start: bool,
) -> Result<(Tz, Option<Recurrence>), CallError> {
    let title = request.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE || title.contains(['\r', '\n']) {
        return Err(CallError::Title);
    }
    let zone: Tz = request
        .timezone
        .trim()
        .parse()
        .map_err(|_| CallError::Timezone(request.timezone.clone()))?;
    if request.duration_minutes == 0 || request.duration_minutes > MAX_DURATION_MINUTES {
        return Err(CallError::Duration);
    }
    if new_start && local_instant(zone, request.starts_at_local) <= now {
        return Err(CallError::Past(format!(
            "{} {}",
            request.starts_at_local.format("%Y-%m-%d %H:%M"),
            zone.name()
        )));
    }
    let recurrence = request
        .rrule
        .as_deref()
        .map(str::trim)
        .filter(|rule| !rule.is_empty())
        .map(|rule| Recurrence::parse(rule, request.starts_at_local, zone))
        .transpose()?;
    Ok((zone, recurrence))
}

/// The community's channels that show calls. One waiting to be reconnected
/// is included: its landing waits, and the call reaches it once it works.
async fn call_channels(
    store: &dyn Store,
    community: CommunityId,
) -> Result<Vec<Channel>, StoreError> {
    Ok(store
        .channels(community)
        .await?
        .into_iter()
        .filter(|c| shows_calls(c.kind))
        .collect())
}

/// Schedules a call in every channel of the community that shows calls.
///
/// # Errors
/// [`CallError`]; nothing is kept unless all of it is.
pub async fn schedule(
    store: &dyn Store,
    community: CommunityId,
    request: &CallRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Call, CallError> {
    let (timezone, recurrence) = checked(request, now, true)?;
    let call = Call {
        id: CallId::new(),
        community_id: community,
        title: request.title.trim().to_owned(),
        agenda: request.agenda.clone(),
        starts_at_local: request.starts_at_local,
        timezone,
        duration_minutes: request.duration_minutes,
        recurrence,
        overrides: vec![],
        cancelled_occurrences: vec![],
        registration: request.registration,
        status: CallStatus::Scheduled,
        zoom_meeting_id: None,
        join_url: None,
        recording_url: None,
        sequence: 0,
        // To the microsecond, what both databases keep: the call as answered
        // is the call as read back.
        created_at: chrono::SubsecRound::trunc_subsecs(now, 6),
    };
    let channels: Vec<_> = call_channels(store, community)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let details = json!({
        "title": call.title,
        "starts_at_local": call.starts_at_local,
        "timezone": timezone.name(),
        "rrule": call.recurrence.as_ref().map(ToString::to_string),
        "channels": channels,
    });
    store
        .create_call(
            &call,
            &channels,
            now,
            audit(actor, "call.schedule", &call, details),
        )
        .await?;
    Ok(call)
}

/// Changes the whole call (every occurrence) to `request`. Overrides and
/// cancelled occurrences are kept while the rule and start stay; a new rule
/// or start drops them, as they named occurrences that no longer exist.
///
/// # Errors
/// [`CallError`].
pub async fn change(
    store: &dyn Store,
    mut call: Call,
    request: &CallRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Call, CallError> {
    if call.status == CallStatus::Cancelled {
        return Err(CallError::Cancelled);
    }
    let new_start = call.starts_at_local != request.starts_at_local
        || call.timezone.name() != request.timezone.trim();
    let (timezone, recurrence) = checked(request, now, new_start)?;
    let moved = call.starts_at_local != request.starts_at_local
        || call.timezone != timezone
        || call.duration_minutes != request.duration_minutes
        || call.recurrence != recurrence;
    if call.starts_at_local != request.starts_at_local
        || call.timezone != timezone
        || call.recurrence != recurrence
    {
        call.overrides.clear();
        call.cancelled_occurrences.clear();
    }
    call.title = request.title.trim().to_owned();
    call.agenda.clone_from(&request.agenda);
    call.starts_at_local = request.starts_at_local;
    call.timezone = timezone;
    call.duration_minutes = request.duration_minutes;
    call.recurrence = recurrence;
    call.registration = request.registration;
    if moved {
        call.sequence += 1;
    }
    let details = json!({"title": call.title, "moved": moved, "sequence": call.sequence});
    store
        .change_call(
            &call,
            CallScope::Series,
            now,
            audit(actor, "call.change", &call, details),
        )
        .await?;
    Ok(call)
}

/// Moves (or lengthens) one occurrence, named by its original local start.
///
/// # Errors
/// [`CallError`]: an unknown occurrence, a start in the past.
pub async fn move_occurrence(
    store: &dyn Store,
    mut call: Call,
    original: NaiveDateTime,
    starts_at_local: NaiveDateTime,
    duration_minutes: u32,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Call, CallError> {
    known_occurrence(&call, original)?;
    if duration_minutes == 0 || duration_minutes > MAX_DURATION_MINUTES {
        return Err(CallError::Duration);
    }
    if local_instant(call.timezone, starts_at_local) <= now {
        return Err(CallError::Past(
            starts_at_local.format("%Y-%m-%d %H:%M").to_string(),
        ));
    }
    call.overrides.retain(|o| o.original != original);
    if starts_at_local != original || duration_minutes != call.duration_minutes {
        call.overrides.push(OccurrenceOverride {
            original,
            starts_at_local,
            duration_minutes,
        });
    }
    call.sequence += 1;
    let details = json!({"occurrence": original, "starts_at_local": starts_at_local, "duration_minutes": duration_minutes});
    store
        .change_call(
            &call,
            CallScope::Occurrence(original),
            now,
            audit(actor, "call.move_occurrence", &call, details),
        )
        .await?;
    Ok(call)
}

/// Cancels one occurrence, named by its original local start.
///
/// # Errors
/// [`CallError`]: an unknown occurrence.
pub async fn cancel_occurrence(
    store: &dyn Store,
    mut call: Call,
    original: NaiveDateTime,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Call, CallError> {
    known_occurrence(&call, original)?;
    if call.cancelled_occurrences.contains(&original) {
        return Ok(call);
    }
    call.cancelled_occurrences.push(original);
    call.sequence += 1;
    let details = json!({"occurrence": original});
    store
        .change_call(
            &call,
            CallScope::Occurrence(original),
            now,
            audit(actor, "call.cancel_occurrence", &call, details),
        )
        .await?;
    Ok(call)
}

/// Cancels the whole call. Cancelling it again changes nothing.
///
/// # Errors
/// [`CallError::Store`].
pub async fn cancel(
    store: &dyn Store,
    mut call: Call,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Call, CallError> {
    if call.status == CallStatus::Cancelled {
        return Ok(call);
    }
    call.status = CallStatus::Cancelled;
    call.sequence += 1;
    store
        .change_call(
            &call,
            CallScope::Series,
            now,
            audit(actor, "call.cancel", &call, json!({"title": call.title})),
        )
        .await?;
    Ok(call)
}

fn known_occurrence(call: &Call, original: NaiveDateTime) -> Result<(), CallError> {
    if call.status == CallStatus::Cancelled {
        return Err(CallError::Cancelled);
    }
    if call.occurrences().iter().any(|o| o.original == original) {
        Ok(())
    } else {
        Err(CallError::NoSuchOccurrence(
            original.format("%Y-%m-%d %H:%M").to_string(),
        ))
    }
}
