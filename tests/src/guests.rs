//! Guest components: the wasm fixtures and built-in modules, built once per test process
//! (or taken prebuilt) for the suites that publish them.

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

impl ServerOptions {
    /// Serve the built-in modules from `plugins/` (built first when needed).
    pub fn with_builtin_modules(self) -> Self {
        let dir = builtin_modules_dir();
        self.env(
            "VEROFIELD_BUILTIN_MODULES",
            dir.to_str().expect("a UTF-8 path"),
        )
    }
}
