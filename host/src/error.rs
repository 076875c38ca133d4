//! The one error type of the host. Every failure a client can see is one of these, rendered
//! as RFC 9457 problem+json with a stable machine-readable `code` (see `http::problem`).
//! Internal causes are logged with the request id and never shown to the client.

use axum::http::StatusCode;
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One offending field of a request, for 400/422 answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A client-visible failure with its status and code.
    #[error("{code}: {detail}")]
    Problem {
        status: StatusCode,
        code: &'static str,
        detail: String,
        fields: Vec<FieldError>,
        retry_after: Option<u64>,
        /// The methods a 405 answer lists in `Allow`.
        allow: Vec<String>,
        /// One extension member of the problem body (RFC 9457 3.2), such as the `grants` a
        /// `consent_required` answer shows.
        extension: Option<Box<(&'static str, serde_json::Value)>>,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn problem(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self::Problem {
            status,
            code,
            detail: detail.into(),
            fields: Vec::new(),
            retry_after: None,
            allow: Vec::new(),
            extension: None,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401 with one message for every cause, so the answer reveals nothing.
    pub fn unauthorized(code: &'static str) -> Self {
        Self::problem(StatusCode::UNAUTHORIZED, code, "authentication failed")
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn missing_permission(permission: &str) -> Self {
        Self::forbidden(
            "permission_denied",
            format!("requires the `{permission}` permission"),
        )
    }

    /// 404 for anything the caller may not see, whether or not it exists elsewhere.
    pub fn not_found(what: &str) -> Self {
        Self::problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::problem(StatusCode::CONFLICT, code, detail)
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self::Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            detail: "the request has invalid fields".into(),
            fields,
            retry_after: None,
            allow: Vec::new(),
            extension: None,
        }
    }

    pub fn too_many_requests(
        code: &'static str,
        detail: impl Into<String>,
        retry_after: u64,
    ) -> Self {
        Self::problem(StatusCode::TOO_MANY_REQUESTS, code, detail).with_retry_after(retry_after)
    }

    /// The same problem, telling the client when to retry (`Retry-After`, in seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        if let Self::Problem { retry_after, .. } = &mut self {
            *retry_after = Some(seconds);
        }
        self
    }

    /// The same problem naming the offending fields (`errors` in its body).
    pub fn with_fields(mut self, offending: Vec<FieldError>) -> Self {
        if let Self::Problem { fields, .. } = &mut self {
            *fields = offending;
        }
        self
    }

    /// The same problem with an extension member in its body.
    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> Self {
        if let Self::Problem { extension, .. } = &mut self {
            *extension = Some(Box::new((name, value)));
        }
        self
    }

    /// 405: the resource exists, for these methods only (RFC 9110 15.5.6).
    pub fn method_not_allowed(allow: Vec<String>) -> Self {
        Self::Problem {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            detail: "this route does not accept that method".into(),
            fields: Vec::new(),
            retry_after: None,
            allow,
            extension: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Problem { status, .. } => *status,
            Self::Database(error) if is_bad_text(error) => StatusCode::BAD_REQUEST,
            Self::Database(error) if is_timeout(error) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Problem { code, .. } => code,
            Self::Database(error) if is_bad_text(error) => "invalid_text",
            Self::Database(error) if is_timeout(error) => "database_unavailable",
            Self::Database(_) | Self::Internal(_) => "internal_error",
        }
    }
}

/// Text PostgreSQL cannot store (a NUL character, 22021; an untranslatable one, 22P05).
/// Rejected by the database before any row changes, so it is the client's error.
fn is_bad_text(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("22021" | "22P05")),
        _ => false,
    }
}

fn is_timeout(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut => true,
        // 57014 query_canceled: the statement timeout fired.
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57014"),
        _ => false,
    }
}

/// Whether a database error is a unique violation of `constraint` (or of any, for None).
pub fn is_unique_violation(error: &sqlx::Error, constraint: Option<&str>) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505")
                && constraint.is_none_or(|name| db.constraint() == Some(name))
        }
        _ => false,
    }
}

/// Collects field errors for one validation answer.
#[derive(Debug, Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.0.push(FieldError::new(field, message));
        }
        self
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.0))
        }
    }
}
