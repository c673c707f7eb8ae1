//! A real SMTP server for tests: scripts/peers/smtp-sink (aiosmtpd, in a
//! venv of its own), started per test on a free loopback port. It stores
//! every accepted message with its envelope, and injects faults chosen by
//! the recipient's address: `+reject` (550), `+defer` (451), `+flaky` (451
//! once), `+slow` (a stalled reply), `+drop` (the connection closes
//! mid-DATA).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Set to `1` (scripts/test does) to make a missing SMTP sink fail the test
/// instead of skipping it.
pub const REQUIRE_ENV: &str = "COPHUB_TEST_REQUIRE_SMTP";

/// A running sink; stopped when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    _child: Child,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// `MAIL FROM`.
    pub mail_from: String,
    /// `RCPT TO`, in order.
    pub rcpt_tos: Vec<String>,
    /// The DATA, dot-stuffing undone.
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    /// The parsed message.
    ///
    /// # Panics
    /// When the message is not parseable MIME (a test failure).
    #[must_use]
    #[allow(clippy::expect_used)] // a test helper: failing loudly is the point
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).expect("the sink received a parseable message")
    }

    /// Every value of a header, decoded.
    #[must_use]
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.parsed()
            .headers
            .iter()
            .filter(|h| h.get_key_ref().eq_ignore_ascii_case(name))
            .map(mailparse::MailHeader::get_value)
            .collect()
    }

    /// The one value of a header.
    ///
    /// # Panics
    /// When the header is missing or repeated (a test failure).
    #[must_use]
    pub fn header(&self, name: &str) -> String {
        let values = self.headers(name);
        assert_eq!(values.len(), 1, "{name}: {values:?}");
        values.into_iter().next().unwrap_or_default()
    }
}

impl SmtpSink {
    /// Starts a sink, or `None` when it cannot run here and the test may
    /// skip (never when [`REQUIRE_ENV`] is `1`).
    ///
    /// # Panics
    /// When the sink is required and does not start.
    pub async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// Starts a sink with extra arguments (`--slow-seconds 3`).
    ///
    /// # Panics
    /// When the sink is required and does not start.
    pub async fn start_with(args: &[&str]) -> Option<Self> {
        match Self::try_start(args).await {
            Ok(sink) => Some(sink),
            Err(why) if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") => {
                panic!("the SMTP sink is required ({REQUIRE_ENV}=1) but did not start: {why}")
            }
            Err(why) => {
                eprintln!("skipping: the SMTP sink did not start ({why}); scripts/test starts it");
                None
            }
        }
    }

    async fn try_start(args: &[&str]) -> Result<Self, String> {
        let script = repo_root().join("scripts/peers/smtp-sink");
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(&script)
            .arg("--dir")
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // The first start installs the venv: allow for it.
        let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
            .await
            .map_err(|_| "no LISTENING line within 300 s".to_owned())?
            .map_err(|e| e.to_string())?
            .ok_or("the sink exited before listening")?;
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("unexpected first line {line:?}"))?;
        Ok(Self {
            port,
            dir,
            _child: child,
        })
    }

    /// The port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order of arrival.
    ///
    /// # Panics
    /// When the sink's files cannot be read (a test failure).
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMail> {
        read_messages(self.dir.path())
    }

    /// Waits until at least `count` messages arrived (or `timeout` passed),
    /// and returns all of them.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[allow(clippy::expect_used)] // a test helper: failing loudly is the point
fn read_messages(dir: &Path) -> Vec<ReceivedMail> {
    let mut envelopes: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the sink folder is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    envelopes.sort();
    envelopes
        .into_iter()
        .map(|path| {
            let envelope: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&path).expect("an envelope file is readable"),
            )
            .expect("an envelope file is JSON");
            let raw = std::fs::read(path.with_extension("eml")).expect("its message is there");
            ReceivedMail {
                mail_from: envelope["mail_from"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                rcpt_tos: envelope["rcpt_tos"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                raw,
            }
        })
        .collect()
}

/// The workspace root (hub-testkit lives one folder below it).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
