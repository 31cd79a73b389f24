//! The live kernel as a source of facts: every namespace's port policy and
//! sockets, with what is kept between refreshes.
//!
//! Policy: the own namespace's sysctls are read directly; the others' by
//! one helper thread that joins each in turn ([`super::nsjoin`]), cached
//! for [`POLICY_MAX_AGE`] so that most refreshes start no thread; the same
//! visit opens the namespace's `sock_diag` socket, kept between refreshes.
//!
//! Tables: the own namespace's from `/proc/thread-self/net/tcp{,6}`; every
//! other namespace's through its `sock_diag` socket, and only what its
//! `sockstat` says is there ([`super::diag`]), because listing connections
//! through `/proc` walks the kernel's connection hash, which all
//! namespaces share, once per file (about 4 ms each here, 50 namespaces
//! made a refresh 50x slower); through `/proc/PID/net/tcp{,6}` of one of
//! its processes when `sock_diag` is not available, or from inside it for
//! a namespace that no process is in.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::diag::{DiagSocket, Expect};
use super::namespaces::Candidate;
use super::nsjoin::{Inside, JoinJob, JoinResult, read_inside};
use super::procnet::{BOTH, NetFiles, read_tables_via_pids};
use super::tcp_table::Extent;
use crate::core::ports::PortPolicy;
use crate::core::snapshot::ScanError;
use crate::core::socket::{Family, SocketEntry};

/// How long another namespace's port policy is reused before it is read
/// again (sysctls can change at any time; reading costs a thread start and
/// a `setns` per namespace).
pub const POLICY_MAX_AGE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
struct CachedPolicy {
    policy: PortPolicy,
    errors: Vec<ScanError>,
    read_at: Instant,
}

/// The live kernel under `root` (normally `/proc`).
#[derive(Debug)]
pub struct LiveKernel {
    root: PathBuf,
    /// Where `ip netns` keeps its names.
    pub run_netns: PathBuf,
    /// May see and join other namespaces (root, or CAP_SYS_ADMIN and
    /// CAP_SYS_PTRACE).
    pub privileged: bool,
    policies: HashMap<u64, CachedPolicy>,
    /// Namespace id -> its `sock_diag` socket (each keeps its namespace
    /// alive until dropped, at the first refresh that no longer finds it).
    diag: HashMap<u64, DiagSocket>,
    /// Cleared when `sock_diag` cannot be opened: tables come from `/proc`.
    diag_usable: bool,
    /// This refresh: when it started, what the joins brought back, and the
    /// tables read from inside namespaces.
    now: Instant,
    joined: HashMap<u64, JoinResult>,
    inside_tables: HashMap<u64, Vec<SocketEntry>>,
}

impl LiveKernel {
    pub fn new(root: PathBuf, run_netns: PathBuf, privileged: bool, sock_diag: bool) -> Self {
        LiveKernel {
            root,
            run_netns,
            privileged,
            policies: HashMap::new(),
            diag: HashMap::new(),
            diag_usable: sock_diag,
            now: Instant::now(),
            joined: HashMap::new(),
            inside_tables: HashMap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether netlink `sock_diag` may be used (not turned off, and not
    /// found broken).
    pub fn diag_usable(&self) -> bool {
        self.diag_usable
    }

    /// Joins the namespaces this refresh needs to (see [`Self::plan_joins`]).
    pub fn prepare(&mut self, cands: &[Candidate]) {
        self.now = Instant::now();
        let jobs = self.plan_joins(cands);
        self.joined = jobs.iter().map(|j| j.id).zip(read_inside(&jobs)).collect();
        self.inside_tables.clear();
    }

    /// The joins this refresh needs: policies due for a re-read, `sock_diag`
    /// sockets not opened yet, and the tables of namespaces that no
    /// process is in and that have no socket.
    fn plan_joins(&self, cands: &[Candidate]) -> Vec<JoinJob> {
        let mut jobs = Vec::new();
        for c in cands.iter().filter(|c| !c.is_own && c.scanned) {
            let policy_due = !self.policy_fresh(c.id);
            let has_diag = self.diag.contains_key(&c.id);
            let diag_due = self.diag_usable && !has_diag;
            let tables_inside = c.pids.is_empty() && !has_diag;
            if !(policy_due || diag_due || tables_inside) {
                continue;
            }
            let mut handles: Vec<PathBuf> = c
                .pids
                .iter()
                .map(|p| self.root.join(p.to_string()).join("ns/net"))
                .collect();
            if let Some(name) = &c.ip_netns {
                handles.push(self.run_netns.join(name));
            }
            jobs.push(JoinJob {
                id: c.id,
                handles,
                policy: policy_due,
                diag: diag_due,
                tables_without_diag: tables_inside,
            });
        }
        jobs
    }

    fn policy_fresh(&self, id: u64) -> bool {
        self.policies
            .get(&id)
            .is_some_and(|p| self.now.duration_since(p.read_at) < POLICY_MAX_AGE)
    }

    /// Another namespace's policy: what its join brought back, else as
    /// last read; the kernel default, said so, when it never could be.
    pub fn policy(&mut self, c: &Candidate, errors: &mut Vec<ScanError>) -> PortPolicy {
        let join_error = match self.joined.remove(&c.id) {
            Some(Ok(inside)) => {
                self.absorb(c.id, inside, errors);
                None
            }
            Some(Err(why)) => Some(why),
            None => None,
        };
        let cached = self.policies.get(&c.id);
        if let Some(why) = join_error
            && !self.policy_fresh(c.id)
        {
            errors.push(ScanError::new(
                "setns",
                format!(
                    "cannot join it to read its port range: {why}; {}",
                    if cached.is_some() {
                        "keeping the last one read"
                    } else {
                        "assuming the kernel default"
                    }
                ),
            ));
        }
        match cached {
            Some(p) => {
                errors.extend(p.errors.iter().cloned());
                p.policy.clone()
            }
            None => PortPolicy::default(),
        }
    }

    /// Keeps what a join brought back (policy, `sock_diag` socket, tables).
    fn absorb(&mut self, id: u64, inside: Inside, errors: &mut Vec<ScanError>) {
        if let Some(Ok(d)) = inside.diag {
            self.diag.insert(id, d);
        }
        if let Some((policy, errors)) = inside.policy {
            self.policies.insert(
                id,
                CachedPolicy {
                    policy,
                    errors,
                    read_at: self.now,
                },
            );
        }
        errors.extend(inside.errors);
        if let Some(t) = inside.tables {
            self.inside_tables.insert(id, t);
        }
    }

    /// Another namespace's sockets, guided by its `sockstat`: through its
    /// `sock_diag` socket, else through `/proc` (one of its processes, or
    /// the tables read from inside).
    pub fn tables(
        &mut self,
        c: &Candidate,
        extent: Extent,
        errors: &mut Vec<ScanError>,
    ) -> Option<Vec<SocketEntry>> {
        let families = c
            .pids
            .first()
            .map_or(BOTH, |&p| NetFiles::of_pid(&self.root, p).expect());
        if let Some(diag) = self.diag.get_mut(&c.id) {
            let mut rows = Vec::new();
            let dumped = [(Family::Ipv4, families.0), (Family::Ipv6, families.1)]
                .into_iter()
                .try_for_each(|(family, expect): (Family, Expect)| {
                    match extent {
                        Extent::All => diag.sockets(family, expect),
                        Extent::Listeners => diag.listeners(family, expect),
                    }
                    .map(|r| rows.extend(r))
                });
            if dumped.is_ok() {
                return Some(rows);
            }
            // A socket that fails once is replaced at the next refresh.
            self.diag.remove(&c.id);
        }
        if let Some(t) = self.inside_tables.remove(&c.id) {
            return Some(t);
        }
        if c.pids.is_empty() {
            errors.push(ScanError::new(
                "tables",
                "no process is in it and it could not be joined: its sockets are not scanned",
            ));
            return None;
        }
        read_tables_via_pids(&self.root, &c.pids, families, extent, errors)
    }

    /// Drops what is kept for namespaces that are gone (closing their
    /// `sock_diag` sockets lets the kernel free them).
    pub fn forget_except(&mut self, seen: &HashSet<u64>) {
        self.policies.retain(|id, _| seen.contains(id));
        self.diag.retain(|id, _| seen.contains(id));
    }
}
