//! `billing.price_lines` (docs/EXTENSIONS.md): whenever a draft's lines are written (a draft
//! created by a person, a job, a work order or an agreement period, or a PATCH of its
//! `lines`), the tenant's pricing extensions get them with the customer and the currency
//! before the totals are computed, and may change each line's unit price and discount and add
//! surcharge lines, marked with their `source`. The host guards the rest (the lines stay, in
//! order; no line is negative; the sum stays far from overflowing; `host/src/extensions/
//! price_lines.rs`), so what comes back is stored as it is and priced as any line.
//!
//! Lines are priced again on every PATCH of `lines`, so an extension should be idempotent (the
//! senior discount sets a line's discount to at least 10 %, never adds 10 % more); a line with
//! a `source` is the extension's, and a client replacing the lines leaves it out (the chain
//! adds it again). With nothing installed the host answers the lines unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use verofield_field_ops::Columns;
use verofield_sdk::store::Record;
use verofield_sdk::{Problem, extensions};

use crate::lines::NewLine;
use crate::rows::{CUSTOMER, opt_text, text};

pub const POINT: &str = "billing.price_lines";

/// A line as the point's schema has it.
#[derive(Debug, Serialize, Deserialize)]
struct PointLine {
    description: String,
    quantity_milli: i64,
    unit_price_minor: i64,
    discount_minor: i64,
    #[serde(default)]
    service_type_id: Option<String>,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    tax_rate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    lines: Vec<PointLine>,
}

/// The customer as the point shows it: who, how they are filed, their custom fields.
fn customer(invoice: &Record<Columns>) -> Result<Value, Problem> {
    let row = CUSTOMER.existing(text(&invoice.values, "customer_id"))?;
    let v = &row.values;
    Ok(json!({
        "id": row.id,
        "kind": v.get("kind"),
        "tags": v.get("tags").filter(|tags| tags.is_array()).cloned().unwrap_or(json!([])),
        "custom": v.get("custom").filter(|custom| custom.is_object()).cloned().unwrap_or(json!({})),
    }))
}

/// `lines` of `invoice` (a draft) as the tenant's pricing extensions leave them.
pub fn run(invoice: &Record<Columns>, lines: &[NewLine]) -> Result<Vec<NewLine>, Problem> {
    let job_id = opt_text(&invoice.values, "source_job_id");
    let input: Vec<PointLine> = lines
        .iter()
        .map(|line| PointLine {
            description: line.description.clone(),
            quantity_milli: line.quantity_milli,
            unit_price_minor: line.unit_price_minor,
            discount_minor: line.discount_minor,
            service_type_id: line.service_type_id.clone(),
            job_id: job_id.map(str::to_owned),
            tax_rate_id: line.tax_rate_id.clone(),
            source: line.source.clone(),
        })
        .collect();
    let answer: Answer = extensions::run(
        POINT,
        &json!({
            "customer": customer(invoice)?,
            "currency": text(&invoice.values, "currency"),
            "lines": input,
        }),
    )?;
    if answer.lines.len() < lines.len() {
        return Err(Problem::internal("the pricing extensions dropped a line"));
    }
    let mut priced = lines.to_vec();
    for (line, answered) in priced.iter_mut().zip(&answer.lines) {
        line.unit_price_minor = answered.unit_price_minor;
        line.discount_minor = answered.discount_minor;
    }
    priced.extend(
        answer
            .lines
            .into_iter()
            .skip(lines.len())
            .map(|added| NewLine {
                description: added.description,
                quantity_milli: added.quantity_milli,
                unit_price_minor: added.unit_price_minor,
                discount_minor: added.discount_minor,
                kind: "custom",
                source: added.source,
                ..NewLine::default()
            }),
    );
    Ok(priced)
}
