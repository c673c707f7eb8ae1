//! What a path names inside a community the user may see. Text that is not
//! an id, and an id of another community, are "not found" alike, so ids
//! reveal nothing; the dashboard and the API both look things up here.

use std::str::FromStr;

use hub_core::{
    access::{community_announcement, community_call, community_channel, community_sync_run},
    model::{
        announcement::Announcement, call::Call, channel::Channel, community::Community,
        sync::SyncRun,
    },
};

use crate::{AppState, error::AppError};

/// Reads an id from a path; `what` names it in the 404 ("This channel").
pub(crate) fn id<T: FromStr>(text: &str, what: &str) -> Result<T, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound(what.to_owned()))
}

/// The community's channel `text`.
pub(crate) async fn channel(
    state: &AppState,
    community: &Community,
    text: &str,
) -> Result<Channel, AppError> {
    const WHAT: &str = "This channel";
    community_channel(state.store.as_ref(), community, id(text, WHAT)?)
        .await?
        .ok_or_else(|| AppError::NotFound(WHAT.into()))
}

/// The community's announcement `text`.
pub(crate) async fn announcement(
    state: &AppState,
    community: &Community,
    text: &str,
) -> Result<Announcement, AppError> {
    const WHAT: &str = "This announcement";
    community_announcement(state.store.as_ref(), community, id(text, WHAT)?)
        .await?
        .ok_or_else(|| AppError::NotFound(WHAT.into()))
}

/// The community's call `text`.
pub(crate) async fn call(
    state: &AppState,
    community: &Community,
    text: &str,
) -> Result<Call, AppError> {
    const WHAT: &str = "This call";
    community_call(state.store.as_ref(), community, id(text, WHAT)?)
        .await?
        .ok_or_else(|| AppError::NotFound(WHAT.into()))
}

/// The sync run `text` of one of the community's channels, with the channel.
pub(crate) async fn sync_run(
    state: &AppState,
    community: &Community,
    text: &str,
) -> Result<(Channel, SyncRun), AppError> {
    const WHAT: &str = "This sync run";
    community_sync_run(state.store.as_ref(), community, id(text, WHAT)?)
        .await?
        .ok_or_else(|| AppError::NotFound(WHAT.into()))
}
