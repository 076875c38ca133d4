//! The one HTTP client for everything the server sends out (webhooks, and Stripe for
//! `payments`). A tenant picks the URL, so the client must not become a way into the server's own
//! network (SSRF):
//!
//! - https only, unless `serve --outbound-allow-http` (tests, on-premise receivers);
//! - no userinfo in the URL, no redirects (a redirect could point anywhere);
//! - the host name is resolved once, here, and EVERY address it resolves to is checked
//!   against [`is_refused`] (loopback, private, CGNAT, link-local and cloud metadata,
//!   unique-local, multicast, unspecified, and the IPv4-mapped forms of those); then the
//!   connection is pinned to the checked address, so a second DNS answer (rebinding) cannot
//!   swap it. `serve --outbound-allow-cidr` lets chosen blocks through;
//! - 10 s for the whole exchange, DNS included (less when the caller has less left: a module's
//!   deadline), and at most 64 KiB of the answer's body is read: the rest is never downloaded.
//!
//! `serve --outbound-resolve NAME=IP` pins a name to an address without DNS (tests, split-horizon
//! installs); the address is checked like any other.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::client_address::Cidr;

/// What the client allows; the default is the safe one.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Accept `http://` URLs (tests and on-premise installs only).
    pub allow_http: bool,
    /// Blocks that are reachable even though [`is_refused`] refuses them.
    pub allow_cidrs: Vec<Cidr>,
    /// The whole exchange: DNS, connect, TLS, request and the body read.
    pub timeout: Duration,
    /// The most of an answer's body that is read.
    pub max_body: usize,
    /// Names answered without DNS, lower case (`--outbound-resolve`); still checked.
    pub resolve: Vec<(String, IpAddr)>,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_cidrs: Vec::new(),
            timeout: Duration::from_secs(10),
            max_body: 64 * 1024,
            resolve: Vec::new(),
        }
    }
}

/// Why a request was not sent or did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// Not an absolute URL the client accepts (scheme, userinfo, no host).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The destination resolves to an address the client refuses.
    #[error("destination refused: {0}")]
    Refused(String),
    #[error("the host name did not resolve: {0}")]
    Unresolved(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("transport error: {0}")]
    Transport(String),
}

/// An answer: its status and up to `max_body` bytes of its body.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    /// Names lower case, values that are not text left out.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than `max_body` and was cut there.
    pub truncated: bool,
}

/// The hardened client. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    settings: std::sync::Arc<OutboundSettings>,
}

impl Outbound {
    pub fn new(settings: OutboundSettings) -> Self {
        Self {
            settings: std::sync::Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &OutboundSettings {
        &self.settings
    }

    /// Parses `url` and checks what can be checked without DNS: an absolute `https` (or
    /// allowed `http`) URL with a host and no userinfo, and an IP literal host allowed.
    pub fn check_url(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed =
            Url::parse(url).map_err(|_| OutboundError::InvalidUrl("not an absolute URL".into()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.settings.allow_http => {}
            "http" => return Err(OutboundError::InvalidUrl("the URL must use https".into())),
            _ => {
                return Err(OutboundError::InvalidUrl(
                    "the URL must use https".to_owned(),
                ));
            }
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(OutboundError::InvalidUrl(
                "the URL must not carry a user name or password".into(),
            ));
        }
        if let Some(ip) = literal_ip(&parsed)? {
            self.check_address(ip)?;
        }
        Ok(parsed)
    }

    /// Resolves the URL's host once and checks every address; the first is the one to use.
    pub async fn resolve(&self, url: &Url) -> Result<SocketAddr, OutboundError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| OutboundError::InvalidUrl("no port".into()))?;
        if let Some(ip) = literal_ip(url)? {
            self.check_address(ip)?;
            return Ok(SocketAddr::new(ip, port));
        }
        let host = url
            .host_str()
            .ok_or_else(|| OutboundError::InvalidUrl("the URL has no host".into()))?;
        if let Some((_, ip)) = self.settings.resolve.iter().find(|(name, _)| name == host) {
            self.check_address(*ip)?;
            return Ok(SocketAddr::new(*ip, port));
        }
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| OutboundError::Unresolved(format!("{host}: {error}")))?
            .collect();
        // Every address, not only the first: a name that mixes a public and a private
        // address is refused rather than gambled on.
        for address in &addresses {
            self.check_address(address.ip())?;
        }
        addresses
            .first()
            .copied()
            .ok_or_else(|| OutboundError::Unresolved(format!("{host}: no address")))
    }

    fn check_address(&self, ip: IpAddr) -> Result<(), OutboundError> {
        let allowed = self.settings.allow_cidrs.iter().any(|c| c.contains(ip));
        if is_refused(ip) && !allowed {
            return Err(OutboundError::Refused(format!(
                "{ip} is a private, loopback, link-local or reserved address"
            )));
        }
        Ok(())
    }

    /// POSTs `body` to `url` with `headers`, under every rule of this module.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<OutboundResponse, OutboundError> {
        self.send(reqwest::Method::POST, url, headers, body).await
    }

    /// Sends one request of any method (payment providers also read with GET), under every
    /// rule of this module.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<OutboundResponse, OutboundError> {
        self.send_within(method, url, headers, body, self.settings.timeout)
            .await
    }

    /// [`send`](Self::send), bounded by `limit` when that is shorter than the client's own
    /// timeout (a module call's remaining deadline).
    pub async fn send_within(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        let timeout = limit.min(self.settings.timeout);
        tokio::time::timeout(
            timeout,
            self.send_unbounded(method, url, headers, body, timeout),
        )
        .await
        .map_err(|_| OutboundError::Timeout(timeout))?
    }

    async fn send_unbounded(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        let parsed = self.check_url(url)?;
        let address = self.resolve(&parsed).await?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .https_only(!self.settings.allow_http)
            .user_agent(concat!("VeroField-Webhooks/", env!("CARGO_PKG_VERSION")));
        if let Some(host) = parsed.domain() {
            // The connection goes to the address checked above, whatever DNS says next.
            builder = builder.resolve(host, address);
        }
        let client = builder
            .build()
            .map_err(|error| OutboundError::Transport(error.to_string()))?;
        let mut header_map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|error| OutboundError::Transport(error.to_string()))?;
            let value = HeaderValue::from_str(value)
                .map_err(|error| OutboundError::Transport(error.to_string()))?;
            header_map.insert(name, value);
        }
        let mut response = client
            .request(method, parsed)
            .headers(header_map)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(e, timeout))?;
        let status = response.status().as_u16();
        let response_headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let max = self.settings.max_body;
        let mut collected = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(e, timeout))?
        {
            let room = max - collected.len();
            if chunk.len() > room {
                collected.extend_from_slice(&chunk[..room]);
                truncated = true;
                // Dropping the response closes the connection: the rest is never read.
                break;
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers: response_headers,
            body: collected,
            truncated,
        })
    }
}

fn transport_error(error: reqwest::Error, timeout: Duration) -> OutboundError {
    if error.is_timeout() {
        OutboundError::Timeout(timeout)
    } else {
        // The chain names the cause (refused connection, TLS failure), not only "error sending".
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        OutboundError::Transport(text)
    }
}

/// The host of `url` when it is an IP literal.
fn literal_ip(url: &Url) -> Result<Option<IpAddr>, OutboundError> {
    match url.host() {
        None => Err(OutboundError::InvalidUrl("the URL has no host".into())),
        Some(url::Host::Domain(_)) => Ok(None),
        Some(url::Host::Ipv4(ip)) => Ok(Some(IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) => Ok(Some(IpAddr::V6(ip))),
    }
}

/// Whether an address is one a tenant's URL must never reach: anything that is not a public
/// unicast address.
pub fn is_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => is_refused_v6(v6),
    }
}

fn is_refused_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || a == 0 // 0.0.0.0/8, "this network"
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10, carrier-grade NAT
        || ip.is_link_local() // 169.254/16, cloud metadata included
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // 192.0.0/24, protocol assignments
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, and the broadcast address
}

fn is_refused_v6(ip: Ipv6Addr) -> bool {
    // An IPv4 address in IPv6 clothing is judged as the IPv4 address: mapped (::ffff:a.b.c.d),
    // compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::a.b.c.d).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_refused_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback() {
        return is_refused_v4(embedded_v4(ip));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_refused_v4(embedded_v4(ip));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (segments[0] & 0xfe00) == 0xfc00 // fc00::/7 unique-local
        || (segments[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (segments[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || ip.is_multicast() // ff00::/8
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let octets = ip.octets();
    Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        is_refused(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_ipv4_is_refused() {
        for address in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "169.254.0.1",
            "192.0.0.8",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(refused(address), "{address} should be refused");
        }
    }

    #[test]
    fn public_ipv4_passes() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "93.184.216.34",
        ] {
            assert!(!refused(address), "{address} should pass");
        }
    }

    #[test]
    fn special_ipv6_is_refused_including_mapped_forms() {
        for address in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(refused(address), "{address} should be refused");
        }
    }

    #[test]
    fn public_ipv6_passes() {
        for address in ["2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!refused(address), "{address} should pass");
        }
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let strict = Outbound::default();
        let bad = |client: &Outbound, url: &str| client.check_url(url).unwrap_err();
        assert!(matches!(
            bad(&strict, "http://example.com/"),
            OutboundError::InvalidUrl(_)
        ));
        assert!(matches!(
            bad(&strict, "https://user:pw@example.com/"),
            OutboundError::InvalidUrl(_)
        ));
        assert!(matches!(
            bad(&strict, "ftp://example.com/"),
            OutboundError::InvalidUrl(_)
        ));
        assert!(matches!(
            bad(&strict, "/relative"),
            OutboundError::InvalidUrl(_)
        ));
        assert!(matches!(
            bad(&strict, "https://127.0.0.1/"),
            OutboundError::Refused(_)
        ));
        assert!(matches!(
            bad(&strict, "https://[::ffff:169.254.169.254]/"),
            OutboundError::Refused(_)
        ));
        assert!(strict.check_url("https://example.com/hook").is_ok());
    }

    #[test]
    fn the_allowlist_opens_chosen_blocks_only() {
        let client = Outbound::new(OutboundSettings {
            allow_http: true,
            allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
            ..OutboundSettings::default()
        });
        assert!(client.check_url("http://127.0.0.1:9000/").is_ok());
        assert!(matches!(
            client.check_url("http://10.0.0.1/").unwrap_err(),
            OutboundError::Refused(_)
        ));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let client = Outbound::default();
        let url = client.check_url("https://localhost/").unwrap();
        assert!(matches!(
            client.resolve(&url).await.unwrap_err(),
            OutboundError::Refused(_)
        ));
    }
}
