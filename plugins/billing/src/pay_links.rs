//! Pay links: the invoice a customer opens from an email, with no login, its PDF, and the start
//! of its card payment. Finalizing an invoice makes its link ([`create`]): the token is
//! `<tenant id, 32 hex>_<secret>`, and the host answers `/pay/{token}...` with this module's
//! routes whose permission is [`PAY_LINK`] and with no others (host `http/pay_links.rs`). Only
//! the secret's SHA-256 is stored (`billing_pay_links`, apart from the invoice row), so a copy
//! of the rows does not give the links away.
//!
//! A link shows its one invoice as the customer needs it (company, number, dates, lines,
//! totals, amount due) while it is open or paid; a voided or uncollectible invoice, a wrong
//! secret and another tenant's link are the same 404.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use verofield_field_ops::Columns;
use verofield_sdk::store::{self, Filter, Record, Select};
use verofield_sdk::{Problem, Request, Response};

use crate::rows::{INVOICE, PAY_LINKS, int, text};
use crate::{numbering, pdf, stripe_events};

/// The permission of the pay-link routes: the host gives it to a link's caller, to no one else.
pub const PAY_LINK: &str = "billing.pay-link";
/// Statuses whose link answers.
const SHOWN: [&str; 2] = ["open", "paid"];

/// Makes the link of a finalized invoice; its URL, with the tenant's public address when set.
pub fn create(invoice_id: &str) -> Result<String, Problem> {
    let mut secret = [0u8; 24];
    getrandom::fill(&mut secret)
        .map_err(|_| Problem::new(500, "no_randomness", "the host gave no random bytes"))?;
    let secret = hex(&secret);
    let _: Record<Columns> = store::insert(
        PAY_LINKS,
        &json!({"invoice_id": invoice_id, "secret_sha256": digest(&secret)}),
    )?;
    let tenant = verofield_sdk::context::tenant_id().replace('-', "");
    let settings = numbering::settings()?;
    let base = text(&settings.values, "public_url");
    Ok(format!("{base}/pay/{tenant}_{secret}"))
}

fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The invoice a link's token names, while it is shown; else 404.
fn linked(request: &Request) -> Result<Record<Columns>, Problem> {
    let missing = || Problem::not_found("pay link");
    let token = request.param("token")?;
    let (_, secret) = token.split_once('_').ok_or_else(missing)?;
    let link = Select::from(PAY_LINKS)
        .filter(Filter::eq("secret_sha256", digest(secret)))
        .limit(1)
        .fetch::<Columns>()?
        .items
        .into_iter()
        .next()
        .ok_or_else(missing)?;
    let invoice = INVOICE.existing(text(&link.values, "invoice_id"))?;
    match SHOWN.contains(&text(&invoice.values, "status")) {
        true => Ok(invoice),
        false => Err(missing()),
    }
}

/// `GET /pay/{token}`: the invoice as its customer sees it.
pub fn show(request: &Request) -> Result<Response, Problem> {
    let invoice = linked(request)?;
    let document = pdf::document(&invoice)?;
    let due = int(&invoice.values, "amount_due_minor");
    let lines = document
        .lines
        .into_iter()
        .map(|line| PayLine {
            description: line.description,
            quantity: line.quantity,
            unit_amount_minor: line.unit_amount_minor,
            total_minor: line.total_minor,
        })
        .collect();
    let view = PayView {
        payable: document.status == "open" && due > 0,
        company: Company {
            name: document.tenant_name,
            address: document.tenant_address,
        },
        number: document.number,
        status: document.status,
        issue_date: document.issue_date,
        due_date: document.due_date,
        customer_name: document.customer_name,
        currency: document.currency,
        lines,
        subtotal_minor: document.subtotal_minor,
        discount_minor: document.discount_minor,
        tax_minor: document.tax_total_minor,
        total_minor: document.total_minor,
        amount_paid_minor: document.amount_paid_minor,
        amount_due_minor: due,
    };
    Ok(Response::json(200, &view))
}

/// A linked invoice as its customer sees it: no ids, nothing the customer did not receive.
#[derive(Serialize, JsonSchema)]
pub struct PayView {
    company: Company,
    number: String,
    status: String,
    issue_date: String,
    due_date: String,
    customer_name: String,
    currency: String,
    lines: Vec<PayLine>,
    subtotal_minor: i64,
    discount_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    amount_paid_minor: i64,
    amount_due_minor: i64,
    /// Open with something due: the page offers to pay by card.
    payable: bool,
}

#[derive(Serialize, JsonSchema)]
struct Company {
    name: String,
    address: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
struct PayLine {
    description: String,
    /// As printed (`2`, `1.5`).
    quantity: String,
    unit_amount_minor: i64,
    total_minor: i64,
}

/// `GET /pay/{token}.pdf`
pub fn show_pdf(request: &Request) -> Result<Response, Problem> {
    pdf::answer(&linked(request)?)
}

/// `POST /pay/{token}/payment-intent`: the client secret for Stripe's Payment Element, as
/// staff get it (the same intent again while the amount due is unchanged).
pub fn start_payment(request: &Request) -> Result<Response, Problem> {
    stripe_events::intent_for(linked(request)?)
}
