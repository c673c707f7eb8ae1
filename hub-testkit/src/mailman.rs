//! The real GNU Mailman 3 core that scripts/test starts
//! (scripts/peers/mailman-stack), as tests reach it: its REST API as an
//! administrator, a fresh list per test, and the mail it delivered.

use std::{path::PathBuf, time::Duration};

use serde_json::{Value, json};

/// Set to `1` (scripts/test does) to make a missing Mailman fail the test
/// instead of skipping it.
pub const REQUIRE_ENV: &str = "COPHUB_TEST_REQUIRE_MAILMAN";

/// Where the test Mailman runs.
#[derive(Debug, Clone)]
pub struct MailmanPeer {
    /// The REST base, `http://127.0.0.1:P/3.1`.
    pub rest: String,
    /// The REST admin user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// `smtp://` URL of the SMTP front of Mailman's LMTP port.
    pub smtp: String,
    /// The folder where Mailman's outgoing mail lands.
    pub outbox: PathBuf,
}

/// The moderator password of every list [`MailmanPeer::fresh_list`] makes.
pub const MODERATOR_PASSWORD: &str = "modpass";

impl MailmanPeer {
    /// The peer scripts/test started, or `None` (the test may skip) when
    /// there is none and [`REQUIRE_ENV`] is not `1`.
    ///
    /// # Panics
    /// When Mailman is required and missing.
    #[must_use]
    pub fn from_env() -> Option<Self> {
        hub_core::tls::init();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let found = (|| {
            Some(Self {
                rest: var("COPHUB_TEST_MAILMAN_REST")?,
                user: var("COPHUB_TEST_MAILMAN_USER").unwrap_or_else(|| "restadmin".into()),
                password: var("COPHUB_TEST_MAILMAN_PASSWORD")?,
                smtp: var("COPHUB_TEST_MAILMAN_SMTP")?,
                outbox: PathBuf::from(var("COPHUB_TEST_MAILMAN_OUTBOX")?),
            })
        })();
        if found.is_none() {
            assert!(
                std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
                "{REQUIRE_ENV}=1 but COPHUB_TEST_MAILMAN_* is not set: scripts/test starts Mailman"
            );
            eprintln!("skipping: no test Mailman (scripts/test starts one)");
        }
        found
    }

    /// One REST call as the administrator.
    ///
    /// # Panics
    /// When Mailman cannot be reached (a test failure).
    #[allow(clippy::expect_used)] // a test helper: failing loudly is the point
    pub async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let mut request = client
            .request(method, format!("{}/{path}", self.rest))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("Mailman answers")
    }

    /// A fresh list `t<random>@example.org` with no welcome or goodbye mail
    /// and the moderator password [`MODERATOR_PASSWORD`]; its list id.
    ///
    /// # Panics
    /// When Mailman refuses (a test failure).
    pub async fn fresh_list(&self) -> String {
        let name = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let domain = self
            .rest(
                reqwest::Method::POST,
                "domains",
                Some(json!({"mail_host": "example.org"})),
            )
            .await;
        if !matches!(domain.status().as_u16(), 201 | 400) {
            // Two tests creating it at once: Mailman answers one of them 500
            // (a unique constraint); it exists all the same.
            let exists = self
                .rest(reqwest::Method::GET, "domains/example.org", None)
                .await;
            assert_eq!(
                exists.status(),
                200,
                "creating the domain: {}",
                domain.status()
            );
        }
        let created = self
            .rest(
                reqwest::Method::POST,
                "lists",
                Some(json!({"fqdn_listname": format!("{name}@example.org")})),
            )
            .await;
        assert_eq!(created.status(), 201);
        let list_id = format!("{name}.example.org");
        let config = self
            .rest(
                reqwest::Method::PATCH,
                &format!("lists/{list_id}/config"),
                Some(json!({
                    "send_welcome_message": false,
                    "send_goodbye_message": false,
                    "moderator_password": MODERATOR_PASSWORD,
                })),
            )
            .await;
        assert_eq!(config.status(), 204);
        list_id
    }

    /// Subscribes someone directly in Mailman (as if they had joined there).
    ///
    /// # Panics
    /// When Mailman refuses (a test failure).
    pub async fn subscribe(&self, list_id: &str, email: &str, name: &str) {
        let subscribed = self
            .rest(
                reqwest::Method::POST,
                "members",
                Some(
                    json!({"list_id": list_id, "subscriber": email, "display_name": name,
                    "pre_verified": true, "pre_confirmed": true, "pre_approved": true}),
                ),
            )
            .await;
        assert_eq!(subscribed.status(), 201);
    }

    /// The list's member addresses, sorted.
    ///
    /// # Panics
    /// When Mailman refuses (a test failure).
    #[allow(clippy::expect_used)] // a test helper: failing loudly is the point
    pub async fn members(&self, list_id: &str) -> Vec<String> {
        let page: Value = self
            .rest(
                reqwest::Method::GET,
                &format!("lists/{list_id}/roster/member?count=1000&page=1"),
                None,
            )
            .await
            .json()
            .await
            .expect("a roster page");
        let mut emails: Vec<String> = page["entries"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e["email"].as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        emails.sort();
        emails
    }

    /// Recipients of the messages Mailman sent whose Subject contains
    /// `subject`, sorted.
    #[must_use]
    pub fn delivered(&self, subject: &str) -> Vec<String> {
        let mut recipients = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return recipients;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let (Ok(raw), Ok(envelope)) = (
                std::fs::read(path.with_extension("eml")),
                std::fs::read(&path),
            ) else {
                continue;
            };
            let Ok(mail) = mailparse::parse_mail(&raw) else {
                continue;
            };
            let matches = mail.headers.iter().any(|h| {
                h.get_key_ref().eq_ignore_ascii_case("Subject") && h.get_value().contains(subject)
            });
            let Ok(envelope) = serde_json::from_slice::<Value>(&envelope) else {
                continue;
            };
            if matches {
                recipients.extend(
                    envelope["rcpt_tos"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_lowercase)),
                );
            }
        }
        recipients.sort();
        recipients
    }

    /// Waits up to a minute until Mailman delivered `subject` to at least
    /// `count` recipients; returns them.
    pub async fn wait_delivered(&self, subject: &str, count: usize) -> Vec<String> {
        for _ in 0..300 {
            let delivered = self.delivered(subject);
            if delivered.len() >= count {
                return delivered;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.delivered(subject)
    }
}
