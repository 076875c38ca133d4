//! Which files of the built-in modules directory are modules. That directory is a cargo target
//! directory, which also holds wasm binaries that are not modules (the routing benchmark
//! `vrptw-bench.wasm`, a WASI command): a file is a module artifact when it is a component
//! exporting our `verofield:platform/module` interface. Deciding by what a file exports rather
//! than by its name needs no naming rule for module crates, costs one pass of the parser (no
//! compilation), and keeps the start-up log's warnings for modules that fail to publish.

use super::validation::is_module_interface;

/// What a `.wasm` file in the built-ins directory is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Artifact {
    /// A component exporting our module interface: published (a failure is worth a warning).
    Module,
    /// Valid WebAssembly that is not a module (a command, a core module): passed over.
    NotAModule,
    /// Not WebAssembly at all: worth a warning, it may be a broken build.
    Unreadable(String),
}

pub(super) fn classify(bytes: &[u8]) -> Artifact {
    // Nested modules and components each begin with a `Version` and end with an `End`
    // payload; only the outermost component's exports count.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = match payload {
            Ok(payload) => payload,
            Err(error) => return Artifact::Unreadable(error.to_string()),
        };
        match payload {
            wasmparser::Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != wasmparser::Encoding::Component {
                    return Artifact::NotAModule;
                }
                depth += 1;
            }
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentExportSection(exports) if depth == 1 => {
                for export in exports {
                    match export {
                        Ok(export) if is_module_interface(export.name.name) => {
                            return Artifact::Module;
                        }
                        Ok(_) => {}
                        Err(error) => return Artifact::Unreadable(error.to_string()),
                    }
                }
            }
            _ => {}
        }
    }
    Artifact::NotAModule
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_components_exporting_the_module_interface_are_modules() {
        let module = wat::parse_str(
            r#"(component
                 (core module $m)
                 (instance $i)
                 (export "verofield:platform/module@0.1.0" (instance $i)))"#,
        )
        .unwrap();
        assert_eq!(classify(&module), Artifact::Module);
        let command = wat::parse_str(
            r#"(component
                 (instance $i)
                 (export "wasi:cli/run@0.2.0" (instance $i))
                 (export "verofield:platform/modules" (instance $i)))"#,
        )
        .unwrap();
        assert_eq!(classify(&command), Artifact::NotAModule);
        assert_eq!(
            classify(&wat::parse_str("(module)").unwrap()),
            Artifact::NotAModule
        );
        assert!(matches!(classify(b"not wasm"), Artifact::Unreadable(_)));
    }

    #[test]
    fn exports_beyond_the_world_do_not_matter() {
        // componentize-py adds an unversioned `exports` interface (its pre-init hook).
        let python = wat::parse_str(
            r#"(component
                 (instance $i)
                 (export "exports" (instance $i))
                 (export "verofield:platform/module@0.1.0" (instance $i)))"#,
        )
        .unwrap();
        assert_eq!(classify(&python), Artifact::Module);
    }
}
