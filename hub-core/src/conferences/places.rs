//! Where a published conference's sessions happen in the community's other
//! channels: a Zoom meeting for each room of an online conference (when
//! Zoom is connected), and a Slack conversation of its own for each
//! scheduled session (when Slack is connected), its link shown beside the
//! session. The worker runs [`Places::run_once`] once a minute; every step
//! is safe to repeat — a room's meeting carries the room's id as its call
//! marker, so a lost answer is found again rather than made twice, and a
//! conversation of the session's name is adopted rather than opened again.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    credentials::{CredentialError, RefreshParts, adapter_for},
    ids::CallId,
    model::{
        call::{Call, CallStatus},
        channel::{Channel, ChannelHealth, ChannelKind},
        conference::{Conference, ProposalState, Room, Slot},
    },
    ports::{
        adapter::{AdapterFactory, ChannelAdapter},
        clock::Clock,
        install::TokenRefresher,
        store::{Store, StoreError},
    },
    secrets::SecretKeys,
};

/// How long a worker holds a conference while opening its places; longer
/// than the slowest tool's timeouts over a conference's rooms and sessions.
const LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// Longest Slack conversation name.
const MAX_CONVERSATION_NAME: usize = 80;

/// The channels a conference lacks something in.
#[derive(Debug)]
struct Wanted {
    zoom: Option<Channel>,
    slack: Option<Channel>,
}

/// The worker step that opens rooms' meetings and sessions' conversations.
#[derive(Debug)]
pub struct Places {
    store: Arc<dyn Store>,
    adapters: Arc<dyn AdapterFactory>,
    keys: Arc<SecretKeys>,
    clock: Arc<dyn Clock>,
    refresher: Option<Arc<dyn TokenRefresher>>,
    worker_id: String,
}

impl Places {
    /// The step over these parts.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        adapters: Arc<dyn AdapterFactory>,
        keys: Arc<SecretKeys>,
        clock: Arc<dyn Clock>,
        worker_id: String,
    ) -> Self {
        Self {
            store,
            adapters,
            keys,
            clock,
            refresher: None,
            worker_id,
        }
    }

    /// Refreshes rotating tokens (Slack's) before they are used.
    #[must_use]
    pub fn with_refresher(mut self, refresher: Arc<dyn TokenRefresher>) -> Self {
        self.refresher = Some(refresher);
        self
    }

    /// Runs [`Self::run_once`] every `period` until `shutdown`.
    pub async fn run(
        &self,
        period: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.run_once().await {
                tracing::error!(%error, "could not open the conferences' meetings and conversations");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(period) => {}
            }
        }
    }

    /// Opens what is missing for every published conference; returns how
    /// many meetings and conversations it made. A channel that fails is
    /// logged and tried again next time; the others go on.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut made = 0;
        for conference in self.store.published_conferences().await? {
            let Some(wanted) = self.wanted(&conference).await? else {
                continue;
            };
            let now = self.clock.now();
            // One worker at a time per conference: two opening the same
            // room at once could both miss the other's meeting.
            if !self
                .store
                .claim_conference_places(conference.id, &self.worker_id, now, now + LEASE)
                .await?
            {
                continue;
            }
            let opened = self.open_places(&conference, &wanted).await;
            self.store
                .release_conference_places(conference.id, &self.worker_id)
                .await?;
            made += opened?;
        }
        Ok(made)
    }

    /// The channels a conference still lacks something in (connected and
    /// not waiting to be reconnected); `None` when it lacks nothing, so a
    /// conference that has everything costs reads, never a lease.
    async fn wanted(&self, conference: &Conference) -> Result<Option<Wanted>, StoreError> {
        let channels = self.store.channels(conference.community_id).await?;
        let usable = |kind: ChannelKind| {
            channels
                .iter()
                .find(|c| {
                    c.kind == kind && !matches!(c.health, ChannelHealth::NeedsReconnect { .. })
                })
                .cloned()
        };
        let mut zoom = None;
        if conference.online()
            && let Some(channel) = usable(ChannelKind::Zoom)
            && self
                .store
                .conference_rooms(conference.id)
                .await?
                .iter()
                .any(|r| r.zoom_meeting_id.is_none())
        {
            zoom = Some(channel);
        }
        let mut slack = None;
        if let Some(channel) = usable(ChannelKind::Slack)
            && self
                .store
                .placements(conference.id)
                .await?
                .iter()
                .any(|p| p.slack_conversation.is_none())
        {
            slack = Some(channel);
        }
        Ok((zoom.is_some() || slack.is_some()).then_some(Wanted { zoom, slack }))
    }

    /// Opens what one conference lacks, reading again under the lease.
    async fn open_places(
        &self,
        conference: &Conference,
        wanted: &Wanted,
    ) -> Result<usize, StoreError> {
        let mut made = 0;
        if let Some(zoom) = &wanted.zoom {
            made += self.open_rooms(conference, zoom).await?;
        }
        if let Some(slack) = &wanted.slack {
            made += self.open_conversations(conference, slack).await?;
        }
        Ok(made)
    }

    async fn adapter(
        &self,
        channel: &Channel,
    ) -> Result<Option<Arc<dyn ChannelAdapter>>, StoreError> {
        let Some((channel, encrypted)) = self.store.channel_with_secret(channel.id).await? else {
            return Ok(None);
        };
        let parts = RefreshParts {
            store: self.store.as_ref(),
            keys: &self.keys,
            refresher: self.refresher.as_deref(),
            owner: &self.worker_id,
            now: self.clock.now(),
        };
        match adapter_for(
            parts,
            self.adapters.as_ref(),
            &channel,
            encrypted.as_deref(),
        )
        .await
        {
            Ok(adapter) => Ok(Some(adapter)),
            Err(CredentialError::Store(error)) => Err(error),
            Err(error) => {
                tracing::warn!(channel = %channel.id, %error, "cannot reach the channel for a conference");
                Ok(None)
            }
        }
    }

    async fn open_rooms(
        &self,
        conference: &Conference,
        zoom: &Channel,
    ) -> Result<usize, StoreError> {
        let rooms = self.store.conference_rooms(conference.id).await?;
        if rooms.iter().all(|r| r.zoom_meeting_id.is_some()) {
            return Ok(0);
        }
        let slots = self.store.conference_slots(conference.id).await?;
        let Some(adapter) = self.adapter(zoom).await? else {
            return Ok(0);
        };
        let mut made = 0;
        for room in rooms.iter().filter(|r| r.zoom_meeting_id.is_none()) {
            let Some(call) = room_call(conference, room, &slots, self.clock.now()) else {
                continue;
            };
            match adapter
                .schedule_call(&call, &format!("room-{}", room.id))
                .await
            {
                Ok(receipt) => {
                    let join = receipt.join_url.unwrap_or_default();
                    self.store
                        .set_room_meeting(room.id, &receipt.remote_ref, &join)
                        .await?;
                    made += 1;
                }
                Err(error) => {
                    tracing::warn!(room = %room.id, %error, "could not open the room's Zoom meeting; trying again in a minute");
                    break;
                }
            }
        }
        Ok(made)
    }

    async fn open_conversations(
        &self,
        conference: &Conference,
        slack: &Channel,
    ) -> Result<usize, StoreError> {
        let placements = self.store.placements(conference.id).await?;
        if placements.iter().all(|p| p.slack_conversation.is_some()) {
            return Ok(0);
        }
        let proposals = self.store.proposals(conference.id).await?;
        let Some(adapter) = self.adapter(slack).await? else {
            return Ok(0);
        };
        let mut made = 0;
        for placement in placements.iter().filter(|p| p.slack_conversation.is_none()) {
            let Some(summary) = proposals.iter().find(|s| {
                s.proposal.id == placement.proposal_id && s.proposal.state == ProposalState::Open
            }) else {
                continue;
            };
            let name = conversation_name(conference, &summary.proposal.title);
            let purpose = format!("{} at {}", summary.proposal.title, conference.name);
            match adapter.open_group(&name, &purpose).await {
                Ok(opened) => {
                    self.store
                        .set_session_conversation(placement.proposal_id, &opened.id, &opened.url)
                        .await?;
                    made += 1;
                }
                Err(error) => {
                    tracing::warn!(session = %placement.proposal_id, %error, "could not open the session's Slack conversation; trying again in a minute");
                    break;
                }
            }
        }
        Ok(made)
    }
}

/// A room's meeting as a call: from the first slot's start to the last
/// slot's end (at most a day, Zoom's longest meeting), named by the room's
/// id so an earlier attempt is found again.
#[must_use]
pub fn room_call(
    conference: &Conference,
    room: &Room,
    slots: &[Slot],
    now: DateTime<Utc>,
) -> Option<Call> {
    let first = slots.iter().map(|s| s.starts_at).min()?;
    let last = slots.iter().map(|s| s.ends_at).max()?;
    let minutes = u32::try_from((last - first).num_minutes().clamp(1, 24 * 60)).ok()?;
    Some(Call {
        id: CallId(room.id.0),
        community_id: conference.community_id,
        title: format!("{} — {}", conference.name, room.name),
        agenda: format!(
            "The room \"{}\" of {}: every session scheduled in it happens here.",
            room.name, conference.name
        ),
        starts_at_local: first.with_timezone(&conference.timezone).naive_local(),
        timezone: conference.timezone,
        duration_minutes: minutes,
        recurrence: None,
        overrides: vec![],
        cancelled_occurrences: vec![],
        registration: false,
        status: CallStatus::Scheduled,
        zoom_meeting_id: None,
        join_url: None,
        recording_url: None,
        sequence: 0,
        created_at: super::stored(now),
    })
}

/// A session's Slack conversation name: the conference's short name and the
/// title, lower-case letters, digits and single dashes, at most 80
/// characters.
#[must_use]
pub fn conversation_name(conference: &Conference, title: &str) -> String {
    let mut name = String::new();
    for c in format!("{}-{}", conference.slug, title).chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let mut name: String = name
        .trim_matches('-')
        .chars()
        .take(MAX_CONVERSATION_NAME)
        .collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{
        ids::{CommunityId, ConferenceId, RoomId, SlotId},
        model::conference::ConferencePhase,
    };
    use chrono::NaiveDate;

    fn conference() -> Conference {
        Conference {
            id: ConferenceId::new(),
            community_id: CommunityId::new(),
            slug: "unconf-2027".into(),
            name: "Unconf".into(),
            description: String::new(),
            starts_on: NaiveDate::from_ymd_opt(2027, 3, 4).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2027, 3, 4).unwrap(),
            timezone: chrono_tz::Europe::Berlin,
            venue: None,
            capacity: 10,
            phase: ConferencePhase::SchedulePublished,
            registration_closed: false,
            vote_budget: 3,
            show_up_factor: 0.7,
            ranking_public: false,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_conversation_name_is_what_slack_takes() {
        let name = conversation_name(&conference(), "Testing Research Code: Why & How?");
        assert_eq!(name, "unconf-2027-testing-research-code-why-how");
        let long = conversation_name(&conference(), &"very long title ".repeat(20));
        assert!(long.len() <= 80 && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn a_rooms_meeting_spans_the_slots_in_the_conferences_zone() {
        let conference = conference();
        let room = Room {
            id: RoomId::new(),
            conference_id: conference.id,
            name: "Hall".into(),
            capacity: 50,
            position: 0,
            zoom_meeting_id: None,
            join_url: None,
        };
        let at = |h: u32| {
            crate::calls::recurrence::local_instant(
                conference.timezone,
                NaiveDate::from_ymd_opt(2027, 3, 4)
                    .unwrap()
                    .and_hms_opt(h, 0, 0)
                    .unwrap(),
            )
        };
        let slots = [
            Slot {
                id: SlotId::new(),
                conference_id: conference.id,
                starts_at: at(13),
                ends_at: at(14),
            },
            Slot {
                id: SlotId::new(),
                conference_id: conference.id,
                starts_at: at(9),
                ends_at: at(10),
            },
        ];
        let call = room_call(&conference, &room, &slots, Utc::now()).unwrap();
        assert_eq!(
            call.id.0, room.id.0,
            "the room's id finds an earlier attempt"
        );
        assert_eq!(call.starts_at_local.to_string(), "2027-03-04 09:00:00");
        assert_eq!(call.duration_minutes, 300);
        assert_eq!(call.title, "Unconf — Hall");
        assert!(room_call(&conference, &room, &[], Utc::now()).is_none());
    }
}
