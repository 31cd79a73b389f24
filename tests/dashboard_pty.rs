//! The real binary in a pseudo-terminal: it shows a real self-connection
//! made on loopback, highlighted; its repro pane makes one (in `bind`
//! mode on loopback, and as root in `fresh` mode inside a private network
//! namespace); it leaves the terminal as it found it (cooked mode, main
//! screen, no mouse reporting, no bracketed paste, cursor shown) on `q`,
//! on SIGTERM and on a panic; a burst of input or a paste never leaves
//! keys unread; Ctrl-Z and SIGTSTP hand the terminal back and stop it, and
//! SIGCONT takes it back whole. Every wait is bounded (the harness is in
//! `pty_harness`); the child is killed if a test fails.

mod common;
mod pty_harness;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use portable_pty::PtySize;
use pty_harness::*;

#[test]
fn a_real_self_connection_shows_up_highlighted_and_q_restores_the_terminal() {
    let port = common::free_port("127.0.0.1");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _conn = common::self_connect(addr);
    let needle = format!("127.0.0.1:{port}");

    let mut app = Running::start(&["--interval", "200ms"], &[]);
    app.wait_for(&format!("a SELF-CONNECT row for {needle}"), |s| {
        find_row(s, &["SELF-CONNECT", &needle]).is_some()
    });
    app.assert_raw_mode_now();

    let (row, line) = find_row(app.screen(), &["SELF-CONNECT", &needle]).unwrap();
    let col = line[..line.find("SELF-CONNECT").unwrap()].chars().count() as u16;
    let cell = app.screen().cell(row, col).unwrap();
    assert_eq!(cell.contents(), "S");
    assert_eq!(
        cell.fgcolor(),
        vt100::Color::Idx(9),
        "self-connects in bright red: {line}"
    );
    assert!(cell.bold(), "and bold");

    let pid = app.pid();
    app.send(b"q");
    let status = app.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    app.assert_terminal_restored();
    assert_no_tracing_instance_of(pid);
}

/// As root, live catch ran (its tracing instance existed); once the
/// dashboard has exited, none of its instances is left.
fn assert_no_tracing_instance_of(pid: i32) {
    let prefix = format!("selfconn-tui-{pid}");
    let left: Vec<String> = std::fs::read_dir("/sys/kernel/tracing/instances")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_instance_of(n, &prefix))
        .collect();
    assert!(left.is_empty(), "tracing instances left: {left:?}");
}

/// Whether live catch runs for `pid` (as root): its instance exists.
fn has_tracing_instance(pid: i32) -> bool {
    let prefix = format!("selfconn-tui-{pid}");
    std::fs::read_dir("/sys/kernel/tracing/instances").is_ok_and(|d| {
        d.filter_map(Result::ok)
            .any(|e| is_instance_of(&e.file_name().to_string_lossy(), &prefix))
    })
}

/// `selfconn-tui-PID`, or `selfconn-tui-PID-N` for a second one.
fn is_instance_of(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    app.assert_raw_mode_now();
    let pid = app.pid();
    if common::is_root() {
        assert!(has_tracing_instance(pid), "live catch runs as root");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = app.wait_exit();
    assert_eq!(status.exit_code(), 128 + 15, "{status:?}");
    app.assert_terminal_restored();
    assert_no_tracing_instance_of(pid);
}

#[test]
fn sighup_restores_the_terminal() {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app.pid()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let status = app.wait_exit();
    assert_eq!(status.exit_code(), 128 + 1, "{status:?}");
    app.assert_terminal_restored();
    assert_no_tracing_instance_of(app.pid());
}

#[test]
fn ctrl_c_quits_cleanly() {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    app.send(&[0x03]);
    let status = app.wait_exit();
    assert!(status.success(), "{status:?}");
    app.assert_terminal_restored();
}

// The panic hook answers the environment in debug builds only (a release
// build cannot be made to panic that way), which is what `cargo test` builds.
#[cfg(debug_assertions)]
#[test]
fn a_panic_restores_the_terminal_and_the_message_is_readable() {
    let mut app = Running::start(&[], &[("SELFCONN_TUI_TEST_PANIC", "1")]);
    let status = app.wait_exit();
    assert_eq!(status.exit_code(), 101, "{status:?}");
    app.assert_terminal_restored();
    assert_no_tracing_instance_of(app.pid());
    assert!(
        app.screen()
            .contents()
            .contains("panicking after the first frame"),
        "{}",
        app.screen().contents()
    );
}

/// The demo of a hunt: a client connects to itself and resets within a
/// millisecond (no TIME_WAIT for a scan to find); as root, the dashboard
/// shows it within a second with its pid and command.
#[test]
fn as_root_a_self_connect_reset_at_once_is_shown_with_its_owner_within_a_second() {
    if !common::root_or_skip("live catch needs root") {
        return;
    }
    let mut app = Running::start(&["--interval", "10s"], &[]);
    app.wait_for("live catch in the header", |s| {
        s.contents().contains("live catch: tracefs")
    });
    let port = common::free_port("127.0.0.1");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let made = Instant::now();
    let s = common::self_connect(addr);
    s.set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
    let me = std::process::id();
    let needle = format!("{addr} ↔ itself, pid {me} ");
    app.wait_within(&needle, Duration::from_secs(1), |s| {
        events_text(s).contains(&needle)
    });
    // With the command: the test binary's name.
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy().into_owned();
    let text = events_text(app.screen());
    assert!(text.contains(&format!("{needle}{name}")), "{text}");
    assert!(made.elapsed() < Duration::from_secs(2));
    let pid = app.pid();
    app.send(b"q");
    assert!(app.wait_exit().success());
    app.assert_terminal_restored();
    assert_no_tracing_instance_of(pid);
}

/// The events pane's text, its wrapped lines joined by single spaces.
fn events_text(s: &vt100::Screen) -> String {
    let rows: Vec<String> = s.rows(0, COLS).collect();
    let Some((top, col)) = rows
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.find("╭ Events").map(|b| (i, r[..b].chars().count())))
    else {
        return String::new();
    };
    let mut out = String::new();
    for r in rows.iter().skip(top + 1) {
        let part: String = r.chars().skip(col).collect();
        let part = part.trim_matches(|c: char| c == '│' || c == '╰' || c == '╯' || c == '─');
        out.push(' ');
        out.push_str(part.trim());
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn not_root_the_header_says_live_catch_is_off_and_why() {
    if !common::root_or_skip("setpriv to another user needs root") {
        return;
    }
    let mut app = Running::start_program(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_selfconn-tui"),
        ],
        &[],
    );
    app.wait_for("live catch off in the header", |s| {
        s.contents().contains("live catch: off (not root)")
    });
    app.send(b"q");
    assert!(app.wait_exit().success());
    app.assert_terminal_restored();
}

#[test]
fn a_resize_is_followed() {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    app.master
        .resize(PtySize {
            rows: 12,
            cols: 50,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    app.parser.screen_mut().set_size(12, 50);
    app.wait_for("the too-small message", |s| {
        s.contents().contains("Terminal too small: 50×12")
    });
    app.send(b"q");
    assert!(app.wait_exit().success());
    app.assert_terminal_restored();
}

#[test]
fn without_a_terminal_it_refuses_to_draw() {
    let out = common::bin().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing drawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(err.contains("selfconn-tui scan"), "{err}");
}

#[test]
fn bad_options_are_refused_with_a_reason() {
    for (args, reason) in [
        (&["--interval", "0"][..], "must be positive"),
        (&["--interval", "-1"][..], "negative"),
        (&["--interval", "soon"][..], "not a duration"),
        (&["--interval", "10ms"][..], "too short"),
        (&["--interval", "2h"][..], "too long"),
        (&["--theme", "nope"][..], "high-contrast"),
    ] {
        let out = common::run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}

/// The right arrow, as a terminal sends it.
const RIGHT: &[u8] = b"\x1b[C";

/// The repro pane's form with a port filled in (the suggestion).
fn suggested(s: &vt100::Screen) -> bool {
    find_row(s, &["host 127.0.0.1", "mode fresh", "pace max"])
        .is_some_and(|(_, l)| l.contains("port ") && !l.contains("port …"))
}

/// The row of the table that marks the socket on `addr` as the repro
/// pane's, drawn in full in the repro style (black on bright red).
fn marked_row(s: &vt100::Screen, addr: &str) -> Option<(u16, String)> {
    let needle = format!("{addr} {addr}");
    let (row, line) = find_row(s, &[&needle, "ESTABLISHED", "◆ repro"])?;
    let col = line[..line.find("SELF-CONNECT")?].chars().count() as u16;
    let cell = s.cell(row, col)?;
    (cell.bgcolor() == vt100::Color::Idx(9) && cell.fgcolor() == vt100::Color::Idx(0))
        .then_some((row, line))
}

/// Waits until the repro pane shows the proof and the table marks the
/// socket on `addr`; returns the table's row.
fn wait_for_the_proof(app: &mut Running, addr: &str) -> (u16, String) {
    app.wait_for("the echo proven and the marked row", |s| {
        s.contents().contains("✓ echo proven") && marked_row(s, addr).is_some()
    });
    marked_row(app.screen(), addr).unwrap()
}

#[test]
fn the_repro_pane_makes_a_client_connect_to_itself_and_q_restores_the_terminal() {
    let port = common::free_port("127.0.0.1");
    let mut app = Running::start(&["--interval", "500ms"], &[]);
    app.wait_for("the first frame", first_frame);
    app.send(b"r");
    app.wait_for("the repro pane with a suggested port", suggested);
    // bind mode on a free port: connected to itself on the first attempt.
    app.send(port.to_string().as_bytes());
    app.send(b"\t\t");
    app.send(RIGHT);
    app.send(RIGHT);
    let form = format!("port {port}  host 127.0.0.1  mode ◀ bind ▶");
    app.wait_for("the form set to bind", |s| s.contents().contains(&form));
    app.send(b"\r");
    let (row, line) = wait_for_the_proof(&mut app, &format!("127.0.0.1:{port}"));
    // In the same frame, perhaps a few bytes later.
    app.wait_for("the pane's headline", |s| {
        s.contents().contains("CONNECTED TO ITSELF")
    });
    // The row has the repro style: black on bright red.
    let col = line[..line.find("SELF-CONNECT").unwrap()].chars().count() as u16;
    let cell = app.screen().cell(row, col).unwrap();
    assert_eq!(cell.bgcolor(), vt100::Color::Idx(9), "{line}");
    assert_eq!(cell.fgcolor(), vt100::Color::Idx(0), "{line}");

    app.send(b"q");
    let status = app.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    app.assert_terminal_restored();
}

#[test]
fn as_root_a_fresh_loop_on_the_suggested_port_connects_to_itself_in_a_private_namespace() {
    if !common::root_or_skip("a private network namespace (unshare -n) needs root") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_selfconn-tui");
    let mut app = Running::start_program(
        "unshare",
        &[
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
            bin,
            "--interval",
            "500ms",
        ],
        &[],
    );
    app.wait_for("the first frame", first_frame);
    // The defaults: the suggested port, fresh, as fast as possible.
    app.send(b"r");
    app.wait_for("the suggested port", suggested);
    let (_, form) = find_row(app.screen(), &["host 127.0.0.1", "mode fresh"]).unwrap();
    let port: u16 = form
        .split("port ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a port in {form:?}"));
    assert_eq!(
        port % 2,
        0,
        "connect()'s parity in the default range: {port}"
    );
    app.send(b"\r");
    wait_for_the_proof(&mut app, &format!("127.0.0.1:{port}"));
    app.wait_for("the proof's addresses", |s| {
        s.contents().contains("local 127.0.0.1:")
    });
    app.send(b"q");
    let status = app.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    app.assert_terminal_restored();
}

/// Opens the filter, writes `burst` to the terminal (from a thread: the
/// tty's input queue holds 4 KiB, the writer waits while the program reads),
/// then Esc; the filter must close within a second of the Esc.
fn burst_then_esc(burst: Vec<u8>) {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    app.send(b"/");
    app.wait_for("the filter prompt", filter_open);
    let mut writer = std::mem::replace(&mut app.writer, Box::new(std::io::sink()));
    let written = std::thread::spawn(move || {
        writer.write_all(&burst).unwrap();
        writer.write_all(b"\x1b").unwrap();
        writer.flush().unwrap();
        writer
    });
    // The whole burst reaches the tty; then Esc has at most a second.
    let deadline = Instant::now() + LIMIT;
    while !written.is_finished() {
        assert!(Instant::now() < deadline, "the burst was not read");
        app.pump(Duration::from_millis(20));
    }
    app.writer = written.join().unwrap();
    let sent = Instant::now();
    app.wait_within("Esc to close the filter", Duration::from_secs(1), |s| {
        !filter_open(s)
    });
    let took = sent.elapsed();
    // And the next key works.
    app.send(b"?");
    app.wait_for("the help overlay", |s| s.contents().contains(" Keys "));
    app.send(b"q");
    let status = app.wait_exit();
    assert!(status.success(), "{status:?} (Esc took {took:?})");
    app.assert_terminal_restored();
}

#[test]
fn a_pasted_burst_then_esc_closes_the_filter_at_once() {
    // As a terminal pastes with bracketed paste on: one event.
    let mut paste = b"\x1b[200~".to_vec();
    paste.extend(std::iter::repeat_n(b'x', 5000));
    paste.extend_from_slice(b"\x1b[201~");
    burst_then_esc(paste);
}

#[test]
fn a_typed_burst_then_esc_closes_the_filter_at_once() {
    // As a terminal without bracketed paste (or a program) sends it: keys.
    burst_then_esc("ab😀".repeat(1000).into_bytes());
}

#[test]
fn a_bracketed_paste_goes_into_the_filter_as_one_line() {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    app.assert_raw_mode_now();
    app.send(b"/");
    app.wait_for("the filter prompt", filter_open);
    // The newline is pasted text, not Enter; the escape sequence is text.
    app.send(b"\x1b[200~127.0\n0.1\x1b[2J\x1b[201~");
    app.wait_for("the pasted text in the filter", |s| {
        s.contents().contains(" filter: 127.0 0.1 [2J▏")
    });
    app.send(b"\x1b");
    app.wait_for("the filter closed", |s| !filter_open(s));
    app.send(b"q");
    assert!(app.wait_exit().success());
    app.assert_terminal_restored();
}

/// Starts the dashboard and waits for its whole first frame.
fn started() -> Running {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the whole first frame", whole);
    app
}

#[test]
fn ctrl_z_hands_the_terminal_back_and_stops_then_sigcont_resumes_whole() {
    let mut app = started();
    app.send(&[0x1a]);
    app.wait_stopped();
    app.assert_terminal_restored();
    app.assert_resumes_whole();
}

#[test]
fn sigtstp_hands_the_terminal_back_and_stops_then_sigcont_resumes_whole() {
    let mut app = started();
    app.signal(nix::sys::signal::Signal::SIGTSTP);
    app.wait_stopped();
    app.assert_terminal_restored();
    app.assert_resumes_whole();
}

#[test]
fn after_sigstop_and_a_shell_resetting_the_terminal_sigcont_takes_it_back() {
    let mut app = started();
    // SIGSTOP cannot be caught: nothing is handed back; the shell then
    // puts the terminal in its own modes, as bash does for a stopped job.
    app.signal(nix::sys::signal::Signal::SIGSTOP);
    app.wait_stopped();
    app.reset_terminal_modes();
    app.assert_resumes_whole();
}

/// The text of the first OSC 52 sequence the program wrote, decoded
/// (`base64 -d`, coreutils), and the sequence's base64 as written.
fn osc52_written(raw: &[u8]) -> Option<(String, String)> {
    let start = raw.windows(7).position(|w| w == b"\x1b]52;c;")? + 7;
    let len = raw[start..].iter().position(|&b| b == 0x07)?;
    let coded = String::from_utf8(raw[start..start + len].to_vec()).ok()?;
    let out = common::output_with_stdin(std::process::Command::new("base64").arg("-d"), &coded);
    assert!(out.status.success(), "{coded:?} is not base64");
    Some((String::from_utf8(out.stdout).unwrap(), coded))
}

/// Waits (bounded) until the program has written an OSC 52 sequence.
fn wait_for_osc52(app: &mut Running) -> (String, String) {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(found) = osc52_written(&app.raw) {
            return found;
        }
        assert!(Instant::now() < deadline, "no OSC 52 sequence was written");
        app.pump(Duration::from_millis(50));
    }
}

#[test]
fn y_writes_the_selected_fix_to_the_terminal_as_osc_52() {
    let listener = common::listener_in_range("127.0.0.1", true);
    let port = listener.local_addr().unwrap().port().to_string();
    let mut app = Running::start(&["--interval", "200ms"], &[]);
    app.wait_for("the first frame", |s| s.contents().contains("ephemeral"));
    // Only this listener, whatever else the host has (other test suites'
    // findings could push its row off the first screen).
    app.send(format!("/{port}\r").as_bytes());
    app.wait_for("the filter kept", |s| {
        s.contents().contains(&format!("match “{port}”")) && !filter_open(s)
    });
    app.wait_for("the listener's row", |s| {
        find_row(s, &["high", &format!("127.0.0.1:{port}")]).is_some()
    });
    app.send(b"y");
    let (text, coded) = wait_for_osc52(&mut app);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("sysctl -w net.ipv4.ip_local_reserved_ports=") && first.contains(&port),
        "{text:?}"
    );
    assert!(!text.contains("$ ") && !text.ends_with('\n'), "{text:?}");
    assert!(common::sh_parses(&text), "{text:?}");
    assert_eq!(
        selfconn_tui::tui::clipboard::osc52(&text).unwrap(),
        format!("\x1b]52;c;{coded}\x07")
    );
    app.wait_for("the log saying so", |s| {
        s.contents().contains("copied the fix to the clipboard")
    });
    app.send(b"q");
    assert!(app.wait_exit().success());
    app.assert_terminal_restored();
}

#[test]
fn a_bad_netns_is_refused_before_the_screen_is_taken_as_scan_refuses_it() {
    let dash = common::run(&["--netns", "no-such-namespace"]);
    let scan = common::run(&["scan", "--netns", "no-such-namespace"]);
    assert_eq!(dash.status.code(), Some(2));
    let said = String::from_utf8_lossy(&dash.stderr);
    assert!(
        said.starts_with(
            "selfconn-tui: no network namespace matches \"no-such-namespace\"; known: "
        ),
        "{said}"
    );
    assert_eq!(said, String::from_utf8_lossy(&scan.stderr));
    assert!(dash.stdout.is_empty(), "no escape sequences on a refusal");
    let both = common::run(&["--netns", "host", "--own-netns"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn as_root_own_netns_in_a_private_namespace_shows_that_namespace_only() {
    // Risky on the host: it must not be listed.
    let host_listener = common::listener_in_range("127.0.0.1", true);
    let host_port = host_listener.local_addr().unwrap().port();
    common::in_private_netns(move || {
        let inside = common::listener_in_range("127.0.0.1", true);
        let port = inside.local_addr().unwrap().port();
        assert_ne!(port, host_port, "a fresh namespace may pick the same port");
        // Started from this thread: the program runs in its namespace.
        let mut app = Running::start(&["--own-netns", "--interval", "200ms"], &[]);
        app.wait_for("this namespace's listener", |s| {
            find_row(s, &["high", &format!("127.0.0.1:{port}")]).is_some()
        });
        let contents = app.screen().contents();
        assert!(
            !contents.contains(&format!("127.0.0.1:{host_port}")),
            "{contents}"
        );
        let title = app.screen().rows(0, COLS).next().unwrap();
        assert!(title.contains(" only"), "the header names it: {title}");
        // The fix persists in the namespace's own setup, not the host's.
        app.send(b"y");
        let (text, _) = wait_for_osc52(&mut app);
        assert!(!text.contains("/etc/sysctl.d"), "{text:?}");
        assert!(common::sh_parses(&text), "{text:?}");
        app.send(b"\r");
        app.wait_for("the note on persisting", |s| {
            s.contents().contains("Not in the host's /etc/sysctl.d")
        });
        app.send(b"q");
        assert!(app.wait_exit().success());
        app.assert_terminal_restored();
        drop(inside);
    });
}
