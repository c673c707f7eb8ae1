//! `/healthz`: the process answers. `/readyz`: and its database does too, so
//! a balancer sends traffic only to instances that can serve it.

use axum::{extract::State, http::StatusCode};

use crate::AppState;

pub(crate) async fn live() -> &'static str {
    "ok"
}

pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
