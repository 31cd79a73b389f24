//! In which order the fd walk ([`super::owners`]) takes the processes when
//! it looks for a few sockets' holders: the likely ones first, so that the
//! walk can stop early.
//!
//! On a busy host a few big servers hold most descriptors, while the client
//! that connected to itself is often a small, recent process: walking in
//! pid order would look at every descriptor of the servers first. The
//! order: processes a live kernel event named; then those in a finding's
//! network namespace; among them those running as a finding's user; and
//! within each group the fewest descriptors first. Knowing a process's
//! facts costs three cheap system calls (a `stat` of its directory, of its
//! `fd` directory and a `readlink` of `ns/net`), against one per
//! descriptor for walking it.

use std::collections::HashSet;
use std::path::Path;

use rustix::fs::AtFlags;
use rustix::fs::{CWD, StatxFlags, statx};

use super::netns::ns_link_inode;

/// What makes a process a likely holder of the sockets looked for.
#[derive(Debug, Clone, Default)]
pub struct Likely {
    /// Processes named by a live kernel event: tried before all others.
    pub first: HashSet<i32>,
    /// The network namespaces (ids) the sockets are in.
    pub netns: HashSet<u64>,
    /// The sockets' users.
    pub uids: HashSet<u32>,
}

/// What the ordering knows of one process; `None` where it could not be
/// read (the process then sorts as unlikely).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessClues {
    pub pid: i32,
    pub netns: Option<u64>,
    pub uid: Option<u32>,
    /// Its open descriptors; `None` where the kernel does not tell it
    /// cheaply (before Linux 6.2), which leaves pid order.
    pub fds: Option<u64>,
}

/// Sorts the processes most likely to hold the sockets first (see the
/// module's comment). Stable on pid order for equal clues.
pub fn order(procs: &mut [ProcessClues], likely: &Likely) {
    procs.sort_by_key(|p| {
        (
            !likely.first.contains(&p.pid),
            !p.netns.is_some_and(|n| likely.netns.contains(&n)),
            !p.uid.is_some_and(|u| likely.uids.contains(&u)),
            p.fds.unwrap_or(0),
            p.pid,
        )
    });
}

/// Whether `stat` of a `/proc/PID/fd` directory gives its descriptor count
/// as its size (Linux 6.2 and later), found by asking about this very
/// process, which always has descriptors open; earlier kernels say 0.
pub fn fd_counts_known(proc_root: &Path) -> bool {
    super::source::is_live_proc(proc_root)
        && statx(
            CWD,
            proc_root.join("self/fd"),
            AtFlags::empty(),
            StatxFlags::SIZE,
        )
        .is_ok_and(|s| s.stx_size > 0)
}

/// Reads the clues of the process at `pid_dir`. The user is the owner of
/// its directory (the process's effective uid).
pub fn clues(pid: i32, pid_dir: &Path, fd_counts: bool) -> ProcessClues {
    let uid = statx(CWD, pid_dir, AtFlags::empty(), StatxFlags::UID)
        .ok()
        .map(|s| s.stx_uid);
    let fds = if fd_counts {
        statx(CWD, pid_dir.join("fd"), AtFlags::empty(), StatxFlags::SIZE)
            .ok()
            .map(|s| s.stx_size)
    } else {
        None
    };
    ProcessClues {
        pid,
        netns: ns_link_inode(&pid_dir.join("ns/net")).ok(),
        uid,
        fds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, netns: u64, uid: u32, fds: Option<u64>) -> ProcessClues {
        ProcessClues {
            pid,
            netns: Some(netns),
            uid: Some(uid),
            fds,
        }
    }

    #[test]
    fn the_small_process_in_the_findings_namespace_and_user_comes_first() {
        let likely = Likely {
            first: HashSet::new(),
            netns: [7].into(),
            uids: [1000].into(),
        };
        let mut procs = vec![
            p(1, 1, 0, Some(40)),          // init: another namespace
            p(100, 7, 1000, Some(12_000)), // a big server, same namespace and user
            p(101, 7, 1000, Some(12_000)),
            p(150, 7, 0, Some(3)),    // small, same namespace, root
            p(200, 7, 1000, Some(5)), // the small client
            p(300, 9, 1000, Some(1)), // tiny, but elsewhere
        ];
        order(&mut procs, &likely);
        let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
        assert_eq!(pids, vec![200, 100, 101, 150, 300, 1]);
    }

    #[test]
    fn a_hinted_process_goes_first_and_unknown_counts_keep_pid_order() {
        let likely = Likely {
            first: [101].into(),
            netns: [7].into(),
            uids: [0].into(),
        };
        let mut procs = vec![
            p(300, 7, 0, None),
            p(100, 7, 0, None),
            p(101, 9, 5, None),
            ProcessClues {
                pid: 50,
                netns: None,
                uid: None,
                fds: None,
            },
        ];
        order(&mut procs, &likely);
        let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
        assert_eq!(pids, vec![101, 100, 300, 50]);
    }

    #[test]
    fn this_process_clues_are_read() {
        let me = std::process::id() as i32;
        let dir = Path::new("/proc").join(me.to_string());
        let counts = fd_counts_known(Path::new("/proc"));
        let c = clues(me, &dir, counts);
        assert_eq!(c.pid, me);
        assert_eq!(c.uid, Some(nix::unistd::geteuid().as_raw()));
        assert_eq!(
            c.netns,
            Some(ns_link_inode(Path::new("/proc/self/ns/net")).unwrap())
        );
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        match c.fds {
            // Other threads open and close descriptors meanwhile.
            Some(n) => assert!(n > 0 && n.abs_diff(open) < 64, "{n} vs {open}"),
            None => assert!(!counts),
        }
    }
}
