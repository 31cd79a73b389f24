//! The target of a reproduction: a port on this machine, checked before
//! anything is sent.
//!
//! The loop only ever connects to this host: a loopback address
//! (`127.0.0.0/8`, `::1`, `::ffff:127.x.y.z`) or an address one of its
//! interfaces carries. Anything else is refused here, so a typo cannot turn
//! the tool into a connection flood against someone else's machine.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, SockAddr, Socket, Type};

/// Why a target was refused. Every message is one line meant for a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    BadPort(String),
    #[error("cannot resolve {host:?}: {reason}")]
    Unresolved { host: String, reason: String },
    /// A name other than `localhost`: resolving it would ask DNS, which
    /// sends a query off this machine before the target is even checked.
    #[error(
        "{host:?} is not an address; give a literal address (127.0.0.1, ::1, or one of this machine's) or localhost (names are not looked up, so no DNS query leaves this machine)"
    )]
    NotAnAddress { host: String },
    #[error("{host:?} includes a port; give the port with --port: --host {addr} --port {port}")]
    WithPort {
        host: String,
        addr: String,
        port: String,
    },
    #[error("{}", not_local_message(.host, .ip))]
    NotLocal { host: String, ip: IpAddr },
    #[error(
        "{ip} is the wildcard address, not one to connect to; use a real local address such as 127.0.0.1 or ::1"
    )]
    Unspecified { ip: IpAddr },
    #[error("cannot list this machine's addresses to check {ip} is one of them: {reason}")]
    Interfaces { ip: IpAddr, reason: String },
    #[error("no route to {addr}: {reason}")]
    NoRoute { addr: SocketAddr, reason: String },
}

fn not_local_message(host: &str, ip: &IpAddr) -> String {
    let why = "repro only connects to loopback and to this machine's own addresses";
    if host.parse::<IpAddr>().ok() == Some(*ip) {
        format!("{ip} is not an address of this machine ({why})")
    } else {
        format!("{host} resolves to {ip}, which is not an address of this machine ({why})")
    }
}

const PORT_ZERO: &str = "port 0 is not a port one can connect to (use 1-65535)";

/// Parses a port given as text: 1-65535, with a message that says what is
/// wrong otherwise.
pub fn parse_port(text: &str) -> Result<u16, TargetError> {
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(0) => Err(TargetError::BadPort(PORT_ZERO.to_string())),
        Ok(p) if p > 65535 => Err(TargetError::BadPort(format!(
            "port {p} is out of range (ports are 1-65535)"
        ))),
        Ok(p) => Ok(p as u16),
        Err(_) => Err(TargetError::BadPort(format!(
            "{t:?} is not a port number (use 1-65535)"
        ))),
    }
}

/// Whether `ip` is a loopback address, including IPv4 loopback written as
/// an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// The addresses this machine's interfaces carry (in this network namespace).
pub fn local_addresses() -> io::Result<Vec<IpAddr>> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    Ok(addrs
        .filter_map(|a| a.address)
        .filter_map(|s| {
            if let Some(v4) = s.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect())
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; anything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Whether `ip` is loopback or one of `locals`. Link-local IPv6 addresses
/// compare without their scope.
pub fn is_local(ip: IpAddr, locals: &[IpAddr]) -> bool {
    is_loopback(ip) || locals.iter().any(|&l| canonical(l) == canonical(ip))
}

/// The source address the kernel would use to reach `addr`, found by
/// connecting a UDP socket (a route lookup; no packet is sent).
pub fn kernel_source_ip(addr: SocketAddr) -> io::Result<IpAddr> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    s.connect(&SockAddr::from(addr))?;
    s.local_addr()?
        .as_socket()
        .map(|a| a.ip())
        .ok_or_else(|| io::Error::other("the kernel returned a non-IP address"))
}

/// A checked target: a local address and a port. Only [`Target::resolve`]
/// and [`Target::from_addr`] make one, so the engine cannot be pointed
/// anywhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    host: String,
    addr: SocketAddr,
    source_ip: IpAddr,
}

impl Target {
    /// Resolves `host` and checks that every address it stands for is
    /// local; the first one is used. `host` is a literal address (`::1`,
    /// `[::1]`, `fe80::1%eth0`) or `localhost` (from `/etc/hosts`, else the
    /// loopback addresses). Names are never looked up: the system resolver
    /// could send a DNS query off this machine before the check.
    pub fn resolve(host: &str, port: u16) -> Result<Target, TargetError> {
        if port == 0 {
            return Err(TargetError::BadPort(PORT_ZERO.to_string()));
        }
        let (bare, ips) = parse_host(host)?;
        let addrs: Vec<SocketAddr> = ips.into_iter().map(|ip| ip.with_port(port)).collect();
        Target::checked(bare, &addrs)
    }

    /// Checks an address given directly.
    pub fn from_addr(addr: SocketAddr) -> Result<Target, TargetError> {
        if addr.port() == 0 {
            return Err(TargetError::BadPort(PORT_ZERO.to_string()));
        }
        Target::checked(addr.ip().to_string(), &[addr])
    }

    /// Checks that every address is local and finds the source address of
    /// the first.
    fn checked(host: String, addrs: &[SocketAddr]) -> Result<Target, TargetError> {
        let Some(&first) = addrs.first() else {
            return Err(TargetError::Unresolved {
                host,
                reason: "no addresses".to_string(),
            });
        };
        let mut locals: Option<Vec<IpAddr>> = None;
        for a in addrs {
            check_ip(&host, a.ip(), &mut locals)?;
        }
        let source_ip = kernel_source_ip(first).map_err(|e| TargetError::NoRoute {
            addr: first,
            reason: e.to_string(),
        })?;
        Ok(Target {
            host,
            addr: first,
            source_ip,
        })
    }

    /// A target as a recording of the dashboard saw it, for drawing a
    /// replayed run (the machine that replays may not have its address).
    /// Not checked: a replay has no engine to give it to.
    pub(crate) fn as_recorded(host: String, addr: SocketAddr, source_ip: IpAddr) -> Target {
        Target {
            host,
            addr,
            source_ip,
        }
    }

    /// The host as the user named it (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address the kernel sends from to reach the target. When it
    /// differs from the target's (e.g. `127.0.0.2` is reached from
    /// `127.0.0.1`), an unbound client can never be connected to itself.
    pub fn source_ip(&self) -> IpAddr {
        self.source_ip
    }
}

fn check_ip(host: &str, ip: IpAddr, locals: &mut Option<Vec<IpAddr>>) -> Result<(), TargetError> {
    if ip.is_unspecified() || canonical(ip).is_unspecified() {
        return Err(TargetError::Unspecified { ip });
    }
    if is_loopback(ip) {
        return Ok(());
    }
    if locals.is_none() {
        *locals = Some(local_addresses().map_err(|e| TargetError::Interfaces {
            ip,
            reason: e.to_string(),
        })?);
    }
    if is_local(ip, locals.as_deref().unwrap_or_default()) {
        Ok(())
    } else {
        Err(TargetError::NotLocal {
            host: host.to_string(),
            ip,
        })
    }
}

/// An address from `--host`, with the IPv6 scope (`%eth0`) when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostIp {
    pub ip: IpAddr,
    pub scope_id: u32,
}

impl HostIp {
    fn with_port(self, port: u16) -> SocketAddr {
        match self.ip {
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, self.scope_id)),
            v4 => SocketAddr::new(v4, port),
        }
    }
}

impl From<IpAddr> for HostIp {
    fn from(ip: IpAddr) -> HostIp {
        HostIp { ip, scope_id: 0 }
    }
}

/// Reads `--host` without any lookup: the host as shown (without
/// brackets) and its addresses. A name other than `localhost` and a
/// `host:port` are refused with a message that says what to give instead.
pub fn parse_host(host: &str) -> Result<(String, Vec<HostIp>), TargetError> {
    let t = host.trim();
    let unresolved = |reason: String| TargetError::Unresolved {
        host: host.to_string(),
        reason,
    };
    if t.is_empty() {
        return Err(unresolved("empty host name".to_string()));
    }
    if let Some(inner) = t.strip_prefix('[') {
        let (addr, rest) = inner.split_once(']').unwrap_or((inner, "]"));
        return match (parse_literal(addr), rest) {
            (Some(ip), "") => Ok((addr.to_string(), vec![ip.map_err(unresolved)?])),
            (Some(_), rest) if rest.starts_with(':') => Err(TargetError::WithPort {
                host: host.to_string(),
                addr: addr.to_string(),
                port: rest[1..].to_string(),
            }),
            _ => Err(TargetError::NotAnAddress {
                host: host.to_string(),
            }),
        };
    }
    if let Some(ip) = parse_literal(t) {
        return Ok((t.to_string(), vec![ip.map_err(unresolved)?]));
    }
    // `127.0.0.1:44600`, `localhost:44600`, `::1:44600` (not an address
    // itself: 44600 is no 16-bit group).
    if let Some((addr, port)) = t.rsplit_once(':')
        && (!addr.contains(':') || addr.parse::<Ipv6Addr>().is_ok())
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(TargetError::WithPort {
            host: host.to_string(),
            addr: addr.to_string(),
            port: port.to_string(),
        });
    }
    if t.eq_ignore_ascii_case("localhost") || t.eq_ignore_ascii_case("localhost.") {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        return Ok((t.to_string(), localhost_addresses(&hosts)));
    }
    Err(TargetError::NotAnAddress {
        host: host.to_string(),
    })
}

/// A literal address, possibly with an IPv6 zone (`fe80::1%eth0`, `%2`).
/// `None` when `s` is not written as an address at all; `Some(Err)` for an
/// address whose zone names no interface.
fn parse_literal(s: &str) -> Option<Result<HostIp, String>> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(Ok(ip.into()));
    }
    let (addr, zone) = s.split_once('%')?;
    let ip = addr.parse::<std::net::Ipv6Addr>().ok()?;
    let scope_id = match zone.parse::<u32>() {
        Ok(n) => Ok(n),
        Err(_) => nix::net::if_::if_nametoindex(zone)
            .map_err(|e| format!("no interface {zone:?} for the zone of {addr} ({e})")),
    };
    Some(scope_id.map(|scope_id| HostIp {
        ip: IpAddr::V6(ip),
        scope_id,
    }))
}

/// The addresses `/etc/hosts` gives `localhost`, in its order; the loopback
/// addresses when it names none.
pub fn localhost_addresses(hosts_file: &str) -> Vec<HostIp> {
    let mut found: Vec<HostIp> = Vec::new();
    for line in hosts_file.lines().take(100_000) {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case("localhost")) && !found.iter().any(|h| h.ip == ip) {
            found.push(ip.into());
        }
    }
    if found.is_empty() {
        found = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST).into(),
            IpAddr::V6(Ipv6Addr::LOCALHOST).into(),
        ];
    }
    found
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_checked_with_clear_messages() {
        assert_eq!(parse_port("44600"), Ok(44600));
        assert_eq!(parse_port(" 1 "), Ok(1));
        assert_eq!(parse_port("65535"), Ok(65535));
        let msg = |s| parse_port(s).unwrap_err().to_string();
        assert!(msg("0").contains("port 0"), "{}", msg("0"));
        assert!(msg("70000").contains("out of range"));
        assert!(msg("http").contains("not a port number"));
        assert!(msg("-1").contains("not a port number"));
    }

    #[test]
    fn loopback_includes_the_whole_block_and_mapped_addresses() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:127.9.9.9",
        ] {
            assert!(is_loopback(s.parse().unwrap()), "{s}");
        }
        for s in ["128.0.0.1", "::2", "::ffff:10.0.0.1", "8.8.8.8", "0.0.0.0"] {
            assert!(!is_loopback(s.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn local_means_loopback_or_an_interface_address() {
        let locals: Vec<IpAddr> = vec!["192.0.2.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        assert!(is_local("192.0.2.2".parse().unwrap(), &locals));
        assert!(is_local("::ffff:192.0.2.2".parse().unwrap(), &locals));
        assert!(is_local("fd00::2".parse().unwrap(), &locals));
        assert!(is_local("127.0.0.1".parse().unwrap(), &locals));
        assert!(!is_local("192.0.2.1".parse().unwrap(), &locals));
        assert!(!is_local("8.8.8.8".parse().unwrap(), &[]));
    }

    #[test]
    fn loopback_targets_resolve_without_a_packet() {
        let t = Target::resolve("127.0.0.1", 44600).unwrap();
        assert_eq!(t.addr(), SocketAddr::from((Ipv4Addr::LOCALHOST, 44600)));
        assert_eq!(t.source_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        let t = Target::resolve("[::1]", 44600).unwrap();
        assert_eq!(t.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        // 127.0.0.2 is reached from 127.0.0.1: the route's preferred source.
        let t = Target::resolve("127.0.0.2", 1).unwrap();
        assert_eq!(t.source_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn foreign_wildcard_and_bad_targets_are_refused() {
        let locals = local_addresses().unwrap();
        for s in ["8.8.8.8", "203.0.113.7", "2001:db8::7"] {
            let ip: IpAddr = s.parse().unwrap();
            if locals.contains(&ip) {
                continue; // an odd test machine; nothing to check
            }
            let e = Target::resolve(s, 44600).unwrap_err();
            assert!(matches!(e, TargetError::NotLocal { .. }), "{s}: {e}");
            assert!(e.to_string().contains("not an address of this machine"));
        }
        assert!(matches!(
            Target::resolve("0.0.0.0", 80),
            Err(TargetError::Unspecified { .. })
        ));
        assert!(matches!(
            Target::resolve("::", 80),
            Err(TargetError::Unspecified { .. })
        ));
        assert!(matches!(
            Target::resolve("127.0.0.1", 0),
            Err(TargetError::BadPort(_))
        ));
        assert!(matches!(
            Target::resolve("", 80),
            Err(TargetError::Unresolved { .. })
        ));
    }

    fn ips(host: &str) -> Vec<IpAddr> {
        let (_, v) = parse_host(host).unwrap_or_else(|e| panic!("{host}: {e}"));
        v.into_iter().map(|h| h.ip).collect()
    }

    #[test]
    fn literal_addresses_are_read_without_a_lookup() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(ips("127.0.0.1"), [v4]);
        assert_eq!(ips(" 127.0.0.1 "), [v4]);
        assert_eq!(ips("::1"), [v6]);
        assert_eq!(ips("[::1]"), [v6]);
        assert_eq!(ips("[127.0.0.1]"), [v4]);
        assert_eq!(
            ips("::ffff:127.0.0.1"),
            ["::ffff:127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            parse_host("[::1]").unwrap().0,
            "::1",
            "shown without brackets"
        );
        // A zone by number, or by the name of an interface that exists.
        let (_, z) = parse_host("fe80::1%7").unwrap();
        assert_eq!(z[0].scope_id, 7);
        assert_eq!(z[0].with_port(80).to_string(), "[fe80::1%7]:80");
        let (_, lo) = parse_host("[fe80::1%lo]").unwrap();
        assert_eq!(lo[0].scope_id, 1, "lo is interface 1");
        let e = parse_host("fe80::1%no-such-if0").unwrap_err();
        assert!(matches!(e, TargetError::Unresolved { .. }), "{e}");
    }

    #[test]
    fn names_are_refused_with_a_message_about_dns() {
        for host in [
            "example.invalid",
            "example.com",
            "db",
            "localhost.localdomain",
            "ip6-localhost",
            "[example.com]",
            "[::1",
            "1.2.3",
            "127.0.0.1:",
        ] {
            let e = parse_host(host).unwrap_err();
            assert!(matches!(e, TargetError::NotAnAddress { .. }), "{host}: {e}");
            let m = e.to_string();
            assert!(m.contains("not an address") && m.contains("DNS"), "{m}");
            assert!(m.contains("localhost"), "says what is accepted: {m}");
        }
    }

    #[test]
    fn a_port_in_the_host_points_to_the_port_option() {
        for (host, addr, port) in [
            ("127.0.0.1:44600", "127.0.0.1", "44600"),
            ("[::1]:44600", "::1", "44600"),
            ("localhost:80", "localhost", "80"),
            ("::1:44600", "::1", "44600"),
            ("example.com:443", "example.com", "443"),
        ] {
            let e = parse_host(host).unwrap_err();
            assert_eq!(
                e,
                TargetError::WithPort {
                    host: host.into(),
                    addr: addr.into(),
                    port: port.into()
                }
            );
            let m = e.to_string();
            assert!(m.contains(&format!("--host {addr} --port {port}")), "{m}");
        }
        // A valid IPv6 address is not taken for `host:port`.
        assert_eq!(ips("::1:80"), ["::1:80".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn localhost_comes_from_the_hosts_file_or_the_loopback_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let hosts = "# comment localhost\n\
                     127.0.0.1\tlocalhost\n\
                     127.0.1.1 box.example box\n\
                     ::1 ip6-localhost LOCALHOST ip6-loopback # localhost again\n\
                     127.0.0.1 localhost.localdomain localhost\n\
                     garbage localhost\n";
        let got: Vec<IpAddr> = localhost_addresses(hosts).iter().map(|h| h.ip).collect();
        assert_eq!(got, [ip("127.0.0.1"), ip("::1")]);
        let v6_first: Vec<IpAddr> = localhost_addresses("::1 localhost\n127.0.0.1 localhost")
            .iter()
            .map(|h| h.ip)
            .collect();
        assert_eq!(v6_first, [ip("::1"), ip("127.0.0.1")], "the file's order");
        for empty in ["", "127.0.1.1 box\n", "\u{0}\u{1}not a hosts file"] {
            let got: Vec<IpAddr> = localhost_addresses(empty).iter().map(|h| h.ip).collect();
            assert_eq!(got, [ip("127.0.0.1"), ip("::1")], "{empty:?}");
        }
        // Through resolve: a loopback address, the name kept for reports.
        let t = Target::resolve("localhost", 44600).unwrap();
        assert!(is_loopback(t.ip()), "{t}");
        assert_eq!(t.host(), "localhost");
    }
}
