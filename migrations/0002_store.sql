-- The `store` schema: the tables modules reach through the store capability. The host's
-- catalog reads their columns from pg_catalog at start-up, so a table added here is usable
-- by a module that is granted it, with no Rust change. Every store table has the tenant
-- columns plus `id uuid`, `version bigint`, `created_at`, `updated_at`, maintained by the
-- host. The same RLS rules as `public` apply (checked at start-up).

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA store;
GRANT USAGE ON SCHEMA store TO verofield_app;

CREATE TABLE store.crm_customers (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    version          bigint NOT NULL DEFAULT 1,
    kind             text NOT NULL DEFAULT 'residential' CHECK (kind IN ('residential', 'commercial')),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email            text,
    phone            text,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'lead')),
    tags             text[] NOT NULL DEFAULT '{}',
    notes            text NOT NULL DEFAULT '',
    billing_address  jsonb,
    balance_minor    bigint NOT NULL DEFAULT 0,
    currency         text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX crm_customers_name_trgm ON store.crm_customers USING gin (name gin_trgm_ops);
CREATE INDEX crm_customers_email_trgm ON store.crm_customers USING gin (email gin_trgm_ops);
CREATE INDEX crm_customers_phone_trgm ON store.crm_customers USING gin (phone gin_trgm_ops);
CREATE INDEX crm_customers_status ON store.crm_customers (tenant_id, status, id);
CREATE INDEX crm_customers_tags ON store.crm_customers USING gin (tags);

CREATE TABLE store.crm_locations (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    customer_id   uuid NOT NULL,
    label         text NOT NULL DEFAULT '',
    address       jsonb NOT NULL DEFAULT '{}',
    address_text  text NOT NULL DEFAULT '',
    latitude      double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision CHECK (longitude BETWEEN -180 AND 180),
    access_notes  text NOT NULL DEFAULT '',
    property      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_locations_customer ON store.crm_locations (tenant_id, customer_id);
CREATE INDEX crm_locations_position ON store.crm_locations (tenant_id, latitude, longitude);
CREATE INDEX crm_locations_address_trgm ON store.crm_locations USING gin (address_text gin_trgm_ops);

CREATE TABLE store.crm_contacts (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    version      bigint NOT NULL DEFAULT 1,
    customer_id  uuid NOT NULL,
    name         text NOT NULL,
    email        text,
    phone        text,
    role         text NOT NULL DEFAULT '',
    is_primary   boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_contacts_customer ON store.crm_contacts (tenant_id, customer_id);

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['store.crm_customers', 'store.crm_locations', 'store.crm_contacts']::regclass[]) AS t;
GRANT SELECT, INSERT, UPDATE, DELETE ON store.crm_customers, store.crm_locations, store.crm_contacts
    TO verofield_app;
