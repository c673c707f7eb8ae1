//! `/api/v1/communities/{slug}/announcements`: publish one announcement to
//! several channels (at once or at a set time) and follow each channel's
//! delivery.

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, Query, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use hub_core::{
    access::actor,
    announcements::{AnnouncementChange, change, publish, publish_once, retry_delivery},
    idempotency::{IdempotencyKey, KeptResponse, KeyError, KeyUse},
    ids::{ChannelId, DeliveryId},
    model::announcement::{Announcement, Delivery, DeliveryAction, DeliveryState},
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
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    title: String,
    /// Markdown.
    body_markdown: String,
    /// The channels' ids (see `GET …/channels`); at least one.
    channels: Vec<Uuid>,
    /// When to send it; absent for at once.
    send_at: Option<DateTime<Utc>>,
}

/// The header that makes a publish safe to retry.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The request's headers, as the OpenAPI document shows them (the handler
/// reads them from the request itself).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // read by the OpenAPI document only
pub(crate) struct PublishHeaders {
    /// Makes the request safe to retry: 1 to 255 visible ASCII characters
    /// (a UUID, say), new for each announcement. Kept per API token for 24
    /// hours: a retry with the same key and the same body gets the first
    /// answer (with `Idempotent-Replayed: true`) and publishes nothing; the
    /// same key with another body is refused (422). A retry sent while the
    /// first request is still running waits for it and gets its answer.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$"
    )]
    idempotency_key: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/announcements", tag = "announcements",
    params(("slug" = String, Path), PublishHeaders),
    request_body = NewAnnouncementDto,
    responses((status = 201, body = AnnouncementDto, description = "Written with one pending delivery per channel (or, for a repeated Idempotency-Key, the first answer again)",
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the answer kept for the Idempotency-Key"))),
        (status = 400, description = "The body is not a valid announcement, or the Idempotency-Key is empty, too long or not visible ASCII"),
        (status = 422, description = "The title is invalid, no channel was chosen, a channel is not the community's, or the Idempotency-Key was used with another request")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(AppError::from)?;
    let ApiJson(new) = json_body::<NewAnnouncementDto>(&state, &headers, &body).await?;
    let community = user.community(&state, &slug).await?;
    let now = state.clock.now();
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            IdempotencyKey::new(
                &user.1,
                value
                    .to_str()
                    .map_err(|_| KeyError::NotVisible)
                    .map_err(key_error)?,
                &format!("POST /api/v1/communities/{slug}/announcements"),
                &body,
            )
            .map_err(key_error)?,
        ),
    };
    // A kept answer comes back even if the channels changed since.
    if let Some(key) = &key
        && let Some(kept) = state.store.kept_key(key, now).await?
    {
        return keyed(kept);
    }
    let channels = state.store.channels(community.id).await?;
    let mut targets = Vec::with_capacity(new.channels.len());
    for id in new.channels {
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
    let Some(key) = key else {
        let (announcement, deliveries) = publish(
            state.store.as_ref(),
            now,
            community.id,
            &new.title,
            &new.body_markdown,
            targets,
            new.send_at,
            &actor(&user.0),
        )
        .await?;
        return Ok((
            StatusCode::CREATED,
            Json(AnnouncementDto::new(announcement, deliveries)),
        )
            .into_response());
    };
    let used = publish_once(
        state.store.as_ref(),
        now,
        &key,
        community.id,
        &new.title,
        &new.body_markdown,
        targets,
        new.send_at,
        &actor(&user.0),
        &created_answer,
    )
    .await?;
    keyed(used)
}

/// The body, read as JSON the way [`ApiJson`] reads it (its content type
/// checked, its errors the API's shape); the handler keeps the raw bytes to
/// fingerprint the request.
async fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<ApiJson<T>, ApiError> {
    let mut request = axum::extract::Request::new(axum::body::Body::from(body.clone()));
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    ApiJson::<T>::from_request(request, state).await
}

fn key_error(error: KeyError) -> ApiError {
    AppError::BadRequest(error.to_string()).into()
}

/// The 201 answer to a new announcement, as kept with its key.
fn created_answer(announcement: &Announcement, deliveries: &[Delivery]) -> KeptResponse {
    let dto = AnnouncementDto::new(announcement.clone(), deliveries.to_vec());
    KeptResponse {
        status: StatusCode::CREATED.as_u16(),
        // A struct of plain fields always serializes.
        body: serde_json::to_string(&dto).unwrap_or_default(),
    }
}

/// The answer for a request with an idempotency key.
fn keyed(used: KeyUse) -> Result<Response, ApiError> {
    let (response, replayed) = match used {
        KeyUse::First(response) => (response, false),
        KeyUse::Repeat(response) => (response, true),
        KeyUse::Mismatch => {
            return Err(AppError::Invalid(
                "this Idempotency-Key was used for a different request within the last 24 hours; \
                 send a new key for a new announcement"
                    .into(),
            )
            .into());
        }
    };
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::CREATED);
    let mut answer = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        response.body,
    )
        .into_response();
    if replayed {
        answer
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(answer)
}

/// How many announcements.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
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
    ApiPath(slug): ApiPath<String>,
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
    ApiPath((slug, id)): ApiPath<(String, String)>,
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
    ApiPath((slug, id)): ApiPath<(String, String)>,
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
    ApiPath((slug, id)): ApiPath<(String, String)>,
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
    ApiPath((slug, id, delivery)): ApiPath<(String, String, String)>,
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
