//! Event type names and the patterns that select them, shared by module subscriptions
//! (`events.subscribe` in a manifest) and webhook endpoint filters.
//!
//! A type is dotted lower-case words (`job.completed`). A pattern is a type, or a prefix
//! `job.*` that takes every type below `job.` (`job.completed`, `job.status.changed`) but not
//! `job` itself nor `jobs.created`.

/// Whether `pattern` selects `event_type`.
pub fn selects(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix) && event_type.len() > prefix.len(),
        None => pattern == event_type,
    }
}

/// Whether `pattern` is a type or a prefix pattern: dotted lower-case words (letters, digits,
/// `_`), a `*` only as the whole last word, at most 100 characters.
pub fn is_valid_pattern(pattern: &str) -> bool {
    let exact = pattern.strip_suffix(".*").unwrap_or(pattern);
    pattern.len() <= 100
        && !exact.is_empty()
        && exact.split('.').all(|word| {
            let mut chars = word.chars();
            chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns_take_what_is_below_them() {
        assert!(selects("job.*", "job.completed"));
        assert!(selects("job.*", "job.status.changed"));
        assert!(!selects("job.*", "job"));
        assert!(!selects("job.*", "jobs.created"));
        assert!(selects("job.completed", "job.completed"));
        assert!(!selects("job.completed", "job.completed.late"));
    }

    #[test]
    fn patterns_are_dotted_words() {
        for good in [
            "job.*",
            "job.completed",
            "webhook.endpoint_disabled",
            "a.b2.c",
        ] {
            assert!(is_valid_pattern(good), "{good}");
        }
        for bad in [
            "",
            "*",
            ".*",
            "Job.created",
            "job.*.x",
            "job*",
            "job..x",
            "job.created ",
        ] {
            assert!(!is_valid_pattern(bad), "{bad}");
        }
    }
}
