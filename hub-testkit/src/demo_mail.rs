//! A small SMTP receiver that keeps what it is sent in memory, for `cophub
//! demo`: the hub's mailer is pointed at it, and the demo's pages show the
//! messages, so a newcomer sees list mail, invitations and confirmation
//! links without a mail server and without anything leaving the machine.
//!
//! It speaks the part of RFC 5321 a submitting client needs — `EHLO`/`HELO`,
//! `MAIL`, `RCPT`, `DATA` (dot-unstuffed), `RSET`, `NOOP`, `QUIT` — on a
//! plain loopback socket: no TLS, no authentication, no relaying anywhere.
//! It keeps the newest [`DemoMailServer::start`]'s `capacity` messages and
//! forgets older ones, so a demo left running cannot grow without bound.
//! Like the other fakes here it is written from the RFC, not from the email
//! adapter.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::{JoinHandle, JoinSet},
};

/// How many messages the demo keeps unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 500;
/// The largest message taken (announced as `SIZE`); a larger one is read
/// to its end and refused with 552, so the client's session stays in step.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Recipients of one message at most (RFC 5321 asks a server to take 100).
const MAX_RECIPIENTS: usize = 1000;
/// The longest line read; RFC 5321 allows 512 for a command and 1000 for a
/// text line, and lenient clients send longer ones.
const MAX_LINE: usize = 64 * 1024;
/// A connection silent this long is closed (RFC 5321 suggests 5 minutes).
const IDLE: Duration = Duration::from_secs(300);
/// The name the server gives itself.
const HOSTNAME: &str = "localhost";

/// One message as it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoMessage {
    /// Its number: 1 for the first received, counting on past forgotten ones.
    pub number: u64,
    /// When the final dot arrived.
    pub received_at: DateTime<Utc>,
    /// The envelope sender (`MAIL FROM`), empty for the null sender `<>`.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`), in order.
    pub rcpt_to: Vec<String>,
    /// The message (headers and body) with dot-stuffing undone.
    pub data: Vec<u8>,
}

/// A message as a person reads it: what [`DemoMessage::readable`] finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readable {
    /// The headers, decoded (RFC 2047), in order.
    pub headers: Vec<(String, String)>,
    /// The first `text/plain` part that is not an attachment, decoded.
    pub text: Option<String>,
    /// The first `text/html` part's source, decoded.
    pub html: Option<String>,
    /// Every leaf part's content type, with its file name if it has one.
    pub parts: Vec<String>,
}

impl DemoMessage {
    /// The headers and text parts, decoded. A message that is not MIME at
    /// all is shown as its raw text.
    #[must_use]
    pub fn readable(&self) -> Readable {
        let Ok(parsed) = mailparse::parse_mail(&self.data) else {
            return Readable {
                text: Some(String::from_utf8_lossy(&self.data).into_owned()),
                ..Readable::default()
            };
        };
        let mut readable = Readable {
            headers: parsed
                .headers
                .iter()
                .map(|h| (h.get_key(), h.get_value()))
                .collect(),
            ..Readable::default()
        };
        collect_parts(&parsed, &mut readable);
        readable
    }
}

fn collect_parts(part: &mailparse::ParsedMail<'_>, readable: &mut Readable) {
    if !part.subparts.is_empty() {
        for sub in &part.subparts {
            collect_parts(sub, readable);
        }
        return;
    }
    let mime = part.ctype.mimetype.to_ascii_lowercase();
    let disposition = part.get_content_disposition();
    let file = disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"));
    readable.parts.push(match file {
        Some(file) => format!("{mime} ({file})"),
        None => mime.clone(),
    });
    let attachment = disposition.disposition == mailparse::DispositionType::Attachment;
    let slot = match mime.as_str() {
        "text/plain" if !attachment => &mut readable.text,
        "text/html" if !attachment => &mut readable.html,
        _ => return,
    };
    if slot.is_none() {
        *slot = part.get_body().ok();
    }
}

/// The messages received, newest last; clones share them.
#[derive(Debug, Clone)]
pub struct DemoMailbox {
    inner: Arc<Mutex<Kept>>,
}

#[derive(Debug)]
struct Kept {
    capacity: usize,
    next: u64,
    messages: VecDeque<DemoMessage>,
}

impl DemoMailbox {
    /// An empty mailbox keeping at most `capacity` messages (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Kept {
                capacity: capacity.max(1),
                next: 1,
                messages: VecDeque::new(),
            })),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        // A panic elsewhere cannot leave the queue half-changed: every
        // change is one push or pop.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a message, forgetting the oldest past the capacity; returns
    /// its number.
    pub fn keep(&self, mail_from: String, rcpt_to: Vec<String>, data: Vec<u8>) -> u64 {
        let mut kept = self.kept();
        let number = kept.next;
        kept.next += 1;
        kept.messages.push_back(DemoMessage {
            number,
            received_at: Utc::now(),
            mail_from,
            rcpt_to,
            data,
        });
        while kept.messages.len() > kept.capacity {
            kept.messages.pop_front();
        }
        number
    }

    /// Every message kept, oldest first.
    #[must_use]
    pub fn messages(&self) -> Vec<DemoMessage> {
        self.kept().messages.iter().cloned().collect()
    }

    /// The message numbered `number`, unless it was never received or has
    /// been forgotten.
    #[must_use]
    pub fn message(&self, number: u64) -> Option<DemoMessage> {
        let kept = self.kept();
        let first = kept.messages.front()?.number;
        let index = usize::try_from(number.checked_sub(first)?).ok()?;
        kept.messages.get(index).cloned()
    }

    /// How many messages are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.kept().messages.len()
    }

    /// Whether none is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A running receiver on a loopback port.
#[derive(Debug)]
pub struct DemoMailServer {
    address: SocketAddr,
    mailbox: DemoMailbox,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl DemoMailServer {
    /// Listens on a free loopback port, keeping the newest `capacity`
    /// messages.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(capacity: usize) -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = listener.local_addr()?;
        let mailbox = DemoMailbox::new(capacity);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept(listener, mailbox.clone(), stopped));
        Ok(Self {
            address,
            mailbox,
            stop,
            task,
        })
    }

    /// Where it listens.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `smtp://127.0.0.1:PORT`, for the hub's `mail.smtp_url`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// The messages it received.
    #[must_use]
    pub fn mailbox(&self) -> DemoMailbox {
        self.mailbox.clone()
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept(listener: TcpListener, mailbox: DemoMailbox, mut stopped: oneshot::Receiver<()>) {
    // Dropping the set when the loop ends aborts the sessions still open.
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    sessions.spawn(session(stream, mailbox.clone()));
                }
                // A refused or reset connection is the client's problem;
                // too many open files passes. Either way keep listening.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            // Reap finished sessions so the set does not grow.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// The state of one SMTP session.
#[derive(Debug, Default)]
struct Transaction {
    greeted: bool,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Transaction {
    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }
}

/// A line as read: complete (with its terminator), too long, or the end.
enum Line {
    Text(Vec<u8>),
    TooLong,
    Closed,
}

async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Line {
    let mut line = Vec::new();
    let read = tokio::time::timeout(
        IDLE,
        (&mut *reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line),
    )
    .await;
    match read {
        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => Line::Closed,
        Ok(Ok(_)) if line.ends_with(b"\n") => Line::Text(line),
        Ok(Ok(_)) if line.len() >= MAX_LINE => Line::TooLong,
        // The peer closed mid-line.
        Ok(Ok(_)) => Line::Closed,
    }
}

async fn session(stream: TcpStream, mailbox: DemoMailbox) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut state = Transaction::default();
    let greeting = format!("220 {HOSTNAME} cophub demo mail sink: nothing leaves this machine\r\n");
    if write.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    loop {
        let line = match read_line(&mut reader).await {
            Line::Text(line) => line,
            Line::TooLong => {
                let _ = write.write_all(b"500 5.5.2 line too long\r\n").await;
                return;
            }
            Line::Closed => return,
        };
        let text = String::from_utf8_lossy(&line);
        let command = text.trim_end_matches(['\r', '\n']);
        let (verb, argument) = command
            .split_once(' ')
            .map_or((command, ""), |(verb, rest)| (verb, rest.trim()));
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" if !argument.is_empty() => {
                state.reset();
                state.greeted = true;
                format!(
                    "250-{HOSTNAME} greets {argument}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250 HELP\r\n"
                )
            }
            "HELO" if !argument.is_empty() => {
                state.reset();
                state.greeted = true;
                format!("250 {HOSTNAME}\r\n")
            }
            "EHLO" | "HELO" => "501 5.5.4 say who you are: EHLO <domain>\r\n".to_owned(),
            "MAIL" => mail(&mut state, argument),
            "RCPT" => rcpt(&mut state, argument),
            "DATA" if !argument.is_empty() => "501 5.5.4 DATA takes no argument\r\n".to_owned(),
            "DATA" if state.rcpt_to.is_empty() => "503 5.5.1 RCPT first\r\n".to_owned(),
            "DATA" => {
                if write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(data) = read_data(&mut reader).await else {
                    return;
                };
                let mail_from = state.mail_from.take().unwrap_or_default();
                let rcpt_to = std::mem::take(&mut state.rcpt_to);
                match data {
                    Data::Message(data) => {
                        let number = mailbox.keep(mail_from, rcpt_to, data);
                        format!("250 2.0.0 kept as message {number}\r\n")
                    }
                    Data::TooLarge => format!(
                        "552 5.3.4 a message may have at most {MAX_MESSAGE_BYTES} bytes\r\n"
                    ),
                }
            }
            "RSET" => {
                state.reset();
                "250 2.0.0 reset\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 ok\r\n".to_owned(),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            "" => "500 5.5.2 empty command\r\n".to_owned(),
            _ => "502 5.5.1 not implemented here\r\n".to_owned(),
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn mail(state: &mut Transaction, argument: &str) -> String {
    if !state.greeted {
        return "503 5.5.1 EHLO or HELO first\r\n".to_owned();
    }
    if state.mail_from.is_some() {
        return "503 5.5.1 a message is already under way: RSET first\r\n".to_owned();
    }
    match path(argument, "FROM:") {
        Some(sender) => {
            state.mail_from = Some(sender);
            "250 2.1.0 ok\r\n".to_owned()
        }
        None => "501 5.5.4 expected MAIL FROM:<address>\r\n".to_owned(),
    }
}

fn rcpt(state: &mut Transaction, argument: &str) -> String {
    if state.mail_from.is_none() {
        return "503 5.5.1 MAIL first\r\n".to_owned();
    }
    if state.rcpt_to.len() >= MAX_RECIPIENTS {
        return "452 4.5.3 too many recipients\r\n".to_owned();
    }
    match path(argument, "TO:").filter(|r| !r.is_empty()) {
        Some(recipient) => {
            state.rcpt_to.push(recipient);
            "250 2.1.5 ok\r\n".to_owned()
        }
        None => "501 5.5.4 expected RCPT TO:<address>\r\n".to_owned(),
    }
}

/// The address of `FROM:<address> PARAMS` (`prefix` is `FROM:` or `TO:`,
/// any case, a space allowed after the colon); parameters such as
/// `BODY=8BITMIME` or `SIZE=` are accepted and not acted on.
fn path(argument: &str, prefix: &str) -> Option<String> {
    let head = argument.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = argument[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let address = &rest[..end];
    if address.contains(['<', ' ', '\t']) {
        return None;
    }
    Some(address.to_owned())
}

enum Data {
    Message(Vec<u8>),
    TooLarge,
}

/// The lines after `354` up to the lone dot, unstuffed (a leading dot
/// removed from every line that has one, RFC 5321 section 4.5.2); `None`
/// when the connection ended first.
async fn read_data<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Data> {
    let mut data = Vec::new();
    let mut too_large = false;
    loop {
        let line = match read_line(reader).await {
            Line::Text(line) => line,
            // A line that long cannot be mail; keep reading for the dot.
            Line::TooLong => {
                too_large = true;
                continue;
            }
            Line::Closed => return None,
        };
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + line.len() > MAX_MESSAGE_BYTES {
            too_large = true;
        }
        if !too_large {
            data.extend_from_slice(line);
        }
    }
    Some(if too_large {
        Data::TooLarge
    } else {
        Data::Message(data)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use lettre::{
        AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::header::ContentType,
    };
    use mailparse::MailHeaderMap;
    use tokio::io::AsyncBufReadExt;

    use super::*;

    fn transport(server: &DemoMailServer) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(server.address().port())
            .timeout(Some(Duration::from_secs(5)))
            .build()
    }

    fn message(subject: &str, body: &str) -> Message {
        Message::builder()
            .from("Hub <hub@example.org>".parse().unwrap())
            .to("Ada <ada@example.net>".parse().unwrap())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .unwrap()
    }

    /// A raw client: sends lines, reads replies.
    struct Client {
        reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
        writer: tokio::net::tcp::OwnedWriteHalf,
    }

    impl Client {
        async fn connect(server: &DemoMailServer) -> Self {
            let stream = TcpStream::connect(server.address()).await.unwrap();
            let (read, writer) = stream.into_split();
            let mut client = Self {
                reader: BufReader::new(read),
                writer,
            };
            assert!(client.reply().await.starts_with("220 "));
            client
        }

        /// One whole reply, multi-line replies joined.
        async fn reply(&mut self) -> String {
            let mut all = String::new();
            loop {
                let mut line = String::new();
                self.reader.read_line(&mut line).await.unwrap();
                all.push_str(&line);
                if line.len() < 4 || line.as_bytes()[3] != b'-' {
                    return all;
                }
            }
        }

        async fn send(&mut self, text: &str) -> String {
            self.writer.write_all(text.as_bytes()).await.unwrap();
            self.reply().await
        }
    }

    #[tokio::test]
    async fn lettre_hands_over_a_message_with_its_envelope() {
        let server = DemoMailServer::start(10).await.unwrap();
        let body = "Hello,\r\n.a line that starts with a dot\r\n..and two\r\n.\r\nend\r\n";
        let response = transport(&server)
            .send(message("Call on Friday", body))
            .await
            .unwrap();
        assert!(response.is_positive());
        let messages = server.mailbox().messages();
        assert_eq!(messages.len(), 1);
        let kept = &messages[0];
        assert_eq!(kept.number, 1);
        assert_eq!(kept.mail_from, "hub@example.org");
        assert_eq!(kept.rcpt_to, vec!["ada@example.net".to_owned()]);
        let parsed = mailparse::parse_mail(&kept.data).unwrap();
        assert_eq!(
            parsed.headers.get_first_value("Subject").as_deref(),
            Some("Call on Friday")
        );
        // lettre stuffed the dots; the receiver took them out again. (lettre
        // ends the data with a line break of its own before the dot.)
        assert_eq!(parsed.get_body().unwrap(), format!("{body}\r\n"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn one_lettre_connection_carries_several_messages() {
        let server = DemoMailServer::start(10).await.unwrap();
        let transport = transport(&server);
        for i in 0..3 {
            transport
                .send(message(&format!("Message {i}"), "text"))
                .await
                .unwrap();
        }
        let numbers: Vec<u64> = server
            .mailbox()
            .messages()
            .iter()
            .map(|m| m.number)
            .collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn dot_stuffed_lines_are_unstuffed_and_the_lone_dot_ends_the_data() {
        let server = DemoMailServer::start(10).await.unwrap();
        let mut client = Client::connect(&server).await;
        assert!(client.send("EHLO test\r\n").await.contains("250 HELP"));
        assert!(
            client
                .send("MAIL FROM:<a@example.org> BODY=8BITMIME\r\n")
                .await
                .starts_with("250")
        );
        assert!(
            client
                .send("RCPT TO:<b@example.org>\r\n")
                .await
                .starts_with("250")
        );
        assert!(client.send("DATA\r\n").await.starts_with("354"));
        let reply = client
            .send("Subject: dots\r\n\r\n..leading\r\n...two\r\nplain.\r\n.\r\n")
            .await;
        assert!(reply.starts_with("250 "), "{reply}");
        assert!(client.send("QUIT\r\n").await.starts_with("221"));
        let kept = server.mailbox().message(1).unwrap();
        assert_eq!(
            String::from_utf8(kept.data).unwrap(),
            "Subject: dots\r\n\r\n.leading\r\n..two\r\nplain.\r\n"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn commands_out_of_order_are_refused_and_rset_starts_over() {
        let server = DemoMailServer::start(10).await.unwrap();
        let mut client = Client::connect(&server).await;
        assert!(
            client
                .send("MAIL FROM:<a@example.org>\r\n")
                .await
                .starts_with("503")
        );
        assert!(client.send("HELO test\r\n").await.starts_with("250"));
        assert!(client.send("NOOP\r\n").await.starts_with("250"));
        assert!(client.send("DATA\r\n").await.starts_with("503"));
        assert!(
            client
                .send("RCPT TO:<b@example.org>\r\n")
                .await
                .starts_with("503")
        );
        assert!(
            client
                .send("MAIL FROM:a@example.org\r\n")
                .await
                .starts_with("501")
        );
        assert!(client.send("MAIL FROM:<>\r\n").await.starts_with("250"));
        assert!(
            client
                .send("RCPT TO:<b@example.org>\r\n")
                .await
                .starts_with("250")
        );
        assert!(client.send("RSET\r\n").await.starts_with("250"));
        assert!(client.send("DATA\r\n").await.starts_with("503"));
        assert!(client.send("STARTTLS\r\n").await.starts_with("502"));
        assert!(
            client
                .send("mail from: <c@example.org>\r\n")
                .await
                .starts_with("250")
        );
        assert!(
            client
                .send("rcpt to:<d@example.org>\r\n")
                .await
                .starts_with("250")
        );
        assert!(client.send("data\r\n").await.starts_with("354"));
        assert!(
            client
                .send("Subject: x\r\n\r\ny\r\n.\r\n")
                .await
                .starts_with("250")
        );
        let kept = server.mailbox().messages();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].mail_from, "c@example.org");
        assert_eq!(kept[0].rcpt_to, vec!["d@example.org".to_owned()]);
        server.shutdown().await;
    }

    #[test]
    fn a_multipart_message_reads_as_headers_text_and_html_source() {
        let mailbox = DemoMailbox::new(2);
        let raw = "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\nSubject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>Caf&eacute;</p>\r\n--b--\r\n";
        mailbox.keep(String::new(), vec!["a@example.org".into()], raw.into());
        let readable = mailbox.message(1).unwrap().readable();
        assert_eq!(
            readable.headers[0],
            ("From".into(), "Jürgen <j@example.org>".into())
        );
        assert_eq!(readable.text.as_deref().map(str::trim_end), Some("Café"));
        assert_eq!(
            readable.html.as_deref().map(str::trim_end),
            Some("<p>Caf&eacute;</p>")
        );
        assert_eq!(
            readable.parts,
            vec!["text/plain".to_owned(), "text/html".to_owned()]
        );
    }

    #[tokio::test]
    async fn only_the_newest_messages_are_kept() {
        let server = DemoMailServer::start(3).await.unwrap();
        let transport = transport(&server);
        for i in 1..=5 {
            transport
                .send(message(&format!("Message {i}"), "text"))
                .await
                .unwrap();
        }
        let mailbox = server.mailbox();
        let numbers: Vec<u64> = mailbox.messages().iter().map(|m| m.number).collect();
        assert_eq!(numbers, vec![3, 4, 5]);
        assert!(mailbox.message(2).is_none(), "forgotten");
        assert_eq!(mailbox.message(5).unwrap().number, 5);
        assert!(mailbox.message(6).is_none(), "not yet received");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_message_over_the_size_limit_is_refused_and_the_session_goes_on() {
        let server = DemoMailServer::start(3).await.unwrap();
        let mut client = Client::connect(&server).await;
        client.send("EHLO test\r\n").await;
        client.send("MAIL FROM:<a@example.org>\r\n").await;
        client.send("RCPT TO:<b@example.org>\r\n").await;
        client.send("DATA\r\n").await;
        let line = format!("{}\r\n", "x".repeat(998));
        let mut big = String::new();
        while big.len() <= MAX_MESSAGE_BYTES {
            big.push_str(&line);
        }
        big.push_str(".\r\n");
        assert!(client.send(&big).await.starts_with("552"));
        assert!(client.send("NOOP\r\n").await.starts_with("250"));
        assert!(server.mailbox().is_empty());
        server.shutdown().await;
    }
}
