//! The client's address, as login throttling and the audit log see it.
//!
//! The TCP peer is the client, unless the peer is one of the operator's trusted proxies
//! (`serve --trusted-proxies CIDR,...`): then `X-Forwarded-For` is read from its right end,
//! past every trusted hop, and the first address that is not trusted is the client. Anything
//! left of it was written by the client itself and is never believed. Without trusted proxies
//! the header is ignored, so no client can pick the address it is throttled under.
//!
//! For throttling, an IPv6 client is its /64: one host usually holds a whole /64, and keying
//! by single addresses would give it 2^64 fresh ones.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// An address block such as `10.0.0.0/8` or `2001:db8::/32` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an address or CIDR block"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("`{text}`: the prefix must be 0 to {bits}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => same_prefix(
                network.to_bits().into(),
                address.to_bits().into(),
                32,
                self.prefix,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                same_prefix(network.to_bits(), address.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    let host_bits = u32::from(bits - prefix);
    prefix == 0 || (a ^ b) >> host_bits == 0
}

/// An IPv4 client reached over IPv6 (`::ffff:a.b.c.d`) is that IPv4 client.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy, else the right-most
/// address of `X-Forwarded-For` (every header line, in order) that is not trusted. A hop that
/// does not parse ends the walk at the last trusted address before it.
pub fn client_address<'h>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'h str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|cidr| cidr.contains(address));
    let mut client = canonical(peer);
    if !is_trusted(client) {
        return client;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|line| line.split(',')).collect();
    for hop in hops.iter().rev() {
        let Ok(address) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = canonical(address);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// What throttling counts an address under: itself for IPv4, its /64 for IPv6.
pub fn throttle_key(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1));
            format!("{network}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn two_ipv6_addresses_in_one_64_share_a_key_and_others_do_not() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:2:ffff:ffff:ffff:fffe"))
        );
        assert_ne!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(throttle_key(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(throttle_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
        assert_ne!(
            throttle_key(ip("203.0.113.9")),
            throttle_key(ip("203.0.113.10"))
        );
    }

    #[test]
    fn cidr_blocks_parse_and_match() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
        for bad in ["10.0.0.0/33", "nonsense", "::/129", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies_and_from_the_right() {
        let trusted = cidrs(&["127.0.0.1/32", "10.0.0.0/8"]);
        let header = ["198.51.100.7, 203.0.113.5", "10.0.0.2"];
        // An untrusted peer: the header is the client's own text.
        assert_eq!(
            client_address(ip("192.0.2.1"), header.into_iter(), &trusted),
            ip("192.0.2.1")
        );
        // Through two trusted hops: the right-most untrusted address; the left one is forged.
        assert_eq!(
            client_address(ip("127.0.0.1"), header.into_iter(), &trusted),
            ip("203.0.113.5")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("127.0.0.1"), std::iter::empty(), &trusted),
            ip("127.0.0.1")
        );
        // Garbage ends the walk at the last trusted hop.
        assert_eq!(
            client_address(ip("127.0.0.1"), ["1.2.3.4, junk"].into_iter(), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), header.into_iter(), &[]),
            ip("127.0.0.1")
        );
    }
}
