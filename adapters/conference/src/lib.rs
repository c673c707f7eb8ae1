//! cophub's native peer conference as a channel. A conference's members are
//! its registrants (seated or waitlisted), so a sync imports them into the
//! roster with the conference's consent only; a community member joins by
//! registering on the conference page, which is the invitation a sync mails
//! (`outside_invite`); removing someone cancels their registration (their
//! seat goes to the first who waits). Announcements go to each registrant
//! by email, one copy per person, through the hub's `Mailer`.
//!
//! [`WithConferences`] puts this channel beside any other adapter factory:
//! it answers for channels of kind `conference` and passes every other
//! kind on.

use std::sync::Arc;

use async_trait::async_trait;
use hub_core::{
    Email,
    conferences::{
        channel::conference_of,
        registration::{self, Mailing},
    },
    ids::{CommunityId, ConferenceId, RegistrationId},
    model::{
        announcement::{Announcement, Recipient},
        channel::{Channel, ChannelKind},
        conference::{Conference, RegistrationStatus},
    },
    ports::{
        adapter::{
            AdapterError, AdapterFactory, Capabilities, ChannelAdapter, OutsideInvite,
            PreviewFormat, PreviewPart, Receipt, RemoteMember, RemotePage,
        },
        mailer::{MailError, Mailer, OutgoingMail},
        store::{Store, StoreError},
    },
};

/// An adapter factory that knows conference channels and hands every other
/// kind to `inner`.
#[derive(Debug)]
pub struct WithConferences {
    inner: Arc<dyn AdapterFactory>,
    store: Arc<dyn Store>,
    mailer: Option<Arc<dyn Mailer>>,
    public_url: String,
}

impl WithConferences {
    /// Conference channels over `store`, mailing through `mailer`, with
    /// links starting at `public_url`.
    #[must_use]
    pub fn new(
        inner: Arc<dyn AdapterFactory>,
        store: Arc<dyn Store>,
        mailer: Option<Arc<dyn Mailer>>,
        public_url: &str,
    ) -> Self {
        Self {
            inner,
            store,
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }
}

impl AdapterFactory for WithConferences {
    fn adapter(
        &self,
        channel: &Channel,
        secret: Option<&str>,
    ) -> Result<Arc<dyn ChannelAdapter>, AdapterError> {
        if channel.kind != ChannelKind::Conference {
            return self.inner.adapter(channel, secret);
        }
        let conference = conference_of(channel).ok_or_else(|| {
            AdapterError::Permanent(
                "this conference channel names no conference (settings.conference_id)".into(),
            )
        })?;
        let page_path = channel
            .settings
            .get("page_path")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(Arc::new(ConferenceAdapter {
            store: self.store.clone(),
            mailer: self.mailer.clone(),
            public_url: self.public_url.clone(),
            community: channel.community_id,
            conference,
            name: channel.name.clone(),
            page: format!("{}{page_path}", self.public_url),
        }))
    }
}

/// One conference as a channel.
#[derive(Debug)]
pub struct ConferenceAdapter {
    store: Arc<dyn Store>,
    mailer: Option<Arc<dyn Mailer>>,
    public_url: String,
    community: CommunityId,
    conference: ConferenceId,
    name: String,
    page: String,
}

fn storage(error: StoreError) -> AdapterError {
    match error {
        StoreError::Unavailable(cause) => AdapterError::Transient(cause),
        other => AdapterError::Transient(other.to_string()),
    }
}

impl ConferenceAdapter {
    /// The text each registrant is mailed for an announcement.
    fn news_text(&self, announcement: &Announcement) -> String {
        format!(
            "{body}\n\n-- \nYou get this because you registered for {name}: {page}\n",
            body = announcement.body_markdown.trim(),
            name = self.name,
            page = self.page,
        )
    }

    async fn conference(&self) -> Result<Conference, AdapterError> {
        self.store
            .conference(self.conference)
            .await
            .map_err(storage)?
            .filter(|c| c.community_id == self.community)
            .ok_or_else(|| {
                AdapterError::Permanent(format!(
                    "the conference of the channel {:?} no longer exists",
                    self.name
                ))
            })
    }
}

#[async_trait]
impl ChannelAdapter for ConferenceAdapter {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            list_members: true,
            manage_members: true,
            post: true,
            edit: false,
            per_recipient: true,
            calls: false,
        }
    }

    /// Every registrant who holds a seat or waits for one, in one page.
    async fn list_members(&self, _cursor: Option<&str>) -> Result<RemotePage, AdapterError> {
        self.conference().await?;
        let members = self
            .store
            .registrations(self.conference)
            .await
            .map_err(storage)?
            .into_iter()
            .filter(|r| {
                matches!(
                    r.status,
                    RegistrationStatus::Confirmed | RegistrationStatus::Waitlisted
                )
            })
            .map(|r| RemoteMember {
                external_id: r.id.to_string(),
                email: Some(r.email),
                name: r.name,
            })
            .collect();
        Ok(RemotePage {
            members,
            next_cursor: None,
        })
    }

    /// People register themselves (the sync mails them the page instead).
    async fn add_member(&self, _email: &Email, _name: &str) -> Result<String, AdapterError> {
        Err(AdapterError::Unsupported(
            "people register for a conference themselves: they are mailed its page".into(),
        ))
    }

    /// Cancels the registration; the first on the waitlist gets the seat
    /// and is told.
    async fn remove_member(&self, external_id: &str) -> Result<(), AdapterError> {
        let id: RegistrationId = external_id.parse().map_err(|_| {
            AdapterError::Permanent(format!("{external_id:?} is not a registration"))
        })?;
        let conference = self.conference().await?;
        let community = self
            .store
            .community(self.community)
            .await
            .map_err(storage)?
            .ok_or_else(|| AdapterError::Permanent("the community no longer exists".into()))?;
        let Some(registrant) = self.store.registration(id).await.map_err(storage)? else {
            return Ok(());
        };
        if registrant.conference_id != conference.id
            || registrant.status == RegistrationStatus::Cancelled
        {
            return Ok(());
        }
        let mailing = Mailing {
            mailer: self.mailer.as_deref(),
            public_url: &self.public_url,
        };
        registration::cancel(
            self.store.as_ref(),
            &mailing,
            &community,
            &conference,
            &registrant,
            "system:sync",
            chrono::Utc::now(),
        )
        .await
        .map(|_| ())
        .map_err(|e| AdapterError::Permanent(e.to_string()))
    }

    fn outside_invite(&self) -> Option<OutsideInvite> {
        Some(OutsideInvite {
            place: format!("the peer conference {}", self.name),
            link: self.page.clone(),
        })
    }

    async fn post(
        &self,
        _announcement: &Announcement,
        _idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        Err(AdapterError::Unsupported(
            "a conference sends each registrant their own copy".into(),
        ))
    }

    async fn post_to(
        &self,
        announcement: &Announcement,
        recipient: &Recipient,
        idempotency_key: &str,
    ) -> Result<Receipt, AdapterError> {
        let mailer = self.mailer.as_ref().ok_or_else(|| {
            AdapterError::Permanent(
                "this hub has no mail server: set mail.smtp_url (COPHUB_MAIL__SMTP_URL) and restart"
                    .into(),
            )
        })?;
        let to = Email::parse(&recipient.email)
            .map_err(|e| AdapterError::Permanent(format!("{}: {e}", recipient.email)))?;
        let host = hub_core::ports::mailer::message_host(&self.public_url);
        let message_id = format!("{idempotency_key}@{host}");
        let text = self.news_text(announcement);
        let mail = OutgoingMail {
            to,
            subject: announcement.title.clone(),
            text,
            html: None,
            message_id: message_id.clone(),
            calendar: None,
        };
        match mailer.send(&mail).await {
            Ok(()) => Ok(Receipt {
                remote_ref: message_id,
                url: None,
            }),
            Err(MailError::Transient(why)) => Err(AdapterError::Transient(why)),
            Err(MailError::Permanent(why)) => Err(AdapterError::Permanent(why)),
        }
    }

    fn preview(&self, announcement: &Announcement) -> Result<Vec<PreviewPart>, AdapterError> {
        Ok(vec![PreviewPart {
            label: format!(
                "Conference news: an email to each registrant of {}",
                self.name
            ),
            format: PreviewFormat::Text,
            content: format!(
                "Subject: {}\n\n{}",
                announcement.title,
                self.news_text(announcement)
            ),
        }])
    }

    async fn health(&self) -> Result<(), AdapterError> {
        self.conference().await.map(|_| ())
    }
}
