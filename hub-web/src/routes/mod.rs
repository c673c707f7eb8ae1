//! The dashboard's routes and the health endpoints. Modules are nouns,
//! handlers are verbs.

mod announcements;
mod assets;
mod audit;
mod auth;
mod calendar;
pub(crate) mod calls;
mod communities;
mod conference_site;
pub(crate) mod conferences;
mod health;
mod members;
mod membership;
pub(crate) mod metrics;
mod overview;
pub(crate) use members::member_query;
mod channels;
mod setup;
mod sync;
mod unsubscribe;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::{AppState, csrf::CsrfToken, session::CurrentUser, templates::Nav};

/// The largest members CSV the dashboard accepts (about 500,000 rows).
pub(crate) const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::show))
        .route("/static/app.css", get(assets::stylesheet))
        .route("/setup/{token}", get(setup::show).post(setup::create_owner))
        .route("/login", get(auth::show).post(auth::login))
        .route("/c/{slug}/calendar.ics", get(calendar::public))
        .route("/c/{slug}/calendar/{token}", get(calendar::private))
        .route(
            "/c/{slug}/join",
            get(membership::join_form).post(membership::join),
        )
        .route(
            "/c/{slug}/join/{token}",
            get(membership::join_link).post(membership::confirm_join),
        )
        .route(
            "/c/{slug}/preferences",
            get(membership::preferences_form).post(membership::request_preferences),
        )
        .route(
            "/c/{slug}/preferences/{token}",
            get(membership::preferences).post(membership::save_preferences),
        )
        .route(
            "/c/{slug}/conferences/{conference}",
            get(conference_site::show),
        )
        .route(
            "/c/{slug}/conferences/{conference}/register",
            post(conference_site::register),
        )
        .route(
            "/c/{slug}/conferences/{conference}/access",
            post(conference_site::request_access),
        )
        .route(
            "/c/{slug}/conferences/{conference}/sign-out",
            post(conference_site::sign_out),
        )
        .route(
            "/c/{slug}/conferences/{conference}/cancel",
            post(conference_site::cancel),
        )
        .route(
            "/c/{slug}/conferences/{conference}/proposals",
            post(conference_site::propose),
        )
        .route(
            "/c/{slug}/conferences/{conference}/proposals/{id}/{action}",
            post(conference_site::act_on_proposal),
        )
        .route(
            "/c/{slug}/conferences/{conference}/schedule",
            get(conference_site::schedule),
        )
        .route(
            "/c/{slug}/conferences/{conference}/schedule.ics",
            get(conference_site::schedule_calendar),
        )
        .route(
            "/c/{slug}/conferences/{conference}/{kind}/{token}",
            get(conference_site::link_page).post(conference_site::use_link),
        )
        .route(
            "/u/{token}",
            get(unsubscribe::show).post(unsubscribe::confirm),
        )
        .route("/logout", post(auth::logout))
        .route("/", get(communities::list))
        .route("/communities", post(communities::create))
        .route("/communities/{slug}", get(overview::show))
        .route(
            "/communities/{slug}/announcements/preview",
            post(announcements::preview),
        )
        .route(
            "/communities/{slug}/announcements/{id}/deliveries",
            get(announcements::deliveries),
        )
        .route("/static/app.js", get(assets::script))
        .route(
            "/communities/{slug}/members",
            get(members::list).post(members::create),
        )
        .route("/communities/{slug}/members/new", get(members::new))
        .route("/communities/{slug}/members.csv", get(members::export))
        .route(
            "/communities/{slug}/members/{id}/resume-email",
            post(members::resume_email),
        )
        .route(
            "/communities/{slug}/members/{id}",
            get(members::show).post(members::update),
        )
        .route(
            "/communities/{slug}/channels/zoom",
            post(channels::connect_zoom),
        )
        .route(
            "/communities/{slug}/calls",
            get(calls::list).post(calls::create),
        )
        .route("/communities/{slug}/calls/{id}/cancel", post(calls::cancel))
        .route(
            "/communities/{slug}/conferences",
            get(conferences::list).post(conferences::create),
        )
        .route(
            "/communities/{slug}/conferences/{conference}",
            get(conferences::show),
        )
        .route(
            "/communities/{slug}/conferences/{conference}/settings",
            post(conferences::change),
        )
        .route(
            "/communities/{slug}/conferences/{conference}/grid",
            post(conferences::set_grid),
        )
        .route(
            "/communities/{slug}/conferences/{conference}/registrations/{id}/cancel",
            post(conferences::cancel_registration),
        )
        .route(
            "/communities/{slug}/conferences/{conference}/sessions/{id}/{action}",
            post(conferences::release),
        )
        .route(
            "/communities/{slug}/conferences/{conference}/{action}",
            post(conferences::act),
        )
        .route(
            "/communities/{slug}/announcements",
            get(announcements::list).post(announcements::create),
        )
        .route(
            "/communities/{slug}/announcements/{id}",
            get(announcements::show),
        )
        .route(
            "/communities/{slug}/announcements/{id}/edit",
            post(announcements::edit),
        )
        .route(
            "/communities/{slug}/announcements/{id}/retract",
            post(announcements::retract),
        )
        .route(
            "/communities/{slug}/announcements/{id}/deliveries/{delivery}/retry",
            post(announcements::retry),
        )
        .route("/audit", get(audit::log))
        .route("/communities/{slug}/audit", get(audit::community_log))
        .route("/communities/{slug}/sync", get(sync::show))
        .route("/communities/{slug}/channels", get(channels::list))
        .route(
            "/communities/{slug}/channels/slack/install",
            post(channels::install),
        )
        .route(
            "/communities/{slug}/channels/{channel}/conversations",
            get(channels::conversations).post(channels::choose_conversations),
        )
        .route("/slack/oauth/callback", get(channels::callback))
        .route("/communities/{slug}/sync/runs/{run}", get(sync::show_run))
        .route("/communities/{slug}/sync/{channel}/run", post(sync::run))
        .route(
            "/communities/{slug}/sync/{channel}/approve",
            post(sync::approve),
        )
        .route(
            "/communities/{slug}/sync/{channel}/discard",
            post(sync::discard),
        )
        .route(
            "/communities/{slug}/import",
            get(members::import_form)
                .post(members::import)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
}

/// The community with this slug, if the user may see it; "not found" otherwise.
pub(crate) async fn community(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> Result<hub_core::model::community::Community, crate::error::AppError> {
    hub_core::access::visible_community(state.store.as_ref(), &user.0, slug)
        .await?
        .ok_or_else(|| crate::error::AppError::NotFound("This community".into()))
}

/// The page header for a logged-in user.
pub(crate) fn nav(user: &CurrentUser, csrf: &CsrfToken) -> Nav {
    Nav {
        user_email: Some(user.0.email.to_string()),
        csrf: csrf.0.clone(),
    }
}
