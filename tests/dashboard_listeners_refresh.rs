//! Listeners-only refreshes (live catch on, a busy host): the dashboard
//! keeps the connections of the last full scan beside the fresh listeners,
//! says how old they are, and logs no change that did not happen.

mod dashboard_fixture;

use std::time::Duration;

use dashboard_fixture::*;
use selfconn_tui::core::socket::TcpState;
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::theme::Theme;

fn states(d: &Dashboard) -> (Vec<u16>, Vec<u16>) {
    let snap = d.app.snapshot().unwrap();
    let mut listen = Vec::new();
    let mut other = Vec::new();
    for s in &snap.sockets {
        let port = s.entry.local.port();
        if s.entry.state == TcpState::Listen {
            listen.push(port);
        } else {
            other.push(port);
        }
    }
    listen.sort();
    other.sort();
    (listen, other)
}

fn status_line(d: &mut Dashboard) -> String {
    status_line_at(d, 160)
}

fn status_line_at(d: &mut Dashboard, width: u16) -> String {
    let t = render(d, width, 30);
    screen(&t)
        .into_iter()
        .find(|l| l.contains("LIVE"))
        .expect("a status line")
}

#[test]
fn a_listeners_only_refresh_keeps_the_connections_and_says_how_old_they_are() {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    d.handle(scan(busy_snapshot(at(12, 0, 0))));
    let (listen_before, other_before) = states(&d);
    assert!(!other_before.is_empty() && listen_before.len() >= 2);
    let logged = d.app.tracker().entries().len();
    assert!(!status_line(&mut d).contains("listeners;"));

    // The next refresh reads listeners only, and a risky one has gone.
    let gone = 40000;
    assert!(listen_before.contains(&gone), "{listen_before:?}");
    let mut next = busy_snapshot(at(12, 0, 5));
    next.sockets
        .retain(|s| !(s.entry.state == TcpState::Listen && s.entry.local.port() == gone));
    d.handle(listeners_scan(next));
    d.set_now(at(12, 0, 5));
    let (listen, other) = states(&d);
    assert_eq!(
        other, other_before,
        "the connections of the full scan are kept"
    );
    assert!(
        !listen.contains(&gone),
        "the listeners are fresh: {listen:?}"
    );
    assert_eq!(listen.len(), listen_before.len() - 1);
    let status = status_line(&mut d);
    assert!(
        status.contains("refreshed 12:00:05")
            && status.contains("(listeners; connections of 12:00:00)"),
        "{status}"
    );
    // Narrow: the age of the connections, before the rest.
    let narrow = status_line_at(&mut d, 80);
    assert!(
        narrow.contains("conns 12:00:00 · live") || narrow.trim_end().ends_with("conns 12:00:00"),
        "{narrow}"
    );
    // Only the listener's going is news; no connection "closed".
    assert_eq!(
        d.app.tracker().entries().len(),
        logged + 1,
        "{:?}",
        d.app.tracker().entries()
    );

    // Another one: the connections are still those of 12:00:00.
    d.handle(listeners_scan(busy_snapshot(at(12, 0, 6))));
    d.set_now(at(12, 0, 6));
    assert_eq!(states(&d).1, other_before);
    assert!(status_line(&mut d).contains("connections of 12:00:00"));

    // A full one: all fresh, and said no more.
    let mut full = busy_snapshot(at(12, 0, 10));
    full.sockets.retain(|s| s.entry.state == TcpState::Listen);
    d.handle(scan(full));
    d.set_now(at(12, 0, 10));
    assert!(
        states(&d).1.is_empty(),
        "a full scan replaces the connections"
    );
    assert!(!status_line(&mut d).contains("listeners;"));
}

#[test]
fn while_paused_the_held_back_refreshes_are_completed_too() {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    d.handle(scan(busy_snapshot(at(12, 0, 0))));
    let (_, other_before) = states(&d);
    d.handle(ch(' '));
    assert!(d.app.is_paused());
    d.handle(listeners_scan(busy_snapshot(at(12, 0, 5))));
    d.handle(listeners_scan(busy_snapshot(at(12, 0, 6))));
    // On screen: still the full scan of 12:00:00, whole.
    assert_eq!(d.app.snapshot().unwrap().taken_at, at(12, 0, 0));
    assert_eq!(states(&d).1, other_before);
    d.handle(ch(' '));
    assert!(!d.app.is_paused());
    assert_eq!(d.app.snapshot().unwrap().taken_at, at(12, 0, 6));
    assert_eq!(states(&d).1, other_before);
    d.set_now(at(12, 0, 6));
    assert!(status_line(&mut d).contains("connections of 12:00:00"));
}
