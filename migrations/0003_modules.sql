-- The module registry and the event outbox.

-- Global: every published module version, content-addressed by the sha256 of its component.
-- Not tenant data; in Citus a reference table. The app role cannot read it (the host loads
-- components as the login role).
CREATE TABLE module_versions (
    digest        text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
    name          text NOT NULL,
    version       text NOT NULL,
    slot          text NOT NULL,
    manifest      jsonb NOT NULL,
    component     bytea NOT NULL,
    builtin       boolean NOT NULL DEFAULT false,
    published_by  text NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

-- Tenant: which version serves each slot. Append-only: the newest row per slot is the
-- binding, earlier rows are its history, and a rollback is a new row naming an older digest.
CREATE TABLE module_bindings (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    id         uuid NOT NULL,
    slot       text NOT NULL,
    digest     text NOT NULL REFERENCES module_versions (digest),
    bound_by   uuid,
    bound_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX module_bindings_slot ON module_bindings (tenant_id, slot, id DESC);

-- Tenant: events written in the same transaction as the data they describe; delivery reads
-- undelivered rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE event_outbox (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    event_type    text NOT NULL,
    payload       jsonb NOT NULL,
    source        text NOT NULL,
    request_id    text,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX event_outbox_pending ON event_outbox (tenant_id, id) WHERE delivered_at IS NULL;

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['module_bindings', 'event_outbox']::regclass[]) AS t;

GRANT SELECT, INSERT ON module_bindings TO verofield_app;
GRANT SELECT, INSERT, UPDATE ON event_outbox TO verofield_app;
