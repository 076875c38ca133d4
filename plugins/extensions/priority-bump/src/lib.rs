//! Sample extension for `routing.job_priority` (docs/EXTENSIONS.md): a job for a customer
//! tagged `vip`, or of a service type whose name says "emergency", gets priority 1 (the most
//! urgent), so that the solver serves it before any other when the day is too full for all.
//! Every other job keeps its priority. Pure: the answer depends on the input alone.

use exports::verofield::platform::hook::Guest;
use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "extension" });

struct PriorityBump;

const POINT: &str = "routing.job_priority";
const MOST_URGENT: i64 = 1;

fn any_of(list: &Value, matches: impl Fn(&Value) -> bool) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(matches))
}

fn is_urgent(job: &Value) -> bool {
    any_of(&job["customer_tags"], |tag| tag == "vip")
        || any_of(&job["service_types"], |service| {
            service["name"]
                .as_str()
                .is_some_and(|name| name.to_lowercase().contains("emergency"))
        })
}

fn bumped(mut input: Value) -> Value {
    for job in input["jobs"].as_array_mut().into_iter().flatten() {
        if is_urgent(job) {
            job["priority"] = json!(MOST_URGENT);
        }
    }
    input
}

impl Guest for PriorityBump {
    fn manifest() -> String {
        json!({"name": "priority-bump", "version": "1.0.0", "points": [POINT]}).to_string()
    }

    fn run(point: String, input: String) -> Result<String, String> {
        if point != POINT {
            return Err(format!("this extension does not serve `{point}`"));
        }
        let input: Value = serde_json::from_str(&input).map_err(|error| error.to_string())?;
        Ok(bumped(input).to_string())
    }
}

export!(PriorityBump);
