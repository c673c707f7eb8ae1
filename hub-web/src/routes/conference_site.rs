//! A conference's public pages: its page (register, ask for one's link),
//! the mailed links (confirm a registration, sign in — each a page with a
//! button, because mail scanners open links too), and what a signed-in
//! registrant does there (propose, withdraw, vote, unvote, cancel); the
//! published schedule as a page and as a calendar.
//!
//! A registrant is signed in by a cookie holding a token signed for their
//! registration and a few hours (`registration::session_token`); no
//! password, no database row.

use std::sync::Arc;

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    calls::feed,
    conferences::{
        ConferenceError, calendar,
        registration::{self, Mailing},
        schedule::{ScheduleParts, grid},
        sessions::{self, ProposalRequest},
    },
    ids::ProposalId,
    model::{
        community::Community,
        conference::{
            Conference, ConferencePhase, ProposalState, Registration, RegistrationStatus,
            SessionFormat,
        },
    },
};
use serde::Deserialize;

use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    session::{cookie_header, cookie_name, read_cookie},
    templates::{
        ConferencePage, ConferenceProposalRow, ConfirmLinkPage, Nav, RegistrantView, SchedulePage,
        UpcomingCall,
    },
};

const REGISTRANT_COOKIE: &str = "cophub_registrant";

fn nav(csrf: &CsrfToken) -> Nav {
    Nav {
        user_email: None,
        csrf: csrf.0.clone(),
    }
}

pub(crate) fn mailing(state: &AppState) -> Mailing<'_> {
    Mailing {
        mailer: state.mailer.as_ref().map(Arc::as_ref),
        public_url: state.settings.public_url.trim_end_matches('/'),
    }
}

/// The community and conference a public path names.
async fn public_conference(
    state: &AppState,
    slug: &str,
    conference: &str,
) -> Result<(Community, Conference), AppError> {
    let community = state
        .store
        .community_by_slug(slug)
        .await?
        .ok_or_else(|| AppError::NotFound("This community".into()))?;
    let conference = state
        .store
        .conference_by_slug(community.id, conference)
        .await?
        .ok_or_else(|| AppError::NotFound("This conference".into()))?;
    Ok((community, conference))
}

fn page_path(community: &Community, conference: &Conference) -> String {
    format!(
        "/c/{}/conferences/{}",
        community.slug.as_str(),
        conference.slug
    )
}

/// The signed-in registrant, if the cookie names one of this conference.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    conference: &Conference,
) -> Result<Option<Registration>, AppError> {
    let https = state.settings.https();
    let Some(token) = read_cookie(headers, &cookie_name(REGISTRANT_COOKIE, https)) else {
        return Ok(None);
    };
    let signer = state.secret_keys()?.signer(registration::SESSION_PURPOSE);
    let Some(id) = registration::read_session_token(&signer, token, state.clock.now()) else {
        return Ok(None);
    };
    match registration::registrant(state.store.as_ref(), conference, id).await {
        Ok(registrant) => Ok(Some(registrant)),
        Err(ConferenceError::NotRegistrant) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The signed-in registrant, or 403 saying how to sign in.
async fn require_registrant(
    state: &AppState,
    headers: &HeaderMap,
    conference: &Conference,
) -> Result<Registration, AppError> {
    signed_in(state, headers, conference)
        .await?
        .ok_or_else(|| ConferenceError::NotRegistrant.into())
}

fn session_cookie(
    state: &AppState,
    registrant: &Registration,
) -> Result<header::HeaderValue, AppError> {
    let now = state.clock.now();
    let signer = state.secret_keys()?.signer(registration::SESSION_PURPOSE);
    let token =
        registration::session_token(&signer, registrant.id, registration::session_expiry(now));
    let https = state.settings.https();
    Ok(cookie_header(
        &cookie_name(REGISTRANT_COOKIE, https),
        &token,
        registration::SESSION_HOURS * 3600,
        https,
    ))
}

/// `response`, ending the registrant session.
fn signed_out(state: &AppState, mut response: Response) -> Response {
    let https = state.settings.https();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&cookie_name(REGISTRANT_COOKIE, https), "", 0, https),
    );
    response
}

/// The register and propose forms, kept when shown again with an error.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConferenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    co_hosts: String,
}

/// What the page says after an action, by the `done` query word.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    #[serde(default)]
    done: Option<String>,
}

fn done_notice(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "registered" => {
            "Check your mail: we sent you a link. Open it to confirm your registration (or, if you are registered already, to sign in)."
        }
        "link" => "If that address is registered, a link to sign in is on its way.",
        "confirmed" => "Your registration is confirmed.",
        "proposed" => "Your session is proposed.",
        "withdrawn" => "Your session is withdrawn.",
        "voted" => "Your vote is counted.",
        "unvoted" => "Your vote is withdrawn.",
        "cancelled" => "Your registration is cancelled. Thank you for giving your seat back.",
        "signed-out" => "You are signed out.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[allow(clippy::too_many_arguments)] // one page, each part distinct
async fn render_page(
    state: &AppState,
    csrf: &CsrfToken,
    community: Community,
    conference: Conference,
    registrant: Option<Registration>,
    form: ConferenceForm,
    notice: Option<String>,
    error: Option<String>,
) -> Result<String, AppError> {
    let store = state.store.as_ref();
    let registrations = store.registrations(conference.id).await?;
    let seated = registrations.iter().filter(|r| r.has_seat()).count();
    let seats_left = (conference.capacity as usize).saturating_sub(seated);
    let summaries = if conference.phase >= ConferencePhase::Proposals {
        store.proposals(conference.id).await?
    } else {
        Vec::new()
    };
    let my_votes: Vec<ProposalId> = match &registrant {
        Some(r) => sessions::votes_of(store, &conference, r).await?,
        None => Vec::new(),
    };
    let show_votes = sessions::sees_ranking(&conference, false);
    let ordered: Vec<_> = if show_votes {
        sessions::ranking(&summaries)
    } else {
        summaries
            .iter()
            .filter(|s| s.proposal.state == ProposalState::Open)
            .collect()
    };
    let proposals = ordered
        .into_iter()
        .map(|s| ConferenceProposalRow {
            id: s.proposal.id.to_string(),
            title: s.proposal.title.clone(),
            description: s.proposal.description.clone(),
            format: s.proposal.format.as_str(),
            proposer: s.proposer_name.clone(),
            co_hosts: s
                .proposal
                .co_hosts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            votes: show_votes.then_some(s.votes),
            voted: my_votes.contains(&s.proposal.id),
            mine: registrant
                .as_ref()
                .is_some_and(|r| r.id == s.proposal.proposer),
        })
        .collect();
    // The community's calls, listed for the people coming (issue: calls
    // reach an open conference's registrants); join links only for those
    // with a seat.
    let now = state.clock.now();
    let seated = registrant.as_ref().is_some_and(Registration::has_seat);
    let calls = if conference.phase < ConferencePhase::Done {
        let mut upcoming: Vec<_> = store
            .community_calls(community.id)
            .await?
            .into_iter()
            .filter(|c| c.status == hub_core::model::call::CallStatus::Scheduled)
            .filter_map(|c| c.next_occurrence(now).map(|o| (o.starts_at, c)))
            .collect();
        upcoming.sort_by_key(|(at, _)| *at);
        upcoming
            .into_iter()
            .take(5)
            .map(|(at, call)| UpcomingCall {
                when: format!(
                    "{} {}",
                    at.with_timezone(&call.timezone)
                        .format("%a %-d %b %Y, %H:%M"),
                    call.timezone.name()
                ),
                join_url: if seated { call.join_url.clone() } else { None },
                title: call.title,
            })
            .collect()
    } else {
        Vec::new()
    };
    let registrant = registrant.map(|r| {
        let waitlist_position = (r.status == RegistrationStatus::Waitlisted).then(|| {
            1 + registrations
                .iter()
                .filter(|o| {
                    o.status == RegistrationStatus::Waitlisted && o.confirmed_at < r.confirmed_at
                })
                .count()
        });
        RegistrantView {
            seated: r.has_seat(),
            name: r.name,
            email: r.email.to_string(),
            status: r.status.as_str(),
            waitlist_position,
            votes_left: conference
                .vote_budget
                .saturating_sub(u32::try_from(my_votes.len()).unwrap_or(u32::MAX)),
        }
    });
    Ok(ConferencePage {
        nav: nav(csrf),
        path: page_path(&community, &conference),
        days: days(&conference),
        phase: conference.phase.label(),
        registration_open: conference.registration_open(),
        proposals_open: conference.phase == ConferencePhase::Proposals,
        voting_open: conference.phase == ConferencePhase::Voting,
        published: conference.phase >= ConferencePhase::SchedulePublished,
        seats_left,
        formats: SessionFormat::ALL.iter().map(|f| f.as_str()).collect(),
        community,
        conference,
        registrant,
        proposals,
        calls,
        form_email: form.email,
        form_name: form.name,
        form_title: form.title,
        form_description: form.description,
        form_format: form.format,
        form_co_hosts: form.co_hosts,
        notice,
        error,
    }
    .render()?)
}

pub(crate) fn days(conference: &Conference) -> String {
    if conference.starts_on == conference.ends_on {
        conference.starts_on.format("%a %-d %B %Y").to_string()
    } else {
        format!(
            "{} – {}",
            conference.starts_on.format("%a %-d %B %Y"),
            conference.ends_on.format("%a %-d %B %Y")
        )
    }
}

/// A refusal shown on the page itself, with the forms as they were;
/// server faults go to the error page.
async fn refused(
    state: &AppState,
    csrf: &CsrfToken,
    community: Community,
    conference: Conference,
    registrant: Option<Registration>,
    form: ConferenceForm,
    error: ConferenceError,
) -> Result<Response, AppError> {
    let message = error.to_string();
    let error = AppError::from(error);
    if matches!(error, AppError::Internal(_) | AppError::Unavailable(_)) {
        return Err(error);
    }
    let page = render_page(
        state,
        csrf,
        community,
        conference,
        registrant,
        form,
        None,
        Some(message),
    )
    .await?;
    Ok((error.status(), Html(page)).into_response())
}

/// GET `/c/{slug}/conferences/{conference}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Path((slug, conf)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Result<Html<String>, AppError> {
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let registrant = signed_in(&state, &headers, &conference).await?;
    let notice = done_notice(done.done.as_deref());
    Ok(Html(
        render_page(
            &state,
            &csrf,
            community,
            conference,
            registrant,
            ConferenceForm::default(),
            notice,
            None,
        )
        .await?,
    ))
}

fn back(community: &Community, conference: &Conference, done: &str) -> Response {
    Redirect::to(&format!("{}?done={done}", page_path(community, conference))).into_response()
}

/// POST `/c/{slug}/conferences/{conference}/register`.
pub(crate) async fn register(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<ConferenceForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let asked = registration::register(
        state.store.as_ref(),
        &mailing(&state),
        &community,
        &conference,
        &form.email,
        &form.name,
        state.clock.now(),
    )
    .await;
    match asked {
        Ok(()) => Ok(back(&community, &conference, "registered")),
        Err(error) => {
            let registrant = signed_in(&state, &headers, &conference).await?;
            refused(
                &state, &csrf, community, conference, registrant, form, error,
            )
            .await
        }
    }
}

/// POST `/c/{slug}/conferences/{conference}/access`: mails a sign-in link.
pub(crate) async fn request_access(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<ConferenceForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let asked = registration::request_access(
        state.store.as_ref(),
        &mailing(&state),
        &community,
        &conference,
        &form.email,
        state.clock.now(),
    )
    .await;
    match asked {
        Ok(()) => Ok(back(&community, &conference, "link")),
        Err(error) => refused(&state, &csrf, community, conference, None, form, error).await,
    }
}

/// GET `…/confirm/{token}` and `…/sign-in/{token}`: a page with the button.
pub(crate) async fn link_page(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, conf, kind, token)): Path<(String, String, String, String)>,
) -> Result<Html<String>, AppError> {
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let (heading, text, button) = match kind.as_str() {
        "confirm" => (
            "Confirm your registration",
            format!(
                "Press the button to confirm your registration for {}.",
                conference.name
            ),
            "Confirm",
        ),
        "sign-in" => (
            "Sign in",
            format!(
                "Press the button to sign in to {} for a few hours.",
                conference.name
            ),
            "Sign in",
        ),
        _ => return Err(AppError::NotFound("This page".into())),
    };
    Ok(Html(
        ConfirmLinkPage {
            nav: nav(&csrf),
            action: format!("{}/{kind}/{token}", page_path(&community, &conference)),
            community,
            heading,
            text,
            button,
        }
        .render()?,
    ))
}

/// POST `…/confirm/{token}` or `…/sign-in/{token}`: uses the link and signs
/// the registrant in.
pub(crate) async fn use_link(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, conf, kind, token)): Path<(String, String, String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let now = state.clock.now();
    let (registrant, done) = match kind.as_str() {
        "confirm" => (
            registration::confirm(
                state.store.as_ref(),
                &mailing(&state),
                &community,
                &conference,
                &token,
                now,
            )
            .await?,
            "confirmed",
        ),
        "sign-in" => (
            registration::sign_in(state.store.as_ref(), &conference, &token, now).await?,
            "signed-in",
        ),
        _ => return Err(AppError::NotFound("This page".into())),
    };
    let cookie = session_cookie(&state, &registrant)?;
    let mut response = back(&community, &conference, done);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// POST `…/sign-out`.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    Ok(signed_out(
        &state,
        back(&community, &conference, "signed-out"),
    ))
}

/// POST `…/proposals`: a signed-in registrant proposes a session.
pub(crate) async fn propose(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<ConferenceForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let registrant = require_registrant(&state, &headers, &conference).await?;
    let request = ProposalRequest {
        title: form.title.clone(),
        description: form.description.clone(),
        format: form.format.clone(),
        co_hosts: form.co_hosts.clone(),
    };
    match sessions::propose(
        state.store.as_ref(),
        &conference,
        &registrant,
        &request,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => Ok(back(&community, &conference, "proposed")),
        Err(error) => {
            refused(
                &state,
                &csrf,
                community,
                conference,
                Some(registrant),
                form,
                error,
            )
            .await
        }
    }
}

/// POST `…/proposals/{id}/{action}`: withdraw, vote or unvote.
pub(crate) async fn act_on_proposal(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Path((slug, conf, id, action)): Path<(String, String, String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let registrant = require_registrant(&state, &headers, &conference).await?;
    let id: ProposalId = id
        .parse()
        .map_err(|_| AppError::NotFound("This session".into()))?;
    let store = state.store.as_ref();
    let (outcome, done) = match action.as_str() {
        "withdraw" => (
            sessions::withdraw_proposal(store, &conference, &registrant, id)
                .await
                .map(|_| ()),
            "withdrawn",
        ),
        "vote" => (
            sessions::vote(store, &conference, &registrant, id, state.clock.now()).await,
            "voted",
        ),
        "unvote" => (
            sessions::unvote(store, &conference, &registrant, id).await,
            "unvoted",
        ),
        _ => return Err(AppError::NotFound("This page".into())),
    };
    match outcome {
        Ok(()) => Ok(back(&community, &conference, done)),
        Err(error) => {
            refused(
                &state,
                &csrf,
                community,
                conference,
                Some(registrant),
                ConferenceForm::default(),
                error,
            )
            .await
        }
    }
}

/// POST `…/cancel`: a registrant gives their seat (or waitlist place) up.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Path((slug, conf)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    let registrant = require_registrant(&state, &headers, &conference).await?;
    registration::cancel(
        state.store.as_ref(),
        &mailing(&state),
        &community,
        &conference,
        &registrant,
        &hub_core::access::member_actor(&registrant.email),
        state.clock.now(),
    )
    .await?;
    Ok(signed_out(
        &state,
        back(&community, &conference, "cancelled"),
    ))
}

/// GET `…/schedule`: the published schedule.
pub(crate) async fn schedule(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path((slug, conf)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    if conference.phase < ConferencePhase::SchedulePublished {
        return Err(AppError::NotFound(
            "The schedule (it is not published yet)".into(),
        ));
    }
    let parts = ScheduleParts::read(state.store.as_ref(), &conference).await?;
    let rows = grid(&conference, &parts);
    Ok(Html(
        SchedulePage {
            nav: nav(&csrf),
            path: page_path(&community, &conference),
            days: days(&conference),
            rooms: parts.rooms.iter().map(|r| r.name.clone()).collect(),
            rows: crate::templates::schedule_rows(&conference, rows),
            community,
            conference,
        }
        .render()?,
    ))
}

/// GET `…/schedule.ics`: the published schedule as a calendar.
pub(crate) async fn schedule_calendar(
    State(state): State<AppState>,
    Path((slug, conf)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (community, conference) = public_conference(&state, &slug, &conf).await?;
    if conference.phase < ConferencePhase::SchedulePublished {
        return Err(AppError::NotFound(
            "The schedule (it is not published yet)".into(),
        ));
    }
    let public_url = state.settings.public_url.trim_end_matches('/');
    let sender = feed::sender(&community, &state.settings.organizer, public_url);
    let events = calendar::sessions(
        state.store.as_ref(),
        &community,
        &conference,
        &sender,
        public_url,
        false,
    )
    .await?;
    let text = hub_core::calls::ical::feed_with_sessions(&sender, &[], &events, state.clock.now());
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        text,
    )
        .into_response())
}
