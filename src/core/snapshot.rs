//! The result of one scan: every socket with its finding, owner and
//! namespace. Pure data, shared by the table, the JSON and the dashboard.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};

use super::ports::PortPolicy;
use super::sanitize::{needs_escape, terminal_safe};
use super::socket::{Finding, SocketEntry, TcpState};

/// The process that holds a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: i32,
    /// The full program name (from the executable or argv[0]), not the
    /// 15-character `comm`.
    pub name: String,
    /// The command line, arguments joined by spaces.
    pub cmdline: String,
    pub user: String,
}

/// Why a socket's owner could not be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownOwner {
    /// Inode 0: no process holds it (TIME_WAIT, or an orphan the kernel is closing).
    KernelHeld,
    /// Another user's process, and we are not root: its fds are hidden from us.
    NotPermitted,
    /// The holder exited between reading the table and reading its fds, or it
    /// lives where we cannot see its `/proc` entry.
    NotFound,
    /// Owners were not looked up for this socket (not a finding, no `--all`).
    NotResolved,
}

impl UnknownOwner {
    pub fn reason(self) -> &'static str {
        match self {
            UnknownOwner::KernelHeld => "no process holds it (kernel-held, e.g. TIME_WAIT)",
            UnknownOwner::NotPermitted => "another user's process: run as root to see it",
            UnknownOwner::NotFound => "process gone, or not visible from here",
            UnknownOwner::NotResolved => "not looked up",
        }
    }

    /// A few characters for a table cell. `NotFound` is not "(gone)": the
    /// holder may as well live where its `/proc` entry cannot be seen.
    pub fn short(self) -> &'static str {
        match self {
            UnknownOwner::KernelHeld => "(kernel)",
            UnknownOwner::NotPermitted => "(need root)",
            UnknownOwner::NotFound => "(unknown)",
            UnknownOwner::NotResolved => "-",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Owner {
    /// Shared: one process often holds many sockets.
    Process(Arc<ProcessInfo>),
    Unknown(UnknownOwner),
}

impl Owner {
    pub fn process(&self) -> Option<&ProcessInfo> {
        match self {
            Owner::Process(p) => Some(p),
            Owner::Unknown(_) => None,
        }
    }
}

/// A network namespace, with its own tables and its own port policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// The namespace's inode number (as in `/proc/PID/ns/net`); 0 when unknown.
    pub id: u64,
    /// A name people recognise: `host`, an `ip netns` name, a container
    /// hint (`docker:3f2a1b4c5d6e`), else `pid 1234 (nginx)`.
    pub name: String,
    /// The namespace this tool runs in.
    pub is_own: bool,
    pub policy: PortPolicy,
    /// The host's namespace: pid 1's (the tool's own when pid 1's cannot be read).
    pub is_host: bool,
    /// A process inside it (the lowest pid), if any: `nsenter -t PID -n` enters it.
    pub pid: Option<i32>,
    /// Its `ip netns` name (a bind mount in `/run/netns`), if it has one.
    pub ip_netns: Option<String>,
    /// Its sockets were left out of the snapshot because `scan --netns`
    /// picked another namespace. Only ever the tool's own, which stays in
    /// the snapshot for its policy.
    pub filtered_out: bool,
}

impl Namespace {
    /// The command prefix that runs a command (e.g. `sysctl -w ...`) inside
    /// this namespace; `None` for the tool's own, where no prefix is needed.
    pub fn enter_prefix(&self) -> Option<String> {
        if self.is_own {
            return None;
        }
        // An `ip netns` name is any file name under /run/netns: quoted for
        // the shell. One that the screen shows escaped (control or
        // direction characters, which would also act on the line it is
        // pasted into) gives way to the pid of a process inside; without
        // one, the escaped name is used, which `ip` refuses: the command
        // then fails instead of running in the wrong namespace.
        match (&self.ip_netns, self.pid) {
            (Some(name), pid) => {
                let odd = name.chars().any(needs_escape);
                match pid {
                    Some(pid) if odd => Some(format!("nsenter -t {pid} -n")),
                    _ => Some(format!(
                        "ip netns exec {}",
                        shell_word(&terminal_safe(name))
                    )),
                }
            }
            (None, Some(pid)) => Some(format!("nsenter -t {pid} -n")),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    pub entry: SocketEntry,
    pub finding: Option<Finding>,
    pub owner: Owner,
    /// The user the kernel lists for the socket (name, or the uid as text).
    pub user: Arc<str>,
    /// Index into [`Snapshot::namespaces`].
    pub netns: usize,
}

/// How much a problem takes away from a scan's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Something was skipped or assumed; what was read stands.
    #[default]
    Warning,
    /// A table held rows and none of them could be read: the scan cannot
    /// say whether anything is at risk, so "nothing found" would be false
    /// comfort (`scan` exits 2).
    Error,
}

/// Something the scan could not read; the scan goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanError {
    /// What was being read, usually a path.
    pub source: String,
    pub message: String,
    /// Not in the JSON (its `errors` keep their shape); the exit code says it.
    #[serde(skip)]
    pub severity: Severity,
}

impl ScanError {
    /// A warning: the scan goes on without what it names.
    pub fn new(source: impl Into<String>, message: impl Into<String>) -> ScanError {
        ScanError {
            source: source.into(),
            message: message.into(),
            severity: Severity::Warning,
        }
    }

    /// An error: what was read cannot be trusted (see [`Severity::Error`]).
    pub fn error(source: impl Into<String>, message: impl Into<String>) -> ScanError {
        ScanError {
            severity: Severity::Error,
            ..ScanError::new(source, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same error, saying what the scan assumes instead.
    pub fn assuming(mut self, what: &str) -> ScanError {
        self.message = format!("{}; {what}", self.message);
        self
    }
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Serde: for `--record` files (`scan --json` has its own shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_at: DateTime<Local>,
    /// How long the scan took, in microseconds.
    pub scan_micros: u64,
    /// The tool's own namespace first (marked [`Namespace::is_own`]).
    pub namespaces: Vec<Namespace>,
    pub sockets: Vec<Socket>,
    pub errors: Vec<ScanError>,
    /// Set when the scan could not see everything (not root): why.
    pub visibility_note: Option<String>,
}

impl Snapshot {
    /// Completes a snapshot of listening sockets only with the other
    /// sockets (connections, TIME_WAIT) of `old`, a full one: each kept in
    /// its namespace, found again by id; those of a namespace that is gone
    /// are dropped.
    pub fn keep_connections_of(&mut self, old: Snapshot) {
        let index: std::collections::HashMap<u64, usize> = self
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id, i))
            .collect();
        let old_ids: Vec<u64> = old.namespaces.iter().map(|n| n.id).collect();
        self.sockets.retain(|s| s.entry.state == TcpState::Listen);
        // What the full read could not read still stands (said once, and
        // the header's warning does not come and go).
        for e in old.errors {
            if !self.errors.contains(&e) {
                self.errors.push(e);
            }
        }
        self.sockets
            .extend(old.sockets.into_iter().filter_map(|mut s| {
                if s.entry.state == TcpState::Listen {
                    return None;
                }
                s.netns = *index.get(old_ids.get(s.netns)?)?;
                Some(s)
            }));
    }

    /// The tool's own namespace: its policy is the one the header shows.
    /// (A hand-made snapshot that marks none gets its first.)
    pub fn own_namespace(&self) -> &Namespace {
        self.namespaces
            .iter()
            .find(|n| n.is_own)
            .unwrap_or(&self.namespaces[0])
    }

    /// Some table could not be read at all (see [`Severity::Error`]): the
    /// findings, even none, are not an answer.
    pub fn is_inconclusive(&self) -> bool {
        self.errors.iter().any(ScanError::is_error)
    }

    pub fn findings(&self) -> impl Iterator<Item = &Socket> {
        self.sockets.iter().filter(|s| s.finding.is_some())
    }

    pub fn namespace_of(&self, socket: &Socket) -> &Namespace {
        &self.namespaces[socket.netns]
    }

    /// The namespaces whose sockets are in the snapshot (all of them
    /// unless `--netns` picked one).
    pub fn scanned_namespaces(&self) -> impl Iterator<Item = (usize, &Namespace)> {
        self.namespaces
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.filtered_out)
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            sockets: self.sockets.len(),
            ..Counts::default()
        };
        for f in self.sockets.iter().filter_map(|s| s.finding) {
            match (f.kind, f.risk) {
                (super::socket::FindingKind::SelfConnect, _) => c.self_connects += 1,
                (_, Some(super::ports::Risk::High)) => c.high_listeners += 1,
                _ => c.medium_listeners += 1,
            }
        }
        c
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sockets: usize,
    pub self_connects: usize,
    pub high_listeners: usize,
    pub medium_listeners: usize,
}

impl Counts {
    pub fn findings(&self) -> usize {
        self.self_connects + self.high_listeners + self.medium_listeners
    }
}

/// `word` as one shell word (quoted when it needs to be).
fn shell_word(word: &str) -> std::borrow::Cow<'_, str> {
    // Only a NUL cannot be quoted, and a file name holds none.
    shlex::try_quote(word).unwrap_or_else(|_| word.replace('\0', "").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(ip_netns: Option<&str>, pid: Option<i32>) -> Namespace {
        Namespace {
            id: 4026532000,
            name: "n".into(),
            is_own: false,
            policy: PortPolicy::default(),
            is_host: false,
            pid,
            ip_netns: ip_netns.map(String::from),
            filtered_out: false,
        }
    }

    #[test]
    fn a_plain_name_is_used_as_it_is() {
        let p = ns(Some("blue-1_a.b"), Some(7)).enter_prefix();
        assert_eq!(p.as_deref(), Some("ip netns exec blue-1_a.b"));
    }

    #[test]
    fn a_name_the_shell_would_act_on_is_quoted() {
        let p = ns(Some("x;$(reboot) 'y'"), None).enter_prefix().unwrap();
        let words = shlex::split(&p).unwrap();
        assert_eq!(words, ["ip", "netns", "exec", "x;$(reboot) 'y'"], "{p}");
        assert!(!p.contains("x;$(reboot) 'y'"), "{p}");
    }

    #[test]
    fn a_name_with_control_characters_gives_way_to_a_pid() {
        for odd in ["a\u{1b}]52;c;x\u{7}\nb", "a\u{202e}b"] {
            let p = ns(Some(odd), Some(4242)).enter_prefix();
            assert_eq!(p.as_deref(), Some("nsenter -t 4242 -n"));
        }
    }

    #[test]
    fn without_a_pid_an_odd_name_makes_a_command_that_fails_safely() {
        // Never no prefix (the command would run in the tool's namespace),
        // never the raw control characters.
        let p = ns(Some("a\nb;c"), None).enter_prefix().unwrap();
        assert_eq!(
            shlex::split(&p).unwrap(),
            ["ip", "netns", "exec", "a\\nb;c"]
        );
        assert!(!p.chars().any(needs_escape), "{p:?}");
    }

    fn sock(port: u16, state: TcpState, netns: usize) -> Socket {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        Socket {
            entry: SocketEntry {
                family: super::super::socket::Family::Ipv4,
                local: addr,
                remote: addr,
                state,
                inode: u64::from(port),
                uid: 0,
            },
            finding: None,
            owner: Owner::Unknown(UnknownOwner::NotResolved),
            user: Arc::from("root"),
            netns,
        }
    }

    fn snap(ids: &[u64], sockets: Vec<Socket>) -> Snapshot {
        Snapshot {
            taken_at: Local::now(),
            scan_micros: 0,
            namespaces: ids
                .iter()
                .map(|&id| Namespace {
                    id,
                    ..ns(None, None)
                })
                .collect(),
            sockets,
            errors: vec![],
            visibility_note: None,
        }
    }

    #[test]
    fn kept_connections_find_their_namespace_by_id() {
        use TcpState::*;
        // Old: namespaces 1, 2, 3; new: 3, 1 (2 is gone).
        let old = snap(
            &[1, 2, 3],
            vec![
                sock(80, Listen, 0),
                sock(1001, Established, 0),
                sock(1002, Established, 1),
                sock(1003, TimeWait, 2),
            ],
        );
        let mut old = old;
        let bad_row = ScanError::new("/proc/net/tcp line 9", "unreadable row skipped");
        let diag = ScanError::new("netns 3: sock_diag", "dump failed");
        old.errors = vec![bad_row.clone(), diag.clone()];
        let mut new = snap(&[3, 1], vec![sock(443, Listen, 1), sock(9, Established, 0)]);
        new.errors = vec![diag.clone()];
        new.keep_connections_of(old);
        assert_eq!(
            new.errors,
            [diag, bad_row],
            "what the full read could not read stands, once"
        );
        let got: Vec<(u16, TcpState, u64)> = new
            .sockets
            .iter()
            .map(|s| {
                (
                    s.entry.local.port(),
                    s.entry.state,
                    new.namespaces[s.netns].id,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (443, Listen, 1),
                (1001, Established, 1),
                (1003, TimeWait, 3)
            ],
            "fresh listeners only, old connections in their namespaces, none of a gone one"
        );
    }

    #[test]
    fn the_own_namespace_needs_no_prefix() {
        let mut own = ns(Some("blue"), Some(1));
        own.is_own = true;
        assert_eq!(own.enter_prefix(), None);
    }
}
