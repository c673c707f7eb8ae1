//! Slack's Events API, as the hub receives it: the request signature
//! (`X-Slack-Signature`, v0: HMAC-SHA256 over `v0:{timestamp}:{raw body}`
//! under the app's signing secret) and the envelope around each event.

use hmac::{Hmac, KeyInit, Mac};
use hub_core::ports::inbound::{EventSource, Received, Refusal};
use serde_json::Value;
use sha2::Sha256;

/// Slack's requests older (or newer) than this are refused as replays.
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;

/// Why a request is not from Slack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or unreadable.
    #[error("the request has no readable {0} header")]
    Missing(&'static str),
    /// The timestamp is outside the replay window.
    #[error("the request's timestamp is more than five minutes away from now")]
    Stale,
    /// The signature does not match the body.
    #[error("the request's signature does not match")]
    Mismatch,
}

/// Checks a request's signature in constant time.
///
/// # Errors
/// A [`SignatureError`] saying what is wrong.
pub fn verify(
    signing_secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::Missing("X-Slack-Request-Timestamp"))?;
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Missing("X-Slack-Request-Timestamp"))?;
    if (now - seconds).abs() > REPLAY_WINDOW_SECONDS {
        return Err(SignatureError::Stale);
    }
    let signature = signature
        .and_then(|s| s.trim().strip_prefix("v0="))
        .ok_or(SignatureError::Missing("X-Slack-Signature"))?;
    let expected = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes()) else {
        return Err(SignatureError::Mismatch);
    };
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

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
        verify(&self.signing_secret, timestamp, signature, body, now)
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

    fn sign(secret: &str, timestamp: i64, body: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            unreachable!("HMAC takes any key length")
        };
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    const NOW: i64 = 1_700_000_000;
    const BODY: &str =
        r#"{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"team_join"}}"#;

    #[test]
    fn a_good_signature_passes() {
        let signature = sign("s3cret", NOW - 10, BODY);
        let ts = (NOW - 10).to_string();
        assert_eq!(
            verify("s3cret", Some(&ts), Some(&signature), BODY.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_a_wrong_secret_a_stale_or_missing_header_fail() {
        let ts = NOW.to_string();
        let signature = sign("s3cret", NOW, BODY);
        let tampered = BODY.replace("T1", "T2");
        assert_eq!(
            verify(
                "s3cret",
                Some(&ts),
                Some(&signature),
                tampered.as_bytes(),
                NOW
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", Some(&ts), Some(&signature), BODY.as_bytes(), NOW),
            Err(SignatureError::Mismatch)
        );
        let old = (NOW - 301).to_string();
        let old_signature = sign("s3cret", NOW - 301, BODY);
        assert_eq!(
            verify(
                "s3cret",
                Some(&old),
                Some(&old_signature),
                BODY.as_bytes(),
                NOW
            ),
            Err(SignatureError::Stale)
        );
        assert!(matches!(
            verify("s3cret", None, Some(&signature), BODY.as_bytes(), NOW),
            Err(SignatureError::Missing(_))
        ));
        assert!(matches!(
            verify("s3cret", Some(&ts), None, BODY.as_bytes(), NOW),
            Err(SignatureError::Missing(_))
        ));
        assert_eq!(
            verify("s3cret", Some(&ts), Some("v0=zz"), BODY.as_bytes(), NOW),
            Err(SignatureError::Mismatch)
        );
    }

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
