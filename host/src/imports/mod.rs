//! CSV import and export of customers (with a location each), technicians and service types
//! (issue 25 item 6; custom fields as `custom.<key>` columns, issue 24 item 2).
//!
//! An import is a job (`imports`, migration 0027): the request checks the file's header and
//! mapping, stores the file and answers 202 at once; a task then reads the rows a batch at a
//! time ([`job`]) and creates or updates each record through the owning module, as the user
//! who asked (`registry::acting::ActingUser`): the modules' own validation, the user's
//! permissions, the tenant's transaction share and quota. Each batch is one tenant
//! transaction with a savepoint per row, so a bad row rolls back alone, and the job's counts
//! and `rows_done` commit with the rows they count. A dry run does the same calls and rolls
//! every batch back, so it reports exactly the errors the commit would meet.
//!
//! Re-imports are idempotent by `external_id` (`import_records`): a known id updates its
//! record, and a row identical to the one last imported (same hash) is not sent at all.
//! Exports ([`export`]) write the same columns the import reads.

pub mod columns;
pub mod export;
pub mod file;
pub mod job;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::tenancy::TenantTx;

/// Bytes of one uploaded file (10,000 customers with locations are about 1.5 MB).
pub const MAX_FILE_BYTES: usize = 32 << 20;
/// Row errors a job keeps (`failed` counts every one).
pub const MAX_KEPT_ERRORS: usize = 1_000;

/// What an import creates, and the module (slot and path) that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Customers,
    Technicians,
    ServiceTypes,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "customers" => Some(Self::Customers),
            "technicians" => Some(Self::Technicians),
            "service_types" => Some(Self::ServiceTypes),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customers => "customers",
            Self::Technicians => "technicians",
            Self::ServiceTypes => "service_types",
        }
    }

    /// The module path its records are created at (`POST`) and listed from (`GET`).
    pub fn collection(self) -> &'static str {
        match self {
            Self::Customers => "/crm/customers",
            Self::Technicians => "/technicians",
            Self::ServiceTypes => "/jobs/service-types",
        }
    }

    /// The custom-field entity its records carry, if any.
    pub fn entity(self) -> Option<&'static str> {
        (self == Self::Customers).then_some("customer")
    }
}

/// One bad row: the line it starts on (the header is line 1), its external id when it had
/// one, the file's column at fault (empty when the whole row is) and what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    pub external_id: Option<String>,
    pub column: String,
    pub message: String,
}

/// An import job as `GET /v1/imports/{id}` answers it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: Uuid,
    #[schema(value_type = Kind)]
    pub kind: String,
    pub dry_run: bool,
    /// `running`, `done`, or `failed` (see `failure`).
    pub status: String,
    pub total_rows: i32,
    /// Rows read so far; for a commit, exactly the rows whose outcome is committed.
    pub rows_done: i32,
    pub created: i32,
    pub updated: i32,
    /// Rows identical to their last import, not sent again.
    pub unchanged: i32,
    pub failed: i32,
    /// The first 1,000 bad rows, in file order.
    #[schema(value_type = Vec<RowError>)]
    pub errors: sqlx::types::Json<Vec<RowError>>,
    /// Why the job stopped, when it failed as a whole (not a row).
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const JOB_COLUMNS: &str = "id, kind, dry_run, status, total_rows, rows_done, created, updated, \
     unchanged, failed, errors, failure, created_at, finished_at";

/// The job `id` of the transaction's tenant (RLS hides every other tenant's).
pub async fn load(tx: &mut TenantTx, id: Uuid) -> Result<ImportJob> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM imports WHERE tenant_id = $2 AND id = $1"
    ))
    .bind(id)
    .bind(tx.tenant_id())
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::not_found("import"))
}
