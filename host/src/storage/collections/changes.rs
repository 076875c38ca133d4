//! Which changes a new version of a module may make to its collections: only additions that
//! existing rows and older versions of the module can live with. New collections, new columns
//! that are nullable or have a default, and new indexes pass; dropping or renaming anything,
//! changing a type, a requirement or a default, a required column without a default, and new
//! uniqueness on an existing collection (its rows may already break it) are refused with the
//! collection, the column and the reason. Pure: the registry feeds it what was published.

use std::collections::BTreeSet;

use super::spec::{Collection, Collections};

/// Why an upgrade was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub collection: String,
    pub column: Option<String>,
    pub why: &'static str,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(
                f,
                "collection `{}`, column `{column}`: {}",
                self.collection, self.why
            ),
            None => write!(f, "collection `{}`: {}", self.collection, self.why),
        }
    }
}

/// What every version published so far declared, together: the shape the tables have.
pub fn merged<'a>(published: impl IntoIterator<Item = &'a Collections>) -> Collections {
    let mut merged = Collections::new();
    for collections in published {
        for (name, collection) in collections {
            let into = merged.entry(name.clone()).or_default();
            for (column, spec) in &collection.columns {
                into.columns
                    .entry(column.clone())
                    .or_insert_with(|| spec.clone());
            }
            for (keys, from) in [
                (&mut into.indexes, &collection.indexes),
                (&mut into.unique, &collection.unique),
            ] {
                for key in from {
                    if !keys.contains(key) {
                        keys.push(key.clone());
                    }
                }
            }
        }
    }
    merged
}

/// Checks that `next` only adds to `current`.
pub fn check(current: &Collections, next: &Collections) -> Result<(), Refusal> {
    for (name, before) in current {
        let refuse = |column: Option<&str>, why| Refusal {
            collection: name.clone(),
            column: column.map(str::to_owned),
            why,
        };
        let Some(after) = next.get(name) else {
            return Err(refuse(
                None,
                "an earlier version declares it; a new version may not drop a collection",
            ));
        };
        check_collection(before, after).map_err(|(column, why)| refuse(column, why))?;
    }
    Ok(())
}

fn check_collection<'a>(
    before: &'a Collection,
    after: &'a Collection,
) -> Result<(), (Option<&'a str>, &'static str)> {
    for (column, was) in &before.columns {
        let Some(now) = after.columns.get(column) else {
            return Err((
                Some(column),
                "an earlier version declares it; a new version may not drop or rename a column",
            ));
        };
        if now.kind != was.kind {
            return Err((Some(column), "its type may not change"));
        }
        if now.required != was.required {
            return Err((Some(column), "whether it is required may not change"));
        }
        if now.default != was.default {
            return Err((Some(column), "its default may not change"));
        }
    }
    for (column, spec) in &after.columns {
        if !before.columns.contains_key(column) && spec.required && spec.default.is_none() {
            return Err((
                Some(column),
                "a column added to an existing collection must be nullable or have a default",
            ));
        }
    }
    let keys = |keys: &'a [Vec<String>]| keys.iter().collect::<BTreeSet<_>>();
    if !keys(&before.indexes).is_subset(&keys(&after.indexes)) {
        return Err((
            None,
            "an index an earlier version declares may not be dropped",
        ));
    }
    let (unique_before, unique_after) = (keys(&before.unique), keys(&after.unique));
    if !unique_before.is_subset(&unique_after) {
        return Err((
            None,
            "a unique key an earlier version declares may not be dropped",
        ));
    }
    if let Some(added) = unique_after.difference(&unique_before).next() {
        let column = added.first().map(String::as_str);
        return Err((
            column,
            "uniqueness may not be added to an existing collection (its rows may already repeat)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn collections(value: Value) -> Collections {
        serde_json::from_value(value).unwrap()
    }

    fn v1() -> Collections {
        collections(json!({"tickets": {
            "columns": {"title": {"type": "text", "required": true},
                        "priority": {"type": "integer", "default": 3}},
            "indexes": [["priority"]], "unique": [["title"]]}}))
    }

    fn refused(next: Value) -> Refusal {
        check(&v1(), &collections(next)).unwrap_err()
    }

    #[test]
    fn additions_pass() {
        let next = collections(json!({
            "tickets": {"columns": {"title": {"type": "text", "required": true},
                                    "priority": {"type": "integer", "default": 3},
                                    "due": {"type": "date"},
                                    "state": {"type": "text", "required": true, "default": "open"}},
                        "indexes": [["priority"], ["due"]], "unique": [["title"]]},
            "notes": {"columns": {"body": {"type": "text", "required": true}}, "unique": [["body"]]}}));
        check(&v1(), &next).unwrap();
        check(&v1(), &v1()).unwrap();
        check(&Collections::new(), &next).unwrap();
    }

    #[test]
    fn every_other_change_is_refused_with_its_column() {
        let title = json!({"type": "text", "required": true});
        let priority = json!({"type": "integer", "default": 3});
        let cases = [
            (json!({}), None, "drop a collection"),
            (
                json!({"tickets": {"columns": {"title": title}, "indexes": [["title"]], "unique": [["title"]]}}),
                Some("priority"),
                "drop or rename",
            ),
            (
                json!({"tickets": {"columns": {"title": {"type": "jsonb", "required": true}, "priority": priority},
                                "indexes": [["priority"]], "unique": [["title"]]}}),
                Some("title"),
                "type",
            ),
            (
                json!({"tickets": {"columns": {"title": {"type": "text"}, "priority": priority},
                                "indexes": [["priority"]], "unique": [["title"]]}}),
                Some("title"),
                "required",
            ),
            (
                json!({"tickets": {"columns": {"title": title, "priority": {"type": "integer", "default": 4}},
                                "indexes": [["priority"]], "unique": [["title"]]}}),
                Some("priority"),
                "default",
            ),
            (
                json!({"tickets": {"columns": {"title": title, "priority": priority, "owner": {"type": "uuid", "required": true}},
                                "indexes": [["priority"]], "unique": [["title"]]}}),
                Some("owner"),
                "nullable or have a default",
            ),
            (
                json!({"tickets": {"columns": {"title": title, "priority": priority},
                                "indexes": [["priority"]], "unique": [["title"], ["priority"]]}}),
                Some("priority"),
                "uniqueness",
            ),
            (
                json!({"tickets": {"columns": {"title": title, "priority": priority}, "unique": [["title"]]}}),
                None,
                "index",
            ),
        ];
        for (next, column, why) in cases {
            let refusal = refused(next.clone());
            assert_eq!(refusal.collection, "tickets", "{next}");
            assert_eq!(refusal.column.as_deref(), column, "{next}");
            assert!(refusal.why.contains(why), "{next}: {}", refusal.why);
        }
    }

    #[test]
    fn merging_keeps_what_any_version_declared() {
        let v2 = collections(
            json!({"tickets": {"columns": {"due": {"type": "date"}}, "indexes": [["due"]]}}),
        );
        let merged = merged([&v1(), &v2]);
        let tickets = &merged["tickets"];
        assert_eq!(tickets.columns.len(), 3);
        assert_eq!(tickets.indexes.len(), 2);
        assert_eq!(tickets.unique, vec![vec!["title".to_owned()]]);
    }
}
