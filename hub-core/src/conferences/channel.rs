//! A conference as one more channel of its community: every conference has
//! a channel of kind `conference` (made with it), whose members are its
//! registrants and whose announcements go to them by email — through the
//! outbox, one copy per person, like the native list. An announcement that
//! also targets an email list reaches someone on both lists once
//! (`ConferenceStore::expand_conference_recipients`).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ConferenceError, registration::conference_page};
use crate::{
    announcements::{self, PublishError},
    ids::ConferenceId,
    model::{
        announcement::Announcement,
        audit::NewAuditEvent,
        channel::{Channel, ChannelKind, NewChannel},
        community::Community,
        conference::Conference,
    },
    ports::store::Store,
};

/// The conference a channel of kind `conference` stands for.
#[must_use]
pub fn conference_of(channel: &Channel) -> Option<ConferenceId> {
    if channel.kind != ChannelKind::Conference {
        return None;
    }
    channel
        .settings
        .get("conference_id")
        .and_then(serde_json::Value::as_str)
        .and_then(|id| id.parse().ok())
}

/// The settings of a conference's channel: which conference, and the path
/// of its public page (an invitation links to it).
#[must_use]
pub fn settings(community: &Community, conference: &Conference) -> serde_json::Value {
    json!({
        "conference_id": conference.id,
        "page_path": format!("/c/{}/conferences/{}", community.slug.as_str(), conference.slug),
    })
}

/// The conference's channel, made now if it has none.
///
/// # Errors
/// Storage failures.
pub async fn ensure(
    store: &dyn Store,
    community: &Community,
    conference: &Conference,
    actor: &str,
) -> Result<Channel, ConferenceError> {
    let channels = store.channels(community.id).await?;
    if let Some(channel) = channels
        .into_iter()
        .find(|c| conference_of(c) == Some(conference.id))
    {
        let wanted = settings(community, conference);
        if channel.settings != wanted {
            // The short name changed: invitations link to the new page.
            let audit = NewAuditEvent {
                actor: actor.to_owned(),
                action: "channel.settings".into(),
                community_id: Some(community.id),
                subject: channel.name.clone(),
                details: json!({"settings": wanted}),
            };
            return Ok(store
                .change_channel_settings(channel.id, &wanted, audit)
                .await?);
        }
        return Ok(channel);
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "channel.create".into(),
        community_id: Some(community.id),
        subject: conference.name.clone(),
        details: json!({"kind": "conference", "conference": conference.slug}),
    };
    let channel = NewChannel {
        kind: ChannelKind::Conference,
        name: conference.name.clone(),
        settings: settings(community, conference),
        encrypted_secret: None,
        min_interval_ms: 0,
    };
    Ok(store.create_channel(community.id, channel, audit).await?)
}

/// Announces to the conference's audience — its registrants, and the
/// members on the community's email lists — through the outbox: the
/// conference's channel and every email list channel, one copy per person.
///
/// # Errors
/// A title that is not acceptable; storage failures.
#[allow(clippy::too_many_arguments)] // one announcement, each part distinct
pub async fn announce(
    store: &dyn Store,
    community: &Community,
    conference: &Conference,
    title: &str,
    body_markdown: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Announcement, ConferenceError> {
    let own = ensure(store, community, conference, actor).await?;
    let mut targets = vec![own.id];
    targets.extend(
        store
            .channels(community.id)
            .await?
            .iter()
            .filter(|c| c.kind == ChannelKind::EmailList)
            .map(|c| c.id),
    );
    let (announcement, _) = announcements::publish(
        store,
        now,
        community.id,
        title,
        body_markdown,
        targets,
        None,
        actor,
    )
    .await
    .map_err(|e| match e {
        PublishError::Store(e) => ConferenceError::Store(e),
        other => ConferenceError::Invalid(other.to_string()),
    })?;
    Ok(announcement)
}

/// Invites the members who take the community's email lists to register:
/// an announcement through the outbox to every email list channel (the
/// members who consented to email), linking to the conference page.
///
/// # Errors
/// [`ConferenceError::Invalid`] when the community has no email list;
/// [`ConferenceError::Closed`] when registration is closed.
pub async fn invite_list(
    store: &dyn Store,
    community: &Community,
    conference: &Conference,
    public_url: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Announcement, ConferenceError> {
    if !conference.registration_open() {
        return Err(ConferenceError::Closed(format!(
            "registration for {} is closed: open it before inviting people",
            conference.name
        )));
    }
    let lists: Vec<_> = store
        .channels(community.id)
        .await?
        .into_iter()
        .filter(|c| c.kind == ChannelKind::EmailList)
        .map(|c| c.id)
        .collect();
    if lists.is_empty() {
        return Err(ConferenceError::invalid(
            "this community has no email list to invite from: connect one on the Channels page",
        ));
    }
    let page = conference_page(public_url, community, conference);
    let description = if conference.description.is_empty() {
        String::new()
    } else {
        format!("{}\n\n", conference.description)
    };
    let body = format!(
        "{description}Register here — seats are given in the order people confirm, and the \
         sessions are the ones you propose and vote for: {page}\n"
    );
    let (announcement, _) = announcements::publish(
        store,
        now,
        community.id,
        &format!("Register for {}", conference.name),
        &body,
        lists,
        None,
        actor,
    )
    .await
    .map_err(|e| match e {
        PublishError::Store(e) => ConferenceError::Store(e),
        other => ConferenceError::Invalid(other.to_string()),
    })?;
    Ok(announcement)
}

/// The text announcing a published schedule.
#[must_use]
pub fn schedule_announcement(
    public_url: &str,
    community: &Community,
    conference: &Conference,
) -> (String, String) {
    let page = conference_page(public_url, community, conference);
    (
        format!("The schedule of {} is out", conference.name),
        format!(
            "The sessions you proposed and voted for are scheduled.\n\n\
             - The schedule: {page}/schedule\n\
             - For your calendar: {page}/schedule.ics\n"
        ),
    )
}
