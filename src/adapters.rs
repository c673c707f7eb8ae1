//! The one place that knows every channel kind this build can drive.

use std::{sync::Arc, time::Duration};

use hub_adapter_email::{EmailListAdapter, ListMail, MailmanAdapter, SmtpSender};
use hub_adapter_slack::{SlackAdapter, SlackApi};
use hub_core::{
    model::channel::{Channel, ChannelKind},
    ports::adapter::{AdapterError, AdapterFactory, ChannelAdapter},
    secrets::SecretKeys,
};

use crate::{Failure, config::Config};

/// Builds adapters for channels, with what the deployment shares among
/// them (the mail server).
#[derive(Debug, Clone, Default)]
pub struct Adapters {
    list_mail: Option<Arc<ListMail>>,
    slack: SlackApi,
    zoom: hub_adapter_zoom::client::ZoomApi,
}

impl Adapters {
    /// The adapters of this deployment; `public_url` starts every link a
    /// message carries.
    ///
    /// # Errors
    /// [`Failure::Usage`] when the mail settings cannot be used.
    pub fn new(config: &Config, keys: &SecretKeys, public_url: &str) -> Result<Self, Failure> {
        let list_mail = match config.smtp_settings()? {
            Some(settings) => {
                let sender = SmtpSender::new(&settings)
                    .map_err(|e| Failure::Usage(format!("mail.smtp_url: {e}")))?;
                Some(Arc::new(ListMail::new(sender, public_url, keys)))
            }
            None => None,
        };
        Ok(Self {
            list_mail,
            slack: SlackApi {
                api_url: config.slack.api_url.clone(),
                timeout: Duration::from_secs(config.slack.timeout_seconds.max(1)),
            },
            zoom: config.zoom.api(),
        })
    }

    /// The mail server, when one is configured.
    #[must_use]
    pub fn mailer(&self) -> Option<SmtpSender> {
        self.list_mail.as_ref().map(|mail| mail.sender().clone())
    }
}

impl AdapterFactory for Adapters {
    fn adapter(
        &self,
        channel: &Channel,
        secret: Option<&str>,
    ) -> Result<Arc<dyn ChannelAdapter>, AdapterError> {
        match channel.kind {
            ChannelKind::Webhook => Ok(Arc::new(hub_adapter_webhook::WebhookAdapter::new(
                &channel.settings,
                secret,
            )?)),
            ChannelKind::EmailList => {
                let mail = self.list_mail.clone().ok_or_else(|| {
                    AdapterError::Permanent(
                        "this hub has no mail server: set mail.smtp_url (COPHUB_MAIL__SMTP_URL) and restart".into(),
                    )
                })?;
                Ok(Arc::new(EmailListAdapter::new(
                    mail,
                    &channel.name,
                    &channel.settings,
                )?))
            }
            ChannelKind::Mailman => Ok(Arc::new(MailmanAdapter::new(
                &channel.settings,
                secret,
                self.mailer(),
            )?)),
            ChannelKind::Slack => Ok(Arc::new(SlackAdapter::new(
                &self.slack,
                &channel.settings,
                secret,
            )?)),
            ChannelKind::Zoom => {
                let secret = secret.ok_or_else(|| {
                    AdapterError::Auth(
                        "this Zoom channel has no app credentials: enter them on the Channels page"
                            .into(),
                    )
                })?;
                Ok(Arc::new(hub_adapter_zoom::ZoomAdapter::new(
                    self.zoom.clone(),
                    &channel.settings,
                    secret,
                )?))
            }
            other => Err(AdapterError::Unsupported(format!(
                "{other} channels are not available in this version"
            ))),
        }
    }
}
