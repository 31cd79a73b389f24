//! The dashboard's main views on fixed data, as text snapshots (insta),
//! plus the styles that make findings stand out.

mod dashboard_fixture;

use std::time::Duration;

use crossterm::event::KeyCode;
use dashboard_fixture::*;
use ratatui::style::{Color, Modifier};
use selfconn_tui::core::snapshot::ScanError;
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::theme::Theme;

fn dark() -> Dashboard {
    busy_dashboard(Theme::default_dark())
}

#[test]
fn findings_on_a_wide_terminal() {
    let mut d = dark();
    let t = render(&mut d, 120, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn findings_on_a_standard_terminal() {
    let mut d = dark();
    let t = render(&mut d, 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn all_sockets_filtered() {
    let mut d = dark();
    d.handle(ch('a'));
    d.handle(ch('/'));
    typed(&mut d, "127.0.0.1");
    let t = render(&mut d, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn nothing_to_report() {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    d.handle(scan(plain_snapshot(at(12, 0, 0))));
    d.set_now(at(12, 0, 1));
    let t = render(&mut d, 100, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn help_overlay() {
    let mut d = dark();
    d.handle(ch('?'));
    let t = render(&mut d, 100, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn details_of_a_self_connect_full_size() {
    let mut d = dark();
    d.handle(key(KeyCode::Enter));
    let t = render(&mut d, 100, 40);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn details_of_a_listener_keep_the_reserved_ports() {
    let mut d = dark();
    // Rows: two self-connects, then the high listener on 40000.
    d.handle(ch('j'));
    d.handle(ch('j'));
    assert_eq!(selected(&d).as_deref(), Some("0.0.0.0:40000"));
    d.handle(key(KeyCode::Enter));
    let t = render(&mut d, 100, 40);
    let text = screen(&t).join("\n");
    // On its own line, with no prompt to copy along.
    assert!(
        text.contains("   sysctl -w net.ipv4.ip_local_reserved_ports=40000,44700 "),
        "{text}"
    );
    assert!(!text.contains("$ "), "{text}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn a_tiny_terminal_gets_a_message() {
    let mut d = dark();
    let t = render(&mut d, 50, 12);
    insta::assert_snapshot!(t.backend());
    // And keys still work.
    d.handle(ch('q'));
    assert!(d.app.wants_quit());
}

#[test]
fn very_small_sizes_say_so_and_the_minimum_shows_the_layout() {
    use selfconn_tui::tui::layout::{MIN_HEIGHT, MIN_WIDTH};
    for (w, h) in [
        (0, 0),
        (1, 1),
        (10, 3),
        (59, 15),
        (60, 14),
        (60, 15),
        (61, 16),
        (200, 5),
    ] {
        let mut d = dark();
        let big_enough = w >= MIN_WIDTH && h >= MIN_HEIGHT;
        for step in 0..3 {
            let t = render(&mut d, w, h);
            let text = screen(&t).join("\n");
            if big_enough {
                assert!(text.contains("ephemeral"), "{w}x{h} step {step}:\n{text}");
                assert!(!text.contains("too small"), "{w}x{h} step {step}:\n{text}");
            } else if w >= 30 && h >= 2 {
                // Enough room for the message's first words.
                assert!(text.contains("Terminal too small"), "{w}x{h}:\n{text}");
            } else {
                // Whatever fits is drawn; nothing is drawn outside the screen.
                assert_eq!(t.backend().buffer().area.width, w);
            }
            match step {
                0 => d.handle(ch('?')),
                _ => {
                    d.handle(ch('?'));
                    d.handle(key(KeyCode::Enter))
                }
            };
        }
    }
}

#[test]
fn paused_not_root_and_scan_errors_in_the_header() {
    let mut d = Dashboard::new(
        Theme::default_dark(),
        Duration::from_millis(500),
        at(12, 0, 0),
    );
    let mut s = busy_snapshot(at(12, 0, 0));
    s.visibility_note = Some(
        "not root: other users' processes are hidden, so their sockets' owners are unknown \
         (run as root to see them)"
            .into(),
    );
    s.errors = vec![
        ScanError::new("/proc/net/tcp6", "not found"),
        ScanError::new("/proc/net/tcp line 7", "unreadable row skipped"),
    ];
    d.handle(scan(s));
    d.set_now(at(12, 0, 3));
    d.handle(ch(' '));
    d.set_now(at(12, 1, 10));
    let t = render(&mut d, 110, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn a_failed_first_scan_is_shown_and_the_dashboard_runs_on() {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    d.handle(failed_scan(
        at(12, 0, 0),
        "/proc/net/tcp",
        "permission denied",
    ));
    d.set_now(at(12, 0, 1));
    let t = render(&mut d, 100, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn several_namespaces_show_a_namespace_column_and_count() {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    let mut web = host();
    web.id = 4026532999;
    web.name = "web".into();
    web.is_own = false;
    web.policy = Default::default();
    let mut sockets = busy_sockets();
    let mut in_web = socket(
        "127.0.0.1:44700",
        "127.0.0.1:44700",
        selfconn_tui::core::socket::TcpState::Established,
        process(7000, "worker", "worker --upstream 127.0.0.1:44700", "root"),
        "root",
        7001,
    );
    in_web.netns = 1;
    sockets.push(in_web);
    d.handle(scan(snapshot_of(at(12, 0, 0), vec![host(), web], sockets)));
    let t = render(&mut d, 120, 30);
    let text = screen(&t).join("\n");
    assert!(text.contains("2 namespaces"), "{text}");
    assert!(text.contains("NETNS"), "{text}");
    // 44700 is reserved on the host but not in "web": there it is a finding.
    assert!(
        text.contains("[web] SELF-CONNECT 127.0.0.1:44700"),
        "{text}"
    );
    d.handle(ch('/'));
    typed(&mut d, "web");
    assert_eq!(rows(&d), vec!["127.0.0.1:44700"]);
}

/// The row of the screen that shows `text`.
fn row_of(t: &ratatui::Terminal<ratatui::backend::TestBackend>, text: &str) -> u16 {
    screen(t)
        .iter()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{text} on screen")) as u16
}

fn cell_at(
    t: &ratatui::Terminal<ratatui::backend::TestBackend>,
    y: u16,
    text: &str,
) -> ratatui::buffer::Cell {
    let line = &screen(t)[y as usize];
    let x = line[..line.find(text).unwrap()].chars().count() as u16;
    t.backend().buffer()[(x, y)].clone()
}

#[test]
fn findings_are_coloured_by_urgency() {
    let mut d = dark();
    d.handle(ch('j')); // selection off the first row: its own style shows
    let t = render(&mut d, 120, 40);
    let sc = cell_at(&t, row_of(&t, "SELF-CONNECT v4  127.0.0.1:44600"), "SELF");
    assert_eq!(sc.fg, Color::LightRed);
    assert!(sc.modifier.contains(Modifier::BOLD));
    let high = cell_at(&t, row_of(&t, "0.0.0.0:40000"), "high");
    assert_eq!(high.fg, Color::Yellow);
    let medium = cell_at(&t, row_of(&t, "[::]:40001"), "medium");
    assert_eq!(medium.fg, Color::Cyan);
}

#[test]
fn without_colour_findings_still_stand_out() {
    let mut d = busy_dashboard(Theme::monochrome());
    d.handle(ch('j'));
    let t = render(&mut d, 120, 40);
    for y in 0..40 {
        for x in 0..120 {
            let c = &t.backend().buffer()[(x, y)];
            assert_eq!(
                (c.fg, c.bg),
                (Color::Reset, Color::Reset),
                "colour at {x},{y}"
            );
        }
    }
    let sc = cell_at(&t, row_of(&t, "SELF-CONNECT v4  127.0.0.1:44600"), "SELF");
    assert!(sc.modifier.contains(Modifier::REVERSED | Modifier::BOLD));
    let high = cell_at(&t, row_of(&t, "0.0.0.0:40000"), "high");
    assert!(high.modifier.contains(Modifier::BOLD));
    d.handle(ch('a'));
    let t = render(&mut d, 120, 40);
    let plain = cell_at(&t, row_of(&t, "0.0.0.0:22 "), "0.0.0.0:22");
    assert!(plain.modifier.is_empty());
}

#[test]
fn the_minimum_size_shows_one_pane_at_a_time() {
    let mut d = dark();
    let t = render(&mut d, 60, 15);
    insta::assert_snapshot!(t.backend());
    d.handle(key(KeyCode::Tab));
    let t = render(&mut d, 60, 15);
    let text = screen(&t).join("\n");
    assert!(
        text.contains("▶ Details"),
        "Tab brings the next pane: {text}"
    );
}
