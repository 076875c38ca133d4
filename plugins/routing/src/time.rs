//! Dates and instants without a date library: civil-day arithmetic (Howard Hinnant's
//! algorithms), RFC 3339 parsing (any offset) and formatting (UTC).

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DD` as a day number.
pub fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i64::from(number(&text[0..4])?);
    let month = number(&text[5..7])?;
    let day = number(&text[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

#[cfg(test)]
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Monday = 0 .. Sunday = 6.
pub fn weekday(days: i64) -> usize {
    (days + 3).rem_euclid(7) as usize
}

/// An RFC 3339 timestamp (`T` or space, optional fraction, `Z` or `±HH:MM`) as Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    if text.len() < 20 {
        return None;
    }
    let days = parse_date(&text[0..10])?;
    let rest = &text[10..];
    if !matches!(rest.as_bytes()[0], b'T' | b't' | b' ') {
        return None;
    }
    let clock = &rest[1..];
    let (hms, mut tail) = clock.split_at(8.min(clock.len()));
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 {
        return None;
    }
    let (h, mi, s) = (number(parts[0])?, number(parts[1])?, number(parts[2])?);
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut seconds = f64::from(h * 3600 + mi * 60 + s);
    if let Some(fraction) = tail.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        seconds += format!("0.{}", &fraction[..digits]).parse::<f64>().ok()?;
        tail = &fraction[digits..];
    }
    let offset = match tail {
        "Z" | "z" => 0,
        _ if tail.len() == 6 && (tail.starts_with('+') || tail.starts_with('-')) => {
            let oh = number(&tail[1..3])?;
            let om = number(&tail[4..6])?;
            if &tail[3..4] != ":" || oh > 23 || om > 59 {
                return None;
            }
            let sign = if tail.starts_with('-') { -1 } else { 1 };
            sign * i64::from(oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some((days * 86_400 - offset) as f64 + seconds)
}

/// Unix seconds as RFC 3339 UTC, to the second (`2026-12-01T08:00:00Z`).
pub fn format_rfc3339(unix: f64) -> String {
    let total = unix.round() as i64;
    let days = total.div_euclid(86_400);
    let secs = total.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `HH:MM` (or `HH:MM:SS`) as seconds after midnight; `24:00` is the end of the day.
pub fn parse_clock(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (number(h)?, number(m)?, 0),
        [h, m, s] => (number(h)?, number(m)?, number(s)?),
        _ => return None,
    };
    if m > 59 || s > 59 || h > 24 || (h == 24 && (m, s) != (0, 0)) {
        return None;
    }
    Some(i64::from(h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for days in [-800_000, -1, 0, 59, 10_957, 20_000, 20_788] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            parse_date("2026-12-01").map(format_date).unwrap(),
            "2026-12-01"
        );
        assert_eq!(weekday(parse_date("2026-11-30").unwrap()), 0, "a Monday");
        assert_eq!(weekday(parse_date("2026-11-29").unwrap()), 6, "a Sunday");
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-12-01",
            "2026-1-01",
            "yesterday",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn instants_parse_any_offset_and_format_utc() {
        let t = parse_rfc3339("2026-12-01T08:00:00Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-12-01T08:00:00Z");
        assert_eq!(parse_rfc3339("2026-12-01T09:00:00+01:00"), Some(t));
        assert_eq!(parse_rfc3339("2026-12-01 03:00:00.5-05:00"), Some(t + 0.5));
        assert_eq!(parse_rfc3339("2026-12-01T08:00:00"), None);
        assert_eq!(parse_clock("08:30"), Some(30_600));
        assert_eq!(parse_clock("24:00"), Some(86_400));
        assert_eq!(parse_clock("8h"), None);
    }
}
