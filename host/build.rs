//! Names this build for the module cache: precompiled code records the build that made it, and
//! the runtime loads only its own build's (`runtime::HOST_BUILD`). The id is the git commit
//! plus the build time, so two builds of an uncommitted tree differ too; a packager who wants
//! reproducible builds sets `VEROFIELD_BUILD_ID`.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-env-changed=VEROFIELD_BUILD_ID");
    // Run again whenever the host's sources change, whatever the file.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    // `sqlx::migrate!` embeds the migrations at compile time and does not track them itself.
    println!("cargo:rerun-if-changed=../migrations");
    // Nor does `include_dir!` track the console's files (`http::console`).
    println!("cargo:rerun-if-changed=assets");
    let id = std::env::var("VEROFIELD_BUILD_ID").unwrap_or_else(|_| {
        let commit = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|out| out.trim().to_owned())
            .unwrap_or_else(|| "nogit".into());
        let built = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|t| t.as_secs())
            .unwrap_or_default();
        format!("{commit}.{built}")
    });
    println!("cargo:rustc-env=VEROFIELD_BUILD_ID={id}");
}
