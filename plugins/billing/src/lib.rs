//! The billing module (slot `billing`): invoices, payments, refunds, credit notes and card
//! payments through Stripe, for the customers of the CRM and the work of the field modules.
//!
//! - **Money** is integer minor units of an ISO 4217 currency everywhere (the exponent table
//!   is `verofield_sdk::money`: JPY none, USD two, BHD three); arithmetic is checked and an
//!   overflow is 422 `validation_failed` naming the field; amounts of two currencies never
//!   meet (422 `currency_mismatch`).
//! - **Rounding** (`tax.rs`): a line is `quantity x unit price` rounded half away from zero
//!   to the minor unit, minus its discount; the invoice discount is spread over the lines in
//!   proportion (largest remainder); tax is computed and rounded half away from zero per
//!   line, exclusive (`net x rate`) or inclusive (`net x rate / (1 + rate)`), and the totals
//!   are sums of the rounded lines. Rates carry up to four decimals (percent x 10^4).
//! - **Invoices** (`invoices.rs`): `draft -> open -> paid`, `void` / `uncollectible` from
//!   open; finalizing takes a gapless number `PREFIX-000042` (`numbering.rs`), freezes the
//!   lines and sets the due date from the payment terms (`due_on_receipt` or `net_<days>`,
//!   1 to 365); corrections afterwards are credit notes (`credit_notes.rs`).
//! - **The company account** (`/v1/account`, read through a `tables.read` grant) gives the
//!   invoice prefix, the default payment terms and currency, and the name and address on PDFs.
//! - **Drafts** come from a person, from a completed job (`job.completed`, one draft per job
//!   whatever the deliveries), from a work order's lines, and nightly from agreements'
//!   billing periods (`agreement-billing` at 00:05, one draft per agreement and period)
//!   (`sources.rs`).
//! - **Payments** (`payments.rs`): offline by staff, partial or over (the excess is credit),
//!   refunds with `billing.refund`; the customer's `balance_minor` is kept exact under
//!   concurrent writes (`balance.rs`, `rows.rs`).
//! - **Stripe** (`stripe_events.rs`): a PaymentIntent per invoice through the host's
//!   `payments` capability; Stripe's events applied once each.
//! - **Autopay** (`autopay.rs`): a customer's card saved through a SetupIntent; with autopay
//!   on, finalizing any invoice of theirs charges it off-session (`invoice-<id>-autopay-<n>`),
//!   recorded as Stripe's `payment_intent.succeeded` would be; the nightly agreement drafts
//!   of autopay customers are finalized at once so that they are charged.
//! - **Dunning** (`dunning.rs`): a declined autopay charge keeps the invoice open and emits
//!   `invoice.payment_failed`; the daily `dunning` task (06:00, or `POST /dunning/run`)
//!   retries on days +3, +5, +7; the last failure flags the customer `delinquent` and emits
//!   `customer.delinquent`; settling the invoice clears both.
//! - **PDF** (`pdf.rs`): `GET /invoices/{id}.pdf`. **Reports** (`reports.rs`).
//! - **Pay links** (`pay_links.rs`): finalizing makes `/pay/<tenant>_<secret>`, where the
//!   customer sees the invoice, its PDF and starts a card payment with no login.
//!
//! Reads need `billing.read`, writes `billing.write`, refunds `billing.refund`; the pay-link
//! routes `billing.pay-link`, which the host gives only to the holder of a link.

mod autopay;
mod balance;
mod credit_notes;
mod dunning;
mod invoices;
mod lines;
mod numbering;
mod pay_links;
mod payments;
mod pdf;
mod price_lines;
mod records;
mod reports;
mod rows;
mod sources;
mod stripe_events;
mod tax;
mod tax_rates;

use records::{
    Aging, CreditNote, CreditNotes, Dunning, Invoice, InvoiceWithLines, Payment, PaymentProfile,
    PaymentWithRefunds, Refund, Revenue, Settings, TaxRate, TaxRates,
};
use verofield_field_ops as ops;
use verofield_sdk::{
    Event, Events, Limits, Manifest, Module, Page, Record, Route, Schedule, Tables, events,
};

const READ: &str = "billing.read";
const WRITE: &str = "billing.write";
const REFUND: &str = "billing.refund";
/// The nightly drafting of agreements' billing periods.
const AGREEMENT_BILLING: &str = "agreement-billing";

struct Billing;

impl Module for Billing {
    const MANIFEST: Manifest = Manifest {
        name: "billing",
        version: env!("CARGO_PKG_VERSION"),
        slot: "billing",
        routes: &[
            Route::get("/settings", READ, numbering::show)
                .summary("The invoice counter and the pay links' address")
                .responds::<Record<Settings>>(200),
            Route::patch("/settings", WRITE, numbering::update)
                .summary("Change the pay links' address (the rest is /v1/account's)")
                .request::<numbering::SettingsFields>()
                .responds::<Record<Settings>>(200),
            Route::post("/tax-rates", WRITE, tax_rates::create)
                .summary("Create a tax rate")
                .request::<tax_rates::RateFields>()
                .responds::<TaxRate>(201),
            Route::get("/tax-rates", READ, tax_rates::list)
                .summary("List tax rates (active)")
                .responds::<TaxRates>(200),
            Route::get("/tax-rates/{id}", READ, tax_rates::show)
                .summary("A tax rate (ETag)")
                .responds::<TaxRate>(200),
            Route::patch("/tax-rates/{id}", WRITE, tax_rates::update)
                .summary("Change a tax rate (If-Match)")
                .request::<tax_rates::RateFields>()
                .responds::<TaxRate>(200),
            Route::delete("/tax-rates/{id}", WRITE, tax_rates::delete),
            Route::post("/invoices", WRITE, invoices::create)
                .summary("Create a draft invoice")
                .request::<invoices::CreateBody>()
                .responds::<InvoiceWithLines>(201),
            Route::get("/invoices", READ, invoices::list)
                .summary("List invoices (customer_id, status)")
                .responds::<Page<Invoice>>(200),
            Route::post("/invoices/from-job", WRITE, sources::create_from_job)
                .summary("Draft an invoice for a completed job (200: the one drafted before)")
                .request::<sources::FromJob>()
                .responds::<InvoiceWithLines>(201)
                .responds::<InvoiceWithLines>(200),
            Route::post(
                "/invoices/from-work-order",
                WRITE,
                sources::create_from_work_order,
            )
            .summary("Draft an invoice for a work order's completed jobs")
            .request::<sources::FromWorkOrder>()
            .responds::<InvoiceWithLines>(201),
            Route::get("/invoices/{id}.pdf", READ, pdf::show),
            Route::get("/invoices/{id}", READ, invoices::show)
                .summary("An invoice with its lines (ETag)")
                .responds::<InvoiceWithLines>(200),
            Route::patch("/invoices/{id}", WRITE, invoices::update)
                .summary("Change a draft invoice (If-Match)")
                .request::<invoices::UpdateBody>()
                .responds::<InvoiceWithLines>(200),
            Route::delete("/invoices/{id}", WRITE, invoices::delete),
            Route::post("/invoices/{id}/finalize", WRITE, invoices::finalize)
                .summary("Finalize a draft: number it and open it for payment")
                .responds::<InvoiceWithLines>(200),
            Route::post("/invoices/{id}/void", WRITE, invoices::void)
                .summary("Void an open invoice")
                .responds::<InvoiceWithLines>(200),
            Route::post(
                "/invoices/{id}/mark-uncollectible",
                WRITE,
                invoices::mark_uncollectible,
            )
            .summary("Mark an open invoice uncollectible")
            .responds::<InvoiceWithLines>(200),
            Route::post("/invoices/{id}/payments", WRITE, payments::record)
                .summary("Record a payment received outside Stripe")
                .request::<payments::PaymentBody>()
                .responds::<Record<Payment>>(201),
            Route::post(
                "/invoices/{id}/payment-intent",
                WRITE,
                stripe_events::create_intent,
            )
            .summary("A Stripe PaymentIntent for what the invoice has due")
            .responds::<stripe_events::IntentAnswer>(200),
            Route::post("/invoices/{id}/credit-notes", WRITE, credit_notes::create)
                .summary("Credit part of a finalized invoice")
                .request::<credit_notes::CreditBody>()
                .responds::<Record<CreditNote>>(201),
            Route::get("/invoices/{id}/credit-notes", READ, credit_notes::list)
                .summary("An invoice's credit notes")
                .responds::<CreditNotes>(200),
            Route::get("/payments", READ, payments::list)
                .summary("List payments (customer_id, invoice_id)")
                .responds::<Page<Payment>>(200),
            Route::get("/payments/{id}", READ, payments::show)
                .summary("A payment with its refunds")
                .responds::<PaymentWithRefunds>(200),
            Route::post("/payments/{id}/refunds", REFUND, payments::create_refund)
                .summary("Refund part or all of a payment")
                .request::<payments::RefundBody>()
                .responds::<Record<Refund>>(201),
            Route::get("/invoices/{id}/dunning", READ, dunning::show)
                .summary("An invoice's dunning (404 when a charge never failed)")
                .responds::<Record<Dunning>>(200),
            Route::post("/dunning/run", WRITE, dunning::run_now)
                .summary("Run the daily dunning now")
                .responds::<dunning::Run>(200),
            Route::post(
                "/customers/{id}/setup-intent",
                WRITE,
                autopay::create_setup_intent,
            )
            .summary("A Stripe SetupIntent to save the customer's card for autopay")
            .responds::<autopay::SetupAnswer>(200),
            Route::get("/customers/{id}/payment-profile", READ, autopay::show)
                .summary("A customer's payment profile: autopay, saved method, delinquency")
                .responds::<PaymentProfile>(200),
            Route::patch("/customers/{id}/payment-profile", WRITE, autopay::update)
                .summary("Turn autopay on or off")
                .request::<autopay::ProfileBody>()
                .responds::<PaymentProfile>(200),
            Route::get("/reports/aging", READ, reports::aging)
                .summary("What is owed by days past due (as_of)")
                .responds::<Aging>(200),
            Route::get("/reports/revenue", READ, reports::revenue)
                .summary("Revenue by month, currency and service type (from, to)")
                .responds::<Revenue>(200),
            Route::get("/pay/{token}.pdf", pay_links::PAY_LINK, pay_links::show_pdf),
            Route::get("/pay/{token}", pay_links::PAY_LINK, pay_links::show)
                .summary("A pay link's invoice, as its customer sees it")
                .responds::<pay_links::PayView>(200),
            Route::post(
                "/pay/{token}/payment-intent",
                pay_links::PAY_LINK,
                pay_links::start_payment,
            )
            .summary("The customer starts paying the linked invoice by card")
            .responds::<stripe_events::IntentAnswer>(200),
        ],
        tables: Tables {
            read: &[
                ops::account::ACCOUNTS,
                ops::JOBS,
                ops::SERVICE_TYPES,
                ops::WORK_ORDERS,
                ops::AGREEMENTS,
            ],
            write: &[
                ops::CUSTOMERS,
                rows::SETTINGS,
                rows::TAX_RATES,
                rows::INVOICES,
                rows::LINES,
                rows::PAYMENTS,
                rows::REFUNDS,
                rows::CREDIT_NOTES,
                rows::STRIPE_APPLIED,
                rows::PAY_LINKS,
                rows::PAYMENT_PROFILES,
                rows::DUNNING,
            ],
        },
        events: Events {
            emit: &[
                invoices::INVOICE_FINALIZED,
                invoices::INVOICE_PAID,
                payments::PAYMENT_RECORDED,
                dunning::INVOICE_PAYMENT_FAILED,
                dunning::CUSTOMER_DELINQUENT,
                sources::RUN_CONTINUED,
            ],
            subscribe: &[
                ops::JOB_COMPLETED,
                stripe_events::SUCCEEDED,
                stripe_events::FAILED,
                stripe_events::REFUNDED,
                stripe_events::DISPUTED,
                stripe_events::SETUP_SUCCEEDED,
                sources::RUN_CONTINUED,
            ],
        },
        capabilities: &["payments"],
        // Payments on one busy customer queue on its row (`rows.rs`): room to wait in line.
        limits: Limits {
            deadline_ms: Some(10_000),
            ..Limits::DEFAULT
        },
        // Dunning after the night's agreement drafts, so a period declined tonight is not
        // retried before its +3 days.
        schedules: &[
            Schedule::new(AGREEMENT_BILLING, "daily 00:05"),
            Schedule::new(dunning::TASK, "daily 06:00"),
        ],
        ..Manifest::EMPTY
    };

    /// Drafts from completed jobs and agreement periods; Stripe's events. A refusal that
    /// retrying cannot change (a 4xx: the job's prices are in two currencies, say) is logged
    /// and the delivery accepted; anything else is retried by the host.
    fn on_event(event: Event) -> Result<(), String> {
        let task = events::scheduled_task(&event);
        let outcome = if task.as_deref() == Some(AGREEMENT_BILLING) {
            sources::bill_agreements(&event.id, None).map(|_| ())
        } else if event.event_type == sources::RUN_CONTINUED {
            match sources::continued_from(&event.payload) {
                Some((run, cursor)) => sources::bill_agreements(&run, Some(cursor)).map(|_| ()),
                None => Ok(()),
            }
        } else if task.as_deref() == Some(dunning::TASK) {
            dunning::run().map(|_| ())
        } else if event.event_type == ops::JOB_COMPLETED {
            let payload: serde_json::Value =
                serde_json::from_str(&event.payload).unwrap_or_default();
            match payload["job_id"].as_str() {
                Some(job) => sources::from_job(job).map(|_| ()),
                None => Ok(()),
            }
        } else if event.event_type.starts_with("stripe.") {
            stripe_events::apply(&event)
        } else {
            Ok(())
        };
        match outcome {
            Ok(()) => Ok(()),
            // A broken limit is this module's doing, not the event's: retried, and dead
            // (visible in the deliveries) if it keeps happening.
            Err(problem) if problem.status < 500 && problem.code != "limit_exceeded" => {
                verofield_sdk::warn!(
                    "{} {} not applied: {} {}",
                    event.event_type,
                    event.id,
                    problem.code,
                    problem.detail
                );
                Ok(())
            }
            Err(problem) => Err(format!("{}: {}", problem.code, problem.detail)),
        }
    }
}

verofield_sdk::export_module!(Billing);
