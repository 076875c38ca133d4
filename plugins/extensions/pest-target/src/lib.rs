//! Sample extension for `jobs.validate` (docs/EXTENSIONS.md): "pest jobs need a target pest".
//! A job whose service types require the `pest` skill must say which pest in its notes
//! (`pest: termites`); otherwise the job is refused with an error on `notes`. Pure: the answer
//! depends on the input alone.

use exports::verofield::platform::hook::Guest;
use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "extension" });

struct PestTarget;

/// Whether the notes name a target pest: a `pest:` label followed by a word.
fn names_a_pest(notes: &str) -> bool {
    notes
        .to_lowercase()
        .split("pest:")
        .skip(1)
        .any(|rest| rest.trim_start().starts_with(|c: char| c.is_alphabetic()))
}

fn validate(job: &Value) -> Value {
    let needs_pest = job["required_skills"]
        .as_array()
        .is_some_and(|skills| skills.iter().any(|skill| skill == "pest"));
    let notes = job["notes"].as_str().unwrap_or_default();
    let mut errors = Vec::new();
    if needs_pest && !names_a_pest(notes) {
        errors.push(json!({
            "field": "notes",
            "message": "pest jobs need a target pest: write `pest: <name>` in the notes"
        }));
    }
    json!({ "errors": errors })
}

impl Guest for PestTarget {
    fn manifest() -> String {
        json!({"name": "pest-target", "version": "1.0.0", "points": ["jobs.validate"]}).to_string()
    }

    fn run(point: String, input: String) -> Result<String, String> {
        if point != "jobs.validate" {
            return Err(format!("this extension does not serve `{point}`"));
        }
        let input: Value = serde_json::from_str(&input).map_err(|error| error.to_string())?;
        Ok(validate(&input["job"]).to_string())
    }
}

export!(PestTarget);
