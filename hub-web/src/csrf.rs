//! Cross-site request forgery, refused twice over:
//!
//! 1. A state-changing request whose `Sec-Fetch-Site` says another site, or
//!    whose `Origin` is not this site, is refused before any handler runs.
//! 2. Every form carries a token that must equal the value of an HttpOnly
//!    cookie (double submit). A forging site can neither read the cookie nor
//!    set it (`__Host-` on https), so clients that send neither header above
//!    are still covered.
//!
//! `/api` takes bearer tokens, never cookies, and `/hooks` checks signatures,
//! so neither is a CSRF target and both skip the origin check. Neither is
//! `/u/{token}`: the signed token in the path is the whole authority (it can
//! only unsubscribe the person it names), and RFC 8058 one-click requests
//! come from mail providers' servers with no cookie and no token.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use hub_core::auth::new_secret;
use subtle::ConstantTimeEq;

use crate::{
    AppState,
    error::AppError,
    session::{cookie_header, cookie_name, read_cookie},
};

const CSRF_COOKIE: &str = "cophub_csrf";

/// Refuses cross-origin state-changing requests and makes sure every browser
/// has a CSRF token cookie.
pub(crate) async fn check_origin(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let exempt = path.starts_with("/api/")
        || path.starts_with("/hooks/")
        || path.starts_with("/static/")
        || path.starts_with("/u/")
        || matches!(path, "/healthz" | "/readyz");
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && !exempt && !same_origin(request.headers(), &state.settings.public_url) {
        return AppError::Forbidden(
            "this request came from another site and was refused; submit the form from cophub itself".into(),
        )
        .into_response();
    }
    if exempt {
        return next.run(request).await;
    }
    let https = state.settings.https();
    let name = cookie_name(CSRF_COOKIE, https);
    let existing = read_cookie(request.headers(), &name).map(str::to_owned);
    let (token, fresh) = match existing {
        Some(token) if token.len() >= 32 => (token, false),
        _ => (new_secret().0, true),
    };
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if fresh {
        // A year: the token is not a credential, only a same-site proof.
        response.headers_mut().append(
            header::SET_COOKIE,
            cookie_header(&name, &token, 365 * 24 * 3600, https),
        );
    }
    response
}

/// Whether a request comes from this site, as far as its headers say.
fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Neither header: an old browser or a script. The form token decides.
        return true;
    };
    let public_origin = origin_of(public_url);
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin == public_origin
        || origin.strip_prefix("http://") == Some(host)
        || origin.strip_prefix("https://") == Some(host)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

/// The request's CSRF token, for forms to carry and handlers to check.
#[derive(Debug, Clone)]
pub(crate) struct CsrfToken(pub(crate) String);

/// A form that carries only its CSRF token: a button (log out, approve,
/// retry…).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

impl CsrfToken {
    /// Checks a submitted form token against the cookie's.
    pub(crate) fn verify(&self, submitted: &str) -> Result<(), AppError> {
        if bool::from(self.0.as_bytes().ct_eq(submitted.as_bytes())) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "the form's security token is missing or out of date; reload the page and submit it again".into(),
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| AppError::Internal("the CSRF layer did not run".into()))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn another_site_is_refused_and_this_site_allowed() {
        let public = "https://hub.example.org";
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            public
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "hub.example.org")
            ]),
            public
        ));
        assert!(same_origin(
            &headers(&[("origin", "https://hub.example.org")]),
            public
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080")
            ]),
            public
        ));
        assert!(same_origin(&headers(&[]), public));
    }

    #[test]
    fn the_origin_of_a_url_drops_its_path() {
        assert_eq!(
            origin_of("https://hub.example.org/base/"),
            "https://hub.example.org"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
