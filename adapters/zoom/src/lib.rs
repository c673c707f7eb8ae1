//! cophub's Zoom channel: one Zoom account, reached through API v2 with a
//! Server-to-Server OAuth app ([`client::ZoomClient`]), paced under Zoom's
//! per-second limits ([`pacer::Pacer`]).
//!
//! - Calls ([`meetings`]): a call is a Zoom meeting, scheduled (type 2) or
//!   recurring at a fixed time (type 8) in the call's own timezone, under the
//!   first host of the pool who is free at its start. A marker line in the
//!   agenda (`cophub-call:<call id>`) names the call, so a create whose
//!   answer was lost is found again rather than made twice. Moved and
//!   cancelled occurrences are applied one by one, by Zoom's occurrence id.
//! - Members ([`registrants`]): the people registered for the channel's
//!   registration meetings. Adding registers a person on each of them;
//!   removing cancels their registrations, 30 to a call as Zoom allows.
//! - Announcements ([`chat`]): one Team Chat message to the configured
//!   channel, in plain text. Zoom cannot be asked whether a message went
//!   out, so a lost answer is retried and counted as a possible duplicate.
//! - Webhooks ([`webhooks`]): each channel's signed events, checked with
//!   its secret token, and the URL validation challenge.

pub mod chat;
pub mod client;
pub mod meetings;
pub mod pacer;
pub mod registrants;
pub mod webhooks;

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use hub_core::{
    Email,
    model::{announcement::Announcement, call::Call},
    ports::adapter::{
        AdapterError, CallReceipt, CallScope, Capabilities, ChannelAdapter, PreviewFormat,
        PreviewPart, Receipt, RemotePage,
    },
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    client::{CallError, Credentials, ZoomApi, ZoomClient},
    pacer::{Pacer, Rate},
    registrants::Registration,
};

/// A Zoom channel's settings, as the lead sets them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZoomSettings {
    /// The users calls are scheduled under, by user id or email, in order of
    /// preference: a call goes to the first one free at its start. `me` is
    /// the account owner.
    #[serde(default = "default_hosts")]
    pub hosts: Vec<String>,
    /// Meetings (by number) whose registrants are the channel's members.
    #[serde(default)]
    pub registration_meetings: Vec<String>,
    /// The Team Chat channel announcements go to; none: nothing is posted.
    #[serde(default)]
    pub chat_channel: Option<String>,
    /// The user who sends the announcements (`me`: the account owner).
    #[serde(default = "me")]
    pub chat_user: String,
}

impl Default for ZoomSettings {
    fn default() -> Self {
        Self {
            hosts: default_hosts(),
            registration_meetings: Vec::new(),
            chat_channel: None,
            chat_user: me(),
        }
    }
}

fn me() -> String {
    "me".to_owned()
}

fn default_hosts() -> Vec<String> {
    vec![me()]
}

/// The channel's secret: the Server-to-Server OAuth app and the webhook
/// secret token, as JSON.
#[derive(Clone)]
pub struct ZoomSecret {
    /// The app's credentials.
    pub credentials: Credentials,
    /// The secret token Zoom signs webhooks with (empty when not given).
    pub webhook_secret: String,
}

impl std::fmt::Debug for ZoomSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoomSecret")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl ZoomSecret {
    /// Reads `{"account_id", "client_id", "client_secret", "webhook_secret"}`.
    /// The error names what is missing, never what was given.
    ///
    /// # Errors
    /// `Permanent` when the secret is not that JSON.
    pub fn parse(secret: &str) -> Result<Self, AdapterError> {
        let value: Value = serde_json::from_str(secret.trim()).map_err(|_| {
            AdapterError::Permanent(
                "the Zoom channel's secret is not JSON: paste {\"account_id\", \"client_id\", \"client_secret\", \"webhook_secret\"} from the Server-to-Server OAuth app's page in Zoom's App Marketplace".into(),
            )
        })?;
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let required = ["account_id", "client_id", "client_secret"];
        let missing: Vec<&str> = required
            .into_iter()
            .filter(|name| field(name).is_none())
            .collect();
        let (Some(account_id), Some(client_id), Some(client_secret)) = (
            field("account_id"),
            field("client_id"),
            field("client_secret"),
        ) else {
            return Err(AdapterError::Permanent(format!(
                "the Zoom channel's secret lacks {}: copy it from the Server-to-Server OAuth app's page in Zoom's App Marketplace",
                missing.join(", ")
            )));
        };
        Ok(Self {
            credentials: Credentials {
                account_id,
                client_id,
                client_secret,
            },
            webhook_secret: field("webhook_secret").unwrap_or_default(),
        })
    }
}

/// One Zoom account as a cophub channel.
pub struct ZoomAdapter {
    client: ZoomClient,
    /// The account, which keys the pacing.
    account_id: String,
    settings: ZoomSettings,
    /// Approved registrations per meeting, by lowercased email, read once per
    /// adapter (one sync run) and kept up to date by its own changes.
    approved: Mutex<HashMap<String, HashMap<String, Registration>>>,
    /// Cancelled or denied registrations per meeting, read when a person is
    /// added, since Zoom keeps them and answers a new registration with the
    /// old, still cancelled, one.
    denied: Mutex<HashMap<String, HashMap<String, Registration>>>,
    /// What adding a registrant needs to know of each registration meeting.
    meeting_kinds: Mutex<HashMap<String, registrants::MeetingKind>>,
}

impl std::fmt::Debug for ZoomAdapter {
    // The caches hold people's emails: not for logs, and long.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoomAdapter")
            .field("client", &self.client)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Whether a text can be put in an API path as one segment as is: Zoom's ids
/// and emails can, a slash or a query cannot.
fn is_plain_segment(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~@+".contains(c))
}

/// Locks a cache; a panic elsewhere while it was held leaves it usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A query value percent-encoded (Zoom's page tokens may hold `+`, `/`, `=`).
pub(crate) fn query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Turns Zoom's refusal of a request into a sentence saying what could not
/// be done and why, in Zoom's words; other failures keep their class.
pub(crate) fn refused(what: &str) -> impl Fn(CallError) -> AdapterError + '_ {
    move |error| match (&error.class, error.code, &error.message) {
        (AdapterError::Permanent(_), Some(code), Some(message)) => AdapterError::Permanent(
            format!("Zoom would not {what}: {message} (Zoom code {code})"),
        ),
        _ => error.class,
    }
}

impl ZoomAdapter {
    /// An adapter for one channel, from its settings and decrypted secret.
    ///
    /// # Errors
    /// `Permanent` with a sentence for the lead when either is unusable;
    /// `Transient` when the HTTP client cannot be built.
    pub fn new(api: ZoomApi, settings: &Value, secret: &str) -> Result<Self, AdapterError> {
        let settings: ZoomSettings = serde_json::from_value(settings.clone()).map_err(|e| {
            AdapterError::Permanent(format!(
                "Zoom settings: {e} (expected hosts, registration_meetings, chat_channel and chat_user, all optional)"
            ))
        })?;
        if settings.hosts.is_empty() {
            return Err(AdapterError::Permanent(
                "Zoom settings: hosts is empty; name at least one user to schedule calls under, or leave it out for the account owner".into(),
            ));
        }
        for host in settings.hosts.iter().chain([&settings.chat_user]) {
            if !is_plain_segment(host) {
                return Err(AdapterError::Permanent(format!(
                    "Zoom settings: {host:?} is not a Zoom user id or email"
                )));
            }
        }
        for meeting in &settings.registration_meetings {
            if meetings::meeting_number(meeting).is_none() {
                return Err(AdapterError::Permanent(format!(
                    "Zoom settings: {meeting:?} is not a meeting number (the digits of the meeting id, such as 81234567890)"
                )));
            }
        }
        if let Some(channel) = &settings.chat_channel
            && !is_plain_segment(channel)
        {
            return Err(AdapterError::Permanent(format!(
                "Zoom settings: {channel:?} is not a Team Chat channel id"
            )));
        }
        let secret = ZoomSecret::parse(secret)?;
        let account_id = secret.credentials.account_id.clone();
        Ok(Self {
            client: ZoomClient::new(api, secret.credentials)?,
            account_id,
            settings,
            approved: Mutex::new(HashMap::new()),
            denied: Mutex::new(HashMap::new()),
            meeting_kinds: Mutex::new(HashMap::new()),
        })
    }

    /// The channel's settings.
    #[must_use]
    pub fn settings(&self) -> &ZoomSettings {
        &self.settings
    }

    /// One paced API call.
    async fn call(
        &self,
        rate: Rate,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        Pacer::global().wait(&self.account_id, rate).await;
        self.client.request(method, path, body).await
    }
}

#[async_trait]
impl ChannelAdapter for ZoomAdapter {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_members: true,
            manage_members: true,
            post: self.settings.chat_channel.is_some(),
            edit: false,
            per_recipient: false,
            calls: true,
        }
    }

    async fn list_members(&self, cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        if cursor.is_some() {
            // Everything comes back as one page.
            return Ok(RemotePage::default());
        }
        Ok(RemotePage {
            members: self.registered_members().await?,
            next_cursor: None,
        })
    }

    async fn add_member(&self, email: &Email, name: &str) -> Result<String, AdapterError> {
        self.register(email, name).await
    }

    async fn register_for_call(
        &self,
        remote_ref: &str,
        email: &Email,
        name: &str,
    ) -> Result<String, AdapterError> {
        self.register_on(remote_ref, email, name).await
    }

    async fn remove_member(&self, external_id: &str) -> Result<(), AdapterError> {
        let email = external_id.trim().to_lowercase();
        for meeting in &self.settings.registration_meetings {
            self.cancel_registrants(meeting, std::slice::from_ref(&email))
                .await?;
        }
        Ok(())
    }

    async fn post(
        &self,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let _ = idempotency_key;
        self.send_chat(announcement).await
    }

    async fn schedule_call(
        &self,
        call: &Call,
        idempotency_key: &str,
    ) -> Result<CallReceipt, AdapterError> {
        // The call's id, in the agenda's marker, is what finds an earlier
        // attempt; the key adds nothing to it.
        let _ = idempotency_key;
        self.schedule(call).await
    }

    async fn update_call(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<CallReceipt, AdapterError> {
        self.update(remote_ref, call, scope).await
    }

    async fn cancel_call(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<Option<CallReceipt>, AdapterError> {
        self.cancel(remote_ref, call, scope).await?;
        Ok(None)
    }

    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        let Some(channel) = &self.settings.chat_channel else {
            return Err(AdapterError::Unsupported(
                "announcements: this Zoom channel has no Team Chat channel chosen".into(),
            ));
        };
        Ok(vec![PreviewPart {
            label: format!("Zoom Team Chat message to {channel}"),
            format: PreviewFormat::Text,
            content: chat::message_text(announcement),
        }])
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.call(Rate::Medium, Method::GET, "/users?page_size=1", None)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_secret_is_named_without_being_shown() {
        for secret in [
            "hunter2-not-json",
            r#"{"account_id": "acct", "client_id": "id"}"#,
            r#"{"account_id": 12345, "client_id": "id", "client_secret": "s3cr3t"}"#,
        ] {
            let error = ZoomSecret::parse(secret).map(|_| ()).unwrap_err();
            let text = error.to_string();
            assert!(matches!(error, AdapterError::Permanent(_)), "{text}");
            for part in ["hunter2", "s3cr3t", "12345"] {
                assert!(!text.contains(part), "{text}");
            }
        }
        let parsed = ZoomSecret::parse(
            r#"{"account_id": "a", "client_id": "b", "client_secret": "c", "webhook_secret": "d"}"#,
        )
        .map_err(|e| e.to_string());
        let debug = format!("{parsed:?}");
        assert!(
            !debug.contains("\"c\"") && !debug.contains("\"d\""),
            "{debug}"
        );
    }

    #[test]
    fn settings_default_to_the_account_owner_and_refuse_unknown_fields() {
        let settings: ZoomSettings =
            serde_json::from_value(serde_json::json!({})).unwrap_or_default();
        assert_eq!(settings, ZoomSettings::default());
        assert_eq!(settings.hosts, ["me"]);
        assert_eq!(settings.chat_user, "me");
        assert!(serde_json::from_value::<ZoomSettings>(serde_json::json!({"host": "me"})).is_err());
    }
}
