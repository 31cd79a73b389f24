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
}
