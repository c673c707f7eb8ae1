//! Publishing an announcement: checked, then written with one delivery per
//! target channel in one transaction (the outbox does the rest). Editing or
//! retracting it queues, per channel, what that channel needs: nothing where
//! the post has not gone out yet (it will carry the new text, or is
//! cancelled), an edit or a retraction where it has.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{
    idempotency::{IdempotencyKey, KeyUse},
    ids::{AnnouncementId, ChannelId, CommunityId, DeliveryId},
    model::{
        announcement::{Announcement, Delivery, DeliveryAction, DeliveryState, NewAnnouncement},
        audit::NewAuditEvent,
    },
    ports::store::{Respond, Store, StoreError},
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

/// A change to a published announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnouncementChange {
    /// New text (both parts; pass the old one to keep it).
    Edit {
        /// The title, checked like a new one's.
        title: String,
        /// The body, Markdown.
        body_markdown: String,
    },
    /// Take it down everywhere.
    Retract,
}

/// One thing a change does to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStep {
    /// Queue an edit or a retraction for the channel.
    Queue {
        /// The channel.
        channel: ChannelId,
        /// `Edit` or `Retract`.
        action: DeliveryAction,
    },
    /// Cancel a delivery that is not needed any more.
    Cancel(DeliveryId),
}

/// What a change needs per channel, given an announcement's deliveries. The
/// store carries the steps out in the transaction that changes the text,
/// with the deliveries locked, so no worker claims one in between.
///
/// - An edit: a post still waiting will carry the new text, so nothing; a
///   post out (or going out) gets an edit, unless one is already waiting
///   (it sends the newest text when it runs).
/// - A retraction: a post that never went out is cancelled, as is every
///   edit still waiting; a post out (or going out) gets a retraction.
#[must_use]
pub fn change_steps(change: &AnnouncementChange, deliveries: &[Delivery]) -> Vec<ChangeStep> {
    let mut steps = Vec::new();
    for post in deliveries
        .iter()
        .filter(|d| d.action == DeliveryAction::Post)
    {
        let channel = post.channel_id;
        let waiting = |action: DeliveryAction| {
            deliveries.iter().filter(move |d| {
                d.channel_id == channel && d.action == action && d.state.is_waiting()
            })
        };
        let out = matches!(post.state, DeliveryState::Sending | DeliveryState::Sent);
        match change {
            AnnouncementChange::Edit { .. } => {
                if out && waiting(DeliveryAction::Edit).next().is_none() {
                    steps.push(ChangeStep::Queue {
                        channel,
                        action: DeliveryAction::Edit,
                    });
                }
            }
            AnnouncementChange::Retract => {
                steps.extend(waiting(DeliveryAction::Edit).map(|d| ChangeStep::Cancel(d.id)));
                if out {
                    steps.push(ChangeStep::Queue {
                        channel,
                        action: DeliveryAction::Retract,
                    });
                } else if post.state != DeliveryState::Cancelled {
                    steps.push(ChangeStep::Cancel(post.id));
                }
            }
        }
    }
    steps
}

/// Checks a title as a person typed it; returns it trimmed.
/// One channel's preview of a draft: its parts, or why it has none.
#[derive(Debug, Clone)]
pub struct ChannelPreview {
    /// The channel's name.
    pub channel_name: String,
    /// The parts as the channel will show them, or a sentence saying why not.
    pub parts: Result<Vec<crate::ports::adapter::PreviewPart>, String>,
}

/// A draft announcement as each of `targets` will show it, nothing sent
/// and nothing stored.
///
/// # Errors
/// The [`PublishError`] publishing the same draft would meet (no title, no
/// channel); each channel's own failure is kept in its preview instead.
pub async fn preview(
    engine: &crate::sync::SyncEngine,
    now: DateTime<Utc>,
    community: CommunityId,
    title: &str,
    body_markdown: &str,
    targets: &[ChannelId],
    actor: &str,
) -> Result<Vec<ChannelPreview>, PublishError> {
    let title = checked_title(title)?;
    if targets.is_empty() {
        return Err(PublishError::NoTargets);
    }
    let draft = Announcement {
        id: crate::ids::AnnouncementId::new(),
        community_id: community,
        title: title.to_owned(),
        body_markdown: body_markdown.to_owned(),
        author: actor.to_owned(),
        send_at: None,
        created_at: now,
        revision: 1,
        retracted_at: None,
    };
    let mut previews = Vec::with_capacity(targets.len());
    for target in targets {
        let (channel_name, parts) = match engine.adapter(*target).await {
            Ok((channel, adapter)) => (
                channel.name,
                adapter.preview(&draft).map_err(|e| e.to_string()),
            ),
            Err(crate::sync::SyncError::Store(e)) => return Err(e.into()),
            Err(e) => (target.to_string(), Err(e.to_string())),
        };
        previews.push(ChannelPreview {
            channel_name,
            parts,
        });
    }
    Ok(previews)
}

fn checked_title(title: &str) -> Result<&str, PublishError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(PublishError::Title);
    }
    Ok(title)
}

/// Edits or retracts a published announcement.
///
/// # Errors
/// [`PublishError::Title`] for a bad title; `Store(Conflict)` when the
/// announcement was retracted already; `Store(NotFound)`.
pub async fn change(
    store: &dyn Store,
    now: DateTime<Utc>,
    announcement: AnnouncementId,
    change: AnnouncementChange,
    actor: &str,
) -> Result<(Announcement, Vec<Delivery>), PublishError> {
    // The edit carries its title checked and trimmed; the audit names it.
    let (action, subject, change) = match change {
        AnnouncementChange::Edit {
            title,
            body_markdown,
        } => {
            let title = checked_title(&title)?.to_owned();
            let edit = AnnouncementChange::Edit {
                title: title.clone(),
                body_markdown,
            };
            ("announcement.edit", title, edit)
        }
        AnnouncementChange::Retract => (
            "announcement.retract",
            announcement.to_string(),
            AnnouncementChange::Retract,
        ),
    };
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: action.into(),
        community_id: None,
        subject,
        details: json!({ "announcement": announcement }),
    };
    Ok(store
        .change_announcement(announcement, &change, now, audit)
        .await?)
}

/// Sends a failed or dead delivery of `announcement` again, as a lead asked.
///
/// # Errors
/// `NotFound` when the delivery is not the announcement's; `Conflict` when
/// it is neither failed nor dead.
pub async fn retry_delivery(
    store: &dyn Store,
    now: DateTime<Utc>,
    announcement: AnnouncementId,
    delivery: DeliveryId,
    actor: &str,
) -> Result<Delivery, StoreError> {
    if !store
        .deliveries(announcement)
        .await?
        .iter()
        .any(|d| d.id == delivery)
    {
        return Err(StoreError::NotFound(format!(
            "the delivery {delivery} of this announcement"
        )));
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "delivery.retry".into(),
        community_id: None,
        subject: delivery.to_string(),
        details: json!({ "delivery": delivery }),
    };
    store.retry_delivery(delivery, now, audit).await
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
    let (announcement, audit) = written(
        now,
        community,
        title,
        body_markdown,
        targets,
        send_at,
        actor,
    )?;
    Ok(store.publish(community, announcement, audit).await?)
}

/// Publishes like [`publish`], once per idempotency `key`: a retry with the
/// key gets the answer `respond` made the first time (kept with the
/// announcement, in its transaction), and the key with another request is
/// [`KeyUse::Mismatch`]. A request refused here keeps nothing, so a
/// corrected retry may use the same key.
///
/// # Errors
/// [`PublishError`], as [`publish`].
#[allow(clippy::too_many_arguments)] // `publish`'s, and the key with its answer
pub async fn publish_once(
    store: &dyn Store,
    now: DateTime<Utc>,
    key: &IdempotencyKey,
    community: CommunityId,
    title: &str,
    body_markdown: &str,
    targets: Vec<ChannelId>,
    send_at: Option<DateTime<Utc>>,
    actor: &str,
    respond: &Respond,
) -> Result<KeyUse, PublishError> {
    let (announcement, audit) = written(
        now,
        community,
        title,
        body_markdown,
        targets,
        send_at,
        actor,
    )?;
    Ok(store
        .publish_once(key, now, community, announcement, audit, respond)
        .await?)
}

/// The announcement to write and its audit entry, checked.
fn written(
    now: DateTime<Utc>,
    community: CommunityId,
    title: &str,
    body_markdown: &str,
    targets: Vec<ChannelId>,
    send_at: Option<DateTime<Utc>>,
    actor: &str,
) -> Result<(NewAnnouncement, NewAuditEvent), PublishError> {
    let title = checked_title(title)?;
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
    Ok((announcement, audit))
}
