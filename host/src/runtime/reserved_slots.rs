//! Slots no module may take. A module's slot becomes `/v1/{slot}/...`, so a module named after
//! one of the host's own `/v1` prefixes would shadow the host's routes (or be shadowed by
//! them, serving a tenant something other than what its admin bound). Uploads with such a slot
//! are refused (422 `module_slot_reserved`, in `Manifest::validate`) and the dispatch never
//! routes under one, whatever a version stored before this list grew says.
//!
//! The list is kept in one place and a test reads the host's router sources (`http/*.rs`) for
//! every `/v1/<prefix>` a route is declared under, so a new host route cannot be forgotten.

/// The first path segments under `/v1` that belong to the host, sorted. `payments` is kept for
/// the host's payment routes to come; `baseline` is the HTTP benchmark's native route.
pub const RESERVED_SLOTS: &[&str] = &[
    "api-keys",
    "audit",
    "auth",
    "baseline",
    "events",
    "exports",
    "imports",
    "me",
    "modules",
    "openapi.json",
    "operator",
    "payments",
    "publisher",
    "roles",
    "scheduled-tasks",
    "tenant",
    "users",
    "webhooks",
];

/// Whether `slot` is one of the host's own prefixes.
pub fn is_reserved(slot: &str) -> bool {
    RESERVED_SLOTS.binary_search(&slot).is_ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The first segment of every `/v1/...` path the host's router sources declare: the
    /// literal after each `.route(` and each `const ...: &str = "/v1/..."`.
    fn declared_prefixes() -> Vec<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let after_route = source.split(".route(").skip(1).map(str::trim_start);
            let after_const = source
                .lines()
                .filter(|line| line.contains("const ") && line.contains(": &str = "))
                .filter_map(|line| line.split_once(" = ").map(|(_, value)| value));
            for literal in after_route.chain(after_const) {
                let Some(rest) = literal.strip_prefix("\"/v1/") else {
                    continue;
                };
                let end = rest.find(['/', '"']).unwrap_or(rest.len());
                found.push((rest[..end].to_owned(), file.clone()));
            }
        }
        found
    }

    #[test]
    fn every_host_prefix_under_v1_is_reserved() {
        let prefixes = declared_prefixes();
        assert!(
            prefixes.len() > 30,
            "the scan found only {} routes",
            prefixes.len()
        );
        let forgotten: Vec<_> = prefixes
            .iter()
            .filter(|(prefix, _)| prefix != "{slot}" && !is_reserved(prefix))
            .collect();
        assert!(
            forgotten.is_empty(),
            "host prefixes missing from RESERVED_SLOTS: {forgotten:?}"
        );
    }

    #[test]
    fn the_list_is_sorted_and_module_slots_stay_free() {
        assert!(RESERVED_SLOTS.windows(2).all(|pair| pair[0] < pair[1]));
        for slot in ["crm", "jobs", "billing", "routing", "kpis", "acme-tool"] {
            assert!(!is_reserved(slot), "{slot}");
        }
        assert!(is_reserved("publisher") && is_reserved("openapi.json"));
    }
}
