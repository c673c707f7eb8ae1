//! Publishing an announcement: checked, then written with one delivery per
//! target channel in one transaction (the outbox does the rest).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{
    ids::{ChannelId, CommunityId},
    model::{
        announcement::{Announcement, Delivery, NewAnnouncement},
        audit::NewAuditEvent,
    },
    ports::store::{Store, StoreError},
};

/// Why an announcement cannot be published as written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The title is empty, too long, or has line breaks.
    #[error("a title must have 1 to 200 characters and no line breaks")]
    Title,
    /// No channel was chosen.
    #[error("choose at least one channel")]
    NoTargets,
    /// Storage refused it (an unknown channel, say).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Publishes an announcement to `targets` (at once, or at `send_at`).
///
/// # Errors
/// [`PublishError`]; nothing is written unless all of it is.
#[allow(clippy::too_many_arguments)] // each is one field of the announcement as a person gives it
pub async fn publish(
    store: &dyn Store,
    now: DateTime<Utc>,
    community: CommunityId,
    title: &str,
    body_markdown: &str,
    targets: Vec<ChannelId>,
    send_at: Option<DateTime<Utc>>,
    actor: &str,
) -> Result<(Announcement, Vec<Delivery>), PublishError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(PublishError::Title);
    }
    if targets.is_empty() {
        return Err(PublishError::NoTargets);
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "announcement.publish".into(),
        community_id: Some(community),
        subject: title.to_owned(),
        details: json!({"targets": targets, "send_at": send_at}),
    };
    let announcement = NewAnnouncement {
        title: title.to_owned(),
        body_markdown: body_markdown.to_owned(),
        author: actor.to_owned(),
        send_at,
        due_at: send_at.unwrap_or(now),
        targets,
    };
    Ok(store.publish(community, announcement, audit).await?)
}
