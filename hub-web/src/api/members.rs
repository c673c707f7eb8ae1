//! `/api/v1/communities/{slug}/members`.

use std::collections::BTreeMap;

use axum::{
    Json,
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use hub_core::{
    Email,
    access::actor,
    ids::MemberId,
    import::{ImportPlan, RowError},
    model::member::{
        CommunityRole, ConsentChannel, ConsentSource, ConsentStatus, Member, MemberState,
        MemberUpdate, NewMember, clean_name,
    },
    roster::{ImportError, ImportOptions, add_member, change_member, import_csv},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiUser};
use crate::{
    AppState,
    error::{ApiError, AppError},
    routes::member_query,
};

/// A member of a community.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MemberDto {
    id: Uuid,
    /// As the person gave it.
    email: String,
    name: String,
    #[schema(value_type = String, example = "member")]
    role: CommunityRole,
    #[schema(value_type = String, example = "active")]
    state: MemberState,
    /// Per channel (`email`, `slack`, `zoom`, `conference`): `subscribed`,
    /// `opted_out` or `none`, with when and how it was set.
    consents: BTreeMap<String, ConsentDto>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// One channel's consent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsentDto {
    #[schema(value_type = String, example = "subscribed")]
    status: ConsentStatus,
    changed_at: DateTime<Utc>,
    #[schema(value_type = String, example = "lead")]
    source: ConsentSource,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        Self {
            id: m.id.0,
            email: m.email.to_string(),
            name: m.name,
            role: m.role,
            state: m.state,
            consents: m
                .consents
                .into_iter()
                .map(|c| {
                    (
                        c.channel.to_string(),
                        ConsentDto {
                            status: c.status,
                            changed_at: c.changed_at,
                            source: c.source,
                        },
                    )
                })
                .collect(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One page of members.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MemberPage {
    items: Vec<MemberDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Filters and position.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// A part of the name or email, any letter case.
    #[serde(default)]
    q: String,
    /// `lead` or `member`.
    #[serde(default)]
    role: String,
    /// `active` or `left`.
    #[serde(default)]
    state: String,
    /// `channel:status`, e.g. `email:opted_out`.
    #[serde(default)]
    consent: String,
    /// A channel the member is not subscribed on (`email`, `slack`, `zoom`,
    /// `conference`): `consent=slack:subscribed&absent=email` is "in Slack
    /// but not on the list".
    #[serde(default)]
    absent: String,
    /// From a previous page's `next_cursor`.
    #[serde(default)]
    cursor: String,
    /// 1 to 500; 50 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/members", tag = "members",
    params(("slug" = String, Path), ListParams),
    responses((status = 200, body = MemberPage), (status = 400, description = "A filter or the cursor is invalid")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MemberPage>, ApiError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let community = user.community(&state, &slug).await?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest("limit must be between 1 and 500".into()).into());
    }
    let query = member_query(
        &params.q,
        &params.role,
        &params.state,
        &params.consent,
        &params.absent,
        &params.cursor,
        limit,
    )?;
    let page = state.store.list_members(community.id, &query).await?;
    Ok(Json(MemberPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A member to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMemberDto {
    email: String,
    #[serde(default)]
    name: String,
    #[schema(value_type = Option<String>, example = "member")]
    role: Option<CommunityRole>,
    /// Only set `subscribed` for people who asked to be on the list.
    #[schema(value_type = Option<String>, example = "subscribed")]
    email_consent: Option<ConsentStatus>,
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/members", tag = "members",
    params(("slug" = String, Path)), request_body = NewMemberDto,
    responses((status = 201, body = MemberDto), (status = 409, description = "Already a member"),
        (status = 422, description = "A field is invalid")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<NewMemberDto>,
) -> Result<(StatusCode, Json<MemberDto>), ApiError> {
    let community = user.community(&state, &slug).await?;
    let email = Email::parse(&body.email).map_err(|e| AppError::Invalid(e.to_string()))?;
    let name = clean_name(&body.name).map_err(|e| AppError::Invalid(e.to_string()))?;
    let role = body.role.unwrap_or(CommunityRole::Member);
    let member = NewMember {
        email,
        name,
        role,
        email_consent: body.email_consent.filter(|c| *c != ConsentStatus::None),
    };
    let created = add_member(state.store.as_ref(), community.id, member, &actor(&user.0)).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

async fn find(state: &AppState, user: &ApiUser, slug: &str, id: &str) -> Result<Member, ApiError> {
    let community = user.community(state, slug).await?;
    let not_found = || ApiError(AppError::NotFound("This member".into()));
    let id: MemberId = id.parse().map_err(|_| not_found())?;
    state
        .store
        .member(community.id, id)
        .await?
        .ok_or_else(not_found)
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/members/{id}", tag = "members",
    params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 200, body = MemberDto), (status = 404, description = "No such member")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> Result<Json<MemberDto>, ApiError> {
    Ok(Json(find(&state, &user, &slug, &id).await?.into()))
}

/// A change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberPatch {
    name: Option<String>,
    #[schema(value_type = Option<String>)]
    role: Option<CommunityRole>,
    #[schema(value_type = Option<String>)]
    state: Option<MemberState>,
    /// Channel → status. A lead's explicit, audited change: the one way
    /// besides the member's own that re-subscribes someone who opted out.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    consents: BTreeMap<ConsentChannel, ConsentStatus>,
}

#[utoipa::path(patch, path = "/api/v1/communities/{slug}/members/{id}", tag = "members",
    params(("slug" = String, Path), ("id" = Uuid, Path)), request_body = MemberPatch,
    responses((status = 200, body = MemberDto), (status = 404, description = "No such member"),
        (status = 422, description = "A field is invalid")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<MemberPatch>,
) -> Result<Json<MemberDto>, ApiError> {
    let member = find(&state, &user, &slug, &id).await?;
    let name = body
        .name
        .as_deref()
        .map(clean_name)
        .transpose()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let update = MemberUpdate {
        name,
        role: body.role,
        state: body.state,
        consents: body
            .consents
            .iter()
            .map(|(channel, status)| (*channel, *status, ConsentSource::Lead))
            .collect(),
    };
    let updated = change_member(state.store.as_ref(), member, update, &actor(&user.0)).await?;
    Ok(Json(updated.into()))
}

/// How an import runs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportParams {
    /// Plan only; change nothing.
    #[serde(default)]
    dry_run: bool,
    /// Import the good rows and report the bad ones.
    #[serde(default)]
    skip_invalid: bool,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportReport {
    dry_run: bool,
    created: usize,
    updated: usize,
    unchanged: usize,
    /// Bad rows, skipped.
    #[schema(value_type = Vec<Object>)]
    errors: Vec<RowError>,
    warnings: Vec<String>,
}

impl ImportReport {
    fn new(plan: ImportPlan, dry_run: bool) -> Self {
        Self {
            dry_run,
            created: plan.created,
            updated: plan.updated,
            unchanged: plan.unchanged,
            errors: plan.errors,
            warnings: plan.warnings,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/communities/{slug}/members/import", tag = "members",
    params(("slug" = String, Path), ImportParams),
    request_body(content = String, content_type = "text/csv", description = "email,name,role,email_list"),
    responses((status = 200, body = ImportReport),
        (status = 422, description = "Invalid rows (each listed in error.rows with its line); nothing was imported")))]
pub(crate) async fn import(
    State(state): State<AppState>,
    user: ApiUser,
    ApiPath(slug): ApiPath<String>,
    params: Result<Query<ImportParams>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let body = body.map_err(AppError::from)?;
    let community = user.community(&state, &slug).await?;
    let options = ImportOptions {
        dry_run: params.dry_run,
        skip_invalid: params.skip_invalid,
    };
    match import_csv(state.store.as_ref(), &community, &body, options, &actor(&user.0)).await {
        Ok(plan) => Ok(Json(ImportReport::new(plan, params.dry_run)).into_response()),
        Err(ImportError::Rejected(plan)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": {
                "code": "invalid_rows",
                "message": format!("{} row(s) are invalid, so nothing was imported", plan.errors.len()),
                "rows": plan.errors,
                "warnings": plan.warnings,
            }})),
        )
            .into_response()),
        Err(ImportError::Unreadable(e)) => Err(AppError::Invalid(e.to_string()).into()),
        Err(ImportError::Store(e)) => Err(e.into()),
    }
}
