//! Extension points (issue 24): a core module hands a named point its input
//! (`extensions.run("jobs.validate", input)`), and the host runs the extensions the calling
//! tenant installed there, in the tenant's order, and combines their outputs as the point
//! defines ([`points`]).
//!
//! An extension is a pure component (`world extension`), uploaded by the operator
//! (`POST /v1/operator/extensions`) and installed per point by a tenant admin
//! (`PUT /v1/tenant/extensions/{point}`); the rows are in migration 0021. It runs on its own
//! fuel-metered engine ([`crate::runtime::extension`]). Whatever an extension does wrong (a
//! trap, its fuel or memory spent, output too large, not JSON, out of the point's schema) is
//! handled by the point's failure rule, logged and recorded for the tenant's admins
//! (`GET /v1/tenant/extensions/failures`); the module's call goes on. Only the module's own
//! mistake (an unknown point, input out of schema) reaches it as an error.

mod backend;
mod job_priority;
pub mod points;
mod price_lines;

use serde_json::Value;

pub use self::backend::{Failure, PgExtensions, installed, record_failures};
use self::points::{Combine, Point};
use crate::runtime::capabilities::extensions::ExtensionError;
use crate::runtime::{ExtensionBudget, ExtensionFailure, ExtensionRunner, LoadedExtension};

/// The point and the parsed input, or the module's mistake.
fn checked(point: &str, input: &str) -> Result<(&'static Point, Value), ExtensionError> {
    let found =
        points::point(point).ok_or_else(|| ExtensionError::UnknownPoint(point.to_owned()))?;
    let value: Value = serde_json::from_str(input)
        .map_err(|error| ExtensionError::InvalidInput(format!("not JSON: {error}")))?;
    if let Some(why) = found.misfit_input(&value) {
        return Err(ExtensionError::InvalidInput(why));
    }
    Ok((found, value))
}

/// A point run for a tenant with nothing installed: the input checked, the empty answer, and
/// nothing instantiated.
pub fn uninstalled(point: &str, input: &str) -> Result<String, ExtensionError> {
    let (point, input) = checked(point, input)?;
    Ok(point.empty_answer(&input).to_string())
}

/// Runs `installed` (in order, each within its own budget) at `point` and combines their
/// outputs; each extension that failed is in the second half of the answer, with why.
pub async fn run_installed(
    runner: &ExtensionRunner,
    point: &'static Point,
    input: &Value,
    installed: &[(std::sync::Arc<LoadedExtension>, ExtensionBudget)],
) -> (Value, Vec<(usize, ExtensionFailure)>) {
    let mut failures = Vec::new();
    let mut answer = point.empty_answer(input);
    for (index, (extension, budget)) in installed.iter().enumerate() {
        let text = match point.combine {
            Combine::UnionOfErrors => input.to_string(),
            Combine::Chained => answer.to_string(),
        };
        let started = std::time::Instant::now();
        let (outcome, cost) = runner.run(extension, budget, point.name, &text).await;
        tracing::debug!(point = point.name, digest = %extension.digest, fuel = cost.fuel,
            memory_bytes = cost.memory_bytes, wall_us = started.elapsed().as_micros() as u64,
            "an extension ran");
        let checked = outcome
            .and_then(|output| output_of(point, &output))
            .and_then(|output| point.guard(&answer, output, &extension.manifest.name));
        match checked {
            Ok(output) => match point.combine {
                Combine::UnionOfErrors => merge_errors(&mut answer, output),
                Combine::Chained => answer = output,
            },
            Err(failure) => failures.push((index, failure)),
        }
    }
    (answer, failures)
}

/// The output parsed and checked against the point's output schema.
fn output_of(point: &Point, output: &str) -> Result<Value, ExtensionFailure> {
    let value: Value = serde_json::from_str(output)
        .map_err(|error| ExtensionFailure::OutOfSchema(format!("not JSON: {error}")))?;
    match point.misfit_output(&value) {
        Some(why) => Err(ExtensionFailure::OutOfSchema(why)),
        None => Ok(value),
    }
}

fn merge_errors(answer: &mut Value, output: Value) {
    let Value::Object(mut output) = output else {
        return;
    };
    let Some(Value::Array(more)) = output.remove("errors") else {
        return;
    };
    if let Some(Value::Array(errors)) = answer.get_mut("errors") {
        errors.extend(more);
    }
}
