//! Cursor pagination. Most lists are keyed by a UUIDv7 id, so ordering by id is ordering by
//! creation; a list keyed otherwise (module versions: publication time, then digest) names its
//! key as a [`CursorKey`]. Either way the cursor is the key of the page's last row as bytes,
//! opaque to clients (base64url), and decoding checks it is a key of that list's kind.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, FieldError};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The key a list is ordered by, as the bytes its cursor carries.
pub trait CursorKey: Sized {
    fn to_bytes(&self) -> Vec<u8>;
    /// None for bytes that are not such a key.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl CursorKey for Uuid {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Uuid::from_slice(bytes).ok()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size and the id to continue after, validated.
    pub fn resolve(&self) -> Result<(i64, Option<Uuid>), Error> {
        self.resolve_keyed()
    }

    /// The page size and the key to continue after, for a list ordered by `K`.
    pub fn resolve_keyed<K: CursorKey>(&self) -> Result<(i64, Option<K>), Error> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(refused(
                "invalid_query_parameter",
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = self.cursor.as_deref().map(decode).transpose()?;
        Ok((limit, after))
    }
}

/// A 400 naming the query parameter at fault in `errors`, as validation problems do.
fn refused(code: &'static str, field: &str, detail: String) -> Error {
    Error::bad_request(code, detail.clone()).with_fields(vec![FieldError::new(field, detail)])
}

fn decode<K: CursorKey>(cursor: &str) -> Result<K, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| K::from_bytes(&bytes))
        .ok_or_else(|| {
            refused(
                "invalid_cursor",
                "cursor",
                "the cursor is not one this API issued".into(),
            )
        })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row only says
    /// that there is a next page.
    pub fn from_rows(rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> Uuid) -> Self {
        Self::from_keyed_rows(rows, limit, id_of)
    }

    /// [`Page::from_rows`] for a list ordered by another key.
    pub fn from_keyed_rows<K: CursorKey>(
        mut rows: Vec<T>,
        limit: i64,
        key_of: impl Fn(&T) -> K,
    ) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = more
            .then(|| {
                rows.last()
                    .map(|last| URL_SAFE_NO_PAD.encode(key_of(last).to_bytes()))
            })
            .flatten();
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: Option<i64>, cursor: Option<&str>) -> PageParams {
        PageParams {
            limit,
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn a_cursor_round_trips_and_names_its_field_when_refused() {
        let id = Uuid::now_v7();
        let page = Page::from_rows(vec![id, Uuid::now_v7()], 1, |id| *id);
        let cursor = page.next_cursor.unwrap();
        let (limit, after) = params(None, Some(&cursor)).resolve().unwrap();
        assert_eq!((limit, after), (DEFAULT_LIMIT, Some(id)));
        for (limit, cursor, field) in [
            (Some(0), None, "limit"),
            (Some(MAX_LIMIT + 1), None, "limit"),
            (None, Some("!!!"), "cursor"),
            (None, Some("AAAA"), "cursor"),
        ] {
            let Error::Problem { status, fields, .. } =
                params(limit, cursor).resolve().unwrap_err()
            else {
                panic!("not a problem");
            };
            assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
            assert_eq!(fields[0].field, field);
        }
    }
}
