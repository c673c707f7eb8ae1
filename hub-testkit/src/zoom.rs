//! A fake Zoom, written from Zoom's published contract (the API v2 reference
//! on developers.zoom.us, the Swagger file in `shared/api-specs/zoom/` for the
//! meeting and registrant bodies, the Server-to-Server OAuth and webhook
//! guides), never from the adapter: it shares no code or constant with
//! `adapters/zoom`, so a test can catch the adapter getting the contract
//! wrong.
//!
//! It serves Server-to-Server OAuth at `base_url + "/oauth/token"`
//! (`grant_type=account_credentials`, HTTP Basic client credentials, no
//! refresh token, tokens good for 3599 seconds) and the REST API at
//! `base_url + "/v2"`: users, meetings (scheduled, type 2, and recurring with
//! a fixed time, type 8, whose occurrences are computed in the meeting's time
//! zone), meeting registrants and Team Chat messages. Lists page with
//! `next_page_token` (never `page_number`). Errors are Zoom's JSON,
//! `{"code": <int>, "message": "..."}`; validation failures are HTTP 400
//! with code 300, a message naming the field and Zoom's `errors` array.
//! Faults (HTTP statuses, 429s, Zoom errors, hangs, timeouts after the
//! effect, malformed bodies) are scripted per route label, the label being
//! the method and Zoom's path template without `/v2`, e.g.
//! `"POST /users/{userId}/meetings"`. It also sends signed webhook requests
//! (`x-zm-signature`, `x-zm-request-timestamp`) and the
//! `endpoint.url_validation` challenge to a URL under test.
//!
//! # Rate limits
//!
//! Zoom applies its limits per account ("shared by users for all apps
//! installed on the account"), so this fake, which has one account, keeps one
//! rolling one-second window per rate-limit label, shared by every token. The
//! figures are those of a Business+ account: Light 80 requests a second,
//! Medium 60, Heavy 40 (no route served here is Heavy). On top of that Zoom
//! allows 100 meeting create/update requests per user (the meeting's host) per
//! UTC day.
//!
//! Over a per-second limit: HTTP 429, body `{"code": 429, "message": "You have
//! reached the maximum per-second rate limit for this API. Try again
//! later."}`. Zoom does not promise a `Retry-After` header on these, so the
//! fake alternates: the first per-second 429 carries `Retry-After: 1`, the
//! second has none, the third has it again, and so on. Over the daily limit:
//! HTTP 429, code 429, always with `Retry-After` = seconds until the next UTC
//! midnight.
//!
//! | route label | Zoom's label | limit here |
//! |---|---|---|
//! | `POST /oauth/token` | (not an API call) | not limited |
//! | `GET /users` | Medium | 60 / s |
//! | `POST /users/{userId}/meetings` | Medium | 60 / s, and 100 / host / day |
//! | `GET /users/{userId}/meetings` | Medium | 60 / s |
//! | `GET /meetings/{meetingId}` | Light | 80 / s |
//! | `PATCH /meetings/{meetingId}` | Light (unsure) | 80 / s, and 100 / host / day |
//! | `DELETE /meetings/{meetingId}` | Light (unsure) | 80 / s |
//! | `POST /meetings/{meetingId}/registrants` | Light | 80 / s |
//! | `GET /meetings/{meetingId}/registrants` | Medium (unsure) | 60 / s |
//! | `PUT /meetings/{meetingId}/registrants/status` | Medium (unsure) | 60 / s |
//! | `POST /chat/users/{userId}/messages` | Medium (unsure) | 60 / s |
//! | `GET /chat/users/{userId}/channels` | Medium (unsure) | 60 / s |
//!
//! "Unsure" marks labels taken from memory of the endpoint pages rather than
//! read from a stored copy of them; Create Meeting (Medium), Get a Meeting
//! (Light), Add Meeting Registrant (Light) and List Meetings (Medium) were
//! read.
//!
//! # Choices where Zoom's pages are silent
//!
//! - Only meeting types 2 and 8 are served; 1 (instant) and 3 (recurring, no
//!   fixed time) answer 400 code 300, because cophub schedules neither.
//! - Recurrence limits follow Zoom's "Recurrence Object Definitions" page:
//!   `repeat_interval` at most 90 (daily), 12 (weekly), 3 (monthly);
//!   `end_times` 1 to 50 (default 1; 0 means "no end" and is capped at 50
//!   occurrences, as is `end_date_time`). A `monthly_day` a month does not have (the 31st in
//!   April) skips that month. A local time that falls in a DST gap moves one
//!   hour later; an ambiguous one takes the earlier instant.
//! - The user's time zone (used when `timezone` is absent and `start_time`
//!   has no `Z`) is `America/Los_Angeles`, so a client that forgets the time
//!   zone is caught.
//! - Add Meeting Registrant answers, as today's API does, `id` = the meeting
//!   id (a number) and `registrant_id` = the registrant's id. Adding an email
//!   already registered answers the existing registrant.
//! - `cancel` in the registrant status call moves the registrant to `denied`;
//!   unknown registrants in that call are ignored.
//! - A Team Chat message to an unknown channel answers 404 code 5301.
//! - List Meetings cuts each meeting's agenda to 250 characters, as the
//!   reference says of that list ("the length of agenda gets truncated to
//!   250 characters when you list all meetings for a user"); Get a Meeting
//!   answers it whole.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{
        HeaderMap, HeaderValue, Method, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER},
    },
    response::{IntoResponse, Response},
    routing::{any, post},
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::{sync::oneshot, task::JoinHandle};

/// Lifetime of a Server-to-Server OAuth access token, in seconds.
const TOKEN_LIFETIME: u64 = 3599;
/// The scopes an access token carries (a Server-to-Server app's admin scopes).
const SCOPES: &str = "meeting:read:admin meeting:write:admin user:read:admin \
                      chat_message:write:admin chat_channel:read:admin";
/// Where join and start links point.
const JOIN_BASE: &str = "https://zoom.example";
/// The user's time zone when none is given.
const USER_TIMEZONE: &str = "America/Los_Angeles";
/// Page size when `page_size` is absent.
const DEFAULT_PAGE_SIZE: usize = 30;
/// Largest `page_size` Zoom serves; larger values are served as 300.
const MAX_PAGE_SIZE: usize = 300;
/// Longest meeting topic.
const MAX_TOPIC: usize = 200;
/// Longest meeting agenda.
const MAX_AGENDA: usize = 2000;
/// List Meetings cuts each agenda to this many characters.
const LISTED_AGENDA: usize = 250;
/// Longest meeting passcode.
const MAX_PASSWORD: usize = 10;
/// Largest `repeat_interval` of a daily recurrence.
const MAX_DAILY_INTERVAL: u64 = 90;
/// Largest `repeat_interval` of a weekly recurrence.
const MAX_WEEKLY_INTERVAL: u64 = 12;
/// Largest `repeat_interval` of a monthly recurrence.
const MAX_MONTHLY_INTERVAL: u64 = 3;
/// Most occurrences of a recurring meeting (`end_times` at most).
const MAX_OCCURRENCES: u64 = 50;
/// Most registrants in one status update.
const MAX_STATUS_REGISTRANTS: usize = 30;
/// Meeting create/update requests per host per UTC day.
const DAILY_MEETING_WRITES: u32 = 100;
/// Requests per second of a Light route.
const LIGHT_PER_SECOND: usize = 80;
/// Requests per second of a Medium route.
const MEDIUM_PER_SECOND: usize = 60;
/// The window of the per-second limits.
const SECOND: Duration = Duration::from_secs(1);
/// How long Zoom waits for a webhook endpoint to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(3);
/// The per-second 429's message.
const PER_SECOND_MESSAGE: &str =
    "You have reached the maximum per-second rate limit for this API. Try again later.";

/// The Server-to-Server OAuth app the fake knows, and its webhook secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoomApp {
    /// The account the app belongs to (`account_id` in the token request).
    pub account_id: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// The secret token that signs webhook requests.
    pub webhook_secret: String,
}

impl Default for ZoomApp {
    fn default() -> Self {
        Self {
            account_id: "fake-account".to_owned(),
            client_id: "fake-client-id".to_owned(),
            client_secret: "fake-client-secret".to_owned(),
            webhook_secret: "fake-webhook-secret".to_owned(),
        }
    }
}

/// A scripted answer for the next request to one route label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this HTTP status with a short non-JSON body; not carried out.
    Status(u16),
    /// HTTP 429 with Zoom's per-second body, with `Retry-After: n` when given;
    /// not carried out.
    RateLimited(Option<u64>),
    /// This HTTP status with `{"code": code, "message": message}`; not
    /// carried out.
    ZoomError(u16, u32, String),
    /// Wait this long, then carry the request out and answer. A client that
    /// gives up first drops the request, and then nothing is carried out.
    Hang(Duration),
    /// Carry the request out (the meeting is created), then wait this long
    /// before answering: a timeout after the effect.
    AfterEffect(Duration),
    /// HTTP 200, `Content-Type: application/json`, body `<html>oops`; not
    /// carried out.
    Malformed,
    /// No fault: answered as usual. Queued before another fault, it lets that
    /// one hit a later call.
    Pass,
}

/// A meeting as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    /// The meeting number, 11 digits.
    pub id: u64,
    /// The meeting's UUID (base64, as Zoom's look).
    pub uuid: String,
    /// The host's user id.
    pub host_id: String,
    /// The topic.
    pub topic: String,
    /// The agenda (description).
    pub agenda: String,
    /// The meeting type: 2 (scheduled) or 8 (recurring with a fixed time).
    pub kind: u8,
    /// The start, UTC, `yyyy-MM-ddTHH:mm:ssZ`.
    pub start_time: Option<String>,
    /// Minutes.
    pub duration: u32,
    /// The IANA time zone the meeting is scheduled in.
    pub timezone: String,
    /// The recurrence object as answered (type 8 only).
    pub recurrence: Option<Value>,
    /// The occurrences, deleted ones included (type 8 only).
    pub occurrences: Vec<Occurrence>,
    /// The settings: Zoom's defaults overlaid with what the client sent.
    pub settings: Value,
    /// The tracking fields as sent (`[{field, value}]`), an empty array when
    /// none were.
    pub tracking_fields: Value,
    /// The passcode.
    pub password: String,
    /// The join link, `https://zoom.example/j/{id}`.
    pub join_url: String,
    /// When it was created, UTC.
    pub created_at: String,
}

/// One occurrence of a recurring meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Its id: the occurrence's original start in Unix milliseconds.
    pub occurrence_id: String,
    /// Its start (after any edit), UTC, `yyyy-MM-ddTHH:mm:ssZ`.
    pub start_time: String,
    /// Minutes.
    pub duration: u32,
    /// `available` or `deleted`.
    pub status: String,
}

/// A meeting registrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registrant {
    /// The registrant id.
    pub id: String,
    /// The email address.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// `approved`, `pending` or `denied`.
    pub status: String,
    /// The personal join link.
    pub join_url: String,
    /// The occurrences registered for (empty for a type 2 meeting).
    pub occurrence_ids: Vec<String>,
}

/// A Team Chat message sent to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The message id (a UUID).
    pub id: String,
    /// The text.
    pub message: String,
    /// The channel id.
    pub to_channel: String,
}

/// A running fake Zoom. Clones share the server; it stops when the last
/// handle is dropped, or on [`FakeZoom::shutdown`].
#[derive(Debug, Clone)]
pub struct FakeZoom {
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

impl FakeZoom {
    /// Starts a fake with [`ZoomApp::default`] and one licensed user,
    /// `host@example.org`, the account owner (`me`).
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start() -> Self {
        Self::start_with(ZoomApp::default()).await
    }

    /// Starts a fake for this app, with the one user `host@example.org`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start_with(app: ZoomApp) -> Self {
        let listener =
            match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
                Ok(listener) => listener,
                Err(error) => panic!("the fake Zoom could not bind a local port: {error}"),
            };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => panic!("the fake Zoom has no local address: {error}"),
        };
        let base_url = format!("http://{address}");
        let mut world = World::new();
        world.add_user("host@example.org");
        let shared = Arc::new(Shared {
            app,
            base_url: base_url.clone(),
            world: Mutex::new(world),
        });
        let router = Router::new()
            .route("/oauth/token", post(oauth_token))
            .route("/v2/{*path}", any(api))
            .with_state(Arc::clone(&shared));
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
                base_url,
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

    /// The REST API's base, without a trailing slash: `base_url() + "/v2"`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/v2", self.handle.base_url)
    }

    /// The token endpoint: `base_url() + "/oauth/token"`.
    #[must_use]
    pub fn oauth_url(&self) -> String {
        format!("{}/oauth/token", self.handle.base_url)
    }

    /// The app's credentials and webhook secret.
    #[must_use]
    pub fn app(&self) -> ZoomApp {
        self.handle.shared.app.clone()
    }

    /// Adds a licensed (type 2), active user with this email; returns the
    /// user id.
    pub fn add_user(&self, email: &str) -> String {
        self.world().add_user(email)
    }

    /// Every meeting not deleted, by id, with its occurrences.
    #[must_use]
    pub fn meetings(&self) -> Vec<Meeting> {
        self.world()
            .meetings
            .values()
            .map(StoredMeeting::public)
            .collect()
    }

    /// One meeting, unless it does not exist or was deleted.
    #[must_use]
    pub fn meeting(&self, id: u64) -> Option<Meeting> {
        self.world().meetings.get(&id).map(StoredMeeting::public)
    }

    /// A meeting's registrants in the order they registered, whatever their
    /// status.
    #[must_use]
    pub fn registrants(&self, meeting_id: u64) -> Vec<Registrant> {
        self.world()
            .meetings
            .get(&meeting_id)
            .map(|m| m.registrants.clone())
            .unwrap_or_default()
    }

    /// The messages sent to a Team Chat channel, oldest first.
    #[must_use]
    pub fn chat_messages(&self, channel_id: &str) -> Vec<ChatMessage> {
        self.world()
            .channels
            .get(channel_id)
            .map(|c| c.messages.clone())
            .unwrap_or_default()
    }

    /// Creates a public Team Chat channel; returns its id.
    pub fn create_chat_channel(&self, name: &str) -> String {
        let mut world = self.world();
        let id = uuid::Uuid::new_v4().simple().to_string();
        world.channels.insert(
            id.clone(),
            Channel {
                id: id.clone(),
                name: name.to_owned(),
                messages: Vec::new(),
            },
        );
        id
    }

    /// How many requests reached a route label (e.g.
    /// `"POST /users/{userId}/meetings"`, `"POST /oauth/token"`), faulted,
    /// refused and rate-limited ones included.
    #[must_use]
    pub fn calls(&self, route: &str) -> u64 {
        self.world().calls.get(route).copied().unwrap_or(0)
    }

    /// How many access tokens were issued.
    #[must_use]
    pub fn tokens_issued(&self) -> u64 {
        self.world().tokens_issued
    }

    /// Issues an access token directly, as if the token endpoint had been
    /// called (counted by [`FakeZoom::tokens_issued`], not by `calls`).
    pub fn issue_token(&self) -> String {
        self.world().issue_token()
    }

    /// Expires every token issued so far: they now answer 401 code 124
    /// "Access token is expired.". Tokens issued later are good.
    pub fn expire_tokens(&self) {
        for token in self.world().tokens.values_mut() {
            token.expired = true;
        }
    }

    /// The next request to `route` gets this fault; faults queue per route
    /// label, first in, first out.
    pub fn fail_next(&self, route: &str, fault: Fault) {
        self.world()
            .faults
            .entry(route.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Turns the rate limits (per second and per day) on or off; on by
    /// default.
    pub fn set_rate_limits(&self, enabled: bool) {
        self.world().rate_limits = enabled;
    }

    /// POSTs a webhook event to `url` as Zoom does: body `{"event", "payload",
    /// "event_ts"}` (milliseconds), headers `x-zm-request-timestamp` (Unix
    /// seconds) and `x-zm-signature` (see [`FakeZoom::sign`]).
    ///
    /// # Panics
    /// When the request fails or takes longer than the 3 seconds Zoom waits.
    pub async fn deliver_webhook(
        &self,
        url: &str,
        event: &str,
        payload: Value,
    ) -> reqwest::Response {
        let body = json!({
            "event": event,
            "payload": payload,
            "event_ts": Utc::now().timestamp_millis(),
        });
        self.post_signed(url, &body.to_string()).await
    }

    /// Sends the `endpoint.url_validation` challenge with a fresh random
    /// `plainToken`, signed like any event. It checks nothing itself: the
    /// endpoint should answer 200 `{"plainToken": <the same>,
    /// "encryptedToken": hex(HMAC-SHA256(webhook_secret, plainToken))}`.
    ///
    /// # Panics
    /// When the request fails or takes longer than the 3 seconds Zoom waits.
    pub async fn validate_endpoint(&self, url: &str) -> reqwest::Response {
        let plain_token = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
        let body = json!({
            "payload": {"plainToken": plain_token},
            "event_ts": Utc::now().timestamp_millis(),
            "event": "endpoint.url_validation",
        });
        self.post_signed(url, &body.to_string()).await
    }

    async fn post_signed(&self, url: &str, body: &str) -> reqwest::Response {
        hub_core::tls::init();
        let timestamp = Utc::now().timestamp();
        let client = match reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build() {
            Ok(client) => client,
            Err(error) => panic!("the fake Zoom could not build an HTTP client: {error}"),
        };
        let request = client
            .post(url)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .header("User-Agent", "Zoom Marketplace/1.0a")
            .header("x-zm-request-timestamp", timestamp.to_string())
            .header("x-zm-signature", self.sign(timestamp, body))
            .body(body.to_owned());
        match request.send().await {
            Ok(response) => response,
            Err(error) => panic!("delivering a Zoom webhook to {url} failed: {error}"),
        }
    }

    /// Zoom's webhook signature: `"v0=" + hex(HMAC-SHA256(webhook_secret,
    /// "v0:{timestamp}:{body}"))`.
    #[must_use]
    pub fn sign(&self, timestamp: i64, body: &str) -> String {
        format!(
            "v0={}",
            hmac_hex(
                &self.handle.shared.app.webhook_secret,
                &format!("v0:{timestamp}:{body}")
            )
        )
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

fn hmac_hex(secret: &str, message: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes a key of any length, so this arm is never taken.
        Err(_) => String::new(),
    }
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Shared {
    app: ZoomApp,
    base_url: String,
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
    email: String,
    first_name: String,
    last_name: String,
    timezone: String,
    created_at: String,
}

#[derive(Debug, Clone)]
struct Token {
    issued: Instant,
    expired: bool,
}

#[derive(Debug, Clone)]
struct StoredOccurrence {
    /// The original start in Unix milliseconds.
    id: String,
    start: DateTime<Utc>,
    /// Set by an occurrence edit.
    moved_to: Option<DateTime<Utc>>,
    duration: Option<u32>,
    topic: Option<String>,
    agenda: Option<String>,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct StoredMeeting {
    id: u64,
    uuid: String,
    host_id: String,
    host_email: String,
    topic: String,
    agenda: String,
    kind: u8,
    start: DateTime<Utc>,
    duration: u32,
    timezone: String,
    password: String,
    recurrence: Option<Value>,
    settings: Map<String, Value>,
    tracking_fields: Value,
    created_at: DateTime<Utc>,
    occurrences: Vec<StoredOccurrence>,
    registrants: Vec<Registrant>,
}

#[derive(Debug)]
struct Channel {
    id: String,
    name: String,
    messages: Vec<ChatMessage>,
}

#[derive(Debug)]
struct World {
    /// In order of creation; the first is the account owner (`me`).
    users: Vec<User>,
    meetings: BTreeMap<u64, StoredMeeting>,
    meeting_seq: u64,
    tokens: HashMap<String, Token>,
    tokens_issued: u64,
    channels: BTreeMap<String, Channel>,
    faults: HashMap<String, VecDeque<Fault>>,
    calls: HashMap<String, u64>,
    windows: HashMap<RateClass, VecDeque<Instant>>,
    daily: HashMap<(String, NaiveDate), u32>,
    per_second_429s: u64,
    rate_limits: bool,
}

impl World {
    fn new() -> Self {
        Self {
            users: Vec::new(),
            meetings: BTreeMap::new(),
            meeting_seq: 0,
            tokens: HashMap::new(),
            tokens_issued: 0,
            channels: BTreeMap::new(),
            faults: HashMap::new(),
            calls: HashMap::new(),
            windows: HashMap::new(),
            daily: HashMap::new(),
            per_second_429s: 0,
            rate_limits: true,
        }
    }

    fn add_user(&mut self, email: &str) -> String {
        // Zoom user ids are 22 url-safe base64 characters.
        let seq = self.users.len() + 1;
        let id = URL_SAFE_NO_PAD.encode(format!("fake-user-{seq:06}"));
        let local = email.split('@').next().unwrap_or_default();
        self.users.push(User {
            id: id.clone(),
            email: email.to_owned(),
            first_name: local.to_owned(),
            last_name: "User".to_owned(),
            timezone: USER_TIMEZONE.to_owned(),
            created_at: zoom_time(Utc::now()),
        });
        id
    }

    /// `me` (the account owner), a user id or an email address.
    fn user(&self, user_id: &str) -> Result<User, Failure> {
        let found = if user_id == "me" {
            self.users.first()
        } else {
            self.users
                .iter()
                .find(|u| u.id == user_id || u.email.eq_ignore_ascii_case(user_id))
        };
        found
            .cloned()
            .ok_or_else(|| zoom_error(404, 1001, &format!("User does not exist: {user_id}.")))
    }

    fn issue_token(&mut self) -> String {
        let token = format!(
            "fzt.{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.tokens.insert(
            token.clone(),
            Token {
                issued: Instant::now(),
                expired: false,
            },
        );
        self.tokens_issued += 1;
        token
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), Failure> {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let invalid = || zoom_error(401, 124, "Invalid access token.");
        let token = bearer
            .and_then(|t| self.tokens.get(t))
            .ok_or_else(invalid)?;
        if token.expired || token.issued.elapsed() >= Duration::from_secs(TOKEN_LIFETIME) {
            return Err(zoom_error(401, 124, "Access token is expired."));
        }
        Ok(())
    }

    fn take_slot(&mut self, class: RateClass) -> Result<(), Failure> {
        if !self.rate_limits {
            return Ok(());
        }
        let now = Instant::now();
        let window = self.windows.entry(class).or_default();
        while window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= SECOND)
        {
            window.pop_front();
        }
        if window.len() >= class.per_second() {
            self.per_second_429s += 1;
            return Err(Failure::PerSecond {
                retry_after: self.per_second_429s % 2 == 1,
            });
        }
        window.push_back(now);
        Ok(())
    }

    /// Zoom's user-level limit on meeting create/update requests.
    fn take_daily(&mut self, host_id: &str) -> Result<(), Failure> {
        if !self.rate_limits {
            return Ok(());
        }
        let now = Utc::now();
        let count = self
            .daily
            .entry((host_id.to_owned(), now.date_naive()))
            .or_default();
        if *count >= DAILY_MEETING_WRITES {
            let midnight = now
                .date_naive()
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|m| m.and_utc());
            let seconds = midnight.map_or(86_400, |m| (m - now).num_seconds().max(1));
            return Err(Failure::Daily {
                retry_after: u64::try_from(seconds).unwrap_or(1),
            });
        }
        *count += 1;
        Ok(())
    }

    fn meeting(&self, meeting_id: &str) -> Result<&StoredMeeting, Failure> {
        meeting_id
            .parse::<u64>()
            .ok()
            .and_then(|id| self.meetings.get(&id))
            .ok_or_else(|| no_meeting(meeting_id))
    }

    fn meeting_mut(&mut self, meeting_id: &str) -> Result<&mut StoredMeeting, Failure> {
        meeting_id
            .parse::<u64>()
            .ok()
            .and_then(|id| self.meetings.get_mut(&id))
            .ok_or_else(|| no_meeting(meeting_id))
    }
}

// ---------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------

/// Why a call did not succeed.
#[derive(Debug)]
enum Failure {
    /// This status with `{"code", "message"}` (and Zoom's `errors` array for
    /// validation failures).
    Zoom {
        status: u16,
        code: u32,
        message: String,
        errors: Option<Value>,
    },
    /// A per-second 429, with or without `Retry-After: 1`.
    PerSecond { retry_after: bool },
    /// The daily meeting create/update limit: 429 with `Retry-After`.
    Daily { retry_after: u64 },
}

fn zoom_error(status: u16, code: u32, message: &str) -> Failure {
    Failure::Zoom {
        status,
        code,
        message: message.to_owned(),
        errors: None,
    }
}

/// 400 code 300 naming the field.
fn invalid(field: &str, why: &str) -> Failure {
    Failure::Zoom {
        status: 400,
        code: 300,
        message: format!("Validation Failed. {field}: {why}"),
        errors: Some(json!([{"field": field, "message": why}])),
    }
}

fn no_meeting(meeting_id: &str) -> Failure {
    zoom_error(404, 3001, &format!("Meeting does not exist: {meeting_id}."))
}

/// A success: the status and a JSON body, or none (204).
type Answer = Result<(StatusCode, Option<Value>), Failure>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn too_many(message: &str, retry_after: Option<u64>) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"code": 429, "message": message}),
    );
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn respond(answer: Answer) -> Response {
    match answer {
        Ok((status, Some(body))) => json_response(status, &body),
        Ok((status, None)) => status.into_response(),
        Err(Failure::Zoom {
            status,
            code,
            message,
            errors,
        }) => {
            let mut body = json!({"code": code, "message": message});
            if let Some(errors) = errors {
                body["errors"] = errors;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            json_response(status, &body)
        }
        Err(Failure::PerSecond { retry_after }) => {
            too_many(PER_SECOND_MESSAGE, retry_after.then_some(1))
        }
        Err(Failure::Daily { retry_after }) => too_many(
            &format!(
                "You have reached the maximum per-day limit of ({DAILY_MEETING_WRITES}) \
                 meeting create/update requests permitted for this user. You may resume \
                 these requests at GMT 00:00:00."
            ),
            Some(retry_after),
        ),
    }
}

/// Counts the call, applies the next scripted fault of `label`, and runs
/// `work` unless the fault answers instead.
async fn run(shared: &Shared, label: &str, work: impl FnOnce() -> Response) -> Response {
    let fault = {
        let mut world = shared.world();
        *world.calls.entry(label.to_owned()).or_default() += 1;
        world.faults.get_mut(label).and_then(VecDeque::pop_front)
    };
    let mut linger = None;
    match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (
                status,
                [(CONTENT_TYPE, "text/plain")],
                format!("fake zoom: scripted {code}"),
            )
                .into_response();
        }
        Some(Fault::RateLimited(seconds)) => return too_many(PER_SECOND_MESSAGE, seconds),
        Some(Fault::ZoomError(status, code, message)) => {
            return respond(Err(zoom_error(status, code, &message)));
        }
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                "<html>oops",
            )
                .into_response();
        }
        Some(Fault::Hang(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::AfterEffect(delay)) => linger = Some(delay),
        Some(Fault::Pass) | None => {}
    }
    let response = work();
    if let Some(delay) = linger {
        tokio::time::sleep(delay).await;
    }
    response
}

// ---------------------------------------------------------------------------
// OAuth
// ---------------------------------------------------------------------------

async fn oauth_token(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(&shared, "POST /oauth/token", || {
        shared.oauth(query.as_deref(), &headers, &body)
    })
    .await
}

impl Shared {
    fn oauth(&self, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
        let mut params = parse_query(query);
        params.extend(
            url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
        let refuse = |error: &str, reason: &str| {
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"reason": reason, "error": error}),
            )
        };
        let credentials = basic_credentials(headers);
        let app = &self.app;
        if credentials.as_ref() != Some(&(app.client_id.clone(), app.client_secret.clone())) {
            return refuse("invalid_client", "Invalid client_id or client_secret");
        }
        if params.get("grant_type").map(String::as_str) != Some("account_credentials") {
            return refuse("unsupported_grant_type", "unsupported grant type");
        }
        if params.get("account_id") != Some(&app.account_id) {
            return refuse("invalid_request", "Invalid account_id");
        }
        let token = self.world().issue_token();
        json_response(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME,
                "scope": SCOPES,
                "api_url": self.base_url,
            }),
        )
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// The REST API
// ---------------------------------------------------------------------------

/// Zoom's rate-limit labels (Heavy is not served here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RateClass {
    Light,
    Medium,
}

impl RateClass {
    fn per_second(self) -> usize {
        match self {
            Self::Light => LIGHT_PER_SECOND,
            Self::Medium => MEDIUM_PER_SECOND,
        }
    }
}

#[derive(Debug, Clone)]
enum Route {
    ListUsers,
    CreateMeeting(String),
    ListMeetings(String),
    GetMeeting(String),
    UpdateMeeting(String),
    DeleteMeeting(String),
    AddRegistrant(String),
    ListRegistrants(String),
    RegistrantStatus(String),
    SendChat(String),
    ListChannels(String),
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        fn owned(s: &str) -> String {
            s.to_owned()
        }
        let m = method.as_str();
        Some(match (m, segments.as_slice()) {
            ("GET", ["users"]) => Self::ListUsers,
            ("POST", ["users", user, "meetings"]) => Self::CreateMeeting(owned(user)),
            ("GET", ["users", user, "meetings"]) => Self::ListMeetings(owned(user)),
            ("GET", ["meetings", id]) => Self::GetMeeting(owned(id)),
            ("PATCH", ["meetings", id]) => Self::UpdateMeeting(owned(id)),
            ("DELETE", ["meetings", id]) => Self::DeleteMeeting(owned(id)),
            ("POST", ["meetings", id, "registrants"]) => Self::AddRegistrant(owned(id)),
            ("GET", ["meetings", id, "registrants"]) => Self::ListRegistrants(owned(id)),
            ("PUT", ["meetings", id, "registrants", "status"]) => Self::RegistrantStatus(owned(id)),
            ("POST", ["chat", "users", user, "messages"]) => Self::SendChat(owned(user)),
            ("GET", ["chat", "users", user, "channels"]) => Self::ListChannels(owned(user)),
            _ => return None,
        })
    }

    fn label(&self) -> &'static str {
        match self {
            Self::ListUsers => "GET /users",
            Self::CreateMeeting(_) => "POST /users/{userId}/meetings",
            Self::ListMeetings(_) => "GET /users/{userId}/meetings",
            Self::GetMeeting(_) => "GET /meetings/{meetingId}",
            Self::UpdateMeeting(_) => "PATCH /meetings/{meetingId}",
            Self::DeleteMeeting(_) => "DELETE /meetings/{meetingId}",
            Self::AddRegistrant(_) => "POST /meetings/{meetingId}/registrants",
            Self::ListRegistrants(_) => "GET /meetings/{meetingId}/registrants",
            Self::RegistrantStatus(_) => "PUT /meetings/{meetingId}/registrants/status",
            Self::SendChat(_) => "POST /chat/users/{userId}/messages",
            Self::ListChannels(_) => "GET /chat/users/{userId}/channels",
        }
    }

    fn class(&self) -> RateClass {
        match self {
            Self::GetMeeting(_)
            | Self::UpdateMeeting(_)
            | Self::DeleteMeeting(_)
            | Self::AddRegistrant(_) => RateClass::Light,
            Self::ListUsers
            | Self::CreateMeeting(_)
            | Self::ListMeetings(_)
            | Self::ListRegistrants(_)
            | Self::RegistrantStatus(_)
            | Self::SendChat(_)
            | Self::ListChannels(_) => RateClass::Medium,
        }
    }
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(route) = Route::parse(&method, &path) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"code": 404, "message": format!("No such API: {method} /v2/{path}")}),
        );
    };
    run(&shared, route.label(), || {
        respond(shared.call(&route, query.as_deref(), &headers, &body))
    })
    .await
}

impl Shared {
    fn call(&self, route: &Route, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Answer {
        let query = parse_query(query);
        let mut world = self.world();
        world.authenticate(headers)?;
        world.take_slot(route.class())?;
        match route {
            Route::ListUsers => world.list_users(&query),
            Route::CreateMeeting(user) => world.create_meeting(user, body),
            Route::ListMeetings(user) => world.list_meetings(user, &query),
            Route::GetMeeting(id) => world.get_meeting(id, &query),
            Route::UpdateMeeting(id) => world.update_meeting(id, &query, body),
            Route::DeleteMeeting(id) => world.delete_meeting(id, &query),
            Route::AddRegistrant(id) => world.add_registrant(id, &query, body),
            Route::ListRegistrants(id) => world.list_registrants(id, &query),
            Route::RegistrantStatus(id) => world.registrant_status(id, body),
            Route::SendChat(user) => world.send_chat(user, body),
            Route::ListChannels(user) => world.list_channels(user, &query),
        }
    }
}

// ---------------------------------------------------------------------------
// Arguments and paging
// ---------------------------------------------------------------------------

/// The request body as a JSON object.
fn json_body(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(zoom_error(
            400,
            300,
            "Request Body should be a valid JSON object.",
        )),
    }
}

fn text_field(value: &Value, field: &str, max: usize) -> Result<String, Failure> {
    let Value::String(text) = value else {
        return Err(invalid(field, "must be a string"));
    };
    if text.chars().count() > max {
        return Err(invalid(field, &format!("at most {max} characters")));
    }
    Ok(text.clone())
}

/// A non-negative integer, given as a number or a numeric string.
fn int_field(value: &Value, field: &str) -> Result<u64, Failure> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number.ok_or_else(|| invalid(field, "must be a non-negative integer"))
}

fn page_size(query: &HashMap<String, String>) -> Result<usize, Failure> {
    match query.get("page_size").map(|s| s.trim()) {
        None | Some("") => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw
            .parse::<usize>()
            .map(|n| n.clamp(1, MAX_PAGE_SIZE))
            .map_err(|_| invalid("page_size", "must be an integer")),
    }
}

/// One page of `items` after the `next_page_token` of `query`; the token
/// names the list it belongs to, so a token of another list is refused.
fn page<T: Clone>(
    items: &[T],
    query: &HashMap<String, String>,
    scope: &str,
) -> Result<(Vec<T>, String, usize), Failure> {
    let size = page_size(query)?;
    let start = match query.get("next_page_token").map(|s| s.trim()) {
        None | Some("") => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| {
                t.strip_prefix(scope)?
                    .strip_prefix('|')?
                    .parse::<usize>()
                    .ok()
            })
            .ok_or_else(|| invalid("next_page_token", "invalid or expired"))?,
    };
    let end = start.saturating_add(size).min(items.len());
    let slice = items.get(start..end).unwrap_or_default().to_vec();
    let next = if end < items.len() {
        URL_SAFE_NO_PAD.encode(format!("{scope}|{end}"))
    } else {
        String::new()
    };
    Ok((slice, next, size))
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// Zoom's time format, UTC: `yyyy-MM-ddTHH:mm:ssZ`.
fn zoom_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A wall-clock time in `tz` as an instant: a time in a DST gap moves one
/// hour later, an ambiguous one takes the earlier instant.
fn local_to_utc(tz: Tz, naive: chrono::NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::TimeDelta::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc(), |at| at.with_timezone(&Utc)),
    }
}

/// `yyyy-MM-ddTHH:mm:ssZ` is UTC; without the `Z` it is a local time in
/// `tz`.
fn parse_start(raw: &str, tz: Tz, field: &str) -> Result<DateTime<Utc>, Failure> {
    let raw = raw.trim();
    let bad = || invalid(field, "expected yyyy-MM-ddTHH:mm:ss, with Z for UTC");
    if let Some(utc) = raw.strip_suffix('Z') {
        let naive =
            chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%dT%H:%M:%S").map_err(|_| bad())?;
        return Ok(naive.and_utc());
    }
    let naive =
        chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").map_err(|_| bad())?;
    Ok(local_to_utc(tz, naive))
}

fn parse_tz(name: &str, field: &str) -> Result<Tz, Failure> {
    name.parse::<Tz>()
        .map_err(|_| invalid(field, "not a known IANA time zone"))
}

// ---------------------------------------------------------------------------
// Recurrence
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Repeat {
    Daily,
    /// Days of the week, 1 = Sunday .. 7 = Saturday, sorted.
    Weekly(Vec<u32>),
    /// A day of the month.
    MonthDay(u32),
    /// The nth (-1 = last) given weekday (1 = Sunday) of the month.
    MonthWeek(i64, u32),
}

#[derive(Debug, Clone)]
enum End {
    Times(u64),
    Until(DateTime<Utc>),
}

#[derive(Debug, Clone)]
struct Rule {
    repeat: Repeat,
    interval: u64,
    end: End,
}

/// Checks a recurrence object; answers the rule and the object as Zoom
/// echoes it (with `repeat_interval` filled in).
fn parse_recurrence(value: &Value) -> Result<(Rule, Value), Failure> {
    let Value::Object(map) = value else {
        return Err(invalid("recurrence", "must be an object"));
    };
    let kind = map
        .get("type")
        .ok_or_else(|| invalid("recurrence.type", "required"))
        .and_then(|v| int_field(v, "recurrence.type"))?;
    let interval = match map.get("repeat_interval") {
        None | Some(Value::Null) => 1,
        Some(v) => int_field(v, "recurrence.repeat_interval")?,
    };
    let max_interval = match kind {
        1 => MAX_DAILY_INTERVAL,
        2 => MAX_WEEKLY_INTERVAL,
        3 => MAX_MONTHLY_INTERVAL,
        _ => {
            return Err(invalid(
                "recurrence.type",
                "must be 1 (daily), 2 (weekly) or 3 (monthly)",
            ));
        }
    };
    if interval == 0 || interval > max_interval {
        return Err(invalid(
            "recurrence.repeat_interval",
            &format!("must be between 1 and {max_interval} for this recurrence type"),
        ));
    }
    let repeat = match kind {
        1 => Repeat::Daily,
        2 => {
            let raw = match map.get("weekly_days") {
                None | Some(Value::Null) => "1".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(_) => return Err(invalid("recurrence.weekly_days", "must be a string")),
            };
            let mut days = Vec::new();
            for part in raw.split(',') {
                match part.trim().parse::<u32>() {
                    Ok(day @ 1..=7) => days.push(day),
                    _ => {
                        return Err(invalid(
                            "recurrence.weekly_days",
                            "comma-separated days 1 (Sunday) to 7 (Saturday)",
                        ));
                    }
                }
            }
            days.sort_unstable();
            days.dedup();
            Repeat::Weekly(days)
        }
        _ => monthly(map)?,
    };
    let end = match (map.get("end_times"), map.get("end_date_time")) {
        (Some(times), Some(until)) if !times.is_null() && !until.is_null() => {
            return Err(invalid(
                "recurrence.end_times",
                "cannot be used with end_date_time",
            ));
        }
        (_, Some(Value::String(until))) => {
            let at = DateTime::parse_from_rfc3339(until.trim())
                .map_err(|_| {
                    invalid(
                        "recurrence.end_date_time",
                        "expected UTC, yyyy-MM-ddTHH:mm:ssZ",
                    )
                })?
                .with_timezone(&Utc);
            End::Until(at)
        }
        (Some(times), _) if !times.is_null() => {
            let n = int_field(times, "recurrence.end_times")?;
            if n > MAX_OCCURRENCES {
                return Err(invalid(
                    "recurrence.end_times",
                    &format!("at most {MAX_OCCURRENCES}"),
                ));
            }
            End::Times(if n == 0 { MAX_OCCURRENCES } else { n })
        }
        _ => End::Times(1),
    };
    let mut echoed = map.clone();
    echoed.insert("repeat_interval".to_owned(), json!(interval));
    Ok((
        Rule {
            repeat,
            interval,
            end,
        },
        Value::Object(echoed),
    ))
}

fn monthly(map: &Map<String, Value>) -> Result<Repeat, Failure> {
    let day = map.get("monthly_day").filter(|v| !v.is_null());
    let week = map.get("monthly_week").filter(|v| !v.is_null());
    if let Some(week) = week {
        let week = match week {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|w| matches!(w, -1 | 1..=4))
        .ok_or_else(|| invalid("recurrence.monthly_week", "one of -1, 1, 2, 3, 4"))?;
        let weekday = map
            .get("monthly_week_day")
            .ok_or_else(|| invalid("recurrence.monthly_week_day", "required with monthly_week"))
            .and_then(|v| int_field(v, "recurrence.monthly_week_day"))?;
        let weekday = u32::try_from(weekday)
            .ok()
            .filter(|d| (1..=7).contains(d))
            .ok_or_else(|| invalid("recurrence.monthly_week_day", "1 (Sunday) to 7 (Saturday)"))?;
        return Ok(Repeat::MonthWeek(week, weekday));
    }
    let day = match day {
        Some(v) => int_field(v, "recurrence.monthly_day")?,
        None => 1,
    };
    u32::try_from(day)
        .ok()
        .filter(|d| (1..=31).contains(d))
        .map(Repeat::MonthDay)
        .ok_or_else(|| invalid("recurrence.monthly_day", "1 to 31"))
}

/// The starts of a recurring meeting's occurrences, computed on the wall
/// clock of `tz` so that a 10:00 meeting stays at 10:00 across DST.
fn occurrence_starts(
    rule: &Rule,
    start: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<DateTime<Utc>>, Failure> {
    /// Bounds the search, for rules that rarely hit (the 31st every 12
    /// months from February).
    const MAX_STEPS: u64 = 2_000;
    let local = start.with_timezone(&tz).naive_local();
    let (first_date, time) = (local.date(), local.time());
    let limit = match rule.end {
        End::Times(n) => n,
        End::Until(_) => MAX_OCCURRENCES,
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out: Vec<DateTime<Utc>> = Vec::new();
    // Adds the occurrence on `date`; false once the series is complete.
    let add = |date: NaiveDate, out: &mut Vec<DateTime<Utc>>| -> bool {
        let at = local_to_utc(tz, date.and_time(time));
        if let End::Until(until) = rule.end
            && at > until
        {
            return false;
        }
        out.push(at);
        out.len() < limit
    };
    let interval = rule.interval;
    'steps: for step in 0..MAX_STEPS {
        let k = step * interval;
        match &rule.repeat {
            Repeat::Daily => {
                let Some(date) = first_date.checked_add_days(Days::new(k)) else {
                    break;
                };
                if !add(date, &mut out) {
                    break;
                }
            }
            Repeat::Weekly(days) => {
                let sunday = first_date
                    .checked_sub_days(Days::new(u64::from(
                        first_date.weekday().num_days_from_sunday(),
                    )))
                    .and_then(|d| d.checked_add_days(Days::new(7 * k)));
                let Some(sunday) = sunday else { break };
                for day in days {
                    let Some(date) = sunday.checked_add_days(Days::new(u64::from(day - 1))) else {
                        break 'steps;
                    };
                    if date < first_date {
                        continue;
                    }
                    if !add(date, &mut out) {
                        break 'steps;
                    }
                }
            }
            Repeat::MonthDay(_) | Repeat::MonthWeek(..) => {
                let Some(month) = first_date
                    .with_day(1)
                    .and_then(|d| d.checked_add_months(Months::new(u32::try_from(k).ok()?)))
                else {
                    break;
                };
                let date = match &rule.repeat {
                    Repeat::MonthDay(day) => month.with_day(*day),
                    Repeat::MonthWeek(week, weekday) => nth_weekday(month, *week, *weekday),
                    _ => None,
                };
                let Some(date) = date else { continue };
                if date < first_date {
                    continue;
                }
                if !add(date, &mut out) {
                    break;
                }
            }
        }
    }
    if out.is_empty() {
        return Err(invalid(
            "recurrence.end_date_time",
            "the series has no occurrence before it ends",
        ));
    }
    Ok(out)
}

/// The `week`th (-1: last) `weekday` (1 = Sunday) of the month starting on
/// `first`.
fn nth_weekday(first: NaiveDate, week: i64, weekday: u32) -> Option<NaiveDate> {
    let wanted = weekday.checked_sub(1)?;
    if week == -1 {
        let last = first
            .checked_add_months(Months::new(1))?
            .checked_sub_days(Days::new(1))?;
        let back = (7 + last.weekday().num_days_from_sunday() - wanted) % 7;
        return last.checked_sub_days(Days::new(u64::from(back)));
    }
    let ahead = (7 + wanted - first.weekday().num_days_from_sunday()) % 7;
    let week = u64::try_from(week.checked_sub(1)?).ok()?;
    let date = first.checked_add_days(Days::new(u64::from(ahead) + 7 * week))?;
    (date.month() == first.month()).then_some(date)
}

// ---------------------------------------------------------------------------
// Meetings
// ---------------------------------------------------------------------------

/// Zoom's meeting settings when the client sends none.
fn default_settings() -> Map<String, Value> {
    let defaults = json!({
        "host_video": false,
        "participant_video": false,
        "join_before_host": false,
        "jbh_time": 0,
        "mute_upon_entry": false,
        "watermark": false,
        "use_pmi": false,
        "approval_type": 2,
        "registration_type": 1,
        "audio": "voip",
        "auto_recording": "none",
        "enforce_login": false,
        "waiting_room": false,
        "close_registration": false,
        "registrants_confirmation_email": true,
        "registrants_email_notification": true,
    });
    match defaults {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl StoredOccurrence {
    fn starts_at(&self) -> DateTime<Utc> {
        self.moved_to.unwrap_or(self.start)
    }

    fn public(&self, meeting_duration: u32) -> Occurrence {
        Occurrence {
            occurrence_id: self.id.clone(),
            start_time: zoom_time(self.starts_at()),
            duration: self.duration.unwrap_or(meeting_duration),
            status: if self.deleted { "deleted" } else { "available" }.to_owned(),
        }
    }

    fn json(&self, meeting_duration: u32) -> Value {
        let public = self.public(meeting_duration);
        json!({
            "occurrence_id": public.occurrence_id,
            "start_time": public.start_time,
            "duration": public.duration,
            "status": public.status,
        })
    }
}

impl StoredMeeting {
    fn join_url(&self) -> String {
        format!("{JOIN_BASE}/j/{}", self.id)
    }

    fn approval_type(&self) -> u64 {
        self.settings
            .get("approval_type")
            .and_then(Value::as_u64)
            .unwrap_or(2)
    }

    fn public(&self) -> Meeting {
        Meeting {
            id: self.id,
            uuid: self.uuid.clone(),
            host_id: self.host_id.clone(),
            topic: self.topic.clone(),
            agenda: self.agenda.clone(),
            kind: self.kind,
            start_time: Some(zoom_time(self.start)),
            duration: self.duration,
            timezone: self.timezone.clone(),
            recurrence: self.recurrence.clone(),
            occurrences: self
                .occurrences
                .iter()
                .map(|o| o.public(self.duration))
                .collect(),
            settings: Value::Object(self.settings.clone()),
            tracking_fields: self.tracking_fields.clone(),
            password: self.password.clone(),
            join_url: self.join_url(),
            created_at: zoom_time(self.created_at),
        }
    }

    /// The meeting object, or one occurrence's view of it.
    fn json(&self, occurrence: Option<&StoredOccurrence>) -> Value {
        let mut body = json!({
            "uuid": self.uuid,
            "id": self.id,
            "host_id": self.host_id,
            "host_email": self.host_email,
            "topic": occurrence.and_then(|o| o.topic.clone()).unwrap_or_else(|| self.topic.clone()),
            "type": self.kind,
            "status": "waiting",
            "start_time": zoom_time(occurrence.map_or(self.start, StoredOccurrence::starts_at)),
            "duration": occurrence.and_then(|o| o.duration).unwrap_or(self.duration),
            "timezone": self.timezone,
            "agenda": occurrence.and_then(|o| o.agenda.clone()).unwrap_or_else(|| self.agenda.clone()),
            "created_at": zoom_time(self.created_at),
            "start_url": format!("{JOIN_BASE}/s/{}?zak=fake-zak", self.id),
            "join_url": self.join_url(),
            "password": self.password,
            "h323_password": self.password,
            "pre_schedule": false,
            "settings": Value::Object(self.settings.clone()),
            "tracking_fields": self.tracking_fields,
        });
        if self.kind == 8 {
            body["recurrence"] = self.recurrence.clone().unwrap_or(Value::Null);
            let occurrences: Vec<Value> = match occurrence {
                Some(o) => vec![o.json(self.duration)],
                None => self
                    .occurrences
                    .iter()
                    .map(|o| o.json(self.duration))
                    .collect(),
            };
            body["occurrences"] = Value::Array(occurrences);
        }
        body
    }

    /// The next occurrence still to end (or the first one), for lists.
    fn next_start(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.kind != 8 {
            let end = self.start + chrono::TimeDelta::minutes(i64::from(self.duration));
            return (end >= now).then_some(self.start);
        }
        self.occurrences
            .iter()
            .filter(|o| !o.deleted)
            .map(StoredOccurrence::starts_at)
            .filter(|start| *start + chrono::TimeDelta::minutes(i64::from(self.duration)) >= now)
            .min()
    }

    /// Applies a create or update body, checking it as Zoom does, and
    /// recomputes the occurrences (keeping edits of those whose id stays).
    fn apply(&mut self, body: &Map<String, Value>) -> Result<(), Failure> {
        if let Some(v) = body.get("topic") {
            self.topic = text_field(v, "topic", MAX_TOPIC)?;
        }
        if let Some(v) = body.get("agenda") {
            self.agenda = text_field(v, "agenda", MAX_AGENDA)?;
        }
        if let Some(v) = body.get("type") {
            self.kind = match int_field(v, "type")? {
                2 => 2,
                8 => 8,
                _ => {
                    return Err(invalid(
                        "type",
                        "only 2 (scheduled) and 8 (recurring with fixed time) are served",
                    ));
                }
            };
        }
        if let Some(v) = body.get("timezone") {
            let name = text_field(v, "timezone", 64)?;
            parse_tz(&name, "timezone")?;
            self.timezone = name;
        }
        let tz = parse_tz(&self.timezone, "timezone")?;
        if let Some(v) = body.get("start_time") {
            let raw = text_field(v, "start_time", 64)?;
            self.start = parse_start(&raw, tz, "start_time")?;
        }
        if let Some(v) = body.get("duration") {
            self.duration = u32::try_from(int_field(v, "duration")?)
                .map_err(|_| invalid("duration", "too large"))?;
        }
        if let Some(v) = body.get("password") {
            let password = text_field(v, "password", MAX_PASSWORD)?;
            if !password
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '-' | '_' | '*'))
            {
                return Err(invalid("password", "only a-z A-Z 0-9 @ - _ *"));
            }
            self.password = password;
        }
        if let Some(v) = body.get("settings") {
            let Value::Object(settings) = v else {
                return Err(invalid("settings", "must be an object"));
            };
            for (key, value) in settings {
                self.settings.insert(key.clone(), value.clone());
            }
            let approval = self.settings.get("approval_type").and_then(Value::as_u64);
            if !matches!(approval, Some(0..=2)) {
                return Err(invalid("settings.approval_type", "one of 0, 1, 2"));
            }
            let registration = self
                .settings
                .get("registration_type")
                .and_then(Value::as_u64);
            if !matches!(registration, Some(1..=3)) {
                return Err(invalid("settings.registration_type", "one of 1, 2, 3"));
            }
        }
        if let Some(v) = body.get("tracking_fields") {
            let ok = v.as_array().is_some_and(|fields| {
                fields
                    .iter()
                    .all(|f| f.get("field").is_some_and(Value::is_string))
            });
            if !ok {
                return Err(invalid("tracking_fields", "an array of {field, value}"));
            }
            self.tracking_fields = v.clone();
        }
        let rule = match (self.kind, body.get("recurrence")) {
            (8, Some(v)) if !v.is_null() => {
                let (rule, echoed) = parse_recurrence(v)?;
                self.recurrence = Some(echoed);
                Some(rule)
            }
            (8, _) => match &self.recurrence {
                Some(previous) => Some(parse_recurrence(previous)?.0),
                None => {
                    return Err(invalid("recurrence", "required for a type 8 meeting"));
                }
            },
            _ => {
                self.recurrence = None;
                None
            }
        };
        let starts = match rule {
            Some(rule) => occurrence_starts(&rule, self.start, tz)?,
            None => Vec::new(),
        };
        let previous = std::mem::take(&mut self.occurrences);
        self.occurrences = starts
            .into_iter()
            .map(|start| {
                let id = start.timestamp_millis().to_string();
                previous
                    .iter()
                    .find(|o| o.id == id)
                    .cloned()
                    .unwrap_or(StoredOccurrence {
                        id,
                        start,
                        moved_to: None,
                        duration: None,
                        topic: None,
                        agenda: None,
                        deleted: false,
                    })
            })
            .collect();
        Ok(())
    }
}

impl World {
    fn list_users(&self, query: &HashMap<String, String>) -> Answer {
        let users: Vec<Value> = self
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                json!({
                    "id": u.id,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "display_name": format!("{} {}", u.first_name, u.last_name),
                    "email": u.email,
                    "type": 2,
                    "status": "active",
                    "timezone": u.timezone,
                    "verified": 1,
                    "dept": "",
                    "role_id": if i == 0 { "0" } else { "2" },
                    "created_at": u.created_at,
                    "language": "en-US",
                })
            })
            .collect();
        let (users, next, size) = page(&users, query, "users")?;
        Ok((
            StatusCode::OK,
            Some(json!({
                "page_size": size,
                "total_records": self.users.len(),
                "next_page_token": next,
                "users": users,
            })),
        ))
    }

    fn create_meeting(&mut self, user_id: &str, body: &[u8]) -> Answer {
        let host = self.user(user_id)?;
        self.take_daily(&host.id)?;
        let body = json_body(body)?;
        let seq = self.meeting_seq + 1;
        let id = 81_000_000_000 + seq * 104_729;
        let now = Utc::now();
        let mut meeting = StoredMeeting {
            id,
            uuid: BASE64.encode(uuid::Uuid::new_v4().as_bytes()),
            host_id: host.id.clone(),
            host_email: host.email.clone(),
            topic: "Zoom Meeting".to_owned(),
            agenda: String::new(),
            kind: 2,
            start: now.with_nanosecond(0).unwrap_or(now),
            duration: 60,
            timezone: host.timezone.clone(),
            password: format!("{:06}", (seq * 7_919) % 1_000_000),
            recurrence: None,
            settings: default_settings(),
            tracking_fields: json!([]),
            created_at: now,
            occurrences: Vec::new(),
            registrants: Vec::new(),
        };
        meeting.apply(&body)?;
        self.meeting_seq = seq;
        let answer = meeting.json(None);
        self.meetings.insert(id, meeting);
        Ok((StatusCode::CREATED, Some(answer)))
    }

    fn list_meetings(&self, user_id: &str, query: &HashMap<String, String>) -> Answer {
        let host = self.user(user_id)?;
        let kind = query.get("type").map_or("scheduled", String::as_str);
        let now = Utc::now();
        let keep = |m: &StoredMeeting| -> Option<DateTime<Utc>> {
            let next = m.next_start(now);
            match kind {
                "scheduled" => Some(next.unwrap_or(m.start)),
                "upcoming" | "upcoming_meetings" => next,
                "previous_meetings" => next.is_none().then_some(m.start),
                _ => None,
            }
        };
        if !matches!(
            kind,
            "scheduled" | "upcoming" | "upcoming_meetings" | "previous_meetings" | "live"
        ) {
            return Err(invalid(
                "type",
                "one of scheduled, live, upcoming, upcoming_meetings, previous_meetings",
            ));
        }
        let meetings: Vec<Value> = if kind == "live" {
            Vec::new()
        } else {
            self.meetings
                .values()
                .filter(|m| m.host_id == host.id)
                .filter_map(|m| {
                    let start = keep(m)?;
                    Some(json!({
                        "uuid": m.uuid,
                        "id": m.id,
                        "host_id": m.host_id,
                        "topic": m.topic,
                        "type": m.kind,
                        "start_time": zoom_time(start),
                        "duration": m.duration,
                        "timezone": m.timezone,
                        "agenda": m.agenda.chars().take(LISTED_AGENDA).collect::<String>(),
                        "created_at": zoom_time(m.created_at),
                        "join_url": m.join_url(),
                    }))
                })
                .collect()
        };
        let total = meetings.len();
        let (meetings, next, size) =
            page(&meetings, query, &format!("meetings:{}:{kind}", host.id))?;
        Ok((
            StatusCode::OK,
            Some(json!({
                "page_size": size,
                "total_records": total,
                "next_page_token": next,
                "meetings": meetings,
            })),
        ))
    }

    fn get_meeting(&self, meeting_id: &str, query: &HashMap<String, String>) -> Answer {
        let meeting = self.meeting(meeting_id)?;
        let occurrence = match query.get("occurrence_id").filter(|s| !s.is_empty()) {
            Some(wanted) => Some(
                meeting
                    .occurrences
                    .iter()
                    .find(|o| &o.id == wanted)
                    .ok_or_else(|| invalid("occurrence_id", "no such occurrence"))?,
            ),
            None => None,
        };
        Ok((StatusCode::OK, Some(meeting.json(occurrence))))
    }

    fn update_meeting(
        &mut self,
        meeting_id: &str,
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> Answer {
        let host_id = self.meeting(meeting_id)?.host_id.clone();
        self.take_daily(&host_id)?;
        let body = json_body(body)?;
        let meeting = self.meeting_mut(meeting_id)?;
        if let Some(wanted) = query.get("occurrence_id").filter(|s| !s.is_empty()) {
            // Only the occurrence's own fields change; others are ignored.
            let tz = parse_tz(&meeting.timezone, "timezone")?;
            let occurrence = meeting
                .occurrences
                .iter_mut()
                .find(|o| &o.id == wanted && !o.deleted)
                .ok_or_else(|| invalid("occurrence_id", "no such occurrence"))?;
            let mut edited = occurrence.clone();
            if let Some(v) = body.get("start_time") {
                let raw = text_field(v, "start_time", 64)?;
                edited.moved_to = Some(parse_start(&raw, tz, "start_time")?);
            }
            if let Some(v) = body.get("duration") {
                edited.duration = Some(
                    u32::try_from(int_field(v, "duration")?)
                        .map_err(|_| invalid("duration", "too large"))?,
                );
            }
            if let Some(v) = body.get("topic") {
                edited.topic = Some(text_field(v, "topic", MAX_TOPIC)?);
            }
            if let Some(v) = body.get("agenda") {
                edited.agenda = Some(text_field(v, "agenda", MAX_AGENDA)?);
            }
            *occurrence = edited;
            return Ok((StatusCode::NO_CONTENT, None));
        }
        let mut edited = meeting.clone();
        edited.apply(&body)?;
        *meeting = edited;
        Ok((StatusCode::NO_CONTENT, None))
    }

    fn delete_meeting(&mut self, meeting_id: &str, query: &HashMap<String, String>) -> Answer {
        let meeting = self.meeting_mut(meeting_id)?;
        if let Some(wanted) = query.get("occurrence_id").filter(|s| !s.is_empty()) {
            let occurrence = meeting
                .occurrences
                .iter_mut()
                .find(|o| &o.id == wanted)
                .ok_or_else(|| invalid("occurrence_id", "no such occurrence"))?;
            occurrence.deleted = true;
            return Ok((StatusCode::NO_CONTENT, None));
        }
        let id = meeting.id;
        self.meetings.remove(&id);
        Ok((StatusCode::NO_CONTENT, None))
    }

    fn add_registrant(
        &mut self,
        meeting_id: &str,
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> Answer {
        let meeting = self.meeting_mut(meeting_id)?;
        if meeting.approval_type() == 2 {
            return Err(zoom_error(
                400,
                3000,
                &format!("Registration has not been enabled for this meeting: {meeting_id}."),
            ));
        }
        let body = json_body(body)?;
        let email = body
            .get("email")
            .ok_or_else(|| invalid("email", "required"))
            .and_then(|v| text_field(v, "email", 128))?;
        let plausible = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        });
        if !plausible {
            return Err(invalid("email", "not a valid email address"));
        }
        let first_name = body
            .get("first_name")
            .ok_or_else(|| invalid("first_name", "required"))
            .and_then(|v| text_field(v, "first_name", 64))?;
        if first_name.trim().is_empty() {
            return Err(invalid("first_name", "required"));
        }
        let last_name = match body.get("last_name") {
            Some(v) if !v.is_null() => text_field(v, "last_name", 64)?,
            _ => String::new(),
        };
        let occurrence_ids: Vec<String> = if meeting.kind == 8 {
            match query.get("occurrence_ids").filter(|s| !s.trim().is_empty()) {
                Some(raw) => {
                    let ids: Vec<String> = raw
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    let known = |id: &String| {
                        meeting
                            .occurrences
                            .iter()
                            .any(|o| &o.id == id && !o.deleted)
                    };
                    if !ids.iter().all(known) {
                        return Err(invalid("occurrence_ids", "no such occurrence"));
                    }
                    ids
                }
                None => meeting
                    .occurrences
                    .iter()
                    .filter(|o| !o.deleted)
                    .map(|o| o.id.clone())
                    .collect(),
            }
        } else {
            Vec::new()
        };
        let existing = meeting
            .registrants
            .iter()
            .find(|r| r.email.eq_ignore_ascii_case(&email))
            .cloned();
        let registrant = match existing {
            Some(registrant) => registrant,
            None => {
                let auto = body.get("auto_approve").and_then(Value::as_bool) == Some(true);
                let status = if auto || meeting.approval_type() == 0 {
                    "approved"
                } else {
                    "pending"
                };
                let token = URL_SAFE_NO_PAD.encode(
                    [
                        uuid::Uuid::new_v4().into_bytes(),
                        uuid::Uuid::new_v4().into_bytes(),
                    ]
                    .concat(),
                );
                let registrant = Registrant {
                    id: URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
                    email,
                    first_name,
                    last_name,
                    status: status.to_owned(),
                    join_url: format!("{JOIN_BASE}/w/{}?tk={token}", meeting.id),
                    occurrence_ids,
                };
                meeting.registrants.push(registrant.clone());
                registrant
            }
        };
        let occurrences: Vec<Value> = meeting
            .occurrences
            .iter()
            .filter(|o| registrant.occurrence_ids.contains(&o.id))
            .map(|o| o.json(meeting.duration))
            .collect();
        Ok((
            StatusCode::CREATED,
            Some(json!({
                "id": meeting.id,
                "registrant_id": registrant.id,
                "join_url": registrant.join_url,
                "start_time": zoom_time(meeting.start),
                "topic": meeting.topic,
                "occurrences": occurrences,
            })),
        ))
    }

    fn list_registrants(&self, meeting_id: &str, query: &HashMap<String, String>) -> Answer {
        let meeting = self.meeting(meeting_id)?;
        let status = query
            .get("status")
            .map_or("approved", String::as_str)
            .to_owned();
        if !matches!(status.as_str(), "approved" | "pending" | "denied") {
            return Err(invalid("status", "one of approved, pending, denied"));
        }
        let occurrence = query.get("occurrence_id").filter(|s| !s.is_empty());
        let registrants: Vec<Value> = meeting
            .registrants
            .iter()
            .filter(|r| r.status == status)
            .filter(|r| occurrence.is_none_or(|o| r.occurrence_ids.contains(o)))
            .map(|r| {
                json!({
                    "id": r.id,
                    "email": r.email,
                    "first_name": r.first_name,
                    "last_name": r.last_name,
                    "status": r.status,
                    "join_url": r.join_url,
                    "custom_questions": [],
                })
            })
            .collect();
        let total = registrants.len();
        let scope = format!(
            "registrants:{}:{status}:{}",
            meeting.id,
            occurrence.map_or("", String::as_str)
        );
        let (registrants, next, size) = page(&registrants, query, &scope)?;
        Ok((
            StatusCode::OK,
            Some(json!({
                "page_size": size,
                "total_records": total,
                "next_page_token": next,
                "registrants": registrants,
            })),
        ))
    }

    fn registrant_status(&mut self, meeting_id: &str, body: &[u8]) -> Answer {
        let meeting = self.meeting_mut(meeting_id)?;
        if meeting.approval_type() == 2 {
            return Err(zoom_error(
                400,
                3000,
                &format!("Registration has not been enabled for this meeting: {meeting_id}."),
            ));
        }
        let body = json_body(body)?;
        let action = body
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = match action {
            "approve" => "approved",
            // A cancelled registration leaves the approved list for denied.
            "deny" | "cancel" => "denied",
            _ => return Err(invalid("action", "one of approve, deny, cancel")),
        };
        let targets = match body.get("registrants") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => return Err(invalid("registrants", "must be an array")),
        };
        if targets.len() > MAX_STATUS_REGISTRANTS {
            return Err(invalid(
                "registrants",
                &format!("at most {MAX_STATUS_REGISTRANTS}"),
            ));
        }
        for target in &targets {
            let id = target.get("id").and_then(Value::as_str);
            let email = target.get("email").and_then(Value::as_str);
            for registrant in &mut meeting.registrants {
                if id == Some(registrant.id.as_str())
                    || email.is_some_and(|e| registrant.email.eq_ignore_ascii_case(e))
                {
                    status.clone_into(&mut registrant.status);
                }
            }
        }
        Ok((StatusCode::NO_CONTENT, None))
    }

    fn send_chat(&mut self, user_id: &str, body: &[u8]) -> Answer {
        self.user(user_id)?;
        let body = json_body(body)?;
        let message = body
            .get("message")
            .ok_or_else(|| invalid("message", "required"))
            .and_then(|v| text_field(v, "message", 4096))?;
        if message.is_empty() {
            return Err(invalid("message", "required"));
        }
        let channel_id = body
            .get("to_channel")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("to_channel", "required"))?;
        let channel = self.channels.get_mut(channel_id).ok_or_else(|| {
            zoom_error(404, 5301, &format!("Channel does not exist: {channel_id}."))
        })?;
        let id = uuid::Uuid::new_v4().to_string();
        channel.messages.push(ChatMessage {
            id: id.clone(),
            message,
            to_channel: channel_id.to_owned(),
        });
        Ok((StatusCode::CREATED, Some(json!({"id": id}))))
    }

    fn list_channels(&self, user_id: &str, query: &HashMap<String, String>) -> Answer {
        let user = self.user(user_id)?;
        let channels: Vec<Value> = self
            .channels
            .values()
            .map(|c| json!({"id": c.id, "name": c.name, "type": 3}))
            .collect();
        let total = channels.len();
        let (channels, next, size) = page(&channels, query, &format!("channels:{}", user.id))?;
        Ok((
            StatusCode::OK,
            Some(json!({
                "page_size": size,
                "total_records": total,
                "next_page_token": next,
                "channels": channels,
            })),
        ))
    }
}
