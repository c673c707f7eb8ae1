//! cophub's Slack channel: one workspace connection, the conversations it
//! posts to and mirrors, reached through Slack's Web API with the bot token
//! an OAuth v2 install (or an operator pasting a token) gave.
//!
//! - Members: the workspace's people (`users.list`), without bots, deleted
//!   accounts and (unless the lead asks) guests; people without a visible
//!   email are listed as unmatched. Export invites workspace members into the
//!   community's conversations (`conversations.invite`, 1,000 at a time) and
//!   takes people out with `conversations.kick`. Slack has no API to invite a
//!   new person into a workspace outside Enterprise Grid, so such people are
//!   reported to the lead, who sends them the workspace's invite link.
//! - Announcements: Block Kit (see [`blocks`]), split into a thread when
//!   long, at most one message a second per conversation, each part carrying
//!   our delivery id as message metadata, so a retry finds what already went
//!   out (`conversations.history`, `conversations.replies`) and posts only
//!   the rest.
//! - Calls: a post showing the next occurrence, with a reminder Slack sends
//!   15 minutes before (see [`calls`]).
//! - Sessions: a conference session's own public conversation, made once
//!   and found by its name on a retry (see `sessions`).

pub mod blocks;
pub mod calls;
pub mod client;
pub mod events;
pub mod oauth;
mod sessions;

use std::{
    collections::{HashMap, HashSet},
    ops::ControlFlow,
    time::Duration,
};

use async_trait::async_trait;
use hub_core::{
    Email,
    model::{announcement::Announcement, call::Call},
    ports::adapter::{
        AdapterError, CallReceipt, CallScope, Capabilities, ChannelAdapter, ChannelEvent,
        GroupChanges, OpenedGroup, OutsideInvite, PreviewFormat, PreviewPart, Receipt, RemoteGroup,
        RemoteMember, RemotePage,
    },
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell};

use crate::{
    blocks::Mention,
    client::{CallError, Effect, SlackClient},
};

/// The event type of the metadata our messages carry.
const METADATA_EVENT: &str = "cophub_announcement";
/// Slack lets `conversations.invite` name at most this many people.
const INVITE_CHUNK: usize = 1000;
/// Slack posts about one message a second per conversation.
const POST_SPACING: Duration = Duration::from_millis(1050);
/// A reply that is rate limited waits in place at most this long.
const LONGEST_WAIT_IN_THREAD: Duration = Duration::from_secs(60);
/// How many pages of history a lookup reads at most.
const HISTORY_PAGES: usize = 10;

/// Where this deployment reaches Slack: one app, the operator's.
#[derive(Debug, Clone)]
pub struct SlackApi {
    /// The Web API base, `https://slack.com/api/`.
    pub api_url: String,
    /// Each call gives up after this long.
    pub timeout: Duration,
}

impl Default for SlackApi {
    fn default() -> Self {
        Self {
            api_url: "https://slack.com/api/".into(),
            timeout: Duration::from_secs(15),
        }
    }
}

/// A Slack channel's settings, as the install or the lead sets them.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// The conversations the community uses, by id (`C0123ABC`); the first
    /// receives announcements. None yet: members are mirrored, nothing posted.
    #[serde(default)]
    pub conversations: Vec<String>,
    /// The workspace's id (`T…`), which routes its events here.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The workspace's name, for the lead.
    #[serde(default)]
    pub team_name: Option<String>,
    /// Mirror guests (single- and multi-channel) too.
    #[serde(default)]
    pub include_guests: bool,
    /// The workspace's invite link, shown to people not yet in it.
    #[serde(default)]
    pub invite_link: Option<String>,
    /// Notify `@here`, `@channel` or `@everyone` with each announcement.
    #[serde(default)]
    pub mention: Option<Mention>,
    /// Members per `users.list` page (Slack allows up to 1,000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_page_size() -> u32 {
    1000
}

/// The secret: the bot token, alone or as JSON with its refresh token.
#[derive(Debug, Clone, Deserialize)]
struct SlackSecret {
    bot_token: String,
}

/// Reads a channel's secret: `xoxb-…` pasted by hand, or the JSON an install
/// stores (`{"bot_token": "xoxb-…", …}`).
///
/// # Errors
/// `Permanent` when it is neither.
pub fn bot_token(secret: Option<&str>) -> Result<String, AdapterError> {
    let secret = secret.unwrap_or_default().trim();
    if secret.starts_with("xox") {
        return Ok(secret.to_owned());
    }
    serde_json::from_str::<SlackSecret>(secret)
        .map(|s| s.bot_token)
        .map_err(|_| {
            AdapterError::Permanent(
                "the Slack channel has no bot token: install the app from the Channels page or paste a bot token (xoxb-…)".into(),
            )
        })
}

/// A Slack workspace connection.
#[derive(Debug)]
pub struct SlackAdapter {
    client: SlackClient,
    settings: SlackSettings,
    /// Who is in each conversation, read once per adapter (one sync run).
    conversation_members: Mutex<HashMap<String, HashSet<String>>>,
    /// The bot's own user id.
    bot_user: OnceCell<String>,
}

impl SlackAdapter {
    /// An adapter for one channel, from its settings and decrypted secret.
    ///
    /// # Errors
    /// `Permanent` with a sentence for the lead when either is unusable.
    pub fn new(
        api: &SlackApi,
        settings: &Value,
        secret: Option<&str>,
    ) -> Result<Self, AdapterError> {
        let settings: SlackSettings = serde_json::from_value(settings.clone()).map_err(|e| {
            AdapterError::Permanent(format!(
                "Slack settings: {e} (expected conversations, a list of conversation ids such as C0123ABC; optionally team_id, team_name, include_guests, invite_link, mention, page_size)"
            ))
        })?;
        for id in &settings.conversations {
            if !is_conversation_id(id) {
                return Err(AdapterError::Permanent(format!(
                    "{id:?} is not a Slack conversation id (it looks like C0123ABC; the Channels page lists them)"
                )));
            }
        }
        let token = bot_token(secret)?;
        Ok(Self {
            client: SlackClient::new(&api.api_url, &token, api.timeout)?,
            settings,
            conversation_members: Mutex::new(HashMap::new()),
            bot_user: OnceCell::new(),
        })
    }

    /// The conversation announcements go to.
    fn announce_to(&self) -> Result<&str, AdapterError> {
        self.settings
            .conversations
            .first()
            .map(String::as_str)
            .ok_or_else(|| {
                AdapterError::Permanent(
                    "the Slack channel has no conversation to post to: choose one on the channel's page".into(),
                )
            })
    }

    async fn bot_user(&self) -> Result<&str, AdapterError> {
        self.bot_user
            .get_or_try_init(|| async {
                let answer = self.client.call("auth.test", &[], Effect::Read).await?;
                Ok::<_, AdapterError>(answer["user_id"].as_str().unwrap_or_default().to_owned())
            })
            .await
            .map(String::as_str)
    }

    /// Calls a method in `conversation`; when the bot is not in it, joins it
    /// (public conversations let an app join by itself) and calls once more.
    async fn call_in(
        &self,
        conversation: &str,
        method: &str,
        form: &[(&str, String)],
        effect: Effect,
    ) -> Result<Value, CallError> {
        match self.client.call(method, form, effect).await {
            Err(CallError {
                slack_error: Some(error),
                ..
            }) if error == "not_in_channel" => {
                let join = [("channel", conversation.to_owned())];
                match self
                    .client
                    .call("conversations.join", &join, Effect::Write)
                    .await
                {
                    Ok(_) => {}
                    Err(CallError {
                        slack_error: Some(error),
                        ..
                    }) if error == "method_not_supported_for_channel_type" => {
                        return Err(CallError {
                            slack_error: Some("not_in_channel".into()),
                            class: AdapterError::Permanent(format!(
                                "the app is not in the private conversation {conversation}: invite it there in Slack (/invite @app), then retry"
                            )),
                        });
                    }
                    Err(error) => return Err(error),
                }
                self.client.call(method, form, effect).await
            }
            other => other,
        }
    }

    /// Everyone in `conversation`, read through every page once per adapter.
    async fn members_of(&self, conversation: &str) -> Result<HashSet<String>, AdapterError> {
        let mut cache = self.conversation_members.lock().await;
        if let Some(members) = cache.get(conversation) {
            return Ok(members.clone());
        }
        let mut members = HashSet::new();
        let form = [
            ("channel", conversation.to_owned()),
            ("limit", "1000".to_owned()),
        ];
        self.client
            .pages("conversations.members", &form, usize::MAX, |answer| {
                members.extend(
                    answer["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned),
                );
                ControlFlow::Continue(())
            })
            .await?;
        cache.insert(conversation.to_owned(), members.clone());
        Ok(members)
    }

    /// Our earlier messages for `key` in the announcement conversation: the
    /// top message's ts and, per part, its ts and the sections it held.
    async fn find_thread(
        &self,
        conversation: &str,
        key: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<PostedThread>, AdapterError> {
        let oldest = format!("{}.000000", since.timestamp() - 300);
        let form = [
            ("channel", conversation.to_owned()),
            ("oldest", oldest),
            ("limit", "200".to_owned()),
            ("include_all_metadata", "true".to_owned()),
        ];
        let mut head: Option<(String, Part, bool)> = None;
        self.client
            .pages("conversations.history", &form, HISTORY_PAGES, |answer| {
                head = answer["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|message| {
                        let part = ours(message, key)?;
                        let ts = message["ts"].as_str().unwrap_or_default().to_owned();
                        let replies = message["reply_count"].as_u64().unwrap_or(0) > 0;
                        Some((ts, part, replies))
                    });
                if head.is_some() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await?;
        let Some((ts, part, replies)) = head else {
            return Ok(None);
        };
        let mut thread = PostedThread {
            parts: vec![(ts.clone(), part)],
        };
        if replies {
            self.read_replies(conversation, &ts, key, &mut thread)
                .await?;
        }
        Ok(Some(thread))
    }

    async fn read_replies(
        &self,
        conversation: &str,
        ts: &str,
        key: &str,
        thread: &mut PostedThread,
    ) -> Result<(), AdapterError> {
        let form = [
            ("channel", conversation.to_owned()),
            ("ts", ts.to_owned()),
            ("limit", "200".to_owned()),
            ("include_all_metadata", "true".to_owned()),
        ];
        self.client
            .pages("conversations.replies", &form, usize::MAX, |answer| {
                for message in answer["messages"].as_array().into_iter().flatten() {
                    let reply_ts = message["ts"].as_str().unwrap_or_default();
                    if reply_ts == ts {
                        continue; // the thread's top message comes first in every page
                    }
                    if let Some(part) = ours(message, key) {
                        thread.parts.push((reply_ts.to_owned(), part));
                    }
                }
                ControlFlow::Continue(())
            })
            .await?;
        thread.parts.sort_by_key(|(_, part)| part.first);
        Ok(())
    }

    /// Posts the sections from `thread`'s end on, as replies (or as the
    /// top message when nothing went out yet). Returns the finished thread.
    async fn post_rest(
        &self,
        conversation: &str,
        announcement: &Announcement,
        key: &str,
        mut thread: PostedThread,
    ) -> Result<PostedThread, AdapterError> {
        let header = blocks::header(&announcement.title);
        let sections = blocks::body_sections(
            &blocks::render_body(&announcement.body_markdown),
            self.settings.mention,
        );
        let mut budget = INITIAL_BUDGET;
        let mut at = thread.next_section();
        let mut last_post: Option<tokio::time::Instant> = None;
        while thread.parts.is_empty() || at < sections.len() {
            let first = thread.parts.is_empty();
            let (message, taken) =
                blocks::next_message(&header, first, thread.parts.len(), &sections[at..], budget);
            let part = Part {
                first: at,
                count: taken,
                total: sections.len(),
            };
            if let Some(last) = last_post {
                tokio::time::sleep_until(last + POST_SPACING).await;
            }
            let mut form = vec![
                ("channel", conversation.to_owned()),
                ("text", message.text.clone()),
                ("blocks", Value::Array(message.blocks).to_string()),
                ("unfurl_links", "false".to_owned()),
                ("metadata", part.metadata(key).to_string()),
            ];
            if let Some((head, _)) = thread.parts.first() {
                form.push(("thread_ts", head.clone()));
            }
            let posted = self
                .call_in(conversation, "chat.postMessage", &form, Effect::Write)
                .await;
            last_post = Some(tokio::time::Instant::now());
            match posted {
                Ok(answer) => {
                    let ts = answer["ts"].as_str().unwrap_or_default().to_owned();
                    thread.parts.push((ts, part));
                    at += taken;
                }
                // Slack's size limit for a message's blocks sits below the
                // documented one and is not published: halve and try again.
                Err(CallError {
                    slack_error: Some(error),
                    ..
                }) if error == "msg_blocks_too_long" && budget > blocks::SECTION_LIMIT => {
                    budget /= 2;
                }
                Err(CallError {
                    class: AdapterError::RateLimited { retry_after },
                    ..
                }) if !first && retry_after <= LONGEST_WAIT_IN_THREAD => {
                    tokio::time::sleep(retry_after).await;
                }
                Err(error) if first => return Err(error.class),
                // The thread is started: what failed is settled by looking
                // (find_post), and a retry posts only the parts still missing.
                Err(error) => {
                    return Err(AdapterError::Ambiguous(format!(
                        "the announcement's thread stopped after part {}: {}",
                        thread.parts.len(),
                        error.class
                    )));
                }
            }
        }
        Ok(thread)
    }

    /// Invites `users` into `conversation`, 1,000 at a time; how many calls
    /// it took.
    async fn invite(&self, conversation: &str, users: &[String]) -> Result<u64, AdapterError> {
        let mut calls = 0;
        for chunk in users.chunks(INVITE_CHUNK) {
            calls += 1;
            let form = [
                ("channel", conversation.to_owned()),
                ("users", chunk.join(",")),
                ("force", "true".to_owned()),
            ];
            match self
                .call_in(conversation, "conversations.invite", &form, Effect::Write)
                .await
            {
                Ok(answer) => {
                    // With `force`, Slack invites whom it can and lists the rest.
                    for failed in answer["errors"].as_array().into_iter().flatten() {
                        tracing::info!(
                            conversation,
                            user = failed["user"].as_str().unwrap_or_default(),
                            error = failed["error"].as_str().unwrap_or_default(),
                            "Slack did not invite a member"
                        );
                    }
                }
                Err(CallError {
                    slack_error: Some(error),
                    ..
                }) if error == "already_in_channel" => {}
                // Inviting twice is harmless, so an unclear answer is a retry.
                Err(CallError {
                    class: AdapterError::Ambiguous(message),
                    ..
                }) => return Err(AdapterError::Transient(message)),
                Err(error) => return Err(error.class),
            }
        }
        Ok(calls)
    }
}

/// The first characters of the budget a message's text starts with; halved
/// each time Slack says the blocks are too long.
const INITIAL_BUDGET: usize = 24_000;

fn is_conversation_id(id: &str) -> bool {
    id.len() >= 9
        && matches!(id.as_bytes().first(), Some(b'C' | b'G'))
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Which sections of an announcement one message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct Part {
    first: usize,
    count: usize,
    total: usize,
}

impl Part {
    fn metadata(self, key: &str) -> Value {
        json!({
            "event_type": METADATA_EVENT,
            "event_payload": {
                "delivery": key,
                "first": self.first,
                "count": self.count,
                "total": self.total,
            },
        })
    }
}

/// The metadata of a message that is the whole of what `key` names (a
/// call's post).
pub(crate) fn single_part_metadata(key: &str) -> Value {
    Part {
        first: 0,
        count: 1,
        total: 1,
    }
    .metadata(key)
}

/// The part a message is, when it carries our metadata for `key`.
fn ours(message: &Value, key: &str) -> Option<Part> {
    let metadata = message.get("metadata")?;
    if metadata["event_type"].as_str()? != METADATA_EVENT
        || metadata["event_payload"]["delivery"].as_str()? != key
    {
        return None;
    }
    serde_json::from_value(metadata["event_payload"].clone()).ok()
}

/// The parts of an announcement already in Slack.
#[derive(Debug, Default)]
struct PostedThread {
    /// ts and part, the top message first.
    parts: Vec<(String, Part)>,
}

impl PostedThread {
    fn next_section(&self) -> usize {
        self.parts
            .last()
            .map_or(0, |(_, part)| part.first + part.count)
    }

    fn complete(&self) -> bool {
        self.parts
            .last()
            .is_some_and(|(_, part)| part.first + part.count >= part.total)
    }

    fn receipt(&self, conversation: &str) -> Receipt {
        let stamps: Vec<&str> = self.parts.iter().map(|(ts, _)| ts.as_str()).collect();
        Receipt {
            remote_ref: format!("{conversation}:{}", stamps.join(",")),
            url: None,
        }
    }
}

/// Reads a receipt's remote reference: the conversation and the ts of each
/// message of the thread, the top one first.
fn parse_ref(remote_ref: &str) -> Result<(&str, Vec<&str>), AdapterError> {
    let (conversation, stamps) = remote_ref.split_once(':').ok_or_else(|| {
        AdapterError::Permanent(format!("{remote_ref:?} is not a Slack message reference"))
    })?;
    let stamps: Vec<&str> = stamps.split(',').filter(|s| !s.is_empty()).collect();
    if stamps.is_empty() {
        return Err(AdapterError::Permanent(format!(
            "{remote_ref:?} names no Slack message"
        )));
    }
    Ok((conversation, stamps))
}

#[async_trait]
impl ChannelAdapter for SlackAdapter {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_members: true,
            manage_members: true,
            post: true,
            edit: true,
            per_recipient: false,
            calls: true,
        }
    }

    async fn list_members(&self, cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        let mut form = vec![("limit", self.settings.page_size.clamp(1, 1000).to_string())];
        if let Some(cursor) = cursor {
            form.push(("cursor", cursor.to_owned()));
        }
        let answer = self.client.call("users.list", &form, Effect::Read).await?;
        let Some(users) = answer["members"].as_array() else {
            return Err(AdapterError::Transient(
                "Slack's users.list answer had no members".into(),
            ));
        };
        let members = users
            .iter()
            .filter(|user| self.mirrors(user))
            .map(|user| RemoteMember {
                external_id: user["id"].as_str().unwrap_or_default().to_owned(),
                email: user["profile"]["email"]
                    .as_str()
                    .and_then(|email| Email::parse(email).ok()),
                name: display_name(user),
            })
            .collect();
        Ok(RemotePage {
            members,
            next_cursor: client::next_cursor(&answer),
        })
    }

    async fn add_member(&self, email: &Email, _name: &str) -> Result<String, AdapterError> {
        let link = self
            .settings
            .invite_link
            .as_deref()
            .map_or_else(String::new, |link| format!(" ({link})"));
        Err(AdapterError::Unsupported(format!(
            "{email} is not in the Slack workspace, and Slack lets only Enterprise Grid invite people by API: send them the workspace's invite link{link}"
        )))
    }

    async fn remove_member(&self, external_id: &str) -> Result<(), AdapterError> {
        for conversation in &self.settings.conversations {
            if !self.members_of(conversation).await?.contains(external_id) {
                continue;
            }
            let form = [
                ("channel", conversation.clone()),
                ("user", external_id.to_owned()),
            ];
            match self
                .client
                .call("conversations.kick", &form, Effect::Write)
                .await
            {
                Ok(_) => {}
                Err(CallError {
                    slack_error: Some(error),
                    ..
                }) if error == "not_in_channel" => {}
                Err(CallError {
                    class: AdapterError::Ambiguous(message),
                    ..
                }) => return Err(AdapterError::Transient(message)),
                Err(error) => return Err(error.class),
            }
            if let Some(members) = self.conversation_members.lock().await.get_mut(conversation) {
                members.remove(external_id);
            }
        }
        Ok(())
    }

    async fn settle_groups(
        &self,
        keep: &[String],
        departed: &[(String, String)],
    ) -> Result<GroupChanges, AdapterError> {
        let mut changes = GroupChanges::default();
        let bot = self.bot_user().await?.to_owned();
        changes.api_calls += 1;
        for conversation in &self.settings.conversations {
            let members = self.members_of(conversation).await?;
            changes.api_calls += 1;
            let left: HashSet<&str> = departed
                .iter()
                .filter(|(group, _)| group == conversation)
                .map(|(_, person)| person.as_str())
                .collect();
            let missing: Vec<String> = keep
                .iter()
                .filter(|id| !members.contains(*id) && **id != bot && !left.contains(id.as_str()))
                .cloned()
                .collect();
            changes.api_calls += self.invite(conversation, &missing).await?;
            changes.added += missing.len() as u64;
            if let Some(known) = self.conversation_members.lock().await.get_mut(conversation) {
                known.extend(missing);
            }
        }
        Ok(changes)
    }

    fn outside_invite(&self) -> Option<OutsideInvite> {
        let link = self.settings.invite_link.clone()?;
        let place = match &self.settings.team_name {
            Some(name) => format!("the Slack workspace {name}"),
            None => "the community's Slack workspace".to_owned(),
        };
        Some(OutsideInvite { place, link })
    }

    async fn list_groups(&self) -> Result<Vec<RemoteGroup>, AdapterError> {
        let mut groups = Vec::new();
        let form = [
            ("types", "public_channel,private_channel".to_owned()),
            ("exclude_archived", "true".to_owned()),
            ("limit", "1000".to_owned()),
        ];
        self.client
            .pages("conversations.list", &form, usize::MAX, |answer| {
                groups.extend(
                    answer["channels"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| RemoteGroup {
                            id: c["id"].as_str().unwrap_or_default().to_owned(),
                            name: c["name"].as_str().unwrap_or_default().to_owned(),
                            private: c["is_private"].as_bool().unwrap_or(false),
                            members: c["num_members"].as_u64().unwrap_or(0),
                        })
                        .filter(|group| !group.id.is_empty()),
                );
                ControlFlow::Continue(())
            })
            .await?;
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    async fn open_group(&self, name: &str, purpose: &str) -> Result<OpenedGroup, AdapterError> {
        self.open_session(name, purpose).await
    }

    async fn post(
        &self,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let conversation = self.announce_to()?;
        let since = announcement.send_at.unwrap_or(announcement.created_at);
        // Look first: an earlier attempt may have posted some or all of it.
        let thread = self
            .find_thread(conversation, idempotency_key, since)
            .await?
            .unwrap_or_default();
        if thread.complete() {
            return Ok(thread.receipt(conversation));
        }
        let thread = self
            .post_rest(conversation, announcement, idempotency_key, thread)
            .await?;
        Ok(thread.receipt(conversation))
    }

    async fn schedule_call(
        &self,
        call: &Call,
        idempotency_key: &str,
    ) -> Result<CallReceipt, AdapterError> {
        self.schedule(call, idempotency_key).await
    }

    async fn update_call(
        &self,
        remote_ref: &str,
        call: &Call,
        _scope: CallScope,
    ) -> Result<CallReceipt, AdapterError> {
        self.update_post(remote_ref, call).await
    }

    async fn cancel_call(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<Option<CallReceipt>, AdapterError> {
        self.cancel_scope(remote_ref, call, scope).await
    }

    async fn find_post(&self, idempotency_key: &str) -> Result<Option<Receipt>, AdapterError> {
        let conversation = self.announce_to()?;
        // Ambiguity is settled right after the attempt: a day of history is plenty.
        let since = chrono::Utc::now() - chrono::Duration::days(1);
        let thread = self
            .find_thread(conversation, idempotency_key, since)
            .await?;
        // A thread cut short is not done: the retry's post() finishes it.
        Ok(thread
            .filter(PostedThread::complete)
            .map(|thread| thread.receipt(conversation)))
    }

    async fn edit(
        &self,
        remote_ref: &str,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let (conversation, stamps) = parse_ref(remote_ref)?;
        let rendered = blocks::messages(
            &announcement.title,
            &blocks::render_body(&announcement.body_markdown),
            self.settings.mention,
            INITIAL_BUDGET / 2,
        );
        let mut kept: Vec<String> = Vec::new();
        for (index, message) in rendered.iter().enumerate() {
            let blocks = Value::Array(message.blocks.clone()).to_string();
            if let Some(ts) = stamps.get(index) {
                let form = [
                    ("channel", conversation.to_owned()),
                    ("ts", (*ts).to_owned()),
                    ("text", message.text.clone()),
                    ("blocks", blocks),
                ];
                self.client
                    .call("chat.update", &form, Effect::Write)
                    .await
                    .map_err(AdapterError::from)?;
                kept.push((*ts).to_owned());
            } else {
                let form = [
                    ("channel", conversation.to_owned()),
                    ("thread_ts", stamps[0].to_owned()),
                    ("text", message.text.clone()),
                    ("blocks", blocks),
                    ("metadata", json!({"event_type": METADATA_EVENT, "event_payload": {"delivery": idempotency_key, "edit": true}}).to_string()),
                ];
                tokio::time::sleep(POST_SPACING).await;
                let answer = self
                    .client
                    .call("chat.postMessage", &form, Effect::Write)
                    .await
                    .map_err(AdapterError::from)?;
                kept.push(answer["ts"].as_str().unwrap_or_default().to_owned());
            }
        }
        // A shorter text needs fewer replies: the extra ones go.
        for ts in stamps.iter().skip(rendered.len()) {
            self.delete(conversation, ts).await?;
        }
        Ok(Receipt {
            remote_ref: format!("{conversation}:{}", kept.join(",")),
            url: None,
        })
    }

    async fn retract(&self, remote_ref: &str, _idempotency_key: &str) -> Result<(), AdapterError> {
        let (conversation, stamps) = parse_ref(remote_ref)?;
        // Replies first, so a failure halfway leaves the top message to retry on.
        for ts in stamps.iter().rev() {
            self.delete(conversation, ts).await?;
        }
        Ok(())
    }

    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        let conversation = self.announce_to()?;
        let messages = blocks::messages(
            &announcement.title,
            &blocks::render_body(&announcement.body_markdown),
            self.settings.mention,
            INITIAL_BUDGET,
        );
        let count = messages.len();
        Ok(messages
            .into_iter()
            .enumerate()
            .map(|(at, message)| PreviewPart {
                label: if count == 1 {
                    format!("Slack message to {conversation}")
                } else {
                    format!(
                        "Slack message {} of {count} (a thread) to {conversation}",
                        at + 1
                    )
                },
                format: PreviewFormat::Json,
                content: serde_json::to_string_pretty(&json!({
                    "channel": conversation,
                    "text": message.text,
                    "blocks": message.blocks,
                }))
                .unwrap_or_default(),
            })
            .collect())
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.client.call("auth.test", &[], Effect::Read).await?;
        Ok(())
    }

    fn interpret_event(&self, payload: &Value) -> ChannelEvent {
        let event = &payload["event"];
        let kind = event["type"].as_str().unwrap_or_default();
        match kind {
            "team_join" | "user_change" => {
                let user = &event["user"];
                let person = RemoteMember {
                    external_id: user["id"].as_str().unwrap_or_default().to_owned(),
                    email: user["profile"]["email"]
                        .as_str()
                        .and_then(|email| Email::parse(email).ok()),
                    name: display_name(user),
                };
                if person.external_id.is_empty() {
                    return ChannelEvent::Ignore(format!("a {kind} event without a user"));
                }
                let bot = user["is_bot"].as_bool().unwrap_or(false)
                    || user["is_app_user"].as_bool().unwrap_or(false)
                    || person.external_id == "USLACKBOT";
                if bot {
                    ChannelEvent::Ignore(format!("{} is a bot", person.external_id))
                } else if self.mirrors(user) {
                    ChannelEvent::MemberPresent(person)
                } else {
                    // Deactivated, or a guest the lead does not mirror: as a sync would see it, gone.
                    ChannelEvent::MemberGone(person)
                }
            }
            "tokens_revoked" => {
                let bots = event["tokens"]["bot"].as_array().map_or(0, Vec::len);
                if bots > 0 {
                    ChannelEvent::AccessRevoked("Slack revoked the app's bot token".into())
                } else {
                    ChannelEvent::Ignore("only user tokens were revoked".into())
                }
            }
            "app_uninstalled" => ChannelEvent::AccessRevoked(
                "the Slack app was uninstalled from the workspace".into(),
            ),
            "member_joined_channel" | "member_left_channel" => {
                let group = event["channel"].as_str().unwrap_or_default();
                let person = event["user"].as_str().unwrap_or_default();
                if person.is_empty() || !self.settings.conversations.iter().any(|c| c == group) {
                    return ChannelEvent::Ignore(format!(
                        "{group} is not one of the community's conversations"
                    ));
                }
                ChannelEvent::GroupMembership {
                    group: group.to_owned(),
                    external_id: person.to_owned(),
                    joined: kind == "member_joined_channel",
                }
            }
            other => ChannelEvent::Ignore(format!("{other} events are not used")),
        }
    }
}

impl SlackAdapter {
    /// Whether a workspace account is a person the mirror counts.
    fn mirrors(&self, user: &Value) -> bool {
        let flag = |name: &str| user[name].as_bool().unwrap_or(false);
        let id = user["id"].as_str().unwrap_or_default();
        let guest = flag("is_restricted") || flag("is_ultra_restricted");
        !id.is_empty()
            && id != "USLACKBOT"
            && !flag("is_bot")
            && !flag("is_app_user")
            && !flag("deleted")
            && (self.settings.include_guests || !guest)
    }

    async fn delete(&self, conversation: &str, ts: &str) -> Result<(), AdapterError> {
        let form = [("channel", conversation.to_owned()), ("ts", ts.to_owned())];
        match self.client.call("chat.delete", &form, Effect::Write).await {
            Ok(_) => Ok(()),
            Err(CallError {
                slack_error: Some(error),
                ..
            }) if error == "message_not_found" => Ok(()),
            Err(error) => Err(error.class),
        }
    }
}

/// A person's name as Slack shows it.
fn display_name(user: &Value) -> String {
    [
        &user["profile"]["real_name"],
        &user["real_name"],
        &user["profile"]["display_name"],
        &user["name"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .find(|name| !name.trim().is_empty())
    .unwrap_or_default()
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_token_or_an_installs_json_is_a_bot_token() {
        assert_eq!(
            bot_token(Some(" xoxb-1-abc ")).ok().as_deref(),
            Some("xoxb-1-abc")
        );
        assert_eq!(
            bot_token(Some(r#"{"bot_token":"xoxb-2","refresh_token":"xoxe-1"}"#))
                .ok()
                .as_deref(),
            Some("xoxb-2")
        );
        assert!(matches!(
            bot_token(Some("hunter2")),
            Err(AdapterError::Permanent(_))
        ));
        assert!(matches!(bot_token(None), Err(AdapterError::Permanent(_))));
    }

    #[test]
    fn settings_name_conversations_by_id() {
        let api = SlackApi::default();
        let bad = SlackAdapter::new(
            &api,
            &json!({"conversations": ["#general"]}),
            Some("xoxb-1"),
        );
        assert!(matches!(bad, Err(AdapterError::Permanent(m)) if m.contains("#general")));
        let good = SlackAdapter::new(
            &api,
            &json!({"conversations": ["C0123ABCD"]}),
            Some("xoxb-1"),
        );
        assert!(good.is_ok());
    }

    #[test]
    fn a_reference_names_the_conversation_and_every_part() {
        let (conversation, stamps) = parse_ref("C0123ABCD:1.000100,1.000200").unwrap_or_default();
        assert_eq!(conversation, "C0123ABCD");
        assert_eq!(stamps, ["1.000100", "1.000200"]);
        assert!(parse_ref("C0123ABCD:").is_err());
    }
}
