//! The company account as the other modules read it: the one row per tenant the `accounts`
//! module keeps in `company_accounts` (migration 0026), read through a `tables.read` grant.
//! Billing takes its invoice prefix, legal name, address, payment terms and currency from
//! here; nothing keeps a copy. Every tenant has its row from provisioning on, so a missing
//! one is the host's fault (500), never a default made up here.

use serde::{Deserialize, Serialize};
use verofield_sdk::Problem;
use verofield_sdk::store::{Record, Select};

/// The account's table (one row per tenant).
pub const ACCOUNTS: &str = "company_accounts";
/// The logo's bytes (base64), one row per tenant, apart so that reading the account stays small.
pub const LOGOS: &str = "company_logos";

/// The fields other modules use.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AccountView {
    pub legal_name: String,
    pub address_lines: Vec<String>,
    pub phone: String,
    pub currency: String,
    pub invoice_prefix: String,
    pub payment_terms_days: i64,
    pub brand_color: String,
}

/// The tenant's account row.
pub fn read() -> Result<Record<AccountView>, Problem> {
    Select::from(ACCOUNTS)
        .limit(1)
        .fetch::<AccountView>()?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| Problem::internal("the tenant has no company account row"))
}

/// Billing's name for `days` of payment terms: `due_on_receipt` for 0, else `net_<days>`.
pub fn payment_terms(days: i64) -> String {
    if days <= 0 {
        "due_on_receipt".to_owned()
    } else {
        format!("net_{days}")
    }
}

/// The days of billing's terms (`due_on_receipt` 0, `net_<days>` 1 to 365), or None.
pub fn payment_terms_days(terms: &str) -> Option<u64> {
    if terms == "due_on_receipt" {
        return Some(0);
    }
    let days = terms.strip_prefix("net_")?;
    let plain =
        !days.is_empty() && !days.starts_with('0') && days.bytes().all(|b| b.is_ascii_digit());
    days.parse().ok().filter(|d| plain && (1..=365).contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_days_both_ways() {
        assert_eq!(payment_terms(0), "due_on_receipt");
        assert_eq!(payment_terms(45), "net_45");
        for days in [0, 1, 15, 30, 365] {
            assert_eq!(payment_terms_days(&payment_terms(days)), Some(days as u64));
        }
        for bad in [
            "net_0", "net_366", "net_07", "net_", "net_x", "net_30 ", "cod",
        ] {
            assert_eq!(payment_terms_days(bad), None, "{bad}");
        }
    }
}
