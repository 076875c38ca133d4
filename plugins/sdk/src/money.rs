//! Money and counts in integer minor units, computed with checked arithmetic.
//!
//! Amounts come from clients, and a product or sum past `i64` would wrap in a release build
//! (a huge order stored with a negative total) or trap in a debug one. Both are wrong
//! answers to what is the client's mistake, so every product and sum of amounts goes through
//! here and an overflow is a [`FieldError`] naming the field, which a [`crate::Validator`]
//! collects (`check.accept(money::product(...))`) or `?` turns into a 422.
//!
//! Every amount travels with its ISO 4217 currency: [`exponent`] says how many decimals the
//! minor unit has (JPY and KRW none, USD and EUR two, BHD and KWD three), an unknown code is
//! a 422 naming the field, and amounts of two currencies never meet ([`same_currency`], 422
//! `currency_mismatch`). [`div_round`] is the one rounding rule: half away from zero.

use crate::problem::{FieldError, Problem};

/// What an overflowing amount's field error says.
pub const TOO_LARGE: &str = "makes an amount too large to store";

/// `amount * factor` (a unit price times a quantity, a price times visits per year).
pub fn product(field: &str, amount: i64, factor: i64) -> Result<i64, FieldError> {
    amount
        .checked_mul(factor)
        .ok_or_else(|| FieldError::new(field, TOO_LARGE))
}

/// The sum of `amounts` (the lines of an order).
pub fn sum(field: &str, amounts: impl IntoIterator<Item = i64>) -> Result<i64, FieldError> {
    amounts
        .into_iter()
        .try_fold(0i64, i64::checked_add)
        .ok_or_else(|| FieldError::new(field, TOO_LARGE))
}

/// ISO 4217 codes whose minor unit is not the usual hundredth: how many decimals each has.
/// A code absent here and from [`TWO_DECIMALS`] is not a currency this platform knows.
const OTHER_EXPONENTS: &[(&str, u8)] = &[
    // No minor unit: amounts are whole yen, won, francs...
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    // Thousandths.
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    // Ten-thousandths.
    ("CLF", 4),
    ("UYW", 4),
];

/// The active ISO 4217 codes with two decimals.
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR",
    "ZMW", "ZWG",
];

/// What an unknown currency code's field error says.
pub const UNKNOWN_CURRENCY: &str = "is not an ISO 4217 currency code";

/// The number of decimals of an ISO 4217 currency (`JPY` 0, `USD` 2, `BHD` 3), or None for a
/// code that is not one (codes are upper case).
pub fn exponent(code: &str) -> Option<u8> {
    if TWO_DECIMALS.contains(&code) {
        return Some(2);
    }
    OTHER_EXPONENTS
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, exponent)| *exponent)
}

/// The currency's exponent, or a field error naming `field` (a 422 through `?`).
pub fn currency(field: &str, code: &str) -> Result<u8, FieldError> {
    exponent(code).ok_or_else(|| FieldError::new(field, UNKNOWN_CURRENCY))
}

/// Amounts of different currencies never add up: 422 `currency_mismatch`, naming both.
pub fn same_currency(field: &str, expected: &str, found: &str) -> Result<(), Problem> {
    if expected == found {
        return Ok(());
    }
    Err(Problem::new(
        422,
        "currency_mismatch",
        format!("`{field}` is in {found} but the amounts it joins are in {expected}"),
    )
    .with("expected_currency", expected)
    .with("currency", found))
}

/// `a + b`, or the overflow as a field error.
pub fn add(field: &str, a: i64, b: i64) -> Result<i64, FieldError> {
    a.checked_add(b)
        .ok_or_else(|| FieldError::new(field, TOO_LARGE))
}

/// `a - b`, or the overflow as a field error.
pub fn sub(field: &str, a: i64, b: i64) -> Result<i64, FieldError> {
    a.checked_sub(b)
        .ok_or_else(|| FieldError::new(field, TOO_LARGE))
}

/// `numerator / denominator` rounded half away from zero (`2.5 -> 3`, `-2.5 -> -3`), computed
/// in 128 bits; a quotient past `i64` is a field error. `denominator` must be positive.
pub fn div_round(field: &str, numerator: i128, denominator: i128) -> Result<i64, FieldError> {
    debug_assert!(denominator > 0);
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    let rounded = if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    };
    i64::try_from(rounded).map_err(|_| FieldError::new(field, TOO_LARGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_sums_that_fit_are_exact() {
        assert_eq!(product("total", 2_500, 4), Ok(10_000));
        assert_eq!(sum("lines", [1, 2, 3]), Ok(6));
        assert_eq!(sum("lines", []), Ok(0));
        assert_eq!(sum("lines", [i64::MAX, -1, 1]), Ok(i64::MAX));
    }

    #[test]
    fn an_overflow_names_the_field() {
        assert_eq!(
            product(
                "line_items[0].unit_price_minor",
                10_000_000_000_000_000,
                1_000
            ),
            Err(FieldError::new("line_items[0].unit_price_minor", TOO_LARGE))
        );
        assert_eq!(
            sum("line_items", [i64::MAX / 2, i64::MAX / 2, 2]),
            Err(FieldError::new("line_items", TOO_LARGE))
        );
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("KRW"), Some(0));
        assert_eq!(exponent("USD"), Some(2));
        assert_eq!(exponent("EUR"), Some(2));
        assert_eq!(exponent("BHD"), Some(3));
        assert_eq!(exponent("KWD"), Some(3));
        assert_eq!(exponent("XXX"), None);
        assert_eq!(exponent("usd"), None);
        assert_eq!(
            currency("currency", "ABC"),
            Err(FieldError::new("currency", UNKNOWN_CURRENCY))
        );
    }

    #[test]
    fn mismatched_currencies_are_a_422_with_a_code() {
        assert!(same_currency("amount", "USD", "USD").is_ok());
        let problem = same_currency("amount", "USD", "EUR").unwrap_err();
        assert_eq!((problem.status, problem.code), (422, "currency_mismatch"));
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round("x", 25, 10), Ok(3));
        assert_eq!(div_round("x", 24, 10), Ok(2));
        assert_eq!(div_round("x", -25, 10), Ok(-3));
        assert_eq!(div_round("x", -24, 10), Ok(-2));
        assert_eq!(div_round("x", 0, 7), Ok(0));
        assert_eq!(
            div_round("x", i128::from(i64::MAX) * 4, 2),
            Err(FieldError::new("x", TOO_LARGE))
        );
        assert_eq!(add("x", i64::MAX, 1), Err(FieldError::new("x", TOO_LARGE)));
        assert_eq!(sub("x", 5, 7), Ok(-2));
    }
}
