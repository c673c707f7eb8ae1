//! The page behind every list message's unsubscribe link. A GET only asks
//! (mail scanners open links); a POST unsubscribes, with no cookie and no
//! CSRF token, as RFC 8058's one-click requires. Links never expire and a
//! second use says "already unsubscribed".

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Html,
};
use hub_core::{
    model::{
        community::Community,
        member::{ConsentChannel, Member},
    },
    unsubscribe::{self, UnsubscribeError, UnsubscribeToken, Unsubscribed},
};

use crate::{
    AppState,
    error::AppError,
    templates::{Nav, UnsubscribeOutcome, UnsubscribePage},
};

pub(crate) async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let signer = signer(&state)?;
    let parsed = UnsubscribeToken::decode(&signer, &token)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let member = state
        .store
        .member_by_id(parsed.member)
        .await?
        .ok_or_else(unknown)?;
    let outcome =
        if member.consent(parsed.channel) == hub_core::model::member::ConsentStatus::OptedOut {
            UnsubscribeOutcome::Already
        } else {
            UnsubscribeOutcome::Confirm
        };
    page(&state, token, parsed.channel, &member, outcome).await
}

pub(crate) async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let signer = signer(&state)?;
    let (read, outcome) =
        match unsubscribe::unsubscribe(state.store.as_ref(), &signer, &token).await {
            Ok(done) => done,
            Err(UnsubscribeError::Forged(e)) => return Err(AppError::BadRequest(e.to_string())),
            Err(UnsubscribeError::Unknown) => return Err(unknown()),
            Err(UnsubscribeError::Store(e)) => return Err(e.into()),
        };
    let (member, outcome) = match outcome {
        Unsubscribed::Now(member) => (member, UnsubscribeOutcome::Done),
        Unsubscribed::Already(member) => (member, UnsubscribeOutcome::Already),
    };
    page(&state, token, read.channel, &member, outcome).await
}

fn signer(state: &AppState) -> Result<hub_core::signing::Signer, AppError> {
    state
        .secret_keys
        .as_ref()
        .map(|keys| keys.signer(unsubscribe::PURPOSE))
        .ok_or_else(|| AppError::Unavailable("this process has no signing keys".into()))
}

fn unknown() -> AppError {
    AppError::NotFound("This subscriber".into())
}

async fn page(
    state: &AppState,
    token: String,
    channel: ConsentChannel,
    member: &Member,
    outcome: UnsubscribeOutcome,
) -> Result<Html<String>, AppError> {
    let community: Option<Community> = state.store.community(member.community_id).await?;
    Ok(Html(
        UnsubscribePage {
            nav: Nav {
                user_email: None,
                csrf: String::new(),
            },
            token,
            community: community.map_or_else(|| "The community".into(), |c| c.name),
            channel: super::membership::channel_label(channel),
            email: member.email.to_string(),
            outcome,
        }
        .render()?,
    ))
}
