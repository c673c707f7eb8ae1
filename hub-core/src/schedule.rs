//! Cron as people type it — five fields (`30 7 * * 1-5`) or `@daily`,
//! `@hourly`, `@weekly`, `@monthly` — read in a community's timezone.
//!
//! Ticks are computed on the local wall clock and then placed in time: a
//! local time that a daylight-saving change skips runs at the next valid
//! minute; one that happens twice runs once, at its first occurrence.

use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    schedule: cron::Schedule,
    text: String,
}

/// A cron expression that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{expression:?} is not a schedule: use five fields (minute hour day-of-month month day-of-week, e.g. \"30 7 * * 1-5\") or @hourly, @daily, @weekly, @monthly ({reason})"
)]
pub struct InvalidCron {
    /// What was given.
    pub expression: String,
    /// What the parser said.
    pub reason: String,
}

const DAY_NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

impl CronSchedule {
    /// Reads a schedule.
    ///
    /// # Errors
    /// [`InvalidCron`] naming the expression.
    pub fn parse(expression: &str) -> Result<Self, InvalidCron> {
        let text = expression.trim();
        let invalid = |reason: String| InvalidCron {
            expression: text.chars().take(100).collect(),
            reason,
        };
        let full = if text.starts_with('@') {
            text.to_owned()
        } else {
            let fields: Vec<&str> = text.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(invalid(format!("{} fields instead of 5", fields.len())));
            }
            // The cron crate counts weekdays from 1 = Sunday; people count from
            // 0 = Sunday (7 too). Names mean the same to both.
            format!(
                "0 {} {} {} {} {}",
                fields[0],
                fields[1],
                fields[2],
                fields[3],
                weekday_names(fields[4])
            )
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            schedule,
            text: text.to_owned(),
        })
    }

    /// The expression as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first tick strictly after `after`, in `tz`.
    #[must_use]
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Walk the local wall clock, treating it as if it were UTC, so the
        // crate never sees a gap or an overlap; then place each local tick.
        let local_after = after.with_timezone(&tz).naive_local();
        let mut cursor = Utc.from_utc_datetime(&local_after);
        for _ in 0..10_000 {
            let naive = self.schedule.after(&cursor).next()?.naive_utc();
            if let Some(instant) = place(tz, naive)
                && instant > after
            {
                return Some(instant);
            }
            cursor = Utc.from_utc_datetime(&naive);
        }
        None
    }

    /// The latest tick in `(since, now]`, if any: after downtime, the missed
    /// ticks run once, not once each.
    #[must_use]
    pub fn latest_due(
        &self,
        tz: Tz,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // Looking further back than a week would only find ticks that the
        // latest one replaces anyway.
        let mut cursor = since.max(now - Duration::days(7));
        let mut latest = None;
        while let Some(tick) = self.next_after(tz, cursor) {
            if tick > now {
                break;
            }
            latest = Some(tick);
            cursor = tick;
        }
        latest
    }
}

/// Places a local wall-clock time: the first of two, or the next valid minute.
fn place(tz: Tz, mut naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    for _ in 0..24 * 60 {
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            LocalResult::None => naive += Duration::minutes(1),
        }
    }
    None
}

/// Replaces weekday numbers (0–7, Sunday = 0 or 7) by names, leaving steps
/// (`*/2`) alone.
fn weekday_names(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 8);
    let mut digits = String::new();
    let mut after_slash = false;
    let flush = |digits: &mut String, out: &mut String, after_slash: bool| {
        if digits.is_empty() {
            return;
        }
        match digits.parse::<usize>() {
            Ok(n) if !after_slash && n < DAY_NAMES.len() => out.push_str(DAY_NAMES[n]),
            _ => out.push_str(digits),
        }
        digits.clear();
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out, after_slash);
            after_slash = c == '/';
            out.push(c);
        }
    }
    flush(&mut digits, &mut out, after_slash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn what_people_type_is_understood_and_garbage_named() {
        for ok in [
            "30 7 * * 1-5",
            "*/15 * * * *",
            "0 9 * * 0",
            "0 9 * * 7",
            "@daily",
            "@hourly",
            "0 18 1 * *",
        ] {
            assert!(CronSchedule::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "* * * *", "61 * * * *", "every day", "@sometimes"] {
            let error = CronSchedule::parse(bad).unwrap_err();
            assert!(error.to_string().contains("five fields"), "{bad}: {error}");
        }
    }

    #[test]
    fn weekdays_count_from_sunday_as_zero() {
        let weekdays = CronSchedule::parse("0 9 * * 1-5").unwrap();
        // 2026-11-27 is a Friday; the next weekday 09:00 after Friday 10:00 is Monday.
        let next = weekdays
            .next_after(Tz::UTC, utc("2026-11-27T10:00:00Z"))
            .unwrap();
        assert_eq!(next, utc("2026-11-30T09:00:00Z"));
        let sunday = CronSchedule::parse("0 9 * * 0").unwrap();
        assert_eq!(
            sunday
                .next_after(Tz::UTC, utc("2026-11-27T10:00:00Z"))
                .unwrap(),
            utc("2026-11-29T09:00:00Z")
        );
        assert_eq!(weekday_names("*/2"), "*/2");
        assert_eq!(weekday_names("1,3-5"), "MON,WED-FRI");
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_runs_at_the_next_valid_minute() {
        // Berlin springs forward on 2026-03-29: 02:00 becomes 03:00.
        let job = CronSchedule::parse("30 2 * * *").unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let next = job.next_after(tz, utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(
            next,
            utc("2026-03-29T01:00:00Z"),
            "03:00 CEST, the first valid minute"
        );
        let after = job.next_after(tz, next).unwrap();
        assert_eq!(
            after,
            utc("2026-03-30T00:30:00Z"),
            "then 02:30 CEST as usual"
        );
    }

    #[test]
    fn a_time_repeated_by_daylight_saving_runs_once() {
        // Berlin falls back on 2026-10-25: 02:30 happens at 00:30 and 01:30 UTC.
        let job = CronSchedule::parse("30 2 * * *").unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let first = job.next_after(tz, utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z"));
        let next = job.next_after(tz, first).unwrap();
        assert_eq!(
            next,
            utc("2026-10-26T01:30:00Z"),
            "not again at 01:30 UTC the same night"
        );
    }

    #[test]
    fn after_downtime_the_missed_ticks_run_once() {
        let hourly = CronSchedule::parse("@hourly").unwrap();
        let due = hourly.latest_due(
            Tz::UTC,
            utc("2026-11-27T10:00:00Z"),
            utc("2026-11-27T13:30:00Z"),
        );
        assert_eq!(due, Some(utc("2026-11-27T13:00:00Z")));
        assert_eq!(
            hourly.latest_due(
                Tz::UTC,
                utc("2026-11-27T13:00:00Z"),
                utc("2026-11-27T13:59:59Z")
            ),
            None
        );
        // A local-time schedule keeps its local hour across the change.
        let daily = CronSchedule::parse("0 9 * * *").unwrap();
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            daily.next_after(tz, utc("2026-11-01T00:00:00Z")).unwrap(),
            utc("2026-11-01T14:00:00Z")
        );
        assert_eq!(
            daily.next_after(tz, utc("2026-10-31T00:00:00Z")).unwrap(),
            utc("2026-10-31T13:00:00Z")
        );
    }
}
