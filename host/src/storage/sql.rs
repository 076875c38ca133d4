//! Compiling store calls to SQL. Each function returns a [`Statement`]: text whose only
//! identifiers are catalog names (quoted) and whose values are `$n` parameters, already
//! type-checked against the column so that binding them cannot fail in PostgreSQL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Datelike;
use serde_json::Value;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use uuid::Uuid;

use super::columns::{ColumnType, Table};
use crate::runtime::capabilities::store::{
    AggregateFunction, AggregateQuery, CompareOp, DateBucket, Direction, Filter, JsonObject, Row,
    SelectQuery, StoreError, StoreResult, invalid_column,
};

/// What a column is told when its text holds a NUL, which PostgreSQL cannot store in `text`
/// nor in `jsonb` (and which would fail the statement, aborting the transaction).
const NUL_TEXT: &str = "may not contain the NUL character";

/// The columns every row-returning statement selects: the row as JSON, minus the columns a
/// [`Row`] carries separately, the tenant and the [`HIDDEN_COLUMNS`](super::columns::HIDDEN_COLUMNS),
/// which a module never sees. Writes return `t.*` from a CTE and select these from it:
/// Citus refuses a non-immutable function such as `to_jsonb` in `RETURNING`.
const ROW_COLUMNS: &str = "t.id, t.version, \
     (to_jsonb(t.*) - 'tenant_id' - 'id' - 'version' - 'scope_user_ids') AS \"values\"";

pub enum Arg {
    Uuid(Uuid),
    Text(Option<String>),
    TextList(Vec<String>),
    Integer(Option<i64>),
    Json(Value),
}

pub struct Statement {
    sql: String,
    args: Vec<Arg>,
}

impl Statement {
    pub fn new(sql: String, args: Vec<Arg>) -> Self {
        Self { sql, args }
    }

    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    pub fn query(&self) -> Query<'_, Postgres, PgArguments> {
        let mut query = sqlx::query(&self.sql);
        for arg in &self.args {
            query = match arg {
                Arg::Uuid(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.clone()),
                Arg::TextList(value) => query.bind(value.clone()),
                Arg::Integer(value) => query.bind(*value),
                Arg::Json(value) => query.bind(value.clone()),
            };
        }
        query
    }
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::Invalid(reason.into())
}

/// A catalog name as a quoted identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn column(table: &Table, name: &str) -> StoreResult<ColumnType> {
    if name == "tenant_id" {
        return Err(invalid("`tenant_id` is not a column modules can name"));
    }
    table
        .column(name)
        .ok_or_else(|| invalid(format!("unknown column `{name}` in `{}`", table.name)))
}

pub fn get(table: &Table, tenant: Uuid, id: Uuid) -> Statement {
    Statement::new(
        format!(
            "SELECT {ROW_COLUMNS} FROM {} t WHERE t.tenant_id = $1 AND t.id = $2",
            table.qualified()
        ),
        vec![Arg::Uuid(tenant), Arg::Uuid(id)],
    )
}

/// Text PostgreSQL can store, or an `invalid` error naming the column.
fn storable<'a>(name: &str, text: &'a str) -> StoreResult<&'a str> {
    match text.contains('\0') {
        true => Err(invalid_column(name, NUL_TEXT)),
        false => Ok(text),
    }
}

/// A JSON value PostgreSQL can store as `jsonb`: no NUL in any string or key.
fn storable_json(name: &str, value: &Value) -> StoreResult<()> {
    match value {
        Value::String(text) => storable(name, text).map(|_| ()),
        Value::Array(items) => items.iter().try_for_each(|item| storable_json(name, item)),
        Value::Object(object) => object.iter().try_for_each(|(key, item)| {
            storable(name, key)?;
            storable_json(name, item)
        }),
        _ => Ok(()),
    }
}

/// A scalar value checked against its column type, as text to bind and cast.
fn scalar(kind: ColumnType, name: &str, value: &Value) -> StoreResult<Option<String>> {
    let wrong = || invalid_column(name, format!("expects {}", kind.sql_cast()));
    let text = match (kind, value) {
        (_, Value::Null) => return Ok(None),
        (ColumnType::Text, Value::String(s)) => storable(name, s)?.to_owned(),
        (ColumnType::Integer { .. }, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            match n.as_i64().filter(|v| kind.holds_integer(*v)) {
                Some(v) => v.to_string(),
                None => return Err(invalid_column(name, "is out of range for the column")),
            }
        }
        (ColumnType::Float | ColumnType::Numeric, Value::Number(n)) => n.to_string(),
        (ColumnType::Boolean, Value::Bool(b)) => b.to_string(),
        // Bound in the canonical form PostgreSQL parses (uuid's parser also takes `urn:uuid:`
        // and braces, chrono's dates year 0 and five-digit years, which PostgreSQL refuses).
        (ColumnType::Uuid, Value::String(s)) => {
            Uuid::parse_str(s).map_err(|_| wrong())?.to_string()
        }
        (ColumnType::Timestamp, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .filter(|t| (1..=9999).contains(&t.year()))
            .ok_or_else(wrong)?
            .to_rfc3339(),
        (ColumnType::Date, Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|d| (1..=9999).contains(&d.year()))
            .ok_or_else(wrong)?
            .format("%Y-%m-%d")
            .to_string(),
        _ => return Err(wrong()),
    };
    Ok(Some(text))
}

/// Checks a value for insert or update.
fn writable_value(kind: ColumnType, name: &str, value: &Value) -> StoreResult<()> {
    match (kind, value) {
        (ColumnType::Json, _) => storable_json(name, value),
        (ColumnType::TextArray, Value::Array(items)) if items.iter().all(Value::is_string) => {
            storable_json(name, value)
        }
        (ColumnType::TextArray, Value::Null) => Ok(()),
        (ColumnType::TextArray, _) => Err(invalid_column(name, "expects an array of strings")),
        _ => scalar(kind, name, value).map(|_| ()),
    }
}

fn compile_filter(
    table: &Table,
    filter: &Filter,
    statement: &mut Statement,
) -> StoreResult<String> {
    Ok(match filter {
        Filter::And(children) | Filter::Or(children) if children.is_empty() => {
            (if matches!(filter, Filter::And(_)) {
                "TRUE"
            } else {
                "FALSE"
            })
            .to_owned()
        }
        Filter::And(children) | Filter::Or(children) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts = children
                .iter()
                .map(|child| compile_filter(table, child, statement))
                .collect::<StoreResult<Vec<_>>>()?;
            format!("({})", parts.join(joiner))
        }
        Filter::Not(child) => format!("NOT ({})", compile_filter(table, child, statement)?),
        Filter::Compare {
            column: name,
            op,
            value,
        } => match custom_path(table, name) {
            Some(key) => {
                let col = custom_expr(key?, statement);
                compare_custom(name, &col, *op, value, statement)?
            }
            None => {
                let kind = column(table, name)?;
                let col = format!("t.{}", ident(name));
                compare(kind, name, &col, *op, value, statement)?
            }
        },
    })
}

fn compare(
    kind: ColumnType,
    name: &str,
    col: &str,
    op: CompareOp,
    value: &Value,
    statement: &mut Statement,
) -> StoreResult<String> {
    if op == CompareOp::IsNull {
        return match value {
            Value::Bool(true) => Ok(format!("{col} IS NULL")),
            Value::Bool(false) => Ok(format!("{col} IS NOT NULL")),
            _ => Err(invalid("`is-null` takes true or false")),
        };
    }
    match kind {
        ColumnType::Json => Err(invalid(format!("`{name}` is JSON: only `is-null` applies"))),
        ColumnType::TextArray => {
            let element = |value: &Value| match value {
                Value::String(s) => Ok(storable(name, s)?.to_owned()),
                _ => Err(invalid_column(name, "holds strings")),
            };
            match op {
                CompareOp::Eq => Ok(format!(
                    "{}::text = ANY({col})",
                    statement.param(Arg::Text(Some(element(value)?)))
                )),
                CompareOp::Ne => Ok(format!(
                    "NOT ({}::text = ANY({col}))",
                    statement.param(Arg::Text(Some(element(value)?)))
                )),
                CompareOp::In => {
                    let Value::Array(items) = value else {
                        return Err(invalid("`in` takes an array"));
                    };
                    let items = items.iter().map(element).collect::<StoreResult<Vec<_>>>()?;
                    Ok(format!(
                        "{col} && {}::text[]",
                        statement.param(Arg::TextList(items))
                    ))
                }
                _ => Err(invalid(format!(
                    "`{name}` is a list: use eq, ne, in or is-null"
                ))),
            }
        }
        _ => match op {
            CompareOp::Like => match (kind, value) {
                (ColumnType::Text, Value::String(pattern)) => Ok(format!(
                    "{col} ILIKE {}",
                    statement.param(Arg::Text(Some(storable(name, pattern)?.to_owned())))
                )),
                _ => Err(invalid(format!(
                    "`like` needs a text column and a string pattern (`{name}`)"
                ))),
            },
            CompareOp::In => {
                let Value::Array(items) = value else {
                    return Err(invalid("`in` takes an array"));
                };
                let items = items
                    .iter()
                    .map(|item| {
                        scalar(kind, name, item)?.ok_or_else(|| invalid("`in` takes no null"))
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                let placeholder = statement.param(Arg::TextList(items));
                Ok(format!(
                    "{col} = ANY({placeholder}::text[]::{}[])",
                    kind.sql_cast()
                ))
            }
            _ => {
                let Some(text) = scalar(kind, name, value)? else {
                    return match op {
                        CompareOp::Eq => Ok(format!("{col} IS NULL")),
                        CompareOp::Ne => Ok(format!("{col} IS NOT NULL")),
                        _ => Err(invalid("only eq and ne compare with null")),
                    };
                };
                let symbol = match op {
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "<>",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    CompareOp::Gt => ">",
                    _ => ">=",
                };
                let placeholder = statement.param(Arg::Text(Some(text)));
                Ok(format!("{col} {symbol} {placeholder}::{}", kind.sql_cast()))
            }
        },
    }
}

/// The key of a `custom.<key>` column on a table with a `custom` JSON object (issue 24),
/// `None` for any other name. The store has already checked the key against the tenant's
/// definitions; the pattern is checked again here, and the key is only ever bound.
fn custom_path<'a>(table: &Table, name: &'a str) -> Option<StoreResult<&'a str>> {
    let key = name.strip_prefix("custom.")?;
    if table.column("custom") != Some(ColumnType::Json) {
        return None;
    }
    Some(match crate::custom_fields::is_key(key) {
        true => Ok(key),
        false => Err(invalid(format!("`{name}` is not a custom field's name"))),
    })
}

/// The value of a custom field in the row, as `jsonb` (SQL null when the row has none).
fn custom_expr(key: &str, statement: &mut Statement) -> String {
    format!(
        "(t.\"custom\" -> {})",
        statement.param(Arg::Text(Some(key.to_owned())))
    )
}

/// A comparison of a custom field with a JSON value of its type (the store typed it):
/// `jsonb` orders numbers as numbers, and dates (`YYYY-MM-DD`) as text sort as dates.
fn compare_custom(
    name: &str,
    col: &str,
    op: CompareOp,
    value: &Value,
    statement: &mut Statement,
) -> StoreResult<String> {
    let symbol = match (op, value) {
        (CompareOp::IsNull, Value::Bool(true)) | (CompareOp::Eq, Value::Null) => {
            return Ok(format!("{col} IS NULL"));
        }
        (CompareOp::IsNull, Value::Bool(false)) | (CompareOp::Ne, Value::Null) => {
            return Ok(format!("{col} IS NOT NULL"));
        }
        (_, Value::Array(_) | Value::Object(_) | Value::Null) | (CompareOp::IsNull, _) => {
            return Err(invalid(format!("`{name}` compares with one value")));
        }
        (CompareOp::Eq, _) => "=",
        (CompareOp::Ne, _) => "<>",
        (CompareOp::Lt, _) => "<",
        (CompareOp::Le, _) => "<=",
        (CompareOp::Gt, _) => ">",
        (CompareOp::Ge, _) => ">=",
        _ => {
            return Err(invalid(format!(
                "`{name}` takes eq, ne, lt, le, gt, ge or is-null"
            )));
        }
    };
    storable_json(name, value)?;
    let placeholder = statement.param(Arg::Json(value.clone()));
    Ok(format!("{col} {symbol} {placeholder}::jsonb"))
}

/// A sort key's expression: the column, or the custom field's JSON value.
fn key_expr(table: &Table, name: &str, statement: &mut Statement) -> String {
    match custom_path(table, name) {
        Some(Ok(key)) => custom_expr(key, statement),
        _ => format!("t.{}", ident(name)),
    }
}

/// A sort key's value from a cursor as a cast placeholder, `None` for null.
fn key_param(
    kind: ColumnType,
    name: &str,
    value: &Value,
    statement: &mut Statement,
) -> StoreResult<Option<String>> {
    if kind == ColumnType::Json {
        return Ok(match value {
            Value::Null => None,
            value => {
                storable_json(name, value)?;
                Some(format!(
                    "{}::jsonb",
                    statement.param(Arg::Json(value.clone()))
                ))
            }
        });
    }
    Ok(scalar(kind, name, value)?.map(|text| {
        format!(
            "{}::{}",
            statement.param(Arg::Text(Some(text))),
            kind.sql_cast()
        )
    }))
}

/// One sort key: column, type, direction.
pub type SortKey = (String, ColumnType, Direction);

/// SELECT with filter, keyset cursor, order and limit + 1 (the extra row says "more").
pub fn select(
    table: &Table,
    tenant: Uuid,
    query: &SelectQuery,
) -> StoreResult<(Statement, Vec<SortKey>)> {
    let mut statement = Statement::new(String::new(), vec![Arg::Uuid(tenant)]);
    let mut conditions = vec!["t.tenant_id = $1".to_owned()];
    if let Some(filter) = &query.filter {
        conditions.push(compile_filter(table, filter, &mut statement)?);
    }
    let mut keys: Vec<SortKey> = Vec::new();
    for order in &query.order {
        let kind = match custom_path(table, &order.column) {
            Some(key) => key.map(|_| ColumnType::Json)?,
            None => column(table, &order.column)?,
        };
        if !kind.is_orderable() && kind != ColumnType::Json {
            return Err(invalid(format!("cannot order by `{}`", order.column)));
        }
        if keys.iter().any(|(name, _, _)| name == &order.column) {
            return Err(invalid(format!("`{}` is ordered by twice", order.column)));
        }
        keys.push((order.column.clone(), kind, order.direction));
    }
    if !keys.iter().any(|(name, _, _)| name == "id") {
        keys.push(("id".into(), ColumnType::Uuid, Direction::Asc));
    }
    if let Some(cursor) = &query.cursor {
        conditions.push(after_cursor(table, &keys, cursor, &mut statement)?);
    }
    let mut order = Vec::with_capacity(keys.len());
    for (name, _, direction) in &keys {
        let direction = if *direction == Direction::Asc {
            "ASC"
        } else {
            "DESC"
        };
        let expr = key_expr(table, name, &mut statement);
        order.push(format!("{expr} {direction} NULLS LAST"));
    }
    let order = order.join(", ");
    let limit = statement.param(Arg::Integer(Some(i64::from(query.limit) + 1)));
    statement.sql = format!(
        "SELECT {ROW_COLUMNS} FROM {} t WHERE {} ORDER BY {order} LIMIT {limit}",
        table.qualified(),
        conditions.join(" AND ")
    );
    Ok((statement, keys))
}

/// The keyset condition "sorts after the cursor row", NULLS LAST in both directions.
fn after_cursor(
    table: &Table,
    keys: &[SortKey],
    cursor: &str,
    statement: &mut Statement,
) -> StoreResult<String> {
    let bad = || invalid("the cursor is not one this store issued for this query");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let values: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if values.len() != keys.len() {
        return Err(bad());
    }
    let mut alternatives = Vec::new();
    for (i, ((name, kind, direction), value)) in keys.iter().zip(&values).enumerate() {
        let mut conjunction = Vec::new();
        for ((earlier, earlier_kind, _), earlier_value) in keys[..i].iter().zip(&values) {
            let col = key_expr(table, earlier, statement);
            match key_param(*earlier_kind, earlier, earlier_value, statement).map_err(|_| bad())? {
                Some(placeholder) => conjunction.push(format!("{col} = {placeholder}")),
                None => conjunction.push(format!("{col} IS NULL")),
            }
        }
        // After a null nothing sorts later in this key (nulls are last).
        let Some(placeholder) = key_param(*kind, name, value, statement).map_err(|_| bad())? else {
            continue;
        };
        let col = key_expr(table, name, statement);
        let symbol = if *direction == Direction::Asc {
            ">"
        } else {
            "<"
        };
        conjunction.push(format!("({col} {symbol} {placeholder} OR {col} IS NULL)"));
        alternatives.push(format!("({})", conjunction.join(" AND ")));
    }
    Ok(if alternatives.is_empty() {
        "FALSE".into()
    } else {
        format!("({})", alternatives.join(" OR "))
    })
}

/// The cursor that continues after `last`: its sort-key values, as JSON, base64url.
pub fn cursor_after(keys: &[SortKey], last: &Row) -> String {
    let values: Vec<Value> = keys
        .iter()
        .map(|(name, _, _)| match name.as_str() {
            "id" => Value::String(last.id.to_string()),
            "version" => Value::from(last.version),
            other => match other.strip_prefix("custom.") {
                Some(key) => last.values.get("custom").and_then(|c| c.get(key)).cloned(),
                None => last.values.get(other).cloned(),
            }
            .unwrap_or(Value::Null),
        })
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&values).unwrap_or_default())
}

fn checked_columns(table: &Table, values: &JsonObject) -> StoreResult<Vec<String>> {
    values
        .iter()
        .map(|(name, value)| {
            if !table.is_writable(name) {
                return Err(match table.column(name) {
                    Some(_) => invalid(format!("`{name}` is maintained by the host")),
                    None => invalid(format!("unknown column `{name}` in `{}`", table.name)),
                });
            }
            writable_value(column(table, name)?, name, value)?;
            Ok(name.clone())
        })
        .collect()
}

pub fn insert(table: &Table, tenant: Uuid, mut values: JsonObject) -> StoreResult<Statement> {
    let id = match values.remove("id") {
        None => Uuid::now_v7(),
        Some(Value::String(id)) => {
            Uuid::parse_str(&id).map_err(|_| invalid("`id` must be a UUID"))?
        }
        Some(_) => return Err(invalid("`id` must be a UUID")),
    };
    let columns = checked_columns(table, &values)?;
    let names: String = columns.iter().map(|c| format!(", {}", ident(c))).collect();
    let sources: String = columns
        .iter()
        .map(|c| format!(", r.{}", ident(c)))
        .collect();
    let table_name = table.qualified();
    Ok(Statement::new(
        format!(
            "WITH written AS (
                 INSERT INTO {table_name} AS t (tenant_id, id, version{names})
                 SELECT $1, $2, 1{sources} FROM jsonb_populate_record(NULL::{table_name}, $3) r
                 RETURNING t.*)
             SELECT {ROW_COLUMNS} FROM written t"
        ),
        vec![
            Arg::Uuid(tenant),
            Arg::Uuid(id),
            Arg::Json(Value::Object(values)),
        ],
    ))
}

pub fn update(
    table: &Table,
    tenant: Uuid,
    id: Uuid,
    expected: u64,
    values: JsonObject,
) -> StoreResult<Statement> {
    let columns = checked_columns(table, &values)?;
    let sets: String = columns
        .iter()
        .map(|c| format!("{} = r.{}, ", ident(c), ident(c)))
        .collect();
    let table_name = table.qualified();
    Ok(Statement::new(
        format!(
            "WITH written AS (
                 UPDATE {table_name} AS t SET {sets}version = t.version + 1, updated_at = now()
                 FROM jsonb_populate_record(NULL::{table_name}, $4) r
                 WHERE t.tenant_id = $1 AND t.id = $2 AND t.version = $3
                 RETURNING t.*)
             SELECT {ROW_COLUMNS} FROM written t"
        ),
        vec![
            Arg::Uuid(tenant),
            Arg::Uuid(id),
            Arg::Integer(Some(expected as i64)),
            Arg::Json(Value::Object(values)),
        ],
    ))
}

pub fn delete(table: &Table, tenant: Uuid, id: Uuid, expected: Option<u64>) -> Statement {
    Statement::new(
        format!(
            "DELETE FROM {} AS t WHERE t.tenant_id = $1 AND t.id = $2
               AND ($3::bigint IS NULL OR t.version = $3) RETURNING t.id",
            table.qualified()
        ),
        vec![
            Arg::Uuid(tenant),
            Arg::Uuid(id),
            Arg::Integer(expected.map(|v| v as i64)),
        ],
    )
}

fn is_alias(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub fn aggregate(table: &Table, tenant: Uuid, query: &AggregateQuery) -> StoreResult<Statement> {
    let mut statement = Statement::new(String::new(), vec![Arg::Uuid(tenant)]);
    let mut conditions = vec!["t.tenant_id = $1".to_owned()];
    if let Some(filter) = &query.filter {
        conditions.push(compile_filter(table, filter, &mut statement)?);
    }
    let mut outputs = Vec::new(); // (json key placeholder, expression)
    for key in &query.group_by {
        let kind = column(table, &key.column)?;
        let col = format!("t.{}", ident(&key.column));
        let expression = match key.bucket {
            None if kind.is_orderable() => col,
            None => return Err(invalid(format!("cannot group by `{}`", key.column))),
            Some(bucket) if matches!(kind, ColumnType::Timestamp | ColumnType::Date) => {
                let unit = match bucket {
                    DateBucket::Hour => "hour",
                    DateBucket::Day => "day",
                    DateBucket::Week => "week",
                    DateBucket::Month => "month",
                    DateBucket::Quarter => "quarter",
                    DateBucket::Year => "year",
                };
                match kind {
                    // The tenant's days, not UTC's: `$1` is the tenant.
                    ColumnType::Timestamp => format!(
                        "date_trunc('{unit}', {col}, \
                         (SELECT z.time_zone FROM tenants z WHERE z.id = $1))"
                    ),
                    _ => format!("date_trunc('{unit}', {col})"),
                }
            }
            Some(_) => {
                return Err(invalid(format!(
                    "`{}` is not a date or timestamp",
                    key.column
                )));
            }
        };
        outputs.push((key.column.clone(), expression));
    }
    let groups = outputs.len();
    if query.aggregates.is_empty() && groups == 0 {
        return Err(invalid("name at least one group key or aggregate"));
    }
    for aggregation in &query.aggregates {
        if !is_alias(&aggregation.alias) || outputs.iter().any(|(key, _)| key == &aggregation.alias)
        {
            return Err(invalid(format!(
                "`{}` is not a usable alias",
                aggregation.alias
            )));
        }
        let target = match &aggregation.column {
            Some(name) => Some((column(table, name)?, format!("t.{}", ident(name)))),
            None => None,
        };
        let expression = match (aggregation.function, target) {
            (AggregateFunction::Count, None) => "count(*)".to_owned(),
            (AggregateFunction::Count, Some((_, col))) => format!("count({col})"),
            (AggregateFunction::Sum, Some((kind, col))) if kind.is_numeric() => {
                format!("sum({col})")
            }
            (AggregateFunction::Avg, Some((kind, col))) if kind.is_numeric() => {
                format!("avg({col})")
            }
            (AggregateFunction::Min, Some((kind, col))) if kind.is_orderable() => {
                format!("min({col})")
            }
            (AggregateFunction::Max, Some((kind, col))) if kind.is_orderable() => {
                format!("max({col})")
            }
            _ => {
                return Err(invalid(format!(
                    "`{}`: that function does not apply to that column",
                    aggregation.alias
                )));
            }
        };
        outputs.push((aggregation.alias.clone(), expression));
    }
    let select_list = outputs
        .iter()
        .enumerate()
        .map(|(i, (_, expression))| format!("{expression} AS c{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let positions: Vec<String> = (1..=groups).map(|i| i.to_string()).collect();
    let grouping = if groups == 0 {
        String::new()
    } else {
        format!(" GROUP BY {0} ORDER BY {0}", positions.join(", "))
    };
    let mut object = Vec::new();
    for (i, (key, _)) in outputs.iter().enumerate() {
        let placeholder = statement.param(Arg::Text(Some(key.clone())));
        object.push(format!("{placeholder}::text, s.c{i}"));
    }
    let limit = statement.param(Arg::Integer(Some(i64::from(query.limit))));
    statement.sql = format!(
        "SELECT jsonb_build_object({}) FROM (SELECT {select_list} FROM {} t WHERE {}{grouping} LIMIT {limit}) s",
        object.join(", "),
        table.qualified(),
        conditions.join(" AND ")
    );
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn customers() -> Table {
        let columns = [
            ("name", ColumnType::Text),
            ("tags", ColumnType::TextArray),
            ("notes", ColumnType::Json),
            ("priority", ColumnType::Integer { bits: 32 }),
            ("balance", ColumnType::Integer { bits: 64 }),
            ("since", ColumnType::Date),
            ("custom", ColumnType::Json),
        ];
        Table {
            schema: "store".into(),
            name: "customers".into(),
            columns: columns
                .into_iter()
                .map(|(name, kind)| (name.to_owned(), kind))
                .chain(
                    super::super::columns::HOST_COLUMNS
                        .iter()
                        .map(|c| (c.to_string(), ColumnType::Text)),
                )
                .collect(),
            constraints: BTreeMap::new(),
        }
    }

    fn refusal(values: Value) -> String {
        let Value::Object(values) = values else {
            panic!()
        };
        match insert(&customers(), Uuid::nil(), values) {
            Err(StoreError::Invalid(why)) => why,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn text_postgresql_cannot_store_is_invalid_naming_the_column() {
        assert_eq!(
            refusal(json!({"name": "ab\0c"})),
            "column `name`: may not contain the NUL character"
        );
        assert_eq!(
            refusal(json!({"tags": ["ok", "\0"]})),
            "column `tags`: may not contain the NUL character"
        );
        assert_eq!(
            refusal(json!({"notes": {"deep": ["x", {"k\0": 1}]}})),
            "column `notes`: may not contain the NUL character"
        );
        let filter = Filter::Compare {
            column: "name".into(),
            op: CompareOp::Like,
            value: json!("%\0%"),
        };
        let query = SelectQuery {
            table: "customers".into(),
            filter: Some(filter),
            order: vec![],
            cursor: None,
            limit: 10,
        };
        assert!(matches!(
            select(&customers(), Uuid::nil(), &query),
            Err(StoreError::Invalid(why)) if why.starts_with("column `name`:")
        ));
    }

    #[test]
    fn numbers_and_dates_postgresql_would_refuse_are_invalid_naming_the_column() {
        assert_eq!(
            refusal(json!({"priority": 2_147_483_648i64})),
            "column `priority`: is out of range for the column"
        );
        assert_eq!(
            refusal(json!({"balance": u64::MAX})),
            "column `balance`: is out of range for the column"
        );
        assert_eq!(
            refusal(json!({"since": "0000-01-01"})),
            "column `since`: expects date"
        );
        let Value::Object(fits) = json!({"priority": -2_147_483_648i64, "balance": i64::MIN,
                                         "since": "2026-01-31"})
        else {
            panic!()
        };
        assert!(insert(&customers(), Uuid::nil(), fits).is_ok());
    }

    fn custom_query(column: &str, sort: &str) -> SelectQuery {
        SelectQuery {
            table: "customers".into(),
            filter: Some(Filter::Compare {
                column: column.into(),
                op: CompareOp::Eq,
                value: json!("gold"),
            }),
            order: vec![crate::runtime::capabilities::store::OrderBy {
                column: sort.into(),
                direction: Direction::Desc,
            }],
            cursor: None,
            limit: 10,
        }
    }

    #[test]
    fn custom_field_keys_are_bound_never_spliced() {
        let (statement, keys) = select(
            &customers(),
            Uuid::nil(),
            &custom_query("custom.tier", "custom.size"),
        )
        .unwrap();
        assert!(!statement.sql.contains("tier") && !statement.sql.contains("size"));
        assert!(
            statement.sql.contains("(t.\"custom\" -> $2) = $3::jsonb"),
            "{}",
            statement.sql
        );
        assert!(
            statement
                .sql
                .contains("(t.\"custom\" -> $4) DESC NULLS LAST")
        );
        assert_eq!(keys[0].1, ColumnType::Json);
        for hostile in ["custom.a'b", "custom.", "custom.Tier", "custom.x\" OR 1=1"] {
            assert!(
                select(&customers(), Uuid::nil(), &custom_query(hostile, "name")).is_err(),
                "{hostile}"
            );
            assert!(
                select(&customers(), Uuid::nil(), &custom_query("name", hostile)).is_err(),
                "{hostile}"
            );
        }
        let mut without_custom = customers();
        without_custom.columns.remove("custom");
        assert!(
            select(
                &without_custom,
                Uuid::nil(),
                &custom_query("custom.tier", "name")
            )
            .is_err()
        );
    }

    #[test]
    fn rows_leave_out_every_hidden_column() {
        for column in super::super::columns::HIDDEN_COLUMNS {
            assert!(
                super::ROW_COLUMNS.contains(&format!("- '{column}'")),
                "{column}"
            );
        }
    }
}
