-- Module-owned storage and per-tenant module settings (issue 23, items 3 and 6).
--
-- The collections themselves are not created here: the host creates each module's schema
-- (`mod_*`) and tables when a version is published, in the same tenant shape and under the
-- same policy as the `store` tables (`enable_tenant_isolation`), and the start-up self-check
-- covers those schemas too.

-- Tenant: the modules a tenant stopped using (a slot switched away from them), kept until
-- the pruning job deletes the tenant's rows of the module's collections after the retention
-- period. Switching back to the module deletes its row, and the rows stay.
CREATE TABLE module_departures (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    module     text NOT NULL,
    left_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, module)
);

-- Tenant: a module's configuration (validated against the manifest's JSON Schema) and its
-- secrets (name -> base64 of nonce and ciphertext, sealed with the host's key and bound to
-- tenant and module as associated data), keyed by module name, so a rebind to another
-- version of the module keeps them.
CREATE TABLE module_settings (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    module      text NOT NULL,
    config      jsonb NOT NULL DEFAULT '{}',
    secrets     jsonb NOT NULL DEFAULT '{}',
    updated_by  uuid,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, module)
);

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['module_departures', 'module_settings']::regclass[]) AS t;

GRANT SELECT, INSERT, DELETE ON module_departures TO verofield_app;
GRANT SELECT, INSERT, UPDATE ON module_settings TO verofield_app;
