//! The repeat rules a call can have: the part of RFC 5545's RRULE that Zoom
//! can schedule (daily, weekly or monthly, with an end), parsed once and
//! expanded in the call's own timezone so a weekly call keeps its local
//! wall-clock time across daylight-saving changes.
//!
//! A rule Zoom cannot express is refused with a sentence naming the part, so
//! the calendar, Zoom and Slack never disagree about when a call happens.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Most occurrences a recurring call may have: Zoom keeps at most 50 for a
/// recurring meeting with a fixed time.
pub const MAX_OCCURRENCES: u32 = 50;
/// Largest interval Zoom accepts for a daily rule.
pub const MAX_DAILY_INTERVAL: u32 = 90;
/// Largest interval Zoom accepts for a weekly rule.
pub const MAX_WEEKLY_INTERVAL: u32 = 12;
/// Largest interval Zoom accepts for a monthly rule.
pub const MAX_MONTHLY_INTERVAL: u32 = 3;

/// How often a call repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Every `interval` days.
    Daily,
    /// Every `interval` weeks, on the listed weekdays.
    Weekly,
    /// Every `interval` months, on a day of the month or a weekday of a week.
    Monthly,
}

/// Which day of the month a monthly call is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthlyDay {
    /// That day of the month (1–31); months without it are skipped.
    Date(u32),
    /// The n-th (1–4) or last (-1) such weekday of the month.
    Weekday {
        /// 1, 2, 3, 4 or -1 for the last.
        week: i8,
        /// The weekday.
        day: Weekday,
    },
}

/// When a recurring call stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// After this many occurrences.
    Count(u32),
    /// After this UTC instant (RRULE's UNTIL, inclusive).
    Until(DateTime<Utc>),
}

/// A repeat rule, as parsed from an RRULE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    /// Daily, weekly or monthly.
    pub frequency: Frequency,
    /// Every how many days, weeks or months.
    pub interval: u32,
    /// The weekdays of a weekly rule, Monday first.
    pub weekdays: Vec<Weekday>,
    /// The day of a monthly rule.
    pub monthly: Option<MonthlyDay>,
    /// When it stops.
    pub end: End,
}

/// Why a repeat rule cannot be used; each names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError(why.into()))
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

fn weekday_code(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize].0
}

fn parse_weekday(code: &str) -> Result<Weekday, RuleError> {
    WEEKDAYS
        .iter()
        .find(|(name, _)| *name == code)
        .map(|(_, day)| *day)
        .ok_or_else(|| RuleError(format!("BYDAY: {code:?} is not a weekday (MO … SU)")))
}

/// Parses `UNTIL`: a UTC date-time (`20270101T000000Z`, as RFC 5545 wants
/// with a TZID start) or a date, read as the end of that day in `zone`.
fn parse_until(text: &str, zone: Tz) -> Result<DateTime<Utc>, RuleError> {
    if let Some(utc) = text.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .map(|at| at.and_utc())
            .map_err(|_| RuleError(format!("UNTIL: {text:?} is not a UTC date-time")));
    }
    let day = NaiveDate::parse_from_str(text, "%Y%m%d").map_err(|_| {
        RuleError(format!(
            "UNTIL: {text:?} is not a date (YYYYMMDD) or a UTC date-time (YYYYMMDDTHHMMSSZ)"
        ))
    })?;
    let last = day
        .and_hms_opt(23, 59, 59)
        .ok_or_else(|| RuleError(format!("UNTIL: {text:?} is out of range")))?;
    Ok(local_instant(zone, last))
}

/// The instant a local wall-clock time names in `zone`: an ambiguous time
/// (the hour repeated in autumn) is the earlier one, a time that does not
/// exist (the hour skipped in spring) moves forward by the gap, as RFC 5545
/// reads it.
#[must_use]
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        LocalResult::None => {
            // Read it with the offset in force before the gap.
            let before = zone.offset_from_utc_datetime(&(local - chrono::Duration::hours(3)));
            let offset = chrono::Offset::fix(&before);
            (local - chrono::Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
        }
    }
}

impl Recurrence {
    /// Parses an RRULE (with or without the `RRULE:` prefix) for a call
    /// starting at `start` (local, in `zone`), refusing what Zoom cannot
    /// schedule and a start the rule would not itself produce.
    ///
    /// # Errors
    /// A [`RuleError`] naming the part of the rule at fault.
    pub fn parse(rule: &str, start: NaiveDateTime, zone: Tz) -> Result<Self, RuleError> {
        let rule = rule.trim();
        let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
        let mut frequency = None;
        let mut interval = 1u32;
        let mut weekdays = Vec::new();
        let mut monthly = None;
        let mut count = None;
        let mut until = None;
        for part in rule.split(';').filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return refuse(format!("{part:?} is not NAME=VALUE"));
            };
            match name.to_ascii_uppercase().as_str() {
                "FREQ" => {
                    frequency = Some(match value.to_ascii_uppercase().as_str() {
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        other => {
                            return refuse(format!(
                                "FREQ={other}: Zoom repeats a call daily, weekly or monthly"
                            ));
                        }
                    });
                }
                "INTERVAL" => {
                    interval = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        RuleError(format!(
                            "INTERVAL={value} is not a whole number of at least 1"
                        ))
                    })?;
                }
                "COUNT" => {
                    count = Some(value.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(
                        || RuleError(format!("COUNT={value} is not a whole number of at least 1")),
                    )?);
                }
                "UNTIL" => until = Some(parse_until(value, zone)?),
                "BYDAY" => {
                    for code in value.split(',') {
                        let code = code.trim().to_ascii_uppercase();
                        let split = code.len().saturating_sub(2);
                        let (ordinal, day) = code.split_at(split);
                        let day = parse_weekday(day)?;
                        if ordinal.is_empty() {
                            weekdays.push(day);
                        } else {
                            let week = ordinal
                                .parse::<i8>()
                                .ok()
                                .filter(|w| matches!(w, 1..=4 | -1));
                            let Some(week) = week else {
                                return refuse(format!(
                                    "BYDAY={code}: Zoom takes the 1st to 4th or the last (-1) weekday of a month"
                                ));
                            };
                            if monthly.is_some() {
                                return refuse("BYDAY: Zoom takes one day of the month");
                            }
                            monthly = Some(MonthlyDay::Weekday { week, day });
                        }
                    }
                }
                "BYMONTHDAY" => {
                    let day = value.parse::<u32>().ok().filter(|d| (1..=31).contains(d));
                    let Some(day) = day else {
                        return refuse(format!(
                            "BYMONTHDAY={value}: Zoom takes one day of the month, 1 to 31"
                        ));
                    };
                    if monthly.is_some() {
                        return refuse("BYMONTHDAY: Zoom takes one day of the month");
                    }
                    monthly = Some(MonthlyDay::Date(day));
                }
                // The week start changes nothing for the rules Zoom takes
                // when it is Monday, the default.
                "WKST" if value.eq_ignore_ascii_case("MO") => {}
                other => {
                    return refuse(format!("{other}: Zoom cannot schedule a rule with {other}"));
                }
            }
        }
        let Some(frequency) = frequency else {
            return refuse("FREQ is missing: say DAILY, WEEKLY or MONTHLY");
        };
        let most = match frequency {
            Frequency::Daily => MAX_DAILY_INTERVAL,
            Frequency::Weekly => MAX_WEEKLY_INTERVAL,
            Frequency::Monthly => MAX_MONTHLY_INTERVAL,
        };
        if interval > most {
            return refuse(format!(
                "INTERVAL={interval}: Zoom repeats a {} call at most every {most}",
                match frequency {
                    Frequency::Daily => "daily",
                    Frequency::Weekly => "weekly",
                    Frequency::Monthly => "monthly",
                }
            ));
        }
        match frequency {
            Frequency::Daily if !weekdays.is_empty() || monthly.is_some() => {
                return refuse(
                    "BYDAY/BYMONTHDAY: Zoom repeats a daily call every day of the interval",
                );
            }
            Frequency::Weekly if monthly.is_some() => {
                return refuse(
                    "BYDAY/BYMONTHDAY: a weekly call takes plain weekdays (BYDAY=MO,TH)",
                );
            }
            Frequency::Monthly if !weekdays.is_empty() => {
                return refuse(
                    "BYDAY: a monthly call takes one weekday of one week (BYDAY=2TU or -1FR)",
                );
            }
            _ => {}
        }
        let end = match (count, until) {
            (Some(_), Some(_)) => return refuse("COUNT and UNTIL: give one, not both"),
            (Some(n), None) if n > MAX_OCCURRENCES => {
                return refuse(format!(
                    "COUNT={n}: Zoom keeps at most {MAX_OCCURRENCES} occurrences of a call"
                ));
            }
            (Some(n), None) => End::Count(n),
            (None, Some(at)) => End::Until(at),
            (None, None) => {
                return refuse(format!(
                    "no end: add COUNT (at most {MAX_OCCURRENCES}) or UNTIL, as Zoom needs one"
                ));
            }
        };
        weekdays.sort_by_key(Weekday::num_days_from_monday);
        weekdays.dedup();
        let mut recurrence = Self {
            frequency,
            interval,
            weekdays,
            monthly,
            end,
        };
        if recurrence.frequency == Frequency::Weekly && recurrence.weekdays.is_empty() {
            recurrence.weekdays.push(start.weekday());
        }
        if recurrence.frequency == Frequency::Monthly && recurrence.monthly.is_none() {
            recurrence.monthly = Some(MonthlyDay::Date(start.day()));
        }
        if !recurrence.matches(start.date()) {
            return refuse(format!(
                "the start, {}, is not a day the rule repeats on: start on one of its days",
                start.format("%A %-d %B %Y")
            ));
        }
        let occurrences = recurrence.occurrences(start, zone);
        if occurrences.len() > MAX_OCCURRENCES as usize {
            return refuse(format!(
                "UNTIL: the rule makes more than {MAX_OCCURRENCES} occurrences, the most Zoom keeps"
            ));
        }
        if occurrences.is_empty() {
            return refuse("UNTIL is before the start: the call would never happen");
        }
        Ok(recurrence)
    }

    /// Whether the rule's pattern (not its interval or end) falls on `day`.
    fn matches(&self, day: NaiveDate) -> bool {
        match self.frequency {
            Frequency::Daily => true,
            Frequency::Weekly => self.weekdays.contains(&day.weekday()),
            Frequency::Monthly => match self.monthly {
                Some(MonthlyDay::Date(date)) => day.day() == date,
                Some(MonthlyDay::Weekday { week, day: weekday }) => {
                    nth_weekday(day.year(), day.month(), week, weekday) == Some(day)
                }
                None => false,
            },
        }
    }

    /// The local starts of every occurrence, the first being `start`, in
    /// order. Each is the same wall-clock time in `zone`; at most
    /// [`MAX_OCCURRENCES`] + 1 are made, so a caller can tell a rule that
    /// makes too many.
    #[must_use]
    pub fn occurrences(&self, start: NaiveDateTime, zone: Tz) -> Vec<NaiveDateTime> {
        let limit = match self.end {
            End::Count(n) => n.min(MAX_OCCURRENCES + 1),
            End::Until(_) => MAX_OCCURRENCES + 1,
        } as usize;
        let within = |at: NaiveDateTime| match self.end {
            End::Count(_) => true,
            End::Until(until) => local_instant(zone, at) <= until,
        };
        let time = start.time();
        let mut found = Vec::new();
        let push = |day: NaiveDate, found: &mut Vec<NaiveDateTime>| -> bool {
            let at = day.and_time(time);
            if at < start {
                return true;
            }
            if found.len() >= limit || !within(at) {
                return false;
            }
            found.push(at);
            true
        };
        // Periods are walked until the end; a period with no day of the
        // rule (a month without the 31st) is skipped, and the walk gives up
        // after a generous bound rather than loop on a rule that never ends.
        for period in 0..(4 * MAX_OCCURRENCES * 12) {
            let step = period * self.interval;
            let keep_going = match self.frequency {
                Frequency::Daily => start
                    .date()
                    .checked_add_days(Days::new(u64::from(step)))
                    .is_some_and(|day| push(day, &mut found)),
                Frequency::Weekly => {
                    let monday =
                        start.date() - Days::new(u64::from(start.weekday().num_days_from_monday()));
                    let Some(week) = monday.checked_add_days(Days::new(7 * u64::from(step))) else {
                        break;
                    };
                    self.weekdays.iter().all(|day| {
                        push(
                            week + Days::new(u64::from(day.num_days_from_monday())),
                            &mut found,
                        )
                    })
                }
                Frequency::Monthly => {
                    let Some(first) = start
                        .date()
                        .with_day(1)
                        .and_then(|first| first.checked_add_months(Months::new(step)))
                    else {
                        break;
                    };
                    let day = match self.monthly {
                        Some(MonthlyDay::Date(date)) => first.with_day(date),
                        Some(MonthlyDay::Weekday { week, day }) => {
                            nth_weekday(first.year(), first.month(), week, day)
                        }
                        None => None,
                    };
                    day.is_none_or(|day| push(day, &mut found))
                }
            };
            if !keep_going {
                break;
            }
        }
        found
    }
}

/// The `week`-th (1–4, or -1 for the last) `day` of a month.
fn nth_weekday(year: i32, month: u32, week: i8, day: Weekday) -> Option<NaiveDate> {
    if week == -1 {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        let last = next.pred_opt()?;
        let back = (7 + last.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
        return last.checked_sub_days(Days::new(u64::from(back)));
    }
    let week = u8::try_from(week).ok()?;
    NaiveDate::from_weekday_of_month_opt(year, month, day, week)
}

impl fmt::Display for Recurrence {
    /// The rule as an RRULE value (`FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=10`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frequency = match self.frequency {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
        };
        write!(f, "FREQ={frequency};INTERVAL={}", self.interval)?;
        if self.frequency == Frequency::Weekly {
            let days: Vec<&str> = self.weekdays.iter().map(|d| weekday_code(*d)).collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        match self.monthly {
            Some(MonthlyDay::Date(day)) => write!(f, ";BYMONTHDAY={day}")?,
            Some(MonthlyDay::Weekday { week, day }) => {
                write!(f, ";BYDAY={week}{}", weekday_code(day))?;
            }
            None => {}
        }
        match self.end {
            End::Count(n) => write!(f, ";COUNT={n}"),
            End::Until(at) => write!(f, ";UNTIL={}", at.format("%Y%m%dT%H%M%SZ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap_or_default()
    }

    fn parse(rule: &str, start: &str) -> Result<Recurrence, RuleError> {
        Recurrence::parse(rule, at(start), chrono_tz::America::New_York)
    }

    #[test]
    fn a_weekly_call_keeps_its_local_time_across_the_change_to_winter_time() {
        let start = at("2026-10-20 10:00");
        let rule = parse("FREQ=WEEKLY;BYDAY=TU;COUNT=4", "2026-10-20 10:00")
            .unwrap_or_else(|e| panic!("{e}"));
        let zone = chrono_tz::America::New_York;
        let starts = rule.occurrences(start, zone);
        assert_eq!(
            starts,
            vec![
                at("2026-10-20 10:00"),
                at("2026-10-27 10:00"),
                at("2026-11-03 10:00"),
                at("2026-11-10 10:00")
            ]
        );
        // New York leaves daylight time on 1 November: 14:00 UTC, then 15:00.
        let utc: Vec<u32> = starts
            .iter()
            .map(|s| chrono::Timelike::hour(&local_instant(zone, *s)))
            .collect();
        assert_eq!(utc, vec![14, 14, 15, 15]);
    }

    #[test]
    fn the_rule_round_trips_through_its_rrule_text() {
        for rule in [
            "FREQ=DAILY;INTERVAL=2;COUNT=5",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10",
            "FREQ=MONTHLY;INTERVAL=1;BYDAY=2MO;COUNT=6",
            "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=9;UNTIL=20271231T000000Z",
        ] {
            let parsed = parse(rule, "2026-11-09 09:30").unwrap_or_else(|e| panic!("{rule}: {e}"));
            assert_eq!(parsed.to_string(), rule);
        }
    }

    #[test]
    fn monthly_by_date_skips_months_without_the_day_and_last_weekday_works() {
        let by_date = parse("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3", "2027-01-31 08:00")
            .unwrap_or_else(|e| panic!("{e}"));
        let zone = chrono_tz::Europe::Berlin;
        assert_eq!(
            by_date.occurrences(at("2027-01-31 08:00"), zone),
            vec![
                at("2027-01-31 08:00"),
                at("2027-03-31 08:00"),
                at("2027-05-31 08:00")
            ]
        );
        let last_friday = parse("FREQ=MONTHLY;BYDAY=-1FR;COUNT=2", "2026-11-27 16:00")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            last_friday.occurrences(at("2026-11-27 16:00"), zone),
            vec![at("2026-11-27 16:00"), at("2026-12-25 16:00")]
        );
    }

    #[test]
    fn a_weekly_rule_on_several_days_counts_from_the_start() {
        let rule = parse(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5",
            "2026-11-26 12:00",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rule.occurrences(at("2026-11-26 12:00"), chrono_tz::UTC),
            vec![
                at("2026-11-26 12:00"),
                at("2026-12-07 12:00"),
                at("2026-12-10 12:00"),
                at("2026-12-21 12:00"),
                at("2026-12-24 12:00"),
            ]
        );
    }

    #[test]
    fn until_is_inclusive_in_the_calls_zone() {
        let rule = parse("FREQ=DAILY;UNTIL=20261203", "2026-12-01 23:00")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rule.occurrences(at("2026-12-01 23:00"), chrono_tz::America::New_York)
                .len(),
            3
        );
    }

    #[test]
    fn rules_zoom_cannot_express_are_refused_naming_the_part() {
        for (rule, part) in [
            ("FREQ=YEARLY;COUNT=2", "FREQ=YEARLY"),
            ("FREQ=WEEKLY;COUNT=51", "COUNT=51"),
            ("FREQ=WEEKLY;INTERVAL=13;COUNT=2", "INTERVAL=13"),
            ("FREQ=DAILY;INTERVAL=91;COUNT=2", "INTERVAL=91"),
            ("FREQ=MONTHLY;INTERVAL=4;COUNT=2", "INTERVAL=4"),
            ("FREQ=WEEKLY;BYHOUR=9;COUNT=2", "BYHOUR"),
            ("FREQ=WEEKLY", "no end"),
            (
                "FREQ=WEEKLY;BYDAY=TU;COUNT=3",
                "not a day the rule repeats on",
            ),
            ("FREQ=MONTHLY;BYDAY=5MO;COUNT=3", "BYDAY=5MO"),
            ("FREQ=DAILY;UNTIL=20290101", "more than 50"),
            ("FREQ=WEEKLY;COUNT=2;UNTIL=20270101", "COUNT and UNTIL"),
            ("COUNT=2", "FREQ is missing"),
            ("FREQ=WEEKLY;BYDAY=XX;COUNT=2", "BYDAY"),
        ] {
            let error = parse(rule, "2026-11-30 09:00").expect_err(rule);
            assert!(error.0.contains(part), "{rule}: {error}");
        }
    }

    #[test]
    fn a_time_skipped_in_spring_moves_forward_by_the_gap() {
        let zone = chrono_tz::Europe::Berlin;
        let skipped = local_instant(zone, at("2027-03-28 02:30"));
        assert_eq!(skipped.to_rfc3339(), "2027-03-28T01:30:00+00:00");
        let repeated = local_instant(zone, at("2027-10-31 02:30"));
        assert_eq!(repeated.to_rfc3339(), "2027-10-31T00:30:00+00:00");
    }
}
