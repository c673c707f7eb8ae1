//! `/api/v1/communities/{slug}/conferences`: a lead's peer conferences as
//! JSON — create and change one, move it through its phases, set its rooms
//! and slots, look after registrations, rank and merge proposals, and
//! build, pin and publish the schedule. The rules live in
//! `hub_core::conferences`; these handlers read the request, call them, and
//! answer what came of it. `{conference}` is the conference's short name.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use hub_core::{
    access::actor,
    calls::schedule::read_local,
    conferences::{
        ConferenceError,
        builder::{self, Unplaced},
        registration::{self, Mailing},
        schedule::{self, BuildReport, ScheduleParts, grid},
        sessions,
        setup::{self, ConferenceRequest},
    },
    ids::{ProposalId, RegistrationId, RoomId, SlotId},
    model::{
        community::Community,
        conference::{
            Conference, ConferencePhase, ProposalState, ProposalSummary, Registration,
            RegistrationStatus, Room, Slot,
        },
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

/// How local times are written in this API (and read: seconds and a space
/// instead of the `T` are accepted too).
const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// A peer conference.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConferenceDto {
    id: Uuid,
    /// Its short name, in links and in this API's paths.
    #[schema(example = "unconf-2027")]
    slug: String,
    name: String,
    /// Markdown.
    description: String,
    #[schema(example = "2027-03-04")]
    starts_on: NaiveDate,
    #[schema(example = "2027-03-05")]
    ends_on: NaiveDate,
    /// The IANA timezone its slots are given in.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    /// Where it happens; null when it is online.
    venue: Option<String>,
    /// Seats; people who confirm after they are taken wait on the waitlist.
    capacity: u32,
    /// `registration`, `proposals`, `voting`, `schedule_published` or `done`.
    #[schema(value_type = String, example = "registration")]
    phase: ConferencePhase,
    /// Whether a lead closed registration before the phases would.
    registration_closed: bool,
    /// Whether people can register now.
    registration_open: bool,
    /// How many sessions each registrant may vote for.
    vote_budget: u32,
    /// The share of a session's voters expected to come (above 0, at most
    /// 1), which sizes its room.
    show_up_factor: f64,
    /// Whether registrants see the ranking while voting (leads always do).
    ranking_public: bool,
    /// The public page, where people register.
    public_url: String,
    created_at: DateTime<Utc>,
}

impl ConferenceDto {
    fn new(state: &AppState, community: &Community, conference: &Conference) -> Self {
        Self {
            id: conference.id.0,
            slug: conference.slug.clone(),
            name: conference.name.clone(),
            description: conference.description.clone(),
            starts_on: conference.starts_on,
            ends_on: conference.ends_on,
            timezone: conference.timezone.name().to_owned(),
            venue: conference.venue.clone(),
            capacity: conference.capacity,
            phase: conference.phase,
            registration_closed: conference.registration_closed,
            registration_open: conference.registration_open(),
            vote_budget: conference.vote_budget,
            show_up_factor: conference.show_up_factor,
            ranking_public: conference.ranking_public,
            public_url: registration::conference_page(
                &state.settings.public_url,
                community,
                conference,
            ),
            created_at: conference.created_at,
        }
    }
}

/// A community's conferences.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConferenceList {
    /// By first day.
    items: Vec<ConferenceDto>,
}

/// A conference with its rooms, slots and seats.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConferenceDetail {
    #[serde(flatten)]
    conference: ConferenceDto,
    /// In the order they were given.
    rooms: Vec<RoomDto>,
    /// By start.
    slots: Vec<SlotDto>,
    seats: SeatsDto,
}

/// A room.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoomDto {
    id: Uuid,
    name: String,
    /// How many people fit.
    capacity: u32,
    /// An online conference's room: where people join, once its meeting is
    /// made.
    join_url: Option<String>,
}

impl From<&Room> for RoomDto {
    fn from(room: &Room) -> Self {
        Self {
            id: room.id.0,
            name: room.name.clone(),
            capacity: room.capacity,
            join_url: room.join_url.clone(),
        }
    }
}

/// A time slot: the sessions of one slot run at the same time.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SlotDto {
    id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    /// Its start in the conference's timezone.
    #[schema(example = "2027-03-04T09:00")]
    starts_at_local: String,
    /// Its end in the conference's timezone.
    #[schema(example = "2027-03-04T10:00")]
    ends_at_local: String,
}

impl SlotDto {
    fn new(conference: &Conference, slot: &Slot) -> Self {
        let local = |at: DateTime<Utc>| {
            at.with_timezone(&conference.timezone)
                .format(LOCAL_FORMAT)
                .to_string()
        };
        Self {
            id: slot.id.0,
            starts_at: slot.starts_at,
            ends_at: slot.ends_at,
            starts_at_local: local(slot.starts_at),
            ends_at_local: local(slot.ends_at),
        }
    }
}

/// Where the registrations stand.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeatsDto {
    /// Confirmed, with a seat.
    seated: usize,
    /// Confirmed, waiting for a seat.
    waitlisted: usize,
    /// Registered, not confirmed yet (they hold no seat).
    pending: usize,
}

/// A conference to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewConferenceDto {
    /// 2 to 64 lower-case letters, digits or single dashes, starting with a
    /// letter; unique in the community.
    #[schema(
        example = "unconf-2027",
        min_length = 2,
        max_length = 64,
        pattern = "^[a-z](-?[a-z0-9])+$"
    )]
    slug: String,
    /// 1 to 200 characters, one line.
    name: String,
    /// Markdown; empty when absent.
    #[serde(default)]
    description: String,
    /// The first day, `YYYY-MM-DD`.
    #[schema(example = "2027-03-04", format = Date)]
    starts_on: String,
    /// The last day (at most 31 days after the first).
    #[schema(example = "2027-03-05", format = Date)]
    ends_on: String,
    /// An IANA timezone.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    /// Where it happens; null or absent for an online conference.
    #[serde(default)]
    venue: Option<String>,
    /// Seats, 1 to 100000.
    #[schema(minimum = 1, maximum = 100_000)]
    capacity: u32,
    /// Votes per registrant, 1 to 50.
    #[schema(minimum = 1, maximum = 50)]
    vote_budget: u32,
    /// The share of a session's voters expected to come: above 0, at most 1.
    #[schema(example = 0.7, exclusive_minimum = 0.0, maximum = 1.0)]
    show_up_factor: f64,
    /// Whether registrants see the ranking while voting; false when absent.
    #[serde(default)]
    ranking_public: bool,
}

/// A change of the settings. Every field is optional: an absent one keeps
/// its value, and `"venue": null` makes the conference online. A larger
/// capacity seats the first on the waitlist at once (they are mailed).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConferencePatch {
    slug: Option<String>,
    name: Option<String>,
    description: Option<String>,
    #[schema(example = "2027-03-04")]
    starts_on: Option<String>,
    #[schema(example = "2027-03-05")]
    ends_on: Option<String>,
    timezone: Option<String>,
    /// Absent: unchanged; null: online.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    venue: Option<Option<String>>,
    capacity: Option<u32>,
    vote_budget: Option<u32>,
    show_up_factor: Option<f64>,
    ranking_public: Option<bool>,
}

/// A field that is there, even as null (`Some(None)`), against one that is
/// absent (`None`, from `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// A step of the phases.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PhaseAction {
    /// To the next phase: registration → proposals → voting; the schedule is
    /// published by `…/schedule/publish`, and `done` follows it.
    Advance,
    /// Opens registration again (until the schedule is published).
    OpenRegistration,
    /// Closes registration before the phases would.
    CloseRegistration,
}

/// What to do with the phases.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhaseDto {
    action: PhaseAction,
}

/// The rooms and slots, replacing the ones there are. A room keeps its id
/// (and its place in the schedule) when its name stays, a slot when its
/// start stays. Refusals name the entry at fault as a line: `rooms, line 2`
/// is the second room.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GridDto {
    /// At most 50, names unique in any letter case.
    rooms: Vec<RoomInput>,
    /// At most 200, within the conference's days, not overlapping.
    slots: Vec<SlotInput>,
}

/// A room to have.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoomInput {
    /// 1 to 100 characters, one line.
    #[schema(example = "Hall A")]
    name: String,
    /// 1 to 100000 people.
    #[schema(example = 80, minimum = 1, maximum = 100_000)]
    capacity: u32,
}

/// A slot to have, in the conference's timezone, starting and ending on
/// the same day.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlotInput {
    #[schema(
        example = "2027-03-04T09:00",
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}$"
    )]
    starts_at_local: String,
    #[schema(
        example = "2027-03-04T10:00",
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}$"
    )]
    ends_at_local: String,
}

/// One person's registration.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegistrationDto {
    id: Uuid,
    email: String,
    name: String,
    /// `pending` (not confirmed: no seat), `confirmed` (seated),
    /// `waitlisted` or `cancelled`.
    #[schema(example = "confirmed")]
    status: String,
    /// When they registered.
    created_at: DateTime<Utc>,
    /// When they confirmed (the waitlist's order).
    confirmed_at: Option<DateTime<Utc>>,
    /// When they got their seat.
    seated_at: Option<DateTime<Utc>>,
    /// When they, or a lead, cancelled.
    cancelled_at: Option<DateTime<Utc>>,
}

impl From<&Registration> for RegistrationDto {
    fn from(r: &Registration) -> Self {
        Self {
            id: r.id.0,
            email: r.email.to_string(),
            name: r.name.clone(),
            status: r.status.as_str().to_owned(),
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            seated_at: r.seated_at,
            cancelled_at: r.cancelled_at,
        }
    }
}

/// A conference's registrations.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegistrationList {
    /// In the order people registered, cancelled ones included.
    items: Vec<RegistrationDto>,
}

/// A proposed session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProposalDto {
    id: Uuid,
    title: String,
    /// Markdown.
    description: String,
    /// `discussion`, `talk`, `workshop`, `panel` or `demo`.
    #[schema(example = "discussion")]
    format: String,
    proposer: ProposerDto,
    /// Who runs it with the proposer (addresses).
    co_hosts: Vec<String>,
    /// `open`, `merged` (into `merged_into`) or `withdrawn`.
    #[schema(example = "open")]
    state: String,
    /// The session it was merged into, for a merged one.
    merged_into: Option<Uuid>,
    /// How many registrants vote for it.
    votes: u32,
    /// Whether it is in the schedule.
    placed: bool,
    created_at: DateTime<Utc>,
}

/// Who proposed a session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProposerDto {
    /// Their registration.
    registration_id: Uuid,
    name: String,
    email: String,
}

/// A conference's proposals.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProposalList {
    /// The open sessions first, most wanted first (ties: the earlier
    /// proposal); then the merged and withdrawn ones, in the order they came.
    items: Vec<ProposalDto>,
}

/// Which session a duplicate goes into.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeDto {
    /// The session that stays: it gets the duplicate's votes (one per
    /// person), and the duplicate's proposer and co-hosts as co-hosts.
    into: Uuid,
}

/// What building the schedule made.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BuildReportDto {
    /// Sessions placed.
    placed: usize,
    /// Sessions that did not fit, most wanted first.
    unfitted: Vec<UnfittedDto>,
    /// Voter clashes of the new schedule: for each slot and each pair of its
    /// sessions, the registrants who voted for both.
    clashes: u32,
    /// The clashes of the simple baseline (each session, most wanted first,
    /// into the first place it fits), for comparison.
    baseline_clashes: u32,
}

/// A session left out of the schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UnfittedDto {
    session: Uuid,
    title: String,
    /// `too_big_for_any_room` (its expected attendance exceeds every room),
    /// `no_room_left` (every place went to a more wanted session or a pin)
    /// or `hosts_busy` (its hosts run other sessions in every slot with a
    /// free room).
    #[schema(example = "no_room_left")]
    reason: String,
    /// For `too_big_for_any_room`: the people it expects.
    expected: Option<u32>,
    /// For `too_big_for_any_room`: the largest room's capacity.
    largest: Option<u32>,
}

/// Where to pin a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PinDto {
    /// An open session.
    session: Uuid,
    room: Uuid,
    slot: Uuid,
}

/// The schedule as it stands (public once published).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleDto {
    /// Whether people see it.
    published: bool,
    /// The grid's columns.
    rooms: Vec<RoomDto>,
    /// One row per slot, by start.
    rows: Vec<ScheduleRowDto>,
    /// The open sessions not in it, most wanted first.
    unplaced: Vec<UnplacedDto>,
}

/// One slot of the schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleRowDto {
    slot: SlotDto,
    /// One per room, in `rooms`' order; null where the room is free.
    cells: Vec<Option<ScheduledDto>>,
}

/// A session in the schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduledDto {
    session: Uuid,
    title: String,
    room: Uuid,
    slot: Uuid,
    votes: u32,
    /// The people it expects (votes × the show-up factor, rounded up).
    expected: u32,
    /// Whether a lead pinned it there (the builder keeps it there).
    pinned: bool,
    /// Its own Slack conversation, once made.
    slack_url: Option<String>,
}

/// An open session not in the schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UnplacedDto {
    session: Uuid,
    title: String,
    votes: u32,
    /// The people it expects.
    expected: u32,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/conferences", tag = "conferences",
    params(("slug" = String, Path)),
    responses((status = 200, body = ConferenceList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ConferenceList>, ApiError> {
    let community = user.community(&state, &slug).await?;
    let items = state
        .store
        .community_conferences(community.id)
        .await?
        .iter()
        .map(|conference| ConferenceDto::new(&state, &community, conference))
        .collect();
    Ok(Json(ConferenceList { items }))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences", tag = "conferences",
    params(("slug" = String, Path)), request_body = NewConferenceDto,
    responses((status = 201, body = ConferenceDetail, description = "Created in its registration phase, with no rooms or slots yet"),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 422, description = "A field cannot be used, or the short name is taken; the message says which")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<NewConferenceDto>,
) -> Result<(StatusCode, Json<ConferenceDetail>), ApiError> {
    let community = user.community(&state, &slug).await?;
    let request = ConferenceRequest {
        slug: body.slug,
        name: body.name,
        description: body.description,
        starts_on: parse_day(&body.starts_on, "starts_on")?,
        ends_on: parse_day(&body.ends_on, "ends_on")?,
        timezone: body.timezone,
        venue: body.venue.unwrap_or_default(),
        capacity: body.capacity,
        vote_budget: body.vote_budget,
        show_up_factor: body.show_up_factor,
        ranking_public: body.ranking_public,
    };
    let conference = setup::create(
        state.store.as_ref(),
        &community,
        &request,
        &actor(&user.0),
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &community, &conference).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/conferences/{conference}", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    responses((status = 200, body = ConferenceDetail), (status = 404, description = "No such conference in this community")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
) -> Result<Json<ConferenceDetail>, ApiError> {
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    Ok(Json(detail(&state, &community, &conference).await?))
}

#[utoipa::path(patch, path = "/api/v1/communities/{slug}/conferences/{conference}", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    request_body = ConferencePatch,
    responses((status = 200, body = ConferenceDetail, description = "Changed (a new short name is its path from now on)"),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 404, description = "No such conference in this community"),
        (status = 422, description = "A field cannot be used, the short name is taken, or the capacity is below the people seated")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ConferencePatch>,
) -> Result<Json<ConferenceDetail>, ApiError> {
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    let starts_on = match &body.starts_on {
        Some(text) => parse_day(text, "starts_on")?,
        None => conference.starts_on,
    };
    let ends_on = match &body.ends_on {
        Some(text) => parse_day(text, "ends_on")?,
        None => conference.ends_on,
    };
    let request = ConferenceRequest {
        slug: body.slug.unwrap_or_else(|| conference.slug.clone()),
        name: body.name.unwrap_or_else(|| conference.name.clone()),
        description: body
            .description
            .unwrap_or_else(|| conference.description.clone()),
        starts_on,
        ends_on,
        timezone: body
            .timezone
            .unwrap_or_else(|| conference.timezone.name().to_owned()),
        venue: body
            .venue
            .unwrap_or_else(|| conference.venue.clone())
            .unwrap_or_default(),
        capacity: body.capacity.unwrap_or(conference.capacity),
        vote_budget: body.vote_budget.unwrap_or(conference.vote_budget),
        show_up_factor: body.show_up_factor.unwrap_or(conference.show_up_factor),
        ranking_public: body.ranking_public.unwrap_or(conference.ranking_public),
    };
    let changed = setup::change(
        state.store.as_ref(),
        &mailing(&state),
        &community,
        &conference,
        &request,
        &actor(&user.0),
        state.clock.now(),
    )
    .await?;
    Ok(Json(detail(&state, &community, &changed).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/phase", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    request_body = PhaseDto,
    responses((status = 200, body = ConferenceDetail, description = "The conference in its new phase"),
        (status = 400, description = "The body is not JSON of this shape, or names no action"),
        (status = 404, description = "No such conference in this community"),
        (status = 409, description = "The phase does not allow it (the next step is publishing the schedule, the conference is over, or registration cannot open again)")))]
pub(crate) async fn phase(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<PhaseDto>,
) -> Result<Json<ConferenceDetail>, ApiError> {
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    let store = state.store.as_ref();
    let who = actor(&user.0);
    let changed = match body.action {
        PhaseAction::Advance => setup::advance(store, &conference, &who).await?,
        PhaseAction::OpenRegistration => {
            setup::set_registration_open(store, &conference, true, &who).await?
        }
        PhaseAction::CloseRegistration => {
            setup::set_registration_open(store, &conference, false, &who).await?
        }
    };
    Ok(Json(detail(&state, &community, &changed).await?))
}

#[utoipa::path(put, path = "/api/v1/communities/{slug}/conferences/{conference}/grid", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    request_body = GridDto,
    responses((status = 200, body = ConferenceDetail, description = "The rooms and slots are these; sessions in a room or slot that went away leave the schedule"),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 404, description = "No such conference in this community"),
        (status = 409, description = "The schedule is published"),
        (status = 422, description = "A room or slot cannot be used; the message names it as a line (`rooms, line 2` is the second room)")))]
pub(crate) async fn set_grid(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<GridDto>,
) -> Result<Json<ConferenceDetail>, ApiError> {
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    // The grid is given as the lines a lead types on the dashboard, so one
    // set of rules (and of sentences) applies to both.
    let rooms = rooms_text(&body.rooms)?;
    let slots = slots_text(&body.slots)?;
    setup::set_grid(
        state.store.as_ref(),
        &conference,
        &rooms,
        &slots,
        &actor(&user.0),
    )
    .await?;
    Ok(Json(detail(&state, &community, &conference).await?))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/conferences/{conference}/registrations", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    responses((status = 200, body = RegistrationList), (status = 404, description = "No such conference in this community")))]
pub(crate) async fn registrations(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
) -> Result<Json<RegistrationList>, ApiError> {
    let (_, conference) = find(&state, &user, &slug, &conference).await?;
    let items = state
        .store
        .registrations(conference.id)
        .await?
        .iter()
        .map(RegistrationDto::from)
        .collect();
    Ok(Json(RegistrationList { items }))
}

/// Someone to register (they confirm by the mailed link, as on the page).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRegistrationDto {
    /// Their address.
    #[schema(format = Email)]
    email: String,
    /// Their name.
    #[serde(default)]
    name: String,
}

/// What registering did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegistrationMailed {
    /// Always `mailed`: nothing counts until the person confirms.
    status: &'static str,
    /// What happens next, for people.
    message: &'static str,
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/registrations", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    request_body = NewRegistrationDto,
    responses((status = 202, body = RegistrationMailed, description = "A confirmation link (or, for someone registered already, a sign-in link) was mailed; the seat is given when they confirm"),
        (status = 404, description = "No such conference in this community"),
        (status = 409, description = "Registration is closed"),
        (status = 422, description = "Not an email address, or not a name, or an address the mail server refuses"),
        (status = 429, description = "A link went to this address minutes ago"),
        (status = 502, description = "The mail server could not be reached or deferred the message; try again later")))]
pub(crate) async fn register(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<NewRegistrationDto>,
) -> Result<(StatusCode, Json<RegistrationMailed>), ApiError> {
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    registration::register(
        state.store.as_ref(),
        &mailing(&state),
        &community,
        &conference,
        &body.email,
        &body.name,
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RegistrationMailed {
            status: "mailed",
            message: "a link was mailed to the address; the registration counts once its owner confirms it",
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/registrations/{id}/cancel", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name"), ("id" = Uuid, Path)),
    responses((status = 200, body = RegistrationDto, description = "Cancelled, with its votes; the first on the waitlist is seated and mailed"),
        (status = 404, description = "No such conference, or no registration of it that is not cancelled"),
        (status = 409, description = "The conference is over")))]
pub(crate) async fn cancel_registration(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference, id)): ApiPath<(String, String, String)>,
) -> Result<Json<RegistrationDto>, ApiError> {
    const WHAT: &str = "This registration";
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    let id: RegistrationId = lookup::id(&id, WHAT)?;
    let store = state.store.as_ref();
    let registrant = registration::registrant(store, &conference, id)
        .await
        .map_err(|error| match error {
            ConferenceError::NotRegistrant => AppError::NotFound(WHAT.into()),
            other => other.into(),
        })?;
    let cancelled = registration::cancel(
        store,
        &mailing(&state),
        &community,
        &conference,
        &registrant,
        &actor(&user.0),
        state.clock.now(),
    )
    .await?;
    Ok(Json(RegistrationDto::from(&cancelled)))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/conferences/{conference}/proposals", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    responses((status = 200, body = ProposalList, description = "The ranking, then the merged and withdrawn sessions"),
        (status = 404, description = "No such conference in this community")))]
pub(crate) async fn proposals(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
) -> Result<Json<ProposalList>, ApiError> {
    let (_, conference) = find(&state, &user, &slug, &conference).await?;
    Ok(Json(proposal_list(&state, &conference).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/proposals/{id}/merge", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name"),
        ("id" = Uuid, Path, description = "The duplicate, which stops being open")),
    request_body = MergeDto,
    responses((status = 200, body = ProposalList, description = "Merged: the proposals as they now rank"),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 404, description = "No such conference, or no such session in it"),
        (status = 409, description = "The schedule is published"),
        (status = 422, description = "A session merged into itself, or one that is not open")))]
pub(crate) async fn merge(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<MergeDto>,
) -> Result<Json<ProposalList>, ApiError> {
    let (_, conference) = find(&state, &user, &slug, &conference).await?;
    let duplicate: ProposalId = lookup::id(&id, "This session")?;
    sessions::merge(
        state.store.as_ref(),
        &conference,
        duplicate,
        ProposalId(body.into),
        &actor(&user.0),
    )
    .await?;
    Ok(Json(proposal_list(&state, &conference).await?))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/conferences/{conference}/schedule", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    responses((status = 200, body = ScheduleDto), (status = 404, description = "No such conference in this community")))]
pub(crate) async fn show_schedule(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
) -> Result<Json<ScheduleDto>, ApiError> {
    let (_, conference) = find(&state, &user, &slug, &conference).await?;
    Ok(Json(schedule_of(&state, &conference).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/schedule/build", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    responses((status = 200, body = BuildReportDto, description = "Built around the pins and kept; not public until published"),
        (status = 404, description = "No such conference in this community"),
        (status = 409, description = "The schedule is published"),
        (status = 422, description = "There are no rooms or slots, or the pins break a rule")))]
pub(crate) async fn build(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
) -> Result<Json<BuildReportDto>, ApiError> {
    let (_, conference) = find(&state, &user, &slug, &conference).await?;
    let report = schedule::build(state.store.as_ref(), &conference, &actor(&user.0)).await?;
    let proposals = state.store.proposals(conference.id).await?;
    Ok(Json(report_dto(report, &proposals)))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/schedule/pin", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    request_body = PinDto,
    responses((status = 200, body = ScheduleDto, description = "Pinned there (moved, if it was elsewhere); an unpinned session that sat there leaves the schedule"),
        (status = 400, description = "The body is not JSON of this shape"),
        (status = 404, description = "No such conference, or no such open session, room or slot in it"),
        (status = 409, description = "The conference is over"),
        (status = 422, description = "The room is too small for the session, another pinned session sits there, or a host would be in two places at once")))]
pub(crate) async fn pin(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<PinDto>,
) -> Result<Json<ScheduleDto>, ApiError> {
    let (_, conference) = find(&state, &user, &slug, &conference).await?;
    schedule::pin(
        state.store.as_ref(),
        &conference,
        ProposalId(body.session),
        RoomId(body.room),
        SlotId(body.slot),
        &actor(&user.0),
    )
    .await?;
    Ok(Json(schedule_of(&state, &conference).await?))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/schedule/{session}/unpin", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name"),
        ("session" = Uuid, Path, description = "A placed session")),
    responses((status = 200, body = ScheduleDto, description = "Unpinned: it stays where it is until the schedule is built again"),
        (status = 404, description = "No such conference, or the session is not in its schedule")))]
pub(crate) async fn unpin(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference, session)): ApiPath<(String, String, String)>,
) -> Result<Json<ScheduleDto>, ApiError> {
    release(&state, &user, &slug, &conference, &session, false).await
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/schedule/{session}/take-off", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name"),
        ("session" = Uuid, Path, description = "A placed session")),
    responses((status = 200, body = ScheduleDto, description = "Taken off the schedule (it stays open, and a build may place it again)"),
        (status = 404, description = "No such conference, or the session is not in its schedule")))]
pub(crate) async fn take_off(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference, session)): ApiPath<(String, String, String)>,
) -> Result<Json<ScheduleDto>, ApiError> {
    release(&state, &user, &slug, &conference, &session, true).await
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/conferences/{conference}/schedule/publish", tag = "conferences",
    params(("slug" = String, Path), ("conference" = String, Path, description = "The conference's short name")),
    responses((status = 200, body = ConferenceDetail, description = "Published: voting is over, the schedule page and calendars show it, and an announcement goes to the registrants and the email lists"),
        (status = 404, description = "No such conference in this community"),
        (status = 409, description = "Not in its proposals or voting phase (published already, say)"),
        (status = 422, description = "Nothing is scheduled yet")))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, conference)): ApiPath<(String, String)>,
) -> Result<Json<ConferenceDetail>, ApiError> {
    let (community, conference) = find(&state, &user, &slug, &conference).await?;
    let published = schedule::publish(
        state.store.as_ref(),
        &community,
        &conference,
        state.settings.public_url.trim_end_matches('/'),
        &actor(&user.0),
        state.clock.now(),
    )
    .await?;
    Ok(Json(detail(&state, &community, &published).await?))
}

/// The community's conference `conference`, as the user may see it: one of
/// another community is "not found" like one that does not exist.
async fn find(
    state: &AppState,
    user: &ApiUser,
    slug: &str,
    conference: &str,
) -> Result<(Community, Conference), ApiError> {
    let community = user.community(state, slug).await?;
    let conference = state
        .store
        .conference_by_slug(community.id, conference)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("The conference {conference:?}")))?;
    Ok((community, conference))
}

/// How the hub mails the people a change seats.
fn mailing(state: &AppState) -> Mailing<'_> {
    Mailing {
        mailer: state.mailer.as_deref(),
        public_url: state.settings.public_url.trim_end_matches('/'),
    }
}

/// The conference with its rooms, slots and seats, as they are now.
async fn detail(
    state: &AppState,
    community: &Community,
    conference: &Conference,
) -> Result<ConferenceDetail, ApiError> {
    let store = state.store.as_ref();
    let registrations = store.registrations(conference.id).await?;
    let count =
        |status: RegistrationStatus| registrations.iter().filter(|r| r.status == status).count();
    Ok(ConferenceDetail {
        conference: ConferenceDto::new(state, community, conference),
        rooms: store
            .conference_rooms(conference.id)
            .await?
            .iter()
            .map(RoomDto::from)
            .collect(),
        slots: store
            .conference_slots(conference.id)
            .await?
            .iter()
            .map(|slot| SlotDto::new(conference, slot))
            .collect(),
        seats: SeatsDto {
            seated: count(RegistrationStatus::Confirmed),
            waitlisted: count(RegistrationStatus::Waitlisted),
            pending: count(RegistrationStatus::Pending),
        },
    })
}

/// Every proposal: the ranking, then the rest.
async fn proposal_list(
    state: &AppState,
    conference: &Conference,
) -> Result<ProposalList, ApiError> {
    let parts = ScheduleParts::read(state.store.as_ref(), conference).await?;
    let placed = |id: ProposalId| parts.placements.iter().any(|p| p.proposal_id == id);
    let ranked = sessions::ranking(&parts.proposals);
    let others = parts
        .proposals
        .iter()
        .filter(|s| s.proposal.state != ProposalState::Open);
    let items = ranked
        .into_iter()
        .chain(others)
        .map(|s| proposal_dto(s, placed(s.proposal.id)))
        .collect();
    Ok(ProposalList { items })
}

fn proposal_dto(summary: &ProposalSummary, placed: bool) -> ProposalDto {
    let proposal = &summary.proposal;
    let (state, merged_into) = match proposal.state {
        ProposalState::Open => ("open", None),
        ProposalState::Merged(into) => ("merged", Some(into.0)),
        ProposalState::Withdrawn => ("withdrawn", None),
    };
    ProposalDto {
        id: proposal.id.0,
        title: proposal.title.clone(),
        description: proposal.description.clone(),
        format: proposal.format.as_str().to_owned(),
        proposer: ProposerDto {
            registration_id: proposal.proposer.0,
            name: summary.proposer_name.clone(),
            email: summary.proposer_email.to_string(),
        },
        co_hosts: proposal.co_hosts.iter().map(ToString::to_string).collect(),
        state: state.to_owned(),
        merged_into,
        votes: summary.votes,
        placed,
        created_at: proposal.created_at,
    }
}

fn report_dto(report: BuildReport, proposals: &[ProposalSummary]) -> BuildReportDto {
    let title = |id: ProposalId| {
        proposals
            .iter()
            .find(|s| s.proposal.id == id)
            .map_or_else(String::new, |s| s.proposal.title.clone())
    };
    BuildReportDto {
        placed: report.placed,
        unfitted: report
            .unfitted
            .iter()
            .map(|u| {
                let (reason, expected, largest) = match u.reason {
                    Unplaced::TooBigForAnyRoom { expected, largest } => {
                        ("too_big_for_any_room", Some(expected), Some(largest))
                    }
                    Unplaced::NoRoomLeft => ("no_room_left", None, None),
                    Unplaced::HostsBusy => ("hosts_busy", None, None),
                };
                UnfittedDto {
                    session: u.session.0,
                    title: title(u.session),
                    reason: reason.to_owned(),
                    expected,
                    largest,
                }
            })
            .collect(),
        clashes: report.clashes,
        baseline_clashes: report.baseline_clashes,
    }
}

/// The schedule grid and the open sessions left out of it.
async fn schedule_of(state: &AppState, conference: &Conference) -> Result<ScheduleDto, ApiError> {
    let parts = ScheduleParts::read(state.store.as_ref(), conference).await?;
    let rows = grid(conference, &parts)
        .into_iter()
        .map(|row| ScheduleRowDto {
            slot: SlotDto::new(conference, &row.slot),
            cells: row
                .cells
                .into_iter()
                .map(|cell| {
                    cell.map(|session| ScheduledDto {
                        session: session.proposal.proposal.id.0,
                        title: session.proposal.proposal.title,
                        room: session.placement.room_id.0,
                        slot: session.placement.slot_id.0,
                        votes: session.proposal.votes,
                        expected: session.expected,
                        pinned: session.placement.pinned,
                        slack_url: session.placement.slack_url,
                    })
                })
                .collect(),
        })
        .collect();
    let unplaced = sessions::ranking(&parts.proposals)
        .into_iter()
        .filter(|s| {
            !parts
                .placements
                .iter()
                .any(|p| p.proposal_id == s.proposal.id)
        })
        .map(|s| UnplacedDto {
            session: s.proposal.id.0,
            title: s.proposal.title.clone(),
            votes: s.votes,
            expected: builder::expected_attendance(s.votes as usize, conference.show_up_factor),
        })
        .collect();
    Ok(ScheduleDto {
        published: conference.phase >= ConferencePhase::SchedulePublished,
        rooms: parts.rooms.iter().map(RoomDto::from).collect(),
        rows,
        unplaced,
    })
}

/// Unpins a session, or takes it off the schedule.
async fn release(
    state: &AppState,
    user: &ApiUser,
    slug: &str,
    conference: &str,
    session: &str,
    take_off: bool,
) -> Result<Json<ScheduleDto>, ApiError> {
    let (_, conference) = find(state, user, slug, conference).await?;
    let session: ProposalId = lookup::id(session, "This session")?;
    schedule::release(
        state.store.as_ref(),
        &conference,
        session,
        take_off,
        &actor(&user.0),
    )
    .await?;
    Ok(Json(schedule_of(state, &conference).await?))
}

fn parse_day(text: &str, field: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::Invalid(format!(
            "{field} must be a date such as 2027-03-04, not {text:?}"
        ))
    })
}

/// The rooms as `setup::parse_rooms` reads them: `Name, capacity`, one a
/// line, so the n-th room is line n.
fn rooms_text(rooms: &[RoomInput]) -> Result<String, AppError> {
    let mut text = String::new();
    for (index, room) in rooms.iter().enumerate() {
        // A line break would split the room into two lines.
        if room.name.contains('\n') {
            return Err(AppError::Invalid(format!(
                "rooms, line {}: a room's name must be one line",
                index + 1
            )));
        }
        text.push_str(&format!("{}, {}\n", room.name, room.capacity));
    }
    Ok(text)
}

/// The slots as `setup::parse_slots` reads them: `YYYY-MM-DD HH:MM-HH:MM`,
/// one a line, so the n-th slot is line n. That form holds a slot within
/// one day, to the minute.
fn slots_text(slots: &[SlotInput]) -> Result<String, AppError> {
    let mut text = String::new();
    for (index, slot) in slots.iter().enumerate() {
        let line = index + 1;
        let read = |value: &str, field: &str| {
            read_local(value).ok_or_else(|| {
                AppError::Invalid(format!(
                    "slots, line {line}: {field} must be a local date and time such as 2027-03-04T09:00, not {value:?}"
                ))
            })
        };
        let start = read(&slot.starts_at_local, "starts_at_local")?;
        let end = read(&slot.ends_at_local, "ends_at_local")?;
        if start.second() != 0 || end.second() != 0 {
            return Err(AppError::Invalid(format!(
                "slots, line {line}: give times to the minute, without seconds"
            )));
        }
        if end.date() != start.date() {
            return Err(AppError::Invalid(format!(
                "slots, line {line}: a slot must end on the day it starts ({}); make one slot each side of midnight",
                start.date()
            )));
        }
        text.push_str(&format!(
            "{} {}-{}\n",
            start.format("%Y-%m-%d"),
            start.format("%H:%M"),
            end.format("%H:%M")
        ));
    }
    Ok(text)
}
