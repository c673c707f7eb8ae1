//! Peer conferences: a lead sets one up (`setup`: name, dates, rooms, slots,
//! the phases), people register with a mailed link and a waitlist
//! (`registration`), registrants propose sessions and vote for them
//! (`sessions`), and the schedule builder (`builder`) assigns the most
//! wanted sessions to rooms and slots, which a lead pins, moves and
//! publishes (`schedule`) as a page and a calendar (`calendar`).

pub mod builder;
pub mod calendar;
pub mod channel;
pub mod places;
pub mod registration;
pub mod schedule;
pub mod sessions;
pub mod setup;

use crate::{
    InvalidEmail,
    model::audit::NewAuditEvent,
    ports::{mailer::MailError, store::StoreError},
};

/// Why a conference request did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ConferenceError {
    /// A field is not acceptable; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// An address is not one.
    #[error(transparent)]
    Email(#[from] InvalidEmail),
    /// The phase does not allow it; the message says what is open.
    #[error("{0}")]
    Closed(String),
    /// Only registrants with a seat may propose, vote or act.
    #[error(
        "only people registered for this conference, with a seat, may do this: register first, or open the link in your latest mail"
    )]
    NotRegistrant,
    /// The registrant used every vote.
    #[error("you have used all {0} of your votes: withdraw one to vote for another session")]
    OverBudget(u32),
    /// The registrant voted for this session already.
    #[error("you voted for this session already; each person has one vote per session")]
    AlreadyVoted,
    /// Nothing of that name in this conference.
    #[error("{0} was not found in this conference")]
    NotFound(&'static str),
    /// The mailed link expired, was used, or never existed.
    #[error("this link has expired or was used already: ask for a new one on the conference page")]
    SpentLink,
    /// A link went to this address minutes ago.
    #[error(
        "a link was mailed to this address a few minutes ago: use the one in that message, or ask again in 10 minutes"
    )]
    TooSoon,
    /// This hub has no mail server.
    #[error("this hub cannot send mail yet; ask the community's lead")]
    NoMailer,
    /// The mail server did not take the message.
    #[error("the message could not be sent just now ({0}); try again in a few minutes")]
    Mail(#[from] MailError),
    /// Storage failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConferenceError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}

/// An audit entry about a conference.
pub(crate) fn audit(
    actor: &str,
    action: &str,
    conference: &crate::model::conference::Conference,
    details: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        actor: actor.to_owned(),
        action: action.to_owned(),
        community_id: Some(conference.community_id),
        subject: conference.slug.clone(),
        details,
    }
}

/// A time as both databases keep it (to the microsecond), so what is
/// answered is what is read back.
pub(crate) fn stored(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(now, 6)
}
