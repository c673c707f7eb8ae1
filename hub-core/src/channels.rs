//! Connecting a channel to a community: its settings checked by whoever can
//! build its adapter, its secret encrypted before it reaches the store.

use serde_json::json;

use crate::{
    ids::{ChannelId, CommunityId},
    model::{
        audit::NewAuditEvent,
        channel::{Channel, NewChannel},
    },
    ports::store::{Store, StoreError},
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
