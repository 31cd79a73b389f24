//! The repro pane with the real engine on loopback: start, stop and close
//! through the dispatcher, a foreign host refused (bounded waits).

mod common;
mod dashboard_fixture;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use dashboard_fixture::*;
use selfconn_tui::core::socket::TcpState;
use selfconn_tui::repro::{End, Mode};
use selfconn_tui::sys::scanner::{ScanOptions, Scanner};
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::repro::{Note, Pace, ReproRunner, is_free};
use selfconn_tui::tui::theme::Theme;

const WAIT: Duration = Duration::from_secs(15);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

fn text(d: &mut Dashboard, w: u16, h: u16) -> String {
    screen(&render(d, w, h)).join("\n")
}

/// [`pump_runner`] with this file's time limit.
fn pump(
    d: &mut Dashboard,
    runner: &mut ReproRunner,
    what: &str,
    done: impl Fn(&Dashboard) -> bool,
) {
    pump_runner(d, runner, what, WAIT, done);
}

/// A free port outside the ephemeral range: refused, never picked.
fn free_port_outside_range() -> u16 {
    let (low, high) = common::port_range();
    (1025..65535u16)
        .rev()
        .filter(|p| !(low..=high).contains(p))
        .find(|&p| is_free(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
        .unwrap()
}

fn ended(d: &Dashboard) -> Option<End> {
    d.app.repro().slot(0).run().and_then(|r| r.end.clone())
}

#[test]
fn the_real_engine_connects_to_itself_and_c_closes_the_socket() {
    let mut d = busy_dashboard(Theme::default_dark());
    let mut runner = ReproRunner::new();
    d.handle(ch('r'));
    pump(&mut d, &mut runner, "a suggested port", |d| {
        !d.app.repro().slot(0).port().is_empty()
    });
    // Inside this host's real range, with connect()'s parity, free.
    let suggested = d.app.repro().slot(0).port_number().expect("a port");
    let (low, high) = common::port_range();
    assert!(
        (low..=high).contains(&suggested),
        "{suggested} in {low}-{high}"
    );
    assert_eq!((suggested - low) % 2, 0, "{suggested}: connect()'s parity");
    assert!(is_free(IpAddr::V4(Ipv4Addr::LOCALHOST), suggested));

    // bind mode on a free port: connected to itself on the first attempt.
    let port = common::free_port("127.0.0.1");
    typed(&mut d, &port.to_string());
    d.handle(key(KeyCode::Tab));
    d.handle(key(KeyCode::Tab));
    d.handle(key(KeyCode::Right));
    d.handle(key(KeyCode::Right));
    assert_eq!(d.app.repro().slot(0).mode(), Mode::Bind);
    d.handle(key(KeyCode::Enter));
    pump(&mut d, &mut runner, "the self-connection", |d| {
        ended(d).is_some()
    });
    match ended(&d) {
        Some(End::SelfConnected { local, peer, echo }) => {
            assert_eq!((local, peer), (addr(port), addr(port)));
            assert!(echo.verified);
        }
        other => panic!("{other:?}"),
    }
    assert!(d.app.repro().slot(0).holds_socket());
    assert!(d.app.requests().is_empty(), "the rescan was handed out");

    // A real scan of this namespace: the row is there, marked.
    let mut scanner = Scanner::new(ScanOptions {
        netns: Some("own".into()),
        ..ScanOptions::default()
    });
    let find = |scanner: &mut Scanner| {
        let snap = scanner.scan().expect("a scan");
        let state = snap
            .sockets
            .iter()
            .find(|s| s.entry.local == addr(port) && s.entry.remote == addr(port))
            .map(|s| s.entry.state);
        (snap, state)
    };
    let (snap, state) = find(&mut scanner);
    assert_eq!(state, Some(TcpState::Established));
    d.handle(scan(snap));
    let screen_text = text(&mut d, 120, 40);
    let needle = format!("127.0.0.1:{port} 127.0.0.1:{port}");
    let row = screen_text
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("{screen_text}"));
    assert!(row.contains("◆ repro"), "{row}");

    d.handle(ch('c'));
    pump(&mut d, &mut runner, "the socket closed", |d| {
        !d.app.repro().slot(0).holds_socket()
    });
    let (_, state) = find(&mut scanner);
    assert_eq!(state, Some(TcpState::TimeWait), "closed: TIME_WAIT");
}

#[test]
fn x_stops_a_running_loop_and_quitting_joins_it() {
    let mut d = busy_dashboard(Theme::default_dark());
    let mut runner = ReproRunner::new();
    d.handle(ch('r'));
    pump(&mut d, &mut runner, "a suggested port", |d| {
        !d.app.repro().slot(0).port().is_empty()
    });
    let port = free_port_outside_range();
    typed(&mut d, &port.to_string());
    // 100/s: refused every time (outside the range), gently. ↑ goes
    // round to the last field, the pace.
    d.handle(key(KeyCode::Up));
    d.handle(key(KeyCode::Left));
    d.handle(key(KeyCode::Left));
    d.handle(key(KeyCode::Left));
    assert_eq!(d.app.repro().slot(0).pace(), Pace::PerSec(100));
    d.handle(key(KeyCode::Enter));
    pump(&mut d, &mut runner, "some attempts", |d| {
        d.app
            .repro()
            .slot(0)
            .run()
            .is_some_and(|r| r.stats.attempts >= 5)
    });
    assert!(d.app.repro().any_running());
    assert!(text(&mut d, 120, 40).contains("RUNNING"));
    d.handle(ch('x'));
    pump(&mut d, &mut runner, "the stop", |d| ended(d).is_some());
    assert_eq!(ended(&d), Some(End::Stopped));
    // The packet capture (as root) reads on for a second after the end.
    pump(&mut d, &mut runner, "the capture's end", |_| true);
    let t0 = Instant::now();
    while runner.is_active() && t0.elapsed() < WAIT {
        selfconn_tui::tui::exchange(&mut d, &mut runner, None, true);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!runner.is_active());
    let run = d.app.repro().slot(0).run().cloned().unwrap();
    assert!(run.stats.refused >= 5, "{:?}", run.stats);

    // Running again, then the runner goes (as on quit): it stops and joins.
    d.handle(key(KeyCode::Enter));
    pump(&mut d, &mut runner, "the second run", |d| {
        d.app.repro().any_running()
    });
    let t0 = Instant::now();
    drop(runner);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "joined in {:?}",
        t0.elapsed()
    );
}

#[test]
fn a_foreign_host_is_refused_and_no_loop_starts() {
    let mut d = busy_dashboard(Theme::default_dark());
    let mut runner = ReproRunner::new();
    d.handle(ch('r'));
    pump(&mut d, &mut runner, "a suggested port", |d| {
        !d.app.repro().slot(0).port().is_empty()
    });
    d.handle(key(KeyCode::Tab));
    typed(&mut d, "8.8.8.8");
    d.handle(key(KeyCode::Enter));
    pump(&mut d, &mut runner, "the refusal", |d| {
        !d.app.repro().slot(0).is_starting()
    });
    let slot = &d.app.repro().slot(0);
    assert!(slot.run().is_none());
    match slot.note() {
        Some(Note::Error(m)) => assert!(m.contains("not an address of this machine"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(!runner.is_active());
    assert!(text(&mut d, 120, 40).contains("✖ 8.8.8.8 is not an address of this machine"));
}
