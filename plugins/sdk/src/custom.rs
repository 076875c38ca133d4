//! A tenant's custom fields in list endpoints (issue 24). The values live in a row's
//! `custom` object and the host's store checks every write of it against the tenant's
//! definitions, so a module only passes `custom` through. For lists, `?custom.<key>=value`
//! filters (equality) and `sort=custom.<key>` / `sort=-custom.<key>` sorts: both become
//! store columns named `custom.<key>`, which the host resolves against the definitions
//! (an undefined key, or a value not of the field's type, is a 422 naming `custom.<key>`).

use crate::http::Request;
use crate::problem::Problem;
use crate::store::Filter;

/// A key as the host defines them: a lower-case letter, then up to 39 lower-case letters,
/// digits or `_`.
fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= 40
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// The `custom.<key>=value` query parameters as equality filters; a malformed key is 400.
pub fn filters(request: &Request) -> Result<Vec<Filter>, Problem> {
    request
        .query
        .iter()
        .filter_map(|(name, value)| Some((name, name.strip_prefix("custom.")?, value)))
        .map(|(name, key, value)| match is_key(key) {
            true => Ok(Filter::eq(name, value.as_str())),
            false => Err(Problem::invalid_query(
                name,
                "`custom.` and a custom field's key",
            )),
        })
        .collect()
}

/// Whether a `sort` value names a custom field (`custom.<key>` or `-custom.<key>`).
pub fn is_sort(sort: &str) -> bool {
    sort.trim_start_matches('-')
        .strip_prefix("custom.")
        .is_some_and(is_key)
}

/// The `sort` of a list whose only client sorts are custom fields: none when absent, the
/// value when it names a custom field, otherwise 400 naming `sort`.
pub fn only_sort(request: &Request) -> Result<Option<&str>, Problem> {
    match request.query("sort") {
        None => Ok(None),
        Some(sort) if is_sort(sort) => Ok(Some(sort)),
        Some(_) => Err(Problem::invalid_query(
            "sort",
            "custom.<key> or -custom.<key>",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_hosts_pattern() {
        assert!(is_sort("custom.tier") && is_sort("-custom.size_2"));
        for sort in ["custom.", "custom.Tier", "custom.a'b", "name", "custom.9x"] {
            assert!(!is_sort(sort), "{sort}");
        }
    }
}
