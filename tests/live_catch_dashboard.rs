//! Live catch in the dashboard: caught self-connects in the log at once
//! with their owner and kept on top until `C`, retry storms with their
//! rate, the owner of a TIME_WAIT row caught live, the header's state; on
//! fixed events and on the real kernel (root).

mod common;
mod dashboard_fixture;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dashboard_fixture::*;
use selfconn_tui::core::live::{
    LiveEvent, Owner, StateChange, StormChange, StormKey, StormStats, Task, TcpState as KState,
    tries_estimate,
};
use selfconn_tui::core::ports::PortRange;
use selfconn_tui::core::snapshot::UnknownOwner;
use selfconn_tui::core::socket::{Family, TcpState};
use selfconn_tui::sys::tracefs::{Caught, LiveCatch, LiveConfig};
use selfconn_tui::tui::app::Effect;
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::event::Event;
use selfconn_tui::tui::panes::events::live_findings;
use selfconn_tui::tui::theme::Theme;
use selfconn_tui::tui::tracker::LiveCatchStatus;

const HOST_NS: u64 = 4026531840;
const ADDR: &str = "127.0.0.1:45010";

fn owner(pid: i32, name: &str) -> Owner {
    Owner {
        pid,
        tid: pid,
        comm: name.into(),
        name: name.into(),
        cmdline: format!("{name} --connect {ADDR}"),
        uid: Some(0),
        netns: Some(HOST_NS),
    }
}

fn caught_self_connect(wall: chrono::DateTime<chrono::Local>, pid: i32) -> Event {
    let addr: SocketAddr = ADDR.parse().unwrap();
    Event::Live(Box::new(Caught {
        wall,
        event: LiveEvent::SelfConnect {
            change: StateChange {
                time: Duration::from_secs(100),
                task: Task {
                    tid: pid,
                    comm: Some("myapp".into()),
                },
                family: Family::Ipv4,
                local: addr,
                remote: addr,
                old: KState::SYN_SENT,
                new: KState::SYN_RECV,
            },
            owner: Some(owner(pid, "myapp")),
        },
    }))
}

fn storm(wall: chrono::DateTime<chrono::Local>, target: &str, started: bool) -> Event {
    let target: SocketAddr = target.parse().unwrap();
    let stats = StormStats {
        key: StormKey { pid: 4242, target },
        refusals: 1830,
        total: 1830,
        rate_per_sec: 183.0,
        first_seen: Duration::from_secs(90),
        last_seen: Duration::from_secs(100),
        last_source_port: 45002,
        connect_parity: true,
        estimate: tries_estimate(PortRange::KERNEL_DEFAULT, target.port()),
    };
    let change = if started {
        StormChange::Started(stats)
    } else {
        StormChange::Ended(stats)
    };
    Event::Live(Box::new(Caught {
        wall,
        event: LiveEvent::Storm {
            change,
            owner: Some(owner(4242, "myapp")),
        },
    }))
}

fn text(d: &mut Dashboard, w: u16, h: u16) -> String {
    screen(&render(d, w, h)).join("\n")
}

/// The log's messages, newest first.
fn log(d: &Dashboard) -> Vec<String> {
    d.app
        .tracker()
        .entries()
        .iter()
        .rev()
        .map(|e| e.message())
        .collect()
}

/// The live findings on top of the log, unwrapped.
fn pinned(d: &Dashboard) -> String {
    live_findings(&d.app, 500)
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn started() -> Dashboard {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    d.app
        .apply(Effect::LiveCatch(LiveCatchStatus::On { storms_off: None }));
    d.handle(scan(plain_snapshot(at(12, 0, 0))));
    d.set_now(at(12, 0, 1));
    d
}

#[test]
fn a_caught_self_connect_is_logged_at_once_kept_with_its_owner_until_cleared() {
    let mut d = started();
    assert!(d.handle(caught_self_connect(at(12, 0, 1), 4242)));
    assert_eq!(
        log(&d)[0],
        "SELF-CONNECT CAUGHT 127.0.0.1:45010 ↔ itself, made by pid 4242 myapp (kernel event)"
    );
    assert_eq!(
        pinned(&d),
        "CAUGHT 12:00:01 127.0.0.1:45010 ↔ itself, pid 4242 myapp; open · C clears"
    );
    let screen = text(&mut d, 140, 40);
    assert!(
        screen.contains("CAUGHT 12:00:01 127.0.0.1:45010"),
        "{screen}"
    );

    // The next scan shows its TIME_WAIT row, held by the kernel: the table
    // names the process that made it.
    let mut snap = plain_snapshot(at(12, 0, 2));
    snap.sockets.push(socket(
        ADDR,
        ADDR,
        TcpState::TimeWait,
        selfconn_tui::core::snapshot::Owner::Unknown(UnknownOwner::KernelHeld),
        "root",
        0,
    ));
    let snap = snapshot_of(at(12, 0, 2), snap.namespaces, snap.sockets);
    d.handle(scan(snap));
    d.set_now(at(12, 0, 2));
    let (row, _) = d.app.selected().expect("the self-connect is selected");
    assert_eq!(row.entry.local.to_string(), ADDR);
    assert_eq!(row.owner.process().map(|p| p.pid), Some(4242));
    let screen = text(&mut d, 140, 40);
    assert!(screen.contains("myapp"), "{screen}");
    assert!(!screen.contains("(kernel)"), "{screen}");

    // Gone from the tables: closed, with the time it was seen for.
    d.handle(scan(plain_snapshot(at(12, 0, 3))));
    d.set_now(at(12, 0, 3));
    assert!(
        pinned(&d).contains("pid 4242 myapp; closed, lived at least 1000 ms"),
        "{}",
        pinned(&d)
    );

    // C clears the caught list; the log keeps the entry.
    d.handle(ch('C'));
    assert_eq!(d.app.tracker().caught().count(), 0);
    assert_eq!(pinned(&d), "");
    let screen = text(&mut d, 140, 40);
    assert!(!screen.contains("CAUGHT 12:00:01"), "{screen}");
    assert!(log(&d).iter().any(|m| m.starts_with("SELF-CONNECT CAUGHT")));
}

#[test]
fn a_retry_storm_to_a_local_in_range_port_is_a_finding_with_its_rate() {
    let mut d = started();
    assert!(d.handle(storm(at(12, 0, 1), "127.0.0.1:45000", true)));
    assert!(
        pinned(&d).starts_with(
            "STORM 127.0.0.1:45000 pid 4242 myapp refused 183/s (1,830 in 10 s), high risk, \
             self-connect probably within ~"
        ),
        "{}",
        pinned(&d)
    );
    assert!(
        log(&d)[0].starts_with(
            "RETRY STORM (high risk, 183/s): pid 4242 (myapp) was refused 1,830 times in 10 s \
             on 127.0.0.1:45000; nothing listens there and the port is inside the range: it \
             will connect to itself, probably within ~"
        ),
        "{}",
        log(&d)[0]
    );
    assert!(text(&mut d, 160, 40).contains("STORM 127.0.0.1:45000"));
    assert_eq!(d.app.tracker().storms().len(), 1);
    d.handle(storm(at(12, 0, 9), "127.0.0.1:45000", false));
    assert!(d.app.tracker().storms().is_empty());
    assert!(log(&d)[0].starts_with("retry storm on 127.0.0.1:45000 ended"));

    // Not a local address, or outside the range: no finding.
    let before = d.app.tracker().len();
    d.handle(storm(at(12, 0, 10), "192.0.2.7:45000", true));
    d.handle(storm(at(12, 0, 10), "127.0.0.1:8080", true));
    assert_eq!(d.app.tracker().len(), before);
    assert!(d.app.tracker().storms().is_empty());
}

/// The header's first three lines.
fn header(d: &mut Dashboard) -> String {
    header_at(d, 100)
}

fn header_at(d: &mut Dashboard, width: u16) -> String {
    screen(&render(d, width, 30))[..3].join("\n")
}

#[test]
fn the_header_says_whether_live_catch_runs() {
    let mut d = started();
    insta::assert_snapshot!("header_live_catch_on", header(&mut d));
    d.app
        .apply(Effect::LiveCatch(LiveCatchStatus::Off("not root".into())));
    insta::assert_snapshot!("header_live_catch_off_not_root", header(&mut d));
    let why = "tracefs unavailable: /sys/kernel/tracing is not mounted\u{1b}[31m";
    d.app
        .apply(Effect::LiveCatch(LiveCatchStatus::Off(why.into())));
    let h = header_at(&mut d, 160);
    assert!(
        h.contains("live catch: off (tracefs unavailable: /sys/kernel/tracing is not mounted"),
        "{h}"
    );
    assert!(!h.contains('\u{1b}'), "{h}");
}

#[test]
fn a_real_self_connect_shows_in_the_dashboard_within_a_second() {
    if !common::root_or_skip("live catch reads kernel tracepoints, which needs root") {
        return;
    }
    let (live, rx) = LiveCatch::start(LiveConfig::default()).expect("live catch starts as root");
    let mut d = started();
    let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let made = Instant::now();
    let s = common::self_connect(addr);
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    let me = std::process::id() as i32;
    let want = format!("{addr} ↔ itself, pid {me}");
    let deadline = made + Duration::from_secs(1);
    let shown = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(c) = rx.recv_timeout(left) else {
            break None;
        };
        d.handle(Event::Live(Box::new(c)));
        let screen = text(&mut d, 200, 40);
        if screen.contains(&want) {
            break Some(screen);
        }
    };
    let screen = shown.unwrap_or_else(|| panic!("not shown within a second: {want}"));
    // With the command: the test binary's name (cut at 48 cells).
    let exe = std::env::current_exe().unwrap();
    let name: String = exe
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(30)
        .collect();
    assert!(screen.contains("CAUGHT "), "{screen}");
    assert!(
        pinned(&d).contains(&format!("{want} {name}")),
        "{}",
        pinned(&d)
    );
    assert!(
        log(&d).iter().any(|m| m.starts_with(&format!(
            "SELF-CONNECT CAUGHT {addr} ↔ itself, made by pid {me} {name}"
        ))),
        "{:?}",
        log(&d)
    );
    drop(live);
}
