-- KPIs and the promised window (issue 25 items 1 and 2).
--
-- A job's `window_start`/`window_end` is the window promised to the customer. Applying a
-- routing plan used to overwrite it with the planned service interval, which lost the
-- promise; now the plan's times go to `planned_start`/`planned_end` beside it (and `eta`,
-- a later estimate of arrival, nullable), and the window stays what was promised. The plan's
-- travel is kept per job too (`planned_travel_meters`: the leg that reached the job, the last
-- job of a route also the way home), so travel per job is a grouped sum like the other KPIs.
--
-- Two columns are maintained by the database from the row itself (a BEFORE trigger, so
-- whatever a module writes to them is replaced): `reschedules` counts the changes of a
-- promised window once one was set, and `arrived_on_time` says whether the arrival (the
-- move to `in_progress`, `started_at`: nothing records an arrival apart from starting the
-- work) fell inside the promised window, null before there is both a window and an arrival.
-- The kpis module counts them with the store's aggregate capability, which compares columns
-- with values, never with each other.

ALTER TABLE store.jobs
    ADD COLUMN planned_start timestamptz,
    ADD COLUMN planned_end timestamptz,
    ADD COLUMN eta timestamptz,
    ADD COLUMN planned_travel_meters integer CHECK (planned_travel_meters >= 0),
    ADD COLUMN reschedules integer NOT NULL DEFAULT 0,
    ADD COLUMN arrived_on_time boolean,
    ADD CONSTRAINT jobs_planned_interval
        CHECK (planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start);

CREATE FUNCTION store.job_derived_columns() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.reschedules := 0;
    ELSIF OLD.window_start IS NOT NULL
          AND (NEW.window_start IS DISTINCT FROM OLD.window_start
               OR NEW.window_end IS DISTINCT FROM OLD.window_end) THEN
        NEW.reschedules := OLD.reschedules + 1;
    ELSE
        NEW.reschedules := OLD.reschedules;
    END IF;
    NEW.arrived_on_time := CASE
        WHEN NEW.started_at IS NULL OR NEW.window_start IS NULL THEN NULL
        ELSE NEW.started_at >= NEW.window_start
             AND NEW.started_at <= coalesce(NEW.window_end, NEW.window_start)
    END;
    RETURN NEW;
END $$;

CREATE TRIGGER jobs_derived_columns BEFORE INSERT OR UPDATE ON store.jobs
    FOR EACH ROW EXECUTE FUNCTION store.job_derived_columns();

-- Jobs planned on a date by an applied plan (travel per job reads them by date).
CREATE INDEX jobs_planned_travel ON store.jobs (tenant_id, scheduled_date)
    WHERE planned_travel_meters IS NOT NULL;

-- Dashboard layouts (the layouts module, issue 25 item 2). A layout belongs either to a user
-- (`owner_user_id`: their own dashboards, private or shared read-only with the tenant, one of
-- them their default) or to a role (`role`: the default an admin set for everyone holding
-- it, readable by the whole tenant). Widgets (metric, chart, filters, grid position and size)
-- are checked by the module and kept as one jsonb array: nothing else queries inside them.
-- Who may read a user's layout (its owner, or anyone once shared) is the module's rule;
-- the tenant boundary is RLS's, as for every store table.
CREATE TABLE store.dashboard_layouts (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    owner_user_id  uuid,
    role           text CHECK (role ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    shared_with    text NOT NULL DEFAULT 'private' CHECK (shared_with IN ('private', 'tenant')),
    is_default     boolean NOT NULL DEFAULT false,
    widgets        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(widgets) = 'array'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    -- A user's layouts go with the user.
    FOREIGN KEY (tenant_id, owner_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((role IS NULL) <> (owner_user_id IS NULL)),
    CHECK (role IS NULL OR (shared_with = 'tenant' AND NOT is_default))
);
CREATE UNIQUE INDEX dashboard_layouts_role ON store.dashboard_layouts (tenant_id, role)
    WHERE role IS NOT NULL;
CREATE UNIQUE INDEX dashboard_layouts_user_default ON store.dashboard_layouts (tenant_id, owner_user_id)
    WHERE is_default;
CREATE INDEX dashboard_layouts_owner ON store.dashboard_layouts (tenant_id, owner_user_id, created_at);

SELECT enable_tenant_isolation('store.dashboard_layouts');
GRANT SELECT, INSERT, UPDATE, DELETE ON store.dashboard_layouts TO verofield_app;
