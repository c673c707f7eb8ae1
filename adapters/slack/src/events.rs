//! Slack's Events API, as the hub receives it: the request signature
//! (`X-Slack-Signature`, v0: HMAC-SHA256 over `v0:{timestamp}:{raw body}`
//! under the app's signing secret, checked by `hub_core::signing::verify_v0`,
//! which Zoom's webhooks share) and the envelope around each event.

use hub_core::{
    ports::inbound::{EventSource, Received, Refusal},
    signing::verify_v0,
};
use serde_json::Value;

/// What one signed request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    /// Slack checking the request URL: answer with the challenge.
    UrlVerification {
        /// What to send back.
        challenge: String,
    },
    /// An event for one workspace.
    Event {
        /// Slack's id for it; a retry carries the same.
        event_id: String,
        /// The workspace.
        team_id: String,
        /// The event's type (`team_join`, `tokens_revoked`, …).
        kind: String,
        /// The whole envelope, as Slack sent it.
        payload: Value,
    },
    /// Anything else (`app_rate_limited`): acknowledged, not kept.
    Other(String),
}

/// Reads a request's body.
///
/// # Errors
/// A sentence when it is not an Events API envelope.
pub fn parse(body: &[u8]) -> Result<Envelope, String> {
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str);
    match text("/type") {
        Some("url_verification") => Ok(Envelope::UrlVerification {
            challenge: text("/challenge")
                .ok_or("a url_verification without a challenge")?
                .to_owned(),
        }),
        Some("event_callback") => {
            let event_id = text("/event_id").ok_or("an event without an event_id")?;
            let team_id = text("/team_id")
                .or_else(|| text("/authorizations/0/team_id"))
                .ok_or("an event without a team_id")?;
            let kind = text("/event/type").ok_or("an event without a type")?;
            Ok(Envelope::Event {
                event_id: event_id.to_owned(),
                team_id: team_id.to_owned(),
                kind: kind.to_owned(),
                payload: payload.clone(),
            })
        }
        Some(other) => Ok(Envelope::Other(other.to_owned())),
        None => Err("the body has no type".to_owned()),
    }
}

/// The deployment's Slack app as the source of pushed events.
#[derive(Clone)]
pub struct SlackEvents {
    signing_secret: String,
}

impl std::fmt::Debug for SlackEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackEvents").finish_non_exhaustive()
    }
}

impl SlackEvents {
    /// Events checked with the app's signing secret.
    #[must_use]
    pub fn new(signing_secret: &str) -> Self {
        Self {
            signing_secret: signing_secret.to_owned(),
        }
    }
}

impl EventSource for SlackEvents {
    fn source(&self) -> &'static str {
        hub_core::model::event::SLACK
    }

    fn receive(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Received, Refusal> {
        verify_v0(&self.signing_secret, timestamp, signature, body, now)
            .map_err(|e| Refusal::Unsigned(e.to_string()))?;
        match parse(body).map_err(Refusal::Malformed)? {
            Envelope::UrlVerification { challenge } => Ok(Received::Challenge(challenge)),
            Envelope::Event {
                event_id,
                team_id,
                kind,
                payload,
            } => Ok(Received::Event {
                event_id,
                routing_key: team_id,
                kind,
                payload,
            }),
            Envelope::Other(kind) => Ok(Received::Ignored(format!("{kind} is not kept"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str =
        r#"{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"team_join"}}"#;

    #[test]
    fn envelopes_are_told_apart() {
        assert_eq!(
            parse(br#"{"type":"url_verification","challenge":"abc","token":"x"}"#),
            Ok(Envelope::UrlVerification {
                challenge: "abc".into()
            })
        );
        let Ok(Envelope::Event {
            event_id,
            team_id,
            kind,
            ..
        }) = parse(BODY.as_bytes())
        else {
            panic!("expected an event");
        };
        assert_eq!(
            (event_id.as_str(), team_id.as_str(), kind.as_str()),
            ("Ev1", "T1", "team_join")
        );
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"type":"event_callback"}"#).is_err());
    }
}
