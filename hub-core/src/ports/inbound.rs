//! Events a tool pushes to the hub (Slack's Events API, Zoom's webhooks):
//! checking that a request comes from the tool and reading it. The adapter
//! crate implements it; the web layer receives requests through it without
//! knowing the tool's signature scheme. Slack signs every workspace's events
//! with the app's one secret ([`EventSource`]); Zoom signs each channel's
//! with that channel's own secret, at a URL of its own ([`ChannelHooks`]).

use crate::model::channel::ChannelKind;

/// What a checked request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The tool checking the URL: answer with this.
    Challenge(String),
    /// The tool checking the URL: answer 200 with this body as it is
    /// (Zoom's `endpoint.url_validation`).
    Reply(serde_json::Value),
    /// An event to keep, then process.
    Event {
        /// The tool's id for it; its retries carry the same.
        event_id: String,
        /// What routes it to a channel (Slack's team id, a Zoom channel's
        /// id).
        routing_key: String,
        /// Its type.
        kind: String,
        /// The whole body.
        payload: serde_json::Value,
    },
    /// Something to acknowledge and drop, and why.
    Ignored(String),
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not signed by the tool, or too old: 401.
    #[error("{0}")]
    Unsigned(String),
    /// Signed, but not something the tool sends: 400.
    #[error("{0}")]
    Malformed(String),
}

/// One tool's pushed events.
pub trait EventSource: Send + Sync + std::fmt::Debug {
    /// Which tool this is (`slack`): the events' `source`.
    fn source(&self) -> &'static str;

    /// Checks and reads one request: its two signature headers (timestamp,
    /// signature), its raw body, and the time now (Unix seconds).
    ///
    /// # Errors
    /// [`Refusal`] saying why the request is not taken.
    fn receive(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Received, Refusal>;
}

/// A tool that signs each channel's pushed events with that channel's own
/// secret and sends them to a URL of the channel's own (Zoom's webhooks at
/// `/hooks/zoom/{channel}`).
pub trait ChannelHooks: Send + Sync + std::fmt::Debug {
    /// Which tool this is (`zoom`): the events' `source`.
    fn source(&self) -> &'static str;

    /// The kind of channel whose hook this is.
    fn kind(&self) -> ChannelKind;

    /// Checks and reads one request to a channel's hook: `secret` is the
    /// channel's decrypted secret, `routing_key` what its events are routed
    /// by (the channel's id), then the two signature headers (timestamp,
    /// signature), the raw body and the time now (Unix seconds). A retry of
    /// a delivery reads as an event with the same id.
    ///
    /// # Errors
    /// [`Refusal`] saying why the request is not taken.
    fn receive(
        &self,
        secret: &str,
        routing_key: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Received, Refusal>;
}
