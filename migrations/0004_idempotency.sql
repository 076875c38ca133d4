-- Idempotency keys for creates (`POST` with an `Idempotency-Key` header). The row is
-- inserted in the request's own transaction before the module runs, so a concurrent retry
-- with the same key waits on the unique index until the first attempt commits (and then
-- replays its answer) or rolls back (and then runs itself). Only committed answers are
-- stored: a failed attempt leaves no key behind and may be retried.

CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    user_id       uuid NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method        text NOT NULL,
    path          text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer,
    headers       jsonb NOT NULL DEFAULT '[]',
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, key),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (tenant_id, created_at);

SELECT enable_tenant_isolation('idempotency_keys');
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO verofield_app;
