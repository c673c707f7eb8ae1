//! The connection to the mail server: a pool of SMTP connections per
//! process (lettre does not pipeline, so throughput comes from several
//! connections at once), a rate limit, a deadline per message, and every
//! SMTP outcome classified for the engine.
//!
//! The pool is ours, not lettre's `AsyncSmtpTransport`: lettre writes a
//! message and its closing dot in two writes, and on a socket with Nagle's
//! algorithm on (lettre never sets `TCP_NODELAY`) the dot then waits for
//! the server's delayed ACK, about 40 ms per message. We open the sockets
//! ourselves, with `TCP_NODELAY`, and hand them to lettre's SMTP
//! connection. (Implicit TLS, `smtps://`, still goes through lettre's own
//! connect, so it keeps that delay.)

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use hub_core::ports::{
    adapter::AdapterError,
    mailer::{MailError, Mailer, OutgoingMail},
};
use lettre::{
    Message,
    address::Envelope,
    message::{
        Mailbox, MultiPart, SinglePart,
        dkim::{
            DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
            DkimSigningKey,
        },
        header::ContentType,
        header::HeaderName,
    },
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, TlsParameters},
        extension::ClientId,
    },
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, Semaphore};

/// How to reach the mail server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://host:port` (plain; add `?tls=required` for STARTTLS, or
    /// `?tls=opportunistic`), `smtps://host:465` (implicit TLS);
    /// `user:password@` for SMTP AUTH.
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
    /// Sign every message with DKIM, when set.
    pub dkim: Option<DkimSettings>,
}

/// DKIM signing (RFC 6376; Ed25519 per RFC 8463).
#[derive(Debug, Clone)]
pub struct DkimSettings {
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`): the key is published at
    /// `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// RSA (a PKCS#1 PEM key) or Ed25519 (the base64 of its 32-byte seed).
    pub algorithm: DkimAlgorithm,
    /// The private key, as described for `algorithm`.
    pub private_key: SecretString,
}

/// Which DKIM signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// rsa-sha256: every receiver checks it; about a millisecond of CPU a
    /// message for a 2048-bit key.
    Rsa,
    /// ed25519-sha256: tiny and fast, but not every receiver checks it.
    Ed25519,
}

/// The headers a list message's signature covers: the ones a reader and a
/// receiving server judge it by, the list headers included. Not
/// `Content-Type`: lettre writes a multipart message's top-level
/// Content-Type with the body, so its signer cannot see it, yet lists it in
/// `h=` when asked, and every verifier then fails (dkimpy caught it). The
/// body hash covers the parts and their boundaries.
const DKIM_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
];

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the mail settings cannot be used: {0}")]
pub struct BadSmtpUrl(String);

/// Where and how to connect.
#[derive(Debug, Clone)]
struct Server {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<(String, SecretString)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    None,
    Opportunistic,
    StartTls,
    Implicit,
}

impl Server {
    fn parse(text: &str) -> Result<Self, BadSmtpUrl> {
        let url = url::Url::parse(text).map_err(|e| {
            BadSmtpUrl(format!(
                "{e}; expected smtp://host:port, smtp://user:password@host:587?tls=required or smtps://user:password@host:465"
            ))
        })?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(BadSmtpUrl(format!("unknown scheme {other:?}"))),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| BadSmtpUrl("no host".into()))?
            .trim_matches(['[', ']'])
            .to_owned();
        let mut tls = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::None
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), implicit) {
                ("tls", "required", false) => tls = TlsMode::StartTls,
                ("tls", "opportunistic", false) => tls = TlsMode::Opportunistic,
                ("tls", "none", false) => tls = TlsMode::None,
                _ => return Err(BadSmtpUrl(format!("unknown option {key}={value}"))),
            }
        }
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| {
                BadSmtpUrl("the user or password is not valid percent-encoding".into())
            })
        };
        let credentials = if url.username().is_empty() {
            None
        } else {
            Some((
                decode(url.username())?,
                SecretString::from(decode(url.password().unwrap_or_default())?),
            ))
        };
        Ok(Self {
            port: url.port().unwrap_or(if implicit { 465 } else { 25 }),
            host,
            tls,
            credentials,
        })
    }

    async fn connect(
        &self,
        hello: &ClientId,
        timeout: Duration,
    ) -> Result<AsyncSmtpConnection, AdapterError> {
        let connect = async {
            let mut connection = if self.tls == TlsMode::Implicit {
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(timeout),
                    hello,
                    Some(self.tls_parameters()?),
                    None,
                )
                .await
                .map_err(|e| classify(&e))?
            } else {
                let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| {
                        AdapterError::Transient(format!("the mail server cannot be reached: {e}"))
                    })?;
                // See the module comment: without it every message waits ~40 ms.
                stream
                    .set_nodelay(true)
                    .map_err(|e| AdapterError::Transient(e.to_string()))?;
                let mut connection =
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), hello)
                        .await
                        .map_err(|e| classify(&e))?;
                let starttls = match self.tls {
                    TlsMode::StartTls => true,
                    TlsMode::Opportunistic => connection.can_starttls(),
                    TlsMode::None | TlsMode::Implicit => false,
                };
                if starttls {
                    connection
                        .starttls(self.tls_parameters()?, hello)
                        .await
                        .map_err(|e| AdapterError::Transient(format!("STARTTLS failed: {e}")))?;
                }
                connection
            };
            if let Some((user, password)) = &self.credentials {
                let credentials =
                    Credentials::new(user.clone(), password.expose_secret().to_owned());
                connection
                    .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                    .await
                    .map_err(|e| {
                        AdapterError::Auth(format!("the mail server refused the login: {e}"))
                    })?;
            }
            Ok(connection)
        };
        tokio::time::timeout(timeout, connect)
            .await
            .unwrap_or_else(|_| {
                Err(AdapterError::Transient(format!(
                    "the mail server did not answer within {} s",
                    timeout.as_secs_f32()
                )))
            })
    }

    fn tls_parameters(&self) -> Result<TlsParameters, AdapterError> {
        TlsParameters::new(self.host.clone())
            .map_err(|e| AdapterError::Permanent(format!("TLS for {}: {e}", self.host)))
    }
}

/// `%XX` sequences in a URL's user or password, decoded.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An idle connection and when it went idle.
struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// Open connections are closed after this long unused (servers drop idle
/// clients after a minute or so anyway).
const IDLE_FOR: Duration = Duration::from_secs(30);

/// Sends messages over a pool of SMTP connections.
#[derive(Clone)]
pub struct SmtpSender {
    dkim: Option<Arc<DkimConfig>>,
    server: Arc<Server>,
    hello: ClientId,
    idle: Arc<Mutex<Vec<Idle>>>,
    slots: Arc<Semaphore>,
    pace: Option<Arc<Pace>>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("SmtpSender")
            .field("host", &self.server.host)
            .field("port", &self.server.port)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// Makes the pool; nothing connects until the first message.
    ///
    /// # Errors
    /// [`BadSmtpUrl`] for a URL that cannot be used.
    pub fn new(settings: &SmtpSettings) -> Result<Self, BadSmtpUrl> {
        hub_core::tls::init();
        let server = Server::parse(settings.url.expose_secret())?;
        let pace = settings
            .rate_per_second
            .filter(|r| *r > 0.0)
            .map(|rate| Arc::new(Pace::new(rate)));
        let dkim = settings
            .dkim
            .as_ref()
            .map(|dkim| {
                let algorithm = match dkim.algorithm {
                    DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
                    DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
                };
                let key = DkimSigningKey::new(dkim.private_key.expose_secret().trim(), algorithm)
                    .map_err(|e| BadSmtpUrl(format!("the DKIM key cannot be used: {e}")))?;
                Ok::<_, BadSmtpUrl>(Arc::new(DkimConfig::new(
                    dkim.selector.clone(),
                    dkim.domain.clone(),
                    key,
                    DKIM_HEADERS
                        .iter()
                        .map(|name| HeaderName::new_from_ascii_str(name))
                        .collect(),
                    DkimCanonicalization {
                        header: DkimCanonicalizationType::Relaxed,
                        body: DkimCanonicalizationType::Relaxed,
                    },
                )))
            })
            .transpose()?;
        Ok(Self {
            dkim,
            server: Arc::new(server),
            hello: ClientId::default(),
            idle: Arc::new(Mutex::new(Vec::new())),
            slots: Arc::new(Semaphore::new(settings.pool_size.max(1) as usize)),
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

    /// A message's bytes, DKIM-signed when signing is configured.
    #[must_use]
    pub fn seal(&self, mut message: Message) -> Vec<u8> {
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        message.formatted()
    }

    /// An idle connection, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, AdapterError> {
        loop {
            let idle = self.idle.lock().await.pop();
            match idle {
                Some(idle) if idle.since.elapsed() < IDLE_FOR => return Ok(idle.connection),
                Some(mut stale) => stale.connection.abort().await,
                None => return self.server.connect(&self.hello, self.timeout).await,
            }
        }
    }

    /// Hands one message to the server.
    ///
    /// # Errors
    /// The [`AdapterError`] class of what went wrong: `Transient` for a 4xx
    /// reply or a connection that could not be made, `Permanent` for a 5xx
    /// reply, `Ambiguous` when the connection broke, stalled or answered
    /// something unreadable in the middle (the server may have taken the
    /// message), `Auth` when the server refused our login.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<String, AdapterError> {
        if let Some(pace) = &self.pace {
            pace.wait_turn().await;
        }
        // At most pool_size connections in use at once.
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| AdapterError::Transient("the mail sender is shutting down".into()))?;
        let exchange = async {
            let mut connection = self.connection().await?;
            match connection.send(envelope, message).await {
                Ok(response) => {
                    self.idle.lock().await.push(Idle {
                        connection,
                        since: Instant::now(),
                    });
                    Ok(response.message().collect::<Vec<_>>().join(" "))
                }
                Err(error) => {
                    // A refused transaction leaves the session mid-way: the
                    // next message starts on a fresh connection.
                    connection.abort().await;
                    Err(classify(&error))
                }
            }
        };
        // A server that stalls would hold the send (and its connection) for
        // as long as it likes, so the whole exchange has a deadline. Dropping
        // the send drops its connection: it never goes back half-used.
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(AdapterError::Ambiguous(format!(
                    "the mail server did not finish taking the message within {} s",
                    self.timeout.as_secs_f32()
                )))
            })
    }

    /// Whether the server answers (connects, logs in and says NOOP).
    ///
    /// # Errors
    /// The class of what went wrong, as for [`SmtpSender::send`].
    pub async fn check(&self) -> Result<(), AdapterError> {
        let mut connection = self.server.connect(&self.hello, self.timeout).await?;
        let answered = connection.test_connected().await;
        connection.abort().await;
        if answered {
            Ok(())
        } else {
            Err(AdapterError::Transient(
                "the mail server did not answer NOOP".into(),
            ))
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
        let message = match (&mail.html, &mail.calendar) {
            (_, Some(calendar)) => {
                // RFC 6047: the invitation is an alternative to the text,
                // with the iTIP method on its content type.
                let kind = ContentType::parse(&format!(
                    "text/calendar; charset=utf-8; method={}",
                    calendar.method
                ))
                .map_err(|e| MailError::Permanent(format!("calendar part: {e}")))?;
                builder.multipart(
                    MultiPart::alternative()
                        .singlepart(SinglePart::plain(mail.text.clone()))
                        .singlepart(
                            SinglePart::builder()
                                .header(kind)
                                .body(calendar.text.clone()),
                        ),
                )
            }
            (Some(html), None) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            (None, None) => builder.body(mail.text.clone()),
        }
        .map_err(|e| MailError::Permanent(e.to_string()))?;
        let envelope = message.envelope().clone();
        match SmtpSender::send(self, &envelope, &self.seal(message)).await {
            Ok(_) => Ok(()),
            Err(AdapterError::Permanent(why)) => Err(MailError::Permanent(why)),
            Err(other) => Err(MailError::Transient(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_name_host_port_tls_and_login() {
        let plain = Server::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls),
            ("127.0.0.1", 2525, TlsMode::None)
        );
        assert!(plain.credentials.is_none());
        let relay =
            Server::parse("smtp://ada%40example.org:p%3Ass@mail.example.org:587?tls=required")
                .unwrap();
        assert_eq!((relay.port, relay.tls), (587, TlsMode::StartTls));
        let (user, password) = relay.credentials.unwrap();
        assert_eq!(
            (user.as_str(), password.expose_secret()),
            ("ada@example.org", "p:ss")
        );
        let implicit = Server::parse("smtps://mail.example.org").unwrap();
        assert_eq!((implicit.port, implicit.tls), (465, TlsMode::Implicit));
        assert_eq!(
            Server::parse("smtp://h?tls=opportunistic").unwrap().tls,
            TlsMode::Opportunistic
        );
        for bad in [
            "http://h",
            "smtp://",
            "smtp://h?tls=maybe",
            "smtps://h?tls=required",
            "nonsense",
            "smtp://u:%zz@h",
        ] {
            assert!(Server::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let sender = SmtpSender::new(&SmtpSettings {
            url: "smtp://user:hunter2@mail.example.org".to_owned().into(),
            pool_size: 1,
            timeout: Duration::from_secs(1),
            rate_per_second: None,
            from: "hub@example.org".parse().unwrap(),
            dkim: None,
        })
        .unwrap();
        assert!(!format!("{sender:?}").contains("hunter2"));
    }
}
