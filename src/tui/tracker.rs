//! The dashboard's event log: the core's changes between snapshots
//! ([`crate::core::changes`]), kept in a bounded list for the log pane,
//! which words them. Pure (no clock, no I/O).
//!
//! A self-connection's entry is updated while the socket lasts (state,
//! owner once known, last sighting) and ends when it goes or when its
//! namespace goes; a second entry says it went, so a connection that lived
//! between two refreshes stays on record. Namespaces that appear or go in
//! one refresh are folded into one entry each way (a laptop starting ten
//! containers gets one line, not ten).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Local};

use crate::core::changes::{
    ChangeKind, ChangeTracker, IncidentRecord, NetnsRef, RetryStorm, SelfConnectCaught,
    SelfConnectKey,
};
use crate::core::live::LiveEvent;
use crate::core::snapshot::{Owner, Snapshot, UnknownOwner};
use crate::core::socket::FindingKind;
use crate::sys::tracefs::Caught;

/// How many entries the log keeps; older ones are dropped.
pub const LOG_CAPACITY: usize = 1000;
/// New scan errors listed one by one per snapshot; the rest are counted.
const ERRORS_PER_SCAN: usize = 3;

/// Whether live catch runs, as the header says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveCatchStatus {
    /// Events come from tracefs; `storms_off` says why refused connects
    /// are not watched, when they are not.
    On { storms_off: Option<String> },
    /// Off, and why (`not root`, `tracefs unavailable: ...`).
    Off(String),
}

impl LiveCatchStatus {
    /// `live catch: tracefs`, `live catch: off (not root)`.
    pub fn words(&self) -> String {
        match self {
            LiveCatchStatus::On { storms_off: None } => "live catch: tracefs".into(),
            LiveCatchStatus::On {
                storms_off: Some(why),
            } => format!("live catch: tracefs (no retry storms: {why})"),
            LiveCatchStatus::Off(why) => format!("live catch: off ({why})"),
        }
    }
}

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    Change(ChangeKind),
    /// New scan errors beyond those listed one by one.
    MoreScanErrors(usize),
    /// Network namespaces that appeared in one refresh.
    NamespacesAppeared(Vec<NetnsRef>),
    /// Network namespaces gone in one refresh (their sockets with them).
    NamespacesGone(Vec<NetnsRef>),
    /// Something the dashboard did, in its own words (a copy to the
    /// clipboard).
    Note(String),
}

impl Logged {
    /// Whether the entry is about namespaces coming and going (these can
    /// be hidden).
    pub fn is_namespace_event(&self) -> bool {
        matches!(
            self,
            Logged::NamespacesAppeared(_) | Logged::NamespacesGone(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Increasing; stable while the entry lives.
    pub id: u64,
    pub at: DateTime<Local>,
    pub what: Logged,
    /// A self-connection still in the tables (its entry is kept up to date).
    pub ongoing: bool,
    /// The snapshot had several namespaces: the entry names its own.
    pub name_netns: bool,
    /// A self-connection that ended because its namespace went.
    pub netns_gone: bool,
}

/// Turns a stream of snapshots into log entries.
#[derive(Debug, Default)]
pub struct Tracker {
    changes: ChangeTracker,
    entries: VecDeque<LogEntry>,
    next_id: u64,
    /// The entry of each self-connection still in the tables.
    ongoing: HashMap<SelfConnectKey, u64>,
    /// None until the dashboard says (tests that do not use it).
    live: Option<LiveCatchStatus>,
    /// The last snapshot had several namespaces.
    many_netns: bool,
    /// Events the kernel dropped before live catch read them.
    lost: u64,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &VecDeque<LogEntry> {
        &self.entries
    }

    /// How long after a listener goes a self-connection on its port is
    /// an incident.
    pub fn set_incident_window(&mut self, window: chrono::TimeDelta) {
        self.changes.set_incident_window(window);
    }

    /// The open incident whose port this self-connection holds.
    pub fn incident_of(&self, key: &SelfConnectKey) -> Option<&IncidentRecord> {
        self.changes.incident_of(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, at: DateTime<Local>, what: Logged, name_netns: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let ongoing = matches!(what, Logged::Change(ChangeKind::SelfConnectSeen(_)));
        self.entries.push_back(LogEntry {
            id,
            at,
            what,
            ongoing,
            name_netns,
            netns_gone: false,
        });
        while self.entries.len() > LOG_CAPACITY {
            self.entries.pop_front();
        }
        id
    }

    fn entry_mut(&mut self, id: u64) -> Option<&mut LogEntry> {
        let i = self.entries.binary_search_by_key(&id, |e| e.id).ok()?;
        self.entries.get_mut(i)
    }

    pub fn live_catch(&self) -> Option<&LiveCatchStatus> {
        self.live.as_ref()
    }

    /// The window retry storms are counted over (for their wording).
    pub fn set_storm_window(&mut self, window: std::time::Duration) {
        self.changes.set_storm_window(window);
    }

    pub fn set_live_catch(&mut self, status: LiveCatchStatus) {
        self.live = Some(status);
    }

    /// Events live catch missed (the kernel's buffer overflowed).
    pub fn live_events_lost(&self) -> u64 {
        self.lost
    }

    /// Self-connects caught live, oldest first, until cleared.
    pub fn caught(&self) -> impl Iterator<Item = &SelfConnectCaught> {
        self.changes.caught()
    }

    /// Retry storms going on, by target.
    pub fn storms(&self) -> Vec<&RetryStorm> {
        let mut v: Vec<&RetryStorm> = self.changes.storms().collect();
        v.sort_by_key(|s| (s.first_seen, s.target, s.pid));
        v
    }

    /// Forgets the caught self-connects (`C`); returns how many.
    pub fn clear_caught(&mut self) -> usize {
        self.changes.clear_caught()
    }

    /// An event of live catch: logged at once. Returns whether anything
    /// on screen changed.
    pub fn observe_live(&mut self, caught: &Caught) -> bool {
        match &caught.event {
            LiveEvent::Lost { count } => {
                self.lost += count;
                return true;
            }
            LiveEvent::Failed { reason } => {
                self.live = Some(LiveCatchStatus::Off(format!("stopped: {reason}")));
                return true;
            }
            _ => {}
        }
        let storm_ongoing = matches!(&caught.event, LiveEvent::Storm { .. });
        match self.changes.observe_live(caught.wall, &caught.event) {
            Some(change) => {
                self.push(change.time, Logged::Change(change.kind), self.many_netns);
                true
            }
            // An ongoing storm's rate changed.
            None => storm_ongoing,
        }
    }

    /// Names the process behind a self-connection the kernel holds
    /// (TIME_WAIT) when it was caught live: the tables no longer can.
    pub fn attribute(&self, snap: &mut Snapshot) {
        let ids: Vec<u64> = snap.namespaces.iter().map(|n| n.id).collect();
        for s in &mut snap.sockets {
            let kernel_held = matches!(s.owner, Owner::Unknown(UnknownOwner::KernelHeld));
            let self_connect = s
                .finding
                .is_some_and(|f| f.kind == FindingKind::SelfConnect);
            if !kernel_held || !self_connect {
                continue;
            }
            let key = SelfConnectKey {
                netns: ids.get(s.netns).copied().unwrap_or(0),
                addr: s.entry.local,
            };
            if let Some(o) = self.changes.caught_owner(&key) {
                s.owner = o.as_owner();
            }
        }
    }

    /// A scan failed completely; logged once until a scan works again.
    pub fn observe_failure(&mut self, at: DateTime<Local>, message: &str) {
        if let Some(change) = self.changes.observe_failure(at, message) {
            self.push(at, Logged::Change(change.kind), false);
        }
    }

    /// Records a note of the dashboard's own (e.g. what was copied).
    pub fn note(&mut self, at: DateTime<Local>, text: String) {
        self.push(at, Logged::Note(text), false);
    }

    /// Records what changed since the previous snapshot; returns how many
    /// entries were added.
    pub fn observe(&mut self, snap: &Snapshot) -> usize {
        self.observe_read(snap, true)
    }

    /// [`Self::observe`] for a listeners-only refresh (see
    /// [`ChangeTracker::observe_listeners`]).
    pub fn observe_listeners(&mut self, snap: &Snapshot) -> usize {
        self.observe_read(snap, false)
    }

    fn observe_read(&mut self, snap: &Snapshot, connections_read: bool) -> usize {
        let before = self.next_id;
        let at = snap.taken_at;
        let name_netns = snap.namespaces.len() > 1;
        self.many_netns = name_netns;
        let mut errors = 0;
        // The folded entries of this refresh: (appeared, gone).
        let mut folded: (Option<u64>, Option<u64>) = (None, None);
        let mut gone_ids: Vec<u64> = Vec::new();
        let changes = if connections_read {
            self.changes.observe(snap)
        } else {
            self.changes.observe_listeners(snap)
        };
        for change in changes {
            let kind = change.kind;
            if !matches!(kind, ChangeKind::ScanError(_)) {
                self.flush_errors(at, &mut errors);
            }
            match &kind {
                // "watching ..." covers what was there at start; the header
                // lists the errors of now.
                ChangeKind::NamespaceAppeared(n) if n.present_at_start => continue,
                ChangeKind::NamespaceAppeared(n) => {
                    self.fold(at, &mut folded.0, true, n.netns.clone());
                    continue;
                }
                ChangeKind::NamespaceGone(n) => {
                    gone_ids.push(n.netns.id);
                    self.fold(at, &mut folded.1, false, n.netns.clone());
                    continue;
                }
                ChangeKind::ScanErrorCleared(_) => continue,
                ChangeKind::ScanError(_) => {
                    errors += 1;
                    if errors > ERRORS_PER_SCAN {
                        continue;
                    }
                }
                _ => {}
            }
            let key = match &kind {
                ChangeKind::SelfConnectSeen(s) => Some(s.key()),
                _ => None,
            };
            let id = self.push(at, Logged::Change(kind), name_netns);
            if let Some(key) = key {
                self.ongoing.insert(key, id);
            }
        }
        self.flush_errors(at, &mut errors);
        self.follow_self_connects(&gone_ids);
        (self.next_id - before) as usize
    }

    /// Adds a namespace to this refresh's folded entry (`appeared` or
    /// gone), made at the first one.
    fn fold(&mut self, at: DateTime<Local>, entry: &mut Option<u64>, appeared: bool, ns: NetnsRef) {
        if let Some(id) = *entry
            && let Some(e) = self.entry_mut(id)
            && let Logged::NamespacesAppeared(v) | Logged::NamespacesGone(v) = &mut e.what
        {
            v.push(ns);
            return;
        }
        let what = if appeared {
            Logged::NamespacesAppeared(vec![ns])
        } else {
            Logged::NamespacesGone(vec![ns])
        };
        *entry = Some(self.push(at, what, false));
    }

    /// Counts the new errors not listed one by one, in one entry.
    fn flush_errors(&mut self, at: DateTime<Local>, errors: &mut usize) {
        let extra = std::mem::take(errors).saturating_sub(ERRORS_PER_SCAN);
        if extra > 0 {
            self.push(at, Logged::MoreScanErrors(extra), false);
        }
    }

    /// Brings the entries of ongoing self-connections up to date, and ends
    /// those no longer in the tables (gone, or their namespace gone: in
    /// `gone_netns`, and then the entry says so).
    fn follow_self_connects(&mut self, gone_netns: &[u64]) {
        let ongoing: Vec<(SelfConnectKey, u64)> = self.ongoing.drain().collect();
        for (key, id) in ongoing {
            let now = self.changes.self_connect(&key).cloned();
            let Some(entry) = self.entry_mut(id) else {
                // Dropped from the bounded log: nothing left to update.
                continue;
            };
            match now {
                Some(rec) => {
                    entry.what = Logged::Change(ChangeKind::SelfConnectSeen(rec));
                    self.ongoing.insert(key, id);
                }
                None => {
                    entry.ongoing = false;
                    entry.netns_gone = gone_netns.contains(&key.netns);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
