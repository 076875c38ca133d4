//! Cutting `from..=to` (the tenant's dates) into buckets. A bucket is named by the first day
//! of its day, ISO week (Monday) or month, which is what the store's `date_trunc` answers for
//! a date column; the first and last buckets are clipped to the range, so a week that began
//! before `from` counts only its days from `from` on.

use chrono::{Datelike, Days, Months, NaiveDate};
use verofield_sdk::store::DateBucket;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    pub fn store(self) -> DateBucket {
        match self {
            Self::Day => DateBucket::Day,
            Self::Week => DateBucket::Week,
            Self::Month => DateBucket::Month,
        }
    }

    /// The first day of the bucket holding `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => date,
            Self::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Day => start.checked_add_days(Days::new(1)),
            Self::Week => start.checked_add_days(Days::new(7)),
            Self::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// One bucket of the answer: its key (the bucket's first day, as the store groups) and the
/// days of the range it covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub key: NaiveDate,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Span {
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The day after the span: its end as an exclusive bound.
    pub fn after(&self) -> NaiveDate {
        self.end.succ_opt().unwrap_or(self.end)
    }
}

/// The buckets of `from..=to`, in order.
pub fn spans(from: NaiveDate, to: NaiveDate, bucket: Bucket) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut key = bucket.start_of(from);
    while key <= to {
        let next = bucket.next(key);
        let last = next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX);
        spans.push(Span {
            key,
            start: key.max(from),
            end: last.min(to),
        });
        match next {
            Some(next) => key = next,
            None => break,
        }
    }
    spans
}

/// How many buckets `from..=to` holds, without building them (ranges are checked before).
pub fn count(from: NaiveDate, to: NaiveDate, bucket: Bucket) -> usize {
    let (first, last) = (bucket.start_of(from), bucket.start_of(to));
    let count = match bucket {
        Bucket::Day => (last - first).num_days(),
        Bucket::Week => (last - first).num_days() / 7,
        Bucket::Month => {
            i64::from(last.year() - first.year()) * 12 + i64::from(last.month())
                - i64::from(first.month())
        }
    };
    usize::try_from(count + 1).unwrap_or(usize::MAX)
}

/// The bucket key of a group the store answered: `date_trunc` of a date column renders as
/// `2026-11-02T00:00:00`.
pub fn group_key(value: Option<&serde_json::Value>) -> Option<NaiveDate> {
    let text = value?.as_str()?;
    verofield_field_ops::time::parse_date(text.get(..10)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_are_clipped_to_the_range() {
        // 2026-11-04 is a Wednesday.
        let spans = spans(date("2026-11-04"), date("2026-11-17"), Bucket::Week);
        let ends: Vec<_> = spans
            .iter()
            .map(|s| (s.key.to_string(), s.start.to_string(), s.end.to_string()))
            .collect();
        assert_eq!(
            ends,
            [
                ("2026-11-02", "2026-11-04", "2026-11-08"),
                ("2026-11-09", "2026-11-09", "2026-11-15"),
                ("2026-11-16", "2026-11-16", "2026-11-17"),
            ]
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
        );
        assert_eq!(spans[0].days(), 5);
        assert_eq!(
            count(date("2026-11-04"), date("2026-11-17"), Bucket::Week),
            3
        );
    }

    #[test]
    fn months_and_days_count_as_they_are_built() {
        for (from, to) in [("2026-01-31", "2027-03-01"), ("2026-12-31", "2026-12-31")] {
            for bucket in [Bucket::Day, Bucket::Week, Bucket::Month] {
                let (from, to) = (date(from), date(to));
                assert_eq!(spans(from, to, bucket).len(), count(from, to, bucket));
            }
        }
        let months = spans(date("2026-01-31"), date("2026-03-01"), Bucket::Month);
        assert_eq!(months[1].days(), 28);
        assert_eq!(months[2].days(), 1);
    }

    #[test]
    fn store_keys_are_read_as_dates() {
        let key = serde_json::json!("2026-11-02T00:00:00");
        assert_eq!(group_key(Some(&key)), Some(date("2026-11-02")));
        assert_eq!(group_key(None), None);
    }
}
