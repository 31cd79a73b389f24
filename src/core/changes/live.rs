//! Changes caught live from the kernel (`crate::core::live`): a
//! self-connect the moment it happens, with the process that made it, and
//! a retry storm starting and ending. Scans complete them: a caught
//! self-connect is "closed" once its socket is no longer in the tables
//! (with its lifetime when a scan saw it), and the namespaces, ranges and
//! local addresses of the last snapshot decide whether a storm is a
//! finding: only one toward a local address (loopback or an address of
//! the namespace) on a port the kernel may pick there.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Local, TimeDelta};
use serde::Serialize;

use super::{NetnsRef, SelfConnectKey, rfc3339};
use crate::core::live::{self, LiveEvent, StormChange, StormKey, StormStats, tries_estimate};
use crate::core::ports::{PortPolicy, PortRange, Risk};
use crate::core::snapshot::{Owner, ProcessInfo, Snapshot};
use crate::core::socket::Family;
use crate::core::words::{group, plural_noun};

/// Caught self-connects kept until cleared; the oldest go first.
const KEEP_CAUGHT: usize = 256;

/// The process behind a live event, as read from `/proc` while it lived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveOwner {
    pub pid: i32,
    pub tid: i32,
    /// The full program name.
    pub process: String,
    /// The kernel's 15-character name.
    pub comm: String,
    pub cmdline: String,
    pub uid: Option<u32>,
}

impl LiveOwner {
    fn of(o: &live::Owner) -> LiveOwner {
        LiveOwner {
            pid: o.pid,
            tid: o.tid,
            process: o.name.clone(),
            comm: o.comm.clone(),
            cmdline: o.cmdline.clone(),
            uid: o.uid,
        }
    }

    /// As a scan's owner (for a TIME_WAIT row the kernel holds).
    pub fn as_owner(&self) -> Owner {
        Owner::Process(std::sync::Arc::new(ProcessInfo {
            pid: self.pid,
            name: self.process.clone(),
            cmdline: self.cmdline.clone(),
            user: self.uid.map(|u| u.to_string()).unwrap_or_default(),
        }))
    }
}

/// A self-connect seen by the kernel as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfConnectCaught {
    /// The namespace of the process (id 0, `unknown`, when it was gone).
    pub netns: NetnsRef,
    /// Its local address, which is also its remote one.
    pub addr: SocketAddr,
    pub port: u16,
    pub family: Family,
    /// `None` when the process was gone before it could be read.
    pub owner: Option<LiveOwner>,
    /// The thread the kernel recorded (its id, and name when printed).
    pub tid: i32,
    pub comm: Option<String>,
    /// The kernel's timestamp of the simultaneous open, in nanoseconds.
    pub kernel_time_ns: u64,
    #[serde(serialize_with = "rfc3339")]
    pub caught_at: DateTime<Local>,
    /// No longer in the tables as of the last scan.
    pub closed: bool,
    /// From the catch to the last scan that showed it (a lower bound),
    /// when a scan showed it at all.
    pub lifetime_ms: Option<i64>,
}

impl SelfConnectCaught {
    pub fn key(&self) -> SelfConnectKey {
        SelfConnectKey {
            netns: self.netns.id,
            addr: self.addr,
        }
    }

    fn matches(&self, key: &SelfConnectKey) -> bool {
        self.addr == key.addr && (self.netns.id == 0 || self.netns.id == key.netns)
    }
}

/// A local client refused again and again on a port the kernel may hand
/// it as its own source port: on its way to connecting to itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryStorm {
    pub netns: NetnsRef,
    pub pid: i32,
    /// Read when the storm started; `None` when the process was gone.
    pub owner: Option<LiveOwner>,
    /// The address and port it keeps trying.
    pub target: SocketAddr,
    pub port: u16,
    /// Refusals within the window, and since it was first seen.
    pub refusals: u64,
    pub total: u64,
    pub window_secs: u64,
    /// Refusals per second over the window (rounded).
    pub rate_per_sec: u64,
    /// The parity `connect()` tries first.
    pub connect_parity: bool,
    pub risk: Risk,
    pub range: PortRange,
    /// More tries until it connects to itself, on average and with 90%
    /// probability (see `crate::core::live::walk`); `None` for the other
    /// parity.
    pub tries_expected: Option<u64>,
    pub tries_likely_within: Option<u64>,
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: DateTime<Local>,
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: DateTime<Local>,
}

impl RetryStorm {
    /// The finding in plain words, shared by the dashboard and `--watch`.
    pub fn explanation(&self) -> String {
        let who = match &self.owner {
            Some(o) => format!("pid {} ({})", self.pid, o.process),
            None => format!("pid {}", self.pid),
        };
        let head = format!(
            "{who} was refused {} {} in {} s on {}; nothing listens there and the port is \
             inside the range",
            group(self.refusals),
            plural_noun(self.refusals, "time", "times"),
            self.window_secs,
            self.target,
        );
        match (self.tries_expected, self.tries_likely_within) {
            (Some(avg), Some(likely)) => format!(
                "{head}: it will connect to itself, probably within ~{} more tries ({} on \
                 average: connect() walks the {} ports of its parity in random steps of 1 to \
                 8, and 90% of walks land on a given one within that many)",
                group(likely),
                group(avg),
                group(avg),
            ),
            _ => format!(
                "{head}, on the parity connect() tries last: it connects to itself only when \
                 the other ports run out, or from a client that binds before connecting"
            ),
        }
    }
}

/// What the last snapshot says about the namespaces, for live events.
#[derive(Debug, Default)]
struct Context {
    /// Id -> (reference, policy); the own namespace's id.
    namespaces: HashMap<u64, (NetnsRef, PortPolicy)>,
    own: Option<u64>,
    /// Addresses sockets are bound to, per namespace.
    local_ips: HashMap<u64, HashSet<IpAddr>>,
}

impl Context {
    fn of(snap: &Snapshot) -> Context {
        let mut c = Context {
            own: snap.namespaces.iter().find(|n| n.is_own).map(|n| n.id),
            ..Context::default()
        };
        for ns in &snap.namespaces {
            c.namespaces
                .insert(ns.id, (NetnsRef::of(ns), ns.policy.clone()));
        }
        for s in &snap.sockets {
            let ip = s.entry.local.ip();
            if !ip.is_unspecified() {
                let id = snap.namespace_of(s).id;
                c.local_ips.entry(id).or_default().insert(ip);
            }
        }
        c
    }

    fn netns(&self, id: Option<u64>) -> NetnsRef {
        match id.and_then(|id| self.namespaces.get(&id)) {
            Some((r, _)) => r.clone(),
            None => NetnsRef {
                id: id.unwrap_or(0),
                name: "unknown".into(),
            },
        }
    }

    /// The policy of `id`, or the own namespace's when it is unknown.
    fn policy(&self, id: u64) -> Option<&PortPolicy> {
        self.namespaces
            .get(&id)
            .or_else(|| self.namespaces.get(&self.own?))
            .map(|(_, p)| p)
    }

    fn is_local(&self, id: u64, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        ip.is_loopback() || self.local_ips.get(&id).is_some_and(|s| s.contains(&ip))
    }
}

/// The live state: caught self-connects and storms in progress.
#[derive(Debug, Default)]
pub(super) struct Live {
    context: Context,
    caught: VecDeque<SelfConnectCaught>,
    storms: HashMap<StormKey, RetryStorm>,
    /// The storm tracker's window; `None`: the default.
    window: Option<Duration>,
}

/// What a live event changed.
pub(super) enum LiveChange {
    Caught(SelfConnectCaught),
    StormStarted(RetryStorm),
    StormEnded(RetryStorm),
}

impl Live {
    pub(super) fn set_storm_window(&mut self, window: Duration) {
        self.window = Some(window);
    }

    fn window(&self) -> Duration {
        self.window
            .unwrap_or_else(|| live::StormConfig::default().window)
    }

    pub(super) fn caught(&self) -> impl Iterator<Item = &SelfConnectCaught> {
        self.caught.iter()
    }

    pub(super) fn clear_caught(&mut self) -> usize {
        let n = self.caught.len();
        self.caught.clear();
        n
    }

    pub(super) fn storms(&self) -> impl Iterator<Item = &RetryStorm> {
        self.storms.values()
    }

    /// The process that made a self-connect now seen in the tables.
    pub(super) fn owner_of(&self, key: &SelfConnectKey) -> Option<&LiveOwner> {
        self.caught
            .iter()
            .rev()
            .find(|c| c.matches(key))
            .and_then(|c| c.owner.as_ref())
    }

    /// Takes a snapshot's namespaces and follows caught self-connects:
    /// closed once their socket is gone from the tables (`open`: the
    /// self-connects in them; `None` when the snapshot did not read them).
    pub(super) fn observe(&mut self, snap: &Snapshot, open: Option<&HashSet<SelfConnectKey>>) {
        self.context = Context::of(snap);
        let Some(open) = open else {
            return;
        };
        for c in &mut self.caught {
            if c.closed || c.caught_at > snap.taken_at {
                continue;
            }
            match open.iter().find(|k| c.matches(k)) {
                Some(_) => c.lifetime_ms = Some((snap.taken_at - c.caught_at).num_milliseconds()),
                None => c.closed = true,
            }
        }
    }

    pub(super) fn event(&mut self, wall: DateTime<Local>, ev: &LiveEvent) -> Option<LiveChange> {
        match ev {
            LiveEvent::SelfConnect { change, owner } => {
                let c = SelfConnectCaught {
                    netns: self.context.netns(owner.as_ref().and_then(|o| o.netns)),
                    addr: change.local,
                    port: change.local.port(),
                    family: change.family,
                    owner: owner.as_ref().map(LiveOwner::of),
                    tid: change.task.tid,
                    comm: change.task.comm.clone(),
                    kernel_time_ns: duration_ns(change.time),
                    caught_at: wall,
                    closed: false,
                    lifetime_ms: None,
                };
                self.caught.push_back(c.clone());
                while self.caught.len() > KEEP_CAUGHT {
                    self.caught.pop_front();
                }
                Some(LiveChange::Caught(c))
            }
            LiveEvent::Storm { change, owner } => self.storm(wall, change, owner.as_ref()),
            LiveEvent::Lost { .. } | LiveEvent::Failed { .. } => None,
        }
    }

    fn storm(
        &mut self,
        wall: DateTime<Local>,
        change: &StormChange,
        owner: Option<&live::Owner>,
    ) -> Option<LiveChange> {
        let stats = change.stats();
        match change {
            StormChange::Started(_) => {
                let storm = self.new_storm(wall, stats, owner)?;
                self.storms.insert(stats.key, storm.clone());
                Some(LiveChange::StormStarted(storm))
            }
            StormChange::Ongoing(_) => {
                let window = self.window();
                if let Some(s) = self.storms.get_mut(&stats.key) {
                    update(s, wall, stats, window);
                }
                None
            }
            StormChange::Ended(_) => {
                let window = self.window();
                let mut s = self.storms.remove(&stats.key)?;
                update(&mut s, wall, stats, window);
                Some(LiveChange::StormEnded(s))
            }
        }
    }

    /// A storm that is a finding: toward a local address, on a port the
    /// kernel may pick in the client's namespace.
    fn new_storm(
        &self,
        wall: DateTime<Local>,
        stats: &StormStats,
        owner: Option<&live::Owner>,
    ) -> Option<RetryStorm> {
        let netns = self.context.netns(owner.and_then(|o| o.netns));
        let policy = self.context.policy(netns.id)?;
        let port = stats.key.target.port();
        let risk = policy.listener_risk(port)?;
        if !self.context.is_local(netns.id, stats.key.target.ip()) {
            return None;
        }
        let estimate = tries_estimate(policy.range, port);
        let mut s = RetryStorm {
            netns,
            pid: owner.map_or(stats.key.pid, |o| o.pid),
            owner: owner.map(LiveOwner::of),
            target: stats.key.target,
            port,
            refusals: 0,
            total: 0,
            window_secs: 0,
            rate_per_sec: 0,
            connect_parity: policy.range.has_connect_parity(port),
            risk,
            range: policy.range,
            tries_expected: estimate.map(|e| e.expected),
            tries_likely_within: estimate.map(|e| e.likely_within),
            first_seen: wall,
            last_seen: wall,
        };
        update(&mut s, wall, stats, self.window());
        s.first_seen = wall - delta(stats.last_seen.saturating_sub(stats.first_seen));
        Some(s)
    }
}

fn update(s: &mut RetryStorm, wall: DateTime<Local>, stats: &StormStats, window: Duration) {
    s.refusals = stats.refusals;
    s.total = stats.total;
    s.rate_per_sec = stats.rate_per_sec.round() as u64;
    // The window the refusals are counted over: the storm's age when
    // shorter.
    let age = stats.last_seen.saturating_sub(stats.first_seen);
    s.window_secs = age.as_secs().clamp(1, window.as_secs().max(1));
    s.last_seen = wall;
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::zero())
}
