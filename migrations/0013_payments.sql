-- Payments through Stripe (host/src/payments): which Stripe connected account a tenant
-- charges through, and which Stripe webhook events were already applied.
--
-- Both tables are global, in schema `payments`, because both are looked up across tenants:
-- a webhook names an account, not a tenant, and an account belongs to one tenant at most
-- (the primary key enforces it across tenants, which a tenant table's `(tenant_id, ...)`
-- unique key could not). Like `tenants`, RLS is enabled but not forced: the app role sees,
-- sets and removes only its own tenant's account; the login role (webhooks) reads all.
CREATE SCHEMA payments;
GRANT USAGE ON SCHEMA payments TO verofield_app;

CREATE TABLE payments.stripe_accounts (
    stripe_account  text PRIMARY KEY CHECK (stripe_account ~ '^acct_[A-Za-z0-9]{1,64}$'),
    tenant_id       uuid NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE payments.stripe_accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_account ON payments.stripe_accounts TO verofield_app
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON payments.stripe_accounts TO verofield_app;

-- Stripe event ids already received: a redelivered event is answered 200 and applied once.
-- The login role only (no grant to the app role). `tenant_id` is NULL for an event whose
-- account is no tenant's (acknowledged, nothing applied).
CREATE TABLE payments.stripe_events (
    id           text PRIMARY KEY,
    event_type   text NOT NULL,
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    received_at  timestamptz NOT NULL DEFAULT now()
);
