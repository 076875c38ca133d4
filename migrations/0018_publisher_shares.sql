-- A publisher's shares (issue 23, review of item 1), recorded by tenant slug: sharing answers
-- the same whether or not a tenant with the slug exists, so a publisher cannot enumerate the
-- platform's customers. Global like `publishers`: the login role only, no grant to the app
-- role. A share whose tenant exists is also its `module_shares` row (what the tenant reads);
-- a tenant the operator creates later with the slug gets its rows at creation. Both sides
-- take the same advisory lock on the slug, so neither misses the other.
CREATE TABLE publisher_shares (
    id            uuid PRIMARY KEY,
    publisher_id  uuid NOT NULL REFERENCES publishers (id),
    digest        text NOT NULL REFERENCES module_versions (digest),
    tenant_slug   text NOT NULL,
    shared_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (digest, tenant_slug)
);
CREATE INDEX publisher_shares_slug ON publisher_shares (tenant_slug);

-- The operator's share takes over a publisher's row for the same tenant and version, so that
-- a publisher withdrawing its own share never withdraws the operator's.
GRANT UPDATE (shared_by) ON module_shares TO verofield_app;
