//! A published schedule as calendar events: one per placed session, in the
//! community's feeds beside its calls (the public feed names the room; a
//! member's private feed adds an online room's join link).

use crate::{
    calls::ical::{Sender, SessionEvent},
    model::{
        community::Community,
        conference::{Conference, ConferencePhase},
    },
    ports::store::{Store, StoreError},
};

use super::registration::conference_page;

/// The sessions of a community's published schedules.
///
/// # Errors
/// Storage failures.
pub async fn community_sessions(
    store: &dyn Store,
    community: &Community,
    sender: &Sender,
    public_url: &str,
    with_join_url: bool,
) -> Result<Vec<SessionEvent>, StoreError> {
    let mut events = Vec::new();
    for conference in store.community_conferences(community.id).await? {
        if conference.phase < ConferencePhase::SchedulePublished {
            continue;
        }
        events.extend(
            sessions(
                store,
                community,
                &conference,
                sender,
                public_url,
                with_join_url,
            )
            .await?,
        );
    }
    Ok(events)
}

/// One published conference's sessions.
///
/// # Errors
/// Storage failures.
pub async fn sessions(
    store: &dyn Store,
    community: &Community,
    conference: &Conference,
    sender: &Sender,
    public_url: &str,
    with_join_url: bool,
) -> Result<Vec<SessionEvent>, StoreError> {
    let rooms = store.conference_rooms(conference.id).await?;
    let slots = store.conference_slots(conference.id).await?;
    let proposals = store.proposals(conference.id).await?;
    let page = format!(
        "{}/schedule",
        conference_page(public_url, community, conference)
    );
    let mut events: Vec<SessionEvent> = store
        .placements(conference.id)
        .await?
        .iter()
        .filter_map(|placement| {
            let room = rooms.iter().find(|r| r.id == placement.room_id)?;
            let slot = slots.iter().find(|s| s.id == placement.slot_id)?;
            let summary = proposals
                .iter()
                .find(|p| p.proposal.id == placement.proposal_id)?;
            let place = match &conference.venue {
                Some(venue) => format!("{}, {venue}", room.name),
                None => room.name.clone(),
            };
            let location = match (&room.join_url, with_join_url) {
                (Some(join), true) => format!("{place}: {join}"),
                _ => place,
            };
            let mut description = summary.proposal.description.clone();
            if let Some(slack) = &placement.slack_url {
                description = format!("{description}\n\nIts Slack conversation: {slack}");
            }
            Some(SessionEvent {
                uid: format!("session-{}@{}", summary.proposal.id, sender.uid_host),
                title: format!("{} ({})", summary.proposal.title, conference.name),
                description,
                zone: conference.timezone,
                starts_at: slot.starts_at,
                ends_at: slot.ends_at,
                location: Some(location),
                url: Some(page.clone()),
            })
        })
        .collect();
    events.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.uid.cmp(&b.uid)));
    Ok(events)
}
