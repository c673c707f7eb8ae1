//! The heart of cophub: the domain model of a community of practice (people,
//! consent, channels, announcements, calls, conferences, syncs, the audit
//! chain), the ports through which the rest of the system reaches storage,
//! channels, mail and time, and the logic that needs nothing but those ports.
//!
//! Invariant: nothing here names axum, reqwest or sqlx. Adapters, storage and
//! the web layer depend on this crate, never the other way round.

pub mod access;
pub mod announcements;
pub mod api_tokens;
pub mod archive;
pub mod audit;
pub mod auth;
pub mod bounces;
pub mod calls;
pub mod channels;
pub mod communities;
pub mod conferences;
pub mod credentials;
pub mod destination;
pub mod email;
pub mod idempotency;
pub mod ids;
pub mod import;
pub mod markdown;
pub mod membership;
pub mod metrics;
pub mod model;
pub mod outbox;
pub mod page;
pub mod ports;
pub mod roster;
pub mod schedule;
pub mod secrets;
pub mod signing;
pub mod sync;
pub mod tls;
pub mod unsubscribe;
pub mod users;

pub use email::{Email, InvalidEmail};
