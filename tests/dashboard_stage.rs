//! The dashboard on stage, on fixed data: namespaces coming and going
//! folded into one log line per refresh, hidden with a key, the log
//! following the `/` filter; `y` and `Y` asking for a copy of text that
//! runs as printed; the header of a dashboard shown one namespace.

mod common;
mod dashboard_fixture;

use dashboard_fixture::*;
use selfconn_tui::core::snapshot::Namespace;
use selfconn_tui::tui::app::Request;
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::theme::Theme;

fn container(i: u64) -> Namespace {
    Namespace {
        id: 4026532000 + i,
        name: format!("docker:{i:012x}"),
        is_own: false,
        is_host: false,
        pid: Some(1000 + i as i32),
        ..Namespace::default()
    }
}

/// The busy host, then five containers starting in one refresh, then
/// three of them stopping in the next.
fn with_containers() -> Dashboard {
    let mut d = busy_dashboard(Theme::default_dark());
    let mut ns = vec![host()];
    ns.extend((1..=5).map(container));
    d.handle(scan(snapshot_of(at(12, 0, 6), ns.clone(), busy_sockets())));
    ns.truncate(3);
    d.handle(scan(snapshot_of(at(12, 0, 7), ns, busy_sockets())));
    d.set_now(at(12, 0, 8));
    d
}

/// The event log's messages, newest last.
fn log(d: &Dashboard) -> Vec<String> {
    d.app
        .tracker()
        .entries()
        .iter()
        .map(|e| e.message())
        .collect()
}

#[test]
fn namespaces_of_one_refresh_are_one_line_each_way() {
    let mut d = with_containers();
    let log = log(&d);
    let n = log.len();
    assert_eq!(
        log[n - 2..],
        [
            "5 network namespaces appeared: docker:000000000001, docker:000000000002, \
             docker:000000000003, docker:000000000004, docker:000000000005",
            "3 network namespaces are gone, and their sockets with them: docker:000000000003, \
             docker:000000000004, docker:000000000005",
        ]
    );
    let t = render(&mut d, 120, 40);
    let text = screen(&t).join("\n");
    assert_eq!(text.matches("namespaces appeared").count(), 1, "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn namespace_events_can_be_hidden_and_shown_again() {
    let mut d = with_containers();
    d.handle(ch('n'));
    assert!(d.app.hides_namespace_events());
    let t = render(&mut d, 120, 40);
    let text = screen(&t).join("\n");
    assert!(!text.contains("network namespaces"), "{text}");
    assert!(text.contains("namespaces hidden (n)"), "{text}");
    // Other events stay.
    assert!(text.contains("SELF-CONNECT 127.0.0.1:44600"), "{text}");
    insta::assert_snapshot!(t.backend());
    d.handle(ch('n'));
    let text = screen(&render(&mut d, 120, 40)).join("\n");
    assert!(text.contains("5 network namespaces appeared"), "{text}");
}

#[test]
fn the_log_follows_the_filter() {
    let mut d = with_containers();
    d.handle(ch('/'));
    typed(&mut d, "gone");
    d.handle(key(crossterm::event::KeyCode::Enter));
    let t = render(&mut d, 120, 40);
    let text = screen(&t).join("\n");
    // One entry says "gone": the namespaces that went.
    assert!(text.contains("Events 1 of "), "{text}");
    assert!(text.contains("12:00:07 3 network namespaces are"), "{text}");
    assert!(!text.contains("appeared"), "{text}");
    assert!(!text.contains("SELF-CONNECT 127"), "{text}");
    insta::assert_snapshot!(t.backend());
}

fn copies(d: &mut Dashboard) -> Vec<String> {
    d.app
        .take_requests()
        .into_iter()
        .filter_map(|r| match r {
            Request::Copy(text) => Some(text),
            _ => None,
        })
        .collect()
}

#[test]
fn y_asks_for_the_fix_as_printed_and_it_parses_as_shell() {
    let mut d = busy_dashboard(Theme::default_dark());
    // Each finding in turn: the self-connects, then the listeners.
    let mut seen = 0;
    for _ in 0..4 {
        d.handle(ch('y'));
        let copied = copies(&mut d);
        assert_eq!(copied.len(), 1, "{copied:?}");
        let text = &copied[0];
        assert!(!text.starts_with("$ ") && !text.contains("\n$ "), "{text}");
        assert!(!text.ends_with('\n'), "a paste must not run by itself");
        assert!(common::sh_parses(text), "{text}");
        // As the details pane prints it, line by line.
        // Wide enough that no command is cut.
        let screen = screen(&render(&mut d, 200, 50)).join("\n");
        for line in text.lines() {
            assert!(screen.contains(&format!("   {line}")), "{line}\n{screen}");
        }
        seen += 1;
        d.handle(ch('j'));
    }
    assert_eq!(seen, 4);
    let log = d.app.tracker().entries().back().unwrap().message();
    assert!(
        log.starts_with("copied the fix to the clipboard (OSC 52): "),
        "{log}"
    );
}

#[test]
fn shift_y_asks_for_one_line_reserving_every_risky_listener() {
    let mut d = busy_dashboard(Theme::default_dark());
    d.handle(ch('Y'));
    let copied = copies(&mut d);
    assert_eq!(copied.len(), 1);
    // 44700 was reserved already; the high and the medium listener join it.
    let text = &copied[0];
    assert!(
        text.starts_with("sysctl -w net.ipv4.ip_local_reserved_ports="),
        "{text}"
    );
    assert!(text.contains("44700"), "{text}");
    assert!(!text.contains('\n'));
    assert!(common::sh_parses(text), "{text}");
    // Nothing at risk: nothing copied, and the log says why.
    let mut quiet = Dashboard::new(
        Theme::default_dark(),
        std::time::Duration::from_secs(1),
        at(12, 0, 0),
    );
    quiet.handle(scan(plain_snapshot(at(12, 0, 0))));
    quiet.handle(ch('Y'));
    assert!(copies(&mut quiet).is_empty());
    let log = quiet.app.tracker().entries().back().unwrap().message();
    assert!(
        log.starts_with("nothing copied: no risky listener"),
        "{log}"
    );
}

#[test]
fn the_header_names_the_one_namespace_shown() {
    let mut d = Dashboard::new(
        Theme::default_dark(),
        std::time::Duration::from_secs(1),
        at(12, 0, 0),
    );
    d.app.set_netns_only(Some("own".into()));
    let own = Namespace {
        name: "pid 4242 (bash)".into(),
        is_host: false,
        ..host()
    };
    d.handle(scan(snapshot_of(at(12, 0, 0), vec![own], busy_sockets())));
    let t = render(&mut d, 120, 40);
    let top = &screen(&t)[0];
    assert!(top.contains("netns pid 4242 (bash) only"), "{top}");
    assert!(top.contains("reserved 44700"), "{top}");
}

#[test]
fn a_command_wider_than_the_pane_is_cut_with_a_marker_not_wrapped() {
    let mut d = busy_dashboard(Theme::default_dark());
    d.handle(ch('j'));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:45002"));
    d.handle(key(crossterm::event::KeyCode::Enter));
    let lines = screen(&render(&mut d, 64, 30));
    let cmd = lines
        .iter()
        .find(|l| l.contains("   ss -K -tn state time-wait"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(cmd.trim_end_matches(['┃', ' ']).ends_with('…'), "{cmd}");
    // Nothing of the command continues on the next line.
    assert!(
        !lines.iter().any(|l| l.contains("dst 127.0.0.1:45002'")),
        "{lines:#?}"
    );
}
