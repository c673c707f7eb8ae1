//! `/api/v1/communities/{slug}/channels` and their membership sync: run (or
//! only plan) a sync, list runs, read a run's plan, approve or discard a
//! held plan.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use hub_core::{
    ids::ChannelId,
    model::{
        channel::Channel,
        community::Community,
        sync::{SyncCounts, SyncDirection, SyncJob, SyncRun, SyncRunState},
    },
    sync::RunMode,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiUser};
use crate::{
    AppState,
    error::{ApiError, AppError},
    lookup,
};

/// A community's connection to one tool.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelDto {
    id: Uuid,
    /// `email_list`, `mailman`, `slack`, `zoom`, `conference` or `webhook`.
    kind: String,
    name: String,
    /// `ok`, `needs_reconnect` or `failing`.
    health: String,
    /// What the tool last said, when the channel is not ok.
    last_error: Option<String>,
    /// Sends to the channel start at least this far apart, across all workers.
    min_interval_ms: u32,
    /// Its membership sync schedule, if it has one.
    sync: Option<SyncJobDto>,
    created_at: DateTime<Utc>,
}

/// A channel's membership sync schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncJobDto {
    #[schema(value_type = String, example = "mirror")]
    direction: SyncDirection,
    /// Five fields or `@daily`, in the community's timezone.
    cron: String,
    /// A plan removing more than this share of a side…
    max_remove_fraction: f64,
    /// …and more than this many people is held for approval.
    max_remove_count: u32,
    /// How many members the last complete read of the channel found.
    last_seen: Option<u64>,
}

impl ChannelDto {
    fn new(channel: Channel, job: Option<SyncJob>) -> Self {
        use hub_core::model::channel::ChannelHealth;
        let last_error = match &channel.health {
            ChannelHealth::Ok => None,
            ChannelHealth::NeedsReconnect { last_error }
            | ChannelHealth::Failing { last_error } => Some(last_error.clone()),
        };
        Self {
            id: channel.id.0,
            kind: channel.kind.to_string(),
            name: channel.name,
            health: channel.health.word().to_owned(),
            last_error,
            min_interval_ms: channel.min_interval_ms,
            sync: job.map(|job| SyncJobDto {
                direction: job.direction,
                cron: job.cron,
                max_remove_fraction: job.max_remove_fraction,
                max_remove_count: job.max_remove_count,
                last_seen: job.last_seen,
            }),
            created_at: channel.created_at,
        }
    }
}

/// One run of a channel's membership sync.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncRunDto {
    id: Uuid,
    channel_id: Uuid,
    /// `planned` (a dry run, or an observe-only channel), `held` (waiting
    /// for a lead's approval), `applied`, `failed` or `discarded`.
    #[schema(value_type = String, example = "applied")]
    state: SyncRunState,
    /// added, removed, updated, unchanged, unmatched, errors, api_calls.
    #[schema(value_type = Object)]
    counts: SyncCounts,
    /// The plan: `hub_adds`, `consent_changes`, `channel_adds`,
    /// `channel_removals` and `unmatched` (their first 1,000 entries each),
    /// `totals` (every list's full length), `unchanged`, `truncated`, and
    /// `held` (why it waits for approval, or null).
    #[schema(value_type = Object)]
    plan: serde_json::Value,
    /// Why it failed, or why an approval did not cover it.
    error: Option<String>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl SyncRunDto {
    fn new(channel: ChannelId, run: SyncRun) -> Self {
        Self {
            id: run.id.0,
            channel_id: channel.0,
            state: run.state,
            counts: run.counts,
            plan: run.plan,
            error: run.error,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// A list of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncRunList {
    items: Vec<SyncRunDto>,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/channels", tag = "channels",
    params(("slug" = String, Path)),
    responses((status = 200, body = [ChannelDto])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<ChannelDto>>, ApiError> {
    let community = user.community(&state, &slug).await?;
    let mut items = Vec::new();
    for channel in state.store.channels(community.id).await? {
        let job = state.store.sync_job_of(channel.id).await?;
        items.push(ChannelDto::new(channel, job));
    }
    Ok(Json(items))
}

/// How to run.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunParams {
    /// Plan only and change nothing; the plan is kept as a `planned` run.
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/channels/{id}/sync", tag = "channels",
    params(("slug" = String, Path), ("id" = Uuid, Path), RunParams),
    responses((status = 201, body = SyncRunDto, description = "The run: applied, held by a guardrail, planned (dry run) or failed (its error says why)"),
        (status = 404, description = "No such channel, or it has no sync schedule"),
        (status = 422, description = "The channel's kind has no members to sync")))]
pub(crate) async fn run(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    params: Result<Query<RunParams>, axum::extract::rejection::QueryRejection>,
) -> Result<(StatusCode, Json<SyncRunDto>), ApiError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let (_, channel) = channel(&state, &user, &slug, &id).await?;
    let mode = if params.dry_run {
        RunMode::DryRun
    } else {
        RunMode::Apply
    };
    let run = state.sync_engine()?.run(channel, mode).await?;
    Ok((StatusCode::CREATED, Json(SyncRunDto::new(channel, run))))
}

/// How many runs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsParams {
    /// 1 to 200; 20 by default.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/channels/{id}/sync/runs", tag = "channels",
    params(("slug" = String, Path), ("id" = Uuid, Path), RunsParams),
    responses((status = 200, body = SyncRunList),
        (status = 404, description = "No such channel, or it has no sync schedule")))]
pub(crate) async fn runs(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    params: Result<Query<RunsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SyncRunList>, ApiError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(AppError::BadRequest("limit must be between 1 and 200".into()).into());
    }
    let (_, channel) = channel(&state, &user, &slug, &id).await?;
    let job = state
        .store
        .sync_job_of(channel)
        .await?
        .ok_or_else(|| AppError::NotFound("This channel's sync schedule".into()))?;
    let items = state
        .store
        .sync_runs(job.id, limit)
        .await?
        .into_iter()
        .map(|run| SyncRunDto::new(channel, run))
        .collect();
    Ok(Json(SyncRunList { items }))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/sync/runs/{id}", tag = "channels",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = SyncRunDto), (status = 404, description = "No such run")))]
pub(crate) async fn show_run(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<Json<SyncRunDto>, ApiError> {
    let community = user.community(&state, &slug).await?;
    let (channel, run) = lookup::sync_run(&state, &community, &id).await?;
    Ok(Json(SyncRunDto::new(channel.id, run)))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/channels/{id}/sync/approve", tag = "channels",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 201, body = SyncRunDto, description = "The fresh run: applied when the approval covers it, held again when it would now remove more"),
        (status = 404, description = "No such channel"),
        (status = 409, description = "No plan is held")))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<SyncRunDto>), ApiError> {
    let (_, channel) = channel(&state, &user, &slug, &id).await?;
    let run = state.sync_engine()?.approve_held(channel).await?;
    Ok((StatusCode::CREATED, Json(SyncRunDto::new(channel, run))))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/channels/{id}/sync/discard", tag = "channels",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = SyncRunDto, description = "The held run, now discarded"),
        (status = 404, description = "No such channel"),
        (status = 409, description = "No plan is held")))]
pub(crate) async fn discard(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<Json<SyncRunDto>, ApiError> {
    let (_, channel) = channel(&state, &user, &slug, &id).await?;
    let run = state
        .sync_engine()?
        .discard_held(channel)
        .await?
        .ok_or_else(|| {
            AppError::Conflict(
                "no plan is held for this channel, so there is nothing to discard".into(),
            )
        })?;
    Ok(Json(SyncRunDto::new(channel, run)))
}

/// The visible community and its channel `id`.
async fn channel(
    state: &AppState,
    user: &ApiUser,
    slug: &str,
    id: &str,
) -> Result<(Community, ChannelId), ApiError> {
    let community = user.community(state, slug).await?;
    let channel = lookup::channel(state, &community, id).await?;
    Ok((community, channel.id))
}

/// New credentials, or none to keep the channel's own.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconnectDto {
    /// The channel's new secret (a token, a signing secret); stored encrypted.
    secret: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/channels/{id}/reconnect", tag = "channels",
    params(("slug" = String, Path), ("id" = Uuid, Path)), request_body = ReconnectDto,
    responses((status = 200, body = ChannelDto, description = "Working again: its waiting deliveries go out"),
        (status = 404, description = "No such channel"),
        (status = 422, description = "The secret is empty")))]
pub(crate) async fn reconnect(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ReconnectDto>,
) -> Result<Json<ChannelDto>, ApiError> {
    let (_, channel) = channel(&state, &user, &slug, &id).await?;
    if body.secret.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(AppError::Invalid("the secret is empty".into()).into());
    }
    let keys = state.secret_keys.as_ref().ok_or_else(|| {
        AppError::Unavailable("this process has no keys for channel credentials".into())
    })?;
    let reconnected = hub_core::channels::reconnect(
        state.store.as_ref(),
        keys,
        channel,
        body.secret.as_deref(),
        &hub_core::access::actor(&user.0),
    )
    .await?;
    let job = state.store.sync_job_of(reconnected.id).await?;
    Ok(Json(ChannelDto::new(reconnected, job)))
}
