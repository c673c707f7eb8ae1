//! A community's calendar feeds: `/c/{slug}/calendar.ics` for anyone (no
//! join links), and `/c/{slug}/calendar/{token}.ics` for one member (with
//! them), the token signed for that member alone.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use hub_core::calls::feed::{self, FeedError};

use crate::{AppState, error::AppError};

fn ics(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            // Calendar programs poll; a few minutes of staleness is fine.
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        text,
    )
        .into_response()
}

async fn calendar(
    state: &AppState,
    slug: &str,
    member: Option<hub_core::ids::MemberId>,
) -> Result<Response, AppError> {
    let community = state
        .store
        .community_by_slug(slug)
        .await?
        .ok_or_else(|| AppError::NotFound("This community".into()))?;
    let public_url = &state.settings.public_url;
    let sender = feed::sender(&community, &state.settings.organizer, public_url);
    match feed::calendar(
        state.store.as_ref(),
        &community,
        &sender,
        public_url,
        member,
        state.clock.now(),
    )
    .await
    {
        Ok(text) => Ok(ics(text)),
        Err(FeedError::NotValid) => Err(AppError::NotFound("This calendar link".into())),
        Err(FeedError::Store(error)) => Err(error.into()),
    }
}

/// GET `/c/{slug}/calendar.ics`: every call, without join links.
pub async fn public(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    calendar(&state, &slug, None).await
}

/// GET `/c/{slug}/calendar/{token}.ics`: a member's feed, with join links.
pub async fn private(
    State(state): State<AppState>,
    Path((slug, token)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let signer = state.secret_keys()?.signer(feed::PURPOSE);
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    let member = feed::read_feed_token(&signer, token)
        .ok_or_else(|| AppError::NotFound("This calendar link".into()))?;
    calendar(&state, &slug, Some(member)).await
}
