//! Sending the hub's own mail (setup, magic links, confirmations, invitations)
//! and list mail. The SMTP implementation lives in adapters/email.

use async_trait::async_trait;

use crate::Email;

/// One message to one person.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// The recipient.
    pub to: Email,
    /// The subject; never contains CR or LF.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body, already sanitized, if any.
    pub html: Option<String>,
    /// A stable Message-ID, so a resend is recognisable.
    pub message_id: String,
    /// A calendar invitation, sent as a `text/calendar` alternative.
    pub calendar: Option<CalendarPart>,
}

/// An iCalendar object carried by a message (RFC 6047).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarPart {
    /// The iTIP method, as in the calendar's METHOD (`REQUEST`, `CANCEL`).
    pub method: String,
    /// The calendar itself.
    pub text: String,
}

/// The host the hub's Message-IDs and calendar UIDs end with: `public_url`'s
/// host, or `cophub.invalid` when it has none.
#[must_use]
pub fn message_host(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "cophub.invalid".into())
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server answered 4xx or did not answer in time: try again later.
    #[error("the mail server deferred the message: {0}")]
    Transient(String),
    /// The server refused the message or the recipient (5xx): do not retry.
    #[error("the mail server refused the message: {0}")]
    Permanent(String),
}

/// Hands mail to a mail server.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends one message.
    ///
    /// # Errors
    /// [`MailError::Transient`] for 4xx replies, timeouts and lost
    /// connections; [`MailError::Permanent`] for 5xx replies.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError>;
}
