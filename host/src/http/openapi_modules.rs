//! The request and response schemas of module routes in the OpenAPI document, from the
//! modules' manifests (`Route::request`, `Route::responses`, checked on upload by
//! `runtime::route_schema`).
//!
//! A manifest schema is a standalone JSON Schema: its own `$defs` and `$ref`s that point into
//! itself (`#/$defs/Address`). In the document each becomes a component of its own, named
//! `<slot>.<name>` so that two modules' `Customer` never collide (the slot is unique within a
//! tenant), and every local `$ref` is rewritten to point at the hoisted component. The root
//! schema is hoisted too (`<slot>.<title>`), so that a `$ref` into the root (`#/properties/x`)
//! still resolves. Two schemas of one module with one name but different content (a partner's
//! two `Address` types) get `<slot>.<name>.2`, ... utoipa's model cannot hold an arbitrary JSON
//! Schema, so this works on the serialised document, like `openapi_webhooks`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::runtime::manifest::Route;

/// The components a document gathers from its modules' schemas.
#[derive(Default)]
pub struct Components {
    /// Component name -> the schema as it sits in the document.
    hoisted: BTreeMap<String, Value>,
    /// Component name -> the schema as the manifest gave it, to tell a repeat from a clash.
    originals: BTreeMap<String, Value>,
}

impl Components {
    /// Sets the operation's `requestBody` and `responses` from the route's schemas; the rest
    /// of the operation (`openapi::add`) stays.
    pub fn describe(&mut self, document: &mut Value, slot: &str, path: &str, route: &Route) {
        let method = route.method.to_ascii_lowercase();
        let Some(operation) = document
            .pointer_mut(&format!("/paths/{}/{method}", escape_pointer(path)))
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let operation_name = format!("{method}{}", path.replace(['/', '{', '}'], "_"));
        if let Some(schema) = &route.request {
            let schema = self.hoist(slot, &format!("{operation_name}.request"), schema);
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        if route.responses.is_empty() {
            return;
        }
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        responses.remove("2XX");
        for (status, schema) in &route.responses {
            let schema = self.hoist(slot, &format!("{operation_name}.{status}"), schema);
            responses.insert(
                status.clone(),
                json!({
                    "description": description(status),
                    "content": {"application/json": {"schema": schema}},
                }),
            );
        }
    }

    /// Adds the gathered schemas to `components.schemas`.
    pub fn finish(self, document: &mut Value) {
        if let Some(schemas) = document
            .pointer_mut("/components")
            .and_then(Value::as_object_mut)
            .map(|components| components.entry("schemas").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
        {
            schemas.extend(self.hoisted);
        }
    }

    /// Hoists `schema` and its `$defs`, answering the `$ref` that stands for it.
    fn hoist(&mut self, slot: &str, fallback_name: &str, schema: &Value) -> Value {
        let mut root = schema.clone();
        let defs = root
            .as_object_mut()
            .and_then(|object| {
                object.remove("$schema");
                object.remove("$defs")
            })
            .and_then(|defs| match defs {
                Value::Object(defs) => Some(defs),
                _ => None,
            })
            .unwrap_or_default();
        let title = root
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(fallback_name);
        let root_name = self.name_for(slot, title, schema);
        let names: BTreeMap<String, String> = defs
            .iter()
            .map(|(name, def)| (name.clone(), self.name_for(slot, name, def)))
            .collect();
        let rewrite = |mut value: Value| {
            rewrite_refs(&mut value, &root_name, &names);
            value
        };
        for (name, def) in &defs {
            self.insert(&names[name], def, rewrite(def.clone()));
        }
        self.insert(&root_name, schema, rewrite(root));
        json!({"$ref": format!("#/components/schemas/{root_name}")})
    }

    /// `<slot>.<name>`, or the first free `<slot>.<name>.N` if that name already holds a
    /// different schema.
    fn name_for(&self, slot: &str, name: &str, original: &Value) -> String {
        let base = format!("{slot}.{}", component_safe(name));
        (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}.{n}")
                }
            })
            .find(|candidate| {
                self.originals
                    .get(candidate)
                    .is_none_or(|existing| existing == original)
            })
            .unwrap_or(base)
    }

    fn insert(&mut self, name: &str, original: &Value, hoisted: Value) {
        self.originals.insert(name.to_owned(), original.clone());
        self.hoisted.insert(name.to_owned(), hoisted);
    }
}

/// Points local `$ref`s at the hoisted components: `#/$defs/X...` at X's component, any other
/// `#...` into the root's. Remote references were refused on upload. Schemas are at most 32
/// levels deep (checked on upload), so the recursion is bounded.
fn rewrite_refs(value: &mut Value, root: &str, defs: &BTreeMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref")
                && let Some(pointer) = reference.strip_prefix('#')
            {
                let target = pointer
                    .strip_prefix("/$defs/")
                    .and_then(|rest| {
                        let (name, tail) = rest.split_once('/').map_or((rest, ""), |(n, t)| (n, t));
                        defs.get(&unescape_pointer(name)).map(|hoisted| {
                            let slash = if tail.is_empty() { "" } else { "/" };
                            format!("{hoisted}{slash}{tail}")
                        })
                    })
                    .unwrap_or_else(|| format!("{root}{pointer}"));
                *reference = format!("#/components/schemas/{target}");
            }
            for (key, child) in object.iter_mut() {
                // `const`, `enum`, `default` and `examples` hold data, not schemas.
                if !matches!(key.as_str(), "const" | "enum" | "default" | "examples") {
                    rewrite_refs(child, root, defs);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_refs(item, root, defs)),
        _ => {}
    }
}

/// OpenAPI component names are `[a-zA-Z0-9._-]+`.
fn component_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        _ => "Success",
    }
}

/// The operation's path for a module route, as `openapi::document` lists it.
pub fn module_path(slot: &str, route_path: &str) -> String {
    format!("/v1/{slot}{route_path}")
        .trim_end_matches('/')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(request: Value, response: Value) -> Route {
        Route {
            method: "POST".into(),
            path: "/customers".into(),
            permission: "crm.write".into(),
            summary: None,
            request: Some(request),
            responses: BTreeMap::from([("201".to_owned(), response)]),
        }
    }

    fn document() -> Value {
        json!({"paths": {"/v1/crm/customers": {"post": {"responses": {
            "2XX": {"description": "Success"}, "default": {"$ref": "#/components/responses/Problem"}}}}},
            "components": {"schemas": {"Problem": {}}}})
    }

    fn customer(city_type: &str) -> Value {
        json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Customer",
               "type": "object",
               "properties": {"address": {"$ref": "#/$defs/Address"}, "copy": {"$ref": "#/properties/address"}},
               "$defs": {"Address": {"type": "object", "properties": {"city": {"type": city_type}}}}})
    }

    #[test]
    fn hoists_defs_under_the_slot_and_rewrites_refs() {
        let mut document = document();
        let mut components = Components::default();
        let crm = route(customer("string"), customer("string"));
        components.describe(&mut document, "crm", "/v1/crm/customers", &crm);
        components.finish(&mut document);
        let operation = &document["paths"]["/v1/crm/customers"]["post"];
        let body = &operation["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["$ref"], "#/components/schemas/crm.Customer");
        assert!(operation["responses"].get("2XX").is_none());
        assert!(operation["responses"]["default"].is_object());
        let schemas = &document["components"]["schemas"];
        let customer = &schemas["crm.Customer"];
        assert_eq!(
            customer["properties"]["address"]["$ref"],
            "#/components/schemas/crm.Address"
        );
        assert_eq!(
            customer["properties"]["copy"]["$ref"],
            "#/components/schemas/crm.Customer/properties/address"
        );
        assert!(customer.get("$defs").is_none() && customer.get("$schema").is_none());
        assert_eq!(
            schemas["crm.Address"]["properties"]["city"]["type"],
            "string"
        );
        assert!(schemas["Problem"].is_object());
    }

    #[test]
    fn two_modules_and_two_shapes_never_collide() {
        let mut document = document();
        let mut components = Components::default();
        components.describe(
            &mut document,
            "crm",
            "/v1/crm/customers",
            &route(customer("string"), customer("string")),
        );
        components.describe(
            &mut document,
            "crm",
            "/v1/crm/customers",
            &route(customer("integer"), customer("string")),
        );
        components.describe(
            &mut document,
            "acme-crm",
            "/v1/crm/customers",
            &route(customer("string"), customer("string")),
        );
        components.finish(&mut document);
        let schemas = document["components"]["schemas"].as_object().unwrap();
        assert_eq!(
            schemas["crm.Address"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(
            schemas["crm.Address.2"]["properties"]["city"]["type"],
            "integer"
        );
        assert_eq!(
            schemas["crm.Customer.2"]["properties"]["address"]["$ref"],
            "#/components/schemas/crm.Address.2"
        );
        assert!(schemas.contains_key("acme-crm.Customer"));
        assert!(
            !schemas.contains_key("crm.Customer.3"),
            "{:?}",
            schemas.keys()
        );
    }
}
