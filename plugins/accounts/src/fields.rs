//! The account as answered, the `PATCH` body, and every field's check. Each bad field is
//! named in one 422 (`validation_failed`); values are normalised before they are checked
//! (trimmed; an upper-case currency and prefix, a lower-case colour, a phone number with its
//! spaces and punctuation taken out) so that what is stored is one spelling.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use verofield_sdk::{Patch, Problem, Validator, money};

use crate::hours::{self, BusinessHours};

/// Fields a client sees but does not set through `PATCH`: the tenant's time zone is set
/// with the tenant, and the logo through `PUT /v1/account/logo`.
pub const READ_ONLY: [&str; 4] = [
    "time_zone",
    "logo_content_type",
    "logo_bytes",
    "logo_sha256",
];

/// The company account.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Account {
    /// The company's legal name, printed on invoices.
    pub legal_name: String,
    /// Postal address, at most 6 lines.
    pub address_lines: Vec<String>,
    /// E.164 (`+15125550100`), or empty.
    pub phone: String,
    /// The tenant's IANA time zone: what "today" and business hours mean (read-only here).
    #[serde(default)]
    pub time_zone: String,
    /// ISO 4217 code of the company's money.
    pub currency: String,
    /// BCP 47 language tag (`en-US`).
    pub locale: String,
    /// Weekday (`mon` .. `sun`) to `{open, close}` intervals in local `HH:MM`.
    pub business_hours: BusinessHours,
    /// Default sales tax: percent times 10^4, as billing's tax rates (8.25 % is 82500).
    pub tax_percent_e4: i64,
    /// Whether prices include that tax.
    pub tax_inclusive: bool,
    /// Start of invoice numbers (`INV` gives `INV-000042`).
    pub invoice_prefix: String,
    /// Days from issue to due date on new invoices (0: due on receipt).
    pub payment_terms_days: i64,
    /// `#rrggbb`, for invoices and the console.
    pub brand_color: String,
    /// `image/png` or `image/jpeg` when a logo is set.
    pub logo_content_type: Option<String>,
    pub logo_bytes: Option<i64>,
    /// sha256 of the logo's bytes, hex (its ETag at `GET /v1/account/logo`).
    pub logo_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `PATCH /v1/account`: the fields to change; absent ones stay. `business_hours` replaces
/// the whole week (a day left out is closed).
#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountFields {
    pub legal_name: Patch<String>,
    pub address_lines: Patch<Vec<String>>,
    pub phone: Patch<String>,
    pub currency: Patch<String>,
    pub locale: Patch<String>,
    pub business_hours: Patch<BusinessHours>,
    pub tax_percent_e4: Patch<i64>,
    pub tax_inclusive: Patch<bool>,
    pub invoice_prefix: Patch<String>,
    pub payment_terms_days: Patch<i64>,
    pub brand_color: Patch<String>,
}

impl AccountFields {
    /// Normalises every present field, then checks them all: 422 naming each bad one.
    pub fn normalize_and_check(&mut self) -> Result<(), Problem> {
        self.normalize();
        let mut check = Validator::default();
        for (field, null) in self.nulls() {
            check.check(!null, field, "may not be null");
        }
        check.length("legal_name", self.legal_name.value(), 1..=200);
        if let Some(lines) = self.address_lines.value() {
            check.check(
                lines.len() <= 6,
                "address_lines",
                "may hold at most 6 lines",
            );
            for (i, line) in lines.iter().enumerate() {
                check.length(&format!("address_lines[{i}]"), Some(line), 1..=200);
            }
        }
        if let Some(phone) = self.phone.value() {
            check.check(
                phone.is_empty() || is_e164(phone),
                "phone",
                "must be an international number: + and 7 to 15 digits (E.164), or empty",
            );
        }
        if let Some(currency) = self.currency.value() {
            check.accept(money::currency("currency", currency));
        }
        if let Some(locale) = self.locale.value() {
            check.check(
                is_language_tag(locale),
                "locale",
                "must be a BCP 47 language tag such as en-US or fr-CA",
            );
        }
        if let Patch::Value(week) = &self.business_hours {
            self.business_hours = Patch::Value(hours::check(&mut check, week));
        }
        if let Some(rate) = self.tax_percent_e4.value() {
            check.check(
                (0..=1_000_000).contains(rate),
                "tax_percent_e4",
                "must be 0 to 1000000 (percent times 10^4: 8.25 % is 82500)",
            );
        }
        if let Some(prefix) = self.invoice_prefix.value() {
            check.check(
                is_invoice_prefix(prefix),
                "invoice_prefix",
                "must be 1 to 16 letters, digits or dashes, not starting with a dash",
            );
        }
        if let Some(days) = self.payment_terms_days.value() {
            check.check(
                (0..=365).contains(days),
                "payment_terms_days",
                "must be 0 to 365",
            );
        }
        if let Some(colour) = self.brand_color.value() {
            check.check(is_hex_colour(colour), "brand_color", "must be #rrggbb");
        }
        check.finish()
    }

    fn normalize(&mut self) {
        self.legal_name
            .normalize(|name| Some(name.trim().to_owned()));
        self.address_lines
            .normalize(|lines| Some(lines.iter().map(|l| l.trim().to_owned()).collect()));
        self.phone
            .normalize(|phone| Some(phone.chars().filter(|c| !" -.()".contains(*c)).collect()));
        self.currency
            .normalize(|code| Some(code.trim().to_ascii_uppercase()));
        self.locale.normalize(|tag| Some(tag.trim().to_owned()));
        self.invoice_prefix
            .normalize(|p| Some(p.trim().to_ascii_uppercase()));
        self.brand_color
            .normalize(|c| Some(c.trim().to_ascii_lowercase()));
    }

    fn nulls(&self) -> [(&'static str, bool); 11] {
        [
            ("legal_name", self.legal_name.is_null()),
            ("address_lines", self.address_lines.is_null()),
            ("phone", self.phone.is_null()),
            ("currency", self.currency.is_null()),
            ("locale", self.locale.is_null()),
            ("business_hours", self.business_hours.is_null()),
            ("tax_percent_e4", self.tax_percent_e4.is_null()),
            ("tax_inclusive", self.tax_inclusive.is_null()),
            ("invoice_prefix", self.invoice_prefix.is_null()),
            ("payment_terms_days", self.payment_terms_days.is_null()),
            ("brand_color", self.brand_color.is_null()),
        ]
    }

    /// The names of the fields the body sets, sorted (the event's `changed`).
    pub fn changed(&self) -> Vec<String> {
        let values = serde_json::to_value(self).unwrap_or_default();
        values
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// `+` and 7 to 15 digits, the first not 0 (E.164).
fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A well-formed BCP 47 tag, simply: a 2-3 letter language, then subtags of 1 to 8 letters
/// or digits (script, region, variants), 35 characters at most.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let language = subtags.next().unwrap_or_default();
    tag.len() <= 35
        && (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// 1 to 16 upper-case letters, digits or dashes, not starting with a dash (billing prints
/// `PREFIX-000042`).
fn is_invoice_prefix(prefix: &str) -> bool {
    (1..=16).contains(&prefix.len())
        && !prefix.starts_with('-')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

fn is_hex_colour(colour: &str) -> bool {
    colour.strip_prefix('#').is_some_and(|hex| {
        hex.len() == 6
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_e164("+15125550100") && !is_e164("5125550100") && !is_e164("+0123456"));
        assert!(
            is_language_tag("en") && is_language_tag("zh-Hant-TW") && is_language_tag("es-419")
        );
        assert!(!is_language_tag("e") && !is_language_tag("en_US") && !is_language_tag("en--US"));
        assert!(
            is_invoice_prefix("ACME-26") && !is_invoice_prefix("-A") && !is_invoice_prefix("a")
        );
        assert!(is_hex_colour("#2f6f4f") && !is_hex_colour("#2F6F4") && !is_hex_colour("red"));
    }
}
