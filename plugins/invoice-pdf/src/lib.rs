//! The printable invoice: [`InvoiceDocument`] (plain data, filled by the billing module from
//! its rows, or from JSON) in, PDF bytes out ([`render`]).
//!
//! Everything an invoice shows is already decided when it arrives here: amounts are the
//! billing module's integer minor units (this crate only formats them, `money.rs`), dates
//! and the status are text. The crate draws: a header with the tenant's name and address and
//! `INVOICE <number>`, status and dates, the bill-to block, the lines table (amounts
//! right-aligned), the totals, the payment link and notes, and a footer with `Page i of n`
//! on every page; lines that do not fit continue on further pages under a repeated table
//! heading (`layout.rs`). Pure Rust (`pdf-writer`), no filesystem, fonts or threads, so it
//! runs inside the billing component (wasm32-wasip2); text is Helvetica in WinAnsiEncoding,
//! whose limits `text.rs` explains.

mod canvas;
mod layout;
mod metrics;
pub mod money;
mod pdf;
mod text;

use serde::{Deserialize, Serialize};

/// What one invoice shows. Amounts are minor units of [`currency`](Self::currency).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvoiceDocument {
    /// The issuing company (the tenant) and its postal address, one line each.
    pub tenant_name: String,
    pub tenant_address: Vec<String>,
    /// The invoice number with the tenant's prefix (`INV-2026-0042`); empty on a draft.
    pub number: String,
    /// `draft`, `open`, `paid`, `void`, `uncollectible`: printed capitalised.
    pub status: String,
    /// Dates as they should be printed (the module formats them, e.g. `2026-12-06`).
    pub issue_date: String,
    /// Empty when there is none (a draft).
    pub due_date: String,
    pub customer_name: String,
    pub customer_address: Vec<String>,
    pub lines: Vec<InvoiceLine>,
    /// One row per tax in the totals; when empty, a non-zero `tax_total_minor` prints as `Tax`.
    pub tax_lines: Vec<TaxLine>,
    pub subtotal_minor: i64,
    /// The invoice-level reduction, as a positive amount: printed with a minus sign.
    pub discount_minor: i64,
    pub tax_total_minor: i64,
    pub total_minor: i64,
    pub amount_paid_minor: i64,
    pub amount_due_minor: i64,
    /// ISO 4217 code (`USD`) and its exponent (2 for USD, 0 for JPY, 3 for BHD).
    pub currency: String,
    pub currency_exponent: u8,
    /// The public pay link, printed and clickable when present.
    pub payment_url: Option<String>,
    /// Free text at the end (payment terms, thanks); `\n` starts a new line.
    pub notes: String,
    /// The company's colour (`#rrggbb`, the account's `brand_color`) for the band atop each
    /// page; the default blue when absent or not of that form.
    pub brand_color: Option<String>,
}

/// One row of the lines table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvoiceLine {
    /// Wrapped onto as many lines as it needs.
    pub description: String,
    /// As it should be printed (`2`, `1.5`, `3 h`): the module owns quantity arithmetic.
    pub quantity: String,
    pub unit_amount_minor: i64,
    pub total_minor: i64,
}

/// One tax in the totals block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaxLine {
    /// `VAT`, `CA sales tax`.
    pub name: String,
    /// As printed: `20%`, `8.875%`, `incl. 20%`.
    pub rate: String,
    pub amount_minor: i64,
}

/// The invoice as a PDF file (A4, one page or more).
pub fn render(doc: &InvoiceDocument) -> Vec<u8> {
    pdf::assemble(doc, layout::pages(doc))
}
