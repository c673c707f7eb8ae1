//! A channel's credentials as an adapter needs them: decrypted, and fresh
//! where the tool rotates them. A rotating token is refreshed by one
//! instance at a time (a lease in the database, `claim_secret_refresh`),
//! and the new secret — with its new, single-use refresh token — is stored
//! before it is used, so a crash between the refresh and the store never
//! leaves the hub holding only a spent refresh token it did not keep.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

use crate::{
    model::channel::{Channel, ChannelHealth},
    ports::{
        adapter::{AdapterError, AdapterFactory, ChannelAdapter},
        install::{InstallFailure, TokenRefresher},
        store::Store,
    },
    secrets::SecretKeys,
};

/// Refresh a token this long before it expires.
const REFRESH_MARGIN_MINUTES: i64 = 10;
/// How long one instance holds the right to refresh.
const REFRESH_LEASE_SECONDS: i64 = 30;
/// How often an instance waiting for another's refresh looks again.
const WAIT_STEP: Duration = Duration::from_millis(200);

/// Why a channel's credentials cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The stored secret cannot be decrypted.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// The tool refused the refresh: the channel needs reconnecting.
    #[error("the channel's token could not be refreshed: {0}")]
    Refused(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::ports::store::StoreError),
    /// The channel's adapter cannot be made (its settings are unusable, or
    /// this build cannot drive its kind).
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

/// What the refresh needs besides the channel.
#[derive(Debug, Clone, Copy)]
pub struct RefreshParts<'a> {
    /// The database.
    pub store: &'a dyn Store,
    /// Decrypts and encrypts secrets.
    pub keys: &'a SecretKeys,
    /// Refreshes this deployment's rotating tokens, if any.
    pub refresher: Option<&'a dyn TokenRefresher>,
    /// Who holds the lease while refreshing (this worker).
    pub owner: &'a str,
    /// The time now.
    pub now: DateTime<Utc>,
}

/// The adapter that reaches `channel`, made with its secret as
/// [`secret_for`] gives it.
///
/// # Errors
/// [`CredentialError`] as [`secret_for`] has it, or `Adapter` when the
/// factory cannot make the adapter.
pub async fn adapter_for(
    parts: RefreshParts<'_>,
    adapters: &dyn AdapterFactory,
    channel: &Channel,
    encrypted: Option<&str>,
) -> Result<Arc<dyn ChannelAdapter>, CredentialError> {
    let secret = secret_for(parts, channel, encrypted).await?;
    Ok(adapters.adapter(channel, secret.as_deref())?)
}

/// The channel's secret in the clear, refreshed first when it expires soon.
///
/// # Errors
/// [`CredentialError`] when it cannot be decrypted, the tool refuses the
/// refresh (the channel is then marked for reconnecting), or storage fails.
pub async fn secret_for(
    parts: RefreshParts<'_>,
    channel: &Channel,
    encrypted: Option<&str>,
) -> Result<Option<String>, CredentialError> {
    let Some(encrypted) = encrypted else {
        return Ok(None);
    };
    let secret = parts.keys.decrypt(encrypted)?;
    let Some(refresher) = parts
        .refresher
        .filter(|refresher| refresher.kind() == channel.kind)
    else {
        return Ok(Some(secret));
    };
    let soon = parts.now + chrono::Duration::minutes(REFRESH_MARGIN_MINUTES);
    if !refresher.expires_before(&secret, soon) {
        return Ok(Some(secret));
    }
    let until = parts.now + chrono::Duration::seconds(REFRESH_LEASE_SECONDS);
    if !parts
        .store
        .claim_secret_refresh(channel.id, parts.owner, parts.now, until)
        .await?
    {
        return wait_for_other(parts, refresher, channel, secret, soon).await;
    }
    // The lease is ours; another instance may have refreshed just before it.
    let current = match parts.store.channel_with_secret(channel.id).await? {
        Some((_, Some(stored))) => parts.keys.decrypt(&stored)?,
        _ => secret,
    };
    if !refresher.expires_before(&current, soon) {
        parts
            .store
            .release_secret_refresh(channel.id, parts.owner)
            .await?;
        return Ok(Some(current));
    }
    match refresher.refresh(&current).await {
        Ok(fresh) => {
            // Stored before it is used: the old refresh token is spent now.
            if parts
                .store
                .store_refreshed_secret(channel.id, &parts.keys.encrypt(&fresh), parts.owner)
                .await?
            {
                Ok(Some(fresh))
            } else {
                // Our lease ran out while the tool answered. The token is
                // fresh and works; the next refresh starts from the stored one.
                tracing::warn!(channel = %channel.id, "a token refresh outlasted its lease");
                Ok(Some(fresh))
            }
        }
        Err(InstallFailure::Refused(why)) => {
            parts
                .store
                .release_secret_refresh(channel.id, parts.owner)
                .await?;
            let health = ChannelHealth::NeedsReconnect {
                last_error: format!(
                    "the token could not be refreshed ({why}); reconnect the channel"
                ),
            };
            parts.store.set_channel_health(channel.id, &health).await?;
            Err(CredentialError::Refused(why))
        }
        Err(other) => {
            parts
                .store
                .release_secret_refresh(channel.id, parts.owner)
                .await?;
            // Not refreshed this time: the token may still work until it expires.
            tracing::warn!(channel = %channel.id, error = %other, "a token refresh failed; trying again later");
            Ok(Some(current))
        }
    }
}

/// Another instance is refreshing: wait for the secret it stores.
async fn wait_for_other(
    parts: RefreshParts<'_>,
    refresher: &dyn TokenRefresher,
    channel: &Channel,
    mut secret: String,
    soon: DateTime<Utc>,
) -> Result<Option<String>, CredentialError> {
    let steps =
        (REFRESH_LEASE_SECONDS * 1000) / i64::try_from(WAIT_STEP.as_millis()).unwrap_or(200);
    for _ in 0..steps {
        tokio::time::sleep(WAIT_STEP).await;
        if let Some((_, Some(stored))) = parts.store.channel_with_secret(channel.id).await? {
            secret = parts.keys.decrypt(&stored)?;
            if !refresher.expires_before(&secret, soon) {
                break;
            }
        }
    }
    Ok(Some(secret))
}
