//! Contacts: the people to talk to at a customer (name, e-mail, phone, role, whether
//! primary).

use serde::{Deserialize, Serialize};
use verofield_sdk::http::Request;
use verofield_sdk::store::{Filter, Record, Select};
use verofield_sdk::{Patch, Problem, Response, Validator, etag};

use crate::{CONTACT, CONTACTS, CUSTOMER, Columns, public_path};

/// Set by the module from the route, never by the client.
const READ_ONLY: &[&str] = &["customer_id"];

#[verofield_sdk::patch_fields]
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    name: Patch<String>,
    email: Patch<String>,
    phone: Patch<String>,
    role: Patch<String>,
    is_primary: Patch<bool>,
    #[serde(skip_deserializing)]
    customer_id: Patch<String>,
}

impl ContactFields {
    fn from_request(request: &Request, creating: bool) -> Result<Self, Problem> {
        let mut fields: Self = request.json_with_read_only(READ_ONLY)?;
        fields.name.normalize(|name| Some(name.trim().to_owned()));
        fields.role.normalize(|role| Some(role.trim().to_owned()));
        fields.email.normalize_email();
        fields.phone.trim_or_null();
        let mut check = Validator::default();
        check
            .required(&fields.name, "name", creating)
            .required(&fields.role, "role", false)
            .required(&fields.is_primary, "is_primary", false)
            .length("name", fields.name.value(), 1..=200)
            .length("role", fields.role.value(), 0..=100)
            .email("email", fields.email.value())
            .phone("phone", fields.phone.value());
        check.finish()?;
        Ok(fields)
    }
}

/// `POST /customers/{id}/contacts`
pub fn create(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    let mut fields = ContactFields::from_request(request, true)?;
    fields.customer_id = Patch::Value(customer.id);
    let contact: Record<Columns> = verofield_sdk::store::insert(CONTACTS, &fields)?;
    Ok(Response::created(
        &public_path(&format!("/contacts/{}", contact.id)),
        &contact,
    ))
}

/// `GET /customers/{id}/contacts`
pub fn list_for_customer(request: &Request) -> Result<Response, Problem> {
    let customer = CUSTOMER.existing(request.id_param("id")?)?;
    let page = Select::from(CONTACTS)
        .filter(Filter::eq("customer_id", customer.id))
        .page(request.paging()?)
        .fetch::<Columns>()?;
    Ok(Response::json(200, &page))
}

/// `GET /contacts/{id}`
pub fn show(request: &Request) -> Result<Response, Problem> {
    let contact = CONTACT.existing(request.id_param("id")?)?;
    Ok(Response::record(200, &contact))
}

/// `PATCH /contacts/{id}`
pub fn update(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    let fields = ContactFields::from_request(request, false)?;
    let contact: Record<Columns> = etag::update(request, CONTACTS, id, "contact", &fields)?;
    Ok(Response::record(200, &contact))
}

/// `DELETE /contacts/{id}`
pub fn delete(request: &Request) -> Result<Response, Problem> {
    let id = request.id_param("id")?;
    etag::delete::<serde::de::IgnoredAny>(request, CONTACTS, id, "contact")?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_fields(body: &str, creating: bool) -> Vec<String> {
        let request = Request {
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            ..Request::default()
        };
        match ContactFields::from_request(&request, creating) {
            Ok(_) => vec![],
            Err(problem) => problem.errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn validates_contacts() {
        assert!(invalid_fields(r#"{"name": "Bo", "is_primary": true}"#, true).is_empty());
        assert_eq!(invalid_fields(r#"{"role": "owner"}"#, true), ["name"]);
        assert_eq!(
            invalid_fields(r#"{"email": "nope", "is_primary": null}"#, false),
            ["is_primary", "email"]
        );
        assert_eq!(
            invalid_fields(r#"{"customer_id": "x"}"#, false),
            ["customer_id"]
        );
    }
}
