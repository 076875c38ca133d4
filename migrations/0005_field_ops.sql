-- Field operations (issue 4): technicians and their time off, the service-type catalog, jobs
-- (visits) with assignments and status history, work orders (one-off or recurring by an RRULE)
-- and service agreements. Store tables, so the modules reach them through the store
-- capability; the same tenant rules as every store table (0002).
--
-- Technician scoping: a principal that does not hold `jobs.read` (the built-in technician
-- role) gets `app.job_scope = 'own'` from the host for the whole request transaction. The
-- RESTRICTIVE policies below then narrow jobs, their assignments and their history to the
-- jobs assigned to a technician profile linked to the calling user (`app.user_id`), whatever
-- the module asks for. Restrictive policies are AND-ed with `tenant_isolation`, so they can
-- only take rows away. With the setting unset (every principal holding `jobs.read`) they let
-- everything through. The policies form no cycle: jobs -> job_assignments -> technicians.

CREATE TABLE store.technicians (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL,
    version         bigint NOT NULL DEFAULT 1,
    user_id         uuid,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text,
    phone           text,
    skills          text[] NOT NULL DEFAULT '{}',
    working_hours   jsonb NOT NULL DEFAULT '{}',
    time_zone       text NOT NULL DEFAULT 'UTC',
    home_latitude   double precision CHECK (home_latitude BETWEEN -90 AND 90),
    home_longitude  double precision CHECK (home_longitude BETWEEN -180 AND 180),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE SET NULL (user_id),
    UNIQUE (tenant_id, user_id)
);

CREATE TABLE store.technician_time_off (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    technician_id  uuid NOT NULL,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    reason         text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, technician_id) REFERENCES store.technicians (tenant_id, id) ON DELETE CASCADE,
    CHECK (ends_at > starts_at)
);
CREATE INDEX technician_time_off_technician ON store.technician_time_off (tenant_id, technician_id, starts_at);

CREATE TABLE store.service_types (
    tenant_id                 uuid NOT NULL REFERENCES tenants (id),
    id                        uuid NOT NULL,
    version                   bigint NOT NULL DEFAULT 1,
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description               text NOT NULL DEFAULT '',
    default_duration_minutes  integer NOT NULL CHECK (default_duration_minutes BETWEEN 1 AND 1440),
    default_price_minor       bigint NOT NULL DEFAULT 0 CHECK (default_price_minor >= 0),
    currency                  text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    required_skills           text[] NOT NULL DEFAULT '{}',
    active                    boolean NOT NULL DEFAULT true,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE store.service_agreements (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL,
    version             bigint NOT NULL DEFAULT 1,
    customer_id         uuid NOT NULL,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    location_ids        text[] NOT NULL DEFAULT '{}',
    service_type_ids    text[] NOT NULL DEFAULT '{}',
    recurrence          text NOT NULL,
    start_time          text NOT NULL DEFAULT '09:00',
    end_time            text NOT NULL DEFAULT '11:00',
    time_zone           text NOT NULL DEFAULT 'UTC',
    duration_minutes    integer,
    pricing             text NOT NULL DEFAULT 'per_visit' CHECK (pricing IN ('per_visit', 'per_period')),
    price_minor         bigint NOT NULL DEFAULT 0 CHECK (price_minor >= 0),
    currency            text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    billing_frequency   text NOT NULL DEFAULT 'monthly'
                        CHECK (billing_frequency IN ('per_visit', 'monthly', 'quarterly', 'semiannually', 'annually')),
    starts_on           date NOT NULL,
    ends_on             date,
    auto_renew          boolean NOT NULL DEFAULT false,
    horizon_days        integer NOT NULL DEFAULT 90 CHECK (horizon_days BETWEEN 1 AND 3660),
    status              text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'active', 'paused', 'canceled', 'expired')),
    annual_value_minor  bigint NOT NULL DEFAULT 0,
    work_order_ids      text[] NOT NULL DEFAULT '{}',
    activated_at        timestamptz,
    paused_at           timestamptz,
    canceled_at         timestamptz,
    expired_at          timestamptz,
    notes               text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX service_agreements_customer ON store.service_agreements (tenant_id, customer_id);

CREATE TABLE store.work_orders (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    id                uuid NOT NULL,
    version           bigint NOT NULL DEFAULT 1,
    customer_id       uuid NOT NULL,
    location_id       uuid NOT NULL,
    agreement_id      uuid,
    title             text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paused', 'closed', 'canceled')),
    line_items        jsonb NOT NULL DEFAULT '[]',
    service_type_ids  text[] NOT NULL DEFAULT '{}',
    required_skills   text[] NOT NULL DEFAULT '{}',
    -- The rule (RFC 5545 subset) and its local anchor: the first date, the arrival window in
    -- local wall-clock time, and the IANA zone those are in.
    recurrence        text,
    starts_on         date,
    ends_on           date,
    start_time        text NOT NULL DEFAULT '09:00',
    end_time          text NOT NULL DEFAULT '11:00',
    time_zone         text NOT NULL DEFAULT 'UTC',
    duration_minutes  integer NOT NULL DEFAULT 60 CHECK (duration_minutes BETWEEN 1 AND 1440),
    priority          integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    horizon_days      integer NOT NULL DEFAULT 90 CHECK (horizon_days BETWEEN 1 AND 3660),
    generated_until   date,
    notes             text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES store.crm_locations (tenant_id, id),
    FOREIGN KEY (tenant_id, agreement_id) REFERENCES store.service_agreements (tenant_id, id)
);
CREATE INDEX work_orders_customer ON store.work_orders (tenant_id, customer_id);
CREATE INDEX work_orders_agreement ON store.work_orders (tenant_id, agreement_id);

CREATE TABLE store.jobs (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL,
    version             bigint NOT NULL DEFAULT 1,
    customer_id         uuid NOT NULL,
    location_id         uuid NOT NULL,
    work_order_id       uuid,
    service_type_ids    text[] NOT NULL DEFAULT '{}',
    required_skills     text[] NOT NULL DEFAULT '{}',
    scheduled_date      date,
    window_start        timestamptz,
    window_end          timestamptz,
    time_zone           text NOT NULL DEFAULT 'UTC',
    duration_minutes    integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    priority            integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    status              text NOT NULL DEFAULT 'unscheduled'
                        CHECK (status IN ('unscheduled', 'scheduled', 'dispatched', 'en_route', 'in_progress',
                                          'completed', 'on_hold', 'canceled')),
    notes               text,
    -- Added by the field-ops modules (not part of the shared contract above).
    window_start_local  text,
    window_end_local    text,
    occurrence_date     date,
    status_changed_at   timestamptz,
    scheduled_at        timestamptz,
    dispatched_at       timestamptz,
    en_route_at         timestamptz,
    started_at          timestamptz,
    completed_at        timestamptz,
    on_hold_at          timestamptz,
    canceled_at         timestamptz,
    completion          jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES store.crm_customers (tenant_id, id),
    FOREIGN KEY (tenant_id, location_id) REFERENCES store.crm_locations (tenant_id, id),
    FOREIGN KEY (tenant_id, work_order_id) REFERENCES store.work_orders (tenant_id, id),
    -- A recurring work order generates at most one job per occurrence: regeneration is idempotent.
    UNIQUE (tenant_id, work_order_id, occurrence_date),
    CHECK (window_end IS NULL OR window_start IS NULL OR window_end > window_start)
);
CREATE INDEX jobs_date ON store.jobs (tenant_id, scheduled_date, window_start);
CREATE INDEX jobs_status ON store.jobs (tenant_id, status);
CREATE INDEX jobs_customer ON store.jobs (tenant_id, customer_id);
CREATE INDEX jobs_work_order ON store.jobs (tenant_id, work_order_id, scheduled_date);

CREATE TABLE store.job_assignments (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    job_id         uuid NOT NULL,
    technician_id  uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, job_id) REFERENCES store.jobs (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, technician_id) REFERENCES store.technicians (tenant_id, id),
    UNIQUE (tenant_id, job_id, technician_id)
);
CREATE INDEX job_assignments_technician ON store.job_assignments (tenant_id, technician_id);

CREATE TABLE store.job_status_history (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    version      bigint NOT NULL DEFAULT 1,
    job_id       uuid NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    changed_by   uuid,
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, job_id) REFERENCES store.jobs (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX job_status_history_job ON store.job_status_history (tenant_id, job_id, changed_at);

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['store.technicians', 'store.technician_time_off', 'store.service_types',
                  'store.service_agreements', 'store.work_orders', 'store.jobs',
                  'store.job_assignments', 'store.job_status_history']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE, DELETE ON store.technicians, store.technician_time_off, store.service_types,
    store.service_agreements, store.work_orders, store.jobs, store.job_assignments, store.job_status_history
    TO verofield_app;

-- Technician scoping (see the top of the file). `app.job_scope` is set by the host only.

-- Assignments: in the 'own' scope, only the caller's own assignment rows are visible, and none
-- can be written (a technician never assigns).
CREATE POLICY job_scope_read ON store.job_assignments AS RESTRICTIVE FOR SELECT
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
           OR technician_id IN (SELECT t.id FROM store.technicians t
                                WHERE t.user_id = nullif(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY job_scope_insert ON store.job_assignments AS RESTRICTIVE FOR INSERT
    WITH CHECK (current_setting('app.job_scope', true) IS DISTINCT FROM 'own');
CREATE POLICY job_scope_update ON store.job_assignments AS RESTRICTIVE FOR UPDATE
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own');
CREATE POLICY job_scope_delete ON store.job_assignments AS RESTRICTIVE FOR DELETE
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own');

-- Jobs: in the 'own' scope, only jobs with one of the caller's assignments are visible and
-- writable (so a technician cannot create a job: a new job has no assignment yet), and none
-- can be deleted.
CREATE POLICY job_scope_own ON store.jobs AS RESTRICTIVE FOR ALL
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
           OR id IN (SELECT a.job_id FROM store.job_assignments a))
    WITH CHECK (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR id IN (SELECT a.job_id FROM store.job_assignments a));
CREATE POLICY job_scope_delete ON store.jobs AS RESTRICTIVE FOR DELETE
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own');

-- History: in the 'own' scope, only the history of visible jobs (the subquery on jobs is
-- itself narrowed by the policy above).
CREATE POLICY job_scope_own ON store.job_status_history AS RESTRICTIVE FOR ALL
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
           OR job_id IN (SELECT j.id FROM store.jobs j))
    WITH CHECK (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR job_id IN (SELECT j.id FROM store.jobs j));

-- Work orders, agreements, technicians and time off are not job-scoped: the technician role
-- holds no permission for their routes, which the host checks before any module runs.
