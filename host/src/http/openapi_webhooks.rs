//! The OpenAPI 3.1 `webhooks` section: one entry per event type of [`crate::event_catalog`],
//! each a `POST` to the tenant's endpoint whose body is the webhook envelope with that type's
//! payload as `data`, and the payload schemas under `components.schemas` as
//! `Event.<type>`. utoipa 5 has no `webhooks` field, so the section is added to the
//! serialised document; a partner's tooling reads it as standard 3.1.

use serde_json::{Map, Value, json};

use crate::event_catalog::{EVENT_TYPES, EventType, Field, FieldType};

/// Adds `webhooks` and the `Event.*` / `EventEnvelope` schemas to `document`.
pub fn add(document: &mut Value) {
    let mut webhooks = Map::new();
    let mut schemas = Map::new();
    schemas.insert("EventEnvelope".into(), envelope());
    for event in EVENT_TYPES {
        schemas.insert(schema_name(event.name), payload_schema(event));
        webhooks.insert(event.name.into(), webhook(event));
    }
    document["webhooks"] = Value::Object(webhooks);
    if let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
    {
        let existing = components.entry("schemas").or_insert_with(|| json!({}));
        if let Some(existing) = existing.as_object_mut() {
            existing.extend(schemas);
        }
    }
}

fn schema_name(event_type: &str) -> String {
    format!("Event.{event_type}")
}

/// What every delivery's body is (`webhooks::WebhookEvent::body`).
fn envelope() -> Value {
    json!({
        "type": "object",
        "description": "The body of every webhook delivery. Deliveries are at least once: \
                        deduplicate on `id` (also the `webhook-id` header). See docs/EVENTS.md.",
        "required": ["id", "type", "timestamp", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "The event id, stable across retries"},
            "type": {"type": "string", "description": "The event type"},
            "timestamp": {"type": "string", "format": "date-time", "description": "When the event occurred (RFC 3339, UTC)"},
            "data": {"type": "object", "description": "The payload, per type"},
        },
    })
}

fn webhook(event: &EventType) -> Value {
    let body = json!({
        "allOf": [
            {"$ref": "#/components/schemas/EventEnvelope"},
            {
                "type": "object",
                "properties": {
                    "type": {"const": event.name},
                    "data": {"$ref": format!("#/components/schemas/{}", schema_name(event.name))},
                },
            },
        ],
    });
    json!({
        "post": {
            "summary": event.name,
            "description": format!("{} Emitted by: {}.", event.when, event.emitted_by.join(", ")),
            "tags": ["events"],
            "parameters": [
                header("webhook-id", "The event id: the same on every retry"),
                header("webhook-timestamp", "Unix seconds of this attempt"),
                header("webhook-signature", "`v1,<base64 HMAC-SHA256>` (Standard Webhooks)"),
            ],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": body}},
            },
            "responses": {
                "2XX": {"description": "Received; any other answer is retried with backoff"},
            },
        },
    })
}

fn header(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "header",
        "required": true,
        "description": description,
        "schema": {"type": "string"},
    })
}

fn payload_schema(event: &EventType) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in event.fields {
        properties.insert(field.name.into(), field_schema(field));
        if !field.optional {
            required.push(field.name);
        }
    }
    json!({
        "type": "object",
        "description": event.when,
        "required": required,
        "properties": properties,
    })
}

fn field_schema(field: &Field) -> Value {
    let mut schema = match field.kind {
        FieldType::Uuid => json!({"type": "string", "format": "uuid"}),
        FieldType::Text => json!({"type": "string"}),
        FieldType::Integer => json!({"type": "integer"}),
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Instant => json!({"type": "string", "format": "date-time"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Uuids => json!({"type": "array", "items": {"type": "string", "format": "uuid"}}),
        FieldType::Texts => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::Array => json!({"type": "array"}),
        FieldType::Object => json!({"type": "object"}),
    };
    if field.nullable {
        let kind = schema["type"].clone();
        schema["type"] = json!([kind, "null"]);
    }
    schema["description"] = json!(field.description);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        let mut document = json!({"openapi": "3.1.0", "components": {"schemas": {"Problem": {}}}});
        add(&mut document);
        document
    }

    #[test]
    fn every_catalog_type_is_a_webhook_and_nothing_else_is() {
        let document = document();
        let mut webhooks: Vec<&str> = document["webhooks"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut catalog: Vec<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
        webhooks.sort_unstable();
        catalog.sort_unstable();
        assert_eq!(webhooks, catalog);
    }

    #[test]
    fn payload_schemas_sit_beside_the_existing_ones() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        assert!(schemas.get("Problem").is_some());
        let completed = &schemas["Event.job.completed"];
        assert!(
            completed["required"]
                .as_array()
                .unwrap()
                .contains(&json!("customer_id"))
        );
        assert_eq!(
            completed["properties"]["started_at"]["type"],
            json!(["string", "null"])
        );
        let reference = &document["webhooks"]["job.completed"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["allOf"][1]["properties"]["data"]["$ref"];
        assert_eq!(reference, "#/components/schemas/Event.job.completed");
    }
}
