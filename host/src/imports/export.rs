//! `GET /v1/exports/{kind}.csv`: the tenant's records of a kind as CSV, with the very columns
//! the import reads (`external_id` first, the tenant's custom fields as `custom.<key>`), so an
//! export imports again without a mapping. Records are read through the owning module, as the
//! caller (its read permission), a page of 200 at a time in the request's one transaction
//! (one snapshot), and streamed as they are read.
//!
//! `external_id` is the id the record was imported under, else the record's own id (which a
//! later import of the file then knows it by, in this tenant or another). A text cell that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) is written with a leading `'`, which the importer drops again; numbers are written
//! by the host from JSON numbers and never carry a formula.

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::Kind;
use super::columns::{self, Cell, Column, EXTERNAL_ID, Part};
use crate::error::{Error, Result};
use crate::registry::acting::{ActingUser, Answered, refusal};
use crate::storage::collections::retention::JsonLines;
use crate::tenancy::TenantTx;

/// Records read per module call.
const PAGE: u32 = 200;

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Streams `kind`'s CSV, reading in `tx` (which the stream owns and rolls back).
pub async fn stream(acting: ActingUser, mut tx: TenantTx, kind: Kind) -> Result<JsonLines> {
    let definitions = match kind.entity() {
        Some(entity) => crate::custom_fields::load(tx.conn(), Some(entity)).await?,
        None => Vec::new(),
    };
    let columns = columns::of(kind, &definitions);
    let imported: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT record_id, external_id FROM import_records WHERE tenant_id = $2 AND kind = $1",
    )
    .bind(kind.as_str())
    .bind(tx.tenant_id())
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .collect();
    // The first page is read before answering, so that a missing permission is a 403.
    let (tx, first) = page(&acting, tx, kind.collection(), None).await?;
    let (sender, receiver) = mpsc::channel(2);
    tokio::spawn(async move {
        let mut header = vec![EXTERNAL_ID.to_owned()];
        header.extend(columns.iter().map(|column| column.name.clone()));
        let outcome = async {
            send(&sender, &[header]).await?;
            write_all(&acting, tx, kind, &columns, &imported, first, &sender).await
        }
        .await;
        if let Err(error) = outcome {
            tracing::warn!(%error, "export stopped");
            let _ = sender
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    Ok(JsonLines::fed_by(receiver))
}

async fn write_all(
    acting: &ActingUser,
    tx: TenantTx,
    kind: Kind,
    columns: &[Column],
    imported: &HashMap<String, String>,
    first: Value,
    sender: &Sender,
) -> Result<()> {
    let (mut tx, locations) = match kind {
        Kind::Customers => locations_by_customer(acting, tx).await?,
        _ => (tx, HashMap::new()),
    };
    let mut answer = first;
    loop {
        let rows: Vec<Vec<String>> = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|record| {
                let id = record["id"].as_str().unwrap_or_default();
                let location = locations.get(id).unwrap_or(&Value::Null);
                let mut row = vec![imported.get(id).map_or(id, String::as_str).to_owned()];
                row.extend(columns.iter().map(|column| {
                    let source = match column.part {
                        Part::Record => record,
                        Part::Location => location,
                    };
                    cell(column.cell, columns::get(source, &column.path))
                }));
                row
            })
            .collect();
        send(sender, &rows).await?;
        let Some(cursor) = answer["next_cursor"].as_str().map(str::to_owned) else {
            break;
        };
        (tx, answer) = page(acting, tx, kind.collection(), Some(&cursor)).await?;
    }
    Ok(tx.rollback().await?)
}

/// Each customer's first location (the one an import of a row creates).
async fn locations_by_customer(
    acting: &ActingUser,
    mut tx: TenantTx,
) -> Result<(TenantTx, HashMap<String, Value>)> {
    let mut found: HashMap<String, Value> = HashMap::new();
    let mut cursor = None;
    loop {
        let answer;
        (tx, answer) = page(acting, tx, "/crm/locations", cursor.as_deref()).await?;
        for location in answer["items"].as_array().into_iter().flatten() {
            let customer = location["customer_id"].as_str().unwrap_or_default();
            found
                .entry(customer.to_owned())
                .or_insert_with(|| location.clone());
        }
        match answer["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok((tx, found)),
        }
    }
}

async fn page(
    acting: &ActingUser,
    tx: TenantTx,
    collection: &str,
    cursor: Option<&str>,
) -> Result<(TenantTx, Value)> {
    let mut path = format!("{collection}?limit={PAGE}");
    if let Some(cursor) = cursor {
        let encoded: String = serde_urlencoded::to_string([("cursor", cursor)])
            .map_err(|error| Error::Internal(error.into()))?;
        path = format!("{path}&{encoded}");
    }
    match acting.call(tx, "GET", &path, None).await? {
        Answered::Done(tx, answer) => Ok((tx, answer)),
        Answered::Refused {
            status, problem, ..
        } => Err(refusal("GET", &path, status, &problem)),
    }
}

/// A value as its cell, a would-be formula neutralised.
fn cell(kind: Cell, value: &Value) -> String {
    let text = columns::write(kind, value);
    match kind {
        Cell::Text | Cell::List | Cell::Hours if columns::is_formula(&text) => format!("'{text}"),
        _ => text,
    }
}

async fn send(sender: &Sender, rows: &[Vec<String>]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row)
            .map_err(|error| Error::Internal(error.into()))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| Error::Internal(anyhow::anyhow!("{error}")))?;
    sender
        .send(Ok(Bytes::from(bytes)))
        .await
        .map_err(|_| Error::Internal(anyhow::anyhow!("the client left the export")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_text_that_would_be_a_formula_is_written_inert_and_numbers_stay_numbers() {
        assert_eq!(cell(Cell::Text, &json!("=HYPERLINK(1)")), "'=HYPERLINK(1)");
        assert_eq!(cell(Cell::Text, &json!("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(cell(Cell::Number, &json!(-97.74)), "-97.74");
        assert_eq!(
            columns::read(Cell::Text, "'=HYPERLINK(1)").unwrap(),
            Some(json!("=HYPERLINK(1)"))
        );
    }
}
