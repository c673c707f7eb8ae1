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
use hub_core::ports::{mailer::MailError, store::StoreError};
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
    /// 413: the request body is larger than the route accepts.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the body is not of a type this route reads (JSON, say).
    #[error("{0}")]
    UnsupportedMediaType(String),
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
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
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
            Self::TooLarge(_) => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
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

    /// A request an extractor refused (a body, a path), by the status the
    /// extractor chose: a body too large (413) or of another type (415)
    /// keeps its status, anything else is malformed (400).
    pub(crate) fn rejected(status: StatusCode, message: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::TooLarge(message),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType(message),
            _ => Self::BadRequest(message),
        }
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

impl From<axum::extract::rejection::PathRejection> for AppError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for AppError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Unstorable(message) => Self::BadRequest(message),
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
            // The mail server refused the one message to the one address
            // (550 mailbox unavailable, an address it cannot take): that is
            // about the address, not a fault to try again later.
            E::Mail(MailError::Permanent(why)) => Self::Invalid(format!(
                "the mail server would not take a message to this address ({why}); check the address"
            )),
            E::NoMailer | E::Mail(MailError::Transient(_)) => Self::Upstream(message),
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

/// The body of every API error, as the OpenAPI document shows it.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // read by the OpenAPI document only; `ApiError` writes the JSON
pub(crate) struct ApiErrorBody {
    #[schema(inline)]
    error: ApiErrorDetail,
}

/// What went wrong.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // read by the OpenAPI document only
struct ApiErrorDetail {
    /// A word for programs: `bad_request`, `invalid`, `unauthorized`,
    /// `forbidden`, `not_found`, `conflict`, `gone`, `too_large`,
    /// `unsupported_media_type`, `too_many_requests`, `upstream_failed`,
    /// `unavailable`, `internal` (and `invalid_rows` for an import, with its
    /// `rows`).
    code: String,
    /// What went wrong, for a person; for a 5xx, only that it was logged.
    message: String,
}

/// Completes the OpenAPI document with the errors every operation may
/// answer, so a client (or a fuzzer) finds each status it can get there:
/// 400 (malformed: a body, query or path parameter that does not parse),
/// 401 (no valid token), 404 where a path names something, 500 and 503;
/// and gives every 4xx and 5xx response the error body.
pub(crate) struct ApiErrorResponses;

impl utoipa::Modify for ApiErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::{
            PartialSchema,
            openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder},
        };
        const ERROR_SCHEMA: &str = "Error";
        openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .insert(ERROR_SCHEMA.to_owned(), ApiErrorBody::schema());
        let error_content = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ERROR_SCHEMA)))
                .build()
        };
        for (path, item) in &mut openapi.paths.paths {
            let names_something = path.contains('{');
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let mut common = vec![
                    ("400", "The request is malformed: the message says how"),
                    (
                        "401",
                        "No valid API token: send `Authorization: Bearer <token>`",
                    ),
                    ("500", "A fault on our side, logged with the request's id"),
                    ("503", "The database is unavailable; try again in a moment"),
                ];
                if names_something {
                    common.push(("404", "Not found, or not visible to this token's user"));
                }
                if let Some(body) = &operation.request_body {
                    common.push(("413", "The body is larger than this operation takes"));
                    if let RefOr::T(body) = body
                        && body.content.contains_key("application/json")
                    {
                        common.push(("415", "The body is not sent as `application/json`"));
                    }
                }
                let responses = &mut operation.responses.responses;
                for (status, description) in common {
                    responses.entry(status.to_owned()).or_insert_with(|| {
                        RefOr::T(ResponseBuilder::new().description(description).build())
                    });
                }
                for (status, response) in responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let RefOr::T(response) = response
                        && is_error
                        && response.content.is_empty()
                    {
                        response
                            .content
                            .insert("application/json".to_owned(), RefOr::T(error_content()));
                    }
                }
            }
        }
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
