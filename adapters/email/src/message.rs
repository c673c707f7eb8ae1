//! One list message to one person: every header a list message needs, built
//! through lettre's typed headers (which encode CR and LF, so nothing in a
//! title or a name can add a header), and the text and HTML bodies.

use lettre::{
    Message,
    address::Envelope,
    message::{
        Mailbox, MultiPart,
        header::{Header, HeaderName, HeaderValue},
    },
};

use hub_core::markdown::Rendered;

/// Everything that differs per message.
#[derive(Debug, Clone)]
pub struct ListMessage<'a> {
    /// `From:` (the list's sender).
    pub from: &'a Mailbox,
    /// `To:` (the list address; the person is only in the envelope).
    pub to: &'a Mailbox,
    /// The list's RFC 2919 id, `name.domain`, and its description.
    pub list_id: &'a str,
    /// The list's name, as `List-Id`'s phrase.
    pub list_name: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// The bodies, already rendered.
    pub body: &'a Rendered,
    /// The person's one-click unsubscribe URL (https in production).
    pub unsubscribe_url: &'a str,
    /// The person's unsubscribe mailto address.
    pub unsubscribe_mailto: &'a str,
    /// `Message-ID` without angle brackets: stable per announcement and
    /// person, so a resend is recognisable.
    pub message_id: &'a str,
    /// The envelope sender (the person's VERP bounce address).
    pub envelope_from: &'a str,
    /// The envelope recipient (the person).
    pub envelope_to: &'a str,
}

/// A message that cannot be built (an address that is not one).
#[derive(Debug, thiserror::Error)]
#[error("the message could not be built: {0}")]
pub struct BuildError(pub String);

impl ListMessage<'_> {
    /// The envelope and the message, ready to be sealed (signed, where
    /// configured) and sent.
    ///
    /// # Errors
    /// [`BuildError`] when an address is malformed.
    pub fn build(&self) -> Result<(Envelope, Message), BuildError> {
        let envelope = Envelope::new(
            Some(parse_address(self.envelope_from)?),
            vec![parse_address(self.envelope_to)?],
        )
        .map_err(|e| BuildError(e.to_string()))?;
        let (text, html) = self.bodies();
        let message = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(one_line(self.subject))
            .message_id(Some(format!("<{}>", self.message_id)))
            .date_now()
            .header(ListId(format!(
                "{} <{}>",
                one_line(self.list_name).replace(['<', '>', '"'], ""),
                self.list_id
            )))
            .header(ListUnsubscribe(format!(
                "<{}>, <mailto:{}?subject=unsubscribe>",
                self.unsubscribe_url, self.unsubscribe_mailto
            )))
            .header(ListUnsubscribePost)
            .header(Precedence)
            .header(AutoSubmitted)
            .header(ListPost)
            .envelope(envelope.clone())
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| BuildError(e.to_string()))?;
        Ok((envelope, message))
    }

    /// The text and the HTML part, each with the list's footer.
    #[must_use]
    pub fn bodies(&self) -> (String, String) {
        let footer_text = format!(
            "\n\n-- \nYou receive this because you subscribed to {}.\nUnsubscribe: {}\n",
            one_line(self.list_name),
            self.unsubscribe_url
        );
        let footer_html = format!(
            "<hr><p style=\"font-size:small\">You receive this because you subscribed to {}. \
             <a href=\"{}\">Unsubscribe</a></p>",
            escape_html(&one_line(self.list_name)),
            escape_html(self.unsubscribe_url),
        );
        let html = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{}{}</body></html>",
            escape_html(&one_line(self.subject)),
            self.body.html,
            footer_html
        );
        (format!("{}{footer_text}", self.body.text), html)
    }
}

fn parse_address(address: &str) -> Result<lettre::Address, BuildError> {
    address
        .parse()
        .map_err(|_| BuildError(format!("{address:?} is not an email address")))
}

/// Header text on one line: CR, LF and other controls become spaces (lettre
/// would encode them anyway; a reader should see a plain title).
#[must_use]
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Declares a header lettre does not know, built only through
/// [`HeaderValue::new`], which encodes what would break the line.
macro_rules! text_header {
    ($(#[$doc:meta])* $vis:vis $name:ident, $header:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        $vis struct $name($vis String);

        impl Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($header)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_owned()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

/// Declares a header with one fixed value.
macro_rules! fixed_header {
    ($(#[$doc:meta])* $name:ident, $header:literal, $value:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        struct $name;

        impl Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($header)
            }
            fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self)
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), $value.to_owned())
            }
        }
    };
}

text_header!(
    /// The moderator password that lets a post through a Mailman list's
    /// moderation (Mailman removes it before delivery).
    pub(crate) Approved,
    "Approved"
);
text_header!(
    /// RFC 2919.
    ListId,
    "List-Id"
);
text_header!(
    /// RFC 2369: the one-click URL first, then the mailto.
    ListUnsubscribe,
    "List-Unsubscribe"
);
fixed_header!(
    /// RFC 8058: the URL takes a POST with no further step.
    ListUnsubscribePost,
    "List-Unsubscribe-Post",
    "List-Unsubscribe=One-Click"
);
fixed_header!(
    /// Tells auto-responders not to answer.
    Precedence,
    "Precedence",
    "list"
);
fixed_header!(
    /// RFC 3834: this message was generated, not written to this person.
    AutoSubmitted,
    "Auto-Submitted",
    "auto-generated"
);
fixed_header!(
    /// RFC 2369: an announcement list takes no posts.
    ListPost,
    "List-Post",
    "NO"
);

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::markdown;

    fn build(subject: &str, list_name: &str, body: &str) -> String {
        let from: Mailbox = "Data Stewards <cop@lists.example.org>".parse().unwrap();
        let to: Mailbox = "cop@lists.example.org".parse().unwrap();
        let rendered = markdown::render(body);
        let (envelope, message) = ListMessage {
            from: &from,
            to: &to,
            list_id: "cop.lists.example.org",
            list_name,
            subject,
            body: &rendered,
            unsubscribe_url: "https://hub.example.org/u/TOKEN",
            unsubscribe_mailto: "bounces+uTOKEN@lists.example.org",
            message_id: "d.m@lists.example.org",
            envelope_from: "bounces+bTOKEN@lists.example.org",
            envelope_to: "ada@example.net",
        }
        .build()
        .unwrap();
        assert_eq!(envelope.to()[0].to_string(), "ada@example.net");
        assert_eq!(
            envelope.from().unwrap().to_string(),
            "bounces+bTOKEN@lists.example.org"
        );
        String::from_utf8(message.formatted()).unwrap()
    }

    fn header<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
        let head = message.split("\r\n\r\n").next().unwrap();
        head.split("\r\n")
            .filter(|line| {
                line.split_once(':')
                    .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .collect()
    }

    #[test]
    fn a_list_message_carries_every_list_header() {
        let message = build("Call on Tuesday", "Data Stewards", "Hello **all**");
        assert_eq!(
            header(&message, "Message-ID"),
            ["Message-ID: <d.m@lists.example.org>"]
        );
        assert_eq!(header(&message, "To"), ["To: cop@lists.example.org"]);
        assert_eq!(
            header(&message, "List-Id"),
            ["List-Id: Data Stewards <cop.lists.example.org>"]
        );
        assert!(
            message.contains("List-Unsubscribe: <https://hub.example.org/u/TOKEN>,"),
            "{message}"
        );
        assert_eq!(
            header(&message, "List-Unsubscribe-Post"),
            ["List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
        );
        assert_eq!(header(&message, "Precedence"), ["Precedence: list"]);
        assert_eq!(
            header(&message, "Auto-Submitted"),
            ["Auto-Submitted: auto-generated"]
        );
        assert_eq!(header(&message, "Date").len(), 1);
        assert!(message.contains("multipart/alternative"));
        assert!(message.contains("text/plain"));
        assert!(message.contains("text/html"));
        assert!(header(&message, "Bcc").is_empty());
    }

    #[test]
    fn cr_and_lf_in_a_title_or_name_never_make_a_header() {
        let message = build(
            "Hello\r\nBcc: victim@example.net\r\nX-Evil: 1",
            "List\nBcc: other@example.net",
            "body\r\n.\r\nMAIL FROM:<x@example.net>",
        );
        assert!(header(&message, "Bcc").is_empty(), "{message}");
        assert!(header(&message, "X-Evil").is_empty(), "{message}");
        // Still one message: the body's lone dot is the transport's to escape.
        assert_eq!(header(&message, "Subject").len(), 1);
    }
}
