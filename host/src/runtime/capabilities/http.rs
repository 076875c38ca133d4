//! `http`: outbound HTTP for modules whose manifest declares `capabilities: ["http"]` and the
//! hosts they may reach in `outbound.hosts` (which the tenant sees and accepts at consent).
//! This file is the module-facing gate; the sending is the server's one hardened client
//! (`crate::outbound`), so a module gets exactly what webhooks get: https only, every resolved
//! address checked (private, loopback, link-local and metadata addresses refused even for a
//! listed host), the connection pinned to the checked address, no redirects, 64 KiB read.
//!
//! In order, a request must: come from a granted module (else `not-granted`, and the host
//! fails the call as for a store table outside the grants), be one of the call's first
//! [`MAX_REQUESTS_PER_CALL`], parse, name a listed host (else `host-not-allowed`, with no DNS
//! look-up and no connection), and fit in what is left of the call's deadline less a margin
//! for the module to answer. The module call holds its tenant's database transaction while it
//! waits: the deadline (2 s for uploads) is what bounds that cost. Each request is counted in
//! `module_outbound_requests_total{module, outcome}` and logged at info with tenant, module,
//! host, status and milliseconds.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderName;
use uuid::Uuid;
use wasmtime::component::Linker;

use super::store::BoxFuture;
use super::{Capability, Granted};
use crate::outbound::{Outbound, OutboundError, OutboundResponse};
use crate::runtime::bindings::verofield::platform::http as wit;
use crate::runtime::instance::CallState;
use crate::runtime::manifest::Manifest;

pub use wit::HttpError;

/// The manifest's name for this capability.
pub const CAPABILITY: &str = "http";
/// The most entries `outbound.hosts` may list.
pub const MAX_HOSTS: usize = 20;
/// The most requests one module call may send.
pub const MAX_REQUESTS_PER_CALL: u32 = 20;
/// The most headers a request may carry.
const MAX_HEADERS: usize = 32;
/// Kept back from the call's deadline so that a module whose request timed out can still
/// answer: a tenth of what is left, at most this.
const ANSWER_MARGIN: Duration = Duration::from_millis(200);
/// Headers the client sets itself or that would change the framing (and every `proxy-*`).
const REFUSED_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// One request as the capability hands it to the client.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sends a checked request within `limit`. The server's [`Outbound`] client in production.
pub trait HttpBackend: Send {
    fn send(
        &mut self,
        request: OutboundRequest,
        limit: Duration,
    ) -> BoxFuture<'_, Result<OutboundResponse, OutboundError>>;
}

impl HttpBackend for Outbound {
    fn send(
        &mut self,
        request: OutboundRequest,
        limit: Duration,
    ) -> BoxFuture<'_, Result<OutboundResponse, OutboundError>> {
        Box::pin(async move {
            let headers: Vec<(&str, String)> = request
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.clone()))
                .collect();
            self.send_within(request.method, &request.url, &headers, request.body, limit)
                .await
        })
    }
}

pub struct HttpState {
    backend: Box<dyn HttpBackend>,
    granted: bool,
    hosts: Vec<String>,
    module: String,
    tenant_id: Uuid,
    deadline: Instant,
    sent: u32,
    denied: Option<String>,
}

impl HttpState {
    pub fn new(
        backend: Box<dyn HttpBackend>,
        grants: &Manifest,
        tenant_id: Uuid,
        deadline: Instant,
    ) -> Self {
        Self {
            backend,
            granted: grants.capabilities.iter().any(|c| c == CAPABILITY),
            hosts: grants.outbound.hosts.clone(),
            module: grants.name.clone(),
            tenant_id,
            deadline,
            sent: 0,
            denied: None,
        }
    }

    /// Requests the call asked to send within its cap (for usage metering).
    pub fn sent(&self) -> u32 {
        self.sent
    }

    /// The first request made without the grant, if there was one: the host fails the call.
    pub fn denied(&self) -> Option<&str> {
        self.denied.as_deref()
    }

    async fn send(&mut self, request: wit::Request) -> Result<wit::Response, HttpError> {
        if !self.granted {
            let why = "the manifest does not declare the `http` capability".to_owned();
            self.denied.get_or_insert_with(|| why.clone());
            return Err(HttpError::NotGranted(why));
        }
        if self.sent >= MAX_REQUESTS_PER_CALL {
            return Err(HttpError::LimitExceeded(format!(
                "a call sends at most {MAX_REQUESTS_PER_CALL} requests"
            )));
        }
        self.sent += 1;
        let (request, host) = checked(request, &self.hosts)?;
        let left = self.deadline.saturating_duration_since(Instant::now());
        let limit = left.saturating_sub((left / 10).min(ANSWER_MARGIN));
        if limit.is_zero() {
            return Err(HttpError::Timeout);
        }
        let started = Instant::now();
        let answer = self.backend.send(request, limit).await;
        let ms = started.elapsed().as_millis();
        let status = answer.as_ref().map(|response| response.status).ok();
        tracing::info!(tenant_id = %self.tenant_id, module = %self.module, host = %host,
            status, ms, "module outbound request");
        match answer {
            Ok(response) if response.truncated => Err(HttpError::TooLarge),
            Ok(response) => Ok(wit::Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }),
            Err(error) => Err(match error {
                OutboundError::InvalidUrl(why) => HttpError::Invalid(why),
                OutboundError::Refused(why) => HttpError::RefusedAddress(why),
                OutboundError::Timeout(_) => HttpError::Timeout,
                OutboundError::Unresolved(why) | OutboundError::Transport(why) => {
                    HttpError::Failed(why)
                }
            }),
        }
    }
}

/// The request as the client takes it and its host, or why it is refused before any
/// network: a bad method, URL or header, or a host the manifest does not list.
fn checked(
    request: wit::Request,
    hosts: &[String],
) -> Result<(OutboundRequest, String), HttpError> {
    let method = match request.method.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => {
            Method::from_bytes(request.method.as_bytes()).expect("a standard method")
        }
        other => {
            return Err(HttpError::Invalid(format!(
                "method `{other}` is not allowed"
            )));
        }
    };
    let url = reqwest::Url::parse(&request.url)
        .map_err(|_| HttpError::Invalid("not an absolute URL".into()))?;
    let host = match url.host() {
        Some(url::Host::Domain(host)) => host.to_owned(),
        Some(_) => {
            return Err(HttpError::HostNotAllowed(
                "an IP address is never on `outbound.hosts`".into(),
            ));
        }
        None => return Err(HttpError::Invalid("the URL has no host".into())),
    };
    if !host_allowed(hosts, &host) {
        return Err(HttpError::HostNotAllowed(format!(
            "`{host}` is not on the manifest's `outbound.hosts`"
        )));
    }
    if request.headers.len() > MAX_HEADERS {
        return Err(HttpError::Invalid(format!(
            "more than {MAX_HEADERS} headers"
        )));
    }
    for (name, _) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if HeaderName::from_bytes(name.as_bytes()).is_err()
            || REFUSED_HEADERS.contains(&lower.as_str())
            || lower.starts_with("proxy-")
        {
            return Err(HttpError::Invalid(format!("header `{name}` is refused")));
        }
    }
    let request = OutboundRequest {
        method,
        url: request.url,
        headers: request.headers,
        body: request.body,
    };
    Ok((request, host))
}

/// Whether `host` (as the URL parser gives it: lower case) matches an entry: the same name, or
/// exactly one label more than a `*.` entry (`*.example.org` takes `api.example.org`, not
/// `example.org` nor `a.b.example.org`, the rule of TLS certificates).
pub fn host_allowed(patterns: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    patterns
        .iter()
        .any(|pattern| match pattern.strip_prefix("*.") {
            Some(parent) => host
                .strip_suffix(parent)
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
            None => *pattern == host,
        })
}

/// An `outbound.hosts` entry: a lower-case DNS name (labels of letters, digits and inner
/// dashes, at most 63 bytes each and 253 in all), optionally after one leading `*.` with at
/// least two labels after it. No IP address (a last label of digits), no port, no path: the
/// host is the unit a tenant consents to.
pub fn check_host_pattern(pattern: &str) -> Result<(), String> {
    let (wildcard, name) = match pattern.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, pattern),
    };
    if name.is_empty() || name.len() > 253 {
        return Err("not a host name".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !labels.iter().all(label_ok) {
        return Err(
            "not a lower-case host name (letters, digits, dashes; no port, no path; a wildcard only as one leading `*.`)"
                .into(),
        );
    }
    if labels
        .last()
        .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("an IP address, not a host name".into());
    }
    if wildcard && labels.len() < 2 {
        return Err("a wildcard needs at least two labels after `*.`".into());
    }
    Ok(())
}

pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability<HttpState>>(linker, |call| Granted {
        state: &mut call.http,
        calls: &mut call.host_calls,
    })
}

impl wit::Host for Granted<'_, HttpState> {
    async fn send(
        &mut self,
        request: wit::Request,
    ) -> wasmtime::Result<Result<wit::Response, HttpError>> {
        self.calls.charge()?;
        let answer = self.state.send(request).await;
        let outcome = match &answer {
            Ok(_) => "answered",
            Err(HttpError::NotGranted(_)) => "not_granted",
            Err(HttpError::HostNotAllowed(_)) => "host_not_allowed",
            Err(HttpError::RefusedAddress(_)) => "refused_address",
            Err(HttpError::Invalid(_)) => "invalid",
            Err(HttpError::LimitExceeded(_)) => "limit_exceeded",
            Err(HttpError::Timeout) => "timeout",
            Err(HttpError::TooLarge) => "too_large",
            Err(HttpError::Failed(_)) => "failed",
        };
        metrics::counter!("module_outbound_requests_total",
            "module" => self.state.module.clone(), "outcome" => outcome)
        .increment(1);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn hosts_match_exactly_or_one_label_under_a_wildcard() {
        let list = hosts(&["api.example.com", "*.example.org"]);
        for allowed in ["api.example.com", "API.Example.com", "eu.example.org"] {
            assert!(host_allowed(&list, allowed), "{allowed}");
        }
        for refused in [
            "example.com",
            "xapi.example.com",
            "api.example.com.evil.net",
            "example.org",
            "a.b.example.org",
            "evilexample.org",
        ] {
            assert!(!host_allowed(&list, refused), "{refused}");
        }
    }

    #[test]
    fn host_patterns_are_names_only() {
        for good in ["api.example.com", "*.example.org", "partner.test", "x-1.io"] {
            assert_eq!(check_host_pattern(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "API.example.com",
            "api.example.com:8443",
            "https://api.example.com",
            "api.example.com/x",
            "10.0.0.1",
            "169.254.169.254",
            "[::1]",
            "*.com",
            "*",
            "a.*.example.com",
            "-a.example.com",
            "a..example.com",
        ] {
            assert!(check_host_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_are_checked_before_any_network() {
        let list = hosts(&["api.example.com"]);
        let request = |method: &str, url: &str, headers: &[(&str, &str)]| wit::Request {
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: vec![],
        };
        let refused = |r| checked(r, &list).unwrap_err();
        assert!(matches!(
            refused(request("GET", "https://other.example.com/", &[])),
            HttpError::HostNotAllowed(_)
        ));
        assert!(matches!(
            refused(request("GET", "https://169.254.169.254/", &[])),
            HttpError::HostNotAllowed(_)
        ));
        assert!(matches!(
            refused(request("TRACE", "https://api.example.com/", &[])),
            HttpError::Invalid(_)
        ));
        assert!(matches!(
            refused(request("GET", "https://api.example.com/", &[("Host", "x")])),
            HttpError::Invalid(_)
        ));
        let (ok, host) = checked(
            request("POST", "https://api.example.com/v1", &[("accept", "x")]),
            &list,
        )
        .unwrap();
        assert_eq!(
            (ok.method, host.as_str()),
            (Method::POST, "api.example.com")
        );
    }
}
