//! The RFC 5545 recurrence subset visits use: `FREQ` (DAILY, WEEKLY, MONTHLY, YEARLY),
//! `INTERVAL`, `BYDAY` (with ordinals such as `1MO` or `-1FR` for MONTHLY and YEARLY),
//! `BYMONTHDAY` (negative counts from the month's end), `COUNT`, `UNTIL` and `WKST=MO`.
//! Occurrences are local dates: the rule's time of day and zone live beside it (see
//! [`crate::time`]), so daylight-saving changes cannot move them.
//!
//! Semantics follow RFC 5545: the period is expanded (WEEKLY by BYDAY, MONTHLY by BYMONTHDAY
//! and BYDAY, YEARLY by BYMONTHDAY over every month and BYDAY over the year), BYDAY limits
//! where BYMONTHDAY expands, a day that does not exist (the 31st of April, 29 February in
//! other years) is skipped, not moved, and `COUNT` counts from the first date (DTSTART), which
//! is an occurrence only if it matches the rule. (RFC 5545 always counts DTSTART; a visit plan
//! that starts on a Monday with BYDAY=TU would then get a spurious Monday visit, so we do not.)
//! A well-kept crate (`rrule`) was considered; it pulls `regex` and a date-time model with
//! DTSTART in the text, and we needed dates only, so this is the subset, tested below.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// One `BYDAY` entry: a weekday, optionally the nth (negative: from the end) in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByDay {
    pub ordinal: Option<i32>,
    pub weekday: Weekday,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub frequency: Frequency,
    pub interval: u32,
    pub by_day: Vec<ByDay>,
    pub by_month_day: Vec<i32>,
    pub count: Option<u32>,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError(pub String);

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError(message.into()))
}

const MAX_COUNT: u32 = 10_000;

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

impl Rule {
    /// Parses `FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10` (an optional `RRULE:` prefix is allowed).
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let text = text.trim();
        let text = text.strip_prefix("RRULE:").unwrap_or(text);
        if text.is_empty() {
            return err("is empty");
        }
        let mut frequency = None;
        let mut interval = None;
        let mut by_day = None;
        let mut by_month_day = None;
        let mut count = None;
        let mut until = None;
        for part in text.split(';') {
            let Some((key, value)) = part.split_once('=') else {
                return err(format!("`{part}` is not NAME=VALUE"));
            };
            let key = key.to_ascii_uppercase();
            let value = value.to_ascii_uppercase();
            let duplicate = match key.as_str() {
                "FREQ" => frequency
                    .replace(match value.as_str() {
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        "YEARLY" => Frequency::Yearly,
                        _ => return err("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
                    })
                    .is_some(),
                "INTERVAL" => match value.parse::<u32>() {
                    Ok(n @ 1..=1000) => interval.replace(n).is_some(),
                    _ => return err("INTERVAL must be an integer from 1 to 1000"),
                },
                "COUNT" => match value.parse::<u32>() {
                    Ok(n @ 1..=MAX_COUNT) => count.replace(n).is_some(),
                    _ => return err(format!("COUNT must be an integer from 1 to {MAX_COUNT}")),
                },
                "UNTIL" => {
                    // A date (20261231) or a date-time (20261231T235959Z): the date counts.
                    let date = value
                        .get(..8)
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok());
                    let rest_ok =
                        value.len() == 8 || (value.len() >= 15 && value.as_bytes()[8] == b'T');
                    match date {
                        Some(date) if rest_ok => until.replace(date).is_some(),
                        _ => {
                            return err(
                                "UNTIL must be a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSSZ)",
                            );
                        }
                    }
                }
                "BYDAY" => {
                    let mut days = Vec::new();
                    for item in value.split(',') {
                        let (ordinal, code) = item.split_at(item.len().saturating_sub(2));
                        let Some(day) = weekday(code) else {
                            return err(format!(
                                "BYDAY `{item}` is not a weekday (MO..SU, optionally 1MO or -1FR)"
                            ));
                        };
                        let ordinal = match ordinal {
                            "" => None,
                            n => match n.trim_start_matches('+').parse::<i32>() {
                                Ok(n) if n != 0 && (-53..=53).contains(&n) => Some(n),
                                _ => return err(format!("BYDAY `{item}` has a bad ordinal")),
                            },
                        };
                        days.push(ByDay {
                            ordinal,
                            weekday: day,
                        });
                    }
                    by_day.replace(days).is_some()
                }
                "BYMONTHDAY" => {
                    let mut days = Vec::new();
                    for item in value.split(',') {
                        match item.trim_start_matches('+').parse::<i32>() {
                            Ok(n) if n != 0 && (-31..=31).contains(&n) => days.push(n),
                            _ => {
                                return err(format!(
                                    "BYMONTHDAY `{item}` must be 1..31 or -31..-1"
                                ));
                            }
                        }
                    }
                    by_month_day.replace(days).is_some()
                }
                "WKST" if value == "MO" => false,
                "WKST" => return err("only WKST=MO is supported"),
                other => {
                    return err(format!(
                        "{other} is not supported (FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL)"
                    ));
                }
            };
            if duplicate {
                return err(format!("{key} is given twice"));
            }
        }
        let Some(frequency) = frequency else {
            return err("FREQ is required");
        };
        if count.is_some() && until.is_some() {
            return err("COUNT and UNTIL cannot both be given");
        }
        let by_day = by_day.unwrap_or_default();
        let by_month_day = by_month_day.unwrap_or_default();
        if by_day.iter().any(|d| d.ordinal.is_some())
            && !matches!(frequency, Frequency::Monthly | Frequency::Yearly)
        {
            return err("BYDAY ordinals (1MO, -1FR) need FREQ=MONTHLY or YEARLY");
        }
        if frequency == Frequency::Monthly
            && by_day
                .iter()
                .any(|d| d.ordinal.is_some_and(|n| n.abs() > 5))
        {
            return err("a monthly BYDAY ordinal is at most 5");
        }
        if frequency == Frequency::Weekly && !by_month_day.is_empty() {
            return err("BYMONTHDAY does not apply to FREQ=WEEKLY");
        }
        Ok(Self {
            frequency,
            interval: interval.unwrap_or(1),
            by_day,
            by_month_day,
            count,
            until,
        })
    }

    /// The occurrences from `start` (DTSTART, the plan's first date) that fall in
    /// `from..=to`, in order. `COUNT` is counted from `start`, whatever `from` is.
    pub fn occurrences(&self, start: NaiveDate, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut found = Vec::new();
        let mut counted = 0u32;
        let last = match self.until {
            Some(until) => until.min(to),
            None => to,
        };
        for period in 0u64.. {
            let Some(period_start) = self.period_start(start, period) else {
                break;
            };
            if period_start > last {
                break;
            }
            for date in self.expand(start, period_start) {
                if date < start {
                    continue;
                }
                if date > last {
                    return found;
                }
                counted += 1;
                if date >= from {
                    found.push(date);
                }
                if self.count.is_some_and(|count| counted >= count) {
                    return found;
                }
            }
        }
        found
    }

    /// The first day of the `n`th period (daily: the day; weekly: its Monday; monthly: the
    /// 1st; yearly: 1 January).
    fn period_start(&self, start: NaiveDate, n: u64) -> Option<NaiveDate> {
        let step = n.checked_mul(u64::from(self.interval))?;
        match self.frequency {
            Frequency::Daily => start.checked_add_days(Days::new(step)),
            Frequency::Weekly => {
                let monday = start - Days::new(u64::from(start.weekday().num_days_from_monday()));
                monday.checked_add_days(Days::new(step.checked_mul(7)?))
            }
            Frequency::Monthly => {
                let first = start.with_day(1)?;
                first.checked_add_months(Months::new(u32::try_from(step).ok()?))
            }
            Frequency::Yearly => {
                let year =
                    i32::try_from(i64::from(start.year()) + i64::try_from(step).ok()?).ok()?;
                NaiveDate::from_ymd_opt(year, 1, 1)
            }
        }
    }

    /// The candidate dates of one period, sorted.
    fn expand(&self, start: NaiveDate, period: NaiveDate) -> Vec<NaiveDate> {
        let weekday_matches = |date: NaiveDate| {
            self.by_day.is_empty() || self.by_day.iter().any(|d| d.weekday == date.weekday())
        };
        let month_day_matches = |date: NaiveDate| {
            self.by_month_day.is_empty()
                || self
                    .by_month_day
                    .iter()
                    .any(|&n| resolve_month_day(date.year(), date.month(), n) == Some(date))
        };
        let mut dates: Vec<NaiveDate> = match self.frequency {
            Frequency::Daily => [period]
                .into_iter()
                .filter(|&d| weekday_matches(d) && month_day_matches(d))
                .collect(),
            Frequency::Weekly => {
                let days: Vec<Weekday> = if self.by_day.is_empty() {
                    vec![start.weekday()]
                } else {
                    self.by_day.iter().map(|d| d.weekday).collect()
                };
                (0..7)
                    .map(|i| period + Days::new(i))
                    .filter(|d| days.contains(&d.weekday()))
                    .collect()
            }
            Frequency::Monthly => self.expand_month(start, period.year(), period.month(), true),
            Frequency::Yearly => {
                if self.by_month_day.is_empty() && self.by_day.is_empty() {
                    NaiveDate::from_ymd_opt(period.year(), start.month(), start.day())
                        .into_iter()
                        .collect()
                } else if !self.by_month_day.is_empty() {
                    (1..=12)
                        .flat_map(|month| self.expand_month(start, period.year(), month, false))
                        .filter(|&d| self.by_day_in_year(d))
                        .collect()
                } else {
                    year_days(period.year())
                        .filter(|&d| self.by_day_in_year(d))
                        .collect()
                }
            }
        };
        dates.sort();
        dates.dedup();
        dates
    }

    /// Monthly expansion: BYMONTHDAY days (limited by BYDAY weekdays), else BYDAY days (with
    /// ordinals in the month), else the start's day of month.
    fn expand_month(
        &self,
        start: NaiveDate,
        year: i32,
        month: u32,
        ordinals_in_month: bool,
    ) -> Vec<NaiveDate> {
        if !self.by_month_day.is_empty() {
            return self
                .by_month_day
                .iter()
                .filter_map(|&n| resolve_month_day(year, month, n))
                .filter(|d| {
                    !ordinals_in_month || self.by_day.is_empty() || self.by_day_in_month(*d)
                })
                .collect();
        }
        if !self.by_day.is_empty() {
            return month_days(year, month)
                .filter(|&d| self.by_day_in_month(d))
                .collect();
        }
        NaiveDate::from_ymd_opt(year, month, start.day())
            .into_iter()
            .collect()
    }

    /// Whether `date` is one of BYDAY's days, ordinals counted in its month.
    fn by_day_in_month(&self, date: NaiveDate) -> bool {
        let (nth, nth_from_end) = position(date, month_days(date.year(), date.month()));
        self.by_day.iter().any(|d| {
            d.weekday == date.weekday()
                && match d.ordinal {
                    None => true,
                    Some(n) if n > 0 => n == nth,
                    Some(n) => -n == nth_from_end,
                }
        })
    }

    /// Whether `date` is one of BYDAY's days, ordinals counted in its year.
    fn by_day_in_year(&self, date: NaiveDate) -> bool {
        if self.by_day.is_empty() {
            return true;
        }
        let (nth, nth_from_end) = position(date, year_days(date.year()));
        self.by_day.iter().any(|d| {
            d.weekday == date.weekday()
                && match d.ordinal {
                    None => true,
                    Some(n) if n > 0 => n == nth,
                    Some(n) => -n == nth_from_end,
                }
        })
    }
}

impl fmt::Display for Rule {
    /// The canonical text of the rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frequency = match self.frequency {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
        };
        write!(f, "FREQ={frequency}")?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<String> = self
                .by_day
                .iter()
                .map(|d| match d.ordinal {
                    Some(n) => format!("{n}{}", weekday_code(d.weekday)),
                    None => weekday_code(d.weekday).to_owned(),
                })
                .collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        if !self.by_month_day.is_empty() {
            let days: Vec<String> = self.by_month_day.iter().map(i32::to_string).collect();
            write!(f, ";BYMONTHDAY={}", days.join(","))?;
        }
        if let Some(count) = self.count {
            write!(f, ";COUNT={count}")?;
        }
        if let Some(until) = self.until {
            write!(f, ";UNTIL={}", until.format("%Y%m%d"))?;
        }
        Ok(())
    }
}

/// The nth (1-based) and nth-from-the-end of `date`'s weekday among `days`.
fn position(date: NaiveDate, days: impl Iterator<Item = NaiveDate>) -> (i32, i32) {
    let same: Vec<NaiveDate> = days.filter(|d| d.weekday() == date.weekday()).collect();
    let index = same.iter().position(|d| *d == date).unwrap_or(0) as i32;
    (index + 1, same.len() as i32 - index)
}

fn month_days(year: i32, month: u32) -> impl Iterator<Item = NaiveDate> {
    (1..=31).filter_map(move |day| NaiveDate::from_ymd_opt(year, month, day))
}

fn year_days(year: i32) -> impl Iterator<Item = NaiveDate> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .into_iter()
        .flat_map(|first| first.iter_days())
        .take_while(move |d| d.year() == year)
}

/// The `n`th day of the month (negative: from its end), if the month has it.
fn resolve_month_day(year: i32, month: u32, n: i32) -> Option<NaiveDate> {
    if n > 0 {
        return NaiveDate::from_ymd_opt(year, month, n as u32);
    }
    let last = month_days(year, month).last()?;
    let day = last.day() as i32 + n + 1;
    (day >= 1)
        .then(|| NaiveDate::from_ymd_opt(year, month, day as u32))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn dates(rule: &str, start: &str, to: &str) -> Vec<String> {
        Rule::parse(rule)
            .unwrap()
            .occurrences(d(start), d(start), d(to))
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn weekly_by_day() {
        assert_eq!(
            dates("FREQ=WEEKLY;BYDAY=TU,TH", "2026-01-01", "2026-01-15"),
            [
                "2026-01-01",
                "2026-01-06",
                "2026-01-08",
                "2026-01-13",
                "2026-01-15"
            ]
        );
        // Every other week, on the start's weekday; the start itself does not need to match.
        assert_eq!(
            dates("FREQ=WEEKLY;INTERVAL=2", "2026-01-05", "2026-02-10"),
            ["2026-01-05", "2026-01-19", "2026-02-02"]
        );
        assert_eq!(
            dates("FREQ=WEEKLY;BYDAY=MO;COUNT=3", "2026-01-01", "2026-12-31"),
            ["2026-01-05", "2026-01-12", "2026-01-19"]
        );
    }

    #[test]
    fn monthly_month_ends_and_ordinals() {
        // The 31st exists only in some months: the others are skipped, not moved.
        assert_eq!(
            dates("FREQ=MONTHLY;BYMONTHDAY=31", "2026-01-31", "2026-06-30"),
            ["2026-01-31", "2026-03-31", "2026-05-31"]
        );
        // The last day of every month.
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4",
                "2026-01-01",
                "2030-01-01"
            ),
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
        );
        // Default day of month is the start's.
        assert_eq!(
            dates("FREQ=MONTHLY;COUNT=3", "2026-01-30", "2030-01-01"),
            ["2026-01-30", "2026-03-30", "2026-04-30"]
        );
        // First Monday and last Friday.
        assert_eq!(
            dates("FREQ=MONTHLY;BYDAY=1MO,-1FR", "2026-01-01", "2026-02-28"),
            ["2026-01-05", "2026-01-30", "2026-02-02", "2026-02-27"]
        );
        // Friday the 13th: BYDAY limits BYMONTHDAY.
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
                "2026-01-01",
                "2026-12-31"
            ),
            ["2026-02-13", "2026-03-13", "2026-11-13"]
        );
    }

    #[test]
    fn daily_yearly_and_until() {
        assert_eq!(
            dates(
                "FREQ=DAILY;INTERVAL=3;UNTIL=20260110",
                "2026-01-01",
                "2026-12-31"
            ),
            ["2026-01-01", "2026-01-04", "2026-01-07", "2026-01-10"]
        );
        assert_eq!(
            dates("FREQ=DAILY;BYDAY=SA,SU;COUNT=3", "2026-01-01", "2026-12-31"),
            ["2026-01-03", "2026-01-04", "2026-01-10"]
        );
        assert_eq!(
            dates("FREQ=YEARLY", "2024-02-29", "2032-12-31"),
            ["2024-02-29", "2028-02-29", "2032-02-29"]
        );
        assert_eq!(
            dates("FREQ=YEARLY;BYDAY=-1MO", "2026-01-01", "2027-12-31"),
            ["2026-12-28", "2027-12-27"]
        );
        assert_eq!(
            dates(
                "FREQ=YEARLY;BYMONTHDAY=1;COUNT=3",
                "2026-11-15",
                "2030-01-01"
            ),
            ["2026-12-01", "2027-01-01", "2027-02-01"]
        );
    }

    #[test]
    fn window_and_count_interplay() {
        let rule = Rule::parse("FREQ=WEEKLY;COUNT=4").unwrap();
        // COUNT is counted from the start even when the window starts later.
        let later = rule.occurrences(d("2026-01-05"), d("2026-01-13"), d("2026-12-31"));
        assert_eq!(later, [d("2026-01-19"), d("2026-01-26")]);
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        for bad in [
            "",
            "FREQ=HOURLY",
            "INTERVAL=2",
            "FREQ=WEEKLY;BYMONTH=3",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=WEEKLY;BYDAY=1MO",
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "FREQ=DAILY;COUNT=2;UNTIL=20260101",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;FREQ=WEEKLY",
            "FREQ=DAILY;UNTIL=2026-01-01",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
        let rule =
            Rule::parse("RRULE:freq=monthly;byday=-1fr;interval=2;until=20261231T000000Z").unwrap();
        assert_eq!(
            rule.to_string(),
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR;UNTIL=20261231"
        );
    }
}
