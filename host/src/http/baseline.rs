//! `GET /v1/baseline/crm/customers/{id}`: a native handler that exists only as the reference
//! for the HTTP benchmark (`scripts/bench-http.sh`, BENCHMARKS.md "Module request vs native
//! handler"). It is compiled only with the cargo feature `bench-baseline` and mounted only with
//! `serve --bench-baseline`; no client should use it.
//!
//! It does, in Rust in the host, the work the CRM component does for
//! `GET /v1/crm/customers/{id}`: the same [`Tenant`] extractor (bearer token, principal and
//! the RLS tenant transaction), the same permission (`crm.customers.read`), the same
//! statement the store capability runs for `store::get` (filtered by tenant and id), the same
//! JSON body (`id`, `version`, then the row's columns) and ETag (the version in quotes), the
//! same 400 for an id that is not a UUID and 404 problem for a missing row, and the same
//! commit of the transaction on success. What it leaves out is what the module path adds:
//! resolving the tenant's module binding, the WebAssembly call and the JSON crossing into and
//! out of the guest.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::AppState;
use super::etag::etag_header;
use super::extract::{Json, Path, Tenant};
use crate::auth::rbac::perm;
use crate::error::{Error, Result};

/// The route when `enabled` (`serve --bench-baseline`), else nothing.
pub fn routes(enabled: bool) -> Router<AppState> {
    match enabled {
        true => Router::new().route("/v1/baseline/crm/customers/{id}", get(show)),
        false => Router::new(),
    }
}

/// The statement `PgStore::get` runs for `crm_customers` (see `storage::sql::get`).
const SELECT_CUSTOMER: &str = "SELECT t.id, t.version, \
     (to_jsonb(t.*) - 'tenant_id' - 'id' - 'version') AS \"values\" \
     FROM store.\"crm_customers\" t WHERE t.tenant_id = $1 AND t.id = $2";

/// The module's `Record`: id and version first, then the columns (sorted, as a JSON map).
#[derive(Serialize)]
struct Customer {
    id: Uuid,
    version: i64,
    #[serde(flatten)]
    values: Map<String, Value>,
}

async fn show(mut ctx: Tenant, Path(id): Path<String>) -> Result<Response> {
    ctx.require(perm::CRM_CUSTOMERS_READ)?;
    // The SDK's `id_param`: exactly the hyphenated form, else 400.
    let id = Some(id.as_str())
        .filter(|id| is_hyphenated_uuid(id))
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| {
            Error::bad_request("invalid_path_parameter", "`id` must be a UUID".to_owned())
        })?;
    let row: Option<(Uuid, i64, Value)> = sqlx::query_as(SELECT_CUSTOMER)
        .bind(ctx.tx.tenant_id())
        .bind(id)
        .fetch_optional(ctx.tx.conn())
        .await?;
    let Some((id, version, values)) = row else {
        return Err(Error::problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "no customer with this id",
        ));
    };
    let values = match values {
        Value::Object(values) => values,
        _ => Map::new(),
    };
    // The module path commits a transaction that answered below 400.
    ctx.commit().await?;
    Ok((
        [(header::ETAG, etag_header(version))],
        Json(Customer {
            id,
            version,
            values,
        }),
    )
        .into_response())
}

fn is_hyphenated_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}
