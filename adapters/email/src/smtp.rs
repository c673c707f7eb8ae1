//! The connection to the mail server: one pool of SMTP connections per
//! process (lettre does not pipeline, so throughput comes from several
//! connections at once), a rate limit, short timeouts, and every SMTP
//! outcome classified for the engine.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use hub_core::ports::{
    adapter::AdapterError,
    mailer::{MailError, Mailer, OutgoingMail},
};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    address::Envelope,
    message::{Mailbox, MultiPart},
    transport::smtp::PoolConfig,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

/// How to reach the mail server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://host:port` (plain; add `?tls=required` for STARTTLS),
    /// `smtps://host:465` (implicit TLS); `user:password@` for SMTP AUTH.
    pub url: SecretString,
    /// Connections kept open at most.
    pub pool_size: u32,
    /// How long handing one message over may take, connecting included.
    pub timeout: Duration,
    /// Messages a second at most; `None` for no limit.
    pub rate_per_second: Option<f64>,
    /// The hub's own sender (`From:` of setup, magic-link and confirmation
    /// mail; also their envelope sender).
    pub from: Mailbox,
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the SMTP URL cannot be used ({0}); expected smtp://host:port or smtps://user:password@host:465"
)]
pub struct BadSmtpUrl(String);

/// Sends messages over a pool of SMTP connections.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    pace: Option<std::sync::Arc<Pace>>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("SmtpSender")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Builds the pool; nothing connects until the first message.
    ///
    /// # Errors
    /// [`BadSmtpUrl`] for a URL lettre cannot use.
    pub fn new(settings: &SmtpSettings) -> Result<Self, BadSmtpUrl> {
        hub_core::tls::init();
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose_secret())
                .map_err(|e| BadSmtpUrl(e.to_string()))?
                .timeout(Some(settings.timeout))
                .pool_config(
                    PoolConfig::new()
                        .max_size(settings.pool_size.max(1))
                        .idle_timeout(Duration::from_secs(30)),
                )
                .build();
        let pace = settings
            .rate_per_second
            .filter(|r| *r > 0.0)
            .map(|rate| std::sync::Arc::new(Pace::new(rate)));
        Ok(Self {
            transport,
            pace,
            from: settings.from.clone(),
            timeout: settings.timeout,
        })
    }

    /// The hub's own sender.
    #[must_use]
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Hands one message to the server.
    ///
    /// # Errors
    /// The [`AdapterError`] class of what went wrong: `Transient` for a 4xx
    /// reply or a connection that could not be made, `Permanent` for a 5xx
    /// reply, `Ambiguous` when the connection broke, stalled or answered
    /// something unreadable in the middle (the server may have taken the
    /// message).
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, AdapterError> {
        if let Some(pace) = &self.pace {
            pace.wait_turn().await;
        }
        // lettre's own timeout covers connecting; a server that stalls after
        // that would hold the send (and its connection) for as long as it
        // likes, so the whole exchange has a deadline. Dropping the send
        // drops its connection: it never goes back to the pool half-used.
        match tokio::time::timeout(self.timeout, self.transport.send_raw(envelope, message)).await {
            Ok(Ok(response)) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Ok(Err(error)) => Err(classify(&error)),
            Err(_) => Err(AdapterError::Ambiguous(format!(
                "the mail server did not finish taking the message within {} s",
                self.timeout.as_secs_f32()
            ))),
        }
    }
}

impl SmtpSender {
    /// Whether the server answers (connects and says NOOP).
    ///
    /// # Errors
    /// The class of what went wrong, as for [`SmtpSender::send`].
    pub async fn check(&self) -> Result<(), AdapterError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AdapterError::Transient(
                "the mail server did not answer NOOP".into(),
            )),
            Err(error) => Err(classify(&error)),
        }
    }
}

/// What an SMTP failure means for the engine.
fn classify(error: &lettre::transport::smtp::Error) -> AdapterError {
    let text = error.to_string();
    if error.is_permanent() {
        AdapterError::Permanent(text)
    } else if error.is_transient() {
        AdapterError::Transient(text)
    } else if error.is_timeout() {
        AdapterError::Ambiguous(format!("the mail server stopped answering: {text}"))
    } else if is_connect_failure(error) {
        AdapterError::Transient(format!("the mail server cannot be reached: {text}"))
    } else if error.is_client() || error.is_tls() {
        // Our own request was refused before sending, or TLS failed at the
        // start: no message went out.
        AdapterError::Transient(text)
    } else {
        // A reply cut short or unreadable, or a connection that broke: the
        // server may have taken the message (a drop right after DATA).
        AdapterError::Ambiguous(format!("the connection broke during the send: {text}"))
    }
}

/// A refused or unreachable connection: nothing was sent.
fn is_connect_failure(error: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            );
        }
        source = inner.source();
    }
    false
}

/// Spaces sends evenly at a rate, shared by every task of the process.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    fn new(per_second: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait_turn(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

#[async_trait]
impl Mailer for SmtpSender {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to: lettre::Address = mail
            .to
            .normalized()
            .parse()
            .map_err(|_| MailError::Permanent(format!("{} is not an address", mail.to)))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(crate::message::one_line(&mail.subject))
            .message_id(Some(format!("<{}>", mail.message_id)))
            .date_now();
        let message = match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            None => builder.body(mail.text.clone()),
        }
        .map_err(|e| MailError::Permanent(e.to_string()))?;
        match SmtpSender::send(self, message.envelope(), &message.formatted()).await {
            Ok(_) => Ok(()),
            Err(AdapterError::Permanent(why)) => Err(MailError::Permanent(why)),
            Err(other) => Err(MailError::Transient(other.to_string())),
        }
    }
}
