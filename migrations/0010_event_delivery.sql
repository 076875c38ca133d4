-- Event delivery: the outbox's events handed to their subscribers, once each in effect.
--
-- A dispatcher on every host fans each committed outbox row out into one delivery per
-- subscriber (`module:<slot>` or `webhook:<endpoint id>`), then claims due deliveries with
-- FOR UPDATE SKIP LOCKED and a lease, so hosts share the work through this table alone and a
-- host that dies mid-delivery loses nothing: its lease expires and another host delivers.
-- `delivered_at` on the outbox now means "fanned out".

-- The ordering key: deliveries of one (subscriber, aggregate) go in event order. NULL when the
-- event names no aggregate. `target`: a delivery to one subscriber only (a schedule's tick).
-- `feed_seq`: the event's place in the tenant's feed, taken at fan-out while the host holds
-- the tenant's fan-out lock, so that within a tenant it grows in commit order of the fan-outs
-- and a polling client's cursor never skips an event that committed late.
CREATE SEQUENCE event_feed_seq;
GRANT USAGE ON SEQUENCE event_feed_seq TO verofield_app;
ALTER TABLE event_outbox
    ADD COLUMN aggregate text,
    ADD COLUMN target text,
    ADD COLUMN feed_seq bigint;
CREATE INDEX event_outbox_feed ON event_outbox (tenant_id, feed_seq) WHERE feed_seq IS NOT NULL;

CREATE TABLE event_deliveries (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    event_id         uuid NOT NULL,
    subscriber       text NOT NULL,
    aggregate        text,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    leased_by        text,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (tenant_id, event_id, subscriber),
    FOREIGN KEY (tenant_id, event_id) REFERENCES event_outbox (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX event_deliveries_due ON event_deliveries (tenant_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX event_deliveries_chain ON event_deliveries (tenant_id, subscriber, aggregate, event_id)
    WHERE state = 'pending';

SELECT enable_tenant_isolation('event_deliveries');
GRANT SELECT, INSERT, UPDATE ON event_deliveries TO verofield_app;

-- Which tenants have event work due, and from when: tenant ids and times, no tenant data.
-- Hosts (the login role) coordinate through it; the app role cannot read it. A hint, not the
-- truth: the dispatcher also sweeps every tenant now and then, so a lost row delays work and
-- never loses it.
CREATE SCHEMA dispatch;
CREATE TABLE dispatch.due_tenants (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    due_at     timestamptz NOT NULL
);

-- Wakes the dispatchers when an event commits (NOTIFY is delivered at commit, never for a
-- rolled-back transaction; PostgreSQL folds the duplicates of one transaction into one).
CREATE FUNCTION notify_event_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('verofield_outbox', NEW.tenant_id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox
    FOR EACH ROW EXECUTE FUNCTION notify_event_outbox();

-- The event feed (`GET /v1/events`) needs `events.read`: the existing tenants' built-in admin
-- role gets it (new tenants' roles come from the host's catalogue). `roles` forces RLS even on
-- its owner, hence one tenant at a time.
DO $$
DECLARE
    tenant uuid;
BEGIN
    FOR tenant IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', tenant::text, true);
        UPDATE roles SET permissions = array_append(permissions, 'events.read'),
                         version = version + 1, updated_at = now()
        WHERE tenant_id = tenant AND builtin AND name = 'admin'
          AND NOT ('events.read' = ANY (permissions));
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$;
