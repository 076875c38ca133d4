//! The catalog of extension points: each point's name, schema version, input and output JSON
//! Schemas, and how the outputs of several extensions combine. `docs/EXTENSIONS.md` documents
//! the same, with examples; a unit test keeps the two in step.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::{job_priority, price_lines};
use crate::runtime::ExtensionFailure;

/// How the outputs of a point's extensions make its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Every extension gets the module's input; the answer is `{"errors": [...]}` with every
    /// extension's errors, in the tenant's order. A failed extension adds none (fails open:
    /// a broken validator blocks nothing).
    UnionOfErrors,
    /// Each extension gets the previous one's output (the first gets the module's input); the
    /// answer is the last output. The output schema is the input's, so every link fits the
    /// next. A failed extension leaves its input unchanged and the chain goes on.
    Chained,
}

/// A rule of a chained point its schema cannot say, checked between one link's input and
/// its output (and the extension's name): why the output breaks it, if it does.
pub type Guard = fn(input: &Value, output: &Value, extension: &str) -> Result<(), String>;

pub struct Point {
    pub name: &'static str,
    /// The version of the schemas, in their `$id`; a change that is not an addition is a new
    /// version.
    pub version: u32,
    pub input: Value,
    pub output: Value,
    pub combine: Combine,
    guard: Option<Guard>,
    input_check: jsonschema::Validator,
    output_check: jsonschema::Validator,
}

impl Point {
    fn new(name: &'static str, input: Value, output: Value, combine: Combine) -> Self {
        let compile = |schema: &Value| {
            jsonschema::validator_for(schema).expect("the catalog's schemas compile")
        };
        Self {
            name,
            version: 1,
            input_check: compile(&input),
            output_check: compile(&output),
            input,
            output,
            combine,
            guard: None,
        }
    }

    /// The point with a rule checked on every link's output after the schema.
    fn guarded(self, guard: Guard) -> Self {
        Self {
            guard: Some(guard),
            ..self
        }
    }

    /// `output` of the extension named `extension`, run on `input`, if it keeps the point's
    /// rule (always, for a point without one).
    pub fn guard(
        &self,
        input: &Value,
        output: Value,
        extension: &str,
    ) -> Result<Value, ExtensionFailure> {
        match self.guard.map(|guard| guard(input, &output, extension)) {
            Some(Err(why)) => Err(ExtensionFailure::BrokeRule(why)),
            _ => Ok(output),
        }
    }

    /// Why `input` does not fit the input schema (the first reason), if it does not.
    pub fn misfit_input(&self, input: &Value) -> Option<String> {
        misfit(&self.input_check, input)
    }

    /// Why `output` does not fit the output schema, if it does not.
    pub fn misfit_output(&self, output: &Value) -> Option<String> {
        misfit(&self.output_check, output)
    }

    /// The answer with no extension installed (or every one failed).
    pub fn empty_answer(&self, input: &Value) -> Value {
        match self.combine {
            Combine::UnionOfErrors => json!({"errors": []}),
            Combine::Chained => input.clone(),
        }
    }
}

fn misfit(validator: &jsonschema::Validator, value: &Value) -> Option<String> {
    validator.iter_errors(value).next().map(|error| {
        let at = error.instance_path().to_string();
        let at = if at.is_empty() { "/".to_owned() } else { at };
        format!("at {at}: {error}")
    })
}

pub(super) fn id(point: &str, which: &str) -> String {
    format!("https://verofield.dev/schemas/extensions/{point}/v1/{which}.json")
}

static CATALOG: LazyLock<Vec<Point>> = LazyLock::new(|| {
    vec![
        Point::new(
            "jobs.validate",
            json!({
                "$id": id("jobs.validate", "input"),
                "type": "object",
                "required": ["operation", "job"],
                "additionalProperties": false,
                "properties": {
                    "operation": {"enum": ["create", "update"]},
                    "job": {"type": "object", "description": "The job's columns as they would be stored"}
                }
            }),
            json!({
                "$id": id("jobs.validate", "output"),
                "type": "object",
                "required": ["errors"],
                "additionalProperties": false,
                "properties": {
                    "errors": {
                        "type": "array",
                        "maxItems": 50,
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "additionalProperties": false,
                            "properties": {
                                "field": {"type": "string", "minLength": 1, "maxLength": 100},
                                "message": {"type": "string", "minLength": 1, "maxLength": 500}
                            }
                        }
                    }
                }
            }),
            Combine::UnionOfErrors,
        ),
        Point::new(
            "crm.customer_defaults",
            customer_defaults("input"),
            customer_defaults("output"),
            Combine::Chained,
        ),
        Point::new(
            price_lines::POINT,
            price_lines::schema("input"),
            price_lines::schema("output"),
            Combine::Chained,
        )
        .guarded(price_lines::guard),
        Point::new(
            job_priority::POINT,
            job_priority::schema("input"),
            job_priority::schema("output"),
            Combine::Chained,
        )
        .guarded(job_priority::guard),
    ]
});

/// `crm.customer_defaults`'s input and output (the same shape, as the point is chained): the
/// customer as the client sent it, normalized. The members the CRM lets an extension fill are
/// typed as the CRM checks them, so a default that fits the schema fits the CRM too; the others
/// are the client's, free here and ignored by the CRM in the output.
fn customer_defaults(which: &str) -> Value {
    json!({
        "$id": id("crm.customer_defaults", which),
        "type": "object",
        "required": ["customer"],
        "additionalProperties": false,
        "properties": {
            "customer": {
                "type": "object",
                "properties": {
                    "kind": {"enum": ["residential", "commercial"]},
                    "status": {"enum": ["active", "inactive", "lead"]},
                    "tags": {
                        "type": "array",
                        "maxItems": 50,
                        "items": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "\\S"}
                    },
                    "notes": {"type": "string", "maxLength": 10000}
                }
            }
        }
    })
}

/// The point of this name.
pub fn point(name: &str) -> Option<&'static Point> {
    CATALOG.iter().find(|point| point.name == name)
}

/// Every point, in catalog order.
pub fn all() -> &'static [Point] {
    &CATALOG
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_is_documented_with_its_schemas() {
        let doc = include_str!("../../../docs/EXTENSIONS.md");
        for point in all() {
            assert!(
                doc.contains(&format!("## `{}`", point.name)),
                "{}",
                point.name
            );
            assert!(doc.contains(&id(point.name, "input")), "{}", point.name);
            assert!(doc.contains(&id(point.name, "output")), "{}", point.name);
        }
    }

    #[test]
    fn customer_defaults_type_only_the_fillable_members() {
        let point = point("crm.customer_defaults").unwrap();
        let fits = json!({"customer": {"name": "Ann", "email": null, "tags": ["residential"]}});
        assert_eq!(point.misfit_output(&fits), None);
        assert_eq!(point.empty_answer(&fits), fits);
        for bad in [
            json!({"customer": {"tags": [" "]}}),
            json!({"customer": {"kind": "castle"}}),
            json!({"customer": {}, "more": 1}),
        ] {
            assert!(point.misfit_output(&bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn validation_errors_fit_and_misfits_are_named() {
        let point = point("jobs.validate").unwrap();
        assert_eq!(
            point.misfit_output(&json!({"errors": [{"field": "notes", "message": "x"}]})),
            None
        );
        let why = point
            .misfit_output(&json!({"errors": [{"field": "notes"}]}))
            .unwrap();
        assert!(why.contains("/errors/0"), "{why}");
        assert!(
            point
                .misfit_input(&json!({"operation": "delete", "job": {}}))
                .is_some()
        );
    }
}
