//! Customers: create, search and list, read (with ETag), update (honouring `If-Match`),
//! delete (their locations and contacts go with them, by foreign key). Every change emits a
//! `customer.*` event with the customer's id, version and contact fields, in the same
//! transaction.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use verofield_sdk::http::Request;
use verofield_sdk::store::{Filter, Record, Select};
use verofield_sdk::validate::is_rfc3339;
use verofield_sdk::{Patch, Problem, Response, Validator, custom, etag, events};

use crate::address::Address;
use crate::defaults::{self, Defaults, fill};
use crate::{CUSTOMER, CUSTOMERS, Columns, public_path};

pub const CREATED: &str = "customer.created";
pub const UPDATED: &str = "customer.updated";
pub const DELETED: &str = "customer.deleted";

/// Balance columns are kept by billing, never set through the CRM.
const READ_ONLY: &[&str] = &["balance_minor", "currency"];

const STATUSES: [&str; 3] = ["active", "inactive", "lead"];
const SORTS: [&str; 4] = ["name", "-name", "created_at", "-created_at"];
const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Residential,
    Commercial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
    Lead,
}

/// The writable columns; absent ones keep their value (or the column default on create).
#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    kind: Patch<Kind>,
    name: Patch<String>,
    email: Patch<String>,
    phone: Patch<String>,
    status: Patch<Status>,
    tags: Patch<Vec<String>>,
    notes: Patch<String>,
    billing_address: Patch<Address>,
    /// The tenant's custom fields; the host checks them against its definitions. Replaces
    /// the stored object on PATCH.
    custom: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl CustomerFields {
    /// The body, normalized (trimmed; blank e-mail or phone is none; tags de-duplicated) and
    /// validated.
    fn from_request(request: &Request, creating: bool) -> Result<Self, Problem> {
        let mut fields: Self = request.json_with_read_only(READ_ONLY)?;
        fields.normalize();
        fields.validate(creating)?;
        Ok(fields)
    }

    /// The body with what the client left unset filled by the tenant's defaults
    /// (`crm.customer_defaults`), normalized and validated again as the client's own.
    fn with_defaults(mut self, defaults: Defaults) -> Result<Self, Problem> {
        fill(&mut self.kind, defaults.kind);
        fill(&mut self.status, defaults.status);
        fill(&mut self.tags, defaults.tags);
        fill(&mut self.notes, defaults.notes);
        self.normalize();
        self.validate(true)?;
        Ok(self)
    }

    fn normalize(&mut self) {
        self.name.normalize(|name| Some(name.trim().to_owned()));
        self.email.normalize_email();
        self.phone.trim_or_null();
        self.tags.normalize(|tags| {
            let mut unique: Vec<String> = Vec::with_capacity(tags.len());
            for tag in tags.iter().map(|tag| tag.trim()) {
                if !unique.iter().any(|seen| seen == tag) {
                    unique.push(tag.to_owned());
                }
            }
            Some(unique)
        });
    }

    fn validate(&self, creating: bool) -> Result<(), Problem> {
        let mut check = Validator::default();
        check
            .required(&self.name, "name", creating)
            .required(&self.kind, "kind", false)
            .required(&self.status, "status", false)
            .required(&self.tags, "tags", false)
            .required(&self.notes, "notes", false)
            .required(&self.custom, "custom", false)
            .length("name", self.name.value(), 1..=200)
            .email("email", self.email.value())
            .phone("phone", self.phone.value())
            .length("notes", self.notes.value(), 0..=10_000);
        if let Some(tags) = self.tags.value() {
            check.check(
                tags.len() <= MAX_TAGS,
                "tags",
                &format!("may hold at most {MAX_TAGS} tags"),
            );
            for tag in tags {
                check.length("tags", Some(tag), 1..=50);
            }
        }
        if let Some(address) = self.billing_address.value() {
            address.validate("billing_address", &mut check);
        }
        check.finish()
    }
}

fn non_blank(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|text| !text.is_empty())
}

/// What every `customer.*` event carries: the customer as stored after the change (as it was
/// before, for `customer.deleted`), except its free-text notes. `customer_id` orders a
/// customer's events; `id` is the same value, kept for consumers written against it.
fn emit(event_type: &str, customer: &Record<Columns>) -> Result<(), Problem> {
    let v = &customer.values;
    events::emit(
        event_type,
        &json!({
            "customer_id": customer.id,
            "id": customer.id,
            "version": customer.version,
            "name": v.get("name"),
            "kind": v.get("kind"),
            "status": v.get("status"),
            "email": v.get("email"),
            "phone": v.get("phone"),
            "tags": v.get("tags"),
            "billing_address": v.get("billing_address"),
            "custom": v.get("custom"),
            "currency": v.get("currency"),
            "created_at": v.get("created_at"),
            "updated_at": v.get("updated_at"),
        }),
    )
}

/// `POST /customers`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let fields = CustomerFields::from_request(request, true)?;
    let defaults = defaults::run(&fields)?;
    let fields = fields.with_defaults(defaults)?;
    let customer = verofield_sdk::store::insert(CUSTOMERS, &fields)?;
    emit(CREATED, &customer)?;
    Ok(Response::created(
        &public_path(&format!("/customers/{}", customer.id)),
        &customer,
    ))
}

/// `GET /customers?q=&status=&tag=&created_after=&created_before=&custom.<key>=&sort=&limit=&cursor=`
pub fn list(request: &Request) -> Result<Response, Problem> {
    let paging = request.paging()?;
    let page = Select::from(CUSTOMERS)
        .filter(Filter::and(list_filters(request)?))
        .sort(sort(request)?)
        .page(paging)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// The filters the list's query parameters ask for (all of them must hold).
fn list_filters(request: &Request) -> Result<Vec<Filter>, Problem> {
    let mut filters = Vec::new();
    if let Some(q) = request.query("q").and_then(non_blank) {
        filters.push(Filter::or(
            ["name", "email", "phone"].map(|column| Filter::contains(column, q)),
        ));
    }
    if let Some(status) = request.query_one_of("status", &STATUSES)? {
        filters.push(Filter::eq("status", status));
    }
    // Repeated `tag`s narrow: the customer has every one of them.
    filters.extend(request.query_all("tag").map(|tag| Filter::eq("tags", tag)));
    if let Some(after) = timestamp_query(request, "created_after")? {
        filters.push(Filter::gt("created_at", after));
    }
    if let Some(before) = timestamp_query(request, "created_before")? {
        filters.push(Filter::lt("created_at", before));
    }
    filters.extend(custom::filters(request)?);
    Ok(filters)
}

/// An RFC 3339 query parameter, checked here so that a typo is a 400 naming it.
fn timestamp_query<'a>(request: &'a Request, name: &str) -> Result<Option<&'a str>, Problem> {
    match request.query(name) {
        Some(instant) if !is_rfc3339(instant) => {
            Err(Problem::invalid_query(name, "an RFC 3339 timestamp"))
        }
        other => Ok(other),
    }
}

/// `sort=[-]custom.<key>` works too; the message names only the fixed sorts, as the Python
/// twin's does (it has no custom fields yet).
fn sort(request: &Request) -> Result<&str, Problem> {
    match request.query("sort") {
        None => Ok("created_at"),
        Some(sort) if SORTS.contains(&sort) || custom::is_sort(sort) => Ok(sort),
        Some(_) => Err(Problem::invalid_query(
            "sort",
            "name, -name, created_at or -created_at",
        )),
    }
}

/// `GET /customers/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    Ok(Response::record(200, &customer))
}

/// `PATCH /customers/{id}`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let fields = CustomerFields::from_request(request, false)?;
    let customer = etag::update(request, CUSTOMERS, id, "customer", &fields)?;
    emit(UPDATED, &customer)?;
    Ok(Response::record(200, &customer))
}

/// `DELETE /customers/{id}`
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let customer = etag::delete(request, CUSTOMERS, id, "customer")?;
    emit(DELETED, &customer)?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &str) -> Request {
        Request {
            method: "POST".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            ..Request::default()
        }
    }

    fn invalid_fields(body: &str, creating: bool) -> Vec<String> {
        match CustomerFields::from_request(&post(body), creating) {
            Ok(_) => vec![],
            Err(problem) => problem.errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn normalizes_before_storing() {
        let fields = CustomerFields::from_request(
            &post(r#"{"name": " Ann ", "email": " ", "tags": ["vip", " vip", "gold"]}"#),
            true,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            json!({"name": "Ann", "email": null, "tags": ["vip", "gold"]})
        );
    }

    #[test]
    fn defaults_fill_only_what_the_client_left_unset() {
        let sent = CustomerFields::from_request(&post(r#"{"name": "Ann", "tags": []}"#), true);
        let defaults: Defaults = serde_json::from_value(
            json!({"tags": ["residential"], "status": "lead", "notes": " gate code 12 "}),
        )
        .unwrap();
        let filled = sent.unwrap().with_defaults(defaults).unwrap();
        assert_eq!(
            serde_json::to_value(&filled).unwrap(),
            json!({"name": "Ann", "tags": [], "status": "lead", "notes": " gate code 12 "})
        );
    }

    #[test]
    fn validates_every_field() {
        assert!(invalid_fields(r#"{"name": "Ann", "kind": "commercial"}"#, true).is_empty());
        assert_eq!(invalid_fields("{}", true), ["name"]);
        assert!(invalid_fields("{}", false).is_empty());
        assert_eq!(
            invalid_fields(
                r#"{"name": "", "email": "x", "phone": "abc", "tags": [""]}"#,
                false
            ),
            ["name", "email", "phone", "tags"]
        );
        assert_eq!(invalid_fields(r#"{"status": null}"#, false), ["status"]);
        assert_eq!(invalid_fields(r#"{"kind": "alien"}"#, false), ["kind"]);
        assert_eq!(
            invalid_fields(r#"{"balance_minor": 5}"#, false),
            ["balance_minor"]
        );
        assert_eq!(invalid_fields(r#"{"nickname": "x"}"#, false), ["nickname"]);
        assert_eq!(
            invalid_fields(r#"{"billing_address": {"zip": "1"}}"#, false),
            ["billing_address.zip"]
        );
    }

    #[test]
    fn list_query_parameters() {
        let with = |pairs: &[(&str, &str)]| Request {
            query: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        };
        let filters = list_filters(&with(&[
            ("q", "ann"),
            ("tag", "vip"),
            ("tag", "gold"),
            ("created_after", "2026-01-01T00:00:00Z"),
        ]))
        .unwrap();
        assert_eq!(filters.len(), 4);
        assert!(list_filters(&with(&[("status", "gone")])).is_err());
        assert!(list_filters(&with(&[("created_before", "yesterday")])).is_err());
        assert_eq!(sort(&with(&[("sort", "-name")])).unwrap(), "-name");
        assert!(sort(&with(&[("sort", "email")])).is_err());
    }
}
