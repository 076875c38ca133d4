//! Sample extension for `crm.customer_defaults` (docs/EXTENSIONS.md): a customer created
//! without tags is tagged with its kind (`residential` when the kind is unset too), so the
//! tenant's lists can filter on it from the first day. Chained: it answers its input with at
//! most `tags` added, so whatever ran before it stands. Pure: the answer depends on the input
//! alone.

use exports::verofield::platform::hook::Guest;
use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "extension" });

struct CustomerDefaults;

const POINT: &str = "crm.customer_defaults";

fn with_defaults(mut input: Value) -> Value {
    let customer = &mut input["customer"];
    if customer.get("tags").is_none() {
        let kind = customer["kind"]
            .as_str()
            .unwrap_or("residential")
            .to_owned();
        customer["tags"] = json!([kind]);
    }
    input
}

impl Guest for CustomerDefaults {
    fn manifest() -> String {
        json!({"name": "customer-defaults", "version": "1.0.0", "points": [POINT]}).to_string()
    }

    fn run(point: String, input: String) -> Result<String, String> {
        if point != POINT {
            return Err(format!("this extension does not serve `{point}`"));
        }
        let input: Value = serde_json::from_str(&input).map_err(|error| error.to_string())?;
        if !input["customer"].is_object() {
            return Err("the input holds no customer".into());
        }
        Ok(with_defaults(input).to_string())
    }
}

export!(CustomerDefaults);
