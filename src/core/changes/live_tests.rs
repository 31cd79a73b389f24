//! Live changes through the tracker: which storms are findings, the
//! incident's retries, a caught self-connect followed by the scans.

use std::time::Duration;

use super::fixtures::{host, listener, snap, sock, t};
use super::*;
use crate::core::live::{
    self, LiveEvent, StateChange, StormChange, StormKey, StormStats, Task, TcpState as K,
};
use crate::core::ports::{PortRange, Risk};
use crate::core::socket::{Family, TcpState};

fn owner(netns: u64) -> live::Owner {
    live::Owner {
        pid: 42,
        tid: 43,
        comm: "client".into(),
        name: "client".into(),
        cmdline: "client --retry".into(),
        uid: Some(1000),
        netns: Some(netns),
    }
}

fn storm(target: &str, total: u64) -> LiveEvent {
    let target: std::net::SocketAddr = target.parse().unwrap();
    LiveEvent::Storm {
        change: StormChange::Started(StormStats {
            key: StormKey { pid: 42, target },
            refusals: total,
            total,
            rate_per_sec: 150.0,
            first_seen: Duration::from_secs(10),
            last_seen: Duration::from_secs(12),
            last_source_port: 40000,
            connect_parity: true,
            estimate: live::tries_estimate(PortRange::KERNEL_DEFAULT, target.port()),
        }),
        owner: Some(owner(1)),
    }
}

#[test]
fn only_a_storm_toward_a_local_port_the_kernel_may_pick_is_a_finding() {
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(0, host(), vec![listener(8080, None)]));
    for not in ["192.0.2.9:44600", "127.0.0.1:8080", "127.0.0.1:20000"] {
        assert_eq!(tr.observe_live(t(1), &storm(not, 300)), None, "{not}");
    }
    let Some(Change {
        kind: ChangeKind::RetryStormStarted(s),
        ..
    }) = tr.observe_live(t(1), &storm("127.0.0.1:44600", 300))
    else {
        panic!("a storm toward 127.0.0.1:44600");
    };
    assert_eq!((s.pid, s.port, s.risk), (42, 44600, Risk::High));
    assert_eq!(s.netns.name, "host");
    assert_eq!(s.window_secs, 2);
    assert_eq!(s.rate_per_sec, 150);
    assert_eq!(s.tries_expected, Some(14_116));
    assert_eq!(s.first_seen, t(1) - chrono::TimeDelta::seconds(2));
    assert_eq!(tr.storms().count(), 1);
    // The other parity: medium, no estimate.
    let Some(Change {
        kind: ChangeKind::RetryStormStarted(s),
        ..
    }) = tr.observe_live(t(1), &storm("[::1]:44601", 300))
    else {
        panic!("a storm toward [::1]:44601");
    };
    assert_eq!((s.risk, s.tries_expected), (Risk::Medium, None));
    assert!(
        s.explanation()
            .contains("on the parity connect() tries last")
    );
}

#[test]
fn a_storm_on_a_stolen_port_adds_its_retries_to_the_incident() {
    const SC: &str = "127.0.0.1:44600";
    let mut tr = ChangeTracker::new();
    let db = || listener(44600, Some((7, "db")));
    tr.observe(&snap(0, host(), vec![db()]));
    tr.observe(&snap(5, host(), vec![]));
    let thief = sock(SC, SC, TcpState::Established, Some((42, "client")));
    tr.observe(&snap(8, host(), vec![thief]));
    assert_eq!(tr.incidents().len(), 1);
    assert!(tr.observe_live(t(9), &storm(SC, 1830)).is_some());
    let retries = tr.incidents()[0].timeline.retries.clone();
    let retries = retries.expect("the storm's refusals are the incident's retries");
    assert_eq!(retries.count, 1830);
    assert_eq!(retries.last, t(9));
}

#[test]
fn a_caught_self_connect_is_closed_once_gone_and_names_its_owner() {
    const SC: &str = "127.0.0.1:45010";
    let addr: std::net::SocketAddr = SC.parse().unwrap();
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(0, host(), vec![]));
    let caught = LiveEvent::SelfConnect {
        change: StateChange {
            time: Duration::from_secs(3),
            task: Task {
                tid: 43,
                comm: Some("client".into()),
            },
            family: Family::Ipv4,
            local: addr,
            remote: addr,
            old: K::SYN_SENT,
            new: K::SYN_RECV,
        },
        owner: Some(owner(1)),
    };
    let Some(Change {
        kind: ChangeKind::SelfConnectCaught(c),
        time,
    }) = tr.observe_live(t(1), &caught)
    else {
        panic!("caught");
    };
    assert_eq!(time, t(1));
    assert_eq!((c.port, c.kernel_time_ns), (45010, 3_000_000_000));
    assert_eq!(c.owner.as_ref().map(|o| o.pid), Some(42));
    let key = SelfConnectKey { netns: 1, addr };
    assert_eq!(tr.caught_owner(&key).map(|o| o.pid), Some(42));
    // A listeners-only refresh after it holds the connections of a full
    // read from before it: that says nothing of whether it is still open.
    tr.observe_listeners(&snap(1, host(), vec![]));
    assert!(!tr.caught().next().unwrap().closed);
    // Seen by the next scan (TIME_WAIT), then gone.
    tr.observe(&snap(
        2,
        host(),
        vec![sock(SC, SC, TcpState::TimeWait, None)],
    ));
    assert!(!tr.caught().next().unwrap().closed);
    tr.observe(&snap(4, host(), vec![]));
    let c = tr.caught().next().unwrap();
    assert!(c.closed);
    assert_eq!(c.lifetime_ms, Some(1000));
    assert_eq!(tr.clear_caught(), 1);
    assert_eq!(tr.caught().count(), 0);
}
