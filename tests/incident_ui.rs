//! The stolen-port incident in the dashboard: the details pane tells it
//! (story, known and inferred, timeline, fixes with freeing first), and
//! `K` frees the port: a confirmation that names the tuple and its holder,
//! then SOCK_DESTROY of that one socket on the real kernel (root, private
//! namespace), or, without root, the `ss -K` line instead. `K` anywhere
//! but on a self-connected socket does nothing and says why.

mod common;
mod dashboard_fixture;

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use crossterm::event::KeyCode;
use dashboard_fixture::*;
use selfconn_tui::core::snapshot::Snapshot;
use selfconn_tui::core::socket::TcpState;
use selfconn_tui::sys::scanner::{ScanOptions, Scanner};
use selfconn_tui::tui::app::{Effect, Request};
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::panes::confirm::{DestroyOutcome, Stage};
use selfconn_tui::tui::repro::ReproRunner;
use selfconn_tui::tui::theme::Theme;

fn dark() -> Dashboard {
    busy_dashboard(Theme::default_dark())
}

fn text(t: &ratatui::Terminal<ratatui::backend::TestBackend>) -> String {
    screen(t).join("\n")
}

fn select(d: &mut Dashboard, addr: &str) {
    let i = rows(d)
        .iter()
        .position(|r| r == addr)
        .unwrap_or_else(|| panic!("{addr} not in the table: {:?}", rows(d)));
    d.app.apply(Effect::SelectRow(i));
    assert_eq!(selected(d).as_deref(), Some(addr));
}

#[test]
fn k_on_a_self_connect_asks_first_naming_the_tuple_and_its_holder() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut d = dark();
        select(&mut d, "127.0.0.1:44600");
        d.handle(ch('K'));
        let t = render(&mut d, w, h);
        let screen = text(&t);
        assert!(
            screen.contains("127.0.0.1:44600 ⇄ 127.0.0.1:44600 held by pid 4242"),
            "{screen}"
        );
        assert!(screen.contains("y destroy · n or Esc cancel"), "{screen}");
        assert!(d.app.requests().is_empty(), "nothing sent before y");
        insta::assert_snapshot!(format!("confirm_{w}x{h}"), t.backend());
    }
}

#[test]
fn n_and_esc_cancel_other_keys_are_ignored_and_y_sends_one_request_for_that_socket() {
    let mut d = dark();
    select(&mut d, "127.0.0.1:44600");
    for cancel in [ch('n'), key(KeyCode::Esc)] {
        d.handle(ch('K'));
        // Modal: other keys neither answer nor reach the table.
        d.handle(ch('x'));
        d.handle(ch('j'));
        d.handle(ch('a'));
        assert!(!d.app.wants_quit());
        assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:44600"));
        assert!(d.app.confirm().is_some());
        d.handle(cancel);
        assert!(d.app.confirm().is_none());
        assert!(d.app.requests().is_empty());
        assert_eq!(d.app.notice(), Some("127.0.0.1:44600: not destroyed"));
    }
    // q answers no, and does not quit.
    d.handle(ch('K'));
    d.handle(ch('q'));
    assert!(d.app.confirm().is_none() && !d.app.wants_quit());
    d.handle(ch('K'));
    d.handle(ch('y'));
    let requests = d.app.take_requests();
    let [Request::FreePort(target)] = requests.as_slice() else {
        panic!("one destroy request expected: {requests:?}");
    };
    assert_eq!(target.addr.to_string(), "127.0.0.1:44600");
    assert_eq!(target.inode, 81234);
    assert!(target.netns.own);
    assert_eq!(d.app.confirm().unwrap().stage, Stage::Destroying);
    // A second y while it runs sends nothing more.
    d.handle(ch('y'));
    assert!(d.app.requests().is_empty());
}

#[test]
fn k_on_a_listener_or_a_plain_socket_does_nothing_and_says_why() {
    let mut d = dark();
    select(&mut d, "0.0.0.0:40000");
    d.handle(ch('K'));
    assert!(d.app.confirm().is_none());
    assert!(d.app.requests().is_empty());
    let t = render(&mut d, 100, 30);
    let last = screen(&t).pop().unwrap();
    assert!(
        last.contains(
            "K frees only a port held by a self-connected socket; this row is a listener"
        ),
        "{last}"
    );
    // The footer offers K only where it applies.
    assert!(!last.contains("free port"), "{last}");
    d.handle(ch('a'));
    select(&mut d, "127.0.0.1:38000");
    d.handle(ch('K'));
    assert!(d.app.confirm().is_none());
    assert!(
        d.app
            .notice()
            .unwrap()
            .contains("this row is 127.0.0.1:38000 -> 127.0.0.1:40000"),
        "{:?}",
        d.app.notice()
    );
    select(&mut d, "127.0.0.1:44600");
    let t = render(&mut d, 200, 30);
    assert!(screen(&t).pop().unwrap().contains("K free port"));
}

#[test]
fn without_root_the_overlay_gives_the_ss_line_instead() {
    let mut d = dark();
    select(&mut d, "127.0.0.1:44600");
    d.handle(ch('K'));
    d.handle(ch('y'));
    let Some(Request::FreePort(target)) = d.app.take_requests().pop() else {
        panic!("a destroy request");
    };
    d.app.on_freed(&target, DestroyOutcome::NotPermitted);
    let t = render(&mut d, 80, 24);
    let screen = text(&t);
    assert!(screen.contains("needs root (CAP_NET_ADMIN"), "{screen}");
    assert!(
        screen.contains("$ ss -K -tn 'src 127.0.0.1:44600 and dst"),
        "{screen}"
    );
    insta::assert_snapshot!(t.backend());
    // Any key closes it; the status line keeps the line to run.
    d.handle(ch('x'));
    assert!(d.app.confirm().is_none());
    assert!(
        d.app
            .notice()
            .unwrap()
            .ends_with("ss -K -tn 'src 127.0.0.1:44600 and dst 127.0.0.1:44600'")
    );
}

/// A listener on 44600 (pid 3121, java, user kafka) at 12:00:00, gone at
/// 12:00:02; at 12:00:05 pid 4410 (java) is connected to itself on 44600.
fn incident_dashboard() -> Dashboard {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    let java = |pid| process(pid, "java", "java -jar app.jar", "kafka");
    let listener = socket(
        "0.0.0.0:44600",
        "0.0.0.0:0",
        TcpState::Listen,
        java(3121),
        "kafka",
        500,
    );
    let stolen = socket(
        "127.0.0.1:44600",
        "127.0.0.1:44600",
        TcpState::Established,
        java(4410),
        "kafka",
        501,
    );
    let snap = |t, s| snapshot_of(t, vec![host()], s);
    d.handle(scan(snap(at(12, 0, 0), vec![listener])));
    d.handle(scan(snap(at(12, 0, 2), vec![])));
    d.handle(scan(snap(at(12, 0, 5), vec![stolen])));
    d.set_now(at(12, 0, 6));
    d
}

#[test]
fn the_details_of_a_stolen_port_tell_the_incident_and_free_the_port_first() {
    let mut d = incident_dashboard();
    d.handle(key(KeyCode::Enter));
    let t = render(&mut d, 120, 40);
    let screen = text(&t);
    // The pane's text as one line per paragraph, borders and wrapping gone.
    let flat = screen
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '┃' || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join(" ");
    for want in [
        "44600: the listener (pid 3121, java, user kafka) went away at 12:00:02; 3.0 s later pid \
         4410 (java) connected to itself on 44600 and now holds the port: the service cannot \
         bind 44600 again (EADDRINUSE) until that socket closes.",
        "Known (seen in the scans)",
        "Inferred (not seen)",
        "12:00:02 listener gone",
        "12:00:05 a client connected to itself on the port",
        "1. Free 44600 now",
        "Or here: K destroys this one socket",
    ] {
        assert!(flat.contains(want), "{want:?} missing:\n{screen}");
    }
    let at = |s: &str| screen.find(s).unwrap();
    assert!(at("Incident") < at("Timeline") && at("Timeline") < at("1. Free 44600"));
    insta::assert_snapshot!(t.backend());
    // The event log words the same incident.
    let log: Vec<String> = d
        .app
        .tracker()
        .entries()
        .iter()
        .map(|e| e.message())
        .collect();
    assert!(
        log.iter().any(|m| m
            .starts_with("PORT STOLEN 44600: the listener (pid 3121, java, user kafka) went away")),
        "{log:#?}"
    );
}

#[test]
fn a_self_connect_on_a_port_that_never_had_a_listener_shows_no_incident() {
    let mut d = dark();
    select(&mut d, "127.0.0.1:44600");
    d.handle(key(KeyCode::Enter));
    let t = render(&mut d, 120, 40);
    let screen = text(&t);
    assert!(!screen.contains("Incident"), "{screen}");
    assert!(screen.contains("Or here: K destroys"), "{screen}");
}

// ---- the real kernel ----

/// A self-connect as in real life: `connect()` without `bind()`, the
/// namespace's range narrowed to the port and its neighbour.
fn self_connect_by_kernel(addr: SocketAddr) -> socket2::Socket {
    let p = addr.port();
    common::set_netns_sysctl("ip_local_port_range", &format!("{p} {}", p + 1));
    for _ in 0..1000 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        if s.connect(&addr.into()).is_ok() {
            assert_eq!(s.local_addr().unwrap().as_socket(), Some(addr));
            return s;
        }
    }
    panic!("no self-connect on {addr} in 1000 attempts");
}

/// A dashboard that has seen one real scan of the own namespace, and the
/// scanner for the next ones.
fn dashboard_on_own_namespace() -> (Dashboard, Scanner) {
    let mut scanner = Scanner::new(ScanOptions {
        netns: Some("own".into()),
        ..ScanOptions::default()
    });
    let mut d = Dashboard::new(
        Theme::default_dark(),
        Duration::from_secs(1),
        chrono::Local::now(),
    );
    real_scan(&mut d, &mut scanner);
    (d, scanner)
}

fn real_scan(d: &mut Dashboard, scanner: &mut Scanner) -> Snapshot {
    let snap = scanner.scan().expect("a scan of the own namespace");
    d.handle(scan(snap.clone()));
    snap
}

/// Through the dashboard on a real scan: K on the listener does nothing;
/// K, y on the self-connect destroys it (through the event loop's own
/// exchange), the port can be bound, and the next scan no longer shows it.
#[test]
fn k_then_y_destroys_the_selected_self_connect_and_frees_its_port() {
    common::in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44600".parse().unwrap();
        let held = self_connect_by_kernel(addr);
        let _service_next_door = TcpListener::bind("127.0.0.1:44601").unwrap();
        let (mut d, mut scanner) = dashboard_on_own_namespace();

        select(&mut d, "127.0.0.1:44601");
        d.handle(ch('K'));
        assert!(d.app.confirm().is_none() && d.app.requests().is_empty());
        assert!(d.app.notice().unwrap().contains("this row is a listener"));

        select(&mut d, "127.0.0.1:44600");
        d.handle(ch('K'));
        let question =
            selfconn_tui::tui::panes::confirm::question(&d.app.confirm().unwrap().target);
        let me = std::process::id();
        assert!(
            question.starts_with(&format!(
                "Destroy 127.0.0.1:44600 ⇄ 127.0.0.1:44600 held by pid {me} ("
            )),
            "{question}"
        );
        d.handle(ch('y'));
        selfconn_tui::tui::exchange(&mut d, &mut ReproRunner::new(), None, false);
        assert_eq!(
            d.app.confirm().unwrap().stage,
            Stage::Done(DestroyOutcome::Destroyed)
        );
        assert!(
            common::listen_plain(addr).is_ok(),
            "the port is free at once"
        );
        held.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let err = (&held).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNABORTED));
        d.handle(ch('x'));
        assert!(d.app.notice().unwrap().starts_with("port 44600 freed"));
        real_scan(&mut d, &mut scanner);
        assert!(!rows(&d).contains(&"127.0.0.1:44600".to_string()));
    });
}

/// Without root (this thread gives up its uid for the destroy only, the
/// per-thread system call): the kernel refuses, the socket stays, and the
/// overlay gives the ss -K line with the exact filter.
#[test]
fn without_root_k_then_y_refuses_and_gives_the_ss_line() {
    common::in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44604".parse().unwrap();
        let held = self_connect_by_kernel(addr);
        let (mut d, _) = dashboard_on_own_namespace();
        select(&mut d, "127.0.0.1:44604");
        d.handle(ch('K'));
        d.handle(ch('y'));
        // Saved uid kept at 0, so that the thread can take root back.
        let (nobody, root) = (
            rustix::process::Uid::from_raw(65534),
            rustix::process::Uid::ROOT,
        );
        rustix::thread::set_thread_res_uid(nobody, nobody, root).expect("setresuid");
        selfconn_tui::tui::exchange(&mut d, &mut ReproRunner::new(), None, false);
        rustix::thread::set_thread_res_uid(root, root, root).expect("root again");
        assert_eq!(
            d.app.confirm().unwrap().stage,
            Stage::Done(DestroyOutcome::NotPermitted)
        );
        let t = render(&mut d, 100, 30);
        let screen = text(&t);
        assert!(
            screen.contains("$ ss -K -tn 'src 127.0.0.1:44604 and dst 127.0.0.1:44604'"),
            "{screen}"
        );
        assert!(common::listen_plain(addr).is_err(), "still held");
        drop(held);
    });
}

/// `scan`, one shot on the real kernel: each self-connect's note says it
/// keeps a service off its port and gives the line that frees it.
#[test]
fn scan_names_the_way_to_free_the_port() {
    common::in_private_netns(|| {
        let addr: SocketAddr = "127.0.0.1:44606".parse().unwrap();
        let _held = common::self_connect(addr);
        let out = common::run(&["scan", "--netns", "own"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut block = text.lines().skip_while(|l| *l != "Notes").skip(1);
        let note = block
            .next()
            .unwrap_or_else(|| panic!("a Notes block: {text}"));
        let command = block.next().unwrap_or_else(|| panic!("{text}"));
        assert!(
            note.starts_with(&format!("  127.0.0.1:44606 (pid {} ", std::process::id())),
            "{note}"
        );
        assert!(
            note.ends_with(
                ": if a service should listen on 44606, this socket is why it cannot bind it \
                 (EADDRINUSE); free the port (root):"
            ),
            "{note}"
        );
        assert_eq!(
            command,
            "      ss -K -tn 'src 127.0.0.1:44606 and dst 127.0.0.1:44606'"
        );
    });
}
