//! A tenant's custom fields in its OpenAPI document (issue 24 item 2). Each entity with
//! definitions gets a component `custom.<entity>` (one property per field, typed as the
//! store checks it: `enum` values, `money` as integer minor units, `date` as a date string;
//! fields required without a default listed as `required`; no other keys). The `custom`
//! property of every request body on that entity's paths points at it, and the entity's list
//! operation names a `custom.<key>` query parameter per field. The definitions are read in the
//! caller's tenant transaction, so another tenant's document shows none of them. Like
//! `openapi_modules`, this works on the serialised document: the request schemas come from
//! module manifests, which utoipa's model cannot hold.

use serde_json::{Map, Value, json};

use crate::custom_fields::Definition;

/// The list path of each entity; requests under it (and a customer's locations) carry it.
const LISTS: [(&str, &str); 4] = [
    ("customer", "/v1/crm/customers"),
    ("location", "/v1/crm/locations"),
    ("job", "/v1/jobs"),
    ("agreement", "/v1/agreements"),
];

/// The entity whose rows a path's request bodies write, if any.
fn entity_of(path: &str) -> Option<&'static str> {
    if path.starts_with("/v1/crm/customers/") && path.contains("/locations") {
        return Some("location");
    }
    LISTS
        .iter()
        .find(|(_, list)| path == *list || path.starts_with(&format!("{list}/")))
        .map(|(entity, _)| *entity)
}

/// The JSON Schema of one field's values.
fn field_schema(definition: &Definition) -> Value {
    let mut schema = match definition.kind.as_str() {
        "text" => json!({"type": "string", "maxLength": 1000}),
        "number" => json!({"type": "number"}),
        "boolean" => json!({"type": "boolean"}),
        "date" => json!({"type": "string", "format": "date"}),
        "enum" => json!({"type": "string", "enum": definition.enum_values}),
        "money" => {
            json!({"type": "integer", "description": "Minor units of the tenant's currency."})
        }
        _ => json!({}),
    };
    schema["title"] = json!(definition.label);
    if let Some(default) = &definition.default {
        schema["default"] = default.clone();
    }
    schema
}

/// The `custom.<entity>` component for an entity's definitions.
fn entity_schema(definitions: &[&Definition]) -> Value {
    let properties: Map<String, Value> = definitions
        .iter()
        .map(|d| (d.key.clone(), field_schema(d)))
        .collect();
    let required: Vec<&str> = definitions
        .iter()
        .filter(|d| d.required && d.default.is_none())
        .map(|d| d.key.as_str())
        .collect();
    json!({"type": "object", "properties": properties, "required": required,
           "additionalProperties": false})
}

/// Adds the tenant's `definitions` to `document` (see the module comment).
pub fn add(document: &mut Value, definitions: &[Definition]) {
    for (entity, list) in LISTS {
        let of_entity: Vec<&Definition> =
            definitions.iter().filter(|d| d.entity == entity).collect();
        if of_entity.is_empty() {
            continue;
        }
        let name = format!("custom.{entity}");
        document["components"]["schemas"][&name] = entity_schema(&of_entity);
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        for schema in request_schemas(document, entity) {
            point_custom_at(document, &schema, &reference);
        }
        if let Some(parameters) = document
            .pointer_mut(&format!("/paths/{}/get", list.replace('/', "~1")))
            .and_then(Value::as_object_mut)
            .map(|get| get.entry("parameters").or_insert_with(|| json!([])))
            .and_then(Value::as_array_mut)
        {
            parameters.extend(of_entity.iter().map(|d| {
                json!({"name": format!("custom.{}", d.key), "in": "query", "required": false,
                       "description": format!("Only rows whose `{}` equals this value.", d.label),
                       "schema": field_schema(d)})
            }));
        }
    }
}

/// The request body schemas of the operations on `entity`'s paths, as found.
fn request_schemas(document: &Value, entity: &str) -> Vec<Value> {
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return Vec::new();
    };
    paths
        .iter()
        .filter(|(path, _)| entity_of(path) == Some(entity))
        .flat_map(|(_, operations)| operations.as_object().into_iter().flatten())
        .filter_map(|(_, operation)| {
            operation
                .pointer("/requestBody/content/application~1json/schema")
                .cloned()
        })
        .collect()
}

/// Replaces the `custom` property of `schema` (inline, or the component it refers to).
fn point_custom_at(document: &mut Value, schema: &Value, reference: &Value) {
    let target = match schema.get("$ref").and_then(Value::as_str) {
        Some(component) => component
            .strip_prefix("#/")
            .map(|pointer| format!("/{pointer}"))
            .and_then(|pointer| document.pointer_mut(&pointer)),
        None => None,
    };
    if let Some(property) = target
        .and_then(|component| component.get_mut("properties"))
        .and_then(|properties| properties.get_mut("custom"))
    {
        *property = reference.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(entity: &str, key: &str, kind: &str, required: bool) -> Definition {
        Definition {
            entity: entity.into(),
            key: key.into(),
            label: key.to_uppercase(),
            kind: kind.into(),
            required,
            default: None,
            enum_values: vec!["gold".into(), "silver".into()],
            shown_in_lists: false,
            version: 1,
        }
    }

    #[test]
    fn paths_name_the_entity_they_write() {
        assert_eq!(entity_of("/v1/crm/customers/{id}"), Some("customer"));
        assert_eq!(
            entity_of("/v1/crm/customers/{id}/locations"),
            Some("location")
        );
        assert_eq!(entity_of("/v1/jobs/{id}/status"), Some("job"));
        assert_eq!(entity_of("/v1/jobsite"), None);
        assert_eq!(entity_of("/v1/tenant/custom-fields"), None);
    }

    #[test]
    fn the_custom_property_and_list_parameters_follow_the_definitions() {
        let mut document = json!({
            "paths": {"/v1/jobs": {
                "get": {"parameters": []},
                "post": {"requestBody": {"content": {"application/json": {"schema":
                    {"$ref": "#/components/schemas/jobs.NewJob"}}}}}}},
            "components": {"schemas": {"jobs.NewJob": {"properties": {"custom": {}}}}}
        });
        let fields = [
            definition("job", "tier", "enum", true),
            definition("customer", "size", "number", false),
        ];
        add(&mut document, &fields);
        let custom = &document["components"]["schemas"]["custom.job"];
        assert_eq!(
            custom["properties"]["tier"]["enum"],
            json!(["gold", "silver"])
        );
        assert_eq!(custom["required"], json!(["tier"]));
        assert_eq!(
            document["components"]["schemas"]["jobs.NewJob"]["properties"]["custom"]["$ref"],
            "#/components/schemas/custom.job"
        );
        assert_eq!(
            document["paths"]["/v1/jobs"]["get"]["parameters"][0]["name"],
            "custom.tier"
        );
        assert!(document["components"]["schemas"]["custom.customer"].is_object());
    }
}
