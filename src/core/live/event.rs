//! The events live catch deals in: what the kernel reported (a TCP state
//! change, a reset received, events lost), the process completed from
//! `/proc`, and what the source hands to the screen. Names and command
//! lines here come from the kernel and other processes, raw: a screen
//! passes them through `crate::core::sanitize` first.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::storm::StormChange;
use crate::core::socket::Family;

/// A TCP state as the kernel numbers it (`include/net/tcp_states.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TcpState(pub u8);

impl TcpState {
    pub const ESTABLISHED: TcpState = TcpState(1);
    pub const SYN_SENT: TcpState = TcpState(2);
    pub const SYN_RECV: TcpState = TcpState(3);
    pub const CLOSE: TcpState = TcpState(7);
    pub const LISTEN: TcpState = TcpState(10);

    const NAMES: [&'static str; 12] = [
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];

    /// Reads `TCP_SYN_SENT` (the symbolic form trace_pipe prints) or a
    /// plain number (kernels or options that print the raw value).
    pub fn from_text(text: &str) -> Option<TcpState> {
        if let Ok(n) = text.parse::<u8>() {
            return Some(TcpState(n));
        }
        let name = text.strip_prefix("TCP_").unwrap_or(text);
        let i = Self::NAMES.iter().position(|n| *n == name)?;
        Some(TcpState(i as u8 + 1))
    }

    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .get(usize::from(self.0).checked_sub(1)?)
            .copied()
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "state {}", self.0),
        }
    }
}

/// The task an event was recorded in: trace_pipe's `comm-pid` column.
/// `tid` is the kernel's task id (a thread's id, equal to the process id
/// only for a main thread); `comm` is that thread's name, or `None` when
/// the kernel printed `<...>` (name no longer in its cache).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub tid: i32,
    pub comm: Option<String>,
}

/// `sock:inet_sock_set_state`: a TCP socket changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The kernel's timestamp (the instance's trace clock).
    pub time: Duration,
    pub task: Task,
    pub family: Family,
    /// Local address and port. An IPv4-mapped IPv6 socket keeps its
    /// `::ffff:a.b.c.d` form here.
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub old: TcpState,
    pub new: TcpState,
}

impl StateChange {
    /// A simultaneous open (`SYN_SENT -> SYN_RECV`, RFC 793 fig. 8) whose
    /// local address and port equal the remote ones: the socket is
    /// connecting to itself.
    pub fn is_self_connect(&self) -> bool {
        self.old == TcpState::SYN_SENT
            && self.new == TcpState::SYN_RECV
            && self.local == self.remote
    }
}

/// `tcp:tcp_receive_reset`: a socket received a RST. For a refused
/// `connect()` on this host, `local` is the client's address and source
/// port, `remote` the address and port it was trying to reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResetReceived {
    pub time: Duration,
    pub task: Task,
    pub family: Family,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// One parsed line of `trace_pipe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TraceEvent {
    StateChange(StateChange),
    Reset(ResetReceived),
    /// `CPU:N [LOST M EVENTS]`: the ring buffer overflowed before we read it.
    Lost {
        cpu: Option<u32>,
        count: u64,
    },
}

/// The process behind a task, read from `/proc` while it lived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The process (thread group) id.
    pub pid: i32,
    /// The thread that was running when the event was recorded.
    pub tid: i32,
    /// The process's `comm` (cut at 15 characters by the kernel).
    pub comm: String,
    /// The full program name (executable or argv[0]).
    pub name: String,
    /// The command line, arguments joined by spaces.
    pub cmdline: String,
    pub uid: Option<u32>,
    /// The inode of the thread's network namespace (`/proc/TID/ns/net`).
    pub netns: Option<u64>,
}

/// What the live source reports to its consumer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A socket connected to itself. `owner` is `None` when the process
    /// was gone (or its id reused) before it could be read.
    SelfConnect {
        change: StateChange,
        owner: Option<Owner>,
    },
    /// A retry storm started, goes on (about once a second) or ended.
    /// `owner` is read when it starts; later reports carry `None`.
    Storm {
        change: StormChange,
        owner: Option<Owner>,
    },
    /// The kernel dropped events: some may have been missed.
    Lost { count: u64 },
    /// The source stopped on its own (its read failed); nothing more comes.
    Failed { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(old: u8, new: u8, local: &str, remote: &str) -> StateChange {
        StateChange {
            time: Duration::ZERO,
            task: Task { tid: 1, comm: None },
            family: Family::Ipv4,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            old: TcpState(old),
            new: TcpState(new),
        }
    }

    #[test]
    fn a_self_connect_is_a_simultaneous_open_to_its_own_address() {
        assert!(change(2, 3, "127.0.0.1:45001", "127.0.0.1:45001").is_self_connect());
        assert!(change(2, 3, "[::1]:45001", "[::1]:45001").is_self_connect());
        // Same port, other address: a simultaneous open between two sockets.
        assert!(!change(2, 3, "127.0.0.1:45001", "127.0.0.2:45001").is_self_connect());
        assert!(!change(2, 3, "127.0.0.1:45001", "127.0.0.1:45002").is_self_connect());
        // The same tuple in another transition is not the moment of the catch.
        assert!(!change(3, 1, "127.0.0.1:45001", "127.0.0.1:45001").is_self_connect());
        assert!(!change(7, 2, "127.0.0.1:45001", "127.0.0.1:45001").is_self_connect());
    }

    #[test]
    fn states_read_both_symbolic_and_numeric() {
        assert_eq!(
            TcpState::from_text("TCP_SYN_SENT"),
            Some(TcpState::SYN_SENT)
        );
        assert_eq!(TcpState::from_text("SYN_RECV"), Some(TcpState::SYN_RECV));
        assert_eq!(TcpState::from_text("10"), Some(TcpState::LISTEN));
        assert_eq!(TcpState::from_text("TCP_BOGUS"), None);
        assert_eq!(TcpState(12).to_string(), "NEW_SYN_RECV");
        assert_eq!(TcpState(0).to_string(), "state 0");
        assert_eq!(TcpState(40).name(), None);
    }
}
