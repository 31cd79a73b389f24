//! Where a scan's facts come from: the live kernel, or a fixture tree laid
//! out like `/proc`. The orchestration ([`super::scanner`]) asks the source
//! for the own namespace's files, the namespaces it can see, and each
//! namespace's policy and tables; only the source knows how it gets them.
//!
//! A fixture tree is read as files and nothing else: nothing is joined,
//! no netlink is used; tables come from `<root>/net/` (the own namespace)
//! and `<root>/<pid>/net/`, and every namespace gets the own sysctl files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::diag::{DiagSocket, Expect};
use super::live::LiveKernel;
use super::namespaces::Candidate;
use super::netns::{self, ns_link_inode};
use super::process::has_namespace_caps;
use super::procnet::{BOTH, NetFiles, read_tables_to, read_tables_via_pids};
use super::tcp_table::Extent;
use crate::core::ports::PortPolicy;
use crate::core::snapshot::ScanError;
use crate::core::socket::{Family, SocketEntry};

/// The namespace the scan runs in, as the source sees it.
#[derive(Debug, Clone)]
pub struct OwnNamespace {
    /// Its inode; 0 when its link cannot be read.
    pub id: u64,
    /// Its `ns/net` link.
    pub link: PathBuf,
    /// Its tables and sysctls.
    pub files: NetFiles,
}

/// A source of facts.
#[derive(Debug)]
pub enum Source {
    Live(Box<LiveKernel>),
    Fixture { root: PathBuf },
}

impl Source {
    /// The live kernel when `root` is a proc filesystem, else a fixture tree.
    pub fn at(root: &Path, run_netns: &Path, sock_diag: bool) -> Source {
        if is_live_proc(root) {
            Source::Live(Box::new(LiveKernel::new(
                root.to_path_buf(),
                run_netns.to_path_buf(),
                has_namespace_caps(),
                sock_diag,
            )))
        } else {
            Source::Fixture {
                root: root.to_path_buf(),
            }
        }
    }

    pub fn root(&self) -> &Path {
        match self {
            Source::Live(k) => k.root(),
            Source::Fixture { root } => root,
        }
    }

    /// The calling thread's namespace (on the live kernel, the process's,
    /// unless this thread joined another one).
    pub fn own(&self) -> OwnNamespace {
        let (link, files) = match self {
            Source::Live(k) => (
                k.root().join("thread-self/ns/net"),
                NetFiles {
                    net_dir: k.root().join("thread-self/net"),
                    sysctl_dir: k.root().join("sys/net/ipv4"),
                },
            ),
            Source::Fixture { root } => (root.join("self/ns/net"), NetFiles::own(root)),
        };
        OwnNamespace {
            id: ns_link_inode(&link).unwrap_or(0),
            link,
            files,
        }
    }

    /// Whether namespaces other than the own one can be seen: always in a
    /// fixture tree, on the live kernel only with the rights.
    pub fn sees_other_namespaces(&self) -> bool {
        match self {
            Source::Live(k) => k.privileged,
            Source::Fixture { .. } => true,
        }
    }

    /// The `ip netns` names, with their namespaces' ids (live only: a name
    /// with no process in its namespace can only be read by joining it).
    pub fn named_namespaces(&self, own: &OwnNamespace) -> Vec<(u64, String)> {
        match self {
            Source::Live(k) if k.privileged => {
                netns::named_namespaces(&k.run_netns, netns::nsfs_dev(&own.link))
            }
            _ => Vec::new(),
        }
    }

    /// Gets ready to answer for these namespaces (the live kernel joins
    /// the ones it needs to).
    pub fn prepare(&mut self, cands: &[Candidate]) {
        if let Source::Live(k) = self {
            k.prepare(cands);
        }
    }

    /// A namespace's port policy; `own` is the own namespace's, read once.
    pub fn policy(
        &mut self,
        c: &Candidate,
        own: &PortPolicy,
        errors: &mut Vec<ScanError>,
    ) -> PortPolicy {
        match self {
            Source::Live(k) if !c.is_own => k.policy(c, errors),
            // A fixture tree has one set of sysctl files, for all.
            _ => own.clone(),
        }
    }

    /// A namespace's sockets; `None` when no table could be read.
    pub fn tables(
        &mut self,
        c: &Candidate,
        own: &OwnNamespace,
        extent: Extent,
        errors: &mut Vec<ScanError>,
    ) -> Option<Vec<SocketEntry>> {
        if c.is_own {
            let (rows, mut errs) = self.own_tables(own, extent).read();
            errors.append(&mut errs);
            return rows;
        }
        match self {
            Source::Live(k) => k.tables(c, extent, errors),
            Source::Fixture { root } => read_tables_via_pids(root, &c.pids, BOTH, extent, errors),
        }
    }

    /// How to read the own namespace's tables, as a job that needs nothing
    /// of the source (see [`OwnTables`]).
    pub fn own_tables(&self, own: &OwnNamespace, extent: Extent) -> OwnTables {
        OwnTables {
            files: own.files.clone(),
            guided: matches!(self, Source::Live(_)),
            extent,
            diag: matches!(self, Source::Live(k) if k.diag_usable()),
        }
    }

    /// Forgets what is kept for namespaces not in `seen`.
    pub fn forget_except(&mut self, seen: &HashSet<u64>) {
        if let Source::Live(k) = self {
            k.forget_except(seen);
        }
    }
}

/// The own namespace's tables to read, as `/proc/net/tcp{,6}` list them:
/// the ones a user compares with `cat`, and on a host the biggest, where
/// netlink would save no walk. A job of its own so that it can run on
/// another thread while the other namespaces are looked at (a thread
/// started by the scanning one sees the same namespace).
#[derive(Debug, Clone)]
pub struct OwnTables {
    files: NetFiles,
    /// On the live kernel, a family that `sockstat` says is empty (no
    /// socket, no TIME_WAIT) is not read: each read walks the whole
    /// connection hash, even empty, and that was most of the dashboard's
    /// CPU on a quiet host. A fixture tree is read whole.
    guided: bool,
    extent: Extent,
    /// Listeners may be listed through `sock_diag`: a read of `tcp6` for
    /// its listeners on a host with IPv4 connections only would go on
    /// through the whole connection hash looking for one more IPv6 row.
    diag: bool,
}

/// Tables as read: the sockets (`None` when no table could be read) and
/// what went wrong.
pub type TablesRead = (Option<Vec<SocketEntry>>, Vec<ScanError>);

impl OwnTables {
    pub fn read(&self) -> TablesRead {
        let mut errors = Vec::new();
        let families = if self.guided {
            self.files.expect()
        } else {
            BOTH
        };
        if self.diag
            && self.extent == Extent::Listeners
            && let Some(rows) = listeners_by_diag(families)
        {
            return (Some(rows), errors);
        }
        let rows = read_tables_to(&self.files, families, self.extent, &mut errors);
        (rows, errors)
    }
}

/// The calling thread's namespace's listeners through a `sock_diag` socket
/// of its own; `None` when that fails (the tables are read instead).
fn listeners_by_diag(families: (Expect, Expect)) -> Option<Vec<SocketEntry>> {
    let mut diag = DiagSocket::open().ok()?;
    let mut rows = diag.listeners(Family::Ipv4, families.0).ok()?;
    rows.extend(diag.listeners(Family::Ipv6, families.1).ok()?);
    Some(rows)
}

/// Whether `root` is the kernel's proc filesystem (not a fixture tree).
pub fn is_live_proc(root: &Path) -> bool {
    nix::sys::statfs::statfs(root)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}
