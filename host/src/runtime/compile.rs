//! Compiling a component once per sha256 digest. The precompiled form is kept on disk at
//! `<cache-dir>/<digest>.cwasm`, written atomically (temporary file, then rename) into a
//! directory only this host writes, since deserializing precompiled code is `unsafe`: wasmtime
//! trusts it as native code. The file name is the digest of the component it was compiled from,
//! and wasmtime refuses a file made by an engine with other settings; such a file, or a
//! corrupt one, is recompiled and overwritten.

use std::fmt;
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

pub(super) fn load_or_compile(
    engine: &Engine,
    cache_dir: &Path,
    digest: Digest,
    bytes: &[u8],
) -> Result<(Component, Origin)> {
    let cached = cache_dir.join(format!("{digest}.cwasm"));
    if cached.exists() {
        // SAFETY: only this host writes into its cache directory, and the file is named by the
        // digest of the component it was compiled from; wasmtime checks the engine settings.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok((component, Origin::DiskCache)),
            Err(error) => {
                tracing::warn!(%digest, %error, "discarding an unusable precompiled module")
            }
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
    let partial = cache_dir.join(format!("{digest}.cwasm.{}.partial", std::process::id()));
    std::fs::write(&partial, &precompiled)
        .and_then(|()| std::fs::rename(&partial, &cached))
        .with_context(|| format!("writing {}", cached.display()))?;
    // SAFETY: these bytes were produced by this engine a moment ago.
    let component = unsafe { Component::deserialize(engine, &precompiled) }
        .map_err(|error| anyhow::anyhow!("loading a module compiled just now: {error}"))?;
    Ok((component, Origin::Compiled))
}
