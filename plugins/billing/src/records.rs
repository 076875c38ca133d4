//! What the billing module answers, as the API reference shows it. Answers are the stored
//! columns as they are (`store.billing_*`, migration 0014), so these structs exist for their
//! schemas only (`Route::responds`); the schemathesis run (tests/testsuite/api_schemas.rs)
//! checks real answers against them.

#![allow(dead_code)]

use schemars::JsonSchema;
use verofield_sdk::Record;

/// Billing's own settings: the invoice counter and the pay links' address (the prefix, the
/// company's name and address and the default terms are the company account's).
#[derive(JsonSchema)]
pub struct Settings {
    /// The number the next finalized invoice takes.
    next_number: i64,
    /// Where customers reach this server: the start of the pay links on invoices.
    public_url: String,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// A tax rate; `percentage` is `percent_e4` as a decimal string (`8.875`).
#[derive(JsonSchema)]
pub struct TaxRate {
    #[serde(flatten)]
    rate: Record<TaxRateColumns>,
    percentage: String,
}

#[derive(JsonSchema)]
pub struct TaxRateColumns {
    name: String,
    /// Ten-thousandths of a percent: 8.875 % is 88750.
    percent_e4: i64,
    inclusive: bool,
    jurisdiction: String,
    active: bool,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// A page of tax rates.
#[derive(JsonSchema)]
pub struct TaxRates {
    items: Vec<TaxRate>,
    next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

/// An invoice's stored columns: amounts in the currency's minor units.
#[derive(JsonSchema)]
pub struct Invoice {
    customer_id: String,
    status: Status,
    /// Set when finalized.
    number: Option<String>,
    currency: String,
    /// `due_on_receipt`, `net_15` or `net_30`.
    payment_terms: String,
    /// Local dates, `YYYY-MM-DD`, set when finalized.
    issue_date: Option<String>,
    due_date: Option<String>,
    discount_minor: i64,
    subtotal_minor: i64,
    discount_total_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    amount_paid_minor: i64,
    amount_credited_minor: i64,
    amount_due_minor: i64,
    /// `manual`, `job`, `work_order` or `agreement_period`.
    source: String,
    source_job_id: Option<String>,
    source_work_order_id: Option<String>,
    agreement_id: Option<String>,
    period_start: Option<String>,
    period_end: Option<String>,
    stripe_payment_intent_id: Option<String>,
    stripe_intent_amount_minor: Option<i64>,
    payment_attempts: i64,
    /// Why the last card payment failed.
    last_payment_error: Option<String>,
    payment_url: Option<String>,
    disputed: bool,
    dispute_id: Option<String>,
    notes: String,
    #[schemars(extend("format" = "date-time"))]
    finalized_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    paid_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    voided_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    uncollectible_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// A line of an invoice, priced: amount, its share of the invoice discount, tax, total.
#[derive(JsonSchema)]
pub struct Line {
    invoice_id: String,
    position: i64,
    description: String,
    /// Thousandths: 1.5 hours is 1500.
    quantity_milli: i64,
    unit_price_minor: i64,
    discount_minor: i64,
    tax_rate_id: Option<String>,
    tax_name: Option<String>,
    tax_percent_e4: i64,
    tax_inclusive: bool,
    /// `custom`, `service`, `material`, `work_order_item` or `agreement`.
    kind: String,
    service_type_id: Option<String>,
    /// The pricing extension that added the line (a surcharge); null otherwise.
    source: Option<String>,
    currency: String,
    #[schemars(extend("format" = "date-time"))]
    finalized_at: Option<String>,
    voided: bool,
    amount_minor: i64,
    invoice_discount_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// An invoice with its lines, in order.
#[derive(JsonSchema)]
pub struct InvoiceWithLines {
    #[serde(flatten)]
    invoice: Record<Invoice>,
    lines: Vec<Record<Line>>,
}

/// A payment received: what it paid of the invoice and what went to the customer's credit.
#[derive(JsonSchema)]
pub struct Payment {
    invoice_id: String,
    customer_id: String,
    /// `cash`, `check`, `bank_transfer` or `card`.
    method: String,
    amount_minor: i64,
    currency: String,
    applied_minor: i64,
    credit_minor: i64,
    refunded_minor: i64,
    /// A local date, `YYYY-MM-DD`.
    received_on: String,
    reference: String,
    recorded_by: Option<String>,
    stripe_payment_intent_id: Option<String>,
    stripe_charge_id: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// A refund of part or all of a payment.
#[derive(JsonSchema)]
pub struct Refund {
    payment_id: String,
    invoice_id: String,
    customer_id: String,
    amount_minor: i64,
    currency: String,
    reason: String,
    stripe_refund_id: Option<String>,
    refunded_by: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// A payment with its refunds, oldest first.
#[derive(JsonSchema)]
pub struct PaymentWithRefunds {
    #[serde(flatten)]
    payment: Record<Payment>,
    refunds: Vec<Record<Refund>>,
}

/// A credit against a finalized invoice.
#[derive(JsonSchema)]
pub struct CreditNote {
    invoice_id: String,
    customer_id: String,
    amount_minor: i64,
    currency: String,
    reason: String,
    created_by: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// An invoice's credit notes, oldest first (one page: `next_cursor` is always null).
#[derive(JsonSchema)]
pub struct CreditNotes {
    items: Vec<Record<CreditNote>>,
    next_cursor: Option<String>,
}

/// A customer's payment profile; a customer without one has the defaults.
#[derive(JsonSchema)]
pub struct PaymentProfile {
    customer_id: String,
    stripe_customer_id: Option<String>,
    default_payment_method: Option<String>,
    /// Whether invoices are charged when finalized (needs a saved payment method too).
    autopay: bool,
    delinquent: bool,
    #[schemars(extend("format" = "date-time"))]
    delinquent_since: Option<String>,
}

/// An invoice's dunning: the automatic charge retries after a failed autopay charge.
#[derive(JsonSchema)]
pub struct Dunning {
    invoice_id: String,
    customer_id: String,
    /// `retrying`, `exhausted` or `cleared`.
    state: String,
    attempt: i64,
    /// Local dates, `YYYY-MM-DD`.
    first_failed_on: Option<String>,
    next_attempt_on: Option<String>,
    last_error: Option<String>,
    last_decline_code: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    cleared_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    #[schemars(extend("format" = "date-time"))]
    updated_at: String,
}

/// What is owed, per currency, by days past due as of a date.
#[derive(JsonSchema)]
pub struct Aging {
    /// `YYYY-MM-DD`.
    as_of: String,
    /// By currency code.
    currencies: std::collections::BTreeMap<String, CurrencyAging>,
}

/// One currency's receivables; a bucket without invoices is absent.
#[derive(JsonSchema)]
pub struct CurrencyAging {
    total_due_minor: i64,
    /// Not yet due.
    current: Option<AgingBucket>,
    #[serde(rename = "1_30")]
    days_1_30: Option<AgingBucket>,
    #[serde(rename = "31_60")]
    days_31_60: Option<AgingBucket>,
    #[serde(rename = "61_90")]
    days_61_90: Option<AgingBucket>,
    over_90: Option<AgingBucket>,
}

#[derive(JsonSchema)]
pub struct AgingBucket {
    count: i64,
    due_minor: i64,
}

/// Finalized invoices per month and currency, and the same months by service type.
#[derive(JsonSchema)]
pub struct Revenue {
    items: Vec<MonthRevenue>,
    service_types: Vec<ServiceTypeRevenue>,
}

#[derive(JsonSchema)]
pub struct MonthRevenue {
    /// The month of finalization.
    month: Option<String>,
    currency: Option<String>,
    count: i64,
    total_minor: i64,
    tax_minor: i64,
    paid_minor: i64,
}

#[derive(JsonSchema)]
pub struct ServiceTypeRevenue {
    month: Option<String>,
    currency: Option<String>,
    /// Null for lines without a service type.
    service_type_id: Option<String>,
    lines: i64,
    /// The lines' totals less their tax.
    revenue_minor: i64,
    tax_minor: i64,
}
