//! Available minutes, the denominator of utilisation: for every technician counted (the one
//! filtered by, or every active one), their working intervals on each day of a bucket
//! (`working_hours` in their own zone), less the time off that overlaps them. Technicians and
//! their time off are few rows, read by page; the jobs are never read.

use std::collections::HashMap;

use chrono::{DateTime, Days, Utc};
use verofield_field_ops::{self as ops, hours, time};
use verofield_sdk::store::{self, Filter, Select};
use verofield_sdk::{Page, Problem, Record};

use crate::calendar::Span;
use crate::query::KpiQuery;

type Interval = (DateTime<Utc>, DateTime<Utc>);

/// Every row of `select`, page by page.
fn every<T: serde::de::DeserializeOwned>(select: Select) -> Result<Vec<Record<T>>, Problem> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let page: Page<T> = select.clone().limit(1_000).cursor(cursor).fetch()?;
        rows.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(rows),
        }
    }
}

/// The working minutes of each span, in order.
pub fn available_minutes(query: &KpiQuery, spans: &[Span]) -> Result<Vec<i64>, Problem> {
    let technicians: Vec<(String, ops::Columns)> = match &query.technician_id {
        Some(id) => store::get::<ops::Columns>(ops::TECHNICIANS, id)?
            .map(|row| (row.id, row.values))
            .into_iter()
            .collect(),
        None => {
            let active = Select::from(ops::TECHNICIANS).filter(Filter::eq("active", true));
            every::<ops::Columns>(active)?
                .into_iter()
                .map(|row| (row.id, row.values))
                .collect()
        }
    };
    let time_off = time_off(query, technicians.iter().map(|(id, _)| id.as_str()))?;
    let mut minutes = vec![0; spans.len()];
    for (id, technician) in &technicians {
        let away = time_off.get(id).map(Vec::as_slice).unwrap_or_default();
        for (span, total) in spans.iter().zip(minutes.iter_mut()) {
            let mut day = span.start;
            while day <= span.end {
                for interval in hours::working_intervals(technician, day) {
                    *total += worked(interval, away);
                }
                day = day + Days::new(1);
            }
        }
    }
    Ok(minutes)
}

/// The technicians' time off overlapping the range (a day's margin each side, for zones).
fn time_off<'a>(
    query: &KpiQuery,
    technicians: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Vec<Interval>>, Problem> {
    let ids: Vec<&str> = technicians.collect();
    let mut away: HashMap<String, Vec<Interval>> = HashMap::new();
    if ids.is_empty() {
        return Ok(away);
    }
    let from = time::start_of_day(query.from - Days::new(1), "UTC");
    let to = time::start_of_day(query.to + Days::new(2), "UTC");
    let overlapping = Filter::and([
        Filter::one_of("technician_id", ids),
        Filter::lt("starts_at", time::stamp(to)),
        Filter::gt("ends_at", time::stamp(from)),
    ]);
    for record in every::<ops::Columns>(Select::from(ops::TIME_OFF).filter(overlapping))? {
        let row = record.values;
        let instant = |column| time::parse_instant(ops::text(&row, column));
        if let (Some(starts), Some(ends)) = (instant("starts_at"), instant("ends_at")) {
            let technician = ops::text(&row, "technician_id").to_owned();
            away.entry(technician).or_default().push((starts, ends));
        }
    }
    Ok(away)
}

/// The minutes of `interval` outside every time off in `away` (which may overlap).
fn worked((start, end): Interval, away: &[Interval]) -> i64 {
    let mut cut: Vec<Interval> = away
        .iter()
        .map(|&(s, e)| (s.max(start), e.min(end)))
        .filter(|(s, e)| s < e)
        .collect();
    cut.sort();
    let mut off = 0;
    let mut reached = start;
    for (s, e) in cut {
        let s = s.max(reached);
        if e > s {
            off += (e - s).num_minutes();
            reached = e;
        }
    }
    (end - start).num_minutes() - off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2030, 1, 7)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn overlapping_time_off_is_cut_once() {
        let shift = (at(8), at(17));
        assert_eq!(worked(shift, &[]), 540);
        assert_eq!(worked(shift, &[(at(7), at(9)), (at(8), at(10))]), 420);
        assert_eq!(worked(shift, &[(at(0), at(23))]), 0);
        assert_eq!(worked(shift, &[(at(18), at(20))]), 540);
    }
}
