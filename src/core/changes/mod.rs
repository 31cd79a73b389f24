//! What changed between consecutive scans, as typed data: namespaces that
//! appeared or went, port policy changes, scan errors, risky listeners
//! appearing and going, self-connections seen and gone. Each change carries
//! its facts (namespace id and name, address, owner with pid, process name,
//! user and command line, timestamps) and no words: the dashboard's event
//! log words them, and a headless stream can print them as NDJSON.
//!
//! [`ChangeTracker`] is fed snapshots (and whole-scan failures) with their
//! own timestamps; it keeps what it needs to diff the next one (first and
//! last sightings, the owner once known) and returns the changes. Pure: no
//! clock, no I/O. One file per kind of change.
//!
//! Every kind is a variant with its own payload struct under one `event`
//! tag: a change caught live from the kernel (a self-connect, a retry
//! storm starting or ending: `live`, fed through
//! [`ChangeTracker::observe_live`]) is one more variant with its own file
//! and state, as the incident (`port_stolen`: a listener gone, then a
//! self-connect on its port) is.

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod incident_tests;
mod incidents;
mod listeners;
mod live;
#[cfg(test)]
mod live_tests;
mod namespaces;
mod scan_errors;
mod self_connects;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Local};
use serde::{Serialize, Serializer};

pub use incidents::{
    BindFailure, DEFAULT_WINDOW as DEFAULT_INCIDENT_WINDOW, Fact, Incident, IncidentRecord,
    Inference, LostListener, PortHolder, Retries, Step as TimelineStep, Timeline,
};
pub use listeners::{ListenerAppeared, ListenerGone, ListenerRiskChanged, ListenerSafe};
pub use live::{LiveOwner, RetryStorm, SelfConnectCaught};
pub use namespaces::{NamespaceAppeared, NamespaceGone, RangeChanged, ReservedChanged};
pub use scan_errors::{ScanFailed, WatchStarted};
pub use self_connects::{SelfConnect, SelfConnectKey};

use crate::core::live::LiveEvent;
use crate::core::snapshot::{Namespace, Owner, ProcessInfo, ScanError, Snapshot, UnknownOwner};

/// One change, at the time of the scan that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    #[serde(serialize_with = "rfc3339")]
    pub time: DateTime<Local>,
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// Every kind of change; serialised with its name in `event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChangeKind {
    /// The first snapshot: what is being watched.
    WatchStarted(WatchStarted),
    /// A whole scan failed (reported once until a scan works again).
    ScanFailed(ScanFailed),
    /// A scan worked again after failures.
    ScanRecovered,
    /// The scan could not read something (reported once while it lasts).
    ScanError(ScanError),
    /// A scan error no longer occurs.
    ScanErrorCleared(ScanError),
    NamespaceAppeared(NamespaceAppeared),
    /// A namespace went, and everything in it ended with it (its
    /// self-connects and listeners get no change of their own).
    NamespaceGone(NamespaceGone),
    RangeChanged(RangeChanged),
    ReservedChanged(ReservedChanged),
    /// A port inside the ephemeral range started being listened on.
    ListenerAppeared(ListenerAppeared),
    ListenerRiskChanged(ListenerRiskChanged),
    /// Still listened on, but the policy changed and it is no longer at risk.
    ListenerSafe(ListenerSafe),
    /// The last listener on a risky port went away.
    ListenerGone(ListenerGone),
    /// A self-connected socket, first seen.
    SelfConnectSeen(SelfConnect),
    /// A self-connected socket no longer in the tables.
    SelfConnectGone(SelfConnect),
    /// A self-connection on a port whose listener went shortly before, in
    /// the same namespace: the port stolen from a restarting service.
    PortStolen(Box<Incident>),
    /// A self-connect caught by the kernel as it happened, with the
    /// process that made it (live catch).
    SelfConnectCaught(Box<SelfConnectCaught>),
    /// A local client refused again and again on a port the kernel may
    /// hand it as its source port (live catch): a finding.
    RetryStormStarted(Box<RetryStorm>),
    RetryStormEnded(Box<RetryStorm>),
}

/// A network namespace as changes name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NetnsRef {
    /// Its inode number (as in `/proc/PID/ns/net`); 0 when unknown.
    pub id: u64,
    pub name: String,
}

impl NetnsRef {
    pub fn of(ns: &Namespace) -> NetnsRef {
        NetnsRef {
            id: ns.id,
            name: ns.name.clone(),
        }
    }
}

/// Turns a stream of snapshots into changes.
#[derive(Debug, Default)]
pub struct ChangeTracker {
    started: bool,
    errors: scan_errors::ScanErrors,
    namespaces: namespaces::Namespaces,
    listeners: listeners::Listeners,
    self_connects: self_connects::SelfConnects,
    incidents: incidents::Incidents,
    live: live::Live,
}

impl ChangeTracker {
    pub fn new() -> ChangeTracker {
        ChangeTracker::default()
    }

    /// A whole scan failed: a change the first time, until one works again.
    pub fn observe_failure(&mut self, at: DateTime<Local>, message: &str) -> Option<Change> {
        self.errors
            .failed(message)
            .map(|kind| Change { time: at, kind })
    }

    /// What changed since the previous snapshot, least urgent first (so a
    /// newest-first list shows a refresh's self-connects on top).
    pub fn observe(&mut self, snap: &Snapshot) -> Vec<Change> {
        self.observe_read(snap, true)
    }

    /// [`Self::observe`] for a snapshot whose listeners were read now and
    /// whose other sockets are those of an earlier full read (the
    /// dashboard's listeners-only refresh): those say nothing new, so
    /// self-connects are neither updated nor closed by it.
    pub fn observe_listeners(&mut self, snap: &Snapshot) -> Vec<Change> {
        self.observe_read(snap, false)
    }

    fn observe_read(&mut self, snap: &Snapshot, connections_read: bool) -> Vec<Change> {
        let mut out = Vec::new();
        self.errors.recovered(&mut out);
        let first = !self.started;
        if first {
            out.push(ChangeKind::WatchStarted(WatchStarted::of(snap)));
        }
        for gone in self.namespaces.observe(snap, first, &mut out) {
            self.listeners.forget_netns(gone);
            self.self_connects.forget_netns(gone);
            self.incidents.forget_netns(gone);
        }
        self.errors.observe(snap, &mut out);
        self.listeners.observe(snap, first, &mut out);
        if connections_read {
            self.self_connects.observe(snap, first, &mut out);
        }
        self.incidents.observe(snap, &mut out);
        let open = self.self_connects.iter().map(SelfConnect::key).collect();
        self.live.observe(snap, connections_read.then_some(&open));
        self.started = true;
        out.into_iter()
            .map(|kind| Change {
                time: snap.taken_at,
                kind,
            })
            .collect()
    }

    /// A self-connection still in the tables, as of the last snapshot
    /// (state and last sighting updated, owner kept once known).
    pub fn self_connect(&self, key: &SelfConnectKey) -> Option<&SelfConnect> {
        self.self_connects.get(key)
    }

    /// The self-connections in the tables as of the last snapshot.
    pub fn self_connects(&self) -> impl Iterator<Item = &SelfConnect> {
        self.self_connects.iter()
    }

    /// An event of the live kernel source, at the wall time the kernel
    /// recorded it: a self-connect caught, a retry storm started or ended
    /// (one that goes on only updates [`ChangeTracker::storms`]). A storm
    /// also counts as retries of the open incident on its port.
    pub fn observe_live(&mut self, wall: DateTime<Local>, ev: &LiveEvent) -> Option<Change> {
        let kind = match self.live.event(wall, ev)? {
            live::LiveChange::Caught(c) => ChangeKind::SelfConnectCaught(Box::new(c)),
            live::LiveChange::StormStarted(s) => {
                self.note_storm(&s);
                ChangeKind::RetryStormStarted(Box::new(s))
            }
            live::LiveChange::StormEnded(s) => {
                self.note_storm(&s);
                ChangeKind::RetryStormEnded(Box::new(s))
            }
        };
        Some(Change { time: wall, kind })
    }

    fn note_storm(&mut self, s: &RetryStorm) {
        let retries = Retries {
            count: s.total,
            first: s.first_seen,
            last: s.last_seen,
        };
        self.note_retries(s.netns.id, s.port, retries);
    }

    /// The window retry storms are counted over (the default one unless
    /// set): a storm's refusals are "in" the shorter of it and its age.
    pub fn set_storm_window(&mut self, window: std::time::Duration) {
        self.live.set_storm_window(window);
    }

    /// Self-connects caught live, oldest first, until cleared.
    pub fn caught(&self) -> impl Iterator<Item = &SelfConnectCaught> {
        self.live.caught()
    }

    /// Forgets the caught self-connects; returns how many there were.
    pub fn clear_caught(&mut self) -> usize {
        self.live.clear_caught()
    }

    /// Retry storms going on, with their live rate.
    pub fn storms(&self) -> impl Iterator<Item = &RetryStorm> {
        self.live.storms()
    }

    /// The process that made a self-connection, when it was caught live
    /// (the tables show TIME_WAIT rows as the kernel's).
    pub fn caught_owner(&self, key: &SelfConnectKey) -> Option<&LiveOwner> {
        self.live.owner_of(key)
    }

    /// How long after a listener goes a self-connection on its port is
    /// linked to it ([`DEFAULT_INCIDENT_WINDOW`] unless set).
    pub fn set_incident_window(&mut self, window: chrono::TimeDelta) {
        self.incidents.set_window(window);
    }

    /// The incidents reported, open or recently closed, oldest first,
    /// each with its timeline as of the last snapshot.
    pub fn incidents(&self) -> &[IncidentRecord] {
        self.incidents.records()
    }

    /// The open incident whose port `key`'s self-connection holds.
    pub fn incident_of(&self, key: &SelfConnectKey) -> Option<&IncidentRecord> {
        self.incidents.records().iter().rev().find(|r| {
            r.is_open()
                && r.incident.netns.id == key.netns
                && r.incident.self_connect.addr == key.addr
        })
    }

    /// Failed connects to the port seen live (a kernel event source):
    /// added to the open incident on it, if any. Returns whether one was.
    pub fn note_retries(&mut self, netns: u64, port: u16, retries: Retries) -> bool {
        self.incidents
            .open_mut(netns, port)
            .map(|r| r.timeline.retries = Some(retries))
            .is_some()
    }

    /// A failed `bind()` of the port seen live: added to the open
    /// incident on it, if any. Returns whether one was.
    pub fn note_bind_failure(&mut self, netns: u64, port: u16, failure: BindFailure) -> bool {
        self.incidents
            .open_mut(netns, port)
            .map(|r| r.timeline.bind_failure = Some(failure))
            .is_some()
    }
}

/// Times as in `scan --json`'s `taken_at`.
fn rfc3339<S: Serializer>(t: &DateTime<Local>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// The owner as data: pid, process name, command line and user, or why
/// it is unknown (`kernel_held`, `not_permitted`, ...).
fn owner_data<S: Serializer>(owner: &Owner, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum OwnerData<'a> {
        Process(&'a ProcessInfo),
        Unknown {
            unknown: UnknownOwner,
            reason: &'static str,
        },
    }
    match owner {
        Owner::Process(p) => OwnerData::Process(Arc::as_ref(p)),
        Owner::Unknown(why) => OwnerData::Unknown {
            unknown: *why,
            reason: why.reason(),
        },
    }
    .serialize(s)
}
