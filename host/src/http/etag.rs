//! ETags from row versions, and `If-Match` for optimistic concurrency: a writer that read
//! version N sends `If-Match: "N"`; if the row moved on, the write answers 412.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::Error;

pub fn etag_header(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header")
}

/// Passes when there is no `If-Match`, or when it names `version` (or is `*`).
pub fn check_if_match(headers: &HeaderMap, version: i64) -> Result<(), Error> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| Error::bad_request("invalid_if_match", "If-Match is not ASCII"))?;
    let expected = format!("\"{version}\"");
    let matches = value.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == expected || tag.strip_prefix("W/") == Some(expected.as_str())
    });
    if matches {
        Ok(())
    } else {
        Err(Error::problem(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "the resource changed since you read it; fetch it again",
        ))
    }
}
