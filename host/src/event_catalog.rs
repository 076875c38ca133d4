//! The catalog of domain event types: for each, who emits it, when, and its payload's fields.
//! It is the one source of truth for what an event carries: the OpenAPI document's
//! `webhooks` section is built from it, a unit test holds docs/EVENTS.md to it (every type
//! documented, nothing documented that is not here) and the black-box suite
//! `events_payloads` checks real payloads against it. A module that adds a field adds it
//! here and in docs/EVENTS.md.
//!
//! Every payload about one entity carries `<kind>_id` (the type's first segment): the
//! host orders delivery per (tenant, that id) (`events::outbox::aggregate`).

/// A field's JSON type, as the OpenAPI schema spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Uuid,
    Text,
    Integer,
    Boolean,
    /// An RFC 3339 instant in UTC (`2026-12-06T14:00:00.000Z`).
    Instant,
    /// A calendar date (`2026-12-06`).
    Date,
    /// An array of uuids.
    Uuids,
    /// An array of strings.
    Texts,
    Array,
    Object,
}

/// One payload field. `nullable` fields are always present but may be `null`; `optional`
/// ones appear only where the description says.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldType,
    pub nullable: bool,
    pub optional: bool,
    pub description: &'static str,
}

const fn f(name: &'static str, kind: FieldType, description: &'static str) -> Field {
    Field {
        name,
        kind,
        nullable: false,
        optional: false,
        description,
    }
}

const fn null(name: &'static str, kind: FieldType, description: &'static str) -> Field {
    Field {
        nullable: true,
        ..f(name, kind, description)
    }
}

const fn opt(name: &'static str, kind: FieldType, description: &'static str) -> Field {
    Field {
        optional: true,
        nullable: true,
        ..f(name, kind, description)
    }
}

/// One event type.
#[derive(Debug, Clone, Copy)]
pub struct EventType {
    pub name: &'static str,
    /// The modules (or `host`) that emit it.
    pub emitted_by: &'static [&'static str],
    pub when: &'static str,
    pub fields: &'static [Field],
}

use FieldType::{Array, Boolean, Date, Instant, Integer, Object, Text, Texts, Uuid, Uuids};

/// The row's custom fields, carried by the events of every entity that has them.
const CUSTOM: Field = f(
    "custom",
    Object,
    "The tenant's custom fields (`/v1/tenant/custom-fields`), key to value.",
);

const CUSTOMER: &[Field] = &[
    f("customer_id", Uuid, "The customer (the ordering key)."),
    f(
        "id",
        Uuid,
        "The same as `customer_id` (kept for older consumers).",
    ),
    f(
        "version",
        Integer,
        "The customer's version after the change.",
    ),
    f("name", Text, "Display name."),
    f("kind", Text, "`residential` or `commercial`."),
    f("status", Text, "`active`, `inactive` or `lead`."),
    null("email", Text, "E-mail address."),
    null("phone", Text, "Phone number."),
    f("tags", Texts, "Tags."),
    null("billing_address", Object, "Billing address."),
    CUSTOM,
    f("currency", Text, "ISO 4217 currency of the balance."),
    f("created_at", Instant, "When the customer was created."),
    f("updated_at", Instant, "When the customer last changed."),
];

const JOB_SCHEDULED: &[Field] = &[
    f("job_id", Uuid, "The job (the ordering key)."),
    f("version", Integer, "The job's version after the change."),
    f(
        "status",
        Text,
        "The job's status (`scheduled`, or later if rescheduled).",
    ),
    f("customer_id", Uuid, "The customer."),
    f("location_id", Uuid, "The service location."),
    null(
        "work_order_id",
        Uuid,
        "The recurring work order the visit belongs to.",
    ),
    f("service_type_ids", Uuids, "The services of the visit."),
    CUSTOM,
    f("technician_ids", Uuids, "Technicians assigned at the time."),
    f("scheduled_date", Date, "The local date of the visit."),
    f(
        "window_start",
        Instant,
        "Promised arrival window start (UTC).",
    ),
    f("window_end", Instant, "Promised arrival window end (UTC)."),
    null(
        "planned_start",
        Instant,
        "Service start an applied routing plan planned.",
    ),
    null(
        "planned_end",
        Instant,
        "Service end an applied routing plan planned.",
    ),
    null("eta", Instant, "Estimated arrival, when known."),
    null(
        "window_start_local",
        Text,
        "Window start as local time (HH:MM).",
    ),
    null(
        "window_end_local",
        Text,
        "Window end as local time (HH:MM).",
    ),
    f("time_zone", Text, "IANA zone of the local times."),
    f("duration_minutes", Integer, "Planned duration."),
    f("priority", Integer, "1 (highest) to 5."),
];

const JOB_ASSIGNED: &[Field] = &[
    f("job_id", Uuid, "The job (the ordering key)."),
    f(
        "version",
        Integer,
        "The job's version (an assignment alone does not change it).",
    ),
    f("status", Text, "The job's status."),
    f("customer_id", Uuid, "The customer."),
    f("location_id", Uuid, "The service location."),
    null("work_order_id", Uuid, "The recurring work order, if any."),
    f("service_type_ids", Uuids, "The services of the visit."),
    CUSTOM,
    null("scheduled_date", Date, "The local date, once scheduled."),
    null(
        "window_start",
        Instant,
        "Arrival window start (UTC), once scheduled.",
    ),
    null(
        "window_end",
        Instant,
        "Arrival window end (UTC), once scheduled.",
    ),
    null(
        "planned_start",
        Instant,
        "Service start an applied routing plan planned.",
    ),
    null(
        "planned_end",
        Instant,
        "Service end an applied routing plan planned.",
    ),
    null("eta", Instant, "Estimated arrival, when known."),
    f(
        "added_technician_ids",
        Uuids,
        "Technicians this change added.",
    ),
    f("technician_ids", Uuids, "All technicians now assigned."),
    f(
        "overridden_conflicts",
        Array,
        "Schedule or skill conflicts overridden (empty if none).",
    ),
    null(
        "override_reason",
        Text,
        "Why the conflicts were overridden.",
    ),
    f("by", Text, "The user who assigned."),
    f("assigned_at", Instant, "When."),
    opt(
        "plan_id",
        Uuid,
        "The routing plan applied (only from routing).",
    ),
    opt(
        "technician_id",
        Uuid,
        "The route's technician (only from routing).",
    ),
];

const JOB_STATUS_CHANGED: &[Field] = &[
    f("job_id", Uuid, "The job (the ordering key)."),
    f("version", Integer, "The job's version after the change."),
    f("customer_id", Uuid, "The customer."),
    f("location_id", Uuid, "The service location."),
    null("work_order_id", Uuid, "The recurring work order, if any."),
    f("service_type_ids", Uuids, "The services of the visit."),
    CUSTOM,
    null("scheduled_date", Date, "The local date, if scheduled."),
    f("from", Text, "The status before."),
    f("to", Text, "The status after."),
    f("at", Instant, "When the status changed."),
    null(
        "by",
        Text,
        "The user who changed it (null for system changes).",
    ),
    null(
        "note",
        Text,
        "The history note (a reason, `agreement canceled`, a plan id).",
    ),
];

const JOB_COMPLETED: &[Field] = &[
    f("job_id", Uuid, "The job (the ordering key)."),
    f("version", Integer, "The job's version after completion."),
    f("status", Text, "`completed`."),
    f(
        "services",
        Array,
        "The service types done, from the catalog: `id`, `name`, `price_minor` (integer or \
         null), `currency` (or null), `duration_minutes`.",
    ),
    null(
        "agreement_id",
        Uuid,
        "The service agreement of the work order, if any.",
    ),
    null(
        "work_order_line_items",
        Array,
        "The work order's priced lines, if any.",
    ),
    f("customer_id", Uuid, "The customer to invoice."),
    f("location_id", Uuid, "The service location."),
    null("work_order_id", Uuid, "The recurring work order, if any."),
    f("service_type_ids", Uuids, "The services of the visit."),
    CUSTOM,
    f("technician_ids", Uuids, "The technicians assigned."),
    null(
        "scheduled_date",
        Date,
        "The local date, if it was scheduled.",
    ),
    null("window_start", Instant, "Arrival window start (UTC)."),
    null("window_end", Instant, "Arrival window end (UTC)."),
    f("time_zone", Text, "IANA zone of the job."),
    null("started_at", Instant, "When work started."),
    f("completed_at", Instant, "When the job was completed."),
    f("duration_minutes", Integer, "Planned duration."),
    f("work_minutes", Integer, "Minutes worked, as reported."),
    f("materials", Array, "Materials used, as reported."),
    null(
        "signature_ref",
        Text,
        "Reference to the customer's signature.",
    ),
    f("by", Text, "The user who completed it."),
];

const AGREEMENT_ACTIVATED: &[Field] = &[
    f("agreement_id", Uuid, "The agreement (the ordering key)."),
    f(
        "version",
        Integer,
        "The agreement's version after activation.",
    ),
    f("status", Text, "`active`."),
    CUSTOM,
    f("activated_at", Instant, "When."),
    f("customer_id", Uuid, "The customer."),
    f("location_ids", Uuids, "The locations served."),
    f(
        "work_order_ids",
        Uuids,
        "The work orders it created or resumed.",
    ),
    f("service_type_ids", Uuids, "The services covered."),
    f("recurrence", Text, "RRULE of the visits."),
    f("pricing", Text, "`per_visit` or `per_period`."),
    f("price_minor", Integer, "Price in minor units."),
    f("currency", Text, "ISO 4217 currency."),
    f(
        "billing_frequency",
        Text,
        "`per_visit`, `monthly`, `quarterly`, `semiannually` or `annually`.",
    ),
    f(
        "annual_value_minor",
        Integer,
        "Annual value in minor units.",
    ),
    f("starts_on", Date, "First day."),
    null("ends_on", Date, "Last day."),
    f("auto_renew", Boolean, "Whether it renews itself."),
    f("resumed", Boolean, "True when resumed from `paused`."),
];

const AGREEMENT_CANCELED: &[Field] = &[
    f("agreement_id", Uuid, "The agreement (the ordering key)."),
    f(
        "version",
        Integer,
        "The agreement's version after cancellation.",
    ),
    f("status", Text, "`canceled`."),
    CUSTOM,
    f("customer_id", Uuid, "The customer."),
    f("location_ids", Uuids, "The locations served."),
    f("service_type_ids", Uuids, "The services covered."),
    f("work_order_ids", Uuids, "Its work orders (now canceled)."),
    f("previous_status", Text, "`draft`, `active` or `paused`."),
    f("canceled_at", Instant, "When."),
    f(
        "annual_value_minor",
        Integer,
        "Annual value in minor units.",
    ),
    f("currency", Text, "ISO 4217 currency."),
    f(
        "jobs_retracted",
        Integer,
        "Future unscheduled jobs deleted.",
    ),
    f("jobs_canceled", Integer, "Future confirmed jobs canceled."),
];

const ENDPOINT_DISABLED: &[Field] = &[
    f("webhook_id", Uuid, "The endpoint (the ordering key)."),
    f("endpoint_id", Uuid, "The same as `webhook_id`."),
    f(
        "version",
        Integer,
        "The endpoint's version after disabling.",
    ),
    f("url", Text, "The endpoint's URL."),
    f(
        "failing_since",
        Instant,
        "The first failure with no success since.",
    ),
    f("disabled_at", Instant, "When it was disabled."),
    f("reason", Text, "Why."),
];

const ENDPOINT_TEST: &[Field] = &[
    f("webhook_id", Uuid, "The endpoint pinged."),
    f("endpoint_id", Uuid, "The same as `webhook_id`."),
];

const INVOICE_FINALIZED: &[Field] = &[
    f("invoice_id", Uuid, "The invoice (the ordering key)."),
    f(
        "version",
        Integer,
        "The invoice's version after finalizing.",
    ),
    f(
        "number",
        Text,
        "The gapless number with the tenant's prefix (`INV-000042`).",
    ),
    f(
        "status",
        Text,
        "`open` (`paid` follows at once for a zero total).",
    ),
    f("customer_id", Uuid, "The customer billed."),
    f("currency", Text, "ISO 4217 code of every amount."),
    f(
        "subtotal_minor",
        Integer,
        "The lines after their discounts, before the invoice discount.",
    ),
    f(
        "discount_total_minor",
        Integer,
        "The invoice-level discount.",
    ),
    f("tax_minor", Integer, "Tax, rounded per line."),
    f(
        "total_minor",
        Integer,
        "What the invoice asks for, tax included.",
    ),
    f(
        "amount_due_minor",
        Integer,
        "What is left to pay (the total, at finalizing).",
    ),
    f("issue_date", Date, "The day it was finalized (UTC)."),
    f("due_date", Date, "From the payment terms."),
    f(
        "source",
        Text,
        "`manual`, `job`, `work_order` or `agreement_period`.",
    ),
    null("source_job_id", Uuid, "The completed job it bills, if any."),
    null("agreement_id", Uuid, "The agreement it bills, if any."),
    f("finalized_at", Instant, "When it was finalized."),
];

const INVOICE_PAID: &[Field] = &[
    f("invoice_id", Uuid, "The invoice (the ordering key)."),
    f("version", Integer, "The invoice's version once paid."),
    f("number", Text, "The invoice number."),
    f("customer_id", Uuid, "The customer."),
    f("currency", Text, "ISO 4217 code of every amount."),
    f("total_minor", Integer, "The invoice total."),
    f("amount_paid_minor", Integer, "Paid by payments."),
    f(
        "amount_credited_minor",
        Integer,
        "Taken off by credit notes.",
    ),
    f("paid_at", Instant, "When nothing was left to pay."),
];

const PAYMENT_RECORDED: &[Field] = &[
    f("payment_id", Uuid, "The payment (the ordering key)."),
    f("invoice_id", Uuid, "The invoice it pays."),
    f("customer_id", Uuid, "The customer who paid."),
    f(
        "method",
        Text,
        "`cash`, `check`, `bank_transfer` or `card` (Stripe).",
    ),
    f("amount_minor", Integer, "The amount received."),
    f("currency", Text, "ISO 4217 code of every amount."),
    f("applied_minor", Integer, "The part applied to the invoice."),
    f(
        "credit_minor",
        Integer,
        "The overpayment, now the customer's credit.",
    ),
    f("received_on", Date, "The day it was received."),
    null(
        "stripe_payment_intent_id",
        Text,
        "The PaymentIntent of a card payment.",
    ),
    f(
        "invoice_status",
        Text,
        "The invoice's status after the payment.",
    ),
    f(
        "invoice_amount_due_minor",
        Integer,
        "What is left to pay on the invoice.",
    ),
];

const INVOICE_PAYMENT_FAILED: &[Field] = &[
    f("invoice_id", Uuid, "The invoice (the ordering key)."),
    f("number", Text, "The invoice number."),
    f(
        "customer_id",
        Uuid,
        "The customer whose saved card was declined.",
    ),
    f("currency", Text, "ISO 4217 code of the amount."),
    f(
        "amount_due_minor",
        Integer,
        "What was charged and is still due.",
    ),
    f(
        "attempt",
        Integer,
        "The autopay attempt that failed: 1 at finalizing, 2 to 4 the retries.",
    ),
    f(
        "final",
        Boolean,
        "True on the last attempt: no retry follows, the customer is now delinquent.",
    ),
    null(
        "next_attempt_on",
        Date,
        "The day of the next retry (+3, +5, +7 days after the first failure); null when final.",
    ),
    f("reason", Text, "Stripe's message for the decline."),
    null(
        "decline_code",
        Text,
        "Stripe's `decline_code` (or its error code when there is none).",
    ),
];

const AGREEMENT_RUN_CONTINUED: &[Field] = &[
    f(
        "agreement_run_id",
        Uuid,
        "The run (the ordering key): the id of the `schedule.tick` that started it.",
    ),
    f(
        "cursor",
        Text,
        "Where the next batch starts (an opaque store cursor).",
    ),
    f("drafted", Integer, "Drafts the batch before wrote."),
];

const ACCOUNT_UPDATED: &[Field] = &[
    f(
        "account_id",
        Uuid,
        "The tenant's company account (the ordering key).",
    ),
    f(
        "changed",
        Texts,
        "The fields the change set (`logo` for a new logo), sorted.",
    ),
    f(
        "version",
        Integer,
        "The account's version after the change.",
    ),
];

const CUSTOMER_DELINQUENT: &[Field] = &[
    f("customer_id", Uuid, "The customer (the ordering key)."),
    f(
        "invoice_id",
        Uuid,
        "The invoice whose last autopay retry failed.",
    ),
    f(
        "attempts",
        Integer,
        "Autopay attempts made on that invoice.",
    ),
    f(
        "newly_delinquent",
        Boolean,
        "False when the customer was already delinquent from another invoice.",
    ),
    f(
        "delinquent_since",
        Instant,
        "When the customer's profile was first flagged.",
    ),
];

/// Every `stripe.*` event: Stripe's event, routed to the tenant (`payments::webhook`).
const STRIPE: &[Field] = &[
    f(
        "stripe_event_id",
        Text,
        "Stripe's event id (`evt_...`), unique: the host applies each once.",
    ),
    f(
        "type",
        Text,
        "Stripe's event type, without the `stripe.` prefix.",
    ),
    f(
        "account",
        Text,
        "The tenant's connected account (`acct_...`) the event came from.",
    ),
    f(
        "created",
        Integer,
        "When Stripe created the event, unix seconds.",
    ),
    f(
        "object",
        Object,
        "Stripe's `data.object` exactly as received (API version `2024-06-20`).",
    ),
];

const JOB_MODULES: &[&str] = &["jobs", "routing"];

/// Every event type the platform emits, in the order docs/EVENTS.md lists them.
pub const EVENT_TYPES: &[EventType] = &[
    EventType {
        name: "customer.created",
        emitted_by: &["crm"],
        when: "A customer is created (`POST /v1/crm/customers`).",
        fields: CUSTOMER,
    },
    EventType {
        name: "customer.updated",
        emitted_by: &["crm"],
        when: "A customer is changed (`PATCH /v1/crm/customers/{id}`).",
        fields: CUSTOMER,
    },
    EventType {
        name: "customer.deleted",
        emitted_by: &["crm"],
        when: "A customer is deleted; the payload is the customer as it was.",
        fields: CUSTOMER,
    },
    EventType {
        name: "job.scheduled",
        emitted_by: JOB_MODULES,
        when: "A job gets a date and window or a new one: created with one, scheduled, \
               rescheduled, or placed by an applied routing plan.",
        fields: JOB_SCHEDULED,
    },
    EventType {
        name: "job.assigned",
        emitted_by: JOB_MODULES,
        when: "Technicians are added to a job (`POST /v1/jobs/{id}/assignments`) or an \
               applied routing plan gives a job its route's technician.",
        fields: JOB_ASSIGNED,
    },
    EventType {
        name: "job.status_changed",
        emitted_by: &["jobs", "routing", "agreements", "work-orders"],
        when: "Every status change of a job, including those made by routing plans and by \
               pausing or canceling agreements and work orders.",
        fields: JOB_STATUS_CHANGED,
    },
    EventType {
        name: "job.completed",
        emitted_by: &["jobs"],
        when: "A job is completed (after its `job.status_changed`); billing invoices from it.",
        fields: JOB_COMPLETED,
    },
    EventType {
        name: "agreement.activated",
        emitted_by: &["agreements"],
        when: "A service agreement is activated or resumed; its work orders and first jobs are \
               created in the same transaction.",
        fields: AGREEMENT_ACTIVATED,
    },
    EventType {
        name: "agreement.canceled",
        emitted_by: &["agreements"],
        when: "A service agreement is canceled; its future jobs are retracted or canceled.",
        fields: AGREEMENT_CANCELED,
    },
    EventType {
        name: "invoice.finalized",
        emitted_by: &["billing"],
        when: "An invoice is finalized: numbered, its lines frozen, its total added to the customer's balance.",
        fields: INVOICE_FINALIZED,
    },
    EventType {
        name: "invoice.paid",
        emitted_by: &["billing"],
        when: "Nothing is left to pay on an invoice (payments, credit notes, or a zero total).",
        fields: INVOICE_PAID,
    },
    EventType {
        name: "payment.recorded",
        emitted_by: &["billing"],
        when: "A payment is recorded against an invoice: by staff (offline) or from Stripe (`card`).",
        fields: PAYMENT_RECORDED,
    },
    EventType {
        name: "invoice.payment_failed",
        emitted_by: &["billing"],
        when: "An autopay charge of an invoice was declined; the invoice stays open and is retried (dunning) unless `final`.",
        fields: INVOICE_PAYMENT_FAILED,
    },
    EventType {
        name: "customer.delinquent",
        emitted_by: &["billing"],
        when: "The last autopay retry of an invoice failed: the customer's payment profile is flagged `delinquent` until the invoice is paid.",
        fields: CUSTOMER_DELINQUENT,
    },
    EventType {
        name: "agreement_run.continued",
        emitted_by: &["billing"],
        when: "The nightly agreement billing run drafted a batch of agreements and more remain; billing drafts the next batch on its own delivery of this event.",
        fields: AGREEMENT_RUN_CONTINUED,
    },
    EventType {
        name: "account.updated",
        emitted_by: &["accounts"],
        when: "The company account changed (`PATCH /v1/account` or a new logo): billing, scheduling and the console read it afresh.",
        fields: ACCOUNT_UPDATED,
    },
    EventType {
        name: "webhook.endpoint_disabled",
        emitted_by: &["host"],
        when: "A webhook endpoint is disabled after failing without success for too long.",
        fields: ENDPOINT_DISABLED,
    },
    EventType {
        name: "webhook.test",
        emitted_by: &["host"],
        when: "Sent only to the one endpoint by `POST /v1/webhooks/endpoints/{id}/test`; never \
               in the outbox or the feed.",
        fields: ENDPOINT_TEST,
    },
    EventType {
        name: "stripe.payment_intent.succeeded",
        emitted_by: &["host"],
        when: "A PaymentIntent on the tenant's connected account succeeded (Stripe's `payment_intent.succeeded`); `object` is the PaymentIntent, its `metadata.invoice_id` the invoice it pays.",
        fields: STRIPE,
    },
    EventType {
        name: "stripe.payment_intent.payment_failed",
        emitted_by: &["host"],
        when: "A PaymentIntent's payment failed (`payment_intent.payment_failed`); `object.last_payment_error` says why.",
        fields: STRIPE,
    },
    EventType {
        name: "stripe.charge.refunded",
        emitted_by: &["host"],
        when: "A charge was refunded in full or in part (`charge.refunded`); `object` is the Charge with `amount_refunded` and `payment_intent`.",
        fields: STRIPE,
    },
    EventType {
        name: "stripe.charge.dispute.created",
        emitted_by: &["host"],
        when: "A customer disputed a charge (`charge.dispute.created`); `object` is the Dispute.",
        fields: STRIPE,
    },
    EventType {
        name: "stripe.setup_intent.succeeded",
        emitted_by: &["host"],
        when: "A customer saved a payment method for later charges (`setup_intent.succeeded`); `object` is the SetupIntent with `customer` and `payment_method`.",
        fields: STRIPE,
    },
];

/// The catalog entry of `name`.
pub fn find(name: &str) -> Option<&'static EventType> {
    EVENT_TYPES.iter().find(|t| t.name == name)
}

/// What is wrong with `payload` as an event of type `name`: missing fields and values of the
/// wrong JSON type. Empty when it matches the catalog.
pub fn check_payload(name: &str, payload: &serde_json::Value) -> Vec<String> {
    let Some(event) = find(name) else {
        return vec![format!("{name} is not in the catalog")];
    };
    let mut wrong = Vec::new();
    for field in event.fields {
        match payload.get(field.name) {
            None if field.optional => {}
            None => wrong.push(format!("{name}: `{}` missing", field.name)),
            Some(serde_json::Value::Null) if field.nullable => {}
            Some(value) if !matches_type(field.kind, value) => {
                wrong.push(format!("{name}: `{}` is {value}", field.name))
            }
            Some(_) => {}
        }
    }
    wrong
}

fn matches_type(kind: FieldType, value: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    let text_array = |v: &V| {
        v.as_array()
            .is_some_and(|items| items.iter().all(V::is_string))
    };
    match kind {
        Uuid => value
            .as_str()
            .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()),
        Text => value.is_string(),
        Integer => value.is_i64() || value.is_u64(),
        Boolean => value.is_boolean(),
        Instant => value
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        Date => value
            .as_str()
            .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        Uuids | Texts => text_array(value),
        Array => value.is_array(),
        Object => value.is_object(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `## \`type\`` headings of docs/EVENTS.md.
    fn documented() -> Vec<String> {
        let text = include_str!("../../docs/EVENTS.md");
        text.lines()
            .filter_map(|line| line.strip_prefix("## `"))
            .filter_map(|rest| rest.strip_suffix('`'))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn docs_list_exactly_the_catalog() {
        let catalog: Vec<String> = EVENT_TYPES.iter().map(|t| t.name.to_owned()).collect();
        assert_eq!(documented(), catalog);
    }

    #[test]
    fn docs_name_every_field_of_every_type() {
        let text = include_str!("../../docs/EVENTS.md");
        for event in EVENT_TYPES {
            let start = text.find(&format!("## `{}`", event.name)).unwrap();
            let section = &text[start + 4..];
            let section = &section[..section.find("\n## ").unwrap_or(section.len())];
            for field in event.fields {
                assert!(
                    section.contains(&format!("`{}`", field.name)),
                    "docs/EVENTS.md {} lacks `{}`",
                    event.name,
                    field.name
                );
            }
        }
    }

    #[test]
    fn every_documented_example_matches_the_catalog() {
        let text = include_str!("../../docs/EVENTS.md");
        for event in EVENT_TYPES {
            let start = text.find(&format!("## `{}`", event.name)).unwrap();
            let section = &text[start..];
            let json = &section[section.find("```json\n").unwrap() + 8..];
            let example: serde_json::Value =
                serde_json::from_str(&json[..json.find("```").unwrap()]).unwrap();
            assert_eq!(check_payload(event.name, &example), Vec::<String>::new());
        }
    }

    #[test]
    fn every_type_carries_its_ordering_key() {
        // Stripe's events wrap Stripe's objects: Stripe's ids, and no order Stripe promises.
        for event in EVENT_TYPES
            .iter()
            .filter(|t| !t.name.starts_with("stripe."))
        {
            let kind = event.name.split('.').next().unwrap();
            let key = event.fields.iter().find(|f| f.name == format!("{kind}_id"));
            assert!(
                key.is_some_and(|f| f.kind == Uuid && !f.nullable),
                "{} lacks {kind}_id",
                event.name
            );
        }
    }

    #[test]
    fn payload_check_names_missing_and_mistyped_fields() {
        let wrong = check_payload(
            "webhook.endpoint_disabled",
            &serde_json::json!({"webhook_id": "nope", "version": 2}),
        );
        assert!(wrong.iter().any(|w| w.contains("`webhook_id` is")));
        assert!(wrong.iter().any(|w| w.contains("`url` missing")));
        assert!(!wrong.iter().any(|w| w.contains("`version`")));
    }
}
