//! Invoices: `draft -> open -> paid`, or `void` / `uncollectible` from open.
//!
//! A draft's lines, discount, terms and notes change freely (the whole invoice is priced
//! again each time, `lines.rs`). Finalizing takes the next gapless number
//! (`numbering.rs`), sets the issue date (today in the tenant's time zone) and the due date from the payment
//! terms, freezes the lines and adds the total to the customer's balance (`balance.rs`),
//! all in the request's one transaction, and emits `invoice.finalized`; an autopay
//! customer's card is charged in the same transaction (`autopay.rs`). After that only
//! payments, refunds and credit notes move the amounts. Voiding an open invoice with nothing
//! paid takes its amount due back off the balance; uncollectible is a flag for collections
//! (the customer still owes it and may still pay).

use chrono::{Days, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};
use verofield_field_ops::Columns;
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Problem, Request, Response, Validator, etag, events, money};

use crate::lines::{self, LineBody, NewLine};
use crate::numbering;
use crate::rows::{self, CUSTOMER, INVOICE, INVOICES, int, text};
use crate::{autopay, balance, pay_links, payments};
use verofield_field_ops::account;

pub const STATUSES: [&str; 5] = ["draft", "open", "paid", "void", "uncollectible"];
pub const INVOICE_FINALIZED: &str = "invoice.finalized";
pub const INVOICE_PAID: &str = "invoice.paid";

/// Where a generated draft comes from (its unique key columns among them).
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub customer_id: String,
    pub currency: Option<String>,
    pub payment_terms: Option<String>,
    pub discount_minor: i64,
    pub notes: String,
    /// `source`, `source_job_id`, `agreement_id`, `period_start`, ...
    pub source: Value,
    pub lines: Vec<NewLine>,
}

/// Writes a draft: checks the customer and currency, stores the invoice and prices it.
pub fn create_draft(draft: &Draft) -> Result<Record<Columns>, Problem> {
    let customer = store::get::<Columns>(verofield_field_ops::CUSTOMERS, &draft.customer_id)?
        .ok_or_else(|| {
            Problem::from(verofield_sdk::FieldError::new(
                "customer_id",
                "names no customer",
            ))
        })?;
    let company = account::read()?.values;
    // The currency asked for; else the one the customer owes in; else the company's.
    let currency = match &draft.currency {
        Some(currency) => currency.clone(),
        None if int(&customer.values, "balance_minor") != 0 => {
            text(&customer.values, "currency").to_owned()
        }
        None => company.currency,
    };
    money::currency("currency", &currency)?;
    balance::check_currency(&customer.values, &currency)?;
    let terms = match &draft.payment_terms {
        Some(terms) => terms.clone(),
        None => account::payment_terms(company.payment_terms_days),
    };
    let mut values = json!({
        "customer_id": customer.id,
        "currency": currency,
        "payment_terms": terms,
        "notes": draft.notes,
    });
    for (key, value) in draft.source.as_object().into_iter().flatten() {
        values[key] = value.clone();
    }
    let invoice: Record<Columns> = store::insert(INVOICES, &values)?;
    lines::price_draft(
        &invoice,
        Some(&draft.lines),
        draft.discount_minor,
        json!({}),
    )
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    customer_id: String,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    payment_terms: Option<String>,
    #[serde(default)]
    discount_minor: i64,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    lines: Vec<LineBody>,
}

fn check_terms(check: &mut Validator, terms: Option<&String>) {
    if let Some(terms) = terms {
        check.check(
            account::payment_terms_days(terms).is_some(),
            "payment_terms",
            "must be due_on_receipt or net_<days>, 1 to 365 days (net_30)",
        );
    }
}

/// `POST /invoices`: a draft.
pub fn create(request: &Request) -> Result<Response, Problem> {
    let body: CreateBody = request.json()?;
    let mut check = Validator::default();
    check
        .check(
            verofield_sdk::http::is_uuid(&body.customer_id),
            "customer_id",
            "must be a UUID",
        )
        .check(
            body.discount_minor >= 0,
            "discount_minor",
            "may not be negative",
        )
        .length("notes", Some(&body.notes), 0..=10_000);
    if let Some(currency) = &body.currency {
        check.accept(money::currency("currency", currency));
    }
    check_terms(&mut check, body.payment_terms.as_ref());
    let lines = lines::from_bodies(&mut check, &body.lines);
    check.finish()?;
    let invoice = create_draft(&Draft {
        customer_id: body.customer_id,
        currency: body.currency,
        payment_terms: body.payment_terms,
        discount_minor: body.discount_minor,
        notes: body.notes,
        source: json!({"source": "manual"}),
        lines,
    })?;
    answer(201, &invoice, true)
}

/// The invoice with its lines, its version as the ETag (and `Location` on a 201).
pub fn answer(status: u16, invoice: &Record<Columns>, created: bool) -> Result<Response, Problem> {
    let mut body = serde_json::to_value(invoice).unwrap_or_default();
    body["lines"] = json!(lines::of(&invoice.id)?);
    let mut response = Response::json(status, &body);
    response.set_header("etag", &etag::etag(invoice.version));
    if created {
        response.set_header("location", &format!("/v1/billing/invoices/{}", invoice.id));
    }
    Ok(response)
}

/// `GET /invoices?customer_id=&status=`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    if let Some(customer) = request.query_uuid("customer_id")? {
        filters.push(Filter::eq("customer_id", customer));
    }
    if let Some(status) = request.query_one_of("status", &STATUSES)? {
        filters.push(Filter::eq("status", status));
    }
    let page = Select::from(INVOICES)
        .filter(Filter::and(filters))
        .order_by("created_at", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /invoices/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    answer(200, &INVOICE.existing(request.id_param("id")?)?, false)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default)]
    payment_terms: Option<String>,
    #[serde(default)]
    discount_minor: Option<i64>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    lines: Option<Vec<LineBody>>,
}

fn not_draft(invoice: &Record<Columns>) -> Problem {
    Problem::new(
        409,
        "invoice_not_draft",
        format!(
            "a {} invoice is frozen; correct it with a credit note",
            text(&invoice.values, "status")
        ),
    )
}

/// The invoice of the request, matching its `If-Match`.
fn requested(request: &Request) -> Result<Record<Columns>, Problem> {
    let invoice = INVOICE.existing(request.id_param("id")?)?;
    etag::check_if_match(request, invoice.version)?;
    Ok(invoice)
}

/// `PATCH /invoices/{id}`: a draft's terms, discount, notes, or all its lines.
pub fn update(request: &Request) -> Result<Response, Problem> {
    let body: UpdateBody = request.json()?;
    let mut check = Validator::default();
    check_terms(&mut check, body.payment_terms.as_ref());
    check
        .check(
            body.discount_minor.is_none_or(|d| d >= 0),
            "discount_minor",
            "may not be negative",
        )
        .length("notes", body.notes.as_ref(), 0..=10_000);
    let new_lines = body
        .lines
        .as_ref()
        .map(|bodies| lines::from_bodies(&mut check, bodies));
    check.finish()?;
    let invoice = requested(request)?;
    if text(&invoice.values, "status") != "draft" {
        return Err(not_draft(&invoice));
    }
    let mut extra = json!({});
    if let Some(terms) = &body.payment_terms {
        extra["payment_terms"] = json!(terms);
    }
    if let Some(notes) = &body.notes {
        extra["notes"] = json!(notes);
    }
    let discount = body
        .discount_minor
        .unwrap_or_else(|| int(&invoice.values, "discount_minor"));
    let invoice = lines::price_draft(&invoice, new_lines.as_deref(), discount, extra)?;
    answer(200, &invoice, false)
}

/// `DELETE /invoices/{id}`: a draft only (a finalized invoice is voided, never deleted).
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let invoice = requested(request)?;
    if text(&invoice.values, "status") != "draft" {
        return Err(not_draft(&invoice));
    }
    store::delete(INVOICES, &invoice.id, Some(invoice.version))?;
    Ok(Response::no_content())
}

fn invalid_transition(invoice: &Record<Columns>, to: &str) -> Problem {
    Problem::new(
        409,
        "invalid_transition",
        format!(
            "an invoice cannot go from `{}` to `{to}`",
            text(&invoice.values, "status")
        ),
    )
}

/// The due date of an invoice issued on `issue` under `terms`.
pub fn due_date(issue: NaiveDate, terms: &str) -> NaiveDate {
    let days = account::payment_terms_days(terms).unwrap_or(0);
    issue.checked_add_days(Days::new(days)).unwrap_or(issue)
}

/// `POST /invoices/{id}/finalize`
pub fn finalize(request: &Request) -> Result<Response, Problem> {
    let invoice = finalize_draft(requested(request)?)?;
    answer(200, &invoice, false)
}

/// Finalizes a draft (see the file header), then charges it when its customer pays by
/// autopay (`autopay.rs`); the invoice as it is afterwards.
pub fn finalize_draft(invoice: Record<Columns>) -> Result<Record<Columns>, Problem> {
    if text(&invoice.values, "status") != "draft" {
        return Err(invalid_transition(&invoice, "open"));
    }
    if lines::of(&invoice.id)?.is_empty() {
        return Err(Problem::new(
            409,
            "invoice_empty",
            "an invoice needs at least one line to be finalized",
        ));
    }
    let number = numbering::allocate()?;
    let issue = rows::today();
    let v = &invoice.values;
    let total = int(v, "total_minor");
    let mut invoice: Record<Columns> = store::update(
        INVOICES,
        &invoice.id,
        invoice.version,
        &json!({
            "status": "open",
            "number": number,
            "issue_date": issue.to_string(),
            "due_date": due_date(issue, text(v, "payment_terms")).to_string(),
            "finalized_at": rows::now_stamp(),
            "amount_due_minor": total,
            "payment_url": pay_links::create(&invoice.id)?,
        }),
    )?;
    lines::stamp(
        &invoice.id,
        &json!({"finalized_at": invoice.values.get("finalized_at")}),
    )?;
    let (customer, currency) = (text(v, "customer_id"), text(v, "currency"));
    balance::adjust(customer, currency, total)?;
    let f = &invoice.values;
    events::emit(
        INVOICE_FINALIZED,
        &json!({
            "invoice_id": invoice.id,
            "version": invoice.version,
            "number": f.get("number"),
            "status": f.get("status"),
            "customer_id": f.get("customer_id"),
            "currency": f.get("currency"),
            "subtotal_minor": f.get("subtotal_minor"),
            "discount_total_minor": f.get("discount_total_minor"),
            "tax_minor": f.get("tax_minor"),
            "total_minor": f.get("total_minor"),
            "amount_due_minor": f.get("amount_due_minor"),
            "issue_date": f.get("issue_date"),
            "due_date": f.get("due_date"),
            "source": f.get("source"),
            "source_job_id": f.get("source_job_id"),
            "agreement_id": f.get("agreement_id"),
            "finalized_at": f.get("finalized_at"),
        }),
    )?;
    if total == 0 {
        invoice = payments::settle(&invoice.id)?;
    }
    autopay::on_finalized(invoice)
}

/// `POST /invoices/{id}/void`: an open invoice nothing was paid on.
pub fn void(request: &Request) -> Result<Response, Problem> {
    let invoice = requested(request)?;
    let v = &invoice.values;
    if text(v, "status") != "open" {
        return Err(invalid_transition(&invoice, "void"));
    }
    if int(v, "amount_paid_minor") != 0 || int(v, "amount_credited_minor") != 0 {
        return Err(Problem::new(
            409,
            "invoice_has_payments",
            "payments or credit notes touch this invoice: refund or credit it instead",
        ));
    }
    let due = int(v, "amount_due_minor");
    let voided: Record<Columns> = store::update(
        INVOICES,
        &invoice.id,
        invoice.version,
        &json!({"status": "void", "voided_at": rows::now_stamp(), "amount_due_minor": 0}),
    )?;
    lines::stamp(&invoice.id, &json!({"voided": true}))?;
    balance::adjust(text(v, "customer_id"), text(v, "currency"), -due)?;
    answer(200, &voided, false)
}

/// `POST /invoices/{id}/mark-uncollectible`
pub fn mark_uncollectible(request: &Request) -> Result<Response, Problem> {
    let invoice = requested(request)?;
    if text(&invoice.values, "status") != "open" {
        return Err(invalid_transition(&invoice, "uncollectible"));
    }
    let marked: Record<Columns> = store::update(
        INVOICES,
        &invoice.id,
        invoice.version,
        &json!({"status": "uncollectible", "uncollectible_at": rows::now_stamp()}),
    )?;
    answer(200, &marked, false)
}

/// Statuses a payment or credit note may land on.
pub const PAYABLE: [&str; 2] = ["open", "uncollectible"];

/// The customer row of an invoice, for names on documents.
pub fn customer_of(invoice: &Record<Columns>) -> Result<Record<Columns>, Problem> {
    CUSTOMER.existing(text(&invoice.values, "customer_id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_follow_the_terms() {
        let issue: NaiveDate = "2026-12-20".parse().unwrap();
        assert_eq!(due_date(issue, "due_on_receipt"), issue);
        assert_eq!(due_date(issue, "net_15").to_string(), "2027-01-04");
        assert_eq!(due_date(issue, "net_30").to_string(), "2027-01-19");
        assert_eq!(due_date(issue, "net_45").to_string(), "2027-02-03");
    }
}
