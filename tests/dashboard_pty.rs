//! The real binary in a pseudo-terminal: it shows a real self-connection
//! made on loopback, highlighted; its repro pane makes one (in `bind`
//! mode on loopback, and as root in `fresh` mode inside a private network
//! namespace); and it leaves the terminal as it found it (cooked mode,
//! main screen, no mouse reporting, cursor shown) on `q`, on SIGTERM and
//! on a panic. Every wait is bounded; the child is killed if a test fails.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

const ROWS: u16 = 40;
const COLS: u16 = 120;
const LIMIT: Duration = Duration::from_secs(10);

struct Running {
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    output: Receiver<Vec<u8>>,
    parser: vt100::Parser,
    /// Everything the program wrote.
    raw: Vec<u8>,
    termios_before: libc::termios,
}

/// The pty's terminal settings, read on its terminal side (the same
/// settings as the master's), opened by name so that no `unsafe` is needed.
fn termios(master: &dyn MasterPty) -> libc::termios {
    use std::os::unix::fs::OpenOptionsExt;
    let name = master.tty_name().expect("a unix pty has a terminal name");
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .unwrap_or_else(|e| panic!("open {}: {e}", name.display()));
    nix::sys::termios::tcgetattr(&tty)
        .expect("tcgetattr")
        .into()
}

impl Running {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::start_program(env!("CARGO_BIN_EXE_selfconn-tui"), args, env)
    }

    /// Starts `program` (the binary, or a wrapper that runs it).
    fn start_program(program: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pseudo-terminal");
        let termios_before = termios(pair.master.as_ref());
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("the binary starts");
        // Only the child holds the terminal side now: EOF when it exits.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Running {
            child,
            master: pair.master,
            writer,
            output,
            parser: vt100::Parser::new(ROWS, COLS, 0),
            raw: Vec::new(),
            termios_before,
        }
    }

    /// Reads what arrives within `wait`.
    fn pump(&mut self, wait: Duration) {
        match self.output.recv_timeout(wait) {
            Ok(bytes) => self.feed(&bytes),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(bytes) = self.output.try_recv() {
            self.feed(&bytes);
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.raw.extend_from_slice(bytes);
    }

    fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// Waits until `done` holds for the screen, at most [`LIMIT`].
    fn wait_for(&mut self, what: &str, done: impl Fn(&vt100::Screen) -> bool) {
        let start = Instant::now();
        while !done(self.screen()) {
            if start.elapsed() > LIMIT {
                panic!(
                    "timed out after {LIMIT:?} waiting for {what}; the screen:\n{}",
                    self.screen().contents()
                );
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.pump(Duration::from_millis(50));
                panic!(
                    "the program exited ({status:?}) while waiting for {what}; the screen:\n{}",
                    self.screen().contents()
                );
            }
            self.pump(Duration::from_millis(50));
        }
    }

    /// Reads until the output pauses (a frame is complete), at most 2 s.
    fn settle(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            match self.output.recv_timeout(Duration::from_millis(300)) {
                Ok(bytes) => self.feed(&bytes),
                Err(_) => return,
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the exit (at most [`LIMIT`]) and reads the last output.
    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The rest of the output, until EOF or a quiet moment.
                let quiet = Instant::now();
                while quiet.elapsed() < Duration::from_secs(2) {
                    match self.output.recv_timeout(Duration::from_millis(200)) {
                        Ok(b) => self.feed(&b),
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                return status;
            }
            assert!(
                start.elapsed() < LIMIT,
                "the program did not exit within {LIMIT:?}; the screen:\n{}",
                self.screen().contents()
            );
            self.pump(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> i32 {
        self.child.process_id().expect("a pid") as i32
    }

    /// The terminal is as before: cooked mode, main screen, no mouse
    /// reporting, cursor visible.
    fn assert_terminal_restored(&self) {
        let s = self.screen();
        assert!(!s.alternate_screen(), "still on the alternate screen");
        assert_eq!(
            s.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reporting left on"
        );
        assert!(!s.hide_cursor(), "cursor left hidden");
        let text = String::from_utf8_lossy(&self.raw);
        assert!(text.contains("\x1b[?1049h"), "entered the alternate screen");
        assert!(text.contains("\x1b[?1049l"), "left the alternate screen");
        let after = termios(self.master.as_ref());
        let before = &self.termios_before;
        assert_eq!(
            after.c_lflag, before.c_lflag,
            "local modes (ICANON, ECHO, ISIG)"
        );
        assert_eq!(after.c_iflag, before.c_iflag, "input modes");
        assert_eq!(after.c_oflag, before.c_oflag, "output modes");
        assert_ne!(after.c_lflag & libc::ICANON, 0, "canonical mode back");
        assert_ne!(after.c_lflag & libc::ECHO, 0, "echo back");
    }

    fn assert_raw_mode_now(&self) {
        let now = termios(self.master.as_ref());
        assert_eq!(now.c_lflag & (libc::ICANON | libc::ECHO), 0, "raw mode");
        assert!(self.screen().alternate_screen(), "on the alternate screen");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The screen row that contains all of `parts`.
fn find_row(s: &vt100::Screen, parts: &[&str]) -> Option<(u16, String)> {
    s.rows(0, COLS)
        .enumerate()
        .find(|(_, line)| parts.iter().all(|p| line.contains(p)))
        .map(|(i, line)| (i as u16, line))
}

fn first_frame(s: &vt100::Screen) -> bool {
    s.contents().contains("selfconn-tui │") && s.contents().contains("q quit")
}

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

    app.send(b"q");
    let status = app.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    app.assert_terminal_restored();
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut app = Running::start(&[], &[]);
    app.wait_for("the first frame", first_frame);
    app.assert_raw_mode_now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = app.wait_exit();
    assert_eq!(status.exit_code(), 128 + 15, "{status:?}");
    app.assert_terminal_restored();
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

#[test]
fn a_panic_restores_the_terminal_and_the_message_is_readable() {
    let mut app = Running::start(&[], &[("SELFCONN_TUI_TEST_PANIC", "1")]);
    let status = app.wait_exit();
    assert_eq!(status.exit_code(), 101, "{status:?}");
    app.assert_terminal_restored();
    assert!(
        app.screen()
            .contents()
            .contains("panicking after the first frame"),
        "{}",
        app.screen().contents()
    );
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

/// Waits until the repro pane shows the proof and the table marks the
/// socket on `addr`; returns the table's row.
fn wait_for_the_proof(app: &mut Running, addr: &str) -> (u16, String) {
    let needle = format!("{addr} {addr}");
    app.wait_for("the echo proven and the marked row", |s| {
        s.contents().contains("✓ echo proven")
            && find_row(s, &[&needle, "ESTABLISHED", "◆ repro"]).is_some()
    });
    // The frame may still be arriving (the table grew by a row).
    app.settle();
    find_row(app.screen(), &[&needle, "◆ repro"]).unwrap()
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
    assert!(
        app.screen().contents().contains("CONNECTED TO ITSELF"),
        "{}",
        app.screen().contents()
    );
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
    let text = app.screen().contents();
    assert!(text.contains("local 127.0.0.1:"), "{text}");
    app.send(b"q");
    let status = app.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    app.assert_terminal_restored();
}
