//! The CLI: running `verofield` subcommands against a test database, as an operator would.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::*;

#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The stdout as one JSON value; panics (showing the output) unless it succeeded.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert!(self.status.success(), "the command failed: {self:#?}");
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `verofield --data-dir <data_dir> <args>` with DATABASE_URL = `db` (or none: the
/// embedded cluster in the data directory). Times out after five minutes (`module test` of a
/// Python component compiles 18 MB of CPython on a busy machine).
pub async fn run_cli(
    data_dir: &Path,
    db: Option<&TestDb>,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> CliOutput {
    let env = env();
    let mut command = Command::new(&env.bin);
    command.arg("--data-dir").arg(data_dir).args(args);
    clean_env(&mut command);
    command.env("VEROFIELD_LOG", "warn");
    if let Some(db) = db {
        command.env("DATABASE_URL", &db.url);
    }
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut command = tokio::process::Command::from(command);
    command.stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("verofield {args:?} did not finish in five minutes"))
        .expect("running verofield");
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `verofield module test ARGS` in a fresh data directory, as a partner runs it, with the
/// built-ins serving the other slots and compiled modules cached under target/.
pub async fn module_test(args: &[&str]) -> CliOutput {
    let data = TempDir::new("module-test");
    let cache = repo_root().join("target/module-test-cache");
    let builtins = builtin_modules_dir();
    let mut full = vec!["module", "test"];
    full.extend_from_slice(args);
    let env = [
        ("VEROFIELD_BUILTIN_MODULES", builtins.to_str().unwrap()),
        ("VEROFIELD_MODULE_CACHE_DIR", cache.to_str().unwrap()),
    ];
    run_cli(data.path(), None, &full, &env).await
}
