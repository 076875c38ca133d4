//! The answer of `GET /v1/kpis`: the range, the bucket and the tenant's zone it was read in,
//! and per metric its unit and one point per bucket. A ratio carries its numerator and
//! denominator too, so a client can add buckets up without losing precision; a bucket with
//! nothing to measure answers 0.

use schemars::JsonSchema;
use serde::Serialize;

use crate::calendar::Span;
use crate::query::{KpiQuery, Metric};

#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    /// The first day of the range (YYYY-MM-DD, the tenant's calendar).
    pub from: String,
    /// The last day of the range, included.
    pub to: String,
    /// `day`, `week` (ISO, from Monday) or `month`.
    pub bucket: &'static str,
    /// The tenant's IANA time zone, whose days the buckets are.
    pub time_zone: String,
    /// The currency of the money metrics.
    pub currency: String,
    pub metrics: Vec<MetricSeries>,
}

impl Answer {
    pub fn new(query: &KpiQuery, metrics: Vec<MetricSeries>) -> Self {
        Self {
            from: query.from.to_string(),
            to: query.to.to_string(),
            bucket: query.bucket.name(),
            time_zone: verofield_sdk::context::tenant_time_zone(),
            currency: query.currency.clone(),
            metrics,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricSeries {
    /// The metric's name, as asked.
    pub metric: &'static str,
    /// `count`, `ratio`, `per_day`, `minor` (minor units of `currency`) or `meters`.
    pub unit: &'static str,
    pub points: Vec<Point>,
}

impl MetricSeries {
    pub fn new(metric: Metric, points: Vec<Point>) -> Self {
        Self {
            metric: metric.name(),
            unit: metric.unit(),
            points,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Point {
    /// The bucket's first day within the range.
    pub start: String,
    /// The bucket's last day within the range, included.
    pub end: String,
    pub value: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numerator: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denominator: Option<i64>,
}

impl Point {
    /// A whole number (a count, an amount).
    pub fn whole(span: &Span, value: i64) -> Self {
        Self {
            start: span.start.to_string(),
            end: span.end.to_string(),
            value: value.into(),
            numerator: None,
            denominator: None,
        }
    }

    /// `numerator / denominator` as a number, 0 when the denominator is 0.
    pub fn ratio(span: &Span, numerator: i64, denominator: i64) -> Self {
        let value = if denominator == 0 {
            0.0
        } else {
            numerator as f64 / denominator as f64
        };
        Self {
            value: serde_json::json!(value),
            numerator: Some(numerator),
            denominator: Some(denominator),
            ..Self::whole(span, 0)
        }
    }

    /// An amount per unit (minor units, metres) rounded half away from zero; 0 when there are
    /// none.
    pub fn per_unit_minor(span: &Span, amount: i64, units: i64) -> Self {
        let value = if units == 0 {
            0
        } else {
            let (quotient, remainder) = (amount / units, amount % units);
            if remainder.unsigned_abs() * 2 >= units.unsigned_abs() {
                quotient + amount.signum() * units.signum()
            } else {
                quotient
            }
        };
        Self {
            numerator: Some(amount),
            denominator: Some(units),
            ..Self::whole(span, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        let day = "2026-11-02".parse().unwrap();
        Span {
            key: day,
            start: day,
            end: day,
        }
    }

    #[test]
    fn amounts_per_unit_round_half_away_from_zero() {
        let value = |amount, units| Point::per_unit_minor(&span(), amount, units).value;
        assert_eq!(value(10, 4), 3); // 2.5
        assert_eq!(value(9, 4), 2); // 2.25
        assert_eq!(value(-10, 4), -3);
        assert_eq!(value(7, 0), 0);
    }

    #[test]
    fn an_empty_ratio_is_zero() {
        let point = Point::ratio(&span(), 0, 0);
        assert_eq!(point.value, 0.0);
        assert_eq!((point.numerator, point.denominator), (Some(0), Some(0)));
    }
}
