//! [`Patch<T>`]: a body field that tells "absent" from "null" from a value, which PATCH
//! semantics need (absent leaves the column alone, null clears it). A body struct of
//! `Patch` fields serializes straight into store values, absent fields left out:
//!
//! ```ignore
//! #[derive(Deserialize, Serialize)]
//! struct CustomerFields {
//!     #[serde(default, skip_serializing_if = "Patch::is_absent")]
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

    #[derive(Debug, Default, Deserialize, Serialize)]
    struct Fields {
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        email: Patch<String>,
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        phone: Patch<String>,
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
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
}
