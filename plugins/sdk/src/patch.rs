//! [`Patch<T>`]: a body field that tells "absent" from "null" from a value, which PATCH
//! semantics need (absent leaves the column alone, null clears it). A body struct of
//! `Patch` fields serializes straight into store values, absent fields left out; the
//! [`patch_fields`](crate::patch_fields) attribute gives every `Patch` field the serde
//! attribute this takes (`default, skip_serializing_if = "Patch::is_absent"`):
//!
//! ```ignore
//! #[verofield_sdk::patch_fields]
//! #[derive(Default, Deserialize, Serialize)]
//! struct CustomerFields {
//!     email: Patch<String>,
//! }
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The field was not in the body.
    #[default]
    Absent,
    /// The field was `null`.
    Null,
    Value(T),
}

/// In a schema a `Patch<T>` is an `Option<T>`: the field may be absent or null.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Patch<T> {
    fn inline_schema() -> bool {
        <Option<T>>::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Option<T>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Option<T>>::json_schema(generator)
    }
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(value) => Some(value),
            _ => None,
        }
    }

    /// Rewrites a present value in place (trimming, normalizing case); `None` makes it null.
    pub fn normalize(&mut self, rewrite: impl FnOnce(T) -> Option<T>) {
        if let Self::Value(_) = self
            && let Self::Value(value) = std::mem::take(self)
        {
            *self = rewrite(value).map_or(Self::Null, Self::Value);
        }
    }
}

impl Patch<String> {
    /// An optional text such as a phone number: trimmed, and blank is null.
    pub fn trim_or_null(&mut self) {
        self.normalize(|text| Some(text.trim().to_owned()).filter(|text| !text.is_empty()));
    }

    /// An optional e-mail address: trimmed and lower-cased, and blank is null.
    pub fn normalize_email(&mut self) {
        self.normalize(|email| Some(email.trim().to_lowercase()).filter(|email| !email.is_empty()));
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// Only called for a field that is present (absent ones take `#[serde(default)]`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Self::Null, Self::Value))
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    /// A value as itself, null as null; skip absent fields with `skip_serializing_if`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(value) => value.serialize(serializer),
            Self::Absent | Self::Null => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[crate::patch_fields]
    #[derive(Debug, Default, Deserialize, Serialize)]
    struct Fields {
        email: Patch<String>,
        phone: Patch<String>,
        name: Patch<String>,
    }

    #[test]
    fn tells_absent_from_null_from_value() {
        let mut fields: Fields =
            serde_json::from_str(r#"{"email": null, "phone": " 555 "}"#).unwrap();
        assert_eq!(fields.email, Patch::Null);
        assert_eq!(fields.name, Patch::Absent);
        fields
            .phone
            .normalize(|phone| Some(phone.trim().to_owned()));
        fields.email.normalize(|_| unreachable!("null stays null"));
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            serde_json::json!({"email": null, "phone": "555"})
        );
        fields.phone.normalize(|_| None);
        assert!(fields.phone.is_null());
    }

    #[test]
    fn optional_texts_and_emails() {
        let mut fields: Fields =
            serde_json::from_str(r#"{"email": " Bo@Example.COM ", "phone": "  "}"#).unwrap();
        fields.email.normalize_email();
        fields.phone.trim_or_null();
        fields.name.trim_or_null();
        assert_eq!(fields.email, Patch::Value("bo@example.com".to_owned()));
        assert!(fields.phone.is_null());
        assert!(fields.name.is_absent());
        let mut blank = Patch::Value(" ".to_owned());
        blank.normalize_email();
        assert!(blank.is_null());
        let mut phone = Patch::Value(" 555 ".to_owned());
        phone.trim_or_null();
        assert_eq!(phone, Patch::Value("555".to_owned()));
    }

    #[crate::patch_fields]
    #[derive(Debug, Default, Deserialize, Serialize)]
    struct ServerSet {
        count: crate::patch::Patch<u8>,
        #[serde(skip_deserializing)]
        created_by: Patch<String>,
        untouched: Option<u8>,
    }

    #[test]
    fn patch_fields_covers_qualified_and_server_set_fields() {
        let mut fields: ServerSet = serde_json::from_str(r#"{"created_by": "x"}"#).unwrap();
        assert!(fields.count.is_absent());
        assert!(fields.created_by.is_absent());
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            serde_json::json!({"untouched": null})
        );
        fields.created_by = Patch::Value("me".to_owned());
        fields.count = Patch::Null;
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            serde_json::json!({"count": null, "created_by": "me", "untouched": null})
        );
    }
}
