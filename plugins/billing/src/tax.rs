//! The arithmetic of an invoice: line amounts, the invoice discount spread over the lines,
//! and tax, all in integer minor units with checked arithmetic (pure functions, unit-tested).
//!
//! Rules (also in the module header and the README):
//! - A line's amount is `quantity x unit price` (quantity in thousandths) rounded half away
//!   from zero to the minor unit, minus the line's discount.
//! - The invoice discount is spread over the lines in proportion to their amounts, remainders
//!   to the largest fractional shares (ties to the earlier line), so the shares sum to it
//!   exactly and tax is computed on what the customer really pays.
//! - Tax is computed per line and rounded half away from zero per line, never on the sum:
//!   exclusive `tax = net x p`, inclusive (the price already holds it)
//!   `tax = net x p / (1 + p)`. Invoice totals are sums of the rounded line figures.
//! - Rates are percent x 10^4 (basis points x 100): 8.875 % is 88_750, at most 100 %.

use verofield_sdk::FieldError;
use verofield_sdk::money;

/// 100 % in the rate's unit.
pub const HUNDRED_PERCENT_E4: i64 = 1_000_000;

/// What a line is priced from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineInput {
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub tax_percent_e4: i64,
    pub tax_inclusive: bool,
}

/// What a line comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineAmounts {
    /// Quantity x unit price - the line discount (tax included for an inclusive rate).
    pub amount_minor: i64,
    /// This line's share of the invoice discount.
    pub invoice_discount_minor: i64,
    pub tax_minor: i64,
    /// What the customer pays for the line, tax included.
    pub total_minor: i64,
}

/// The invoice's figures: sums of the lines'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub subtotal_minor: i64,
    pub discount_total_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

/// A rate written as a decimal percentage (`"8.875"`, `"20"`) in percent x 10^4, with at most
/// four decimals, from 0 to 100.
pub fn parse_percentage(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 4
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<4}").parse().ok()?;
    let value = whole * 10_000 + fraction;
    (value <= HUNDRED_PERCENT_E4).then_some(value)
}

/// A rate in percent x 10^4 as the shortest decimal text (`88_750 -> "8.875"`).
pub fn format_percentage(percent_e4: i64) -> String {
    let whole = percent_e4 / 10_000;
    let fraction = percent_e4 % 10_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:04}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// A quantity in thousandths as text (`1500 -> "1.5"`).
pub fn format_quantity(quantity_milli: i64) -> String {
    let whole = quantity_milli / 1000;
    let fraction = quantity_milli % 1000;
    if fraction == 0 {
        return whole.to_string();
    }
    format!("{whole}.{}", format!("{fraction:03}").trim_end_matches('0'))
}

/// A line's amount before the invoice discount; `field` names the line (`lines[2]`).
pub fn line_amount(field: &str, line: &LineInput) -> Result<i64, FieldError> {
    let gross = money::div_round(
        &format!("{field}.unit_price_minor"),
        i128::from(line.quantity_milli) * i128::from(line.unit_price_minor),
        1000,
    )?;
    if line.discount_minor > gross {
        return Err(FieldError::new(
            format!("{field}.discount_minor"),
            "may not exceed the line's amount",
        ));
    }
    money::sub(
        &format!("{field}.discount_minor"),
        gross,
        line.discount_minor,
    )
}

/// Spreads `discount` over `amounts` in proportion (largest remainder). `discount` must not
/// exceed their sum.
pub fn spread(discount: i64, amounts: &[i64]) -> Result<Vec<i64>, FieldError> {
    let total: i128 = amounts.iter().map(|a| i128::from(*a)).sum();
    if discount == 0 || total == 0 {
        return Ok(vec![0; amounts.len()]);
    }
    if i128::from(discount) > total {
        return Err(FieldError::new(
            "discount_minor",
            "may not exceed the sum of the lines",
        ));
    }
    let mut shares = Vec::with_capacity(amounts.len());
    let mut remainders = Vec::with_capacity(amounts.len());
    for (i, amount) in amounts.iter().enumerate() {
        let exact = i128::from(discount) * i128::from(*amount);
        shares.push((exact / total) as i64);
        remainders.push((exact % total, i));
    }
    let given: i64 = shares.iter().sum();
    // Largest remainder first; equal remainders go to the earlier line.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take((discount - given) as usize) {
        shares[i] += 1;
    }
    Ok(shares)
}

/// The tax on `net` at `percent_e4`, rounded half away from zero.
pub fn tax_on(field: &str, net: i64, percent_e4: i64, inclusive: bool) -> Result<i64, FieldError> {
    let numerator = i128::from(net) * i128::from(percent_e4);
    let denominator = if inclusive {
        i128::from(HUNDRED_PERCENT_E4) + i128::from(percent_e4)
    } else {
        i128::from(HUNDRED_PERCENT_E4)
    };
    money::div_round(field, numerator, denominator)
}

/// Prices every line and sums the invoice; errors name the offending field.
pub fn compute(
    lines: &[LineInput],
    invoice_discount: i64,
) -> Result<(Vec<LineAmounts>, Totals), FieldError> {
    let amounts = lines
        .iter()
        .enumerate()
        .map(|(i, line)| line_amount(&format!("lines[{i}]"), line))
        .collect::<Result<Vec<_>, _>>()?;
    let shares = spread(invoice_discount, &amounts)?;
    let mut priced = Vec::with_capacity(lines.len());
    let mut totals = Totals::default();
    for (i, line) in lines.iter().enumerate() {
        let field = format!("lines[{i}]");
        let net = money::sub(&field, amounts[i], shares[i])?;
        let tax = tax_on(&field, net, line.tax_percent_e4, line.tax_inclusive)?;
        let total = if line.tax_inclusive {
            net
        } else {
            money::add(&field, net, tax)?
        };
        priced.push(LineAmounts {
            amount_minor: amounts[i],
            invoice_discount_minor: shares[i],
            tax_minor: tax,
            total_minor: total,
        });
        totals.subtotal_minor = money::add("lines", totals.subtotal_minor, amounts[i])?;
        totals.tax_minor = money::add("lines", totals.tax_minor, tax)?;
        totals.total_minor = money::add("lines", totals.total_minor, total)?;
    }
    totals.discount_total_minor = invoice_discount;
    Ok((priced, totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity_milli: i64, unit: i64, percent_e4: i64, inclusive: bool) -> LineInput {
        LineInput {
            quantity_milli,
            unit_price_minor: unit,
            discount_minor: 0,
            tax_percent_e4: percent_e4,
            tax_inclusive: inclusive,
        }
    }

    use verofield_sdk::money::TOO_LARGE;

    #[test]
    fn percentages_parse_to_four_decimals() {
        assert_eq!(parse_percentage("8.875"), Some(88_750));
        assert_eq!(parse_percentage("20"), Some(200_000));
        assert_eq!(parse_percentage("0.0001"), Some(1));
        assert_eq!(parse_percentage("100"), Some(1_000_000));
        for bad in ["100.0001", "8.87501", "-1", "", ".5", "1e2", "abc"] {
            assert_eq!(parse_percentage(bad), None, "{bad}");
        }
        assert_eq!(format_percentage(88_750), "8.875");
        assert_eq!(format_percentage(200_000), "20");
        assert_eq!(format_quantity(1_500), "1.5");
        assert_eq!(format_quantity(2_000), "2");
    }

    #[test]
    fn exclusive_tax_rounds_per_line_half_away_from_zero() {
        // 8.875 % of 1.99 = 0.1766... -> 18 on each line; on the sum 3.98 it would be 35.
        let lines = [
            line(1000, 199, 88_750, false),
            line(1000, 199, 88_750, false),
        ];
        let (priced, totals) = compute(&lines, 0).unwrap();
        assert_eq!(priced[0].tax_minor, 18);
        assert_eq!(totals.tax_minor, 36);
        assert_eq!(totals.total_minor, 398 + 36);
        // Exactly half a cent rounds up: 10 % of 5 = 0.5.
        assert_eq!(tax_on("x", 5, 100_000, false), Ok(1));
    }

    #[test]
    fn inclusive_tax_is_carved_out_of_the_price() {
        // 20 % VAT inside 10.00: 10.00 / 1.2 = 8.333.. -> tax 1.666.. -> 167, total stays 1000.
        let (priced, totals) = compute(&[line(1000, 1000, 200_000, true)], 0).unwrap();
        assert_eq!(priced[0].tax_minor, 167);
        assert_eq!(priced[0].total_minor, 1000);
        assert_eq!(totals.total_minor, 1000);
        // 19 % inside 1.00 -> 15.966.. -> 16.
        assert_eq!(tax_on("x", 100, 190_000, true), Ok(16));
    }

    #[test]
    fn zero_decimal_currencies_round_to_whole_units() {
        // JPY: 1.5 x 1,001 yen = 1,501.5 -> 1,502; 10 % -> 150.2 -> 150.
        let (priced, totals) = compute(&[line(1500, 1001, 100_000, false)], 0).unwrap();
        assert_eq!(priced[0].amount_minor, 1502);
        assert_eq!(totals.tax_minor, 150);
        assert_eq!(totals.total_minor, 1652);
    }

    #[test]
    fn the_invoice_discount_is_spread_exactly() {
        assert_eq!(spread(100, &[100, 100, 100]).unwrap(), vec![34, 33, 33]);
        assert_eq!(spread(2, &[1, 1, 1]).unwrap(), vec![1, 1, 0]);
        assert_eq!(spread(10, &[300, 100]).unwrap(), vec![8, 2]);
        assert_eq!(spread(0, &[5]).unwrap(), vec![0]);
        assert!(spread(11, &[5, 5]).is_err());
        let lines = [line(1000, 1000, 100_000, false), line(1000, 3000, 0, false)];
        let (priced, totals) = compute(&lines, 400).unwrap();
        assert_eq!(priced[0].invoice_discount_minor, 100);
        assert_eq!(priced[0].tax_minor, 90);
        assert_eq!(totals.total_minor, 4000 - 400 + 90);
    }

    #[test]
    fn line_discounts_and_overflow_name_the_field() {
        let mut discounted = line(2000, 500, 0, false);
        discounted.discount_minor = 250;
        assert_eq!(line_amount("lines[0]", &discounted), Ok(750));
        discounted.discount_minor = 1001;
        assert_eq!(
            line_amount("lines[0]", &discounted).unwrap_err().field,
            "lines[0].discount_minor"
        );
        let huge = line(1_000_000_000, i64::MAX / 2, 0, false);
        assert_eq!(
            compute(&[huge], 0).unwrap_err(),
            FieldError::new("lines[0].unit_price_minor", TOO_LARGE)
        );
        let big = line(1000, i64::MAX / 2 + 1, 0, false);
        assert_eq!(
            compute(&[big, big], 0).unwrap_err(),
            FieldError::new("lines", TOO_LARGE)
        );
    }
}
