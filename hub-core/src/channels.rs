//! Connecting a channel to a community: its settings checked by whoever can
//! build its adapter, its secret encrypted before it reaches the store.

use serde_json::json;

use crate::{
    ids::{ChannelId, CommunityId},
    model::{
        audit::NewAuditEvent,
        channel::{Channel, ChannelKind, NewChannel},
    },
    ports::{
        install::Installation,
        store::{Store, StoreError},
    },
    secrets::SecretKeys,
};

/// A channel as a person describes it, secret in the clear.
#[derive(Debug, Clone)]
pub struct ChannelRequest {
    /// The tool.
    pub kind: crate::model::channel::ChannelKind,
    /// A name for the lead.
    pub name: String,
    /// Non-secret settings.
    pub settings: serde_json::Value,
    /// The credentials, if any; encrypted here.
    pub secret: Option<String>,
    /// Pacing between sends, in milliseconds.
    pub min_interval_ms: u32,
}

/// Connects a channel. The secret is encrypted with the first key; the audit
/// entry names the kind and settings, never the secret.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn add(
    store: &dyn Store,
    keys: &SecretKeys,
    community: CommunityId,
    request: ChannelRequest,
    actor: &str,
) -> Result<Channel, StoreError> {
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "channel.create".into(),
        community_id: Some(community),
        subject: request.name.clone(),
        details: json!({"kind": request.kind, "settings": request.settings, "has_secret": request.secret.is_some()}),
    };
    let channel = NewChannel {
        kind: request.kind,
        name: request.name,
        settings: request.settings,
        encrypted_secret: request.secret.as_deref().map(|s| keys.encrypt(s)),
        min_interval_ms: request.min_interval_ms,
    };
    store.create_channel(community, channel, audit).await
}

/// Marks a channel working again after its credentials stopped working,
/// with a new secret if one is given: its waiting deliveries go out again.
///
/// # Errors
/// [`StoreError`] when storage fails; `NotFound` for an unknown channel.
pub async fn reconnect(
    store: &dyn Store,
    keys: &SecretKeys,
    channel: ChannelId,
    secret: Option<&str>,
    actor: &str,
) -> Result<Channel, StoreError> {
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "channel.reconnect".into(),
        community_id: None,
        subject: channel.to_string(),
        details: json!({"new_secret": secret.is_some()}),
    };
    store
        .reconnect_channel(channel, secret.map(|s| keys.encrypt(s)), audit)
        .await
}

/// Settings a fresh Slack install starts with: the workspace, and no
/// conversation yet (the lead picks them on the channel's page).
fn slack_settings(installation: &Installation) -> serde_json::Value {
    json!({
        "conversations": [],
        "team_id": installation.team_id,
        "team_name": installation.team_name,
    })
}

/// Slack posts about one message a second per conversation.
const SLACK_MIN_INTERVAL_MS: u32 = 1000;

/// The sync an installed workspace gets: its people imported every hour.
const SLACK_SYNC_CRON: &str = "@hourly";

/// Keeps a finished Slack install: the workspace's channel in the community
/// is reconnected with the new token when it exists, else made, with an
/// hourly import of the workspace's people. Returns the channel and whether
/// it is new.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn keep_slack_install(
    store: &dyn Store,
    keys: &SecretKeys,
    community: CommunityId,
    installation: &Installation,
    actor: &str,
) -> Result<(Channel, bool), StoreError> {
    let existing = store.channels(community).await?.into_iter().find(|c| {
        c.kind == ChannelKind::Slack
            && c.settings
                .get("team_id")
                .and_then(serde_json::Value::as_str)
                == Some(installation.team_id.as_str())
    });
    if let Some(channel) = existing {
        let channel = reconnect(store, keys, channel.id, Some(&installation.secret), actor).await?;
        return Ok((channel, false));
    }
    let channel = add(
        store,
        keys,
        community,
        ChannelRequest {
            kind: ChannelKind::Slack,
            name: format!("Slack: {}", installation.team_name),
            settings: slack_settings(installation),
            secret: Some(installation.secret.clone()),
            min_interval_ms: SLACK_MIN_INTERVAL_MS,
        },
        actor,
    )
    .await?;
    crate::sync::schedule_channel(
        store,
        &channel,
        crate::model::sync::SyncDirection::Import,
        SLACK_SYNC_CRON,
        crate::sync::Guardrails::default(),
        actor,
    )
    .await
    .map_err(|e| match e {
        crate::sync::ScheduleError::Store(e) => e,
        other => StoreError::Internal(Box::new(other)),
    })?;
    Ok((channel, true))
}

/// Chooses the groups (Slack conversations) a channel uses: the first
/// receives announcements, all are kept in step by export syncs. Every id
/// must be one of the channel's `available` groups.
///
/// # Errors
/// [`ChooseError::Unknown`] for an id the tool does not offer;
/// [`ChooseError::Store`] when storage fails.
pub async fn choose_groups(
    store: &dyn Store,
    channel: &Channel,
    chosen: &[String],
    available: &[crate::ports::adapter::RemoteGroup],
    actor: &str,
) -> Result<Channel, ChooseError> {
    for id in chosen {
        if !available.iter().any(|group| &group.id == id) {
            return Err(ChooseError::Unknown(id.clone()));
        }
    }
    let mut settings = channel.settings.clone();
    if let Some(object) = settings.as_object_mut() {
        object.insert("conversations".into(), json!(chosen));
    }
    let audit = NewAuditEvent {
        actor: actor.to_owned(),
        action: "channel.settings".into(),
        community_id: Some(channel.community_id),
        subject: channel.name.clone(),
        details: json!({"conversations": chosen}),
    };
    Ok(store
        .change_channel_settings(channel.id, &settings, audit)
        .await?)
}

/// Why groups cannot be chosen.
#[derive(Debug, thiserror::Error)]
pub enum ChooseError {
    /// Not a group the tool offers.
    #[error("{0:?} is not a conversation this workspace offers the app")]
    Unknown(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
