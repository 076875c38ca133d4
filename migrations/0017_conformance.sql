-- Conformance (issue 23): each uploaded version's run of its slot's pack. Global, like
-- `module_versions`: a result belongs to a version, whichever tenants may bind it. One row
-- per version; a rerun replaces the steps and clears an override.
CREATE TABLE module_conformance (
    digest         text PRIMARY KEY REFERENCES module_versions (digest),
    pack           text NOT NULL,
    -- sha256 of the pack file the run used: a result is only as good as the pack it ran.
    pack_digest    text NOT NULL,
    status         text NOT NULL
                   CHECK (status IN ('pending', 'passed', 'failed', 'overridden')),
    passed         integer NOT NULL DEFAULT 0,
    failed         integer NOT NULL DEFAULT 0,
    -- One entry per step run: name, request, status, duration, and what failed.
    steps          jsonb NOT NULL DEFAULT '[]',
    -- Which run may write its result: a rerun started meanwhile takes over.
    run_id         uuid NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    ran_at         timestamptz,
    duration_ms    integer,
    overridden_by  text,
    overridden_at  timestamptz,
    reason         text
);

-- Binding checks the result inside the tenant's own transaction (no second connection):
-- the app role reads the verdict and the steps, nothing else, and writes nothing.
GRANT SELECT (digest, pack, status, steps) ON module_conformance TO verofield_app;
