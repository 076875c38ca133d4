//! A partner's whole path, as the README and the generated folder's README tell it, in Rust
//! and in Python: `verofield module new --namespace acme` writes the folder; it is unit-tested
//! and built (cargo for wasm32-wasip2; componentize-py with `--stub-wasi`); `module test` runs
//! the folder's scenarios in the real host; `module publish` uploads it with a publishing key;
//! the publisher shares it with one tenant, whose admin consents and binds, and whose clients
//! call it, writing and reading the module's own collection. Another tenant sees nothing of
//! it; shared and bound there too, it sees only its own rows of the collection.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use verofield_tests::{
    Api, ServerOptions, TempDir, TestServer, bind_with, consent_and_bind, grants_of, module_test,
    run_cli,
};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `verofield module new NAME --lang LANG --dir DIR`; the folder it wrote.
async fn module_new(dir: &Path, name: &str, lang: &str) -> PathBuf {
    let folder = dir.to_str().unwrap();
    let args = [
        "module",
        "new",
        name,
        "--lang",
        lang,
        "--dir",
        folder,
        "--namespace",
        "acme",
    ];
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
    let component = target.join("wasm32-wasip2/release/acme_hello.wasm");
    tested_published_and_served(&folder, &component, "acme-hello").await;
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
    tested_published_and_served(&folder, &folder.join("acme_py.wasm"), "acme-py").await;
}

/// The rest of a partner's path, from a built component: `module test` with the folder's own
/// scenarios, `module publish` with a publishing key, a private share with tenant A, whose
/// admin reads the grants, consents and binds; A's clients call the route, which records
/// each greeting in the module's collection. Tenant B sees nothing of it: no detail, no bind,
/// no route; once it is shared with B and bound there, B counts only its own greetings.
async fn tested_published_and_served(folder: &Path, component: &Path, module: &str) {
    let scenarios = folder.join("scenarios.json");
    let tested = module_test(&[path_str(component), "--scenarios", path_str(&scenarios)]).await;
    assert!(tested.status.success(), "{tested:#?}");
    assert!(tested.stdout.contains("4 passed, 0 failed"), "{tested:#?}");

    let options = ServerOptions::new().with_builtin_modules().large_uploads();
    let server = TestServer::start_with(options).await;
    let acme = server.create_publisher("acme").await;
    let (a, b) = (
        owner(&server, "author-a").await,
        owner(&server, "author-b").await,
    );
    let url = server.url("");
    let publish = [
        "module",
        "publish",
        path_str(component),
        "--server",
        url.as_str(),
    ];
    let env = [("VEROFIELD_PUBLISHER_KEY", acme.key.as_str())];
    let published = run_cli(folder, None, &publish, &env).await;
    assert!(published.status.success(), "{published:#?}");
    assert!(
        published.stdout.contains("not_applicable"),
        "{published:#?}"
    );
    let name = format!("acme/{module}");
    let listed = acme.api.get("/v1/publisher/modules").await;
    let digest = listed.json["items"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(listed.json["items"][0]["name"], name.as_str());
    acme.share(&digest, "author-a").await;

    let grants = grants_of(&a, &name, "0.1.0").await;
    assert_eq!(
        grants["tables"]["read"],
        json!(["crm_customers"]),
        "{grants:#}"
    );
    consent_and_bind(&a, module, &name, "0.1.0").await;
    a.post("/v1/crm/customers", &json!({"name": "Ada"}))
        .await
        .expect_status(201);
    let hello = format!("/v1/{module}/hello");
    let greeted = a.post(&hello, &json!({"name": " Ada "})).await;
    let expected = json!({"greeting": "Hello, Ada!", "customers": 1, "greeted": 1});
    assert_eq!(greeted.json, expected, "{}", greeted.text);
    assert_eq!(a.post(&hello, &json!({})).await.json["greeted"], 2);

    b.get(&format!("/v1/modules/{name}/0.1.0"))
        .await
        .expect_status(404);
    b.post(&hello, &json!({})).await.expect_status(404);
    let refused = bind_with(&b, module, &json!({"version": digest, "accept": grants})).await;
    refused.expect_problem(422, "validation_failed");

    // Shared with B too: B's greetings are its own, and A's stay A's.
    acme.share(&digest, "author-b").await;
    consent_and_bind(&b, module, &name, "0.1.0").await;
    let at_b = b.post(&hello, &json!({"name": "Bo"})).await;
    let expected = json!({"greeting": "Hello, Bo!", "customers": 0, "greeted": 1});
    assert_eq!(at_b.json, expected, "{}", at_b.text);
    assert_eq!(a.post(&hello, &json!({})).await.json["greeted"], 3);
}

async fn owner(server: &TestServer, slug: &str) -> Api {
    let tenant = server.create_tenant(slug).await;
    server.client_for(&server.login_owner(&tenant).await.access)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
