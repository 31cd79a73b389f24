//! Socket owners kept between refreshes: a scanner that refreshes every
//! second (the dashboard, `serve`) walks `/proc/PID/fd` only for sockets it
//! has not placed yet, so that with nothing new the walk costs nothing.
//!
//! What is kept is checked cheaply at every refresh, so that an owner is
//! never stale:
//! - an entry whose socket left the tables is dropped;
//! - every process kept is checked by its start time (one read of
//!   `/proc/PID/stat`): a process gone, or a pid now naming another
//!   process, drops its entries; a changed name (an `exec`) re-reads its
//!   details;
//! - the sockets checked exactly (the findings: few, and what a user acts
//!   on) also have their descriptor re-read: `/proc/PID/fd/N` must still be
//!   that socket, else it is looked for again. The other sockets (the
//!   all-sockets view) rely on the process check: a socket handed on by a
//!   process that lives on shows its first holder until that one exits.
//!
//! A socket the walk did not find (its holder's descriptors not readable,
//! or a descriptor installed just after the walk passed) is looked for
//! again after [`RETRY_UNOWNED`], not at every refresh.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, CWD, FileType, statat};

use super::owner_order::Likely;
use super::owners::{Holder, OwnerMap, SocketIndex, UserNames, WalkStats, process_info};
use super::process::StatClues;
use crate::core::snapshot::ProcessInfo;

/// How long a socket that no walk found stays unlooked-for.
pub const RETRY_UNOWNED: Duration = Duration::from_secs(10);

/// One lookup's question.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The sockets (inodes) whose owners are wanted.
    pub wanted: &'a [u64],
    /// Those of them whose descriptor is re-read when known: the findings.
    pub exact: &'a HashSet<u64>,
    /// Which processes to walk first.
    pub likely: &'a Likely,
}

/// What the last lookup cost and reused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerStats {
    /// The fd walk, if there was one (all zero when every owner was known).
    pub walk: WalkStats,
    /// Whether the walk ran at all.
    pub walked: bool,
    /// Wanted sockets answered from what was kept.
    pub from_cache: usize,
    /// Entries dropped this time because their process or descriptor changed.
    pub dropped: usize,
}

#[derive(Debug)]
struct Kept {
    clues: StatClues,
    info: Arc<ProcessInfo>,
}

/// The owners known so far, by socket inode.
#[derive(Debug, Default)]
pub struct OwnerCache {
    holders: HashMap<u64, Holder>,
    processes: HashMap<i32, Kept>,
    /// Sockets no walk found, and when it last looked.
    unowned: HashMap<u64, Instant>,
    /// The last walk met fd directories it could not read.
    denied: bool,
    stats: OwnerStats,
}

impl OwnerCache {
    /// What the last [`OwnerCache::lookup`] cost.
    pub fn stats(&self) -> OwnerStats {
        self.stats
    }

    /// How many sockets' owners are kept.
    pub fn len(&self) -> usize {
        self.holders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }

    /// Forgets the sockets not among `present` (the tables just read).
    pub fn forget_gone(&mut self, present: impl Iterator<Item = u64>) {
        if self.holders.is_empty() && self.unowned.is_empty() {
            return;
        }
        let mut seen = HashSet::with_capacity(self.holders.len() + self.unowned.len());
        for inode in present {
            if self.holders.contains_key(&inode) || self.unowned.contains_key(&inode) {
                seen.insert(inode);
            }
        }
        self.holders.retain(|i, _| seen.contains(i));
        self.unowned.retain(|i, _| seen.contains(i));
        let live: HashSet<i32> = self.holders.values().map(|h| h.pid).collect();
        self.processes.retain(|pid, _| live.contains(pid));
    }

    /// The owners of `ask.wanted`: checks what is kept, walks for the rest
    /// (likely holders first, stopping when all are found), keeps the result.
    pub fn lookup(&mut self, proc_root: &Path, ask: &Lookup, users: &mut UserNames) -> OwnerMap {
        self.stats = OwnerStats::default();
        self.check_processes(proc_root, users);
        self.check_descriptors(proc_root, ask);
        let now = Instant::now();
        let missing: HashSet<u64> = ask
            .wanted
            .iter()
            .copied()
            .filter(|i| *i != 0 && !self.holders.contains_key(i))
            .filter(|i| {
                self.unowned
                    .get(i)
                    .is_none_or(|at| now.duration_since(*at) >= RETRY_UNOWNED)
            })
            .collect();
        self.stats.from_cache = ask
            .wanted
            .iter()
            .filter(|i| self.holders.contains_key(i))
            .count();
        if !missing.is_empty() {
            let index = SocketIndex::build(proc_root, Some(&missing), ask.likely);
            self.stats.walk = index.stats;
            self.stats.walked = true;
            self.denied = index.denied;
            for inode in missing {
                match index.holder_of(inode) {
                    Some(h) => {
                        self.unowned.remove(&inode);
                        self.keep(proc_root, inode, h, users);
                    }
                    None => {
                        self.unowned.insert(inode, now);
                    }
                }
            }
        }
        let by_inode = ask
            .wanted
            .iter()
            .filter_map(|i| {
                let h = self.holders.get(i)?;
                Some((*i, self.processes.get(&h.pid)?.info.clone()))
            })
            .collect();
        OwnerMap::new(by_inode, self.denied)
    }

    fn keep(&mut self, proc_root: &Path, inode: u64, h: Holder, users: &mut UserNames) {
        self.processes.entry(h.pid).or_insert_with(|| {
            let dir = proc_root.join(h.pid.to_string());
            let (info, clues) = process_info(&dir, h.pid, users);
            Kept {
                clues,
                info: Arc::new(info),
            }
        });
        self.holders.insert(inode, h);
    }

    /// Drops the processes that are gone or whose pid names another
    /// process now; re-reads the details of one that changed its name.
    fn check_processes(&mut self, proc_root: &Path, users: &mut UserNames) {
        let mut gone = HashSet::new();
        for (pid, kept) in &mut self.processes {
            let dir = proc_root.join(pid.to_string());
            match StatClues::read(&dir) {
                Some(now) if now.start != kept.clues.start => {
                    gone.insert(*pid);
                }
                None => {
                    gone.insert(*pid);
                }
                Some(now) if now != kept.clues => {
                    let (info, clues) = process_info(&dir, *pid, users);
                    *kept = Kept {
                        clues,
                        info: Arc::new(info),
                    };
                }
                Some(_) => {}
            }
        }
        if gone.is_empty() {
            return;
        }
        self.processes.retain(|pid, _| !gone.contains(pid));
        let before = self.holders.len();
        self.holders.retain(|_, h| !gone.contains(&h.pid));
        self.stats.dropped += before - self.holders.len();
    }

    /// Re-reads the descriptor of each kept socket to be checked exactly.
    fn check_descriptors(&mut self, proc_root: &Path, ask: &Lookup) {
        for inode in ask.exact {
            let Some(h) = self.holders.get(inode) else {
                continue;
            };
            let link = proc_root.join(format!("{}/fd/{}", h.pid, h.fd));
            let same = statat(CWD, &link, AtFlags::empty()).is_ok_and(|st| {
                st.st_ino == *inode && FileType::from_raw_mode(st.st_mode) == FileType::Socket
            });
            if !same {
                self.holders.remove(inode);
                self.stats.dropped += 1;
            }
        }
    }
}
