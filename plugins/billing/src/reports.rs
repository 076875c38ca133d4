//! Receivables reports through the store's aggregate capability (the database sums; the
//! module never pages through every invoice):
//!
//! - `GET /reports/aging?as_of=YYYY-MM-DD` (default today): what is owed on open and
//!   uncollectible invoices, per currency, in the buckets `current` (not yet due), `1_30`,
//!   `31_60`, `61_90` and `over_90` days past due as of that date.
//! - `GET /reports/revenue?from=&to=`: finalized invoices (open, paid, uncollectible) per
//!   month of finalization and currency (count, total, tax, paid), and the same months split
//!   by service type from the lines (`revenue_minor` is the lines' totals less their tax;
//!   lines without a service type are `null`). Dates bound the finalization day; credit
//!   notes are not spread over service types.

use chrono::{Days, NaiveDate};
use serde_json::{Map, Value, json};
use verofield_sdk::store::{
    self, Aggregation, DateBucket, Filter, GroupKey, group_number as number,
};
use verofield_sdk::{Problem, Request, Response};

use crate::rows::{self, INVOICES, LINES};

fn date_query(request: &Request, name: &str) -> Result<Option<NaiveDate>, Problem> {
    match request.query(name) {
        None => Ok(None),
        Some(text) => verofield_field_ops::time::parse_date(text)
            .map(Some)
            .ok_or_else(|| Problem::invalid_query(name, "a date (YYYY-MM-DD)")),
    }
}

/// `GET /reports/aging`
pub fn aging(request: &Request) -> Result<Response, Problem> {
    let as_of = date_query(request, "as_of")?.unwrap_or_else(rows::today);
    let days_ago = |days: u64| {
        as_of
            .checked_sub_days(Days::new(days))
            .unwrap_or(as_of)
            .to_string()
    };
    let buckets: [(&str, Filter); 5] = [
        ("current", Filter::ge("due_date", as_of.to_string())),
        (
            "1_30",
            Filter::and([
                Filter::lt("due_date", as_of.to_string()),
                Filter::ge("due_date", days_ago(30)),
            ]),
        ),
        (
            "31_60",
            Filter::and([
                Filter::lt("due_date", days_ago(30)),
                Filter::ge("due_date", days_ago(60)),
            ]),
        ),
        (
            "61_90",
            Filter::and([
                Filter::lt("due_date", days_ago(60)),
                Filter::ge("due_date", days_ago(90)),
            ]),
        ),
        ("over_90", Filter::lt("due_date", days_ago(90))),
    ];
    let mut currencies: Map<String, Value> = Map::new();
    for (name, window) in buckets {
        let filter = Filter::and([
            Filter::one_of("status", ["open", "uncollectible"]),
            Filter::gt("amount_due_minor", 0),
            window,
        ]);
        let groups = store::aggregate(
            INVOICES,
            Some(&filter),
            vec![GroupKey::by("currency", None)],
            vec![
                Aggregation::count("count"),
                Aggregation::sum("amount_due_minor", "due_minor"),
            ],
            100,
        )?;
        for group in groups {
            let currency = group
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let entry = currencies
                .entry(currency)
                .or_insert_with(|| json!({"total_due_minor": 0}));
            entry[name] =
                json!({"count": number(&group, "count"), "due_minor": number(&group, "due_minor")});
            let total =
                entry["total_due_minor"].as_i64().unwrap_or(0) + number(&group, "due_minor");
            entry["total_due_minor"] = json!(total);
        }
    }
    Ok(Response::json(
        200,
        &json!({"as_of": as_of.to_string(), "currencies": currencies}),
    ))
}

/// `GET /reports/revenue`
pub fn revenue(request: &Request) -> Result<Response, Problem> {
    let mut filters = vec![Filter::one_of("status", ["open", "paid", "uncollectible"])];
    let mut line_filters = vec![
        Filter::is_null("finalized_at", false),
        Filter::eq("voided", false),
    ];
    if let Some(from) = date_query(request, "from")? {
        filters.push(Filter::ge("issue_date", from.to_string()));
        line_filters.push(Filter::ge("finalized_at", rows::local_midnight(from)));
    }
    if let Some(to) = date_query(request, "to")? {
        filters.push(Filter::le("issue_date", to.to_string()));
        let after = to.checked_add_days(Days::new(1)).unwrap_or(to);
        line_filters.push(Filter::lt("finalized_at", rows::local_midnight(after)));
    }
    let groups = store::aggregate(
        INVOICES,
        Some(&Filter::and(filters)),
        vec![
            GroupKey::by("finalized_at", Some(DateBucket::Month)),
            GroupKey::by("currency", None),
        ],
        vec![
            Aggregation::count("count"),
            Aggregation::sum("total_minor", "total_minor"),
            Aggregation::sum("tax_minor", "tax_minor"),
            Aggregation::sum("amount_paid_minor", "paid_minor"),
        ],
        1_000,
    )?;
    let items: Vec<Value> = groups
        .iter()
        .map(|group| {
            json!({
                "month": group.get("finalized_at"),
                "currency": group.get("currency"),
                "count": number(group, "count"),
                "total_minor": number(group, "total_minor"),
                "tax_minor": number(group, "tax_minor"),
                "paid_minor": number(group, "paid_minor"),
            })
        })
        .collect();
    let by_service = store::aggregate(
        LINES,
        Some(&Filter::and(line_filters)),
        vec![
            GroupKey::by("finalized_at", Some(DateBucket::Month)),
            GroupKey::by("currency", None),
            GroupKey::by("service_type_id", None),
        ],
        vec![
            Aggregation::count("count"),
            Aggregation::sum("total_minor", "total_minor"),
            Aggregation::sum("tax_minor", "tax_minor"),
        ],
        1_000,
    )?;
    let service_types: Vec<Value> = by_service
        .iter()
        .map(|group| {
            json!({
                "month": group.get("finalized_at"),
                "currency": group.get("currency"),
                "service_type_id": group.get("service_type_id"),
                "lines": number(group, "count"),
                "revenue_minor": number(group, "total_minor") - number(group, "tax_minor"),
                "tax_minor": number(group, "tax_minor"),
            })
        })
        .collect();
    Ok(Response::json(
        200,
        &json!({"items": items, "service_types": service_types}),
    ))
}
