-- Tenants' webhook endpoints and the log of every delivery attempt to them (issue 21, item 4).
-- The dispatcher (0010) fans events out; host/src/webhooks signs and sends one attempt and
-- records it here.

CREATE TABLE webhook_endpoints (
    tenant_id                  uuid NOT NULL REFERENCES tenants (id),
    id                         uuid NOT NULL,
    url                        text NOT NULL CHECK (length(url) <= 2048),
    description                text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Exact event types, or `prefix.*`; empty means every event.
    event_types                text[] NOT NULL DEFAULT '{}',
    enabled                    boolean NOT NULL DEFAULT true,
    -- `whsec_<base64>`: kept readable because every delivery is signed with it.
    secret                     text NOT NULL,
    -- The secret before the last rotation, still signing until it expires (24 h).
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- Since when every attempt failed (NULL after a success); the dispatcher disables an
    -- endpoint failing for too long.
    failing_since              timestamptz,
    disabled_reason            text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    version                    bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_attempts (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    endpoint_id  uuid NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    attempt      integer NOT NULL CHECK (attempt >= 1),
    -- NULL when no answer came (refused destination, timeout, connection error).
    status_code  integer,
    duration_ms  integer NOT NULL,
    error        text,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id)
        ON DELETE CASCADE
);
-- The delivery log of one endpoint, newest first (ids are UUIDv7).
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (tenant_id, endpoint_id, id DESC);

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['webhook_endpoints', 'webhook_attempts']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO verofield_app;
GRANT SELECT, INSERT, DELETE ON webhook_attempts TO verofield_app;

-- The built-in admin role of tenants that exist already gains the new permission (new
-- tenants get it from the catalogue in host/src/auth/rbac.rs). `roles` forces row-level
-- security on its owner too, so each tenant's rows are changed in that tenant's scope.
DO $$
DECLARE
    tenant uuid;
BEGIN
    FOR tenant IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', tenant::text, true);
        UPDATE roles SET permissions = array_append(permissions, 'webhooks.manage'),
                         version = version + 1, updated_at = now()
        WHERE tenant_id = tenant AND builtin AND name = 'admin'
          AND NOT ('webhooks.manage' = ANY (permissions));
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$;
