//! Money and counts in integer minor units, computed with checked arithmetic.
//!
//! Amounts come from clients, and a product or sum past `i64` would wrap in a release build
//! (a huge order stored with a negative total) or trap in a debug one. Both are wrong
//! answers to what is the client's mistake, so every product and sum of amounts goes through
//! here and an overflow is a [`FieldError`] naming the field, which a [`crate::Validator`]
//! collects (`check.accept(money::product(...))`) or `?` turns into a 422.

use crate::problem::FieldError;

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
}
