-- Usage metering (issue 24): per tenant, per module, per hour, what module calls used.
-- Hosts aggregate in memory and flush every few seconds with an additive upsert
-- (`calls = module_usage.calls + EXCLUDED.calls`), so several hosts may write the same row and
-- no row is written per call (host/src/usage). A tenant table like any other: RLS by tenant,
-- written in the tenant's own transaction.
CREATE TABLE module_usage (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    module       text NOT NULL,
    -- The UTC hour the calls started in.
    hour         timestamptz NOT NULL,
    calls        bigint NOT NULL DEFAULT 0,
    -- Calls that trapped, broke a limit or answered 5xx.
    failures     bigint NOT NULL DEFAULT 0,
    wall_us      bigint NOT NULL DEFAULT 0,
    host_calls   bigint NOT NULL DEFAULT 0,
    rows_read    bigint NOT NULL DEFAULT 0,
    rows_written bigint NOT NULL DEFAULT 0,
    -- Events emitted into the outbox (delivered only if the call committed).
    events_emitted bigint NOT NULL DEFAULT 0,
    -- Outbound HTTP requests asked for within the per-call cap.
    outbound_requests bigint NOT NULL DEFAULT 0,
    log_bytes    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, module, hour)
);
CREATE INDEX module_usage_hour ON module_usage (tenant_id, hour);

SELECT enable_tenant_isolation('module_usage');
GRANT SELECT, INSERT, UPDATE ON module_usage TO verofield_app;

-- Optional per-tenant quota: module calls per UTC calendar month, set by the operator. Past
-- it, module requests answer 429 `quota_exceeded` until the next month (host/src/usage/quota.rs).
CREATE TABLE usage_quotas (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
    monthly_calls  bigint NOT NULL CHECK (monthly_calls > 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

SELECT enable_tenant_isolation('usage_quotas');
GRANT SELECT, INSERT, UPDATE, DELETE ON usage_quotas TO verofield_app;
