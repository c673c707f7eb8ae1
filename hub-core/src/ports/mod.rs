//! The ports: traits through which hub-core's logic reaches storage, the
//! channels, mail and time. Each port owns its error type, and each method's
//! docs say which case returns which error.

pub mod adapter;
pub mod clock;
pub mod conference_store;
pub mod inbound;
pub mod install;
pub mod mailer;
pub mod store;
