//! Incidents: a self-connection that appears on a port whose listener went
//! away shortly before, in the same network namespace. That is the story
//! behind most bug reports (ZOOKEEPER-2101, KAFKA-1836, JDK-8067207): a
//! service restarts, a peer keeps reconnecting to the vacated port, is
//! handed that very port as its source port, connects to itself and holds
//! the port; the service cannot bind it again (EADDRINUSE).
//!
//! Built from the changes the other kinds produce in the same pass (a risky
//! listener appearing or gone, a self-connection seen or gone), so it needs
//! no table of its own: one [`Incident`] per listener gone, when the first
//! self-connection on its port follows within the window. Each incident
//! keeps a [`Timeline`] that later scans (the port freed, a listener back)
//! and a live kernel source (retries, a failed bind) complete.
//!
//! Times are those of the scans: the listener went between its last
//! sighting and the first scan without it, which is what `delay_ms` and
//! `delay_at_most_ms` bound.

use std::collections::HashMap;
use std::net::SocketAddr;

use chrono::{DateTime, Local, TimeDelta};
use serde::Serialize;

use super::{
    ChangeKind, ListenerAppeared, ListenerGone, NetnsRef, SelfConnect, owner_data, rfc3339,
};
use crate::core::snapshot::{Owner, Snapshot};
use crate::core::socket::{Family, TcpState};

/// How long after a listener goes a self-connection on its port still
/// counts as its cause.
pub const DEFAULT_WINDOW: TimeDelta = TimeDelta::minutes(10);

/// Incidents kept (open or recently closed) for the details pane.
const KEEP: usize = 64;

/// A listener gone, then a self-connection on its port: the port stolen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub netns: NetnsRef,
    pub port: u16,
    pub listener: LostListener,
    pub self_connect: PortHolder,
    /// From the first scan without the listener to the first scan with
    /// the self-connection (0 when one scan showed both).
    pub delay_ms: i64,
    /// From the listener's last sighting to the self-connection's first:
    /// the most the real delay can be.
    pub delay_at_most_ms: i64,
    /// What the scans showed.
    pub known: Vec<Fact>,
    /// What follows from it, without being seen.
    pub inferred: Vec<Inference>,
}

/// The listener whose port was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LostListener {
    /// The address it listened on (e.g. `0.0.0.0:44600`).
    pub addr: SocketAddr,
    #[serde(serialize_with = "owner_data")]
    pub owner: Owner,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: DateTime<Local>,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: DateTime<Local>,
    /// The first scan that no longer showed it.
    #[serde(serialize_with = "rfc3339")]
    pub gone_at: DateTime<Local>,
}

/// The self-connected socket that holds the port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortHolder {
    pub addr: SocketAddr,
    pub family: Family,
    pub state: TcpState,
    #[serde(serialize_with = "owner_data")]
    pub owner: Owner,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: DateTime<Local>,
}

/// Something a scan showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// The listener was in one scan and not in the next.
    ListenerGone,
    /// A socket connected to itself on the listener's port, in its namespace.
    SelfConnectOnPort,
    /// Nothing listened on the port when the self-connection was seen.
    NoListenerOnPort,
    /// The self-connection is open, or in TIME_WAIT: it holds the port.
    PortHeld,
}

/// Something that follows from the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inference {
    /// A client kept retrying the vacated port and was handed it as its
    /// own source port (the timing and the port say so; no trace of it).
    PortTakenByRetryingClient,
    /// The service has not come back: its port is held, and a `bind()`
    /// of it fails with EADDRINUSE until the self-connection closes.
    ServiceCannotBind,
}

/// Failed connects seen live before the self-connection (from a kernel
/// event source; scans cannot see them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retries {
    pub count: u64,
    #[serde(serialize_with = "rfc3339")]
    pub first: DateTime<Local>,
    #[serde(serialize_with = "rfc3339")]
    pub last: DateTime<Local>,
}

/// A `bind()` of the port that failed, when something saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindFailure {
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Local>,
    /// The process that tried, if known.
    pub pid: Option<i32>,
    pub name: Option<String>,
    /// The errno name, `EADDRINUSE` as a rule.
    pub errno: String,
}

/// What happened, in order, for a details pane. Optional steps are those
/// scans cannot see or that have not happened (yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    #[serde(serialize_with = "rfc3339")]
    pub listener_seen: DateTime<Local>,
    #[serde(serialize_with = "rfc3339")]
    pub listener_last_seen: DateTime<Local>,
    #[serde(serialize_with = "rfc3339")]
    pub listener_gone: DateTime<Local>,
    pub retries: Option<Retries>,
    #[serde(serialize_with = "rfc3339")]
    pub self_connect: DateTime<Local>,
    pub bind_failure: Option<BindFailure>,
    /// The first scan without the self-connection: the port is free.
    #[serde(serialize_with = "rfc3339_opt")]
    pub port_freed: Option<DateTime<Local>>,
    /// The first scan with a listener on the port again.
    #[serde(serialize_with = "rfc3339_opt")]
    pub listener_back: Option<DateTime<Local>>,
}

fn rfc3339_opt<S: serde::Serializer>(t: &Option<DateTime<Local>>, s: S) -> Result<S::Ok, S::Error> {
    t.map(|t| t.to_rfc3339()).serialize(s)
}

/// One step of a [`Timeline`], for listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    ListenerSeen,
    ListenerLastSeen,
    ListenerGone,
    Retries,
    SelfConnect,
    BindFailure,
    PortFreed,
    ListenerBack,
}

impl Timeline {
    /// The steps that happened, with their times, oldest first.
    pub fn steps(&self) -> Vec<(DateTime<Local>, Step)> {
        let mut v = vec![
            (self.listener_seen, Step::ListenerSeen),
            (self.listener_last_seen, Step::ListenerLastSeen),
            (self.listener_gone, Step::ListenerGone),
            (self.self_connect, Step::SelfConnect),
        ];
        if let Some(r) = &self.retries {
            v.push((r.first, Step::Retries));
        }
        if let Some(b) = &self.bind_failure {
            v.push((b.at, Step::BindFailure));
        }
        v.extend(self.port_freed.map(|t| (t, Step::PortFreed)));
        v.extend(self.listener_back.map(|t| (t, Step::ListenerBack)));
        // Stable: equal times keep the causal order above.
        v.sort_by_key(|(t, _)| *t);
        v
    }
}

/// An incident and what was learnt of it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub incident: Incident,
    pub timeline: Timeline,
}

impl IncidentRecord {
    /// Still going: the port is held and no listener is back.
    pub fn is_open(&self) -> bool {
        self.timeline.port_freed.is_none() && self.timeline.listener_back.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PortKey {
    netns: u64,
    port: u16,
}

#[derive(Debug, Clone)]
struct Listening {
    addr: SocketAddr,
    first_seen: DateTime<Local>,
}

/// A listener gone, waiting for a self-connection on its port.
#[derive(Debug, Clone)]
struct Vacated {
    netns: NetnsRef,
    listener: LostListener,
}

#[derive(Debug)]
pub(super) struct Incidents {
    window: TimeDelta,
    last_scan: Option<DateTime<Local>>,
    listening: HashMap<PortKey, Listening>,
    vacated: HashMap<PortKey, Vacated>,
    /// Oldest first.
    records: Vec<IncidentRecord>,
}

impl Default for Incidents {
    fn default() -> Incidents {
        Incidents {
            window: DEFAULT_WINDOW,
            last_scan: None,
            listening: HashMap::new(),
            vacated: HashMap::new(),
            records: Vec::new(),
        }
    }
}

impl Incidents {
    pub(super) fn set_window(&mut self, window: TimeDelta) {
        self.window = window.max(TimeDelta::zero());
    }

    pub(super) fn records(&self) -> &[IncidentRecord] {
        &self.records
    }

    pub(super) fn forget_netns(&mut self, id: u64) {
        self.listening.retain(|k, _| k.netns != id);
        self.vacated.retain(|k, _| k.netns != id);
    }

    /// The open incident on `port` in namespace `netns`, to complete.
    pub(super) fn open_mut(&mut self, netns: u64, port: u16) -> Option<&mut IncidentRecord> {
        self.records
            .iter_mut()
            .rev()
            .find(|r| r.incident.netns.id == netns && r.incident.port == port && r.is_open())
    }

    /// Reads the changes of this pass; appends the incidents they make.
    pub(super) fn observe(&mut self, snap: &Snapshot, out: &mut Vec<ChangeKind>) {
        let now = snap.taken_at;
        let last = self.last_scan.unwrap_or(now);
        let mut found = Vec::new();
        // Listeners that appeared last: one back in the scan that shows
        // the self-connection (on another address) does not undo the theft.
        for kind in out.iter() {
            match kind {
                ChangeKind::ListenerGone(l) => self.gone(l, last, now),
                ChangeKind::SelfConnectSeen(s) => found.extend(self.seen(snap, s)),
                ChangeKind::SelfConnectGone(s) => self.freed(s, now),
                _ => {}
            }
        }
        for kind in out.iter() {
            if let ChangeKind::ListenerAppeared(l) = kind {
                self.appeared(l, now);
            }
        }
        self.expire(now);
        self.last_scan = Some(now);
        out.extend(
            found
                .into_iter()
                .map(|i| ChangeKind::PortStolen(Box::new(i))),
        );
    }

    /// The self-connection of an open incident is gone: the port is free.
    fn freed(&mut self, s: &SelfConnect, now: DateTime<Local>) {
        let holder = self.records.iter_mut().rev().find(|r| {
            r.is_open()
                && r.incident.netns.id == s.netns.id
                && r.incident.self_connect.addr == s.addr
        });
        if let Some(r) = holder {
            r.timeline.port_freed = Some(now);
        }
    }

    fn appeared(&mut self, l: &ListenerAppeared, now: DateTime<Local>) {
        let key = PortKey {
            netns: l.netns.id,
            port: l.addr.port(),
        };
        // The service is back: no later self-connection is its fault.
        self.vacated.remove(&key);
        if let Some(r) = self.open_mut(key.netns, key.port) {
            r.timeline.listener_back = Some(now);
        }
        self.listening.insert(
            key,
            Listening {
                addr: l.addr,
                first_seen: now,
            },
        );
    }

    fn gone(&mut self, l: &ListenerGone, last: DateTime<Local>, now: DateTime<Local>) {
        let key = PortKey {
            netns: l.netns.id,
            port: l.port,
        };
        let was = self.listening.remove(&key);
        let listener = LostListener {
            addr: was.as_ref().map_or_else(
                || SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), l.port),
                |w| w.addr,
            ),
            owner: l.owner.clone(),
            first_seen: was.map_or(last, |w| w.first_seen),
            last_seen: last,
            gone_at: now,
        };
        let netns = l.netns.clone();
        self.vacated.insert(key, Vacated { netns, listener });
    }

    /// A self-connection on a port vacated within the window: an incident.
    fn seen(&mut self, snap: &Snapshot, s: &SelfConnect) -> Option<Incident> {
        let key = PortKey {
            netns: s.netns.id,
            port: s.addr.port(),
        };
        let v = self.vacated.get(&key)?;
        if s.first_seen - v.listener.gone_at > self.window {
            return None;
        }
        let v = self.vacated.remove(&key)?;
        let listener_back = snap.sockets.iter().any(|o| {
            o.entry.state == TcpState::Listen
                && o.entry.local.port() == key.port
                && snap.namespace_of(o).id == key.netns
        });
        // TIME_WAIT holds it too, for up to 60 s, even from a service
        // that sets SO_REUSEADDR when the client did not (Linux 6.18).
        let holds = s.state != TcpState::Close;
        let mut known = vec![Fact::ListenerGone, Fact::SelfConnectOnPort];
        if !listener_back {
            known.push(Fact::NoListenerOnPort);
        }
        if holds {
            known.push(Fact::PortHeld);
        }
        let mut inferred = vec![Inference::PortTakenByRetryingClient];
        if holds && !listener_back {
            inferred.push(Inference::ServiceCannotBind);
        }
        let incident = Incident {
            netns: v.netns,
            port: key.port,
            delay_ms: (s.first_seen - v.listener.gone_at).num_milliseconds(),
            delay_at_most_ms: (s.first_seen - v.listener.last_seen).num_milliseconds(),
            self_connect: PortHolder {
                addr: s.addr,
                family: s.family,
                state: s.state,
                owner: s.owner.clone(),
                first_seen: s.first_seen,
            },
            listener: v.listener,
            known,
            inferred,
        };
        let l = &incident.listener;
        let timeline = Timeline {
            listener_seen: l.first_seen,
            listener_last_seen: l.last_seen,
            listener_gone: l.gone_at,
            retries: None,
            self_connect: s.first_seen,
            bind_failure: None,
            port_freed: None,
            listener_back: listener_back.then_some(snap.taken_at),
        };
        self.records.push(IncidentRecord {
            incident: incident.clone(),
            timeline,
        });
        Some(incident)
    }

    /// Forgets ports vacated longer ago than the window, and keeps the
    /// list of incidents bounded (closed ones past the window go first).
    fn expire(&mut self, now: DateTime<Local>) {
        let window = self.window;
        self.vacated
            .retain(|_, v| now - v.listener.gone_at <= window);
        self.records.retain(|r| {
            let t = &r.timeline;
            let closed = t.port_freed.or(t.listener_back);
            closed.is_none_or(|at| now - at <= window)
        });
        let extra = self.records.len().saturating_sub(KEEP);
        self.records.drain(..extra);
    }
}
