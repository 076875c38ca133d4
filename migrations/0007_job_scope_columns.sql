-- Technician scoping without subqueries in policies (replaces the RESTRICTIVE policies of 0005).
--
-- DESIGN.md's rule is that policies hold no subquery: Citus rejects them on distributed
-- tables, so 0005's "jobs with one of my assignments" policies would have kept jobs, their
-- assignments and their history from being distributed. Instead each of the three tables
-- carries `scope_user_ids`: the users whose technician profile is assigned to the job. The
-- database maintains it with triggers (a module cannot write it: the store catalog hides
-- the column, see host/src/storage/catalog.rs), and the policies compare it with
-- `app.user_id`, a plain column test like the tenant policy's.
--
-- Who sees what is unchanged: with `app.job_scope = 'own'` (set by the host for principals
-- without `jobs.read`), jobs and their history are visible and writable only when the caller
-- is one of the job's assigned users, assignment rows only when they are the caller's own,
-- a technician can neither write assignments nor delete jobs (0005's policies for those stay),
-- and without the setting nothing is narrowed.
--
-- The triggers are SECURITY INVOKER: they run as the request's role under the same RLS, and a
-- technician (who cannot write assignments) never fires the ones that rewrite other rows.

ALTER TABLE store.jobs ADD COLUMN scope_user_ids uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE store.job_assignments ADD COLUMN scope_user_ids uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE store.job_status_history ADD COLUMN scope_user_ids uuid[] NOT NULL DEFAULT '{}';

-- An assignment's scope: the user linked to its technician, if any.
CREATE FUNCTION store.job_assignment_scope() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
BEGIN
    NEW.scope_user_ids := ARRAY(
        SELECT t.user_id FROM store.technicians t
        WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.technician_id AND t.user_id IS NOT NULL);
    RETURN NEW;
END $$;

-- A job's scope (and its history's): the union of its assignments' scopes.
CREATE FUNCTION store.refresh_job_scope(tenant uuid, job uuid) RETURNS void
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
DECLARE
    scope uuid[] := ARRAY(
        SELECT DISTINCT u FROM store.job_assignments a, unnest(a.scope_user_ids) AS u
        WHERE a.tenant_id = tenant AND a.job_id = job ORDER BY u);
BEGIN
    UPDATE store.jobs SET scope_user_ids = scope
    WHERE tenant_id = tenant AND id = job AND scope_user_ids IS DISTINCT FROM scope;
    UPDATE store.job_status_history SET scope_user_ids = scope
    WHERE tenant_id = tenant AND job_id = job AND scope_user_ids IS DISTINCT FROM scope;
END $$;

CREATE FUNCTION store.job_assignments_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM store.refresh_job_scope(OLD.tenant_id, OLD.job_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM store.refresh_job_scope(NEW.tenant_id, NEW.job_id);
    END IF;
    RETURN NULL;
END $$;

-- A status change inherits its job's scope when it is written.
CREATE FUNCTION store.job_status_history_scope() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
BEGIN
    NEW.scope_user_ids := coalesce(
        (SELECT j.scope_user_ids FROM store.jobs j WHERE j.tenant_id = NEW.tenant_id AND j.id = NEW.job_id),
        '{}');
    RETURN NEW;
END $$;

-- Linking a technician profile to another user (or none) moves their assignments' scope.
CREATE FUNCTION store.technician_user_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog AS $$
BEGIN
    -- The BEFORE trigger on job_assignments derives the scope again.
    UPDATE store.job_assignments SET scope_user_ids = '{}'
    WHERE tenant_id = NEW.tenant_id AND technician_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER scope BEFORE INSERT OR UPDATE ON store.job_assignments
    FOR EACH ROW EXECUTE FUNCTION store.job_assignment_scope();
CREATE TRIGGER scope_changed AFTER INSERT OR UPDATE OR DELETE ON store.job_assignments
    FOR EACH ROW EXECUTE FUNCTION store.job_assignments_changed();
CREATE TRIGGER scope BEFORE INSERT OR UPDATE OF job_id ON store.job_status_history
    FOR EACH ROW EXECUTE FUNCTION store.job_status_history_scope();
CREATE TRIGGER scope_changed AFTER UPDATE OF user_id ON store.technicians
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION store.technician_user_changed();

-- Existing rows, tenant by tenant: the tables' RLS is forced on their owner too, so each
-- tenant's rows are only reachable with its app.tenant_id set. Rewriting every assignment runs
-- the triggers above, which derive the jobs' and the history's scopes.
DO $$
DECLARE
    tenant uuid;
BEGIN
    FOR tenant IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', tenant::text, true);
        UPDATE store.job_assignments SET scope_user_ids = '{}' WHERE tenant_id = tenant;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;

DROP POLICY job_scope_read ON store.job_assignments;
DROP POLICY job_scope_own ON store.jobs;
DROP POLICY job_scope_own ON store.job_status_history;

CREATE POLICY job_scope_read ON store.job_assignments AS RESTRICTIVE FOR SELECT
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
           OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids));
CREATE POLICY job_scope_own ON store.jobs AS RESTRICTIVE FOR ALL
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
           OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids))
    WITH CHECK (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids));
CREATE POLICY job_scope_own ON store.job_status_history AS RESTRICTIVE FOR ALL
    USING (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
           OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids))
    WITH CHECK (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids));
