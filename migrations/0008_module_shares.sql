-- Uploaded module versions are private to the tenants the operator shares them with.
-- Built-ins need no row: every tenant may bind them. A tenant reads its own shares inside its
-- transaction; the operator writes them in the tenant's scope, hence the app role's grants.
CREATE TABLE module_shares (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    digest     text NOT NULL REFERENCES module_versions (digest),
    shared_by  text NOT NULL,
    shared_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, digest)
);

SELECT enable_tenant_isolation('module_shares');

GRANT SELECT, INSERT, DELETE ON module_shares TO verofield_app;
