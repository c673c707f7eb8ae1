//! The native list: cophub itself is the listserv. Each subscriber gets
//! their own copy, with their own unsubscribe link and bounce address.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    Email,
    bounces::{self, VerpKind},
    markdown,
    model::{
        announcement::{Announcement, Recipient},
        member::ConsentChannel,
    },
    ports::adapter::{
        AdapterError, Capabilities, ChannelAdapter, PreviewFormat, PreviewPart, Receipt, RemotePage,
    },
    secrets::SecretKeys,
    signing::Signer,
    unsubscribe::{self, UnsubscribeToken},
};
use lettre::message::Mailbox;
use serde::Deserialize;

use crate::{message::ListMessage, smtp::SmtpSender};

/// What every list of this deployment shares: the mail server, the public
/// URL unsubscribe links start with, and the keys that sign them.
#[derive(Debug)]
pub struct ListMail {
    sender: SmtpSender,
    public_url: String,
    unsubscribe: Signer,
    verp: Signer,
}

impl ListMail {
    /// `public_url` without a trailing slash.
    #[must_use]
    pub fn new(sender: SmtpSender, public_url: &str, keys: &SecretKeys) -> Self {
        Self {
            sender,
            public_url: public_url.trim_end_matches('/').to_owned(),
            unsubscribe: keys.signer(unsubscribe::PURPOSE),
            verp: keys.signer(bounces::PURPOSE),
        }
    }

    /// The mail server.
    #[must_use]
    pub fn sender(&self) -> &SmtpSender {
        &self.sender
    }
}

/// A native list's settings, as a lead enters them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSettings {
    /// The list's address: `To:` of every message, and the base of its
    /// `List-Id`.
    pub list_address: String,
    /// `From:`; the channel's name and the list address when unset.
    #[serde(default)]
    pub from: Option<String>,
    /// Where bounces go (the MTA pipes it to `cophub email bounce`); each
    /// message's envelope sender is this address with the member added
    /// after a `+`. `bounces@<the list's domain>` when unset.
    #[serde(default)]
    pub bounce_address: Option<String>,
}

/// The native list's adapter.
#[derive(Debug)]
pub struct EmailListAdapter {
    mail: Arc<ListMail>,
    from: Mailbox,
    to: Mailbox,
    list_id: String,
    list_name: String,
    bounce_address: String,
    domain: String,
    /// The last announcement's rendered body: every copy shares it, and
    /// sanitizing is the costliest part of a message.
    rendered: std::sync::Mutex<Option<RenderedFor>>,
}

/// A body rendered for one revision of one announcement.
#[derive(Debug)]
struct RenderedFor {
    announcement: hub_core::ids::AnnouncementId,
    revision: u32,
    body: Arc<markdown::Rendered>,
}

impl EmailListAdapter {
    /// An adapter for one list.
    ///
    /// # Errors
    /// `Permanent` with a sentence for the lead when the settings are unusable.
    pub fn new(
        mail: Arc<ListMail>,
        name: &str,
        settings: &serde_json::Value,
    ) -> Result<Self, AdapterError> {
        let settings: ListSettings = serde_json::from_value(settings.clone()).map_err(|e| {
            AdapterError::Permanent(format!(
                "email list settings: {e} (expected list_address, and optionally from and bounce_address)"
            ))
        })?;
        let list = Email::parse(&settings.list_address).map_err(|e| {
            AdapterError::Permanent(format!("list_address {:?}: {e}", settings.list_address))
        })?;
        let (local, domain) = list
            .normalized()
            .rsplit_once('@')
            .ok_or_else(|| AdapterError::Permanent("list_address needs a domain".into()))?;
        let list_name = crate::message::one_line(name);
        let to: Mailbox = list.normalized().parse().map_err(|_| {
            AdapterError::Permanent(format!("list_address {list} is not an address"))
        })?;
        let from = match &settings.from {
            Some(from) => from.parse().map_err(|_| {
                AdapterError::Permanent(format!(
                    "from {from:?} is not an address such as \"Data Stewards <cop@lists.example.org>\""
                ))
            })?,
            None => Mailbox::new(Some(list_name.clone()), to.email.clone()),
        };
        let bounce_address = settings
            .bounce_address
            .clone()
            .unwrap_or_else(|| format!("bounces@{domain}"));
        // Check now that a member fits into it, not at the first send.
        bounces::verp_address(
            &bounce_address,
            VerpKind::Bounce,
            hub_core::ids::MemberId::new(),
            &mail.verp,
        )
        .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        Ok(Self {
            list_id: format!("{local}.{domain}"),
            domain: domain.to_owned(),
            mail,
            from,
            to,
            list_name,
            bounce_address,
            rendered: std::sync::Mutex::new(None),
        })
    }

    fn rendered(&self, announcement: &Announcement) -> Arc<markdown::Rendered> {
        let mut cached = self
            .rendered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match cached.as_ref() {
            Some(c) if c.announcement == announcement.id && c.revision == announcement.revision => {
                c.body.clone()
            }
            _ => {
                let body = Arc::new(markdown::render(&announcement.body_markdown));
                *cached = Some(RenderedFor {
                    announcement: announcement.id,
                    revision: announcement.revision,
                    body: body.clone(),
                });
                body
            }
        }
    }

    fn verp(&self, kind: VerpKind, recipient: &Recipient) -> Result<String, AdapterError> {
        bounces::verp_address(
            &self.bounce_address,
            kind,
            recipient.member_id,
            &self.mail.verp,
        )
        .map_err(|e| AdapterError::Permanent(e.to_string()))
    }
}

#[async_trait]
impl ChannelAdapter for EmailListAdapter {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            post: true,
            per_recipient: true,
            ..Capabilities::default()
        }
    }

    async fn list_members(&self, _cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        Err(AdapterError::Unsupported(
            "the native list is the hub's own roster: its subscribers are the members with email consent".into(),
        ))
    }

    async fn add_member(&self, _email: &Email, _name: &str) -> Result<String, AdapterError> {
        Err(AdapterError::Unsupported(
            "subscribe people on the roster or through the join form".into(),
        ))
    }

    async fn remove_member(&self, _external_id: &str) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported(
            "unsubscribe people on the roster or through their unsubscribe link".into(),
        ))
    }

    async fn post(
        &self,
        _announcement: &Announcement,
        _idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        Err(AdapterError::Unsupported(
            "the native list sends each person their own copy".into(),
        ))
    }

    async fn post_to(
        &self,
        announcement: &Announcement,
        recipient: &Recipient,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let token = UnsubscribeToken {
            member: recipient.member_id,
            channel: ConsentChannel::Email,
        }
        .encode(&self.mail.unsubscribe);
        let unsubscribe_url = format!("{}/u/{token}", self.mail.public_url);
        let message_id = format!("{idempotency_key}@{}", self.domain);
        let body = self.rendered(announcement);
        let (envelope, message) = ListMessage {
            from: &self.from,
            to: &self.to,
            list_id: &self.list_id,
            list_name: &self.list_name,
            subject: &announcement.title,
            body: &body,
            unsubscribe_url: &unsubscribe_url,
            unsubscribe_mailto: &self.verp(VerpKind::Unsubscribe, recipient)?,
            message_id: &message_id,
            envelope_from: &self.verp(VerpKind::Bounce, recipient)?,
            envelope_to: &recipient.email,
        }
        .build()
        .map_err(|e| AdapterError::Permanent(e.to_string()))?;
        let bytes = self.mail.sender.seal(message);
        self.mail.sender.send(&envelope, &bytes).await?;
        Ok(Receipt {
            remote_ref: format!("<{message_id}>"),
            url: None,
        })
    }

    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        let body = markdown::render(&announcement.body_markdown);
        // Each person's own link, as a placeholder: the rest is theirs exactly.
        let unsubscribe_url = format!("{}/u/(each subscriber's own link)", self.mail.public_url);
        let (text, html) = ListMessage {
            from: &self.from,
            to: &self.to,
            list_id: &self.list_id,
            list_name: &self.list_name,
            subject: &announcement.title,
            body: &body,
            unsubscribe_url: &unsubscribe_url,
            unsubscribe_mailto: "",
            message_id: "",
            envelope_from: "",
            envelope_to: "",
        }
        .bodies();
        Ok(email_preview(&self.from, &announcement.title, text, html))
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.mail.sender.check().await
    }
}

/// An email's preview: who it is from and its subject, its text part and
/// its HTML part.
pub(crate) fn email_preview(
    from: &Mailbox,
    subject: &str,
    text: String,
    html: String,
) -> Vec<PreviewPart> {
    vec![
        PreviewPart {
            label: "Email: from and subject".into(),
            format: PreviewFormat::Text,
            content: format!(
                "From: {from}\nSubject: {}",
                crate::message::one_line(subject)
            ),
        },
        PreviewPart {
            label: "Email: text part".into(),
            format: PreviewFormat::Text,
            content: text,
        },
        PreviewPart {
            label: "Email: HTML part".into(),
            format: PreviewFormat::Html,
            content: html,
        },
    ]
}
