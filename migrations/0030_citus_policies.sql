-- Citus-ready policies and keys (issue 26 item 3; docs/CITUS.md).
--
-- Citus recreates a distributed table's policies on its shards without `AS RESTRICTIVE`: run
-- on Citus 13.2.2, 0007's restrictive technician-scope policies became permissive there and an
-- unfiltered select on store.jobs under one tenant returned another tenant's job. So the three
-- scoped tables get one permissive policy per command that ANDs the tenant check with the
-- scope check, and no restrictive policy remains anywhere. Who sees what is unchanged:
--
-- * jobs and their status history: with `app.job_scope = 'own'`, only the jobs whose
--   `scope_user_ids` hold the caller (read and write), and a technician deletes no job;
-- * assignments: with the scope, only the caller's own are readable, and none is written.
--
-- The tenant check comes first in each expression, printed back by PostgreSQL as
-- `((tenant_id = ...) AND ...)`, which is the shape the start-up self-check accepts.
--
-- Also: the technician's link to a user drops `ON DELETE SET NULL (user_id)`, which Citus
-- refuses on a foreign key holding the distribution column. Users are never deleted (they
-- are deactivated), and a tenant's deletion removes technicians with the rest.

DROP POLICY tenant_isolation ON store.jobs;
DROP POLICY job_scope_own ON store.jobs;
DROP POLICY job_scope_delete ON store.jobs;

CREATE POLICY tenant_scope_select ON store.jobs FOR SELECT
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)));
CREATE POLICY tenant_scope_insert ON store.jobs FOR INSERT
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                     OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)));
CREATE POLICY tenant_scope_update ON store.jobs FOR UPDATE
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)))
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                     OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)));
CREATE POLICY tenant_scope_delete ON store.jobs FOR DELETE
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND current_setting('app.job_scope', true) IS DISTINCT FROM 'own');

DROP POLICY tenant_isolation ON store.job_status_history;
DROP POLICY job_scope_own ON store.job_status_history;

CREATE POLICY tenant_scope_all ON store.job_status_history FOR ALL
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)))
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                     OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)));

DROP POLICY tenant_isolation ON store.job_assignments;
DROP POLICY job_scope_read ON store.job_assignments;
DROP POLICY job_scope_insert ON store.job_assignments;
DROP POLICY job_scope_update ON store.job_assignments;
DROP POLICY job_scope_delete ON store.job_assignments;

CREATE POLICY tenant_scope_select ON store.job_assignments FOR SELECT
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND (current_setting('app.job_scope', true) IS DISTINCT FROM 'own'
                OR nullif(current_setting('app.user_id', true), '')::uuid = ANY (scope_user_ids)));
CREATE POLICY tenant_scope_insert ON store.job_assignments FOR INSERT
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND current_setting('app.job_scope', true) IS DISTINCT FROM 'own');
CREATE POLICY tenant_scope_update ON store.job_assignments FOR UPDATE
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND current_setting('app.job_scope', true) IS DISTINCT FROM 'own')
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
                AND current_setting('app.job_scope', true) IS DISTINCT FROM 'own');
CREATE POLICY tenant_scope_delete ON store.job_assignments FOR DELETE
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           AND current_setting('app.job_scope', true) IS DISTINCT FROM 'own');

ALTER TABLE store.technicians DROP CONSTRAINT technicians_tenant_id_user_id_fkey;
ALTER TABLE store.technicians
    ADD CONSTRAINT technicians_tenant_id_user_id_fkey
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id);

-- Migrations from here on call this after creating a tenant table: on a Citus coordinator
-- whose tables were distributed (migrations/citus/distribute.sql) it distributes the new
-- table by tenant_id beside `users`; on plain PostgreSQL it does nothing.
CREATE FUNCTION distribute_tenant_table(target regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    distributed boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1)'
        INTO distributed USING 'users'::regclass;
    IF distributed THEN
        EXECUTE 'SELECT create_distributed_table($1, ''tenant_id'', colocate_with => ''users'')'
            USING target;
    END IF;
END $$;
REVOKE ALL ON FUNCTION distribute_tenant_table(regclass) FROM PUBLIC;

-- The outbox's NOTIFY trigger: the host now sends the notification itself in the writing
-- transaction (host/src/events/outbox.rs). On Citus the trigger fired on the worker holding
-- the shard, where no host listens.
DROP TRIGGER event_outbox_notify ON event_outbox;
DROP FUNCTION notify_event_outbox();
