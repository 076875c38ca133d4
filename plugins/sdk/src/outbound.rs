//! Outbound HTTP through the host (WIT `http`), for modules whose manifest declares
//! `capabilities: &["http"]` and lists the hosts in `outbound`. (The module's own request and
//! response are [`crate::http`]; this is the other direction.) The host sends through its
//! hardened client: https only, the URL's host must be listed, private and cloud-metadata
//! addresses are refused even for a listed host, no redirects, at most 20 requests per call,
//! each bounded by the call's deadline, 64 KiB of an answer read.
//!
//! ```no_run
//! use verofield_sdk::{Manifest, Outbound, Problem, Request, Response, Route, outbound};
//!
//! const MANIFEST: Manifest = Manifest {
//!     name: "acme/rates",
//!     version: "1.0.0",
//!     slot: "rates",
//!     routes: &[Route::get("/today", "rates.read", today)],
//!     capabilities: &["http"],
//!     outbound: Outbound { hosts: &["api.rates.example"] },
//!     ..Manifest::EMPTY
//! };
//!
//! fn today(_: &Request) -> Result<Response, Problem> {
//!     let answer = outbound::get("https://api.rates.example/v1/today")?;
//!     let rates: serde_json::Value = answer.json()?;
//!     Ok(Response::json(200, &rates))
//! }
//! ```
//!
//! Errors convert into the [`Problem`] a client should see, so handlers can use `?`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::verofield::platform::http as wit;
use crate::problem::Problem;

pub use wit::{HttpError, Request as OutboundRequest, Response as OutboundResponse};

/// `GET url` with no headers.
pub fn get(url: &str) -> Result<OutboundResponse, HttpError> {
    send("GET", url, &[], Vec::new())
}

/// `POST url` with `value` as a JSON body.
pub fn post_json(url: &str, value: &impl Serialize) -> Result<OutboundResponse, HttpError> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    send("POST", url, &[("content-type", "application/json")], body)
}

/// Any request: `method` upper case, headers as name and value.
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<OutboundResponse, HttpError> {
    wit::send(&OutboundRequest {
        method: method.to_owned(),
        url: url.to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        body,
    })
}

impl OutboundResponse {
    /// The body as `T`; a 502 problem when the remote answered something else.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        serde_json::from_slice(&self.body).map_err(|_| {
            Problem::new(
                502,
                "upstream_bad_answer",
                "the remote service answered something that is not the expected JSON",
            )
        })
    }
}

impl From<HttpError> for Problem {
    /// The usual answer to each error: the remote's trouble is a 502 or 504 to the client;
    /// a refused host or request is the module's bug (500).
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Timeout => Problem::new(
                504,
                "upstream_timeout",
                "the remote service did not answer in time",
            ),
            HttpError::TooLarge => Problem::new(
                502,
                "upstream_bad_answer",
                "the remote service answered more than the host reads",
            ),
            HttpError::Failed(why) => Problem::new(502, "upstream_unavailable", why),
            HttpError::NotGranted(why)
            | HttpError::HostNotAllowed(why)
            | HttpError::RefusedAddress(why)
            | HttpError::Invalid(why)
            | HttpError::LimitExceeded(why) => Problem::internal(&format!("outbound: {why}")),
        }
    }
}
