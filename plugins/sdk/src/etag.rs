//! ETags and `If-Match`, the host's optimistic concurrency for module rows: the ETag is the
//! row version in quotes (`"3"`); a writer that read version 3 sends `If-Match: "3"`, and if
//! the row moved on the write answers 412 `precondition_failed`.
//!
//! [`update`] and [`delete`] do the whole conditional write: read the row (404 if missing),
//! check `If-Match` (412), write at the version read (a concurrent change in between is 412
//! when the client asked for a condition, 409 otherwise).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::Request;
use crate::problem::Problem;
use crate::store::{self, Record, StoreError};

/// The ETag of a row version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// Passes when the request has no `If-Match`, or when it names `version` (or `*`).
pub fn check_if_match(request: &Request, version: u64) -> Result<(), Problem> {
    let Some(value) = request.header("if-match") else {
        return Ok(());
    };
    let expected = etag(version);
    let matches = value.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == expected || tag.strip_prefix("W/") == Some(expected.as_str())
    });
    if matches {
        Ok(())
    } else {
        Err(Problem::precondition_failed())
    }
}

/// The problem for a failed conditional write.
fn write_problem(request: &Request, error: StoreError) -> Problem {
    match error {
        StoreError::Conflict(_) if request.header("if-match").is_some() => {
            Problem::precondition_failed()
        }
        other => other.into(),
    }
}

/// The row, or 404 naming `what` (`"customer"`). Modules call it through
/// [`crate::Resource::existing`], which names the table and the noun once.
pub(crate) fn existing<T: DeserializeOwned>(
    table: &str,
    id: &str,
    what: &str,
) -> Result<Record<T>, Problem> {
    store::get(table, id)?.ok_or_else(|| Problem::not_found(what))
}

/// Updates the row honouring `If-Match`; returns the new row.
pub fn update<T: DeserializeOwned>(
    request: &Request,
    table: &str,
    id: &str,
    what: &str,
    values: &impl Serialize,
) -> Result<Record<T>, Problem> {
    let current = existing::<serde::de::IgnoredAny>(table, id, what)?;
    check_if_match(request, current.version)?;
    store::update(table, id, current.version, values).map_err(|error| match error {
        StoreError::NotFound => Problem::not_found(what),
        other => write_problem(request, other),
    })
}

/// Deletes the row honouring `If-Match`; returns the row as it was.
pub fn delete<T: DeserializeOwned>(
    request: &Request,
    table: &str,
    id: &str,
    what: &str,
) -> Result<Record<T>, Problem> {
    let current = existing::<T>(table, id, what)?;
    check_if_match(request, current.version)?;
    store::delete(table, id, Some(current.version)).map_err(|error| match error {
        StoreError::NotFound => Problem::not_found(what),
        other => write_problem(request, other),
    })?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &str) -> Request {
        Request {
            headers: vec![("if-match".into(), value.into())],
            ..Request::default()
        }
    }

    #[test]
    fn if_match_names_the_version() {
        assert_eq!(etag(3), "\"3\"");
        assert!(check_if_match(&Request::default(), 3).is_ok());
        for ok in ["\"3\"", "*", "W/\"3\"", "\"2\", \"3\""] {
            assert!(check_if_match(&with_if_match(ok), 3).is_ok(), "{ok}");
        }
        let refused = check_if_match(&with_if_match("\"2\""), 3).unwrap_err();
        assert_eq!((refused.status, refused.code), (412, "precondition_failed"));
    }

    #[test]
    fn a_lost_race_is_412_only_when_asked_for() {
        let conflict = || StoreError::Conflict(5);
        assert_eq!(
            write_problem(&with_if_match("\"4\""), conflict()).status,
            412
        );
        assert_eq!(write_problem(&Request::default(), conflict()).status, 409);
    }
}
