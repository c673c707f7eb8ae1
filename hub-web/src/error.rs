//! One error type for the web layer, shown as an HTML page on the dashboard
//! and as `{"error": {"code", "message"}}` under `/api`. A 4xx carries a
//! message a person can act on; a 5xx logs its cause once, here, and shows
//! only a request id.

use std::any::Any;

use askama::Template;
use axum::{
    Json,
    http::{Request, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use hub_core::ports::store::StoreError;
use serde_json::json;

use crate::templates::ErrorPage;

/// What went wrong, by what the person can do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// 400: the request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 422: the request is well-formed but its content is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// 401 on the API; a redirect to the login page on the dashboard.
    #[error("log in first")]
    LoginRequired,
    /// 401: a bearer token is missing or unknown.
    #[error("a valid API token is required: send `Authorization: Bearer <token>`")]
    BadToken,
    /// 401: a pushed request whose signature does not check out.
    #[error("{0}")]
    Unsigned(String),
    /// 403: logged in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: not there, or not visible to this user.
    #[error("{0} was not found")]
    NotFound(String),
    /// 409: conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// 410: a mailed link that expired or was used.
    #[error("{0}")]
    Gone(String),
    /// 429: too many attempts.
    #[error("{0}")]
    TooManyRequests(String),
    /// 502: a tool the request needed did not answer; the message says which.
    #[error("{0}")]
    Upstream(String),
    /// 503: the database is not reachable.
    #[error("the service is unavailable right now; try again in a moment")]
    Unavailable(String),
    /// 500: a bug or a broken dependency; logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::LoginRequired | Self::BadToken | Self::Unsigned(_) => StatusCode::UNAUTHORIZED,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Invalid(_) => "invalid",
            Self::LoginRequired => "login_required",
            Self::BadToken => "unauthorized",
            Self::Unsigned(_) => "bad_signature",
            Self::Upstream(_) => "upstream_failed",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The message for the person; for server faults, logs the cause (once)
    /// and returns a generic message.
    fn public_message(&self) -> String {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "request failed");
                "Something went wrong on our side. The error was logged with this request's id."
                    .to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::error!(error = %cause, "database unavailable");
                self.to_string()
            }
            other => other.to_string(),
        }
    }

    pub(crate) fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl From<hub_core::conferences::ConferenceError> for AppError {
    fn from(error: hub_core::conferences::ConferenceError) -> Self {
        use hub_core::conferences::ConferenceError as E;
        let message = error.to_string();
        match error {
            E::Invalid(_) | E::Email(_) => Self::Invalid(message),
            E::Closed(_) | E::OverBudget(_) | E::AlreadyVoted => Self::Conflict(message),
            E::NotRegistrant => Self::Forbidden(message),
            E::NotFound(what) => Self::NotFound(capitalized(what)),
            E::SpentLink => Self::Gone(message),
            E::TooSoon => Self::TooManyRequests(message),
            E::NoMailer | E::Mail(_) => Self::Upstream(message),
            E::Store(e) => e.into(),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl From<hub_core::sync::SyncError> for AppError {
    fn from(error: hub_core::sync::SyncError) -> Self {
        use hub_core::sync::SyncError;
        match error {
            SyncError::NotFound(what) => Self::NotFound(what),
            SyncError::NothingHeld(message) => Self::Conflict(message),
            SyncError::Unsupported(message) => Self::Invalid(message),
            SyncError::Channel(error) => Self::Upstream(error.to_string()),
            SyncError::Store(e) => e.into(),
        }
    }
}

impl From<hub_core::announcements::PublishError> for AppError {
    fn from(error: hub_core::announcements::PublishError) -> Self {
        use hub_core::announcements::PublishError;
        match error {
            PublishError::Store(e) => e.into(),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::internal(error)
    }
}

/// Dashboard errors: an HTML page (or, for a missing login, a redirect).
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if matches!(self, Self::LoginRequired) {
            return Redirect::to("/login").into_response();
        }
        let status = self.status();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: self.public_message(),
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, page.message).into_response(),
        }
    }
}

/// API errors: the JSON error shape.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = json!({"error": {"code": self.0.code(), "message": self.0.public_message()}});
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A panic in a handler becomes a 500 (logged) instead of a dropped connection.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. The error was logged with this request's id.",
    )
        .into_response()
}

/// The span of a request: method, path and request id, never the query (it
/// may carry a search term) or headers (cookies, tokens).
pub(crate) fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
}
