//! One row of `/proc/net/tcp{,6}`, in our own types, and what makes it a
//! finding.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ports::{PortPolicy, Risk};

/// Which table a socket came from. An IPv4-mapped address
/// (`::ffff:127.0.0.1`) is an IPv6 socket and is reported as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// TCP states, with the kernel's names (`include/net/tcp_states.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
}

impl TcpState {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One socket as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketEntry {
    pub family: Family,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// 0 for sockets no process holds any more (TIME_WAIT, orphans).
    pub inode: u64,
    pub uid: u32,
}

impl SocketEntry {
    /// Local address and port equal the remote ones: the socket talks to
    /// itself. A listener's remote is `*:0`, so port 0 never counts.
    pub fn is_self_connected(&self) -> bool {
        self.state != TcpState::Listen && self.local.port() != 0 && self.local == self.remote
    }
}

/// What makes a socket worth a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    SelfConnect,
    EphemeralListener,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::SelfConnect => "self_connect",
            FindingKind::EphemeralListener => "ephemeral_listener",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Only listeners carry a risk; a self-connection has already happened.
    pub risk: Option<Risk>,
}

impl Finding {
    /// Orders findings by urgency: self-connects, then high, then medium.
    pub fn severity(&self) -> u8 {
        match (self.kind, self.risk) {
            (FindingKind::SelfConnect, _) => 3,
            (_, Some(Risk::High)) => 2,
            _ => 1,
        }
    }
}

/// Classifies one socket against its namespace's port policy.
pub fn classify(entry: &SocketEntry, policy: &PortPolicy) -> Option<Finding> {
    if entry.is_self_connected() {
        return Some(Finding {
            kind: FindingKind::SelfConnect,
            risk: None,
        });
    }
    if entry.state == TcpState::Listen {
        return policy
            .listener_risk(entry.local.port())
            .map(|risk| Finding {
                kind: FindingKind::EphemeralListener,
                risk: Some(risk),
            });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::{PortRange, ReservedPorts};

    fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        let local: SocketAddr = local.parse().unwrap();
        SocketEntry {
            family: if local.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            local,
            remote: remote.parse().unwrap(),
            state,
            inode: 1,
            uid: 0,
        }
    }

    #[test]
    fn self_connects_in_any_state_and_family() {
        let p = PortPolicy::default();
        for (addr, state) in [
            ("127.0.0.1:44600", TcpState::Established),
            ("127.0.0.1:44600", TcpState::TimeWait),
            ("10.1.2.3:40000", TcpState::CloseWait),
            ("[::1]:50000", TcpState::FinWait2),
            ("[::ffff:127.0.0.1]:44600", TcpState::Established),
            // Outside the range too: an explicit bind can do it anywhere.
            ("127.0.0.1:5432", TcpState::Established),
        ] {
            let f = classify(&entry(addr, addr, state), &p).unwrap();
            assert_eq!(f.kind, FindingKind::SelfConnect, "{addr} {state}");
            assert_eq!(f.risk, None);
        }
        assert_eq!(
            classify(
                &entry("127.0.0.1:44600", "127.0.0.1:44601", TcpState::Established),
                &p
            ),
            None
        );
        assert_eq!(
            classify(
                &entry("127.0.0.1:44600", "127.0.0.2:44600", TcpState::Established),
                &p
            ),
            None
        );
    }

    #[test]
    fn listeners_are_scored_against_their_policy() {
        let p = PortPolicy {
            range: PortRange::parse("40001 50000").unwrap(),
            reserved: ReservedPorts::parse("45001").unwrap(),
        };
        let l = |a: &str| classify(&entry(a, "0.0.0.0:0", TcpState::Listen), &p);
        assert_eq!(l("0.0.0.0:44601").unwrap().risk, Some(Risk::High));
        assert_eq!(l("127.0.0.1:44600").unwrap().risk, Some(Risk::Medium));
        assert_eq!(l("0.0.0.0:45001"), None);
        assert_eq!(l("0.0.0.0:22"), None);
        let v6 = classify(&entry("[::]:44601", "[::]:0", TcpState::Listen), &p).unwrap();
        assert_eq!(v6.kind, FindingKind::EphemeralListener);
        // A connection (not a listener) on a risky port is not a finding.
        assert_eq!(
            classify(
                &entry("127.0.0.1:44601", "127.0.0.1:33000", TcpState::Established),
                &p
            ),
            None
        );
    }

    #[test]
    fn severity_orders_self_connects_first() {
        let sc = Finding {
            kind: FindingKind::SelfConnect,
            risk: None,
        };
        let hi = Finding {
            kind: FindingKind::EphemeralListener,
            risk: Some(Risk::High),
        };
        let med = Finding {
            kind: FindingKind::EphemeralListener,
            risk: Some(Risk::Medium),
        };
        assert!(sc.severity() > hi.severity() && hi.severity() > med.severity());
    }
}
