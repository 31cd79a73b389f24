//! Finds which process holds each socket, through the socket inodes in
//! `/proc/PID/fd`, after the tables are read (a findings-only scan stops
//! the walk once the findings' holders are found); the holders' details
//! come from [`super::process`].
//!
//! This is the expensive part of a scan on a busy host: one lookup per open
//! descriptor of every process. The walk is written against rustix rather
//! than procfs's `fd()`, which opens, stats and reads the link of every
//! descriptor (four system calls): here one `fstatat` relative to the
//! directory's fd does it, without the kernel formatting a link text.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, openat, statat};

pub use super::owner_cache::{Lookup, OwnerCache};
use super::owner_order::{self, Likely, ProcessClues};
use super::process::{ProcessFacts, StatClues};
use crate::core::snapshot::{ProcessInfo, UnknownOwner};

/// Where a socket was found: the process, and the descriptor number in it
/// (which a later refresh can check cheaply, see [`super::owner_cache`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub fd: i32,
}

/// How much a walk cost: what tests and benchmarks read instead of times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// Processes whose fd directory was read.
    pub processes: usize,
    /// Descriptors looked at (one `fstatat` each).
    pub descriptors: usize,
    /// The walk stopped as soon as all wanted sockets were found.
    pub stopped_early: bool,
}

/// Every socket inode held by a process (or the wanted ones), and which
/// process: the raw result of the fd walk.
#[derive(Debug, Default)]
pub struct SocketIndex {
    holder_of: HashMap<u64, Holder>,
    /// Some fd directories could not be read (another user's, without root).
    pub denied: bool,
    pub stats: WalkStats,
}

impl SocketIndex {
    /// Walks `proc_root/[pid]/fd`, two walkers taking processes in turn.
    /// Processes that exit during the walk are skipped; the first holder of
    /// a shared socket is kept. With `only`, the likely holders are walked
    /// first (see [`super::owner_order`]) and the walk stops as soon as
    /// every one of those sockets has been found.
    pub fn build(proc_root: &Path, only: Option<&HashSet<u64>>, likely: &Likely) -> SocketIndex {
        if only.is_some_and(HashSet::is_empty) {
            return SocketIndex::default();
        }
        let pids = walk_order(proc_root, only.is_some(), likely);
        let next = AtomicUsize::new(0);
        let found: Mutex<HashSet<u64>> = Mutex::default();
        let done = AtomicBool::new(false);
        let walk = || {
            let mut part = SocketIndex::default();
            while !done.load(Ordering::Relaxed) {
                let Some((pid, dir)) = pids.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let added = part.add_process(*pid, dir, &done);
                let Some(only) = only else { continue };
                let mut hits = added.iter().filter(|i| only.contains(i)).peekable();
                if hits.peek().is_some() {
                    let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                    found.extend(hits);
                    if found.len() == only.len() {
                        done.store(true, Ordering::Relaxed);
                    }
                }
            }
            part
        };
        let (mut index, other) = std::thread::scope(|s| {
            let helper = s.spawn(walk);
            let mine = walk();
            (mine, helper.join().unwrap_or_default())
        });
        index.denied |= other.denied;
        index.stats.processes += other.stats.processes;
        index.stats.descriptors += other.stats.descriptors;
        index.stats.stopped_early = done.load(Ordering::Relaxed);
        for (inode, holder) in other.holder_of {
            index.holder_of.entry(inode).or_insert(holder);
        }
        index
    }

    /// Adds the sockets one process holds; returns their inodes. Gives up
    /// when `done` is set meanwhile (the other walker found the last wanted
    /// socket: no need to finish a big process).
    fn add_process(&mut self, pid: i32, pid_dir: &Path, done: &AtomicBool) -> Vec<u64> {
        let mut added = Vec::new();
        let fd_dir = match openat(
            CWD,
            pid_dir.join("fd"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                self.denied |= e == rustix::io::Errno::ACCESS;
                return added;
            }
        };
        self.stats.processes += 1;
        let Ok(mut entries) = Dir::read_from(&fd_dir) else {
            return added;
        };
        while let Some(Ok(entry)) = entries.read() {
            let fd_name = entry.file_name();
            let Some(fd) = std::str::from_utf8(fd_name.to_bytes())
                .ok()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue; // `.` and `..`
            };
            self.stats.descriptors += 1;
            if self.stats.descriptors % 64 == 0 && done.load(Ordering::Relaxed) {
                break;
            }
            // Following the link lands on the socket's own inode in sockfs.
            let Ok(st) = statat(&fd_dir, fd_name, AtFlags::empty()) else {
                continue;
            };
            if FileType::from_raw_mode(st.st_mode) == FileType::Socket {
                self.holder_of
                    .entry(st.st_ino)
                    .or_insert(Holder { pid, fd });
                added.push(st.st_ino);
            }
        }
        added
    }

    pub fn pid_of(&self, inode: u64) -> Option<i32> {
        self.holder_of.get(&inode).map(|h| h.pid)
    }

    pub fn holder_of(&self, inode: u64) -> Option<Holder> {
        self.holder_of.get(&inode).copied()
    }

    pub fn len(&self) -> usize {
        self.holder_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.holder_of.is_empty()
    }
}

/// The processes under `proc_root`, in the order to walk them: the likely
/// holders first when looking for a few sockets, else pid order (a full
/// walk reads them all anyway, so the clues would be wasted).
fn walk_order(proc_root: &Path, looking_for_some: bool, likely: &Likely) -> Vec<(i32, PathBuf)> {
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<(i32, PathBuf)> = dir
        .flatten()
        .filter_map(|d| {
            let pid = d.file_name().to_str()?.parse::<i32>().ok()?;
            Some((pid, d.path()))
        })
        .collect();
    if !looking_for_some {
        return pids;
    }
    let fd_counts = owner_order::fd_counts_known(proc_root);
    let mut clues: Vec<ProcessClues> = pids
        .iter()
        .map(|(pid, dir)| owner_order::clues(*pid, dir, fd_counts))
        .collect();
    owner_order::order(&mut clues, likely);
    let mut dirs: HashMap<i32, PathBuf> = pids.drain(..).collect();
    clues
        .iter()
        .filter_map(|c| Some((c.pid, dirs.remove(&c.pid)?)))
        .collect()
}

/// The owners of the wanted sockets, with their process details.
#[derive(Debug, Default)]
pub struct OwnerMap {
    by_inode: HashMap<u64, Arc<ProcessInfo>>,
    /// Some fd directories could not be read (another user's, without root).
    pub denied: bool,
}

impl OwnerMap {
    pub(super) fn new(by_inode: HashMap<u64, Arc<ProcessInfo>>, denied: bool) -> OwnerMap {
        OwnerMap { by_inode, denied }
    }

    pub fn get(&self, inode: u64) -> Option<&Arc<ProcessInfo>> {
        self.by_inode.get(&inode)
    }

    /// Why `inode`, held by user `uid`, has no owner in this map.
    pub fn why_unknown(&self, inode: u64, uid: u32, my_uid: u32) -> UnknownOwner {
        if inode == 0 {
            UnknownOwner::KernelHeld
        } else if self.denied && uid != my_uid {
            UnknownOwner::NotPermitted
        } else {
            UnknownOwner::NotFound
        }
    }

    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }
}

/// Finds the owners of these sockets in one go, with nothing known before
/// (a scanner keeps an [`OwnerCache`] between refreshes instead).
pub fn find_owners(proc_root: &Path, inodes: &[u64], users: &mut UserNames) -> OwnerMap {
    OwnerCache::default().lookup(
        proc_root,
        &Lookup {
            wanted: inodes,
            exact: &HashSet::new(),
            likely: &Likely::default(),
        },
        users,
    )
}

/// Name, command line and user of a process, and its start time (which
/// tells a later refresh that the pid still names the same process). Read
/// only for processes that hold a wanted socket, so a few per scan.
pub(super) fn process_info(
    pid_dir: &Path,
    pid: i32,
    users: &mut UserNames,
) -> (ProcessInfo, StatClues) {
    let facts = ProcessFacts::read(pid_dir, true);
    let info = ProcessInfo {
        pid,
        name: facts.program(),
        cmdline: facts.command_line(),
        user: facts
            .uid
            .map(|u| users.name(u).to_string())
            .unwrap_or_else(|| "?".into()),
    };
    (info, facts.stat_clues())
}

/// Caches uid -> user name lookups (`/etc/passwd` through NSS).
#[derive(Debug, Default)]
pub struct UserNames {
    cache: HashMap<u32, Arc<str>>,
}

impl UserNames {
    /// Shared, so that 100k sockets of one user hold one string.
    pub fn name(&mut self, uid: u32) -> Arc<str> {
        self.cache
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| Arc::from(u.name))
                    .unwrap_or_else(|| Arc::from(uid.to_string()))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_owner_of_a_real_socket_in_this_process() {
        use std::os::unix::fs::MetadataExt;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let inode = std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .ino();
        let mut users = UserNames::default();
        let map = find_owners(Path::new("/proc"), &[inode], &mut users);
        let p = map.get(inode).expect("owner found");
        assert_eq!(p.pid, std::process::id() as i32);
        assert!(!p.cmdline.is_empty());
        assert!(map.get(inode + 1_000_000_000).is_none());
    }

    #[test]
    fn the_full_walk_sees_every_socket_and_an_empty_wish_list_walks_nothing() {
        use std::os::unix::fs::MetadataExt;
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ino = |l: &std::net::TcpListener| {
            let fd = std::os::fd::AsRawFd::as_raw_fd(l);
            std::fs::metadata(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .ino()
        };
        let all = SocketIndex::build(Path::new("/proc"), None, &Likely::default());
        let me = std::process::id() as i32;
        assert_eq!(all.pid_of(ino(&a)), Some(me));
        assert_eq!(all.pid_of(ino(&b)), Some(me));
        let only_a = SocketIndex::build(
            Path::new("/proc"),
            Some(&[ino(&a)].into()),
            &Likely::default(),
        );
        assert_eq!(only_a.pid_of(ino(&a)), Some(me));
        assert!(
            SocketIndex::build(
                Path::new("/proc"),
                Some(&HashSet::new()),
                &Likely::default()
            )
            .is_empty()
        );
    }
}
