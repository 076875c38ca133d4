//! The request a handler reads and the response it builds, with the helpers every handler
//! needs: path parameters, query parameters, a typed JSON body that fails as the host's own
//! bodies fail (400 `malformed_json`, 415, 422 naming the field), and JSON answers.

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::exports::verofield::platform::module as wit;
use crate::etag;
use crate::problem::{FieldError, Problem};
use crate::store::Record;
use crate::validate;

/// Columns the host maintains on every store row: a body that sets them is refused.
pub const HOST_MAINTAINED: &[&str] = &["id", "version", "created_at", "updated_at"];

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// An HTTP request routed to the module (path relative to `/v1/{slot}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Upper case.
    pub method: String,
    pub path: String,
    /// Decoded query parameters, in order; a key may repeat.
    pub query: Vec<(String, String)>,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The manifest pattern that matched, for example `/customers/{id}`.
    pub route: String,
    /// The pattern's parameters.
    pub params: Vec<(String, String)>,
}

impl From<wit::Request> for Request {
    fn from(request: wit::Request) -> Self {
        Self {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
            route: request.route,
            params: request.params,
        }
    }
}

impl Request {
    /// A header's value (names are matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, |key| key.eq_ignore_ascii_case(name))
    }

    /// A path parameter of the matched route. Absent only if the route table and the handler
    /// disagree, which is a bug in the module.
    pub fn param(&self, name: &str) -> Result<&str, Problem> {
        lookup(&self.params, |key| key == name)
            .ok_or_else(|| Problem::internal(&format!("route has no parameter `{name}`")))
    }

    /// A path parameter that must be a UUID (row ids are); otherwise 400, as in the host.
    pub fn id_param(&self, name: &str) -> Result<&str, Problem> {
        let value = self.param(name)?;
        if is_uuid(value) {
            Ok(value)
        } else {
            Err(Problem::bad_request(
                "invalid_path_parameter",
                format!("`{name}` must be a UUID"),
            ))
        }
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        lookup(&self.query, |key| key == name)
    }

    /// Every value of a repeatable query parameter, in order.
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A query parameter parsed with `FromStr`; unparsable is 400 naming it and `expected`.
    pub fn query_parsed<T: FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, Problem> {
        self.query(name)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| Problem::invalid_query(name, expected))
            })
            .transpose()
    }

    /// A query parameter that must be a UUID (an id to filter by); otherwise 400 naming it.
    pub fn query_uuid(&self, name: &str) -> Result<Option<&str>, Problem> {
        match self.query(name) {
            Some(value) if !is_uuid(value) => Err(Problem::invalid_query(name, "a UUID")),
            other => Ok(other),
        }
    }

    /// A query parameter that must be one of `allowed` (a status, say); otherwise 400 naming
    /// it and listing them: `` `status` must be open, closed or canceled ``.
    pub fn query_one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, Problem> {
        match self.query(name) {
            Some(value) if !allowed.contains(&value) => {
                Err(Problem::invalid_query(name, &either(allowed)))
            }
            other => Ok(other),
        }
    }

    /// 422 naming every query and path parameter whose name or value holds text PostgreSQL
    /// cannot store (a NUL): the router refuses such a request before any handler runs, so
    /// a search term never reaches the store as something the database fails on.
    pub fn unstorable_parameters(&self) -> Result<(), Problem> {
        let refused: Vec<FieldError> = self
            .query
            .iter()
            .chain(&self.params)
            .filter(|(name, value)| !validate::is_storable(name) || !validate::is_storable(value))
            .map(|(name, _)| FieldError::new(name.replace('\0', "\u{fffd}"), validate::UNSTORABLE))
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(refused))
        }
    }

    /// `limit` (1..=200, default 50) and `cursor` for a paged list.
    pub fn paging(&self) -> Result<Paging, Problem> {
        let expected = "an integer from 1 to 200";
        let limit = self
            .query_parsed::<u32>("limit", expected)?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(Problem::invalid_query("limit", expected));
        }
        Ok(Paging {
            limit,
            cursor: self.query("cursor").map(str::to_owned),
        })
    }

    /// The JSON body as `T`. The host-maintained columns are read-only.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        self.json_with_read_only(&[])
    }

    /// The JSON body as `T`, refusing with 422 the host-maintained columns and `read_only`
    /// (fields a client sees in answers but may not set, such as a balance).
    ///
    /// Malformed JSON is 400 `malformed_json`; a non-JSON content type is 415; a well-formed
    /// body of the wrong shape (unknown or missing field, wrong type) is 422 naming the field.
    /// Make `T` `#[serde(deny_unknown_fields)]` so that typos are reported, not ignored.
    pub fn json_with_read_only<T: DeserializeOwned>(
        &self,
        read_only: &[&str],
    ) -> Result<T, Problem> {
        let is_json = self.header("content-type").is_some_and(|value| {
            let media_type = value.split(';').next().unwrap_or_default().trim();
            media_type.eq_ignore_ascii_case("application/json")
                || media_type.to_ascii_lowercase().ends_with("+json")
        });
        if !is_json {
            return Err(Problem::new(
                415,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&self.body)
            .map_err(|_| Problem::bad_request("malformed_json", "the body is not valid JSON"))?;
        let Some(object) = value.as_object() else {
            return Err(Problem::validation(vec![FieldError::new(
                "body",
                "expected a JSON object",
            )]));
        };
        let refused: Vec<FieldError> = object
            .keys()
            .filter(|key| {
                HOST_MAINTAINED.contains(&key.as_str()) || read_only.contains(&key.as_str())
            })
            .map(|key| FieldError::new(key.as_str(), "is read-only"))
            .collect();
        if !refused.is_empty() {
            return Err(Problem::validation(refused));
        }
        let unstorable = validate::unstorable_fields(&value);
        if !unstorable.is_empty() {
            return Err(Problem::validation(unstorable));
        }
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            Problem::validation(vec![field_error(&path, &message)])
        })
    }
}

/// `limit` and `cursor` of a paged list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Names the field a serde error is about. serde_path_to_error's path already ends at an
/// unknown field or a badly typed one; a missing field is only named in the message, with
/// the path of the object that lacks it.
fn field_error(path: &str, message: &str) -> FieldError {
    let path = if path == "." { "" } else { path };
    if message.starts_with("unknown field `") {
        return FieldError::new(path, "is not a known field");
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        let field = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "is required");
    }
    FieldError::new(if path.is_empty() { "body" } else { path }, message)
}

/// What a handler answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl From<Response> for wit::Response {
    fn from(response: Response) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }
}

impl Response {
    /// `body` as JSON with the given status.
    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(body) => Self {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            },
            Err(error) => {
                Problem::internal(&format!("answer not serializable: {error}")).into_response()
            }
        }
    }

    /// One row as JSON, with its version as the ETag.
    pub fn record<T: Serialize>(status: u16, record: &Record<T>) -> Self {
        let mut response = Self::json(status, record);
        response.set_header("etag", &etag::etag(record.version));
        response
    }

    /// 201 with the new row, its ETag, and `Location` (give the full path, `/v1/{slot}/...`).
    pub fn created<T: Serialize>(location: &str, record: &Record<T>) -> Self {
        let mut response = Self::record(201, record);
        response.set_header("location", location);
        response
    }

    /// 204 with no body.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            ..Self::default()
        }
    }

    /// Sets a header, replacing any with the same name. The host passes only `content-type`
    /// (JSON, problem+json, CSV, PDF, PNG, JPEG), `etag`, `cache-control`, `retry-after`, `location`
    /// under `/v1/{slot}`, and `x-{slot}-*` headers, at most 32 (8 KiB); it drops the others
    /// (`wit/README.md`).
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, |key| key.eq_ignore_ascii_case(name))
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [word] => (*word).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn lookup(pairs: &[(String, String)], matches: impl Fn(&str) -> bool) -> Option<&str> {
    pairs
        .iter()
        .find(|(key, _)| matches(key))
        .map(|(_, value)| value.as_str())
}

/// Whether `text` is a UUID in its canonical hyphenated form (any case).
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        address: Option<Address>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Address {
        city: Option<String>,
    }

    fn post(body: &str) -> Request {
        Request {
            method: "POST".into(),
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.as_bytes().to_vec(),
            ..Request::default()
        }
    }

    #[test]
    fn checked_query_parameters() {
        let request = Request {
            query: vec![
                ("id".into(), "7d444840-9dc0-11d1-b245-5ffdce74fad2".into()),
                ("bad_id".into(), "7".into()),
                ("status".into(), "open".into()),
                ("bad_status".into(), "shut".into()),
            ],
            ..Request::default()
        };
        let detail = |result: Result<Option<&str>, Problem>| result.unwrap_err().detail;
        assert_eq!(
            request.query_uuid("id").unwrap(),
            Some("7d444840-9dc0-11d1-b245-5ffdce74fad2")
        );
        assert_eq!(request.query_uuid("none").unwrap(), None);
        assert_eq!(
            detail(request.query_uuid("bad_id")),
            "`bad_id` must be a UUID"
        );
        let allowed = ["open", "closed", "canceled"];
        assert_eq!(
            request.query_one_of("status", &allowed).unwrap(),
            Some("open")
        );
        assert_eq!(request.query_one_of("none", &allowed).unwrap(), None);
        assert_eq!(
            detail(request.query_one_of("bad_status", &allowed)),
            "`bad_status` must be open, closed or canceled"
        );
        assert_eq!(
            detail(request.query_one_of("bad_status", &["open", "closed"])),
            "`bad_status` must be open or closed"
        );
        assert_eq!(
            detail(request.query_one_of("bad_status", &["open"])),
            "`bad_status` must be open"
        );
    }

    fn refusal(body: &str) -> Problem {
        post(body).json::<Body>().unwrap_err()
    }

    #[test]
    fn body_errors_name_the_field() {
        assert_eq!(refusal("{").code, "malformed_json");
        assert_eq!(
            refusal("[]").errors,
            vec![FieldError::new("body", "expected a JSON object")]
        );
        assert_eq!(
            refusal("{}").errors,
            vec![FieldError::new("name", "is required")]
        );
        assert_eq!(
            refusal(r#"{"name": "a", "nick": 1}"#).errors,
            vec![FieldError::new("nick", "is not a known field")]
        );
        assert_eq!(
            refusal(r#"{"name": "a", "address": {"town": "x"}}"#).errors,
            vec![FieldError::new("address.town", "is not a known field")]
        );
        let wrong_type = refusal(r#"{"name": 5}"#);
        assert_eq!(wrong_type.status, 422);
        assert_eq!(wrong_type.errors[0].field, "name");
        assert!(wrong_type.errors[0].message.starts_with("invalid type"));
        assert_eq!(
            refusal(r#"{"name": "a", "version": 3}"#).errors,
            vec![FieldError::new("version", "is read-only")]
        );
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        assert_eq!(
            refusal(r#"{"name": "a\u0000b"}"#).errors,
            vec![FieldError::new("name", validate::UNSTORABLE)]
        );
        let request = Request {
            query: vec![("q".into(), "ab\0c".into()), ("limit".into(), "5".into())],
            params: vec![("id".into(), "\0".into())],
            ..Request::default()
        };
        let problem = request.unstorable_parameters().unwrap_err();
        assert_eq!((problem.status, problem.code), (422, "validation_failed"));
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["q", "id"]);
        assert!(Request::default().unstorable_parameters().is_ok());
    }

    #[test]
    fn body_needs_a_json_content_type() {
        let mut request = post(r#"{"name": "a"}"#);
        assert!(request.json::<Body>().is_ok());
        request.headers = vec![("content-type".into(), "text/plain".into())];
        assert_eq!(request.json::<Body>().unwrap_err().status, 415);
    }

    #[test]
    fn paging_defaults_and_bounds() {
        let with = |limit: &str| Request {
            query: vec![("limit".into(), limit.into())],
            ..Request::default()
        };
        assert_eq!(Request::default().paging().unwrap().limit, 50);
        assert_eq!(with("200").paging().unwrap().limit, 200);
        for bad in ["0", "201", "x", "-1"] {
            assert_eq!(
                with(bad).paging().unwrap_err().code,
                "invalid_query_parameter"
            );
        }
    }

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        assert!(!is_uuid("0193a1b2c3d47e5f8a9b0c1d2e3f4a5b"));
        assert!(!is_uuid("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"));
    }
}
