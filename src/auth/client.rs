//! Who is asking, as an address: the client that the per-client limits of Backend API calls
//! count (handshake nonces, unknown machine tokens).
//!
//! The peer address of the connection, unless that peer is one of `CLERK_TRUSTED_PROXIES`: then
//! the `X-Forwarded-For` chain is read from its right end (the entry the nearest proxy wrote)
//! leftwards, past every trusted proxy, and the first entry that is not one is the client. What
//! a client writes into `X-Forwarded-For` itself sits left of that and is never believed.
//! Rocket's own `client_ip()` is not used: it believes `X-Real-IP` (its `ip_header`) from anyone.
//!
//! An IPv6 client counts by its /64 network, which one subscriber usually holds whole; an
//! IPv4-mapped address counts as the IPv4 one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use rocket::request::Request;

/// The client of `request` (see the module's documentation); `0.0.0.0` when the peer is not
/// known (an in-process request).
pub fn client_ip(request: &Request<'_>, trusted: &[IpNet]) -> IpAddr {
    let peer = request
        .remote()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let forwarded: Vec<&str> = request.headers().get("X-Forwarded-For").collect();
    normalize(through_proxies(peer, forwarded.into_iter(), trusted))
}

/// The client's own address, as [`client_ip`] finds it but not grouped by network (an IPv6
/// client keeps its whole address): what this server passes on as `X-Forwarded-For` (the
/// Frontend API proxy). `None` when the peer is not known.
pub fn forwarded_client(request: &Request<'_>, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = request.remote()?.ip();
    let forwarded: Vec<&str> = request.headers().get("X-Forwarded-For").collect();
    Some(normalize_mapped(through_proxies(
        peer,
        forwarded.into_iter(),
        trusted,
    )))
}

/// The first address of the chain `peer` ← `forwarded` (right to left) that is not a trusted
/// proxy; the leftmost one when all are.
fn through_proxies<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| {
        trusted
            .iter()
            .any(|net| net.contains(&normalize_mapped(ip)))
    };
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for header in forwarded.rev() {
        for entry in header.rsplit(',') {
            // An entry a trusted proxy wrote is an address; anything else ends the chain there.
            let Some(ip) = parse_entry(entry) else {
                return client;
            };
            client = ip;
            if !is_trusted(ip) {
                return ip;
            }
        }
    }
    client
}

/// `203.0.113.7`, `2001:db8::1`, and the forms with a port (`203.0.113.7:5100`,
/// `[2001:db8::1]:5100`) some proxies write.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

fn normalize_mapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// IPv4 as it is; IPv6 as its /64 network.
fn normalize(ip: IpAddr) -> IpAddr {
    match normalize_mapped(ip) {
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let client = through_proxies(ip("198.51.100.9"), ["10.0.0.1"].into_iter(), &[]);
        assert_eq!(client, ip("198.51.100.9"));
        let trusted = nets(&["10.0.0.0/8"]);
        let client = through_proxies(ip("198.51.100.9"), ["10.0.0.1"].into_iter(), &trusted);
        assert_eq!(client, ip("198.51.100.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_entry_from_the_right_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.0.2.1/32"]);
        let peer = ip("10.0.0.2");
        // The client's own claim (1.1.1.1) is left of what the proxies wrote.
        let chain = ["1.1.1.1, 203.0.113.7", "192.0.2.1"];
        assert_eq!(
            through_proxies(peer, chain.into_iter(), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            through_proxies(peer, ["203.0.113.7:5100"].into_iter(), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            through_proxies(peer, ["[2001:db8::1]:443"].into_iter(), &trusted),
            ip("2001:db8::1")
        );
        // Garbage ends the chain at the last proxy; no header: the proxy itself.
        assert_eq!(
            through_proxies(peer, ["nonsense, 192.0.2.1"].into_iter(), &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(through_proxies(peer, std::iter::empty(), &trusted), peer);
        // All trusted: the leftmost.
        assert_eq!(
            through_proxies(peer, ["10.1.1.1, 10.2.2.2"].into_iter(), &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ones_as_ipv4() {
        assert_eq!(
            normalize(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(normalize(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            through_proxies(
                ip("::ffff:127.0.0.1"),
                ["203.0.113.7"].into_iter(),
                &trusted
            ),
            ip("203.0.113.7")
        );
    }
}
