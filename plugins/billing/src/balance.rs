//! The customer's balance (`crm_customers.balance_minor`): what the customer owes across
//! their finalized invoices, in the customer's currency; negative is credit (an overpayment,
//! a credit note past what was due). Finalizing adds the total; payments and credit notes
//! subtract; refunds and a void's reversal move it back. Written only through
//! [`rows::update_fresh`], so concurrent payments on one customer each apply to the value the
//! previous one committed (see `rows.rs`).
//!
//! A customer's balance has one currency. A customer who owes nothing (balance 0) takes the
//! currency of the next invoice finalized for them; while they owe or hold credit, an amount
//! in another currency is 422 `currency_mismatch`.

use serde_json::json;
use verofield_sdk::{Problem, money};

use crate::rows::{self, CUSTOMER};

/// Adds `delta` (minor units of `currency`) to the customer's balance.
pub fn adjust(customer_id: &str, currency: &str, delta: i64) -> Result<i64, Problem> {
    let mut balance = 0;
    rows::update_fresh(CUSTOMER, customer_id, |customer| {
        let current = rows::int(&customer.values, "balance_minor");
        let held = rows::text(&customer.values, "currency");
        if held != currency && current != 0 {
            money::same_currency("currency", held, currency)?;
        }
        balance = money::add("balance_minor", current, delta)?;
        Ok(json!({"balance_minor": balance, "currency": currency}))
    })?;
    Ok(balance)
}

/// Refuses (422 `currency_mismatch`) an invoice in `currency` for a customer who owes or holds
/// credit in another one: the early answer, before a draft is written.
pub fn check_currency(
    customer: &verofield_field_ops::Columns,
    currency: &str,
) -> Result<(), Problem> {
    let held = rows::text(customer, "currency");
    if held != currency && rows::int(customer, "balance_minor") != 0 {
        money::same_currency("currency", held, currency)?;
    }
    Ok(())
}
