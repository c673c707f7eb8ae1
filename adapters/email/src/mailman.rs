//! A GNU Mailman 3 list, for communities that already run one: its members
//! mirrored through the core's REST API 3.1, and announcements posted to the
//! list by SMTP with the moderator password in an `Approved:` header, so
//! they pass moderation and Mailman delivers them as list mail.
//!
//! The REST contract, as recorded against Mailman 3.3.10
//! (../shared/peers/mailman-rest-transcript.md): HTTP Basic; a roster page
//! needs `count` and `page` together (one alone is a 500); an empty
//! collection has no `entries` at all; a request without a body must not say
//! `Content-Type: application/json` (400 "Invalid JSON"); subscribing with
//! `pre_verified`, `pre_confirmed` and `pre_approved` answers 201, and 409
//! "Member already subscribed" means it is done.

use std::time::Duration;

use async_trait::async_trait;
use hub_core::{
    Email, destination, markdown,
    model::announcement::Announcement,
    ports::adapter::{
        AdapterError, Capabilities, ChannelAdapter, PreviewPart, Receipt, RemoteMember, RemotePage,
    },
};
use lettre::message::{Mailbox, MultiPart};
use serde::Deserialize;

use crate::smtp::SmtpSender;

/// A Mailman list's settings, as a lead enters them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailmanSettings {
    /// The core's REST API base, with its version: `http://127.0.0.1:8001/3.1`.
    pub rest_url: String,
    /// The REST admin user (`[webservice] admin_user`).
    #[serde(default = "default_rest_user")]
    pub rest_user: String,
    /// The list's id: `community.example.org`.
    pub list_id: String,
    /// The list's posting address: `community@example.org`.
    pub list_address: String,
    /// Mailman on a private or loopback address (its default is loopback):
    /// only an owner may set this.
    #[serde(default)]
    pub allow_local: bool,
    /// Seconds one REST call may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Members per roster page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// `From:` of announcements posted to the list; the hub's own sender
    /// (`[mail] from`) when unset. Mailman discards a post whose sender is
    /// not a valid address ("no valid senders"), such as `…@localhost`.
    #[serde(default)]
    pub from: Option<String>,
}

fn default_rest_user() -> String {
    "restadmin".into()
}
fn default_timeout() -> u64 {
    10
}
fn default_page_size() -> u32 {
    500
}

/// The channel's secret: one line of JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailmanSecret {
    rest_password: String,
    #[serde(default)]
    moderator_password: Option<String>,
}

/// The Mailman adapter.
#[derive(Debug)]
pub struct MailmanAdapter {
    settings: MailmanSettings,
    rest_password: String,
    moderator_password: Option<String>,
    sender: Option<SmtpSender>,
    from: Option<Mailbox>,
    list: Mailbox,
    domain: String,
}

impl MailmanAdapter {
    /// An adapter for one Mailman list; `sender` posts announcements (none:
    /// members are mirrored, posting is refused).
    ///
    /// # Errors
    /// `Permanent` with a sentence for the lead when settings or secret are
    /// unusable.
    pub fn new(
        settings: &serde_json::Value,
        secret: Option<&str>,
        sender: Option<SmtpSender>,
    ) -> Result<Self, AdapterError> {
        hub_core::tls::init();
        let settings: MailmanSettings = serde_json::from_value(settings.clone()).map_err(|e| {
            AdapterError::Permanent(format!(
                "Mailman settings: {e} (expected rest_url, list_id and list_address; optionally rest_user, from, allow_local, timeout_seconds, page_size)"
            ))
        })?;
        let secret: MailmanSecret = serde_json::from_str(secret.unwrap_or_default()).map_err(|_| {
            AdapterError::Permanent(
                "the Mailman secret must be one line of JSON: {\"rest_password\": \"…\", \"moderator_password\": \"…\"}".into(),
            )
        })?;
        let list_email = Email::parse(&settings.list_address).map_err(|e| {
            AdapterError::Permanent(format!("list_address {:?}: {e}", settings.list_address))
        })?;
        let list: Mailbox = list_email.normalized().parse().map_err(|_| {
            AdapterError::Permanent(format!("list_address {list_email} is not an address"))
        })?;
        let domain = list.email.domain().to_owned();
        if settings.list_id.trim().is_empty() || settings.list_id.contains(['/', '?', '#']) {
            return Err(AdapterError::Permanent(format!(
                "list_id {:?} is not a Mailman list id such as community.example.org",
                settings.list_id
            )));
        }
        if !settings.rest_url.starts_with("http://") && !settings.rest_url.starts_with("https://") {
            return Err(AdapterError::Permanent(format!(
                "rest_url {:?} must start with http:// or https://",
                settings.rest_url
            )));
        }
        let from = settings
            .from
            .as_deref()
            .map(|from| {
                from.parse::<Mailbox>().map_err(|_| {
                    AdapterError::Permanent(format!(
                        "from {from:?} is not an address such as \"Data Stewards <stewards@example.org>\""
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            from,
            rest_password: secret.rest_password,
            moderator_password: secret.moderator_password.filter(|p| !p.is_empty()),
            settings,
            sender,
            list,
            domain,
        })
    }

    /// A client bound to the checked addresses of the REST host, and the
    /// URL of `path` under the REST base.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, AdapterError> {
        let checked = destination::check(&self.settings.rest_url, self.settings.allow_local)
            .await
            .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        // Connect to the addresses that were checked, never to a second answer.
        let client = reqwest::Client::builder()
            .resolve_to_addrs(&checked.host, &checked.addresses)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(self.settings.timeout_seconds.max(1)))
            .build()
            .map_err(|e| AdapterError::Transient(format!("could not build an HTTP client: {e}")))?;
        let url = format!("{}/{path}", self.settings.rest_url.trim_end_matches('/'));
        Ok(client
            .request(method, url)
            .basic_auth(&self.settings.rest_user, Some(&self.rest_password)))
    }

    /// Sends a request; the status and body of a 2xx answer (or of one of
    /// `also_fine`), or the class of the failure.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        also_fine: &[u16],
    ) -> Result<(u16, Vec<u8>), AdapterError> {
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                AdapterError::Transient(format!("Mailman did not answer in time: {e}"))
            } else {
                AdapterError::Transient(format!("Mailman cannot be reached: {e}"))
            }
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response
            .bytes()
            .await
            .map_err(|e| AdapterError::Transient(format!("Mailman's answer was cut off: {e}")))?
            .to_vec();
        let detail = || {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["description"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect())
        };
        match status {
            _ if also_fine.contains(&status) => Ok((status, body)),
            200..=299 => Ok((status, body)),
            401 | 403 => Err(AdapterError::Auth(format!(
                "Mailman refused the REST login ({status}): check rest_user and rest_password"
            ))),
            429 => Err(AdapterError::RateLimited {
                retry_after: Duration::from_secs(retry_after.unwrap_or(30)),
            }),
            500..=599 => Err(AdapterError::Transient(format!(
                "Mailman answered {status}: {}",
                detail()
            ))),
            _ => Err(AdapterError::Permanent(format!(
                "Mailman answered {status}: {}",
                detail()
            ))),
        }
    }
}

/// One roster page as Mailman sends it.
#[derive(Debug, Deserialize)]
struct RosterPage {
    total_size: u64,
    /// Absent (not empty) when there is nobody.
    #[serde(default)]
    entries: Vec<RosterEntry>,
}

#[derive(Debug, Deserialize)]
struct RosterEntry {
    email: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[async_trait]
impl ChannelAdapter for MailmanAdapter {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_members: true,
            manage_members: true,
            post: true,
            ..Capabilities::default()
        }
    }

    /// The cursor is the 1-based page number.
    async fn list_members(&self, cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        let page: u64 = match cursor {
            None => 1,
            Some(c) => c
                .parse()
                .map_err(|_| AdapterError::Permanent(format!("bad page cursor {c:?}")))?,
        };
        let count = u64::from(self.settings.page_size.max(1));
        let request = self
            .request(
                reqwest::Method::GET,
                &format!("lists/{}/roster/member", self.settings.list_id),
            )
            .await?
            // Both or neither: `count` alone is a 500 in Mailman 3.3.
            .query(&[("count", count), ("page", page)]);
        let (_, body) = self.call(request, &[]).await?;
        let roster: RosterPage = serde_json::from_slice(&body).map_err(|e| {
            AdapterError::Transient(format!("Mailman's roster page could not be read: {e}"))
        })?;
        let members = roster
            .entries
            .into_iter()
            .map(|entry| {
                let email = Email::parse(&entry.email).ok();
                RemoteMember {
                    // The address is the id: the bulk unsubscribe takes addresses.
                    external_id: email
                        .as_ref()
                        .map_or_else(|| entry.email.clone(), |e| e.normalized().to_owned()),
                    email,
                    name: entry.display_name.unwrap_or_default(),
                }
            })
            .collect();
        Ok(RemotePage {
            members,
            next_cursor: (page * count < roster.total_size).then(|| (page + 1).to_string()),
        })
    }

    async fn add_member(&self, email: &Email, name: &str) -> Result<String, AdapterError> {
        let request =
            self.request(reqwest::Method::POST, "members")
                .await?
                .json(&serde_json::json!({
                    "list_id": self.settings.list_id,
                    "subscriber": email.normalized(),
                    "display_name": name,
                    "pre_verified": true,
                    "pre_confirmed": true,
                    "pre_approved": true,
                    "send_welcome_message": false,
                }));
        // 409 "Member already subscribed" is what we wanted.
        match self.call(request, &[409]).await? {
            (201 | 409, _) => Ok(email.normalized().to_owned()),
            (status, _) => Err(AdapterError::Permanent(format!(
                "Mailman answered {status} instead of subscribing {email} (it may be waiting for a confirmation)"
            ))),
        }
    }

    async fn remove_member(&self, external_id: &str) -> Result<(), AdapterError> {
        let request = self
            .request(
                reqwest::Method::DELETE,
                &format!("lists/{}/roster/member", self.settings.list_id),
            )
            .await?
            .json(&serde_json::json!({"emails": [external_id]}));
        // true: removed; false: was not a member. Both are done.
        self.call(request, &[]).await.map(|_| ())
    }

    async fn post(
        &self,
        announcement: &Announcement,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let sender = self.sender.as_ref().ok_or_else(|| {
            AdapterError::Permanent(
                "this hub has no mail server to post to the list: set mail.smtp_url".into(),
            )
        })?;
        let password = self.moderator_password.as_deref().ok_or_else(|| {
            AdapterError::Permanent(
                "posting needs the list's moderator_password in the channel's secret".into(),
            )
        })?;
        let message_id = format!("{idempotency_key}@{}", self.domain);
        let body = markdown::render(&announcement.body_markdown);
        let message = lettre::Message::builder()
            .from(self.from.clone().unwrap_or_else(|| sender.from().clone()))
            .to(self.list.clone())
            .subject(crate::message::one_line(&announcement.title))
            .message_id(Some(format!("<{message_id}>")))
            .date_now()
            .header(crate::message::Approved(password.to_owned()))
            .multipart(MultiPart::alternative_plain_html(body.text, body.html))
            .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        let envelope = message.envelope().clone();
        sender.send(&envelope, &sender.seal(message)).await?;
        Ok(Receipt {
            remote_ref: format!("<{message_id}>"),
            url: None,
        })
    }

    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        let body = markdown::render(&announcement.body_markdown);
        let from = match (&self.from, &self.sender) {
            (Some(from), _) => from.clone(),
            (None, Some(sender)) => sender.from().clone(),
            (None, None) => {
                return Err(AdapterError::Permanent(
                    "this hub has no mail server to post to the list: set mail.smtp_url".into(),
                ));
            }
        };
        // Mailman adds the list's own header and footer as it distributes.
        Ok(crate::list::email_preview(
            &from,
            &announcement.title,
            body.text,
            body.html,
        ))
    }

    async fn health(&self) -> Result<(), AdapterError> {
        let request = self
            .request(
                reqwest::Method::GET,
                &format!("lists/{}", self.settings.list_id),
            )
            .await?;
        self.call(request, &[]).await.map(|_| ())
    }
}
