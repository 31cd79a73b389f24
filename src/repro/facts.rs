//! What the explanations need to know of this machine about a target: the
//! namespace's port policy, and whether a socket connected to itself
//! already holds the target's address and port. Read from `/proc` through
//! the table reader in [`crate::sys::procnet`]; the dashboard takes the
//! same facts from its latest scan instead.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::explain::TargetFacts;
use crate::core::socket::{Family, SocketEntry, TcpState};
use crate::sys::procnet::{NetFiles, read_policy, read_tcp_table};

/// The facts of the namespace this process runs in (kernel defaults for
/// what cannot be read).
pub fn read_target_facts(target: SocketAddr) -> TargetFacts {
    let files = NetFiles::own(Path::new("/proc"));
    let mut errors = Vec::new();
    let policy = read_policy(&files, &mut errors);
    let held_by = [Family::Ipv4, Family::Ipv6]
        .into_iter()
        .filter_map(|f| read_tcp_table(&files, f, &mut errors))
        .find_map(|rows| held_by(&rows, target));
    TargetFacts { policy, held_by }
}

/// The socket connected to itself on `target`'s address and port, if one
/// is open. Such a socket owns the 4-tuple (target, target), so the kernel
/// cannot hand out the port as a source port toward the target, and a
/// bind() to it fails, until it closes. In TIME_WAIT it does not block (on
/// loopback the kernel reuses such a tuple).
pub fn held_by<'a>(
    rows: impl IntoIterator<Item = &'a SocketEntry>,
    target: SocketAddr,
) -> Option<SocketAddr> {
    let want = (canonical(target.ip()), target.port());
    rows.into_iter()
        .filter(|e| e.is_self_connected())
        .filter(|e| !matches!(e.state, TcpState::TimeWait | TcpState::Close))
        .find(|e| (canonical(e.local.ip()), e.local.port()) == want)
        .map(|e| e.local)
}

/// Whether the last self-connection on `target` still waits in TIME_WAIT
/// (the 4-tuple (target, target) in the table): a new run toward the same
/// port then goes slower, as the kernel skips that source port for now.
pub fn in_time_wait<'a>(
    rows: impl IntoIterator<Item = &'a SocketEntry>,
    target: SocketAddr,
) -> bool {
    let want = (canonical(target.ip()), target.port());
    rows.into_iter()
        .filter(|e| e.state == TcpState::TimeWait && e.is_self_connected())
        .any(|e| (canonical(e.local.ip()), e.local.port()) == want)
}

/// The listener on `target`'s port that a connect() to `target` would
/// reach: on its address, on the wildcard of its family, or (an IPv6
/// wildcard) on both families.
pub fn listener_on<'a>(
    rows: impl IntoIterator<Item = &'a SocketEntry>,
    target: SocketAddr,
) -> Option<SocketAddr> {
    let ip = canonical(target.ip());
    rows.into_iter()
        .filter(|e| e.state == TcpState::Listen && e.local.port() == target.port())
        .find(|e| {
            let l = canonical(e.local.ip());
            l == ip || (l.is_unspecified() && (l.is_ipv4() == ip.is_ipv4() || l.is_ipv6()))
        })
        .map(|e| e.local)
}

/// Whether the self-connection on `target` waits in TIME_WAIT in the
/// table of this process's namespace (read from `/proc`).
pub fn read_time_wait(target: SocketAddr) -> bool {
    let files = NetFiles::own(Path::new("/proc"));
    let mut errors = Vec::new();
    [Family::Ipv4, Family::Ipv6]
        .into_iter()
        .filter_map(|f| read_tcp_table(&files, f, &mut errors))
        .any(|rows| in_time_wait(&rows, target))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        SocketEntry {
            family: Family::Ipv4,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            inode: 1,
            uid: 0,
        }
    }

    #[test]
    fn only_a_live_self_connection_on_the_target_holds_it() {
        let target: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let est = TcpState::Established;
        let rows = [
            row("127.0.0.1:44600", "127.0.0.1:44600", TcpState::TimeWait),
            row("127.0.0.1:44602", "127.0.0.1:44602", est),
            row("127.0.0.2:44600", "127.0.0.2:44600", est),
            row("127.0.0.1:44600", "127.0.0.1:5432", est),
            row("0.0.0.0:44600", "0.0.0.0:0", TcpState::Listen),
        ];
        assert_eq!(held_by(&rows, target), None);
        let held = row("127.0.0.1:44600", "127.0.0.1:44600", est);
        assert_eq!(held_by([&held], target), Some(target));
        let mapped = row("[::ffff:127.0.0.1]:44600", "[::ffff:127.0.0.1]:44600", est);
        assert_eq!(held_by([&mapped], target), Some(mapped.local));
    }

    #[test]
    fn time_wait_and_listeners_on_the_target() {
        let target: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let tw = TcpState::TimeWait;
        let other = [
            row("127.0.0.1:44602", "127.0.0.1:44602", tw),
            row("127.0.0.1:44600", "127.0.0.1:5432", tw),
            row("127.0.0.1:44600", "127.0.0.1:44600", TcpState::Established),
        ];
        assert!(!in_time_wait(&other, target));
        assert!(in_time_wait(
            [&row("127.0.0.1:44600", "127.0.0.1:44600", tw)],
            target
        ));
        let listen = TcpState::Listen;
        assert_eq!(
            listener_on([&row("127.0.0.2:44600", "0.0.0.0:0", listen)], target),
            None
        );
        assert_eq!(
            listener_on([&row("127.0.0.1:44601", "0.0.0.0:0", listen)], target),
            None
        );
        let any = row("0.0.0.0:44600", "0.0.0.0:0", listen);
        assert_eq!(listener_on([&any], target), Some(any.local));
        let v6 = row("[::]:44600", "[::]:0", listen);
        assert_eq!(listener_on([&v6], target), Some(v6.local));
        let v6_target: SocketAddr = "[::1]:44600".parse().unwrap();
        assert_eq!(listener_on([&any], v6_target), None);
    }
}
