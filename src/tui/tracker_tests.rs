//! Tests of the event log: the core's changes kept, worded and bounded.

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
