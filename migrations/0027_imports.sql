-- CSV imports (issue 25 item 6). An import is a job: the file, its column mapping and its
-- progress (`rows_done`, counted in the same transaction as the rows it counts, so a crash
-- leaves exactly what was committed on record and a resumed job starts after it) and the bad
-- rows it met (`errors`: line, column, message; at most 1,000 kept, `failed` counts them all).
-- `import_records` maps an external id (per tenant and kind) to the module's record, so a
-- re-import updates, or when the row's hash is unchanged skips, instead of duplicating; the
-- modules' own tables need no column for it.
CREATE TABLE imports (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('customers', 'technicians', 'service_types')),
    dry_run      boolean NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    mapping      jsonb NOT NULL,
    body         bytea NOT NULL,
    total_rows   integer NOT NULL,
    rows_done    integer NOT NULL DEFAULT 0,
    created      integer NOT NULL DEFAULT 0,
    updated      integer NOT NULL DEFAULT 0,
    unchanged    integer NOT NULL DEFAULT 0,
    failed       integer NOT NULL DEFAULT 0,
    errors       jsonb NOT NULL DEFAULT '[]',
    failure      text,
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Written with every batch; a running job whose heartbeat is old lost its worker.
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (tenant_id, id)
);

SELECT enable_tenant_isolation('imports');
GRANT SELECT, INSERT, UPDATE ON imports TO verofield_app;

CREATE TABLE import_records (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    kind        text NOT NULL,
    external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    record_id   text NOT NULL,
    -- Customers: the location the row's location columns went to.
    location_id text,
    row_hash    bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, external_id)
);
CREATE INDEX import_records_record ON import_records (tenant_id, kind, record_id);

SELECT enable_tenant_isolation('import_records');
GRANT SELECT, INSERT, UPDATE, DELETE ON import_records TO verofield_app;
