//! A conference session's own Slack conversation: a public channel made with
//! `conversations.create`, or, when Slack says the name is taken (an earlier
//! attempt whose answer was lost, or someone made it by hand), the open
//! public conversation of that name, found with `conversations.list`. So
//! opening a session's conversation twice never makes two.
//!
//! The purpose (Slack shows it as the channel's description) is set only on
//! a conversation made here: one people made keeps theirs. Setting it is a
//! nicety, so its failure is logged and the conversation still answered.
//!
//! Like every other call of the adapter, these are not paced ahead of time:
//! `conversations.create`, `conversations.list` and
//! `conversations.setPurpose` are all Tier 2 (20+ a minute), far above what
//! one session needs, and a 429 comes back as
//! [`AdapterError::RateLimited`] with Slack's `Retry-After` for the engine
//! to wait out.

use std::ops::ControlFlow;

use hub_core::ports::adapter::{AdapterError, OpenedGroup};
use serde_json::Value;

use crate::{
    SlackAdapter, blocks,
    client::{CallError, Effect},
};

/// conversations.setPurpose refuses a purpose longer than this
/// (`too_long`: "Purpose was longer than 250 characters").
const PURPOSE_LIMIT: usize = 250;

impl SlackAdapter {
    /// Opens the public conversation `name` about `purpose`, or answers the
    /// open one of that name Slack already has.
    pub(crate) async fn open_session(
        &self,
        name: &str,
        purpose: &str,
    ) -> Result<OpenedGroup, AdapterError> {
        let form = [
            ("name", name.to_owned()),
            ("is_private", "false".to_owned()),
        ];
        let created = self
            .client
            .call("conversations.create", &form, Effect::Write)
            .await;
        let id = match created {
            Ok(answer) => {
                let id = channel_id(&answer).ok_or_else(|| {
                    // It may exist now: a retry finds it by its name.
                    AdapterError::Transient(
                        "Slack's answer to conversations.create named no conversation".into(),
                    )
                })?;
                self.describe(&id, purpose).await;
                id
            }
            Err(CallError {
                slack_error: Some(error),
                ..
            }) if error == "name_taken" => self.find_open(name).await?.ok_or_else(|| {
                AdapterError::Permanent(format!(
                    "the name #{name} is taken in Slack, but not by an open public conversation the app can see (it may be archived or private): rename that conversation, or unarchive it, in Slack, then retry"
                ))
            })?,
            // Opening again is harmless (Slack then says the name is taken,
            // and that conversation is answered), so an unclear answer is a
            // retry, not something to look into first.
            Err(CallError {
                class: AdapterError::Ambiguous(message),
                ..
            }) => return Err(AdapterError::Transient(message)),
            Err(error) => return Err(error.class),
        };
        Ok(OpenedGroup {
            url: self.app_redirect(&id),
            id,
        })
    }

    /// The id of the open public conversation named `name`, reading
    /// `conversations.list` page by page until it is found.
    async fn find_open(&self, name: &str) -> Result<Option<String>, AdapterError> {
        let form = [
            ("types", "public_channel".to_owned()),
            ("exclude_archived", "true".to_owned()),
            ("limit", "1000".to_owned()),
        ];
        let mut found = None;
        self.client
            .pages("conversations.list", &form, usize::MAX, |answer| {
                found = answer["channels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|channel| channel["name"].as_str() == Some(name))
                    .and_then(|channel| channel["id"].as_str())
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned);
                if found.is_some() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .await?;
        Ok(found)
    }

    /// Sets the purpose of a conversation just made; a failure is logged,
    /// not answered, because the conversation exists either way.
    async fn describe(&self, conversation: &str, purpose: &str) {
        let purpose = purpose_text(purpose);
        if purpose.is_empty() {
            return;
        }
        let form = [("channel", conversation.to_owned()), ("purpose", purpose)];
        if let Err(error) = self
            .client
            .call("conversations.setPurpose", &form, Effect::Write)
            .await
        {
            tracing::warn!(
                conversation,
                error = %error.class,
                "Slack did not set the session conversation's purpose; the conversation is open without it"
            );
        }
    }

    /// Where a person opens `conversation`: Slack's redirect into the app
    /// (or the browser), in the channel's workspace when it is known.
    fn app_redirect(&self, conversation: &str) -> String {
        const BASE: &str = "https://slack.com/app_redirect?";
        let mut url = url::form_urlencoded::Serializer::for_suffix(BASE.to_owned(), BASE.len());
        url.append_pair("channel", conversation);
        if let Some(team) = self.settings.team_id.as_deref().map(str::trim)
            && !team.is_empty()
        {
            url.append_pair("team", team);
        }
        url.finish()
    }
}

/// The `channel.id` of an answer, when there is one.
fn channel_id(answer: &Value) -> Option<String> {
    answer["channel"]["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// `purpose` as Slack takes it: `&`, `<` and `>` escaped (they are Slack's
/// control characters), line breaks and other control characters as spaces,
/// and cut with an ellipsis to [`PURPOSE_LIMIT`] characters, never inside a
/// character or an escape.
fn purpose_text(purpose: &str) -> String {
    let pieces: Vec<String> = purpose
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() {
                " ".to_owned()
            } else {
                blocks::escape(c.encode_utf8(&mut [0; 4]))
            }
        })
        .collect();
    let length = |pieces: &[String]| pieces.iter().map(|p| p.chars().count()).sum::<usize>();
    if length(&pieces) <= PURPOSE_LIMIT {
        return pieces.concat();
    }
    let mut text = String::new();
    let mut used = 0;
    for piece in &pieces {
        let size = piece.chars().count();
        if used + size > PURPOSE_LIMIT - 1 {
            break;
        }
        text.push_str(piece);
        used += size;
    }
    text.truncate(text.trim_end().len());
    text.push('…');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_purpose_is_sent_escaped_and_whole() {
        assert_eq!(
            purpose_text("  Q&A on <data>\nsharing "),
            "Q&amp;A on &lt;data&gt; sharing"
        );
    }

    #[test]
    fn a_long_purpose_is_cut_to_slacks_limit_between_characters_and_escapes() {
        let long = "é😀".repeat(200);
        let cut = purpose_text(&long);
        assert_eq!(cut.chars().count(), PURPOSE_LIMIT);
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));

        // 248 letters, then an ampersand whose escape would cross the limit.
        let near = format!("{}&&", "a".repeat(248));
        let cut = purpose_text(&near);
        assert_eq!(cut, format!("{}…", "a".repeat(248)));
        assert!(cut.chars().count() <= PURPOSE_LIMIT);
    }
}
