//! Local wall-clock time in IANA zones. Visits are kept as a local date and local times plus
//! the zone; the UTC instants are computed from them, so a 09:00 visit stays 09:00 local on
//! both sides of a daylight-saving change.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// An IANA zone name (`America/New_York`), or `None`.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// When `date` begins in the zone named `zone` (UTC for a name that is not a zone).
pub fn start_of_day(date: NaiveDate, zone: &str) -> DateTime<Utc> {
    to_utc(
        date,
        NaiveTime::MIN,
        self::zone(zone).unwrap_or(chrono_tz::UTC),
    )
}

/// `HH:MM` (24-hour; `24:00` is not accepted).
pub fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A stored timestamptz (RFC 3339, any offset) as UTC.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 UTC with seconds, as the store takes it.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 UTC with milliseconds, for the moments things happen (status changes), so that
/// two changes within a second still sort.
pub fn stamp(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The UTC instant of a local date and time in `zone`. A time skipped by a spring-forward gap
/// moves to the end of the gap (02:30 becomes 03:00); an ambiguous one (the autumn repeat) takes
/// the earlier instant.
pub fn to_utc(date: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let local = NaiveDateTime::new(date, time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward minute by minute out of the gap (gaps are at most a few hours).
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = zone.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// An instant as local date-time in `zone`.
pub fn to_local(instant: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    instant.with_timezone(&zone).naive_local()
}

/// The local arrival window of a visit as UTC instants: start and end on `date` in `zone`;
/// an end not after the start is refused by the callers' validation.
pub fn window(
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (to_utc(date, start, zone), to_utc(date, end, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn nine_local_stays_nine_local_across_dst() {
        let ny = zone("America/New_York").unwrap();
        let nine = parse_hhmm("09:00").unwrap();
        // EST (UTC-5) before 2026-03-08, EDT (UTC-4) after.
        assert_eq!(
            rfc3339(to_utc(d("2026-03-06"), nine, ny)),
            "2026-03-06T14:00:00Z"
        );
        assert_eq!(
            rfc3339(to_utc(d("2026-03-09"), nine, ny)),
            "2026-03-09T13:00:00Z"
        );
        assert_eq!(
            rfc3339(to_utc(d("2026-11-02"), nine, ny)),
            "2026-11-02T14:00:00Z"
        );
    }

    #[test]
    fn gaps_move_forward_and_folds_take_the_earlier() {
        let ny = zone("America/New_York").unwrap();
        let gap = to_utc(d("2026-03-08"), parse_hhmm("02:30").unwrap(), ny);
        assert_eq!(rfc3339(gap), "2026-03-08T07:00:00Z"); // 03:00 EDT, the first valid minute
        let fold = to_utc(d("2026-11-01"), parse_hhmm("01:30").unwrap(), ny);
        assert_eq!(rfc3339(fold), "2026-11-01T05:30:00Z"); // 01:30 EDT
    }

    #[test]
    fn parses_times_and_dates() {
        assert!(parse_hhmm("9:00").is_none());
        assert!(parse_hhmm("24:00").is_none());
        assert!(parse_hhmm("23:59").is_some());
        assert!(parse_date("2026-02-30").is_none());
        assert!(zone("Mars/Olympus").is_none());
        assert!(parse_instant("2026-03-06T14:00:00+00:00").is_some());
    }
}
