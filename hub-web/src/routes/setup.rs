//! The one-time setup link: the first person to open it creates the owner
//! account. There is no default password.

use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::header,
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    Email,
    auth::{hash_password, hash_secret},
    model::{audit::NewAuditEvent, user::NewUser},
    ports::store::StoreError,
};
use serde::Deserialize;

use crate::{
    AppState,
    csrf::CsrfToken,
    error::AppError,
    session,
    templates::{Nav, SetupPage},
};

fn page(
    csrf: &CsrfToken,
    token: String,
    email: String,
    error: Option<String>,
) -> Result<String, AppError> {
    Ok(SetupPage {
        nav: Nav {
            user_email: None,
            csrf: csrf.0.clone(),
        },
        token,
        email,
        error,
    }
    .render()?)
}

fn spent_link() -> AppError {
    AppError::NotFound(
        "This setup link (it works once, and only until the owner account exists; restart cophub for a new one)"
            .into(),
    )
}

pub(crate) async fn show(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    if !state
        .store
        .setup_token_is_valid(&hash_secret(&token), state.clock.now())
        .await?
    {
        return Err(spent_link());
    }
    Ok(Html(page(&csrf, token, String::new(), None)?))
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn create_owner(
    State(state): State<AppState>,
    csrf: CsrfToken,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let again = |message: String| -> Result<Response, AppError> {
        let body = page(&csrf, token.clone(), form.email.clone(), Some(message))?;
        Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return again(e.to_string()),
    };
    if form.password != form.password_again {
        return again("The two passwords differ.".into());
    }
    let password = form.password.clone();
    let hash = match tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)?
    {
        Ok(hash) => hash,
        Err(e) => return again(e.to_string()),
    };
    let audit = NewAuditEvent {
        actor: format!("user:{}", email.normalized()),
        action: "owner.setup".into(),
        community_id: None,
        subject: email.normalized().to_owned(),
        details: serde_json::json!({}),
    };
    let owner = NewUser {
        email,
        password_hash: hash,
        is_owner: true,
    };
    let user = match state
        .store
        .redeem_setup_token(&hash_secret(&token), state.clock.now(), owner, audit)
        .await
    {
        Ok(user) => user,
        Err(StoreError::NotFound(_)) => return Err(spent_link()),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(owner = %user.email, "instance set up");
    let cookie = session::start(&state, &user).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}
