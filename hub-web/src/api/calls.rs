//! `/api/v1/communities/{slug}/calls`: schedule a call (once or repeating)
//! in every channel that shows calls, change it, move or cancel one
//! occurrence, cancel it, and follow where each channel stands. The rules
//! live in `hub_core::calls::schedule`; the lander brings each channel in
//! line afterwards, so a change answers at once with its landings pending.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, NaiveDateTime, Utc};
use hub_core::{
    access::actor,
    calls::{
        feed,
        schedule::{self, CallError, CallRequest, read_local},
    },
    model::{
        call::{Call, CallLanding, LandingState},
        community::Community,
        member::MemberState,
    },
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiUser};
use crate::{
    AppState,
    error::{ApiError, AppError},
    lookup,
};

/// How local times are written in this API, and read (seconds and a space
/// instead of the `T` are accepted too).
const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// A call and each of its occurrences.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallDto {
    id: Uuid,
    title: String,
    /// Markdown.
    agenda: String,
    /// The first start, in `timezone`'s wall-clock time.
    #[schema(example = "2027-01-12T10:00")]
    starts_at_local: String,
    /// An IANA timezone: a weekly call keeps its local time across
    /// daylight-saving changes.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    duration_minutes: u32,
    /// The repeat rule (an RFC 5545 RRULE); null for a call held once.
    #[schema(example = "FREQ=WEEKLY;COUNT=10;BYDAY=TU")]
    rrule: Option<String>,
    /// Whether members register (each then gets a personal join link).
    registration: bool,
    /// `scheduled`, or `cancelled` as a whole.
    #[schema(example = "scheduled")]
    status: String,
    /// The invitation's version (iCalendar SEQUENCE): raised when the time,
    /// the place or the status changes, not for a new title or agenda.
    sequence: u32,
    /// Where people join, once the hosting channel (Zoom) made the meeting.
    join_url: Option<String>,
    /// The recording, once the hosting channel has one.
    recording_url: Option<String>,
    /// The start of the first occurrence still to come (not cancelled, not
    /// yet over); null when none is left.
    next_occurrence_at: Option<DateTime<Utc>>,
    /// Every occurrence in order, cancelled ones included and marked.
    occurrences: Vec<OccurrenceDto>,
    created_at: DateTime<Utc>,
}

/// One time a call happens.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OccurrenceDto {
    /// Its original local start: how it is named in
    /// `…/occurrences/{original}/move` and `…/cancel`, even once moved.
    #[schema(example = "2027-01-19T10:00")]
    original: String,
    /// Its local start, after any move.
    #[schema(example = "2027-01-19T11:00")]
    starts_at_local: String,
    /// Its start, UTC.
    starts_at: DateTime<Utc>,
    duration_minutes: u32,
    /// Cancelled on its own, or with the whole call.
    cancelled: bool,
}

impl CallDto {
    fn new(call: &Call, now: DateTime<Utc>) -> Self {
        Self {
            id: call.id.0,
            title: call.title.clone(),
            agenda: call.agenda.clone(),
            starts_at_local: local(call.starts_at_local),
            timezone: call.timezone.name().to_owned(),
            duration_minutes: call.duration_minutes,
            rrule: call.recurrence.as_ref().map(ToString::to_string),
            registration: call.registration,
            status: call.status.as_str().to_owned(),
            sequence: call.sequence,
            join_url: call.join_url.clone(),
            recording_url: call.recording_url.clone(),
            next_occurrence_at: call.next_occurrence(now).map(|o| o.starts_at),
            occurrences: call
                .occurrences()
                .into_iter()
                .map(|o| OccurrenceDto {
                    original: local(o.original),
                    starts_at_local: local(o.starts_at_local),
                    starts_at: o.starts_at,
                    duration_minutes: o.duration_minutes,
                    cancelled: o.cancelled,
                })
                .collect(),
            created_at: call.created_at,
        }
    }
}

/// A call with where it stands in each channel that shows calls.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallDetail {
    #[serde(flatten)]
    call: CallDto,
    /// One per channel that shows calls (Zoom, Slack); none when the
    /// community has no such channel.
    landings: Vec<LandingDto>,
    /// How many different people joined, over every time it was held, as
    /// Zoom's webhooks told (0 until they do).
    attended: usize,
}

/// A call in one channel.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LandingDto {
    channel_id: Uuid,
    channel_name: String,
    /// The channel's kind: `zoom` or `slack`.
    #[schema(example = "zoom")]
    kind: String,
    /// `pending` (the channel has yet to catch up with the latest change),
    /// `landed` (it shows the call as it is) or `failed` (it refused; nothing
    /// is tried again until the call changes).
    #[schema(value_type = String, example = "landed")]
    state: LandingState,
    /// Why the last attempt failed.
    last_error: Option<String>,
    /// Attempts since the last success.
    attempts: u32,
}

/// A community's calls, and its calendar feeds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallList {
    /// By first start.
    items: Vec<CallDto>,
    /// The public calendar feed: every call, without join links.
    calendar_url: String,
    /// This user's own feed, with join links, when they are an active
    /// member of the community (null otherwise). Keep it private.
    member_calendar_url: Option<String>,
}

/// A call to schedule.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCallDto {
    /// 1 to 200 characters, one line.
    title: String,
    /// Markdown; empty when absent.
    #[serde(default)]
    agenda: String,
    /// The first start, in `timezone`'s wall-clock time: `YYYY-MM-DDTHH:MM`.
    #[schema(
        example = "2027-01-12T10:00",
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}$"
    )]
    starts_at_local: String,
    /// An IANA timezone.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    /// 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    duration_minutes: u32,
    /// An RRULE Zoom can hold: DAILY, WEEKLY (BYDAY=MO,TH) or MONTHLY
    /// (BYMONTHDAY, or BYDAY=2TU), ending with COUNT (at most 50) or UNTIL.
    #[schema(example = "FREQ=WEEKLY;COUNT=10")]
    rrule: Option<String>,
    /// Whether members register; false when absent.
    #[serde(default)]
    registration: bool,
}

/// A change of the whole call. Every field is optional: an absent one keeps
/// its current value, and `"rrule": null` makes the call a single one. A
/// new start, timezone or rule drops the moved and cancelled occurrences
/// (they named occurrences that no longer exist).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallPatch {
    title: Option<String>,
    agenda: Option<String>,
    #[schema(example = "2027-01-12T10:00")]
    starts_at_local: Option<String>,
    timezone: Option<String>,
    duration_minutes: Option<u32>,
    /// Absent: unchanged; null: no longer repeats.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    rrule: Option<Option<String>>,
    registration: Option<bool>,
}

/// A field that is there, even as null (`Some(None)`), against one that is
/// absent (`None`, from `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Where and how long one occurrence is to be.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveDto {
    /// Its new local start, in the call's timezone.
    #[schema(
        example = "2027-01-19T11:00",
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}$"
    )]
    starts_at_local: String,
    /// Its length; absent keeps the occurrence's length.
    duration_minutes: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/calls", tag = "calls",
    params(("slug" = String, Path)),
    responses((status = 200, body = CallList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<CallList>, ApiError> {
    let community = user.community(&state, &slug).await?;
    let now = state.clock.now();
    let items = state
        .store
        .community_calls(community.id)
        .await?
        .iter()
        .map(|call| CallDto::new(call, now))
        .collect();
    let base = format!(
        "{}/c/{}/calendar",
        state.settings.public_url.trim_end_matches('/'),
        community.slug.as_str()
    );
    // A user who is a member gets their own feed; without keys (a process
    // started without them) there is no signed link to give, which is not
    // a reason to refuse the list.
    let member = state
        .store
        .member_by_email(community.id, &user.0.email)
        .await?
        .filter(|m| m.state == MemberState::Active);
    let member_calendar_url = match (member, state.secret_keys.as_deref()) {
        (Some(member), Some(keys)) => Some(format!(
            "{base}/{}.ics",
            feed::feed_token(&keys.signer(feed::PURPOSE), member.id)
        )),
        _ => None,
    };
    Ok(Json(CallList {
        items,
        calendar_url: format!("{base}.ics"),
        member_calendar_url,
    }))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/calls", tag = "calls",
    params(("slug" = String, Path)), request_body = NewCallDto,
    responses((status = 201, body = CallDetail, description = "Scheduled, with a pending landing in each channel that shows calls"),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 422, description = "The title, start (malformed or past), timezone, length or rule cannot be used; the message says which part")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<NewCallDto>,
) -> Result<(StatusCode, Json<CallDetail>), ApiError> {
    let community = user.community(&state, &slug).await?;
    let request = CallRequest {
        title: body.title,
        agenda: body.agenda,
        starts_at_local: parse_local(&body.starts_at_local, "starts_at_local")?,
        timezone: body.timezone,
        duration_minutes: body.duration_minutes,
        rrule: body.rrule,
        registration: body.registration,
    };
    let call = schedule::schedule(
        state.store.as_ref(),
        community.id,
        &request,
        &actor(&user.0),
        state.clock.now(),
    )
    .await
    .map_err(refused)?;
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &community, &call).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/calls/{id}", tag = "calls",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = CallDetail), (status = 404, description = "No such call in this community")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<Json<CallDetail>, ApiError> {
    let (community, call) = find(&state, &user, &slug, &id).await?;
    Ok(Json(detail(&state, &community, &call).await?))
}

#[utoipa::path(patch, path = "/api/v1/communities/{slug}/calls/{id}", tag = "calls",
    params(("slug" = String, Path), ("id" = Uuid, Path)), request_body = CallPatch,
    responses((status = 200, body = CallDetail, description = "Changed; every channel catches up with the whole call"),
        (status = 404, description = "No such call in this community"),
        (status = 409, description = "The call is cancelled"),
        (status = 422, description = "The changed call cannot be scheduled (as for POST)")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CallPatch>,
) -> Result<Json<CallDetail>, ApiError> {
    let (community, call) = find(&state, &user, &slug, &id).await?;
    let starts_at_local = match &body.starts_at_local {
        Some(text) => parse_local(text, "starts_at_local")?,
        None => call.starts_at_local,
    };
    let request = CallRequest {
        title: body.title.unwrap_or_else(|| call.title.clone()),
        agenda: body.agenda.unwrap_or_else(|| call.agenda.clone()),
        starts_at_local,
        timezone: body
            .timezone
            .unwrap_or_else(|| call.timezone.name().to_owned()),
        duration_minutes: body.duration_minutes.unwrap_or(call.duration_minutes),
        rrule: body
            .rrule
            .unwrap_or_else(|| call.recurrence.as_ref().map(ToString::to_string)),
        registration: body.registration.unwrap_or(call.registration),
    };
    let call = schedule::change(
        state.store.as_ref(),
        call,
        &request,
        &actor(&user.0),
        state.clock.now(),
    )
    .await
    .map_err(refused)?;
    Ok(Json(detail(&state, &community, &call).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/calls/{id}/occurrences/{original}/move", tag = "calls",
    params(("slug" = String, Path), ("id" = Uuid, Path),
        ("original" = String, Path, description = "The occurrence's original local start, YYYY-MM-DDTHH:MM", example = "2027-01-19T10:00")),
    request_body = MoveDto,
    responses((status = 200, body = CallDetail, description = "Moved; the sequence is raised"),
        (status = 404, description = "No such call, or no occurrence of it starting then"),
        (status = 409, description = "The call is cancelled"),
        (status = 422, description = "The new start is malformed or past, or the length is out of range")))]
pub(crate) async fn move_occurrence(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id, original)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<MoveDto>,
) -> Result<Json<CallDetail>, ApiError> {
    let (community, call) = find(&state, &user, &slug, &id).await?;
    let original = occurrence(&original)?;
    let starts_at_local = parse_local(&body.starts_at_local, "starts_at_local")?;
    let duration_minutes = body.duration_minutes.unwrap_or_else(|| {
        call.occurrences()
            .iter()
            .find(|o| o.original == original)
            .map_or(call.duration_minutes, |o| o.duration_minutes)
    });
    let call = schedule::move_occurrence(
        state.store.as_ref(),
        call,
        original,
        starts_at_local,
        duration_minutes,
        &actor(&user.0),
        state.clock.now(),
    )
    .await
    .map_err(refused)?;
    Ok(Json(detail(&state, &community, &call).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/calls/{id}/occurrences/{original}/cancel", tag = "calls",
    params(("slug" = String, Path), ("id" = Uuid, Path),
        ("original" = String, Path, description = "The occurrence's original local start, YYYY-MM-DDTHH:MM", example = "2027-01-19T10:00")),
    responses((status = 200, body = CallDetail, description = "The occurrence is cancelled (again: nothing changes)"),
        (status = 404, description = "No such call, or no occurrence of it starting then"),
        (status = 409, description = "The call is cancelled")))]
pub(crate) async fn cancel_occurrence(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id, original)): ApiPath<(String, String, String)>,
) -> Result<Json<CallDetail>, ApiError> {
    let (community, call) = find(&state, &user, &slug, &id).await?;
    let original = occurrence(&original)?;
    let call = schedule::cancel_occurrence(
        state.store.as_ref(),
        call,
        original,
        &actor(&user.0),
        state.clock.now(),
    )
    .await
    .map_err(refused)?;
    Ok(Json(detail(&state, &community, &call).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/calls/{id}/cancel", tag = "calls",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = CallDetail, description = "Cancelled, every occurrence with it; cancelling again changes nothing"),
        (status = 404, description = "No such call in this community")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<Json<CallDetail>, ApiError> {
    let (community, call) = find(&state, &user, &slug, &id).await?;
    let call = schedule::cancel(
        state.store.as_ref(),
        call,
        &actor(&user.0),
        state.clock.now(),
    )
    .await
    .map_err(refused)?;
    Ok(Json(detail(&state, &community, &call).await?))
}

/// The community's call `id`, as the user may see it: an id of another
/// community is "not found" like one that does not exist.
async fn find(
    state: &AppState,
    user: &ApiUser,
    slug: &str,
    id: &str,
) -> Result<(Community, Call), ApiError> {
    let community = user.community(state, slug).await?;
    let call = lookup::call(state, &community, id).await?;
    Ok((community, call))
}

/// The call with its landings, each named by its channel, and how many came.
async fn detail(
    state: &AppState,
    community: &Community,
    call: &Call,
) -> Result<CallDetail, ApiError> {
    let channels = state.store.channels(community.id).await?;
    let landings = state
        .store
        .call_landings(call.id)
        .await?
        .into_iter()
        .filter_map(|landing: CallLanding| {
            let channel = channels.iter().find(|c| c.id == landing.channel_id)?;
            Some(LandingDto {
                channel_id: channel.id.0,
                channel_name: channel.name.clone(),
                kind: channel.kind.to_string(),
                state: landing.state,
                last_error: landing.last_error,
                attempts: landing.attempts,
            })
        })
        .collect();
    let attended =
        hub_core::calls::attendance::summarize(&state.store.call_attendance(call.id).await?, &[])
            .map_or(0, |summary| summary.people);
    Ok(CallDetail {
        call: CallDto::new(call, state.clock.now()),
        landings,
        attended,
    })
}

fn local(time: NaiveDateTime) -> String {
    time.format(LOCAL_FORMAT).to_string()
}

fn parse_local(text: &str, field: &str) -> Result<NaiveDateTime, AppError> {
    read_local(text).ok_or_else(|| {
        AppError::Invalid(format!(
            "{field} must be a local date and time such as 2027-01-12T10:00, not {text:?}"
        ))
    })
}

/// An occurrence named in a path; text that is no time names none.
fn occurrence(text: &str) -> Result<NaiveDateTime, AppError> {
    read_local(text).ok_or_else(|| AppError::NotFound("This occurrence".into()))
}

/// What hub-core's refusal means over HTTP: the sentence is kept, the status
/// says what the client can do.
fn refused(error: CallError) -> ApiError {
    ApiError(match error {
        CallError::Store(error) => error.into(),
        CallError::Cancelled => AppError::Conflict(error.to_string()),
        CallError::NoSuchOccurrence(when) => {
            AppError::NotFound(format!("An occurrence of this call starting {when}"))
        }
        other => AppError::Invalid(other.to_string()),
    })
}
