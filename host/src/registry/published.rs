//! What this host knows of the published versions: their metadata (never their bytes), keyed
//! by digest. It holds only versions that exist in `module_versions`, so its size is bounded by
//! what operators publish, never by what clients type into a URL: a look-up that finds nothing
//! leaves nothing behind. Versions are never unpublished, so entries are only ever added.

use std::collections::HashMap;

use super::Version;

#[derive(Default)]
pub(super) struct Catalog {
    versions: HashMap<String, Version>,
    /// The newest built-in per slot: what serves a tenant without a binding.
    builtins: HashMap<String, Version>,
}

impl Catalog {
    pub(super) fn len(&self) -> usize {
        self.versions.len()
    }

    pub(super) fn add(&mut self, version: Version) {
        if version.builtin {
            let newer = match self.builtins.get(&version.slot) {
                Some(current) => {
                    (version.published_at, &version.digest)
                        > (current.published_at, &current.digest)
                }
                None => true,
            };
            if newer {
                self.builtins.insert(version.slot.clone(), version.clone());
            }
        }
        self.versions.insert(version.digest.clone(), version);
    }

    pub(super) fn builtin(&self, slot: &str) -> Option<&Version> {
        self.builtins.get(slot)
    }

    pub(super) fn versions(&self) -> impl Iterator<Item = &Version> {
        self.versions.values()
    }

    pub(super) fn builtins(&self) -> impl Iterator<Item = &Version> {
        self.builtins.values()
    }

    /// A version by digest or by `name@version`.
    pub(super) fn find(&self, reference: &str) -> Option<&Version> {
        self.versions.get(reference).or_else(|| {
            let (name, version) = reference.split_once('@')?;
            self.versions
                .values()
                .find(|v| v.name == name && v.version == version)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(digest: char, slot: &str, builtin: bool, second: i64) -> Version {
        Version {
            digest: digest.to_string().repeat(64),
            name: format!("{slot}-{digest}"),
            version: "1.0.0".into(),
            slot: slot.into(),
            builtin,
            published_at: chrono::DateTime::from_timestamp(second, 0).unwrap(),
            publisher_id: None,
            visibility: "private".into(),
            notes: String::new(),
        }
    }

    #[test]
    fn the_newest_builtin_serves_and_uploads_never_do() {
        let mut catalog = Catalog::default();
        catalog.add(version('a', "crm", true, 10));
        catalog.add(version('b', "crm", true, 20));
        catalog.add(version('c', "crm", false, 30));
        // Published again (another host's notice): still the newest.
        catalog.add(version('a', "crm", true, 10));
        assert_eq!(catalog.builtin("crm").unwrap().name, "crm-b");
        assert_eq!(catalog.len(), 3);
        assert_eq!(catalog.find("crm-c@1.0.0").unwrap().digest, "c".repeat(64));
        assert_eq!(catalog.find(&"a".repeat(64)).unwrap().name, "crm-a");
    }

    #[test]
    fn looking_up_unknown_slots_and_versions_stores_nothing() {
        let mut catalog = Catalog::default();
        catalog.add(version('a', "crm", true, 10));
        for i in 0..10_000 {
            assert!(catalog.builtin(&format!("slot-{i}")).is_none());
            assert!(catalog.find(&format!("nothing@{i}")).is_none());
        }
        assert_eq!(catalog.len(), 1);
        assert_eq!(catalog.builtins().count(), 1);
    }
}
