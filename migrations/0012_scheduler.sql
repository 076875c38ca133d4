-- Scheduled work: per-tenant recurring tasks in the tenant's time zone, run once across all
-- hosts (host/src/scheduler).
--
-- A task is either a module's (`module`: a due run appends a `schedule.tick` event for that
-- one module to the outbox, in the same transaction that advances the task) or the host's own
-- (`host`: pruning that tenant). Tasks are reconciled from the serving modules' manifests by
-- the scheduler; `name` is `<slot>:<task>` for a module's task and `host:<task>` for the
-- host's. `next_run_at` is advanced before a run, so a crash does not rerun it forever and a
-- run missed while every host was down runs once. `lease_until` / `leased_by` mark a host task
-- being run outside the claiming transaction.
CREATE TABLE scheduled_tasks (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    name              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('module', 'host')),
    slot              text,
    task              text NOT NULL,
    schedule          text NOT NULL,
    next_run_at       timestamptz NOT NULL,
    last_run_at       timestamptz,
    last_error        text,
    last_duration_ms  bigint,
    runs              bigint NOT NULL DEFAULT 0,
    lease_until       timestamptz,
    leased_by         text,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name),
    CHECK ((kind = 'module') = (slot IS NOT NULL))
);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (tenant_id, next_run_at) WHERE enabled;

SELECT enable_tenant_isolation('scheduled_tasks');
GRANT SELECT, INSERT, UPDATE, DELETE ON scheduled_tasks TO verofield_app;

-- Which tenants have a task due, and from when; when their tasks were last reconciled with
-- their modules. Tenant ids and times, no tenant data; the login role only, like
-- dispatch.due_tenants. A hint: a tenant without a row is reconciled (and gets one) at the
-- next tick, and every row is reconciled again each minute, so a lost or stale row delays a
-- run by at most that and never loses it.
CREATE TABLE dispatch.due_tasks (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    due_at         timestamptz,
    reconciled_at  timestamptz NOT NULL
);
CREATE INDEX due_tasks_due ON dispatch.due_tasks (due_at);
