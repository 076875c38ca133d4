//! The schema that holds one module's collections, named from the module's name alone (the
//! same on every host, with no table to keep): `crm` -> `mod_crm`, `route-plus` ->
//! `mod_route_plus`, `acme/route-plus` -> `mod_acme__route_plus`.
//!
//! Collision-free: a plain name maps `-` to `_` and the namespace's `/` to `__`, which is one
//! to one as long as no part holds `--` or begins or ends with `-` (then no `__` comes from a
//! dash, and the only `__` is the namespace's). A name that breaks that rule, or whose plain
//! form passes PostgreSQL's 63 bytes, is named `mod__<16 hex of its SHA-256>_<prefix>`
//! instead: a plain form starts `mod_` and a letter, so it never starts `mod__`.

use sha2::{Digest, Sha256};

/// Every module schema starts with this (the self-check and the catalog look for it).
pub const PREFIX: &str = "mod_";
/// The pattern of every module schema for `LIKE` (the `_` escaped).
pub const LIKE_PATTERN: &str = "mod\\_%";

pub fn schema_name(module: &str) -> String {
    let (namespace, name) = match module.split_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, module),
    };
    let plain_part = |part: &str| {
        !part.is_empty() && !part.contains("--") && !part.starts_with('-') && !part.ends_with('-')
    };
    let plain = namespace.is_none_or(plain_part) && plain_part(name);
    let sanitized = |part: &str| part.replace('-', "_");
    let full = match namespace {
        Some(namespace) => format!("{PREFIX}{}__{}", sanitized(namespace), sanitized(name)),
        None => format!("{PREFIX}{}", sanitized(name)),
    };
    if plain && full.len() <= 63 && full.is_ascii() {
        return full;
    }
    let digest = Sha256::digest(module.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let readable: String = full[PREFIX.len()..]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(63 - PREFIX.len() - 1 - 16 - 1)
        .collect();
    format!("{PREFIX}_{hex}_{readable}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_read_as_the_module() {
        assert_eq!(schema_name("crm"), "mod_crm");
        assert_eq!(schema_name("route-plus"), "mod_route_plus");
        assert_eq!(schema_name("acme/route-plus"), "mod_acme__route_plus");
    }

    #[test]
    fn names_that_would_collide_or_overflow_are_hashed() {
        // `a--b` would read as the namespaced `a/b`.
        assert_eq!(schema_name("a/b"), "mod_a__b");
        let hashed = schema_name("a--b");
        assert!(
            hashed.starts_with("mod__") && hashed != "mod_a__b",
            "{hashed}"
        );
        assert_ne!(schema_name("a-/b"), schema_name("a---b"));
        let long = format!("acme/{}", "x".repeat(64));
        let schema = schema_name(&long);
        assert!(
            schema.len() <= 63 && schema.starts_with("mod__"),
            "{schema}"
        );
        assert_ne!(schema, schema_name(&format!("acme/{}", "x".repeat(63))));
    }
}
