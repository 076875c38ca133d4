//! A technician's weekly working hours: `working_hours` is `{"mon": [{"start": "08:00", "end":
//! "12:00"}, {"start": "13:00", "end": "17:00"}], ...}` in the technician's own IANA zone
//! (`time_zone`). Here they become the UTC instants of one local day, which is what capacity
//! (the kpis module's utilisation) adds up and what time off is cut out of.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::{Columns, text, time};

/// The keys of `working_hours`, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The technician's working intervals on their local `date`, as UTC instants, in the order
/// stored; an interval whose times do not parse or that ends before it starts is skipped.
pub fn working_intervals(
    technician: &Columns,
    date: NaiveDate,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let zone = time::zone(text(technician, "time_zone")).unwrap_or(chrono_tz::UTC);
    let day = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
    let Some(intervals) = technician
        .get("working_hours")
        .and_then(|hours| hours.get(day))
        .and_then(|day| day.as_array())
    else {
        return Vec::new();
    };
    intervals
        .iter()
        .filter_map(|interval| {
            let start = time::parse_hhmm(interval.get("start")?.as_str()?)?;
            let end = time::parse_hhmm(interval.get("end")?.as_str()?)?;
            let (start, end) = (
                time::to_utc(date, start, zone),
                time::to_utc(date, end, zone),
            );
            (end > start).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_york_monday_in_two_intervals() {
        let technician: Columns = serde_json::from_value(serde_json::json!({
            "time_zone": "America/New_York",
            "working_hours": {"mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "bad"}]}
        }))
        .unwrap();
        let monday = NaiveDate::from_ymd_opt(2030, 1, 7).unwrap();
        let intervals = working_intervals(&technician, monday);
        assert_eq!(intervals.len(), 1);
        assert_eq!(intervals[0].0.to_rfc3339(), "2030-01-07T13:00:00+00:00");
        assert_eq!((intervals[0].1 - intervals[0].0).num_minutes(), 240);
        assert!(working_intervals(&technician, monday.succ_opt().unwrap()).is_empty());
    }
}
