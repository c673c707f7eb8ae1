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
        call::{Call, CallStatus, Invitee, SentInvitation},
        community::Community,
    },
    ports::{
        adapter::{AdapterError, ChannelAdapter},
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
    let own_link = invitee.join_url.as_deref();
    let join = own_link.or(call.join_url.as_deref());
    let calendar = ical::invitation(
        &sender,
        Entry {
            call,
            page_url: Some(&page),
            join_url: join,
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
        match (join, own_link) {
            (Some(join), Some(_)) => text.push_str(&format!(
                "Join: {join}\n(This link is yours alone: you are registered with it. Please do not pass it on.)\n"
            )),
            (Some(join), None) if call.registration => {
                text.push_str(&format!("Register to join: {join}\n"));
            }
            (Some(join), None) => text.push_str(&format!("Join: {join}\n")),
            (None, _) => {}
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

/// Registers invitees for a call's Zoom meeting, so that each invitation
/// carries the member's own join link.
#[derive(Debug, Clone)]
pub(crate) struct Registrar {
    /// The Zoom channel's adapter.
    pub adapter: Arc<dyn ChannelAdapter>,
    /// The call's meeting there.
    pub meeting: String,
}

impl Registrar {
    /// The member's own join link: the one they were given before, or a new
    /// registration's. `None` where they do not take Zoom (they register
    /// themselves through the call's link, if they wish) or the meeting
    /// takes no registrations.
    async fn own_link(&self, call: &Call, invitee: &Invitee) -> Result<Option<String>, String> {
        if invitee.join_url.is_some() || !invitee.takes_zoom {
            return Ok(invitee.join_url.clone());
        }
        match self
            .adapter
            .register_for_call(&self.meeting, &invitee.email, &invitee.name)
            .await
        {
            Ok(link) => Ok(Some(link)),
            Err(AdapterError::Permanent(why) | AdapterError::Unsupported(why)) => {
                tracing::warn!(call = %call.id, member = %invitee.member_id, %why, "Zoom would not register a member; their invitation carries the call's link");
                Ok(None)
            }
            Err(error) => Err(format!(
                "Zoom did not register {} for the call yet: {error}",
                invitee.email.display()
            )),
        }
    }
}

/// Mails the call's current version to every member who has not had it,
/// recording each batch. With a `registrar`, each member who takes Zoom is
/// registered for the call's meeting first and mailed their own link.
pub(crate) async fn send(
    store: &dyn Store,
    invitations: &Invitations,
    keys: &SecretKeys,
    call: &Call,
    registrar: Option<&Registrar>,
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
        for invitee in batch {
            let mut invitee = invitee;
            if let Some(registrar) = registrar.filter(|_| !cancelled) {
                match registrar.own_link(call, &invitee).await {
                    Ok(link) => invitee.join_url = link,
                    Err(why) => {
                        deferred = Some(why);
                        break;
                    }
                }
            }
            let mail = message(call, &community, &invitee, invitations, keys, now);
            let mailed = SentInvitation {
                member_id: invitee.member_id,
                join_url: invitee.join_url,
            };
            match invitations.mailer.send(&mail).await {
                Ok(()) => sent.push(mailed),
                // Refused for this address: a bounce's business, not a
                // reason to hold everyone else's invitation.
                Err(MailError::Permanent(why)) => {
                    tracing::warn!(call = %call.id, member = %invitee.member_id, %why, "the mail server refused an invitation");
                    sent.push(mailed);
                }
                Err(MailError::Transient(why)) => {
                    deferred = Some(format!("the mail server deferred an invitation: {why}"));
                    break;
                }
            }
        }
        store
            .record_invitations(call.id, &sent, call.sequence, now)
            .await
            .map_err(later)?;
        if let Some(why) = deferred {
            return Err(NotSent::Later(why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ids::{CallId, CommunityId, MemberId},
        model::community::Slug,
    };

    #[derive(Debug)]
    struct NoMail;

    #[async_trait::async_trait]
    impl Mailer for NoMail {
        async fn send(&self, _: &OutgoingMail) -> Result<(), MailError> {
            Ok(())
        }
    }

    /// The words and the calendar's LOCATION of the message to someone.
    fn sent_to(call: &Call, own_link: Option<&str>) -> (String, String) {
        let now = Utc::now();
        let community = Community {
            id: call.community_id,
            slug: Slug::parse("rse").unwrap(),
            name: "RSE".into(),
            timezone: "UTC".into(),
            created_at: now,
            archive: Default::default(),
        };
        let invitee = Invitee {
            member_id: MemberId::new(),
            email: Email::parse("ada@example.org").unwrap(),
            name: "Ada".into(),
            invited_sequence: None,
            join_url: own_link.map(str::to_owned),
            takes_zoom: true,
        };
        let invitations = Invitations {
            mailer: Arc::new(NoMail),
            organizer: Email::parse("hub@example.org").unwrap(),
            public_url: "https://hub.example.org".into(),
        };
        let keys = SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap();
        let mail = message(call, &community, &invitee, &invitations, &keys, now);
        let calendar = mail.calendar.unwrap().text.replace("\r\n ", "");
        let location = calendar
            .lines()
            .find_map(|l| l.strip_prefix("LOCATION:"))
            .unwrap_or_default()
            .to_owned();
        (mail.text, location)
    }

    #[test]
    fn a_registrant_is_mailed_their_own_link_and_anyone_else_the_calls() {
        let start = (Utc::now() + chrono::Duration::days(3)).naive_utc();
        let mut call = Call {
            id: CallId::new(),
            community_id: CommunityId::new(),
            title: "Office hours".into(),
            agenda: String::new(),
            starts_at_local: start,
            timezone: chrono_tz::UTC,
            duration_minutes: 60,
            recurrence: None,
            overrides: vec![],
            cancelled_occurrences: vec![],
            registration: false,
            status: CallStatus::Scheduled,
            zoom_meeting_id: Some("81234567890".into()),
            join_url: Some("https://zoom.example/j/81234567890".into()),
            recording_url: None,
            sequence: 0,
            created_at: Utc::now(),
        };
        let (text, location) = sent_to(&call, None);
        assert!(text.contains("Join: https://zoom.example/j/81234567890\n"));
        assert_eq!(location, "https://zoom.example/j/81234567890");

        call.registration = true;
        let own = "https://zoom.example/w/81234567890?tk=ada";
        let (text, location) = sent_to(&call, Some(own));
        assert!(text.contains(&format!("Join: {own}\n")), "{text}");
        assert!(text.contains("yours alone"));
        assert!(!text.contains("/j/81234567890"), "{text}");
        assert_eq!(location, own);

        let (text, _) = sent_to(&call, None);
        assert!(
            text.contains("Register to join: https://zoom.example/j/81234567890\n"),
            "{text}"
        );
    }
}
