//! Business hours: per weekday (`mon` .. `sun`), a list of `{open, close}` intervals in
//! local `HH:MM` (the tenant's time zone), `close` up to `24:00`. Each interval opens before
//! it closes, a day's intervals do not overlap (touching is fine: 08:00-12:00, 12:00-17:00),
//! and a day has at most 6. A day left out is closed; the stored object names all seven,
//! intervals sorted, so readers need no defaults of their own.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use verofield_sdk::Validator;

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MAX_INTERVALS: usize = 6;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// `HH:MM`, local time.
    pub open: String,
    /// `HH:MM` after `open`; `24:00` is midnight at the day's end.
    pub close: String,
}

/// Weekday (`mon` .. `sun`) to its intervals.
pub type BusinessHours = BTreeMap<String, Vec<Interval>>;

/// Minutes after midnight of `HH:MM` (`24:00` only when `end`).
fn minutes(text: &str, end: bool) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours * 60 + minutes;
    (minutes < 60 && (total < 24 * 60 || (end && total == 24 * 60))).then_some(total)
}

/// Checks `hours`, naming each bad interval (`business_hours.mon[1].close`); the hours with
/// every weekday present and each day's intervals sorted.
pub fn check(check: &mut Validator, hours: &BusinessHours) -> BusinessHours {
    for day in hours.keys() {
        check.check(
            WEEKDAYS.contains(&day.as_str()),
            &format!("business_hours.{day}"),
            "is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
        );
    }
    let mut normalized = BusinessHours::new();
    for day in WEEKDAYS {
        let intervals = hours.get(day).cloned().unwrap_or_default();
        let field = format!("business_hours.{day}");
        check.check(
            intervals.len() <= MAX_INTERVALS,
            &field,
            "may hold at most 6 intervals",
        );
        let mut spans = Vec::new();
        for (i, interval) in intervals.iter().enumerate() {
            let open = minutes(&interval.open, false);
            let close = minutes(&interval.close, true);
            check.check(
                open.is_some(),
                &format!("{field}[{i}].open"),
                "must be HH:MM",
            );
            check.check(
                close.is_some(),
                &format!("{field}[{i}].close"),
                "must be HH:MM",
            );
            if let (Some(open), Some(close)) = (open, close) {
                check.check(
                    open < close,
                    &format!("{field}[{i}].close"),
                    "must be after open",
                );
                spans.push((open, close, i));
            }
        }
        spans.sort();
        for pair in spans.windows(2) {
            check.check(
                pair[1].0 >= pair[0].1,
                &format!("{field}[{}]", pair[1].2),
                "overlaps another interval of the day",
            );
        }
        let mut sorted = intervals;
        sorted.sort_by_key(|interval| minutes(&interval.open, false));
        normalized.insert(day.to_owned(), sorted);
    }
    normalized
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields_of(hours: serde_json::Value) -> Vec<String> {
        let hours: BusinessHours = serde_json::from_value(hours).unwrap();
        let mut validator = Validator::default();
        check(&mut validator, &hours);
        match validator.finish() {
            Ok(()) => Vec::new(),
            Err(problem) => problem.body()["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect(),
        }
    }

    #[test]
    fn good_hours_pass_and_name_every_day() {
        let hours: BusinessHours = serde_json::from_value(json!({
            "mon": [{"open": "13:00", "close": "24:00"}, {"open": "08:00", "close": "13:00"}]
        }))
        .unwrap();
        let mut validator = Validator::default();
        let normalized = check(&mut validator, &hours);
        assert!(validator.finish().is_ok());
        assert_eq!(normalized.len(), 7);
        assert_eq!(normalized["mon"][0].open, "08:00");
        assert!(normalized["sun"].is_empty());
    }

    #[test]
    fn each_bad_interval_is_named() {
        assert_eq!(
            fields_of(json!({"mon": [{"open": "17:00", "close": "08:00"}]})),
            ["business_hours.mon[0].close"]
        );
        assert_eq!(
            fields_of(json!({"tue": [{"open": "8:00", "close": "25:00"}]})),
            ["business_hours.tue[0].open", "business_hours.tue[0].close"]
        );
        assert_eq!(
            fields_of(
                json!({"wed": [{"open": "08:00", "close": "12:00"}, {"open": "11:00", "close": "14:00"}]})
            ),
            ["business_hours.wed[1]"]
        );
        assert_eq!(fields_of(json!({"funday": []})), ["business_hours.funday"]);
    }
}
