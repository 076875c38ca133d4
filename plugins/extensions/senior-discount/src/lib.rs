//! Sample extension for `billing.price_lines` (docs/EXTENSIONS.md): "10 % off for customers
//! tagged senior". The discount goes on each line (its `discount_minor`), not on a line of its
//! own: an invoice line is never negative, and a discount on the line is taxed as what the
//! customer really pays. Idempotent, since a draft's lines are priced again on every change:
//! a line's discount becomes *at least* 10 % of its amount (a bigger discount stands), so
//! pricing twice gives what pricing once did. Pure: the answer depends on the input alone.

use exports::verofield::platform::hook::Guest;
use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "extension" });

struct SeniorDiscount;

const POINT: &str = "billing.price_lines";
/// The discount, in percent.
const PERCENT: i128 = 10;

fn is_senior(customer: &Value) -> bool {
    customer["tags"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|tag| tag == "senior"))
}

/// `value / divisor` rounded half away from zero, for non-negative values (billing's rule).
fn div_round(value: i128, divisor: i128) -> i128 {
    (value + divisor / 2) / divisor
}

/// The line with its discount raised to at least 10 % of its amount.
fn discounted(line: &mut Value) {
    let int = |member: &str| i128::from(line[member].as_i64().unwrap_or(0));
    let gross = div_round(int("quantity_milli") * int("unit_price_minor"), 1000);
    let tenth = div_round(gross * PERCENT, 100);
    if tenth > int("discount_minor") {
        line["discount_minor"] = json!(i64::try_from(tenth).unwrap_or(i64::MAX));
    }
}

fn priced(mut input: Value) -> Value {
    if is_senior(&input["customer"]) {
        for line in input["lines"].as_array_mut().into_iter().flatten() {
            discounted(line);
        }
    }
    input
}

impl Guest for SeniorDiscount {
    fn manifest() -> String {
        json!({"name": "senior-discount", "version": "1.0.0", "points": [POINT]}).to_string()
    }

    fn run(point: String, input: String) -> Result<String, String> {
        if point != POINT {
            return Err(format!("this extension does not serve `{point}`"));
        }
        let input: Value = serde_json::from_str(&input).map_err(|error| error.to_string())?;
        Ok(priced(input).to_string())
    }
}

export!(SeniorDiscount);
