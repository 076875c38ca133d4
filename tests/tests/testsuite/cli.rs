//! The command line: `tenant create`, `user create` and `demo` print JSON with ids, and the
//! credentials they create log in through the server.

use std::path::Path;

use verofield_tests::*;

/// `verofield` with `args` split at spaces, against `db`.
async fn verofield(dir: &Path, db: &TestDb, args: &str) -> CliOutput {
    verofield_env(dir, db, args, &[]).await
}

/// [`verofield`] with extra environment variables (the passwords).
async fn verofield_env(dir: &Path, db: &TestDb, args: &str, env: &[(&str, &str)]) -> CliOutput {
    let args: Vec<&str> = args.split_whitespace().collect();
    run_cli(dir, Some(db), &args, env).await
}

#[tokio::test]
async fn tenant_user_and_demo_commands_create_working_accounts() {
    let db = TestDb::create().await;
    let data = TempDir::new("cli");
    let dir = data.path().to_owned();

    let tenant = run_cli(
        &dir,
        Some(&db),
        &[
            "tenant",
            "create",
            "--name",
            "Acme Pest",
            "--slug",
            "acme",
            "--admin-email",
            "Boss@Acme.test",
            "--json",
        ],
        &[("VEROFIELD_ADMIN_PASSWORD", "boss-password-123")],
    )
    .await
    .json();
    let tenant_id = json_uuid(&tenant["tenant_id"]).expect("tenant_id");
    let owner_id = json_uuid(&tenant["admin_user_id"]).expect("admin_user_id");
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["admin_email"], "boss@acme.test");

    let user = verofield_env(
        &dir,
        &db,
        "user create --tenant acme --email tech@acme.test --role technician --role viewer --json",
        &[("VEROFIELD_USER_PASSWORD", "tech-password-123")],
    )
    .await
    .json();
    assert_eq!(json_uuid(&user["tenant_id"]), Some(tenant_id));
    let user_id = json_uuid(&user["user_id"]).expect("user_id");
    assert_eq!(user["invite_token"], Value::Null);

    let invited = verofield(
        &dir,
        &db,
        "user create --tenant acme --email new@acme.test --json",
    )
    .await
    .json();
    let invite = invited["invite_token"]
        .as_str()
        .expect("an invite token")
        .to_owned();

    let demo = verofield(&dir, &db, "demo --json").await.json();
    let demo_again = verofield(&dir, &db, "demo --json").await.json();
    assert_eq!(demo, demo_again, "demo is not idempotent");
    let demo_password = demo["password"].as_str().expect("demo password").to_owned();

    let list = verofield(&dir, &db, "tenant list --json").await.json();
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs.len(), 2);
    assert!(
        slugs.contains(&"acme") && slugs.contains(&"demo"),
        "{slugs:?}"
    );

    // Refusals: a duplicate slug, an unknown tenant, a weak password; all non-zero, no JSON.
    let duplicate = verofield(
        &dir,
        &db,
        "tenant create --name Again --slug acme \
         --admin-email x@acme.test --admin-password long-enough-123",
    )
    .await;
    assert!(
        !duplicate.status.success() && duplicate.stderr.contains("slug_taken"),
        "{duplicate:#?}"
    );
    let unknown = verofield(
        &dir,
        &db,
        "user create --tenant nope --email a@b.test --json",
    )
    .await;
    assert!(!unknown.status.success(), "{unknown:#?}");
    let weak = verofield(
        &dir,
        &db,
        "user create --tenant acme --email weak@acme.test --password short",
    )
    .await;
    assert!(
        !weak.status.success() && weak.stderr.contains("password"),
        "{weak:#?}"
    );

    // Everything created by the CLI logs in through the server.
    let server = TestServer::start_with(ServerOptions::new().db(db).data_dir(data)).await;
    let owner = server
        .login("acme", "boss@acme.test", "boss-password-123")
        .await;
    let me = server.me(&owner.access).await;
    me.expect_status(200);
    assert_eq!(json_uuid(&me.json["user_id"]), Some(owner_id));
    assert_eq!(me.json["roles"], json!(["owner"]));

    let tech = server
        .login("acme", "tech@acme.test", "tech-password-123")
        .await;
    let me = server.me(&tech.access).await;
    assert_eq!(json_uuid(&me.json["user_id"]), Some(user_id));
    assert_eq!(me.json["roles"], json!(["technician", "viewer"]));

    server
        .accept_invite(&invite, "new-password-123")
        .await
        .expect_status(204);
    server
        .login("acme", "new@acme.test", "new-password-123")
        .await;

    let demo_tokens = server
        .login(
            demo["tenant"].as_str().unwrap(),
            demo["email"].as_str().unwrap(),
            &demo_password,
        )
        .await;
    server.me(&demo_tokens.access).await.expect_status(200);
}
