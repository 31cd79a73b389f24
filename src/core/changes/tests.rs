//! The change diff on constructed snapshots: every kind of change, and
//! the JSON shape a headless stream prints.

use super::fixtures::{host, listener, ns, process, snap, sock, t};
use super::*;
use crate::core::ports::{PortRange, ReservedPorts, Risk};
use crate::core::snapshot::{ScanError, UnknownOwner};
use crate::core::socket::{Family, TcpState};

fn kinds(changes: Vec<Change>) -> Vec<ChangeKind> {
    changes.into_iter().map(|c| c.kind).collect()
}

fn netns(id: u64, name: &str) -> NetnsRef {
    NetnsRef {
        id,
        name: name.into(),
    }
}

const SC: &str = "127.0.0.1:44600";

#[test]
fn the_first_snapshot_says_what_is_watched_and_what_is_there() {
    let mut tr = ChangeTracker::new();
    let changes = tr.observe(&snap(
        0,
        host(),
        vec![
            listener(44600, None),
            sock(SC, SC, TcpState::Established, None),
        ],
    ));
    assert!(changes.iter().all(|c| c.time == t(0)));
    let k = kinds(changes);
    assert_eq!(
        k[0],
        ChangeKind::WatchStarted(WatchStarted {
            sockets: 2,
            self_connects: 1,
            risky_listeners: 1
        })
    );
    assert_eq!(
        k[1],
        ChangeKind::NamespaceAppeared(NamespaceAppeared {
            netns: netns(1, "host"),
            present_at_start: true
        })
    );
    assert!(matches!(&k[2], ChangeKind::ListenerAppeared(l) if l.present_at_start));
    assert!(matches!(&k[3], ChangeKind::SelfConnectSeen(s) if s.present_at_start));
    assert_eq!(k.len(), 4);
}

#[test]
fn a_short_lived_self_connect_is_seen_then_gone_with_its_owner_and_times() {
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(0, host(), vec![]));
    let seen = kinds(tr.observe(&snap(
        1,
        host(),
        vec![sock(SC, SC, TcpState::Established, Some((42, "client")))],
    )));
    let [ChangeKind::SelfConnectSeen(s)] = &seen[..] else {
        panic!("one sighting expected: {seen:#?}");
    };
    assert_eq!(s.owner, process(42, "client"));
    assert_eq!((s.first_seen, s.last_seen), (t(1), t(1)));
    assert!(!s.present_at_start);
    // Next scan: in TIME_WAIT, held by the kernel. No change, but the
    // record follows the state and keeps the process.
    let again = tr.observe(&snap(
        2,
        host(),
        vec![sock(SC, SC, TcpState::TimeWait, None)],
    ));
    assert_eq!(again, vec![]);
    let key = s.key();
    let rec = tr.self_connect(&key).expect("still open");
    assert_eq!(rec.state, TcpState::TimeWait);
    assert_eq!(rec.owner, process(42, "client"));
    assert_eq!(rec.last_seen, t(2));
    assert_eq!(tr.self_connects().count(), 1);

    let gone = kinds(tr.observe(&snap(3, host(), vec![])));
    let [ChangeKind::SelfConnectGone(g)] = &gone[..] else {
        panic!("one end expected: {gone:#?}");
    };
    assert_eq!((g.first_seen, g.last_seen), (t(1), t(2)));
    assert_eq!(g.owner, process(42, "client"));
    assert_eq!(g.netns, netns(1, "host"));
    assert!(tr.self_connect(&key).is_none());
}

#[test]
fn a_known_owner_is_not_replaced_by_an_unknown_one_but_an_unknown_one_is_completed() {
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(
        0,
        host(),
        vec![sock(SC, SC, TcpState::SynSent, None)],
    ));
    let key = SelfConnectKey {
        netns: 1,
        addr: SC.parse().unwrap(),
    };
    let s = sock(SC, SC, TcpState::Established, Some((9, "app")));
    tr.observe(&snap(1, host(), vec![s]));
    assert_eq!(tr.self_connect(&key).unwrap().owner, process(9, "app"));
    let other = sock(SC, SC, TcpState::Established, Some((10, "other")));
    tr.observe(&snap(2, host(), vec![other]));
    assert_eq!(tr.self_connect(&key).unwrap().owner, process(9, "app"));
}

#[test]
fn risky_listeners_appear_and_go_by_port() {
    let mut tr = ChangeTracker::new();
    let l6 = || {
        let mut s = listener(44600, None);
        s.entry.local = "[::]:44600".parse().unwrap();
        s.entry.family = Family::Ipv6;
        s
    };
    let safe = || listener(22, Some((1, "sshd")));
    tr.observe(&snap(0, host(), vec![safe()]));
    let k = kinds(tr.observe(&snap(
        1,
        host(),
        vec![safe(), l6(), listener(44600, Some((7, "db")))],
    )));
    assert_eq!(
        k,
        vec![ChangeKind::ListenerAppeared(ListenerAppeared {
            netns: netns(1, "host"),
            addr: "0.0.0.0:44600".parse().unwrap(),
            family: Family::Ipv4,
            risk: Risk::High,
            owner: process(7, "db"),
            present_at_start: false,
        })],
        "the listener with a known owner is named"
    );
    // One of two listeners on the port goes: the port is still taken.
    assert_eq!(tr.observe(&snap(2, host(), vec![safe(), l6()])), vec![]);
    let k = kinds(tr.observe(&snap(3, host(), vec![safe()])));
    assert_eq!(
        k,
        vec![ChangeKind::ListenerGone(ListenerGone {
            netns: netns(1, "host"),
            port: 44600,
            risk: Risk::High,
            owner: process(7, "db"),
        })]
    );
}

#[test]
fn policy_changes_move_a_listeners_risk_and_can_make_it_safe() {
    let mut tr = ChangeTracker::new();
    let l = || vec![listener(44601, None)];
    tr.observe(&snap(0, host(), l()));
    // A range starting on an odd port: 44601 now has connect()'s parity.
    let mut odd = host();
    odd[0].policy.range = PortRange {
        low: 32769,
        high: 60999,
    };
    let k = kinds(tr.observe(&snap(1, odd.clone(), l())));
    assert_eq!(
        k,
        vec![
            ChangeKind::RangeChanged(RangeChanged {
                netns: netns(1, "host"),
                range: odd[0].policy.range,
                was: PortRange::KERNEL_DEFAULT,
            }),
            ChangeKind::ListenerRiskChanged(ListenerRiskChanged {
                netns: netns(1, "host"),
                port: 44601,
                risk: Risk::High,
                was: Risk::Medium,
            }),
        ]
    );
    odd[0].policy.reserved = ReservedPorts::parse("44601").unwrap();
    let k = kinds(tr.observe(&snap(2, odd.clone(), l())));
    assert_eq!(
        k,
        vec![
            ChangeKind::ReservedChanged(ReservedChanged {
                netns: netns(1, "host"),
                reserved: ReservedPorts::parse("44601").unwrap(),
                was: ReservedPorts::default(),
            }),
            ChangeKind::ListenerSafe(ListenerSafe {
                netns: netns(1, "host"),
                port: 44601,
                was: Risk::High,
            }),
        ]
    );
    // Safe and still listening: nothing more, and its going is no event.
    assert_eq!(tr.observe(&snap(3, odd.clone(), l())), vec![]);
    assert_eq!(tr.observe(&snap(4, odd, vec![])), vec![]);
}

#[test]
fn a_namespace_that_goes_ends_everything_in_it_with_one_change() {
    let mut tr = ChangeTracker::new();
    let mut s = sock(SC, SC, TcpState::Established, None);
    s.netns = 1;
    let mut l = listener(44602, None);
    l.netns = 1;
    tr.observe(&snap(0, host(), vec![]));
    let k = kinds(tr.observe(&snap(
        1,
        vec![ns(1, "host", ""), ns(2, "web", "")],
        vec![s, l],
    )));
    assert_eq!(
        k[0],
        ChangeKind::NamespaceAppeared(NamespaceAppeared {
            netns: netns(2, "web"),
            present_at_start: false
        })
    );
    assert!(matches!(&k[2], ChangeKind::SelfConnectSeen(s) if s.netns == netns(2, "web")));
    assert_eq!(tr.self_connects().count(), 1);

    let k = kinds(tr.observe(&snap(2, host(), vec![])));
    assert_eq!(
        k,
        vec![ChangeKind::NamespaceGone(NamespaceGone {
            netns: netns(2, "web")
        })],
        "no separate end for each of its sockets"
    );
    assert_eq!(tr.self_connects().count(), 0, "its self-connect ended");
    // Back again with the same socket: seen anew.
    let mut s = sock(SC, SC, TcpState::Established, None);
    s.netns = 1;
    let k = kinds(tr.observe(&snap(3, vec![ns(1, "host", ""), ns(2, "web", "")], vec![s])));
    assert!(matches!(&k[1], ChangeKind::SelfConnectSeen(s) if s.first_seen == t(3)));
}

#[test]
fn failures_errors_clearing_and_recovery_are_each_one_change() {
    let mut tr = ChangeTracker::new();
    let failed = tr.observe_failure(t(0), "cannot read the TCP tables");
    assert_eq!(
        failed.map(|c| c.kind),
        Some(ChangeKind::ScanFailed(ScanFailed {
            message: "cannot read the TCP tables".into()
        }))
    );
    assert_eq!(tr.observe_failure(t(1), "cannot read the TCP tables"), None);
    let e6 = ScanError::new("/proc/net/tcp6", "not found");
    let e4 = ScanError::new("/proc/net/tcp", "garbled row");
    let mut s = snap(2, host(), vec![]);
    s.errors = vec![e6.clone(), e4.clone()];
    let k = kinds(tr.observe(&s));
    assert_eq!(k[0], ChangeKind::ScanRecovered);
    assert_eq!(
        k[3..],
        [
            ChangeKind::ScanError(e4.clone()),
            ChangeKind::ScanError(e6.clone())
        ]
    );
    s.taken_at = t(3);
    assert_eq!(tr.observe(&s), vec![], "errors that last are not repeated");
    s.errors = vec![e6];
    let k = kinds(tr.observe(&s));
    assert_eq!(k, vec![ChangeKind::ScanErrorCleared(e4)]);
}

#[test]
fn changes_serialise_as_one_flat_object_with_stable_names() {
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(0, host(), vec![]));
    let changes = tr.observe(&snap(
        1,
        host(),
        vec![
            sock(SC, SC, TcpState::Established, Some((42, "client"))),
            listener(44700, None),
        ],
    ));
    let json: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(
        json[0],
        serde_json::json!({
            "time": t(1).to_rfc3339(),
            "event": "listener_appeared",
            "netns": {"id": 1, "name": "host"},
            "addr": "0.0.0.0:44700",
            "family": "ipv4",
            "risk": "high",
            "owner": {
                "unknown": "kernel_held",
                "reason": UnknownOwner::KernelHeld.reason(),
            },
            "present_at_start": false,
        })
    );
    assert_eq!(
        json[1],
        serde_json::json!({
            "time": t(1).to_rfc3339(),
            "event": "self_connect_seen",
            "netns": {"id": 1, "name": "host"},
            "addr": SC,
            "family": "ipv4",
            "state": "ESTABLISHED",
            "owner": {"pid": 42, "name": "client", "cmdline": "client --serve", "user": "alice"},
            "first_seen": t(1).to_rfc3339(),
            "last_seen": t(1).to_rfc3339(),
            "present_at_start": false,
        })
    );
    let recovered = Change {
        time: t(2),
        kind: ChangeKind::ScanRecovered,
    };
    assert_eq!(
        serde_json::to_value(&recovered).unwrap(),
        serde_json::json!({"time": t(2).to_rfc3339(), "event": "scan_recovered"})
    );
}
