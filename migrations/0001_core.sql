-- Core schema: tenants, users, roles, refresh tokens, audit log, login throttling.

-- The app role every tenant request runs as (SET LOCAL ROLE). Roles are cluster-wide, so
-- several databases on one cluster (the test suite) may race to create it.
DO $$
BEGIN
    CREATE ROLE verofield_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'verofield_app', 'MEMBER') THEN
        EXECUTE format('GRANT verofield_app TO %I', current_user);
    END IF;
EXCEPTION WHEN unique_violation OR duplicate_object THEN
    NULL;
END $$;

GRANT USAGE ON SCHEMA public TO verofield_app;

-- Global: one row per tenant. Not a tenant table (no tenant_id); the app role sees only
-- its own tenant's row. Not FORCEd, so the host's login role (the owner) can look tenants
-- up by slug before a tenant context exists.
CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    time_zone   text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON tenants TO verofield_app
    USING (id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT ON tenants TO verofield_app;

CREATE TABLE roles (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    description  text NOT NULL DEFAULT '',
    permissions  text[] NOT NULL DEFAULT '{}',
    builtin      boolean NOT NULL DEFAULT false,
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    id                 uuid NOT NULL,
    email              text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    display_name       text NOT NULL DEFAULT '',
    password_hash      text,
    status             text NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'invited', 'deactivated')),
    invite_token_hash  bytea,
    invite_expires_at  timestamptz,
    version            bigint NOT NULL DEFAULT 1,
    last_login_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, invite_token_hash)
);

CREATE TABLE user_roles (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    role_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_roles_role ON user_roles (tenant_id, role_id);

-- Refresh tokens are stored as sha256 digests. A family is one login; rotation keeps the
-- family, and presenting a rotated token again revokes the whole family.
CREATE TABLE refresh_tokens (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    token_hash  bytea NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (tenant_id, user_id);

-- Append-only for the app role: it may insert and read, never update or delete.
CREATE TABLE audit_log (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    actor_user_id  uuid,
    action         text NOT NULL,
    target_type    text,
    target_id      uuid,
    request_id     text,
    details        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);

-- Global, host-only: failed-login counters per account and per client address. Kept in
-- PostgreSQL so every host behind a load balancer enforces the same limits.
CREATE TABLE login_throttle (
    key                text PRIMARY KEY,
    failures           integer NOT NULL,
    window_started_at  timestamptz NOT NULL,
    locked_until       timestamptz
);

-- Row-level security on a tenant table: ENABLE, FORCE and the one tenant policy (in USING
-- and WITH CHECK). Every migration that adds a tenant table calls this, so the rule is
-- written once. Not SECURITY DEFINER, and not executable by the app role.
CREATE FUNCTION enable_tenant_isolation(target regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s '
        'USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
        'WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)',
        target);
END $$;
REVOKE ALL ON FUNCTION enable_tenant_isolation(regclass) FROM PUBLIC;

SELECT enable_tenant_isolation(t)
FROM unnest(ARRAY['roles', 'users', 'user_roles', 'refresh_tokens', 'audit_log']::regclass[]) AS t;

GRANT SELECT, INSERT, UPDATE, DELETE ON roles, users, user_roles, refresh_tokens TO verofield_app;
GRANT SELECT, INSERT ON audit_log TO verofield_app;
