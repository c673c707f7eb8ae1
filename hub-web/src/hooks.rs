//! Receivers for what other systems send the hub: `/hooks/email/bounce`
//! takes a message returned to a list's bounce address, for MTAs that
//! forward over HTTP instead of piping to `cophub email bounce`. It needs no
//! login: only a signed VERP address this hub made can name a member.
//! `/hooks/slack/events` takes Slack's Events API: the signature is checked,
//! the event kept (a retry of a kept one is acknowledged and dropped), the
//! request answered, and the event processed afterwards, so Slack hears
//! back well within its three seconds. `/hooks/zoom/{channel}` does the same
//! for one Zoom channel's webhooks, signed with that channel's secret token
//! (`AppState::zoom_hooks`); its events are applied to the community's calls
//! by `hub_core::calls::attendance`.

use axum::http::HeaderMap;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
};
use hub_core::{
    bounces::{Intake, IntakeError, take_in},
    ids::ChannelId,
    model::event::InboundEvent,
    ports::inbound::{Received, Refusal},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    access::{self, Access, Route},
    error::{ApiError, AppError},
    lookup,
};

/// A report larger than this is not a report.
const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// Slack's events are small; anything larger is not one.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The pushed-event routes: public, each checked by its signature or secret.
pub(crate) fn rows() -> Vec<Route> {
    vec![
        Route::post("/hooks/email/bounce", Access::Public, email_bounce)
            .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES)),
        Route::post("/hooks/slack/events", Access::Public, slack_events)
            .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES)),
        Route::post("/hooks/zoom/{channel}", Access::Public, zoom_events)
            .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES)),
    ]
}

/// Where Slack, Zoom and the mail server push events.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    access::router(state, rows())
}

async fn slack_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let source = state.slack_events.clone().ok_or_else(|| {
        AppError::NotFound("Slack events on this hub ([slack] signing_secret is not set)".into())
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = state.clock.now();
    let received = source
        .receive(
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            &body,
            now.timestamp(),
        )
        .map_err(|refusal| match refusal {
            Refusal::Unsigned(why) => AppError::Unsigned(why),
            Refusal::Malformed(why) => AppError::Invalid(why),
        })?;
    let event = match keep(&state, source.source(), received, now).await? {
        Kept::Answer(answer) => return Ok(Json(answer)),
        Kept::Event(event) => event,
    };
    if let Some(engine) = state.sync.clone() {
        tokio::spawn(async move {
            if let Err(error) = engine.process_event(&event).await {
                tracing::warn!(event = %event.event_id, %error, "a Slack event waits to be processed again");
            }
        });
    }
    Ok(Json(json!({"ok": true})))
}

/// What a checked request comes to.
enum Kept {
    /// Answer this and stop: a challenge, an ignored event, a retry.
    Answer(Value),
    /// A new event, kept: acknowledge it, then process it.
    Event(InboundEvent),
}

/// Answers what needs no keeping; keeps a new event before it is
/// acknowledged (a crash after this loses nothing), and answers a retry of a
/// kept one as a duplicate.
async fn keep(
    state: &AppState,
    source: &str,
    received: Received,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Kept, ApiError> {
    let (event_id, routing_key, kind, payload) = match received {
        Received::Challenge(challenge) => return Ok(Kept::Answer(json!({"challenge": challenge}))),
        Received::Reply(body) => return Ok(Kept::Answer(body)),
        Received::Ignored(why) => return Ok(Kept::Answer(json!({"ok": true, "ignored": why}))),
        Received::Event {
            event_id,
            routing_key,
            kind,
            payload,
        } => (event_id, routing_key, kind, payload),
    };
    let event = InboundEvent {
        source: source.to_owned(),
        event_id,
        routing_key,
        kind,
        payload,
        received_at: now,
        processed_at: None,
        outcome: None,
    };
    if !state.store.record_inbound_event(&event).await? {
        return Ok(Kept::Answer(json!({"ok": true, "duplicate": true})));
    }
    Ok(Kept::Event(event))
}

/// One Zoom channel's webhooks: checked with its secret token, answered at
/// once (Zoom waits three seconds), kept first and applied afterwards.
async fn zoom_events(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const WHAT: &str = "This Zoom channel";
    let hooks = state
        .zoom_hooks
        .clone()
        .ok_or_else(|| AppError::NotFound("Zoom webhooks on this hub".into()))?;
    let id: ChannelId = lookup::id(&channel, WHAT)?;
    let (channel, secret) = state
        .store
        .channel_with_secret(id)
        .await?
        .filter(|(channel, _)| channel.kind == hooks.kind())
        .ok_or_else(|| AppError::NotFound(WHAT.into()))?;
    let secret = match secret {
        Some(encrypted) => state
            .secret_keys()?
            .decrypt(&encrypted)
            .map_err(AppError::internal)?,
        None => String::new(),
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = state.clock.now();
    let received = hooks
        .receive(
            &secret,
            &channel.id.to_string(),
            header("x-zm-request-timestamp"),
            header("x-zm-signature"),
            &body,
            now.timestamp(),
        )
        .map_err(|refusal| match refusal {
            Refusal::Unsigned(why) => AppError::Unsigned(why),
            Refusal::Malformed(why) => AppError::Invalid(why),
        })?;
    let event = match keep(&state, hooks.source(), received, now).await? {
        Kept::Answer(answer) => return Ok(Json(answer)),
        Kept::Event(event) => event,
    };
    let (store, clock) = (state.store.clone(), state.clock.clone());
    tokio::spawn(async move {
        if let Err(error) =
            hub_core::calls::attendance::process(store.as_ref(), clock.as_ref(), &event).await
        {
            tracing::warn!(event = %event.event_id, %error, "a Zoom event waits to be processed again");
        }
    });
    Ok(Json(json!({"ok": true})))
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
