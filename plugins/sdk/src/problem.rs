//! Failures as RFC 9457 problem+json, in exactly the host's shape:
//! `{"type", "title", "status", "detail", "code", "errors"?}` with a stable, machine-readable
//! `code`. Clients handle module errors and host errors with the same code. A problem may carry
//! extension members (RFC 9457 §3.2), such as the `conflicts` of an assignment, added with
//! [`Problem::with`].

use serde::Serialize;

use crate::http::Response;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request body or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for Problem {
    /// One invalid field: 422 `validation_failed` naming it.
    fn from(error: FieldError) -> Self {
        Problem::validation(vec![error])
    }
}

/// A client-visible failure: a handler returns `Err(problem)` and the router renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extension members, rendered beside the standard ones.
    pub members: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            members: serde_json::Map::new(),
        }
    }

    /// Adds an extension member, for example `.with("conflicts", &found)`, so that a client
    /// gets the details it needs to act without a second request. The standard members
    /// (`type`, `status`, `code`, ...) cannot be overridden: a same-named member is ignored.
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or_else(|error| {
            crate::error!("problem member `{name}` does not serialise: {error}");
            serde_json::Value::Null
        });
        self.members.insert(name.to_owned(), value);
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, code, detail)
    }

    /// A query parameter that is missing or does not parse (400 `invalid_query_parameter`).
    pub fn invalid_query(name: &str, expected: &str) -> Self {
        Self::bad_request(
            "invalid_query_parameter",
            format!("`{name}` must be {expected}"),
        )
    }

    /// 404 `not_found` for a resource, for example `Problem::not_found("customer")`.
    pub fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("no {what} with this id"))
    }

    /// 422 `validation_failed` listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(422, "validation_failed", "the request has invalid fields")
        }
    }

    /// 412 `precondition_failed`: `If-Match` names a version the resource has moved past.
    pub fn precondition_failed() -> Self {
        Self::new(
            412,
            "precondition_failed",
            "the resource changed since you read it; fetch it again",
        )
    }

    /// 500 `internal_error`; the cause goes to the log, not to the client.
    pub fn internal(cause: &str) -> Self {
        crate::error!("internal error: {cause}");
        Self::new(500, "internal_error", "an internal error occurred")
    }

    /// The problem+json body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            // The host serves a page for every code at `/problems/{code}` (its own, or a
            // generic one saying that the module defines it).
            "type": format!("/problems/{}", self.code),
            "title": reason_phrase(self.status),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::json!(self.errors);
        }
        if let Some(standard) = body.as_object_mut() {
            for (name, value) in &self.members {
                standard
                    .entry(name.as_str())
                    .or_insert_with(|| value.clone());
            }
        }
        body
    }

    pub fn into_response(self) -> Response {
        let mut response = Response::json(self.status, &self.body());
        response.set_header("content-type", CONTENT_TYPE);
        response
    }
}

/// The titles the host uses (`StatusCode::canonical_reason`) for the statuses modules answer.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn renders_the_hosts_shape() {
        let response = Problem::not_found("customer").into_response();
        assert_eq!(response.status, 404);
        assert_eq!(response.header("content-type"), Some(CONTENT_TYPE));
        assert_eq!(
            body_of(&response),
            serde_json::json!({
                "type": "/problems/not_found",
                "title": "Not Found",
                "status": 404,
                "detail": "no customer with this id",
                "code": "not_found",
            })
        );
    }

    #[test]
    fn validation_lists_fields() {
        let response =
            Problem::validation(vec![FieldError::new("name", "is required")]).into_response();
        let body = body_of(&response);
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(
            body["errors"],
            serde_json::json!([{"field": "name", "message": "is required"}])
        );
    }

    #[test]
    fn extension_members_sit_beside_the_standard_ones() {
        let problem = Problem::new(409, "plan_stale", "jobs changed")
            .with("changed_job_ids", ["a", "b"])
            .with("code", "overridden");
        let body = body_of(&problem.into_response());
        assert_eq!(body["changed_job_ids"], serde_json::json!(["a", "b"]));
        assert_eq!(body["code"], "plan_stale");
        assert_eq!(body["status"], 409);
    }
}
