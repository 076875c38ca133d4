-- Publishers (issue 23, items 1 and 5): partners who upload modules under a namespace of their
-- own, their members and publishing keys, what each uploaded version is (who published it,
-- notes, private or public, its validation report), and each tenant's consent to a module's
-- grants.
--
-- Publishers, members and keys are global (like `module_versions`): read and written by the
-- login role only, no grant to the app role. Keys read `vfp_<key id>_<64 hex>` and invitation
-- tokens `vfi_<member id>_<64 hex>`; only their sha256 is stored (256 random bits: a fast hash is
-- right, as for tenant API keys).
CREATE TABLE publishers (
    id          uuid PRIMARY KEY,
    namespace   text NOT NULL UNIQUE CHECK (namespace ~ '^[a-z][a-z0-9-]{0,63}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE publisher_members (
    id               uuid PRIMARY KEY,
    publisher_id     uuid NOT NULL REFERENCES publishers (id),
    email            text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role             text NOT NULL CHECK (role IN ('owner', 'member')),
    -- sha256 of the invitation token; cleared when the invitation is accepted.
    invitation_hash  bytea UNIQUE,
    invited_at       timestamptz NOT NULL DEFAULT now(),
    accepted_at      timestamptz,
    UNIQUE (publisher_id, email)
);

-- Revoking deletes the row (the next request is 401, as for an unknown key); removing a member
-- deletes their keys with them.
CREATE TABLE publisher_keys (
    id            uuid PRIMARY KEY,
    publisher_id  uuid NOT NULL REFERENCES publishers (id),
    member_id     uuid NOT NULL REFERENCES publisher_members (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL,
    secret_hash   bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Written at most once a minute per key.
    last_used_at  timestamptz
);
CREATE INDEX publisher_keys_member ON publisher_keys (member_id);

-- An uploaded version: its publisher (null for built-ins and the operator's uploads), the
-- uploader's notes, private (shared with named tenants) until the operator approves it for
-- every tenant, and the report of the checks it passed on upload.
ALTER TABLE module_versions
    ADD COLUMN publisher_id  uuid REFERENCES publishers (id),
    ADD COLUMN notes         text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    ADD COLUMN visibility    text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
    ADD COLUMN approved_by   text,
    ADD COLUMN approved_at   timestamptz,
    ADD COLUMN validation    jsonb;
CREATE INDEX module_versions_publisher ON module_versions (publisher_id) WHERE publisher_id IS NOT NULL;
-- Built-ins are every tenant's.
UPDATE module_versions SET visibility = 'public' WHERE builtin;

-- Tenant: what the tenant's admin accepted for a module (by name, so that an upgrade within
-- the same grants needs no new consent), and whether the tenant agreed to be named to the
-- module's publisher.
CREATE TABLE module_consents (
    tenant_id             uuid NOT NULL REFERENCES tenants (id),
    module_name           text NOT NULL,
    grants                jsonb NOT NULL,
    digest                text NOT NULL REFERENCES module_versions (digest),
    name_me_to_publisher  boolean NOT NULL DEFAULT false,
    consented_by          uuid,
    consented_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, module_name)
);

SELECT enable_tenant_isolation('module_consents');

GRANT SELECT, INSERT, UPDATE ON module_consents TO verofield_app;
