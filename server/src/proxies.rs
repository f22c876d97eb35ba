//! Who the client is behind load balancers. `X-Forwarded-For` is believed only when the peer
//! (the TCP connection's other end) is one of the configured trusted proxies; then the client is
//! the rightmost address of the header that is not itself a trusted proxy: every proxy appends
//! the address it received the request from, so anything left of that the client wrote itself.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// The load balancers and reverse proxies allowed to say who the client is. Empty (the
/// default): `X-Forwarded-For` is ignored and the peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("trusted_proxies: {0:?} is neither an IP address nor a network (\"10.0.0.0/8\", \"::1\")")]
pub struct ProxyParseError(pub String);

impl TrustedProxies {
    /// Addresses (`"::1"`) and networks (`"10.0.0.0/8"`, `"fd00::/8"`).
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, ProxyParseError> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                IpNet::from_str(e)
                    .map(|n| n.trunc())
                    .or_else(|_| IpAddr::from_str(e).map(IpNet::from))
                    .map_err(|_| ProxyParseError(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with these `X-Forwarded-For` header values
    /// (in the order received). An entry that is not an address stops the walk: the nearest
    /// trusted hop is then the best that is known.
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let entries: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).collect();
        for entry in entries.into_iter().rev() {
            let Some(hop) = parse_hop(entry) else {
                return client;
            };
            client = hop;
            if !self.contains(hop) {
                return hop;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    IpAddr::from_str(entry)
        .ok()
        .or_else(|| SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_networks_and_refuses_the_rest() {
        let p = proxies(&["10.0.0.0/8", "::1", " 192.0.2.7 ", "fd00::/8"]);
        assert!(p.contains(ip("10.200.3.4")));
        assert!(p.contains(ip("::1")));
        assert!(p.contains(ip("192.0.2.7")));
        assert!(p.contains(ip("fd12::5")));
        assert!(p.contains(ip("::ffff:10.1.2.3")), "an IPv4 peer seen on an IPv6 socket");
        assert!(!p.contains(ip("11.0.0.1")));
        assert!(!p.contains(ip("192.0.2.8")));
        assert!(!p.contains(ip("2001:db8::1")));
        for bad in ["", "localhost", "10.0.0.0/33", "10.0.0", "true"] {
            assert!(TrustedProxies::parse(&[bad.to_string()]).is_err(), "{bad:?}");
        }
        assert!(TrustedProxies::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_header_is_ignored_by_default_and_from_untrusted_peers() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("203.0.113.9"), ["198.51.100.1"]), ip("203.0.113.9"));
        let p = proxies(&["10.0.0.0/8"]);
        // A client that talks to Hygie directly cannot choose its address.
        assert_eq!(p.client_ip(ip("203.0.113.9"), ["198.51.100.1"]), ip("203.0.113.9"));
        assert_eq!(p.client_ip(ip("203.0.113.9"), ["10.0.0.1"]), ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "::1"]);
        // One load balancer: it appended the client's address.
        assert_eq!(p.client_ip(ip("10.0.0.2"), ["198.51.100.1"]), ip("198.51.100.1"));
        // The client wrote its own header first: its forged entry is left of the real one.
        assert_eq!(p.client_ip(ip("10.0.0.2"), ["1.2.3.4, 198.51.100.1"]), ip("198.51.100.1"));
        // Two proxies in a row, the header split over two fields.
        assert_eq!(p.client_ip(ip("::1"), ["6.6.6.6, 198.51.100.1", "10.9.9.9"]), ip("198.51.100.1"));
        // Entries with ports, an IPv4-mapped peer, and IPv6 clients.
        assert_eq!(p.client_ip(ip("::ffff:10.0.0.2"), ["198.51.100.1:4711"]), ip("198.51.100.1"));
        assert_eq!(p.client_ip(ip("10.0.0.2"), ["[2001:db8::7]:443"]), ip("2001:db8::7"));
        // No header: the proxy itself.
        assert_eq!(p.client_ip(ip("10.0.0.2"), []), ip("10.0.0.2"));
        // Garbage stops the walk at the nearest trusted hop; it is never taken as an address.
        assert_eq!(p.client_ip(ip("10.0.0.2"), ["198.51.100.1, unknown"]), ip("10.0.0.2"));
        assert_eq!(p.client_ip(ip("10.0.0.2"), ["198.51.100.1, garbage, 10.3.3.3"]), ip("10.3.3.3"));
        // Only proxies: the leftmost is as far as anyone knows.
        assert_eq!(p.client_ip(ip("10.0.0.2"), ["10.1.1.1, 10.2.2.2"]), ip("10.1.1.1"));
    }
}
