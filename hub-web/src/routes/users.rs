//! The users page, for owners: every login with whether it is an owner and
//! what it leads, every community's leads (members with the lead role, whose
//! role is changed on their member page), and making or unmaking owners.
//! Logins are added with `cophub user create`: a set-password link for a
//! user made here would be a new kind of mailed secret.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{ids::UserId, ports::store::StoreError, users};
use serde::Deserialize;

use super::nav;
use crate::{
    AppState,
    csrf::CsrfToken,
    error::AppError,
    session::CurrentUser,
    templates::{CommunityLeads, UsersPage},
};

pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
) -> Result<Html<String>, AppError> {
    user.require_owner()?;
    Ok(Html(page(&state, &user, &csrf, None).await?))
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    error: Option<String>,
) -> Result<String, AppError> {
    let (users, leads) = users::overview(state.store.as_ref()).await?;
    let logins: HashSet<&str> = users.iter().map(|u| u.user.email.normalized()).collect();
    let mut by_community: HashMap<_, Vec<_>> = HashMap::new();
    for lead in leads {
        let has_login = logins.contains(lead.email.normalized());
        by_community
            .entry(lead.community_id)
            .or_default()
            .push((lead, has_login));
    }
    // Every community, so one without a lead shows as such.
    let communities = state
        .store
        .communities_for(&user.0)
        .await?
        .into_iter()
        .map(|community| CommunityLeads {
            leads: by_community.remove(&community.id).unwrap_or_default(),
            community,
        })
        .collect();
    Ok(UsersPage {
        nav: nav(user, csrf),
        me: user.0.id,
        users,
        communities,
        error,
    }
    .render()?)
}

#[derive(Deserialize)]
pub(crate) struct OwnerForm {
    #[serde(default)]
    owner: String,
    #[serde(default)]
    csrf: String,
}

/// Makes a user an owner (`owner=true`) or takes that away (`owner=false`);
/// the last owner keeps it, with the reason on the page.
pub(crate) async fn set_owner(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(form): Form<OwnerForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    user.require_owner()?;
    let id: UserId = id
        .parse()
        .map_err(|_| AppError::NotFound("This user".into()))?;
    let owner = match form.owner.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(AppError::BadRequest(
                "say `owner=true` or `owner=false`".into(),
            ));
        }
    };
    match users::set_owner(state.store.as_ref(), &user.0, id, owner).await {
        // Who gave up their own ownership can no longer see this page.
        Ok(changed) if changed.id == user.0.id && !owner => Ok(Redirect::to("/").into_response()),
        Ok(_) => Ok(Redirect::to("/users").into_response()),
        Err(StoreError::Conflict(message)) => {
            let body = page(&state, &user, &csrf, Some(message)).await?;
            Ok((StatusCode::CONFLICT, Html(body)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
