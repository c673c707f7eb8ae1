//! Calls in Slack: a post in the announcement conversation showing the next
//! occurrence, and a reminder Slack itself sends 15 minutes before it
//! (`chat.scheduleMessage`). Changing the call (or cancelling the occurrence
//! the post shows) updates the post and replaces the reminder; cancelling the
//! call deletes the reminder and marks the post cancelled.
//!
//! The post carries the call's key as message metadata, so a schedule whose
//! answer was lost is found in the conversation's history, never posted
//! twice. Its reference is `conversation:ts`, with `#reminder-id` while a
//! reminder is scheduled.

use chrono::{DateTime, Duration, Utc};
use hub_core::{
    model::call::Call,
    ports::adapter::{AdapterError, CallReceipt, CallScope},
};
use serde_json::{Value, json};

use crate::{
    SlackAdapter, blocks,
    client::{CallError, Effect},
};

/// How long before a call its reminder goes out.
pub const REMINDER_LEAD: Duration = Duration::minutes(15);
/// Slack schedules messages at most this far ahead.
const FARTHEST_SCHEDULE_DAYS: i64 = 120;

/// A call as posted to Slack: what moving or cancelling it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPost {
    /// The conversation.
    pub conversation: String,
    /// The post's ts.
    pub ts: String,
    /// The scheduled reminder's id, when one is scheduled (none when the
    /// call starts within 15 minutes or is more than 120 days away).
    pub reminder: Option<String>,
}

/// The call's start in its own timezone and in UTC, for people.
fn when(call: &Call, start: DateTime<Utc>) -> String {
    let utc = start.format("%H:%M UTC");
    format!(
        "{} {} ({utc})",
        start
            .with_timezone(&call.timezone)
            .format("%A %-d %B %Y, %H:%M"),
        call.timezone.name()
    )
}

fn call_blocks(call: &Call, start: DateTime<Utc>, cancelled: bool) -> (String, Value) {
    let title = if cancelled {
        format!("Cancelled: {}", call.title)
    } else {
        call.title.clone()
    };
    let mut lines = vec![format!(
        "*{}* · {} minutes",
        blocks::escape(&when(call, start)),
        call.duration_minutes
    )];
    if cancelled {
        lines.push("This call is cancelled.".into());
    } else if let Some(url) = &call.join_url {
        lines.push(format!(
            "<{}|Join the call>",
            url.replace('|', "%7C").replace('>', "%3E")
        ));
    }
    let mut sections = vec![lines.join("\n")];
    sections.extend(blocks::sections(
        &blocks::render_body(&call.agenda),
        blocks::SECTION_LIMIT,
    ));
    let mut all = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": blocks::header(&title), "emoji": true},
    })];
    all.extend(
        sections
            .into_iter()
            .take(blocks::BLOCK_LIMIT - 1)
            .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})),
    );
    (title, Value::Array(all))
}

impl CallPost {
    /// The reference the hub keeps: `conversation:ts`, `#reminder` added
    /// while one is scheduled.
    #[must_use]
    pub fn to_ref(&self) -> String {
        match &self.reminder {
            Some(reminder) => format!("{}:{}#{reminder}", self.conversation, self.ts),
            None => format!("{}:{}", self.conversation, self.ts),
        }
    }

    /// Reads a reference made by [`CallPost::to_ref`].
    ///
    /// # Errors
    /// `Permanent` for anything else.
    pub fn from_ref(remote_ref: &str) -> Result<Self, AdapterError> {
        let (post, reminder) = match remote_ref.split_once('#') {
            Some((post, reminder)) => (post, Some(reminder.to_owned())),
            None => (remote_ref, None),
        };
        let (conversation, ts) = post
            .split_once(':')
            .filter(|(c, ts)| !c.is_empty() && !ts.is_empty() && !ts.contains(','))
            .ok_or_else(|| {
                AdapterError::Permanent(format!("{remote_ref:?} is not a Slack call post"))
            })?;
        Ok(Self {
            conversation: conversation.to_owned(),
            ts: ts.to_owned(),
            reminder,
        })
    }

    fn receipt(&self) -> CallReceipt {
        CallReceipt {
            remote_ref: self.to_ref(),
            join_url: None,
        }
    }
}

/// The start the post shows: the next occurrence still to come, else the
/// last one (a call wholly past or cancelled still reads sensibly).
fn shown_start(call: &Call, now: DateTime<Utc>) -> DateTime<Utc> {
    call.next_occurrence(now)
        .or_else(|| call.occurrences().last().copied())
        .map_or_else(|| call.starts_at(), |o| o.starts_at)
}

impl SlackAdapter {
    /// Schedules a call: finds the post an earlier attempt made under `key`
    /// (and brings it up to date), or posts it.
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    pub(crate) async fn schedule(
        &self,
        call: &Call,
        key: &str,
    ) -> Result<CallReceipt, AdapterError> {
        let now = Utc::now();
        let conversation = self.announce_to()?.to_owned();
        if let Some(thread) = self
            .find_thread(&conversation, key, call.created_at)
            .await?
            && let Some((ts, _)) = thread.parts.first()
        {
            let found = CallPost {
                conversation,
                ts: ts.clone(),
                reminder: None,
            };
            let moved = self
                .move_call(&found, call, shown_start(call, now), now)
                .await?;
            return Ok(moved.receipt());
        }
        let posted = self
            .post_call_with(call, shown_start(call, now), now, Some(key))
            .await?;
        Ok(posted.receipt())
    }

    /// Brings a call's post in line with the call (whatever the scope: the
    /// post shows the next occurrence).
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    pub(crate) async fn update_post(
        &self,
        remote_ref: &str,
        call: &Call,
    ) -> Result<CallReceipt, AdapterError> {
        let now = Utc::now();
        let posted = CallPost::from_ref(remote_ref)?;
        let moved = self
            .move_call(&posted, call, shown_start(call, now), now)
            .await?;
        Ok(moved.receipt())
    }

    /// Cancels the call (the post says so, no reminder) or one occurrence
    /// (the post moves on to the next).
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    pub(crate) async fn cancel_scope(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<Option<CallReceipt>, AdapterError> {
        let now = Utc::now();
        let posted = CallPost::from_ref(remote_ref)?;
        if scope == CallScope::Series || call.next_occurrence(now).is_none() {
            self.cancel_post(&posted, call, shown_start(call, now))
                .await?;
            let done = CallPost {
                reminder: None,
                ..posted
            };
            return Ok(Some(done.receipt()));
        }
        let moved = self
            .move_call(&posted, call, shown_start(call, now), now)
            .await?;
        Ok(Some(moved.receipt()))
    }

    /// Posts a call starting at `start` and schedules its reminder.
    ///
    /// # Errors
    /// Any [`AdapterError`] class of the post; a reminder Slack refuses is
    /// left out, not an error.
    pub async fn post_call(
        &self,
        call: &Call,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<CallPost, AdapterError> {
        self.post_call_with(call, start, now, None).await
    }

    async fn post_call_with(
        &self,
        call: &Call,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        key: Option<&str>,
    ) -> Result<CallPost, AdapterError> {
        let conversation = self.announce_to()?.to_owned();
        let (text, blocks) = call_blocks(call, start, false);
        let mut form = vec![
            ("channel", conversation.clone()),
            ("text", text),
            ("blocks", blocks.to_string()),
            ("unfurl_links", "false".to_owned()),
        ];
        if let Some(key) = key {
            form.push(("metadata", crate::single_part_metadata(key).to_string()));
        }
        let answer = self
            .client
            .call("chat.postMessage", &form, Effect::Write)
            .await?;
        let ts = answer["ts"].as_str().unwrap_or_default().to_owned();
        let reminder = self
            .schedule_reminder(&conversation, &ts, call, start, now)
            .await?;
        Ok(CallPost {
            conversation,
            ts,
            reminder,
        })
    }

    /// Moves a posted call to `start`: the post is updated and the reminder
    /// replaced.
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    pub async fn move_call(
        &self,
        posted: &CallPost,
        call: &Call,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<CallPost, AdapterError> {
        self.drop_reminder(posted).await?;
        let (text, blocks) = call_blocks(call, start, false);
        self.update(&posted.conversation, &posted.ts, text, &blocks)
            .await?;
        let reminder = self
            .schedule_reminder(&posted.conversation, &posted.ts, call, start, now)
            .await?;
        Ok(CallPost {
            reminder,
            ..posted.clone()
        })
    }

    /// Cancels a posted call: no reminder, and the post says so.
    ///
    /// # Errors
    /// Any [`AdapterError`] class.
    pub async fn cancel_post(
        &self,
        posted: &CallPost,
        call: &Call,
        start: DateTime<Utc>,
    ) -> Result<(), AdapterError> {
        self.drop_reminder(posted).await?;
        let (text, blocks) = call_blocks(call, start, true);
        self.update(&posted.conversation, &posted.ts, text, &blocks)
            .await
    }

    async fn update(
        &self,
        conversation: &str,
        ts: &str,
        text: String,
        blocks: &Value,
    ) -> Result<(), AdapterError> {
        let form = [
            ("channel", conversation.to_owned()),
            ("ts", ts.to_owned()),
            ("text", text),
            ("blocks", blocks.to_string()),
        ];
        self.client
            .call("chat.update", &form, Effect::Write)
            .await?;
        Ok(())
    }

    async fn schedule_reminder(
        &self,
        conversation: &str,
        thread_ts: &str,
        call: &Call,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, AdapterError> {
        let at = start - REMINDER_LEAD;
        // Too late for a reminder, or beyond what Slack schedules: none now.
        if at <= now + Duration::seconds(30) || at > now + Duration::days(FARTHEST_SCHEDULE_DAYS) {
            return Ok(None);
        }
        let mut text = format!("Starting in 15 minutes: {}", blocks::escape(&call.title));
        if let Some(url) = &call.join_url {
            text.push_str(&format!(
                " <{}|Join>",
                url.replace('|', "%7C").replace('>', "%3E")
            ));
        }
        let form = [
            ("channel", conversation.to_owned()),
            ("post_at", at.timestamp().to_string()),
            ("text", text),
            ("thread_ts", thread_ts.to_owned()),
            ("reply_broadcast", "true".to_owned()),
        ];
        match self
            .client
            .call("chat.scheduleMessage", &form, Effect::Write)
            .await
        {
            Ok(answer) => Ok(answer["scheduled_message_id"].as_str().map(str::to_owned)),
            Err(CallError {
                slack_error: Some(error),
                ..
            }) if error == "time_in_past" || error == "time_too_far" => Ok(None),
            Err(error) => Err(error.class),
        }
    }

    async fn drop_reminder(&self, posted: &CallPost) -> Result<(), AdapterError> {
        let Some(id) = &posted.reminder else {
            return Ok(());
        };
        let form = [
            ("channel", posted.conversation.clone()),
            ("scheduled_message_id", id.clone()),
        ];
        match self
            .client
            .call("chat.deleteScheduledMessage", &form, Effect::Write)
            .await
        {
            Ok(_) => Ok(()),
            // Already sent or already deleted: nothing left to take back.
            Err(CallError {
                slack_error: Some(error),
                ..
            }) if error == "invalid_scheduled_message_id" => Ok(()),
            Err(error) => Err(error.class),
        }
    }
}
