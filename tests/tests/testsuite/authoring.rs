//! The authoring kit end to end: `verofield module new` writes a Rust and a Python module
//! folder; each is unit-tested and built the way its README tells a partner (cargo for
//! wasm32-wasip2; componentize-py with `--stub-wasi`), and the component is uploaded, bound
//! for a tenant and answers it. A tenant it is not shared with cannot bind it, and the
//! tenant it serves sees only its own data.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use verofield_tests::{Method, ServerOptions, TempDir, TestServer, bind, run_cli, send};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `verofield module new NAME --lang LANG --dir DIR`; the folder it wrote.
async fn module_new(dir: &Path, name: &str, lang: &str) -> PathBuf {
    let folder = dir.to_str().unwrap();
    let args = ["module", "new", name, "--lang", lang, "--dir", folder];
    let output = run_cli(dir, None, &args, &[]).await;
    assert!(output.status.success(), "{output:#?}");
    assert!(output.stdout.contains("README.md"), "{output:#?}");
    dir.join(name)
}

#[track_caller]
fn succeeds(command: &mut Command) {
    let output = command.output().expect("running a build step");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_new_rust_module_builds_and_serves_a_tenant() {
    let dir = TempDir::new("module-new-rust");
    let folder = module_new(dir.path(), "acme-hello", "rust").await;
    // One target directory across runs, so that the dependencies build once.
    let target = repo_root().join("target/authoring");
    let cargo = || {
        // rustup's `cargo`, as a partner runs it: it honours the folder's rust-toolchain.toml.
        let mut cargo = Command::new("cargo");
        cargo.current_dir(&folder).env("CARGO_TARGET_DIR", &target);
        cargo
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET");
        cargo
    };
    succeeds(cargo().args(["test", "--quiet"]));
    succeeds(cargo().args(["build", "--release", "--target", "wasm32-wasip2"]));
    let component = std::fs::read(target.join("wasm32-wasip2/release/acme_hello.wasm")).unwrap();
    serves_its_tenant_only(&component, "acme-hello").await;
}

#[tokio::test]
async fn a_new_python_module_builds_and_serves_a_tenant() {
    let dir = TempDir::new("module-new-python");
    let folder = module_new(dir.path(), "acme-py", "python").await;
    succeeds(
        Command::new("python3")
            .args(["-m", "unittest", "discover", "-s", "tests"])
            .current_dir(&folder),
    );
    // The README's `componentize-py ...`, with the pinned componentize-py of target/py.
    succeeds(
        Command::new("python3")
            .args(["-c", "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()"])
            .args(["-d", "wit", "-w", "domain-module", "componentize", "--stub-wasi", "app"])
            .args(["-o", "acme_py.wasm"])
            .env("PYTHONPATH", repo_root().join("target/py"))
            .current_dir(&folder),
    );
    let component = std::fs::read(folder.join("acme_py.wasm")).unwrap();
    serves_its_tenant_only(&component, "acme-py").await;
}

/// Uploads the component shared with one tenant, binds its slot there and calls its route;
/// another tenant cannot bind it, and once shared sees only its own customers.
async fn serves_its_tenant_only(component: &[u8], slot: &str) {
    let options = ServerOptions::new().with_builtin_modules().large_uploads();
    let server = TestServer::start_with(options).await;
    let owner = |slug: &'static str| async {
        let tenant = server.create_tenant(slug).await;
        server.client_for(&server.login_owner(&tenant).await.access)
    };
    let (a, b) = (owner("author-a").await, owner("author-b").await);
    let digest = server.publish_module(component, &["author-a"]).await;
    bind(&a, slot, &digest).await;
    a.post("/v1/crm/customers", &json!({"name": "Ada"}))
        .await
        .expect_status(201);
    let hello = a.get(&format!("/v1/{slot}/hello?name=%20Ada%20")).await;
    hello.expect_status(200);
    assert_eq!(
        hello.json,
        json!({"greeting": "Hello, Ada!", "customers": 1})
    );
    a.get(&format!("/v1/{slot}/hello?name=%20"))
        .await
        .expect_problem(400, "invalid_query_parameter");

    b.get(&format!("/v1/{slot}/hello")).await.expect_status(404);
    // Not shared with B: answered as a version that does not exist.
    let refused = b
        .request(Method::PUT, &format!("/v1/tenant/modules/{slot}"))
        .json(&json!({"version": digest}));
    send(refused).await.expect_problem(422, "validation_failed");
    server.publish_module(component, &["author-b"]).await;
    bind(&b, slot, &digest).await;
    let theirs = b.get(&format!("/v1/{slot}/hello")).await;
    assert_eq!(
        theirs.json,
        json!({"greeting": "Hello, world!", "customers": 0})
    );
}
