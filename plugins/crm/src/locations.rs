//! Service locations: the places a customer is served at, with an address (also stored as
//! one searchable line, `address_text`), coordinates, access notes and free-form property
//! details. `GET /locations?near=lat,lon&radius_km=R` finds locations by distance.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use verofield_sdk::http::Request;
use verofield_sdk::store::{Filter, Record, Select};
use verofield_sdk::{Patch, Problem, Response, Validator, custom, etag};

use crate::address::Address;
use crate::geo::{self, BoundingBox, Point};
use crate::{CUSTOMER, Columns, LOCATION, LOCATIONS, public_path};

/// Set by the module from the route and the address, never by the client.
const READ_ONLY: &[&str] = &["customer_id", "address_text"];

const DEFAULT_RADIUS_KM: f64 = 10.0;
const MAX_RADIUS_KM: f64 = 500.0;
/// Rows read per store page, and the most read for one "near" search (the exact distance is
/// computed here, so every row in the box is read).
const SCAN_PAGE: u32 = 200;
const MAX_CANDIDATES: usize = 5_000;

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationFields {
    label: Patch<String>,
    address: Patch<Address>,
    latitude: Patch<f64>,
    longitude: Patch<f64>,
    access_notes: Patch<String>,
    property: Patch<Columns>,
    /// The tenant's custom fields; the host checks them. Replaces the stored object on PATCH.
    custom: Patch<Columns>,
    #[serde(skip_deserializing)]
    address_text: Patch<String>,
    #[serde(skip_deserializing)]
    customer_id: Patch<String>,
}

impl LocationFields {
    fn from_request(request: &Request) -> Result<Self, Problem> {
        let mut fields: Self = request.json_with_read_only(READ_ONLY)?;
        fields
            .label
            .normalize(|label| Some(label.trim().to_owned()));
        fields.validate()?;
        if let Some(address) = fields.address.value() {
            fields.address_text = Patch::Value(address.joined());
        }
        Ok(fields)
    }

    fn validate(&self) -> Result<(), Problem> {
        let mut check = Validator::default();
        check
            .required(&self.label, "label", false)
            .required(&self.address, "address", false)
            .required(&self.access_notes, "access_notes", false)
            .required(&self.property, "property", false)
            .required(&self.custom, "custom", false)
            .length("label", self.label.value(), 0..=200)
            .length("access_notes", self.access_notes.value(), 0..=2_000)
            .within("latitude", self.latitude.value().copied(), -90.0..=90.0)
            .within("longitude", self.longitude.value().copied(), -180.0..=180.0)
            // A position is both coordinates or neither: set, clear or leave them together.
            .check(
                std::mem::discriminant(&self.latitude) == std::mem::discriminant(&self.longitude),
                "longitude",
                "must be given (or cleared) together with latitude",
            );
        if let Some(address) = self.address.value() {
            address.validate("address", &mut check);
        }
        check.finish()
    }
}

/// `POST /customers/{id}/locations`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    let mut fields = LocationFields::from_request(request)?;
    fields.customer_id = Patch::Value(customer.id);
    let location: Record<Columns> = verofield_sdk::store::insert(LOCATIONS, &fields)?;
    Ok(Response::created(
        &public_path(&format!("/locations/{}", location.id)),
        &location,
    ))
}

/// `GET /customers/{id}/locations`
pub fn list_for_customer(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    let page = Select::from(LOCATIONS)
        .filter(Filter::eq("customer_id", customer.id))
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /locations`, or with `near=lat,lon` (and `radius_km`, default 10) the locations
/// within the radius, nearest first, each with its `distance_km`.
pub fn list(request: &Request) -> Result<Response, Problem> {
    let paging = request.paging()?;
    let Some(near) = request.query("near") else {
        let page = Select::from(LOCATIONS)
            .filter(Filter::and(custom::filters(request)?))
            .page(paging)
            .fetch::<Columns>()?;
        return Ok(Response::json(200, &page));
    };
    let centre = parse_point(near)
        .ok_or_else(|| Problem::invalid_query("near", "`latitude,longitude` in degrees"))?;
    let radius_km = request
        .query_parsed::<f64>("radius_km", "a number of km")?
        .unwrap_or(DEFAULT_RADIUS_KM);
    if !(radius_km > 0.0 && radius_km <= MAX_RADIUS_KM) {
        return Err(Problem::invalid_query(
            "radius_km",
            &format!("more than 0 and at most {MAX_RADIUS_KM}"),
        ));
    }
    // The cursor of a "near" search is the offset of the next item in distance order.
    let invalid_cursor =
        || Problem::bad_request("invalid_cursor", "the cursor is not one this API issued");
    let offset = match &paging.cursor {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| invalid_cursor())?,
    };
    let nearby = within(centre, radius_km)?;
    let limit = paging.limit as usize;
    let next = offset.checked_add(limit).ok_or_else(invalid_cursor)?;
    let next_cursor = (nearby.len() > next).then(|| next.to_string());
    let items: Vec<Record<Columns>> = nearby.into_iter().skip(offset).take(limit).collect();
    Ok(Response::json(
        200,
        &serde_json::json!({"items": items, "next_cursor": next_cursor}),
    ))
}

/// Every location within `radius_km` of `centre`, nearest first (ties by id), each with
/// `distance_km` (rounded to metres).
fn within(centre: Point, radius_km: f64) -> Result<Vec<Record<Columns>>, Problem> {
    let filter = box_filter(&BoundingBox::around(centre, radius_km));
    let mut candidates = Vec::new();
    let mut cursor = None;
    loop {
        let page = Select::from(LOCATIONS)
            .filter(filter.clone())
            .limit(SCAN_PAGE)
            .cursor(cursor)
            .fetch::<Columns>()?;
        candidates.extend(page.items);
        if candidates.len() > MAX_CANDIDATES {
            return Err(Problem::bad_request(
                "radius_too_large",
                format!("more than {MAX_CANDIDATES} locations to compare; use a smaller radius"),
            ));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut nearby: Vec<(f64, Record<Columns>)> = candidates
        .into_iter()
        .filter_map(|mut location| {
            let distance = geo::distance_km(centre, position(&location.values)?);
            let rounded = (distance * 1000.0).round() / 1000.0;
            location.values.insert("distance_km".into(), rounded.into());
            (distance <= radius_km).then_some((distance, location))
        })
        .collect();
    nearby.sort_by(|(a, first), (b, second)| a.total_cmp(b).then_with(|| first.id.cmp(&second.id)));
    Ok(nearby.into_iter().map(|(_, location)| location).collect())
}

fn box_filter(bbox: &BoundingBox) -> Filter {
    let mut filters = vec![
        Filter::ge("latitude", bbox.latitude.0),
        Filter::le("latitude", bbox.latitude.1),
    ];
    if bbox.longitude.is_empty() {
        filters.push(Filter::is_null("longitude", false));
    } else {
        filters.push(Filter::or(bbox.longitude.iter().map(|&(west, east)| {
            Filter::and([Filter::ge("longitude", west), Filter::le("longitude", east)])
        })));
    }
    Filter::and(filters)
}

fn position(values: &Columns) -> Option<Point> {
    Some(Point {
        latitude: values.get("latitude").and_then(Value::as_f64)?,
        longitude: values.get("longitude").and_then(Value::as_f64)?,
    })
}

fn parse_point(text: &str) -> Option<Point> {
    let (latitude, longitude) = text.split_once(',')?;
    let point = Point {
        latitude: latitude.trim().parse().ok()?,
        longitude: longitude.trim().parse().ok()?,
    };
    ((-90.0..=90.0).contains(&point.latitude) && (-180.0..=180.0).contains(&point.longitude))
        .then_some(point)
}

/// `GET /locations/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    let location = LOCATION.existing(request.id_param("id")?)?;
    Ok(Response::record(200, &location))
}

/// `PATCH /locations/{id}`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let fields = LocationFields::from_request(request)?;
    let location: Record<Columns> = etag::update(request, LOCATIONS, id, "location", &fields)?;
    Ok(Response::record(200, &location))
}

/// `DELETE /locations/{id}`
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    etag::delete::<serde::de::IgnoredAny>(request, LOCATIONS, id, "location")?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Result<LocationFields, Problem> {
        LocationFields::from_request(&Request {
            method: "POST".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            ..Request::default()
        })
    }

    #[test]
    fn sets_address_text_from_the_address() {
        let location = fields(
            r#"{"label": "Home", "address": {"line1": "1 Main St", "city": "Springfield"},
                "latitude": 39.8, "longitude": -89.6, "property": {"gate_code": "1234"}}"#,
        )
        .unwrap();
        let values = serde_json::to_value(&location).unwrap();
        assert_eq!(values["address_text"], "1 Main St, Springfield");
        assert_eq!(values["property"]["gate_code"], "1234");
        assert!(values.get("customer_id").is_none());
    }

    #[test]
    fn refuses_half_a_position_and_read_only_fields() {
        let fields_of = |body: &str| -> Vec<String> {
            fields(body)
                .err()
                .map(|p| p.errors.into_iter().map(|e| e.field).collect())
                .unwrap_or_default()
        };
        assert_eq!(fields_of(r#"{"latitude": 10}"#), ["longitude"]);
        assert_eq!(
            fields_of(r#"{"latitude": 91, "longitude": 0}"#),
            ["latitude"]
        );
        assert_eq!(fields_of(r#"{"address_text": "x"}"#), ["address_text"]);
        assert_eq!(fields_of(r#"{"property": null}"#), ["property"]);
        assert!(fields_of(r#"{"latitude": null, "longitude": null}"#).is_empty());
    }

    #[test]
    fn parses_near() {
        assert_eq!(
            parse_point("48.85, 2.35"),
            Some(Point {
                latitude: 48.85,
                longitude: 2.35
            })
        );
        for bad in ["48.85", "x,2", "91,0", "0,181"] {
            assert_eq!(parse_point(bad), None, "{bad}");
        }
    }

    #[test]
    fn box_filter_splits_at_the_antimeridian() {
        let bbox = BoundingBox {
            latitude: (-18.0, -17.0),
            longitude: vec![(179.5, 180.0), (-180.0, -179.5)],
        };
        let rendered: Value = serde_json::from_str(&box_filter(&bbox).to_json()).unwrap();
        assert_eq!(rendered["and"][2]["or"].as_array().unwrap().len(), 2);
    }
}
