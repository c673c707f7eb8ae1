//! The day-before reminder: a day before each occurrence, every member who
//! was sent the call's invitation (and still takes the email) gets a short
//! mail with the time and the join link. Each person is claimed before their
//! mail goes, so several workers never remind anyone twice.

use chrono::{DateTime, Duration, Utc};

use crate::{
    calls::{feed, invitations::Invitations},
    model::{
        call::{Call, Invitee, LandingState, Occurrence},
        channel::ChannelKind,
    },
    ports::{
        mailer::OutgoingMail,
        store::{Store, StoreError},
    },
};

/// How long before an occurrence its reminder goes.
pub const REMINDER_LEAD_HOURS: i64 = 24;
/// Members reminded per batch.
const BATCH: u32 = 50;

/// The occurrence of `call` whose reminder is due at `now`: the next one,
/// when it starts within the lead time.
#[must_use]
pub fn due(call: &Call, now: DateTime<Utc>) -> Option<Occurrence> {
    call.next_occurrence(now)
        .filter(|o| o.starts_at > now && o.starts_at <= now + Duration::hours(REMINDER_LEAD_HOURS))
}

fn message(
    call: &Call,
    occurrence: &Occurrence,
    invitee: &Invitee,
    community_name: &str,
    page: &str,
    host: &str,
) -> OutgoingMail {
    let when = occurrence
        .starts_at
        .with_timezone(&call.timezone)
        .format("%A %-d %B %Y, %H:%M");
    let mut text = format!(
        "Hello {},\n\na reminder from {community_name}: {} is on {when} {} ({} minutes).\n",
        invitee.name.trim(),
        call.title,
        call.timezone.name(),
        occurrence.duration_minutes
    );
    if let Some(join) = invitee.join_url.as_ref().or(call.join_url.as_ref()) {
        text.push_str(&format!("\nJoin: {join}\n"));
    }
    text.push_str(&format!("\nThe calls page: {page}\n"));
    OutgoingMail {
        to: invitee.email.clone(),
        subject: format!("Tomorrow: {}", call.title),
        text,
        html: None,
        message_id: format!(
            "call-{}.reminder.{}.{}@{host}",
            call.id,
            occurrence.original.format("%Y%m%dT%H%M"),
            invitee.member_id
        ),
        calendar: None,
    }
}

/// Whether a landing last carried out at `landed_at` shows an occurrence
/// that has ended by `now` (so a post showing "the next call" is stale).
#[must_use]
pub fn shows_a_past_occurrence(call: &Call, landed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    call.occurrences().iter().any(|o| {
        let end = o.starts_at + Duration::minutes(i64::from(o.duration_minutes));
        !o.cancelled && landed_at < end && end <= now
    })
}

/// Has each Slack post of a recurring call that still shows an occurrence
/// which has ended move on to the next one (and schedule its reminder).
///
/// # Errors
/// Storage failures.
pub async fn move_posts_on(
    store: &dyn Store,
    calls: &[Call],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    // A community's channels, read once for all its calls.
    let mut channels_of = std::collections::HashMap::new();
    for call in calls.iter().filter(|c| c.recurrence.is_some()) {
        let channels = match channels_of.entry(call.community_id) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                new.insert(store.channels(call.community_id).await?)
            }
        };
        for landing in store.call_landings(call.id).await? {
            let slack = channels
                .iter()
                .any(|c| c.id == landing.channel_id && c.kind == ChannelKind::Slack);
            if slack
                && landing.state == LandingState::Landed
                && shows_a_past_occurrence(call, landing.next_attempt_at, now)
            {
                store
                    .refresh_call_landing(call.id, landing.channel_id, now)
                    .await?;
                moved += 1;
            }
        }
    }
    Ok(moved)
}

/// Sends every reminder due at `now`; returns how many went out.
///
/// # Errors
/// Storage failures; a mail the server refuses is logged and not retried.
pub async fn send_due(
    store: &dyn Store,
    invitations: &Invitations,
    calls: &[Call],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut sent = 0;
    for call in calls {
        let Some(occurrence) = due(call, now) else {
            continue;
        };
        let Some(community) = store.community(call.community_id).await? else {
            continue;
        };
        let sender = feed::sender(&community, &invitations.organizer, &invitations.public_url);
        let page = feed::calls_page(&community, &invitations.public_url);
        loop {
            let batch = store
                .claim_reminders(call.id, occurrence.original, now, BATCH)
                .await?;
            if batch.is_empty() {
                break;
            }
            for invitee in &batch {
                let mail = message(
                    call,
                    &occurrence,
                    invitee,
                    &community.name,
                    &page,
                    &sender.uid_host,
                );
                match invitations.mailer.send(&mail).await {
                    Ok(()) => sent += 1,
                    Err(error) => {
                        tracing::warn!(call = %call.id, member = %invitee.member_id, %error, "a reminder was not sent");
                    }
                }
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        calls::recurrence::Recurrence,
        ids::{CallId, CommunityId},
        model::call::CallStatus,
    };

    #[test]
    fn the_reminder_of_the_next_occurrence_is_due_within_a_day_of_it() {
        let now = Utc::now();
        let zone = chrono_tz::UTC;
        let start = (now + Duration::hours(30)).naive_utc();
        let call = Call {
            id: CallId::new(),
            community_id: CommunityId::new(),
            title: "Call".into(),
            agenda: String::new(),
            starts_at_local: start,
            timezone: zone,
            duration_minutes: 60,
            recurrence: Recurrence::parse("FREQ=DAILY;COUNT=3", start, zone).ok(),
            overrides: vec![],
            cancelled_occurrences: vec![],
            registration: false,
            status: CallStatus::Scheduled,
            zoom_meeting_id: None,
            join_url: None,
            recording_url: None,
            sequence: 0,
            created_at: now,
        };
        assert_eq!(due(&call, now), None, "30 hours ahead: not yet");
        let later = now + Duration::hours(7);
        assert_eq!(due(&call, later).map(|o| o.original), Some(start));
        let after = now + Duration::hours(31);
        assert_eq!(
            due(&call, after).map(|o| o.original),
            Some(start + Duration::days(1)),
            "during the first, the second's reminder is due"
        );

        // A post landed before the first occurrence is stale once it ended,
        // and fresh again once moved on after it.
        let ended = now + Duration::hours(31);
        assert!(!shows_a_past_occurrence(
            &call,
            now,
            now + Duration::hours(30)
        ));
        assert!(shows_a_past_occurrence(&call, now, ended));
        assert!(!shows_a_past_occurrence(
            &call,
            ended,
            ended + Duration::minutes(5)
        ));
    }
}
