//! The service-type catalog: what a visit is made of (name, default duration, default price
//! in minor units with its currency, the skills it needs, active flag). Kept with jobs, which
//! denormalize the skills and durations of their service types.

use serde::{Deserialize, Serialize};
use verofield_field_ops::plan::VisitChecks;
use verofield_field_ops::{Columns, SERVICE_TYPE, SERVICE_TYPES, check_skills, normalize_skills};
use verofield_sdk::http::Request;
use verofield_sdk::store::{self, Direction, Filter, Record, Select};
use verofield_sdk::{Patch, Problem, Response, Validator, etag};

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTypeFields {
    name: Patch<String>,
    description: Patch<String>,
    default_duration_minutes: Patch<i64>,
    default_price_minor: Patch<i64>,
    currency: Patch<String>,
    required_skills: Patch<Vec<String>>,
    active: Patch<bool>,
}

impl ServiceTypeFields {
    fn from_request(request: &Request, creating: bool) -> Result<Self, Problem> {
        let mut fields: Self = request.json()?;
        fields.name.normalize(|n| Some(n.trim().to_owned()));
        fields.currency.normalize(|c| Some(c.trim().to_owned()));
        fields
            .required_skills
            .normalize(|skills| Some(normalize_skills(skills)));
        let mut check = Validator::default();
        check
            .required(&fields.name, "name", creating)
            .required(
                &fields.default_duration_minutes,
                "default_duration_minutes",
                creating,
            )
            .required(&fields.description, "description", false)
            .required(&fields.default_price_minor, "default_price_minor", false)
            .required(&fields.currency, "currency", false)
            .required(&fields.required_skills, "required_skills", false)
            .required(&fields.active, "active", false)
            .length("name", fields.name.value(), 1..=200)
            .length("description", fields.description.value(), 0..=2000)
            .duration(
                "default_duration_minutes",
                fields.default_duration_minutes.value().copied(),
            );
        if let Some(price) = fields.default_price_minor.value() {
            check.check(*price >= 0, "default_price_minor", "may not be negative");
        }
        check.currency(fields.currency.value());
        if let Some(skills) = fields.required_skills.value() {
            check_skills(&mut check, "required_skills", skills);
        }
        check.finish()?;
        Ok(fields)
    }
}

/// `POST /service-types`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let fields = ServiceTypeFields::from_request(request, true)?;
    let row: Record<Columns> = store::insert(SERVICE_TYPES, &fields)?;
    Ok(Response::created(
        &format!("/v1/jobs/service-types/{}", row.id),
        &row,
    ))
}

/// `GET /service-types?active=`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let mut filters = Vec::new();
    if let Some(active) = request.query_parsed::<bool>("active", "true or false")? {
        filters.push(Filter::eq("active", active));
    }
    let page = Select::from(SERVICE_TYPES)
        .filter(Filter::and(filters))
        .order_by("name", Direction::Asc)
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /service-types/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    Ok(Response::record(
        200,
        &SERVICE_TYPE.existing(request.id_param("id")?)?,
    ))
}

/// `PATCH /service-types/{id}`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let fields = ServiceTypeFields::from_request(request, false)?;
    let row: Record<Columns> = etag::update(request, SERVICE_TYPES, id, "service type", &fields)?;
    Ok(Response::record(200, &row))
}
