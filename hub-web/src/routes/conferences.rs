//! A community's peer conferences on the dashboard: the list and the
//! create form, and one conference's page for its leads — settings and
//! phases, rooms and slots, registrations, proposals with their votes
//! (merging duplicates), and the schedule grid (build, pin, move, take off,
//! publish).

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use chrono::NaiveDate;
use hub_core::{
    access::actor,
    conferences::{
        ConferenceError, registration,
        schedule::{self, BuildReport, ScheduleParts, grid},
        sessions,
        setup::{self, ConferenceRequest},
    },
    ids::{ProposalId, RegistrationId, RoomId, SlotId},
    model::{community::Community, conference::Conference},
};
use serde::Deserialize;

use super::{
    community,
    conference_site::{days, mailing},
    nav,
};
use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    session::CurrentUser,
    templates::{
        ConferenceListPage, ConferenceManagePage, LeadProposalRow, RegistrationRow, UnfittedRow,
        schedule_rows,
    },
};

/// The settings form, kept when shown again with an error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(crate) slug: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) starts_on: String,
    #[serde(default)]
    pub(crate) ends_on: String,
    #[serde(default)]
    pub(crate) timezone: String,
    #[serde(default)]
    pub(crate) venue: String,
    #[serde(default)]
    pub(crate) capacity: String,
    #[serde(default)]
    pub(crate) vote_budget: String,
    #[serde(default)]
    pub(crate) show_up_factor: String,
    #[serde(default)]
    pub(crate) ranking_public: Option<String>,
}

impl SettingsForm {
    fn defaults(community: &Community) -> Self {
        Self {
            timezone: community.timezone.clone(),
            capacity: "100".into(),
            vote_budget: "5".into(),
            show_up_factor: "0.7".into(),
            ..Self::default()
        }
    }

    fn of(conference: &Conference) -> Self {
        Self {
            csrf: String::new(),
            slug: conference.slug.clone(),
            name: conference.name.clone(),
            description: conference.description.clone(),
            starts_on: conference.starts_on.to_string(),
            ends_on: conference.ends_on.to_string(),
            timezone: conference.timezone.name().to_owned(),
            venue: conference.venue.clone().unwrap_or_default(),
            capacity: conference.capacity.to_string(),
            vote_budget: conference.vote_budget.to_string(),
            show_up_factor: conference.show_up_factor.to_string(),
            ranking_public: conference.ranking_public.then(|| "on".into()),
        }
    }

    /// The conference it asks for, or a sentence saying which field is wrong.
    fn request(&self) -> Result<ConferenceRequest, ConferenceError> {
        let day = |text: &str, what: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                ConferenceError::Invalid(format!("give the {what} as a date (2027-03-04)"))
            })
        };
        let number = |text: &str, what: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| ConferenceError::Invalid(format!("give the {what} as a whole number")))
        };
        Ok(ConferenceRequest {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            starts_on: day(&self.starts_on, "first day")?,
            ends_on: day(&self.ends_on, "last day")?,
            timezone: self.timezone.clone(),
            venue: self.venue.clone(),
            capacity: number(&self.capacity, "capacity")?,
            vote_budget: number(&self.vote_budget, "votes per registrant")?,
            show_up_factor: self.show_up_factor.trim().parse().map_err(|_| {
                ConferenceError::Invalid("give the show-up factor as a number such as 0.7".into())
            })?,
            ranking_public: self.ranking_public.is_some(),
        })
    }
}

/// GET `/communities/{slug}/conferences`.
pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let form = SettingsForm::defaults(&community);
    Ok(Html(
        list_page(&state, &user, &csrf, community, form, None).await?,
    ))
}

async fn list_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    form: SettingsForm,
    error: Option<String>,
) -> Result<String, AppError> {
    let conferences = state.store.community_conferences(community.id).await?;
    Ok(ConferenceListPage {
        nav: nav(user, csrf),
        rows: conferences
            .iter()
            .map(|c| (c.slug.clone(), c.name.clone(), days(c), c.phase.label()))
            .collect(),
        community,
        form,
        error,
    }
    .render()?)
}

/// A refusal: a person's mistake is shown on the page with a 4xx status,
/// a server fault goes to the error page.
fn refusal(error: ConferenceError) -> Result<(StatusCode, String), AppError> {
    let message = error.to_string();
    let error = AppError::from(error);
    if matches!(error, AppError::Internal(_) | AppError::Unavailable(_)) {
        return Err(error);
    }
    Ok((error.status(), message))
}

/// POST `/communities/{slug}/conferences`.
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let made = match form.request() {
        Ok(request) => {
            setup::create(
                state.store.as_ref(),
                &community,
                &request,
                &actor(&user.0),
                state.clock.now(),
            )
            .await
        }
        Err(error) => Err(error),
    };
    match made {
        Ok(conference) => Ok(Redirect::to(&manage_path(&community, &conference)).into_response()),
        Err(error) => {
            let (status, message) = refusal(error)?;
            let page = list_page(&state, &user, &csrf, community, form, Some(message)).await?;
            Ok((status, Html(page)).into_response())
        }
    }
}

fn manage_path(community: &Community, conference: &Conference) -> String {
    format!(
        "/communities/{}/conferences/{}",
        community.slug.as_str(),
        conference.slug
    )
}

async fn lead_conference(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    conference: &str,
) -> Result<(Community, Conference), AppError> {
    let community = community(state, user, slug).await?;
    let conference = state
        .store
        .conference_by_slug(community.id, conference)
        .await?
        .ok_or_else(|| AppError::NotFound("This conference".into()))?;
    Ok((community, conference))
}

/// What the manage page shows besides the conference itself.
#[derive(Default)]
struct Shown {
    settings: Option<SettingsForm>,
    rooms_text: Option<String>,
    slots_text: Option<String>,
    report: Option<BuildReport>,
    notice: Option<String>,
    error: Option<String>,
}

async fn manage_page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    conference: Conference,
    shown: Shown,
) -> Result<String, AppError> {
    let store = state.store.as_ref();
    let parts = ScheduleParts::read(store, &conference).await?;
    let (rooms_text, slots_text) = setup::grid_text(&conference, &parts.rooms, &parts.slots);
    let registrations = store.registrations(conference.id).await?;
    let seated = registrations.iter().filter(|r| r.has_seat()).count();
    let waitlisted = registrations
        .iter()
        .filter(|r| r.status == hub_core::model::conference::RegistrationStatus::Waitlisted)
        .count();
    let placed: Vec<ProposalId> = parts.placements.iter().map(|p| p.proposal_id).collect();
    let proposals: Vec<LeadProposalRow> = sessions::ranking(&parts.proposals)
        .into_iter()
        .map(|s| LeadProposalRow {
            id: s.proposal.id.to_string(),
            title: s.proposal.title.clone(),
            format: s.proposal.format.as_str(),
            proposer: format!("{} <{}>", s.proposer_name, s.proposer_email),
            co_hosts: s
                .proposal
                .co_hosts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            votes: s.votes,
            placed: placed.contains(&s.proposal.id),
        })
        .collect();
    let titles = |id: ProposalId| {
        parts
            .proposals
            .iter()
            .find(|s| s.proposal.id == id)
            .map_or_else(String::new, |s| s.proposal.title.clone())
    };
    let unfitted = shown
        .report
        .as_ref()
        .map(|r| {
            r.unfitted
                .iter()
                .map(|u| UnfittedRow {
                    title: titles(u.session),
                    reason: describe_unfitted(&u.reason),
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = schedule_rows(&conference, grid(&conference, &parts));
    Ok(ConferenceManagePage {
        nav: nav(user, csrf),
        path: manage_path(&community, &conference),
        public_path: format!(
            "/c/{}/conferences/{}",
            community.slug.as_str(),
            conference.slug
        ),
        days: days(&conference),
        phase: conference.phase.label(),
        // The published schedule is reached by publishing, not by a step.
        next_phase: conference
            .phase
            .next()
            .filter(|p| *p != hub_core::model::conference::ConferencePhase::SchedulePublished)
            .map(|p| p.label()),
        can_publish: matches!(
            conference.phase,
            hub_core::model::conference::ConferencePhase::Proposals
                | hub_core::model::conference::ConferencePhase::Voting
        ) && !parts.placements.is_empty(),
        registration_open: conference.registration_open(),
        settings: shown
            .settings
            .unwrap_or_else(|| SettingsForm::of(&conference)),
        rooms_text: shown.rooms_text.unwrap_or(rooms_text),
        slots_text: shown.slots_text.unwrap_or(slots_text),
        seated,
        waitlisted,
        registrations: registrations
            .iter()
            .map(|r| RegistrationRow {
                id: r.id.to_string(),
                name: r.name.clone(),
                email: r.email.to_string(),
                status: r.status.as_str(),
                cancellable: r.status != hub_core::model::conference::RegistrationStatus::Cancelled,
            })
            .collect(),
        proposals,
        room_choices: parts
            .rooms
            .iter()
            .map(|r| (r.id.to_string(), format!("{} ({})", r.name, r.capacity)))
            .collect(),
        slot_choices: rows
            .iter()
            .map(|r| (r.slot_id.clone(), r.when.clone()))
            .collect(),
        rooms: parts
            .rooms
            .iter()
            .map(|r| format!("{} ({})", r.name, r.capacity))
            .collect(),
        rows,
        report: shown
            .report
            .map(|r| (r.placed, r.clashes, r.baseline_clashes)),
        unfitted,
        notice: shown.notice,
        error: shown.error,
        community,
        conference,
    }
    .render()?)
}

fn describe_unfitted(reason: &hub_core::conferences::builder::Unplaced) -> String {
    use hub_core::conferences::builder::Unplaced;
    match reason {
        Unplaced::TooBigForAnyRoom { expected, largest } => {
            format!("expects {expected} people; the largest room holds {largest}")
        }
        Unplaced::NoRoomLeft => "every room and slot went to a more wanted session".into(),
        Unplaced::HostsBusy => "its hosts run other sessions in every slot with a free room".into(),
    }
}

/// GET `/communities/{slug}/conferences/{conference}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, conf)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let (community, conference) = lead_conference(&state, &user, &slug, &conf).await?;
    Ok(Html(
        manage_page(
            &state,
            &user,
            &csrf,
            community,
            conference,
            Shown::default(),
        )
        .await?,
    ))
}

/// Shows the outcome of a lead's action: back to the page, or the page
/// again with the refusal.
#[allow(clippy::too_many_arguments)] // one outcome, each part distinct
async fn answer(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Community,
    conference: Conference,
    outcome: Result<Option<BuildReport>, ConferenceError>,
    mut shown: Shown,
) -> Result<Response, AppError> {
    match outcome {
        Ok(None) => Ok(Redirect::to(&manage_path(&community, &conference)).into_response()),
        Ok(Some(report)) => {
            // The conference as it is now (its slug may have changed).
            let conference = state
                .store
                .conference(conference.id)
                .await?
                .unwrap_or(conference);
            shown.report = Some(report);
            shown.notice =
                Some("The schedule is built. It is not public until you publish it.".into());
            Ok(
                Html(manage_page(state, user, csrf, community, conference, shown).await?)
                    .into_response(),
            )
        }
        Err(error) => {
            let (status, message) = refusal(error)?;
            shown.error = Some(message);
            let page = manage_page(state, user, csrf, community, conference, shown).await?;
            Ok((status, Html(page)).into_response())
        }
    }
}

/// POST `…/settings`.
pub(crate) async fn change(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = lead_conference(&state, &user, &slug, &conf).await?;
    let changed = match form.request() {
        Ok(request) => {
            setup::change(
                state.store.as_ref(),
                &mailing(&state),
                &community,
                &conference,
                &request,
                &actor(&user.0),
                state.clock.now(),
            )
            .await
        }
        Err(error) => Err(error),
    };
    match changed {
        Ok(conference) => Ok(Redirect::to(&manage_path(&community, &conference)).into_response()),
        Err(error) => {
            let shown = Shown {
                settings: Some(form),
                ..Shown::default()
            };
            answer(
                &state,
                &user,
                &csrf,
                community,
                conference,
                Err(error),
                shown,
            )
            .await
        }
    }
}

/// The rooms and slots form.
#[derive(Debug, Deserialize)]
pub(crate) struct GridForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rooms: String,
    #[serde(default)]
    slots: String,
}

/// POST `…/grid`.
pub(crate) async fn set_grid(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<GridForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = lead_conference(&state, &user, &slug, &conf).await?;
    let outcome = setup::set_grid(
        state.store.as_ref(),
        &conference,
        &form.rooms,
        &form.slots,
        &actor(&user.0),
    )
    .await
    .map(|_| None);
    let shown = Shown {
        rooms_text: Some(form.rooms),
        slots_text: Some(form.slots),
        ..Shown::default()
    };
    answer(&state, &user, &csrf, community, conference, outcome, shown).await
}

/// A lead's button, with what it names.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    open: Option<String>,
    #[serde(default)]
    duplicate: String,
    #[serde(default)]
    into: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    slot: String,
}

fn id<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, ConferenceError> {
    text.trim()
        .parse()
        .map_err(|_| ConferenceError::NotFound(what))
}

/// POST `…/{action}`: advance, registration, merge, build, pin, publish.
pub(crate) async fn act(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, conf, action)): Path<(String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = lead_conference(&state, &user, &slug, &conf).await?;
    let store = state.store.as_ref();
    let who = actor(&user.0);
    let outcome: Result<Option<BuildReport>, ConferenceError> = match action.as_str() {
        "advance" => setup::advance(store, &conference, &who).await.map(|_| None),
        "registration" => setup::set_registration_open(
            store,
            &conference,
            form.open.as_deref() == Some("1"),
            &who,
        )
        .await
        .map(|_| None),
        "merge" => {
            async {
                let duplicate: ProposalId = id(&form.duplicate, "the session to merge")?;
                let into: ProposalId = id(&form.into, "the session to merge into")?;
                sessions::merge(store, &conference, duplicate, into, &who)
                    .await
                    .map(|()| None)
            }
            .await
        }
        "build" => schedule::build(store, &conference, &who).await.map(Some),
        "invite" => hub_core::conferences::channel::invite_list(
            store,
            &community,
            &conference,
            state.settings.public_url.trim_end_matches('/'),
            &who,
            state.clock.now(),
        )
        .await
        .map(|_| None),
        "pin" => {
            async {
                let session: ProposalId = id(&form.session, "the session")?;
                let room: RoomId = id(&form.room, "the room")?;
                let slot: SlotId = id(&form.slot, "the slot")?;
                schedule::pin(store, &conference, session, room, slot, &who)
                    .await
                    .map(|()| None)
            }
            .await
        }
        "publish" => schedule::publish(
            store,
            &community,
            &conference,
            state.settings.public_url.trim_end_matches('/'),
            &who,
            state.clock.now(),
        )
        .await
        .map(|_| None),
        _ => return Err(AppError::NotFound("This page".into())),
    };
    answer(
        &state,
        &user,
        &csrf,
        community,
        conference,
        outcome,
        Shown::default(),
    )
    .await
}

/// POST `…/sessions/{id}/{unpin|take-off}`.
pub(crate) async fn release(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, conf, session, action)): Path<(String, String, String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = lead_conference(&state, &user, &slug, &conf).await?;
    let take_off = match action.as_str() {
        "unpin" => false,
        "take-off" => true,
        _ => return Err(AppError::NotFound("This page".into())),
    };
    let outcome = match id::<ProposalId>(&session, "the session") {
        Ok(session) => schedule::release(
            state.store.as_ref(),
            &conference,
            session,
            take_off,
            &actor(&user.0),
        )
        .await
        .map(|()| None),
        Err(e) => Err(e),
    };
    answer(
        &state,
        &user,
        &csrf,
        community,
        conference,
        outcome,
        Shown::default(),
    )
    .await
}

/// POST `…/registrations/{id}/cancel`: a lead cancels someone's registration.
pub(crate) async fn cancel_registration(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, conf, registration_id)): Path<(String, String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = lead_conference(&state, &user, &slug, &conf).await?;
    let outcome = async {
        let id: RegistrationId = id(&registration_id, "the registration")?;
        let registrant = registration::registrant(state.store.as_ref(), &conference, id)
            .await
            .map_err(|e| match e {
                ConferenceError::NotRegistrant => ConferenceError::NotFound("the registration"),
                other => other,
            })?;
        registration::cancel(
            state.store.as_ref(),
            &mailing(&state),
            &community,
            &conference,
            &registrant,
            &actor(&user.0),
            state.clock.now(),
        )
        .await
        .map(|_| None)
    }
    .await;
    answer(
        &state,
        &user,
        &csrf,
        community,
        conference,
        outcome,
        Shown::default(),
    )
    .await
}
