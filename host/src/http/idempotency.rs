//! `Idempotency-Key` on creates: a client that retries a `POST` with the same key gets the
//! first attempt's answer instead of a second resource.
//!
//! The key is claimed in the request's own tenant transaction before the module runs (an
//! `INSERT` into `idempotency_keys`), and the answer is recorded in that row before commit.
//! So the key and the resource it created commit together or not at all; a concurrent retry
//! waits on the row's unique index until the first attempt ends, then replays its answer (or,
//! when the first attempt rolled back, runs itself). Keys are per user, live 24 hours, and
//! bind to the request: the same key with another method, path or body is refused (422).

use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::tenancy::TenantTx;

pub const HEADER: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
pub const RETENTION: &str = "24 hours";
const MAX_KEY_LEN: usize = 255;

/// `request_hash, status, headers, body` of a stored key.
type StoredRow = (
    Vec<u8>,
    Option<i32>,
    sqlx::types::Json<Vec<(String, String)>>,
    Option<Vec<u8>>,
);

/// A key sent with a request, bound to that request's content.
pub struct IdempotencyKey {
    key: String,
    method: String,
    path: String,
    request_hash: Vec<u8>,
}

/// An answer stored under a key.
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub enum Claim {
    /// The key is new: run the request, then [`record`] its answer.
    Fresh(IdempotencyKey),
    /// The key already answered this request: send that answer again.
    Replay(StoredAnswer),
}

impl IdempotencyKey {
    /// The request's key, when it sent one on a `POST` (the header is ignored on other
    /// methods, which are idempotent or conditional already).
    pub fn from_request(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Option<Self>> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        if method != "POST" {
            return Ok(None);
        }
        let key = value
            .to_str()
            .ok()
            .filter(|key| !key.is_empty() && key.len() <= MAX_KEY_LEN)
            .filter(|key| key.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                Error::bad_request(
                    "invalid_idempotency_key",
                    format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                )
            })?;
        let path = match query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let mut hash = Sha256::new();
        hash.update(method.as_bytes());
        hash.update([0]);
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(body);
        Ok(Some(Self {
            key: key.to_owned(),
            method: method.to_owned(),
            path,
            request_hash: hash.finalize().to_vec(),
        }))
    }
}

/// Claims the key for this request, or finds the answer it already has.
pub async fn claim(tx: &mut TenantTx, user_id: Uuid, key: IdempotencyKey) -> Result<Claim> {
    let tenant_id = tx.tenant_id();
    // Blocks while another transaction holds an uncommitted claim on the same key. A key
    // past its retention is claimed afresh by the same statement.
    let claimed = sqlx::query(&format!(
        "INSERT INTO idempotency_keys (tenant_id, user_id, key, method, path, request_hash)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, user_id, key) DO UPDATE
            SET method = EXCLUDED.method, path = EXCLUDED.path,
                request_hash = EXCLUDED.request_hash, status = NULL, headers = '[]',
                body = NULL, created_at = EXCLUDED.created_at
          WHERE idempotency_keys.created_at < EXCLUDED.created_at - interval '{RETENTION}'"
    ))
    .bind(tenant_id)
    .bind(user_id)
    .bind(&key.key)
    .bind(&key.method)
    .bind(&key.path)
    .bind(&key.request_hash)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if claimed {
        return Ok(Claim::Fresh(key));
    }
    let (request_hash, status, headers, body): StoredRow = sqlx::query_as(
        "SELECT request_hash, status, headers, body FROM idempotency_keys
          WHERE tenant_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(&key.key)
    .fetch_one(tx.conn())
    .await?;
    if request_hash != key.request_hash {
        return Err(Error::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ));
    }
    let status = status
        .and_then(|status| u16::try_from(status).ok())
        .ok_or_else(|| anyhow::anyhow!("a committed idempotency key without an answer"))?;
    Ok(Claim::Replay(StoredAnswer {
        status,
        headers: headers.0,
        body: body.unwrap_or_default(),
    }))
}

/// Stores the answer under the claimed key, in the transaction that is about to commit.
pub async fn record(
    tx: &mut TenantTx,
    user_id: Uuid,
    key: &IdempotencyKey,
    answer: &StoredAnswer,
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $4, headers = $5, body = $6
          WHERE tenant_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(tx.tenant_id())
    .bind(user_id)
    .bind(&key.key)
    .bind(i32::from(answer.status))
    .bind(sqlx::types::Json(&answer.headers))
    .bind(&answer.body)
    .execute(tx.conn())
    .await?;
    Ok(())
}
