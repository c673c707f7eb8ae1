//! The email list channel: cophub's own list over SMTP (`list`), a GNU
//! Mailman 3 list mirrored over its REST API (`mailman`), and the
//! mail server connection every part of the hub sends through (`smtp`).
//! Markdown becomes safe email through `hub_core::markdown`, the hub's one
//! renderer; `message` builds one list message with every header a list
//! needs.

pub mod list;
pub mod mailman;
pub mod message;
pub mod smtp;

pub use list::{EmailListAdapter, ListMail, ListSettings};
pub use mailman::{MailmanAdapter, MailmanSettings};
pub use smtp::{DkimAlgorithm, DkimSettings, SmtpSender, SmtpSettings};
