//! Changes of risky listeners, tracked by port per namespace: a port
//! matters while anything listens on it (the kernel never hands out a bound
//! port as a source port), and becomes dangerous when the last listener goes.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::{ChangeKind, NetnsRef, owner_data};
use crate::core::ports::Risk;
use crate::core::snapshot::{Owner, Snapshot, Socket};
use crate::core::socket::{Family, TcpState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerAppeared {
    pub netns: NetnsRef,
    /// The listening address named (one with a known owner if any).
    pub addr: SocketAddr,
    pub family: Family,
    pub risk: Risk,
    #[serde(serialize_with = "owner_data")]
    pub owner: Owner,
    /// In the first snapshot.
    pub present_at_start: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerRiskChanged {
    pub netns: NetnsRef,
    pub port: u16,
    pub risk: Risk,
    pub was: Risk,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerSafe {
    pub netns: NetnsRef,
    pub port: u16,
    pub was: Risk,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerGone {
    pub netns: NetnsRef,
    pub port: u16,
    pub risk: Risk,
    /// Who listened when the port was first seen at risk.
    #[serde(serialize_with = "owner_data")]
    pub owner: Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PortKey {
    netns: u64,
    port: u16,
}

#[derive(Debug, Clone)]
struct Risky {
    netns: NetnsRef,
    risk: Risk,
    owner: Owner,
}

/// The risky listening ports of the last snapshot.
#[derive(Debug, Default)]
pub(super) struct Listeners {
    risky: HashMap<PortKey, Risky>,
}

impl Listeners {
    pub(super) fn forget_netns(&mut self, id: u64) {
        self.risky.retain(|k, _| k.netns != id);
    }

    /// Ports that went or became safe, then ports that appeared or
    /// changed risk, each in (namespace, port) order.
    pub(super) fn observe(&mut self, snap: &Snapshot, first: bool, out: &mut Vec<ChangeKind>) {
        let listening = listening_ports(snap);
        self.ended(&listening, out);
        let mut now: Vec<(PortKey, Vec<&Socket>)> = listening.into_iter().collect();
        now.sort_by_key(|(k, _)| *k);
        for (key, socks) in now {
            self.seen(snap, key, &socks, first, out);
        }
    }

    fn ended(&mut self, listening: &HashMap<PortKey, Vec<&Socket>>, out: &mut Vec<ChangeKind>) {
        let mut old: Vec<PortKey> = self.risky.keys().copied().collect();
        old.sort_unstable();
        for key in old {
            let listened = listening.get(&key);
            if listened.is_some_and(|socks| socks.iter().any(|s| s.finding.is_some())) {
                continue;
            }
            let Some(rec) = self.risky.remove(&key) else {
                continue;
            };
            out.push(match listened {
                Some(_) => ChangeKind::ListenerSafe(ListenerSafe {
                    netns: rec.netns,
                    port: key.port,
                    was: rec.risk,
                }),
                None => ChangeKind::ListenerGone(ListenerGone {
                    netns: rec.netns,
                    port: key.port,
                    risk: rec.risk,
                    owner: rec.owner,
                }),
            });
        }
    }

    fn seen(
        &mut self,
        snap: &Snapshot,
        key: PortKey,
        socks: &[&Socket],
        first: bool,
        out: &mut Vec<ChangeKind>,
    ) {
        let risks = socks.iter().filter_map(|s| s.finding.and_then(|f| f.risk));
        let Some(risk) = risks.max() else {
            return;
        };
        if let Some(rec) = self.risky.get_mut(&key) {
            if rec.risk != risk {
                out.push(ChangeKind::ListenerRiskChanged(ListenerRiskChanged {
                    netns: rec.netns.clone(),
                    port: key.port,
                    risk,
                    was: std::mem::replace(&mut rec.risk, risk),
                }));
            }
            return;
        }
        // The socket to name: one with a known owner if any.
        let s = socks
            .iter()
            .find(|s| s.owner.process().is_some())
            .unwrap_or(&socks[0]);
        let netns = NetnsRef::of(snap.namespace_of(s));
        out.push(ChangeKind::ListenerAppeared(ListenerAppeared {
            netns: netns.clone(),
            addr: s.entry.local,
            family: s.entry.family,
            risk,
            owner: s.owner.clone(),
            present_at_start: first,
        }));
        let owner = s.owner.clone();
        self.risky.insert(key, Risky { netns, risk, owner });
    }
}

/// Every listening socket of the snapshot, by (namespace, port).
fn listening_ports(snap: &Snapshot) -> HashMap<PortKey, Vec<&Socket>> {
    let mut listening: HashMap<PortKey, Vec<&Socket>> = HashMap::new();
    for s in snap.sockets.iter() {
        if s.entry.state == TcpState::Listen {
            let key = PortKey {
                netns: snap.namespace_of(s).id,
                port: s.entry.local.port(),
            };
            listening.entry(key).or_default().push(s);
        }
    }
    listening
}
