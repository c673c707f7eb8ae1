//! The audit log on the dashboard: a community's entries for its leads
//! (`/communities/{slug}/audit`) and the whole log for owners (`/audit`,
//! entries without a community too), newest first, filtered by actor,
//! action and days, in keyset pages by seq. An owner can also check the
//! whole chain from there, as `cophub audit verify` does.

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Html,
};
use hub_core::{
    audit::{AuditFilter, VERIFY_PAGE, VerifyError, verify},
    ids::CommunityId,
    model::{audit::AuditEvent, community::Community},
};
use serde::Deserialize;

use super::{community, nav};
use crate::{AppState, csrf::CsrfToken, error::AppError, session::CurrentUser, templates::Nav};

/// Entries per page.
const PAGE_SIZE: u32 = 50;

/// The log's query string; every field may be empty.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LogParams {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
    /// Set by the owner's "Verify the chain" button.
    #[serde(default)]
    verify: String,
}

impl LogParams {
    fn filter(&self) -> AuditFilter<'_> {
        AuditFilter {
            actor: &self.actor,
            action: &self.action,
            from: &self.from,
            to: &self.to,
            cursor: &self.after,
        }
    }

    /// The link to this log with these filters, from `after` on.
    fn link(&self, base: &str, after: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("actor", self.actor.as_str()),
            ("action", self.action.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("after", after.unwrap_or_default()),
        ] {
            if !value.trim().is_empty() {
                query.append_pair(name, value.trim());
            }
        }
        let query = query.finish();
        if query.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{query}")
        }
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
pub(crate) struct AuditPage {
    pub(crate) nav: Nav,
    /// The community whose entries these are; `None`: the whole log.
    pub(crate) community: Option<Community>,
    /// Where the filter form goes.
    pub(crate) action_url: String,
    pub(crate) rows: Vec<AuditRow>,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) next_url: Option<String>,
    pub(crate) first_url: Option<String>,
    /// Whether this user may read the whole log (an owner).
    pub(crate) whole_log: bool,
    /// The outcome of checking the chain, when asked: intact, and the sentence.
    pub(crate) verified: Option<(bool, String)>,
}

/// One entry as the page shows it.
pub(crate) struct AuditRow {
    pub(crate) event: AuditEvent,
    /// The entry's community's slug, on the whole log.
    pub(crate) community_slug: Option<String>,
}

/// A community's entries, for its leads and the owners.
pub(crate) async fn community_log(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(slug): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Html<String>, AppError> {
    let community = community(&state, &user, &slug).await?;
    show(&state, &user, &csrf, Some(community), &params, None).await
}

/// The whole log, every community's entries and those of none, for owners.
pub(crate) async fn log(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Query(params): Query<LogParams>,
) -> Result<Html<String>, AppError> {
    user.require_owner()?;
    let verified = if params.verify.is_empty() {
        None
    } else {
        Some(match verify(state.store.as_ref(), VERIFY_PAGE).await {
            Ok(intact) => (
                true,
                format!(
                    "The audit chain is intact: {} entries, last hash {}.",
                    intact.entries, intact.last_hash
                ),
            ),
            Err(broken @ VerifyError::Broken { .. }) => (false, format!("{broken}.")),
            Err(VerifyError::Store(error)) => return Err(error.into()),
        })
    };
    show(&state, &user, &csrf, None, &params, verified).await
}

/// The page of `community`'s entries (`None`: the whole log).
async fn show(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    community: Option<Community>,
    params: &LogParams,
    verified: Option<(bool, String)>,
) -> Result<Html<String>, AppError> {
    let query = params
        .filter()
        .query(community.as_ref().map(|c| c.id), PAGE_SIZE)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let page = state.store.audit_page(&query).await?;
    // The whole log names each entry's community.
    let slugs: HashMap<CommunityId, String> = if community.is_none() {
        state
            .store
            .communities_for(&user.0)
            .await?
            .into_iter()
            .map(|c| (c.id, c.slug.as_str().to_owned()))
            .collect()
    } else {
        HashMap::new()
    };
    let rows = page
        .items
        .into_iter()
        .map(|event| AuditRow {
            community_slug: event.community_id.and_then(|id| slugs.get(&id).cloned()),
            event,
        })
        .collect();
    let base = community.as_ref().map_or_else(
        || "/audit".to_owned(),
        |c| format!("/communities/{}/audit", c.slug),
    );
    Ok(Html(
        AuditPage {
            nav: nav(user, csrf),
            rows,
            actor: params.actor.clone(),
            action: params.action.clone(),
            from: params.from.clone(),
            to: params.to.clone(),
            next_url: page.next_cursor.map(|c| params.link(&base, Some(&c))),
            first_url: (!params.after.is_empty()).then(|| params.link(&base, None)),
            whole_log: user.0.is_owner,
            verified,
            action_url: base,
            community,
        }
        .render()?,
    ))
}
