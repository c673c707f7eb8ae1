//! What every response carries for the browser's protection, and the limit
//! on what a request may send.
//!
//! - `Content-Security-Policy`: scripts, styles and images from this site
//!   only, and no inline script or style at all — the templates have none,
//!   and must keep it so (an inline `<script>`, `<style>`, `style=` or `on…=`
//!   attribute would be blocked). Forms post to this site, or to the Slack
//!   app's authorize page, which the install form redirects to (browsers
//!   check `form-action` on a form's redirects too). No site may frame a
//!   page (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older
//!   browsers).
//! - `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`
//!   (signed links in paths never leave in a `Referer`).
//! - `Strict-Transport-Security` only when `public_url` is https: over
//!   plain http it would be ignored, and behind a proxy that terminates TLS
//!   this process cannot tell otherwise.
//!
//! Bodies: [`MAX_BODY_BYTES`] for every route unless it says otherwise (the
//! members import takes `routes::MAX_IMPORT_BYTES`). A larger body answers
//! 413 with the error shape of where it was sent: the JSON error under
//! `/api`, the error page elsewhere.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    AppState,
    error::{ApiError, AppError},
};

/// The largest request body a route takes unless it sets its own limit:
/// forms and JSON are far smaller; imports have their own.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The policy without extra form targets.
const BASE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
     object-src 'none'";

/// A year, as browsers expect for HSTS.
const HSTS: &str = "max-age=31536000";

/// The headers every response gets, made once from the settings.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    csp: HeaderValue,
    hsts: bool,
}

impl Policy {
    /// The policy for `state`: HSTS when its public URL is https, and the
    /// Slack app's authorize origin as a form target when one is configured.
    pub(crate) fn of(state: &AppState) -> Self {
        let slack = state
            .slack_installer
            .as_ref()
            .and_then(|installer| installer.authorize_url("").ok())
            .and_then(|url| origin(&url));
        Self::new(state.settings.https(), slack.as_slice())
    }

    /// A policy that lets forms go to `form_targets` (origins) too.
    pub(crate) fn new(https: bool, form_targets: &[String]) -> Self {
        let csp = if form_targets.is_empty() {
            BASE_POLICY.to_owned()
        } else {
            BASE_POLICY.replace(
                "form-action 'self'",
                &format!("form-action 'self' {}", form_targets.join(" ")),
            )
        };
        Self {
            csp: HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static(BASE_POLICY)),
            hsts: https,
        }
    }

    /// Adds each header the response does not set itself.
    fn apply(&self, headers: &mut HeaderMap) {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| self.csp.clone());
        headers
            .entry(header::X_CONTENT_TYPE_OPTIONS)
            .or_insert_with(|| HeaderValue::from_static("nosniff"));
        headers
            .entry(header::REFERRER_POLICY)
            .or_insert_with(|| HeaderValue::from_static("same-origin"));
        headers
            .entry(header::X_FRAME_OPTIONS)
            .or_insert_with(|| HeaderValue::from_static("DENY"));
        if self.hsts {
            headers
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| HeaderValue::from_static(HSTS));
        }
    }
}

/// `scheme://host[:port]` of a URL, as CSP names a source.
fn origin(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The error for a body over its route's limit.
pub(crate) fn too_large() -> AppError {
    AppError::TooLarge(format!(
        "the request body is too large for this address: forms and API requests take at most {} MiB, a members import {} MiB",
        MAX_BODY_BYTES / (1024 * 1024),
        crate::routes::MAX_IMPORT_BYTES / (1024 * 1024),
    ))
}

/// Gives every response the policy's headers, and a 413 that axum's
/// extractors answered in plain text the error shape of its place.
pub(crate) async fn protect(
    State(policy): State<Policy>,
    request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && is_plain_text(response.headers()) {
        response = if api {
            ApiError(too_large()).into_response()
        } else {
            too_large().into_response()
        };
    }
    policy.apply(response.headers_mut());
    response
}

fn is_plain_text(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::{
        Router,
        body::{Body, Bytes},
        extract::DefaultBodyLimit,
        http::Request,
        middleware,
        routing::{get, post},
    };
    use tower::ServiceExt;

    use super::*;

    fn app(policy: Policy) -> Router {
        Router::new()
            .route("/page", get(|| async { "page" }))
            .route("/api/v1/echo", post(|body: Bytes| async move { body }))
            .route("/form", post(|body: Bytes| async move { body }))
            .route(
                "/framed",
                get(|| async {
                    (
                        [(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'self'")],
                        "mine",
                    )
                }),
            )
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn_with_state(policy, protect))
    }

    async fn send(app: Router, request: Request<Body>) -> Response {
        app.oneshot(request).await.unwrap()
    }

    fn get_request(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn every_response_carries_the_policy_and_an_unknown_path_too() {
        for path in ["/page", "/nowhere"] {
            let response = send(app(Policy::new(false, &[])), get_request(path)).await;
            let headers = response.headers();
            let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
            assert!(csp.contains("frame-ancestors 'none'"));
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
            assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
        }
    }

    #[tokio::test]
    async fn hsts_is_sent_only_for_an_https_public_url() {
        let response = send(app(Policy::new(true, &[])), get_request("/page")).await;
        assert_eq!(
            response.headers()[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
    }

    #[tokio::test]
    async fn a_response_keeps_its_own_policy() {
        let response = send(app(Policy::new(false, &[])), get_request("/framed")).await;
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            "frame-ancestors 'self'"
        );
    }

    #[test]
    fn the_slack_authorize_origin_may_receive_the_install_form() {
        let slack = origin("https://slack.com/oauth/v2/authorize?state=x").unwrap();
        assert_eq!(slack, "https://slack.com");
        let policy = Policy::new(false, &[slack]);
        assert!(
            policy
                .csp
                .to_str()
                .unwrap()
                .contains("form-action 'self' https://slack.com;")
        );
        assert_eq!(origin("not a url"), None);
    }

    #[tokio::test]
    async fn an_oversized_body_answers_413_in_the_shape_of_its_place() {
        let big = vec![b'x'; MAX_BODY_BYTES + 1];
        let api = send(
            app(Policy::new(false, &[])),
            Request::post("/api/v1/echo")
                .body(Body::from(big.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!(api.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(api.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let body = axum::body::to_bytes(api.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "too_large");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 1 MiB")
        );

        let form = send(
            app(Policy::new(false, &[])),
            Request::post("/form").body(Body::from(big)).unwrap(),
        )
        .await;
        assert_eq!(form.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            form.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );

        let within = send(
            app(Policy::new(false, &[])),
            Request::post("/form")
                .body(Body::from(vec![b'x'; 1000]))
                .unwrap(),
        )
        .await;
        assert_eq!(within.status(), StatusCode::OK);
    }
}
