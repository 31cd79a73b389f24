//! One scan: tables, policy, findings and owners, as a [`Snapshot`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Local;

use super::owners::{OwnerMap, UserNames, Wanted, find_owners};
use super::procnet::{NetFiles, read_policy, read_tcp_table};
use crate::core::snapshot::{Namespace, Owner, ScanError, Snapshot, Socket, UnknownOwner};
use crate::core::socket::{Family, SocketEntry, classify};

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
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            proc_root: PathBuf::from("/proc"),
            owners: OwnerScope::Findings,
        }
    }
}

/// The scan could not read any TCP table at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the TCP tables: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ScanFailure(pub Vec<ScanError>);

/// Scans repeatedly, keeping what can be reused between refreshes.
#[derive(Debug)]
pub struct Scanner {
    pub options: ScanOptions,
    users: UserNames,
    my_uid: u32,
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Scanner {
        Scanner {
            options,
            users: UserNames::default(),
            my_uid: nix::unistd::geteuid().as_raw(),
        }
    }

    pub fn scan(&mut self) -> Result<Snapshot, ScanFailure> {
        let started = Instant::now();
        let taken_at = Local::now();
        let root = self.options.proc_root.clone();
        let mut errors = Vec::new();

        let files = NetFiles::own(&root);
        let policy = read_policy(&files, &mut errors);
        let namespaces = vec![Namespace {
            id: netns_inode(&root.join("self/ns/net")).unwrap_or(0),
            name: own_namespace_name(&root),
            is_own: true,
            policy,
        }];

        let mut entries: Vec<SocketEntry> = Vec::new();
        let mut read_any = false;
        for family in [Family::Ipv4, Family::Ipv6] {
            if let Some(rows) = read_tcp_table(&files, family, &mut errors) {
                read_any = true;
                entries.extend(rows);
            }
        }
        if !read_any {
            return Err(ScanFailure(errors));
        }

        let mut sockets: Vec<Socket> = entries
            .into_iter()
            .map(|entry| {
                let finding = classify(&entry, &namespaces[0].policy);
                Socket {
                    finding,
                    owner: Owner::Unknown(UnknownOwner::NotResolved),
                    user: Arc::from(""),
                    netns: 0,
                    entry,
                }
            })
            .collect();

        let wanted = match self.options.owners {
            OwnerScope::All => Wanted::All,
            OwnerScope::Findings => Wanted::Inodes(
                sockets
                    .iter()
                    .filter(|s| s.finding.is_some() && s.entry.inode != 0)
                    .map(|s| s.entry.inode)
                    .collect::<HashSet<u64>>(),
            ),
        };
        let owners = find_owners(&root, &wanted, &mut self.users);
        self.attach_owners(&mut sockets, &owners);

        let visibility_note = (self.my_uid != 0).then(|| {
            "not root: other users' processes are hidden, so their sockets' owners are unknown \
             (run as root to see them)"
                .to_string()
        });
        Ok(Snapshot {
            taken_at,
            scan_micros: started.elapsed().as_micros() as u64,
            namespaces,
            sockets,
            errors,
            visibility_note,
        })
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

/// The inode of a `/proc/.../ns/net` link (`net:[4026531840]`).
pub fn netns_inode(link: &Path) -> Option<u64> {
    let target = std::fs::read_link(link).ok()?;
    let s = target.to_str()?;
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// `host` when this tool shares init's namespace, else `own`.
fn own_namespace_name(root: &Path) -> String {
    let own = netns_inode(&root.join("self/ns/net"));
    let init = netns_inode(&root.join("1/ns/net"));
    match (own, init) {
        (Some(a), Some(b)) if a != b => "own".to_string(),
        _ => "host".to_string(),
    }
}
