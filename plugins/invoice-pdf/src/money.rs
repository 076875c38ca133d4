//! Amounts as printed on an invoice, locale-neutral: the ISO 4217 code, a space, the digits
//! grouped by threes with `,` and the minor part after a `.` as many digits long as the
//! currency's exponent (`USD 12,345.67`, `JPY 1,234,567`, `BHD 1.500`, `USD -5.00`).
//!
//! Neutral on purpose: the invoice's reader may not share the tenant's locale, and a code
//! in front can never be mistaken for another dollar. Integer arithmetic only, so no amount
//! that fits in `i64` is ever rounded.

/// `minor` with its currency code: `USD 1,234.56`.
pub fn with_code(minor: i64, currency: &str, exponent: u8) -> String {
    format!("{currency} {}", amount(minor, exponent))
}

/// `minor` without its code, for a column whose heading names the currency: `1,234.56`.
pub fn amount(minor: i64, exponent: u8) -> String {
    let digits = minor.unsigned_abs().to_string();
    let exponent = usize::from(exponent);
    // Left-pad so there is at least one digit before the separator: 5 cents -> "005".
    let digits = format!("{digits:0>width$}", width = exponent + 1);
    let (major, fraction) = digits.split_at(digits.len() - exponent);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    if minor < 0 {
        out.push('-');
    }
    for (i, digit) in major.chars().enumerate() {
        if i > 0 && (major.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_the_exponent() {
        assert_eq!(with_code(1_234_567, "USD", 2), "USD 12,345.67");
        assert_eq!(with_code(1_234_567, "JPY", 0), "JPY 1,234,567");
        assert_eq!(with_code(1_500, "BHD", 3), "BHD 1.500");
        assert_eq!(amount(5, 2), "0.05");
        assert_eq!(amount(0, 2), "0.00");
        assert_eq!(amount(0, 0), "0");
        assert_eq!(amount(100_000, 2), "1,000.00");
        assert_eq!(amount(999, 0), "999");
    }

    #[test]
    fn negatives_and_extremes_are_exact() {
        assert_eq!(with_code(-500, "USD", 2), "USD -5.00");
        assert_eq!(amount(i64::MIN, 2), "-92,233,720,368,547,758.08");
        assert_eq!(amount(i64::MAX, 0), "9,223,372,036,854,775,807");
    }
}
