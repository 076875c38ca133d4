//! Secrets generated on first start and kept in the data directory (mode 0600), so a
//! restart keeps issued tokens valid and no secret is ever a constant in the code.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// 32 random bytes as hex: a secret that is safe as it is inside a URL, a header and an SQL
/// string literal.
pub fn random_hex() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the secret at `path`, or writes `generate()` there first. Creation is exclusive,
/// so two processes starting at once agree on one secret.
pub fn load_or_generate(path: &Path, generate: impl FnOnce() -> String) -> Result<String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let secret = generate();
            file.write_all(secret.as_bytes())?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            // The writer may not have finished: wait briefly for content.
            for _ in 0..50 {
                let secret = std::fs::read_to_string(path)?;
                if !secret.trim().is_empty() {
                    return Ok(secret.trim().to_owned());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            anyhow::bail!("{} is empty", path.display())
        }
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}
