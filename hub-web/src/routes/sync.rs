//! A community's membership sync on the dashboard: each scheduled channel
//! with its last run, "dry run" and "run now", every run's plan as a diff,
//! and approve or discard for a plan a guardrail holds.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    access::actor,
    ids::SyncRunId,
    model::community::Community,
    sync::{RunMode, StoredPlan},
};
use serde::Deserialize;

use super::{community, nav};
use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    lookup,
    session::CurrentUser,
    templates::{SyncChannelRow, SyncPage, SyncRunPage, SyncRunRow},
};

/// How many recent runs the page lists per channel.
const RUNS_PER_CHANNEL: u32 = 10;

pub(crate) async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let mut channels = Vec::new();
    let mut runs = Vec::new();
    for channel in state.store.channels(community.id).await? {
        let Some(job) = state.store.sync_job_of(channel.id).await? else {
            continue;
        };
        let recent = state.store.sync_runs(job.id, RUNS_PER_CHANNEL).await?;
        let held = hub_core::sync::held_run(&recent).map(|r| r.id);
        runs.extend(recent.iter().map(|run| SyncRunRow {
            channel_name: channel.name.clone(),
            run: run.clone(),
        }));
        channels.push(SyncChannelRow {
            health: channel.health.describe(),
            latest: recent.into_iter().next(),
            channel,
            job,
            held,
        });
    }
    runs.sort_by_key(|row| std::cmp::Reverse(row.run.started_at));
    Ok(Html(
        SyncPage {
            nav: nav(&user, &csrf),
            community,
            channels,
            runs,
        }
        .render()?,
    ))
}

pub(crate) async fn show_run(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, run)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    let (channel, run) = lookup::sync_run(&state, &community, &run).await?;
    let engine_held = match &state.sync {
        Some(engine) => engine.held_run(channel.id).await?.map(|r| r.id),
        None => None,
    };
    let job = state
        .store
        .sync_job_of(channel.id)
        .await?
        .ok_or_else(|| AppError::NotFound("This channel's sync schedule".into()))?;
    Ok(Html(
        SyncRunPage {
            nav: nav(&user, &csrf),
            community,
            plan: StoredPlan::read(&run.plan),
            decidable: engine_held == Some(run.id),
            channel,
            job,
            run,
        }
        .render()?,
    ))
}

/// The run form: its token and whether to apply.
#[derive(Debug, Deserialize)]
pub(crate) struct RunForm {
    #[serde(default)]
    csrf: String,
    /// `dry_run` or `apply`.
    #[serde(default)]
    mode: String,
}

pub(crate) async fn run(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, channel)): Path<(String, String)>,
    Form(form): Form<RunForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let mode = match form.mode.as_str() {
        "dry_run" => RunMode::DryRun,
        "apply" => RunMode::Apply,
        other => {
            return Err(AppError::BadRequest(format!(
                "mode {other:?} must be dry_run or apply"
            )));
        }
    };
    let community = community(&state, &user, &slug).await?;
    let channel = lookup::channel(&state, &community, &channel).await?.id;
    let run = state.sync_engine()?.run(channel, mode).await?;
    Ok(to_run(&community, run.id))
}

pub(crate) async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, channel)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let channel = lookup::channel(&state, &community, &channel).await?.id;
    let run = state.sync_engine()?.approve_held(channel).await?;
    Ok(to_run(&community, run.id))
}

pub(crate) async fn discard(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, channel)): Path<(String, String)>,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let channel = lookup::channel(&state, &community, &channel).await?.id;
    match state.sync_engine()?.discard_held(channel).await? {
        Some(run) => Ok(to_run(&community, run.id)),
        None => Err(AppError::Conflict(
            "no plan is held for this channel, so there is nothing to discard".into(),
        )),
    }
}

/// The form that links a channel account without an email to a member.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkForm {
    #[serde(default)]
    csrf: String,
    /// The channel's id for the account.
    #[serde(default)]
    account: String,
    /// The member's email.
    #[serde(default)]
    email: String,
    /// The run page the form was on, to go back to.
    #[serde(default)]
    run: String,
}

/// Links a channel account the channel gives no email for to a member; the
/// next sync reads it as them.
pub(crate) async fn link(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path((slug, channel)): Path<(String, String)>,
    Form(form): Form<LinkForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let community = community(&state, &user, &slug).await?;
    let channel = lookup::channel(&state, &community, &channel).await?;
    hub_core::sync::link_account(
        state.store.as_ref(),
        &channel,
        &form.account,
        &form.email,
        &actor(&user.0),
    )
    .await
    .map_err(|e| match e {
        hub_core::sync::LinkError::Store(e) => e.into(),
        invalid => AppError::Invalid(invalid.to_string()),
    })?;
    match form.run.parse::<SyncRunId>() {
        Ok(run) => Ok(to_run(&community, run)),
        Err(_) => {
            Ok(Redirect::to(&format!("/communities/{}/sync", community.slug)).into_response())
        }
    }
}

fn to_run(community: &Community, run: SyncRunId) -> Response {
    Redirect::to(&format!("/communities/{}/sync/runs/{run}", community.slug)).into_response()
}
