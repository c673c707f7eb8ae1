//! Announcements as Block Kit: a header, then sections of mrkdwn rendered
//! from the Markdown body, split into as many messages (a thread) as Slack's
//! limits need.
//!
//! Splitting never cuts inside an escape (`&amp;`), a link (`<url|label>`),
//! a multibyte character or a code block (a code block too long for one
//! section is closed and reopened at a line break, so each part stays a
//! code block).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::{Value, json};

/// Block Kit: a section's text holds at most this many characters.
pub const SECTION_LIMIT: usize = 3000;
/// Block Kit: a message holds at most this many blocks.
pub const BLOCK_LIMIT: usize = 50;
/// Block Kit: a header's plain text holds at most this many characters.
pub const HEADER_LIMIT: usize = 150;

/// One paragraph-level piece of the body, already escaped for mrkdwn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text, lists, quotes, headings.
    Text(String),
    /// The inside of a code block, without its fences.
    Code(String),
}

/// Who a post notifies beyond the conversation's usual rules; nobody unless
/// the lead asks (Slack notifies only on `<!here>`-style tokens, which the
/// escaping keeps out of the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mention {
    /// `@here`: the active members.
    Here,
    /// `@channel`: every member of the conversation.
    Channel,
    /// `@everyone`: the whole workspace (only in #general).
    Everyone,
}

impl Mention {
    fn token(self) -> &'static str {
        match self {
            Self::Here => "<!here>",
            Self::Channel => "<!channel>",
            Self::Everyone => "<!everyone>",
        }
    }
}

/// Escapes text for mrkdwn: `&`, `<` and `>` are Slack's control characters.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL safe inside `<…|…>`: only web and mail links, with the characters
/// that would end the link encoded.
fn link_target(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:"))
    {
        return None;
    }
    if url.chars().count() > 2000 || url.chars().any(char::is_control) {
        return None;
    }
    Some(
        url.replace('&', "&amp;")
            .replace('<', "%3C")
            .replace('>', "%3E")
            .replace('|', "%7C")
            .replace(' ', "%20"),
    )
}

/// Renders a Markdown body as mrkdwn pieces.
#[must_use]
pub fn render_body(markdown: &str) -> Vec<Piece> {
    let mut renderer = Renderer::default();
    let options = Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.flush();
    renderer.pieces
}

#[derive(Debug, Default)]
struct Renderer {
    pieces: Vec<Piece>,
    current: String,
    code: Option<String>,
    /// Open lists: the next number of an ordered one, `None` for bullets.
    lists: Vec<Option<u64>>,
    quote_depth: usize,
    /// Open links: their target, when it can be linked.
    links: Vec<Option<String>>,
    /// Where the open link's label starts in `current`.
    label_starts: Vec<usize>,
}

impl Renderer {
    fn flush(&mut self) {
        let text = self.current.trim_end().to_owned();
        self.current.clear();
        if !text.trim().is_empty() {
            self.pieces.push(Piece::Text(text));
        }
    }

    fn line_start(&mut self) {
        if !self.current.is_empty() && !self.current.ends_with('\n') {
            self.current.push('\n');
        }
        for _ in 0..self.quote_depth {
            self.current.push_str("&gt; ");
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(code) = &mut self.code {
            code.push_str(&escape(text).replace("```", FENCE_BROKEN));
        } else {
            // Literal triple backticks would open a code block in Slack.
            self.current
                .push_str(&escape(text).replace("```", FENCE_BROKEN));
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                self.current.push('`');
                self.current.push_str(&escape(&code));
                self.current.push('`');
            }
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html),
            Event::SoftBreak => self.current.push(' '),
            Event::HardBreak => self.line_start(),
            Event::Rule => {
                self.flush();
                self.pieces.push(Piece::Text("──────────".into()));
            }
            Event::TaskListMarker(done) => {
                self.current.push_str(if done { "☑ " } else { "☐ " })
            }
            Event::FootnoteReference(name) => self.text(&format!("[{name}]")),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.flush();
                } else if !self.current.is_empty()
                    && !self.current.ends_with(' ')
                    && !self.current.ends_with('\n')
                {
                    self.line_start();
                }
            }
            Tag::Heading { .. } => {
                self.flush();
                self.current.push('*');
            }
            Tag::BlockQuote(_) => {
                if self.quote_depth == 0 && self.lists.is_empty() {
                    self.flush();
                }
                self.quote_depth += 1;
                self.line_start();
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.code = Some(String::new());
            }
            Tag::List(first) => {
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.flush();
                }
                self.lists.push(first);
            }
            Tag::Item => {
                self.line_start();
                let depth = self.lists.len().saturating_sub(1);
                self.current.push_str(&"    ".repeat(depth));
                match self.lists.last_mut() {
                    Some(Some(n)) => {
                        self.current.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => self.current.push_str("• "),
                }
            }
            Tag::Emphasis => self.current.push('_'),
            Tag::Strong => self.current.push('*'),
            Tag::Strikethrough => self.current.push('~'),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push(link_target(&dest_url));
                self.label_starts.push(self.current.len());
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph if self.lists.is_empty() && self.quote_depth == 0 => self.flush(),
            TagEnd::Heading(_) => {
                // mrkdwn has no headings: a bold line of its own stands in.
                self.current.push('*');
                self.flush();
            }
            TagEnd::BlockQuote(_) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                if self.quote_depth == 0 && self.lists.is_empty() {
                    self.flush();
                }
            }
            TagEnd::CodeBlock => {
                if let Some(code) = self.code.take() {
                    let code = code.trim_end_matches('\n').to_owned();
                    if !code.is_empty() {
                        self.pieces.push(Piece::Code(code));
                    }
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
                if self.lists.is_empty() && self.quote_depth == 0 {
                    self.flush();
                }
            }
            TagEnd::Emphasis => self.current.push('_'),
            TagEnd::Strong => self.current.push('*'),
            TagEnd::Strikethrough => self.current.push('~'),
            TagEnd::Link | TagEnd::Image => {
                let start = self.label_starts.pop().unwrap_or(self.current.len());
                let label = self.current.split_off(start.min(self.current.len()));
                match self.links.pop().flatten() {
                    Some(target) => {
                        // A label must not hold a link of its own or a line break.
                        let label = label.replace(['<', '>'], "").replace('\n', " ");
                        let label = if label.trim().is_empty() {
                            target.clone()
                        } else {
                            label
                        };
                        self.current.push_str(&format!("<{target}|{label}>"));
                    }
                    None => self.current.push_str(&label),
                }
            }
            _ => {}
        }
    }
}

/// The smallest pieces a split keeps whole: an escape, a link or one
/// character. Returns the byte ranges' ends.
fn atom_ends(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut ends = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let closing = match bytes[i] {
            b'<' => text[i..].find('>'),
            b'&' => text[i..].find(';').filter(|n| *n <= 5),
            _ => None,
        };
        let next = match closing {
            Some(n) => i + n + 1,
            None => i + text[i..].chars().next().map_or(1, char::len_utf8),
        };
        ends.push(next);
        i = next;
    }
    ends
}

/// Cuts `text` into parts of at most `limit` characters, at a line break
/// where one is near enough, else at a space, else between atoms.
fn cut_text(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > limit {
        let mut chars = 0;
        let mut last_fit = 0;
        let mut last_space = None;
        let mut last_newline = None;
        let mut start = 0;
        for end in atom_ends(rest) {
            let atom = &rest[start..end];
            chars += atom.chars().count();
            if chars > limit {
                break;
            }
            last_fit = end;
            if atom == "\n" {
                last_newline = Some(end);
            } else if atom.chars().all(char::is_whitespace) {
                last_space = Some(end);
            }
            start = end;
        }
        // A line break in the second half of the part beats a later space.
        let at = match (last_newline, last_space) {
            (Some(n), _) if n * 2 >= last_fit => n,
            (_, Some(s)) => s,
            (Some(n), None) => n,
            (None, None) => last_fit,
        };
        // An atom longer than the limit (a huge link) goes whole rather than broken.
        let at = if at == 0 {
            atom_ends(rest).first().copied().unwrap_or(rest.len())
        } else {
            at
        };
        let part = rest[..at].trim_end();
        if !part.is_empty() {
            parts.push(part.to_owned());
        }
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

/// Three backticks that Slack does not read as a fence (zero-width spaces
/// between them).
const FENCE_BROKEN: &str = "`\u{200b}`\u{200b}`";
const FENCE_OPEN: &str = "```\n";
const FENCE_CLOSE: &str = "\n```";

/// A code block as parts of at most `limit` characters each, fences included.
fn cut_code(code: &str, limit: usize) -> Vec<String> {
    let room = limit
        .saturating_sub(FENCE_OPEN.len() + FENCE_CLOSE.len())
        .max(1);
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    for line in code.split('\n') {
        let lines = if line.chars().count() > room {
            cut_text(line, room)
        } else {
            vec![line.to_owned()]
        };
        for line in lines {
            let chars = line.chars().count();
            let needed = if current.is_empty() { chars } else { chars + 1 };
            if current_chars + needed > room && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
                current_chars = 0;
            }
            if !current.is_empty() {
                current.push('\n');
                current_chars += 1;
            }
            current.push_str(&line);
            current_chars += chars;
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
        .into_iter()
        .map(|part| format!("{FENCE_OPEN}{part}{FENCE_CLOSE}"))
        .collect()
}

/// The body as section texts of at most `limit` characters each: short
/// pieces share a section, long ones are cut.
#[must_use]
pub fn sections(pieces: &[Piece], limit: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        let parts = match piece {
            Piece::Text(text) => cut_text(text, limit),
            Piece::Code(code) => cut_code(code, limit),
        };
        for part in parts {
            let joined = current.chars().count() + 2 + part.chars().count();
            if current.is_empty() {
                current = part;
            } else if joined <= limit {
                current.push_str("\n\n");
                current.push_str(&part);
            } else {
                out.push(std::mem::replace(&mut current, part));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// One Slack message: its blocks and the plain text notifications show.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// The Block Kit blocks.
    pub blocks: Vec<Value>,
    /// The notification text (Slack shows it where blocks cannot be).
    pub text: String,
}

/// The header block's text: the title without control characters, cut to
/// [`HEADER_LIMIT`].
#[must_use]
pub fn header(title: &str) -> String {
    let clean: String = title.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() > HEADER_LIMIT {
        let mut cut: String = clean.chars().take(HEADER_LIMIT - 1).collect();
        cut.push('…');
        cut
    } else {
        clean
    }
}

/// The body's section texts, with the lead's mention (if any) first.
#[must_use]
pub fn body_sections(body: &[Piece], mention: Option<Mention>) -> Vec<String> {
    let mut texts = sections(body, SECTION_LIMIT);
    if let Some(mention) = mention {
        match texts.first_mut() {
            Some(first) if first.chars().count() + 12 <= SECTION_LIMIT => {
                *first = format!("{} {first}", mention.token());
            }
            _ => texts.insert(0, mention.token().to_owned()),
        }
    }
    texts
}

/// The next message of a thread: the header (on the first message only)
/// and as many of `remaining` sections as fit in `budget` characters and
/// [`BLOCK_LIMIT`] blocks (always at least one). Returns the message and
/// how many sections it took.
#[must_use]
pub fn next_message(
    header: &str,
    first: bool,
    part: usize,
    remaining: &[String],
    budget: usize,
) -> (SlackMessage, usize) {
    let mut blocks = Vec::new();
    let mut used = 0;
    if first {
        used = header.chars().count();
        blocks.push(json!({
            "type": "header",
            "text": {"type": "plain_text", "text": header, "emoji": true},
        }));
    }
    let mut taken = 0;
    for text in remaining {
        let chars = text.chars().count();
        let fits = blocks.len() < BLOCK_LIMIT && used + chars <= budget;
        if !fits && taken > 0 {
            break;
        }
        used += chars;
        taken += 1;
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    let message = SlackMessage {
        blocks,
        text: fallback(header, part),
    };
    (message, taken)
}

/// An announcement as the messages of one thread, each within `budget`
/// characters of text and [`BLOCK_LIMIT`] blocks.
#[must_use]
pub fn messages(
    title: &str,
    body: &[Piece],
    mention: Option<Mention>,
    budget: usize,
) -> Vec<SlackMessage> {
    let header = header(title);
    let texts = body_sections(body, mention);
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let (message, taken) =
            next_message(&header, out.is_empty(), out.len(), &texts[at..], budget);
        out.push(message);
        at += taken;
        if at >= texts.len() {
            return out;
        }
    }
}

fn fallback(header: &str, part: usize) -> String {
    if part == 0 {
        header.to_owned()
    } else {
        format!("{header} (continued, part {})", part + 1)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn text_of(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Code(c) => format!("```\n{c}\n```"),
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    #[test]
    fn markdown_becomes_mrkdwn() {
        let body = render_body(
            "Hello **world** and _you_, see [the notes](https://example.org/a?b=1&c=2).\n\n- one\n- two\n\n1. first\n2. second\n\n> quoted\n\n```\nlet x = a < b;\n```",
        );
        let text = text_of(&body);
        assert!(text.contains("Hello *world* and _you_"), "{text}");
        assert!(
            text.contains("<https://example.org/a?b=1&amp;c=2|the notes>"),
            "{text}"
        );
        assert!(text.contains("• one\n• two"), "{text}");
        assert!(text.contains("1. first\n2. second"), "{text}");
        assert!(text.contains("&gt; quoted"), "{text}");
        assert!(text.contains("```\nlet x = a &lt; b;\n```"), "{text}");
    }

    #[test]
    fn control_characters_and_mentions_are_escaped() {
        let text = text_of(&render_body("<!channel> & <@U123> <https://evil|x>"));
        assert!(!text.contains('<'), "{text}");
        assert!(
            text.contains("&lt;!channel&gt; &amp; &lt;@U123&gt;"),
            "{text}"
        );
    }

    #[test]
    fn only_web_links_are_linked() {
        let text = text_of(&render_body(
            "[click](javascript:alert(1)) [mail](mailto:a@b.org)",
        ));
        assert!(!text.contains("javascript"), "{text}");
        assert!(text.contains("<mailto:a@b.org|mail>"), "{text}");
    }

    #[test]
    fn a_mention_is_added_only_when_asked() {
        let body = render_body("Come along.");
        let plain = messages("Call", &body, None, 12_000);
        assert!(
            !Value::Array(plain[0].blocks.clone())
                .to_string()
                .contains("<!")
        );
        let loud = messages("Call", &body, Some(Mention::Here), 12_000);
        let section = loud[0].blocks[1]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(section.starts_with("<!here> "), "{section}");
    }

    #[test]
    fn a_long_body_becomes_a_thread_within_the_limits() {
        let paragraph = "word ".repeat(500);
        let body = render_body(&vec![paragraph; 60].join("\n\n"));
        let parts = messages(&"T".repeat(400), &body, None, 12_000);
        assert!(parts.len() > 1);
        for part in &parts {
            assert!(part.blocks.len() <= BLOCK_LIMIT);
            let chars: usize = part
                .blocks
                .iter()
                .map(|b| {
                    b["text"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .chars()
                        .count()
                })
                .sum();
            assert!(chars <= 12_000, "{chars}");
        }
        let header = parts[0].blocks[0]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(header.chars().count(), HEADER_LIMIT);
    }

    /// Whether every `&` starts one of our escapes and every `<` closes.
    fn intact(section: &str) -> Result<(), String> {
        for (i, _) in section.match_indices('&') {
            let rest = &section[i..];
            if !(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"))
            {
                return Err(format!("a broken escape at {i}: {section:?}"));
            }
        }
        let opens = section.matches('<').count();
        let closes = section.matches('>').count();
        if opens != closes {
            return Err(format!("a broken link: {section:?}"));
        }
        if !section.matches("```").count().is_multiple_of(2) {
            return Err(format!("a broken code block: {section:?}"));
        }
        Ok(())
    }

    fn squeeze(text: &str) -> String {
        text.replace("```", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    }

    fn markdown() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            "[a-zé😀]{1,12}",
            Just("&".to_owned()),
            Just("<b>".to_owned()),
            Just("[link](https://example.org/x?a=1&b=2)".to_owned()),
            Just("**bold**".to_owned()),
            Just("\n\n".to_owned()),
            Just("\n```\ncode < & > line\nmore code\n```\n".to_owned()),
            Just("\n- item\n".to_owned()),
            "[a-z]{40,90}",
        ];
        proptest::collection::vec(word, 0..120).prop_map(|words| words.join(" "))
    }

    proptest! {
        #[test]
        fn splitting_never_cuts_an_escape_a_link_a_code_block_or_a_character(
            source in markdown(),
            limit in 30usize..400,
        ) {
            let pieces = render_body(&source);
            let whole = text_of(&pieces);
            let parts = sections(&pieces, limit);
            for part in &parts {
                // A part may pass the limit only when it is one atom too big to cut.
                let chars = part.chars().count();
                prop_assert!(chars <= limit || atom_ends(part).len() == 1 || part.starts_with("```"), "{chars} > {limit}: {part:?}");
                prop_assert!(intact(part).is_ok(), "{:?}", intact(part));
            }
            prop_assert_eq!(squeeze(&parts.concat()), squeeze(&whole));
        }
    }
}
