//! PostgreSQL's errors as store errors.
//!
//! A module sees a store error kind, never PostgreSQL's text: the raw message can hold other
//! rows' values (a unique violation's `Key (email)=(...)`), schema details and internals, and
//! a module would pass it on to its client. A violation the client caused becomes the kind a
//! module answers with a 409 or a 422, naming the columns from the catalog's constraints; a
//! timeout, a lost connection or anything unforeseen is `unavailable` with a fixed message,
//! and the raw error goes to the host's log only.

use sqlx::postgres::PgDatabaseError;

use super::columns::{Catalog, Table};
use crate::runtime::capabilities::store::{StoreError, invalid_column};

/// What the host keeps of a failed statement to classify it: no message text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// The SQLSTATE (`23505`), if PostgreSQL answered at all.
    pub code: Option<String>,
    pub table: Option<String>,
    pub constraint: Option<String>,
    pub column: Option<String>,
}

impl Fault {
    pub fn of(error: &sqlx::Error) -> Self {
        let sqlx::Error::Database(db) = error else {
            return Self::default();
        };
        let pg = db.try_downcast_ref::<PgDatabaseError>();
        Self {
            code: db.code().map(|code| code.into_owned()),
            table: db.table().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
            column: pg.and_then(PgDatabaseError::column).map(str::to_owned),
        }
    }
}

const TIMED_OUT: &str = "the statement ran past the call's time limit";
const FAILED: &str = "the database did not complete the statement";

/// The store error for a failed statement. `written`: the table a write changed, run under
/// a savepoint and rolled back to it, so the transaction is still usable and the client's
/// fault can be answered; `None` for a read, which has no savepoint, so any failure loses
/// the transaction and is `unavailable`.
pub fn classify(fault: &Fault, catalog: &Catalog, written: Option<&Table>) -> StoreError {
    let code = fault.code.as_deref().unwrap_or("");
    if code == "57014" {
        return StoreError::Unavailable(TIMED_OUT.into());
    }
    let Some(written) = written else {
        return StoreError::Unavailable(FAILED.into());
    };
    // PostgreSQL reports a foreign key's violation on the referencing table, whichever
    // side was written: the written table itself (a store table or a collection), or another
    // store table (collections have no foreign keys but to `tenants`).
    let table = fault
        .table
        .as_deref()
        .and_then(|table| match table == written.name {
            true => Some(written),
            false => catalog.table(table),
        });
    let constraint = table
        .zip(fault.constraint.as_deref())
        .and_then(|(table, name)| table.constraints.get(name));
    let columns = constraint.map(|c| c.join(", "));
    let one_column = match constraint.map(Vec::as_slice) {
        Some([column]) => Some(column.as_str()),
        _ => None,
    };
    match code {
        "23505" => StoreError::Duplicate(columns.unwrap_or_default()),
        "23503" => match (table, one_column) {
            (Some(table), _) if table.name != written.name => {
                StoreError::Invalid(format!("rows of `{}` still refer to this row", table.name))
            }
            (_, Some(column)) => invalid_column(column, "refers to no existing row"),
            _ => StoreError::Invalid("a referenced row does not exist".into()),
        },
        "23514" => match one_column {
            Some(column) => invalid_column(column, "breaks the column's rule"),
            None => StoreError::Invalid(match columns {
                Some(columns) if !columns.is_empty() => {
                    format!("the values break a rule on {columns}")
                }
                _ => "the values break a rule of the table".into(),
            }),
        },
        "23502" => match &fault.column {
            Some(column) => invalid_column(column, "may not be null"),
            None => StoreError::Invalid("a required value is missing".into()),
        },
        // Data exceptions: a value the column cannot take (checked in Rust before the
        // statement where the catalog allows, so this is what the checks cannot see).
        code if code.starts_with("22") => match &fault.column {
            Some(column) => invalid_column(column, "does not fit the column"),
            None => StoreError::Invalid("a value does not fit its column".into()),
        },
        _ => StoreError::Unavailable(FAILED.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::storage::columns::{ColumnType, Table};

    fn catalog() -> Catalog {
        let columns = |names: &[&str]| names.iter().map(|c| c.to_string()).collect();
        let jobs = Table {
            schema: "store".into(),
            name: "jobs".into(),
            columns: BTreeMap::from([("priority".into(), ColumnType::Integer { bits: 32 })]),
            constraints: BTreeMap::from([
                (
                    "jobs_work_order_id_occurrence_date_key".into(),
                    columns(&["work_order_id", "occurrence_date"]),
                ),
                (
                    "jobs_tenant_id_customer_id_fkey".into(),
                    columns(&["customer_id"]),
                ),
                ("jobs_priority_check".into(), columns(&["priority"])),
                (
                    "jobs_check".into(),
                    columns(&["window_start", "window_end"]),
                ),
            ]),
        };
        Catalog::from_tables([jobs])
    }

    fn fault(code: &str, constraint: Option<&str>, column: Option<&str>) -> Fault {
        Fault {
            code: Some(code.into()),
            table: Some("jobs".into()),
            constraint: constraint.map(str::to_owned),
            column: column.map(str::to_owned),
        }
    }

    fn write(fault: &Fault) -> StoreError {
        let catalog = catalog();
        classify(fault, &catalog, catalog.table("jobs"))
    }

    #[test]
    fn a_unique_violation_names_the_constraints_columns() {
        assert_eq!(
            write(&fault(
                "23505",
                Some("jobs_work_order_id_occurrence_date_key"),
                None
            )),
            StoreError::Duplicate("work_order_id, occurrence_date".into())
        );
        assert_eq!(
            write(&fault("23505", Some("unknown"), None)),
            StoreError::Duplicate(String::new())
        );
    }

    #[test]
    fn references_checks_and_nulls_are_invalid_naming_the_column() {
        let invalid = |f: Fault| match write(&f) {
            StoreError::Invalid(why) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            invalid(fault(
                "23503",
                Some("jobs_tenant_id_customer_id_fkey"),
                None
            )),
            "column `customer_id`: refers to no existing row"
        );
        let customers = Table {
            name: "crm_customers".into(),
            ..catalog().table("jobs").unwrap().clone()
        };
        let still_referenced = classify(
            &fault("23503", Some("jobs_tenant_id_customer_id_fkey"), None),
            &catalog(),
            Some(&customers),
        );
        assert_eq!(
            still_referenced,
            StoreError::Invalid("rows of `jobs` still refer to this row".into())
        );
        assert_eq!(
            invalid(fault("23514", Some("jobs_priority_check"), None)),
            "column `priority`: breaks the column's rule"
        );
        assert_eq!(
            invalid(fault("23514", Some("jobs_check"), None)),
            "the values break a rule on window_start, window_end"
        );
        assert_eq!(
            invalid(fault("23502", None, Some("name"))),
            "column `name`: may not be null"
        );
        assert_eq!(
            invalid(fault("22003", None, None)),
            "a value does not fit its column"
        );
        assert_eq!(
            invalid(fault("22P05", None, Some("notes"))),
            "column `notes`: does not fit the column"
        );
    }

    #[test]
    fn timeouts_reads_and_the_unforeseen_are_unavailable_without_the_raw_message() {
        assert_eq!(
            write(&fault("57014", None, None)),
            StoreError::Unavailable(TIMED_OUT.into())
        );
        assert_eq!(
            classify(&fault("57014", None, None), &catalog(), None),
            StoreError::Unavailable(TIMED_OUT.into())
        );
        for code in ["42501", "40P01", "XX000", "25P02"] {
            assert_eq!(
                write(&fault(code, None, None)),
                StoreError::Unavailable(FAILED.into()),
                "{code}"
            );
        }
        assert_eq!(
            classify(&fault("23505", None, None), &catalog(), None),
            StoreError::Unavailable(FAILED.into())
        );
        assert_eq!(
            write(&Fault::default()),
            StoreError::Unavailable(FAILED.into())
        );
    }
}
