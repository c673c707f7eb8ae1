//! Installing a tool's app into a community's workspace with OAuth (Slack
//! today): where a lead is sent to approve it, and what the code they come
//! back with is worth. The adapter crate implements it; the web layer drives
//! it without knowing the tool's HTTP.

use async_trait::async_trait;

/// What an approved install gives the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// The workspace's id, which routes its events (`T…` on Slack).
    pub team_id: String,
    /// The workspace's name, for the lead.
    pub team_name: String,
    /// The channel's secret (tokens), to be encrypted before it is stored.
    pub secret: String,
}

/// Why an install did not finish.
#[derive(Debug, thiserror::Error)]
pub enum InstallFailure {
    /// The tool refused (a used code, a wrong redirect): the lead starts again.
    #[error("the install was refused: {0}")]
    Refused(String),
    /// The tool could not be asked: the lead tries again later.
    #[error("the tool could not be reached: {0}")]
    Unreachable(String),
    /// The deployment's app is not configured.
    #[error("this hub's app is not configured: {0}")]
    NotConfigured(String),
}

/// An OAuth install flow for one tool.
#[async_trait]
pub trait Installer: Send + Sync + std::fmt::Debug {
    /// The URL that asks a lead to approve the install; `state` comes back
    /// with the code.
    ///
    /// # Errors
    /// `NotConfigured` when the app's URLs are unusable.
    fn authorize_url(&self, state: &str) -> Result<String, InstallFailure>;

    /// Exchanges the code the lead came back with.
    ///
    /// # Errors
    /// `Refused` when the tool refuses the code, `Unreachable` when it
    /// cannot be asked.
    async fn exchange(&self, code: &str) -> Result<Installation, InstallFailure>;
}

/// Refreshes a channel's credentials where the tool rotates them (Slack with
/// token rotation on: a bot token lives twelve hours, its refresh token can
/// be used once).
#[async_trait]
pub trait TokenRefresher: Send + Sync + std::fmt::Debug {
    /// The kind of channel whose secrets it refreshes.
    fn kind(&self) -> crate::model::channel::ChannelKind;

    /// Whether `secret` (decrypted) expires before `at` and can be refreshed.
    fn expires_before(&self, secret: &str, at: chrono::DateTime<chrono::Utc>) -> bool;

    /// A fresh secret, for the refresh token `secret` holds.
    ///
    /// # Errors
    /// `Refused` when the tool refuses the refresh token (spent, revoked):
    /// the channel needs reconnecting; `Unreachable` otherwise.
    async fn refresh(&self, secret: &str) -> Result<String, InstallFailure>;
}
