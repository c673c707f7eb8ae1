//! Test support for cophub: fresh databases on either backend, and fixtures.
//! Later it holds the fake Slack and Zoom servers and the SMTP sink. It
//! depends on no adapter crate and shares no constant with one: a fake
//! follows the published contract, so a test can catch an adapter getting
//! the contract wrong.

pub mod database;
pub mod fake_adapter;
pub mod fixtures;
pub mod webhook_receiver;
