//! The outbound address guard for post, tcp and httpPost: private, loopback, link-local
//! (cloud metadata included), unspecified, shared and multicast addresses are refused
//! unless the configuration allow-lists them. Literal addresses are checked when a task is
//! defined; every delivery checks the resolved addresses again (DNS can change).

use std::net::{IpAddr, SocketAddr};

use crate::options::Options;

pub(crate) fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

pub(crate) fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    if url.starts_with("https://") {
        return Err(format!("https post URLs are not supported yet: {url:?}"));
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!(
            "invalid post URL {url:?}: want http://host[:port]/path"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return Err(format!(
            "invalid post URL {url:?}: credentials in URLs are not supported"
        ));
    }
    let (host, port) = match split_host_port(authority) {
        Some(hp) if !authority.ends_with(']') => hp,
        _ => (
            authority
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            80,
        ),
    };
    if host.is_empty() || path.contains(['\r', '\n', ' ']) {
        return Err(format!("invalid post URL {url:?}"));
    }
    Ok((host, port, path))
}

/// Whether an address is one handlers must not reach by default.
pub fn is_restricted(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_restricted(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let o = v6.octets();
            let embedded =
                |a: usize| IpAddr::V4(std::net::Ipv4Addr::new(o[a], o[a + 1], o[a + 2], o[a + 3]));
            // Addresses that carry an IPv4 address and reach it: IPv4-compatible (::a.b.c.d),
            // NAT64's well-known prefix (64:ff9b::/96) and 6to4 (2002:aabb:ccdd::/48).
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_restricted(embedded(12));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_restricted(embedded(12));
            }
            if s[0] == 0x2002 {
                return is_restricted(embedded(2));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // NAT64 for local use (RFC 8215) translates to the operator's own network.
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
        }
    }
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn allowed(host: &str, ip: IpAddr, opts: &Options) -> bool {
    !is_restricted(ip)
        || opts
            .allowed_addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || cidr_contains(a, ip))
}

/// The define-time part of the guard: literal addresses and `localhost`.
pub(crate) fn check_host_literal(host: &str, opts: &Options) -> Result<(), String> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::from([127, 0, 0, 1]))
    } else {
        host.parse::<IpAddr>().ok()
    };
    match ip {
        Some(ip) if !allowed(host, ip, opts) => Err(format!(
            "address {host} is private, loopback or link-local; allow-list it in the alerter configuration to use it"
        )),
        _ => Ok(()),
    }
}

/// Resolves and guards a destination; returns the first allowed address.
pub(crate) async fn resolve(host: &str, port: u16, opts: &Options) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("resolving {host}: {e}"))?
        .collect();
    // Refuse if any resolved address is restricted: a name that mixes public and
    // private addresses is how rebinding attacks look.
    if let Some(bad) = addrs.iter().find(|a| !allowed(host, a.ip(), opts)) {
        return Err(format!(
            "address {} of {host} is private, loopback or link-local and not allow-listed",
            bad.ip()
        ));
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("{host} has no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_forms_of_restricted_ipv4_are_restricted() {
        let restricted = |s: &str| is_restricted(s.parse().expect("an address"));
        for a in [
            "::127.0.0.1",
            "::169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "::1",
            "::",
        ] {
            assert!(restricted(a), "{a} should be restricted");
        }
        for a in [
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "::8.8.8.8",
        ] {
            assert!(!restricted(a), "{a} is public");
        }
    }

    #[test]
    fn guard() {
        let opts = Options {
            allowed_addresses: vec!["10.1.0.0/16".into(), "hooks.internal".into()],
            ..Options::default()
        };
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "192.168.1.1",
            "::1",
            "fe80::1",
            "0.0.0.0",
            "100.64.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(check_host_literal(bad, &opts).is_err(), "{bad}");
        }
        for good in ["10.1.2.3", "8.8.8.8", "example.com", "2001:4860::8888"] {
            assert!(check_host_literal(good, &opts).is_ok(), "{good}");
        }
        assert!(check_host_literal("localhost", &opts).is_err());
        assert!(allowed(
            "hooks.internal",
            "10.9.9.9".parse().unwrap_or(IpAddr::from([0; 4])),
            &opts
        ));
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_http_url("http://example.com:8080/a/b?x=1"),
            Ok(("example.com".into(), 8080, "/a/b?x=1".into()))
        );
        assert_eq!(
            parse_http_url("http://example.com"),
            Ok(("example.com".into(), 80, "/".into()))
        );
        assert_eq!(
            parse_http_url("http://[::1]:99/x"),
            Ok(("::1".into(), 99, "/x".into()))
        );
        assert!(parse_http_url("https://example.com").is_err());
        assert!(parse_http_url("ftp://x").is_err());
    }
}
