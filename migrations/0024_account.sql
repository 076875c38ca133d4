-- Self-service for people (issue 25): one-time password-reset tokens.
-- A token reads `vfp_<tenant id>_<secret>` (host/src/auth/one_time.rs); only its sha256 is
-- kept. A reset is single-use (`used_at`), expires (`expires_at`, an hour by default), and
-- redeeming one, or issuing a newer one, spends every other open reset of the same user.
-- Invitations keep living on `users` (`invite_token_hash`, 0001).
CREATE TABLE password_resets (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           uuid NOT NULL,
    user_id      uuid NOT NULL,
    token_hash   bytea NOT NULL,
    -- Who issued it: NULL when the user asked for it themselves (forgot password).
    issued_by    uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX password_resets_user ON password_resets (tenant_id, user_id);

SELECT enable_tenant_isolation('password_resets');
GRANT SELECT, INSERT, UPDATE, DELETE ON password_resets TO verofield_app;
