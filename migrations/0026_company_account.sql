-- The company account (issue 25 item 4): one row per tenant in `store.company_accounts`,
-- read and changed by the `accounts` module (`/v1/account`) and read by billing through a
-- `tables.read` grant, so that the legal name, address, invoice prefix, payment terms and
-- currency have one home. Its logo's bytes live in `store.company_logos` (one row per
-- tenant, base64 text: the store has no bytea type), kept apart so that reading the account
-- never carries 256 KiB along; the account row keeps the logo's type, size and digest.
--
-- Every tenant has its row: provisioning inserts it (host/src/tenancy/provision.rs) with the
-- defaults below, and this migration inserts it for the tenants that exist, carrying over
-- what billing kept in `billing_settings` (company name and address, invoice prefix, default
-- payment terms). Billing keeps only what is its own there: the next invoice number and the
-- public address of pay links; the moved columns are dropped, so nothing reads a stale copy.
--
-- The tenant's time zone stays where the host reads it for the scheduler, the aggregates'
-- day buckets and `context.tenant-time-zone` (`tenants.time_zone`); the account shows it.

CREATE TABLE store.company_accounts (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL,
    version             bigint NOT NULL DEFAULT 1,
    legal_name          text NOT NULL DEFAULT '' CHECK (length(legal_name) <= 200),
    address_lines       text[] NOT NULL DEFAULT '{}' CHECK (cardinality(address_lines) <= 6),
    phone               text NOT NULL DEFAULT '' CHECK (phone ~ '^(\+[1-9][0-9]{6,14})?$'),
    currency            text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    locale              text NOT NULL DEFAULT 'en-US' CHECK (length(locale) BETWEEN 2 AND 35),
    -- `{"mon": [{"open": "08:00", "close": "17:00"}], ...}`: checked by the module.
    business_hours      jsonb NOT NULL DEFAULT
        '{"mon": [{"open": "08:00", "close": "17:00"}], "tue": [{"open": "08:00", "close": "17:00"}],
          "wed": [{"open": "08:00", "close": "17:00"}], "thu": [{"open": "08:00", "close": "17:00"}],
          "fri": [{"open": "08:00", "close": "17:00"}], "sat": [], "sun": []}'
        CHECK (jsonb_typeof(business_hours) = 'object'),
    -- Percent times 10^4, as billing's tax rates (8.875 % is 88750).
    tax_percent_e4      bigint NOT NULL DEFAULT 0 CHECK (tax_percent_e4 BETWEEN 0 AND 1000000),
    tax_inclusive       boolean NOT NULL DEFAULT false,
    invoice_prefix      text NOT NULL DEFAULT 'INV' CHECK (invoice_prefix ~ '^[A-Z0-9][A-Z0-9-]{0,15}$'),
    payment_terms_days  integer NOT NULL DEFAULT 30 CHECK (payment_terms_days BETWEEN 0 AND 365),
    brand_color         text NOT NULL DEFAULT '#2f6f4f' CHECK (brand_color ~ '^#[0-9a-f]{6}$'),
    logo_content_type   text CHECK (logo_content_type IN ('image/png', 'image/jpeg')),
    logo_bytes          integer CHECK (logo_bytes BETWEEN 1 AND 262144),
    logo_sha256         text CHECK (logo_sha256 ~ '^[0-9a-f]{64}$'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id)
);

CREATE TABLE store.company_logos (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data_base64   text NOT NULL CHECK (length(data_base64) <= 349528),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id)
);

-- The tenants of today get their account from what billing knew of them. Row security on
-- `billing_settings` is lifted for these statements, inside this migration's transaction, so
-- that the migration role (its owner) reads every tenant's row, as 0014 did for roles.
ALTER TABLE store.billing_settings NO FORCE ROW LEVEL SECURITY;
INSERT INTO store.company_accounts (tenant_id, id, legal_name, address_lines, invoice_prefix,
                                    payment_terms_days)
SELECT t.id, gen_random_uuid(),
       left(coalesce(nullif(b.company_name, ''), t.name), 200),
       coalesce(b.company_address[1:6], '{}'),
       coalesce(b.invoice_prefix, 'INV'),
       CASE b.default_payment_terms WHEN 'due_on_receipt' THEN 0 WHEN 'net_15' THEN 15 ELSE 30 END
FROM tenants t
LEFT JOIN store.billing_settings b ON b.tenant_id = t.id;
ALTER TABLE store.billing_settings
    DROP COLUMN invoice_prefix,
    DROP COLUMN company_name,
    DROP COLUMN company_address,
    DROP COLUMN default_payment_terms;
ALTER TABLE store.billing_settings FORCE ROW LEVEL SECURITY;

-- An invoice's terms: due on receipt, or net any number of days the account allows.
ALTER TABLE store.billing_invoices DROP CONSTRAINT billing_invoices_payment_terms_check;
ALTER TABLE store.billing_invoices ADD CONSTRAINT billing_invoices_payment_terms_check
    CHECK (payment_terms ~ '^(due_on_receipt|net_([1-9][0-9]?|[12][0-9]{2}|3[0-5][0-9]|36[0-5]))$');

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['store.company_accounts', 'store.company_logos']::regclass[]) AS t;
GRANT SELECT, INSERT, UPDATE, DELETE ON store.company_accounts, store.company_logos
    TO verofield_app;

-- Every built-in role reads the account (new tenants are seeded with `account.read`).
ALTER TABLE roles NO FORCE ROW LEVEL SECURITY;
UPDATE roles SET permissions = array_append(permissions, 'account.read'),
                 version = version + 1, updated_at = now()
WHERE builtin AND name <> 'owner' AND NOT ('account.read' = ANY (permissions));
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
