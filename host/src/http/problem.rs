//! Rendering [`Error`] as RFC 9457 problem+json.
//!
//! The body always carries `type`, `title`, `status`, `detail` and our stable `code`;
//! validation problems add `errors: [{field, message}]`. 5xx causes are logged here (the
//! request id is on the surrounding span) and replaced by a generic detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{Error, FieldError};

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extension: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A problem response from its parts; also used by middleware that has no [`Error`].
pub fn response(status: StatusCode, code: &str, detail: &str, errors: &[FieldError]) -> Response {
    response_with(status, code, detail, errors, None)
}

fn response_with(
    status: StatusCode,
    code: &str,
    detail: &str,
    errors: &[FieldError],
    extension: Option<(&str, serde_json::Value)>,
) -> Response {
    let body = Problem {
        kind: super::problem_pages::type_uri(code),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        code,
        errors,
        extension: extension.map(|(name, value)| [(name.to_owned(), value)].into_iter().collect()),
    };
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        match self {
            Error::Problem {
                detail,
                fields,
                retry_after,
                allow,
                extension,
                ..
            } => {
                let mut response =
                    response_with(status, code, &detail, &fields, extension.map(|e| *e));
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                }
                if !allow.is_empty()
                    && let Ok(allow) = HeaderValue::try_from(allow.join(", "))
                {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                response
            }
            Error::Database(error) => {
                if status.is_server_error() {
                    tracing::error!(%error, "database error");
                }
                let detail = match status {
                    StatusCode::SERVICE_UNAVAILABLE => {
                        "the database did not answer in time; retry later"
                    }
                    StatusCode::BAD_REQUEST => {
                        "the text contains a character that cannot be stored (such as NUL)"
                    }
                    _ => "an internal error occurred",
                };
                response(status, code, detail, &[])
            }
            Error::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                response(status, code, "an internal error occurred", &[])
            }
        }
    }
}
