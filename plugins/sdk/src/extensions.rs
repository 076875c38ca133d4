//! Extension points (the `extensions` import, `docs/EXTENSIONS.md`): a core module hands a
//! point its input and gets the combined answer of the extensions its tenant installed there.
//! The host handles every failure of an extension by the point's rule, so the only errors
//! here are the module's own (an unknown point, input out of the point's schema), which are
//! bugs: they answer 500.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::verofield::platform::extensions::{self as wit, ExtensionError};
use crate::problem::{FieldError, Problem};

/// Runs `point` with `input`; its combined output as `O`.
pub fn run<I: Serialize, O: DeserializeOwned>(point: &str, input: &I) -> Result<O, Problem> {
    let input = serde_json::to_string(input)
        .map_err(|_| Problem::internal("an extension point's input does not serialise"))?;
    let output = wit::run(point, &input).map_err(|error| match error {
        ExtensionError::UnknownPoint(_) => Problem::internal("no such extension point"),
        ExtensionError::InvalidInput(_) => {
            Problem::internal("the input does not fit the extension point's schema")
        }
        ExtensionError::Unavailable(_) => Problem::new(
            503,
            "module_backend_unavailable",
            "the tenant's extensions could not be read",
        ),
    })?;
    serde_json::from_str(&output)
        .map_err(|_| Problem::internal("an extension point answered out of its schema"))
}

#[derive(serde::Deserialize)]
struct Verdict {
    errors: Vec<Field>,
}

#[derive(serde::Deserialize)]
struct Field {
    field: String,
    message: String,
}

/// Runs a validation point (`jobs.validate`): `Ok` when no extension objects, else 422
/// `validation_failed` with every field error the extensions gave.
pub fn validate<I: Serialize>(point: &str, input: &I) -> Result<(), Problem> {
    let verdict: Verdict = run(point, input)?;
    if verdict.errors.is_empty() {
        return Ok(());
    }
    Err(Problem::validation(
        verdict
            .errors
            .into_iter()
            .map(|error| FieldError::new(error.field, error.message))
            .collect(),
    ))
}
