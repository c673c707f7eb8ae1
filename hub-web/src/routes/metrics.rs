//! `/metrics` in the Prometheus text format: on the main address for an
//! owner's API token (401 without a token, 403 for anyone else's), and
//! without authentication on the separate address `[metrics] listen` names
//! (`metrics_router`), which should be reachable by the scraper alone.
//!
//! Also here: timing every request into
//! `cophub_http_request_duration_seconds`, labelled by the route's pattern
//! (`/communities/{slug}/members`), never by its path, so the series stay
//! few whatever the paths.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use hub_core::{metrics, ports::store::Store};

use crate::{
    AppState,
    api::ApiUser,
    error::{ApiError, AppError},
    security,
};

/// `GET /metrics` with an owner's bearer token.
pub(crate) async fn show(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Response, ApiError> {
    if !user.0.is_owner {
        return Err(ApiError(AppError::Forbidden(
            "only an owner's API token may read the metrics".into(),
        )));
    }
    exposition(state.store.as_ref()).await
}

/// `GET /metrics` on the metrics address: no authentication.
async fn open(State(store): State<Arc<dyn Store>>) -> Result<Response, ApiError> {
    exposition(store.as_ref()).await
}

async fn exposition(store: &dyn Store) -> Result<Response, ApiError> {
    let text = metrics::render(store).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

/// The whole application of the metrics address: `/metrics`, nothing else.
pub(crate) fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/metrics", get(open))
        .layer(middleware::from_fn_with_state(
            security::Policy::new(false, &[]),
            security::protect,
        ))
        .with_state(store)
}

/// Times a request into the latency histogram, by method, route pattern
/// (`unmatched` where no route matched) and status.
pub(crate) async fn time_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::registry().http_requests.observe(
        &[method, &route, response.status().as_str()],
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A client may send any method name; only the standard ones become labels.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn requests_are_timed_by_route_pattern_not_by_path() {
        let app = Router::new()
            .route("/unit-test/{slug}/members", get(|| async { "members" }))
            .layer(middleware::from_fn(time_request));
        for slug in ["a", "b", "c"] {
            let request = axum::http::Request::get(format!("/unit-test/{slug}/members"))
                .body(Body::empty())
                .unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let request = axum::http::Request::builder()
            .method("BREW")
            .uri("/unit-test/x/members")
            .body(Body::empty())
            .unwrap();
        app.oneshot(request).await.unwrap();
        let mut out = metrics::Exposition::default();
        metrics::registry().http_requests.write(&mut out);
        let text = out.into_text();
        assert!(
            text.contains(
                "cophub_http_request_duration_seconds_count{method=\"GET\",route=\"/unit-test/{slug}/members\",status=\"200\"} 3\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "cophub_http_request_duration_seconds_count{method=\"other\",route=\"/unit-test/{slug}/members\",status=\"405\"} 1\n"
            ),
            "{text}"
        );
        assert!(!text.contains("/unit-test/a/"));
    }
}
