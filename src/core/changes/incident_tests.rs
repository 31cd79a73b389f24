//! Incidents on constructed snapshots, through the tracker: a listener
//! gone then a self-connect on its port is one incident; another port,
//! another namespace or too late is none.

use chrono::TimeDelta;

use super::fixtures::{host, listener, ns, process, snap, sock, t};
use super::*;
use crate::core::snapshot::Snapshot;
use crate::core::socket::TcpState;

const SC: &str = "127.0.0.1:44600";

fn incidents(changes: &[Change]) -> Vec<&Incident> {
    changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::PortStolen(i) => Some(i.as_ref()),
            _ => None,
        })
        .collect()
}

fn db() -> crate::core::snapshot::Socket {
    listener(44600, Some((7, "db")))
}

fn thief(state: TcpState) -> crate::core::snapshot::Socket {
    sock(SC, SC, state, Some((42, "client")))
}

/// Listener at 0 and 1, gone at 5: the tracker after those scans.
fn vacated() -> ChangeTracker {
    let mut tr = ChangeTracker::new();
    for (at, socks) in [(0, vec![db()]), (1, vec![db()]), (5, vec![])] {
        assert!(incidents(&tr.observe(&snap(at, host(), socks))).is_empty());
    }
    tr
}

#[test]
fn a_self_connect_on_a_vacated_port_is_one_incident_linking_both() {
    let mut tr = vacated();
    let changes = tr.observe(&snap(8, host(), vec![thief(TcpState::Established)]));
    let found = incidents(&changes);
    let [i] = found[..] else {
        panic!("one incident expected: {changes:#?}");
    };
    assert!(
        matches!(
            changes.last().map(|c| &c.kind),
            Some(ChangeKind::PortStolen(_))
        ),
        "the incident comes last, after the sighting it explains"
    );
    assert_eq!(i.port, 44600);
    assert_eq!(i.netns.id, 1);
    assert_eq!(i.listener.owner, process(7, "db"));
    assert_eq!(i.listener.addr.to_string(), "0.0.0.0:44600");
    assert_eq!(
        (
            i.listener.first_seen,
            i.listener.last_seen,
            i.listener.gone_at
        ),
        (t(0), t(1), t(5))
    );
    assert_eq!(i.self_connect.owner, process(42, "client"));
    assert_eq!(i.self_connect.first_seen, t(8));
    assert_eq!((i.delay_ms, i.delay_at_most_ms), (3000, 7000));
    assert_eq!(
        i.known,
        vec![
            Fact::ListenerGone,
            Fact::SelfConnectOnPort,
            Fact::NoListenerOnPort,
            Fact::PortHeld
        ]
    );
    assert_eq!(
        i.inferred,
        vec![
            Inference::PortTakenByRetryingClient,
            Inference::ServiceCannotBind
        ]
    );
    // Open, with its timeline, and found from the self-connect's key.
    let key = SelfConnectKey {
        netns: 1,
        addr: SC.parse().unwrap(),
    };
    let rec = tr.incident_of(&key).expect("an open incident");
    assert_eq!(&rec.incident, i);
    let steps: Vec<TimelineStep> = rec.timeline.steps().into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        steps,
        vec![
            TimelineStep::ListenerSeen,
            TimelineStep::ListenerLastSeen,
            TimelineStep::ListenerGone,
            TimelineStep::SelfConnect
        ]
    );
    // Still there next scan: no second incident.
    let again = tr.observe(&snap(9, host(), vec![thief(TcpState::Established)]));
    assert!(incidents(&again).is_empty(), "{again:#?}");
    // Gone: the port is free, the incident closed but kept.
    tr.observe(&snap(10, host(), vec![]));
    assert!(tr.incident_of(&key).is_none());
    let rec = &tr.incidents()[0];
    assert_eq!(rec.timeline.port_freed, Some(t(10)));
    assert!(!rec.is_open());
}

#[test]
fn live_retries_and_a_bind_failure_complete_the_open_timeline() {
    let mut tr = vacated();
    tr.observe(&snap(8, host(), vec![thief(TcpState::Established)]));
    let retries = Retries {
        count: 1234,
        first: t(5),
        last: t(7),
    };
    assert!(tr.note_retries(1, 44600, retries.clone()));
    let failure = BindFailure {
        at: t(9),
        pid: Some(7),
        name: Some("db".into()),
        errno: "EADDRINUSE".into(),
    };
    assert!(tr.note_bind_failure(1, 44600, failure.clone()));
    assert!(
        !tr.note_bind_failure(1, 44602, failure.clone()),
        "no incident there"
    );
    assert!(
        !tr.note_bind_failure(2, 44600, failure.clone()),
        "nor in namespace 2"
    );
    let rec = &tr.incidents()[0];
    assert_eq!(rec.timeline.retries, Some(retries));
    assert_eq!(rec.timeline.bind_failure, Some(failure));
    let steps: Vec<TimelineStep> = rec.timeline.steps().into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        steps[2..],
        [
            TimelineStep::ListenerGone,
            TimelineStep::Retries,
            TimelineStep::SelfConnect,
            TimelineStep::BindFailure
        ]
    );
}

#[test]
fn gone_and_self_connected_in_one_scan_is_an_incident_with_no_delay() {
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(0, host(), vec![db()]));
    let changes = tr.observe(&snap(2, host(), vec![thief(TcpState::Established)]));
    let [i] = incidents(&changes)[..] else {
        panic!("one incident expected: {changes:#?}");
    };
    assert_eq!((i.delay_ms, i.delay_at_most_ms), (0, 2000));
}

#[test]
fn no_incident_on_a_port_that_never_had_a_listener() {
    let mut tr = vacated();
    let other = sock(
        "127.0.0.1:44602",
        "127.0.0.1:44602",
        TcpState::Established,
        None,
    );
    let changes = tr.observe(&snap(8, host(), vec![other]));
    assert!(incidents(&changes).is_empty(), "{changes:#?}");
    assert!(tr.incidents().is_empty());
}

#[test]
fn no_incident_in_another_namespace() {
    let two = || vec![ns(1, "host", ""), ns(2, "web", "")];
    let mut tr = ChangeTracker::new();
    tr.observe(&snap(0, two(), vec![db()]));
    tr.observe(&snap(1, two(), vec![]));
    let mut s = thief(TcpState::Established);
    s.netns = 1;
    let changes = tr.observe(&snap(2, two(), vec![s]));
    assert!(
        changes
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::SelfConnectSeen(s) if s.netns.id == 2))
    );
    assert!(incidents(&changes).is_empty(), "{changes:#?}");
}

fn at_offset(mut s: Snapshot, after_gone: TimeDelta) -> Snapshot {
    s.taken_at = t(5) + after_gone;
    s
}

#[test]
fn no_incident_after_the_window_which_can_be_set() {
    let late = |d| at_offset(snap(0, host(), vec![thief(TcpState::Established)]), d);
    let mut tr = vacated();
    let changes = tr.observe(&late(TimeDelta::minutes(10) + TimeDelta::seconds(1)));
    assert!(
        incidents(&changes).is_empty(),
        "past the default 10 minutes"
    );

    let mut tr = vacated();
    let changes = tr.observe(&late(TimeDelta::minutes(9)));
    assert_eq!(incidents(&changes).len(), 1, "within the default window");

    let mut tr = vacated();
    tr.set_incident_window(TimeDelta::seconds(30));
    let changes = tr.observe(&late(TimeDelta::seconds(31)));
    assert!(incidents(&changes).is_empty(), "past a window of 30 s");
}

#[test]
fn a_listener_back_first_means_no_incident_later() {
    let mut tr = vacated();
    tr.observe(&snap(6, host(), vec![db()]));
    tr.observe(&snap(7, host(), vec![]));
    tr.observe(&snap(8, host(), vec![db()]));
    // Held by another address's self-connect while the listener is up on
    // 0.0.0.0 is not possible; gone again, stolen later: linked to the
    // last going.
    tr.observe(&snap(20, host(), vec![]));
    let changes = tr.observe(&snap(21, host(), vec![thief(TcpState::Established)]));
    let [i] = incidents(&changes)[..] else {
        panic!("one incident expected: {changes:#?}");
    };
    assert_eq!(
        (
            i.listener.first_seen,
            i.listener.last_seen,
            i.listener.gone_at
        ),
        (t(8), t(8), t(20))
    );
}

#[test]
fn a_self_connect_already_in_time_wait_still_holds_the_port_but_a_closed_one_not() {
    let mut tr = vacated();
    let changes = tr.observe(&snap(8, host(), vec![thief(TcpState::TimeWait)]));
    let [i] = incidents(&changes)[..] else {
        panic!("one incident expected: {changes:#?}");
    };
    assert!(i.known.contains(&Fact::PortHeld));
    assert!(i.inferred.contains(&Inference::ServiceCannotBind));
    let mut tr = vacated();
    let changes = tr.observe(&snap(8, host(), vec![thief(TcpState::Close)]));
    let [i] = incidents(&changes)[..] else {
        panic!("one incident expected: {changes:#?}");
    };
    assert!(!i.known.contains(&Fact::PortHeld));
    assert_eq!(i.inferred, vec![Inference::PortTakenByRetryingClient]);
}

#[test]
fn an_incident_serialises_as_port_stolen_with_both_owners() {
    let mut tr = vacated();
    let changes = tr.observe(&snap(8, host(), vec![thief(TcpState::Established)]));
    let c = changes.last().unwrap();
    let j = serde_json::to_value(c).unwrap();
    assert_eq!(j["event"], "port_stolen");
    assert_eq!(j["time"], t(8).to_rfc3339());
    assert_eq!(j["port"], 44600);
    assert_eq!(j["netns"], serde_json::json!({"id": 1, "name": "host"}));
    assert_eq!(j["listener"]["owner"]["pid"], 7);
    assert_eq!(j["listener"]["gone_at"], t(5).to_rfc3339());
    assert_eq!(j["listener"]["last_seen"], t(1).to_rfc3339());
    assert_eq!(j["self_connect"]["owner"]["name"], "client");
    assert_eq!(j["self_connect"]["state"], "ESTABLISHED");
    assert_eq!(j["delay_ms"], 3000);
    assert_eq!(
        j["inferred"],
        serde_json::json!(["port_taken_by_retrying_client", "service_cannot_bind"])
    );
    assert_eq!(
        j["known"],
        serde_json::json!([
            "listener_gone",
            "self_connect_on_port",
            "no_listener_on_port",
            "port_held"
        ])
    );
}
