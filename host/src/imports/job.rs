//! Running an import: the rows a batch of [`BATCH_ROWS`] at a time, each batch one tenant
//! transaction (`ActingUser::begin`: the tenant's share, its quota on every call), each row
//! inside a savepoint, so a row the module refuses is rolled back alone and the batch goes on.
//! The batch's counts, errors and `rows_done` are written in the same transaction as its rows,
//! so what the job reports is exactly what is committed; a job whose worker died (its
//! heartbeat older than [`ORPHANED_AFTER_SECS`]) is taken up again from `rows_done` the next
//! time someone reads it ([`resume_if_orphaned`]). A dry run makes the very same calls and
//! rolls each batch back, then records its counts on their own.
//!
//! Should the module's store fail outright on a row (the transaction is then lost, not just
//! the row), the batch is run again without that row, which is reported as failed.

use std::collections::{BTreeMap, HashSet};

use axum::body::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::columns::{self, Part};
use super::file::{self, Layout, Row};
use super::{Kind, MAX_KEPT_ERRORS, RowError};
use crate::error::{Error, Result};
use crate::http::AppState;
use crate::registry::acting::{ActingUser, Answered};
use crate::tenancy::TenantTx;

/// Rows per transaction: large enough that a transaction's own cost (begin, share, commit,
/// progress) is a small part of a row's, small enough that a worker that dies loses little.
pub const BATCH_ROWS: usize = 100;
/// A running job whose heartbeat is older than this lost its worker.
pub const ORPHANED_AFTER_SECS: i64 = 60;

/// What one job does: its id, kind, whether it rolls back, and how the file's columns read.
pub struct Spec {
    pub id: Uuid,
    pub kind: Kind,
    pub dry_run: bool,
    pub layout: Layout,
}

/// Records a new job (status `running`) in the request's transaction.
pub async fn insert(
    tx: &mut TenantTx,
    spec: &Spec,
    mapping: &BTreeMap<String, String>,
    body: &[u8],
    total_rows: usize,
) -> Result<()> {
    let tenant = tx.tenant_id();
    let user = tx.user_id();
    sqlx::query(
        "INSERT INTO imports (tenant_id, id, kind, dry_run, status, mapping, body, total_rows, \
         created_by) VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(spec.id)
    .bind(spec.kind.as_str())
    .bind(spec.dry_run)
    .bind(sqlx::types::Json(mapping))
    .bind(body)
    .bind(total_rows as i32)
    .bind(user)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Runs the job on its own task, from row `skip` on.
pub fn spawn(acting: ActingUser, spec: Spec, body: Bytes, skip: usize) {
    tokio::spawn(async move {
        let outcome = run(&acting, &spec, &body, skip).await;
        let (status, failure) = match &outcome {
            Ok(()) => ("done", None),
            Err(error) => {
                tracing::warn!(import = %spec.id, %error, "import stopped");
                ("failed", Some(error.to_string()))
            }
        };
        if let Err(error) = finish(&acting, spec.id, status, failure).await {
            tracing::error!(import = %spec.id, %error, "import's end not recorded");
        }
    });
}

async fn finish(
    acting: &ActingUser,
    id: Uuid,
    status: &str,
    failure: Option<String>,
) -> Result<()> {
    let mut tx = acting.begin().await?;
    sqlx::query(
        "UPDATE imports SET status = $2, failure = $3, finished_at = now(), heartbeat_at = now() \
         WHERE tenant_id = $4 AND id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(failure)
    .bind(tx.tenant_id())
    .execute(tx.conn())
    .await?;
    Ok(tx.commit().await?)
}

async fn run(acting: &ActingUser, spec: &Spec, body: &[u8], skip: usize) -> Result<()> {
    let mut rows = file::rows(body, spec.layout.headers.len(), skip);
    let mut done = skip;
    let mut kept = kept_errors(acting, spec.id).await?;
    loop {
        let batch: Vec<Row> = rows.by_ref().take(BATCH_ROWS).collect();
        if batch.is_empty() {
            return Ok(());
        }
        done += batch.len();
        kept += run_batch(acting, spec, &batch, done, kept).await?;
    }
}

async fn kept_errors(acting: &ActingUser, id: Uuid) -> Result<usize> {
    let mut tx = acting.begin().await?;
    let kept: i32 = sqlx::query_scalar(
        "SELECT jsonb_array_length(errors) FROM imports WHERE tenant_id = $2 AND id = $1",
    )
    .bind(id)
    .bind(tx.tenant_id())
    .fetch_one(tx.conn())
    .await?;
    tx.rollback().await?;
    Ok(kept as usize)
}

/// What a batch did, recorded with it.
#[derive(Default)]
struct Tally {
    created: i32,
    updated: i32,
    unchanged: i32,
    failed: i32,
    errors: Vec<RowError>,
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A row's fate: done (the transaction to go on with), refused (rolled back to its
/// savepoint), or lost with the transaction.
enum Applied {
    Done(TenantTx, Outcome),
    Refused(TenantTx, Vec<RowError>),
    Lost,
}

/// Runs one batch and records it; answers how many errors it kept.
async fn run_batch(
    acting: &ActingUser,
    spec: &Spec,
    batch: &[Row],
    rows_done: usize,
    kept: usize,
) -> Result<usize> {
    let mut lost = HashSet::new();
    'again: loop {
        let mut tx = acting.begin().await?;
        let mut tally = Tally::default();
        for (at, row) in batch.iter().enumerate() {
            let plan = match plan(&spec.layout, row) {
                Ok(plan) if !lost.contains(&at) => plan,
                Ok(plan) => {
                    tally.refuse(vec![whole_row(row.line, Some(plan.external_id), LOST)]);
                    continue;
                }
                Err(errors) => {
                    tally.refuse(errors);
                    continue;
                }
            };
            sqlx::query("SAVEPOINT import_row")
                .execute(tx.conn())
                .await?;
            match apply(acting, tx, spec, &plan, row.line).await? {
                Applied::Done(mut kept_tx, outcome) => {
                    sqlx::query("RELEASE SAVEPOINT import_row")
                        .execute(kept_tx.conn())
                        .await?;
                    tally.count(outcome);
                    tx = kept_tx;
                }
                Applied::Refused(mut kept_tx, errors) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT import_row")
                        .execute(kept_tx.conn())
                        .await?;
                    tally.refuse(errors);
                    tx = kept_tx;
                }
                Applied::Lost => {
                    lost.insert(at);
                    continue 'again;
                }
            }
        }
        if spec.dry_run {
            tx.rollback().await?;
            tx = acting.begin().await?;
        }
        let room = MAX_KEPT_ERRORS.saturating_sub(kept);
        tally.errors.truncate(room);
        record(&mut tx, spec.id, rows_done, &tally).await?;
        tx.commit().await?;
        return Ok(tally.errors.len());
    }
}

const LOST: &str = "the module's store failed on this row; it was not imported";

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn refuse(&mut self, errors: Vec<RowError>) {
        self.failed += 1;
        self.errors.extend(errors);
    }
}

async fn record(tx: &mut TenantTx, id: Uuid, rows_done: usize, tally: &Tally) -> Result<()> {
    sqlx::query(
        "UPDATE imports SET rows_done = $2, created = created + $3, updated = updated + $4, \
         unchanged = unchanged + $5, failed = failed + $6, errors = errors || $7, \
         heartbeat_at = now() WHERE tenant_id = $8 AND id = $1",
    )
    .bind(id)
    .bind(rows_done as i32)
    .bind(tally.created)
    .bind(tally.updated)
    .bind(tally.unchanged)
    .bind(tally.failed)
    .bind(sqlx::types::Json(&tally.errors))
    .bind(tx.tenant_id())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A row as the bodies it sends: the record's, and (customers) its location's.
struct Plan {
    external_id: String,
    record: Map<String, Value>,
    location: Option<Map<String, Value>>,
}

/// The row's bodies, or every cell the host cannot read (the module checks the rest).
fn plan(layout: &Layout, row: &Row) -> Result<Plan, Vec<RowError>> {
    let cells = row
        .cells
        .as_ref()
        .map_err(|message| vec![whole_row(row.line, None, message)])?;
    let external_id = cells[layout.external_id].trim().to_owned();
    let error = |column: &str, message: &str| RowError {
        line: row.line,
        external_id: Some(external_id.clone()).filter(|id| !id.is_empty()),
        column: column.to_owned(),
        message: message.to_owned(),
    };
    let mut errors = Vec::new();
    let id_header = &layout.headers[layout.external_id];
    if external_id.is_empty() {
        errors.push(error(id_header, "is required"));
    } else if external_id.chars().count() > 200 {
        errors.push(error(id_header, "may be at most 200 characters"));
    }
    let (mut record, mut location) = (Map::new(), Map::new());
    for (at, target) in layout.targets.iter().enumerate() {
        let Some(column) = target else { continue };
        match columns::read(column.cell, &cells[at]) {
            Ok(None) => {}
            Ok(Some(value)) => {
                let body = match column.part {
                    Part::Record => &mut record,
                    Part::Location => &mut location,
                };
                columns::set(body, &column.path, value);
            }
            Err(message) => errors.push(error(&layout.headers[at], &message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Plan {
        external_id,
        record,
        location: (!location.is_empty()).then_some(location),
    })
}

fn whole_row(line: u64, external_id: Option<String>, message: &str) -> RowError {
    RowError {
        line,
        external_id,
        column: String::new(),
        message: message.to_owned(),
    }
}

/// What `import_records` knows of an external id.
#[derive(sqlx::FromRow)]
struct Known {
    record_id: String,
    location_id: Option<String>,
    row_hash: Vec<u8>,
}

/// Creates, updates or (identical to its last import) skips the row's record, inside the
/// row's savepoint.
async fn apply(
    acting: &ActingUser,
    mut tx: TenantTx,
    spec: &Spec,
    plan: &Plan,
    line: u64,
) -> Result<Applied> {
    let hash = Sha256::digest(json!([plan.record, plan.location]).to_string()).to_vec();
    let known: Option<Known> = sqlx::query_as(
        "SELECT record_id, location_id, row_hash FROM import_records \
         WHERE tenant_id = $3 AND kind = $1 AND external_id = $2",
    )
    .bind(spec.kind.as_str())
    .bind(&plan.external_id)
    .bind(tx.tenant_id())
    .fetch_optional(tx.conn())
    .await?;
    if known.as_ref().is_some_and(|known| known.row_hash == hash) {
        return Ok(Applied::Done(tx, Outcome::Unchanged));
    }
    let record = Value::Object(plan.record.clone());
    let collection = spec.kind.collection();
    let (mut tx, record_id, outcome) = match &known {
        Some(known) => {
            let path = format!("{collection}/{}", known.record_id);
            match step(acting, tx, "PATCH", &path, &record).await? {
                Step::Done(tx, _) => (tx, known.record_id.clone(), Outcome::Updated),
                Step::Refused(tx, problem) => {
                    let errors = row_errors(
                        &spec.layout,
                        Part::Record,
                        &problem,
                        line,
                        &plan.external_id,
                    );
                    return Ok(Applied::Refused(tx, errors));
                }
                Step::Lost => return Ok(Applied::Lost),
            }
        }
        None => match step(acting, tx, "POST", collection, &record).await? {
            Step::Done(tx, created) => {
                let id = created["id"].as_str().unwrap_or_default().to_owned();
                (tx, id, Outcome::Created)
            }
            Step::Refused(tx, problem) => {
                let errors = row_errors(
                    &spec.layout,
                    Part::Record,
                    &problem,
                    line,
                    &plan.external_id,
                );
                return Ok(Applied::Refused(tx, errors));
            }
            Step::Lost => return Ok(Applied::Lost),
        },
    };
    let mut location_id = known.as_ref().and_then(|known| known.location_id.clone());
    if let Some(location) = &plan.location {
        let location = Value::Object(location.clone());
        let (method, path) = match &location_id {
            Some(id) => ("PATCH", format!("/crm/locations/{id}")),
            None => ("POST", format!("/crm/customers/{record_id}/locations")),
        };
        match step(acting, tx, method, &path, &location).await? {
            Step::Done(kept, answered) => {
                tx = kept;
                location_id = answered["id"].as_str().map(str::to_owned).or(location_id);
            }
            Step::Refused(tx, problem) => {
                let errors = row_errors(
                    &spec.layout,
                    Part::Location,
                    &problem,
                    line,
                    &plan.external_id,
                );
                return Ok(Applied::Refused(tx, errors));
            }
            Step::Lost => return Ok(Applied::Lost),
        }
    }
    sqlx::query(
        "INSERT INTO import_records (tenant_id, kind, external_id, record_id, location_id, row_hash) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, kind, external_id) DO UPDATE \
         SET record_id = $4, location_id = $5, row_hash = $6, updated_at = EXCLUDED.updated_at",
    )
    .bind(tx.tenant_id())
    .bind(spec.kind.as_str())
    .bind(&plan.external_id)
    .bind(&record_id)
    .bind(&location_id)
    .bind(&hash)
    .execute(tx.conn())
    .await?;
    Ok(Applied::Done(tx, outcome))
}

/// One module call's outcome for the importer.
enum Step {
    Done(TenantTx, Value),
    Refused(TenantTx, Value),
    Lost,
}

async fn step(
    acting: &ActingUser,
    tx: TenantTx,
    method: &str,
    path: &str,
    body: &Value,
) -> Result<Step> {
    Ok(match acting.call(tx, method, path, Some(body)).await? {
        Answered::Done(tx, answer) => Step::Done(tx, answer),
        Answered::Refused {
            tx: Some(tx),
            problem,
            ..
        } => Step::Refused(tx, problem),
        Answered::Refused { tx: None, .. } => Step::Lost,
    })
}

/// A module's refusal as row errors naming the file's columns: each of the problem's field
/// errors, or the problem's detail for the whole row.
fn row_errors(
    layout: &Layout,
    part: Part,
    problem: &Value,
    line: u64,
    external_id: &str,
) -> Vec<RowError> {
    let known: Vec<columns::Column> = layout.targets.iter().flatten().cloned().collect();
    let error = |column: String, message: &str| RowError {
        line,
        external_id: Some(external_id.to_owned()),
        column,
        message: message.to_owned(),
    };
    let fields = problem["errors"].as_array().cloned().unwrap_or_default();
    if fields.is_empty() {
        let message = problem["detail"]
            .as_str()
            .or(problem["code"].as_str())
            .unwrap_or("refused by the module");
        return vec![error(String::new(), message)];
    }
    fields
        .iter()
        .map(|field| {
            let name = field["field"].as_str().unwrap_or_default();
            let column = match columns::column_of_field(&known, part, name) {
                Some(column) => layout.header_of(&column),
                None if part == Part::Location => format!("location.{name}"),
                None => name.to_owned(),
            };
            error(column, field["message"].as_str().unwrap_or("is invalid"))
        })
        .collect()
}

/// The stored parts of a job a new worker needs.
#[derive(sqlx::FromRow)]
struct Stored {
    kind: String,
    dry_run: bool,
    mapping: sqlx::types::Json<BTreeMap<String, String>>,
    body: Vec<u8>,
    rows_done: i32,
    created_by: Uuid,
}

/// Takes up job `id` from its `rows_done` when it is running and its worker's heartbeat is
/// older than [`ORPHANED_AFTER_SECS`] (the server that ran it stopped). The heartbeat is
/// claimed with a conditional update, so of several readers one resumes it.
pub async fn resume_if_orphaned(state: &AppState, tx: &mut TenantTx, id: Uuid) -> Result<()> {
    let claimed: Option<Stored> = sqlx::query_as(
        "UPDATE imports SET heartbeat_at = now() WHERE tenant_id = $3 AND id = $1 \
         AND status = 'running' \
         AND heartbeat_at < now() - make_interval(secs => $2) \
         RETURNING kind, dry_run, mapping, body, rows_done, created_by",
    )
    .bind(id)
    .bind(ORPHANED_AFTER_SECS as f64)
    .bind(tx.tenant_id())
    .fetch_optional(tx.conn())
    .await?;
    let Some(stored) = claimed else {
        return Ok(());
    };
    let kind = Kind::parse(&stored.kind).ok_or_else(|| Error::Internal(anyhow::anyhow!("kind")))?;
    let definitions = match kind.entity() {
        Some(entity) => crate::custom_fields::load(tx.conn(), Some(entity)).await?,
        None => Vec::new(),
    };
    let columns = columns::of(kind, &definitions);
    let (layout, _) = file::layout(&stored.body, &columns, &stored.mapping)?;
    let acting = ActingUser::load(state, tx.tenant_id(), stored.created_by).await?;
    let spec = Spec {
        id,
        kind,
        dry_run: stored.dry_run,
        layout,
    };
    tracing::info!(import = %id, from = stored.rows_done, "resuming an orphaned import");
    spawn(
        acting,
        spec,
        Bytes::from(stored.body),
        stored.rows_done as usize,
    );
    Ok(())
}
