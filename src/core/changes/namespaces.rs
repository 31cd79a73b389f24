//! Changes of network namespaces: appeared, gone, and a change of their
//! port policy (the ephemeral range or the reserved list).

use std::collections::{HashMap, HashSet};

use serde::{Serialize, Serializer};

use super::{ChangeKind, NetnsRef};
use crate::core::ports::{PortPolicy, PortRange, ReservedPorts};
use crate::core::snapshot::Snapshot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceAppeared {
    pub netns: NetnsRef,
    /// In the first snapshot.
    pub present_at_start: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceGone {
    pub netns: NetnsRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeChanged {
    pub netns: NetnsRef,
    pub range: PortRange,
    pub was: PortRange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReservedChanged {
    pub netns: NetnsRef,
    #[serde(serialize_with = "spans")]
    pub reserved: ReservedPorts,
    #[serde(serialize_with = "spans")]
    pub was: ReservedPorts,
}

/// As in `scan --json`: a list of `{low, high}`.
fn spans<S: Serializer>(r: &ReservedPorts, s: S) -> Result<S::Ok, S::Error> {
    r.spans().serialize(s)
}

#[derive(Debug)]
struct Known {
    netns: NetnsRef,
    policy: PortPolicy,
}

/// The namespaces of the last snapshot, by id.
#[derive(Debug, Default)]
pub(super) struct Namespaces {
    known: HashMap<u64, Known>,
}

impl Namespaces {
    /// Records the snapshot's namespaces; returns the ids of those gone.
    pub(super) fn observe(
        &mut self,
        snap: &Snapshot,
        first: bool,
        out: &mut Vec<ChangeKind>,
    ) -> Vec<u64> {
        let mut gone: HashSet<u64> = self.known.keys().copied().collect();
        for ns in &snap.namespaces {
            gone.remove(&ns.id);
            let now = Known {
                netns: NetnsRef::of(ns),
                policy: ns.policy.clone(),
            };
            match self.known.get(&ns.id) {
                Some(old) => policy_changes(old, &now, out),
                None => out.push(ChangeKind::NamespaceAppeared(NamespaceAppeared {
                    netns: now.netns.clone(),
                    present_at_start: first,
                })),
            }
            self.known.insert(ns.id, now);
        }
        let mut gone: Vec<u64> = gone.into_iter().collect();
        gone.sort_unstable();
        for id in &gone {
            if let Some(old) = self.known.remove(id) {
                out.push(ChangeKind::NamespaceGone(NamespaceGone {
                    netns: old.netns,
                }));
            }
        }
        gone
    }
}

fn policy_changes(old: &Known, now: &Known, out: &mut Vec<ChangeKind>) {
    let (was, is) = (&old.policy, &now.policy);
    if was.range != is.range {
        out.push(ChangeKind::RangeChanged(RangeChanged {
            netns: now.netns.clone(),
            range: is.range,
            was: was.range,
        }));
    }
    if was.reserved != is.reserved {
        out.push(ChangeKind::ReservedChanged(ReservedChanged {
            netns: now.netns.clone(),
            reserved: is.reserved.clone(),
            was: was.reserved.clone(),
        }));
    }
}
