//! One scan of every network namespace on the host: tables, port policy,
//! findings and owners, as a [`Snapshot`].
//!
//! A refresh asks its [`Source`] (the live kernel, or a fixture tree) for
//! the facts and puts them together:
//! 1. the namespaces it can see, found, placed and named
//!    ([`super::namespaces`]), narrowed by `--netns` ([`super::select`]);
//! 2. each namespace's port policy and tables (on the live kernel, see
//!    [`super::live`] for what is joined, cached and read through netlink);
//! 3. each socket classified against its own namespace's policy;
//! 4. then, knowing the findings, their owners: those kept from earlier
//!    refreshes, checked ([`super::owner_cache`]), and one walk over
//!    `/proc/PID/fd` for the others (all namespaces at once: a socket inode
//!    is unique on the host), likely holders first
//!    ([`super::owner_order`]), stopped as soon as they are found.

use std::collections::HashSet;
use std::panic::resume_unwind;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::ScopedJoinHandle;
use std::time::Instant;

use chrono::Local;

use super::namespaces::{self, Candidate, Naming};
use super::netns::{RUN_NETNS, ns_link_inode};
use super::owner_cache::{Lookup, OwnerCache, OwnerStats};
use super::owner_order::Likely;
use super::owners::{OwnerMap, UserNames};
use super::procnet::read_policy;
use super::select::select;
use super::source::{OwnNamespace, Source, TablesRead};
use super::tcp_table::Extent;
use crate::core::ports::PortPolicy;
use crate::core::snapshot::{Namespace, Owner, ScanError, Snapshot, Socket, UnknownOwner};
use crate::core::socket::{TcpState, classify};

pub use super::live::POLICY_MAX_AGE;

/// Whose owners a scan looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerScope {
    /// Only the findings' (cheap: the fd walk stops when all are found).
    Findings,
    /// Every socket's.
    All,
}

/// What to scan. `proc_root`, `run_netns` and `sock_diag` are read when the
/// [`Scanner`] is made; `owners` and `netns` at every scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Normally `/proc`; tests point it at fixture trees.
    pub proc_root: PathBuf,
    pub owners: OwnerScope,
    /// Scan only one network namespace: its name, its `ip netns` name, its
    /// id (inode), `host`, `own`, a container id, or the pid of a process
    /// inside it. `None`: every namespace.
    pub netns: Option<String>,
    /// Where `ip netns` keeps its names; normally `/run/netns`.
    pub run_netns: PathBuf,
    /// List sockets through netlink `sock_diag` where it works (much
    /// cheaper with many namespaces, see [`super::diag`]); `false` reads
    /// `/proc/PID/net/tcp{,6}` only.
    pub sock_diag: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            proc_root: PathBuf::from("/proc"),
            owners: OwnerScope::Findings,
            netns: None,
            run_netns: PathBuf::from(RUN_NETNS),
            sock_diag: true,
        }
    }
}

/// Why a scan produced no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ScanFailure {
    /// Not one TCP table could be read.
    #[error("cannot read the TCP tables: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NoTables(Vec<ScanError>),
    /// `netns` matched no namespace, or several.
    #[error("{message}")]
    NoSuchNamespace {
        wanted: String,
        /// The namespaces that could have matched, as `name [id]`.
        known: Vec<String>,
        message: String,
    },
}

impl ScanFailure {
    /// What could not be read, for [`ScanFailure::NoTables`].
    pub fn errors(&self) -> &[ScanError] {
        match self {
            ScanFailure::NoTables(e) => e,
            ScanFailure::NoSuchNamespace { .. } => &[],
        }
    }
}

/// Scans repeatedly, keeping what can be reused between refreshes.
#[derive(Debug)]
pub struct Scanner {
    pub options: ScanOptions,
    source: Source,
    naming: Naming,
    users: UserNames,
    owners: OwnerCache,
    /// Pids to walk first at the next scan (see [`Scanner::hint_owners`]).
    hints: HashSet<i32>,
    my_uid: u32,
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Scanner {
        Scanner {
            source: Source::at(&options.proc_root, &options.run_netns, options.sock_diag),
            options,
            naming: Naming::default(),
            users: UserNames::default(),
            owners: OwnerCache::default(),
            hints: HashSet::new(),
            my_uid: nix::unistd::geteuid().as_raw(),
        }
    }

    pub fn scan(&mut self) -> Result<Snapshot, ScanFailure> {
        self.scan_to(Extent::All)
    }

    /// A scan of the listening sockets only (see [`Extent::Listeners`]):
    /// the risky listeners, fresh, at a small part of a full scan's cost on
    /// a busy host. The snapshot holds no other socket; the dashboard
    /// keeps the connections of its last full scan beside it, while live
    /// catch watches for new self-connects.
    pub fn scan_listeners(&mut self) -> Result<Snapshot, ScanFailure> {
        self.scan_to(Extent::Listeners)
    }

    fn scan_to(&mut self, extent: Extent) -> Result<Snapshot, ScanFailure> {
        let started = Instant::now();
        let mut snapshot = self.scan_without_owners(extent)?;
        // The tables first, then the fd walk (the other big cost on a busy
        // host): knowing the findings, a findings-only scan stops the walk
        // as soon as their holders are found. Walking beside the table
        // reads instead measured no faster on two cores: both compete for
        // the kernel. Owners known from earlier refreshes are checked, not
        // looked for again.
        let owners = self.find_owners(&snapshot, extent);
        self.attach_owners(&mut snapshot.sockets, &owners);
        snapshot.scan_micros = started.elapsed().as_micros() as u64;
        Ok(snapshot)
    }

    /// Pids of processes to look at first for the next scan's owners (a
    /// live kernel event names the process that made a self-connect): the
    /// walk then usually stops after them.
    pub fn hint_owners(&mut self, pids: impl IntoIterator<Item = i32>) {
        self.hints.extend(pids);
    }

    /// What the last scan's owner lookup cost: descriptors walked, owners
    /// reused.
    pub fn owner_stats(&self) -> OwnerStats {
        self.owners.stats()
    }

    fn find_owners(&mut self, snapshot: &Snapshot, extent: Extent) -> OwnerMap {
        // Only a full scan sees every socket that is gone.
        if extent == Extent::All {
            self.owners
                .forget_gone(snapshot.sockets.iter().map(|s| s.entry.inode));
        }
        let findings: HashSet<u64> = finding_inodes(snapshot);
        let wanted: Vec<u64> = match self.options.owners {
            OwnerScope::All => snapshot
                .sockets
                .iter()
                .map(|s| s.entry.inode)
                .filter(|&i| i != 0)
                .collect(),
            OwnerScope::Findings => findings.iter().copied().collect(),
        };
        let likely = Likely {
            first: std::mem::take(&mut self.hints),
            netns: snapshot
                .findings()
                .map(|s| snapshot.namespace_of(s).id)
                .collect(),
            uids: snapshot.findings().map(|s| s.entry.uid).collect(),
        };
        let ask = Lookup {
            wanted: &wanted,
            exact: &findings,
            likely: &likely,
        };
        self.owners
            .lookup(self.source.root(), &ask, &mut self.users)
    }

    /// Everything but the owners: namespaces, policies, tables, findings.
    fn scan_without_owners(&mut self, extent: Extent) -> Result<Snapshot, ScanFailure> {
        let own = self.source.own();
        // Without `--netns` the own namespace is always scanned: its
        // tables, the biggest read on a host, start at once on a thread of
        // their own while the namespaces are found and the others read.
        let early = self
            .options
            .netns
            .is_none()
            .then(|| self.source.own_tables(&own, extent));
        std::thread::scope(|scope| {
            let early = early.and_then(|job| {
                std::thread::Builder::new()
                    .name("own-tables".into())
                    .spawn_scoped(scope, move || job.read())
                    .ok()
            });
            self.scan_namespaces(own, extent, early)
        })
    }

    /// [`Self::scan_without_owners`], with the own tables perhaps being
    /// read already.
    fn scan_namespaces(
        &mut self,
        own: OwnNamespace,
        extent: Extent,
        mut early: Option<ScopedJoinHandle<'_, TablesRead>>,
    ) -> Result<Snapshot, ScanFailure> {
        let taken_at = Local::now();
        let mut errors = Vec::new();
        let mut cands = namespaces::find(&self.source, &own, &mut self.naming, &mut errors);
        if let Some(wanted) = &self.options.netns {
            self.narrow(&mut cands, wanted)?;
        }
        let own_policy = read_policy(&own.files, &mut errors);
        self.source.prepare(&cands);

        let mut namespaces = Vec::with_capacity(cands.len());
        let mut sockets = Vec::new();
        let mut read_any = false;
        for c in &cands {
            let mut ns_errors = Vec::new();
            let policy = self.source.policy(c, &own_policy, &mut ns_errors);
            let rows = match early.take_if(|_| c.is_own && c.scanned) {
                Some(reading) => {
                    let (rows, errs) = reading.join().unwrap_or_else(|p| resume_unwind(p));
                    ns_errors.extend(errs);
                    rows
                }
                None if c.scanned => self.source.tables(c, &own, extent, &mut ns_errors),
                None => None,
            };
            // Whatever a source had to read whole (a namespace joined to be
            // read), such a scan holds listeners and nothing else.
            let rows = match extent {
                Extent::All => rows,
                Extent::Listeners => rows.map(|mut r| {
                    r.retain(|e| e.state == TcpState::Listen);
                    r
                }),
            };
            if let Some(rows) = rows {
                read_any = true;
                let netns = namespaces.len();
                // Exact for the first (the own namespace, on a host the
                // biggest): its rows are still held while the sockets are
                // made of them, and doubling could overshoot by half a
                // snapshot. Then by doubling, not once per namespace.
                if sockets.is_empty() {
                    sockets.reserve_exact(rows.len());
                } else {
                    sockets.reserve(rows.len());
                }
                sockets.extend(rows.into_iter().map(|entry| Socket {
                    finding: classify(&entry, &policy),
                    owner: Owner::Unknown(UnknownOwner::NotResolved),
                    user: Arc::from(""),
                    netns,
                    entry,
                }));
            }
            for mut e in ns_errors {
                if !c.is_own {
                    e.source = format!("netns {}: {}", c.name, e.source);
                }
                errors.push(e);
            }
            namespaces.push(namespace(c, policy));
        }
        if !read_any {
            return Err(ScanFailure::NoTables(errors));
        }
        let seen: HashSet<u64> = cands.iter().map(|c| c.id).collect();
        self.naming.forget_except(&seen);
        self.source.forget_except(&seen);
        Ok(Snapshot {
            taken_at,
            scan_micros: 0,
            namespaces,
            sockets,
            errors,
            visibility_note: self.visibility_note(),
        })
    }

    /// Keeps the namespace `--netns` names (see [`select`]).
    fn narrow(&self, cands: &mut Vec<Candidate>, wanted: &str) -> Result<(), ScanFailure> {
        let root = self.source.root();
        let hidden = if self.source.sees_other_namespaces() {
            ""
        } else {
            " (not root: only this tool's own namespace is visible)"
        };
        select(
            cands,
            wanted,
            |pid| ns_link_inode(&root.join(pid.to_string()).join("ns/net")).ok(),
            hidden,
        )
    }

    fn visibility_note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.source.sees_other_namespaces() {
            parts.push(
                "only this tool's own network namespace is scanned: seeing which namespace \
                 another process is in needs ptrace rights over it, and reading a namespace's \
                 port range means joining it with setns, which needs CAP_SYS_ADMIN",
            );
        }
        if self.my_uid != 0 {
            parts.push("other users' processes are hidden, so their sockets' owners are unknown");
        }
        if parts.is_empty() {
            return None;
        }
        let who = if self.my_uid != 0 {
            "not root"
        } else {
            "without CAP_SYS_ADMIN and CAP_SYS_PTRACE"
        };
        Some(format!(
            "{who}: {} (run as root to see everything)",
            parts.join("; ")
        ))
    }

    fn attach_owners(&mut self, sockets: &mut [Socket], owners: &OwnerMap) {
        let resolve_all = self.options.owners == OwnerScope::All;
        for s in sockets.iter_mut() {
            s.user = self.users.name(s.entry.uid);
            let looked_up = resolve_all || s.finding.is_some();
            s.owner = match owners.get(s.entry.inode) {
                Some(p) => Owner::Process(p.clone()),
                None if !looked_up && s.entry.inode != 0 => {
                    Owner::Unknown(UnknownOwner::NotResolved)
                }
                None => Owner::Unknown(owners.why_unknown(s.entry.inode, s.entry.uid, self.my_uid)),
            };
        }
    }
}

/// A scanned candidate as the snapshot shows it.
fn namespace(c: &Candidate, policy: PortPolicy) -> Namespace {
    Namespace {
        id: c.id,
        name: c.name.clone(),
        is_own: c.is_own,
        policy,
        is_host: c.is_host,
        pid: c.pids.first().copied(),
        ip_netns: c.ip_netns.clone(),
        filtered_out: !c.scanned,
    }
}

/// The inodes of the findings that a process may hold.
fn finding_inodes(snapshot: &Snapshot) -> HashSet<u64> {
    snapshot
        .findings()
        .map(|s| s.entry.inode)
        .filter(|&i| i != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scanner_can_move_to_a_collector_thread() {
        fn send<T: Send>() {}
        send::<Scanner>();
        send::<Snapshot>();
    }

    #[test]
    fn fixture_tree_with_several_namespaces() {
        // /proc-like tree: the tool (pid 100) and init (pid 1) in namespace
        // 10, a docker container (pid 200) in 20, a plain process (pid 300)
        // in 30. Every namespace gets the own sysctl files.
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let row = |sl: u32, local: &str, remote: &str, st: &str, inode: u64| {
            format!(
                "   {sl}: {local} {remote} {st} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
            )
        };
        let write = |rel: &str, text: &str| {
            let p = r.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let ns = |pid: u32, id: u64| {
            let d = r.join(pid.to_string()).join("ns");
            std::fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::symlink(format!("net:[{id}]"), d.join("net")).unwrap();
        };
        write("sys/net/ipv4/ip_local_port_range", "40001\t50000\n");
        write("sys/net/ipv4/ip_local_reserved_ports", "45001\n");
        // Own namespace, through <root>/net: a high-risk listener on 44601 (0xAE39).
        write(
            "net/tcp",
            &format!(
                "{header}{}",
                row(0, "00000000:AE39", "00000000:0000", "0A", 501)
            ),
        );
        write("net/tcp6", header);
        std::os::unix::fs::symlink("100", r.join("self")).unwrap();
        ns(100, 10);
        ns(1, 10);
        // The container: a self-connection on 127.0.0.1:44999 (0xAFC7).
        ns(200, 20);
        write(
            "200/cgroup",
            "0::/system.slice/docker-3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708.scope\n",
        );
        write(
            "200/net/tcp",
            &format!(
                "{header}{}",
                row(0, "0100007F:AFC7", "0100007F:AFC7", "01", 502)
            ),
        );
        write("200/net/tcp6", header);
        // A plain process's namespace: a medium listener on 44600 (0xAE38).
        ns(300, 30);
        write("300/cgroup", "0::/user.slice\n");
        write("300/comm", "nginx\n");
        write("300/cmdline", "nginx: master process\0");
        write(
            "300/net/tcp",
            &format!(
                "{header}{}",
                row(0, "00000000:AE38", "00000000:0000", "0A", 503)
            ),
        );
        write("300/net/tcp6", header);

        let mut scanner = Scanner::new(ScanOptions {
            proc_root: r.to_path_buf(),
            ..ScanOptions::default()
        });
        let snap = scanner.scan().unwrap();
        assert!(snap.errors.is_empty(), "{:?}", snap.errors);
        let names: Vec<(&str, u64, bool, bool)> = snap
            .namespaces
            .iter()
            .map(|n| (n.name.as_str(), n.id, n.is_own, n.is_host))
            .collect();
        assert_eq!(
            names,
            vec![
                ("host", 10, true, true),
                ("docker:3f2a1b4c5d6e", 20, false, false),
                ("pid 300 (nginx)", 30, false, false),
            ]
        );
        assert_eq!(snap.namespaces[1].pid, Some(200));
        assert_eq!(
            snap.namespaces[1].enter_prefix().as_deref(),
            Some("nsenter -t 200 -n")
        );
        let by_inode = |inode: u64| {
            snap.sockets
                .iter()
                .find(|s| s.entry.inode == inode)
                .unwrap()
        };
        assert_eq!(snap.namespace_of(by_inode(501)).name, "host");
        assert_eq!(snap.namespace_of(by_inode(502)).name, "docker:3f2a1b4c5d6e");
        assert_eq!(snap.namespace_of(by_inode(503)).id, 30);
        let c = snap.counts();
        assert_eq!(
            (c.self_connects, c.high_listeners, c.medium_listeners),
            (1, 1, 1)
        );

        // Restricting to one namespace keeps the own one first, unscanned.
        scanner.options.netns = Some("nginx".into());
        let err = scanner.scan().unwrap_err().to_string();
        assert!(
            err.contains("no network namespace matches \"nginx\"")
                && err.contains("host [10]")
                && err.contains("docker:3f2a1b4c5d6e [20]")
                && err.contains("pid 300 (nginx) [30]"),
            "{err}"
        );
        scanner.options.netns = Some("300".into());
        let snap = scanner.scan().unwrap();
        assert_eq!(snap.namespaces.len(), 2);
        assert!(snap.namespaces[0].filtered_out && snap.namespaces[0].is_own);
        assert!(!snap.namespaces[1].filtered_out && snap.namespaces[1].id == 30);
        assert_eq!(snap.sockets.len(), 1);
        assert_eq!(snap.sockets[0].netns, 1);
        assert_eq!(snap.sockets[0].entry.inode, 503);
    }
}
