//! The pack format: a slot's contract as data. A pack is a JSON file of HTTP steps, each a
//! request and what its answer must show (status, headers, the JSON types of fields, a few
//! exact values, the problem code and fields, the events it emits); a step may capture parts
//! of its answer for later steps (`${customer.id}`). The same format serves an author's own
//! scenarios (`verofield module test --scenarios`). docs/CONFORMANCE.md is the reference.
//!
//! The core slots' packs live in `conformance/<slot>.json` and are compiled in, so a host
//! judges every upload by the packs it shipped with; their sha256 is stored with each result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The slots whose contract clients rely on; each has a built-in and a pack.
pub const CORE_SLOTS: &[&str] = &[
    "crm",
    "technicians",
    "jobs",
    "work-orders",
    "agreements",
    "routing",
    "billing",
    "kpis",
    "layouts",
    "account",
];

/// The packs this host ships, by slot.
const SHIPPED: &[(&str, &str)] = &[
    ("crm", include_str!("../../../conformance/crm.json")),
    (
        "technicians",
        include_str!("../../../conformance/technicians.json"),
    ),
    ("jobs", include_str!("../../../conformance/jobs.json")),
    (
        "work-orders",
        include_str!("../../../conformance/work-orders.json"),
    ),
    (
        "agreements",
        include_str!("../../../conformance/agreements.json"),
    ),
    ("routing", include_str!("../../../conformance/routing.json")),
    ("billing", include_str!("../../../conformance/billing.json")),
    ("kpis", include_str!("../../../conformance/kpis.json")),
    ("layouts", include_str!("../../../conformance/layouts.json")),
    ("account", include_str!("../../../conformance/account.json")),
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// The pack's name (a slot's pack is named after the slot).
    pub name: String,
    /// The slot whose contract this is; absent for an author's own scenarios.
    #[serde(default)]
    pub slot: Option<String>,
    #[serde(default)]
    pub description: String,
    pub steps: Vec<Step>,
    /// sha256 of the file's text, set when loaded.
    #[serde(skip)]
    pub digest: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub request: StepRequest,
    #[serde(default)]
    pub expect: Expect,
    /// Variable name -> what to keep: a JSON pointer into the answer's body (`""` for all of
    /// it, `/id` for one field) or `header:NAME`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    pub method: String,
    /// The full path, e.g. `/v1/crm/customers/${customer.id}`.
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sent as `application/json`).
    #[serde(default)]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<u16>,
    /// Header name -> its exact value, or `*` for "present".
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Dotted path (`items.0.id`) -> JSON type: `string`, `integer`, `number`, `boolean`,
    /// `object`, `array`, `null`, `absent`, or several joined by `|`.
    #[serde(default)]
    pub body: BTreeMap<String, String>,
    /// Dotted path -> the exact value it must hold.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
    /// The answer is problem+json with this `code` and these `errors[].field`s.
    #[serde(default)]
    pub problem: Option<ExpectProblem>,
    /// Events that must reach the feed (`GET /v1/events`) after this step.
    #[serde(default)]
    pub events: Vec<ExpectEvent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectProblem {
    pub code: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectEvent {
    #[serde(rename = "type")]
    pub kind: String,
    /// Dotted path into the event's data -> the exact value it must hold.
    #[serde(default)]
    pub data: BTreeMap<String, Value>,
}

/// The JSON types a shape may name.
pub const TYPES: &[&str] = &[
    "string", "integer", "number", "boolean", "object", "array", "null", "absent", "any",
];

impl Pack {
    /// Parses and checks a pack (or an author's scenarios); the error says where it is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let mut pack: Pack = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| format!("{}: {}", error.path(), error.inner()))?;
        pack.digest = hex(&Sha256::digest(text.as_bytes()));
        pack.check()?;
        Ok(pack)
    }

    fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("a pack needs at least one step".into());
        }
        for (index, step) in self.steps.iter().enumerate() {
            let at = |what: String| format!("steps[{index}] ({}): {what}", step.name);
            if !step.request.path.starts_with("/v1/") {
                return Err(at(format!(
                    "path `{}` must start with /v1/",
                    step.request.path
                )));
            }
            for (path, types) in &step.expect.body {
                if let Some(bad) = types.split('|').find(|t| !TYPES.contains(t)) {
                    return Err(at(format!("`{path}`: unknown type `{bad}`")));
                }
            }
            for (name, source) in &step.capture {
                let ok = source.is_empty()
                    || source.starts_with('/')
                    || source
                        .strip_prefix("header:")
                        .is_some_and(|h| !h.is_empty());
                if !ok {
                    return Err(at(format!(
                        "capture `{name}`: `{source}` is neither a JSON pointer nor header:NAME"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The pack shipped for `slot`, if any.
pub fn for_slot(slot: &str) -> Option<Pack> {
    SHIPPED
        .iter()
        .find(|(name, _)| *name == slot)
        .map(|(name, text)| {
            Pack::parse(text).unwrap_or_else(|error| panic!("the shipped pack {name}: {error}"))
        })
}

/// Whether binding `slot` to an upload needs a conformance result.
pub fn is_core(slot: &str) -> bool {
    CORE_SLOTS.contains(&slot)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_pack_parses_and_names_its_slot() {
        for (slot, _) in SHIPPED {
            let pack = for_slot(slot).unwrap();
            assert_eq!(pack.slot.as_deref(), Some(*slot));
            assert!(
                (8..=25).contains(&pack.steps.len()),
                "{slot}: {}",
                pack.steps.len()
            );
            assert!(is_core(slot));
        }
        let packed: Vec<&str> = SHIPPED.iter().map(|(slot, _)| *slot).collect();
        assert_eq!(packed, CORE_SLOTS, "every core slot ships a pack");
    }

    #[test]
    fn a_broken_pack_says_where() {
        let bad = r#"{"name": "x", "steps": [{"name": "a", "request": {"method": "GET", "path": "/v1/x"}, "expect": {"body": {"id": "uuid"}}}]}"#;
        assert!(
            Pack::parse(bad)
                .unwrap_err()
                .contains("unknown type `uuid`")
        );
        let typo = r#"{"name": "x", "steps": [{"name": "a", "request": {"method": "GET", "path": "/v1/x", "bdy": 1}}]}"#;
        assert!(
            Pack::parse(typo)
                .unwrap_err()
                .starts_with("steps[0].request")
        );
    }
}
