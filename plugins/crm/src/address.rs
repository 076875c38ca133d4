//! Postal addresses: a customer's billing address and a location's address, stored as JSON
//! objects. A location also stores the address joined into one line (`address_text`), which
//! is what text search runs on.

use serde::{Deserialize, Serialize};
use verofield_sdk::Validator;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    fn parts(&self) -> [(&'static str, Option<&String>); 6] {
        [
            ("line1", self.line1.as_ref()),
            ("line2", self.line2.as_ref()),
            ("city", self.city.as_ref()),
            ("region", self.region.as_ref()),
            ("postal_code", self.postal_code.as_ref()),
            ("country", self.country.as_ref()),
        ]
    }

    /// Checks each part's length, naming the field as `{field}.{part}`.
    pub fn validate(&self, field: &str, check: &mut Validator) {
        for (part, value) in self.parts() {
            check.length(&format!("{field}.{part}"), value, 0..=200);
        }
    }

    /// The non-blank parts, trimmed, joined with ", ".
    pub fn joined(&self) -> String {
        self.parts()
            .into_iter()
            .filter_map(|(_, value)| value.map(|text| text.trim()))
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_the_non_blank_parts_in_order() {
        let address = Address {
            line1: Some(" 1 Main St ".into()),
            line2: Some("".into()),
            city: Some("Springfield".into()),
            postal_code: Some("12345".into()),
            country: Some("US".into()),
            ..Address::default()
        };
        assert_eq!(address.joined(), "1 Main St, Springfield, 12345, US");
        assert_eq!(Address::default().joined(), "");
    }
}
