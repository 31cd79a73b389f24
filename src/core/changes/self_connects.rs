//! Changes of self-connected sockets: seen (first sighting) and gone. A
//! record lives while the socket is in the tables, with its first and last
//! sighting, its latest state, and its owner kept once known (in TIME_WAIT
//! the kernel holds the socket and the process that made it is no longer
//! listed), so one that lived between two scans stays on record.

use std::collections::HashMap;
use std::net::SocketAddr;

use chrono::{DateTime, Local};
use serde::Serialize;

use super::{ChangeKind, NetnsRef, owner_data, rfc3339};
use crate::core::snapshot::{Owner, Snapshot, Socket};
use crate::core::socket::{Family, FindingKind, TcpState};

/// A self-connection: one address (local and remote) in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfConnect {
    pub netns: NetnsRef,
    /// Its local address, which is also its remote one.
    pub addr: SocketAddr,
    pub family: Family,
    /// The state at the last sighting.
    pub state: TcpState,
    #[serde(serialize_with = "owner_data")]
    pub owner: Owner,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: DateTime<Local>,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: DateTime<Local>,
    /// In the first snapshot.
    pub present_at_start: bool,
}

/// What tells self-connections apart across snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SelfConnectKey {
    pub netns: u64,
    pub addr: SocketAddr,
}

impl SelfConnect {
    pub fn key(&self) -> SelfConnectKey {
        SelfConnectKey {
            netns: self.netns.id,
            addr: self.addr,
        }
    }

    fn first_seen(snap: &Snapshot, s: &Socket, first: bool) -> SelfConnect {
        SelfConnect {
            netns: NetnsRef::of(snap.namespace_of(s)),
            addr: s.entry.local,
            family: s.entry.family,
            state: s.entry.state,
            owner: s.owner.clone(),
            first_seen: snap.taken_at,
            last_seen: snap.taken_at,
            present_at_start: first,
        }
    }

    fn seen_again(&mut self, snap: &Snapshot, s: &Socket) {
        self.last_seen = snap.taken_at;
        self.state = s.entry.state;
        // Keep the process once known: in TIME_WAIT the kernel holds it.
        if self.owner.process().is_none() && s.owner.process().is_some() {
            self.owner = s.owner.clone();
        }
    }
}

/// The self-connections in the tables as of the last snapshot.
#[derive(Debug, Default)]
pub(super) struct SelfConnects {
    open: HashMap<SelfConnectKey, SelfConnect>,
}

impl SelfConnects {
    pub(super) fn get(&self, key: &SelfConnectKey) -> Option<&SelfConnect> {
        self.open.get(key)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &SelfConnect> {
        self.open.values()
    }

    /// Its namespace went: its self-connections ended with it.
    pub(super) fn forget_netns(&mut self, id: u64) {
        self.open.retain(|k, _| k.netns != id);
    }

    /// Those gone (oldest first), then those seen for the first time.
    pub(super) fn observe(&mut self, snap: &Snapshot, first: bool, out: &mut Vec<ChangeKind>) {
        let mut seen: Vec<(SelfConnectKey, &Socket)> = snap
            .sockets
            .iter()
            .filter(|s| {
                s.finding
                    .is_some_and(|f| f.kind == FindingKind::SelfConnect)
            })
            .map(|s| (key_of(snap, s), s))
            .collect();
        seen.sort_by_key(|(k, _)| *k);
        // The same address twice in a snapshot: the last row counts.
        seen.reverse();
        seen.dedup_by_key(|(k, _)| *k);
        seen.reverse();

        let mut gone: Vec<SelfConnect> = Vec::new();
        self.open.retain(|k, rec| {
            let keep = seen.binary_search_by_key(k, |(k, _)| *k).is_ok();
            if !keep {
                gone.push(rec.clone());
            }
            keep
        });
        gone.sort_by_key(|r| (r.first_seen, r.addr));
        out.extend(gone.into_iter().map(ChangeKind::SelfConnectGone));

        for (key, s) in seen {
            match self.open.get_mut(&key) {
                Some(rec) => rec.seen_again(snap, s),
                None => {
                    let rec = SelfConnect::first_seen(snap, s, first);
                    out.push(ChangeKind::SelfConnectSeen(rec.clone()));
                    self.open.insert(key, rec);
                }
            }
        }
    }
}

fn key_of(snap: &Snapshot, s: &Socket) -> SelfConnectKey {
    SelfConnectKey {
        netns: snap.namespace_of(s).id,
        addr: s.entry.local,
    }
}
