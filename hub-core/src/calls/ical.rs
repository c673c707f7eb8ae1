//! The calendar form of a call (RFC 5545, with RFC 5546's methods): the
//! invitation mailed to members, its update and its cancel, and the feeds.
//!
//! Times are written in the call's own zone (`DTSTART;TZID=…`) with a
//! VTIMEZONE made from the zone's rules, so a weekly call stays at the same
//! local time across daylight-saving changes in every calendar. The UID is
//! the call's id, so an update replaces the event rather than adding one;
//! SEQUENCE is the call's, raised only when time, place or status change.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::{
    Email,
    model::call::{Call, CallStatus},
};

/// What the calendar is for (RFC 5546's METHOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A feed: events to show, no reply expected.
    Publish,
    /// An invitation or its update.
    Request,
    /// The whole call is off.
    Cancel,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "PUBLISH",
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

/// Who sends the invitations, and where a call's page is.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The community's name (the ORGANIZER's CN, the calendar's name).
    pub name: String,
    /// The community's sender address.
    pub email: Email,
    /// The host UIDs end with (`cophub.example.org`), from the public URL.
    pub uid_host: String,
}

/// One call as an event in a calendar.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The call.
    pub call: &'a Call,
    /// Where its page is, when it has one people may open.
    pub page_url: Option<&'a str>,
    /// The join link to write: the call's, a member's own (a Zoom
    /// registrant's), or none (never in the public feed).
    pub join_url: Option<&'a str>,
}

/// An invitation (or its update, or its cancel) for one member.
///
/// # Examples
/// The whole calendar is returned as text with CRLF line ends, ready to be
/// a `text/calendar; method=REQUEST` part.
#[must_use]
pub fn invitation(
    sender: &Sender,
    entry: Entry<'_>,
    attendee: &Email,
    method: Method,
    now: DateTime<Utc>,
) -> String {
    write_calendar(sender, &[entry], &[], Some(attendee), method, now)
}

/// A calendar feed of many calls (`METHOD:PUBLISH`), with no attendees.
#[must_use]
pub fn feed(sender: &Sender, entries: &[Entry<'_>], now: DateTime<Utc>) -> String {
    write_calendar(sender, entries, &[], None, Method::Publish, now)
}

/// One session of a published conference schedule, as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    /// Its UID, stable while the session lives.
    pub uid: String,
    /// The session's title (with the conference's name).
    pub title: String,
    /// What it is about.
    pub description: String,
    /// The conference's zone, which the times are written in.
    pub zone: Tz,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// The room (and venue), or its join link.
    pub location: Option<String>,
    /// The schedule's page.
    pub url: Option<String>,
}

/// A feed of calls and conference sessions (`METHOD:PUBLISH`).
#[must_use]
pub fn feed_with_sessions(
    sender: &Sender,
    entries: &[Entry<'_>],
    sessions: &[SessionEvent],
    now: DateTime<Utc>,
) -> String {
    write_calendar(sender, entries, sessions, None, Method::Publish, now)
}

/// A call's UID: stable for its whole life.
#[must_use]
pub fn uid(sender: &Sender, call: &Call) -> String {
    format!("call-{}@{}", call.id, sender.uid_host)
}

fn write_calendar(
    sender: &Sender,
    entries: &[Entry<'_>],
    sessions: &[SessionEvent],
    attendee: Option<&Email>,
    method: Method,
    now: DateTime<Utc>,
) -> String {
    let mut out = Lines::default();
    out.line("BEGIN:VCALENDAR");
    out.line("VERSION:2.0");
    out.line("PRODID:-//cophub//calls//EN");
    out.line("CALSCALE:GREGORIAN");
    out.line(&format!("METHOD:{}", method.as_str()));
    out.line(&format!("X-WR-CALNAME:{}", escape(&sender.name)));
    let mut zones: Vec<Tz> = entries
        .iter()
        .map(|e| e.call.timezone)
        .chain(sessions.iter().map(|s| s.zone))
        .collect();
    zones.sort_by_key(|z| z.name());
    zones.dedup();
    for zone in zones {
        let spans = entries
            .iter()
            .filter(|e| e.call.timezone == zone)
            .flat_map(|e| e.call.occurrences())
            .map(|o| o.starts_at)
            .chain(
                sessions
                    .iter()
                    .filter(|s| s.zone == zone)
                    .map(|s| s.starts_at),
            );
        let (Some(first), Some(last)) = (spans.clone().min(), spans.max()) else {
            continue;
        };
        write_zone(&mut out, zone, first, last);
    }
    for entry in entries {
        write_events(&mut out, sender, *entry, attendee, method, now);
    }
    for session in sessions {
        write_session(&mut out, sender, session, now);
    }
    out.line("END:VCALENDAR");
    out.text
}

fn write_events(
    out: &mut Lines,
    sender: &Sender,
    entry: Entry<'_>,
    attendee: Option<&Email>,
    method: Method,
    now: DateTime<Utc>,
) {
    let call = entry.call;
    let zone = call.timezone.name();
    let cancelled = method == Method::Cancel || call.status == CallStatus::Cancelled;
    let common = |out: &mut Lines, starts: NaiveDateTime, minutes: u32| {
        out.line(&format!("UID:{}", uid(sender, call)));
        out.line(&format!("DTSTAMP:{}", now.format("%Y%m%dT%H%M%SZ")));
        out.line(&format!("DTSTART;TZID={zone}:{}", local(starts)));
        out.line(&format!("DURATION:PT{minutes}M"));
        out.line(&format!("SEQUENCE:{}", call.sequence));
        out.line(&format!("SUMMARY:{}", escape(&call.title)));
        out.line(&format!(
            "STATUS:{}",
            if cancelled { "CANCELLED" } else { "CONFIRMED" }
        ));
        let mut description = call.agenda.trim().to_owned();
        if let Some(join) = entry.join_url {
            out.line(&format!("LOCATION:{}", escape(join)));
            description = format!("Join: {join}\n\n{description}");
        }
        if let Some(page) = entry.page_url {
            out.line(&format!("URL:{page}"));
            description = format!("{description}\n\nThe call's page: {page}");
        }
        out.line(&format!("DESCRIPTION:{}", escape(description.trim())));
        out.line(&format!(
            "ORGANIZER;CN={}:mailto:{}",
            parameter(&sender.name),
            sender.email
        ));
        if let Some(attendee) = attendee {
            out.line(&format!(
                "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{attendee}"
            ));
        }
    };

    out.line("BEGIN:VEVENT");
    common(out, call.starts_at_local, call.duration_minutes);
    if let Some(rule) = &call.recurrence {
        out.line(&format!("RRULE:{rule}"));
        let mut exdates: Vec<&NaiveDateTime> = call.cancelled_occurrences.iter().collect();
        exdates.sort();
        if !exdates.is_empty() {
            let list: Vec<String> = exdates.into_iter().map(|at| local(*at)).collect();
            out.line(&format!("EXDATE;TZID={zone}:{}", list.join(",")));
        }
    }
    out.line("END:VEVENT");

    // One changed occurrence is its own event, named by its original start.
    if call.recurrence.is_some() && !cancelled {
        let mut overrides: Vec<_> = call
            .overrides
            .iter()
            .filter(|o| !call.cancelled_occurrences.contains(&o.original))
            .collect();
        overrides.sort_by_key(|o| o.original);
        for moved in overrides {
            out.line("BEGIN:VEVENT");
            out.line(&format!(
                "RECURRENCE-ID;TZID={zone}:{}",
                local(moved.original)
            ));
            common(out, moved.starts_at_local, moved.duration_minutes);
            out.line("END:VEVENT");
        }
    }
}

fn write_session(out: &mut Lines, sender: &Sender, session: &SessionEvent, now: DateTime<Utc>) {
    let zone = session.zone.name();
    let local_at = |at: DateTime<Utc>| local(at.with_timezone(&session.zone).naive_local());
    out.line("BEGIN:VEVENT");
    out.line(&format!("UID:{}", session.uid));
    out.line(&format!("DTSTAMP:{}", now.format("%Y%m%dT%H%M%SZ")));
    out.line(&format!(
        "DTSTART;TZID={zone}:{}",
        local_at(session.starts_at)
    ));
    out.line(&format!("DTEND;TZID={zone}:{}", local_at(session.ends_at)));
    out.line("SEQUENCE:0");
    out.line(&format!("SUMMARY:{}", escape(&session.title)));
    out.line("STATUS:CONFIRMED");
    if let Some(location) = &session.location {
        out.line(&format!("LOCATION:{}", escape(location)));
    }
    let mut description = session.description.trim().to_owned();
    if let Some(url) = &session.url {
        out.line(&format!("URL:{url}"));
        description = format!("{description}\n\nThe schedule: {url}");
    }
    out.line(&format!("DESCRIPTION:{}", escape(description.trim())));
    out.line(&format!(
        "ORGANIZER;CN={}:mailto:{}",
        parameter(&sender.name),
        sender.email
    ));
    out.line("END:VEVENT");
}

fn local(at: NaiveDateTime) -> String {
    at.format("%Y%m%dT%H%M%S").to_string()
}

/// The zone's observances from a year before `first` to a year after
/// `last`: one STANDARD or DAYLIGHT block per change of offset, each
/// starting at the local time of the change in the offset before it, plus
/// one for the offset in force at the start of the span.
fn write_zone(out: &mut Lines, zone: Tz, first: DateTime<Utc>, last: DateTime<Utc>) {
    // Whole days, so the changes found below fall on whole minutes.
    let from = (first - Duration::days(366))
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let to = last + Duration::days(366);
    out.line("BEGIN:VTIMEZONE");
    out.line(&format!("TZID:{}", zone.name()));
    let opening = zone.offset_from_utc_datetime(&from.naive_utc());
    write_observance(out, from.naive_utc(), opening, opening);
    let mut day = from;
    let mut before = opening;
    while day < to {
        let next = day + Duration::days(1);
        let after = zone.offset_from_utc_datetime(&next.naive_utc());
        if after.fix() != before.fix() {
            // The change lies within this day: find its minute.
            let (mut low, mut high) = (0i64, 24 * 60);
            while high - low > 1 {
                let middle = (low + high) / 2;
                let at = day + Duration::minutes(middle);
                if zone.offset_from_utc_datetime(&at.naive_utc()).fix() == before.fix() {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            write_observance(
                out,
                (day + Duration::minutes(high)).naive_utc(),
                before,
                after,
            );
        }
        before = after;
        day = next;
    }
    out.line("END:VTIMEZONE");
}

fn write_observance(
    out: &mut Lines,
    at_utc: NaiveDateTime,
    before: chrono_tz::TzOffset,
    after: chrono_tz::TzOffset,
) {
    let kind = if after.dst_offset().is_zero() {
        "STANDARD"
    } else {
        "DAYLIGHT"
    };
    let from_seconds = before.fix().local_minus_utc();
    out.line(&format!("BEGIN:{kind}"));
    out.line(&format!(
        "DTSTART:{}",
        local(at_utc + Duration::seconds(i64::from(from_seconds)))
    ));
    out.line(&format!("TZOFFSETFROM:{}", utc_offset(from_seconds)));
    out.line(&format!(
        "TZOFFSETTO:{}",
        utc_offset(after.fix().local_minus_utc())
    ));
    if let Some(name) = after.abbreviation() {
        out.line(&format!("TZNAME:{}", escape(name)));
    }
    out.line(&format!("END:{kind}"));
}

fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if rest == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{rest:02}")
    }
}

/// A TEXT value: backslash, semicolon, comma and line ends escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, with the characters a quoted value cannot
/// hold dropped.
fn parameter(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    format!("\"{clean}\"")
}

/// Content lines, folded at 75 octets (never inside a character) and ended
/// with CRLF.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    fn line(&mut self, content: &str) {
        let mut width = 0;
        for c in content.chars() {
            let size = c.len_utf8();
            if width + size > 75 {
                self.text.push_str("\r\n ");
                width = 1;
            }
            self.text.push(c);
            width += size;
        }
        let _ = write!(self.text, "\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        calls::recurrence::Recurrence,
        ids::{CallId, CommunityId},
        model::call::OccurrenceOverride,
    };

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap_or_default()
    }

    fn weekly(zone: Tz) -> Call {
        let start = at("2026-10-20 10:00");
        Call {
            id: CallId::new(),
            community_id: CommunityId::new(),
            title: "RSE call; open floor, all welcome".into(),
            agenda: "1. News\n2. Questions".into(),
            starts_at_local: start,
            timezone: zone,
            duration_minutes: 60,
            recurrence: Recurrence::parse("FREQ=WEEKLY;BYDAY=TU;COUNT=6", start, zone).ok(),
            overrides: vec![],
            cancelled_occurrences: vec![],
            registration: false,
            status: CallStatus::Scheduled,
            zoom_meeting_id: Some("81234567890".into()),
            join_url: Some("https://zoom.example/j/81234567890".into()),
            recording_url: None,
            sequence: 0,
            created_at: Utc::now(),
        }
    }

    fn sender() -> Sender {
        Sender {
            name: "Research Software Engineers".into(),
            email: Email::parse("rse@lists.example.org").unwrap_or_else(|e| panic!("{e}")),
            uid_host: "hub.example.org".into(),
        }
    }

    fn entry(call: &Call, with_join_url: bool) -> Entry<'_> {
        Entry {
            call,
            page_url: Some("https://hub.example.org/c/rse/calls/1"),
            join_url: call.join_url.as_deref().filter(|_| with_join_url),
        }
    }

    /// The content lines, unfolded.
    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    #[test]
    fn new_yorks_zone_holds_both_changes_of_2026_with_their_offsets() {
        let call = weekly(chrono_tz::America::New_York);
        let text = unfold(&feed(&sender(), &[entry(&call, false)], Utc::now()));
        assert!(text.contains(
            "BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\nEND:STANDARD"
        ), "{text}");
        assert!(text.contains(
            "BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\nEND:DAYLIGHT"
        ), "{text}");
        assert!(text.contains("DTSTART;TZID=America/New_York:20261020T100000\r\n"));
        assert!(text.contains("RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=6\r\n"));
    }

    #[test]
    fn the_public_feed_has_no_join_url_and_the_invitation_has_it_with_rsvp_false() {
        let call = weekly(chrono_tz::Europe::Berlin);
        let public = unfold(&feed(&sender(), &[entry(&call, false)], Utc::now()));
        assert!(!public.contains("zoom.example"), "{public}");
        assert!(public.contains("METHOD:PUBLISH"));
        assert!(!public.contains("ATTENDEE"));
        let member = Email::parse("ada@example.org").unwrap_or_else(|e| panic!("{e}"));
        let invite = unfold(&invitation(
            &sender(),
            entry(&call, true),
            &member,
            Method::Request,
            Utc::now(),
        ));
        assert!(invite.contains("METHOD:REQUEST"));
        assert!(invite.contains("LOCATION:https://zoom.example/j/81234567890"));
        assert!(invite.contains("RSVP=FALSE:mailto:ada@example.org"));
        assert!(
            invite.contains(
                "ORGANIZER;CN=\"Research Software Engineers\":mailto:rse@lists.example.org"
            )
        );
        assert!(invite.contains("SUMMARY:RSE call\\; open floor\\, all welcome"));
    }

    #[test]
    fn a_moved_occurrence_is_an_override_and_a_cancelled_one_an_exdate() {
        let mut call = weekly(chrono_tz::Europe::Berlin);
        call.overrides.push(OccurrenceOverride {
            original: at("2026-11-03 10:00"),
            starts_at_local: at("2026-11-04 15:00"),
            duration_minutes: 90,
        });
        call.cancelled_occurrences.push(at("2026-11-10 10:00"));
        call.sequence = 2;
        let text = unfold(&feed(&sender(), &[entry(&call, false)], Utc::now()));
        assert!(text.contains("EXDATE;TZID=Europe/Berlin:20261110T100000\r\n"));
        assert!(text.contains("RECURRENCE-ID;TZID=Europe/Berlin:20261103T100000\r\nUID:"));
        assert!(text.contains("DTSTART;TZID=Europe/Berlin:20261104T150000\r\nDURATION:PT90M"));
        assert_eq!(text.matches("SEQUENCE:2").count(), 2);
    }

    #[test]
    fn the_cancel_says_so_for_the_whole_series() {
        let mut call = weekly(chrono_tz::Europe::Berlin);
        call.status = CallStatus::Cancelled;
        call.sequence = 1;
        let member = Email::parse("ada@example.org").unwrap_or_else(|e| panic!("{e}"));
        let text = unfold(&invitation(
            &sender(),
            entry(&call, true),
            &member,
            Method::Cancel,
            Utc::now(),
        ));
        assert!(text.contains("METHOD:CANCEL"));
        assert!(text.contains("STATUS:CANCELLED"));
        assert!(text.contains("SEQUENCE:1"));
        assert!(!text.contains("RECURRENCE-ID"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_a_character() {
        let mut lines = Lines::default();
        let long = format!("SUMMARY:{}", "é".repeat(100));
        lines.line(&long);
        for line in lines.text.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        let unfolded = lines.text.replace("\r\n ", "");
        assert_eq!(unfolded, format!("{long}\r\n"));
    }

    #[test]
    fn a_zone_without_changes_still_names_its_offset() {
        let call = weekly(chrono_tz::Asia::Tokyo);
        let text = unfold(&feed(&sender(), &[entry(&call, false)], Utc::now()));
        assert!(
            text.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"),
            "{text}"
        );
    }
}
