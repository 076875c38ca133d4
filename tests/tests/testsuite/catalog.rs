//! The start-up self-check: `verofield serve` refuses a database that breaks a
//! tenant-isolation rule, names the table and the rule, and exits non-zero; an untouched
//! database serves.

use verofield_tests::*;

/// A migrated fresh database, broken by `sabotage` (run as the admin), then served.
async fn serve_after(sabotage: &str) -> Result<TestServer, StartFailure> {
    let db = TestDb::create().await;
    let data = TempDir::new("catalog");
    let migrated = run_cli(data.path(), Some(&db), &["migrate"], &[]).await;
    assert!(
        migrated.status.success(),
        "verofield migrate failed: {migrated:#?}"
    );
    assert!(
        migrated.stdout.contains("self-check passed"),
        "{migrated:#?}"
    );
    if !sabotage.is_empty() {
        let mut admin = db.connect().await;
        sqlx::raw_sql(sabotage)
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{sabotage}: {e}"));
    }
    TestServer::try_start(ServerOptions::new().db(db).data_dir(data)).await
}

/// Asserts that the server refused to start and that its stderr names every `expected` text.
#[track_caller]
fn assert_refused(outcome: Result<TestServer, StartFailure>, expected: &[&str]) {
    let failure = match outcome {
        Ok(server) => panic!(
            "the server started on a broken database: {server:?}\n{}",
            server.stderr()
        ),
        Err(failure) => failure,
    };
    let status = failure.status.expect("the server hung instead of exiting");
    assert!(!status.success(), "exited with {status}");
    for text in expected {
        assert!(
            failure.stderr.contains(text),
            "stderr does not mention {text:?}:\n{}",
            failure.stderr
        );
    }
}

#[tokio::test]
async fn an_untouched_database_serves() {
    let server = serve_after("")
        .await
        .unwrap_or_else(|f| panic!("refused a good database:\n{}", f.stderr));
    server.anon().get("/readyz").await.expect_status(200);
    server.create_tenant("acme").await;
}

#[tokio::test]
async fn a_tenant_table_without_forced_rls_is_refused() {
    let outcome = serve_after("ALTER TABLE users NO FORCE ROW LEVEL SECURITY").await;
    assert_refused(outcome, &["users", "forced"]);
}

#[tokio::test]
async fn a_tenant_table_without_its_policy_is_refused() {
    let outcome = serve_after("DROP POLICY tenant_isolation ON roles").await;
    assert_refused(outcome, &["roles", "policy"]);
}

#[tokio::test]
async fn a_tenant_table_with_rls_disabled_is_refused() {
    let outcome = serve_after("ALTER TABLE refresh_tokens DISABLE ROW LEVEL SECURITY").await;
    assert_refused(
        outcome,
        &["refresh_tokens", "row level security is not enabled"],
    );
}

#[tokio::test]
async fn a_policy_that_lets_every_row_through_is_refused() {
    // The tenant policy replaced by one that lets every row through.
    let outcome = serve_after(
        "DROP POLICY tenant_isolation ON audit_log;
         CREATE POLICY tenant_isolation ON audit_log USING (true) WITH CHECK (true)",
    )
    .await;
    assert_refused(outcome, &["audit_log"]);
}

#[tokio::test]
async fn an_extra_permissive_policy_beside_the_tenant_policy_is_refused() {
    // Permissive policies are OR-ed: this one opens every tenant's rows although the
    // tenant policy is still there.
    let outcome = serve_after("CREATE POLICY open_to_all ON users USING (true)").await;
    assert_refused(outcome, &["users"]);
}

#[tokio::test]
async fn a_policy_with_a_subquery_is_refused() {
    // Restrictive, so it only narrows: still refused, since Citus cannot distribute the table.
    let outcome = serve_after(
        "CREATE POLICY own_rows ON users AS RESTRICTIVE \
         USING (id IN (SELECT user_id FROM user_roles))",
    )
    .await;
    assert_refused(outcome, &["users", "a policy with a subquery"]);
}

#[tokio::test]
async fn a_restrictive_policy_is_refused() {
    // Citus recreates it on the shards as permissive, where it would widen instead of narrow.
    let outcome = serve_after("CREATE POLICY narrow ON users AS RESTRICTIVE USING (true)").await;
    assert_refused(outcome, &["users", "RESTRICTIVE"]);
}

#[tokio::test]
async fn a_new_tenant_table_without_rls_is_refused() {
    let outcome = serve_after(
        "CREATE TABLE notes (tenant_id uuid NOT NULL REFERENCES tenants (id), id uuid NOT NULL, body text,
                             PRIMARY KEY (tenant_id, id));
         GRANT SELECT ON notes TO verofield_app",
    )
    .await;
    assert_refused(outcome, &["notes", "forced"]);
}

#[tokio::test]
async fn a_unique_constraint_without_tenant_id_is_refused() {
    let outcome =
        serve_after("ALTER TABLE users ADD CONSTRAINT users_email_global UNIQUE (email)").await;
    assert_refused(outcome, &["users", "tenant_id"]);
}

#[tokio::test]
async fn a_view_without_security_invoker_is_refused() {
    let outcome = serve_after("CREATE VIEW all_users AS SELECT * FROM users").await;
    assert_refused(outcome, &["all_users", "security_invoker"]);
}

#[tokio::test]
async fn a_security_definer_function_the_app_can_run_is_refused() {
    let outcome = serve_after(
        "CREATE FUNCTION every_user() RETURNS SETOF users LANGUAGE sql SECURITY DEFINER AS 'SELECT * FROM users';
         GRANT EXECUTE ON FUNCTION every_user() TO verofield_app",
    )
    .await;
    assert_refused(outcome, &["every_user", "SECURITY DEFINER"]);
}

#[tokio::test]
async fn a_table_owned_by_the_app_role_is_refused() {
    let outcome =
        serve_after("CREATE TABLE scratch (x int); ALTER TABLE scratch OWNER TO verofield_app")
            .await;
    assert_refused(outcome, &["scratch", "owned by the app role"]);
}

#[tokio::test]
async fn a_tenant_policy_widened_with_or_true_is_refused() {
    // It still holds the tenant comparison, so a pattern match on the text lets it through.
    let outcome = serve_after(
        "DROP POLICY tenant_isolation ON users;
         CREATE POLICY tenant_isolation ON users
             USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid OR true)
             WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid OR true)",
    )
    .await;
    assert_refused(outcome, &["users", "policy"]);
}

#[tokio::test]
async fn an_extra_policy_with_the_tenant_check_or_true_is_refused() {
    let outcome = serve_after(
        "CREATE POLICY also_open ON roles FOR SELECT
             USING ((tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid AND builtin) OR true)",
    )
    .await;
    assert_refused(
        outcome,
        &["roles", "a permissive policy other than the tenant policy"],
    );
}

#[tokio::test]
async fn a_module_collection_with_a_broken_policy_is_refused() {
    // A collection in a module's schema, in the standard shape, whose policy lets every row through.
    let outcome = serve_after(
        "CREATE SCHEMA mod_evil;
         CREATE TABLE mod_evil.tickets (tenant_id uuid NOT NULL REFERENCES tenants (id), id uuid NOT NULL,
             version bigint NOT NULL DEFAULT 1, title text, created_at timestamptz NOT NULL DEFAULT now(),
             updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, id));
         ALTER TABLE mod_evil.tickets ENABLE ROW LEVEL SECURITY;
         ALTER TABLE mod_evil.tickets FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON mod_evil.tickets USING (true) WITH CHECK (true)",
    )
    .await;
    assert_refused(outcome, &["mod_evil.tickets", "policy"]);
}
