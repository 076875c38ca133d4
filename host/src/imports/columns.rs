//! The columns each kind of import reads and each export writes, and how a cell becomes a
//! JSON value of the module's body (and back). One table per kind, so the importer, the
//! exporter and their tests agree on every column by construction.
//!
//! A cell holds text; the host turns it into the JSON type the module's field takes (a
//! number, a boolean, a list split on `;`, working hours) and refuses only what it cannot
//! turn (`"abc"` for a latitude), naming the column. Everything else (lengths, e-mails,
//! ranges, required fields, custom-field rules) is the module's and the store's own
//! validation: the importer calls the module, it does not repeat its rules.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Kind;
use crate::custom_fields::Definition;

/// How a cell's text becomes a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Text,
    Integer,
    Number,
    Boolean,
    /// Items separated by `;`, trimmed, empty ones dropped.
    List,
    /// Working hours: `mon 08:00-12:00 13:00-17:00; tue 08:00-17:00`.
    Hours,
}

/// Which body of a row a column fills: the record itself, or (customers) its location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Record,
    Location,
}

/// One importable column: its name (also the export's header), the body it fills, the JSON
/// path inside that body and how its cell reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub part: Part,
    pub path: Vec<String>,
    pub cell: Cell,
}

/// The column every kind has: the record's id in the system it came from.
pub const EXTERNAL_ID: &str = "external_id";

const CUSTOMER: &[(&str, Cell)] = &[
    ("name", Cell::Text),
    ("kind", Cell::Text),
    ("email", Cell::Text),
    ("phone", Cell::Text),
    ("status", Cell::Text),
    ("tags", Cell::List),
    ("notes", Cell::Text),
];
const LOCATION: &[(&str, &str, Cell)] = &[
    ("location.label", "label", Cell::Text),
    ("location.line1", "address.line1", Cell::Text),
    ("location.line2", "address.line2", Cell::Text),
    ("location.city", "address.city", Cell::Text),
    ("location.region", "address.region", Cell::Text),
    ("location.postal_code", "address.postal_code", Cell::Text),
    ("location.country", "address.country", Cell::Text),
    ("location.latitude", "latitude", Cell::Number),
    ("location.longitude", "longitude", Cell::Number),
    ("location.access_notes", "access_notes", Cell::Text),
];
const TECHNICIAN: &[(&str, Cell)] = &[
    ("name", Cell::Text),
    ("email", Cell::Text),
    ("phone", Cell::Text),
    ("skills", Cell::List),
    ("time_zone", Cell::Text),
    ("working_hours", Cell::Hours),
    ("home_latitude", Cell::Number),
    ("home_longitude", Cell::Number),
    ("active", Cell::Boolean),
];
const SERVICE_TYPE: &[(&str, Cell)] = &[
    ("name", Cell::Text),
    ("description", Cell::Text),
    ("default_duration_minutes", Cell::Integer),
    ("default_price_minor", Cell::Integer),
    ("currency", Cell::Text),
    ("required_skills", Cell::List),
    ("active", Cell::Boolean),
];

/// The columns of `kind` in export order (after `external_id`), the tenant's custom fields
/// last as `custom.<key>` (`definitions` are the kind's entity's, ordered by key).
pub fn of(kind: Kind, definitions: &[Definition]) -> Vec<Column> {
    let plain = |(name, cell): &(&str, Cell)| Column {
        name: (*name).to_owned(),
        part: Part::Record,
        path: vec![(*name).to_owned()],
        cell: *cell,
    };
    let mut columns: Vec<Column> = match kind {
        Kind::Customers => CUSTOMER.iter().map(plain).collect(),
        Kind::Technicians => TECHNICIAN.iter().map(plain).collect(),
        Kind::ServiceTypes => SERVICE_TYPE.iter().map(plain).collect(),
    };
    columns.extend(definitions.iter().map(|definition| Column {
        name: format!("custom.{}", definition.key),
        part: Part::Record,
        path: vec!["custom".to_owned(), definition.key.clone()],
        cell: match definition.kind.as_str() {
            "number" => Cell::Number,
            "money" => Cell::Integer,
            "boolean" => Cell::Boolean,
            _ => Cell::Text,
        },
    }));
    if kind == Kind::Customers {
        columns.extend(LOCATION.iter().map(|(name, path, cell)| Column {
            name: (*name).to_owned(),
            part: Part::Location,
            path: path.split('.').map(str::to_owned).collect(),
            cell: *cell,
        }));
    }
    columns
}

/// The column a module's field error names: `address.city` of a location is
/// `location.city`, `custom.size` of a customer is `custom.size`.
pub fn column_of_field(columns: &[Column], part: Part, field: &str) -> Option<String> {
    columns
        .iter()
        .filter(|column| column.part == part)
        .find(|column| {
            let path = column.path.join(".");
            field == path || field.starts_with(&format!("{path}."))
        })
        .map(|column| column.name.clone())
}

/// Whether a spreadsheet would run `text` as a formula (OWASP's list of first characters).
pub fn is_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The cell's value, or what is wrong with it. An empty cell is `None` (the field is left
/// out of the body). The `'` an export puts before a would-be formula is dropped.
pub fn read(cell: Cell, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    let text = match text.strip_prefix('\'') {
        Some(rest) if is_formula(rest) => rest,
        _ => text,
    };
    if text.is_empty() {
        return Ok(None);
    }
    let value = match cell {
        Cell::Text => Value::String(text.to_owned()),
        Cell::Integer => json!(
            text.parse::<i64>()
                .map_err(|_| "must be a whole number".to_owned())?
        ),
        Cell::Number => {
            let number = text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or("must be a number")?;
            json!(number)
        }
        Cell::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err("must be true or false".to_owned()),
        },
        Cell::List => Value::Array(
            text.split(';')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        Cell::Hours => read_hours(text)?,
    };
    Ok(Some(value))
}

/// `mon 08:00-12:00 13:00-17:00; tue 08:00-17:00` as `{"mon": [{"start", "end"}, ...]}`;
/// the technicians module checks the days and times.
fn read_hours(text: &str) -> Result<Value, String> {
    let shape = || "must read like `mon 08:00-12:00 13:00-17:00; tue 08:00-17:00`".to_owned();
    let mut week = BTreeMap::new();
    for day in text.split(';').map(str::trim).filter(|day| !day.is_empty()) {
        let mut words = day.split_whitespace();
        let name = words.next().ok_or_else(shape)?;
        let mut intervals = Vec::new();
        for interval in words {
            let (start, end) = interval.split_once('-').ok_or_else(shape)?;
            intervals.push(json!({"start": start, "end": end}));
        }
        week.insert(name.to_owned(), Value::Array(intervals));
    }
    Ok(json!(week))
}

/// A value as the cell the importer reads back to it (the inverse of [`read`]).
pub fn write(cell: Cell, value: &Value) -> String {
    match (cell, value) {
        (_, Value::Null) => String::new(),
        (_, Value::String(text)) => text.clone(),
        (Cell::List, Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        (Cell::Hours, Value::Object(week)) => week
            .iter()
            .map(|(day, intervals)| {
                let times = intervals.as_array().into_iter().flatten().map(|interval| {
                    let part = |key| interval[key].as_str().unwrap_or_default().to_owned();
                    format!("{}-{}", part("start"), part("end"))
                });
                std::iter::once(day.clone())
                    .chain(times)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("; "),
        (_, other) => other.to_string(),
    }
}

/// Sets `value` at `path` in `body`, making the objects on the way.
pub fn set(body: &mut Map<String, Value>, path: &[String], value: Value) {
    let (last, parents) = path.split_last().expect("a column has a path");
    let mut at = body;
    for key in parents {
        at = at
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("columns nest only in objects");
    }
    at.insert(last.clone(), value);
}

/// The value at `path` in a record the module answered, if any.
pub fn get<'a>(record: &'a Value, path: &[String]) -> &'a Value {
    path.iter().fold(record, |at, key| &at[key.as_str()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_reads_back_what_it_writes() {
        let cases = [
            (Cell::Text, "Acme, Inc."),
            (Cell::Integer, "4500"),
            (Cell::Number, "30.2672"),
            (Cell::Boolean, "true"),
            (Cell::List, "lawn; pest"),
            (Cell::Hours, "mon 08:00-12:00 13:00-17:00; tue 08:00-17:00"),
        ];
        for (cell, text) in cases {
            let value = read(cell, text).unwrap().unwrap();
            assert_eq!(write(cell, &value), text, "{cell:?}");
        }
    }

    #[test]
    fn a_cell_that_cannot_be_its_type_names_what_it_must_be() {
        assert_eq!(read(Cell::Number, "north").unwrap_err(), "must be a number");
        assert_eq!(read(Cell::Number, "NaN").unwrap_err(), "must be a number");
        assert!(read(Cell::Boolean, "maybe").is_err());
        assert!(read(Cell::Hours, "mon 0800").is_err());
        assert_eq!(read(Cell::Integer, "  ").unwrap(), None);
    }

    #[test]
    fn a_location_field_error_names_its_column() {
        let columns = of(Kind::Customers, &[]);
        let column = |part, field| column_of_field(&columns, part, field);
        assert_eq!(
            column(Part::Location, "address.city"),
            Some("location.city".into())
        );
        assert_eq!(column(Part::Record, "name"), Some("name".into()));
        assert_eq!(column(Part::Location, "nowhere"), None);
    }
}
