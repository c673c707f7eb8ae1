//! The JSON API under `/api/v1`: bearer tokens (stored hashed), errors as
//! `{"error": {"code", "message"}}`, cursor pagination, and the OpenAPI
//! document at `/api/openapi.json`, generated from these handlers.

mod announcements;
mod audit;
mod calls;
mod channels;
mod communities;
mod conferences;
mod members;

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, FromRequest, FromRequestParts, rejection::JsonRejection},
    http::{header, request::Parts},
};
use hub_core::{auth::hash_secret, model::community::Community, model::user::User};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    AppState,
    access::{self, Access, Route},
    error::{ApiError, ApiErrorResponses, AppError},
    routes::MAX_IMPORT_BYTES,
};

/// The API's routes, each with who may use it (see [`crate::access`]): an
/// API token, not the session cookie, names the user.
pub(crate) fn rows() -> Vec<Route> {
    vec![
        Route::get("/openapi.json", Access::Public, openapi),
        Route::get("/v1/communities", Access::SignedIn, communities::list),
        Route::post("/v1/communities", Access::Owner, communities::create),
        Route::get("/v1/communities/{slug}", Access::Lead, communities::show),
        Route::get(
            "/v1/communities/{slug}/members",
            Access::Lead,
            members::list,
        ),
        Route::post(
            "/v1/communities/{slug}/members",
            Access::Lead,
            members::create,
        ),
        Route::post(
            "/v1/communities/{slug}/members/import",
            Access::Lead,
            members::import,
        )
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        Route::get(
            "/v1/communities/{slug}/members/{id}",
            Access::Lead,
            members::show,
        ),
        Route::patch(
            "/v1/communities/{slug}/members/{id}",
            Access::Lead,
            members::update,
        ),
        Route::get(
            "/v1/communities/{slug}/channels",
            Access::Lead,
            channels::list,
        ),
        Route::post(
            "/v1/communities/{slug}/channels/{id}/sync",
            Access::Lead,
            channels::run,
        ),
        Route::post(
            "/v1/communities/{slug}/channels/{id}/reconnect",
            Access::Lead,
            channels::reconnect,
        ),
        Route::get(
            "/v1/communities/{slug}/channels/{id}/sync/runs",
            Access::Lead,
            channels::runs,
        ),
        Route::post(
            "/v1/communities/{slug}/channels/{id}/sync/approve",
            Access::Lead,
            channels::approve,
        ),
        Route::post(
            "/v1/communities/{slug}/channels/{id}/sync/discard",
            Access::Lead,
            channels::discard,
        ),
        Route::get(
            "/v1/communities/{slug}/sync/runs/{id}",
            Access::Lead,
            channels::show_run,
        ),
        Route::get(
            "/v1/communities/{slug}/announcements",
            Access::Lead,
            announcements::list,
        ),
        Route::post(
            "/v1/communities/{slug}/announcements",
            Access::Lead,
            announcements::create,
        ),
        Route::get(
            "/v1/communities/{slug}/announcements/{id}",
            Access::Lead,
            announcements::show,
        ),
        Route::patch(
            "/v1/communities/{slug}/announcements/{id}",
            Access::Lead,
            announcements::update,
        ),
        Route::post(
            "/v1/communities/{slug}/announcements/{id}/retract",
            Access::Lead,
            announcements::retract,
        ),
        Route::post(
            "/v1/communities/{slug}/announcements/{id}/deliveries/{delivery}/retry",
            Access::Lead,
            announcements::retry,
        ),
        Route::get("/v1/communities/{slug}/calls", Access::Lead, calls::list),
        Route::post("/v1/communities/{slug}/calls", Access::Lead, calls::create),
        Route::get(
            "/v1/communities/{slug}/calls/{id}",
            Access::Lead,
            calls::show,
        ),
        Route::patch(
            "/v1/communities/{slug}/calls/{id}",
            Access::Lead,
            calls::update,
        ),
        Route::post(
            "/v1/communities/{slug}/calls/{id}/occurrences/{original}/move",
            Access::Lead,
            calls::move_occurrence,
        ),
        Route::post(
            "/v1/communities/{slug}/calls/{id}/occurrences/{original}/cancel",
            Access::Lead,
            calls::cancel_occurrence,
        ),
        Route::post(
            "/v1/communities/{slug}/calls/{id}/cancel",
            Access::Lead,
            calls::cancel,
        ),
        Route::get(
            "/v1/communities/{slug}/conferences",
            Access::Lead,
            conferences::list,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences",
            Access::Lead,
            conferences::create,
        ),
        Route::get(
            "/v1/communities/{slug}/conferences/{conference}",
            Access::Lead,
            conferences::show,
        ),
        Route::patch(
            "/v1/communities/{slug}/conferences/{conference}",
            Access::Lead,
            conferences::update,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/phase",
            Access::Lead,
            conferences::phase,
        ),
        Route::put(
            "/v1/communities/{slug}/conferences/{conference}/grid",
            Access::Lead,
            conferences::set_grid,
        ),
        Route::get(
            "/v1/communities/{slug}/conferences/{conference}/registrations",
            Access::Lead,
            conferences::registrations,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/registrations",
            Access::Lead,
            conferences::register,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/registrations/{id}/cancel",
            Access::Lead,
            conferences::cancel_registration,
        ),
        Route::get(
            "/v1/communities/{slug}/conferences/{conference}/proposals",
            Access::Lead,
            conferences::proposals,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/proposals/{id}/merge",
            Access::Lead,
            conferences::merge,
        ),
        Route::get(
            "/v1/communities/{slug}/conferences/{conference}/schedule",
            Access::Lead,
            conferences::show_schedule,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/schedule/build",
            Access::Lead,
            conferences::build,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/schedule/pin",
            Access::Lead,
            conferences::pin,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/schedule/publish",
            Access::Lead,
            conferences::publish,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/schedule/{session}/unpin",
            Access::Lead,
            conferences::unpin,
        ),
        Route::post(
            "/v1/communities/{slug}/conferences/{conference}/schedule/{session}/take-off",
            Access::Lead,
            conferences::take_off,
        ),
        Route::get("/v1/communities/{slug}/audit", Access::Lead, audit::list),
    ]
    .into_iter()
    .map(Route::by_token)
    .collect()
}

/// The API, nested under `/api`.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    access::router(state, rows())
        .fallback(|| async { ApiError(AppError::NotFound("This API endpoint".into())) })
}

#[derive(OpenApi)]
#[openapi(
    info(title = "cophub API", description = "Run a community of practice's channels from one place."),
    paths(
        communities::list, communities::create, communities::show,
        members::list, members::create, members::show, members::update, members::import,
        channels::list, channels::run, channels::runs, channels::show_run, channels::approve,
        channels::discard, channels::reconnect,
        announcements::create, announcements::list, announcements::show,
        announcements::update, announcements::retract, announcements::retry,
        calls::list, calls::create, calls::show, calls::update, calls::move_occurrence,
        calls::cancel_occurrence, calls::cancel,
        conferences::list, conferences::create, conferences::show, conferences::update,
        conferences::phase, conferences::set_grid, conferences::registrations,
        conferences::register,
        conferences::cancel_registration, conferences::proposals, conferences::merge,
        conferences::show_schedule, conferences::build, conferences::pin, conferences::unpin,
        conferences::take_off, conferences::publish,
        audit::list,
    ),
    modifiers(&BearerAuth, &ApiErrorResponses),
    tags((name = "communities"), (name = "members"), (name = "channels"), (name = "announcements"),
        (name = "conferences"), (name = "audit"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI document, built once.
pub(crate) fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}

/// The user a bearer token belongs to, and the token's hash, which names the
/// token (idempotency keys are per token).
#[derive(Debug, Clone)]
pub(crate) struct ApiUser(pub(crate) User, pub(crate) String);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The route's guard has read it already.
        if let Some(user) = parts.extensions.get::<Self>() {
            return Ok(user.clone());
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError(AppError::BadToken))?;
        let token_hash = hash_secret(token);
        let user = state
            .store
            .user_by_api_token(&token_hash)
            .await?
            .ok_or(ApiError(AppError::BadToken))?;
        let user = Self(user, token_hash);
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl ApiUser {
    async fn community(&self, state: &AppState, slug: &str) -> Result<Community, ApiError> {
        crate::access::visible_community(state, &self.0, slug)
            .await?
            .ok_or_else(|| ApiError(AppError::NotFound(format!("The community {slug:?}"))))
    }
}

/// A JSON body whose rejection is the API's error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return crate::security::too_large();
        }
        Self::rejected(rejection.status(), rejection.body_text())
    }
}

/// Path parameters whose rejection (a segment that is not UTF-8, say) is the
/// API's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_lists_every_route_with_bearer_security() {
        let doc = serde_json::to_value(super::document()).unwrap();
        for path in [
            "/api/v1/communities",
            "/api/v1/communities/{slug}",
            "/api/v1/communities/{slug}/members",
            "/api/v1/communities/{slug}/members/{id}",
            "/api/v1/communities/{slug}/members/import",
            "/api/v1/communities/{slug}/channels",
            "/api/v1/communities/{slug}/channels/{id}/sync",
            "/api/v1/communities/{slug}/channels/{id}/sync/runs",
            "/api/v1/communities/{slug}/channels/{id}/sync/approve",
            "/api/v1/communities/{slug}/channels/{id}/sync/discard",
            "/api/v1/communities/{slug}/channels/{id}/reconnect",
            "/api/v1/communities/{slug}/sync/runs/{id}",
            "/api/v1/communities/{slug}/announcements",
            "/api/v1/communities/{slug}/announcements/{id}",
            "/api/v1/communities/{slug}/announcements/{id}/retract",
            "/api/v1/communities/{slug}/announcements/{id}/deliveries/{delivery}/retry",
            "/api/v1/communities/{slug}/calls",
            "/api/v1/communities/{slug}/calls/{id}",
            "/api/v1/communities/{slug}/calls/{id}/occurrences/{original}/move",
            "/api/v1/communities/{slug}/calls/{id}/occurrences/{original}/cancel",
            "/api/v1/communities/{slug}/calls/{id}/cancel",
            "/api/v1/communities/{slug}/conferences",
            "/api/v1/communities/{slug}/conferences/{conference}",
            "/api/v1/communities/{slug}/conferences/{conference}/phase",
            "/api/v1/communities/{slug}/conferences/{conference}/grid",
            "/api/v1/communities/{slug}/conferences/{conference}/registrations",
            "/api/v1/communities/{slug}/conferences/{conference}/registrations/{id}/cancel",
            "/api/v1/communities/{slug}/conferences/{conference}/proposals",
            "/api/v1/communities/{slug}/conferences/{conference}/proposals/{id}/merge",
            "/api/v1/communities/{slug}/conferences/{conference}/schedule",
            "/api/v1/communities/{slug}/conferences/{conference}/schedule/build",
            "/api/v1/communities/{slug}/conferences/{conference}/schedule/pin",
            "/api/v1/communities/{slug}/conferences/{conference}/schedule/publish",
            "/api/v1/communities/{slug}/conferences/{conference}/schedule/{session}/unpin",
            "/api/v1/communities/{slug}/conferences/{conference}/schedule/{session}/take-off",
            "/api/v1/communities/{slug}/audit",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} is missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    /// The routes `router()` declares, with their methods, read from this
    /// file's source: axum cannot list a router's routes, and a list kept by
    /// hand would miss the route someone forgot.
    /// The API's routes as its route table builds them (the OpenAPI
    /// document itself excepted), method names in lower case.
    fn routed() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        let mut routes = std::collections::BTreeMap::<_, std::collections::BTreeSet<_>>::new();
        for row in crate::access::describe("/api", &super::rows()) {
            if row.path == "/api/openapi.json" {
                continue;
            }
            routes
                .entry(row.path)
                .or_default()
                .insert(row.method.as_str().to_lowercase());
        }
        routes
    }

    #[test]
    fn the_openapi_document_describes_exactly_the_routes_of_the_router() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let documented: std::collections::BTreeMap<_, std::collections::BTreeSet<_>> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(path, item)| {
                (
                    path.clone(),
                    item.as_object().unwrap().keys().cloned().collect(),
                )
            })
            .collect();
        let routed = routed();
        assert!(routed.len() > 30, "the router's routes were read");
        assert_eq!(
            documented, routed,
            "documented (left) and routed (right) differ"
        );
    }
}
