//! The dashboard's routes and the health endpoints. Modules are nouns,
//! handlers are verbs.

mod announcements;
mod archive;
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
mod tokens;
mod unsubscribe;
mod users;

use axum::{Router, extract::DefaultBodyLimit};

use crate::{
    AppState,
    access::{self, Access, Route},
    csrf::CsrfToken,
    session::CurrentUser,
    templates::Nav,
};

/// The largest members CSV the dashboard accepts (about 500,000 rows).
pub(crate) const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

/// The dashboard's routes and public pages, each with who may use it
/// (see [`crate::access`]).
pub(crate) fn rows() -> Vec<Route> {
    vec![
        Route::get("/healthz", Access::Public, health::live),
        Route::get("/readyz", Access::Public, health::ready),
        Route::get("/metrics", Access::Owner, metrics::show).by_token(),
        Route::get("/static/app.css", Access::Public, assets::stylesheet),
        Route::get("/setup/{token}", Access::Public, setup::show),
        Route::post("/setup/{token}", Access::Public, setup::create_owner),
        Route::get("/login", Access::Public, auth::show),
        Route::post("/login", Access::Public, auth::login),
        Route::get("/c/{slug}/calendar.ics", Access::Public, calendar::public),
        Route::get(
            "/c/{slug}/calendar/{token}",
            Access::Public,
            calendar::private,
        ),
        Route::get("/c/{slug}/join", Access::Public, membership::join_form),
        Route::post("/c/{slug}/join", Access::Public, membership::join),
        Route::get(
            "/c/{slug}/join/{token}",
            Access::Public,
            membership::join_link,
        ),
        Route::post(
            "/c/{slug}/join/{token}",
            Access::Public,
            membership::confirm_join,
        ),
        Route::get(
            "/c/{slug}/preferences",
            Access::Public,
            membership::preferences_form,
        ),
        Route::post(
            "/c/{slug}/preferences",
            Access::Public,
            membership::request_preferences,
        ),
        Route::get(
            "/c/{slug}/preferences/{token}",
            Access::Public,
            membership::preferences,
        ),
        Route::post(
            "/c/{slug}/preferences/{token}",
            Access::Public,
            membership::save_preferences,
        ),
        Route::get("/c/{slug}/announcements", Access::Public, archive::list),
        Route::post(
            "/c/{slug}/announcements",
            Access::Public,
            archive::request_link,
        ),
        Route::get(
            "/c/{slug}/announcements/{id}",
            Access::Public,
            archive::show,
        ),
        Route::get(
            "/c/{slug}/announcements/sign-in/{token}",
            Access::Public,
            archive::link_page,
        ),
        Route::post(
            "/c/{slug}/announcements/sign-in/{token}",
            Access::Public,
            archive::sign_in,
        ),
        Route::post(
            "/c/{slug}/announcements/sign-out",
            Access::Public,
            archive::sign_out,
        ),
        Route::get(
            "/c/{slug}/conferences/{conference}",
            Access::Public,
            conference_site::show,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/register",
            Access::Public,
            conference_site::register,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/access",
            Access::Public,
            conference_site::request_access,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/sign-out",
            Access::Public,
            conference_site::sign_out,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/cancel",
            Access::Public,
            conference_site::cancel,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/proposals",
            Access::Public,
            conference_site::propose,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/proposals/{id}/{action}",
            Access::Public,
            conference_site::act_on_proposal,
        ),
        Route::get(
            "/c/{slug}/conferences/{conference}/schedule",
            Access::Public,
            conference_site::schedule,
        ),
        Route::get(
            "/c/{slug}/conferences/{conference}/schedule.ics",
            Access::Public,
            conference_site::schedule_calendar,
        ),
        Route::get(
            "/c/{slug}/conferences/{conference}/{kind}/{token}",
            Access::Public,
            conference_site::link_page,
        ),
        Route::post(
            "/c/{slug}/conferences/{conference}/{kind}/{token}",
            Access::Public,
            conference_site::use_link,
        ),
        Route::get("/u/{token}", Access::Public, unsubscribe::show),
        Route::post("/u/{token}", Access::Public, unsubscribe::confirm),
        Route::post("/logout", Access::Public, auth::logout),
        Route::get("/", Access::SignedIn, communities::list),
        Route::post("/communities", Access::Owner, communities::create),
        Route::get("/communities/{slug}", Access::Lead, overview::show),
        Route::post("/communities/{slug}/archive", Access::Lead, archive::change),
        Route::post(
            "/communities/{slug}/announcements/preview",
            Access::Lead,
            announcements::preview,
        ),
        Route::get(
            "/communities/{slug}/announcements/{id}/deliveries",
            Access::Lead,
            announcements::deliveries,
        ),
        Route::get("/static/app.js", Access::Public, assets::script),
        Route::get("/communities/{slug}/members", Access::Lead, members::list),
        Route::post("/communities/{slug}/members", Access::Lead, members::create),
        Route::get(
            "/communities/{slug}/members/new",
            Access::Lead,
            members::new,
        ),
        Route::get(
            "/communities/{slug}/members.csv",
            Access::Lead,
            members::export,
        ),
        Route::post(
            "/communities/{slug}/members/{id}/resume-email",
            Access::Lead,
            members::resume_email,
        ),
        Route::get(
            "/communities/{slug}/members/{id}",
            Access::Lead,
            members::show,
        ),
        Route::post(
            "/communities/{slug}/members/{id}",
            Access::Lead,
            members::update,
        ),
        Route::post(
            "/communities/{slug}/channels/zoom",
            Access::Lead,
            channels::connect_zoom,
        ),
        Route::get("/communities/{slug}/calls", Access::Lead, calls::list),
        Route::post("/communities/{slug}/calls", Access::Lead, calls::create),
        Route::post(
            "/communities/{slug}/calls/{id}/cancel",
            Access::Lead,
            calls::cancel,
        ),
        Route::get(
            "/communities/{slug}/conferences",
            Access::Lead,
            conferences::list,
        ),
        Route::post(
            "/communities/{slug}/conferences",
            Access::Lead,
            conferences::create,
        ),
        Route::get(
            "/communities/{slug}/conferences/{conference}",
            Access::Lead,
            conferences::show,
        ),
        Route::post(
            "/communities/{slug}/conferences/{conference}/settings",
            Access::Lead,
            conferences::change,
        ),
        Route::post(
            "/communities/{slug}/conferences/{conference}/grid",
            Access::Lead,
            conferences::set_grid,
        ),
        Route::post(
            "/communities/{slug}/conferences/{conference}/registrations/{id}/cancel",
            Access::Lead,
            conferences::cancel_registration,
        ),
        Route::post(
            "/communities/{slug}/conferences/{conference}/sessions/{id}/{action}",
            Access::Lead,
            conferences::release,
        ),
        Route::post(
            "/communities/{slug}/conferences/{conference}/{action}",
            Access::Lead,
            conferences::act,
        ),
        Route::get(
            "/communities/{slug}/announcements",
            Access::Lead,
            announcements::list,
        ),
        Route::post(
            "/communities/{slug}/announcements",
            Access::Lead,
            announcements::create,
        ),
        Route::get(
            "/communities/{slug}/announcements/{id}",
            Access::Lead,
            announcements::show,
        ),
        Route::post(
            "/communities/{slug}/announcements/{id}/edit",
            Access::Lead,
            announcements::edit,
        ),
        Route::post(
            "/communities/{slug}/announcements/{id}/retract",
            Access::Lead,
            announcements::retract,
        ),
        Route::post(
            "/communities/{slug}/announcements/{id}/deliveries/{delivery}/retry",
            Access::Lead,
            announcements::retry,
        ),
        Route::get("/audit", Access::Owner, audit::log),
        Route::get("/tokens", Access::SignedIn, tokens::list),
        Route::post("/tokens", Access::SignedIn, tokens::create),
        Route::post("/tokens/{id}/revoke", Access::SignedIn, tokens::revoke),
        Route::get("/users", Access::Owner, users::list),
        Route::post("/users/{id}/owner", Access::Owner, users::set_owner),
        Route::get(
            "/communities/{slug}/audit",
            Access::Lead,
            audit::community_log,
        ),
        Route::get("/communities/{slug}/sync", Access::Lead, sync::show),
        Route::get("/communities/{slug}/channels", Access::Lead, channels::list),
        Route::post(
            "/communities/{slug}/channels/slack/install",
            Access::Lead,
            channels::install,
        ),
        Route::get(
            "/communities/{slug}/channels/{channel}/conversations",
            Access::Lead,
            channels::conversations,
        ),
        Route::post(
            "/communities/{slug}/channels/{channel}/conversations",
            Access::Lead,
            channels::choose_conversations,
        ),
        Route::get(
            "/slack/oauth/callback",
            Access::SignedIn,
            channels::callback,
        ),
        Route::get(
            "/communities/{slug}/sync/runs/{run}",
            Access::Lead,
            sync::show_run,
        ),
        Route::post(
            "/communities/{slug}/sync/{channel}/run",
            Access::Lead,
            sync::run,
        ),
        Route::post(
            "/communities/{slug}/sync/{channel}/approve",
            Access::Lead,
            sync::approve,
        ),
        Route::post(
            "/communities/{slug}/sync/{channel}/discard",
            Access::Lead,
            sync::discard,
        ),
        Route::post(
            "/communities/{slug}/sync/{channel}/link",
            Access::Lead,
            sync::link,
        ),
        Route::get(
            "/communities/{slug}/import",
            Access::Lead,
            members::import_form,
        )
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        Route::post("/communities/{slug}/import", Access::Lead, members::import)
            .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
    ]
}

/// The dashboard and the public pages.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    access::router(state, rows())
}

/// The community with this slug, if the user may see it; "not found" otherwise.
pub(crate) async fn community(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
) -> Result<hub_core::model::community::Community, crate::error::AppError> {
    access::visible_community(state, &user.0, slug)
        .await?
        .ok_or_else(|| crate::error::AppError::NotFound("This community".into()))
}

/// The page header for a logged-in user.
pub(crate) fn nav(user: &CurrentUser, csrf: &CsrfToken) -> Nav {
    Nav {
        user_email: Some(crate::templates::NavUser {
            email: user.0.email.to_string(),
            is_owner: user.0.is_owner,
        }),
        csrf: csrf.0.clone(),
    }
}
