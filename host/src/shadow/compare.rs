//! How a candidate's answer is compared with the live one: the statuses, then the bodies as
//! JSON with what legitimately differs between two runs of the same request normalised away.
//!
//! The candidate runs after the live call committed, so a create makes a second row with its
//! own id, timestamps and version, and the same read a moment later carries the same values.
//! Normalising replaces every UUID-shaped string with `<id>`, every RFC 3339 timestamp with
//! `<timestamp>`, and the value of each `version` member with `<version>`; what is left to
//! differ is what the two versions of the module do differently. A body that is not JSON is
//! compared byte for byte.

use serde_json::Value;

/// Most differing paths kept for one comparison: enough to read, bounded to store.
const MAX_PATHS: usize = 20;

/// How the candidate's answer compares with the live answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Identical,
    /// The statuses differ (the bodies are not compared then).
    Status,
    /// Same status; the normalised bodies differ at these JSON pointers (`""`: the whole body).
    Body(Vec<String>),
}

pub fn compare(live: (u16, &[u8]), candidate: (u16, &[u8])) -> Verdict {
    if live.0 != candidate.0 {
        return Verdict::Status;
    }
    let paths = match (json(live.1), json(candidate.1)) {
        (Some(live), Some(candidate)) => {
            let mut paths = Vec::new();
            differences(&live, &candidate, String::new(), &mut paths);
            paths
        }
        _ if live.1 == candidate.1 => Vec::new(),
        _ => vec![String::new()],
    };
    match paths.is_empty() {
        true => Verdict::Identical,
        false => Verdict::Body(paths),
    }
}

/// The body as normalised JSON, or None when it is not JSON.
fn json(body: &[u8]) -> Option<Value> {
    let mut value = serde_json::from_slice(body).ok()?;
    normalise(&mut value);
    Some(value)
}

fn normalise(value: &mut Value) {
    match value {
        Value::String(text) if is_id(text) => *value = Value::from("<id>"),
        Value::String(text) if is_timestamp(text) => *value = Value::from("<timestamp>"),
        Value::Array(items) => items.iter_mut().for_each(normalise),
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                match name.as_str() {
                    "version" => *member = Value::from("<version>"),
                    _ => normalise(member),
                }
            }
        }
        _ => {}
    }
}

fn is_id(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::parse_str(text).is_ok()
}

fn is_timestamp(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// Appends the JSON pointers (RFC 6901) at which `a` and `b` differ, at most [`MAX_PATHS`].
fn differences(a: &Value, b: &Value, at: String, paths: &mut Vec<String>) {
    if paths.len() >= MAX_PATHS || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let (left, right) = (a.get(name), b.get(name));
                let path = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
                match (left, right) {
                    (Some(left), Some(right)) => differences(left, right, path, paths),
                    _ if paths.len() < MAX_PATHS => paths.push(path),
                    _ => return,
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (left, right)) in a.iter().zip(b).enumerate() {
                differences(left, right, format!("{at}/{index}"), paths);
            }
        }
        _ => paths.push(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(live: &str, candidate: &str) -> Verdict {
        compare((200, live.as_bytes()), (200, candidate.as_bytes()))
    }

    #[test]
    fn ids_timestamps_and_versions_do_not_count_as_differences() {
        let live = r#"{"id":"0b6e2a8e-2a43-4a4e-9a39-3c0c1f1f7f10","version":1,
            "created_at":"2026-12-07T05:00:00.123456Z","name":"Ada"}"#;
        let candidate = r#"{"id":"7f1d6a4e-0c55-4b8e-8a3b-5d4e1a2b3c4d","version":2,
            "created_at":"2026-12-07T05:00:01Z","name":"Ada"}"#;
        assert_eq!(verdict(live, candidate), Verdict::Identical);
    }

    #[test]
    fn each_differing_field_is_named_by_its_pointer() {
        let live = r#"{"name":"Ada","tags":["a","b"],"address":{"city":"Oslo"},"gone":1}"#;
        let candidate = r#"{"name":"ADA","tags":["a","c"],"address":{"city":"Oslo"},"new/x":1}"#;
        assert_eq!(
            verdict(live, candidate),
            Verdict::Body(vec![
                "/gone".into(),
                "/name".into(),
                "/new~1x".into(),
                "/tags/1".into()
            ])
        );
    }

    #[test]
    fn arrays_of_other_lengths_differ_as_a_whole() {
        assert_eq!(
            verdict(r#"{"items":[1,2]}"#, r#"{"items":[1]}"#),
            Verdict::Body(vec!["/items".into()])
        );
    }

    #[test]
    fn other_statuses_differ_before_any_body() {
        assert_eq!(compare((200, b"{}"), (404, b"{}")), Verdict::Status);
    }

    #[test]
    fn bodies_that_are_not_json_compare_byte_for_byte() {
        assert_eq!(verdict("plain", "plain"), Verdict::Identical);
        assert_eq!(
            verdict("plain", "other"),
            Verdict::Body(vec![String::new()])
        );
    }

    #[test]
    fn the_paths_kept_are_bounded() {
        let live: serde_json::Map<String, Value> = (0..50)
            .map(|i| (format!("f{i:02}"), Value::from(i)))
            .collect();
        let Verdict::Body(paths) = compare(
            (200, Value::Object(live).to_string().as_bytes()),
            (200, b"{}"),
        ) else {
            panic!("the bodies differ");
        };
        assert_eq!(paths.len(), MAX_PATHS);
    }
}
