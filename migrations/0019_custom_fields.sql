-- Custom fields (issue 24, item 2): a tenant's own fields on customers, locations, jobs and
-- service agreements. The definitions are tenant rows managed by the host
-- (`/v1/tenant/custom-fields`); the values live in each row's `custom` object, which the
-- host's store checks against the definitions on every module write (`crate::custom_fields`).
-- A definition's key is the only part of it that reaches a statement, and only as a bound
-- parameter; the pattern here is the same as the host's.

CREATE TABLE custom_field_definitions (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    entity          text NOT NULL CHECK (entity IN ('customer', 'location', 'job', 'agreement')),
    key             text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    label           text NOT NULL CHECK (length(label) BETWEEN 1 AND 100),
    type            text NOT NULL CHECK (type IN ('text', 'number', 'boolean', 'date', 'enum', 'money')),
    required        boolean NOT NULL DEFAULT false,
    default_value   jsonb,
    enum_values     text[] NOT NULL DEFAULT '{}',
    shown_in_lists  boolean NOT NULL DEFAULT false,
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, entity, key)
);

SELECT enable_tenant_isolation('custom_field_definitions'::regclass);
GRANT SELECT, INSERT, UPDATE, DELETE ON custom_field_definitions TO verofield_app;

ALTER TABLE store.crm_customers ADD COLUMN custom jsonb NOT NULL DEFAULT '{}';
ALTER TABLE store.crm_locations ADD COLUMN custom jsonb NOT NULL DEFAULT '{}';
ALTER TABLE store.jobs ADD COLUMN custom jsonb NOT NULL DEFAULT '{}';
ALTER TABLE store.service_agreements ADD COLUMN custom jsonb NOT NULL DEFAULT '{}';
