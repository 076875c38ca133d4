//! Invoice lines: the body a client sends, the rows stored, and pricing a draft. A draft's
//! lines are replaced as a whole (a PATCH with `lines`), then every line and the invoice's
//! totals are computed again (`tax.rs`), so the stored figures always match the rules. A
//! line's tax rate is copied onto it (name, percentage, inclusive) when it is written; after
//! finalizing nothing is written to the lines again: they are frozen.

use serde::Deserialize;
use serde_json::{Value, json};
use verofield_field_ops::{Columns, select_all};
use verofield_sdk::store::{self, Direction, Filter, Record};
use verofield_sdk::{FieldError, Problem, Validator};

use crate::price_lines;
use crate::rows::{self, INVOICES, LINES, TAX_RATES};
use crate::tax::{self, LineInput};

/// At most this many lines on one invoice.
pub const MAX_LINES: usize = 200;
/// The largest quantity, in thousandths (a billion units).
const MAX_QUANTITY_MILLI: i64 = 1_000_000_000_000;

fn one() -> f64 {
    1.0
}

/// A line as a client writes it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    description: String,
    #[serde(default = "one")]
    quantity: f64,
    unit_price_minor: i64,
    #[serde(default)]
    discount_minor: i64,
    #[serde(default)]
    tax_rate_id: Option<String>,
}

/// A line to store (from a body, a job, a work order or an agreement period).
#[derive(Debug, Clone, Default)]
pub struct NewLine {
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub tax_rate_id: Option<String>,
    pub kind: &'static str,
    pub service_type_id: Option<String>,
    /// The pricing extension that added the line (`price_lines.rs`); `None` otherwise.
    pub source: Option<String>,
}

/// A quantity in thousandths: at most three decimals, not negative.
pub fn quantity_milli(quantity: f64) -> Option<i64> {
    let milli = (quantity * 1000.0).round();
    let exact = (quantity * 1000.0 - milli).abs() < 1e-6;
    (quantity.is_finite() && quantity >= 0.0 && exact && milli <= MAX_QUANTITY_MILLI as f64)
        .then_some(milli as i64)
}

/// The bodies as lines to store; every bad field lands in `check`.
pub fn from_bodies(check: &mut Validator, bodies: &[LineBody]) -> Vec<NewLine> {
    check.check(
        bodies.len() <= MAX_LINES,
        "lines",
        "may hold at most 200 lines",
    );
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let field = |name: &str| format!("lines[{i}].{name}");
            check
                .length(
                    &field("description"),
                    Some(&body.description.trim().to_owned()),
                    1..=500,
                )
                .check(
                    body.unit_price_minor >= 0,
                    &field("unit_price_minor"),
                    "may not be negative",
                )
                .check(
                    body.discount_minor >= 0,
                    &field("discount_minor"),
                    "may not be negative",
                );
            let quantity = quantity_milli(body.quantity);
            check.check(
                quantity.is_some(),
                &field("quantity"),
                "must be a non-negative number with at most 3 decimals",
            );
            if let Some(rate) = &body.tax_rate_id {
                check.check(
                    verofield_sdk::http::is_uuid(rate),
                    &field("tax_rate_id"),
                    "must be a UUID",
                );
            }
            NewLine {
                description: body.description.trim().to_owned(),
                quantity_milli: quantity.unwrap_or(0),
                unit_price_minor: body.unit_price_minor,
                discount_minor: body.discount_minor,
                tax_rate_id: body.tax_rate_id.clone(),
                kind: "custom",
                service_type_id: None,
                source: None,
            }
        })
        .collect()
}

/// Stamps every line of a finalized or voided invoice (`finalized_at`, `voided`) for the
/// revenue report; what a line says and costs never changes after finalizing.
pub fn stamp(invoice_id: &str, values: &Value) -> Result<(), Problem> {
    for line in of(invoice_id)? {
        store::update::<Columns>(LINES, &line.id, line.version, values)?;
    }
    Ok(())
}

/// The invoice's stored lines, in order.
pub fn of(invoice_id: &str) -> Result<Vec<Record<Columns>>, Problem> {
    select_all(
        LINES,
        Filter::eq("invoice_id", invoice_id),
        &[("position", Direction::Asc)],
        MAX_LINES,
        "lines",
    )
}

/// The pricing input of a stored line.
fn input_of(row: &Columns) -> LineInput {
    LineInput {
        quantity_milli: rows::int(row, "quantity_milli"),
        unit_price_minor: rows::int(row, "unit_price_minor"),
        discount_minor: rows::int(row, "discount_minor"),
        tax_percent_e4: rows::int(row, "tax_percent_e4"),
        tax_inclusive: row.get("tax_inclusive") == Some(&json!(true)),
    }
}

/// The columns of a new line row: its own fields and its tax rate's, copied.
fn line_columns(
    invoice: &Record<Columns>,
    position: usize,
    line: &NewLine,
) -> Result<Value, Problem> {
    let mut values = json!({
        "invoice_id": invoice.id,
        "currency": rows::text(&invoice.values, "currency"),
        "position": position,
        "description": line.description,
        "quantity_milli": line.quantity_milli,
        "unit_price_minor": line.unit_price_minor,
        "discount_minor": line.discount_minor,
        "kind": line.kind,
        "service_type_id": line.service_type_id,
        "source": line.source,
        "tax_rate_id": null, "tax_name": null, "tax_percent_e4": 0, "tax_inclusive": false,
    });
    if let Some(rate_id) = &line.tax_rate_id {
        let field = format!("lines[{position}].tax_rate_id");
        let rate = store::get::<Columns>(TAX_RATES, rate_id)?
            .ok_or_else(|| Problem::from(FieldError::new(&field, "names no tax rate")))?;
        if rate.values.get("active") != Some(&json!(true)) {
            return Err(FieldError::new(field, "names an inactive tax rate").into());
        }
        values["tax_rate_id"] = json!(rate.id);
        values["tax_name"] = json!(rows::text(&rate.values, "name"));
        values["tax_percent_e4"] = json!(rows::int(&rate.values, "percent_e4"));
        values["tax_inclusive"] = json!(rate.values.get("inclusive") == Some(&json!(true)));
    }
    Ok(values)
}

/// Writes a draft's lines (replacing them when `replace` is given, after the tenant's pricing
/// extensions had them, `price_lines.rs`) and the invoice-level `discount`, prices everything
/// again and stores the totals; returns the invoice.
pub fn price_draft(
    invoice: &Record<Columns>,
    replace: Option<&[NewLine]>,
    discount: i64,
    mut extra: Value,
) -> Result<Record<Columns>, Problem> {
    let mut stored: Vec<(Option<Record<Columns>>, Value)> = Vec::new();
    match replace {
        Some(new_lines) => {
            let new_lines = price_lines::run(invoice, new_lines)?;
            for old in of(&invoice.id)? {
                store::delete(LINES, &old.id, None)?;
            }
            for (position, line) in new_lines.iter().enumerate() {
                stored.push((None, line_columns(invoice, position, line)?));
            }
        }
        None => {
            for row in of(&invoice.id)? {
                let values = Value::Object(row.values.clone());
                stored.push((Some(row), values));
            }
        }
    }
    let inputs: Vec<LineInput> = stored
        .iter()
        .map(|(_, values)| input_of(values.as_object().unwrap_or(&Columns::new())))
        .collect();
    let (priced, totals) = tax::compute(&inputs, discount)?;
    for ((row, mut values), amounts) in stored.into_iter().zip(priced) {
        let figures = json!({
            "amount_minor": amounts.amount_minor,
            "invoice_discount_minor": amounts.invoice_discount_minor,
            "tax_minor": amounts.tax_minor,
            "total_minor": amounts.total_minor,
        });
        match row {
            Some(row) => {
                store::update::<Columns>(LINES, &row.id, row.version, &figures)?;
            }
            None => {
                for (key, value) in figures.as_object().into_iter().flatten() {
                    values[key] = value.clone();
                }
                store::insert::<Columns>(LINES, &values)?;
            }
        }
    }
    extra["discount_minor"] = json!(discount);
    extra["subtotal_minor"] = json!(totals.subtotal_minor);
    extra["discount_total_minor"] = json!(totals.discount_total_minor);
    extra["tax_minor"] = json!(totals.tax_minor);
    extra["total_minor"] = json!(totals.total_minor);
    extra["amount_due_minor"] = json!(totals.total_minor);
    Ok(store::update(
        INVOICES,
        &invoice.id,
        invoice.version,
        &extra,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_have_at_most_three_decimals() {
        assert_eq!(quantity_milli(1.5), Some(1500));
        assert_eq!(quantity_milli(0.001), Some(1));
        assert_eq!(quantity_milli(2.0), Some(2000));
        assert_eq!(quantity_milli(1.0005), None);
        assert_eq!(quantity_milli(-1.0), None);
        assert_eq!(quantity_milli(f64::INFINITY), None);
    }
}
