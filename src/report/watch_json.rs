//! `scan --watch`: one JSON object per line (NDJSON) for each change.
//!
//! A line is the change as the core serialises it (`event`, `time` and its
//! payload), and, for a change about a finding, the fields `scan --json`
//! gives a finding (`kind`, `family`, `local_addr`, ..., `pid`, `process`,
//! `cmdline`, `owner_unknown_reason`, `netns`), so a script reads both the
//! same way. A retry storm also has its plain-words `explanation`.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::core::changes::{Change, ChangeKind, LiveOwner, NetnsRef};
use crate::core::ports::Risk;
use crate::core::snapshot::Owner;
use crate::core::socket::{Family, TcpState};

/// Why `pid` is null for an owner read live.
const LIVE_OWNER_GONE: &str = "process gone before it could be read";

/// A finding's fields, as in `scan --json`.
#[derive(Debug, Serialize)]
struct FindingFields<'a> {
    kind: &'static str,
    family: Option<&'static str>,
    local_addr: Option<String>,
    local_port: Option<u16>,
    remote_addr: Option<String>,
    remote_port: Option<u16>,
    state: Option<&'static str>,
    risk: Option<&'static str>,
    pid: Option<i32>,
    process: Option<&'a str>,
    cmdline: Option<&'a str>,
    owner_unknown_reason: Option<&'static str>,
    netns: &'a NetnsRef,
}

impl<'a> FindingFields<'a> {
    fn new(kind: &'static str, netns: &'a NetnsRef) -> FindingFields<'a> {
        FindingFields {
            kind,
            family: None,
            local_addr: None,
            local_port: None,
            remote_addr: None,
            remote_port: None,
            state: None,
            risk: None,
            pid: None,
            process: None,
            cmdline: None,
            owner_unknown_reason: None,
            netns,
        }
    }

    fn local(mut self, addr: SocketAddr) -> Self {
        self.local_addr = Some(addr.ip().to_string());
        self.local_port = Some(addr.port());
        self
    }

    fn remote(mut self, addr: SocketAddr) -> Self {
        self.remote_addr = Some(addr.ip().to_string());
        self.remote_port = Some(addr.port());
        self
    }

    fn family(mut self, f: Family) -> Self {
        self.family = Some(f.as_str());
        self
    }

    fn state(mut self, s: TcpState) -> Self {
        self.state = Some(s.as_str());
        self
    }

    fn risk(mut self, r: Risk) -> Self {
        self.risk = Some(r.as_str());
        self
    }

    fn owner(mut self, o: &'a Owner) -> Self {
        match o {
            Owner::Process(p) => {
                self.pid = Some(p.pid);
                self.process = Some(&p.name);
                self.cmdline = Some(&p.cmdline);
            }
            Owner::Unknown(why) => self.owner_unknown_reason = Some(why.reason()),
        }
        self
    }

    fn live_owner(mut self, o: Option<&'a LiveOwner>) -> Self {
        match o {
            Some(o) => {
                self.pid = Some(o.pid);
                self.process = Some(&o.process);
                self.cmdline = Some(&o.cmdline);
            }
            None => self.owner_unknown_reason = Some(LIVE_OWNER_GONE),
        }
        self
    }
}

fn unspecified(family: Family) -> SocketAddr {
    let ip = match family {
        Family::Ipv4 => IpAddr::from([0, 0, 0, 0]),
        Family::Ipv6 => IpAddr::from([0u16; 8]),
    };
    SocketAddr::new(ip, 0)
}

fn family_of(addr: SocketAddr) -> Family {
    if addr.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

/// The finding a change is about, if it is about one.
fn finding(kind: &ChangeKind) -> Option<FindingFields<'_>> {
    use ChangeKind as K;
    Some(match kind {
        K::SelfConnectSeen(s) | K::SelfConnectGone(s) => {
            FindingFields::new("self_connect", &s.netns)
                .family(s.family)
                .local(s.addr)
                .remote(s.addr)
                .state(s.state)
                .owner(&s.owner)
        }
        K::SelfConnectCaught(c) => FindingFields::new("self_connect", &c.netns)
            .family(c.family)
            .local(c.addr)
            .remote(c.addr)
            .state(TcpState::SynRecv)
            .live_owner(c.owner.as_ref()),
        K::ListenerAppeared(l) => FindingFields::new("ephemeral_listener", &l.netns)
            .family(l.family)
            .local(l.addr)
            .remote(unspecified(l.family))
            .state(TcpState::Listen)
            .risk(l.risk)
            .owner(&l.owner),
        K::ListenerGone(l) => {
            let mut f = FindingFields::new("ephemeral_listener", &l.netns)
                .risk(l.risk)
                .owner(&l.owner);
            f.local_port = Some(l.port);
            f
        }
        K::ListenerRiskChanged(l) => {
            let mut f = FindingFields::new("ephemeral_listener", &l.netns).risk(l.risk);
            f.local_port = Some(l.port);
            f
        }
        K::RetryStormStarted(r) | K::RetryStormEnded(r) => {
            let mut f = FindingFields::new("retry_storm", &r.netns)
                .family(family_of(r.target))
                .remote(r.target)
                .risk(r.risk)
                .live_owner(r.owner.as_ref());
            // The storm's own pid even when its process could not be read.
            f.pid = Some(r.pid);
            f
        }
        _ => return None,
    })
}

/// One line of the stream (without its newline).
pub fn line(change: &Change) -> Value {
    let mut obj = match serde_json::to_value(change) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(f) = finding(&change.kind)
        && let Ok(Value::Object(fields)) = serde_json::to_value(&f)
    {
        obj.extend(fields);
    }
    if let ChangeKind::RetryStormStarted(r) | ChangeKind::RetryStormEnded(r) = &change.kind {
        obj.insert("explanation".into(), Value::String(r.explanation()));
    }
    Value::Object(obj)
}

/// Whether live catch runs, or why not: the first line's `live_catch`.
#[derive(Debug, Clone, Serialize)]
pub struct LiveCatchState {
    pub enabled: bool,
    /// `tracefs` when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// Why it is off (`not root`, `tracefs unavailable: ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why retry storms are not watched while self-connects are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storms_off: Option<String>,
}

/// The first line: the first snapshot's `watch_started`, with the state
/// of live catch and the polling interval.
pub fn started_line(change: &Change, live: &LiveCatchState, interval_ms: u64) -> Value {
    let mut v = line(change);
    if let Value::Object(m) = &mut v {
        m.insert("event".into(), Value::String("watch_started".into()));
        m.insert(
            "live_catch".into(),
            serde_json::to_value(live).unwrap_or(Value::Null),
        );
        m.insert("interval_ms".into(), Value::from(interval_ms));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::changes::{RetryStorm, SelfConnectCaught};
    use crate::core::ports::PortRange;
    use chrono::{Local, TimeZone};

    fn at() -> chrono::DateTime<Local> {
        Local.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
    }

    fn ns() -> NetnsRef {
        NetnsRef {
            id: 4026531840,
            name: "host".into(),
        }
    }

    fn owner() -> LiveOwner {
        LiveOwner {
            pid: 4242,
            tid: 4243,
            process: "my\u{1b}app".into(),
            comm: "myapp".into(),
            cmdline: "myapp --retry".into(),
            uid: Some(0),
        }
    }

    #[test]
    fn a_caught_self_connect_has_the_finding_fields_and_exact_strings() {
        let c = SelfConnectCaught {
            netns: ns(),
            addr: "127.0.0.1:45000".parse().unwrap(),
            port: 45000,
            family: Family::Ipv4,
            owner: Some(owner()),
            tid: 4243,
            comm: Some("myapp".into()),
            kernel_time_ns: 12,
            caught_at: at(),
            closed: false,
            lifetime_ms: None,
        };
        let v = line(&Change {
            time: at(),
            kind: ChangeKind::SelfConnectCaught(Box::new(c)),
        });
        assert_eq!(v["event"], "self_connect_caught");
        assert_eq!(v["time"], at().to_rfc3339());
        assert_eq!(v["kind"], "self_connect");
        assert_eq!(v["local_addr"], "127.0.0.1");
        assert_eq!(
            (v["local_port"].as_u64(), v["remote_port"].as_u64()),
            (Some(45000), Some(45000))
        );
        assert_eq!(v["state"], "SYN_RECV");
        assert_eq!(v["pid"], 4242);
        // JSON stays exact: the escape byte is escaped by serde, not replaced.
        assert_eq!(v["process"], "my\u{1b}app");
        assert!(serde_json::to_string(&v).unwrap().contains("my\\u001bapp"));
        assert_eq!(v["netns"]["name"], "host");
        assert_eq!(v["owner_unknown_reason"], Value::Null);
    }

    #[test]
    fn a_storm_line_says_risk_rate_and_why() {
        let range = PortRange {
            low: 32768,
            high: 60999,
        };
        let e = crate::core::live::tries_estimate(range, 45000).unwrap();
        let r = RetryStorm {
            netns: ns(),
            pid: 4242,
            owner: None,
            target: "127.0.0.1:45000".parse().unwrap(),
            port: 45000,
            refusals: 1830,
            total: 2000,
            window_secs: 10,
            rate_per_sec: 183,
            connect_parity: true,
            risk: Risk::High,
            range,
            tries_expected: Some(e.expected),
            tries_likely_within: Some(e.likely_within),
            first_seen: at(),
            last_seen: at(),
        };
        let v = line(&Change {
            time: at(),
            kind: ChangeKind::RetryStormStarted(Box::new(r)),
        });
        assert_eq!(v["event"], "retry_storm_started");
        assert_eq!(v["kind"], "retry_storm");
        assert_eq!(v["risk"], "high");
        assert_eq!(v["pid"], 4242);
        assert_eq!(v["remote_port"], 45000);
        assert_eq!(v["rate_per_sec"], 183);
        assert_eq!(v["owner_unknown_reason"], LIVE_OWNER_GONE);
        let why = v["explanation"].as_str().unwrap();
        assert!(
            why.starts_with(
                "pid 4242 was refused 1,830 times in 10 s on 127.0.0.1:45000; nothing listens \
                 there and the port is inside the range: it will connect to itself, probably \
                 within ~"
            ),
            "{why}"
        );
        assert!(why.contains("14,116 on average"), "{why}");
    }
}
