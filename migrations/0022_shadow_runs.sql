-- Shadow runs (issue 24, item 3): a candidate version of a slot also serves a sample of the
-- tenant's live requests in a transaction that always rolls back, and the differences are
-- recorded here (host/src/shadow). Tenant tables under RLS, written in the tenant's own
-- transactions. Bounded: one row per slot (counters, not rows per run) and at most a fixed
-- number of example differences per kind, their bodies truncated by the host.

-- The slot's current or last shadow run; a new run replaces it. `ended_at` is set on stop
-- and promote; `until` ends it without a write (a run is active while now() < until).
CREATE TABLE module_shadows (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    slot            text NOT NULL,
    -- Names one run, so that a late result of an earlier run never counts in a later one.
    run_id          uuid NOT NULL,
    digest          text NOT NULL REFERENCES module_versions (digest),
    sample_percent  integer NOT NULL CHECK (sample_percent BETWEEN 1 AND 100),
    started_at      timestamptz NOT NULL DEFAULT now(),
    until           timestamptz NOT NULL,
    -- `stopped` or `promoted` once ended by a call; null while it runs or after `until`.
    ended_as        text CHECK (ended_as IN ('stopped', 'promoted')),
    ended_at        timestamptz,
    -- Candidate runs compared, and how many of them answered like the live version.
    runs            bigint NOT NULL DEFAULT 0,
    identical       bigint NOT NULL DEFAULT 0,
    status_differs  bigint NOT NULL DEFAULT 0,
    body_differs    bigint NOT NULL DEFAULT 0,
    traps           bigint NOT NULL DEFAULT 0,
    route_missing   bigint NOT NULL DEFAULT 0,
    -- Sampled requests not shadowed because the tenant's share or the host's shadow capacity
    -- was in use: shadow work waits for nobody.
    skipped         bigint NOT NULL DEFAULT 0,
    live_us         bigint NOT NULL DEFAULT 0,
    candidate_us    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, slot)
);

SELECT enable_tenant_isolation('module_shadows'::regclass);
GRANT SELECT, INSERT, UPDATE, DELETE ON module_shadows TO verofield_app;

-- Example differences, at most a few per kind and slot (the host checks the count under the
-- shadow row's lock, so concurrent runs cannot pass it).
CREATE TABLE module_shadow_examples (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    slot             text NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    kind             text NOT NULL CHECK (kind IN ('status', 'body', 'trap', 'route_missing')),
    method           text NOT NULL,
    path             text NOT NULL,
    live_status      integer NOT NULL,
    candidate_status integer,
    -- JSON pointers of the fields that differ after normalising ids and timestamps.
    differing_paths  jsonb NOT NULL DEFAULT '[]',
    live_body        text NOT NULL,
    candidate_body   text NOT NULL,
    live_us          bigint NOT NULL,
    candidate_us     bigint NOT NULL,
    -- What the candidate's failure said (a trap, a broken limit, a missing route).
    error            text,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, slot, id),
    FOREIGN KEY (tenant_id, slot) REFERENCES module_shadows (tenant_id, slot) ON DELETE CASCADE
);

SELECT enable_tenant_isolation('module_shadow_examples'::regclass);
GRANT SELECT, INSERT, DELETE ON module_shadow_examples TO verofield_app;
