//! The one place that knows every channel kind this build can drive.

use std::sync::Arc;

use hub_core::{
    model::channel::{Channel, ChannelKind},
    ports::adapter::{AdapterError, AdapterFactory, ChannelAdapter},
};

/// Builds adapters for channels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Adapters;

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
            other => Err(AdapterError::Unsupported(format!(
                "{other} channels are not available in this version"
            ))),
        }
    }
}
