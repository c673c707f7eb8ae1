//! What Zoom tells the hub about a call once it runs, through the Zoom
//! channel's webhooks (`/hooks/zoom/{channel}`): who joined each time the
//! meeting was held, when that time started and ended, and where its
//! recording is. Each event was kept (`Store::record_inbound_event`) before
//! Zoom was answered; here it is read, applied and finished with an outcome.
//!
//! Zoom sends every meeting of the account, not only the hub's, so an event
//! about a meeting no call of the channel's community is held in — or of a
//! kind the hub does not use — is finished as "ignored: …", never an error.
//! Only a storage failure leaves an event waiting, to be taken again by
//! `SyncEngine::process_waiting_events` (which `Scheduler::run_once` runs).
//!
//! A person is counted once per call and time it was held: as the member
//! whose address Zoom gave, else by the address as given, else by the name
//! shown in the meeting ([`person_key`]). A rejoin keeps the first join.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    Email,
    ids::{ChannelId, MemberId},
    model::{
        call::{Attendance, CallInstance},
        channel::ChannelKind,
        event::InboundEvent,
    },
    ports::{
        clock::Clock,
        store::{Store, StoreError},
    },
};

/// A time the meeting was held started.
pub const MEETING_STARTED: &str = "meeting.started";
/// A time the meeting was held ended.
pub const MEETING_ENDED: &str = "meeting.ended";
/// Someone joined.
pub const PARTICIPANT_JOINED: &str = "meeting.participant_joined";
/// The cloud recording is ready.
pub const RECORDING_COMPLETED: &str = "recording.completed";

/// What one Zoom event says, read from its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoomActivity {
    /// Someone joined one time the meeting was held.
    Joined {
        /// The meeting's number, as text.
        meeting_id: String,
        /// That time (Zoom's meeting UUID).
        instance: String,
        /// The name shown in the meeting.
        name: String,
        /// Their address, when Zoom gave one.
        email: Option<String>,
        /// When they joined.
        at: DateTime<Utc>,
    },
    /// A time the meeting was held started.
    Started {
        /// The meeting's number.
        meeting_id: String,
        /// That time.
        instance: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A time the meeting was held ended.
    Ended {
        /// The meeting's number.
        meeting_id: String,
        /// That time.
        instance: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The recording is ready to share.
    Recorded {
        /// The meeting's number.
        meeting_id: String,
        /// Where people watch it.
        share_url: String,
    },
    /// Nothing the hub keeps, and why.
    Ignored(String),
}

impl ZoomActivity {
    /// The meeting it is about, unless ignored.
    #[must_use]
    pub fn meeting_id(&self) -> Option<&str> {
        match self {
            Self::Joined { meeting_id, .. }
            | Self::Started { meeting_id, .. }
            | Self::Ended { meeting_id, .. }
            | Self::Recorded { meeting_id, .. } => Some(meeting_id),
            Self::Ignored(_) => None,
        }
    }
}

/// Reads one event: Zoom's whole body, `{"event", "payload": {"account_id",
/// "object"}, "event_ts"}`. The meeting's number is `object.id` (text in
/// meeting events, a number in recording events); a time missing from the
/// object falls back to when Zoom sent the event (`event_ts`, ms).
#[must_use]
pub fn read(body: &Value) -> ZoomActivity {
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let Some(kind) = text("/event") else {
        return ZoomActivity::Ignored("the event has no type".into());
    };
    if ![
        PARTICIPANT_JOINED,
        MEETING_STARTED,
        MEETING_ENDED,
        RECORDING_COMPLETED,
    ]
    .contains(&kind)
    {
        return ZoomActivity::Ignored(format!("the hub does not use {kind} events"));
    }
    let meeting_id = match body.pointer("/payload/object/id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return ZoomActivity::Ignored(format!("{kind} names no meeting")),
    };
    let sent_at = body
        .pointer("/event_ts")
        .and_then(Value::as_i64)
        .and_then(DateTime::from_timestamp_millis);
    let time = |pointer: &str| {
        text(pointer)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .or(sent_at)
    };
    if kind == RECORDING_COMPLETED {
        return match text("/payload/object/share_url") {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                ZoomActivity::Recorded {
                    meeting_id,
                    share_url: url.to_owned(),
                }
            }
            _ => ZoomActivity::Ignored(format!(
                "the recording of meeting {meeting_id} has no share link"
            )),
        };
    }
    let Some(instance) = text("/payload/object/uuid").map(str::to_owned) else {
        return ZoomActivity::Ignored(format!("{kind} of meeting {meeting_id} names no instance"));
    };
    let pointer = match kind {
        PARTICIPANT_JOINED => "/payload/object/participant/join_time",
        MEETING_STARTED => "/payload/object/start_time",
        _ => "/payload/object/end_time",
    };
    let Some(at) = time(pointer) else {
        return ZoomActivity::Ignored(format!("{kind} of meeting {meeting_id} has no time"));
    };
    match kind {
        PARTICIPANT_JOINED => {
            let name = text("/payload/object/participant/user_name").unwrap_or_default();
            let email = text("/payload/object/participant/email").map(str::to_owned);
            if name.is_empty() && email.is_none() {
                return ZoomActivity::Ignored(format!(
                    "a participant of meeting {meeting_id} has neither a name nor an address"
                ));
            }
            ZoomActivity::Joined {
                meeting_id,
                instance,
                name: name.to_owned(),
                email,
                at,
            }
        }
        MEETING_STARTED => ZoomActivity::Started {
            meeting_id,
            instance,
            at,
        },
        _ => ZoomActivity::Ended {
            meeting_id,
            instance,
            at,
        },
    }
}

/// Who an attendance counts: the member, else the address as given
/// (normalized where it is one), else the name.
#[must_use]
pub fn person_key(member: Option<MemberId>, email: Option<&str>, name: &str) -> String {
    if let Some(member) = member {
        return format!("member:{member}");
    }
    match email {
        Some(email) => match Email::parse(email) {
            Ok(email) => format!("email:{}", email.normalized()),
            Err(_) => format!("email:{}", email.trim().to_lowercase()),
        },
        None => format!("name:{}", name.trim()),
    }
}

/// Applies a kept Zoom event and finishes it with what it did. A storage
/// failure leaves it waiting, to be taken again later.
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn process(
    store: &dyn Store,
    clock: &dyn Clock,
    event: &InboundEvent,
) -> Result<(), StoreError> {
    let outcome = take(store, event).await?;
    store
        .finish_inbound_event(&event.source, &event.event_id, &outcome, clock.now())
        .await
}

/// Applies a kept Zoom event, routed by its channel's id, to the call of
/// the channel's community held in the meeting it names. Returns what it
/// did, for the event's record ("ignored: …" when nothing).
///
/// # Errors
/// [`StoreError`] when storage fails.
pub async fn take(store: &dyn Store, event: &InboundEvent) -> Result<String, StoreError> {
    let activity = read(&event.payload);
    let meeting_id = match &activity {
        ZoomActivity::Ignored(why) => return Ok(format!("ignored: {why}")),
        named => named.meeting_id().unwrap_or_default(),
    };
    let Ok(channel_id) = event.routing_key.parse::<ChannelId>() else {
        return Ok(format!("ignored: {:?} names no channel", event.routing_key));
    };
    let channel = match store.channel_with_secret(channel_id).await? {
        Some((channel, _)) if channel.kind == ChannelKind::Zoom => channel,
        _ => return Ok("ignored: the Zoom channel is gone".into()),
    };
    let Some(call) = store
        .call_by_zoom_meeting(channel.community_id, meeting_id)
        .await?
    else {
        return Ok(format!(
            "ignored: no call of the community is held in Zoom meeting {meeting_id}"
        ));
    };
    Ok(match activity {
        ZoomActivity::Joined {
            instance,
            name,
            email,
            at,
            ..
        } => {
            let member = match email.as_deref().map(Email::parse) {
                Some(Ok(address)) => store.member_by_email(call.community_id, &address).await?,
                _ => None,
            };
            let member_id = member.map(|m| m.id);
            let who = match member_id {
                Some(id) => format!("member {id}"),
                None => format!("guest {name:?}"),
            };
            let attendance = Attendance {
                call_id: call.id,
                person: person_key(member_id, email.as_deref(), &name),
                instance,
                member_id,
                name,
                email,
                joined_at: at,
            };
            if store.record_attendance(&attendance).await? {
                format!("{who} joined {:?}", call.title)
            } else {
                format!("{who} had joined this time of {:?} already", call.title)
            }
        }
        ZoomActivity::Started { instance, at, .. } => {
            store
                .record_call_instance(call.id, &instance, Some(at), None)
                .await?;
            format!("{:?} started at {at}", call.title)
        }
        ZoomActivity::Ended { instance, at, .. } => {
            store
                .record_call_instance(call.id, &instance, None, Some(at))
                .await?;
            format!("{:?} ended at {at}", call.title)
        }
        ZoomActivity::Recorded { share_url, .. } => {
            store.set_call_recording(call.id, &share_url).await?;
            format!("the recording of {:?} is linked on the call", call.title)
        }
        ZoomActivity::Ignored(why) => format!("ignored: {why}"),
    })
}

/// A call's attendance, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceSummary {
    /// How many different people joined, over every time it was held.
    pub people: usize,
    /// When it was last held: that time's start, or its first join where
    /// Zoom did not say when it started.
    pub last_started: DateTime<Utc>,
    /// When that time ended, where Zoom said.
    pub last_ended: Option<DateTime<Utc>>,
}

/// Sums up who came and when the call last ran; `None` when no one came.
#[must_use]
pub fn summarize(
    attendance: &[Attendance],
    instances: &[CallInstance],
) -> Option<AttendanceSummary> {
    let people: std::collections::BTreeSet<&str> =
        attendance.iter().map(|a| a.person.as_str()).collect();
    // Each time held, by when it started; a time Zoom told of only through
    // joins started with its first join.
    let mut times: std::collections::BTreeMap<&str, (DateTime<Utc>, Option<DateTime<Utc>>)> =
        std::collections::BTreeMap::new();
    for a in attendance {
        let entry = times
            .entry(a.instance.as_str())
            .or_insert((a.joined_at, None));
        entry.0 = entry.0.min(a.joined_at);
    }
    for instance in instances {
        if let Some(entry) = times.get_mut(instance.instance.as_str()) {
            if let Some(started) = instance.started_at {
                entry.0 = started;
            }
            entry.1 = instance.ended_at;
        }
    }
    let (last_started, last_ended) = times.into_values().max_by_key(|(started, _)| *started)?;
    Some(AttendanceSummary {
        people: people.len(),
        last_started,
        last_ended,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ids::CallId;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn joined(participant: Value) -> Value {
        json!({
            "event": "meeting.participant_joined",
            "event_ts": 1_799_999_999_000_i64,
            "payload": {"account_id": "A", "object": {
                "id": "81234567890", "uuid": "4444AAAiAAAAAiAiAiiAii==", "host_id": "h",
                "topic": "Call", "type": 8, "participant": participant,
            }},
        })
    }

    #[test]
    fn a_join_is_read_with_its_instance_time_and_person() {
        let body = joined(json!({
            "user_id": "16778205", "user_name": "Ada Lovelace", "id": "iFxe",
            "join_time": "2027-03-02T15:01:30Z", "email": "Ada@Example.org",
        }));
        assert_eq!(
            read(&body),
            ZoomActivity::Joined {
                meeting_id: "81234567890".into(),
                instance: "4444AAAiAAAAAiAiAiiAii==".into(),
                name: "Ada Lovelace".into(),
                email: Some("Ada@Example.org".into()),
                at: at("2027-03-02T15:01:30Z"),
            }
        );
        // Zoom leaves the address empty for guests: kept by name alone.
        let guest = joined(json!({"user_name": "Phone user", "email": "",
            "join_time": "2027-03-02T15:02:00Z"}));
        let ZoomActivity::Joined { email, name, .. } = read(&guest) else {
            panic!("a join");
        };
        assert_eq!((email, name.as_str()), (None, "Phone user"));
        // Without a join time, when Zoom sent the event.
        let untimed = joined(json!({"user_name": "X"}));
        let ZoomActivity::Joined { at: when, .. } = read(&untimed) else {
            panic!("a join");
        };
        assert_eq!(
            when,
            DateTime::from_timestamp_millis(1_799_999_999_000).unwrap()
        );
    }

    #[test]
    fn starts_ends_and_recordings_are_read_with_numeric_ids_too() {
        let started = json!({"event": "meeting.started", "event_ts": 1, "payload": {"object": {
            "id": "812", "uuid": "u1", "start_time": "2027-03-02T15:00:05Z"}}});
        assert_eq!(
            read(&started),
            ZoomActivity::Started {
                meeting_id: "812".into(),
                instance: "u1".into(),
                at: at("2027-03-02T15:00:05Z"),
            }
        );
        let ended = json!({"event": "meeting.ended", "payload": {"object": {
            "id": "812", "uuid": "u1", "start_time": "2027-03-02T15:00:05Z",
            "end_time": "2027-03-02T16:04:00Z"}}});
        assert!(
            matches!(read(&ended), ZoomActivity::Ended { at: when, .. } if when == at("2027-03-02T16:04:00Z"))
        );
        let recorded = json!({"event": "recording.completed", "payload": {"object": {
            "id": 81_234_567_890_u64, "uuid": "u1",
            "share_url": "https://zoom.example/rec/share/abc"}}});
        assert_eq!(
            read(&recorded),
            ZoomActivity::Recorded {
                meeting_id: "81234567890".into(),
                share_url: "https://zoom.example/rec/share/abc".into(),
            }
        );
    }

    #[test]
    fn what_the_hub_does_not_use_is_ignored_with_a_reason() {
        let cases = [
            (
                json!({"event": "meeting.participant_left", "payload": {}}),
                "does not use",
            ),
            (json!({"payload": {}}), "no type"),
            (
                json!({"event": "meeting.started", "payload": {"object": {"uuid": "u"}}}),
                "names no meeting",
            ),
            (
                json!({"event": "meeting.started", "payload": {"object": {"id": "1", "start_time": "2027-01-01T00:00:00Z"}}}),
                "no instance",
            ),
            (
                json!({"event": "meeting.ended", "payload": {"object": {"id": "1", "uuid": "u"}}}),
                "no time",
            ),
            (
                json!({"event": "recording.completed", "payload": {"object": {"id": 1, "share_url": "javascript:alert(1)"}}}),
                "no share link",
            ),
            (
                joined(json!({"join_time": "2027-01-01T00:00:00Z", "email": " "})),
                "neither a name",
            ),
        ];
        for (body, reason) in cases {
            match read(&body) {
                ZoomActivity::Ignored(why) => assert!(why.contains(reason), "{why} / {reason}"),
                other => panic!("{body} read as {other:?}"),
            }
        }
    }

    #[test]
    fn a_person_is_the_member_else_the_address_else_the_name() {
        let member = MemberId::new();
        assert_eq!(
            person_key(Some(member), Some("a@b.org"), "Ada"),
            format!("member:{member}")
        );
        assert_eq!(
            person_key(None, Some("Ada@Example.ORG"), "Ada"),
            "email:ada@example.org"
        );
        assert_eq!(
            person_key(None, Some(" Not An Address "), "Ada"),
            "email:not an address"
        );
        assert_eq!(person_key(None, None, " Ada "), "name:Ada");
    }

    #[test]
    fn the_summary_counts_people_once_and_dates_the_latest_time_held() {
        let call = CallId::new();
        let row = |instance: &str, person: &str, joined: &str| Attendance {
            call_id: call,
            instance: instance.into(),
            person: person.into(),
            member_id: None,
            name: person.into(),
            email: None,
            joined_at: at(joined),
        };
        assert_eq!(summarize(&[], &[]), None);
        let attendance = [
            row("week1", "name:Ada", "2027-03-02T15:01:00Z"),
            row("week1", "name:Bob", "2027-03-02T15:03:00Z"),
            row("week2", "name:Ada", "2027-03-09T15:02:00Z"),
        ];
        // Week 2's start was not told: its first join stands for it.
        assert_eq!(
            summarize(&attendance, &[]),
            Some(AttendanceSummary {
                people: 2,
                last_started: at("2027-03-09T15:02:00Z"),
                last_ended: None,
            })
        );
        let instances = [
            CallInstance {
                call_id: call,
                instance: "week2".into(),
                started_at: Some(at("2027-03-09T15:00:00Z")),
                ended_at: Some(at("2027-03-09T16:00:00Z")),
            },
            // A time no one joined does not count as the last one.
            CallInstance {
                call_id: call,
                instance: "week3".into(),
                started_at: Some(at("2027-03-16T15:00:00Z")),
                ended_at: None,
            },
        ];
        assert_eq!(
            summarize(&attendance, &instances),
            Some(AttendanceSummary {
                people: 2,
                last_started: at("2027-03-09T15:00:00Z"),
                last_ended: Some(at("2027-03-09T16:00:00Z")),
            })
        );
    }
}
