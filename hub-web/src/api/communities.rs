//! `/api/v1/communities`.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use hub_core::{
    Email,
    access::actor,
    model::community::{ArchiveVisibility, Community, NewCommunity},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiUser};
use crate::{
    AppState,
    error::{ApiError, AppError},
};

/// A community.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CommunityDto {
    id: Uuid,
    /// The short name used in URLs.
    #[schema(example = "research-software")]
    slug: String,
    name: String,
    /// An IANA timezone name.
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    created_at: DateTime<Utc>,
    archive: ArchiveDto,
}

/// Who may read the community's archive of past announcements
/// (`/c/{slug}/announcements`): nobody (`off`), its members by a mailed
/// link and its leads (`members`, the default), or anyone (`public`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ArchiveDto {
    Off,
    Members,
    Public,
}

impl From<ArchiveVisibility> for ArchiveDto {
    fn from(archive: ArchiveVisibility) -> Self {
        match archive {
            ArchiveVisibility::Off => Self::Off,
            ArchiveVisibility::Members => Self::Members,
            ArchiveVisibility::Public => Self::Public,
        }
    }
}

impl From<Community> for CommunityDto {
    fn from(c: Community) -> Self {
        Self {
            id: c.id.0,
            slug: c.slug.to_string(),
            name: c.name,
            timezone: c.timezone,
            created_at: c.created_at,
            archive: c.archive.into(),
        }
    }
}

/// The communities the token's user may see.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CommunityList {
    items: Vec<CommunityDto>,
}

/// A community to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCommunityDto {
    /// 2 to 64 lower-case letters, digits and single hyphens, starting with
    /// a letter.
    #[schema(
        min_length = 2,
        max_length = 64,
        pattern = "^[a-z](-?[a-z0-9])+$",
        example = "rse"
    )]
    slug: String,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[serde(default = "default_timezone")]
    #[schema(example = "Europe/Berlin")]
    timezone: String,
    /// Makes this person the community's first lead.
    lead_email: Option<String>,
}

fn default_timezone() -> String {
    "UTC".into()
}

#[utoipa::path(get, path = "/api/v1/communities", tag = "communities",
    responses((status = 200, body = CommunityList), (status = 401, description = "No valid token")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<CommunityList>, ApiError> {
    let items = state.store.communities_for(&user.0).await?;
    Ok(Json(CommunityList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/communities", tag = "communities", request_body = NewCommunityDto,
    responses((status = 201, body = CommunityDto), (status = 403, description = "Not an owner"),
        (status = 409, description = "The slug is taken"), (status = 422, description = "A field is invalid")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<NewCommunityDto>,
) -> Result<(StatusCode, Json<CommunityDto>), ApiError> {
    if !user.0.is_owner {
        return Err(
            AppError::Forbidden("only an instance owner can create communities".into()).into(),
        );
    }
    let community = NewCommunity::new(&body.slug, &body.name, &body.timezone)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let lead = body
        .lead_email
        .as_deref()
        .map(Email::parse)
        .transpose()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let created =
        hub_core::communities::create(state.store.as_ref(), community, lead, &actor(&user.0))
            .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}", tag = "communities",
    params(("slug" = String, Path)),
    responses((status = 200, body = CommunityDto), (status = 404, description = "Not there, or not visible to you")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<CommunityDto>, ApiError> {
    Ok(Json(user.community(&state, &slug).await?.into()))
}
