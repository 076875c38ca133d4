//! The SDKs and the WIT contract compiled into the binary, so that `verofield module new`
//! can write them into a partner's folder: a partner outside this repository has no path or
//! git dependency to reach them by, and a copy taken from the host that generated the folder
//! is the one that host runs. The unit test below fails when an SDK gains a file that is not
//! listed here.

/// `(path in the generated folder, contents)`.
pub type Files = &'static [(&'static str, &'static str)];

macro_rules! embed {
    ($($path:literal => $source:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $source)))),*]
    };
}

/// The WIT world every module is a component of.
pub const WIT: Files = embed!["wit/platform.wit" => "wit/platform.wit"];

/// The Rust SDK's sources (its Cargo.toml files are derived by [`rust_sdk_manifest`]).
pub const RUST_SDK: Files = embed![
    "vendor/verofield-sdk/src/config.rs" => "plugins/sdk/src/config.rs",
    "vendor/verofield-sdk/src/custom.rs" => "plugins/sdk/src/custom.rs",
    "vendor/verofield-sdk/src/extensions.rs" => "plugins/sdk/src/extensions.rs",
    "vendor/verofield-sdk/src/deadline.rs" => "plugins/sdk/src/deadline.rs",
    "vendor/verofield-sdk/src/etag.rs" => "plugins/sdk/src/etag.rs",
    "vendor/verofield-sdk/src/events.rs" => "plugins/sdk/src/events.rs",
    "vendor/verofield-sdk/src/http.rs" => "plugins/sdk/src/http.rs",
    "vendor/verofield-sdk/src/lib.rs" => "plugins/sdk/src/lib.rs",
    "vendor/verofield-sdk/src/log.rs" => "plugins/sdk/src/log.rs",
    "vendor/verofield-sdk/src/manifest.rs" => "plugins/sdk/src/manifest.rs",
    "vendor/verofield-sdk/src/money.rs" => "plugins/sdk/src/money.rs",
    "vendor/verofield-sdk/src/outbound.rs" => "plugins/sdk/src/outbound.rs",
    "vendor/verofield-sdk/src/patch.rs" => "plugins/sdk/src/patch.rs",
    "vendor/verofield-sdk/src/payments.rs" => "plugins/sdk/src/payments.rs",
    "vendor/verofield-sdk/src/problem.rs" => "plugins/sdk/src/problem.rs",
    "vendor/verofield-sdk/src/resource.rs" => "plugins/sdk/src/resource.rs",
    "vendor/verofield-sdk/src/router.rs" => "plugins/sdk/src/router.rs",
    "vendor/verofield-sdk/src/store.rs" => "plugins/sdk/src/store.rs",
    "vendor/verofield-sdk/src/validate.rs" => "plugins/sdk/src/validate.rs",
    "vendor/verofield-sdk-macros/src/lib.rs" => "plugins/sdk-macros/src/lib.rs",
];

/// The Rust SDK's manifests and the lock file its dependencies were tested with.
const RUST_SDK_MANIFEST: &str = include_str!("../../../plugins/sdk/Cargo.toml");
const RUST_MACROS_MANIFEST: &str = include_str!("../../../plugins/sdk-macros/Cargo.toml");
/// Generated folders start from it, so that they build with the versions tested here.
pub const RUST_LOCK: &str = include_str!("../../../plugins/Cargo.lock");

/// The Python SDK package.
pub const PYTHON_SDK: Files = embed![
    "verofield_sdk/__init__.py" => "plugins/sdk-python/verofield_sdk/__init__.py",
    "verofield_sdk/context.py" => "plugins/sdk-python/verofield_sdk/context.py",
    "verofield_sdk/etag.py" => "plugins/sdk-python/verofield_sdk/etag.py",
    "verofield_sdk/events.py" => "plugins/sdk-python/verofield_sdk/events.py",
    "verofield_sdk/fields.py" => "plugins/sdk-python/verofield_sdk/fields.py",
    "verofield_sdk/http.py" => "plugins/sdk-python/verofield_sdk/http.py",
    "verofield_sdk/log.py" => "plugins/sdk-python/verofield_sdk/log.py",
    "verofield_sdk/module.py" => "plugins/sdk-python/verofield_sdk/module.py",
    "verofield_sdk/outbound.py" => "plugins/sdk-python/verofield_sdk/outbound.py",
    "verofield_sdk/problem.py" => "plugins/sdk-python/verofield_sdk/problem.py",
    "verofield_sdk/store.py" => "plugins/sdk-python/verofield_sdk/store.py",
    "verofield_sdk/validate.py" => "plugins/sdk-python/verofield_sdk/validate.py",
];

/// The pinned componentize-py (as `scripts/setup.sh` installs it).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The Rust SDK's and its macros' Cargo.toml as a stand-alone folder needs them: the
/// workspace-inherited fields written out, the macros found beside the SDK.
pub fn rust_sdk_manifests() -> [(&'static str, String); 2] {
    [
        (
            "vendor/verofield-sdk/Cargo.toml",
            standalone(RUST_SDK_MANIFEST).replace(
                "path = \"../sdk-macros\"",
                "path = \"../verofield-sdk-macros\"",
            ),
        ),
        (
            "vendor/verofield-sdk-macros/Cargo.toml",
            standalone(RUST_MACROS_MANIFEST),
        ),
    ]
}

fn standalone(manifest: &str) -> String {
    manifest
        .replace("edition.workspace = true", "edition = \"2024\"")
        .replace("rust-version.workspace = true", "rust-version = \"1.95\"")
        .replace("license.workspace = true", "license = \"Apache-2.0\"")
        .replace("publish.workspace = true", "publish = false")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The file names in `dir` with this extension, sorted.
    fn sources(dir: &str, extension: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(extension))
            .collect();
        names.sort();
        names
    }

    fn embedded(files: Files, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = files
            .iter()
            .filter_map(|(path, _)| path.strip_prefix(prefix).map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_sdk_file_is_embedded() {
        assert_eq!(
            embedded(RUST_SDK, "vendor/verofield-sdk/src/"),
            sources("plugins/sdk/src", ".rs")
        );
        assert_eq!(
            embedded(PYTHON_SDK, "verofield_sdk/"),
            sources("plugins/sdk-python/verofield_sdk", ".py")
        );
    }

    #[test]
    fn the_vendored_manifests_stand_alone() {
        for (path, manifest) in rust_sdk_manifests() {
            assert!(!manifest.contains("workspace = true"), "{path}");
            assert!(!manifest.contains("../sdk-macros"), "{path}");
        }
        assert!(WIT[0].1.contains("world domain-module"));
    }
}
