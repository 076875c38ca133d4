//! `verofield module new NAME --lang rust|python`: a ready-to-build module folder with one
//! route that reads one platform table and writes and reads one collection of the module's
//! own, a unit test, scenarios, a README, and the SDK and WIT of this host ([`vendored`]).
//! The folder is written whole or not at all: a name the host would refuse (including a slot
//! that is one of the host's own prefixes), or a path that exists, is refused before anything
//! is written, and a failed write removes what it wrote.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::vendored::{self, COMPONENTIZE_PY};
use crate::runtime::manifest::is_identifier;
use crate::runtime::reserved_slots::is_reserved;

/// The language of a new module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
}

/// The toolchain this host is built and tested with (a generated Rust folder pins it).
const TOOLCHAIN: &str = "1.95.0";

const RUST_TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("templates/rust/Cargo.toml")),
    (
        "rust-toolchain.toml",
        include_str!("templates/rust/rust-toolchain.toml"),
    ),
    (".gitignore", include_str!("templates/rust/gitignore")),
    ("README.md", include_str!("templates/rust/README.md")),
    ("src/lib.rs", include_str!("templates/rust/src/lib.rs")),
    ("scenarios.json", include_str!("templates/scenarios.json")),
];

const PYTHON_TEMPLATE: &[(&str, &str)] = &[
    ("app.py", include_str!("templates/python/app.py")),
    (
        "tests/test_app.py",
        include_str!("templates/python/tests/test_app.py"),
    ),
    (".gitignore", include_str!("templates/python/gitignore")),
    ("README.md", include_str!("templates/python/README.md")),
    ("scenarios.json", include_str!("templates/scenarios.json")),
];

/// Writes the module folder `parent/name` and returns its path.
/// With a publisher's `namespace`, the manifest names the module `namespace/name` and its
/// route's permission starts with `namespace.`, as the host requires of a publisher's upload.
pub fn create(
    name: &str,
    namespace: Option<&str>,
    lang: Lang,
    parent: &Path,
) -> anyhow::Result<PathBuf> {
    for (what, word) in std::iter::once(("name", name)).chain(namespace.map(|n| ("namespace", n))) {
        if !is_identifier(word) {
            bail!(
                "`{word}` cannot be a module {what}: use lower-case letters, digits and dashes, starting with a letter, at most 64 characters"
            );
        }
    }
    if is_reserved(name) {
        bail!("`{name}` is one of the host's own routes (`/v1/{name}`): choose another name");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} already exists; choose another name or place",
            dir.display()
        );
    }
    let written = files(name, namespace, lang)
        .into_iter()
        .try_for_each(|(path, contents)| write(&dir.join(path), &contents));
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(error);
    }
    Ok(dir)
}

/// Every file of the folder, `(relative path, contents)`.
fn files(name: &str, namespace: Option<&str>, lang: Lang) -> Vec<(String, String)> {
    let (module_name, permission) = match namespace {
        Some(namespace) => (
            format!("{namespace}/{name}"),
            format!("{namespace}.{name}.greet"),
        ),
        None => (name.to_owned(), format!("{name}.greet")),
    };
    let fill = |text: &str| {
        text.replace("{{module_name}}", &module_name)
            .replace("{{permission}}", &permission)
            .replace("{{name}}", name)
            .replace("{{crate_name}}", &name.replace('-', "_"))
            .replace("{{toolchain}}", TOOLCHAIN)
            .replace("{{componentize_py}}", COMPONENTIZE_PY)
    };
    let (template, sdk) = match lang {
        Lang::Rust => (RUST_TEMPLATE, vendored::RUST_SDK),
        Lang::Python => (PYTHON_TEMPLATE, vendored::PYTHON_SDK),
    };
    let mut files: Vec<(String, String)> = template
        .iter()
        .map(|(path, text)| (path.to_string(), fill(text)))
        .chain(
            sdk.iter()
                .chain(vendored::WIT)
                .map(|(path, text)| (path.to_string(), text.to_string())),
        )
        .collect();
    if lang == Lang::Rust {
        files.extend(
            vendored::rust_sdk_manifests()
                .into_iter()
                .map(|(path, text)| (path.to_owned(), text)),
        );
        files.push(("Cargo.lock".into(), vendored::RUST_LOCK.into()));
    }
    files
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty folder under the system's temporary directory.
    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vf-scaffold-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_every_file_with_the_name_filled_in() {
        let parent = scratch();
        let dir = create("acme-notes", None, Lang::Rust, &parent).unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("slot: \"acme-notes\""));
        assert!(lib.contains("collections: &[Collection::new("));
        assert!(!lib.contains("{{"));
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("release/acme_notes.wasm"));
        for vendored in [
            "wit/platform.wit",
            "vendor/verofield-sdk/src/lib.rs",
            "Cargo.lock",
        ] {
            assert!(dir.join(vendored).is_file(), "{vendored}");
        }
        let python = create("acme-py", Some("acme"), Lang::Python, &parent).unwrap();
        assert!(python.join("verofield_sdk/store.py").is_file());
        let app = std::fs::read_to_string(python.join("app.py")).unwrap();
        assert!(app.contains("slot=\"acme-py\"") && !app.contains("{{"));
        assert!(app.contains("name=\"acme/acme-py\"") && app.contains("\"acme.acme-py.greet\""));
        std::fs::remove_dir_all(parent).unwrap();
    }

    #[test]
    fn refuses_bad_names_and_existing_folders_without_writing() {
        let parent = scratch();
        let reserved = create("users", None, Lang::Rust, &parent).unwrap_err();
        assert!(reserved.to_string().contains("host's own"), "{reserved}");
        for bad in ["Acme", "acme/notes", "../up", "", "9lives"] {
            assert!(create(bad, None, Lang::Python, &parent).is_err(), "{bad}");
            assert!(
                create("ok", Some(bad), Lang::Python, &parent).is_err(),
                "{bad}"
            );
        }
        std::fs::create_dir(parent.join("taken")).unwrap();
        let refused = create("taken", None, Lang::Rust, &parent).unwrap_err();
        assert!(refused.to_string().contains("already exists"));
        assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 1);
        std::fs::remove_dir_all(parent).unwrap();
    }
}
