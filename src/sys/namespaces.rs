//! The namespaces one scan covers: found, placed and named.
//!
//! 1. discovery: one `readlink` of `/proc/PID/ns/net` per process groups
//!    the processes by namespace ([`netns::discover`]); `/run/netns` adds
//!    the `ip netns` names, and namespaces that have a name but no process;
//! 2. placing: which one is the host's (pid 1's), and which processes are
//!    in a namespace that cannot be identified (their link is hidden);
//! 3. naming: `host`, the `ip netns` name, a container hint from the first
//!    process's cgroup, else `pid N (program)`; cached between refreshes.
//!
//! The own namespace is marked ([`Candidate::is_own`]) and comes first.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::netns::{
    Discovery, container_hint, discover, ns_link_inode, process_label, tcp_file_inode,
};
use super::process::ProcessFacts;
use super::source::{OwnNamespace, Source};
use crate::core::snapshot::ScanError;

/// A namespace about to be scanned.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: u64,
    /// Some of its processes, lowest first; empty for a namespace that only
    /// an `ip netns` bind mount keeps alive.
    pub pids: Vec<i32>,
    pub ip_netns: Option<String>,
    /// The namespace the scan runs in.
    pub is_own: bool,
    pub is_host: bool,
    pub name: String,
    /// Left out by `--netns` (only ever the own namespace, kept for its policy).
    pub scanned: bool,
}

/// Namespace names, kept between refreshes: namespace id -> (the pid it
/// was named after, the name).
#[derive(Debug, Default)]
pub struct Naming {
    labels: HashMap<u64, (i32, String)>,
}

impl Naming {
    /// Forgets the names of namespaces not in `seen`.
    pub fn forget_except(&mut self, seen: &HashSet<u64>) {
        self.labels.retain(|id, _| seen.contains(id));
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
            .unwrap_or_else(|| {
                // Programs that retitle themselves (`nginx: master process`).
                let program = ProcessFacts::read(&pid_dir, false).program();
                process_label(pid, program.trim_end_matches(':'))
            });
        self.labels.insert(c.id, (pid, label.clone()));
        label
    }
}

/// The namespaces the source can see, named: the own one first, then the
/// host's, then the others by name. Processes that could not be placed
/// are reported in `errors`.
pub fn find(
    source: &Source,
    own: &OwnNamespace,
    naming: &mut Naming,
    errors: &mut Vec<ScanError>,
) -> Vec<Candidate> {
    let root = source.root();
    let discovery = if source.sees_other_namespaces() {
        discover(root)
    } else {
        Discovery::default()
    };
    let named = source.named_namespaces(own);
    let (host_id, unplaced) = place_hidden(root, &discovery, own);
    if !unplaced.is_empty() {
        errors.push(unplaced_error(root, &unplaced));
    }
    let ip_name = |id: u64| named.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
    let cand = |id: u64, pids: Vec<i32>, is_own: bool| Candidate {
        id,
        pids,
        ip_netns: ip_name(id),
        is_own,
        is_host: Some(id) == host_id,
        name: String::new(),
        scanned: true,
    };
    let own_pids = match discovery.get(own.id) {
        Some(f) => f.pids.clone(),
        // Not walked (no rights): this process, if it is in it.
        None => {
            let me = std::process::id() as i32;
            let mine = ns_link_inode(&root.join(me.to_string()).join("ns/net"));
            if mine.is_ok_and(|id| id == own.id) {
                vec![me]
            } else {
                Vec::new()
            }
        }
    };
    let mut cands = vec![cand(own.id, own_pids, true)];
    for f in discovery.namespaces.iter().filter(|f| f.id != own.id) {
        cands.push(cand(f.id, f.pids.clone(), false));
    }
    // Named namespaces with no process in them.
    for (id, _) in &named {
        if !cands.iter().any(|c| c.id == *id) {
            cands.push(cand(*id, Vec::new(), false));
        }
    }
    for c in &mut cands {
        c.name = naming.name(root, c);
    }
    cands[1..].sort_by(|a, b| (!a.is_host, &a.name, a.id).cmp(&(!b.is_host, &b.name, b.id)));
    cands
}

fn unplaced_error(root: &Path, unplaced: &[i32]) -> ScanError {
    let shown: Vec<String> = unplaced.iter().take(5).map(i32::to_string).collect();
    ScanError::new(
        root.join("PID/ns/net").display().to_string(),
        format!(
            "permission denied for {} process(es) (pid {}{}) in network namespaces that \
             cannot be identified; their sockets are not scanned",
            unplaced.len(),
            shown.join(", "),
            if unplaced.len() > 5 { ", …" } else { "" }
        ),
    )
}

/// Finds the host's namespace (pid 1's), and the processes whose namespace
/// link is hidden and that are in none of the namespaces found. A hidden
/// link is matched through the inode of the process's `net/tcp` file, which
/// is per namespace and readable without ptrace rights. Without `/proc/1`
/// the tool's own namespace counts as the host's; `None` when pid 1 is
/// visibly elsewhere, in a namespace that was not found.
fn place_hidden(root: &Path, discovery: &Discovery, own: &OwnNamespace) -> (Option<u64>, Vec<i32>) {
    let tcp_of = |pid: i32| tcp_file_inode(&root.join(pid.to_string()).join("net"));
    let pid1_link = ns_link_inode(&root.join("1/ns/net")).ok();
    let pid1_tcp = if pid1_link.is_none() { tcp_of(1) } else { None };
    if discovery.denied.is_empty() && pid1_tcp.is_none() {
        return (Some(pid1_link.unwrap_or(own.id)), Vec::new());
    }
    let mut by_tcp: HashMap<u64, u64> = HashMap::new();
    if let Some(t) = tcp_file_inode(&own.files.net_dir) {
        by_tcp.insert(t, own.id);
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
        (None, None) => Some(own.id),
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
