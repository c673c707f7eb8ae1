//! Events a tool pushes to the hub (Slack's Events API): checking that a
//! request comes from the tool and reading it. The adapter crate implements
//! it; the web layer receives requests through it without knowing the
//! tool's signature scheme.

/// What a checked request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The tool checking the URL: answer with this.
    Challenge(String),
    /// An event to keep, then process.
    Event {
        /// The tool's id for it; its retries carry the same.
        event_id: String,
        /// What routes it to a channel (Slack's team id).
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
