//! `GET /invoices/{id}.pdf`: the printable invoice. Fills an `invoice_pdf::InvoiceDocument`
//! from the rows (company name and address from the billing settings, the customer's name
//! and billing address, the lines with their quantities and taxes, the totals, the payment
//! link when one is set) and answers the PDF bytes as `application/pdf`. Row-level security
//! makes another tenant's invoice a 404 like any missing one.

use invoice_pdf::{InvoiceDocument, InvoiceLine, TaxLine};
use serde_json::Value;
use verofield_field_ops::Columns;
use verofield_sdk::{Problem, Request, Response, money};

use crate::rows::{INVOICE, int, opt_text, text};
use crate::{invoices, lines, tax};

/// The postal lines of a CRM address object (`line1`, `line2`, `city`, `region`,
/// `postal_code`, `country`), skipping the empty ones.
fn address_lines(address: Option<&Value>) -> Vec<String> {
    let Some(address) = address.and_then(Value::as_object) else {
        return Vec::new();
    };
    let get = |key: &str| {
        address
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
    };
    let city_line = [get("postal_code"), get("city"), get("region")]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    [
        get("line1").to_owned(),
        get("line2").to_owned(),
        city_line,
        get("country").to_owned(),
    ]
    .into_iter()
    .filter(|line| !line.is_empty())
    .collect()
}

/// The tax rows of the totals block: one per distinct (name, rate, inclusive).
fn tax_lines(rows: &[verofield_sdk::Record<Columns>]) -> Vec<TaxLine> {
    let mut taxes: Vec<TaxLine> = Vec::new();
    for line in rows {
        let l = &line.values;
        let Some(name) = opt_text(l, "tax_name") else {
            continue;
        };
        let percent = tax::format_percentage(int(l, "tax_percent_e4"));
        let rate = match l.get("tax_inclusive") == Some(&Value::Bool(true)) {
            true => format!("incl. {percent}%"),
            false => format!("{percent}%"),
        };
        match taxes.iter_mut().find(|t| t.name == name && t.rate == rate) {
            Some(existing) => existing.amount_minor += int(l, "tax_minor"),
            None => taxes.push(TaxLine {
                name: name.to_owned(),
                rate,
                amount_minor: int(l, "tax_minor"),
            }),
        }
    }
    taxes
}

/// The document of an invoice.
pub fn document(invoice: &verofield_sdk::Record<Columns>) -> Result<InvoiceDocument, Problem> {
    let v = &invoice.values;
    let company = verofield_field_ops::account::read()?.values;
    let customer = invoices::customer_of(invoice)?;
    let stored_lines = lines::of(&invoice.id)?;
    let currency = text(v, "currency").to_owned();
    Ok(InvoiceDocument {
        tenant_name: company.legal_name,
        tenant_address: company
            .address_lines
            .into_iter()
            .chain((!company.phone.is_empty()).then_some(company.phone))
            .collect(),
        brand_color: Some(company.brand_color),
        number: opt_text(v, "number").unwrap_or("").to_owned(),
        status: text(v, "status").to_owned(),
        issue_date: opt_text(v, "issue_date").unwrap_or("").to_owned(),
        due_date: opt_text(v, "due_date").unwrap_or("").to_owned(),
        customer_name: text(&customer.values, "name").to_owned(),
        customer_address: address_lines(customer.values.get("billing_address")),
        lines: stored_lines
            .iter()
            .map(|line| {
                let l = &line.values;
                InvoiceLine {
                    description: text(l, "description").to_owned(),
                    quantity: tax::format_quantity(int(l, "quantity_milli")),
                    unit_amount_minor: int(l, "unit_price_minor"),
                    total_minor: int(l, "amount_minor"),
                }
            })
            .collect(),
        tax_lines: tax_lines(&stored_lines),
        subtotal_minor: int(v, "subtotal_minor"),
        discount_minor: int(v, "discount_total_minor"),
        tax_total_minor: int(v, "tax_minor"),
        total_minor: int(v, "total_minor"),
        amount_paid_minor: int(v, "amount_paid_minor") + int(v, "amount_credited_minor"),
        amount_due_minor: int(v, "amount_due_minor"),
        currency_exponent: money::exponent(&currency).unwrap_or(2),
        currency,
        payment_url: opt_text(v, "payment_url").map(str::to_owned),
        notes: text(v, "notes").to_owned(),
    })
}

/// `GET /invoices/{id}.pdf`
pub fn show(request: &Request) -> Result<Response, Problem> {
    answer(&INVOICE.existing(request.id_param("id")?)?)
}

/// The invoice's PDF as an answer (also for its pay link).
pub fn answer(invoice: &verofield_sdk::Record<Columns>) -> Result<Response, Problem> {
    let bytes = invoice_pdf::render(&document(invoice)?);
    let mut response = Response {
        status: 200,
        headers: Vec::new(),
        body: bytes,
    };
    response.set_header("content-type", "application/pdf");
    response.set_header("etag", &verofield_sdk::etag::etag(invoice.version));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_print_line_by_line() {
        let address = json!({"line1": "1 Main St", "city": "Arlington", "region": "VA",
                             "postal_code": "22201", "country": ""});
        assert_eq!(
            address_lines(Some(&address)),
            ["1 Main St", "22201 Arlington VA"]
        );
        assert!(address_lines(None).is_empty());
    }
}
