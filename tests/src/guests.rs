//! Guest components: the wasm fixtures and built-in modules, built once per test process
//! (or taken prebuilt) for the suites that publish them, and the Python modules of
//! `plugins/` (built with componentize-py through `scripts/build-python-module.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::*;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds a guest workspace for wasm32-wasip2 (release) and returns its output directory.
/// Cargo makes this a no-op when the components are up to date. With
/// `VEROFIELD_TEST_PREBUILT_GUESTS=1` the components already built are used as they are.
fn build_guests(manifest: &Path) -> PathBuf {
    let out = manifest
        .parent()
        .unwrap()
        .join("target/wasm32-wasip2/release");
    if std::env::var_os("VEROFIELD_TEST_PREBUILT_GUESTS").is_some() {
        return out;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
            "--manifest-path",
        ])
        .arg(manifest)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("running cargo for the guest components");
    assert!(status.success(), "building {} failed", manifest.display());
    manifest
        .parent()
        .unwrap()
        .join("target/wasm32-wasip2/release")
}

/// The built-in modules (every component crate in `plugins/`), built once per test process.
pub fn builtin_modules_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_guests(&repo_root().join("plugins/Cargo.toml")))
        .clone()
}

/// The bytes of a test fixture component from `plugins/fixtures` (built once per process).
pub fn fixture_component(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| build_guests(&repo_root().join("plugins/fixtures/Cargo.toml")));
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The component of a Python module of `plugins/` (`python_module("crm-python")`), built
/// into `target/python-modules` with `scripts/build-python-module.sh` when it is missing or
/// older than the module's or the Python SDK's sources (about 15 s; once per process).
pub fn python_module(name: &str) -> Vec<u8> {
    python_component(name, name, "domain-module")
}

/// The component of a Python extension of `plugins/extensions/`
/// (`python_extension("no-phone-notes-python")`), built like [`python_module`] against the
/// `extension` world.
pub fn python_extension(name: &str) -> Vec<u8> {
    python_component(name, &format!("extensions/{name}"), "extension")
}

/// The Python component `name` from the folder `plugins/<dir>`, of `world`.
fn python_component(name: &str, dir: &str, world: &str) -> Vec<u8> {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let root = repo_root();
    let out = root.join(format!(
        "target/python-modules/{}.wasm",
        name.replace('-', "_")
    ));
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let sources = [
        root.join("plugins").join(dir),
        root.join("plugins/sdk-python"),
    ];
    if !built.iter().any(|done| done == name) && !is_newer_than(&out, &sources) {
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let status = Command::new(root.join("scripts/build-python-module.sh"))
            .arg(root.join("plugins").join(dir))
            .arg(&out)
            .arg(world)
            .status()
            .expect("running scripts/build-python-module.sh");
        assert!(
            status.success(),
            "building the Python component {name} failed"
        );
    }
    built.push(name.to_owned());
    std::fs::read(&out).unwrap_or_else(|error| panic!("{}: {error}", out.display()))
}

/// Whether `file` exists and is newer than every `.py` file under `dirs`.
fn is_newer_than(file: &Path, dirs: &[PathBuf]) -> bool {
    fn newest(dir: &Path) -> std::time::SystemTime {
        let mut latest = std::time::SystemTime::UNIX_EPOCH;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let modified = if path.is_dir() {
                newest(&path)
            } else if path.extension().is_some_and(|e| e == "py") {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(latest)
            } else {
                continue;
            };
            latest = latest.max(modified);
        }
        latest
    }
    let Ok(built) = std::fs::metadata(file).and_then(|m| m.modified()) else {
        return false;
    };
    dirs.iter().all(|dir| newest(dir) < built)
}

impl ServerOptions {
    /// Time for uploading a large component: the upload request compiles it, which takes an
    /// 18 MB Python module about 10 s alone and several times that on a busy machine.
    pub fn large_uploads(self) -> Self {
        self.env("VEROFIELD_REQUEST_TIMEOUT_SECS", "300")
            .env("VEROFIELD_MODULE_COMPILE_TIMEOUT_MS", "280000")
    }

    /// Serve the built-in modules from `plugins/` (built first when needed).
    pub fn with_builtin_modules(self) -> Self {
        let dir = builtin_modules_dir();
        self.env(
            "VEROFIELD_BUILTIN_MODULES",
            dir.to_str().expect("a UTF-8 path"),
        )
    }
}
