//! Checking one answer against a step's expectations, and the `${name.path}` references
//! steps use to reach what earlier steps captured. Every mismatch is reported (not only the
//! first) with what was expected and what came, so a partner sees the whole difference.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::pack::{Expect, ExpectEvent};

/// What a step's request got back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (`null` when empty; a string when it is not JSON).
    pub body: Value,
}

/// One way an answer differs from the contract.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Mismatch {
    /// What was checked: `status`, `header etag`, `body.name`, `problem.code`, `event ...`.
    pub check: String,
    pub expected: Value,
    pub actual: Value,
}

impl Mismatch {
    fn new(check: impl Into<String>, expected: Value, actual: Value) -> Self {
        Self {
            check: check.into(),
            expected,
            actual,
        }
    }
}

/// Captured values by name.
pub type Variables = BTreeMap<String, Value>;

/// Replaces every `${name.path}` in the strings of `value`. A string that is exactly one
/// reference becomes the referenced value with its JSON type; a reference inside longer text
/// is spliced in as text. An unknown reference is an error naming it.
pub fn substitute(value: &Value, vars: &Variables) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => substitute_text(text, vars)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute(item, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), substitute(item, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// [`substitute`] for text that must stay text (paths, header values).
pub fn substitute_str(text: &str, vars: &Variables) -> Result<String, String> {
    Ok(match substitute_text(text, vars)? {
        Value::String(text) => text,
        other => other.to_string(),
    })
}

fn substitute_text(text: &str, vars: &Variables) -> Result<Value, String> {
    if let Some(reference) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}'))
        && !reference.contains("${")
    {
        return resolve(reference, vars);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed reference in `{text}`"))?;
        match resolve(&rest[start + 2..start + end], vars)? {
            Value::String(value) => out.push_str(&value),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

fn resolve(reference: &str, vars: &Variables) -> Result<Value, String> {
    let (name, path) = reference.split_once('.').unwrap_or((reference, ""));
    let root = vars
        .get(name)
        .ok_or_else(|| format!("`${{{reference}}}`: nothing was captured as `{name}`"))?;
    lookup(root, path)
        .cloned()
        .ok_or_else(|| format!("`${{{reference}}}`: `{name}` has no `{path}`"))
}

/// The value at a dotted path (`items.0.id`); the empty path is the value itself.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |value, key| match value {
        Value::Object(map) => map.get(key),
        Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// What a capture source (`""`, a JSON pointer, or `header:NAME`) takes from an answer.
pub fn capture(answer: &Answer, source: &str) -> Option<Value> {
    match source.strip_prefix("header:") {
        Some(name) => answer
            .headers
            .get(&name.to_ascii_lowercase())
            .map(|v| Value::String(v.clone())),
        None => answer.body.pointer(source).cloned(),
    }
}

/// The JSON type of a value as shapes name it (`absent` for a missing field).
pub fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "absent",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

fn type_matches(wanted: &str, actual: &'static str) -> bool {
    wanted == "any" && actual != "absent"
        || wanted == actual
        || wanted == "number" && actual == "integer"
}

/// Every way `answer` breaks `expect` (the event expectations are checked by the runner,
/// which polls the feed). References in `expect` are resolved against `vars` first; one that
/// cannot be (an earlier step failed, or this answer lacks the captured field) is a mismatch
/// of that check, and the other checks still run.
pub fn check(expect: &Expect, answer: &Answer, vars: &Variables) -> Vec<Mismatch> {
    let mut found = Vec::new();
    if let Some(status) = expect.status
        && status != answer.status
    {
        found.push(Mismatch::new("status", json!(status), json!(answer.status)));
    }
    for (name, wanted) in &expect.headers {
        let actual = answer.headers.get(&name.to_ascii_lowercase());
        let wanted = match substitute_str(wanted, vars) {
            Ok(wanted) => wanted,
            Err(error) => {
                found.push(unresolved(format!("header {name}"), wanted, error));
                continue;
            }
        };
        let ok = match (wanted.as_str(), actual) {
            ("*", Some(_)) => true,
            (wanted, Some(actual)) => wanted == actual,
            (_, None) => false,
        };
        if !ok {
            found.push(Mismatch::new(
                format!("header {name}"),
                json!(wanted),
                json!(actual),
            ));
        }
    }
    for (path, types) in &expect.body {
        let actual = type_name(lookup(&answer.body, path));
        if !types.split('|').any(|wanted| type_matches(wanted, actual)) {
            found.push(Mismatch::new(
                format!("body.{path}"),
                json!(types),
                json!(actual),
            ));
        }
    }
    for (path, wanted) in &expect.values {
        let wanted = match substitute(wanted, vars) {
            Ok(wanted) => wanted,
            Err(error) => {
                found.push(unresolved(format!("body.{path}"), wanted, error));
                continue;
            }
        };
        let actual = lookup(&answer.body, path);
        if actual != Some(&wanted) {
            found.push(Mismatch::new(format!("body.{path}"), wanted, json!(actual)));
        }
    }
    if let Some(problem) = &expect.problem {
        check_problem(problem, answer, &mut found);
    }
    found
}

/// A check whose expected value names a capture that is not there.
pub fn unresolved(check: String, template: impl serde::Serialize, error: String) -> Mismatch {
    Mismatch::new(
        check,
        json!(template),
        json!(format!("(unresolved: {error})")),
    )
}

fn check_problem(problem: &super::pack::ExpectProblem, answer: &Answer, found: &mut Vec<Mismatch>) {
    let content_type = answer.headers.get("content-type").map(String::as_str);
    if content_type != Some("application/problem+json") {
        found.push(Mismatch::new(
            "header content-type",
            json!("application/problem+json"),
            json!(content_type),
        ));
    }
    if let Some(code) = &problem.code
        && answer.body.get("code") != Some(&json!(code))
    {
        found.push(Mismatch::new(
            "problem.code",
            json!(code),
            json!(answer.body.get("code")),
        ));
    }
    let fields: Vec<&str> = answer
        .body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| error.get("field").and_then(Value::as_str))
        .collect();
    for field in &problem.fields {
        if !fields.contains(&field.as_str()) {
            found.push(Mismatch::new(
                format!("problem.errors[].field {field}"),
                json!(field),
                json!(fields),
            ));
        }
    }
}

/// Whether a feed event is the one `wanted` describes (references resolved already).
pub fn event_matches(wanted: &ExpectEvent, event: &Value) -> bool {
    event.get("type") == Some(&json!(wanted.kind))
        && wanted
            .data
            .iter()
            .all(|(path, value)| event.get("data").and_then(|d| lookup(d, path)) == Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        Variables::from([(
            "customer".into(),
            json!({"id": "c1", "version": 2, "tags": ["a"]}),
        )])
    }

    #[test]
    fn references_keep_their_type_alone_and_splice_as_text() {
        let vars = vars();
        assert_eq!(
            substitute(&json!("${customer.version}"), &vars).unwrap(),
            json!(2)
        );
        assert_eq!(
            substitute_str("/v1/crm/customers/${customer.id}/x", &vars).unwrap(),
            "/v1/crm/customers/c1/x"
        );
        assert_eq!(
            substitute(&json!({"t": ["${customer.tags.0}"]}), &vars).unwrap(),
            json!({"t": ["a"]})
        );
        assert!(
            substitute_str("${job.id}", &vars)
                .unwrap_err()
                .contains("`job`")
        );
        assert!(
            substitute_str("${customer.nope}", &vars)
                .unwrap_err()
                .contains("no `nope`")
        );
    }

    #[test]
    fn shapes_values_and_problems_report_every_difference() {
        let answer = Answer {
            status: 422,
            headers: BTreeMap::from([("content-type".into(), "application/problem+json".into())]),
            body: json!({"code": "validation_failed", "errors": [{"field": "name"}], "n": 1.5}),
        };
        let expect: Expect = serde_json::from_value(json!({
            "status": 201,
            "body": {"n": "integer", "code": "string", "missing": "string|absent"},
            "values": {"code": "validation_failed"},
            "problem": {"code": "validation_failed", "fields": ["name", "email"]}
        }))
        .unwrap();
        let found = check(&expect, &answer, &vars());
        let checks: Vec<&str> = found.iter().map(|m| m.check.as_str()).collect();
        assert_eq!(checks, ["status", "body.n", "problem.errors[].field email"]);
    }
}
