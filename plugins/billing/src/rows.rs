//! Row helpers shared by the billing files: table names, reading columns, and the one way
//! billing writes a row that concurrent requests also write (an invoice's paid amount, a
//! customer's balance, the invoice counter).
//!
//! The store's `update` is conditional on the version read, and PostgreSQL holds the row's
//! lock from that update until the transaction ends. A concurrent writer's update waits for
//! the lock, then matches no row (the version moved) and gets `conflict`; [`update_fresh`]
//! then reads the row again (a new statement sees the committed value under READ COMMITTED)
//! and applies its change to it. So the writes to one row happen one after the other, each
//! on the value the previous one committed, and none is lost: 50 payments on one customer add
//! up exactly. Every request locks in the same order (counter, invoice, customer), so two
//! requests never wait on each other in a cycle.

use serde_json::Value;
use verofield_field_ops::Columns;
use verofield_sdk::store::{self, Record, StoreError};
use verofield_sdk::{Problem, Resource};

pub const SETTINGS: &str = "billing_settings";
pub const TAX_RATES: &str = "billing_tax_rates";
pub const INVOICES: &str = "billing_invoices";
pub const LINES: &str = "billing_invoice_lines";
pub const PAYMENTS: &str = "billing_payments";
pub const REFUNDS: &str = "billing_refunds";
pub const CREDIT_NOTES: &str = "billing_credit_notes";
pub const STRIPE_APPLIED: &str = "billing_stripe_applied";
pub const PAY_LINKS: &str = "billing_pay_links";
pub const PAYMENT_PROFILES: &str = "billing_payment_profiles";
pub const DUNNING: &str = "billing_dunning";

pub const SETTINGS_ROW: Resource = Resource::new(SETTINGS, "billing settings");
pub const INVOICE: Resource = Resource::new(INVOICES, "invoice");
pub const TAX_RATE: Resource = Resource::new(TAX_RATES, "tax rate");
pub const PAYMENT: Resource = Resource::new(PAYMENTS, "payment");
pub const PAYMENT_PROFILE: Resource = Resource::new(PAYMENT_PROFILES, "payment profile");
pub const DUNNING_ROW: Resource = Resource::new(DUNNING, "dunning");
pub const CUSTOMER: Resource = Resource::new(verofield_field_ops::CUSTOMERS, "customer");

/// How often a write is retried on a row others keep changing; each retry waited for one
/// other writer to commit, so this bounds the writers queued on one row, not time.
const MAX_ATTEMPTS: usize = 500;

/// An integer column, or 0.
pub fn int(row: &Columns, column: &str) -> i64 {
    row.get(column).and_then(Value::as_i64).unwrap_or(0)
}

/// A text column, or "".
pub fn text<'a>(row: &'a Columns, column: &str) -> &'a str {
    verofield_field_ops::text(row, column)
}

/// A nullable text column.
pub fn opt_text<'a>(row: &'a Columns, column: &str) -> Option<&'a str> {
    row.get(column).and_then(Value::as_str)
}

/// Reads row `id` of `resource`, computes the columns to set from it with `change` and
/// writes them at the version read; on a conflict reads it again and recomputes (see the
/// file header). `change` may refuse (a status that no longer allows the write).
pub fn update_fresh(
    resource: Resource,
    id: &str,
    mut change: impl FnMut(&Record<Columns>) -> Result<Value, Problem>,
) -> Result<Record<Columns>, Problem> {
    for _ in 0..MAX_ATTEMPTS {
        let row = resource.existing(id)?;
        let values = change(&row)?;
        match store::update::<Columns>(resource.table, id, row.version, &values) {
            Ok(updated) => return Ok(updated),
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(Problem::new(
        503,
        "billing_busy",
        format!("the {} kept changing; retry", resource.what),
    ))
}

/// The calling user's id, as stored in `*_by` columns; None for the host's own events
/// (Stripe's, the scheduler's), whose caller is the nil UUID.
pub fn caller() -> Option<String> {
    Some(verofield_field_ops::caller_user_id())
        .filter(|id| id != "00000000-0000-0000-0000-000000000000")
}

/// Today's date in the tenant's time zone, from the host's clock: invoices are issued, fall
/// due and age by the tenant's calendar.
pub fn today() -> chrono::NaiveDate {
    verofield_field_ops::plan::today(&verofield_sdk::context::tenant_time_zone())
}

/// The instant the tenant's `date` begins, as stored in timestamp columns: report ranges are
/// the tenant's days.
pub fn local_midnight(date: chrono::NaiveDate) -> String {
    use verofield_field_ops::time;
    time::stamp(time::start_of_day(
        date,
        &verofield_sdk::context::tenant_time_zone(),
    ))
}

/// The host's clock as stored in timestamp columns.
pub fn now_stamp() -> String {
    verofield_field_ops::time::stamp(verofield_field_ops::now())
}
