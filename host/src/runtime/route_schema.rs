//! The JSON Schemas a manifest route declares for its body (`request`) and its answers
//! (`responses`, keyed by status code), checked when the module is loaded, which is at upload.
//!
//! A manifest comes from a partner's code, so a schema is hostile until checked: each is
//! bounded in size and nesting before anything walks it (serde_json's own parse already stops
//! at 128 levels; these bounds are far tighter), then checked against its meta-schema and
//! compiled with the `jsonschema` crate, which also refuses a `$ref` it cannot resolve inside
//! the schema (the host is built without remote resolution: a schema never makes it fetch).
//! The schemas are published in `GET /v1/openapi.json` (`http::openapi`); the host does not
//! validate module traffic against them.

use std::collections::BTreeMap;

use serde_json::Value;

/// The largest one schema may be, as compact JSON. The built-ins' largest is about 4 KiB.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// The deepest a schema may nest objects and arrays.
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// All the schemas of one manifest together.
pub const MAX_MANIFEST_SCHEMA_BYTES: usize = 1024 * 1024;
/// Documented answers of one route.
pub const MAX_RESPONSES: usize = 16;
/// A route's summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 200;

/// Checks one route's summary and schemas; the error names the part at fault, and the caller
/// names the route. Returns the bytes the schemas take, for the manifest's total.
pub fn check_route(
    summary: Option<&str>,
    request: Option<&Value>,
    responses: &BTreeMap<String, Value>,
) -> Result<usize, String> {
    if let Some(summary) = summary
        && (summary.chars().count() > MAX_SUMMARY_CHARS || summary.chars().any(char::is_control))
    {
        return Err(format!(
            "summary is longer than {MAX_SUMMARY_CHARS} characters or holds control characters"
        ));
    }
    if responses.len() > MAX_RESPONSES {
        return Err(format!(
            "declares {} responses, more than {MAX_RESPONSES}",
            responses.len()
        ));
    }
    let mut bytes = 0;
    if let Some(schema) = request {
        bytes += check_schema(schema).map_err(|error| format!("request schema {error}"))?;
    }
    for (status, schema) in responses {
        if !is_status(status) {
            return Err(format!(
                "response `{status}` is not a status code from 200 to 599"
            ));
        }
        bytes +=
            check_schema(schema).map_err(|error| format!("response {status} schema {error}"))?;
    }
    Ok(bytes)
}

/// A documented answer's key: a three-digit status from 200 to 599.
fn is_status(key: &str) -> bool {
    key.len() == 3
        && key
            .parse::<u16>()
            .is_ok_and(|status| (200..600).contains(&status))
}

/// Bounds, meta-schema, compile: in that order, so nothing unbounded is ever walked.
fn check_schema(schema: &Value) -> Result<usize, String> {
    let depth = depth(schema);
    if depth > MAX_SCHEMA_DEPTH {
        return Err(format!("nests deeper than {MAX_SCHEMA_DEPTH} levels"));
    }
    let bytes = serde_json::to_vec(schema)
        .map_err(|error| error.to_string())?
        .len();
    if bytes > MAX_SCHEMA_BYTES {
        return Err(format!("is {bytes} bytes, more than {MAX_SCHEMA_BYTES}"));
    }
    if !(schema.is_object() || schema.is_boolean()) {
        return Err("is not a JSON Schema (an object or a boolean)".into());
    }
    jsonschema::meta::validate(schema).map_err(|error| {
        format!(
            "is not a valid JSON Schema: {error} at `{}`",
            error.instance_path()
        )
    })?;
    jsonschema::validator_for(schema).map_err(|error| format!("does not compile: {error}"))?;
    Ok(bytes)
}

/// How deeply objects and arrays nest, counted without recursion (the value came from a
/// parser that already stopped at 128 levels, but this walk must not depend on that).
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        deepest = deepest.max(level);
        match value {
            Value::Object(map) => stack.extend(map.values().map(|child| (child, level + 1))),
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, level + 1))),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(schema: Value) -> Result<usize, String> {
        check_route(None, Some(&schema), &BTreeMap::new())
    }

    #[test]
    fn accepts_derived_schemas_with_local_refs() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"address": {"$ref": "#/$defs/Address"}},
            "required": ["address"],
            "$defs": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}}}
        });
        assert!(request(schema.clone()).is_ok());
        let responses = BTreeMap::from([("201".to_owned(), schema), ("204".into(), json!(true))]);
        assert!(check_route(Some("Create a customer"), None, &responses).is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_schema() {
        for (bad, expected) in [
            (json!("string"), "not a JSON Schema"),
            (json!({"type": "strnig"}), "not a valid JSON Schema"),
            (json!({"minLength": -1}), "not a valid JSON Schema"),
            (json!({"pattern": "(unclosed"}), "does not compile"),
            (json!({"$ref": "#/$defs/Missing"}), "does not compile"),
            (
                json!({"$ref": "https://example.com/remote.json"}),
                "does not compile",
            ),
            (json!({"$ref": "file:///etc/passwd"}), "does not compile"),
        ] {
            let error = request(bad.clone()).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn refuses_hostile_sizes_and_depths() {
        let mut nested = json!({"type": "object"});
        for _ in 0..MAX_SCHEMA_DEPTH {
            nested = json!({"type": "object", "properties": {"x": nested}});
        }
        assert!(request(nested).unwrap_err().contains("nests deeper"));
        let huge = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(request(huge).unwrap_err().contains("bytes, more than"));
        let wide: serde_json::Map<String, Value> = (0..5000)
            .map(|i| (format!("p{i}"), json!({"type": "string", "maxLength": 10})))
            .collect();
        let wide = json!({"type": "object", "properties": wide});
        assert!(request(wide).unwrap_err().contains("bytes, more than"));
    }

    #[test]
    fn refuses_bad_response_keys_summaries_and_counts() {
        let one = |key: &str| BTreeMap::from([(key.to_owned(), json!({}))]);
        for key in ["2XX", "default", "99", "600", "20a", "1000"] {
            assert!(check_route(None, None, &one(key)).is_err(), "{key}");
        }
        let many: BTreeMap<String, Value> = (200..=216)
            .map(|status| (status.to_string(), json!({})))
            .collect();
        assert!(
            check_route(None, None, &many)
                .unwrap_err()
                .contains("responses")
        );
        assert!(check_route(Some(&"s".repeat(201)), None, &BTreeMap::new()).is_err());
        assert!(check_route(Some("two\nlines"), None, &BTreeMap::new()).is_err());
    }
}
