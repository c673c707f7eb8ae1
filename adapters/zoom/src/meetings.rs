//! Calls as Zoom meetings. A call becomes one meeting: scheduled (type 2)
//! when it happens once, recurring with a fixed time (type 8) when it has a
//! repeat rule, always with the call's local start and IANA timezone so Zoom
//! keeps a weekly call at the same wall-clock time across daylight-saving
//! changes.
//!
//! The meeting's agenda ends with a marker line, `cophub-call:<call id>`:
//! before creating, every host's upcoming meetings are read, and a meeting
//! with the marker is the call's — a create whose answer was lost is found,
//! never made twice. A new meeting goes to the first host of the pool with
//! nothing overlapping the call's first occurrence.
//!
//! Occurrences are named as Zoom names them: `occurrence_id` is the
//! occurrence's original start in Unix milliseconds. After each create or
//! change the meeting's occurrences are brought in line with the call's
//! (`reconcile`): cancelled ones deleted, moved or lengthened ones patched.
//! Zoom cannot bring a deleted occurrence back, so one the lead un-cancels
//! stays deleted in Zoom.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc, Weekday};
use chrono_tz::Tz;
use hub_core::{
    calls::recurrence::{End, Frequency, MonthlyDay, Recurrence, local_instant},
    model::call::Call,
    ports::adapter::{AdapterError, CallReceipt, CallScope},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{ZoomAdapter, client::CallError, pacer::Rate, refused};

/// Zoom's longest meeting topic.
pub const MAX_TOPIC: usize = 200;
/// Zoom's longest meeting agenda.
pub const MAX_AGENDA: usize = 2000;
/// Zoom's code for "Meeting does not exist".
const NO_MEETING: u64 = 3001;

/// The line that ends the agenda of a call's meeting.
#[must_use]
pub fn marker(call: &Call) -> String {
    format!("cophub-call:{}", call.id)
}

/// A meeting number from a remote reference or a setting: its digits (the
/// spaces Zoom shows them with are allowed).
#[must_use]
pub fn meeting_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_ref(remote_ref: &str) -> Result<u64, AdapterError> {
    meeting_number(remote_ref).ok_or_else(|| {
        AdapterError::Permanent(format!(
            "{remote_ref:?} is not a Zoom meeting number, so the call cannot be found in Zoom"
        ))
    })
}

/// Zoom's id of the occurrence that originally started at `original`
/// (local, in `zone`): that start in Unix milliseconds.
#[must_use]
pub fn occurrence_id(zone: Tz, original: NaiveDateTime) -> String {
    local_instant(zone, original).timestamp_millis().to_string()
}

/// A local time as Zoom takes it with a `timezone`: `yyyy-MM-ddTHH:mm:ss`.
fn local_time(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Zoom's number for a weekday: Sunday 1 … Saturday 7.
#[must_use]
pub fn zoom_weekday(day: Weekday) -> u32 {
    day.num_days_from_sunday() + 1
}

/// At most `max` characters of `text`, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// The agenda: the call's Markdown agenda, cut so that it and the marker
/// line fit Zoom's 2,000 characters.
#[must_use]
pub fn agenda(call: &Call) -> String {
    let marker = marker(call);
    let agenda = call.agenda.trim();
    if agenda.is_empty() {
        return marker;
    }
    let room = MAX_AGENDA.saturating_sub(marker.chars().count() + 2);
    format!("{}\n\n{marker}", cut(agenda, room))
}

/// How much of an agenda Zoom's List Meetings shows.
const LISTED_AGENDA: usize = 250;

/// Whether an agenda carries `marker` on a line of its own.
fn carries(agenda: &str, marker: &str) -> bool {
    agenda.lines().any(|line| line.trim() == marker)
}

/// Zoom's recurrence object for a rule.
#[must_use]
pub fn recurrence_object(rule: &Recurrence) -> Value {
    let mut object = json!({"repeat_interval": rule.interval});
    match rule.frequency {
        Frequency::Daily => object["type"] = json!(1),
        Frequency::Weekly => {
            object["type"] = json!(2);
            let mut days: Vec<u32> = rule.weekdays.iter().copied().map(zoom_weekday).collect();
            days.sort_unstable();
            days.dedup();
            let days: Vec<String> = days.iter().map(u32::to_string).collect();
            object["weekly_days"] = json!(days.join(","));
        }
        Frequency::Monthly => {
            object["type"] = json!(3);
            match rule.monthly {
                Some(MonthlyDay::Date(day)) => object["monthly_day"] = json!(day),
                Some(MonthlyDay::Weekday { week, day }) => {
                    object["monthly_week"] = json!(week);
                    object["monthly_week_day"] = json!(zoom_weekday(day));
                }
                None => {}
            }
        }
    }
    match rule.end {
        End::Count(n) => object["end_times"] = json!(n),
        End::Until(at) => {
            object["end_date_time"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }
    object
}

/// The body that creates a call's meeting, or changes the whole series.
#[must_use]
pub fn meeting_body(call: &Call) -> Value {
    let mut body = json!({
        "topic": cut(call.title.trim(), MAX_TOPIC),
        "type": if call.recurrence.is_some() { 8 } else { 2 },
        "start_time": local_time(call.starts_at_local),
        "timezone": call.timezone.name(),
        "duration": call.duration_minutes,
        "agenda": agenda(call),
        "settings": {
            // Registration on: people are approved as they register, and
            // register once for every occurrence.
            "approval_type": if call.registration { 0 } else { 2 },
            "registration_type": 1,
        },
    });
    if let Some(rule) = &call.recurrence {
        body["recurrence"] = recurrence_object(rule);
    }
    body
}

/// The call's first occurrence still on, as an instant and its end.
fn first_window(call: &Call) -> (DateTime<Utc>, DateTime<Utc>) {
    let occurrences = call.occurrences();
    let first = occurrences
        .iter()
        .find(|o| !call.cancelled_occurrences.contains(&o.original))
        .or(occurrences.first());
    let (start, minutes) = first.map_or((call.starts_at(), call.duration_minutes), |o| {
        (o.starts_at, o.duration_minutes)
    });
    (start, start + chrono::Duration::minutes(i64::from(minutes)))
}

fn zoom_instant(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?.trim())
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

fn zoom_id(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(meeting_number))
}

/// A meeting as Zoom lists a host's upcoming meetings.
#[derive(Debug, Clone)]
struct Listed {
    id: u64,
    topic: String,
    kind: u64,
    /// The next occurrence's start (the start of a type 2 meeting).
    start: Option<DateTime<Utc>>,
    duration: u32,
    agenda: String,
    join_url: Option<String>,
}

impl Listed {
    fn read(value: &Value) -> Option<Self> {
        Some(Self {
            id: zoom_id(&value["id"])?,
            topic: value["topic"].as_str().unwrap_or_default().to_owned(),
            kind: value["type"].as_u64().unwrap_or(2),
            start: zoom_instant(&value["start_time"]),
            duration: value["duration"]
                .as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(0),
            agenda: value["agenda"].as_str().unwrap_or_default().to_owned(),
            join_url: value["join_url"].as_str().map(str::to_owned),
        })
    }
}

/// One occurrence of a meeting as Zoom answers it.
#[derive(Debug, Clone, Copy)]
struct ZoomOccurrence {
    start: Option<DateTime<Utc>>,
    duration: u32,
    deleted: bool,
}

fn occurrences_of(meeting: &Value) -> HashMap<String, ZoomOccurrence> {
    let duration = meeting["duration"].as_u64().unwrap_or(0);
    meeting["occurrences"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|o| {
                    let id = o["occurrence_id"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| o["occurrence_id"].as_u64().map(|n| n.to_string()))?;
                    let minutes = o["duration"].as_u64().unwrap_or(duration);
                    Some((
                        id,
                        ZoomOccurrence {
                            start: zoom_instant(&o["start_time"]),
                            duration: u32::try_from(minutes).unwrap_or(u32::MAX),
                            deleted: o["status"].as_str() == Some("deleted"),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn overlaps(start: DateTime<Utc>, minutes: u32, window: (DateTime<Utc>, DateTime<Utc>)) -> bool {
    let end = start + chrono::Duration::minutes(i64::from(minutes));
    start < window.1 && window.0 < end
}

fn receipt(id: u64, join_url: Option<String>) -> CallReceipt {
    CallReceipt {
        remote_ref: id.to_string(),
        join_url,
    }
}

/// A deleted meeting or occurrence counts as done.
fn gone_is_done(result: Result<Value, CallError>) -> Result<(), CallError> {
    match result {
        Err(e) if e.is(404, NO_MEETING) => Ok(()),
        other => other.map(|_| ()),
    }
}

impl ZoomAdapter {
    /// A host's upcoming meetings, every page.
    async fn upcoming(&self, host: &str) -> Result<Vec<Listed>, AdapterError> {
        let mut meetings = Vec::new();
        let mut token = String::new();
        loop {
            let mut path = format!("/users/{host}/meetings?type=upcoming&page_size=300");
            if !token.is_empty() {
                path.push_str("&next_page_token=");
                path.push_str(&crate::query_value(&token));
            }
            let page = self.call(Rate::Medium, Method::GET, &path, None).await?;
            meetings.extend(
                page["meetings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Listed::read),
            );
            let next = page["next_page_token"].as_str().unwrap_or_default();
            if next.is_empty() {
                return Ok(meetings);
            }
            if next == token {
                return Err(AdapterError::Transient(format!(
                    "Zoom gave the same page of {host}'s meetings twice; try again later"
                )));
            }
            next.clone_into(&mut token);
        }
    }

    async fn get_meeting(&self, id: u64) -> Result<Value, CallError> {
        self.call(Rate::Light, Method::GET, &format!("/meetings/{id}"), None)
            .await
    }

    /// Whether a host with these upcoming meetings is free during `window`.
    /// The list shows a recurring meeting by its next occurrence; one whose
    /// next occurrence ends before the window is read in full, as a later
    /// occurrence may fall in it.
    async fn is_free(
        &self,
        listed: &[Listed],
        window: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<bool, AdapterError> {
        for meeting in listed {
            let Some(start) = meeting.start else { continue };
            if overlaps(start, meeting.duration, window) {
                return Ok(false);
            }
            let ended_before =
                start + chrono::Duration::minutes(i64::from(meeting.duration)) <= window.0;
            if meeting.kind == 8 && ended_before {
                let full = self.get_meeting(meeting.id).await?;
                let busy = occurrences_of(&full).values().any(|o| {
                    !o.deleted && o.start.is_some_and(|s| overlaps(s, o.duration, window))
                });
                if busy {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Creates the call's meeting, or finds the one an earlier attempt made.
    pub(crate) async fn schedule(&self, call: &Call) -> Result<CallReceipt, AdapterError> {
        let marker = marker(call);
        let mut listings = Vec::with_capacity(self.settings.hosts.len());
        for host in &self.settings.hosts {
            let listed = self.upcoming(host).await?;
            if let Some(found) = listed.iter().find(|m| carries(&m.agenda, &marker)) {
                // An earlier attempt made it (its answer may have been lost):
                // finish what that attempt may not have, and take it.
                let join_url = self.settle_occurrences(found.id, call, None).await?;
                return Ok(receipt(
                    found.id,
                    join_url.or_else(|| found.join_url.clone()),
                ));
            }
            listings.push((host, listed));
        }
        // Zoom's list cuts agendas to 250 characters, which can cut the
        // marker off a long one: a meeting with the call's topic and a cut
        // agenda is read whole before anything is made.
        let topic = cut(call.title.trim(), MAX_TOPIC);
        for (_, listed) in &listings {
            for meeting in listed
                .iter()
                .filter(|m| m.topic == topic && m.agenda.chars().count() >= LISTED_AGENDA)
            {
                let full = self.get_meeting(meeting.id).await.map_err(|e| e.class)?;
                if carries(full["agenda"].as_str().unwrap_or_default(), &marker) {
                    let join_url = self.settle_occurrences(meeting.id, call, None).await?;
                    return Ok(receipt(
                        meeting.id,
                        join_url.or_else(|| meeting.join_url.clone()),
                    ));
                }
            }
        }
        let window = first_window(call);
        let mut host = self.settings.hosts.first().map_or("me", String::as_str);
        for (candidate, listed) in &listings {
            if self.is_free(listed, window).await? {
                host = candidate.as_str();
                break;
            }
        }
        let what = format!("schedule the call {:?}", call.title);
        let created = self
            .call(
                Rate::Medium,
                Method::POST,
                &format!("/users/{host}/meetings"),
                Some(&meeting_body(call)),
            )
            .await
            .map_err(refused(&what))?;
        let id = zoom_id(&created["id"]).ok_or_else(|| {
            AdapterError::Ambiguous(format!(
                "Zoom accepted the call {:?} but its answer had no meeting id",
                call.title
            ))
        })?;
        let join_url = created["join_url"].as_str().map(str::to_owned);
        self.settle_occurrences(id, call, Some(&created)).await?;
        Ok(receipt(id, join_url))
    }

    /// Brings the meeting's occurrences in line with the call's cancelled
    /// and moved occurrences, reading the meeting unless `known` is its
    /// current state. Answers the join URL when the meeting was read.
    async fn settle_occurrences(
        &self,
        id: u64,
        call: &Call,
        known: Option<&Value>,
    ) -> Result<Option<String>, AdapterError> {
        let what = format!("change the call {:?}", call.title);
        if call.recurrence.is_none() {
            return Ok(None);
        }
        let read;
        let meeting = match known {
            Some(meeting) => meeting,
            None => {
                read = self.get_meeting(id).await.map_err(refused(&what))?;
                &read
            }
        };
        let zoom = occurrences_of(meeting);
        for occurrence in call.occurrences() {
            let zoom_id = occurrence_id(call.timezone, occurrence.original);
            // An occurrence Zoom does not have (the rule changed since) or
            // has deleted (Zoom cannot restore one) is left alone.
            let Some(current) = zoom.get(&zoom_id).filter(|o| !o.deleted) else {
                continue;
            };
            let path = format!("/meetings/{id}?occurrence_id={zoom_id}");
            if call.cancelled_occurrences.contains(&occurrence.original) {
                gone_is_done(self.call(Rate::Light, Method::DELETE, &path, None).await)
                    .map_err(refused(&what))?;
                continue;
            }
            let moved = current.start != Some(occurrence.starts_at)
                || current.duration != occurrence.duration_minutes;
            if moved {
                let body = json!({
                    "start_time": local_time(occurrence.starts_at_local),
                    "duration": occurrence.duration_minutes,
                });
                self.call(Rate::Light, Method::PATCH, &path, Some(&body))
                    .await
                    .map_err(refused(&what))?;
            }
        }
        Ok(meeting["join_url"].as_str().map(str::to_owned))
    }

    /// Changes the whole meeting, or one occurrence of it.
    pub(crate) async fn update(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<CallReceipt, AdapterError> {
        let id = parse_ref(remote_ref)?;
        let what = format!("change the call {:?}", call.title);
        match scope {
            CallScope::Occurrence(original) if call.recurrence.is_some() => {
                let path = format!(
                    "/meetings/{id}?occurrence_id={}",
                    occurrence_id(call.timezone, original)
                );
                if call.cancelled_occurrences.contains(&original) {
                    self.call(Rate::Light, Method::DELETE, &path, None)
                        .await
                        .map_err(refused(&what))?;
                } else {
                    let moved = call.overrides.iter().find(|o| o.original == original);
                    let body = json!({
                        "start_time": local_time(moved.map_or(original, |o| o.starts_at_local)),
                        "duration": moved.map_or(call.duration_minutes, |o| o.duration_minutes),
                    });
                    self.call(Rate::Light, Method::PATCH, &path, Some(&body))
                        .await
                        .map_err(refused(&what))?;
                }
                let join_url = match &call.join_url {
                    Some(url) => Some(url.clone()),
                    None => self.get_meeting(id).await.map_err(refused(&what))?["join_url"]
                        .as_str()
                        .map(str::to_owned),
                };
                Ok(receipt(id, join_url))
            }
            // A call that happens once is its own only occurrence.
            CallScope::Occurrence(_) | CallScope::Series => {
                self.call(
                    Rate::Light,
                    Method::PATCH,
                    &format!("/meetings/{id}"),
                    Some(&meeting_body(call)),
                )
                .await
                .map_err(refused(&what))?;
                let meeting = self.get_meeting(id).await.map_err(refused(&what))?;
                self.settle_occurrences(id, call, Some(&meeting)).await?;
                Ok(receipt(id, meeting["join_url"].as_str().map(str::to_owned)))
            }
        }
    }

    /// Deletes the meeting, or one occurrence of it; one already gone
    /// counts as done.
    pub(crate) async fn cancel(
        &self,
        remote_ref: &str,
        call: &Call,
        scope: CallScope,
    ) -> Result<(), AdapterError> {
        let id = parse_ref(remote_ref)?;
        let path = match scope {
            CallScope::Occurrence(original) if call.recurrence.is_some() => format!(
                "/meetings/{id}?occurrence_id={}",
                occurrence_id(call.timezone, original)
            ),
            CallScope::Occurrence(_) | CallScope::Series => format!("/meetings/{id}"),
        };
        gone_is_done(self.call(Rate::Light, Method::DELETE, &path, None).await)
            .map_err(refused(&format!("cancel the call {:?}", call.title)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use hub_core::{
        ids::{CallId, CommunityId},
        model::call::CallStatus,
    };

    fn call(agenda: &str) -> Call {
        let start = NaiveDate::from_ymd_opt(2027, 3, 9)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .unwrap_or_default();
        Call {
            id: CallId::new(),
            community_id: CommunityId::new(),
            title: "T".repeat(250),
            agenda: agenda.into(),
            starts_at_local: start,
            timezone: chrono_tz::Europe::Berlin,
            duration_minutes: 45,
            recurrence: None,
            overrides: vec![],
            cancelled_occurrences: vec![],
            registration: true,
            status: CallStatus::Scheduled,
            zoom_meeting_id: None,
            join_url: None,
            recording_url: None,
            sequence: 0,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_long_agenda_is_cut_so_the_marker_fits() {
        let call = call(&"word ".repeat(1000));
        let agenda = agenda(&call);
        assert!(agenda.chars().count() <= MAX_AGENDA);
        assert!(agenda.ends_with(&format!("…\n\n{}", marker(&call))));
        assert!(carries(&agenda, &marker(&call)));
        let body = meeting_body(&call);
        assert_eq!(body["topic"].as_str().map(|t| t.chars().count()), Some(200));
        assert_eq!(body["start_time"], "2027-03-09T09:30:00");
        assert_eq!(body["timezone"], "Europe/Berlin");
        assert_eq!(body["type"], 2);
        assert_eq!(body["settings"]["approval_type"], 0);
    }

    #[test]
    fn rules_map_to_zooms_recurrence_object() {
        let start = NaiveDate::from_ymd_opt(2027, 3, 9)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .unwrap_or_default();
        let zone = chrono_tz::Europe::Berlin;
        let parse = |rule: &str| Recurrence::parse(rule, start, zone).map_err(|e| e.0);
        let weekly = parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU,SA;COUNT=6");
        assert_eq!(
            weekly.map(|r| recurrence_object(&r)),
            Ok(json!({"type": 2, "repeat_interval": 2, "weekly_days": "1,3,7", "end_times": 6}))
        );
        let monthly = parse("FREQ=MONTHLY;BYDAY=2TU;UNTIL=20271231T000000Z");
        assert_eq!(
            monthly.map(|r| recurrence_object(&r)),
            Ok(json!({"type": 3, "repeat_interval": 1, "monthly_week": 2,
                "monthly_week_day": 3, "end_date_time": "2027-12-31T00:00:00Z"}))
        );
        let by_date = parse("FREQ=MONTHLY;BYMONTHDAY=9;COUNT=3");
        assert_eq!(
            by_date.map(|r| recurrence_object(&r)),
            Ok(json!({"type": 3, "repeat_interval": 1, "monthly_day": 9, "end_times": 3}))
        );
        let daily = parse("FREQ=DAILY;INTERVAL=3;COUNT=4");
        assert_eq!(
            daily.map(|r| recurrence_object(&r)),
            Ok(json!({"type": 1, "repeat_interval": 3, "end_times": 4}))
        );
    }

    #[test]
    fn an_occurrence_is_named_by_its_original_start_in_milliseconds() {
        let original = NaiveDate::from_ymd_opt(2027, 3, 9)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .unwrap_or_default();
        // 09:30 in Berlin in March (UTC+1) is 08:30 UTC.
        assert_eq!(
            occurrence_id(chrono_tz::Europe::Berlin, original),
            "1804581000000"
        );
        assert_eq!(meeting_number("812 3456 7890"), Some(81_234_567_890));
        assert_eq!(meeting_number("81/../x"), None);
    }
}
