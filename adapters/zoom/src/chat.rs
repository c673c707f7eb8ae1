//! Announcements as Zoom Team Chat messages: the title, a blank line and the
//! Markdown body as plain text, sent to the channel the lead chose by the
//! user the settings name. Team Chat takes at most 4,096 characters, so a
//! longer announcement is cut with a note pointing to the community page.

use hub_core::{
    model::announcement::Announcement,
    ports::adapter::{AdapterError, Receipt},
};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use reqwest::Method;
use serde_json::json;

use crate::{ZoomAdapter, pacer::Rate, refused};

/// Zoom's longest Team Chat message, in characters.
pub const MESSAGE_LIMIT: usize = 4096;
/// What ends a message cut to fit.
pub const CONTINUED: &str = "…\n\n(continued on the community page)";

/// Markdown as plain text: paragraphs apart, list items marked, links
/// followed by their address, emphasis and HTML dropped.
#[must_use]
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::new();
    // Each open list: the next number of an ordered one.
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<String> = Vec::new();
    let end_block = |out: &mut String, in_list: bool| {
        let out_trimmed = out.trim_end_matches([' ', '\n']).len();
        out.truncate(out_trimmed);
        if !out.is_empty() {
            out.push_str(if in_list { "\n" } else { "\n\n" });
        }
    };
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::List(first)) => {
                end_block(&mut out, !lists.is_empty());
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                end_block(&mut out, !lists.is_empty());
            }
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&"   ".repeat(lists.len().saturating_sub(1)));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("• "),
                }
            }
            Event::End(TagEnd::Item) => end_block(&mut out, true),
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = links.pop()
                    && !url.is_empty()
                    && !out.ends_with(url.as_str())
                {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::Text(text) | Event::Code(text) => out.push_str(&text),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            Event::Rule => {
                end_block(&mut out, false);
                out.push_str("———");
                end_block(&mut out, false);
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_),
            ) => end_block(&mut out, !lists.is_empty()),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The message for an announcement, cut to [`MESSAGE_LIMIT`] characters.
#[must_use]
pub fn message_text(announcement: &Announcement) -> String {
    let body = plain_text(&announcement.body_markdown);
    let title = announcement.title.trim();
    let text = if body.is_empty() {
        title.to_owned()
    } else {
        format!("{title}\n\n{body}")
    };
    if text.chars().count() <= MESSAGE_LIMIT {
        return text;
    }
    let room = MESSAGE_LIMIT - CONTINUED.chars().count();
    let kept: String = text.chars().take(room).collect();
    format!("{}{CONTINUED}", kept.trim_end())
}

impl ZoomAdapter {
    /// Sends an announcement to the Team Chat channel.
    pub(crate) async fn send_chat(
        &self,
        announcement: &Announcement,
    ) -> Result<Receipt, AdapterError> {
        let Some(channel) = &self.settings.chat_channel else {
            return Err(AdapterError::Unsupported(
                "posting: choose a Team Chat channel (chat_channel) in the Zoom channel's settings"
                    .into(),
            ));
        };
        let body = json!({
            "message": message_text(announcement),
            "to_channel": channel,
        });
        let what = format!("post {:?} to Team Chat", announcement.title);
        let answer = self
            .call(
                Rate::Medium,
                Method::POST,
                &format!("/chat/users/{}/messages", self.settings.chat_user),
                Some(&body),
            )
            .await
            .map_err(refused(&what))?;
        Ok(Receipt {
            remote_ref: answer["id"].as_str().unwrap_or_default().to_owned(),
            url: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_readable_plain_text() {
        let text = plain_text(
            "# Agenda\n\nWe meet *Tuesday*, see [the notes](https://example.org/n).\n\n\
             1. News\n2. **Open** floor\n   - questions\n\n- one\n- two\n\n<b>raw</b> `code`",
        );
        assert_eq!(
            text,
            "Agenda\n\nWe meet Tuesday, see the notes (https://example.org/n).\n\n\
             1. News\n2. Open floor\n   • questions\n\n• one\n• two\n\nraw code"
        );
        assert_eq!(plain_text("<https://example.org>"), "https://example.org");
    }
}
