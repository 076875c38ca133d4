//! Self-service for people (issue 25 item 3): changing one's own password, resetting a
//! forgotten one by a one-time link, and invitations; without SMTP (the admin receives the
//! token) and with a real SMTP server (the link is read out of the mail `lettre` sent).

use uuid::Uuid;
use verofield_tests::*;

const NEW: &str = "a-brand-new-password";
const MEMBER: &str = "first-password-1";

async fn refresh(server: &TestServer, token: &str) -> Resp {
    server
        .anon()
        .post("/v1/auth/refresh", &json!({ "refresh_token": token }))
        .await
}

async fn change_password(server: &TestServer, tokens: &Tokens, current: &str) -> Resp {
    let body = json!({
        "current_password": current,
        "new_password": NEW,
        "refresh_token": tokens.refresh,
    });
    server
        .client_for(&tokens.access)
        .post("/v1/me/password", &body)
        .await
}

async fn reset_password(server: &TestServer, token: &str, password: &str) -> Resp {
    let body = json!({ "token": token, "password": password });
    server.anon().post("/v1/auth/reset-password", &body).await
}

async fn forgot(server: &TestServer, tenant: &str, email: &str) -> Resp {
    let body = json!({ "tenant": tenant, "email": email });
    server.anon().post("/v1/auth/forgot-password", &body).await
}

/// A user of `tenant` with one role and the password `MEMBER`, signed in.
async fn member(
    server: &TestServer,
    tenant: &TenantFixture,
    owner: &str,
    email: &str,
    role: &str,
) -> Tokens {
    server
        .create_user(owner, email, &[role], Some(MEMBER))
        .await;
    server.login(&tenant.slug, email, MEMBER).await
}

/// An admin issues `user`'s reset link (no SMTP): the token from the answer.
async fn issued_reset(server: &TestServer, admin: &str, user: Uuid) -> String {
    let path = format!("/v1/users/{user}/password-reset");
    let answer = server.client_for(admin).post(&path, &json!({})).await;
    answer.expect_status(201);
    assert_eq!(answer.json["mailed"], false);
    answer.json["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn changing_ones_password_needs_the_current_one_and_ends_other_sessions() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let here = server.login_owner(&a).await;
    let elsewhere = server.login_owner(&a).await;

    change_password(&server, &here, "not-the-password")
        .await
        .expect_problem(403, "wrong_current_password");
    let weak = json!({ "current_password": a.owner_password, "new_password": "short" });
    let client = server.client_for(&here.access);
    let refused = client.post("/v1/me/password", &weak).await;
    refused.expect_problem(422, "validation_failed");
    assert_eq!(refused.json["errors"][0]["field"], "new_password");

    change_password(&server, &here, &a.owner_password)
        .await
        .expect_status(204);
    // This session goes on; the other one is signed out; only the new password works.
    refresh(&server, &here.refresh).await.expect_status(200);
    refresh(&server, &elsewhere.refresh)
        .await
        .expect_problem(401, "refresh_token_reused");
    server
        .try_login(&a.slug, &a.owner_email, &a.owner_password)
        .await
        .expect_problem(401, "invalid_credentials");
    server.login(&a.slug, &a.owner_email, NEW).await;
}

#[tokio::test]
async fn an_api_key_cannot_change_its_creators_password() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let key = server.create_api_key(&owner, "ci", &["users.read"]).await;
    let body = json!({ "current_password": a.owner_password, "new_password": NEW });
    let client = server.client_for(key["key"].as_str().unwrap());
    client
        .post("/v1/me/password", &body)
        .await
        .expect_problem(403, "person_required");
}

#[tokio::test]
async fn an_admin_issued_reset_link_works_once_and_signs_out_everywhere() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let tech = member(&server, &a, &owner, "tech@acme.test", "technician").await;
    let user = server.me(&tech.access).await.uuid("user_id");

    let older = issued_reset(&server, &owner, user).await;
    let token = issued_reset(&server, &owner, user).await;
    // Only the newest link works, and a weak password is refused before it is spent.
    reset_password(&server, &older, NEW)
        .await
        .expect_problem(401, "invalid_reset_token");
    reset_password(&server, &token, "short")
        .await
        .expect_problem(422, "validation_failed");
    reset_password(&server, &token, NEW)
        .await
        .expect_status(204);
    refresh(&server, &tech.refresh)
        .await
        .expect_problem(401, "refresh_token_reused");
    server.login(&a.slug, "tech@acme.test", NEW).await;
    reset_password(&server, &token, "yet-another-password")
        .await
        .expect_problem(401, "invalid_reset_token");
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let token = issued_reset(&server, &owner, a.owner_id).await;
    let mut db = server.db().await;
    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 second'")
        .execute(&mut db)
        .await
        .unwrap();
    reset_password(&server, &token, NEW)
        .await
        .expect_problem(401, "invalid_reset_token");
}

#[tokio::test]
async fn reset_links_and_admins_stay_inside_their_tenant() {
    let server = TestServer::start().await;
    let a = server.create_tenant("tenant-a").await;
    let b = server.create_tenant("tenant-b").await;
    let owner_a = server.login_owner(&a).await.access;
    let owner_b = server.login_owner(&b).await.access;

    // B's admin cannot issue anything for A's owner: to B that user does not exist.
    for kind in ["password-reset", "invitation"] {
        let path = format!("/v1/users/{}/{kind}", a.owner_id);
        let answer = server.client_for(&owner_b).post(&path, &json!({})).await;
        answer.expect_problem(404, "not_found");
    }
    // A's token with B's tenant id in it is useless.
    let token = issued_reset(&server, &owner_a, a.owner_id).await;
    let moved = token.replace(&a.id.simple().to_string(), &b.id.simple().to_string());
    reset_password(&server, &moved, NEW)
        .await
        .expect_problem(401, "invalid_reset_token");
    server
        .login(&b.slug, &b.owner_email, &b.owner_password)
        .await;
    reset_password(&server, &token, NEW)
        .await
        .expect_status(204);
}

#[tokio::test]
async fn an_admin_cannot_reset_someone_holding_more_than_they_do() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let admin = member(&server, &a, &owner, "admin@acme.test", "admin").await;
    let path = format!("/v1/users/{}/password-reset", a.owner_id);
    let answer = server
        .client_for(&admin.access)
        .post(&path, &json!({}))
        .await;
    answer.expect_problem(403, "role_escalation");
}

#[tokio::test]
async fn without_smtp_forgot_password_answers_alike_and_sends_nothing() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    for (tenant, email) in [
        (a.slug.as_str(), a.owner_email.as_str()),
        (a.slug.as_str(), "nobody@acme.test"),
        ("no-such-tenant", "nobody@acme.test"),
    ] {
        let answer = forgot(&server, tenant, email).await;
        answer.expect_status(202);
        assert_eq!(answer.text, "");
    }
    let mut db = server.db().await;
    let resets: i64 = sqlx::query_scalar("SELECT count(*) FROM password_resets")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(resets, 0);
}

#[tokio::test]
async fn an_admin_reissues_an_invitation_and_only_the_new_one_works() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let created = server
        .create_user(&owner, "new@acme.test", &["dispatcher"], None)
        .await;
    let first = created["invite_token"].as_str().unwrap().to_owned();
    let path = format!("/v1/users/{}/invitation", created["id"].as_str().unwrap());
    let again = server.client_for(&owner).post(&path, &json!({})).await;
    again.expect_status(201);
    let second = again.json["token"].as_str().unwrap();
    assert!(
        again.json["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#token={second}"))
    );

    let refused = server.accept_invite(&first, NEW).await;
    refused.expect_problem(401, "invalid_invite");
    server.accept_invite(second, NEW).await.expect_status(204);
    let answer = server.client_for(&owner).post(&path, &json!({})).await;
    answer.expect_problem(409, "user_not_invited");
}

async fn start_with_mail(smtp: &SmtpServer) -> TestServer {
    let options = ServerOptions::new().args(["--smtp-url".to_owned(), smtp.url()]);
    TestServer::start_with(options).await
}

#[tokio::test]
async fn with_smtp_a_forgotten_password_is_reset_from_the_mailed_link() {
    let smtp = SmtpServer::start().await;
    let server = start_with_mail(&smtp).await;
    let a = server.create_tenant("acme").await;

    forgot(&server, &a.slug, &a.owner_email)
        .await
        .expect_status(202);
    forgot(&server, &a.slug, "nobody@acme.test")
        .await
        .expect_status(202);
    let mail = eventually("the reset mail", async || {
        smtp.mails_to(&a.owner_email).pop()
    })
    .await;
    assert!(
        mail.link().contains("/console/reset-password#token=vfp_"),
        "{}",
        mail.body
    );
    // Asking again at once sends nothing more; nobody else got mail.
    forgot(&server, &a.slug, &a.owner_email)
        .await
        .expect_status(202);
    reset_password(&server, &mail.token(), NEW)
        .await
        .expect_status(204);
    server.login(&a.slug, &a.owner_email, NEW).await;
    assert_eq!(smtp.mails().len(), 1, "{:?}", smtp.mails());
}

#[tokio::test]
async fn with_smtp_links_are_mailed_and_never_in_the_answer() {
    let smtp = SmtpServer::start().await;
    let server = start_with_mail(&smtp).await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;

    let created = server
        .create_user(&owner, "new@acme.test", &["dispatcher"], None)
        .await;
    assert!(created.get("invite_token").is_none(), "{created}");
    let invitation = smtp.mails_to("new@acme.test").pop().expect("an invitation");
    assert!(
        invitation
            .link()
            .contains("/console/accept-invite#token=vfi_")
    );
    server
        .accept_invite(&invitation.token(), NEW)
        .await
        .expect_status(204);

    let user = json_uuid(&created["id"]).unwrap();
    let path = format!("/v1/users/{user}/password-reset");
    let answer = server.client_for(&owner).post(&path, &json!({})).await;
    answer.expect_status(201);
    assert_eq!(answer.json["mailed"], true);
    assert!(answer.json.get("token").is_none() && answer.json.get("link").is_none());
    let reset = smtp.mails_to("new@acme.test").pop().expect("a reset mail");
    reset_password(&server, &reset.token(), "third-password-1")
        .await
        .expect_status(204);
    server
        .login(&a.slug, "new@acme.test", "third-password-1")
        .await;
}

#[tokio::test]
async fn when_the_mail_server_is_down_nothing_is_issued() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    drop(smtp);
    let options = ServerOptions::new().args(["--smtp-url".to_owned(), url]);
    let server = TestServer::start_with(options).await;
    let a = server.create_tenant("acme").await;
    let owner = server.login_owner(&a).await.access;
    let body = json!({ "email": "new@acme.test", "roles": ["viewer"] });
    let answer = server.client_for(&owner).post("/v1/users", &body).await;
    answer.expect_problem(502, "mail_not_sent");
    let users = server.client_for(&owner).get("/v1/users?q=new@").await;
    assert_eq!(users.json["items"], json!([]));
}
