-- Routing plans (issue 5): every optimisation the routing module runs is stored here, with
-- the version of each job it saw, so that applying the plan later can refuse jobs that
-- changed in between. A store table: the same tenant rules as every store table (0002).
-- The plan's routes, unassigned jobs, summary and search figures are kept as the module
-- answers them (jsonb); nothing else references their insides.

CREATE TABLE store.routing_plans (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    source        text NOT NULL CHECK (source IN ('date', 'inline')),
    plan_date     date,
    status        text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'applied')),
    routes        jsonb NOT NULL DEFAULT '[]',
    unassigned    jsonb NOT NULL DEFAULT '[]',
    summary       jsonb NOT NULL DEFAULT '{}',
    search        jsonb NOT NULL DEFAULT '{}',
    job_versions  jsonb NOT NULL DEFAULT '{}',
    created_by    uuid,
    applied_at    timestamptz,
    applied_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK ((source = 'date') = (plan_date IS NOT NULL)),
    CHECK ((status = 'applied') = (applied_at IS NOT NULL))
);
CREATE INDEX routing_plans_date ON store.routing_plans (tenant_id, plan_date, created_at);

SELECT enable_tenant_isolation('store.routing_plans');
GRANT SELECT, INSERT, UPDATE, DELETE ON store.routing_plans TO verofield_app;
