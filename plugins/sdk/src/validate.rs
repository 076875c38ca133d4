//! Field validation that reports every invalid field at once, as one 422
//! `validation_failed` problem:
//!
//! ```ignore
//! let mut check = Validator::default();
//! check.required(&body.name, "name", creating);
//! check.length("name", body.name.value(), 1..=200);
//! check.email("email", body.email.value());
//! check.finish()?;
//! ```

use std::ops::RangeInclusive;

use crate::patch::Patch;
use crate::problem::{FieldError, Problem};

#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Records `message` for `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.errors.push(FieldError::new(field, message));
        }
        self
    }

    /// The value of a computation that may fail on one field (a [`crate::money`] product,
    /// say); its error is recorded and `None` returned.
    pub fn accept<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|error| self.errors.push(error)).ok()
    }

    /// A column that may not be null: never `null`, and present when `creating`.
    pub fn required<T>(&mut self, value: &Patch<T>, field: &str, creating: bool) -> &mut Self {
        match value {
            Patch::Absent if creating => self.check(false, field, "is required"),
            Patch::Null => self.check(false, field, "may not be null"),
            _ => self,
        }
    }

    /// Text whose length in characters is in `range` (nothing to check when absent).
    pub fn length(
        &mut self,
        field: &str,
        value: Option<&String>,
        range: RangeInclusive<usize>,
    ) -> &mut Self {
        let Some(value) = value else { return self };
        let length = value.chars().count();
        let message = if *range.start() > 0 {
            format!("must be {} to {} characters", range.start(), range.end())
        } else {
            format!("must be at most {} characters", range.end())
        };
        self.check(range.contains(&length), field, &message)
    }

    /// A plausible e-mail address: one `@` with text on both sides and a dot in the domain.
    pub fn email(&mut self, field: &str, value: Option<&String>) -> &mut Self {
        let Some(value) = value else { return self };
        let plausible = value.len() <= 254
            && !value.contains(char::is_whitespace)
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        self.check(plausible, field, "must be an e-mail address")
    }

    /// A phone number: digits with optional `+`, spaces, dashes, dots and parentheses, 5 to 20
    /// digits in all.
    pub fn phone(&mut self, field: &str, value: Option<&String>) -> &mut Self {
        let Some(value) = value else { return self };
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let plausible = value.len() <= 32
            && (5..=20).contains(&digits)
            && value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
        self.check(plausible, field, "must be a phone number")
    }

    /// A number in `range` (nothing to check when absent).
    pub fn within(
        &mut self,
        field: &str,
        value: Option<f64>,
        range: RangeInclusive<f64>,
    ) -> &mut Self {
        let Some(value) = value else { return self };
        let message = format!("must be between {} and {}", range.start(), range.end());
        self.check(range.contains(&value), field, &message)
    }

    pub fn finish(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.errors))
        }
    }
}

/// What a field holding text PostgreSQL cannot store is told.
pub const UNSTORABLE: &str = "may not contain the NUL character";

/// Whether PostgreSQL can store `text`: a `text` value cannot hold a NUL character and a
/// `jsonb` one refuses `\u0000`; every other UTF-8 character is fine. Client text is
/// checked up front so that it is refused as the client's error (422 naming the field)
/// rather than failing in the database.
pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// The fields of a JSON document that hold text PostgreSQL cannot store, by their path
/// (`name`, `address.city`, `tags[2]`, as the body's other field errors name them). A key
/// that cannot be stored is named too.
pub fn unstorable_fields(value: &serde_json::Value) -> Vec<FieldError> {
    let mut found = Vec::new();
    collect_unstorable(value, "", &mut found);
    found
}

fn collect_unstorable(value: &serde_json::Value, path: &str, found: &mut Vec<FieldError>) {
    use serde_json::Value;
    let field = |path: &str| if path.is_empty() { "body" } else { path }.to_owned();
    match value {
        Value::String(text) if !is_storable(text) => {
            found.push(FieldError::new(field(path), UNSTORABLE));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_unstorable(item, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(object) => {
            for (key, item) in object {
                let key_text = key.replace('\0', "\u{fffd}");
                let child = match path {
                    "" => key_text,
                    parent => format!("{parent}.{key_text}"),
                };
                if !is_storable(key) {
                    found.push(FieldError::new(child.clone(), UNSTORABLE));
                }
                collect_unstorable(item, &child, found);
            }
        }
        _ => {}
    }
}

/// Whether `text` is an RFC 3339 timestamp (`2026-11-27T21:45:00Z`, optional fraction and
/// offset), the format the store compares timestamp columns with.
pub fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let shape = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && matches!(bytes[10], b'T' | b't')
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(u32::MAX);
    let in_range = (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
        && number(11..13) < 24
        && number(14..16) < 60
        && number(17..19) < 61;
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let length = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if length == 0 {
            return false;
        }
        rest = &fraction[length..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit())
                && rest[1..3].parse::<u32>().is_ok_and(|hours| hours < 24)
                && rest[4..6].parse::<u32>().is_ok_and(|minutes| minutes < 60)
        }
        _ => false,
    };
    in_range && offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(validator: Validator) -> Vec<String> {
        match validator.finish() {
            Ok(()) => vec![],
            Err(problem) => {
                assert_eq!((problem.status, problem.code), (422, "validation_failed"));
                problem
                    .errors
                    .into_iter()
                    .map(|error| error.field)
                    .collect()
            }
        }
    }

    #[test]
    fn collects_every_invalid_field() {
        let mut check = Validator::default();
        let name = "x".repeat(201);
        check
            .required(&Patch::<String>::Absent, "kind", true)
            .required(&Patch::<String>::Null, "name", false)
            .required(&Patch::<String>::Absent, "status", false)
            .length("name", Some(&name), 1..=200)
            .length("label", Some(&String::new()), 0..=200)
            .email("email", Some(&"a@b".to_owned()))
            .phone("phone", Some(&"+1 (555) 010-2030".to_owned()))
            .within("latitude", Some(91.0), -90.0..=90.0);
        assert_eq!(fields(check), ["kind", "name", "name", "email", "latitude"]);
    }

    #[test]
    fn emails_and_phones() {
        let email = |text: &str| {
            let mut check = Validator::default();
            check.email("email", Some(&text.to_owned()));
            fields(check).is_empty()
        };
        assert!(email("ann@example.com"));
        for bad in [
            "ann",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(!email(bad), "{bad}");
        }
        let phone = |text: &str| {
            let mut check = Validator::default();
            check.phone("phone", Some(&text.to_owned()));
            fields(check).is_empty()
        };
        assert!(phone("+44 20 7946 0958"));
        assert!(!phone("1234"));
        assert!(!phone("call me"));
    }

    #[test]
    fn names_every_field_holding_a_nul() {
        let body = serde_json::json!({
            "name": "ab\0c",
            "ok": "fine",
            "address": {"city": "\0"},
            "tags": ["vip", "x\0"],
            "key\0": 1,
        });
        let fields: Vec<String> = unstorable_fields(&body)
            .into_iter()
            .map(|error| error.field)
            .collect();
        assert_eq!(fields, ["address.city", "key\u{fffd}", "name", "tags[1]"]);
        assert!(unstorable_fields(&serde_json::json!({"name": "é ✓ \u{1}"})).is_empty());
    }

    #[test]
    fn recognises_rfc3339() {
        for good in [
            "2026-11-27T21:45:00Z",
            "2026-11-27T21:45:00.123Z",
            "2026-11-27T21:45:00+01:00",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "2026-11-27",
            "2026-13-27T21:45:00Z",
            "2026-11-27T21:45:00",
            "2026-11-27T21:45:00.Z",
            "2026-11-27 21:45:00Z",
            "2026-11-27T21:45:00+0100",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
