//! Who may see what. An owner sees every community; anyone else sees the
//! communities where an active member with their email is a lead, and for any
//! other community the answer is "not found", never "forbidden", so ids and
//! slugs reveal nothing.

use crate::{
    ids::{AnnouncementId, ChannelId, SyncRunId},
    model::{
        announcement::Announcement, channel::Channel, community::Community, sync::SyncRun,
        user::User,
    },
    ports::store::{Store, StoreError},
};

/// The community with this slug, if the user may see it.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn visible_community(
    store: &dyn Store,
    user: &User,
    slug: &str,
) -> Result<Option<Community>, StoreError> {
    if user.is_owner {
        return store.community_by_slug(slug).await;
    }
    Ok(store
        .communities_for(user)
        .await?
        .into_iter()
        .find(|c| c.slug.as_str() == slug))
}

/// The community's channel with this id; `None` for a channel of another community.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn community_channel(
    store: &dyn Store,
    community: &Community,
    channel: ChannelId,
) -> Result<Option<Channel>, StoreError> {
    Ok(store
        .channels(community.id)
        .await?
        .into_iter()
        .find(|c| c.id == channel))
}

/// A sync run of one of the community's channels, with that channel.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn community_sync_run(
    store: &dyn Store,
    community: &Community,
    run: SyncRunId,
) -> Result<Option<(Channel, SyncRun)>, StoreError> {
    let Some(run) = store.sync_run(run).await? else {
        return Ok(None);
    };
    for channel in store.channels(community.id).await? {
        if store
            .sync_job_of(channel.id)
            .await?
            .is_some_and(|job| job.id == run.job_id)
        {
            return Ok(Some((channel, run)));
        }
    }
    Ok(None)
}

/// The community's announcement with this id.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn community_announcement(
    store: &dyn Store,
    community: &Community,
    announcement: AnnouncementId,
) -> Result<Option<Announcement>, StoreError> {
    Ok(store
        .announcement(announcement)
        .await?
        .filter(|a| a.community_id == community.id))
}

/// The community's call `call`; `None` for one of another community.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn community_call(
    store: &dyn Store,
    community: &Community,
    call: crate::ids::CallId,
) -> Result<Option<crate::model::call::Call>, StoreError> {
    Ok(store
        .call(call)
        .await?
        .filter(|c| c.community_id == community.id))
}

/// The audit actor for a user.
#[must_use]
pub fn actor(user: &User) -> String {
    format!("user:{}", user.email.normalized())
}

/// The audit actor for a member acting on their own membership (a link in
/// their mail: unsubscribe, join, preferences).
#[must_use]
pub fn member_actor(email: &crate::Email) -> String {
    format!("member:{}", email.normalized())
}
