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
//!
//! NUL characters: no text cophub keeps may hold one (PostgreSQL's text
//! cannot, and no person types one), so [`refuse_nul`] answers 400 to an
//! address, form or JSON body that carries one, before any handler reads it,
//! on both backends alike (PostgreSQL's store also answers a NUL it is given
//! as a refusal, not a fault, for what comes another way: a CSV import). Pushed events under `/hooks` are exempt: they are
//! signed by Slack or Zoom, and refusing one would only make it come back.

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

/// Answers 400 to a request whose address, form or JSON body holds a NUL
/// character (see the module's note), in the error shape of its place.
pub(crate) async fn refuse_nul(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/hooks/") {
        return next.run(request).await;
    }
    let api = path.starts_with("/api/");
    let refuse = |error: AppError| {
        if api {
            ApiError(error).into_response()
        } else {
            error.into_response()
        }
    };
    let address = request
        .uri()
        .path_and_query()
        .map_or("", axum::http::uri::PathAndQuery::as_str);
    if holds_percent_nul(address.as_bytes()) {
        return refuse(nul_refused("The address"));
    }
    let media_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let holds_nul: fn(&[u8]) -> bool = if media_type.starts_with("application/json") {
        holds_json_nul
    } else if media_type.starts_with("application/x-www-form-urlencoded") {
        holds_percent_nul
    } else {
        return next.run(request).await;
    };
    // A body of unknown or larger size is left to its route's own limit (a
    // members import may be sent as a form); the store refuses a NUL there.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_none_or(|length| length > MAX_BODY_BYTES) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return refuse(AppError::BadRequest(
            "the request body ended before its declared length".into(),
        ));
    };
    if holds_nul(&bytes) {
        return refuse(nul_refused("The body"));
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn nul_refused(what: &str) -> AppError {
    AppError::BadRequest(format!(
        "{what} holds a NUL character (U+0000); no text in cophub may contain one"
    ))
}

/// Whether URL-encoded text carries `%00`.
fn holds_percent_nul(text: &[u8]) -> bool {
    text.windows(3).any(|w| w == b"%00")
}

/// Whether JSON text carries the escape `\u0000` (a raw NUL is not JSON at
/// all, and the JSON reader refuses it): a `\u0000` preceded by an odd
/// number of backslashes is an escaped backslash followed by plain text.
fn holds_json_nul(text: &[u8]) -> bool {
    text.windows(6).enumerate().any(|(at, w)| {
        w == br"\u0000" && text[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
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
            .layer(middleware::from_fn(refuse_nul))
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

    fn post_body(path: &str, media_type: &str, body: &'static str) -> Request<Body> {
        Request::post(path)
            .header(header::CONTENT_TYPE, media_type)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap()
    }

    async fn error_code(response: Response) -> (StatusCode, String, String) {
        let status = response.status();
        let media_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            media_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn a_nul_in_an_address_form_or_json_body_answers_400_before_any_handler() {
        let app = || app(Policy::new(false, &[]));
        let json = "application/json";
        let form = "application/x-www-form-urlencoded";

        let (status, media_type, body) = error_code(
            send(
                app(),
                post_body("/api/v1/echo", json, r#"{"name":"a\u0000b"}"#),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(media_type.starts_with("application/json"), "{media_type}");
        assert!(body.contains("NUL character"), "{body}");

        let (status, media_type, _) =
            error_code(send(app(), post_body("/form", form, "name=a%00b")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(media_type.starts_with("text/html"), "{media_type}");

        let (status, _, body) =
            error_code(send(app(), get_request("/api/v1/echo?q=%00")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("The address"), "{body}");

        // Look-alikes are not NULs: an escaped backslash before u0000, and
        // a percent sign written as %25.
        for (path, media_type, body) in [
            ("/api/v1/echo", json, r#"{"name":"a\\u0000b"}"#),
            ("/api/v1/echo", json, r#"{"name":"a\\\\\u0041"}"#),
            ("/form", form, "name=100%2500"),
        ] {
            let response = send(app(), post_body(path, media_type, body)).await;
            assert_eq!(response.status(), StatusCode::OK, "{body}");
            let echoed = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(
                echoed,
                body.as_bytes(),
                "the body reaches the handler whole"
            );
        }
    }

    #[tokio::test]
    async fn pushed_events_under_hooks_are_not_checked_here() {
        let app = Router::new()
            .route("/hooks/slack/1", post(|body: Bytes| async move { body }))
            .layer(middleware::from_fn(refuse_nul));
        let response = send(
            app,
            post_body("/hooks/slack/1", "application/json", r#"{"text":"\u0000"}"#),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn an_escaped_nul_is_told_from_an_escaped_backslash() {
        assert!(holds_json_nul(br#""\u0000""#));
        assert!(holds_json_nul(br#""\\\u0000""#));
        assert!(!holds_json_nul(br#""\\u0000""#));
        assert!(!holds_json_nul(br#""u0000""#));
        assert!(holds_percent_nul(b"a=%00"));
        assert!(!holds_percent_nul(b"a=%2500"));
    }
}
