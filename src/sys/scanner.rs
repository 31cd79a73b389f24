//! One scan of every network namespace on the host: tables, port policy,
//! findings and owners, as a [`Snapshot`].
//!
//! A refresh goes:
//! 1. discovery: one `readlink` of `/proc/PID/ns/net` per process groups the
//!    processes by namespace ([`netns::discover`]); `/run/netns` adds the
//!    `ip netns` names, and namespaces that have a name but no process;
//! 2. naming: `host`, the `ip netns` name, a container hint from the first
//!    process's cgroup, else `pid N (program)`; cached between refreshes;
//! 3. policy: the own namespace's sysctls are read directly; the others'
//!    by one helper thread that joins each in turn ([`super::nsjoin`]), cached for
//!    [`POLICY_MAX_AGE`] so that most refreshes start no thread; the same
//!    visit opens the namespace's `sock_diag` socket, kept between refreshes;
//! 4. tables: the own namespace's from `/proc/net/tcp{,6}` through procfs;
//!    every other namespace's once, through its `sock_diag` socket, and only
//!    what its `sockstat` says is there ([`super::diag`]), because listing
//!    connections through `/proc` walks the kernel's connection hash, which
//!    all namespaces share, once per file (about 4 ms each here, 50
//!    namespaces made a refresh 50x slower); through
//!    `/proc/PID/net/tcp{,6}` of one of its processes when `sock_diag` is
//!    not available;
//! 5. meanwhile, on another thread, one owners walk over `/proc/PID/fd`
//!    for all namespaces (a socket inode is unique on the host);
//! 6. classification against each socket's own namespace's policy.
//!
//! With a fixture tree as `proc_root` nothing is joined and no netlink is
//! used: tables come from `<root>/net/` and `<root>/<pid>/net/`, and every
//! namespace gets the own sysctl files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Local;

use super::diag::{DiagSocket, Expect, expect};
use super::netns::{
    self, Discovery, RUN_NETNS, container_hint, discover, named_namespaces, ns_link_inode,
    process_label, tcp_file_inode,
};
use super::nsjoin::{Inside, JoinJob, JoinResult, read_inside};
use super::owners::{OwnerMap, UserNames, Wanted, find_owners, program_name};
use super::procnet::{NetFiles, read_policy, read_tcp_table};
use crate::core::ports::PortPolicy;
use crate::core::snapshot::{Namespace, Owner, ScanError, Snapshot, Socket, UnknownOwner};
use crate::core::socket::{Family, SocketEntry, classify};

/// How long another namespace's port policy is reused before it is read
/// again (sysctls can change at any time; reading costs a thread start and
/// a `setns` per namespace).
pub const POLICY_MAX_AGE: Duration = Duration::from_secs(2);

/// Whose owners a scan looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerScope {
    /// Only the findings' (cheap: the fd walk stops when all are found).
    Findings,
    /// Every socket's.
    All,
}

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

#[derive(Debug, Clone)]
struct CachedPolicy {
    policy: PortPolicy,
    errors: Vec<ScanError>,
    read_at: Instant,
}

/// A namespace about to be scanned.
#[derive(Debug, Clone)]
struct Candidate {
    id: u64,
    /// Some of its processes, lowest first; empty for a namespace that only
    /// an `ip netns` bind mount keeps alive.
    pids: Vec<i32>,
    ip_netns: Option<String>,
    is_own: bool,
    is_host: bool,
    name: String,
    scanned: bool,
}

/// Scans repeatedly, keeping what can be reused between refreshes.
#[derive(Debug)]
pub struct Scanner {
    pub options: ScanOptions,
    users: UserNames,
    my_uid: u32,
    /// May see and join other namespaces (root, or CAP_SYS_ADMIN and
    /// CAP_SYS_PTRACE).
    privileged: bool,
    policies: HashMap<u64, CachedPolicy>,
    /// Namespace id -> (the pid it was named after, the name).
    labels: HashMap<u64, (i32, String)>,
    /// Namespace id -> its `sock_diag` socket (each keeps its namespace
    /// alive until dropped, at the first refresh that no longer finds it).
    diag: HashMap<u64, DiagSocket>,
    /// Cleared when `sock_diag` cannot be opened: tables come from `/proc`.
    diag_usable: bool,
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Scanner {
        Scanner {
            diag_usable: options.sock_diag,
            options,
            users: UserNames::default(),
            my_uid: nix::unistd::geteuid().as_raw(),
            privileged: has_namespace_caps(),
            policies: HashMap::new(),
            labels: HashMap::new(),
            diag: HashMap::new(),
        }
    }

    pub fn scan(&mut self) -> Result<Snapshot, ScanFailure> {
        let started = Instant::now();
        let root = self.options.proc_root.clone();
        let mut snapshot = self.scan_without_owners()?;
        // The tables first, then the fd walk (the other big cost on a busy
        // host): knowing the findings, a findings-only scan stops the walk
        // as soon as their holders are found. Walking beside the table
        // reads instead measured no faster on two cores: both compete for
        // the kernel.
        let wanted = match self.options.owners {
            OwnerScope::All => Wanted::All,
            OwnerScope::Findings => Wanted::Inodes(finding_inodes(&snapshot)),
        };
        let owners = find_owners(&root, &wanted, &mut self.users);
        self.attach_owners(&mut snapshot.sockets, &owners);
        snapshot.scan_micros = started.elapsed().as_micros() as u64;
        Ok(snapshot)
    }

    /// Everything but the owners: namespaces, policies, tables, findings.
    fn scan_without_owners(&mut self) -> Result<Snapshot, ScanFailure> {
        let taken_at = Local::now();
        let root = self.options.proc_root.clone();
        let live = is_live_proc(&root);
        // Other namespaces: always in a fixture tree; live only with the rights.
        let wide = !live || self.privileged;
        let mut errors = Vec::new();

        // The calling thread's namespace (the process's, unless this thread
        // joined another one).
        let (own_link, own_files) = if live {
            (
                root.join("thread-self/ns/net"),
                NetFiles {
                    net_dir: root.join("thread-self/net"),
                    sysctl_dir: root.join("sys/net/ipv4"),
                },
            )
        } else {
            (root.join("self/ns/net"), NetFiles::own(&root))
        };
        let own_id = ns_link_inode(&own_link).unwrap_or(0);

        let discovery = if wide {
            discover(&root)
        } else {
            Discovery::default()
        };
        let named = if live && wide {
            named_namespaces(&self.options.run_netns, netns::nsfs_dev(&own_link))
        } else {
            Vec::new()
        };
        let (host_id, unplaced) = place_hidden(&root, &discovery, own_id, &own_files);
        if !unplaced.is_empty() {
            let shown: Vec<String> = unplaced.iter().take(5).map(i32::to_string).collect();
            errors.push(ScanError::new(
                root.join("PID/ns/net").display().to_string(),
                format!(
                    "permission denied for {} process(es) (pid {}{}) in network namespaces that \
                     cannot be identified; their sockets are not scanned",
                    unplaced.len(),
                    shown.join(", "),
                    if unplaced.len() > 5 { ", …" } else { "" }
                ),
            ));
        }

        let mut cands = self.candidates(&root, live, own_id, host_id, &discovery, &named);
        if let Some(wanted) = self.options.netns.clone() {
            self.select(&root, &mut cands, &wanted)?;
        }

        // Policies and sock_diag sockets: the own namespace's policy
        // directly (its tables come from /proc, see `live_tables`), the
        // others' from the cache, or by joining them.
        let own_policy = read_policy(&own_files, &mut errors);
        let now = Instant::now();
        let planned = if live {
            self.plan_joins(&root, &cands, now)
        } else {
            Vec::new()
        };
        let jobs: Vec<JoinJob> = planned.iter().map(|(_, j)| j.clone()).collect();
        let mut joined: HashMap<usize, JoinResult> = planned
            .iter()
            .map(|(i, _)| *i)
            .zip(read_inside(&jobs))
            .collect();

        let mut namespaces = Vec::with_capacity(cands.len());
        let mut entries: Vec<(usize, SocketEntry)> = Vec::new();
        let mut read_any = false;
        for (i, c) in cands.iter().enumerate() {
            let mut ns_errors = Vec::new();
            let mut inside_tables = None;
            // A fixture tree has one set of sysctl files, for all.
            let policy = if i == 0 || !live {
                own_policy.clone()
            } else {
                let join_error = match joined.remove(&i) {
                    Some(Ok(inside)) => {
                        inside_tables = self.absorb(c.id, inside, now, &mut ns_errors);
                        None
                    }
                    Some(Err(why)) => Some(why),
                    None => None,
                };
                self.cached_policy(c.id, join_error.as_deref(), now, &mut ns_errors)
            };

            if c.scanned {
                let rows = if !live {
                    if i == 0 {
                        read_tables(&own_files, BOTH, &mut ns_errors)
                    } else {
                        read_tables_via_pids(&root, &c.pids, BOTH, &mut ns_errors)
                    }
                } else {
                    let net_dir = if i == 0 {
                        Some(own_files.net_dir.clone())
                    } else {
                        c.pids.first().map(|&p| pid_net_files(&root, p).net_dir)
                    };
                    self.live_tables(c, &root, net_dir, inside_tables, &mut ns_errors)
                };
                if let Some(rows) = rows {
                    read_any = true;
                    entries.extend(rows.into_iter().map(|e| (i, e)));
                }
            }
            for mut e in ns_errors {
                if i > 0 {
                    e.source = format!("netns {}: {}", c.name, e.source);
                }
                errors.push(e);
            }
            namespaces.push(Namespace {
                id: c.id,
                name: c.name.clone(),
                is_own: c.is_own,
                policy,
                is_host: c.is_host,
                pid: c.pids.first().copied(),
                ip_netns: c.ip_netns.clone(),
                filtered_out: !c.scanned,
            });
        }
        if !read_any {
            return Err(ScanFailure::NoTables(errors));
        }
        let seen: HashSet<u64> = cands.iter().map(|c| c.id).collect();
        self.policies.retain(|id, _| seen.contains(id));
        self.labels.retain(|id, _| seen.contains(id));
        // Closing them lets namespaces that are gone be freed.
        self.diag.retain(|id, _| seen.contains(id));

        let sockets: Vec<Socket> = entries
            .into_iter()
            .map(|(netns, entry)| Socket {
                finding: classify(&entry, &namespaces[netns].policy),
                owner: Owner::Unknown(UnknownOwner::NotResolved),
                user: Arc::from(""),
                netns,
                entry,
            })
            .collect();

        Ok(Snapshot {
            taken_at,
            scan_micros: 0,
            namespaces,
            sockets,
            errors,
            visibility_note: self.visibility_note(live),
        })
    }

    /// The joins this refresh needs, with the index of their namespace:
    /// policies due for a re-read, `sock_diag` sockets not opened yet, and
    /// the tables of namespaces that no process is in and that have no
    /// socket.
    fn plan_joins(&self, root: &Path, cands: &[Candidate], now: Instant) -> Vec<(usize, JoinJob)> {
        let mut jobs = Vec::new();
        for (i, c) in cands.iter().enumerate().skip(1).filter(|(_, c)| c.scanned) {
            let policy_due = !self.policy_fresh(c.id, now);
            let has_diag = self.diag.contains_key(&c.id);
            let diag_due = self.diag_usable && !has_diag;
            let tables_inside = c.pids.is_empty() && !has_diag;
            if !(policy_due || diag_due || tables_inside) {
                continue;
            }
            let mut handles: Vec<PathBuf> = c
                .pids
                .iter()
                .map(|p| root.join(p.to_string()).join("ns/net"))
                .collect();
            if let Some(name) = &c.ip_netns {
                handles.push(self.options.run_netns.join(name));
            }
            jobs.push((
                i,
                JoinJob {
                    id: c.id,
                    handles,
                    policy: policy_due,
                    diag: diag_due,
                    tables_without_diag: tables_inside,
                },
            ));
        }
        jobs
    }

    fn policy_fresh(&self, id: u64, now: Instant) -> bool {
        self.policies
            .get(&id)
            .is_some_and(|p| now.duration_since(p.read_at) < POLICY_MAX_AGE)
    }

    /// Keeps what a join brought back (policy, `sock_diag` socket); returns
    /// the tables it read, if it did.
    fn absorb(
        &mut self,
        id: u64,
        inside: Inside,
        now: Instant,
        errors: &mut Vec<ScanError>,
    ) -> Option<Vec<SocketEntry>> {
        if let Some(Ok(d)) = inside.diag {
            self.diag.insert(id, d);
        }
        if let Some((policy, errors)) = inside.policy {
            self.policies.insert(
                id,
                CachedPolicy {
                    policy,
                    errors,
                    read_at: now,
                },
            );
        }
        errors.extend(inside.errors);
        inside.tables
    }

    /// Another namespace's policy, as last read; the kernel default, said
    /// so, when it never could be.
    fn cached_policy(
        &self,
        id: u64,
        join_error: Option<&str>,
        now: Instant,
        errors: &mut Vec<ScanError>,
    ) -> PortPolicy {
        let cached = self.policies.get(&id);
        if let Some(why) = join_error
            && !self.policy_fresh(id, now)
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

    /// A namespace's sockets on the live system, guided by its `sockstat`
    /// (see [`super::diag`]): through its `sock_diag` socket, else through
    /// `/proc` (`net_dir`, or the tables read from inside).
    fn live_tables(
        &mut self,
        c: &Candidate,
        root: &Path,
        net_dir: Option<PathBuf>,
        inside_tables: Option<Vec<SocketEntry>>,
        errors: &mut Vec<ScanError>,
    ) -> Option<Vec<SocketEntry>> {
        if c.is_own {
            // The own namespace is read as the kernel lists it, from
            // /proc/net/tcp{,6}: the one a user compares with `cat`, and on a
            // host the biggest, where netlink would save no walk. A family
            // that sockstat says is empty (no socket, no TIME_WAIT) is not
            // read: each read walks the whole connection hash, even empty,
            // and that was most of the dashboard's CPU on a quiet host.
            let net_dir = net_dir?;
            let families = expect_in(&net_dir);
            return read_tables(
                &NetFiles {
                    net_dir,
                    sysctl_dir: PathBuf::new(),
                },
                families,
                errors,
            );
        }
        let families = net_dir.as_deref().map_or(BOTH, expect_in);
        if let Some(diag) = self.diag.get_mut(&c.id) {
            let mut rows = Vec::new();
            let dumped = [(Family::Ipv4, families.0), (Family::Ipv6, families.1)]
                .into_iter()
                .try_for_each(|(family, expect)| {
                    diag.sockets(family, expect).map(|r| rows.extend(r))
                });
            if dumped.is_ok() {
                return Some(rows);
            }
            // A socket that fails once is replaced at the next refresh.
            self.diag.remove(&c.id);
        }
        if inside_tables.is_some() {
            return inside_tables;
        }
        if c.pids.is_empty() {
            errors.push(ScanError::new(
                "tables",
                "no process is in it and it could not be joined: its sockets are not scanned",
            ));
            return None;
        }
        read_tables_via_pids(root, &c.pids, families, errors)
    }

    /// The namespaces to scan, the own one first, then the host's, then the
    /// others by name.
    fn candidates(
        &mut self,
        root: &Path,
        live: bool,
        own_id: u64,
        host_id: Option<u64>,
        discovery: &Discovery,
        named: &[(u64, String)],
    ) -> Vec<Candidate> {
        let ip_name = |id: u64| named.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
        let mut cands = vec![Candidate {
            id: own_id,
            pids: match discovery.get(own_id) {
                Some(f) => f.pids.clone(),
                // Not walked (no rights): this process, if it is in it.
                None if live => {
                    let me = std::process::id() as i32;
                    let mine = ns_link_inode(&root.join(me.to_string()).join("ns/net"));
                    if mine.is_ok_and(|id| id == own_id) {
                        vec![me]
                    } else {
                        Vec::new()
                    }
                }
                None => Vec::new(),
            },
            ip_netns: ip_name(own_id),
            is_own: true,
            is_host: Some(own_id) == host_id,
            name: String::new(),
            scanned: true,
        }];
        for f in discovery.namespaces.iter().filter(|f| f.id != own_id) {
            cands.push(Candidate {
                id: f.id,
                pids: f.pids.clone(),
                ip_netns: ip_name(f.id),
                is_own: false,
                is_host: Some(f.id) == host_id,
                name: String::new(),
                scanned: true,
            });
        }
        // Named namespaces with no process in them: only a live scan can
        // read them (by joining).
        if live {
            for (id, name) in named {
                if !cands.iter().any(|c| c.id == *id) {
                    cands.push(Candidate {
                        id: *id,
                        pids: Vec::new(),
                        ip_netns: Some(name.clone()),
                        is_own: false,
                        is_host: Some(*id) == host_id,
                        name: String::new(),
                        scanned: true,
                    });
                }
            }
        }
        for c in &mut cands {
            c.name = self.name(root, c);
        }
        cands[1..].sort_by(|a, b| (!a.is_host, &a.name, a.id).cmp(&(!b.is_host, &b.name, b.id)));
        cands
    }

    /// The name people recognise; the cgroup and program lookups are
    /// cached per namespace and first process.
    fn name(&mut self, root: &Path, c: &Candidate) -> String {
        if c.is_host {
            return "host".to_string();
        }
        if let Some(n) = &c.ip_netns {
            return n.clone();
        }
        let Some(&pid) = c.pids.first() else {
            return if c.is_own {
                "own".to_string()
            } else {
                format!("net:[{}]", c.id)
            };
        };
        if let Some((p, label)) = self.labels.get(&c.id)
            && *p == pid
        {
            return label.clone();
        }
        let pid_dir = root.join(pid.to_string());
        let label = std::fs::read_to_string(pid_dir.join("cgroup"))
            .ok()
            .and_then(|t| container_hint(&t))
            .unwrap_or_else(|| process_label(pid, &program_of(&pid_dir)));
        self.labels.insert(c.id, (pid, label.clone()));
        label
    }

    /// Keeps only the namespace `wanted` names (the own one stays at index
    /// 0, marked not scanned, unless it is the one).
    fn select(
        &self,
        root: &Path,
        cands: &mut Vec<Candidate>,
        wanted: &str,
    ) -> Result<(), ScanFailure> {
        let hits = matching(cands, wanted, |pid| {
            ns_link_inode(&root.join(pid.to_string()).join("ns/net")).ok()
        });
        if hits.len() == 1 {
            let hit = hits[0];
            for (i, c) in cands.iter_mut().enumerate() {
                c.scanned = i == hit;
            }
            let mut i = 0;
            cands.retain(|_| {
                i += 1;
                i == 1 || i - 1 == hit
            });
            return Ok(());
        }
        let listed = |idx: &mut dyn Iterator<Item = &Candidate>| -> Vec<String> {
            idx.map(|c| format!("{} [{}]", c.name, c.id)).collect()
        };
        let (known, message) = if hits.is_empty() {
            let known = listed(&mut cands.iter());
            let hidden = if self.privileged || !is_live_proc(root) {
                ""
            } else {
                " (not root: only this tool's own namespace is visible)"
            };
            let message = format!(
                "no network namespace matches {wanted:?}; known: {}{hidden}",
                known.join(", ")
            );
            (known, message)
        } else {
            let known = listed(&mut hits.iter().map(|&i| &cands[i]));
            let message = format!(
                "{wanted:?} matches several network namespaces: {}; give an id",
                known.join(", ")
            );
            (known, message)
        };
        Err(ScanFailure::NoSuchNamespace {
            wanted: wanted.to_string(),
            known,
            message,
        })
    }

    fn visibility_note(&self, live: bool) -> Option<String> {
        let mut parts = Vec::new();
        if live && !self.privileged {
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

/// The inodes of the findings that a process may hold.
fn finding_inodes(snapshot: &Snapshot) -> HashSet<u64> {
    snapshot
        .findings()
        .map(|s| s.entry.inode)
        .filter(|&i| i != 0)
        .collect()
}

/// The candidates `wanted` names. Tried in order, the first rule with any
/// match wins: the name or `ip netns` name; `host` / `own`; the id (also
/// as `net:[ID]`); a container id (or its start); the pid of a process
/// inside (`ns_of_pid` reads its namespace).
fn matching(
    cands: &[Candidate],
    wanted: &str,
    ns_of_pid: impl Fn(i32) -> Option<u64>,
) -> Vec<usize> {
    let find = |pred: &dyn Fn(&Candidate) -> bool| -> Vec<usize> {
        cands
            .iter()
            .enumerate()
            .filter(|(_, c)| pred(c))
            .map(|(i, _)| i)
            .collect()
    };
    let wanted = wanted.trim();
    let id = netns::parse_ns_link(wanted).or_else(|| wanted.parse::<u64>().ok());
    let container = |c: &Candidate| {
        let Some((_, short)) = c.name.split_once(':') else {
            return false;
        };
        wanted.len() >= 4
            && wanted.bytes().all(|b| b.is_ascii_hexdigit())
            && (short.starts_with(wanted) || wanted.starts_with(short))
    };
    let rules: [&dyn Fn(&Candidate) -> bool; 4] = [
        &|c| c.name == wanted || c.ip_netns.as_deref() == Some(wanted),
        &|c| (wanted == "host" && c.is_host) || (wanted == "own" && c.is_own),
        &|c| id == Some(c.id),
        &container,
    ];
    for rule in rules {
        let hits = find(rule);
        if !hits.is_empty() {
            return hits;
        }
    }
    if let Some(ns) = wanted.parse::<i32>().ok().and_then(ns_of_pid) {
        return find(&|c| c.id == ns);
    }
    Vec::new()
}

/// Both families, (IPv4, IPv6), read whole.
const BOTH: (Expect, Expect) = (Expect::Unknown, Expect::Unknown);

fn pid_net_files(root: &Path, pid: i32) -> NetFiles {
    NetFiles {
        net_dir: root.join(pid.to_string()).join("net"),
        sysctl_dir: PathBuf::new(),
    }
}

/// What the namespace's tables hold, from its `sockstat` files (both
/// unknown when they cannot be read).
fn expect_in(net_dir: &Path) -> (Expect, Expect) {
    let Ok(v4) = std::fs::read_to_string(net_dir.join("sockstat")) else {
        return BOTH;
    };
    match std::fs::read_to_string(net_dir.join("sockstat6")) {
        Ok(v6) => expect(&v4, Some(&v6)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => expect(&v4, None),
        Err(_) => BOTH,
    }
}

/// Reads a namespace's tables (the families asked for); `None` when none
/// could be read.
fn read_tables(
    files: &NetFiles,
    families: (Expect, Expect),
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    let mut rows = Vec::new();
    let mut any = families == (Expect::Nothing, Expect::Nothing);
    for (family, expect) in [(Family::Ipv4, families.0), (Family::Ipv6, families.1)] {
        if expect == Expect::Nothing {
            continue;
        }
        if let Some(r) = read_tcp_table(files, family, errors) {
            any = true;
            rows.extend(r);
        }
    }
    any.then_some(rows)
}

/// Reads a namespace's tables through the first of its processes that is
/// still there.
fn read_tables_via_pids(
    root: &Path,
    pids: &[i32],
    families: (Expect, Expect),
    errors: &mut Vec<ScanError>,
) -> Option<Vec<SocketEntry>> {
    for (i, &pid) in pids.iter().enumerate() {
        let mut errs = Vec::new();
        let rows = read_tables(&pid_net_files(root, pid), families, &mut errs);
        if rows.is_some() || i + 1 == pids.len() {
            errors.extend(errs);
            return rows;
        }
    }
    None
}

/// Finds the host's namespace (pid 1's), and the processes whose namespace
/// link is hidden and that are in none of the namespaces found. A hidden
/// link is matched through the inode of the process's `net/tcp` file, which
/// is per namespace and readable without ptrace rights. Without `/proc/1`
/// the tool's own namespace counts as the host's; `None` when pid 1 is
/// visibly elsewhere, in a namespace that was not found.
fn place_hidden(
    root: &Path,
    discovery: &Discovery,
    own_id: u64,
    own_files: &NetFiles,
) -> (Option<u64>, Vec<i32>) {
    let tcp_of = |pid: i32| tcp_file_inode(&root.join(pid.to_string()).join("net"));
    let pid1_link = ns_link_inode(&root.join("1/ns/net")).ok();
    let pid1_tcp = if pid1_link.is_none() { tcp_of(1) } else { None };
    if discovery.denied.is_empty() && pid1_tcp.is_none() {
        return (Some(pid1_link.unwrap_or(own_id)), Vec::new());
    }
    let mut by_tcp: HashMap<u64, u64> = HashMap::new();
    if let Some(t) = tcp_file_inode(&own_files.net_dir) {
        by_tcp.insert(t, own_id);
    }
    for f in &discovery.namespaces {
        if let Some(t) = f.pids.iter().find_map(|&p| tcp_of(p)) {
            by_tcp.entry(t).or_insert(f.id);
        }
    }
    let host = match (pid1_link, pid1_tcp) {
        (Some(id), _) => Some(id),
        // pid 1 is there but its link is hidden.
        (None, Some(t)) => by_tcp.get(&t).copied(),
        (None, None) => Some(own_id),
    };
    // Gone since (no tcp file), or in a namespace already found: fine.
    let unplaced = discovery
        .denied
        .iter()
        .copied()
        .filter(|&pid| pid != 1 && tcp_of(pid).is_some_and(|t| !by_tcp.contains_key(&t)))
        .collect();
    (host, unplaced)
}

/// Whether `root` is the kernel's proc filesystem (not a fixture tree):
/// only then are namespaces joined.
pub fn is_live_proc(root: &Path) -> bool {
    nix::sys::statfs::statfs(root)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

/// Whether this process may read other processes' namespace links and
/// join their namespaces: CAP_SYS_PTRACE (19) and CAP_SYS_ADMIN (21) in
/// its effective set.
fn has_namespace_caps() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 19) != 0 && caps & (1 << 21) != 0)
}

/// The full program name of a process, for a namespace label.
fn program_of(pid_dir: &Path) -> String {
    let argv0 = std::fs::read(pid_dir.join("cmdline")).ok().and_then(|b| {
        b.split(|&c| c == 0)
            .next()
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
    });
    let comm = std::fs::read_to_string(pid_dir.join("comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default();
    let name = program_name(
        std::fs::read_link(pid_dir.join("exe")).ok().as_deref(),
        argv0.as_deref(),
        &comm,
    );
    // Programs that retitle themselves (`nginx: master process`).
    name.trim_end_matches(':').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: u64, name: &str, ip: Option<&str>, own: bool, host: bool) -> Candidate {
        Candidate {
            id,
            pids: vec![id as i32],
            ip_netns: ip.map(str::to_string),
            is_own: own,
            is_host: host,
            name: name.to_string(),
            scanned: true,
        }
    }

    #[test]
    fn a_scanner_can_move_to_a_collector_thread() {
        fn send<T: Send>() {}
        send::<Scanner>();
        send::<Snapshot>();
    }

    #[test]
    fn netns_selection_rules() {
        let cands = vec![
            cand(10, "host", None, true, true),
            cand(20, "blue", Some("blue"), false, false),
            cand(30, "docker:3f2a1b4c5d6e", None, false, false),
            cand(40, "pid 4321 (nginx)", None, false, false),
            cand(50, "own", Some("own"), false, false),
        ];
        let pid_ns = |pid: i32| (pid == 4321).then_some(40);
        let m = |w: &str| matching(&cands, w, pid_ns);
        assert_eq!(m("blue"), vec![1]);
        assert_eq!(m("host"), vec![0]);
        // A namespace really named "own" wins over the keyword.
        assert_eq!(m("own"), vec![4]);
        assert_eq!(m("30"), vec![2]);
        assert_eq!(m("net:[20]"), vec![1]);
        assert_eq!(m("3f2a1b"), vec![2]);
        assert_eq!(
            m("3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"),
            vec![2]
        );
        assert_eq!(m("pid 4321 (nginx)"), vec![3]);
        assert_eq!(m("4321"), vec![3]);
        assert!(m("nope").is_empty());
        assert!(m("9999").is_empty());
        assert!(m("3f2").is_empty(), "too short for a container id");
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
