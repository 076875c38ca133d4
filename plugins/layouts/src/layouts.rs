//! The routes over `dashboard_layouts`. Who sees what: a user's layouts are theirs alone
//! until shared (`shared_with: tenant`, read-only to the others); a role default is read by
//! the whole tenant and changed only through `PUT /defaults/{role}` (`settings.manage`).
//! A layout someone may not read answers 404, as if it did not exist; one they may read but
//! not change answers 403 `layout_read_only`. Writes honour `If-Match` (412 when stale).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use verofield_field_ops::kpi_metrics::DEFAULT_DASHBOARD;
use verofield_sdk::store::{self, Filter, Record, Select, StoreError};
use verofield_sdk::{Problem, Request, Resource, Response, Validator, context, etag};

use crate::widgets::{COLUMNS, Widget, WidgetFilters, check_widgets};

pub const LAYOUTS: &str = "dashboard_layouts";
const LAYOUT: Resource<Layout> = Resource::new(LAYOUTS, "layout");

/// A dashboard as stored and answered.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Layout {
    pub name: String,
    /// The user whose layout it is; null for a role default.
    pub owner_user_id: Option<String>,
    /// The role it is the default of; null for a user's layout.
    pub role: Option<String>,
    /// `private` (its owner only) or `tenant` (everyone in the tenant may read it).
    pub shared_with: String,
    /// The owner's own default (`GET /v1/layouts/mine`).
    pub is_default: bool,
    pub widgets: Vec<Widget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// A user's layout, as created or replaced (`PUT` replaces it whole).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayoutBody {
    /// 1 to 100 characters.
    name: String,
    /// `private` (the default) or `tenant`.
    #[serde(default)]
    shared_with: Option<String>,
    /// Make it the caller's default (their previous default stops being one).
    #[serde(default)]
    is_default: Option<bool>,
    /// At most 50, on a 12-column grid, none overlapping.
    widgets: Vec<Widget>,
}

/// A role's default layout: a name and widgets (it is always shared with the tenant).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDefaultBody {
    name: String,
    widgets: Vec<Widget>,
}

/// `POST /{id}/copy`: the copy's name (default "Copy of ...").
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    #[serde(default)]
    name: Option<String>,
}

/// What `GET /mine` found: the caller's own default, their role's, or the built-in one.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Mine {
    /// `own`, `role` or `builtin`.
    source: &'static str,
    /// The layout (`id` and `version` absent for the built-in one).
    layout: serde_json::Value,
}

fn check_layout(name: &str, shared_with: Option<&str>, widgets: &[Widget]) -> Result<(), Problem> {
    let mut check = Validator::default();
    check.check(
        (1..=100).contains(&name.trim().chars().count()),
        "name",
        "must be 1 to 100 characters",
    );
    if let Some(shared_with) = shared_with {
        check.check(
            matches!(shared_with, "private" | "tenant"),
            "shared_with",
            "must be private or tenant",
        );
    }
    check_widgets(&mut check, widgets);
    check.finish()
}

fn caller_id() -> String {
    context::caller().user_id
}

/// The layout if the caller may read it, else 404.
fn readable(id: &str) -> Result<Record<Layout>, Problem> {
    let layout = LAYOUT.existing(id)?;
    let own = layout.values.owner_user_id.as_deref() == Some(caller_id().as_str());
    if own || layout.values.shared_with == "tenant" {
        Ok(layout)
    } else {
        Err(Problem::not_found("layout"))
    }
}

/// The layout if the caller owns it: 404 when they may not read it, 403 when only read.
fn owned(id: &str) -> Result<Record<Layout>, Problem> {
    let layout = readable(id)?;
    if layout.values.owner_user_id.as_deref() == Some(caller_id().as_str()) {
        Ok(layout)
    } else {
        Err(Problem::new(
            403,
            "layout_read_only",
            "only its owner changes a layout (a role default: PUT /v1/layouts/defaults/{role}); copy it to make your own",
        ))
    }
}

/// A write's store error: a lost race is 412 when the client sent `If-Match`, else 409.
fn write_problem(request: &Request, error: StoreError) -> Problem {
    match error {
        StoreError::Conflict(_) if request.header("if-match").is_some() => {
            Problem::precondition_failed()
        }
        StoreError::Conflict(_) | StoreError::Duplicate(_) => Problem::new(
            409,
            "conflict",
            "the layout changed concurrently; fetch it again",
        ),
        other => other.into(),
    }
}

/// Clears the caller's current default, except `keep`, before another becomes it.
fn clear_default(keep: Option<&str>) -> Result<(), Problem> {
    let defaults = Select::from(LAYOUTS)
        .filter(Filter::and([
            Filter::eq("owner_user_id", caller_id()),
            Filter::eq("is_default", true),
        ]))
        .limit(10)
        .fetch::<serde::de::IgnoredAny>()?;
    for layout in defaults
        .items
        .iter()
        .filter(|l| Some(l.id.as_str()) != keep)
    {
        store::update::<serde::de::IgnoredAny>(
            LAYOUTS,
            &layout.id,
            layout.version,
            &json!({"is_default": false}),
        )?;
    }
    Ok(())
}

fn location(id: &str) -> String {
    format!("/v1/layouts/{id}")
}

/// `POST /`: a layout of the caller's.
pub fn create(request: &Request) -> Result<Response, Problem> {
    let body: LayoutBody = request.json()?;
    check_layout(&body.name, body.shared_with.as_deref(), &body.widgets)?;
    let is_default = body.is_default.unwrap_or(false);
    if is_default {
        clear_default(None)?;
    }
    let layout: Record<Layout> = store::insert(
        LAYOUTS,
        &json!({
            "name": body.name.trim(),
            "owner_user_id": caller_id(),
            "shared_with": body.shared_with.as_deref().unwrap_or("private"),
            "is_default": is_default,
            "widgets": body.widgets,
        }),
    )
    .map_err(|error| write_problem(request, error))?;
    Ok(Response::created(&location(&layout.id), &layout))
}

/// `GET /`: the caller's layouts, those shared with the tenant and the role defaults.
pub fn list(request: &Request) -> Result<Response, Problem> {
    let page = Select::from(LAYOUTS)
        .filter(Filter::or([
            Filter::eq("owner_user_id", caller_id()),
            Filter::eq("shared_with", "tenant"),
        ]))
        .order_by("created_at", store::Direction::Asc)
        .page(request.paging()?)
        .fetch::<Layout>()?;
    Ok(Response::json(200, &page))
}

/// `GET /{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(200, &readable(request.id_param("id")?)?))
}

/// `PUT /{id}`: replaces the caller's layout whole.
pub fn replace(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let body: LayoutBody = request.json()?;
    check_layout(&body.name, body.shared_with.as_deref(), &body.widgets)?;
    let current = owned(id)?;
    etag::check_if_match(request, current.version)?;
    let is_default = body.is_default.unwrap_or(current.values.is_default);
    if is_default {
        clear_default(Some(id))?;
    }
    let layout: Record<Layout> = store::update(
        LAYOUTS,
        id,
        current.version,
        &json!({
            "name": body.name.trim(),
            "shared_with": body.shared_with.as_deref().unwrap_or(&current.values.shared_with),
            "is_default": is_default,
            "widgets": body.widgets,
        }),
    )
    .map_err(|error| write_problem(request, error))?;
    Ok(Response::record(200, &layout))
}

/// `DELETE /{id}`: the caller's own layout.
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let current = owned(id)?;
    etag::check_if_match(request, current.version)?;
    store::delete(LAYOUTS, id, Some(current.version))
        .map_err(|error| write_problem(request, error))?;
    Ok(Response::no_content())
}

/// `POST /{id}/copy`: a private copy, owned by the caller, of a layout they may read.
pub fn copy(request: &Request) -> Result<Response, Problem> {
    let source = readable(request.id_param("id")?)?;
    let body: CopyBody = if request.body.is_empty() {
        CopyBody::default()
    } else {
        request.json()?
    };
    let name = body.name.unwrap_or_else(|| {
        format!("Copy of {}", source.values.name)
            .chars()
            .take(100)
            .collect()
    });
    check_layout(&name, None, &source.values.widgets)?;
    let layout: Record<Layout> = store::insert(
        LAYOUTS,
        &json!({
            "name": name.trim(),
            "owner_user_id": caller_id(),
            "shared_with": "private",
            "is_default": false,
            "widgets": source.values.widgets,
        }),
    )
    .map_err(|error| write_problem(request, error))?;
    Ok(Response::created(&location(&layout.id), &layout))
}

/// `PUT /defaults/{role}`: sets (201) or replaces (200, `If-Match` honoured) a role's default.
pub fn set_role_default(request: &Request) -> Result<Response, Problem> {
    let role = request.param("role")?;
    let body: RoleDefaultBody = request.json()?;
    let mut check = Validator::default();
    check.check(
        is_role_name(role),
        "role",
        "must be a role name (a-z, 0-9, _ and -, at most 64)",
    );
    check.finish()?;
    check_layout(&body.name, None, &body.widgets)?;
    let values = json!({"name": body.name.trim(), "widgets": body.widgets});
    match role_default(role)? {
        Some(current) => {
            etag::check_if_match(request, current.version)?;
            let layout: Record<Layout> =
                store::update(LAYOUTS, &current.id, current.version, &values)
                    .map_err(|error| write_problem(request, error))?;
            Ok(Response::record(200, &layout))
        }
        None => {
            let mut values = values;
            values["role"] = json!(role);
            values["shared_with"] = json!("tenant");
            let layout: Record<Layout> =
                store::insert(LAYOUTS, &values).map_err(|error| write_problem(request, error))?;
            Ok(Response::created(&location(&layout.id), &layout))
        }
    }
}

fn is_role_name(role: &str) -> bool {
    let mut bytes = role.bytes();
    role.len() <= 64
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn role_default(role: &str) -> Result<Option<Record<Layout>>, Problem> {
    let page = Select::from(LAYOUTS)
        .filter(Filter::eq("role", role))
        .limit(1)
        .fetch::<Layout>()?;
    Ok(page.items.into_iter().next())
}

/// `GET /mine`: the caller's own default, else the default of the first of their roles that
/// has one (in the order the host lists their roles), else the built-in dashboard.
pub fn mine(_request: &Request) -> Result<Response, Problem> {
    let caller = context::caller();
    let own = Select::from(LAYOUTS)
        .filter(Filter::and([
            Filter::eq("owner_user_id", caller.user_id.as_str()),
            Filter::eq("is_default", true),
        ]))
        .limit(1)
        .fetch::<Layout>()?;
    if let Some(layout) = own.items.into_iter().next() {
        return Ok(mine_answer("own", &layout));
    }
    let roles: Vec<&str> = caller
        .roles
        .iter()
        .map(String::as_str)
        .filter(|r| is_role_name(r))
        .collect();
    if !roles.is_empty() {
        let defaults = Select::from(LAYOUTS)
            .filter(Filter::one_of("role", roles.iter().copied()))
            .limit(200)
            .fetch::<Layout>()?;
        let first = roles.iter().find_map(|role| {
            defaults
                .items
                .iter()
                .find(|l| l.values.role.as_deref() == Some(*role))
        });
        if let Some(layout) = first {
            return Ok(mine_answer("role", layout));
        }
    }
    Ok(Response::json(
        200,
        &Mine {
            source: "builtin",
            layout: json!(builtin()),
        },
    ))
}

fn mine_answer(source: &'static str, layout: &Record<Layout>) -> Response {
    let mut response = Response::json(
        200,
        &Mine {
            source,
            layout: json!(layout),
        },
    );
    response.set_header("etag", &etag::etag(layout.version));
    response
}

/// The built-in dashboard: the 8 default metrics, four to a row, daily over 90 days.
pub fn builtin() -> Layout {
    let per_row = 4;
    let width = COLUMNS / per_row;
    let widgets = DEFAULT_DASHBOARD
        .iter()
        .zip(0i64..)
        .map(|(metric, i)| Widget {
            metric: (*metric).to_owned(),
            chart: String::from(if i < per_row { "number" } else { "line" }),
            title: None,
            filters: WidgetFilters {
                bucket: Some("day".to_owned()),
                range_days: Some(90),
                ..WidgetFilters::default()
            },
            x: (i % per_row) * width,
            y: (i / per_row) * 3,
            w: width,
            h: 3,
        })
        .collect();
    Layout {
        name: "Overview".to_owned(),
        owner_user_id: None,
        role: None,
        shared_with: "tenant".to_owned(),
        is_default: false,
        widgets,
        created_at: None,
        updated_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_dashboard_passes_its_own_checks() {
        let layout = builtin();
        assert_eq!(layout.widgets.len(), 8);
        assert!(check_layout(&layout.name, Some("tenant"), &layout.widgets).is_ok());
    }

    #[test]
    fn role_names_are_checked() {
        assert!(is_role_name("dispatcher") && is_role_name("field-lead_2"));
        assert!(!is_role_name("") && !is_role_name("Admin") && !is_role_name("-x"));
        assert!(!is_role_name(&"a".repeat(65)));
    }
}
