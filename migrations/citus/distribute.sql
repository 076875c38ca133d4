-- Turns a migrated VeroField database into a Citus layout (docs/CITUS.md).
--
-- Run once on the coordinator, as the migration role (a superuser there), after
-- `verofield migrate` and with the Citus extension created and the workers added:
--
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/citus/distribute.sql
--
-- * Global tables (no `tenant_id`: tenants, module versions, publishers, the login throttle)
--   become reference tables, copied to every worker.
-- * `payments.*` maps Stripe's ids to tenants (looked up before the tenant is known): reference
--   tables too.
-- * Every other table of `public`, `store` and the module collection schemas (`mod_*`) with a
--   `tenant_id` is distributed by `tenant_id`, all co-located with `users`, so a tenant's rows
--   of every table sit on one worker and a query filtered by `tenant_id` runs on one shard.
-- * `dispatch.*` (cross-tenant hints of due events and tasks, never joined with tenant data)
--   stays on the coordinator.
--
-- Tables are distributed in foreign-key order (a referenced table first). Running it again
-- skips what is already distributed, so it also picks up tables of later migrations that did
-- not call `distribute_tenant_table` themselves.
--
-- Settings (measured on Citus 13.2.2 with PostgreSQL 15; see docs/CITUS.md):
-- * `enable_local_reference_table_foreign_keys = off`: else a foreign key to `tenants` turns
--   the referencing tables into Citus-local tables instead of distributing them;
-- * `enable_unsafe_triggers = on`: the documented triggers (docs/CITUS.md) run on the shards;
-- * `multi_shard_modify_mode = sequential`: DDL and multi-shard writes in one transaction.

\set ON_ERROR_STOP on

SET citus.enable_local_reference_table_foreign_keys = off;
SET citus.enable_unsafe_triggers = on;
SET citus.multi_shard_modify_mode = sequential;

-- Citus connects to the workers as the current role: the app role needs LOGIN there (still
-- not superuser, still without BYPASSRLS; the start-up self-check allows it with a warning).
ALTER ROLE verofield_app LOGIN;

DO $$
DECLARE
    t regclass;
    progress boolean := true;
BEGIN
    -- Reference tables: global tables and the payments mapping.
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND ((n.nspname = 'public' AND c.relname <> '_sqlx_migrations'
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                                AND a.attname = 'tenant_id' AND NOT a.attisdropped))
               OR n.nspname = 'payments')
          AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
        ORDER BY (c.relname = 'tenants') DESC, c.oid
    LOOP
        RAISE NOTICE 'reference table %', t;
        PERFORM create_reference_table(t);
    END LOOP;

    -- The co-location anchor first, then every tenant table whose referenced tables are
    -- already Citus tables, until none is left.
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'users'::regclass) THEN
        PERFORM create_distributed_table('users', 'tenant_id');
    END IF;
    WHILE progress LOOP
        progress := false;
        FOR t IN
            SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r'
              AND (n.nspname IN ('public', 'store') OR n.nspname LIKE 'mod\_%')
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'tenant_id' AND NOT a.attisdropped)
              AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
              AND NOT EXISTS (
                  SELECT 1 FROM pg_constraint k
                  WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid <> c.oid
                    AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p
                                    WHERE p.logicalrelid = k.confrelid))
            ORDER BY c.oid
        LOOP
            RAISE NOTICE 'distributed table %', t;
            PERFORM create_distributed_table(t, 'tenant_id', colocate_with => 'users');
            progress := true;
        END LOOP;
    END LOOP;

    -- Anything left references a table that cannot be distributed: stop loudly.
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND (n.nspname IN ('public', 'store') OR n.nspname LIKE 'mod\_%')
          AND c.relname <> '_sqlx_migrations'
          AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
    LOOP
        RAISE EXCEPTION 'table % was left undistributed (a foreign key to a local table?)', t;
    END LOOP;
END $$;
