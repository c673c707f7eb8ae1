//! Zoom's webhooks, as the hub receives them at each Zoom channel's own URL
//! (`/hooks/zoom/{channel}`): the request signature (`x-zm-signature`, the
//! same v0 scheme as Slack's, checked by `hub_core::signing::verify_v0`
//! under the channel's secret token), the `endpoint.url_validation`
//! challenge, answered with the HMAC-SHA256 of its `plainToken`, and every
//! other event kept whole for `hub_core::calls::attendance`.
//!
//! Zoom's body carries no id of its own, and a retry resends the same body,
//! so an event's id is a hash of the body under the channel's id: a retry
//! is a duplicate, and the same event sent to two channels (two communities
//! sharing an account) is not.

use hub_core::{
    model::channel::ChannelKind,
    ports::inbound::{ChannelHooks, Received, Refusal},
    signing::{hmac_sha256_hex, verify_v0},
};
use serde_json::{Value, json};

use crate::ZoomSecret;

/// The answer to Zoom's `endpoint.url_validation` for `plain_token`.
#[must_use]
pub fn url_validation(secret_token: &str, plain_token: &str) -> Value {
    json!({
        "plainToken": plain_token,
        "encryptedToken": hmac_sha256_hex(secret_token, plain_token.as_bytes()),
    })
}

/// Zoom channels' webhooks, each checked with its channel's secret token.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZoomWebhooks;

impl ChannelHooks for ZoomWebhooks {
    fn source(&self) -> &'static str {
        hub_core::model::event::ZOOM
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Zoom
    }

    fn receive(
        &self,
        secret: &str,
        routing_key: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Received, Refusal> {
        let token = ZoomSecret::parse(secret)
            .map(|secret| secret.webhook_secret)
            .unwrap_or_default();
        // Anyone can compute an HMAC under an empty key.
        if token.is_empty() {
            return Err(Refusal::Unsigned(
                "this Zoom channel has no webhook secret token: reconnect it on the Channels page with the token from the app's Feature page".into(),
            ));
        }
        verify_v0(&token, timestamp, signature, body, now)
            .map_err(|e| Refusal::Unsigned(e.to_string()))?;
        let payload: Value = serde_json::from_slice(body)
            .map_err(|e| Refusal::Malformed(format!("the body is not JSON: {e}")))?;
        let kind = payload
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::Malformed("the body names no event".into()))?
            .to_owned();
        if kind == "endpoint.url_validation" {
            let plain = payload
                .pointer("/payload/plainToken")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Refusal::Malformed("a url_validation without a plainToken".into())
                })?;
            return Ok(Received::Reply(url_validation(&token, plain)));
        }
        Ok(Received::Event {
            event_id: hmac_sha256_hex(routing_key, body),
            routing_key: routing_key.to_owned(),
            kind,
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str =
        r#"{"account_id": "a", "client_id": "b", "client_secret": "c", "webhook_secret": "tok"}"#;

    fn signed(body: &str, at: i64) -> String {
        format!(
            "v0={}",
            hmac_sha256_hex("tok", format!("v0:{at}:{body}").as_bytes())
        )
    }

    fn receive(secret: &str, channel: &str, body: &str, at: i64) -> Result<Received, Refusal> {
        let signature = signed(body, at);
        ZoomWebhooks.receive(
            secret,
            channel,
            Some(&at.to_string()),
            Some(&signature),
            body.as_bytes(),
            at,
        )
    }

    #[test]
    fn an_event_is_kept_under_an_id_its_retry_shares_and_another_channel_does_not() {
        let body = r#"{"event":"meeting.started","payload":{"object":{"id":"1"}},"event_ts":5}"#;
        let Ok(Received::Event {
            event_id,
            routing_key,
            kind,
            ..
        }) = receive(SECRET, "chan-1", body, 1_800_000_000)
        else {
            panic!("an event");
        };
        assert_eq!(
            (routing_key.as_str(), kind.as_str()),
            ("chan-1", "meeting.started")
        );
        let Ok(Received::Event {
            event_id: retry, ..
        }) = receive(SECRET, "chan-1", body, 1_800_000_100)
        else {
            panic!("an event");
        };
        assert_eq!(event_id, retry, "a retry, signed later, is the same event");
        let Ok(Received::Event {
            event_id: other, ..
        }) = receive(SECRET, "chan-2", body, 1_800_000_000)
        else {
            panic!("an event");
        };
        assert_ne!(event_id, other);
    }

    #[test]
    fn url_validation_is_answered_and_an_empty_token_refuses_everything() {
        let body = r#"{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}"#;
        assert_eq!(
            receive(SECRET, "c", body, 1_800_000_000),
            Ok(Received::Reply(url_validation("tok", "abc")))
        );
        let tokenless = r#"{"account_id": "a", "client_id": "b", "client_secret": "c"}"#;
        assert!(matches!(
            receive(tokenless, "c", body, 1_800_000_000),
            Err(Refusal::Unsigned(why)) if why.contains("no webhook secret token")
        ));
        assert!(matches!(
            receive(SECRET, "c", "not json", 1_800_000_000),
            Err(Refusal::Malformed(_))
        ));
    }
}
