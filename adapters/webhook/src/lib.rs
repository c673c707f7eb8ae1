//! The outgoing webhook channel: each announcement is POSTed to a URL the lead
//! gives, either as cophub's signed JSON or as a Slack-compatible
//! incoming-webhook payload (`{"text": …}`), which Mattermost, Zulip, Teams
//! and Discord (its `/slack` endpoint) accept too.
//!
//! Signed JSON carries three headers: `Cophub-Delivery` (the delivery id —
//! the same on every retry, so receivers deduplicate by it),
//! `Cophub-Timestamp` (Unix seconds) and `Cophub-Signature`
//! (`v1=` + hex HMAC-SHA256 of `v1:{timestamp}:{body}` under the channel's
//! secret). A receiver recomputes the signature in constant time and refuses
//! timestamps older than five minutes.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use hub_core::{
    destination,
    model::announcement::Announcement,
    ports::adapter::{
        AdapterError, Capabilities, ChannelAdapter, PreviewFormat, PreviewPart, Receipt, RemotePage,
    },
};
use serde::Deserialize;
use sha2::Sha256;

/// The webhook's settings, as a lead enters them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST.
    pub url: String,
    /// `signed_json` (default) or `slack`.
    #[serde(default)]
    pub format: PayloadFormat,
    /// Allow a private or loopback address (an owner's decision).
    #[serde(default)]
    pub allow_local: bool,
    /// How long to wait for an answer, in seconds (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    10
}

/// The payload's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// cophub's JSON, signed.
    #[default]
    SignedJson,
    /// `{"text": …}` as Slack's incoming webhooks take it.
    Slack,
}

/// How long a 429 without Retry-After waits.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// An outgoing webhook.
#[derive(Debug, Clone)]
pub struct WebhookAdapter {
    settings: WebhookSettings,
    secret: Option<String>,
}

impl WebhookAdapter {
    /// An adapter from a channel's settings and decrypted secret.
    ///
    /// # Errors
    /// `Permanent` when the settings are not a webhook's, or signed JSON has
    /// no secret.
    pub fn new(settings: &serde_json::Value, secret: Option<&str>) -> Result<Self, AdapterError> {
        let settings: WebhookSettings = serde_json::from_value(settings.clone()).map_err(|e| {
            AdapterError::Permanent(format!("the webhook settings are invalid: {e}"))
        })?;
        if settings.format == PayloadFormat::SignedJson && secret.is_none_or(str::is_empty) {
            return Err(AdapterError::Permanent(
                "a signed webhook needs a signing secret".into(),
            ));
        }
        Ok(Self {
            settings,
            secret: secret.map(str::to_owned),
        })
    }

    /// The signed-JSON event for an announcement: `announcement.published`
    /// or `announcement.edited` (with the delivery id of the post it
    /// replaces, so receivers can find it), with the text and revision.
    fn event(
        kind: &str,
        announcement: &Announcement,
        delivery_id: &str,
        replaces: Option<&str>,
    ) -> serde_json::Value {
        serde_json::json!({
            "type": kind,
            "delivery_id": delivery_id,
            "replaces": replaces,
            "announcement": {
                "id": announcement.id,
                "community_id": announcement.community_id,
                "title": announcement.title,
                "body_markdown": announcement.body_markdown,
                "revision": announcement.revision,
                "created_at": announcement.created_at,
            },
        })
    }

    fn slack_text(announcement: &Announcement) -> serde_json::Value {
        serde_json::json!({
            "text": format!("*{}*\n\n{}", slack_escape(&announcement.title), slack_escape(&announcement.body_markdown)),
        })
    }

    /// A Slack-compatible incoming webhook can only post: it has no way to
    /// change or delete a message it posted.
    fn only_signed_json(&self, what: &str) -> Result<(), AdapterError> {
        match self.settings.format {
            PayloadFormat::SignedJson => Ok(()),
            PayloadFormat::Slack => Err(AdapterError::Unsupported(format!(
                "an incoming webhook cannot {what} a message it posted; send a correction instead"
            ))),
        }
    }

    async fn client(&self) -> Result<(reqwest::Client, reqwest::Url), AdapterError> {
        let checked = destination::check(&self.settings.url, self.settings.allow_local)
            .await
            .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        // Connect to the addresses that were checked, never to a second answer.
        let client = reqwest::Client::builder()
            .resolve_to_addrs(&checked.host, &checked.addresses)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(self.settings.timeout_seconds.max(1)))
            .build()
            .map_err(|e| AdapterError::Transient(format!("could not build an HTTP client: {e}")))?;
        let url = reqwest::Url::parse(checked.url.as_str())
            .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        Ok((client, url))
    }
}

/// Signs a body the way receivers check it: `v1=` + hex HMAC-SHA256 of
/// `v1:{timestamp}:{body}`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Reads Retry-After: seconds, or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let Some(value) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    else {
        return DEFAULT_RETRY_AFTER;
    };
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Duration::from_secs(seconds);
    }
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .and_then(|at| {
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .ok()
        })
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

impl WebhookAdapter {
    /// Sends one payload, signed where the format is, with the delivery id.
    async fn send(
        &self,
        payload: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let (client, url) = self.client().await?;
        let body =
            serde_json::to_vec(payload).map_err(|e| AdapterError::Permanent(e.to_string()))?;
        let mut request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Cophub-Delivery", idempotency_key);
        if let (PayloadFormat::SignedJson, Some(secret)) = (self.settings.format, &self.secret) {
            let timestamp = chrono::Utc::now().timestamp();
            request = request
                .header("Cophub-Timestamp", timestamp.to_string())
                .header("Cophub-Signature", signature(secret, timestamp, &body));
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            // Connecting failed: nothing was sent.
            Err(e) if e.is_connect() => {
                return Err(AdapterError::Transient(format!("could not connect: {e}")));
            }
            // The request went out; whether it arrived is unknown.
            Err(e) if e.is_timeout() => {
                return Err(AdapterError::Ambiguous(format!("no answer in time: {e}")));
            }
            Err(e) => {
                return Err(AdapterError::Ambiguous(format!(
                    "the connection broke: {e}"
                )));
            }
        };
        let status = response.status();
        match status.as_u16() {
            200..=299 => Ok(Receipt {
                remote_ref: idempotency_key.to_owned(),
                url: None,
            }),
            429 => Err(AdapterError::RateLimited {
                retry_after: retry_after(response.headers()),
            }),
            401 | 403 => Err(AdapterError::Auth(format!(
                "the receiver refused us ({status})"
            ))),
            500..=599 => Err(AdapterError::Transient(format!(
                "the receiver failed ({status})"
            ))),
            _ => {
                let text = response.text().await.unwrap_or_default();
                Err(AdapterError::Permanent(format!(
                    "the receiver refused it ({status}): {}",
                    text.chars().take(200).collect::<String>()
                )))
            }
        }
    }
}

#[async_trait]
impl ChannelAdapter for WebhookAdapter {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            post: true,
            edit: self.settings.format == PayloadFormat::SignedJson,
            ..Capabilities::default()
        }
    }

    async fn list_members(&self, _cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        Err(AdapterError::Unsupported("a webhook has no members".into()))
    }

    async fn add_member(
        &self,
        _email: &hub_core::Email,
        _name: &str,
    ) -> Result<String, AdapterError> {
        Err(AdapterError::Unsupported("a webhook has no members".into()))
    }

    async fn remove_member(&self, _external_id: &str) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("a webhook has no members".into()))
    }

    async fn post(
        &self,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let payload = match self.settings.format {
            PayloadFormat::SignedJson => Self::event(
                "announcement.published",
                announcement,
                idempotency_key,
                None,
            ),
            PayloadFormat::Slack => Self::slack_text(announcement),
        };
        self.send(&payload, idempotency_key).await
    }

    async fn edit(
        &self,
        remote_ref: &str,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        self.only_signed_json("edit")?;
        let payload = Self::event(
            "announcement.edited",
            announcement,
            idempotency_key,
            Some(remote_ref),
        );
        self.send(&payload, idempotency_key).await
    }

    async fn retract(&self, remote_ref: &str, idempotency_key: &str) -> Result<(), AdapterError> {
        self.only_signed_json("delete")?;
        let payload = serde_json::json!({
            "type": "announcement.retracted",
            "delivery_id": idempotency_key,
            "replaces": remote_ref,
        });
        self.send(&payload, idempotency_key).await.map(drop)
    }

    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        let payload = match self.settings.format {
            PayloadFormat::SignedJson => Self::event(
                "announcement.published",
                announcement,
                "(each delivery's own id)",
                None,
            ),
            PayloadFormat::Slack => Self::slack_text(announcement),
        };
        Ok(vec![PreviewPart {
            label: "Webhook payload (POST, JSON)".into(),
            format: PreviewFormat::Json,
            content: serde_json::to_string_pretty(&payload).unwrap_or_default(),
        }])
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.client().await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature("s3cret", 1_700_000_000, b"{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64);
        assert_ne!(a, signature("s3cret", 1_700_000_001, b"{}"));
        assert_ne!(a, signature("s3cret", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature("other", 1_700_000_000, b"{}"));
    }

    #[test]
    fn settings_are_checked() {
        let settings = serde_json::json!({"url": "https://example.org/hook"});
        assert!(matches!(
            WebhookAdapter::new(&settings, None),
            Err(AdapterError::Permanent(_))
        ));
        assert!(WebhookAdapter::new(&settings, Some("s")).is_ok());
        let slack = serde_json::json!({"url": "https://example.org/hook", "format": "slack"});
        assert!(WebhookAdapter::new(&slack, None).is_ok());
        let typo = serde_json::json!({"ulr": "https://example.org/hook"});
        assert!(matches!(
            WebhookAdapter::new(&typo, Some("s")),
            Err(AdapterError::Permanent(_))
        ));
    }

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(slack_escape("<!channel> & co"), "&lt;!channel&gt; &amp; co");
    }
}
