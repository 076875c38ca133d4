//! `billing.price_lines` (docs/EXTENSIONS.md): billing hands a draft invoice's lines to the
//! tenant's pricing extensions before it computes the totals. Chained: each extension gets the
//! lines as the previous one left them.
//!
//! The schema types what billing stores; the [`guard`] keeps what the schema cannot say, so a
//! link that breaks it is dropped (`broke_rule`) and the lines go on as they were:
//! - the customer and the currency are facts, never changed;
//! - the lines already there stay, in order, and only their `unit_price_minor` and
//!   `discount_minor` may change;
//! - a line may be added after them (a surcharge), marked with `source`, the name of the
//!   extension that added it, and holding nothing billing would have to look up (no tax rate,
//!   service type or job);
//! - a line the extension priced (changed or added) has a unit price of 0 to
//!   [`MAX_UNIT_PRICE_MINOR`] and a discount of 0 to its amount, so it is never negative, and
//!   the lines' sum may not grow past [`MAX_TOTAL_MINOR`], so billing's checked arithmetic
//!   never overflows on what an extension did. The schema leaves the client's own figures
//!   unbounded: billing checks those itself (an overflow is its 422 on the field).

use serde_json::{Value, json};

use super::points::id;

pub const POINT: &str = "billing.price_lines";

/// At most this many lines, as billing stores (`plugins/billing/src/lines.rs`).
const MAX_LINES: usize = 200;
/// The largest quantity, in thousandths, as billing accepts it.
const MAX_QUANTITY_MILLI: i64 = 1_000_000_000_000;
/// The largest unit price an extension may set (a hundred billion units of a two-decimal
/// currency).
const MAX_UNIT_PRICE_MINOR: i64 = 10_000_000_000_000;
/// The largest sum of the lines an extension may leave: a thousand times under `i64::MAX`,
/// so tax (at most 100 %) and every sum billing makes stay far from overflowing.
pub const MAX_TOTAL_MINOR: i128 = 1_000_000_000_000_000;

/// The members of a line an extension may change.
const PRICE_MEMBERS: [&str; 2] = ["unit_price_minor", "discount_minor"];
/// The members an added line may hold.
const ADDED_MEMBERS: [&str; 5] = [
    "description",
    "quantity_milli",
    "unit_price_minor",
    "discount_minor",
    "source",
];

/// The input and output schema (the same shape, as the point is chained).
pub fn schema(which: &str) -> Value {
    let nullable_id = json!({"type": ["string", "null"], "maxLength": 36});
    json!({
        "$id": id(POINT, which),
        "type": "object",
        "required": ["customer", "currency", "lines"],
        "additionalProperties": false,
        "properties": {
            "customer": {
                "type": "object",
                "required": ["id", "tags"],
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": ["string", "null"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "custom": {"type": "object"}
                }
            },
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "lines": {
                "type": "array",
                "maxItems": MAX_LINES,
                "items": {
                    "type": "object",
                    "required": ["description", "quantity_milli", "unit_price_minor", "discount_minor"],
                    "additionalProperties": false,
                    "properties": {
                        "description": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"},
                        "quantity_milli": {"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY_MILLI},
                        "unit_price_minor": {"type": "integer"},
                        "discount_minor": {"type": "integer"},
                        "service_type_id": nullable_id,
                        "job_id": nullable_id,
                        "tax_rate_id": nullable_id,
                        "source": {"type": "string", "minLength": 1, "maxLength": 100}
                    }
                }
            }
        }
    })
}

/// Why `output` (of the extension `extension`) breaks the point's rule, if it does (see the
/// file header). Both fit the schema.
pub fn guard(input: &Value, output: &Value, extension: &str) -> Result<(), String> {
    for fact in ["customer", "currency"] {
        if input[fact] != output[fact] {
            return Err(format!("changed the {fact}"));
        }
    }
    let (before, after) = (lines(input), lines(output));
    if after.len() < before.len() {
        return Err("dropped a line".into());
    }
    for (index, (was, is)) in before.iter().zip(after).enumerate() {
        if without_prices(was) != without_prices(is) {
            return Err(format!(
                "changed lines[{index}] beyond unit_price_minor and discount_minor"
            ));
        }
    }
    for (index, added) in after.iter().enumerate().skip(before.len()) {
        let line = added.as_object().into_iter().flatten();
        if let Some((member, _)) = line
            .filter(|(_, value)| !value.is_null())
            .find(|(member, _)| !ADDED_MEMBERS.contains(&member.as_str()))
        {
            return Err(format!("added lines[{index}] with `{member}`"));
        }
        if added["source"] != json!(extension) {
            return Err(format!(
                "added lines[{index}] without `source`: \"{extension}\""
            ));
        }
    }
    for (index, line) in after.iter().enumerate() {
        let changed = before.get(index) != Some(line);
        if changed && !priced_within_bounds(line) {
            return Err(format!(
                "lines[{index}]: a price or discount out of bounds, or a discount over the line's amount"
            ));
        }
    }
    let sum = |lines: &[Value]| lines.iter().map(net_of).sum::<i128>();
    let total = sum(after);
    if total > MAX_TOTAL_MINOR && total > sum(before) {
        return Err(format!("the lines sum to more than {MAX_TOTAL_MINOR}"));
    }
    Ok(())
}

/// A line an extension priced: a unit price of 0 to [`MAX_UNIT_PRICE_MINOR`], a discount of 0
/// to the line's amount. (The client's own lines are billing's to check.)
fn priced_within_bounds(line: &Value) -> bool {
    let int = |member: &str| line[member].as_i64().unwrap_or(-1);
    (0..=MAX_UNIT_PRICE_MINOR).contains(&int("unit_price_minor"))
        && int("discount_minor") >= 0
        && net_of(line) >= 0
}

fn lines(value: &Value) -> &[Value] {
    value["lines"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn without_prices(line: &Value) -> Value {
    let mut line = line.clone();
    if let Some(members) = line.as_object_mut() {
        for member in PRICE_MEMBERS {
            members.remove(member);
        }
    }
    line
}

/// The line's amount less its discount, as billing rounds it (quantity x unit price in
/// thousandths, half away from zero, for the non-negative amounts an extension may set).
fn net_of(line: &Value) -> i128 {
    let int = |member: &str| i128::from(line[member].as_i64().unwrap_or(0));
    (int("quantity_milli") * int("unit_price_minor") + 500) / 1000 - int("discount_minor")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(lines: Value) -> Value {
        json!({"customer": {"id": "c1", "tags": ["senior"]}, "currency": "USD", "lines": lines})
    }

    fn line(description: &str, price: i64, discount: i64) -> Value {
        json!({"description": description, "quantity_milli": 1000, "unit_price_minor": price,
               "discount_minor": discount, "service_type_id": "s1", "job_id": null})
    }

    #[test]
    fn prices_may_change_and_marked_lines_may_be_added() {
        let input = lines_of(json!([line("Mowing", 10_000, 0)]));
        let surcharge = json!({"description": "Fuel", "quantity_milli": 1000,
                               "unit_price_minor": 300, "discount_minor": 0, "source": "fuel"});
        let output = lines_of(json!([line("Mowing", 9_000, 1_000), surcharge]));
        assert_eq!(guard(&input, &output, "fuel"), Ok(()));
        let point = super::super::points::point(POINT).unwrap();
        assert_eq!(point.misfit_output(&output), None);
        assert!(guard(&input, &output, "another").is_err());
    }

    #[test]
    fn facts_order_and_sums_are_kept() {
        let (mow, weed) = (line("Mowing", 10_000, 0), line("Weeding", 5_000, 0));
        let input = lines_of(json!([mow, weed]));
        let mut currency = input.clone();
        currency["currency"] = json!("EUR");
        let mut taxed = lines_of(json!([mow, weed, line("Extra", 1, 0)]));
        taxed["lines"][2]["source"] = json!("x");
        for (bad, why) in [
            (currency, "currency"),
            (lines_of(json!([weed, mow])), "lines[0]"),
            (lines_of(json!([mow])), "dropped"),
            (taxed, "service_type_id"),
            (
                lines_of(json!([line("Mowing", 10_000, 10_001), weed])),
                "over the line's amount",
            ),
        ] {
            let broken = guard(&input, &bad, "x").unwrap_err();
            assert!(broken.contains(why), "{broken}");
        }
        let many = lines_of(json!(vec![line("Mowing", 1, 0); 101]));
        let huge = lines_of(json!(vec![line("Mowing", MAX_UNIT_PRICE_MINOR, 0); 101]));
        let broken = guard(&many, &huge, "x").unwrap_err();
        assert!(broken.contains("sum to more"), "{broken}");
    }
}
