//! cophub's web interface: the dashboard for owners and leads (server-rendered
//! with askama, plain forms, no JavaScript build), the JSON API under
//! `/api/v1` with its OpenAPI document, and the health endpoints.
//!
//! Handlers stay thin: they check who is asking, call hub-core, and render.
//! Queries live in hub-store, rules in hub-core.

mod access;
mod api;
mod csrf;
pub mod demo;
mod error;
mod hooks;
mod login_limit;
mod lookup;
mod routes;
mod security;
mod session;
mod templates;

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::DefaultBodyLimit, http::HeaderName, middleware};
use hub_core::{
    ports::{clock::Clock, store::Store},
    secrets::SecretKeys,
    sync::SyncEngine,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

pub use access::{Access, RouteInfo, route_table};
pub use demo::demo_router;
pub use login_limit::LoginLimits;

/// What the web layer needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The base of every link the hub writes, e.g. `https://hub.example.org`.
    pub public_url: String,
    /// A session unused this long has ended.
    pub session_idle: Duration,
    /// A session this old has ended, however busy.
    pub session_absolute: Duration,
    /// How failed logins are limited.
    pub login_limits: LoginLimits,
    /// The address calendar invitations and feeds name as their organizer
    /// (the hub's own sender).
    pub organizer: hub_core::Email,
}

impl WebSettings {
    /// Whether cookies must be `Secure` and `__Host-` prefixed.
    #[must_use]
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The settings.
    pub settings: Arc<WebSettings>,
    /// Runs membership syncs when a lead asks; `None` where this process
    /// cannot reach channels (the sync pages then say so).
    pub sync: Option<SyncEngine>,
    /// Encrypts channel credentials a lead gives; `None` where this process
    /// has no keys (such requests then answer 503).
    pub secret_keys: Option<Arc<SecretKeys>>,
    /// Sends the hub's own mail (join confirmations, preferences links);
    /// `None` where no mail server is configured (those pages then say so).
    pub mailer: Option<Arc<dyn hub_core::ports::mailer::Mailer>>,
    /// Installs the deployment's Slack app into a workspace; `None` where no
    /// app is configured (the Channels page then says so).
    pub slack_installer: Option<Arc<dyn hub_core::ports::install::Installer>>,
    /// Checks and reads Slack's Events API requests; `None` where no signing
    /// secret is configured (the hook then answers 404).
    pub slack_events: Option<Arc<dyn hub_core::ports::inbound::EventSource>>,
    /// Checks and reads Zoom's webhooks, each with its channel's secret
    /// token; `None` where this build takes none (the hook then answers 404).
    pub zoom_hooks: Option<Arc<dyn hub_core::ports::inbound::ChannelHooks>>,
    login_limiter: Arc<login_limit::LoginLimiter>,
}

impl AppState {
    /// State over a store, a clock and settings.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: WebSettings) -> Self {
        Self {
            login_limiter: Arc::new(login_limit::LoginLimiter::new(settings.login_limits)),
            store,
            clock,
            settings: Arc::new(settings),
            sync: None,
            secret_keys: None,
            mailer: None,
            slack_installer: None,
            slack_events: None,
            zoom_hooks: None,
        }
    }

    /// The same state, sending the hub's own mail through `mailer`.
    #[must_use]
    pub fn with_mailer(mut self, mailer: Arc<dyn hub_core::ports::mailer::Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The same state, encrypting channel credentials with `keys`.
    #[must_use]
    pub fn with_keys(mut self, keys: Arc<SecretKeys>) -> Self {
        self.secret_keys = Some(keys);
        self
    }

    /// The same state, running syncs with `engine`.
    #[must_use]
    pub fn with_sync(mut self, engine: SyncEngine) -> Self {
        self.sync = Some(engine);
        self
    }

    /// The sync engine, or a 503 that says why there is none.
    /// With the deployment's Slack app.
    #[must_use]
    pub fn with_slack_installer(
        mut self,
        installer: Arc<dyn hub_core::ports::install::Installer>,
    ) -> Self {
        self.slack_installer = Some(installer);
        self
    }

    /// With Slack's Events API.
    #[must_use]
    pub fn with_slack_events(
        mut self,
        events: Arc<dyn hub_core::ports::inbound::EventSource>,
    ) -> Self {
        self.slack_events = Some(events);
        self
    }

    /// With Zoom's webhooks.
    #[must_use]
    pub fn with_zoom_hooks(
        mut self,
        hooks: Arc<dyn hub_core::ports::inbound::ChannelHooks>,
    ) -> Self {
        self.zoom_hooks = Some(hooks);
        self
    }

    pub(crate) fn slack_installer(
        &self,
    ) -> Result<&dyn hub_core::ports::install::Installer, error::AppError> {
        self.slack_installer.as_deref().ok_or_else(|| {
            error::AppError::NotFound(
                "Slack install on this hub ([slack] client_id and client_secret are not set)"
                    .into(),
            )
        })
    }

    pub(crate) fn secret_keys(&self) -> Result<&SecretKeys, error::AppError> {
        self.secret_keys.as_deref().ok_or_else(|| {
            error::AppError::Unavailable("this process was started without secret keys".into())
        })
    }

    pub(crate) fn sync_engine(&self) -> Result<&SyncEngine, error::AppError> {
        self.sync.as_ref().ok_or_else(|| {
            error::AppError::Unavailable("this process was started without channel access".into())
        })
    }
}

/// The whole web application.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(routes::router(&state))
        .merge(hooks::router(&state))
        .nest("/api", api::router(&state))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::check_origin,
        ))
        .layer(middleware::from_fn(security::refuse_nul))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(DefaultBodyLimit::max(security::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn(routes::metrics::time_request))
        .layer(middleware::from_fn_with_state(
            security::Policy::of(&state),
            security::protect,
        ))
        .layer(SetSensitiveHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
            axum::http::header::SET_COOKIE,
        ]))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(error::request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The application of the separate metrics address (`[metrics] listen`):
/// `/metrics` without authentication, over `store`.
pub fn metrics_router(store: Arc<dyn Store>) -> Router {
    routes::metrics::router(store)
}
