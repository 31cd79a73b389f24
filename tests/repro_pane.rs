//! The repro pane: snapshots on fixed counters (no real loop), keys and
//! the form. The real engine behind it: tests/repro_pane_engine.rs.

mod common;
mod dashboard_fixture;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crossterm::event::KeyCode;
use dashboard_fixture::*;
use ratatui::style::{Color, Modifier};
use selfconn_tui::core::socket::TcpState;
use selfconn_tui::repro::{Config, ECHO_MESSAGE, Echo, End, Mode, Snapshot, Stage, Target};
use selfconn_tui::tui::app::Request;
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::event::Event;
use selfconn_tui::tui::pane::PaneId;
use selfconn_tui::tui::repro::{
    Field, MAX_ATTEMPTS, MAX_TIME, Note, Pace, Purpose, ReproRequest, ReproUpdate,
};
use selfconn_tui::tui::theme::Theme;

/// The port of the fixed runs: even, inside the default range, free in the
/// fixture's snapshot.
const PORT: u16 = 46384;

fn update(d: &mut Dashboard, u: ReproUpdate) {
    d.handle(Event::Repro(Box::new(u)));
}

fn config(port: u16, mode: Mode, rate: Option<f64>) -> Config {
    Config {
        rate,
        max_time: MAX_TIME,
        max_attempts: MAX_ATTEMPTS,
        ..Config::new(Target::resolve("127.0.0.1", port).unwrap(), mode)
    }
}

/// The counters of a run at 1000/s after `i` tenths of a second, the
/// source port climbing through even ports.
fn sample(i: u64, port_base: u16) -> Snapshot {
    Snapshot {
        stage: Stage::Trying,
        attempts: 100 * i,
        refused: 100 * i,
        elapsed: Duration::from_millis(100 * i),
        last_source_port: Some(port_base + 2 * ((i * 37) % 5000) as u16),
        even_source_ports: 100 * i,
        odd_source_ports: 0,
        ..Snapshot::default()
    }
}

/// The busy dashboard with the repro pane open and the port suggested,
/// as the runner would answer.
fn opened(theme: Theme) -> Dashboard {
    let mut d = busy_dashboard(theme);
    d.handle(ch('r'));
    assert!(
        matches!(
            d.app.requests(),
            [Request::Repro(ReproRequest::Suggest {
                purpose: Purpose::Open,
                ..
            })]
        ),
        "{:?}",
        d.app.requests()
    );
    d.app.take_requests();
    update(
        &mut d,
        ReproUpdate::Suggested {
            purpose: Purpose::Open,
            port: Some(PORT),
        },
    );
    d
}

/// A run at 1000/s, 12.3 s in.
fn running(theme: Theme) -> Dashboard {
    let mut d = opened(theme);
    d.handle(key(KeyCode::Tab));
    d.handle(key(KeyCode::Tab));
    d.handle(key(KeyCode::Tab));
    d.handle(key(KeyCode::Left));
    d.handle(key(KeyCode::Left));
    assert_eq!(d.app.repro().slot(0).pace(), Pace::PerSec(1000));
    d.handle(key(KeyCode::Enter));
    let start = d.app.take_requests();
    assert_eq!(
        start,
        vec![Request::Repro(ReproRequest::Start {
            slot: 0,
            host: "127.0.0.1".into(),
            port: PORT,
            mode: Mode::Fresh,
            rate: Some(1000.0),
        })]
    );
    update(
        &mut d,
        ReproUpdate::Started {
            slot: 0,
            config: config(PORT, Mode::Fresh, Some(1000.0)),
        },
    );
    for i in 1..=123 {
        update(
            &mut d,
            ReproUpdate::Progress {
                slot: 0,
                stats: sample(i, 45000),
            },
        );
    }
    d
}

fn verified_echo() -> Echo {
    Echo {
        sent: ECHO_MESSAGE,
        received: ECHO_MESSAGE.to_vec(),
        verified: true,
        error: None,
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// The run above, connected to itself at 12.6 s.
/// Slot 0 ends connected to itself on PORT, echo proven, socket held.
fn self_connected(d: &mut Dashboard, stats: Snapshot) {
    update(
        d,
        ReproUpdate::Ended {
            slot: 0,
            end: End::SelfConnected {
                local: addr(PORT),
                peer: addr(PORT),
                echo: verified_echo(),
            },
            stats,
            held: true,
        },
    );
}

fn succeeded(theme: Theme) -> Dashboard {
    let mut d = running(theme);
    let stats = Snapshot {
        stage: Stage::EchoProven,
        attempts: 12_601,
        refused: 12_600,
        elapsed: Duration::from_millis(12_601),
        last_source_port: Some(PORT),
        even_source_ports: 12_601,
        ..Snapshot::default()
    };
    self_connected(&mut d, stats);
    d
}

/// A parity duel: 46384 connected to itself; its odd neighbour runs on,
/// only even source ports.
fn duel(theme: Theme) -> Dashboard {
    let mut d = opened(theme);
    d.handle(ch('p'));
    assert!(d.app.repro().is_duel());
    assert!(matches!(
        d.app.requests(),
        [Request::Repro(ReproRequest::Suggest {
            purpose: Purpose::ParityDuel,
            prefer: Some(PORT),
            ..
        })]
    ));
    d.app.take_requests();
    update(
        &mut d,
        ReproUpdate::Suggested {
            purpose: Purpose::ParityDuel,
            port: Some(PORT),
        },
    );
    assert_eq!(d.app.repro().slot(1).port(), (PORT + 1).to_string());
    d.handle(key(KeyCode::Enter));
    let starts: Vec<_> = d.app.take_requests();
    assert_eq!(starts.len(), 2, "both loops start: {starts:?}");
    for (slot, port) in [(0, PORT), (1, PORT + 1)] {
        update(
            &mut d,
            ReproUpdate::Started {
                slot,
                config: config(port, Mode::Fresh, None),
            },
        );
    }
    for i in 1..=30 {
        for slot in [0, 1] {
            let mut s = sample(i, 40000);
            s.attempts *= 48;
            s.refused *= 48;
            s.even_source_ports *= 48;
            update(&mut d, ReproUpdate::Progress { slot, stats: s });
        }
    }
    let mut stats = sample(31, 40000);
    stats.stage = Stage::EchoProven;
    stats.attempts = 148_801;
    stats.refused = 148_800;
    stats.even_source_ports = 148_801;
    stats.last_source_port = Some(PORT);
    self_connected(&mut d, stats);
    d
}

fn text(d: &mut Dashboard, w: u16, h: u16) -> String {
    screen(&render(d, w, h)).join("\n")
}

#[test]
fn idle_with_the_suggestion() {
    let mut d = opened(Theme::default_dark());
    let t = render(&mut d, 120, 40);
    insta::assert_snapshot!("idle_120x40", t.backend());
    let t = render(&mut d, 80, 24);
    insta::assert_snapshot!("idle_80x24", t.backend());
}

#[test]
fn running_with_big_counters() {
    let mut d = running(Theme::default_dark());
    let t = render(&mut d, 120, 40);
    insta::assert_snapshot!("running_120x40", t.backend());
    let text = screen(&t).join("\n");
    assert!(text.contains("██████"), "large digits: {text}");
    assert!(text.contains("● trying"), "{text}");
    let t = render(&mut d, 80, 24);
    insta::assert_snapshot!("running_80x24", t.backend());
}

#[test]
fn success_shows_the_four_tuple_and_the_echo() {
    let mut d = succeeded(Theme::default_dark());
    let t = render(&mut d, 120, 40);
    insta::assert_snapshot!("success_120x40", t.backend());
    let text = screen(&t).join("\n");
    assert!(
        text.contains("local 127.0.0.1:46384 = peer 127.0.0.1:46384, ESTABLISHED"),
        "{text}"
    );
    assert!(text.contains("✓ echo proven"), "{text}");
    assert!(text.contains("c closes it"), "{text}");
    let t = render(&mut d, 80, 24);
    insta::assert_snapshot!("success_80x24", t.backend());
    let text = screen(&t).join("\n");
    for part in ["= peer 127.0.0.1:46384", "✓ echo proven", "◆ held open"] {
        assert!(text.contains(part), "{part} at 80x24:\n{text}");
    }
}

#[test]
fn a_parity_duel_side_by_side() {
    let mut d = duel(Theme::default_dark());
    let t = render(&mut d, 120, 40);
    insta::assert_snapshot!("duel_120x40", t.backend());
    let t = render(&mut d, 80, 24);
    insta::assert_snapshot!("duel_80x24", t.backend());
    let text = screen(&t).join("\n");
    assert!(text.contains("46385 is odd"), "{text}");
}

#[test]
fn bad_input_says_why_and_starts_nothing() {
    let mut d = opened(Theme::default_dark());
    d.handle(ch('0'));
    d.handle(key(KeyCode::Enter));
    assert!(d.app.requests().is_empty(), "{:?}", d.app.requests());
    let t = render(&mut d, 120, 40);
    insta::assert_snapshot!("bad_port_120x40", t.backend());
    let t = render(&mut d, 80, 24);
    insta::assert_snapshot!("bad_port_80x24", t.backend());
    assert!(screen(&t).join("\n").contains("✖ port 0 is not a port"));
}

#[test]
fn the_pane_degrades_at_small_sizes_and_says_what_matters_at_each() {
    // Each state with what must stay on screen at every usable size.
    type Maker = fn(Theme) -> Dashboard;
    let makers: [(Maker, &[&str]); 4] = [
        (opened, &["▶ Repro", "port 46384", "mode fresh"]),
        (running, &["● RUNNING", "port 46384", "ATTEMPTS"]),
        (
            succeeded,
            &["◆ CONNECTED TO ITSELF", "port 46384", "ATTEMPTS"],
        ),
        (duel, &["● RUNNING", "port 46384", "ATTEMPTS"]),
    ];
    for (make, markers) in makers {
        for (w, h) in [(60, 15), (61, 16), (70, 20), (100, 30), (200, 60)] {
            let mut d = make(Theme::default_dark());
            let shown = text(&mut d, w, h);
            for m in markers {
                assert!(shown.contains(m), "{m:?} at {w}x{h}:\n{shown}");
            }
            d.handle(ch('?'));
            let shown = text(&mut d, w, h);
            assert!(
                shown.contains(" Keys ") && shown.contains("quit (the terminal is restored)"),
                "help at {w}x{h}:\n{shown}"
            );
        }
        // Below the minimum: a message, also with help asked for.
        let mut d = make(Theme::default_dark());
        assert!(text(&mut d, 30, 10).contains("Terminal too small: 30×10"));
        d.handle(ch('?'));
        assert!(text(&mut d, 30, 10).contains("Terminal too small: 30×10"));
    }
    let mut d = running(Theme::default_dark());
    let small = text(&mut d, 60, 15);
    assert!(
        small.contains("12,300"),
        "plain numbers when small:\n{small}"
    );
}

#[test]
fn the_pane_names_its_own_fields_not_command_line_options() {
    let mut d = opened(Theme::default_dark());
    d.handle(key(KeyCode::Backspace));
    d.handle(ctrl('u'));
    typed(&mut d, "46385");
    let shown = text(&mut d, 120, 40);
    assert!(
        shown.contains("or mode bind-first."),
        "the odd port's advice names the mode field:\n{shown}"
    );
    assert!(!shown.contains("--mode"), "{shown}");
    // Outside the range: only an explicit bind, named as the field.
    d.handle(ctrl('u'));
    typed(&mut d, "8080");
    let shown = text(&mut d, 120, 40);
    assert!(shown.contains("so only mode bind"), "{shown}");
    assert!(!shown.contains("--"), "{shown}");
}

#[test]
fn a_target_held_by_a_self_connection_is_said_before_and_after_a_run() {
    // The fixture's flaky client is connected to itself on 44600.
    let mut d = opened(Theme::default_dark());
    typed(&mut d, "44600");
    let shown = text(&mut d, 120, 40);
    assert!(
        shown.contains("127.0.0.1:44600 is already connected to itself (a run holding it, or a"),
        "before:\n{shown}"
    );
    assert!(
        shown.contains("✖ 127.0.0.1:44600"),
        "marked as never:\n{shown}"
    );
    d.handle(key(KeyCode::Enter));
    assert_eq!(d.app.take_requests().len(), 1, "it may still be started");
    update(
        &mut d,
        ReproUpdate::Started {
            slot: 0,
            config: config(44600, Mode::Fresh, None),
        },
    );
    let stats = Snapshot {
        stage: Stage::LimitReached,
        attempts: 5000,
        refused: 5000,
        elapsed: Duration::from_secs(2),
        ..Snapshot::default()
    };
    update(
        &mut d,
        ReproUpdate::Ended {
            slot: 0,
            end: End::TimeLimit,
            stats,
            held: false,
        },
    );
    let shown = text(&mut d, 120, 40);
    assert!(
        shown.contains("127.0.0.1:44600 is connected to itself and holds the port"),
        "after:\n{shown}"
    );
    assert!(!shown.contains("did not hand out"), "{shown}");
    assert!(!shown.contains("Start it again"), "{shown}");
}

#[test]
fn no_colour_and_high_contrast() {
    let mut d = succeeded(Theme::monochrome());
    let t = render(&mut d, 120, 40);
    let buf = t.backend().buffer();
    for y in 0..40 {
        for x in 0..120 {
            let c = &buf[(x, y)];
            assert_eq!(
                (c.fg, c.bg),
                (Color::Reset, Color::Reset),
                "colour at {x},{y}"
            );
        }
    }
    let mut d = succeeded(Theme::high_contrast());
    let t = render(&mut d, 120, 40);
    let lines = screen(&t);
    let y = lines
        .iter()
        .position(|l| l.contains("local 127.0.0.1"))
        .unwrap();
    let x = lines[y]
        .find("local")
        .map(|i| lines[y][..i].chars().count())
        .unwrap();
    let cell = &t.backend().buffer()[(x as u16, y as u16)];
    assert_eq!((cell.fg, cell.bg), (Color::White, Color::Red));
}

#[test]
fn the_self_connection_is_marked_in_the_table_until_and_after_it_closes() {
    let mut d = succeeded(Theme::default_dark());
    assert!(
        d.app.requests().contains(&Request::Rescan),
        "the table is rescanned at once"
    );
    let mut sockets = busy_sockets();
    sockets.push(socket(
        "127.0.0.1:46384",
        "127.0.0.1:46384",
        TcpState::Established,
        process(777, "selfconn-tui", "selfconn-tui", "alice"),
        "alice",
        99_001,
    ));
    d.handle(scan(snapshot_of(
        at(12, 0, 6),
        vec![host()],
        sockets.clone(),
    )));
    let t = render(&mut d, 120, 40);
    let lines = screen(&t);
    let y = lines
        .iter()
        .position(|l| l.contains("127.0.0.1:46384 127.0.0.1:46384"))
        .expect("the row");
    assert!(
        lines[y].contains("◆ repro") && lines[y].contains("ESTABLISHED"),
        "{}",
        lines[y]
    );
    let x = lines[y]
        .find("SELF")
        .map(|i| lines[y][..i].chars().count())
        .unwrap();
    let cell = &t.backend().buffer()[(x as u16, y as u16)];
    assert_eq!((cell.fg, cell.bg), (Color::Black, Color::LightRed));
    assert!(cell.modifier.contains(Modifier::BOLD));
    // The flaky client's self-connection is not ours: no mark.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("127.0.0.1:44600") && l.contains("flaky-client"))
    );

    // c closes it: asked of the runner, then the table shows TIME_WAIT.
    d.app.take_requests();
    d.handle(ch('c'));
    assert_eq!(
        d.app.requests(),
        vec![Request::Repro(ReproRequest::CloseSocket { slot: 0 })]
    );
    d.app.take_requests();
    update(&mut d, ReproUpdate::Closed { slot: 0 });
    assert_eq!(d.app.requests(), vec![Request::Rescan]);
    let last = sockets.last_mut().unwrap();
    last.entry.state = TcpState::TimeWait;
    last.owner = selfconn_tui::core::snapshot::Owner::Unknown(
        selfconn_tui::core::snapshot::UnknownOwner::KernelHeld,
    );
    d.handle(scan(snapshot_of(at(12, 0, 7), vec![host()], sockets)));
    let text = text(&mut d, 120, 40);
    let row = text
        .lines()
        .find(|l| l.contains("127.0.0.1:46384 127.0.0.1:46384"))
        .unwrap();
    assert!(
        row.contains("TIME_WAIT") && row.contains("◆ repro"),
        "{row}"
    );
    assert!(
        text.contains("closed: the 4-tuple waits in TIME_WAIT"),
        "{text}"
    );
}

#[test]
fn keys_edit_the_form() {
    let mut d = opened(Theme::default_dark());
    let st = |d: &Dashboard| d.app.repro().slot(0).clone();
    // The first digit replaces the suggestion, the next ones append.
    for c in "44600".chars() {
        d.handle(ch(c));
    }
    assert_eq!(st(&d).port(), "44600");
    d.handle(key(KeyCode::Backspace));
    d.handle(ch('2'));
    assert_eq!(st(&d).port(), "44602");
    // Letters in the port field are keys, not text: `d` opens the duel.
    d.handle(ch('d'));
    assert!(d.app.repro().is_duel());
    d.handle(ch('d'));
    assert!(!d.app.repro().is_duel());
    d.app.take_requests();
    // Tab to the host: letters are text there (q does not quit).
    d.handle(key(KeyCode::Tab));
    assert_eq!(d.app.repro().focus(), (0, Field::Host));
    for c in "localhost".chars() {
        d.handle(ch(c));
    }
    d.handle(ch('q'));
    assert!(!d.app.wants_quit());
    assert_eq!(st(&d).host(), "localhostq");
    d.handle(key(KeyCode::Backspace));
    // ← → in the host field go through the presets.
    d.handle(key(KeyCode::Right));
    assert_eq!(st(&d).host(), "127.0.0.1");
    d.handle(key(KeyCode::Right));
    assert_eq!(st(&d).host(), "::1");
    // ↓ to the mode; → cycles it.
    d.handle(key(KeyCode::Down));
    for want in [
        Mode::Reuse,
        Mode::Bind,
        Mode::BindFirst,
        Mode::Guarded,
        Mode::Fresh,
    ] {
        d.handle(key(KeyCode::Right));
        assert_eq!(st(&d).mode(), want);
    }
    d.handle(key(KeyCode::Left));
    assert_eq!(st(&d).mode(), Mode::Guarded);
    // The pace.
    d.handle(ch('j'));
    d.handle(key(KeyCode::Right));
    assert_eq!(st(&d).pace(), Pace::PerSec(10));
    // Tab after the last field leaves the pane; Shift-Tab comes back to it.
    d.handle(key(KeyCode::Tab));
    assert_eq!(d.app.focus(), PaneId::Sockets);
    d.handle(key(KeyCode::BackTab));
    assert_eq!(d.app.focus(), PaneId::Repro);
    assert_eq!(d.app.repro().focus(), (0, Field::Pace));
    // ? still opens help; q quits outside a text field.
    d.handle(ch('?'));
    assert!(d.app.help_open());
    d.handle(key(KeyCode::Esc));
    d.handle(ch('q'));
    assert!(d.app.wants_quit());
}

#[test]
fn bad_ports_are_refused_with_a_message() {
    for (input, says) in [
        ("0", "port 0 is not a port"),
        ("70000", "70000 is out of range"),
        ("", "type a port"),
    ] {
        let mut d = opened(Theme::default_dark());
        d.handle(key(KeyCode::Backspace));
        d.handle(ctrl('u'));
        typed(&mut d, input);
        d.handle(ch('s'));
        assert!(
            d.app.requests().is_empty(),
            "{input}: {:?}",
            d.app.requests()
        );
        let slot = &d.app.repro().slot(0);
        assert!(!slot.is_starting() && slot.run().is_none());
        match slot.note() {
            Some(Note::Error(m)) => assert!(m.contains(says), "{input}: {m}"),
            other => panic!("{input}: {other:?}"),
        }
        assert!(text(&mut d, 100, 30).contains(says));
        // Typing again clears the message.
        d.handle(ch('1'));
        assert!(d.app.repro().slot(0).note().is_none());
    }
}
