//! Calls in Slack: a post in the announcement conversation and a reminder
//! Slack itself sends 15 minutes before (`chat.scheduleMessage`). Moving a
//! call updates the post and replaces the reminder; cancelling deletes the
//! reminder and marks the post cancelled.

use chrono::{DateTime, Duration, Utc};
use hub_core::{model::call::Call, ports::adapter::AdapterError};
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

impl SlackAdapter {
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
        let conversation = self.announce_to()?.to_owned();
        let (text, blocks) = call_blocks(call, start, false);
        let form = [
            ("channel", conversation.clone()),
            ("text", text),
            ("blocks", blocks.to_string()),
            ("unfurl_links", "false".to_owned()),
        ];
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
    pub async fn cancel_call(
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
