//! The repro pane on stage: digits that scale with the pane and columns
//! that stay put (fixed counters), the packet strip from fixture packets,
//! the listener and TIME_WAIT warnings; and as root in a private network
//! namespace, a real run's handshake in the strip, `w`'s pcap read back by
//! tcpdump, and the "service restart" incident end to end.

mod common;
mod dashboard_fixture;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crossterm::event::KeyCode;
use dashboard_fixture::*;
use ratatui::style::Modifier;
use selfconn_tui::core::packets::{Packet, TcpFlags, Timestamp, parse};
use selfconn_tui::repro::{Config, ECHO_MESSAGE, Echo, End, Mode, Snapshot, Stage, Target};
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::event::Event;
use selfconn_tui::tui::repro::{
    Capture, MAX_ATTEMPTS, MAX_TIME, Note, Purpose, ReproRunner, ReproUpdate,
};
use selfconn_tui::tui::theme::Theme;

const PORT: u16 = 46384;
const WAIT: Duration = Duration::from_secs(20);

fn update(d: &mut Dashboard, u: ReproUpdate) {
    d.handle(Event::Repro(Box::new(u)));
}

fn opened() -> Dashboard {
    let mut d = busy_dashboard(Theme::default_dark());
    d.handle(ch('r'));
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

/// A run on PORT, started as the runner would say it.
fn started() -> Dashboard {
    let mut d = opened();
    d.handle(key(KeyCode::Enter));
    assert_eq!(d.app.take_requests().len(), 1);
    let config = Config {
        max_time: MAX_TIME,
        max_attempts: MAX_ATTEMPTS,
        ..Config::new(Target::resolve("127.0.0.1", PORT).unwrap(), Mode::Fresh)
    };
    update(&mut d, ReproUpdate::Started { slot: 0, config });
    d
}

fn progress(d: &mut Dashboard, attempts: u64, source: u16) {
    let stats = Snapshot {
        stage: Stage::Trying,
        attempts,
        refused: attempts,
        elapsed: Duration::from_millis(attempts.max(1)),
        last_source_port: Some(source),
        even_source_ports: attempts,
        ..Snapshot::default()
    };
    update(d, ReproUpdate::Progress { slot: 0, stats });
}

fn text(d: &mut Dashboard, w: u16, h: u16) -> String {
    screen(&render(d, w, h)).join("\n")
}

/// Where `needle` starts on its line (in columns), and the line's index.
fn column_of(screen: &str, needle: &str) -> (usize, usize) {
    screen
        .lines()
        .enumerate()
        .find_map(|(y, l)| l.find(needle).map(|i| (l[..i].chars().count(), y)))
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{screen}"))
}

/// The longest run of rows in a row of `█`-holding lines.
fn tallest_block(screen: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for l in screen.lines() {
        if l.contains("███") {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

#[test]
fn digits_scale_with_the_pane_and_columns_stay_put_up_to_a_million() {
    for (w, h, tall) in [(80, 24, 3), (120, 40, 5), (200, 50, 10)] {
        let mut cols = Vec::new();
        for (attempts, source) in [(9, 45002), (99_999, 9998), (1_000_000, 60998)] {
            let mut d = started();
            progress(&mut d, attempts, source);
            let shown = text(&mut d, w, h);
            cols.push((
                column_of(&shown, "SOURCE PORT"),
                column_of(&shown, "TARGET").0,
            ));
            if attempts == 99_999 {
                insta::assert_snapshot!(format!("stage_{w}x{h}"), shown);
            }
            // The numbers grow with the pane: ten rows at 200x50.
            if w == 80 {
                assert!(tallest_block(&shown) <= tall, "{w}x{h}:\n{shown}");
            } else {
                assert!(tallest_block(&shown) >= tall, "{w}x{h}:\n{shown}");
            }
            // Nothing that matters is cut at any size.
            let counters = shown
                .lines()
                .find(|l| l.contains("elapsed"))
                .unwrap_or_else(|| panic!("{w}x{h}:\n{shown}"));
            assert!(counters.contains("caught 0"), "{counters}");
            assert!(shown.contains("ATTEMPTS"), "{shown}");
        }
        assert!(
            cols.windows(2).all(|p| p[0] == p[1]),
            "{w}x{h}: the columns moved: {cols:?}"
        );
    }
}

#[test]
fn duel_halves_start_their_numbers_on_one_row_whatever_the_focus() {
    let mut d = duel_opened();
    for focus_moves in 0..4 {
        for _ in 0..focus_moves {
            d.handle(key(KeyCode::Tab));
        }
        let shown = text(&mut d, 120, 40);
        let ys: Vec<usize> = shown
            .lines()
            .filter(|l| l.contains("port 4638"))
            .map(|l| l.find("port 4638").unwrap())
            .collect();
        assert_eq!(ys.len(), 1, "both forms on one line:\n{shown}");
    }
}

/// The pane with a duel's two forms open: PORT and the suggested PORT + 2.
fn duel_opened() -> Dashboard {
    let mut d = opened();
    d.handle(ch('d'));
    d.app.take_requests();
    update(
        &mut d,
        ReproUpdate::Suggested {
            purpose: Purpose::Duel,
            port: Some(PORT + 2),
        },
    );
    d
}

/// A duel on PORT and its neighbour: A connected to itself and ended
/// (holding the socket), B still running.
fn duel_one_ended() -> Dashboard {
    let mut d = duel_opened();
    d.handle(key(KeyCode::Enter));
    let starts = d.app.take_requests();
    assert_eq!(starts.len(), 2, "both loops start: {starts:?}");
    let ports = [0, 1].map(|s| d.app.repro().slot(s).port_number().unwrap());
    for (slot, port) in ports.into_iter().enumerate() {
        let config = Config {
            max_time: MAX_TIME,
            max_attempts: MAX_ATTEMPTS,
            ..Config::new(Target::resolve("127.0.0.1", port).unwrap(), Mode::Fresh)
        };
        update(&mut d, ReproUpdate::Started { slot, config });
    }
    for slot in [0, 1] {
        let stats = Snapshot {
            stage: Stage::Trying,
            attempts: 14_116,
            refused: 14_116,
            elapsed: Duration::from_millis(1400),
            last_source_port: Some(45_002),
            even_source_ports: 14_116,
            ..Snapshot::default()
        };
        update(&mut d, ReproUpdate::Progress { slot, stats });
    }
    let at = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), ports[0]);
    let stats = Snapshot {
        stage: Stage::EchoProven,
        attempts: 14_117,
        refused: 14_116,
        elapsed: Duration::from_millis(1401),
        last_source_port: Some(ports[0]),
        even_source_ports: 14_117,
        ..Snapshot::default()
    };
    let echo = Echo {
        sent: ECHO_MESSAGE,
        received: ECHO_MESSAGE.to_vec(),
        verified: true,
        error: None,
    };
    let end = End::SelfConnected {
        local: at,
        peer: at,
        echo,
    };
    let (slot, held) = (0, true);
    update(
        &mut d,
        ReproUpdate::Ended {
            slot,
            end,
            stats,
            held,
        },
    );
    assert!(!d.app.repro().slot(0).is_running() && d.app.repro().slot(1).is_running());
    d
}

/// One half of a duel on screen: the columns left of the bar between the
/// halves (`left`), or right of it.
fn half(screen: &str, left: bool) -> Vec<String> {
    let form = screen
        .lines()
        .find(|l| l.contains("A  port"))
        .unwrap_or_else(|| panic!("no duel form:\n{screen}"));
    let chars: Vec<char> = form.chars().collect();
    let bar = (1..chars.len() - 1)
        .find(|&i| chars[i] == '│')
        .unwrap_or_else(|| panic!("no bar between the halves:\n{screen}"));
    screen
        .lines()
        .map(|l| {
            let c: Vec<char> = l.chars().collect();
            let (from, to) = if left {
                (1, bar)
            } else {
                (bar + 1, c.len() - 1)
            };
            c.get(from..to.max(from))
                .unwrap_or_default()
                .iter()
                .collect()
        })
        .collect()
}

/// Where a half's numbers are and how big: the rows of the ATTEMPTS and
/// SOURCE PORT labels and the rows of large digits under each (0: plain).
fn digits(half: &[String]) -> [usize; 4] {
    let row_of = |label: &str| {
        half.iter()
            .position(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no {label}:\n{}", half.join("\n")))
    };
    let glyphs = |from: usize| {
        half[from + 1..]
            .iter()
            .take_while(|l| l.contains(['█', '▀', '▄']))
            .count()
    };
    let (a, p) = (row_of("ATTEMPTS"), row_of("SOURCE PORT"));
    [a, glyphs(a), p, glyphs(p)]
}

#[test]
fn duel_halves_show_their_digits_alike_when_one_run_has_ended() {
    let mut d = duel_one_ended();
    for (w, h) in [(80, 24), (120, 40), (200, 50)] {
        let shown = text(&mut d, w, h);
        insta::assert_snapshot!(format!("duel_one_ended_{w}x{h}"), shown);
        let (a, b) = (half(&shown, true), half(&shown, false));
        assert!(a.iter().any(|l| l.contains("echo proven")), "{shown}");
        assert!(b.iter().any(|l| l.contains("● trying")), "{shown}");
        let (da, db) = (digits(&a), digits(&b));
        assert_eq!(da, db, "{w}x{h}: the halves differ:\n{shown}");
        // Large digits where the pane has room for them.
        if w > 80 {
            assert!(da[3] >= 3, "{w}x{h}: {da:?}\n{shown}");
        }
    }
}

/// An IPv4 TCP packet on loopback as captured (IP header on).
fn packet(src: u16, dst: u16, flags: u8, seq: u32, ack: u32, usec: u32) -> Packet {
    let mut b = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    b.extend([127, 0, 0, 1, 127, 0, 0, 1]);
    b.extend(src.to_be_bytes());
    b.extend(dst.to_be_bytes());
    b.extend(seq.to_be_bytes());
    b.extend(ack.to_be_bytes());
    b.extend([0x50, flags]);
    b.extend(65495u16.to_be_bytes());
    b.extend([0, 0, 0, 0]);
    let time = Timestamp {
        secs: 36_000 + 1,
        nanos: usec * 1000,
    };
    parse(&b, time).expect("a well-formed packet")
}

#[test]
fn the_strip_folds_refusals_and_shows_the_handshake_whole() {
    let mut d = started();
    update(&mut d, ReproUpdate::Capture { slot: 0, on: Ok(0) });
    let (s, r, a) = (TcpFlags::SYN, TcpFlags::RST | TcpFlags::ACK, TcpFlags::ACK);
    let mut packets = Vec::new();
    for i in 0..50u16 {
        let src = 45000 + 2 * i;
        packets.push(packet(
            src,
            PORT,
            s,
            1000 + u32::from(i),
            0,
            u32::from(i) * 10,
        ));
        packets.push(packet(
            PORT,
            src,
            r,
            0,
            1001 + u32::from(i),
            u32::from(i) * 10 + 5,
        ));
    }
    packets.push(packet(PORT, PORT, s, 777, 0, 900));
    packets.push(packet(PORT, PORT, s | a, 777, 778, 901));
    packets.push(packet(PORT, PORT, a, 778, 778, 902));
    update(&mut d, ReproUpdate::Packets { slot: 0, packets });
    let t = render(&mut d, 120, 40);
    let lines = screen(&t);
    let shown = lines.join("\n");
    insta::assert_snapshot!("strip_120x40", shown);
    let hs: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(&format!("127.0.0.1.{PORT} > 127.0.0.1.{PORT}")))
        .collect();
    assert_eq!(hs.len(), 3, "{shown}");
    for (l, flags) in hs.iter().zip(["Flags [S]", "Flags [S.]", "Flags [.]"]) {
        assert!(l.contains(flags), "{l}");
    }
    assert!(shown.contains("refused"), "the folded count:\n{shown}");
    // The handshake stands out (bold); the folded count does not.
    let style_at = |needle: &str| {
        let y = lines.iter().position(|l| l.contains(needle)).unwrap();
        let x = lines[y]
            .find(needle)
            .map(|i| lines[y][..i].chars().count())
            .unwrap();
        t.backend().buffer()[(x as u16, y as u16)].modifier
    };
    assert!(style_at("Flags [S.]").contains(Modifier::BOLD));
    assert!(!style_at("refused").contains(Modifier::BOLD));
    match &d.app.repro().slot(0).run().unwrap().capture {
        Capture::On { strip, .. } => assert!(strip.folded() >= 40, "{}", strip.folded()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_root_the_strip_says_why() {
    let mut d = started();
    update(
        &mut d,
        ReproUpdate::Capture {
            slot: 0,
            on: Err("packet strip: needs root"),
        },
    );
    progress(&mut d, 100, 45002);
    assert!(text(&mut d, 120, 40).contains("packet strip: needs root"));
}

#[test]
fn a_listener_is_said_as_soon_as_its_port_is_typed_and_time_wait_when_it_holds() {
    let mut d = opened();
    for c in "40000".chars() {
        d.handle(ch(c));
    }
    let shown = text(&mut d, 120, 40);
    assert!(
        shown.contains("something listens on 0.0.0.0:40000 (postgres, pid 1200)"),
        "{shown}"
    );
    let mut d = started();
    update(&mut d, ReproUpdate::TimeWait { slot: 0 });
    progress(&mut d, 100, 45002);
    let shown = text(&mut d, 120, 40);
    assert!(
        shown.contains("the last run's socket is in TIME_WAIT for ~1 s: the kernel skips that"),
        "{shown}"
    );
}

#[test]
fn w_before_any_run_says_so_and_asks_nothing() {
    let mut d = opened();
    d.handle(ch('w'));
    assert!(d.app.requests().is_empty());
    match d.app.repro().slot(0).note() {
        Some(Note::Error(m)) => assert!(m.contains("no run yet"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// --- As root, in a private network namespace ---

/// [`pump_runner`] with this file's time limit.
fn pump(
    d: &mut Dashboard,
    runner: &mut ReproRunner,
    what: &str,
    done: impl Fn(&Dashboard) -> bool,
) {
    pump_runner(d, runner, what, WAIT, done);
}

fn strip_lines(d: &Dashboard) -> Vec<String> {
    match d.app.repro().slot(0).run().map(|r| &r.capture) {
        Some(Capture::On { strip, .. }) => strip.lines(0).into_iter().map(|l| l.text).collect(),
        _ => vec![],
    }
}

fn set_port(d: &mut Dashboard, port: u16) {
    d.handle(key(KeyCode::Backspace));
    d.handle(ctrl('u'));
    for c in port.to_string().chars() {
        d.handle(ch(c));
    }
}

#[test]
fn a_real_run_shows_the_handshake_and_w_writes_a_pcap_tcpdump_reads() {
    let out = common::in_private_netns(|| {
        common::set_netns_sysctl("ip_local_port_range", "44600 44631");
        let dir = std::env::temp_dir().join(format!("selfconn-stage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::env::set_current_dir(&dir).unwrap();
        let mut d = busy_dashboard(Theme::default_dark());
        let mut runner = ReproRunner::new();
        d.handle(ch('r'));
        d.app.take_requests();
        set_port(&mut d, 44610);
        d.handle(key(KeyCode::Enter));
        pump(&mut d, &mut runner, "the self-connect", |d| {
            d.app.repro().slot(0).holds_socket()
        });
        // The capture reads on a second after the end: the handshake lands.
        pump(&mut d, &mut runner, "the handshake in the strip", |d| {
            strip_lines(d)
                .iter()
                .filter(|l| l.contains("127.0.0.1.44610 > 127.0.0.1.44610"))
                .count()
                >= 3
        });
        let strip = strip_lines(&d);
        let shown = text(&mut d, 120, 40);
        d.handle(ch('w'));
        pump(&mut d, &mut runner, "the file", |d| {
            d.app.repro().slot(0).note().is_some()
        });
        let note = match d.app.repro().slot(0).note() {
            Some(Note::Info(m)) => m.clone(),
            other => panic!("{other:?}"),
        };
        let path: PathBuf = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "pcap"))
            .expect("a .pcap file");
        let tcpdump = Command::new("tcpdump")
            .args(["-n", "-r"])
            .arg(&path)
            .output()
            .expect("tcpdump runs");
        d.handle(ch('c'));
        drop(runner);
        std::env::set_current_dir("/").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (strip, shown, note, path, tcpdump)
    });
    let Some((strip, shown, note, path, tcpdump)) = out else {
        return;
    };
    let self_line = |l: &&str| l.contains("127.0.0.1.44610 > 127.0.0.1.44610");
    let own: Vec<&str> = strip.iter().map(String::as_str).filter(self_line).collect();
    assert_handshake(&own);
    assert!(shown.contains("packets on lo, port 44610"), "{shown}");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("selfconn-44610-") && note.contains(&name),
        "{note}"
    );
    assert!(
        tcpdump.status.success(),
        "{}",
        String::from_utf8_lossy(&tcpdump.stderr)
    );
    let read = String::from_utf8_lossy(&tcpdump.stdout);
    assert_handshake(&read.lines().filter(self_line).collect::<Vec<_>>());
}

/// From the port's SYN to itself on: [S], [S.], [.] in that order.
fn assert_handshake(lines: &[&str]) {
    let at = lines
        .iter()
        .position(|l| l.contains("Flags [S],"))
        .unwrap_or_else(|| panic!("no SYN to itself: {lines:#?}"));
    let three = &lines[at..(at + 3).min(lines.len())];
    assert_eq!(three.len(), 3, "{lines:#?}");
    for (l, flags) in three
        .iter()
        .zip(["Flags [S],", "Flags [S.],", "Flags [.],"])
    {
        assert!(l.contains(flags), "{l}\n{lines:#?}");
    }
}

#[test]
fn the_incident_plays_in_the_pane_and_c_frees_the_port() {
    let out = common::in_private_netns(|| {
        common::set_netns_sysctl("ip_local_port_range", "44600 44631");
        let mut d = busy_dashboard(Theme::default_dark());
        let mut runner = ReproRunner::new();
        d.handle(ch('r'));
        d.app.take_requests();
        set_port(&mut d, 44604);
        d.handle(ch('i'));
        pump(&mut d, &mut runner, "the failed restart", |d| {
            d.app.repro().incident_waits()
        });
        let waiting = text(&mut d, 120, 40);
        d.handle(ch('c'));
        pump(&mut d, &mut runner, "the end", |d| {
            !d.app.repro().any_busy()
        });
        // Nothing of the incident is left: the port binds.
        let free =
            std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 44604))
                .is_ok();
        let done = text(&mut d, 160, 40);
        drop(runner);
        (waiting, done, free)
    });
    let Some((waiting, done, free)) = out else {
        return;
    };
    assert!(waiting.contains("restart FAILS: EADDRINUSE"), "{waiting}");
    assert!(waiting.contains("c frees the port"), "{waiting}");
    for step in [
        "the service listens on 127.0.0.1:44604",
        "the service stopped",
        "the client connected to itself (127.0.0.1:44604 = peer)",
        "bind() FAILS with EADDRINUSE",
        "closed with SO_LINGER 0",
        "the service starts again on 127.0.0.1:44604",
    ] {
        assert!(done.contains(step), "{step}:\n{done}");
    }
    assert!(free, "the port is free at the end");
    // The final screen's story, with numbers (times, counts) masked and
    // the lines drawn from counts (big digits, ticker, chart) and the
    // packets after the handshake (timing) left out.
    let masked: Vec<String> = done
        .lines()
        .filter(|l| !l.contains(['█', '▀', '▄', '▁', '▂', '▃', '▅', '▆', '▇']))
        .filter(|l| {
            !["source ports", "attempts/s", "elapsed", "ATTEMPTS", " IP "]
                .iter()
                .any(|w| l.contains(w))
        })
        .map(mask_numbers)
        .collect();
    insta::assert_snapshot!("incident_160x40", masked.join("\n"));
}

/// Each run of digits (with its commas and dots) as one `#`.
fn mask_numbers(line: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in line.chars() {
        let digitish = c.is_ascii_digit() || (in_number && matches!(c, ',' | '.' | ':'));
        if digitish {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    // A number's width changes the padding before the right border:
    // fold runs of spaces so that only the words are compared.
    let mut folded = String::new();
    for c in out.chars() {
        if !(c == ' ' && folded.ends_with(' ')) {
            folded.push(c);
        }
    }
    folded
}
