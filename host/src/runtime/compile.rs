//! Compiling a component once per sha256 digest. The precompiled form is kept on disk at
//! `<cache-dir>/<digest>.cwasm`, and deserializing it is `unsafe`: wasmtime trusts it as native
//! code. So a file is used only when
//! - the directory is private to this server's user (checked when the runtime starts,
//!   [`check_private_dir`]): no other local user can plant code there;
//! - its sha256 matches the sidecar `<digest>.cwasm.sha256` this host wrote beside it, checked
//!   on the bytes that are then deserialized (read once, no window to swap the file): a
//!   corrupt file, a truncated write, or another module's artifact copied over it is refused;
//! - wasmtime accepts it: it refuses code from an engine with other settings, and from another
//!   host build (the engine's module version names this build, see `runtime::engine_config`).
//!
//! Anything refused is recompiled from the component (whose digest the registry verified)
//! and overwritten. Files are written under unique names created exclusively (`O_EXCL`, 0600)
//! and renamed into place, so concurrent writers (hosts sharing a cache) never interleave.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{Error, Result};

/// The sha256 of a component's bytes: the identity of a module version.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Where a loaded module's code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled from the component now, and written to the disk cache.
    Compiled,
    /// Deserialized from the disk cache.
    DiskCache,
}

/// A time limit on compiling: its deadline, and the limit itself (for the answer).
pub(super) type CompileLimit = Option<(Instant, std::time::Duration)>;

/// The component compiled (or read back from the cache). Code compiled past `limit`'s
/// deadline is refused and not cached, so an upload refused for its compile time is refused
/// again when it comes back, rather than loading from a cache its abandoned compile filled.
pub(super) fn load_or_compile(
    engine: &Engine,
    cache_dir: &Path,
    digest: Digest,
    bytes: &[u8],
    limit: CompileLimit,
) -> Result<(Component, Origin)> {
    let artifact = cache_dir.join(format!("{digest}.cwasm"));
    let sidecar = cache_dir.join(format!("{digest}.cwasm.sha256"));
    match read_verified(&artifact, &sidecar) {
        Ok(None) => {}
        Ok(Some(code)) => {
            // SAFETY: the directory is private to this user, these are the very bytes whose
            // sha256 this host recorded when it compiled them, and wasmtime checks that they
            // come from this build and these engine settings.
            match unsafe { Component::deserialize(engine, &code) } {
                Ok(component) => return Ok((component, Origin::DiskCache)),
                Err(error) => {
                    tracing::warn!(%digest, %error, "discarding an unusable precompiled module")
                }
            }
        }
        Err(reason) => {
            tracing::warn!(%digest, %reason, "discarding a precompiled module that fails its integrity check")
        }
    }
    let started = Instant::now();
    let precompiled = engine.precompile_component(bytes).map_err(|error| {
        Error::problem(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "module_invalid",
            format!("not a valid WebAssembly component: {error}"),
        )
    })?;
    tracing::info!(%digest, elapsed_ms = started.elapsed().as_millis() as u64, "compiled module");
    if let Some((deadline, limit)) = limit
        && Instant::now() > deadline
    {
        return Err(super::compile_timeout(limit));
    }
    write_atomically(&artifact, &precompiled)
        .and_then(|()| write_atomically(&sidecar, Digest::of(&precompiled).to_string().as_bytes()))
        .with_context(|| format!("writing {}", artifact.display()))?;
    // SAFETY: these bytes were produced by this engine a moment ago.
    let component = unsafe { Component::deserialize(engine, &precompiled) }
        .map_err(|error| anyhow::anyhow!("loading a module compiled just now: {error}"))?;
    Ok((component, Origin::Compiled))
}

/// The cached artifact's bytes if its sha256 matches the recorded one; None when nothing is
/// cached; Err(reason) when something is but may not be used.
fn read_verified(artifact: &Path, sidecar: &Path) -> std::result::Result<Option<Vec<u8>>, String> {
    let code = match std::fs::read(artifact) {
        Ok(code) => code,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("reading it: {error}")),
    };
    let recorded = std::fs::read_to_string(sidecar)
        .map_err(|error| format!("reading its recorded sha256: {error}"))?;
    if recorded.trim() != Digest::of(&code).to_string() {
        return Err("its sha256 is not the one recorded when it was compiled".into());
    }
    Ok(Some(code))
}

/// Writes `path` through a temporary file of a unique name, created exclusively and private
/// to this user, then renamed over `path`.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(
        ".{}.{:016x}.partial",
        std::process::id(),
        rand::random::<u64>()
    ));
    let partial = path.with_file_name(name);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Refuses a cache directory that another local user could write (or read): it must belong
/// to this process's user and grant nothing to group or others.
pub(super) fn check_private_dir(dir: &Path) -> anyhow::Result<()> {
    let metadata = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mode = metadata.mode() & 0o777;
    let owner = metadata.uid();
    let me = nix::unistd::geteuid().as_raw();
    if !metadata.is_dir() || mode & 0o077 != 0 || owner != me {
        anyhow::bail!(
            "the module cache directory {} must be a directory private to this server's user \
             (owner uid {me}, mode 0700), since its files are loaded as native code; it has \
             owner uid {owner} and mode {mode:04o} (fix: chown {me} and chmod 700 it)",
            dir.display()
        );
    }
    Ok(())
}
