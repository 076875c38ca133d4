-- Billing (issue 22): tax rates, invoices and their lines, payments, refunds, credit notes,
-- the per-tenant invoice numbering, and the Stripe objects already applied. Store tables
-- under the same tenant rules as every store table (0002, 0005): `tenant_id` first in every
-- key, `enable_tenant_isolation`, grants to the app role only.
--
-- Money is integer minor units of the row's `currency` (ISO 4217; the exponent lives in the
-- SDK, `verofield_sdk::money`). Tax rates are percent times 10^4 (basis points times 100),
-- so 8.875 % is 88750. Amounts a module computes are stored beside what they were computed
-- from, so a finalized invoice reads back exactly as it was frozen.

-- One row per tenant: the invoice number prefix and the next number. Finalizing reads it,
-- writes `next_number + 1` with the version it read (the row stays locked until the
-- finalizing transaction ends) and stamps the invoice in the same transaction, so a number
-- is used exactly when the invoice that took it commits: gapless.
CREATE TABLE store.billing_settings (
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    id                     uuid NOT NULL,
    version                bigint NOT NULL DEFAULT 1,
    invoice_prefix         text NOT NULL DEFAULT 'INV' CHECK (invoice_prefix ~ '^[A-Z0-9][A-Z0-9-]{0,15}$'),
    next_number            bigint NOT NULL DEFAULT 1 CHECK (next_number >= 1),
    company_name           text NOT NULL DEFAULT '',
    company_address        text[] NOT NULL DEFAULT '{}',
    default_payment_terms  text NOT NULL DEFAULT 'net_30'
                           CHECK (default_payment_terms IN ('due_on_receipt', 'net_15', 'net_30')),
    -- Where customers reach this server (`https://pay.example.com`): the start of the pay
    -- links printed on invoices; empty prints the path alone.
    public_url             text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id)
);

CREATE TABLE store.billing_tax_rates (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    percent_e4    bigint NOT NULL CHECK (percent_e4 BETWEEN 0 AND 1000000),
    inclusive     boolean NOT NULL DEFAULT false,
    jurisdiction  text NOT NULL DEFAULT '',
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE store.billing_invoices (
    tenant_id                 uuid NOT NULL REFERENCES tenants (id),
    id                        uuid NOT NULL,
    version                   bigint NOT NULL DEFAULT 1,
    customer_id               uuid NOT NULL,
    status                    text NOT NULL DEFAULT 'draft'
                              CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    number                    text,
    currency                  text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_terms             text NOT NULL DEFAULT 'net_30'
                              CHECK (payment_terms IN ('due_on_receipt', 'net_15', 'net_30')),
    issue_date                date,
    due_date                  date,
    -- The invoice-level discount, spread over the lines before tax.
    discount_minor            bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    subtotal_minor            bigint NOT NULL DEFAULT 0,
    discount_total_minor      bigint NOT NULL DEFAULT 0,
    tax_minor                 bigint NOT NULL DEFAULT 0,
    total_minor               bigint NOT NULL DEFAULT 0,
    amount_paid_minor         bigint NOT NULL DEFAULT 0,
    amount_credited_minor     bigint NOT NULL DEFAULT 0,
    amount_due_minor          bigint NOT NULL DEFAULT 0,
    -- Where a generated draft came from: one draft per completed job, one per agreement period.
    source                    text NOT NULL DEFAULT 'manual'
                              CHECK (source IN ('manual', 'job', 'work_order', 'agreement_period')),
    source_job_id             uuid,
    source_work_order_id      uuid,
    agreement_id              uuid,
    period_start              date,
    period_end                date,
    stripe_payment_intent_id  text,
    stripe_intent_amount_minor bigint,
    payment_attempts          integer NOT NULL DEFAULT 0,
    -- Why the last card payment failed (Stripe's `last_payment_error.message`).
    last_payment_error        text,
    payment_url               text,
    disputed                  boolean NOT NULL DEFAULT false,
    dispute_id                text,
    notes                     text NOT NULL DEFAULT '',
    finalized_at              timestamptz,
    paid_at                   timestamptz,
    voided_at                 timestamptz,
    uncollectible_at          timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id),
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, source_job_id),
    UNIQUE (tenant_id, agreement_id, period_start),
    UNIQUE (tenant_id, stripe_payment_intent_id),
    CHECK ((status = 'draft') = (number IS NULL))
);
CREATE INDEX billing_invoices_customer ON store.billing_invoices (tenant_id, customer_id, created_at);
CREATE INDEX billing_invoices_status ON store.billing_invoices (tenant_id, status, due_date);

CREATE TABLE store.billing_invoice_lines (
    tenant_id                uuid NOT NULL,
    id                       uuid NOT NULL,
    version                  bigint NOT NULL DEFAULT 1,
    invoice_id               uuid NOT NULL,
    position                 integer NOT NULL CHECK (position >= 0),
    description              text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    -- Thousandths: 1.5 hours is 1500.
    quantity_milli           bigint NOT NULL CHECK (quantity_milli >= 0),
    unit_price_minor         bigint NOT NULL,
    discount_minor           bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    tax_rate_id              uuid,
    tax_name                 text,
    tax_percent_e4           bigint NOT NULL DEFAULT 0,
    tax_inclusive            boolean NOT NULL DEFAULT false,
    kind                     text NOT NULL DEFAULT 'custom'
                             CHECK (kind IN ('custom', 'service', 'material', 'work_order_item', 'agreement')),
    service_type_id          uuid,
    -- The invoice's currency, when it was finalized and whether it was voided, copied onto
    -- the line so revenue by service type and month is one aggregate over lines.
    currency                 text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    finalized_at             timestamptz,
    voided                   boolean NOT NULL DEFAULT false,
    -- Computed: quantity x unit price - line discount; the invoice discount's share; the tax;
    -- the line's total with tax.
    amount_minor             bigint NOT NULL DEFAULT 0,
    invoice_discount_minor   bigint NOT NULL DEFAULT 0,
    tax_minor                bigint NOT NULL DEFAULT 0,
    total_minor              bigint NOT NULL DEFAULT 0,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES store.billing_invoices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX billing_invoice_lines_invoice ON store.billing_invoice_lines (tenant_id, invoice_id, position);

CREATE TABLE store.billing_payments (
    tenant_id                 uuid NOT NULL REFERENCES tenants (id),
    id                        uuid NOT NULL,
    version                   bigint NOT NULL DEFAULT 1,
    invoice_id                uuid NOT NULL,
    customer_id               uuid NOT NULL,
    method                    text NOT NULL CHECK (method IN ('cash', 'check', 'bank_transfer', 'card')),
    amount_minor              bigint NOT NULL CHECK (amount_minor > 0),
    currency                  text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- What paid the invoice and what went to the customer's credit (an overpayment).
    applied_minor             bigint NOT NULL DEFAULT 0,
    credit_minor              bigint NOT NULL DEFAULT 0,
    refunded_minor            bigint NOT NULL DEFAULT 0,
    received_on               date NOT NULL,
    reference                 text NOT NULL DEFAULT '',
    recorded_by               uuid,
    stripe_payment_intent_id  text,
    stripe_charge_id          text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES store.billing_invoices (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id),
    UNIQUE (tenant_id, stripe_payment_intent_id),
    CHECK (refunded_minor BETWEEN 0 AND amount_minor)
);
CREATE INDEX billing_payments_customer ON store.billing_payments (tenant_id, customer_id, received_on);
CREATE INDEX billing_payments_invoice ON store.billing_payments (tenant_id, invoice_id);

CREATE TABLE store.billing_refunds (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    version           bigint NOT NULL DEFAULT 1,
    payment_id        uuid NOT NULL,
    invoice_id        uuid NOT NULL,
    customer_id       uuid NOT NULL,
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason            text NOT NULL DEFAULT '',
    stripe_refund_id  text,
    refunded_by       uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES store.billing_payments (tenant_id, id),
    UNIQUE (tenant_id, stripe_refund_id)
);
CREATE INDEX billing_refunds_payment ON store.billing_refunds (tenant_id, payment_id);

CREATE TABLE store.billing_credit_notes (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    invoice_id    uuid NOT NULL,
    customer_id   uuid NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    created_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES store.billing_invoices (tenant_id, id)
);
CREATE INDEX billing_credit_notes_invoice ON store.billing_credit_notes (tenant_id, invoice_id);

-- Stripe objects whose events were applied: `<event type>:<object id>` once per tenant, so a
-- replayed webhook (or a redelivered outbox event) changes nothing the second time.
CREATE TABLE store.billing_stripe_applied (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    version          bigint NOT NULL DEFAULT 1,
    object_key       text NOT NULL,
    stripe_event_id  text NOT NULL,
    invoice_id       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, object_key)
);

-- An open invoice's public pay link (`/pay/<tenant>_<secret>`): only the secret's SHA-256 is
-- kept, apart from the invoice row so that no invoice answer carries it.
CREATE TABLE store.billing_pay_links (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    version          bigint NOT NULL DEFAULT 1,
    invoice_id       uuid NOT NULL,
    secret_sha256    text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES store.billing_invoices (tenant_id, id),
    UNIQUE (tenant_id, invoice_id),
    UNIQUE (tenant_id, secret_sha256)
);

-- A customer's saved card for off-session charges (autopay): the Stripe customer made once,
-- the payment method of the last SetupIntent that succeeded, whether finalized invoices are
-- charged with it, and whether dunning gave up on one of its invoices (delinquent).
CREATE TABLE store.billing_payment_profiles (
    tenant_id               uuid NOT NULL REFERENCES tenants (id),
    id                      uuid NOT NULL,
    version                 bigint NOT NULL DEFAULT 1,
    customer_id             uuid NOT NULL,
    stripe_customer_id      text,
    default_payment_method  text,
    autopay                 boolean NOT NULL DEFAULT false,
    delinquent              boolean NOT NULL DEFAULT false,
    delinquent_since        timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id),
    UNIQUE (tenant_id, customer_id),
    CHECK (NOT autopay OR default_payment_method IS NOT NULL)
);

-- Dunning of an autopay invoice whose charge was declined: one row per invoice, the attempts
-- made, Stripe's last reason, and the day of the next retry (+3, +5, +7 days after the first
-- failure; NULL once exhausted or cleared by a payment).
CREATE TABLE store.billing_dunning (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    version          bigint NOT NULL DEFAULT 1,
    invoice_id       uuid NOT NULL,
    customer_id      uuid NOT NULL,
    state            text NOT NULL DEFAULT 'retrying'
                     CHECK (state IN ('retrying', 'exhausted', 'cleared')),
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    first_failed_on  date,
    next_attempt_on  date,
    last_error       text,
    last_decline_code text,
    cleared_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES store.billing_invoices (tenant_id, id),
    UNIQUE (tenant_id, invoice_id)
);
CREATE INDEX billing_dunning_due ON store.billing_dunning (tenant_id, state, next_attempt_on);

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['store.billing_settings', 'store.billing_tax_rates', 'store.billing_invoices',
                  'store.billing_invoice_lines', 'store.billing_payments', 'store.billing_refunds',
                  'store.billing_credit_notes', 'store.billing_stripe_applied',
                  'store.billing_pay_links', 'store.billing_payment_profiles',
                  'store.billing_dunning']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE, DELETE ON store.billing_settings, store.billing_tax_rates,
    store.billing_invoices, store.billing_invoice_lines, store.billing_payments,
    store.billing_refunds, store.billing_credit_notes, store.billing_stripe_applied,
    store.billing_pay_links, store.billing_payment_profiles, store.billing_dunning
    TO verofield_app;

-- The built-in admin role of existing tenants gains `billing.refund` (new tenants are seeded
-- with it), as 0009 did for `api_keys.manage`.
ALTER TABLE roles NO FORCE ROW LEVEL SECURITY;
UPDATE roles SET permissions = array_append(permissions, 'billing.refund'),
                 version = version + 1, updated_at = now()
WHERE builtin AND name = 'admin' AND NOT ('billing.refund' = ANY (permissions));
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
