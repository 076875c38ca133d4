//! Schedule specs and their next run, in the tenant's time zone.
//!
//! Three forms: `daily HH:MM`, `hourly :MM` and `every N minutes` (1 to 1440). Daily and
//! hourly times are wall-clock times of the tenant's zone, resolved with chrono-tz across
//! daylight saving time: a daily time that does not exist that day (02:30 on a spring-forward
//! night) runs at the next minute that does (03:00), and a time that occurs twice (01:30 on a
//! fall-back night) runs once, at its first occurrence. An hourly minute inside the skipped
//! hour is skipped with it (the next hour's run is minutes away). `every N minutes` runs at
//! the multiples of N minutes since the Unix epoch, whatever the zone.
//!
//! The next run is always the first occurrence strictly after a given instant, the scheduler
//! passing the later of now and the run being claimed, so a run missed while every host was
//! down runs once, not once per missed occurrence.

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Daily(NaiveTime),
    Hourly(u32),
    EveryMinutes(u32),
}

impl Spec {
    /// Parses a spec; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let spec = match words.as_slice() {
            ["daily", time] => NaiveTime::parse_from_str(time, "%H:%M")
                .ok()
                .filter(|_| time.len() == 5)
                .map(Spec::Daily),
            ["hourly", minute] => minute
                .strip_prefix(':')
                .filter(|m| m.len() == 2)
                .and_then(|m| m.parse::<u32>().ok())
                .filter(|m| *m < 60)
                .map(Spec::Hourly),
            ["every", n, "minutes" | "minute"] => n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1440).contains(n))
                .map(Spec::EveryMinutes),
            _ => None,
        };
        spec.ok_or_else(|| {
            format!(
                "schedule `{text}` is not `daily HH:MM`, `hourly :MM` or `every N minutes` (1 to 1440)"
            )
        })
    }

    /// The first run strictly after `after`, in zone `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        match *self {
            Spec::Daily(time) => {
                let today = after.with_timezone(&tz).date_naive();
                (-1..=2)
                    .filter_map(|days| today.checked_add_signed(Duration::days(days)))
                    .map(|date| first_valid_at_or_after(tz, date.and_time(time)))
                    .find(|run| *run > after)
                    .expect("a daily time occurs within two days")
            }
            Spec::Hourly(minute) => {
                let local = after.with_timezone(&tz).naive_local();
                let hour = local
                    .date()
                    .and_hms_opt(local.hour(), 0, 0)
                    .expect("valid hour")
                    - Duration::hours(1);
                (0..=4)
                    .filter_map(|k| {
                        let naive = hour + Duration::hours(k) + Duration::minutes(minute.into());
                        tz.from_local_datetime(&naive).earliest()
                    })
                    .map(|run| run.with_timezone(&Utc))
                    .find(|run| *run > after)
                    .expect("an hourly minute occurs within a few hours")
            }
            Spec::EveryMinutes(n) => {
                let step = i64::from(n) * 60;
                let next = (after.timestamp().div_euclid(step) + 1) * step;
                DateTime::from_timestamp(next, 0).expect("in range")
            }
        }
    }
}

/// `naive` in `tz` (its first occurrence when the clock repeats it), or the first minute after
/// it that exists when the clock skips it.
fn first_valid_at_or_after(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    (0..=180)
        .find_map(|m| {
            tz.from_local_datetime(&(naive + Duration::minutes(m)))
                .earliest()
        })
        .map(|run| run.with_timezone(&Utc))
        .expect("no zone skips three hours")
}

/// A tenant's zone; UTC when the stored name is not one chrono-tz knows (provisioning checks
/// names only for plausibility).
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn parses_the_three_forms_and_refuses_the_rest() {
        assert_eq!(
            Spec::parse("daily 01:00"),
            Ok(Spec::Daily(NaiveTime::from_hms_opt(1, 0, 0).unwrap()))
        );
        assert_eq!(Spec::parse("hourly :05"), Ok(Spec::Hourly(5)));
        assert_eq!(Spec::parse("every 15 minutes"), Ok(Spec::EveryMinutes(15)));
        for bad in [
            "daily 1:00",
            "daily 24:00",
            "hourly 05",
            "hourly :60",
            "every 0 minutes",
            "every 2000 minutes",
            "weekly 01:00",
            "",
            "daily",
        ] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn daily_runs_at_the_local_time_on_ordinary_days() {
        let spec = Spec::parse("daily 01:00").unwrap();
        // 2026-07-01 12:00 EDT: the next 01:00 EDT is the 2nd, 05:00 UTC.
        assert_eq!(
            spec.next_after(utc("2026-07-01T16:00:00Z"), New_York),
            utc("2026-07-02T05:00:00Z")
        );
        // Exactly at a run: the next one, a day later.
        assert_eq!(
            spec.next_after(utc("2026-07-02T05:00:00Z"), New_York),
            utc("2026-07-03T05:00:00Z")
        );
        // In winter, 01:00 EST is 06:00 UTC.
        assert_eq!(
            spec.next_after(utc("2026-01-10T12:00:00Z"), New_York),
            utc("2026-01-11T06:00:00Z")
        );
    }

    #[test]
    fn a_daily_time_skipped_by_spring_forward_runs_at_the_next_valid_minute() {
        // 2026-03-08: New York skips 02:00-03:00 EST -> EDT.
        let spec = Spec::parse("daily 02:30").unwrap();
        let run = spec.next_after(utc("2026-03-07T12:00:00Z"), New_York);
        // 03:00 EDT = 07:00 UTC, the first minute that exists after 02:30.
        assert_eq!(run, utc("2026-03-08T07:00:00Z"));
        // And the day after, 02:30 EDT again.
        assert_eq!(spec.next_after(run, New_York), utc("2026-03-09T06:30:00Z"));
    }

    #[test]
    fn a_daily_time_repeated_by_fall_back_runs_once() {
        // 2026-11-01: New York repeats 01:00-02:00 (EDT, then EST).
        let spec = Spec::parse("daily 01:30").unwrap();
        let first = spec.next_after(utc("2026-10-31T12:00:00Z"), New_York);
        assert_eq!(first, utc("2026-11-01T05:30:00Z"), "01:30 EDT");
        // After the first run the next is the 2nd, not 01:30 EST an hour later.
        assert_eq!(
            spec.next_after(first, New_York),
            utc("2026-11-02T06:30:00Z")
        );
    }

    #[test]
    fn hourly_skips_the_missing_hour_and_runs_a_repeated_one_once() {
        let spec = Spec::parse("hourly :30").unwrap();
        // Spring forward: after 01:30 EST (06:30 UTC) comes 03:30 EDT (07:30 UTC).
        assert_eq!(
            spec.next_after(utc("2026-03-08T06:30:00Z"), New_York),
            utc("2026-03-08T07:30:00Z")
        );
        // Fall back: after 01:30 EDT (05:30 UTC), 01:30 EST (06:30 UTC) is skipped.
        assert_eq!(
            spec.next_after(utc("2026-11-01T05:30:00Z"), New_York),
            utc("2026-11-01T07:30:00Z")
        );
        assert_eq!(
            spec.next_after(utc("2026-07-01T12:10:00Z"), New_York),
            utc("2026-07-01T12:30:00Z")
        );
    }

    #[test]
    fn every_n_minutes_runs_on_the_multiples() {
        let spec = Spec::parse("every 15 minutes").unwrap();
        assert_eq!(
            spec.next_after(utc("2026-07-01T12:07:12Z"), New_York),
            utc("2026-07-01T12:15:00Z")
        );
        assert_eq!(
            spec.next_after(utc("2026-07-01T12:15:00Z"), Tz::UTC),
            utc("2026-07-01T12:30:00Z")
        );
    }

    #[test]
    fn a_run_missed_for_days_runs_once() {
        let spec = Spec::parse("daily 01:00").unwrap();
        // Hosts down for a week: the next run is the next 01:00 after now, not seven runs.
        let now = utc("2026-07-09T12:00:00Z");
        assert_eq!(spec.next_after(now, New_York), utc("2026-07-10T05:00:00Z"));
        assert_eq!(zone("Not/AZone"), Tz::UTC);
    }
}
