//! What an uploaded component must be before it is compiled: WebAssembly, a component (not a
//! core module), one of our world (it exports `verofield:platform/module`), built against a
//! version of our WIT package this host runs, and importing only what a module may import.
//!
//! One pass of wasmparser over the top-level component's import and export sections, no
//! compilation: a refused upload costs microseconds and names exactly what is wrong, with
//! the fix where there is one. The compile itself (and its time limit) comes after, in
//! `Runtime::load_upload`; the manifest's policy after that (`registry::upload`).

use axum::http::StatusCode;
use serde::Serialize;

use crate::error::{Error, Result};

/// The `verofield:platform` package, whose interfaces modules import and export.
const PLATFORM_PACKAGE: &str = "verofield:platform";
/// The interface every domain module exports.
const MODULE_INTERFACE: &str = "verofield:platform/module";
/// The minors of the WIT package this host has shipped: a component built against any patch
/// of one of them runs here (0.x minors are breaking in semver; patches add only). A new
/// minor is one more entry.
pub const SUPPORTED_PLATFORM_MINORS: &[(u64, u64)] = &[(0, 1)];
/// The packages a module may import from: ours, and the WASI interfaces Rust's standard
/// library imports (all linked with no authority, `runtime/capabilities/wasi.rs`).
/// `wasi:filesystem`, `wasi:sockets` and `wasi:http` reach outside the host and are refused.
const ALLOWED_IMPORT_PACKAGES: &[&str] = &[
    PLATFORM_PACKAGE,
    "wasi:cli",
    "wasi:io",
    "wasi:clocks",
    "wasi:random",
];

/// Whether the allowlist of imports applies. The operator's own upload is the grant of
/// everything WASI links (still with no authority): the platform's owner vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imports {
    Allowlisted,
    Granted,
}

/// What the checks saw, kept with the version as part of its validation report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Inspection {
    /// The `verofield:platform` versions the component names (usually one).
    pub platform_versions: Vec<String>,
    /// Every interface the component imports.
    pub imports: Vec<String>,
}

/// Checks the component's shape, world, WIT version and imports.
pub fn inspect(bytes: &[u8], imports: Imports) -> Result<Inspection> {
    if !bytes.starts_with(b"\0asm") {
        return Err(refused(
            "module_not_wasm",
            "the body is not WebAssembly (it does not begin with `\\0asm`); send the component's \
             bytes as the body with `Content-Type: application/wasm`"
                .into(),
        ));
    }
    let sections = read_sections(bytes)?;
    if !sections
        .exports
        .iter()
        .any(|name| is_module_interface(name))
    {
        return Err(refused(
            "module_not_of_world",
            format!(
                "the component does not export `{MODULE_INTERFACE}`, so it is not a VeroField \
                 module: build it against wit/platform.wit, world `domain-module` (it exports {})",
                listed(&sections.exports)
            ),
        ));
    }
    let platform_versions = platform_versions(&sections)?;
    if imports == Imports::Allowlisted
        && let Some(refused_import) = sections.imports.iter().find(|name| !is_allowed(name))
    {
        return Err(refused(
            "module_import_refused",
            format!(
                "the component imports `{refused_import}`; a module may import only from {} \
                 (no filesystem, sockets or HTTP: the host offers storage and events instead)",
                ALLOWED_IMPORT_PACKAGES
                    .iter()
                    .map(|p| format!("`{p}/*`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(Inspection {
        platform_versions,
        imports: sections.imports,
    })
}

/// The top-level component's import and export names.
struct Sections {
    imports: Vec<String>,
    exports: Vec<String>,
}

fn read_sections(bytes: &[u8]) -> Result<Sections> {
    let mut sections = Sections {
        imports: Vec::new(),
        exports: Vec::new(),
    };
    // Nested modules and components each begin with a `Version` and end with an `End`
    // payload; only the outermost component's imports and exports count.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        match payload {
            wasmparser::Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != wasmparser::Encoding::Component {
                    return Err(refused(
                        "module_not_component",
                        "this is a core WebAssembly module, not a component: build the module \
                         for the `wasm32-wasip2` target (`cargo build --target wasm32-wasip2 \
                         --release` emits a component), or wrap a core module with \
                         `wasm-tools component new`"
                            .into(),
                    ));
                }
                depth += 1;
            }
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    sections
                        .imports
                        .push(import.map_err(invalid)?.name.name.to_owned());
                }
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    sections
                        .exports
                        .push(export.map_err(invalid)?.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(sections)
}

/// The `verofield:platform` versions named by the imports and exports; every one must be a
/// supported minor.
fn platform_versions(sections: &Sections) -> Result<Vec<String>> {
    let mut versions: Vec<String> = Vec::new();
    for name in sections.imports.iter().chain(&sections.exports) {
        let Some(rest) = name.strip_prefix(PLATFORM_PACKAGE) else {
            continue;
        };
        let version = rest.split_once('@').map(|(_, version)| version);
        let supported = version
            .and_then(minor_of)
            .is_some_and(|minor| SUPPORTED_PLATFORM_MINORS.contains(&minor));
        if !supported {
            return Err(refused(
                "module_wit_unsupported",
                format!(
                    "the component uses `{name}`; this host runs {PLATFORM_PACKAGE} {}: rebuild \
                     the module against one of those",
                    SUPPORTED_PLATFORM_MINORS
                        .iter()
                        .map(|(major, minor)| format!("{major}.{minor}.x"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if let Some(version) = version
            && !versions.iter().any(|v| v == version)
        {
            versions.push(version.to_owned());
        }
    }
    Ok(versions)
}

/// `(major, minor)` of a semver version `X.Y.Z` (pre-release and build allowed).
fn minor_of(version: &str) -> Option<(u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u64>().ok()?;
    parts.next().is_none().then_some((major, minor))
}

/// Whether an export name is our module interface (any version of the package).
pub(super) fn is_module_interface(name: &str) -> bool {
    name.strip_prefix(MODULE_INTERFACE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('@'))
}

fn is_allowed(import: &str) -> bool {
    import
        .split_once('/')
        .is_some_and(|(package, _)| ALLOWED_IMPORT_PACKAGES.contains(&package))
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        return "nothing".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(error: wasmparser::BinaryReaderError) -> Error {
    refused(
        "module_invalid",
        format!("not a valid WebAssembly component: {error}"),
    )
}

fn refused(code: &'static str, detail: String) -> Error {
    Error::problem(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component that imports and exports these interfaces (empty instances).
    fn component(imports: &[&str], exports: &[&str]) -> Vec<u8> {
        let imports: String = imports
            .iter()
            .map(|name| format!(r#"(import "{name}" (instance))"#))
            .collect();
        let exports: String = exports
            .iter()
            .map(|name| format!(r#"(export "{name}" (instance $empty))"#))
            .collect();
        wat::parse_str(format!("(component {imports} (instance $empty) {exports})")).unwrap()
    }

    fn code(result: Result<Inspection>) -> &'static str {
        match result {
            Err(error) => error.code(),
            Ok(_) => "accepted",
        }
    }

    const MODULE: &str = "verofield:platform/module@0.1.0";

    #[test]
    fn a_component_of_our_world_passes_and_reports_what_it_uses() {
        let bytes = component(
            &["verofield:platform/store@0.1.3", "wasi:io/streams@0.2.6"],
            &[MODULE],
        );
        let inspection = inspect(&bytes, Imports::Allowlisted).unwrap();
        assert_eq!(inspection.platform_versions, ["0.1.3", "0.1.0"]);
        assert_eq!(inspection.imports.len(), 2);
    }

    #[test]
    fn what_is_not_a_component_of_our_world_is_refused_with_its_reason() {
        assert_eq!(
            code(inspect(b"MZ\x90\0", Imports::Granted)),
            "module_not_wasm"
        );
        let core = wat::parse_str("(module)").unwrap();
        let refused = inspect(&core, Imports::Granted).unwrap_err();
        assert_eq!(refused.code(), "module_not_component");
        assert!(refused.to_string().contains("wasm32-wasip2"), "{refused}");
        let command = component(&[], &["wasi:cli/run@0.2.0"]);
        assert_eq!(
            code(inspect(&command, Imports::Granted)),
            "module_not_of_world"
        );
        let truncated = &component(&[], &[MODULE])[..12];
        assert_eq!(code(inspect(truncated, Imports::Granted)), "module_invalid");
    }

    #[test]
    fn only_shipped_minors_of_the_wit_package_are_accepted() {
        for version in ["0.2.0", "1.1.0", "0.1", "x"] {
            let bytes = component(&[], &[&format!("verofield:platform/module@{version}")]);
            let refused = inspect(&bytes, Imports::Granted).unwrap_err();
            assert_eq!(refused.code(), "module_wit_unsupported", "{version}");
            assert!(refused.to_string().contains("0.1.x"), "{refused}");
        }
        let unversioned = component(&[], &["verofield:platform/module"]);
        assert_eq!(
            code(inspect(&unversioned, Imports::Granted)),
            "module_wit_unsupported"
        );
        let future_import = component(&["verofield:platform/store@0.2.0"], &[MODULE]);
        assert_eq!(
            code(inspect(&future_import, Imports::Granted)),
            "module_wit_unsupported"
        );
    }

    #[test]
    fn imports_outside_the_allowlist_are_refused_by_name_unless_granted() {
        for import in [
            "wasi:filesystem/types@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "acme:evil/thing",
        ] {
            let bytes = component(&[import], &[MODULE]);
            let refused = inspect(&bytes, Imports::Allowlisted).unwrap_err();
            assert_eq!(refused.code(), "module_import_refused");
            assert!(refused.to_string().contains(import), "{refused}");
            assert!(inspect(&bytes, Imports::Granted).is_ok());
        }
    }
}
