-- Tenant API keys (issue 21, item 6): credentials for server-to-server clients, so that an
-- integration never holds a person's password.
--
-- A key reads `vfk_<tenant id>_<64 hex>`: the tenant id lets the host open the right tenant
-- transaction before it knows the key; only the sha256 of the whole key is stored (the key is
-- 256 random bits, so a fast hash is right; argon2 is for low-entropy passwords), looked up
-- through the unique (tenant_id, secret_hash) index. `prefix` is the start of the key kept
-- in clear so that people can tell their keys apart.
--
-- A key acts for the user who created it (`created_by`): its effective permissions are its
-- own intersected with that user's current ones, and a deactivated creator disables it.
-- Revoking deletes the row; the audit log keeps the key's id, name and prefix.
CREATE TABLE api_keys (
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    id                     uuid NOT NULL,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix                 text NOT NULL,
    secret_hash            bytea NOT NULL,
    permissions            text[] NOT NULL,
    created_by             uuid NOT NULL,
    -- The key that created this one, when a key did.
    created_by_api_key_id  uuid,
    created_at             timestamptz NOT NULL DEFAULT now(),
    expires_at             timestamptz,
    -- Written at most once a minute per key, not on every request.
    last_used_at           timestamptz,
    last_used_from         text,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, secret_hash),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

SELECT enable_tenant_isolation('api_keys');

GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys TO verofield_app;

-- Requests made with a key name the key as well as the user it acts for.
ALTER TABLE audit_log ADD COLUMN actor_api_key_id uuid;

-- The built-in admin role of existing tenants gains `api_keys.manage` (new tenants are seeded
-- with it). The table's row security is lifted for this one statement, inside this
-- migration's transaction, so that the migration role (its owner) sees every tenant's rows.
ALTER TABLE roles NO FORCE ROW LEVEL SECURITY;
UPDATE roles SET permissions = array_append(permissions, 'api_keys.manage'),
                 version = version + 1, updated_at = now()
WHERE builtin AND name = 'admin' AND NOT ('api_keys.manage' = ANY (permissions));
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
