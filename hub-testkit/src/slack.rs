//! A fake Slack, written from Slack's published contract (the Web API method
//! pages on docs.slack.dev, the Swagger file in `shared/api-specs/slack/`
//! where the pages are silent, the OAuth v2 and Events API guides), never
//! from the adapter: it shares no code or constant with `adapters/slack`, so
//! a test can catch the adapter getting the contract wrong.
//!
//! It serves the Web API at `base_url + "/api/<method>"` (GET query string,
//! POST form, or POST JSON where the method page says JSON is accepted), the
//! OAuth v2 consent page at `base_url + "/oauth/v2/authorize"`, and it sends
//! signed Events API requests to a URL under test. Tokens carry scopes, and a
//! method called with a token that lacks the scope it needs answers
//! `missing_scope`, as Slack does. Faults (HTTP statuses, 429s, Slack errors,
//! hangs, timeouts after the effect, malformed bodies) are scripted per method.
//!
//! # Rate limits
//!
//! Slack applies its limits "per API method per app per workspace"; this fake
//! has one app and one workspace, so each method has one rolling 60-second
//! window shared by every token. Bursts up to the per-minute count are allowed.
//! Over the limit: HTTP 429, `Retry-After: <seconds until a slot frees>`, body
//! `{"ok":false,"error":"ratelimited"}`. Tiers are those printed on each
//! method page (Tier 1: 1+/min, Tier 2: 20+/min, Tier 3: 50+/min, Tier 4:
//! 100+/min); the fake uses the lower bound.
//!
//! | method | Slack's tier | limit here |
//! |---|---|---|
//! | `users.list` | Tier 2 | 20 / min |
//! | `conversations.list` | Tier 2 | 20 / min |
//! | `conversations.create` | Tier 2 | 20 / min |
//! | `conversations.setPurpose` | Tier 2 | 20 / min |
//! | `users.lookupByEmail` | Tier 3 | 50 / min |
//! | `conversations.history` | Tier 3 (internal apps; see below) | 50 / min |
//! | `conversations.replies` | Tier 3 (internal apps) | 50 / min |
//! | `conversations.join` | Tier 3 | 50 / min |
//! | `conversations.invite` | Tier 3 | 50 / min |
//! | `conversations.kick` | Tier 3 | 50 / min |
//! | `chat.update` | Tier 3 | 50 / min |
//! | `chat.delete` | Tier 3 | 50 / min |
//! | `chat.scheduleMessage` | Tier 3 | 50 / min (and `restricted_too_many` past 30 messages due within 5 minutes of each other in one channel) |
//! | `chat.deleteScheduledMessage` | Tier 3 | 50 / min |
//! | `chat.scheduledMessages.list` | Tier 3 | 50 / min |
//! | `conversations.members` | Tier 4 | 100 / min |
//! | `auth.test` | Special | 100 / min (treated as Tier 4) |
//! | `chat.postMessage` | Special | 1 message / second / channel, burst 1 (`Retry-After: 1`) |
//! | `oauth.v2.access` | Special | not limited |
//!
//! Since 2025 Slack limits `conversations.history` for commercially
//! distributed apps that are not in the Marketplace to 1 request a minute and
//! 15 messages a page; cophub installs as an internal app, which keeps Tier 3,
//! so that stricter limit is not modelled.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER},
    },
    response::{Html, IntoResponse, Response},
    routing::{any, get},
};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::{sync::oneshot, task::JoinHandle};

/// The app id every answer names.
const APP_ID: &str = "A0FAKE";
/// The app's display name on the consent page.
const APP_NAME: &str = "Fake App";
/// The app's bot id (`B...`), as auth.test and messages show it.
const BOT_ID: &str = "B0FAKEBOT";
/// The app's bot user: one per app per workspace, whatever the install.
const BOT_USER_ID: &str = "U0FAKEBOT";
/// The bot user's handle.
const BOT_NAME: &str = "fakeapp";
/// Slackbot, present in every workspace (and `is_bot: false` in users.list).
const SLACKBOT: &str = "USLACKBOT";
/// The person who clicks "Allow" on the consent page.
const INSTALLER: &str = "U0INSTALLR";
/// The deprecated verification token that event envelopes still carry.
const VERIFICATION_TOKEN: &str = "fake-verification-token";
/// The scopes a token pasted by hand carries (the app's configured scopes).
const INSTALLED_SCOPES: &[&str] = &[
    "chat:write",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "channels:join",
    "channels:manage",
    "groups:write",
];
/// Bot scopes the consent page accepts: today's names. Legacy names such as
/// `bot`, `channels:write` or `chat:write:bot` are refused, as Slack refuses
/// them for a v2 app.
const KNOWN_BOT_SCOPES: &[&str] = &[
    "app_mentions:read",
    "bookmarks:read",
    "bookmarks:write",
    "calls:read",
    "calls:write",
    "channels:history",
    "channels:join",
    "channels:manage",
    "channels:read",
    "channels:write.invites",
    "channels:write.topic",
    "chat:write",
    "chat:write.customize",
    "chat:write.public",
    "commands",
    "dnd:read",
    "emoji:read",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "groups:write",
    "groups:write.invites",
    "groups:write.topic",
    "im:history",
    "im:read",
    "im:write",
    "incoming-webhook",
    "links:read",
    "links:write",
    "metadata.message:read",
    "mpim:history",
    "mpim:read",
    "mpim:write",
    "pins:read",
    "pins:write",
    "reactions:read",
    "reactions:write",
    "reminders:read",
    "reminders:write",
    "remote_files:read",
    "team:read",
    "usergroups:read",
    "usergroups:write",
    "users.profile:read",
    "users:read",
    "users:read.email",
    "users:write",
];
/// The window of the tiered limits.
const MINUTE: Duration = Duration::from_secs(60);
/// How long an OAuth code can be exchanged (Slack: ten minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Lifetime of a rotating access token, in seconds.
const ROTATING_LIFETIME: i64 = 43_200;
/// How far ahead chat.scheduleMessage accepts `post_at` (120 days).
const MAX_SCHEDULE_AHEAD: i64 = 120 * 86_400;
/// Scheduled messages allowed due within one 5-minute window of a channel.
const MAX_SCHEDULED_PER_WINDOW: usize = 30;
/// chat.postMessage and chat.scheduleMessage: longest `text`.
const MAX_POST_TEXT: usize = 40_000;
/// chat.update's page: "The `text` field cannot exceed 4,000 characters."
const MAX_UPDATE_TEXT: usize = 4_000;
/// Block Kit: most blocks in one message.
const MAX_BLOCKS: usize = 50;
/// Default of [`FakeSlack::set_blocks_limit`].
const DEFAULT_BLOCKS_LIMIT: usize = 12_000;
/// conversations.setPurpose: "too_long — Purpose was longer than 250
/// characters."
const MAX_PURPOSE: usize = 250;
/// conversations.invite: "Up to 1000 users may be listed" (the Web API spec in
/// shared/api-specs and Slack's SDK reference for the method say 1,000).
const MAX_INVITEES: usize = 1000;
/// Page size when `limit` is absent or 0.
const DEFAULT_LIMIT: usize = 100;
/// How long a delivered event may take to be acknowledged: Slack gives up
/// after three seconds and retries.
const EVENT_ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// The Slack app the fake knows: its OAuth credentials and signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackApp {
    /// The app's client id, as shown on its "Basic Information" page.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// The secret that signs Events API requests.
    pub signing_secret: String,
}

impl Default for SlackApp {
    fn default() -> Self {
        Self {
            client_id: "1111.2222".to_owned(),
            client_secret: "fake-client-secret".to_owned(),
            signing_secret: "fake-signing-secret".to_owned(),
        }
    }
}

/// A user to add to the fake workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    /// The handle (`name` in users.list); empty means "user{n}".
    pub name: String,
    /// The full name.
    pub real_name: String,
    /// The email address, if the user has one (bots have none).
    pub email: Option<String>,
    /// A bot user.
    pub is_bot: bool,
    /// Deactivated.
    pub deleted: bool,
    /// A multi-channel guest.
    pub is_restricted: bool,
    /// A single-channel guest.
    pub is_ultra_restricted: bool,
}

impl NewUser {
    /// A human with a full name and an email address; the handle is derived
    /// from the name ("Ada Lovelace" becomes "ada.lovelace").
    pub fn person(name: impl Into<String>, email: impl Into<String>) -> Self {
        let real_name = name.into();
        let handle = real_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(".")
            .to_lowercase();
        Self {
            name: handle,
            real_name,
            email: Some(email.into()),
            ..Self::default()
        }
    }
}

/// A message as the fake stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedMessage {
    /// Its timestamp id, "seconds.microseconds".
    pub ts: String,
    /// The `text` (the notification fallback when blocks are given).
    pub text: String,
    /// The blocks as posted; `Value::Null` when none were given.
    pub blocks: Value,
    /// The parent's ts for a thread reply.
    pub thread_ts: Option<String>,
    /// The message metadata (`{"event_type", "event_payload"}`), if any.
    pub metadata: Option<Value>,
    /// Who posted it.
    pub user: String,
    /// Changed by chat.update since.
    pub edited: bool,
}

/// A message waiting to be posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledMessage {
    /// Its id, "Q...".
    pub id: String,
    /// When it is due, in Unix seconds.
    pub post_at: i64,
    /// Its text.
    pub text: String,
    /// The parent's ts when it is to be a thread reply.
    pub thread_ts: Option<String>,
}

/// A scripted answer for the next request to one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this HTTP status with a short non-JSON body; not carried out.
    Status(u16),
    /// HTTP 429 with `Retry-After: n` and `{"ok":false,"error":"ratelimited"}`;
    /// not carried out.
    RateLimited(u64),
    /// HTTP 200 `{"ok": false, "error": "<it>"}`; not carried out.
    SlackError(String),
    /// Wait this long, then carry the method out and answer. A client that
    /// gives up first drops the request, and then nothing is carried out.
    Hang(Duration),
    /// Carry the method out (the message is posted), then wait this long
    /// before answering: a timeout after the effect.
    AfterEffect(Duration),
    /// HTTP 200 with the body `<html>oops`; not carried out.
    Malformed,
    /// No fault: answered as usual. Queued before another fault, it lets
    /// that one hit a later call (the second post of a thread, say).
    Pass,
}

/// A running fake Slack. Clones share the server; it stops when the last
/// handle is dropped, or on [`FakeSlack::shutdown`].
#[derive(Debug, Clone)]
pub struct FakeSlack {
    handle: Arc<ServerHandle>,
}

#[derive(Debug)]
struct ServerHandle {
    shared: Arc<Shared>,
    base_url: String,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let sender = self
            .shutdown
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
    }
}

impl FakeSlack {
    /// Starts a fake with [`SlackApp::default`], team "T0FAKE" named
    /// "Fake Workspace".
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start() -> Self {
        Self::start_with(SlackApp::default(), "T0FAKE", "Fake Workspace").await
    }

    /// Starts a fake for this app and workspace.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start_with(app: SlackApp, team_id: &str, team_name: &str) -> Self {
        let shared = Arc::new(Shared {
            app,
            team_id: team_id.to_owned(),
            team_name: team_name.to_owned(),
            world: Mutex::new(World::new()),
        });
        let router = Router::new()
            .route("/api/{method}", any(api))
            .route(
                "/oauth/v2/authorize",
                get(authorize_page).post(authorize_decision),
            )
            .with_state(Arc::clone(&shared));
        let listener =
            match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
                Ok(listener) => listener,
                Err(error) => panic!("the fake Slack could not bind a local port: {error}"),
            };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => panic!("the fake Slack has no local address: {error}"),
        };
        let (sender, receiver) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = receiver.await;
                })
                .await;
        });
        Self {
            handle: Arc::new(ServerHandle {
                shared,
                base_url: format!("http://{address}"),
                shutdown: Mutex::new(Some(sender)),
                task: Mutex::new(Some(task)),
            }),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.handle.shared.world()
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.handle.base_url.clone()
    }

    /// The Web API's base, with a trailing slash: `base_url() + "/api/"`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.handle.base_url)
    }

    /// The OAuth v2 consent page: `base_url() + "/oauth/v2/authorize"`.
    #[must_use]
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/v2/authorize", self.handle.base_url)
    }

    /// The app's credentials.
    #[must_use]
    pub fn app(&self) -> SlackApp {
        self.handle.shared.app.clone()
    }

    /// The workspace id, "T...".
    #[must_use]
    pub fn team_id(&self) -> String {
        self.handle.shared.team_id.clone()
    }

    /// A valid bot token (`xoxb-...`) of the installed app, as if an admin had
    /// installed it by hand and pasted the token, with the app's configured
    /// scopes (chat:write, users:read, users:read.email, channels:read,
    /// groups:read, channels:history, groups:history, channels:join,
    /// channels:manage, groups:write).
    #[must_use]
    pub fn bot_token(&self) -> String {
        self.world().pasted_token.clone()
    }

    /// The app's bot user, "U...", a member of every conversation made with
    /// [`FakeSlack::create_conversation`].
    #[must_use]
    pub fn bot_user_id(&self) -> String {
        BOT_USER_ID.to_owned()
    }

    /// Revokes a token: later calls with it fail with `token_revoked`.
    pub fn revoke(&self, token: &str) {
        if let Some(info) = self.world().tokens.get_mut(token) {
            info.revoked = true;
        }
    }

    /// Expires a token now: later calls with it fail with `token_expired`,
    /// as a rotating token does after its 12 hours.
    pub fn expire(&self, token: &str) {
        if let Some(info) = self.world().tokens.get_mut(token) {
            info.expires_at = Some(0);
        }
    }

    /// Turns token rotation on for later installs: oauth.v2.access then
    /// answers an expiring `xoxe.xoxb-` token with a `refresh_token` and
    /// `expires_in`, and accepts `grant_type=refresh_token`. Off by default.
    pub fn set_token_rotation(&self, enabled: bool) {
        self.world().token_rotation = enabled;
    }

    /// Adds a user; returns the id, "U...".
    pub fn add_user(&self, user: NewUser) -> String {
        self.world().add_user(user)
    }

    /// Adds `count` people named "Person {i}" with the email
    /// "person{i}@example.org"; `i` starts at 0 and goes on across calls.
    /// Ids are given in order, so the same calls give the same ids.
    pub fn add_users(&self, count: usize) -> Vec<String> {
        let mut world = self.world();
        let first = world.persons;
        world.persons += count;
        (first..first + count)
            .map(|i| {
                world.add_user(NewUser::person(
                    format!("Person {i}"),
                    format!("person{i}@example.org"),
                ))
            })
            .collect()
    }

    /// Deactivates a user (`deleted: true`); it stays in users.list.
    pub fn remove_user(&self, id: &str) {
        if let Some(user) = self.world().users.get_mut(id) {
            user.deleted = true;
        }
    }

    /// Creates a channel with the bot in it; returns its id, "C...". The name
    /// is taken as given.
    pub fn create_conversation(&self, name: &str, private: bool) -> String {
        self.world().create_conversation(name, private, BOT_USER_ID)
    }

    /// The ids of every conversation, archived ones too, oldest first.
    #[must_use]
    pub fn conversations(&self) -> Vec<String> {
        self.world().conversations.keys().cloned().collect()
    }

    /// A conversation's purpose (its description), as last set; `None` for
    /// a conversation that does not exist.
    #[must_use]
    pub fn purpose(&self, conversation: &str) -> Option<String> {
        self.world()
            .conversations
            .get(conversation)
            .map(|c| c.purpose.value.clone())
    }

    /// Archives a conversation.
    pub fn archive(&self, conversation: &str) {
        if let Some(conversation) = self.world().conversations.get_mut(conversation) {
            conversation.archived = true;
        }
    }

    /// Puts a user into a conversation directly.
    pub fn join(&self, conversation: &str, user: &str) {
        if let Some(conversation) = self.world().conversations.get_mut(conversation) {
            conversation.members.insert(user.to_owned());
        }
    }

    /// Takes a user out of a conversation directly (the bot too, as if
    /// someone removed it).
    pub fn leave(&self, conversation: &str, user: &str) {
        if let Some(conversation) = self.world().conversations.get_mut(conversation) {
            conversation.members.remove(user);
        }
    }

    /// The members of a conversation, sorted by id.
    #[must_use]
    pub fn members(&self, conversation: &str) -> Vec<String> {
        self.world()
            .conversations
            .get(conversation)
            .map(|c| c.members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Posts a message as someone else (a person, say), so tests can seed a
    /// history or a message the bot may not edit; returns its ts.
    pub fn post_as(&self, conversation: &str, user: &str, text: &str) -> String {
        let mut world = self.world();
        let ts = world.next_ts();
        if let Some(conversation) = world.conversations.get_mut(conversation) {
            conversation.messages.push(Message {
                ts: ts.clone(),
                text: text.to_owned(),
                blocks: Value::Null,
                thread_ts: None,
                metadata: None,
                user: user.to_owned(),
                edited: None,
            });
        }
        ts
    }

    /// The messages of a conversation, top-level and thread replies, oldest
    /// first; deleted ones are gone.
    #[must_use]
    pub fn messages(&self, conversation: &str) -> Vec<PostedMessage> {
        self.world()
            .conversations
            .get(conversation)
            .map(|c| {
                c.messages
                    .iter()
                    .map(|m| PostedMessage {
                        ts: m.ts.clone(),
                        text: m.text.clone(),
                        blocks: m.blocks.clone(),
                        thread_ts: m.thread_ts.clone(),
                        metadata: m.metadata.clone(),
                        user: m.user.clone(),
                        edited: m.edited.is_some(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The messages scheduled in a conversation, in the order they were
    /// scheduled.
    #[must_use]
    pub fn scheduled(&self, conversation: &str) -> Vec<ScheduledMessage> {
        self.world()
            .conversations
            .get(conversation)
            .map(|c| {
                c.scheduled
                    .iter()
                    .map(|s| ScheduledMessage {
                        id: s.id.clone(),
                        post_at: s.post_at,
                        text: s.text.clone(),
                        thread_ts: s.thread_ts.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Posts every scheduled message due at or before `now` (Unix seconds),
    /// as Slack would when their time comes; returns how many were posted.
    pub fn post_due_scheduled(&self, now: i64) -> usize {
        let mut world = self.world();
        let mut due = Vec::new();
        for conversation in world.conversations.values_mut() {
            let (ready, waiting): (Vec<_>, Vec<_>) = conversation
                .scheduled
                .drain(..)
                .partition(|s| s.post_at <= now);
            conversation.scheduled = waiting;
            due.extend(ready.into_iter().map(|s| (conversation.id.clone(), s)));
        }
        due.sort_by_key(|(_, s)| s.post_at);
        let count = due.len();
        for (conversation, s) in due {
            let ts = world.next_ts();
            if let Some(conversation) = world.conversations.get_mut(&conversation) {
                conversation.messages.push(Message {
                    ts,
                    text: s.text,
                    blocks: s.blocks,
                    thread_ts: s.thread_ts,
                    metadata: s.metadata,
                    user: s.user,
                    edited: None,
                });
            }
        }
        count
    }

    /// How many requests reached `/api/<method>`, faulted and rate-limited
    /// ones included.
    #[must_use]
    pub fn calls(&self, method: &str) -> u64 {
        self.world().calls.get(method).copied().unwrap_or(0)
    }

    /// How many requests reached `/api/` in all.
    #[must_use]
    pub fn total_calls(&self) -> u64 {
        self.world().total_calls
    }

    /// The next request to `method` gets this fault; faults queue per method,
    /// first in, first out.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.world()
            .faults
            .entry(method.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// The most characters all the `text` fields of a message's blocks may
    /// hold together before chat.postMessage answers `msg_blocks_too_long`
    /// (default 12,000).
    pub fn set_blocks_limit(&self, chars: usize) {
        self.world().blocks_limit = chars;
    }

    /// Turns the rate limits on or off (on by default).
    pub fn set_rate_limits(&self, enabled: bool) {
        self.world().rate_limits = enabled;
    }

    /// When on, every other page of a paginated method holds fewer items than
    /// asked (but at least one) and still carries a `next_cursor`, as Slack's
    /// pages may.
    pub fn set_short_pages(&self, enabled: bool) {
        self.world().short_pages = enabled;
    }

    /// Wraps `event` in an `event_callback` envelope (token, team_id,
    /// api_app_id, a unique event_id "Ev...", event_time, authorizations),
    /// signs it and POSTs it to `url` as Slack's Events API does.
    ///
    /// # Panics
    /// When the request fails or takes longer than the 3 seconds Slack waits.
    pub async fn deliver_event(&self, url: &str, event: Value) -> reqwest::Response {
        let event_id = {
            let mut world = self.world();
            world.event_seq += 1;
            format!("Ev{:010}", world.event_seq)
        };
        let shared = &self.handle.shared;
        let envelope = json!({
            "token": VERIFICATION_TOKEN,
            "team_id": shared.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": chrono::Utc::now().timestamp(),
            "authorizations": [{
                "enterprise_id": null,
                "team_id": shared.team_id,
                "user_id": BOT_USER_ID,
                "is_bot": true,
                "is_enterprise_install": false,
            }],
            "is_ext_shared_channel": false,
        });
        self.deliver_signed(url, &envelope.to_string(), None).await
    }

    /// Signs `body` with the app's signing secret and POSTs it to `url` as
    /// JSON, with `X-Slack-Retry-Num` (and `X-Slack-Retry-Reason:
    /// http_timeout`) when `event_id_retry` is given.
    ///
    /// # Panics
    /// When the request fails or takes longer than the 3 seconds Slack waits.
    pub async fn deliver_signed(
        &self,
        url: &str,
        body: &str,
        event_id_retry: Option<u32>,
    ) -> reqwest::Response {
        hub_core::tls::init();
        let timestamp = chrono::Utc::now().timestamp();
        let client = match reqwest::Client::builder()
            .timeout(EVENT_ACK_TIMEOUT)
            .build()
        {
            Ok(client) => client,
            Err(error) => panic!("the fake Slack could not build an HTTP client: {error}"),
        };
        let mut request = client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
            .header("X-Slack-Request-Timestamp", timestamp.to_string())
            .header("X-Slack-Signature", self.sign(timestamp, body))
            .body(body.to_owned());
        if let Some(retry) = event_id_retry {
            request = request
                .header("X-Slack-Retry-Num", retry.to_string())
                .header("X-Slack-Retry-Reason", "http_timeout");
        }
        match request.send().await {
            Ok(response) => response,
            Err(error) => panic!("delivering a Slack event to {url} failed: {error}"),
        }
    }

    /// Slack's request signature: `"v0=" + hex(HMAC-SHA256(signing_secret,
    /// "v0:{timestamp}:{body}"))`.
    #[must_use]
    pub fn sign(&self, timestamp: i64, body: &str) -> String {
        let secret = self.handle.shared.app.signing_secret.as_bytes();
        match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(format!("v0:{timestamp}:{body}").as_bytes());
                format!("v0={}", hex::encode(mac.finalize().into_bytes()))
            }
            // HMAC takes a key of any length, so this arm is never taken.
            Err(_) => "v0=".to_owned(),
        }
    }

    /// Stops the server (for every handle) and waits for it, at most five
    /// seconds.
    pub async fn shutdown(self) {
        let sender = self
            .handle
            .shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
        let task = self
            .handle
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Shared {
    app: SlackApp,
    team_id: String,
    team_name: String,
    world: Mutex<World>,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    name: String,
    real_name: String,
    email: Option<String>,
    is_bot: bool,
    deleted: bool,
    is_restricted: bool,
    is_ultra_restricted: bool,
}

#[derive(Debug, Clone)]
struct Message {
    ts: String,
    text: String,
    blocks: Value,
    thread_ts: Option<String>,
    metadata: Option<Value>,
    user: String,
    /// The ts of the last edit.
    edited: Option<String>,
}

#[derive(Debug, Clone)]
struct Scheduled {
    id: String,
    post_at: i64,
    date_created: i64,
    text: String,
    blocks: Value,
    thread_ts: Option<String>,
    metadata: Option<Value>,
    user: String,
}

#[derive(Debug)]
struct Conversation {
    id: String,
    name: String,
    private: bool,
    archived: bool,
    created: i64,
    creator: String,
    members: BTreeSet<String>,
    messages: Vec<Message>,
    scheduled: Vec<Scheduled>,
    purpose: Purpose,
}

/// A conversation's purpose, as the conversation object shows it.
#[derive(Debug, Clone, Default)]
struct Purpose {
    value: String,
    /// Who set it; empty while never set.
    creator: String,
    /// Unix seconds; 0 while never set.
    last_set: i64,
}

#[derive(Debug, Clone)]
struct Token {
    /// Who acts with it: the bot user, or the installer for a user token.
    user: String,
    bot: bool,
    scopes: BTreeSet<String>,
    revoked: bool,
    /// Unix seconds, for rotating tokens.
    expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
struct Consent {
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    user_scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct Grant {
    redirect_uri: String,
    scopes: Vec<String>,
    user_scopes: Vec<String>,
    issued: Instant,
}

#[derive(Debug, Clone)]
struct Refresh {
    scopes: Vec<String>,
    valid: bool,
}

#[derive(Debug)]
struct World {
    users: BTreeMap<String, User>,
    user_seq: u64,
    persons: usize,
    conversations: BTreeMap<String, Conversation>,
    conversation_seq: u64,
    pasted_token: String,
    tokens: HashMap<String, Token>,
    refresh_tokens: HashMap<String, Refresh>,
    consents: HashMap<String, Consent>,
    codes: HashMap<String, Grant>,
    faults: HashMap<String, VecDeque<Fault>>,
    calls: HashMap<String, u64>,
    total_calls: u64,
    windows: HashMap<String, VecDeque<Instant>>,
    last_post: HashMap<String, Instant>,
    last_ts: i64,
    scheduled_seq: u64,
    event_seq: u64,
    token_seq: u64,
    blocks_limit: usize,
    rate_limits: bool,
    short_pages: bool,
    short_turn: bool,
    token_rotation: bool,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            users: BTreeMap::new(),
            user_seq: 0,
            persons: 0,
            conversations: BTreeMap::new(),
            conversation_seq: 0,
            pasted_token: String::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            consents: HashMap::new(),
            codes: HashMap::new(),
            faults: HashMap::new(),
            calls: HashMap::new(),
            total_calls: 0,
            windows: HashMap::new(),
            last_post: HashMap::new(),
            last_ts: 0,
            scheduled_seq: 0,
            event_seq: 0,
            token_seq: 0,
            blocks_limit: DEFAULT_BLOCKS_LIMIT,
            rate_limits: true,
            short_pages: false,
            short_turn: false,
            token_rotation: false,
        };
        for user in [
            User {
                id: SLACKBOT.to_owned(),
                name: "slackbot".to_owned(),
                real_name: "Slackbot".to_owned(),
                email: None,
                // Slack lists Slackbot with is_bot false.
                is_bot: false,
                deleted: false,
                is_restricted: false,
                is_ultra_restricted: false,
            },
            User {
                id: BOT_USER_ID.to_owned(),
                name: BOT_NAME.to_owned(),
                real_name: APP_NAME.to_owned(),
                email: None,
                is_bot: true,
                deleted: false,
                is_restricted: false,
                is_ultra_restricted: false,
            },
        ] {
            world.users.insert(user.id.clone(), user);
        }
        let scopes = INSTALLED_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        world.pasted_token = world.issue_token(BOT_USER_ID, true, scopes, None);
        world
    }

    fn add_user(&mut self, user: NewUser) -> String {
        self.user_seq += 1;
        let id = format!("U{:08}", self.user_seq);
        let name = if user.name.is_empty() {
            format!("user{}", self.user_seq)
        } else {
            user.name
        };
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                name,
                real_name: user.real_name,
                email: user.email,
                is_bot: user.is_bot,
                deleted: user.deleted,
                is_restricted: user.is_restricted,
                is_ultra_restricted: user.is_ultra_restricted,
            },
        );
        id
    }

    fn create_conversation(&mut self, name: &str, private: bool, creator: &str) -> String {
        self.conversation_seq += 1;
        let id = format!("C{:08}", self.conversation_seq);
        self.conversations.insert(
            id.clone(),
            Conversation {
                id: id.clone(),
                name: name.to_owned(),
                private,
                archived: false,
                created: chrono::Utc::now().timestamp(),
                creator: creator.to_owned(),
                members: BTreeSet::from([creator.to_owned()]),
                messages: Vec::new(),
                scheduled: Vec::new(),
                purpose: Purpose::default(),
            },
        );
        id
    }

    fn issue_token(
        &mut self,
        user: &str,
        bot: bool,
        scopes: BTreeSet<String>,
        expires_at: Option<i64>,
    ) -> String {
        self.token_seq += 1;
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let secret = secret.get(..24).unwrap_or(&secret);
        let kind = if bot { "xoxb" } else { "xoxp" };
        let token = if expires_at.is_some() {
            format!("xoxe.{kind}-1-{}-{secret}", self.token_seq)
        } else {
            format!(
                "{kind}-1000{}-2000{}-{secret}",
                self.token_seq, self.token_seq
            )
        };
        self.tokens.insert(
            token.clone(),
            Token {
                user: user.to_owned(),
                bot,
                scopes,
                revoked: false,
                expires_at,
            },
        );
        token
    }

    /// A timestamp id: "seconds.microseconds", unique and increasing.
    fn next_ts(&mut self) -> String {
        let micros = chrono::Utc::now().timestamp_micros().max(self.last_ts + 1);
        self.last_ts = micros;
        format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }

    fn authenticate(&self, token: Option<&str>) -> Result<Token, Failure> {
        let Some(token) = token else {
            return Err(fail("not_authed"));
        };
        let Some(info) = self.tokens.get(token) else {
            return Err(fail("invalid_auth"));
        };
        if info.revoked {
            return Err(fail("token_revoked"));
        }
        if info
            .expires_at
            .is_some_and(|at| at <= chrono::Utc::now().timestamp())
        {
            return Err(fail("token_expired"));
        }
        Ok(info.clone())
    }

    /// Takes a slot in the method's rolling minute, or says how many seconds
    /// until one frees.
    fn take_slot(&mut self, method: &str, per_minute: usize) -> Result<(), Failure> {
        if !self.rate_limits {
            return Ok(());
        }
        let now = Instant::now();
        let window = self.windows.entry(method.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= MINUTE)
        {
            window.pop_front();
        }
        if window.len() >= per_minute {
            let oldest = window.front().copied().unwrap_or(now);
            let wait = MINUTE.saturating_sub(now.duration_since(oldest));
            return Err(Failure::RateLimited(ceil_seconds(wait)));
        }
        window.push_back(now);
        Ok(())
    }

    /// chat.postMessage's special limit: one message a second per channel.
    fn post_slot(&self, channel: &str) -> Result<(), Failure> {
        if self.rate_limits
            && self
                .last_post
                .get(channel)
                .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return Err(Failure::RateLimited(1));
        }
        Ok(())
    }

    fn conversation(&self, id: &str) -> Result<&Conversation, Failure> {
        self.conversations
            .get(id)
            .ok_or_else(|| fail("channel_not_found"))
    }

    fn conversation_mut(&mut self, id: &str) -> Result<&mut Conversation, Failure> {
        self.conversations
            .get_mut(id)
            .ok_or_else(|| fail("channel_not_found"))
    }

    /// A conversation the actor can see, by id: public ones, and private
    /// ones it is in (others do not exist for it).
    fn visible(&self, id: Option<String>, actor: &str) -> Result<String, Failure> {
        let id = id.ok_or_else(|| fail("channel_not_found"))?;
        match self.conversations.get(&id) {
            Some(c) if !c.private || c.members.contains(actor) => Ok(id),
            _ => Err(fail("channel_not_found")),
        }
    }

    /// Like `visible`, but also takes a channel name ("#general" or
    /// "general"), as the chat methods do.
    fn resolve(&self, raw: Option<String>, actor: &str) -> Result<String, Failure> {
        let raw = raw.ok_or_else(|| fail("channel_not_found"))?;
        if self.conversations.contains_key(&raw) {
            return self.visible(Some(raw), actor);
        }
        let name = raw.trim_start_matches('#');
        let id = self
            .conversations
            .values()
            .find(|c| c.name == name)
            .map(|c| c.id.clone());
        self.visible(id, actor)
    }

    fn can_post(&self, id: &str, token: &Token) -> Result<(), Failure> {
        let conversation = self.conversation(id)?;
        if conversation.archived {
            return Err(fail("is_archived"));
        }
        let public_post = !conversation.private && token.scopes.contains("chat:write.public");
        if !conversation.members.contains(&token.user) && !public_post {
            return Err(fail("not_in_channel"));
        }
        Ok(())
    }

    /// Cuts one page out of `items` (already in the method's order).
    /// Cursors name the key of the next page's first item, so a page walk
    /// stays exact while items come and go.
    fn paginate<T>(
        &mut self,
        items: Vec<(String, T)>,
        args: &Args,
        prefix: &str,
        descending: bool,
        max: usize,
    ) -> Result<(Vec<T>, String), Failure> {
        let limit = match args.text("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(0) => DEFAULT_LIMIT,
                Ok(n) => n.min(max),
                Err(_) => return Err(fail("invalid_limit")),
            },
        };
        let start = match args.text("cursor") {
            None => 0,
            Some(cursor) => {
                let key = decode_cursor(&cursor, prefix).ok_or_else(|| fail("invalid_cursor"))?;
                items
                    .iter()
                    .position(|(k, _)| {
                        if descending {
                            k.as_str() <= key.as_str()
                        } else {
                            k.as_str() >= key.as_str()
                        }
                    })
                    .unwrap_or(items.len())
            }
        };
        let mut size = limit;
        if self.short_pages {
            self.short_turn = !self.short_turn;
            if self.short_turn && limit > 1 {
                size = limit / 2;
            }
        }
        let end = start.saturating_add(size).min(items.len());
        let next = items
            .get(end)
            .map(|(key, _)| encode_cursor(prefix, key))
            .unwrap_or_default();
        let page = items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|(_, v)| v)
            .collect();
        Ok((page, next))
    }
}

fn ceil_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

fn encode_cursor(prefix: &str, key: &str) -> String {
    BASE64.encode(format!("{prefix}:{key}"))
}

fn decode_cursor(cursor: &str, prefix: &str) -> Option<String> {
    let bytes = BASE64.decode(cursor.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(prefix)?
        .strip_prefix(':')
        .map(str::to_owned)
}

/// "1512085950.000216" as microseconds; "0" and whole seconds are fine.
fn ts_micros(ts: &str) -> Option<i64> {
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    let seconds: i64 = seconds.parse().ok()?;
    if fraction.len() > 6 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let micros: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    seconds.checked_mul(1_000_000)?.checked_add(micros)
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

// ---------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------

/// Why a call did not succeed.
#[derive(Debug)]
enum Failure {
    /// HTTP 200 `{"ok": false, "error": .., ..extra}`.
    Slack {
        error: String,
        extra: Map<String, Value>,
    },
    /// HTTP 429 with this Retry-After.
    RateLimited(u64),
}

fn fail(error: &str) -> Failure {
    Failure::Slack {
        error: error.to_owned(),
        extra: Map::new(),
    }
}

fn fail_with(error: &str, extra: Value) -> Failure {
    Failure::Slack {
        error: error.to_owned(),
        extra: object(extra),
    }
}

type Answer = Result<Map<String, Value>, Failure>;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn rate_limited(seconds: u64) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"ok": false, "error": "ratelimited"}),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn respond(answer: Answer) -> Response {
    match answer {
        Ok(mut body) => {
            body.insert("ok".to_owned(), Value::Bool(true));
            json_response(StatusCode::OK, &Value::Object(body))
        }
        Err(Failure::Slack { error, mut extra }) => {
            extra.insert("ok".to_owned(), Value::Bool(false));
            extra.insert("error".to_owned(), Value::String(error));
            json_response(StatusCode::OK, &Value::Object(extra))
        }
        Err(Failure::RateLimited(seconds)) => rate_limited(seconds),
    }
}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

/// A method's arguments, from the query string, a form body or (where the
/// method accepts it) a JSON body.
#[derive(Debug, Default)]
struct Args {
    fields: HashMap<String, Value>,
    token: Option<String>,
}

impl Args {
    fn parse(
        json_accepted: bool,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self, Failure> {
        let mut fields = HashMap::new();
        if let Some(query) = query {
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                fields.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
        if !body.is_empty() {
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                });
            match content_type.as_deref() {
                None => return Err(fail("missing_post_type")),
                Some("application/x-www-form-urlencoded" | "text/plain") => {
                    for (key, value) in url::form_urlencoded::parse(body) {
                        fields.insert(key.into_owned(), Value::String(value.into_owned()));
                    }
                }
                Some("application/json") => {
                    // Methods whose page says "does not currently accept
                    // application/json" ignore the body, so their required
                    // arguments come out missing.
                    if json_accepted {
                        let value: Value =
                            serde_json::from_slice(body).map_err(|_| fail("invalid_json"))?;
                        let Value::Object(map) = value else {
                            return Err(fail("json_not_object"));
                        };
                        // A JSON body cannot carry the token: Slack wants it
                        // in the Authorization header then.
                        fields.extend(map.into_iter().filter(|(key, _)| key != "token"));
                    }
                }
                // The fake does not read multipart bodies.
                Some("multipart/form-data") => return Err(fail("invalid_form_data")),
                Some(_) => return Err(fail("invalid_post_type")),
            }
        }
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let token = bearer.or_else(|| fields.get("token").and_then(as_text));
        Ok(Self { fields, token })
    }

    /// A non-empty scalar argument, as text.
    fn text(&self, name: &str) -> Option<String> {
        self.fields.get(name).and_then(as_text)
    }

    fn flag(&self, name: &str) -> bool {
        match self.fields.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => matches!(s.trim(), "true" | "1"),
            _ => false,
        }
    }

    /// A JSON argument: an object or array in a JSON body, or a string that
    /// holds one (form posts). `Err` when the string is not JSON.
    fn json(&self, name: &str) -> Result<Option<Value>, ()> {
        match self.fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// A comma-separated list (or a JSON array of strings).
    fn list(&self, name: &str) -> Vec<String> {
        match self.fields.get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(as_text).collect(),
            Some(value) => as_text(value)
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The Web API
// ---------------------------------------------------------------------------

/// How a method is limited.
#[derive(Debug, Clone, Copy)]
enum Limit {
    PerMinute(usize),
    /// chat.postMessage: one message a second per channel.
    PerChannel,
    Unlimited,
}

#[derive(Debug, Clone, Copy)]
struct MethodSpec {
    name: &'static str,
    /// The method page says it accepts application/json.
    json: bool,
    limit: Limit,
}

const METHODS: &[MethodSpec] = &[
    MethodSpec {
        name: "auth.test",
        json: true,
        limit: Limit::PerMinute(100),
    },
    MethodSpec {
        name: "users.list",
        json: false,
        limit: Limit::PerMinute(20),
    },
    MethodSpec {
        name: "users.lookupByEmail",
        json: false,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "conversations.list",
        json: false,
        limit: Limit::PerMinute(20),
    },
    MethodSpec {
        name: "conversations.create",
        json: true,
        limit: Limit::PerMinute(20),
    },
    MethodSpec {
        name: "conversations.setPurpose",
        json: true,
        limit: Limit::PerMinute(20),
    },
    MethodSpec {
        name: "conversations.join",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "conversations.members",
        json: false,
        limit: Limit::PerMinute(100),
    },
    MethodSpec {
        name: "conversations.invite",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "conversations.kick",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "conversations.history",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "conversations.replies",
        json: false,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "chat.postMessage",
        json: true,
        limit: Limit::PerChannel,
    },
    MethodSpec {
        name: "chat.update",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "chat.delete",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "chat.scheduleMessage",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "chat.deleteScheduledMessage",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "chat.scheduledMessages.list",
        json: true,
        limit: Limit::PerMinute(50),
    },
    MethodSpec {
        name: "oauth.v2.access",
        json: false,
        limit: Limit::Unlimited,
    },
];

async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec = METHODS.iter().find(|m| m.name == method).copied();
    let fault = {
        let mut world = shared.world();
        world.total_calls += 1;
        *world.calls.entry(method.clone()).or_default() += 1;
        match spec {
            Some(_) => world.faults.get_mut(&method).and_then(VecDeque::pop_front),
            None => None,
        }
    };
    let Some(spec) = spec else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"ok": false, "error": "unknown_method"}),
        );
    };
    let mut linger = None;
    match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (
                status,
                [(CONTENT_TYPE, "text/plain")],
                format!("fake slack: scripted {code}"),
            )
                .into_response();
        }
        Some(Fault::RateLimited(seconds)) => return rate_limited(seconds),
        Some(Fault::SlackError(error)) => {
            return json_response(StatusCode::OK, &json!({"ok": false, "error": error}));
        }
        Some(Fault::Malformed) => {
            return (StatusCode::OK, [(CONTENT_TYPE, "text/html")], "<html>oops").into_response();
        }
        Some(Fault::Hang(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Pass) => {}
        Some(Fault::AfterEffect(delay)) => linger = Some(delay),
        None => {}
    }
    let answer = shared.call(spec, query.as_deref(), &headers, &body);
    if let Some(delay) = linger {
        tokio::time::sleep(delay).await;
    }
    respond(answer)
}

/// Who is calling, and the workspace they call.
#[derive(Debug)]
struct Ctx<'a> {
    shared: &'a Shared,
    token: Token,
}

impl Ctx<'_> {
    fn actor(&self) -> &str {
        &self.token.user
    }

    /// Fails with `missing_scope` unless the token has one of `any_of`.
    fn need(&self, any_of: &[&str]) -> Result<(), Failure> {
        if any_of.iter().any(|s| self.token.scopes.contains(*s)) {
            return Ok(());
        }
        let provided: Vec<&str> = self.token.scopes.iter().map(String::as_str).collect();
        Err(fail_with(
            "missing_scope",
            json!({"needed": any_of.join(","), "provided": provided.join(",")}),
        ))
    }
}

impl Shared {
    fn call(
        &self,
        spec: MethodSpec,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Answer {
        let args = Args::parse(spec.json, query, headers, body)?;
        let mut world = self.world();
        if spec.name == "oauth.v2.access" {
            return world.oauth_access(self, &args, headers);
        }
        let token = world.authenticate(args.token.as_deref())?;
        if let Limit::PerMinute(per_minute) = spec.limit {
            world.take_slot(spec.name, per_minute)?;
        }
        let ctx = Ctx {
            shared: self,
            token,
        };
        match spec.name {
            "auth.test" => Ok(world.auth_test(&ctx)),
            "users.list" => world.users_list(&ctx, &args),
            "users.lookupByEmail" => world.lookup_by_email(&ctx, &args),
            "conversations.list" => world.conversations_list(&ctx, &args),
            "conversations.create" => world.conversations_create(&ctx, &args),
            "conversations.setPurpose" => world.conversations_set_purpose(&ctx, &args),
            "conversations.join" => world.conversations_join(&ctx, &args),
            "conversations.members" => world.conversations_members(&ctx, &args),
            "conversations.invite" => world.conversations_invite(&ctx, &args),
            "conversations.kick" => world.conversations_kick(&ctx, &args),
            "conversations.history" => world.conversations_history(&ctx, &args),
            "conversations.replies" => world.conversations_replies(&ctx, &args),
            "chat.postMessage" => world.post_message(&ctx, &args),
            "chat.update" => world.update_message(&ctx, &args),
            "chat.delete" => world.delete_message(&ctx, &args),
            "chat.scheduleMessage" => world.schedule_message(&ctx, &args),
            "chat.deleteScheduledMessage" => world.delete_scheduled(&ctx, &args),
            "chat.scheduledMessages.list" => world.list_scheduled(&ctx, &args),
            _ => Err(fail("unknown_method")),
        }
    }
}

/// What a post carries once checked.
#[derive(Debug)]
struct Content {
    text: Option<String>,
    blocks: Option<Value>,
}

impl World {
    fn user_json(&self, user: &User, team_id: &str, with_email: bool) -> Value {
        let mut profile = json!({
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": team_id,
        });
        if with_email && let Some(email) = &user.email {
            profile["email"] = json!(email);
        }
        if user.id == BOT_USER_ID {
            profile["bot_id"] = json!(BOT_ID);
            profile["api_app_id"] = json!(APP_ID);
            profile["always_active"] = json!(true);
        }
        json!({
            "id": user.id,
            "team_id": team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": "Europe/Brussels",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "is_admin": false,
            "is_owner": false,
            "is_primary_owner": false,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": user.is_ultra_restricted,
            "is_bot": user.is_bot,
            "is_app_user": false,
            "updated": 1_700_000_000,
            "profile": profile,
        })
    }

    fn channel_json(conversation: &Conversation, actor: &str) -> Value {
        json!({
            "id": conversation.id,
            "name": conversation.name,
            "name_normalized": conversation.name,
            "is_channel": true,
            "is_group": false,
            "is_im": false,
            "is_mpim": false,
            "is_private": conversation.private,
            "is_archived": conversation.archived,
            "is_general": false,
            "is_shared": false,
            "is_ext_shared": false,
            "is_org_shared": false,
            "is_pending_ext_shared": false,
            "pending_shared": [],
            "is_member": conversation.members.contains(actor),
            "created": conversation.created,
            "creator": conversation.creator,
            "unlinked": 0,
            "num_members": conversation.members.len(),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {
                "value": conversation.purpose.value,
                "creator": conversation.purpose.creator,
                "last_set": conversation.purpose.last_set,
            },
            "previous_names": [],
        })
    }

    fn message_json(message: &Message, team_id: &str, with_metadata: bool) -> Value {
        let mut json = json!({
            "type": "message",
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "team": team_id,
        });
        if message.user == BOT_USER_ID {
            json["bot_id"] = json!(BOT_ID);
            json["app_id"] = json!(APP_ID);
        }
        if !message.blocks.is_null() {
            json["blocks"] = message.blocks.clone();
        }
        if let Some(thread_ts) = &message.thread_ts {
            json["thread_ts"] = json!(thread_ts);
            json["parent_user_id"] = json!(message.user);
        }
        if let Some(edited) = &message.edited {
            json["edited"] = json!({"user": message.user, "ts": edited});
        }
        if with_metadata && let Some(metadata) = &message.metadata {
            json["metadata"] = metadata.clone();
        }
        json
    }

    fn auth_test(&self, ctx: &Ctx<'_>) -> Map<String, Value> {
        let user = self
            .users
            .get(ctx.actor())
            .map_or_else(|| "installer".to_owned(), |u| u.name.clone());
        let mut body = json!({
            "url": "https://fake.slack.com/",
            "team": ctx.shared.team_name,
            "user": user,
            "team_id": ctx.shared.team_id,
            "user_id": ctx.actor(),
            "is_enterprise_install": false,
        });
        if ctx.token.bot {
            body["bot_id"] = json!(BOT_ID);
        }
        object(body)
    }

    fn users_list(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["users:read"])?;
        // Emails show only to tokens with users:read.email.
        let with_email = ctx.token.scopes.contains("users:read.email");
        let team_id = &ctx.shared.team_id;
        // The page is chosen by id first, so a large workspace costs one
        // page of JSON per call, not the whole workspace's.
        let ids = self
            .users
            .keys()
            .map(|id| (id.clone(), id.clone()))
            .collect();
        let (page, next) = self.paginate(ids, args, "user", false, 1000)?;
        let members: Vec<Value> = page
            .iter()
            .filter_map(|id| self.users.get(id))
            .map(|u| self.user_json(u, team_id, with_email))
            .collect();
        Ok(object(json!({
            "members": members,
            "cache_ts": chrono::Utc::now().timestamp(),
            "response_metadata": {"next_cursor": next},
        })))
    }

    fn lookup_by_email(&self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["users:read.email"])?;
        let email = args
            .text("email")
            .ok_or_else(|| fail("invalid_arguments"))?;
        let user = self
            .users
            .values()
            .find(|u| {
                !u.deleted
                    && u.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email.trim()))
            })
            .ok_or_else(|| fail("users_not_found"))?;
        Ok(object(json!({
            "user": self.user_json(user, &ctx.shared.team_id, true),
        })))
    }

    fn conversations_list(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let types = match args.list("types") {
            list if list.is_empty() => vec!["public_channel".to_owned()],
            list => list,
        };
        for kind in &types {
            let scope = match kind.as_str() {
                "public_channel" => "channels:read",
                "private_channel" => "groups:read",
                "im" => "im:read",
                "mpim" => "mpim:read",
                _ => return Err(fail("invalid_types")),
            };
            ctx.need(&[scope])?;
        }
        let public = types.iter().any(|t| t == "public_channel");
        let private = types.iter().any(|t| t == "private_channel");
        let exclude_archived = args.flag("exclude_archived");
        let actor = ctx.actor();
        let items = self
            .conversations
            .values()
            .filter(|c| {
                if c.private {
                    private && c.members.contains(actor)
                } else {
                    public
                }
            })
            .filter(|c| !(exclude_archived && c.archived))
            .map(|c| (c.id.clone(), Self::channel_json(c, actor)))
            .collect();
        let (channels, next) = self.paginate(items, args, "team", false, 1000)?;
        Ok(object(json!({
            "channels": channels,
            "response_metadata": {"next_cursor": next},
        })))
    }

    fn conversations_create(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let private = args.flag("is_private");
        ctx.need(&[if private {
            "groups:write"
        } else {
            "channels:manage"
        }])?;
        let name = args.text("name").unwrap_or_default();
        if name.trim().is_empty() {
            return Err(fail("invalid_name_required"));
        }
        if chars(&name) > 80 {
            return Err(fail("invalid_name_maxlength"));
        }
        if name.chars().all(|c| c == '-' || c == '_') {
            return Err(fail("invalid_name_punctuation"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(fail("invalid_name_specials"));
        }
        if self.conversations.values().any(|c| c.name == name) {
            return Err(fail("name_taken"));
        }
        let id = self.create_conversation(&name, private, ctx.actor());
        let conversation = self.conversation(&id)?;
        Ok(object(json!({
            "channel": Self::channel_json(conversation, ctx.actor()),
        })))
    }

    /// The method page: "The calling user must be a member of the
    /// conversation"; bot scopes `channels:manage` (public) or
    /// `groups:write` (private); `too_long` past 250 characters; it answers
    /// the new `purpose` (and, per the Web API spec, the `channel`).
    fn conversations_set_purpose(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let actor = ctx.actor().to_owned();
        let conversation = self.conversation(&id)?;
        ctx.need(&[if conversation.private {
            "groups:write"
        } else {
            "channels:manage"
        }])?;
        if conversation.archived {
            return Err(fail("is_archived"));
        }
        if !conversation.members.contains(&actor) {
            return Err(fail("not_in_channel"));
        }
        // Required, but may be empty: an empty purpose clears it.
        let purpose = match args.fields.get("purpose") {
            None | Some(Value::Null) => return Err(fail("invalid_arguments")),
            Some(value) => as_text(value).unwrap_or_default(),
        };
        if chars(&purpose) > MAX_PURPOSE {
            return Err(fail("too_long"));
        }
        let last_set = chrono::Utc::now().timestamp();
        let conversation = self.conversation_mut(&id)?;
        conversation.purpose = Purpose {
            value: purpose.clone(),
            creator: actor.clone(),
            last_set,
        };
        Ok(object(json!({
            "purpose": purpose,
            "channel": Self::channel_json(conversation, &actor),
        })))
    }

    fn conversations_join(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["channels:join"])?;
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let actor = ctx.actor().to_owned();
        let conversation = self.conversation_mut(&id)?;
        if conversation.private {
            return Err(fail("method_not_supported_for_channel_type"));
        }
        if conversation.archived {
            return Err(fail("is_archived"));
        }
        let already = !conversation.members.insert(actor.clone());
        let mut body = json!({"channel": Self::channel_json(conversation, &actor)});
        if already {
            body["warning"] = json!("already_in_channel");
            body["response_metadata"] = json!({"warnings": ["already_in_channel"]});
        }
        Ok(object(body))
    }

    fn conversations_members(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let conversation = self.conversation(&id)?;
        ctx.need(&[if conversation.private {
            "groups:read"
        } else {
            "channels:read"
        }])?;
        let items = conversation
            .members
            .iter()
            .map(|m| (m.clone(), json!(m)))
            .collect();
        let (members, next) = self.paginate(items, args, "user_id", false, 1000)?;
        Ok(object(json!({
            "members": members,
            "response_metadata": {"next_cursor": next},
        })))
    }

    fn conversations_invite(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let actor = ctx.actor().to_owned();
        let conversation = self.conversation(&id)?;
        ctx.need(if conversation.private {
            &["groups:write", "groups:write.invites"]
        } else {
            &["channels:manage", "channels:write.invites"]
        })?;
        if conversation.archived {
            return Err(fail("is_archived"));
        }
        if !conversation.members.contains(&actor) {
            return Err(fail("not_in_channel"));
        }
        let mut invitees = args.list("users");
        let mut seen = BTreeSet::new();
        invitees.retain(|u| seen.insert(u.clone()));
        if invitees.is_empty() {
            return Err(fail("no_user"));
        }
        if invitees.len() > MAX_INVITEES {
            return Err(fail("too_many_users"));
        }
        let force = args.flag("force");
        let mut valid = Vec::new();
        let mut errors = Vec::new();
        for invitee in invitees {
            let problem = if invitee == actor {
                Some("cant_invite_self")
            } else {
                match self.users.get(&invitee) {
                    None => Some("user_not_found"),
                    Some(user) if user.deleted || user.id == SLACKBOT => Some("cant_invite"),
                    Some(_) if conversation.members.contains(&invitee) => {
                        Some("already_in_channel")
                    }
                    Some(user)
                        if user.is_ultra_restricted
                            && self
                                .conversations
                                .values()
                                .any(|c| c.members.contains(&invitee)) =>
                    {
                        Some("ura_max_channels")
                    }
                    Some(_) => None,
                }
            };
            match problem {
                Some(error) => errors.push(json!({"user": invitee, "ok": false, "error": error})),
                None => valid.push(invitee),
            }
        }
        let first_error = errors
            .first()
            .and_then(|e| e.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match first_error {
            Some(error) if !force || valid.is_empty() => {
                Err(fail_with(&error, json!({"errors": errors})))
            }
            _ => {
                let conversation = self.conversation_mut(&id)?;
                conversation.members.extend(valid);
                let mut body = json!({"channel": Self::channel_json(conversation, &actor)});
                if !errors.is_empty() {
                    body["errors"] = json!(errors);
                }
                Ok(object(body))
            }
        }
    }

    fn conversations_kick(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let actor = ctx.actor().to_owned();
        let conversation = self.conversation(&id)?;
        ctx.need(&[if conversation.private {
            "groups:write"
        } else {
            "channels:manage"
        }])?;
        if conversation.archived {
            return Err(fail("is_archived"));
        }
        let user = args.text("user").ok_or_else(|| fail("user_not_found"))?;
        if user == actor {
            return Err(fail("cant_kick_self"));
        }
        if !self.users.contains_key(&user) {
            return Err(fail("user_not_found"));
        }
        let conversation = self.conversation_mut(&id)?;
        if !conversation.members.remove(&user) {
            return Err(fail("not_in_channel"));
        }
        Ok(object(json!({"errors": {}})))
    }

    fn conversations_history(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let conversation = self.conversation(&id)?;
        ctx.need(&[if conversation.private {
            "groups:history"
        } else {
            "channels:history"
        }])?;
        if !conversation.members.contains(ctx.actor()) {
            return Err(fail("not_in_channel"));
        }
        let oldest = match args.text("oldest") {
            None => 0,
            Some(raw) => ts_micros(&raw).ok_or_else(|| fail("invalid_ts_oldest"))?,
        };
        let latest = match args.text("latest") {
            None => i64::MAX,
            Some(raw) => ts_micros(&raw).ok_or_else(|| fail("invalid_ts_latest"))?,
        };
        let inclusive = args.flag("inclusive");
        let with_metadata = args.flag("include_all_metadata");
        let team_id = &ctx.shared.team_id;
        let items = conversation
            .messages
            .iter()
            .rev()
            .filter(|m| m.thread_ts.is_none())
            .filter(|m| {
                let at = ts_micros(&m.ts).unwrap_or(0);
                if inclusive {
                    at >= oldest && at <= latest
                } else {
                    at > oldest && at < latest
                }
            })
            .map(|m| {
                let mut json = Self::message_json(m, team_id, with_metadata);
                let replies: Vec<&Message> = conversation
                    .messages
                    .iter()
                    .filter(|r| r.thread_ts.as_deref() == Some(m.ts.as_str()))
                    .collect();
                if let Some(last) = replies.last() {
                    let reply_users: BTreeSet<&str> =
                        replies.iter().map(|r| r.user.as_str()).collect();
                    json["thread_ts"] = json!(m.ts);
                    json["reply_count"] = json!(replies.len());
                    json["reply_users_count"] = json!(reply_users.len());
                    json["reply_users"] = json!(reply_users);
                    json["latest_reply"] = json!(last.ts);
                }
                (m.ts.clone(), json)
            })
            .collect();
        let (messages, next) = self.paginate(items, args, "next_ts", true, 999)?;
        Ok(object(json!({
            "messages": messages,
            "has_more": !next.is_empty(),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next},
        })))
    }

    /// A thread: its top message, then the replies, oldest first.
    fn conversations_replies(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let conversation = self.conversation(&id)?;
        ctx.need(&[if conversation.private {
            "groups:history"
        } else {
            "channels:history"
        }])?;
        if !conversation.members.contains(ctx.actor()) {
            return Err(fail("not_in_channel"));
        }
        let ts = args.text("ts").ok_or_else(|| fail("invalid_arguments"))?;
        let with_metadata = args.flag("include_all_metadata");
        let team_id = &ctx.shared.team_id;
        if !conversation
            .messages
            .iter()
            .any(|m| m.ts == ts && m.thread_ts.is_none())
        {
            return Err(fail("thread_not_found"));
        }
        let items = conversation
            .messages
            .iter()
            .filter(|m| m.ts == ts || m.thread_ts.as_deref() == Some(ts.as_str()))
            .map(|m| {
                let mut json = Self::message_json(m, team_id, with_metadata);
                json["thread_ts"] = json!(ts);
                (m.ts.clone(), json)
            })
            .collect();
        let (messages, next) = self.paginate(items, args, "next_ts", false, 1000)?;
        Ok(object(json!({
            "messages": messages,
            "has_more": !next.is_empty(),
            "response_metadata": {"next_cursor": next},
        })))
    }

    /// Checks `text`, `blocks` and `attachments` as chat.postMessage does.
    fn content(&self, args: &Args, max_text: usize) -> Result<Content, Failure> {
        let text = args.text("text");
        let blocks = args
            .json("blocks")
            .map_err(|()| fail("invalid_blocks_format"))?;
        if let Some(blocks) = &blocks {
            check_blocks(blocks).map_err(fail)?;
        }
        let has_blocks = blocks
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|b| !b.is_empty());
        let has_attachments = args.json("attachments").ok().flatten().is_some();
        if text.is_none() && !has_blocks && !has_attachments {
            return Err(fail("no_text"));
        }
        if text.as_deref().is_some_and(|t| chars(t) > max_text) {
            return Err(fail("msg_too_long"));
        }
        if let Some(blocks) = &blocks
            && text_length(blocks) > self.blocks_limit
        {
            return Err(fail("msg_blocks_too_long"));
        }
        Ok(Content { text, blocks })
    }

    fn check_thread(conversation: &Conversation, thread_ts: Option<&str>) -> Result<(), Failure> {
        match thread_ts {
            Some(ts)
                if !conversation
                    .messages
                    .iter()
                    .any(|m| m.ts == ts && m.thread_ts.is_none()) =>
            {
                Err(fail("thread_not_found"))
            }
            _ => Ok(()),
        }
    }

    fn post_message(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["chat:write"])?;
        let id = self.resolve(args.text("channel"), ctx.actor())?;
        self.can_post(&id, &ctx.token)?;
        self.post_slot(&id)?;
        let content = self.content(args, MAX_POST_TEXT)?;
        let metadata = metadata(args, false)?;
        let thread_ts = args.text("thread_ts");
        Self::check_thread(self.conversation(&id)?, thread_ts.as_deref())?;
        let ts = self.next_ts();
        let message = Message {
            ts: ts.clone(),
            text: content.text.unwrap_or_default(),
            blocks: content.blocks.unwrap_or(Value::Null),
            thread_ts,
            metadata,
            user: ctx.actor().to_owned(),
            edited: None,
        };
        let json = Self::message_json(&message, &ctx.shared.team_id, true);
        self.conversation_mut(&id)?.messages.push(message);
        self.last_post.insert(id.clone(), Instant::now());
        Ok(object(json!({"channel": id, "ts": ts, "message": json})))
    }

    fn update_message(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["chat:write"])?;
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let ts = args.text("ts").ok_or_else(|| fail("message_not_found"))?;
        let content = self.content(args, MAX_UPDATE_TEXT)?;
        let metadata = metadata(args, true)?;
        let edited = self.next_ts();
        let actor = ctx.actor().to_owned();
        let team_id = &ctx.shared.team_id;
        let conversation = self.conversation_mut(&id)?;
        let message = conversation
            .messages
            .iter_mut()
            .find(|m| m.ts == ts)
            .ok_or_else(|| fail("message_not_found"))?;
        if message.user != actor {
            return Err(fail("cant_update_message"));
        }
        // Fields left out keep their value; an empty `blocks` array or
        // `metadata` object removes it.
        if let Some(text) = content.text {
            message.text = text;
        }
        if let Some(blocks) = content.blocks {
            message.blocks = match blocks {
                Value::Array(list) if list.is_empty() => Value::Null,
                other => other,
            };
        }
        if let Some(metadata) = metadata {
            message.metadata = match metadata {
                Value::Object(map) if map.is_empty() => None,
                other => Some(other),
            };
        }
        message.edited = Some(edited);
        let json = Self::message_json(message, team_id, true);
        Ok(object(json!({
            "channel": id,
            "ts": ts,
            "text": message.text,
            "message": json,
        })))
    }

    fn delete_message(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["chat:write"])?;
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let ts = args.text("ts").ok_or_else(|| fail("message_not_found"))?;
        let actor = ctx.actor().to_owned();
        let conversation = self.conversation_mut(&id)?;
        let index = conversation
            .messages
            .iter()
            .position(|m| m.ts == ts)
            .ok_or_else(|| fail("message_not_found"))?;
        if conversation
            .messages
            .get(index)
            .is_some_and(|m| m.user != actor)
        {
            return Err(fail("cant_delete_message"));
        }
        // Its thread replies stay.
        conversation.messages.remove(index);
        Ok(object(json!({"channel": id, "ts": ts})))
    }

    fn schedule_message(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["chat:write"])?;
        let id = self.resolve(args.text("channel"), ctx.actor())?;
        self.can_post(&id, &ctx.token)?;
        let post_at = args
            .text("post_at")
            .and_then(|raw| {
                raw.parse::<i64>()
                    .ok()
                    .or_else(|| raw.parse::<f64>().ok().map(|f| f.floor() as i64))
            })
            .ok_or_else(|| fail("invalid_time"))?;
        let now = chrono::Utc::now().timestamp();
        if post_at < now {
            return Err(fail("time_in_past"));
        }
        if post_at > now + MAX_SCHEDULE_AHEAD {
            return Err(fail("time_too_far"));
        }
        let content = self.content(args, MAX_POST_TEXT)?;
        let metadata = metadata(args, false)?;
        let thread_ts = args.text("thread_ts");
        let conversation = self.conversation(&id)?;
        Self::check_thread(conversation, thread_ts.as_deref())?;
        let crowded = conversation
            .scheduled
            .iter()
            .filter(|s| (s.post_at - post_at).abs() < 300)
            .count();
        if crowded >= MAX_SCHEDULED_PER_WINDOW {
            return Err(fail("restricted_too_many"));
        }
        self.scheduled_seq += 1;
        let scheduled = Scheduled {
            id: format!("Q{:09}", self.scheduled_seq),
            post_at,
            date_created: now,
            text: content.text.unwrap_or_default(),
            blocks: content.blocks.unwrap_or(Value::Null),
            thread_ts,
            metadata,
            user: ctx.actor().to_owned(),
        };
        let mut message = json!({
            "type": "delayed_message",
            "text": scheduled.text,
            "user": scheduled.user,
            "bot_id": BOT_ID,
            "team": ctx.shared.team_id,
        });
        if !scheduled.blocks.is_null() {
            message["blocks"] = scheduled.blocks.clone();
        }
        let body = json!({
            "channel": id,
            "scheduled_message_id": scheduled.id,
            "post_at": post_at,
            "message": message,
        });
        self.conversation_mut(&id)?.scheduled.push(scheduled);
        Ok(object(body))
    }

    fn delete_scheduled(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        ctx.need(&["chat:write"])?;
        let id = self.visible(args.text("channel"), ctx.actor())?;
        let wanted = args
            .text("scheduled_message_id")
            .ok_or_else(|| fail("invalid_scheduled_message_id"))?;
        let conversation = self.conversation_mut(&id)?;
        let before = conversation.scheduled.len();
        conversation.scheduled.retain(|s| s.id != wanted);
        if conversation.scheduled.len() == before {
            return Err(fail("invalid_scheduled_message_id"));
        }
        Ok(Map::new())
    }

    fn list_scheduled(&mut self, ctx: &Ctx<'_>, args: &Args) -> Answer {
        let channel = match args.text("channel") {
            None => None,
            Some(raw) => Some(
                self.visible(Some(raw), ctx.actor())
                    .map_err(|_| fail("invalid_channel"))?,
            ),
        };
        let bound = |name: &str, missing: i64| -> Result<i64, Failure> {
            match args.text(name) {
                None => Ok(missing),
                Some(raw) => ts_micros(&raw)
                    .map(|m| m / 1_000_000)
                    .ok_or_else(|| fail("invalid_arguments")),
            }
        };
        let oldest = bound("oldest", i64::MIN)?;
        let latest = bound("latest", i64::MAX)?;
        let actor = ctx.actor();
        let mut items: Vec<(String, Value)> = self
            .conversations
            .values()
            .filter(|c| channel.as_deref().is_none_or(|wanted| c.id == wanted))
            .filter(|c| !c.private || c.members.contains(actor))
            .flat_map(|c| c.scheduled.iter().map(move |s| (c, s)))
            .filter(|(_, s)| s.post_at >= oldest && s.post_at <= latest)
            .map(|(c, s)| {
                (
                    s.id.clone(),
                    json!({
                        "id": s.id,
                        "channel_id": c.id,
                        "post_at": s.post_at,
                        "date_created": s.date_created,
                        "text": s.text,
                    }),
                )
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (scheduled, next) = self.paginate(items, args, "scheduled", false, 1000)?;
        Ok(object(json!({
            "scheduled_messages": scheduled,
            "response_metadata": {"next_cursor": next},
        })))
    }

    fn oauth_access(&mut self, shared: &Shared, args: &Args, headers: &HeaderMap) -> Answer {
        let (client_id, client_secret) = basic_credentials(headers)
            .unwrap_or_else(|| (args.text("client_id"), args.text("client_secret")));
        if client_id.as_deref() != Some(shared.app.client_id.as_str()) {
            return Err(fail("invalid_client_id"));
        }
        if client_secret.as_deref() != Some(shared.app.client_secret.as_str()) {
            return Err(fail("bad_client_secret"));
        }
        match args.text("grant_type").as_deref() {
            None | Some("authorization_code") => self.exchange_code(shared, args),
            Some("refresh_token") => self.refresh(shared, args),
            Some(_) => Err(fail("invalid_grant_type")),
        }
    }

    fn exchange_code(&mut self, shared: &Shared, args: &Args) -> Answer {
        let code = args.text("code").ok_or_else(|| fail("invalid_code"))?;
        let grant = self
            .codes
            .get(&code)
            .cloned()
            .ok_or_else(|| fail("invalid_code"))?;
        if grant.issued.elapsed() > CODE_LIFETIME {
            self.codes.remove(&code);
            return Err(fail("invalid_code"));
        }
        if args.text("redirect_uri").as_deref() != Some(grant.redirect_uri.as_str()) {
            return Err(fail("bad_redirect_uri"));
        }
        self.codes.remove(&code);
        let mut body = self.install(shared, &grant.scopes);
        let mut authed_user = json!({"id": INSTALLER});
        if !grant.user_scopes.is_empty() {
            let scopes = grant.user_scopes.iter().cloned().collect();
            let token = self.issue_token(INSTALLER, false, scopes, None);
            authed_user["access_token"] = json!(token);
            authed_user["scope"] = json!(grant.user_scopes.join(","));
            authed_user["token_type"] = json!("user");
        }
        body.insert("authed_user".to_owned(), authed_user);
        Ok(body)
    }

    fn refresh(&mut self, shared: &Shared, args: &Args) -> Answer {
        let presented = args
            .text("refresh_token")
            .ok_or_else(|| fail("invalid_refresh_token"))?;
        let scopes = match self.refresh_tokens.get_mut(&presented) {
            Some(refresh) if refresh.valid => {
                refresh.valid = false;
                refresh.scopes.clone()
            }
            _ => return Err(fail("invalid_refresh_token")),
        };
        let mut body = self.install(shared, &scopes);
        // A refresh names no installing user.
        body.remove("authed_user");
        Ok(body)
    }

    /// Issues a bot token (and, with rotation on, a refresh token).
    fn install(&mut self, shared: &Shared, scopes: &[String]) -> Map<String, Value> {
        let rotating = self.token_rotation;
        let expires_at = rotating.then(|| chrono::Utc::now().timestamp() + ROTATING_LIFETIME);
        let set = scopes.iter().cloned().collect();
        let token = self.issue_token(BOT_USER_ID, true, set, expires_at);
        let mut body = json!({
            "access_token": token,
            "token_type": "bot",
            "scope": scopes.join(","),
            "bot_user_id": BOT_USER_ID,
            "app_id": APP_ID,
            "team": {"id": shared.team_id, "name": shared.team_name},
            "enterprise": null,
            "is_enterprise_install": false,
        });
        if rotating {
            let refresh = format!("xoxe-1-{}", uuid::Uuid::new_v4().simple());
            self.refresh_tokens.insert(
                refresh.clone(),
                Refresh {
                    scopes: scopes.to_vec(),
                    valid: true,
                },
            );
            body["refresh_token"] = json!(refresh);
            body["expires_in"] = json!(ROTATING_LIFETIME);
        }
        object(body)
    }
}

/// `metadata`: `{"event_type": str, "event_payload": object}`, as an object
/// or a JSON string. `allow_empty`: chat.update's `{}` removes it.
fn metadata(args: &Args, allow_empty: bool) -> Result<Option<Value>, Failure> {
    let Some(value) = args
        .json("metadata")
        .map_err(|()| fail("invalid_metadata_format"))?
    else {
        return Ok(None);
    };
    let Value::Object(map) = &value else {
        return Err(fail("invalid_metadata_format"));
    };
    if allow_empty && map.is_empty() {
        return Ok(Some(value));
    }
    let event_type_ok = map
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let payload_ok = map.get("event_payload").is_some_and(Value::is_object);
    if !event_type_ok || !payload_ok {
        return Err(fail("invalid_metadata_schema"));
    }
    Ok(Some(value))
}

/// Client credentials from `Authorization: Basic`, as oauth.v2.access
/// prefers them.
fn basic_credentials(headers: &HeaderMap) -> Option<(Option<String>, Option<String>)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((Some(id.to_owned()), Some(secret.to_owned())))
}

// ---------------------------------------------------------------------------
// Block Kit
// ---------------------------------------------------------------------------

/// Block Kit's structural limits; the error names chat.postMessage answers.
fn check_blocks(blocks: &Value) -> Result<(), &'static str> {
    let Value::Array(list) = blocks else {
        return Err("invalid_blocks_format");
    };
    if list.len() > MAX_BLOCKS {
        return Err("invalid_blocks");
    }
    for block in list {
        let Some(kind) = block.get("type").and_then(Value::as_str) else {
            return Err("invalid_blocks_format");
        };
        if block
            .get("block_id")
            .and_then(Value::as_str)
            .is_some_and(|id| chars(id) > 255)
        {
            return Err("invalid_blocks");
        }
        let elements = |max: usize| {
            block
                .get("elements")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty() && e.len() <= max)
        };
        let valid = match kind {
            "section" => section_ok(block),
            "header" => block
                .get("text")
                .is_some_and(|t| t.get("type") == Some(&json!("plain_text")) && text_ok(t, 150)),
            "divider" | "file" | "video" | "table" => true,
            "context" => elements(10),
            "actions" => elements(25),
            "image" => {
                block
                    .get("alt_text")
                    .and_then(Value::as_str)
                    .is_some_and(|a| chars(a) <= 2000)
                    && (block.get("image_url").is_some() || block.get("slack_file").is_some())
            }
            "rich_text" => block.get("elements").is_some_and(Value::is_array),
            "markdown" => block
                .get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| chars(t) <= 12_000),
            "input" => block.get("label").is_some() && block.get("element").is_some(),
            _ => false,
        };
        if !valid {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

/// A text object: plain_text or mrkdwn, 1 to `max` characters.
fn text_ok(text: &Value, max: usize) -> bool {
    let kind_ok = matches!(
        text.get("type").and_then(Value::as_str),
        Some("plain_text" | "mrkdwn")
    );
    let length_ok = text
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| (1..=max).contains(&chars(t)));
    kind_ok && length_ok
}

/// A section has text (at most 3,000 characters) or fields (at most 10, each
/// at most 2,000), or both.
fn section_ok(block: &Value) -> bool {
    let text = block.get("text");
    let fields = block.get("fields");
    if text.is_none() && fields.is_none() {
        return false;
    }
    text.is_none_or(|t| text_ok(t, 3000))
        && fields.is_none_or(|f| {
            f.as_array().is_some_and(|f| {
                !f.is_empty() && f.len() <= 10 && f.iter().all(|x| text_ok(x, 2000))
            })
        })
}

/// The characters in every `text` string anywhere in the blocks.
fn text_length(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(text_length).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| match value {
                Value::String(s) if key == "text" => chars(s),
                other => text_length(other),
            })
            .sum(),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------
// OAuth v2 consent
// ---------------------------------------------------------------------------

/// Escapes text for HTML. hub-testkit carries no template engine for two
/// small pages; every value that reaches them goes through here.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn error_page(error: &str, detail: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Fake Slack: {error}</title></head>\n<body><h1>Something went wrong</h1>\n\
         <p id=\"error\">{error}</p>\n<p>{detail}</p></body></html>\n",
        error = escape(error),
        detail = escape(detail),
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

fn split_scopes(raw: Option<&String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    raw.map(|s| {
        s.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter(|s| seen.insert((*s).to_owned()))
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

async fn authorize_page(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if params.get("client_id") != Some(&shared.app.client_id) {
        return error_page(
            "invalid_client_id",
            "No app with this client_id is installed here.",
        );
    }
    let Some(redirect_uri) = params
        .get("redirect_uri")
        .filter(|uri| url::Url::parse(uri).is_ok())
    else {
        return error_page(
            "bad_redirect_uri",
            "The app has no redirect URL configured in this fake: pass an absolute redirect_uri.",
        );
    };
    let scopes = split_scopes(params.get("scope"));
    let user_scopes = split_scopes(params.get("user_scope"));
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !KNOWN_BOT_SCOPES.contains(s))
        .collect();
    if !unknown.is_empty() {
        return error_page(
            "invalid_scope",
            &format!("Invalid permissions requested: {}", unknown.join(", ")),
        );
    }
    if scopes.is_empty() && user_scopes.is_empty() {
        return error_page("invalid_scope", "No permissions were requested.");
    }
    let request = uuid::Uuid::new_v4().simple().to_string();
    let listed: String = scopes
        .iter()
        .chain(user_scopes.iter())
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    shared.world().consents.insert(
        request.clone(),
        Consent {
            redirect_uri: redirect_uri.clone(),
            state: params.get("state").cloned(),
            scopes,
            user_scopes,
        },
    );
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{team} wants to install {app}</title></head>\n<body>\n\
         <h1>{app} is requesting permission to access the {team} Slack workspace</h1>\n\
         <h2>What will {app} be able to do?</h2>\n<ul id=\"scopes\">{listed}</ul>\n\
         <form method=\"post\" action=\"/oauth/v2/authorize\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <button type=\"submit\" name=\"decision\" value=\"cancel\" id=\"cancel\">Cancel</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\n\
         </form>\n</body></html>\n",
        team = escape(&shared.team_name),
        app = escape(APP_NAME),
        request = escape(&request),
    );
    Html(page).into_response()
}

async fn authorize_decision(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let consent = form
        .get("request")
        .and_then(|request| shared.world().consents.remove(request));
    let Some(consent) = consent else {
        return error_page(
            "invalid_request",
            "This consent page expired or was already answered.",
        );
    };
    let Ok(mut target) = url::Url::parse(&consent.redirect_uri) else {
        return error_page("bad_redirect_uri", "The redirect_uri is not a URL.");
    };
    if form.get("decision").map(String::as_str) == Some("allow") {
        let code = format!("fake-code-{}", uuid::Uuid::new_v4().simple());
        shared.world().codes.insert(
            code.clone(),
            Grant {
                redirect_uri: consent.redirect_uri.clone(),
                scopes: consent.scopes,
                user_scopes: consent.user_scopes,
                issued: Instant::now(),
            },
        );
        target.query_pairs_mut().append_pair("code", &code);
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied");
    }
    if let Some(state) = &consent.state {
        target.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [(LOCATION, target.to_string())]).into_response()
}
