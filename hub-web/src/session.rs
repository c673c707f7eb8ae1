//! Logins kept in the database: the browser holds a random session secret in
//! an HttpOnly, SameSite=Lax cookie; the database holds only its hash. A new
//! session is made at every login (so a planted cookie gains nothing), logout
//! deletes it server-side, and sessions end after an idle and an absolute
//! timeout.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, header, request::Parts},
};
use chrono::Duration;
use hub_core::{
    auth::{hash_secret, new_secret},
    model::user::{Session, User},
};

use crate::{AppState, error::AppError};

const SESSION_COOKIE: &str = "cophub_session";

/// A cookie's name, `__Host-` prefixed when served over https, which pins it
/// to this host and path `/` and requires `Secure`.
pub(crate) fn cookie_name(base: &str, https: bool) -> String {
    if https {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// A cookie's value from the request, if present.
pub(crate) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure on https;
/// `max_age` of zero deletes the cookie.
pub(crate) fn cookie_header(
    name: &str,
    value: &str,
    max_age_secs: i64,
    https: bool,
) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    // Names and values are our own URL-safe base64 and fixed words.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Starts a new session for a user; returns the `Set-Cookie` value.
pub(crate) async fn start(state: &AppState, user: &User) -> Result<HeaderValue, AppError> {
    let (secret, id_hash) = new_secret();
    let now = state.clock.now();
    state
        .store
        .create_session(&Session {
            id_hash,
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
        })
        .await?;
    let https = state.settings.https();
    let max_age = i64::try_from(state.settings.session_absolute.as_secs()).unwrap_or(i64::MAX);
    Ok(cookie_header(
        &cookie_name(SESSION_COOKIE, https),
        &secret,
        max_age,
        https,
    ))
}

/// Ends the request's session, if any; returns the `Set-Cookie` value that
/// clears the cookie.
pub(crate) async fn end(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, AppError> {
    let https = state.settings.https();
    let name = cookie_name(SESSION_COOKIE, https);
    if let Some(secret) = read_cookie(headers, &name) {
        state.store.delete_session(&hash_secret(secret)).await?;
    }
    Ok(cookie_header(&name, "", 0, https))
}

/// The logged-in user of a dashboard request. Without a live session the
/// request is answered with a redirect to the login page.
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser(pub(crate) User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<Self>() {
            return Ok(user.clone());
        }
        let name = cookie_name(SESSION_COOKIE, state.settings.https());
        let secret = read_cookie(&parts.headers, &name).ok_or(AppError::LoginRequired)?;
        let now = state.clock.now();
        let idle = Duration::from_std(state.settings.session_idle).unwrap_or(Duration::MAX);
        let absolute = Duration::from_std(state.settings.session_absolute).unwrap_or(Duration::MAX);
        let user = state
            .store
            .touch_session(&hash_secret(secret), now, now - idle, now - absolute)
            .await?
            .ok_or(AppError::LoginRequired)?;
        let current = Self(user);
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

/// The owner-only guard.
impl CurrentUser {
    pub(crate) fn require_owner(&self) -> Result<(), AppError> {
        if self.0.is_owner {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only an instance owner can do this".into(),
            ))
        }
    }
}
