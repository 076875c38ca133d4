//! Billing settings (one row per tenant) and gapless invoice numbers.
//!
//! The row holds what is billing's own: the next invoice number and the public address pay
//! links start with. The invoice prefix, the company's name and address and the default
//! payment terms are the company account's (`/v1/account`, read through
//! `verofield_field_ops::account`); setting them here is 422 pointing there. [`allocate`]
//! takes the next number inside the finalizing transaction through [`rows::update_fresh`]:
//! the counter row stays locked until that transaction ends, so concurrent finalizations
//! queue on it, and a finalization that rolls back gives its number back with it. Numbers are
//! therefore consecutive, each used once, with no gaps (`PREFIX-000042`). Changing the prefix
//! keeps the counter.

use serde::Deserialize;
use serde_json::{Value, json};
use verofield_field_ops::{Columns, account};
use verofield_sdk::store::{self, Record, Select, StoreError};
use verofield_sdk::{FieldError, Patch, Problem, Request, Response, Validator, etag};

use crate::rows::{self, SETTINGS};

/// What `billing_settings` held until the company account took them (migration 0026).
const MOVED_TO_ACCOUNT: [&str; 4] = [
    "invoice_prefix",
    "company_name",
    "company_address",
    "default_payment_terms",
];

/// The tenant's settings row, created with the defaults on first use. Two first uses at
/// once: the second insert waits on the unique key, fails as a duplicate, and reads the
/// first one's row.
pub fn settings() -> Result<Record<Columns>, Problem> {
    if let Some(row) = find()? {
        return Ok(row);
    }
    match store::insert::<Columns>(SETTINGS, &json!({})) {
        Ok(row) => Ok(row),
        Err(StoreError::Duplicate(_)) => {
            find()?.ok_or_else(|| Problem::internal("billing settings vanished"))
        }
        Err(other) => Err(other.into()),
    }
}

fn find() -> Result<Option<Record<Columns>>, Problem> {
    Ok(Select::from(SETTINGS)
        .limit(1)
        .fetch::<Columns>()?
        .items
        .into_iter()
        .next())
}

/// `PREFIX-000042`: at least six digits.
pub fn format_number(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number:06}")
}

/// Takes the next invoice number (see the file header).
pub fn allocate() -> Result<String, Problem> {
    let id = settings()?.id;
    let prefix = account::read()?.values.invoice_prefix;
    let mut taken = String::new();
    rows::update_fresh(rows::SETTINGS_ROW, &id, |row| {
        let next = rows::int(&row.values, "next_number");
        taken = format_number(&prefix, next);
        Ok(json!({"next_number": next + 1}))
    })?;
    Ok(taken)
}

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsFields {
    public_url: Patch<String>,
}

/// `GET /settings`
pub fn show(_request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(200, &settings()?))
}

/// Where customers reach the server: `https://host[:port]`, nothing after the host.
fn is_public_url(url: &str) -> bool {
    let Some(host) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// `PATCH /settings`: the public address pay links start with. The fields the company
/// account took are 422 naming each, pointing at `/v1/account`.
pub fn update(request: &Request) -> Result<Response, Problem> {
    let moved: Vec<FieldError> = serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|body| body.as_object().cloned())
        .into_iter()
        .flat_map(|body| body.into_iter().map(|(key, _)| key))
        .filter(|key| MOVED_TO_ACCOUNT.contains(&key.as_str()))
        .map(|key| FieldError::new(key, "is the company account's: PATCH /v1/account"))
        .collect();
    if !moved.is_empty() {
        return Err(Problem::validation(moved));
    }
    let mut fields: SettingsFields = request.json_with_read_only(&["next_number"])?;
    fields
        .public_url
        .normalize(|url| Some(url.trim().trim_end_matches('/').to_owned()));
    let mut check = Validator::default();
    check
        .required(&fields.public_url, "public_url", false)
        .length("public_url", fields.public_url.value(), 0..=200);
    if let Some(url) = fields.public_url.value() {
        check.check(
            url.is_empty() || is_public_url(url),
            "public_url",
            "must be an http(s) address with a host and no path, query or spaces",
        );
    }
    check.finish()?;
    let current = settings()?;
    let values: Value = serde_json::to_value(&fields).unwrap_or_default();
    let updated: Record<Columns> =
        etag::update(request, SETTINGS, &current.id, "billing settings", &values)?;
    Ok(Response::record(200, &updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_is_a_scheme_and_a_host() {
        assert!(is_public_url("https://pay.example.com"));
        assert!(is_public_url("http://127.0.0.1:8080"));
        for bad in [
            "pay.example.com",
            "https://",
            "https://a.com/x",
            "ftp://a.com",
            "https://a b",
        ] {
            assert!(!is_public_url(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_carry_the_prefix_and_six_digits() {
        assert_eq!(format_number("INV", 42), "INV-000042");
        assert_eq!(format_number("ACME-26", 1_234_567), "ACME-26-1234567");
    }
}
