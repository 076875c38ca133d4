-- Extension points (issue 24, item 1): pure components a tenant installs at named points of
-- the core modules (`jobs.validate`, ...), run by the host in the tenant's order
-- (host/src/extensions, docs/EXTENSIONS.md).

-- Global: every uploaded extension, content-addressed by the sha256 of its component. Not
-- tenant data (a reference table in Citus). The app role reads who an extension is, never
-- its bytes: the host loads components as the login role, as for `module_versions`.
CREATE TABLE extension_components (
    digest       text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
    name         text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
    version      text NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    points       text[] NOT NULL,
    component    bytea NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
GRANT SELECT (digest, name, version, points, uploaded_at) ON extension_components TO verofield_app;

-- Tenant: the ordered extensions at each point. A point's list is replaced whole.
CREATE TABLE tenant_extensions (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    point        text NOT NULL,
    position     integer NOT NULL CHECK (position >= 0),
    digest       text NOT NULL REFERENCES extension_components (digest),
    installed_by uuid,
    installed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, point, position)
);
SELECT enable_tenant_isolation('tenant_extensions');
GRANT SELECT, INSERT, DELETE ON tenant_extensions TO verofield_app;

-- Tenant: runs that failed (trap, fuel, memory, output too large or out of schema), for the
-- tenant's admins. Written in a tenant transaction of its own after the run, so a failure is
-- recorded even when the request it happened in rolls back.
CREATE TABLE extension_failures (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    point        text NOT NULL,
    digest       text NOT NULL REFERENCES extension_components (digest),
    kind         text NOT NULL,
    detail       text NOT NULL,
    request_id   text NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX extension_failures_recent ON extension_failures (tenant_id, failed_at DESC);
SELECT enable_tenant_isolation('extension_failures');
GRANT SELECT, INSERT ON extension_failures TO verofield_app;
