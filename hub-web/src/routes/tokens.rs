//! The API tokens page: everyone signed in makes and revokes their own
//! tokens here; an owner sees and may revoke everyone's. The rules live in
//! `hub_core::api_tokens`, shared with `cophub token create`.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    access::actor,
    api_tokens::{self, TokenError},
    ids::ApiTokenId,
};
use serde::Deserialize;

use super::nav;
use crate::{
    AppState,
    csrf::CsrfToken,
    error::AppError,
    session::CurrentUser,
    templates::{TokenCreatedPage, TokensPage},
};

impl From<TokenError> for AppError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid(message) => Self::Invalid(message),
            TokenError::NotFound => Self::NotFound("This API token".into()),
            TokenError::Store(e) => e.into(),
        }
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
) -> Result<Html<String>, AppError> {
    Ok(Html(page(&state, &user, &csrf, String::new(), None).await?))
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    csrf: &CsrfToken,
    name: String,
    error: Option<String>,
) -> Result<String, AppError> {
    let (own, others) = api_tokens::visible(state.store.as_ref(), &user.0)
        .await?
        .into_iter()
        .partition(|t| t.user_id == user.0.id);
    Ok(TokensPage {
        nav: nav(user, csrf),
        is_owner: user.0.is_owner,
        own,
        others,
        name,
        max_name_chars: api_tokens::MAX_NAME_CHARS,
        error,
    }
    .render()?)
}

#[derive(Deserialize)]
pub(crate) struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf: String,
}

/// Makes a token for the signed-in user and shows its secret on the answer
/// itself, once: there is no page to come back to, because only its hash
/// is kept.
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Form(form): Form<NewTokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let token = match api_tokens::create(state.store.as_ref(), &user.0, &form.name, &actor(&user.0))
        .await
    {
        Ok(token) => token,
        Err(TokenError::Invalid(message)) => {
            let body = page(&state, &user, &csrf, form.name, Some(message)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let body = TokenCreatedPage {
        nav: nav(&user, &csrf),
        name: form.name.trim().to_owned(),
        token,
    }
    .render()?;
    // The secret must not outlive this answer in a cache or the history.
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response())
}

/// Revokes a token the user may see; anyone else's answers 404, as if it did
/// not exist.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(form): Form<crate::csrf::TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let id: ApiTokenId = id
        .parse()
        .map_err(|_| AppError::NotFound("This API token".into()))?;
    api_tokens::revoke(state.store.as_ref(), &user.0, id).await?;
    Ok(Redirect::to("/tokens").into_response())
}
