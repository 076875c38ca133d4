//! Checking custom values against definitions, and resolving `custom.<key>` in store
//! queries. Pure functions: the store loads the definitions and calls these.

use serde_json::{Map, Value};

use super::{Definition, is_key};
use crate::runtime::capabilities::store::{Filter, SelectQuery, StoreError, invalid_column};

/// Why `value` does not fit the definition, or `None` if it does.
pub fn misfit(definition: &Definition, value: &Value) -> Option<String> {
    let fits = match (definition.kind.as_str(), value) {
        ("text", Value::String(s)) => s.chars().count() <= 1000 && !s.contains('\0'),
        ("number", Value::Number(_)) => true,
        ("money", Value::Number(n)) => n.is_i64(),
        ("boolean", Value::Bool(_)) => true,
        ("date", Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .is_ok_and(|d| s.len() == 10 && d.format("%Y-%m-%d").to_string() == *s),
        ("enum", Value::String(s)) => definition.enum_values.contains(s),
        _ => false,
    };
    (!fits).then(|| match definition.kind.as_str() {
        "text" => "expects text of at most 1000 characters".into(),
        "number" => "expects a number".into(),
        "money" => "expects an integer amount in minor units".into(),
        "boolean" => "expects true or false".into(),
        "date" => "expects a date (YYYY-MM-DD)".into(),
        _ => format!("expects one of {}", definition.enum_values.join(", ")),
    })
}

fn field(key: &str) -> String {
    format!("custom.{key}")
}

/// The `custom` object to store for `given` (absent: an empty object): every key defined,
/// each value of its type, required ones present, defaults filled for absent ones; a `null`
/// value clears the key. The first fault is an `invalid` store error naming `custom.<key>`,
/// which the SDK answers as a 422 with that field.
pub fn check(definitions: &[Definition], given: Option<&Value>) -> Result<Value, StoreError> {
    let given = match given {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(object)) => object.clone(),
        Some(_) => return Err(invalid_column("custom", "expects an object")),
    };
    let mut stored = Map::new();
    for (key, value) in given {
        let Some(definition) = definitions.iter().find(|d| d.key == key) else {
            return Err(invalid_column(
                &field(&key),
                "is not a defined custom field",
            ));
        };
        if value.is_null() {
            continue;
        }
        if let Some(why) = misfit(definition, &value) {
            return Err(invalid_column(&field(&key), why));
        }
        stored.insert(key, value);
    }
    for definition in definitions {
        if stored.contains_key(&definition.key) {
            continue;
        }
        match (&definition.default, definition.required) {
            (Some(default), _) => {
                stored.insert(definition.key.clone(), default.clone());
            }
            (None, true) => return Err(invalid_column(&field(&definition.key), "is required")),
            (None, false) => {}
        }
    }
    Ok(Value::Object(stored))
}

/// The defined key a `custom.<key>` column names, or `None` for an ordinary column.
fn custom_key<'a>(
    definitions: &'a [Definition],
    column: &str,
) -> Option<Result<&'a Definition, StoreError>> {
    let key = column.strip_prefix("custom.")?;
    Some(
        definitions
            .iter()
            .find(|d| is_key(key) && d.key == key)
            .ok_or_else(|| invalid_column(column, "is not a defined custom field")),
    )
}

/// A query-string value (always text) as the JSON value of the field's type.
fn typed(definition: &Definition, column: &str, value: &Value) -> Result<Value, StoreError> {
    let typed = match (definition.kind.as_str(), value) {
        ("number" | "money", Value::String(s)) => serde_json::from_str::<serde_json::Number>(s)
            .map(Value::Number)
            .unwrap_or_else(|_| value.clone()),
        ("boolean", Value::String(s)) if s == "true" || s == "false" => Value::Bool(s == "true"),
        _ => value.clone(),
    };
    match misfit(definition, &typed) {
        Some(why) => Err(invalid_column(column, why)),
        None => Ok(typed),
    }
}

fn resolve_filter(definitions: &[Definition], filter: &mut Filter) -> Result<(), StoreError> {
    match filter {
        Filter::And(children) | Filter::Or(children) => children
            .iter_mut()
            .try_for_each(|child| resolve_filter(definitions, child)),
        Filter::Not(child) => resolve_filter(definitions, child),
        Filter::Compare { column, value, op } => {
            let Some(definition) = custom_key(definitions, column) else {
                return Ok(());
            };
            let definition = definition?;
            if *op != crate::runtime::capabilities::store::CompareOp::IsNull {
                *value = typed(definition, column, value)?;
            }
            Ok(())
        }
    }
}

/// Checks every `custom.<key>` a query filters or sorts on against the definitions and
/// turns filter values to the field's type (`?custom.size=5` compares with the number 5).
pub fn resolve_query(
    definitions: &[Definition],
    query: &mut SelectQuery,
) -> Result<(), StoreError> {
    if let Some(filter) = &mut query.filter {
        resolve_filter(definitions, filter)?;
    }
    for order in &query.order {
        if let Some(definition) = custom_key(definitions, &order.column) {
            definition?;
        }
    }
    Ok(())
}

/// Whether a query names any `custom.<key>` (so the definitions are worth loading).
pub fn mentions_custom(query: &SelectQuery) -> bool {
    fn in_filter(filter: &Filter) -> bool {
        match filter {
            Filter::And(children) | Filter::Or(children) => children.iter().any(in_filter),
            Filter::Not(child) => in_filter(child),
            Filter::Compare { column, .. } => column.starts_with("custom."),
        }
    }
    query.filter.as_ref().is_some_and(in_filter)
        || query.order.iter().any(|o| o.column.starts_with("custom."))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition(key: &str, kind: &str) -> Definition {
        Definition {
            entity: "customer".into(),
            key: key.into(),
            label: key.into(),
            kind: kind.into(),
            required: false,
            default: None,
            enum_values: vec!["gold".into(), "silver".into()],
            shown_in_lists: false,
            version: 1,
        }
    }

    fn refused(definitions: &[Definition], given: Value) -> String {
        match check(definitions, Some(&given)) {
            Err(StoreError::Invalid(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_of_each_type_are_checked_and_named_by_field() {
        let defs = ["text", "number", "boolean", "date", "enum", "money"]
            .map(|kind| definition(kind, kind));
        let good = json!({"text": "x", "number": 2.5, "boolean": true,
                          "date": "2026-12-07", "enum": "gold", "money": 1250});
        assert_eq!(check(&defs, Some(&good)).unwrap(), good);
        for (key, bad) in [
            ("text", json!(1)),
            ("number", json!("1")),
            ("boolean", json!(0)),
            ("date", json!("2026-13-01")),
            ("enum", json!("bronze")),
            ("money", json!(12.5)),
        ] {
            assert!(
                refused(&defs, json!({key: bad})).starts_with(&format!("column `custom.{key}`"))
            );
        }
        assert_eq!(
            refused(&defs, json!({"nope": 1})),
            "column `custom.nope`: is not a defined custom field"
        );
        assert_eq!(
            refused(&defs, json!([1])),
            "column `custom`: expects an object"
        );
    }

    #[test]
    fn required_fields_and_defaults() {
        let mut tier = definition("tier", "enum");
        tier.required = true;
        let mut vip = definition("vip", "boolean");
        vip.default = Some(json!(false));
        let defs = [tier, vip];
        assert_eq!(
            refused(&defs, json!({})),
            "column `custom.tier`: is required"
        );
        assert_eq!(
            check(&defs, Some(&json!({"tier": "gold"}))).unwrap(),
            json!({"tier": "gold", "vip": false})
        );
        assert_eq!(
            check(&defs, Some(&json!({"tier": "gold", "vip": null}))).unwrap(),
            json!({"tier": "gold", "vip": false})
        );
    }

    #[test]
    fn queries_name_only_defined_keys_and_get_typed_values() {
        let defs = [definition("size", "number"), definition("vip", "boolean")];
        let query = |column: &str, value: Value| SelectQuery {
            table: "crm_customers".into(),
            filter: Some(Filter::Compare {
                column: column.into(),
                op: crate::runtime::capabilities::store::CompareOp::Eq,
                value,
            }),
            order: vec![],
            cursor: None,
            limit: 10,
        };
        let mut sized = query("custom.size", json!("5"));
        resolve_query(&defs, &mut sized).unwrap();
        assert!(matches!(sized.filter, Some(Filter::Compare { value, .. }) if value == json!(5)));
        let mut flag = query("custom.vip", json!("true"));
        resolve_query(&defs, &mut flag).unwrap();
        assert!(matches!(flag.filter, Some(Filter::Compare { value, .. }) if value == json!(true)));
        for column in ["custom.other", "custom.Size", "custom.size'--", "custom."] {
            assert!(
                resolve_query(&defs, &mut query(column, json!("5"))).is_err(),
                "{column}"
            );
        }
        assert!(resolve_query(&defs, &mut query("custom.size", json!("big"))).is_err());
        assert!(mentions_custom(&query("custom.size", json!(1))));
        assert!(!mentions_custom(&query("name", json!(1))));
    }
}
