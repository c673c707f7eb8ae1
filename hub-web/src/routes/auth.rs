//! Logging in and out.

use std::net::SocketAddr;

use askama::Template;
use axum::{
    Form,
    extract::{ConnectInfo, State},
    http::{HeaderMap, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::{
    Email,
    auth::{decoy_hash, verify_password},
};
use serde::Deserialize;

use crate::{
    AppState,
    csrf::{CsrfToken, TokenForm},
    error::AppError,
    session,
    templates::{LoginPage, Nav},
};

pub(crate) async fn show(csrf: CsrfToken) -> Result<Html<String>, AppError> {
    Ok(Html(login_page(&csrf, String::new(), None)?))
}

fn login_page(csrf: &CsrfToken, email: String, error: Option<String>) -> Result<String, AppError> {
    Ok(LoginPage {
        nav: Nav {
            user_email: None,
            csrf: csrf.0.clone(),
        },
        email,
        error,
    }
    .render()?)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    csrf: CsrfToken,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let address = Some(address.ip());
    let account = form.email.trim().to_lowercase();
    if let Err(wait) = state.login_limiter.check(&account, address) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return Err(AppError::TooManyRequests(format!(
            "Too many failed logins. Try again in {minutes} minute(s)."
        )));
    }
    let credentials = match Email::parse(&form.email) {
        Ok(email) => state.store.user_credentials(&email).await?,
        Err(_) => None,
    };
    let password = form.password;
    let hash = credentials
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |c| c.password_hash.clone());
    // argon2 takes tens of milliseconds: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(AppError::internal)?;
    let Some(user) = credentials.filter(|_| matches).map(|c| c.user) else {
        state.login_limiter.record_failure(&account, address);
        let page = login_page(
            &csrf,
            form.email,
            Some("The email or the password is wrong.".into()),
        )?;
        return Ok((axum::http::StatusCode::UNAUTHORIZED, Html(page)).into_response());
    };
    state.login_limiter.record_success(&account);
    let cookie = session::start(&state, &user).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    csrf: CsrfToken,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    csrf.verify(&form.csrf)?;
    let cookie = session::end(&state, &headers).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}
