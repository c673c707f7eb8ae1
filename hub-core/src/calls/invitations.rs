//! A call's invitation by email: one message per member who takes the
//! community's email, carrying the call as a `text/calendar` part (RFC
//! 6047). Each version of the call (its SEQUENCE) goes to each person once:
//! who was sent which version is recorded a batch at a time, so a crash
//! resends at most the batch in flight, and a new title alone (same
//! SEQUENCE) mails no one.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    Email,
    calls::{
        feed,
        ical::{self, Entry, Method},
    },
    model::{
        call::{Call, CallStatus, Invitee},
        community::Community,
    },
    ports::{
        mailer::{CalendarPart, MailError, Mailer, OutgoingMail},
        store::Store,
    },
    secrets::SecretKeys,
};

/// Members mailed per batch (and recorded together).
const BATCH: u32 = 50;

/// What mailing invitations needs from the deployment.
#[derive(Debug, Clone)]
pub struct Invitations {
    /// The mail server.
    pub mailer: Arc<dyn Mailer>,
    /// The ORGANIZER address (the hub's own sender).
    pub organizer: Email,
    /// The base of every link.
    pub public_url: String,
}

/// The message one member gets for the call as it is now.
#[must_use]
pub fn message(
    call: &Call,
    community: &Community,
    invitee: &Invitee,
    invitations: &Invitations,
    keys: &SecretKeys,
    now: DateTime<Utc>,
) -> OutgoingMail {
    let sender = feed::sender(community, &invitations.organizer, &invitations.public_url);
    let page = feed::calls_page(community, &invitations.public_url);
    let cancelled = call.status == CallStatus::Cancelled;
    let method = if cancelled {
        Method::Cancel
    } else {
        Method::Request
    };
    let calendar = ical::invitation(
        &sender,
        Entry {
            call,
            page_url: Some(&page),
            with_join_url: true,
        },
        &invitee.email,
        method,
        now,
    );
    let subject = match (cancelled, invitee.invited_sequence) {
        (true, _) => format!("Cancelled: {}", call.title),
        (false, None) => format!("Invitation: {}", call.title),
        (false, Some(_)) => format!("Updated: {}", call.title),
    };
    let feed_url = format!(
        "{}/c/{}/calendar/{}.ics",
        invitations.public_url.trim_end_matches('/'),
        community.slug.as_str(),
        feed::feed_token(&keys.signer(feed::PURPOSE), invitee.member_id)
    );
    let mut text = format!("Hello {},\n\n", invitee.name.trim());
    if cancelled {
        text.push_str(&format!(
            "{} has cancelled {}. Your calendar program removes it when you open the attached invitation.\n",
            community.name, call.title
        ));
    } else {
        text.push_str(&format!(
            "{} invites you to {}.\n\n",
            community.name, call.title
        ));
        if let Some(next) = call.next_occurrence(now) {
            text.push_str(&format!(
                "When: {} {} ({} minutes){}\n",
                next.starts_at
                    .with_timezone(&call.timezone)
                    .format("%A %-d %B %Y, %H:%M"),
                call.timezone.name(),
                next.duration_minutes,
                if call.recurrence.is_some() {
                    ", and as the attached invitation repeats"
                } else {
                    ""
                }
            ));
        }
        if let Some(join) = &call.join_url {
            text.push_str(&format!("Join: {join}\n"));
        }
        if !call.agenda.trim().is_empty() {
            text.push_str(&format!("\n{}\n", call.agenda.trim()));
        }
    }
    text.push_str(&format!(
        "\nEvery call of the community, in your calendar: {feed_url}\nThe calls page: {page}\n"
    ));
    OutgoingMail {
        to: invitee.email.clone(),
        subject,
        text,
        html: None,
        message_id: format!(
            "call-{}.{}.{}@{}",
            call.id, call.sequence, invitee.member_id, sender.uid_host
        ),
        calendar: Some(CalendarPart {
            method: if cancelled { "CANCEL" } else { "REQUEST" }.into(),
            text: calendar,
        }),
    }
}

/// Why invitations could not all go out now.
#[derive(Debug)]
pub(crate) enum NotSent {
    /// Try again later (the mail server or the database is busy).
    Later(String),
    /// Nothing to try again: the community is gone.
    Never(String),
}

/// Mails the call's current version to every member who has not had it,
/// recording each batch.
pub(crate) async fn send(
    store: &dyn Store,
    invitations: &Invitations,
    keys: &SecretKeys,
    call: &Call,
    now: DateTime<Utc>,
) -> Result<(), NotSent> {
    let later = |error: crate::ports::store::StoreError| NotSent::Later(error.to_string());
    let community = store
        .community(call.community_id)
        .await
        .map_err(later)?
        .ok_or_else(|| NotSent::Never("the call's community is gone".into()))?;
    let cancelled = call.status == CallStatus::Cancelled;
    loop {
        let batch = store
            .call_invitees(call.id, call.sequence, cancelled, BATCH)
            .await
            .map_err(later)?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut sent = Vec::with_capacity(batch.len());
        let mut deferred = None;
        for invitee in &batch {
            let mail = message(call, &community, invitee, invitations, keys, now);
            match invitations.mailer.send(&mail).await {
                Ok(()) => sent.push(invitee.member_id),
                // Refused for this address: a bounce's business, not a
                // reason to hold everyone else's invitation.
                Err(MailError::Permanent(why)) => {
                    tracing::warn!(call = %call.id, member = %invitee.member_id, %why, "the mail server refused an invitation");
                    sent.push(invitee.member_id);
                }
                Err(MailError::Transient(why)) => {
                    deferred = Some(why);
                    break;
                }
            }
        }
        store
            .record_invitations(call.id, &sent, call.sequence, now)
            .await
            .map_err(later)?;
        if let Some(why) = deferred {
            return Err(NotSent::Later(format!(
                "the mail server deferred an invitation: {why}"
            )));
        }
    }
}
