//! `/api/v1/communities/{slug}/audit`: a community's audit log, newest
//! first, with the dashboard's filters and cursor pages. Each entry carries
//! its hashes, so a client can check the links it reads.

use axum::{
    Json,
    extract::{Path, Query, State},
};
use chrono::{DateTime, Utc};
use hub_core::{audit::AuditFilter, model::audit::AuditEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiUser;
use crate::{
    AppState,
    error::{ApiError, AppError},
};

/// One entry of the audit chain.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntryDto {
    /// Its place in the chain, from 1.
    seq: i64,
    at: DateTime<Utc>,
    /// Who: `user:<email>`, `member:<email>`, `cli`, `system:<what>`.
    #[schema(example = "user:ada@example.org")]
    actor: String,
    #[schema(example = "member.update")]
    action: String,
    community_id: Option<Uuid>,
    /// What it was done to (an email, a slug, an id).
    subject: String,
    /// The change, as JSON (a string when the stored text is not JSON).
    #[schema(value_type = Object)]
    details: serde_json::Value,
    /// The previous entry's hash.
    prev_hash: String,
    /// SHA-256 over this entry's content and `prev_hash`.
    hash: String,
}

impl From<AuditEvent> for AuditEntryDto {
    fn from(e: AuditEvent) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            community_id: e.community_id.map(|c| c.0),
            subject: e.subject,
            details: serde_json::from_str(&e.details)
                .unwrap_or(serde_json::Value::String(e.details)),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// One page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditEntryDto>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// Filters and position; each filter may be left out.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// A person's email (what they did as a user and as a member), or an
    /// actor as the log writes it; `system:sync` takes in `system:sync:<channel>`.
    #[serde(default)]
    actor: String,
    /// The beginning of the action, e.g. `member.`.
    #[serde(default)]
    action: String,
    /// The first day, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    from: String,
    /// The last day, included, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    to: String,
    /// From a previous page's `next_cursor`.
    #[serde(default)]
    cursor: String,
    /// 1 to 500; 50 by default.
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/communities/{slug}/audit", tag = "audit",
    params(("slug" = String, Path), AuditParams),
    responses((status = 200, body = AuditPage),
        (status = 400, description = "A filter or the cursor is invalid; the message says which"),
        (status = 404, description = "No such community, or not one of yours")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    Path(slug): Path<String>,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let community = user.community(&state, &slug).await?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest("limit must be between 1 and 500".into()).into());
    }
    let query = AuditFilter {
        actor: &params.actor,
        action: &params.action,
        from: &params.from,
        to: &params.to,
        cursor: &params.cursor,
    }
    .query(Some(community.id), limit)
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let page = state.store.audit_page(&query).await?;
    Ok(Json(AuditPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}
