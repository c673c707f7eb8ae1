//! Receivers for what other systems send the hub: `/hooks/email/bounce`
//! takes a message returned to a list's bounce address, for MTAs that
//! forward over HTTP instead of piping to `cophub email bounce`. It needs no
//! login: only a signed VERP address this hub made can name a member.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Query, State},
    routing::post,
};
use hub_core::bounces::{Intake, IntakeError, take_in};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, AppError},
};

/// A report larger than this is not a report.
const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/hooks/email/bounce",
        post(email_bounce).layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES)),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct BounceQuery {
    /// The envelope recipient, when the MTA knows it.
    recipient: Option<String>,
}

/// The raw message is the request body (`message/rfc822`).
async fn email_bounce(
    State(state): State<AppState>,
    Query(query): Query<BounceQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let keys = state
        .secret_keys
        .as_ref()
        .ok_or_else(|| AppError::Unavailable("this process has no signing keys".into()))?;
    let verp = keys.signer(hub_core::bounces::PURPOSE);
    let intake = take_in(
        state.store.as_ref(),
        &verp,
        &body,
        query.recipient.as_deref(),
        state.clock.now(),
    )
    .await
    .map_err(|error| match error {
        IntakeError::Store(error) => AppError::from(error),
        other => AppError::Invalid(other.to_string()),
    })?;
    Ok(Json(match intake {
        Intake::Counted { record, .. } => json!({
            "outcome": "counted",
            "score": record.score.score,
            "email_disabled": record.email_disabled_at.is_some(),
        }),
        Intake::AlreadyCountedToday(_) => json!({"outcome": "already_counted_today"}),
        Intake::Unsubscribed(_) => json!({"outcome": "unsubscribed"}),
        Intake::AlreadyUnsubscribed(_) => json!({"outcome": "already_unsubscribed"}),
    }))
}
