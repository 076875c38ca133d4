//! A dashboard's widgets and their checks. A widget shows one metric `GET /v1/kpis` knows,
//! as one chart type of a closed list, with the filters the kpis module would accept for it,
//! at a place on a 12-column grid. Everything wrong with a layout's widgets is named in one
//! 422 (`widgets[3].metric`, `widgets[0].w`, ...), before anything is written.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use verofield_field_ops::kpi_metrics::{KPI_METRICS, kpi_metric};
use verofield_sdk::Validator;
use verofield_sdk::http::is_uuid;

/// The grid's width in columns.
pub const COLUMNS: i64 = 12;
/// The most widgets one layout holds.
pub const MAX_WIDGETS: usize = 50;
/// The lowest row a widget may start on and its tallest height, in grid rows.
const MAX_ROW: i64 = 1_000;
const MAX_HEIGHT: i64 = 24;
/// The chart types a console draws.
pub const CHART_TYPES: &[&str] = &["number", "line", "bar", "area", "pie", "table"];
const BUCKETS: &[&str] = &["day", "week", "month"];

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// A metric of `GET /v1/kpis` (`jobs_completed`, `revenue`, ...).
    pub metric: String,
    /// `number`, `line`, `bar`, `area`, `pie` or `table`.
    pub chart: String,
    /// A caption; the metric's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub filters: WidgetFilters,
    /// Column (0 to 11) and row of the top-left cell; width (1 to 12, within the 12
    /// columns) and height (1 to 24) in cells.
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

/// The `GET /v1/kpis` parameters the widget asks with.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetFilters {
    /// `day`, `week` or `month`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The days back from today the widget shows (1 to 366).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_days: Option<i64>,
    /// ISO 4217, for money metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technician_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type_id: Option<String>,
}

/// Records every problem of `widgets` in `check`.
pub fn check_widgets(check: &mut Validator, widgets: &[Widget]) {
    check.check(
        widgets.len() <= MAX_WIDGETS,
        "widgets",
        &format!("a layout holds at most {MAX_WIDGETS} widgets"),
    );
    for (i, widget) in widgets.iter().take(MAX_WIDGETS).enumerate() {
        check_widget(check, &format!("widgets[{i}]"), widget);
    }
    for (i, widget) in widgets.iter().enumerate().take(MAX_WIDGETS) {
        if let Some(j) = widgets[..i].iter().position(|other| overlap(widget, other)) {
            check.check(
                false,
                &format!("widgets[{i}]"),
                &format!("overlaps widgets[{j}] on the grid"),
            );
        }
    }
}

fn check_widget(check: &mut Validator, at: &str, widget: &Widget) {
    let field = |name: &str| format!("{at}.{name}");
    let metric = kpi_metric(&widget.metric);
    if metric.is_none() {
        let known: Vec<&str> = KPI_METRICS.iter().map(|m| m.name).collect();
        check.check(
            false,
            &field("metric"),
            &format!("not a metric of /v1/kpis; known: {}", known.join(", ")),
        );
    }
    check.check(
        CHART_TYPES.contains(&widget.chart.as_str()),
        &field("chart"),
        &format!("must be one of {}", CHART_TYPES.join(", ")),
    );
    check.length(&field("title"), widget.title.as_ref(), 1..=100);
    check
        .check(
            (0..COLUMNS).contains(&widget.x),
            &field("x"),
            "must be a column from 0 to 11",
        )
        .check(
            (1..=COLUMNS).contains(&widget.w) && widget.x + widget.w <= COLUMNS,
            &field("w"),
            "must be 1 to 12 columns, ending within the 12",
        )
        .check(
            (0..=MAX_ROW).contains(&widget.y),
            &field("y"),
            "must be a row from 0 to 1000",
        )
        .check(
            (1..=MAX_HEIGHT).contains(&widget.h),
            &field("h"),
            "must be 1 to 24 rows",
        );
    let filters = &widget.filters;
    if let Some(bucket) = &filters.bucket {
        check.check(
            BUCKETS.contains(&bucket.as_str()),
            &field("filters.bucket"),
            "must be day, week or month",
        );
    }
    if let Some(days) = filters.range_days {
        check.check(
            (1..=366).contains(&days),
            &field("filters.range_days"),
            "must be 1 to 366 days",
        );
    }
    if let Some(currency) = &filters.currency {
        check.check(
            currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()),
            &field("filters.currency"),
            "must be an ISO 4217 code (USD)",
        );
    }
    for (name, value) in [
        ("technician_id", &filters.technician_id),
        ("service_type_id", &filters.service_type_id),
    ] {
        let Some(value) = value else { continue };
        let name = field(&format!("filters.{name}"));
        check.check(is_uuid(value), &name, "must be a UUID");
        if let Some(metric) = metric {
            check.check(
                metric.job_filters,
                &name,
                &format!(
                    "{} is not counted from jobs and cannot be narrowed so",
                    metric.name
                ),
            );
        }
    }
}

/// Whether two widgets share a grid cell.
fn overlap(a: &Widget, b: &Widget) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget(metric: &str, x: i64, y: i64, w: i64) -> Widget {
        Widget {
            metric: metric.into(),
            chart: "line".into(),
            title: None,
            filters: WidgetFilters::default(),
            x,
            y,
            w,
            h: 2,
        }
    }

    fn problems(widgets: &[Widget]) -> Vec<String> {
        let mut check = Validator::default();
        check_widgets(&mut check, widgets);
        match check.finish() {
            Ok(()) => Vec::new(),
            Err(problem) => problem.errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn a_tidy_grid_of_known_metrics_passes() {
        let widgets = [widget("revenue", 0, 0, 6), widget("mrr", 6, 0, 6)];
        assert!(problems(&widgets).is_empty());
    }

    #[test]
    fn each_bad_widget_field_is_named() {
        let mut bad = widget("speed", 10, -1, 3);
        bad.chart = "radar".into();
        bad.filters.technician_id = Some("7".into());
        bad.filters.range_days = Some(400);
        assert_eq!(
            problems(&[bad]),
            [
                "widgets[0].metric",
                "widgets[0].chart",
                "widgets[0].w",
                "widgets[0].y",
                "widgets[0].filters.range_days",
                "widgets[0].filters.technician_id",
            ]
        );
    }

    #[test]
    fn overlaps_filters_on_money_and_too_many_widgets_are_refused() {
        let clash = [widget("revenue", 0, 0, 6), widget("mrr", 5, 1, 6)];
        assert_eq!(problems(&clash), ["widgets[1]"]);
        let mut narrowed = widget("revenue", 0, 0, 6);
        narrowed.filters.technician_id = Some("0190a000-0000-7000-8000-000000000000".into());
        assert_eq!(problems(&[narrowed]), ["widgets[0].filters.technician_id"]);
        let many: Vec<Widget> = (0..51).map(|i| widget("revenue", 0, i * 2, 12)).collect();
        assert_eq!(problems(&many), ["widgets"]);
    }
}
