//! The `cophub` binary's library: the command line, the configuration, and
//! the wiring that starts the server. `main.rs` only parses and exits.

pub mod adapters;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod server;

/// How a command failed, which decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad usage or bad input: exit code 2.
    #[error("{0}")]
    Usage(String),
    /// A failure at run time: exit code 1.
    #[error("{0}")]
    Runtime(String),
    /// A failure worth retrying, for a command an MTA runs: exit code 75
    /// (`EX_TEMPFAIL` of sysexits.h), so the MTA keeps the message and
    /// tries again instead of returning it.
    #[error("{0}")]
    TryAgain(String),
}

impl Failure {
    /// The process exit code.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Runtime(_) => 1,
            Self::TryAgain(_) => 75,
        }
    }
}

impl From<config::ConfigError> for Failure {
    fn from(error: config::ConfigError) -> Self {
        Self::Usage(error.0)
    }
}

impl From<hub_store::OpenError> for Failure {
    fn from(error: hub_store::OpenError) -> Self {
        match error {
            hub_store::OpenError::UnsupportedUrl(_) => Self::Usage(error.to_string()),
            _ => Self::Runtime(error.to_string()),
        }
    }
}

impl From<hub_core::ports::store::StoreError> for Failure {
    fn from(error: hub_core::ports::store::StoreError) -> Self {
        use hub_core::ports::store::StoreError;
        match error {
            StoreError::Conflict(message) | StoreError::Unstorable(message) => Self::Usage(message),
            StoreError::NotFound(what) => Self::Usage(format!("{what} was not found")),
            other => Self::Runtime(other.to_string()),
        }
    }
}

impl From<hub_core::sync::SyncError> for Failure {
    fn from(error: hub_core::sync::SyncError) -> Self {
        match error {
            hub_core::sync::SyncError::Store(e) => e.into(),
            other => Self::Usage(other.to_string()),
        }
    }
}

impl From<hub_core::announcements::PublishError> for Failure {
    fn from(error: hub_core::announcements::PublishError) -> Self {
        match error {
            hub_core::announcements::PublishError::Store(e) => e.into(),
            other => Self::Usage(other.to_string()),
        }
    }
}
