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
        let before = self.next_id;
        let at = snap.taken_at;
        let name_netns = snap.namespaces.len() > 1;
        self.many_netns = name_netns;
        let mut errors = 0;
        // The folded entries of this refresh: (appeared, gone).
        let mut folded: (Option<u64>, Option<u64>) = (None, None);
        let mut gone_ids: Vec<u64> = Vec::new();
        for change in self.changes.observe(snap) {
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
mod tests {
    use super::*;
    use crate::core::changes::fixtures::{host, listener, ns, snap, sock, t};
    use crate::core::snapshot::ScanError;
    use crate::core::socket::{Family, TcpState};
    use crate::tui::panes::events::Level;

    use crate::core::words::time_of_day;

    fn messages(tr: &Tracker) -> Vec<String> {
        tr.entries()
            .iter()
            .map(|e| format!("{} {}", time_of_day(&e.at), e.message()))
            .collect()
    }

    const SC: &str = "127.0.0.1:44600";

    #[test]
    fn a_short_lived_self_connect_stays_on_record_with_its_owner() {
        let mut tr = Tracker::new();
        tr.observe(&snap(0, host(), vec![]));
        tr.observe(&snap(
            1,
            host(),
            vec![sock(SC, SC, TcpState::Established, Some((42, "client")))],
        ));
        // Next refresh: it is in TIME_WAIT, held by the kernel.
        tr.observe(&snap(
            2,
            host(),
            vec![sock(SC, SC, TcpState::TimeWait, None)],
        ));
        tr.observe(&snap(3, host(), vec![]));
        assert_eq!(
            messages(&tr),
            vec![
                "12:00:00 watching 0 sockets: 0 self-connected, 0 risky listeners",
                "12:00:01 SELF-CONNECT 127.0.0.1:44600 ↔ itself (TIME_WAIT), held by pid 42 client; seen 12:00:01–12:00:02",
                "12:00:03 self-connect 127.0.0.1:44600 gone; it was seen 12:00:01–12:00:02, held by pid 42 client",
            ]
        );
        assert_eq!(tr.entries()[1].level(), Level::Alert);
    }

    #[test]
    fn self_connects_present_at_start_are_marked_and_still_there() {
        let mut tr = Tracker::new();
        let s = snap(5, host(), vec![sock(SC, SC, TcpState::Established, None)]);
        tr.observe(&s);
        let mut s2 = s.clone();
        s2.taken_at = t(6);
        assert_eq!(tr.observe(&s2), 0, "nothing new: the entry is updated");
        assert_eq!(
            messages(&tr)[1],
            "12:00:05 SELF-CONNECT 127.0.0.1:44600 ↔ itself (ESTABLISHED), held by the kernel; \
             present at start, seen 12:00:05–12:00:06, still there"
        );
    }

    #[test]
    fn risky_listeners_appear_and_disappear_by_port() {
        let mut tr = Tracker::new();
        let l6 = || {
            let mut s = listener(44600, None);
            s.entry.local = "[::]:44600".parse().unwrap();
            s.entry.family = Family::Ipv6;
            s
        };
        let safe = || listener(22, Some((1, "sshd")));
        tr.observe(&snap(0, host(), vec![safe()]));
        let both = vec![safe(), listener(44600, Some((7, "db"))), l6()];
        tr.observe(&snap(1, host(), both));
        // One of two listeners on the port goes: the port is still taken.
        tr.observe(&snap(2, host(), vec![safe(), l6()]));
        tr.observe(&snap(3, host(), vec![safe()]));
        let m = messages(&tr);
        assert_eq!(m.len(), 3, "{m:#?}");
        assert_eq!(
            m[1],
            "12:00:01 high-risk listener on 0.0.0.0:44600 appeared, held by pid 7 db"
        );
        assert_eq!(
            m[2],
            "12:00:03 nothing listens on 44600 any more (pid 7 db stopped listening): clients \
             retrying it can now connect to themselves"
        );
        assert_eq!(tr.entries()[2].level(), Level::Warning);
    }

    #[test]
    fn policy_changes_are_logged_and_a_reserved_port_is_no_longer_risky() {
        let mut tr = Tracker::new();
        let l = || listener(44601, None);
        tr.observe(&snap(0, vec![ns(1, "host", "")], vec![l()]));
        tr.observe(&snap(1, vec![ns(1, "host", "44601")], vec![l()]));
        let m = messages(&tr);
        assert_eq!(
            m[1],
            "12:00:00 medium-risk listener on 0.0.0.0:44601 (present at start), held by the kernel"
        );
        assert_eq!(m[2], "12:00:01 reserved ports now 44601 (was none)");
        assert_eq!(
            m[3],
            "12:00:01 44601 is no longer at risk: reserved now, or outside the ephemeral range"
        );
    }

    #[test]
    fn namespaces_are_named_when_there_are_several() {
        let mut tr = Tracker::new();
        let mut s = sock(SC, SC, TcpState::Established, None);
        s.netns = 1;
        tr.observe(&snap(0, vec![ns(1, "host", ""), ns(2, "web", "")], vec![s]));
        assert!(messages(&tr)[1].contains("[web] SELF-CONNECT"));
        // The namespace goes away with its socket: no "gone" for each socket.
        tr.observe(&snap(1, host(), vec![]));
        let m = messages(&tr);
        assert_eq!(
            m.last().unwrap(),
            "12:00:01 network namespace web is gone, and its sockets with it"
        );
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn the_self_connects_of_a_namespace_that_went_are_no_longer_still_there() {
        let mut tr = Tracker::new();
        let two = || vec![ns(1, "host", ""), ns(2, "web", "")];
        let mut s = sock(SC, SC, TcpState::Established, Some((5, "app")));
        s.netns = 1;
        tr.observe(&snap(0, host(), vec![]));
        tr.observe(&snap(1, two(), vec![s.clone()]));
        tr.observe(&snap(2, two(), vec![s]));
        assert_eq!(messages(&tr)[1], "12:00:01 network namespace web appeared");
        assert!(tr.entries()[2].ongoing);
        assert!(messages(&tr)[2].ends_with("seen 12:00:01–12:00:02, still there"));
        tr.observe(&snap(3, host(), vec![]));
        let m = messages(&tr);
        assert!(!tr.entries()[2].ongoing);
        assert_eq!(
            m[2],
            "12:00:01 [web] SELF-CONNECT 127.0.0.1:44600 ↔ itself (ESTABLISHED), held by pid 5 \
             app; seen 12:00:01–12:00:02; its network namespace is gone"
        );
        assert!(tr.entries()[2].netns_gone);
        // Later snapshots do not bring it back.
        tr.observe(&snap(4, host(), vec![]));
        assert!(!messages(&tr)[2].contains("still there"));
        assert_eq!(m.len(), 4, "{m:#?}");
    }

    #[test]
    fn failures_errors_and_recovery_are_logged_once() {
        let mut tr = Tracker::new();
        tr.observe_failure(t(0), "cannot read the TCP tables");
        tr.observe_failure(t(1), "cannot read the TCP tables");
        let mut s = snap(2, host(), vec![]);
        s.errors = vec![ScanError::new("/proc/net/tcp6", "not found")];
        tr.observe(&s);
        s.taken_at = t(3);
        tr.observe(&s);
        let m = messages(&tr);
        assert_eq!(
            m,
            vec![
                "12:00:00 scan failed: cannot read the TCP tables",
                "12:00:02 scanning works again",
                "12:00:02 watching 0 sockets: 0 self-connected, 0 risky listeners",
                "12:00:02 scan error: /proc/net/tcp6: not found",
            ]
        );
        assert_eq!(tr.entries()[0].level(), Level::Error);
    }

    #[test]
    fn many_new_errors_are_listed_three_then_counted_and_made_safe() {
        let mut tr = Tracker::new();
        let mut s = snap(0, host(), vec![]);
        s.errors = (0..5)
            .map(|i| ScanError::new(format!("/proc/{i}/net/tcp"), "gone\x1b[2J"))
            .collect();
        tr.observe(&s);
        let m = messages(&tr);
        assert_eq!(m.len(), 5, "{m:#?}");
        assert_eq!(m[1], "12:00:00 scan error: /proc/0/net/tcp: gone\\x1b[2J");
        assert_eq!(m[4], "12:00:00 scan error: and 2 more (see the header)");
    }

    #[test]
    fn hostile_process_and_namespace_names_reach_the_log_escaped() {
        let mut tr = Tracker::new();
        let mut s = sock(
            SC,
            SC,
            TcpState::Established,
            Some((6, "evil\x1b]0;pwned\x07\n")),
        );
        s.netns = 1;
        let names = vec![ns(1, "host", ""), ns(2, "web\u{202e}x", "")];
        tr.observe(&snap(0, names, vec![s]));
        let m = &messages(&tr)[1];
        assert!(
            !m.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{m:?}"
        );
        assert!(m.contains("[web\\u{202e}x]"), "{m}");
        assert!(m.contains("pid 6 evil\\x1b]0;pwned\\x07\\n"), "{m}");
    }

    #[test]
    fn the_log_is_bounded() {
        let mut tr = Tracker::new();
        for _ in 0..(LOG_CAPACITY + 10) {
            tr.observe_failure(t(0), "x");
            tr.observe(&snap(0, host(), vec![]));
        }
        assert_eq!(tr.len(), LOG_CAPACITY);
        // Ids stay increasing, so in-place updates still find their entry.
        let ids: Vec<u64> = tr.entries().iter().map(|e| e.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn namespaces_of_one_refresh_are_folded_into_one_line_each_way() {
        let mut tr = Tracker::new();
        let many = |n: u64| -> Vec<_> {
            std::iter::once(ns(1, "host", ""))
                .chain((2..2 + n).map(|i| ns(i, &format!("c{i}"), "")))
                .collect()
        };
        tr.observe(&snap(0, host(), vec![]));
        tr.observe(&snap(1, many(3), vec![]));
        tr.observe(&snap(2, many(9), vec![]));
        tr.observe(&snap(3, many(1), vec![]));
        tr.observe(&snap(4, host(), vec![]));
        let m = messages(&tr);
        assert_eq!(
            m[1..],
            [
                "12:00:01 3 network namespaces appeared: c2, c3, c4",
                "12:00:02 6 network namespaces appeared: c5, c6, c7, c8, c9, c10",
                "12:00:03 8 network namespaces are gone, and their sockets with them: c3, c4, \
                 c5, c6, c7, c8, and 2 more",
                "12:00:04 network namespace c2 is gone, and its sockets with it",
            ]
        );
        assert!(tr.entries()[1].what.is_namespace_event());
        assert!(!tr.entries()[0].what.is_namespace_event());
        assert_eq!(tr.entries()[1].level(), Level::Info);
    }

    #[test]
    fn notes_are_logged_as_written_and_made_safe() {
        let mut tr = Tracker::new();
        tr.note(t(7), "copied x\x1b[2J".to_string());
        assert_eq!(messages(&tr), vec!["12:00:07 copied x\\x1b[2J"]);
    }
}
