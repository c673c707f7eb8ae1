//! Who may use each route: the route table every router is built from.
//!
//! Each row names a method, a path and an [`Access`], and the router applies
//! the access as a guard before the handler runs: before its body is read,
//! so that a lead of another community gets 404 for a form it could not
//! fill, not a 422 about the form. Handlers still look their community up
//! (they need it), so the guard is a second lock, not the only one.
//!
//! Because the routers are built from these rows, no route exists without
//! one: the role × route test (tests/e2e/access_matrix.rs) reads
//! [`route_table`] and holds every row to its access, for anonymous
//! visitors, a member with a mailed link, a lead, a lead of another
//! community and an owner.

use axum::{
    Router,
    extract::{FromRequestParts, RawPathParams, Request, State},
    handler::Handler,
    http::Method,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{MethodRouter, get, patch, post, put},
};
use hub_core::{
    model::{community::Community, user::User},
    ports::store::StoreError,
};

use crate::{
    AppState,
    api::ApiUser,
    error::{ApiError, AppError},
    session::CurrentUser,
};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, assets, logging in, a community's public pages, mailed
    /// links (the link is the key) and pushed events (checked by signature).
    Public,
    /// Anyone logged in (the dashboard) or holding an API token.
    SignedIn,
    /// A lead of the community named by the path's `{slug}`, or an owner;
    /// anyone else logged in gets 404, as if the community did not exist.
    Lead,
    /// An owner of this cophub; anyone else logged in gets 403.
    Owner,
}

/// One row of the route table, as the role × route test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method.
    pub method: Method,
    /// The path pattern, `{name}` for a parameter, from the root (`/api/…`).
    pub path: String,
    /// Who may use it.
    pub access: Access,
}

/// One route: its method, path, access and handler.
pub(crate) struct Route {
    method: Method,
    path: &'static str,
    access: Access,
    /// Whether the guard reads an API token (`Authorization: Bearer`)
    /// instead of the dashboard's session cookie.
    bearer: bool,
    handler: MethodRouter<AppState>,
}

macro_rules! constructor {
    ($name:ident, $method:ident, $routing:ident) => {
        pub(crate) fn $name<H, T>(path: &'static str, access: Access, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            Self {
                method: Method::$method,
                path,
                access,
                bearer: false,
                handler: $routing(handler),
            }
        }
    };
}

impl Route {
    constructor!(get, GET, get);
    constructor!(post, POST, post);
    constructor!(put, PUT, put);
    constructor!(patch, PATCH, patch);

    /// Makes the guard read an API token instead of the session cookie, and
    /// answer in the API's error shape.
    pub(crate) fn by_token(mut self) -> Self {
        self.bearer = true;
        self
    }

    /// Wraps the handler in `layer` (a body limit of its own, say).
    pub(crate) fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        self.handler = self.handler.layer(layer);
        self
    }
}

/// Builds a router from `rows`, each behind the guard of its access.
pub(crate) fn router(state: &AppState, rows: Vec<Route>) -> Router<AppState> {
    rows.into_iter().fold(Router::new(), |router, row| {
        let handler = match row.access {
            Access::Public => row.handler,
            access => row.handler.route_layer(middleware::from_fn_with_state(
                Guard {
                    state: state.clone(),
                    access,
                    bearer: row.bearer,
                },
                guard,
            )),
        };
        router.route(row.path, handler)
    })
}

/// The table's rows, as `(method, path from the root, access)`.
pub(crate) fn describe(prefix: &str, rows: &[Route]) -> Vec<RouteInfo> {
    rows.iter()
        .map(|row| RouteInfo {
            method: row.method.clone(),
            path: format!("{prefix}{}", row.path),
            access: row.access,
        })
        .collect()
}

/// Every route of the web application, from the root.
#[must_use]
pub fn route_table() -> Vec<RouteInfo> {
    let mut table = describe("", &crate::routes::rows());
    table.extend(describe("", &crate::hooks::rows()));
    table.extend(describe("/api", &crate::api::rows()));
    table
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    access: Access,
    bearer: bool,
}

async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let allowed = if guard.bearer {
        match ApiUser::from_request_parts(&mut parts, &guard.state).await {
            Ok(user) => check(&guard, &mut parts, &user.0)
                .await
                .map_err(|e| ApiError(e).into_response()),
            Err(rejection) => Err(rejection.into_response()),
        }
    } else {
        match CurrentUser::from_request_parts(&mut parts, &guard.state).await {
            Ok(user) => check(&guard, &mut parts, &user.0)
                .await
                .map_err(IntoResponse::into_response),
            Err(rejection) => Err(rejection.into_response()),
        }
    };
    match allowed {
        // The handler asks for the same community again: it is answered
        // from here, not with a second lookup.
        Ok(Some(community)) => {
            CHECKED
                .scope(community, next.run(Request::from_parts(parts, body)))
                .await
        }
        Ok(None) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal,
    }
}

tokio::task_local! {
    /// The community a `Lead` route's guard found visible to this request's
    /// user, while its handler runs.
    static CHECKED: Community;
}

/// The community with this slug if `user` may see it: the one the route's
/// guard already checked for this request, or looked up.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub(crate) async fn visible_community(
    state: &AppState,
    user: &User,
    slug: &str,
) -> Result<Option<Community>, StoreError> {
    let checked = CHECKED
        .try_with(|c| (c.slug.as_str() == slug).then(|| c.clone()))
        .ok()
        .flatten();
    match checked {
        Some(community) => Ok(Some(community)),
        None => hub_core::access::visible_community(state.store.as_ref(), user, slug).await,
    }
}

/// Whether `user` may use a route of the guard's access; for a `Lead`
/// route, the community it checked.
async fn check(
    guard: &Guard,
    parts: &mut axum::http::request::Parts,
    user: &User,
) -> Result<Option<Community>, AppError> {
    match guard.access {
        Access::Public | Access::SignedIn => Ok(None),
        Access::Owner if user.is_owner => Ok(None),
        Access::Owner => Err(AppError::Forbidden(
            "only an owner of this cophub can do this".into(),
        )),
        Access::Lead => {
            // A path that cannot be read is left to the handler's own 400.
            let Ok(params) = RawPathParams::from_request_parts(parts, &guard.state).await else {
                return Ok(None);
            };
            let Some((_, slug)) = params.iter().find(|(name, _)| *name == "slug") else {
                return Ok(None);
            };
            hub_core::access::visible_community(guard.state.store.as_ref(), user, slug)
                .await?
                .map(Some)
                .ok_or_else(|| AppError::NotFound("This community".into()))
        }
    }
}
