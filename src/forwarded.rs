//! Where a request came from, as far as this server can tell: the scheme the browser used, and
//! whether the client is this machine. Behind a reverse proxy the socket's peer is the proxy, and
//! `Host` is whatever the proxy writes (nginx's default is the upstream's, `127.0.0.1`), so
//! "this machine" is decided by the peer address, never by `Host`, and a forwarding header naming
//! a client elsewhere overrules a loopback peer.

use std::net::IpAddr;

use rocket::Request;

/// The headers in which proxies name the client they forward for.
const FORWARDING_HEADERS: [&str; 3] = ["Forwarded", "X-Forwarded-For", "X-Real-IP"];

/// The scheme the browser used: `X-Forwarded-Proto` behind a proxy (first value; anything but
/// `http` or `https` is `None`), else `https` when Rocket serves TLS itself or the instance is a
/// production one (served behind TLS), else `http`.
#[must_use]
pub fn scheme(request: &Request<'_>, production: bool) -> Option<&'static str> {
    let forwarded = request
        .headers()
        .get_one("X-Forwarded-Proto")
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match forwarded {
        Some(proto) if proto.eq_ignore_ascii_case("https") => Some("https"),
        Some(proto) if proto.eq_ignore_ascii_case("http") => Some("http"),
        Some(_) => None,
        None if production || request.rocket().config().tls_enabled() => Some("https"),
        None => Some("http"),
    }
}

/// Whether the request comes from this machine: the socket's peer is a loopback address, and no
/// forwarding header (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) names a client that is not
/// one (or names one that cannot be read). A request with no known peer is not.
#[must_use]
pub fn from_this_machine(request: &Request<'_>) -> bool {
    let Some(peer) = request.remote() else {
        return false;
    };
    if !is_loopback(peer.ip()) {
        return false;
    }
    let headers = request.headers();
    FORWARDING_HEADERS.iter().all(|name| {
        headers.get(name).all(|value| {
            let clients: Vec<&str> = if name.eq_ignore_ascii_case("Forwarded") {
                forwarded_for(value).collect()
            } else {
                value.split(',').collect()
            };
            clients
                .into_iter()
                .all(|client| address(client).is_some_and(is_loopback))
        })
    })
}

/// The `for=` values of an RFC 7239 `Forwarded` header (`for=192.0.2.1;proto=https, for=…`).
fn forwarded_for(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').flat_map(|element| {
        element.split(';').filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then_some(value)
        })
    })
}

/// A client address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`,
/// `2001:db8::1`, or any of them quoted.
fn address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.parse().ok().or_else(|| {
        let (host, port) = text.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        host.parse().ok()
    })
}

/// A loopback address, IPv4-mapped IPv6 (`::ffff:127.0.0.1`) included.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_as_proxies_write_them() {
        for (text, ip) in [
            ("127.0.0.1", "127.0.0.1"),
            (" 10.0.0.7:4711", "10.0.0.7"),
            ("[::1]:80", "::1"),
            ("\"[2001:db8::1]:4711\"", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            assert_eq!(address(text), ip.parse().ok(), "{text}");
        }
        for text in ["unknown", "_hidden", "", "1.2.3.4:port"] {
            assert_eq!(address(text), None, "{text}");
        }
        let fors: Vec<&str> =
            forwarded_for("for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[::1]\"").collect();
        assert_eq!(fors, ["192.0.2.60", "\"[::1]\""]);
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
    }
}
