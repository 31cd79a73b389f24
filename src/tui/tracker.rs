//! The event log: what changed between consecutive snapshots. Pure (no
//! clock, no I/O): it is fed snapshots and scan failures, with their own
//! timestamps, and keeps a bounded list of entries for the log pane.
//!
//! A self-connection is recorded when first seen and its entry keeps its
//! first and last sighting; when it disappears a second entry says so, so a
//! connection that lived between two refreshes stays on record. Risky
//! listeners are tracked by port per namespace: a port matters while
//! anything listens on it (the kernel never hands out a bound port), and
//! becomes dangerous when the last listener goes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use chrono::{DateTime, Local};

use crate::core::ports::{PortPolicy, Risk};
use crate::core::snapshot::{Owner, Snapshot, Socket};
use crate::core::socket::{FindingKind, TcpState};

/// How many entries the log keeps; older ones are dropped.
pub const LOG_CAPACITY: usize = 1000;
/// New scan errors listed one by one per snapshot; the rest are counted.
const ERRORS_PER_SCAN: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    /// A risky listener.
    Warning,
    /// The scan could not read something.
    Error,
    /// A self-connection.
    Alert,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    Started {
        sockets: usize,
        self_connects: usize,
        risky: usize,
    },
    /// One self-connection, updated while it is seen.
    SelfConnect {
        ns: Option<String>,
        addr: SocketAddr,
        state: TcpState,
        owner: String,
        first_seen: DateTime<Local>,
        last_seen: DateTime<Local>,
        present: bool,
        at_start: bool,
    },
    SelfConnectGone {
        ns: Option<String>,
        addr: SocketAddr,
        owner: String,
        first_seen: DateTime<Local>,
        last_seen: DateTime<Local>,
    },
    ListenerAppeared {
        ns: Option<String>,
        addr: SocketAddr,
        risk: Risk,
        owner: String,
        at_start: bool,
    },
    /// The last listener on a risky port went away.
    ListenerGone {
        ns: Option<String>,
        port: u16,
        owner: String,
    },
    /// Still listening, but the policy changed and the port is no longer at risk.
    ListenerSafe {
        ns: Option<String>,
        port: u16,
    },
    RiskChanged {
        ns: Option<String>,
        port: u16,
        risk: Risk,
    },
    PolicyChanged {
        ns: Option<String>,
        what: String,
    },
    NamespaceGone {
        name: String,
    },
    ScanError(String),
    ScanFailed(String),
    ScanRecovered,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Increasing; stable while the entry lives.
    pub id: u64,
    pub at: DateTime<Local>,
    pub kind: LogKind,
}

fn hms(t: &DateTime<Local>) -> String {
    t.format("%H:%M:%S").to_string()
}

fn in_ns(ns: &Option<String>) -> String {
    ns.as_ref().map(|n| format!("[{n}] ")).unwrap_or_default()
}

impl LogEntry {
    pub fn level(&self) -> Level {
        match &self.kind {
            LogKind::SelfConnect { .. } | LogKind::SelfConnectGone { .. } => Level::Alert,
            LogKind::ListenerAppeared { .. }
            | LogKind::ListenerGone { .. }
            | LogKind::RiskChanged { .. } => Level::Warning,
            LogKind::ScanError(_) | LogKind::ScanFailed(_) => Level::Error,
            _ => Level::Info,
        }
    }

    /// The entry in plain words (without its timestamp).
    pub fn message(&self) -> String {
        match &self.kind {
            LogKind::Started {
                sockets,
                self_connects,
                risky,
            } => format!(
                "watching {sockets} socket{}: {self_connects} self-connected, {risky} risky listener{}",
                if *sockets == 1 { "" } else { "s" },
                if *risky == 1 { "" } else { "s" }
            ),
            LogKind::SelfConnect {
                ns,
                addr,
                state,
                owner,
                first_seen,
                last_seen,
                present,
                at_start,
            } => {
                let seen = if first_seen == last_seen {
                    format!("seen {}", hms(first_seen))
                } else {
                    format!("seen {}–{}", hms(first_seen), hms(last_seen))
                };
                format!(
                    "{}SELF-CONNECT {addr} ↔ itself ({state}), held by {owner}; {}{seen}{}",
                    in_ns(ns),
                    if *at_start { "present at start, " } else { "" },
                    if *present { ", still there" } else { "" },
                )
            }
            LogKind::SelfConnectGone {
                ns,
                addr,
                owner,
                first_seen,
                last_seen,
            } => format!(
                "{}self-connect {addr} gone; it was seen {}–{}, held by {owner}",
                in_ns(ns),
                hms(first_seen),
                hms(last_seen)
            ),
            LogKind::ListenerAppeared {
                ns,
                addr,
                risk,
                owner,
                at_start,
            } => format!(
                "{}{risk}-risk listener on {addr} {}, held by {owner}",
                in_ns(ns),
                if *at_start {
                    "(present at start)"
                } else {
                    "appeared"
                }
            ),
            LogKind::ListenerGone { ns, port, owner } => format!(
                "{}nothing listens on {port} any more ({owner} stopped listening): clients \
                 retrying it can now connect to themselves",
                in_ns(ns)
            ),
            LogKind::ListenerSafe { ns, port } => format!(
                "{}{port} is no longer at risk: reserved now, or outside the ephemeral range",
                in_ns(ns)
            ),
            LogKind::RiskChanged { ns, port, risk } => {
                format!("{}listener on {port} is now {risk} risk", in_ns(ns))
            }
            LogKind::PolicyChanged { ns, what } => format!("{}{what}", in_ns(ns)),
            LogKind::NamespaceGone { name } => {
                format!("network namespace {name} is gone, and its sockets with it")
            }
            LogKind::ScanError(e) => format!("scan error: {e}"),
            LogKind::ScanFailed(e) => format!("scan failed: {e}"),
            LogKind::ScanRecovered => "scanning works again".to_string(),
        }
    }
}

/// Who holds a socket, as a noun phrase ("held by ...").
pub fn owner_words(owner: &Owner) -> String {
    use crate::core::snapshot::UnknownOwner as U;
    match owner {
        Owner::Process(p) => format!("pid {} {}", p.pid, p.name),
        Owner::Unknown(U::KernelHeld) => "the kernel".into(),
        Owner::Unknown(U::NotPermitted) => "another user's process (need root)".into(),
        Owner::Unknown(U::NotFound) => "a process no longer visible".into(),
        Owner::Unknown(U::NotResolved) => "an unknown process".into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConnKey {
    ns: u64,
    addr: SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PortKey {
    ns: u64,
    port: u16,
}

#[derive(Debug, Clone)]
struct ConnRecord {
    entry_id: u64,
    ns: Option<String>,
    owner: String,
    known_owner: bool,
    first_seen: DateTime<Local>,
    last_seen: DateTime<Local>,
}

#[derive(Debug, Clone)]
struct ListenerRecord {
    ns: Option<String>,
    risk: Risk,
    owner: String,
}

/// Turns a stream of snapshots into log entries.
#[derive(Debug, Default)]
pub struct Tracker {
    entries: VecDeque<LogEntry>,
    next_id: u64,
    started: bool,
    failing: bool,
    self_connects: HashMap<ConnKey, ConnRecord>,
    risky: HashMap<PortKey, ListenerRecord>,
    policies: HashMap<u64, PortPolicy>,
    namespaces: HashMap<u64, String>,
    errors: HashSet<String>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &VecDeque<LogEntry> {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, at: DateTime<Local>, kind: LogKind) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_back(LogEntry { id, at, kind });
        while self.entries.len() > LOG_CAPACITY {
            self.entries.pop_front();
        }
        id
    }

    fn entry_mut(&mut self, id: u64) -> Option<&mut LogEntry> {
        let i = self.entries.binary_search_by_key(&id, |e| e.id).ok()?;
        self.entries.get_mut(i)
    }

    /// A scan failed completely; logged once until a scan works again.
    pub fn observe_failure(&mut self, at: DateTime<Local>, message: &str) {
        if !self.failing {
            self.failing = true;
            self.push(at, LogKind::ScanFailed(message.to_string()));
        }
    }

    /// Records what changed since the previous snapshot; returns how many
    /// entries were added.
    pub fn observe(&mut self, snap: &Snapshot) -> usize {
        let before = self.next_id;
        let at = snap.taken_at;
        let first = !self.started;
        if self.failing {
            self.failing = false;
            self.push(at, LogKind::ScanRecovered);
        }
        let many_ns = snap.namespaces.len() > 1;
        let ns_label = |s: &Socket| many_ns.then(|| snap.namespaces[s.netns].name.clone());
        let ns_id = |s: &Socket| snap.namespaces[s.netns].id;

        // Namespaces and their policies.
        let mut gone_ns: HashSet<u64> = self.namespaces.keys().copied().collect();
        for ns in &snap.namespaces {
            gone_ns.remove(&ns.id);
            let label = many_ns.then(|| ns.name.clone());
            if let Some(old) = self.policies.get(&ns.id).cloned() {
                if old.range != ns.policy.range {
                    self.push(
                        at,
                        LogKind::PolicyChanged {
                            ns: label.clone(),
                            what: format!(
                                "ephemeral range now {} (was {})",
                                ns.policy.range, old.range
                            ),
                        },
                    );
                }
                if old.reserved != ns.policy.reserved {
                    self.push(
                        at,
                        LogKind::PolicyChanged {
                            ns: label,
                            what: format!(
                                "reserved ports now {} (was {})",
                                ns.policy.reserved, old.reserved
                            ),
                        },
                    );
                }
            }
            self.policies.insert(ns.id, ns.policy.clone());
            self.namespaces.insert(ns.id, ns.name.clone());
        }
        for id in gone_ns {
            let name = self.namespaces.remove(&id).unwrap_or_default();
            self.policies.remove(&id);
            self.self_connects.retain(|k, _| k.ns != id);
            self.risky.retain(|k, _| k.ns != id);
            self.push(at, LogKind::NamespaceGone { name });
        }

        // One pass over the sockets: self-connects, and listening ports.
        // Entries are added least urgent first, so that the newest-first
        // log shows a refresh's self-connects on top.
        let mut seen_conns: HashMap<ConnKey, &Socket> = HashMap::new();
        let mut listening: HashMap<PortKey, Vec<&Socket>> = HashMap::new();
        for s in &snap.sockets {
            match s.finding.map(|f| f.kind) {
                Some(FindingKind::SelfConnect) => {
                    seen_conns.insert(
                        ConnKey {
                            ns: ns_id(s),
                            addr: s.entry.local,
                        },
                        s,
                    );
                }
                _ if s.entry.state == TcpState::Listen => {
                    listening
                        .entry(PortKey {
                            ns: ns_id(s),
                            port: s.entry.local.port(),
                        })
                        .or_default()
                        .push(s);
                }
                _ => {}
            }
        }

        if first {
            let c = snap.counts();
            self.push(
                at,
                LogKind::Started {
                    sockets: c.sockets,
                    self_connects: c.self_connects,
                    risky: c.high_listeners + c.medium_listeners,
                },
            );
        }

        // Scan errors, each logged once while it lasts.
        let now_errors: HashSet<String> = snap.errors.iter().map(ToString::to_string).collect();
        let mut fresh: Vec<&String> = now_errors
            .iter()
            .filter(|e| !self.errors.contains(*e))
            .collect();
        fresh.sort();
        let extra = fresh.len().saturating_sub(ERRORS_PER_SCAN);
        let fresh: Vec<String> = fresh.into_iter().take(ERRORS_PER_SCAN).cloned().collect();
        for e in fresh {
            self.push(at, LogKind::ScanError(e));
        }
        if extra > 0 {
            self.push(
                at,
                LogKind::ScanError(format!("and {extra} more (see the header)")),
            );
        }
        self.errors = now_errors;
        // Risky listening ports that went away, or are no longer risky.
        let mut old: Vec<(PortKey, ListenerRecord)> =
            self.risky.iter().map(|(k, r)| (*k, r.clone())).collect();
        old.sort_by_key(|(k, _)| (k.ns, k.port));
        for (key, rec) in old {
            match listening.get(&key) {
                None => {
                    self.risky.remove(&key);
                    self.push(
                        at,
                        LogKind::ListenerGone {
                            ns: rec.ns,
                            port: key.port,
                            owner: rec.owner,
                        },
                    );
                }
                Some(socks) if socks.iter().all(|s| s.finding.is_none()) => {
                    self.risky.remove(&key);
                    self.push(
                        at,
                        LogKind::ListenerSafe {
                            ns: rec.ns,
                            port: key.port,
                        },
                    );
                }
                Some(_) => {}
            }
        }

        // Risky listening ports that appeared, or changed risk.
        let mut now: Vec<(PortKey, Vec<&Socket>)> = listening.into_iter().collect();
        now.sort_by_key(|(k, _)| (k.ns, k.port));
        for (key, socks) in now {
            let Some(risk) = socks
                .iter()
                .filter_map(|s| s.finding.and_then(|f| f.risk))
                .max()
            else {
                continue;
            };
            // The socket to name: one with a known owner if any.
            let s = socks
                .iter()
                .find(|s| s.owner.process().is_some())
                .unwrap_or(&socks[0]);
            match self.risky.get_mut(&key) {
                Some(rec) if rec.risk == risk => {}
                Some(rec) => {
                    rec.risk = risk;
                    let ns = rec.ns.clone();
                    self.push(
                        at,
                        LogKind::RiskChanged {
                            ns,
                            port: key.port,
                            risk,
                        },
                    );
                }
                None => {
                    let owner = owner_words(&s.owner);
                    let ns = ns_label(s);
                    self.push(
                        at,
                        LogKind::ListenerAppeared {
                            ns: ns.clone(),
                            addr: s.entry.local,
                            risk,
                            owner: owner.clone(),
                            at_start: first,
                        },
                    );
                    self.risky.insert(key, ListenerRecord { ns, risk, owner });
                }
            }
        }

        // Self-connects that went away.
        let mut gone: Vec<(ConnKey, ConnRecord)> = self
            .self_connects
            .iter()
            .filter(|(k, _)| !seen_conns.contains_key(k))
            .map(|(k, r)| (*k, r.clone()))
            .collect();
        gone.sort_by_key(|(k, r)| (r.first_seen, k.addr));
        for (key, rec) in gone {
            self.self_connects.remove(&key);
            if let Some(LogEntry {
                kind: LogKind::SelfConnect { present, .. },
                ..
            }) = self.entry_mut(rec.entry_id)
            {
                *present = false;
            }
            self.push(
                at,
                LogKind::SelfConnectGone {
                    ns: rec.ns,
                    addr: key.addr,
                    owner: rec.owner,
                    first_seen: rec.first_seen,
                    last_seen: rec.last_seen,
                },
            );
        }

        // Self-connects seen now: new ones get an entry, known ones an update.
        let mut now_seen: Vec<(ConnKey, &Socket)> = seen_conns.into_iter().collect();
        now_seen.sort_by_key(|(k, _)| (k.ns, k.addr));
        for (key, s) in now_seen {
            let known = matches!(s.owner, Owner::Process(_));
            match self.self_connects.get_mut(&key) {
                Some(rec) => {
                    rec.last_seen = at;
                    // Keep the process once known: in TIME_WAIT the kernel holds it.
                    if known && !rec.known_owner {
                        rec.owner = owner_words(&s.owner);
                        rec.known_owner = true;
                    }
                    let (id, owner) = (rec.entry_id, rec.owner.clone());
                    if let Some(LogEntry {
                        kind:
                            LogKind::SelfConnect {
                                state,
                                owner: o,
                                last_seen,
                                ..
                            },
                        ..
                    }) = self.entry_mut(id)
                    {
                        *state = s.entry.state;
                        *o = owner;
                        *last_seen = at;
                    }
                }
                None => {
                    let owner = owner_words(&s.owner);
                    let ns = ns_label(s);
                    let entry_id = self.push(
                        at,
                        LogKind::SelfConnect {
                            ns: ns.clone(),
                            addr: key.addr,
                            state: s.entry.state,
                            owner: owner.clone(),
                            first_seen: at,
                            last_seen: at,
                            present: true,
                            at_start: first,
                        },
                    );
                    self.self_connects.insert(
                        key,
                        ConnRecord {
                            entry_id,
                            ns,
                            owner,
                            known_owner: known,
                            first_seen: at,
                            last_seen: at,
                        },
                    );
                }
            }
        }

        self.started = true;
        (self.next_id - before) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::ReservedPorts;
    use crate::core::snapshot::{Namespace, ProcessInfo, ScanError, UnknownOwner};
    use crate::core::socket::{Family, SocketEntry, classify};
    use chrono::TimeZone;

    fn t(sec: u32) -> DateTime<Local> {
        Local
            .with_ymd_and_hms(2024, 5, 1, 12, 0, sec)
            .single()
            .expect("an unambiguous local time")
    }

    fn ns(id: u64, name: &str, reserved: &str) -> Namespace {
        Namespace {
            id,
            name: name.into(),
            is_own: id == 1,
            policy: PortPolicy {
                reserved: ReservedPorts::parse(reserved).unwrap(),
                ..PortPolicy::default()
            },
            ..Namespace::default()
        }
    }

    fn sock(local: &str, remote: &str, state: TcpState, owner: Option<(i32, &str)>) -> Socket {
        let entry = SocketEntry {
            family: Family::Ipv4,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            inode: 1,
            uid: 0,
        };
        Socket {
            finding: None,
            owner: match owner {
                Some((pid, name)) => Owner::Process(std::sync::Arc::new(ProcessInfo {
                    pid,
                    name: name.into(),
                    cmdline: name.into(),
                    user: "root".into(),
                })),
                None => Owner::Unknown(UnknownOwner::KernelHeld),
            },
            user: "root".into(),
            netns: 0,
            entry,
        }
    }

    fn snap(at: u32, namespaces: Vec<Namespace>, mut sockets: Vec<Socket>) -> Snapshot {
        for s in &mut sockets {
            s.finding = classify(&s.entry, &namespaces[s.netns].policy);
        }
        Snapshot {
            taken_at: t(at),
            scan_micros: 1,
            namespaces,
            sockets,
            errors: vec![],
            visibility_note: None,
        }
    }

    fn messages(tr: &Tracker) -> Vec<String> {
        tr.entries()
            .iter()
            .map(|e| format!("{} {}", hms(&e.at), e.message()))
            .collect()
    }

    const SC: &str = "127.0.0.1:44600";

    #[test]
    fn a_short_lived_self_connect_stays_on_record_with_its_owner() {
        let mut tr = Tracker::new();
        let host = || vec![ns(1, "host", "")];
        tr.observe(&snap(0, host(), vec![]));
        tr.observe(&snap(
            1,
            host(),
            vec![sock(SC, SC, TcpState::Established, Some((42, "client")))],
        ));
        // Next refresh: it is in TIME_WAIT, held by the kernel.
        tr.observe(&snap(
            2,
            host(),
            vec![sock(SC, SC, TcpState::TimeWait, None)],
        ));
        tr.observe(&snap(3, host(), vec![]));
        assert_eq!(
            messages(&tr),
            vec![
                "12:00:00 watching 0 sockets: 0 self-connected, 0 risky listeners",
                "12:00:01 SELF-CONNECT 127.0.0.1:44600 ↔ itself (TIME_WAIT), held by pid 42 client; seen 12:00:01–12:00:02",
                "12:00:03 self-connect 127.0.0.1:44600 gone; it was seen 12:00:01–12:00:02, held by pid 42 client",
            ]
        );
        assert_eq!(tr.entries()[1].level(), Level::Alert);
    }

    #[test]
    fn self_connects_present_at_start_are_marked_and_still_there() {
        let mut tr = Tracker::new();
        let s = snap(
            5,
            vec![ns(1, "host", "")],
            vec![sock(SC, SC, TcpState::Established, None)],
        );
        tr.observe(&s);
        let mut s2 = s.clone();
        s2.taken_at = t(6);
        assert_eq!(tr.observe(&s2), 0, "nothing new: the entry is updated");
        assert_eq!(
            messages(&tr)[1],
            "12:00:05 SELF-CONNECT 127.0.0.1:44600 ↔ itself (ESTABLISHED), held by the kernel; \
             present at start, seen 12:00:05–12:00:06, still there"
        );
    }

    #[test]
    fn risky_listeners_appear_and_disappear_by_port() {
        let mut tr = Tracker::new();
        let host = || vec![ns(1, "host", "")];
        let l4 = || {
            sock(
                "0.0.0.0:44600",
                "0.0.0.0:0",
                TcpState::Listen,
                Some((7, "db")),
            )
        };
        let l6 = || {
            let mut s = sock("0.0.0.0:44600", "0.0.0.0:0", TcpState::Listen, None);
            s.entry.local = "[::]:44600".parse().unwrap();
            s.entry.family = Family::Ipv6;
            s
        };
        let safe = || {
            sock(
                "0.0.0.0:22",
                "0.0.0.0:0",
                TcpState::Listen,
                Some((1, "sshd")),
            )
        };
        tr.observe(&snap(0, host(), vec![safe()]));
        tr.observe(&snap(1, host(), vec![safe(), l4(), l6()]));
        // One of two listeners on the port goes: the port is still taken.
        tr.observe(&snap(2, host(), vec![safe(), l6()]));
        tr.observe(&snap(3, host(), vec![safe()]));
        let m = messages(&tr);
        assert_eq!(m.len(), 3, "{m:#?}");
        assert_eq!(
            m[1],
            "12:00:01 high-risk listener on 0.0.0.0:44600 appeared, held by pid 7 db"
        );
        assert_eq!(
            m[2],
            "12:00:03 nothing listens on 44600 any more (pid 7 db stopped listening): clients \
             retrying it can now connect to themselves"
        );
    }

    #[test]
    fn policy_changes_are_logged_and_a_reserved_port_is_no_longer_risky() {
        let mut tr = Tracker::new();
        let l = || sock("0.0.0.0:44601", "0.0.0.0:0", TcpState::Listen, None);
        tr.observe(&snap(0, vec![ns(1, "host", "")], vec![l()]));
        tr.observe(&snap(1, vec![ns(1, "host", "44601")], vec![l()]));
        let m = messages(&tr);
        assert_eq!(
            m[1],
            "12:00:00 medium-risk listener on 0.0.0.0:44601 (present at start), held by the kernel"
        );
        assert_eq!(m[2], "12:00:01 reserved ports now 44601 (was none)");
        assert_eq!(
            m[3],
            "12:00:01 44601 is no longer at risk: reserved now, or outside the ephemeral range"
        );
    }

    #[test]
    fn namespaces_are_named_when_there_are_several() {
        let mut tr = Tracker::new();
        let mut s = sock(SC, SC, TcpState::Established, None);
        s.netns = 1;
        tr.observe(&snap(
            0,
            vec![ns(1, "host", ""), ns(2, "web", "")],
            vec![s.clone()],
        ));
        assert!(messages(&tr)[1].contains("[web] SELF-CONNECT"));
        // The namespace goes away with its socket: no "gone" for each socket.
        tr.observe(&snap(1, vec![ns(1, "host", "")], vec![]));
        let m = messages(&tr);
        assert_eq!(
            m.last().unwrap(),
            "12:00:01 network namespace web is gone, and its sockets with it"
        );
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn failures_errors_and_recovery_are_logged_once() {
        let mut tr = Tracker::new();
        tr.observe_failure(t(0), "cannot read the TCP tables");
        tr.observe_failure(t(1), "cannot read the TCP tables");
        let mut s = snap(2, vec![ns(1, "host", "")], vec![]);
        s.errors = vec![ScanError::new("/proc/net/tcp6", "not found")];
        tr.observe(&s);
        s.taken_at = t(3);
        tr.observe(&s);
        let m = messages(&tr);
        assert_eq!(
            m,
            vec![
                "12:00:00 scan failed: cannot read the TCP tables",
                "12:00:02 scanning works again",
                "12:00:02 watching 0 sockets: 0 self-connected, 0 risky listeners",
                "12:00:02 scan error: /proc/net/tcp6: not found",
            ]
        );
    }

    #[test]
    fn the_log_is_bounded() {
        let mut tr = Tracker::new();
        for i in 0..(LOG_CAPACITY as u32 + 10) {
            tr.observe_failure(t(0), "x");
            tr.observe(&snap(0, vec![ns(1, "host", "")], vec![]));
            let _ = i;
        }
        assert_eq!(tr.len(), LOG_CAPACITY);
        // Ids stay increasing, so in-place updates still find their entry.
        let ids: Vec<u64> = tr.entries().iter().map(|e| e.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
