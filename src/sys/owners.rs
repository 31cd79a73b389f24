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
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, openat, statat};

use super::process::ProcessFacts;
use crate::core::snapshot::{ProcessInfo, UnknownOwner};

/// Which sockets' owners to look up.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// Every socket's.
    All,
    /// Only these inodes; the walk stops once all are found.
    Inodes(HashSet<u64>),
}

/// Every socket inode held by a process (or the wanted ones), and which
/// process: the raw result of the fd walk.
#[derive(Debug, Default)]
pub struct SocketIndex {
    pid_of: HashMap<u64, i32>,
    /// Some fd directories could not be read (another user's, without root).
    pub denied: bool,
}

impl SocketIndex {
    /// Walks `proc_root/[pid]/fd`, two walkers taking processes in turn.
    /// Processes that exit during the walk are skipped; the first holder of
    /// a shared socket is kept. With `only`, the walk stops as soon as
    /// every one of those sockets has been found (a findings-only scan
    /// needs no more).
    pub fn build(proc_root: &Path, only: Option<&HashSet<u64>>) -> SocketIndex {
        if only.is_some_and(HashSet::is_empty) {
            return SocketIndex::default();
        }
        let Ok(dir) = std::fs::read_dir(proc_root) else {
            return SocketIndex::default();
        };
        let pids: Vec<(i32, std::path::PathBuf)> = dir
            .flatten()
            .filter_map(|d| {
                let pid = d.file_name().to_str()?.parse::<i32>().ok()?;
                Some((pid, d.path()))
            })
            .collect();
        let next = AtomicUsize::new(0);
        let found: Mutex<HashSet<u64>> = Mutex::default();
        let done = AtomicBool::new(false);
        let walk = || {
            let mut part = SocketIndex::default();
            while !done.load(Ordering::Relaxed) {
                let Some((pid, dir)) = pids.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let added = part.add_process(*pid, dir);
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
        for (inode, pid) in other.pid_of {
            index.pid_of.entry(inode).or_insert(pid);
        }
        index
    }

    /// Adds the sockets one process holds; returns their inodes.
    fn add_process(&mut self, pid: i32, pid_dir: &Path) -> Vec<u64> {
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
        let Ok(mut entries) = Dir::read_from(&fd_dir) else {
            return added;
        };
        while let Some(Ok(entry)) = entries.read() {
            let fd_name = entry.file_name();
            if fd_name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            // Following the link lands on the socket's own inode in sockfs.
            let Ok(st) = statat(&fd_dir, fd_name, AtFlags::empty()) else {
                continue;
            };
            if FileType::from_raw_mode(st.st_mode) == FileType::Socket {
                self.pid_of.entry(st.st_ino).or_insert(pid);
                added.push(st.st_ino);
            }
        }
        added
    }

    pub fn pid_of(&self, inode: u64) -> Option<i32> {
        self.pid_of.get(&inode).copied()
    }

    pub fn len(&self) -> usize {
        self.pid_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pid_of.is_empty()
    }
}

/// The owners of the wanted sockets, with their process details.
#[derive(Debug, Default)]
pub struct OwnerMap {
    by_inode: HashMap<u64, Arc<ProcessInfo>>,
    /// Some fd directories could not be read (another user's, without root).
    pub denied: bool,
}

impl OwnerMap {
    /// Looks up the wanted inodes in `index`, reading each holding
    /// process's details once.
    pub fn resolve(
        index: &SocketIndex,
        proc_root: &Path,
        wanted: &Wanted,
        users: &mut UserNames,
    ) -> OwnerMap {
        let mut map = OwnerMap {
            denied: index.denied,
            ..OwnerMap::default()
        };
        let mut processes: HashMap<i32, Arc<ProcessInfo>> = HashMap::new();
        let mut add = |inode: u64, pid: i32, map: &mut OwnerMap| {
            let info = processes
                .entry(pid)
                .or_insert_with(|| {
                    Arc::new(process_info(&proc_root.join(pid.to_string()), pid, users))
                })
                .clone();
            map.by_inode.insert(inode, info);
        };
        match wanted {
            Wanted::All => {
                for (&inode, &pid) in &index.pid_of {
                    add(inode, pid, &mut map);
                }
            }
            Wanted::Inodes(set) => {
                for &inode in set {
                    if let Some(pid) = index.pid_of(inode) {
                        add(inode, pid, &mut map);
                    }
                }
            }
        }
        map
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

/// Finds the owners of the wanted sockets in one go (walk, then resolve).
pub fn find_owners(proc_root: &Path, wanted: &Wanted, users: &mut UserNames) -> OwnerMap {
    let only = match wanted {
        Wanted::All => None,
        Wanted::Inodes(set) => Some(set),
    };
    OwnerMap::resolve(
        &SocketIndex::build(proc_root, only),
        proc_root,
        wanted,
        users,
    )
}

/// Name, command line and user of a process. Read only for processes that
/// hold a wanted socket, so a few per scan.
fn process_info(pid_dir: &Path, pid: i32, users: &mut UserNames) -> ProcessInfo {
    let facts = ProcessFacts::read(pid_dir, true);
    ProcessInfo {
        pid,
        name: facts.program(),
        cmdline: facts.command_line(),
        user: facts
            .uid
            .map(|u| users.name(u).to_string())
            .unwrap_or_else(|| "?".into()),
    }
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
        let map = find_owners(
            Path::new("/proc"),
            &Wanted::Inodes([inode].into()),
            &mut users,
        );
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
        let all = SocketIndex::build(Path::new("/proc"), None);
        let me = std::process::id() as i32;
        assert_eq!(all.pid_of(ino(&a)), Some(me));
        assert_eq!(all.pid_of(ino(&b)), Some(me));
        let only_a = SocketIndex::build(Path::new("/proc"), Some(&[ino(&a)].into()));
        assert_eq!(only_a.pid_of(ino(&a)), Some(me));
        assert!(SocketIndex::build(Path::new("/proc"), Some(&HashSet::new())).is_empty());
    }
}
