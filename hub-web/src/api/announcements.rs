//! `/api/v1/communities/{slug}/announcements`: publish one announcement to
//! several channels (at once or at a set time) and follow each channel's
//! delivery.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use hub_core::{
    access::actor,
    announcements::{AnnouncementChange, change, publish, retry_delivery},
    ids::{ChannelId, DeliveryId},
    model::announcement::{Announcement, Delivery, DeliveryAction, DeliveryState},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiUser};
use crate::{
    AppState,
    error::{ApiError, AppError},
    lookup,
};

/// An announcement with its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnnouncementDto {
    id: Uuid,
    title: String,
    body_markdown: String,
    /// Who published it (`user:<email>`, `cli`).
    author: String,
    /// When it goes out; null for at once.
    send_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// 1 as published; each edit adds one.
    revision: u32,
    /// When it was retracted; it cannot be changed after that.
    retracted_at: Option<DateTime<Utc>>,
    /// Per channel: its post, and the edits and retraction made since.
    deliveries: Vec<DeliveryDto>,
}

/// One channel's delivery of an announcement.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryDto {
    id: Uuid,
    channel_id: Uuid,
    /// `post`, `edit` or `retract`.
    #[schema(value_type = String, example = "post")]
    action: DeliveryAction,
    /// `pending`, `sending`, `sent`, `retry_wait`, `failed` (refused; a lead
    /// may retry), `dead` (gave up after the maximum attempts) or
    /// `cancelled` (not needed any more).
    #[schema(value_type = String, example = "sent")]
    state: DeliveryState,
    attempts: u32,
    /// When it is due next, while it waits.
    next_attempt_at: Option<DateTime<Utc>>,
    /// The channel's reference once sent (a Slack ts, a webhook delivery id).
    remote_ref: Option<String>,
    last_error: Option<String>,
    /// Sends that may have reached the channel twice (a crash mid-send, or
    /// a lost answer where the channel could not be asked).
    possible_duplicates: u32,
}

impl AnnouncementDto {
    fn new(announcement: Announcement, deliveries: Vec<Delivery>) -> Self {
        Self {
            id: announcement.id.0,
            title: announcement.title,
            body_markdown: announcement.body_markdown,
            author: announcement.author,
            send_at: announcement.send_at,
            created_at: announcement.created_at,
            revision: announcement.revision,
            retracted_at: announcement.retracted_at,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryDto {
                    id: d.id.0,
                    channel_id: d.channel_id.0,
                    action: d.action,
                    state: d.state,
                    attempts: d.attempts,
                    next_attempt_at: d.next_attempt_at,
                    remote_ref: d.remote_ref,
                    last_error: d.last_error,
                    possible_duplicates: d.possible_duplicates,
                })
                .collect(),
        }
    }
}

/// An announcement to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAnnouncementDto {
    /// 1 to 200 characters, one line.
    title: String,
    /// Markdown.
    body_markdown: String,
    /// The channels' ids (see `GET …/channels`); at least one.
    channels: Vec<Uuid>,
    /// When to send it; absent for at once.
    send_at: Option<DateTime<Utc>>,
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/announcements", tag = "announcements",
    params(("slug" = String, Path)), request_body = NewAnnouncementDto,
    responses((status = 201, body = AnnouncementDto, description = "Written with one pending delivery per channel"),
        (status = 422, description = "The title is invalid, no channel was chosen, or a channel is not the community's")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<NewAnnouncementDto>,
) -> Result<(StatusCode, Json<AnnouncementDto>), ApiError> {
    let community = user.community(&state, &slug).await?;
    let channels = state.store.channels(community.id).await?;
    let mut targets = Vec::with_capacity(body.channels.len());
    for id in body.channels {
        let id = ChannelId(id);
        if !channels.iter().any(|c| c.id == id) {
            return Err(AppError::Invalid(format!(
                "{id} is not a channel of the community {slug}"
            ))
            .into());
        }
        if !targets.contains(&id) {
            targets.push(id);
        }
    }
    let (announcement, deliveries) = publish(
        state.store.as_ref(),
        state.clock.now(),
        community.id,
        &body.title,
        &body.body_markdown,
        targets,
        body.send_at,
        &actor(&user.0),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AnnouncementDto::new(announcement, deliveries)),
    ))
}

/// How many announcements.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// 1 to 100; 20 by default.
    limit: Option<u32>,
}

/// Announcements, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnnouncementList {
    items: Vec<AnnouncementDto>,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/announcements", tag = "announcements",
    params(("slug" = String, Path), ListParams),
    responses((status = 200, body = AnnouncementList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    Path(slug): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AnnouncementList>, ApiError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::BadRequest("limit must be between 1 and 100".into()).into());
    }
    let community = user.community(&state, &slug).await?;
    let mut items = Vec::new();
    for announcement in state.store.announcements(community.id, limit).await? {
        let deliveries = state.store.deliveries(announcement.id).await?;
        items.push(AnnouncementDto::new(announcement, deliveries));
    }
    Ok(Json(AnnouncementList { items }))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/announcements/{id}", tag = "announcements",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = AnnouncementDto), (status = 404, description = "No such announcement")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    user: ApiUser,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Json<AnnouncementDto>, ApiError> {
    let announcement = find(&state, &user, &slug, &id).await?;
    let deliveries = state.store.deliveries(announcement.id).await?;
    Ok(Json(AnnouncementDto::new(announcement, deliveries)))
}

/// New text for an announcement; an absent part stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnnouncementPatch {
    title: Option<String>,
    body_markdown: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/communities/{slug}/announcements/{id}", tag = "announcements",
    params(("slug" = String, Path), ("id" = Uuid, Path)), request_body = AnnouncementPatch,
    responses((status = 200, body = AnnouncementDto, description = "Changed; channels where the post is out get an edit delivery, posts still waiting carry the new text"),
        (status = 404, description = "No such announcement"),
        (status = 409, description = "It was retracted"),
        (status = 422, description = "The title is invalid")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    Path((slug, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AnnouncementPatch>,
) -> Result<Json<AnnouncementDto>, ApiError> {
    let current = find(&state, &user, &slug, &id).await?;
    let edit = AnnouncementChange::Edit {
        title: body.title.unwrap_or(current.title),
        body_markdown: body.body_markdown.unwrap_or(current.body_markdown),
    };
    let (changed, deliveries) = change(
        state.store.as_ref(),
        state.clock.now(),
        current.id,
        edit,
        &actor(&user.0),
    )
    .await?;
    Ok(Json(AnnouncementDto::new(changed, deliveries)))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/announcements/{id}/retract", tag = "announcements",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = AnnouncementDto, description = "Retracted; posts not yet out are cancelled, posts out get a retract delivery (a channel that cannot take a message down shows it as failed)"),
        (status = 404, description = "No such announcement"),
        (status = 409, description = "It was retracted already")))]
pub(crate) async fn retract(
    State(state): State<AppState>,
    user: ApiUser,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Json<AnnouncementDto>, ApiError> {
    let current = find(&state, &user, &slug, &id).await?;
    let (changed, deliveries) = change(
        state.store.as_ref(),
        state.clock.now(),
        current.id,
        AnnouncementChange::Retract,
        &actor(&user.0),
    )
    .await?;
    Ok(Json(AnnouncementDto::new(changed, deliveries)))
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/announcements/{id}/deliveries/{delivery}/retry", tag = "announcements",
    params(("slug" = String, Path), ("id" = Uuid, Path), ("delivery" = Uuid, Path)),
    responses((status = 200, body = AnnouncementDto, description = "The delivery is pending again, its attempts counted afresh"),
        (status = 404, description = "No such announcement or delivery"),
        (status = 409, description = "The delivery is neither failed nor dead")))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    user: ApiUser,
    Path((slug, id, delivery)): Path<(String, String, String)>,
) -> Result<Json<AnnouncementDto>, ApiError> {
    let announcement = find(&state, &user, &slug, &id).await?;
    let delivery: DeliveryId = lookup::id(&delivery, "This delivery")?;
    retry_delivery(
        state.store.as_ref(),
        state.clock.now(),
        announcement.id,
        delivery,
        &actor(&user.0),
    )
    .await?;
    let deliveries = state.store.deliveries(announcement.id).await?;
    Ok(Json(AnnouncementDto::new(announcement, deliveries)))
}

/// The community's announcement `id`, as the user may see it.
async fn find(
    state: &AppState,
    user: &ApiUser,
    slug: &str,
    id: &str,
) -> Result<Announcement, ApiError> {
    let community = user.community(state, slug).await?;
    Ok(lookup::announcement(state, &community, id).await?)
}
