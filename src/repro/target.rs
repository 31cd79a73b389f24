//! The target of a reproduction: a port on this machine, checked before
//! anything is sent.
//!
//! The loop only ever connects to this host: a loopback address
//! (`127.0.0.0/8`, `::1`, `::ffff:127.x.y.z`) or an address one of its
//! interfaces carries. Anything else is refused here, so a typo cannot turn
//! the tool into a connection flood against someone else's machine.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use socket2::{Domain, SockAddr, Socket, Type};

/// Why a target was refused. Every message is one line meant for a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    BadPort(String),
    #[error("cannot resolve {host:?}: {reason}")]
    Unresolved { host: String, reason: String },
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
    if host.trim_matches(['[', ']']) == ip.to_string() {
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
    /// Resolves `host` (an IP address, `[v6]`, or a name such as
    /// `localhost`) and checks that every address it resolves to is local.
    /// The first address is the one used.
    pub fn resolve(host: &str, port: u16) -> Result<Target, TargetError> {
        if port == 0 {
            return Err(TargetError::BadPort(PORT_ZERO.to_string()));
        }
        let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                if bare.is_empty() {
                    return Err(TargetError::Unresolved {
                        host: host.to_string(),
                        reason: "empty host name".to_string(),
                    });
                }
                (bare, port)
                    .to_socket_addrs()
                    .map_err(|e| TargetError::Unresolved {
                        host: host.to_string(),
                        reason: e.to_string(),
                    })?
                    .collect()
            }
        };
        let Some(&first) = addrs.first() else {
            return Err(TargetError::Unresolved {
                host: host.to_string(),
                reason: "no addresses".to_string(),
            });
        };
        let mut locals: Option<Vec<IpAddr>> = None;
        for a in &addrs {
            check_ip(bare, a.ip(), &mut locals)?;
        }
        let source_ip = kernel_source_ip(first).map_err(|e| TargetError::NoRoute {
            addr: first,
            reason: e.to_string(),
        })?;
        Ok(Target {
            host: bare.to_string(),
            addr: first,
            source_ip,
        })
    }

    /// Checks an address given directly.
    pub fn from_addr(addr: SocketAddr) -> Result<Target, TargetError> {
        Target::resolve(&addr.ip().to_string(), addr.port())
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

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

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
}
