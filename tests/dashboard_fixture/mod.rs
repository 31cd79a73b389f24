//! Fixed data for the dashboard tests: a snapshot with every kind of row,
//! fixed times and made-up pids, and a dashboard fed with it.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, Local, NaiveDate, TimeZone};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use selfconn_tui::core::ports::{PortPolicy, ReservedPorts};
use selfconn_tui::core::snapshot::{
    Namespace, Owner, ProcessInfo, ScanError, Snapshot, Socket, UnknownOwner,
};
use selfconn_tui::core::socket::{Family, SocketEntry, TcpState, classify};
use selfconn_tui::sys::scanner::ScanFailure;
use selfconn_tui::tui::app::ScanResult;
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::event::Event;
use selfconn_tui::tui::theme::Theme;

/// 2024-05-01 at the given local time: shown as that time in any time zone.
pub fn at(h: u32, m: u32, s: u32) -> DateTime<Local> {
    let naive = NaiveDate::from_ymd_opt(2024, 5, 1)
        .unwrap()
        .and_hms_opt(h, m, s)
        .unwrap();
    Local
        .from_local_datetime(&naive)
        .earliest()
        .expect("a valid local time")
}

pub fn host() -> Namespace {
    Namespace {
        id: 4026531840,
        name: "host".into(),
        is_own: true,
        policy: PortPolicy {
            reserved: ReservedPorts::parse("44700").unwrap(),
            ..PortPolicy::default()
        },
        is_host: true,
        ..Namespace::default()
    }
}

pub fn process(pid: i32, name: &str, cmdline: &str, user: &str) -> Owner {
    Owner::Process(std::sync::Arc::new(ProcessInfo {
        pid,
        name: name.into(),
        cmdline: cmdline.into(),
        user: user.into(),
    }))
}

pub fn socket(
    local: &str,
    remote: &str,
    state: TcpState,
    owner: Owner,
    user: &str,
    inode: u64,
) -> Socket {
    let local: std::net::SocketAddr = local.parse().unwrap();
    Socket {
        entry: SocketEntry {
            family: if local.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            local,
            remote: remote.parse().unwrap(),
            state,
            inode,
            uid: match user {
                "root" => 0,
                "postgres" => 114,
                "alice" => 1000,
                _ => 2000,
            },
        },
        finding: None,
        owner,
        user: user.into(),
        netns: 0,
    }
}

/// Classifies the sockets against their namespaces, as the scanner does.
pub fn snapshot_of(
    taken_at: DateTime<Local>,
    namespaces: Vec<Namespace>,
    mut sockets: Vec<Socket>,
) -> Snapshot {
    for s in &mut sockets {
        s.finding = classify(&s.entry, &namespaces[s.netns].policy);
    }
    Snapshot {
        taken_at,
        scan_micros: 4200,
        namespaces,
        sockets,
        errors: vec![],
        visibility_note: None,
    }
}

/// Every kind of row: two self-connects (one live, one in TIME_WAIT), a
/// high and a medium listener, a reserved one, and plain sockets.
pub fn busy_sockets() -> Vec<Socket> {
    use TcpState::*;
    vec![
        socket(
            "0.0.0.0:22",
            "0.0.0.0:0",
            Listen,
            process(800, "sshd", "sshd: /usr/sbin/sshd -D", "root"),
            "root",
            1001,
        ),
        socket(
            "10.0.0.5:22",
            "10.0.0.9:51000",
            Established,
            process(900, "sshd", "sshd: alice [priv]", "root"),
            "root",
            1002,
        ),
        socket(
            "[::]:40001",
            "[::]:0",
            Listen,
            Owner::Unknown(UnknownOwner::NotPermitted),
            "mysql",
            1003,
        ),
        socket(
            "127.0.0.1:45002",
            "127.0.0.1:45002",
            TimeWait,
            Owner::Unknown(UnknownOwner::KernelHeld),
            "root",
            0,
        ),
        socket(
            "0.0.0.0:40000",
            "0.0.0.0:0",
            Listen,
            process(
                1200,
                "postgres",
                "/usr/lib/postgresql/16/bin/postgres -D /var/lib/postgresql/16/main -p 40000",
                "postgres",
            ),
            "postgres",
            1004,
        ),
        socket(
            "127.0.0.1:38000",
            "127.0.0.1:40000",
            Established,
            process(4300, "psql", "psql -h 127.0.0.1 -p 40000", "alice"),
            "alice",
            1005,
        ),
        socket(
            "127.0.0.1:44700",
            "0.0.0.0:0",
            Listen,
            process(
                1300,
                "cache-daemon",
                "/opt/cache/cache-daemon --port 44700",
                "root",
            ),
            "root",
            1006,
        ),
        socket(
            "127.0.0.1:44600",
            "127.0.0.1:44600",
            Established,
            process(
                4242,
                "flaky-client",
                "/usr/local/bin/flaky-client --retry-forever 127.0.0.1:44600",
                "alice",
            ),
            "alice",
            81234,
        ),
    ]
}

pub fn busy_snapshot(taken_at: DateTime<Local>) -> Snapshot {
    snapshot_of(taken_at, vec![host()], busy_sockets())
}

pub fn plain_snapshot(taken_at: DateTime<Local>) -> Snapshot {
    let plain: Vec<Socket> = busy_sockets()
        .into_iter()
        .filter(|s| {
            let p = s.entry.local.port();
            p == 22 || p == 38000 || p == 44700
        })
        .collect();
    snapshot_of(taken_at, vec![host()], plain)
}

pub fn scan(snapshot: Snapshot) -> Event {
    Event::Scan(Box::new(ScanResult {
        at: snapshot.taken_at,
        result: Ok(snapshot),
        listeners_only: false,
    }))
}

/// A listeners-only refresh (live catch on): only the snapshot's listeners
/// are sent, as the worker would.
pub fn listeners_scan(mut snapshot: Snapshot) -> Event {
    snapshot
        .sockets
        .retain(|s| s.entry.state == selfconn_tui::core::socket::TcpState::Listen);
    Event::Scan(Box::new(ScanResult {
        at: snapshot.taken_at,
        result: Ok(snapshot),
        listeners_only: true,
    }))
}

pub fn failed_scan(at: DateTime<Local>, source: &str, message: &str) -> Event {
    Event::Scan(Box::new(ScanResult {
        at,
        result: Err(ScanFailure::NoTables(vec![ScanError::new(source, message)])),
        listeners_only: false,
    }))
}

/// A dashboard that has seen a quiet host at 12:00:00, then the busy one
/// at 12:00:04 (so the log has entries), with the clock at 12:00:05.
pub fn busy_dashboard(theme: Theme) -> Dashboard {
    let mut d = Dashboard::new(theme, Duration::from_secs(1), at(12, 0, 0));
    d.handle(scan(plain_snapshot(at(12, 0, 0))));
    d.handle(scan(busy_snapshot(at(12, 0, 4))));
    d.set_now(at(12, 0, 5));
    d
}

pub fn terminal(w: u16, h: u16) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(w, h)).unwrap()
}

/// Draws and returns the terminal.
pub fn render(d: &mut Dashboard, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = terminal(w, h);
    d.handle(Event::Resize(w, h));
    t.draw(|f| d.draw(f)).unwrap();
    t
}

pub fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ch(c: char) -> Event {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Event::Key(KeyEvent::new(KeyCode::Char(c), mods))
}

pub fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn typed(d: &mut Dashboard, text: &str) {
    for c in text.chars() {
        d.handle(ch(c));
    }
}

/// The local addresses of the table's rows, in order.
pub fn rows(d: &Dashboard) -> Vec<String> {
    let snap = d.app.snapshot().expect("a snapshot");
    d.app
        .view()
        .rows
        .iter()
        .map(|&i| snap.sockets[i as usize].entry.local.to_string())
        .collect()
}

pub fn selected(d: &Dashboard) -> Option<String> {
    d.app.selected().map(|(s, _)| s.entry.local.to_string())
}

/// The screen as text lines.
pub fn screen(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

/// Hands the dashboard's requests to a real repro runner and its answers
/// back, as the event loop does (counters sampled), until `done`, at most
/// `wait`; the pane is shown when it times out.
pub fn pump_runner(
    d: &mut Dashboard,
    runner: &mut selfconn_tui::tui::repro::ReproRunner,
    what: &str,
    wait: Duration,
    done: impl Fn(&Dashboard) -> bool,
) {
    let start = std::time::Instant::now();
    loop {
        selfconn_tui::tui::exchange(d, runner, None, true);
        if done(d) {
            return;
        }
        assert!(
            start.elapsed() < wait,
            "timed out waiting for {what}; the pane:\n{}",
            screen(&render(d, 120, 40)).join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
