//! Test support for cophub: fresh databases on either backend, and fixtures.
//! `smtp_sink` runs a real SMTP server (aiosmtpd, through
//! scripts/peers/smtp-sink) that records what it receives. `slack` is a fake
//! Slack: the Web API, the OAuth v2 consent page, signed Events API
//! deliveries, rate limits and scripted faults. `zoom` is a fake Zoom:
//! Server-to-Server OAuth, meetings with recurrences computed across DST,
//! registrants, Team Chat messages, signed webhooks, rate limits and scripted
//! faults. `mailman` reaches the real GNU Mailman 3 that scripts/test starts.
//! `demo_mail` is a small in-process SMTP receiver that keeps messages in
//! memory, for `cophub demo`.
//! It depends on no adapter crate and shares no constant with one: a fake
//! follows the published contract, so a test can catch an adapter getting
//! the contract wrong.

pub mod database;
pub mod demo_mail;
pub mod fake_adapter;
pub mod fixtures;
pub mod ical_check;
pub mod mailman;
pub mod slack;
pub mod smtp_sink;
pub mod webhook_receiver;
pub mod zoom;
