//! Setting a conference up and moving it through its phases: what a lead
//! types (name, dates, zone, venue, capacity, the voting rules), the rooms
//! and slots (typed as lines, so a whole grid is one form), and the phase
//! steps. Every change is checked here and audited with the change.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::{ConferenceError, audit, registration::Mailing};
use crate::{
    calls::recurrence::local_instant,
    ids::{ConferenceId, RoomId, SlotId},
    model::{
        community::{Community, Slug},
        conference::{Conference, ConferencePhase, Room, Slot},
    },
    ports::store::{Store, StoreError},
};

/// Longest name.
pub const MAX_NAME: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 20_000;
/// Most people a conference seats.
pub const MAX_CAPACITY: u32 = 100_000;
/// Most votes a registrant may have.
pub const MAX_VOTE_BUDGET: u32 = 50;
/// Most rooms.
pub const MAX_ROOMS: usize = 50;
/// Most slots.
pub const MAX_SLOTS: usize = 200;

/// A conference as a lead describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConferenceRequest {
    /// Its name in links.
    pub slug: String,
    /// The name.
    pub name: String,
    /// A description, Markdown.
    pub description: String,
    /// The first day.
    pub starts_on: NaiveDate,
    /// The last day.
    pub ends_on: NaiveDate,
    /// An IANA timezone name.
    pub timezone: String,
    /// The venue; empty for an online conference.
    pub venue: String,
    /// Seats before the waitlist.
    pub capacity: u32,
    /// Votes per registrant.
    pub vote_budget: u32,
    /// The share of voters expected to come, 0–1.
    pub show_up_factor: f64,
    /// Whether registrants see the ranking.
    pub ranking_public: bool,
}

struct Checked {
    slug: String,
    name: String,
    description: String,
    timezone: Tz,
    venue: Option<String>,
}

fn check(request: &ConferenceRequest) -> Result<Checked, ConferenceError> {
    let slug = Slug::parse(request.slug.trim())
        .map_err(|_| {
            ConferenceError::invalid(
                "a conference's short name must be 2 to 64 lower-case letters, digits or single dashes, starting with a letter",
            )
        })?
        .as_str()
        .to_owned();
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ConferenceError::invalid(format!(
            "a name must have 1 to {MAX_NAME} characters and no line breaks"
        )));
    }
    if request.description.chars().count() > MAX_DESCRIPTION {
        return Err(ConferenceError::invalid(format!(
            "the description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    let timezone: Tz = request.timezone.trim().parse().map_err(|_| {
        ConferenceError::invalid(format!(
            "{:?} is not a timezone: use a name such as Europe/Berlin or America/New_York",
            request.timezone.trim()
        ))
    })?;
    if request.ends_on < request.starts_on {
        return Err(ConferenceError::invalid(
            "the last day must not be before the first day",
        ));
    }
    if (request.ends_on - request.starts_on).num_days() > 31 {
        return Err(ConferenceError::invalid(
            "a conference lasts at most 32 days",
        ));
    }
    if !(1..=MAX_CAPACITY).contains(&request.capacity) {
        return Err(ConferenceError::invalid(format!(
            "the capacity must be between 1 and {MAX_CAPACITY} people"
        )));
    }
    if !(1..=MAX_VOTE_BUDGET).contains(&request.vote_budget) {
        return Err(ConferenceError::invalid(format!(
            "each registrant must have between 1 and {MAX_VOTE_BUDGET} votes"
        )));
    }
    if !(request.show_up_factor > 0.0 && request.show_up_factor <= 1.0) {
        return Err(ConferenceError::invalid(
            "the show-up factor is the share of a session's voters expected to come: a number above 0 and at most 1, such as 0.7",
        ));
    }
    let venue = request.venue.trim();
    if venue.chars().count() > MAX_NAME || venue.chars().any(char::is_control) {
        return Err(ConferenceError::invalid(format!(
            "a venue must have at most {MAX_NAME} characters and no line breaks"
        )));
    }
    Ok(Checked {
        slug,
        name: name.to_owned(),
        description: request.description.trim().to_owned(),
        timezone,
        venue: (!venue.is_empty()).then(|| venue.to_owned()),
    })
}

fn taken(error: StoreError, slug: &str) -> ConferenceError {
    match error {
        StoreError::Conflict(_) => ConferenceError::invalid(format!(
            "this community has a conference named {slug:?} already: choose another short name"
        )),
        other => other.into(),
    }
}

/// Creates a conference in its registration phase, with no rooms or slots
/// yet.
///
/// # Errors
/// [`ConferenceError::Invalid`] for a field that is not acceptable or a
/// taken short name.
pub async fn create(
    store: &dyn Store,
    community: &Community,
    request: &ConferenceRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Conference, ConferenceError> {
    let checked = check(request)?;
    let conference = Conference {
        id: ConferenceId::new(),
        community_id: community.id,
        slug: checked.slug,
        name: checked.name,
        description: checked.description,
        starts_on: request.starts_on,
        ends_on: request.ends_on,
        timezone: checked.timezone,
        venue: checked.venue,
        capacity: request.capacity,
        phase: ConferencePhase::Registration,
        registration_closed: false,
        vote_budget: request.vote_budget,
        show_up_factor: request.show_up_factor,
        ranking_public: request.ranking_public,
        created_at: super::stored(now),
    };
    let entry = audit(
        actor,
        "conference.create",
        &conference,
        json!({"name": conference.name, "capacity": conference.capacity}),
    );
    store
        .create_conference(&conference, entry)
        .await
        .map_err(|e| taken(e, &conference.slug))?;
    super::channel::ensure(store, community, &conference, actor).await?;
    Ok(conference)
}

/// Changes what a lead typed. A larger capacity seats the first on the
/// waitlist at once, and tells them.
///
/// # Errors
/// [`ConferenceError::Invalid`] for a field that is not acceptable, a taken
/// short name, or a smaller capacity than the people seated already.
pub async fn change(
    store: &dyn Store,
    mailing: &Mailing<'_>,
    community: &Community,
    conference: &Conference,
    request: &ConferenceRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Conference, ConferenceError> {
    let checked = check(request)?;
    if request.capacity < conference.capacity {
        let seated = store
            .registrations(conference.id)
            .await?
            .iter()
            .filter(|r| r.has_seat())
            .count();
        if (request.capacity as usize) < seated {
            return Err(ConferenceError::invalid(format!(
                "{seated} people have a seat already: the capacity cannot go below that"
            )));
        }
    }
    let changed = Conference {
        slug: checked.slug,
        name: checked.name,
        description: checked.description,
        starts_on: request.starts_on,
        ends_on: request.ends_on,
        timezone: checked.timezone,
        venue: checked.venue,
        capacity: request.capacity,
        vote_budget: request.vote_budget,
        show_up_factor: request.show_up_factor,
        ranking_public: request.ranking_public,
        ..conference.clone()
    };
    let entry = audit(
        actor,
        "conference.change",
        &changed,
        json!({"capacity": changed.capacity, "vote_budget": changed.vote_budget}),
    );
    store
        .update_conference(&changed, entry)
        .await
        .map_err(|e| taken(e, &changed.slug))?;
    super::channel::ensure(store, community, &changed, actor).await?;
    if changed.capacity > conference.capacity {
        let entry = audit(
            actor,
            "conference.seats",
            &changed,
            json!({"capacity": changed.capacity}),
        );
        let seated = store.fill_seats(changed.id, now, entry).await?;
        super::registration::tell_seated(mailing, community, &changed, &seated).await;
    }
    Ok(changed)
}

/// Moves a conference to its next phase. The schedule is published by
/// [`super::schedule::publish`], which needs a schedule to publish.
///
/// # Errors
/// [`ConferenceError::Closed`] when it is done, or when the next phase is
/// the published schedule.
pub async fn advance(
    store: &dyn Store,
    conference: &Conference,
    actor: &str,
) -> Result<Conference, ConferenceError> {
    let next = conference
        .phase
        .next()
        .ok_or_else(|| ConferenceError::Closed("this conference is over".into()))?;
    if next == ConferencePhase::SchedulePublished {
        return Err(ConferenceError::Closed(
            "voting ends when the schedule is published: build the schedule, then publish it"
                .into(),
        ));
    }
    set_phase(store, conference, next, actor).await
}

pub(crate) async fn set_phase(
    store: &dyn Store,
    conference: &Conference,
    phase: ConferencePhase,
    actor: &str,
) -> Result<Conference, ConferenceError> {
    let changed = Conference {
        phase,
        ..conference.clone()
    };
    let entry = audit(
        actor,
        "conference.phase",
        &changed,
        json!({"from": conference.phase.as_str(), "to": phase.as_str()}),
    );
    store.update_conference(&changed, entry).await?;
    Ok(changed)
}

/// Closes registration before the phases would, or opens it again (until
/// the schedule is published).
///
/// # Errors
/// [`ConferenceError::Closed`] when opening it after voting.
pub async fn set_registration_open(
    store: &dyn Store,
    conference: &Conference,
    open: bool,
    actor: &str,
) -> Result<Conference, ConferenceError> {
    if open && conference.phase > ConferencePhase::Voting {
        return Err(ConferenceError::Closed(
            "registration cannot open again once the schedule is published".into(),
        ));
    }
    let changed = Conference {
        registration_closed: !open,
        ..conference.clone()
    };
    let entry = audit(
        actor,
        if open {
            "conference.registration_open"
        } else {
            "conference.registration_close"
        },
        &changed,
        json!({}),
    );
    store.update_conference(&changed, entry).await?;
    Ok(changed)
}

/// Reads rooms typed one per line as `Name, capacity`.
///
/// # Errors
/// [`ConferenceError::Invalid`] naming the line at fault.
pub fn parse_rooms(text: &str) -> Result<Vec<(String, u32)>, ConferenceError> {
    let mut rooms: Vec<(String, u32)> = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_no = index + 1;
        let (name, capacity) = line.rsplit_once(',').ok_or_else(|| {
            ConferenceError::invalid(format!(
                "rooms, line {line_no}: write a room as \"Name, capacity\", such as \"Hall A, 80\""
            ))
        })?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ConferenceError::invalid(format!(
                "rooms, line {line_no}: a room's name must have 1 to 100 characters"
            )));
        }
        let capacity: u32 = capacity
            .trim()
            .parse()
            .ok()
            .filter(|c| (1..=MAX_CAPACITY).contains(c))
            .ok_or_else(|| {
                ConferenceError::invalid(format!(
                    "rooms, line {line_no}: {:?} is not a capacity (a whole number of people, 1 to {MAX_CAPACITY})",
                    capacity.trim()
                ))
            })?;
        if rooms.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(ConferenceError::invalid(format!(
                "rooms, line {line_no}: there is a room named {name:?} already"
            )));
        }
        rooms.push((name.to_owned(), capacity));
    }
    if rooms.len() > MAX_ROOMS {
        return Err(ConferenceError::invalid(format!(
            "a conference has at most {MAX_ROOMS} rooms"
        )));
    }
    Ok(rooms)
}

/// A slot's start and end.
pub type SlotTimes = (DateTime<Utc>, DateTime<Utc>);

/// Reads slots typed one per line as `YYYY-MM-DD HH:MM-HH:MM`, local to the
/// conference, within its days and not overlapping, sorted by start.
///
/// # Errors
/// [`ConferenceError::Invalid`] naming the line at fault.
pub fn parse_slots(text: &str, conference: &Conference) -> Result<Vec<SlotTimes>, ConferenceError> {
    let mut slots = Vec::new();
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_no = index + 1;
        let bad = || {
            ConferenceError::invalid(format!(
                "slots, line {line_no}: write a slot as \"YYYY-MM-DD HH:MM-HH:MM\", such as \"{} 09:00-10:00\"",
                conference.starts_on
            ))
        };
        let mut parts = line.split_whitespace();
        let (Some(day), Some(times), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad())?;
        let (from, to) = times.split_once('-').ok_or_else(bad)?;
        let from = NaiveTime::parse_from_str(from, "%H:%M").map_err(|_| bad())?;
        let to = NaiveTime::parse_from_str(to, "%H:%M").map_err(|_| bad())?;
        if day < conference.starts_on || day > conference.ends_on {
            return Err(ConferenceError::invalid(format!(
                "slots, line {line_no}: {day} is not one of the conference's days ({} to {})",
                conference.starts_on, conference.ends_on
            )));
        }
        if to <= from {
            return Err(ConferenceError::invalid(format!(
                "slots, line {line_no}: a slot must end after it starts"
            )));
        }
        let start = local_instant(conference.timezone, NaiveDateTime::new(day, from));
        let end = local_instant(conference.timezone, NaiveDateTime::new(day, to));
        slots.push((line_no, start, end));
    }
    slots.sort_by_key(|(_, start, _)| *start);
    for pair in slots.windows(2) {
        if pair[1].1 < pair[0].2 {
            return Err(ConferenceError::invalid(format!(
                "slots, line {}: it overlaps the slot of line {}; sessions of one slot run at the same time, so make it one slot",
                pair[1].0, pair[0].0
            )));
        }
    }
    if slots.len() > MAX_SLOTS {
        return Err(ConferenceError::invalid(format!(
            "a conference has at most {MAX_SLOTS} slots"
        )));
    }
    Ok(slots.into_iter().map(|(_, s, e)| (s, e)).collect())
}

/// The rooms and slots as a lead typed them, for the form.
#[must_use]
pub fn grid_text(conference: &Conference, rooms: &[Room], slots: &[Slot]) -> (String, String) {
    let rooms = rooms
        .iter()
        .map(|r| format!("{}, {}\n", r.name, r.capacity))
        .collect();
    let slots = slots
        .iter()
        .map(|s| {
            let start = s.starts_at.with_timezone(&conference.timezone);
            let end = s.ends_at.with_timezone(&conference.timezone);
            format!(
                "{} {}-{}\n",
                start.format("%Y-%m-%d"),
                start.format("%H:%M"),
                end.format("%H:%M")
            )
        })
        .collect();
    (rooms, slots)
}

/// Makes the typed rooms and slots the conference's. A room keeps its id
/// (and its place in the schedule, and its meeting) when its name stays; a
/// slot when its start stays. Sessions in a room or slot that went away
/// leave the schedule.
///
/// # Errors
/// [`ConferenceError::Invalid`] naming the line at fault;
/// [`ConferenceError::Closed`] once the schedule is published.
pub async fn set_grid(
    store: &dyn Store,
    conference: &Conference,
    rooms_text: &str,
    slots_text: &str,
    actor: &str,
) -> Result<(Vec<Room>, Vec<Slot>), ConferenceError> {
    if conference.phase >= ConferencePhase::SchedulePublished {
        return Err(ConferenceError::Closed(
            "the schedule is published: rooms and slots can no longer change".into(),
        ));
    }
    let typed_rooms = parse_rooms(rooms_text)?;
    let typed_slots = parse_slots(slots_text, conference)?;
    let old_rooms = store.conference_rooms(conference.id).await?;
    let old_slots = store.conference_slots(conference.id).await?;
    let rooms: Vec<Room> = typed_rooms
        .into_iter()
        .enumerate()
        .map(|(position, (name, capacity))| {
            let old = old_rooms
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(&name));
            Room {
                id: old.map_or_else(RoomId::new, |r| r.id),
                conference_id: conference.id,
                name,
                capacity,
                position: u32::try_from(position).unwrap_or(u32::MAX),
                zoom_meeting_id: old.and_then(|r| r.zoom_meeting_id.clone()),
                join_url: old.and_then(|r| r.join_url.clone()),
            }
        })
        .collect();
    let slots: Vec<Slot> = typed_slots
        .into_iter()
        .map(|(starts_at, ends_at)| Slot {
            id: old_slots
                .iter()
                .find(|s| s.starts_at == starts_at)
                .map_or_else(SlotId::new, |s| s.id),
            conference_id: conference.id,
            starts_at,
            ends_at,
        })
        .collect();
    let entry = audit(
        actor,
        "conference.grid",
        conference,
        json!({"rooms": rooms.len(), "slots": slots.len()}),
    );
    store
        .replace_venue_grid(conference.id, &rooms, &slots, entry)
        .await?;
    Ok((rooms, slots))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::CommunityId;

    fn conference() -> Conference {
        Conference {
            id: ConferenceId::new(),
            community_id: CommunityId::new(),
            slug: "unconf".into(),
            name: "Unconf".into(),
            description: String::new(),
            starts_on: NaiveDate::from_ymd_opt(2027, 3, 27).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2027, 3, 28).unwrap(),
            timezone: chrono_tz::Europe::Berlin,
            venue: None,
            capacity: 10,
            phase: ConferencePhase::Registration,
            registration_closed: false,
            vote_budget: 3,
            show_up_factor: 0.7,
            ranking_public: false,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn rooms_are_read_one_per_line_and_a_bad_line_is_named() {
        let rooms = parse_rooms("Hall A, 80\n\n  Small room , 12 \n").unwrap();
        assert_eq!(
            rooms,
            [("Hall A".to_owned(), 80), ("Small room".to_owned(), 12)]
        );
        let error = parse_rooms("Hall, 80\nKitchen").unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        let error = parse_rooms("Hall, lots").unwrap_err().to_string();
        assert!(error.contains("\"lots\""), "{error}");
        let error = parse_rooms("Hall, 8\nhall, 9").unwrap_err().to_string();
        assert!(error.contains("already"), "{error}");
    }

    #[test]
    fn slots_are_local_to_the_conference_sorted_and_never_overlap() {
        let conference = conference();
        // 28 March 2027 is the day Berlin moves to summer time.
        let slots = parse_slots(
            "2027-03-28 09:00-10:00\n2027-03-27 09:00-10:00",
            &conference,
        )
        .unwrap();
        assert_eq!(slots[0].0.to_rfc3339(), "2027-03-27T08:00:00+00:00");
        assert_eq!(slots[1].0.to_rfc3339(), "2027-03-28T07:00:00+00:00");
        let error = parse_slots(
            "2027-03-27 09:00-10:00\n2027-03-27 09:30-10:30",
            &conference,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("overlaps"), "{error}");
        let error = parse_slots("2027-04-01 09:00-10:00", &conference)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("not one of the conference's days"),
            "{error}"
        );
        let error = parse_slots("2027-03-27 10:00-09:00", &conference)
            .unwrap_err()
            .to_string();
        assert!(error.contains("end after it starts"), "{error}");
        let error = parse_slots("tomorrow morning", &conference)
            .unwrap_err()
            .to_string();
        assert!(error.contains("YYYY-MM-DD"), "{error}");
    }

    #[test]
    fn registration_stays_open_through_voting_unless_closed() {
        let mut conference = conference();
        for phase in [
            ConferencePhase::Registration,
            ConferencePhase::Proposals,
            ConferencePhase::Voting,
        ] {
            conference.phase = phase;
            assert!(conference.registration_open(), "{phase}");
        }
        conference.registration_closed = true;
        assert!(!conference.registration_open());
        conference.registration_closed = false;
        conference.phase = ConferencePhase::SchedulePublished;
        assert!(!conference.registration_open());
    }
}
