//! Access-token attacks: every forged, tampered, expired, misaddressed or oversized token
//! answers 401 problem+json on `GET /v1/me`; the genuine token (and a correctly forged one,
//! proving the forging code is right) answers 200.

use verofield_tests::jwt::{
    b64, claims, decode, forge_hs256, kid, now, sign_hs256, unb64, unsigned,
};
use verofield_tests::*;

async fn me(server: &TestServer, token: &str) -> Resp {
    server.client_for(token).get("/v1/me").await
}

/// Runs every case and reports all that did not answer 401 problem+json.
async fn expect_all_refused(server: &TestServer, cases: Vec<(String, String)>) {
    let mut failures = Vec::new();
    for (name, token) in &cases {
        let response = me(server, token).await;
        if response.status != StatusCode::UNAUTHORIZED || !response.is_problem() {
            failures.push(format!("{name}: {} {}", response.status, response.text));
        } else if !matches!(response.code(), "invalid_token" | "missing_token") {
            failures.push(format!("{name}: code {}", response.code()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} attacks were not refused with 401:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn with_claim(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without_claim(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// Replaces the payload of a signed token, keeping its header and signature.
fn swap_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

#[tokio::test]
async fn forged_and_tampered_hs256_tokens_are_refused() {
    let server = TestServer::start().await;
    let a = server.create_tenant("acme").await;
    let b = server.create_tenant("bravo").await;
    let genuine = server.login_owner(&a).await.access;
    let key = server.hs256_key();
    let kid = kid(&key);
    let good = claims(a.owner_id, a.id);

    // Controls: the server's token and our correctly forged one both work, so every refusal
    // below is about the one thing each case breaks.
    let response = me(&server, &genuine).await;
    response.expect_status(200);
    assert_eq!(json_uuid(&response.json["user_id"]), Some(a.owner_id));
    let (header, _) = decode(&genuine);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(
        header["kid"],
        json!(kid),
        "the harness computes the key id differently from the server"
    );
    me(&server, &forge_hs256(&key, Some(&kid), &good))
        .await
        .expect_status(200);

    let (_, genuine_claims) = decode(&genuine);
    let now = now();
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut case = |name: &str, token: String| cases.push((name.to_owned(), token));

    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        case(
            &format!("alg {alg}, empty signature"),
            unsigned(&header, &good),
        );
        let mut no_dot = unsigned(&header, &good);
        no_dot.pop();
        case(&format!("alg {alg}, no signature part"), no_dot);
        // alg none but carrying the genuine signature.
        case(
            &format!("alg {alg}, genuine signature"),
            format!(
                "{}{}",
                unsigned(&header, &good),
                genuine.rsplit('.').next().unwrap()
            ),
        );
    }
    case(
        "alg HS512 with the real key",
        sign_hs256(
            &key,
            &json!({ "alg": "HS512", "typ": "JWT", "kid": kid }),
            &good,
        ),
    );
    case(
        "alg RS256 header, HMAC signature",
        sign_hs256(
            &key,
            &json!({ "alg": "RS256", "typ": "JWT", "kid": kid }),
            &good,
        ),
    );
    case(
        "alg EdDSA header, HMAC signature",
        sign_hs256(
            &key,
            &json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid }),
            &good,
        ),
    );

    let (head, rest) = genuine.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    case("stripped signature", format!("{head}.{payload}."));
    case("stripped signature and dot", format!("{head}.{payload}"));
    let mut altered: Vec<u8> = signature.bytes().collect();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    case(
        "altered signature",
        format!("{head}.{payload}.{}", String::from_utf8(altered).unwrap()),
    );
    let mut flipped = unb64(signature);
    flipped[31] ^= 1;
    case(
        "last signature bit flipped",
        format!("{head}.{payload}.{}", b64(&flipped)),
    );
    case(
        "signature of another token",
        format!(
            "{head}.{payload}.{}",
            forge_hs256(&key, Some(&kid), &good)
                .rsplit('.')
                .next()
                .unwrap()
        ),
    );
    case(
        "signed with another key",
        forge_hs256(
            b"not-the-server-key-but-long-enough-0123456789",
            Some(&kid),
            &good,
        ),
    );

    case(
        "payload: tid changed",
        swap_payload(
            &genuine,
            &with_claim(genuine_claims.clone(), "tid", json!(b.id)),
        ),
    );
    case(
        "payload: sub changed",
        swap_payload(
            &genuine,
            &with_claim(genuine_claims.clone(), "sub", json!(b.owner_id)),
        ),
    );
    case(
        "payload: tid and sub changed",
        swap_payload(
            &genuine,
            &with_claim(
                with_claim(genuine_claims.clone(), "tid", json!(b.id)),
                "sub",
                json!(b.owner_id),
            ),
        ),
    );
    case(
        "payload: exp extended",
        swap_payload(
            &genuine,
            &with_claim(genuine_claims.clone(), "exp", json!(now + 86_400 * 365)),
        ),
    );

    let forge = |claims: Value| forge_hs256(&key, Some(&kid), &claims);
    case(
        "expired an hour ago",
        forge(with_claim(
            with_claim(
                with_claim(good.clone(), "exp", json!(now - 3600)),
                "iat",
                json!(now - 7200),
            ),
            "nbf",
            json!(now - 7200),
        )),
    );
    case(
        "nbf an hour ahead",
        forge(with_claim(
            with_claim(good.clone(), "nbf", json!(now + 3600)),
            "exp",
            json!(now + 7200),
        )),
    );
    case("missing exp", forge(without_claim(good.clone(), "exp")));
    case(
        "exp as a string",
        forge(with_claim(good.clone(), "exp", json!("never"))),
    );
    case(
        "wrong iss",
        forge(with_claim(good.clone(), "iss", json!("evil"))),
    );
    case("missing iss", forge(without_claim(good.clone(), "iss")));
    case(
        "wrong aud",
        forge(with_claim(good.clone(), "aud", json!("someone-else"))),
    );
    case(
        "wrong aud in a list",
        forge(with_claim(good.clone(), "aud", json!(["someone-else"]))),
    );
    case("missing aud", forge(without_claim(good.clone(), "aud")));
    case("missing sub", forge(without_claim(good.clone(), "sub")));
    case("missing tid", forge(without_claim(good.clone(), "tid")));
    case(
        "sub not a uuid",
        forge(with_claim(good.clone(), "sub", json!("admin"))),
    );
    case(
        "sub of no user",
        forge(with_claim(good.clone(), "sub", json!(uuid::Uuid::now_v7()))),
    );
    case(
        "tid of no tenant",
        forge(with_claim(good.clone(), "tid", json!(uuid::Uuid::now_v7()))),
    );

    case(
        "unknown kid",
        forge_hs256(&key, Some("0011223344556677"), &good),
    );
    case(
        "kid path traversal",
        forge_hs256(&key, Some("../../etc/passwd"), &good),
    );
    case(
        "kid pointing at the key file",
        forge_hs256(&key, Some("../secrets/jwt-hs256.key"), &good),
    );
    case("kid empty", forge_hs256(&key, Some(""), &good));
    case("no kid", forge_hs256(&key, None, &good));

    case("1 MB of garbage", "x".repeat(1024 * 1024));
    let padded = with_claim(good.clone(), "pad", json!("p".repeat(1024 * 1024)));
    case("a validly signed 1 MB token", forge(padded));
    case("empty token", String::new());
    case("not a JWT", "hello".into());
    case("four parts", format!("{genuine}.{signature}"));
    case(
        "a refresh token as access token",
        server.login_owner(&a).await.refresh,
    );

    // A token for a tenant the user is not in, validly signed with the real key.
    case("user of A in tenant B", forge(claims(a.owner_id, b.id)));
    case("user of B in tenant A", forge(claims(b.owner_id, a.id)));

    expect_all_refused(&server, cases).await;

    // The genuine token still works afterwards (nothing above locked it out).
    me(&server, &genuine).await.expect_status(200);
    // No bearer at all is 401 too.
    server
        .anon()
        .get("/v1/me")
        .await
        .expect_problem(401, "missing_token");
}

/// A server signing with EdDSA: a token HMAC-signed with its public key (the classic
/// algorithm-confusion attack) is refused; its own EdDSA tokens work.
#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused_by_an_eddsa_server() {
    let keys = TempDir::new("eddsa");
    let private = keys.path().join("priv.pem");
    let public = keys.path().join("pub.pem");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&private)
        .status()
        .expect("running openssl");
    assert!(status.success());
    let status = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("running openssl");
    assert!(status.success());

    let server = TestServer::start_with(ServerOptions::new().args([
        "--jwt-algorithm".to_owned(),
        "EdDSA".to_owned(),
        "--jwt-private-key".to_owned(),
        private.display().to_string(),
        "--jwt-public-key".to_owned(),
        public.display().to_string(),
    ]))
    .await;
    let a = server.create_tenant("acme").await;
    let genuine = server.login_owner(&a).await.access;
    let (header, _) = decode(&genuine);
    assert_eq!(header["alg"], "EdDSA");
    me(&server, &genuine).await.expect_status(200);

    let public_pem = std::fs::read(&public).unwrap();
    let kid = kid(&public_pem);
    assert_eq!(header["kid"], json!(kid));
    let good = claims(a.owner_id, a.id);
    let mut cases = Vec::new();
    cases.push((
        "HS256 signed with the public key PEM".to_owned(),
        forge_hs256(&public_pem, Some(&kid), &good),
    ));
    let trimmed = String::from_utf8(public_pem.clone()).unwrap();
    cases.push((
        "HS256 signed with the trimmed PEM".to_owned(),
        forge_hs256(trimmed.trim().as_bytes(), Some(&kid), &good),
    ));
    cases.push((
        "EdDSA header, HMAC with the public key".to_owned(),
        sign_hs256(
            &public_pem,
            &json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid }),
            &good,
        ),
    ));
    for alg in ["none", "None", "NONE", "nOnE"] {
        cases.push((
            format!("alg {alg}"),
            unsigned(&json!({ "alg": alg, "kid": kid }), &good),
        ));
    }
    let (head, rest) = genuine.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    cases.push((
        "stripped EdDSA signature".to_owned(),
        format!("{head}.{payload}."),
    ));
    let (_, genuine_claims) = decode(&genuine);
    cases.push((
        "tampered EdDSA payload".to_owned(),
        swap_payload(
            &genuine,
            &with_claim(genuine_claims, "sub", json!(uuid::Uuid::now_v7())),
        ),
    ));
    expect_all_refused(&server, cases).await;
}
