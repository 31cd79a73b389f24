//! A pseudo-terminal harness for the dashboard: the real binary on a pty
//! whose output feeds a vt100 screen, with bounded waits on the screen,
//! the terminal's modes and the process's state.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub const ROWS: u16 = 40;
pub const COLS: u16 = 120;
pub const LIMIT: Duration = Duration::from_secs(10);

pub struct Running {
    pub child: Box<dyn Child + Send + Sync>,
    pub master: Box<dyn MasterPty + Send>,
    pub writer: Box<dyn Write + Send>,
    pub output: Receiver<Vec<u8>>,
    pub parser: vt100::Parser,
    /// Everything the program wrote.
    pub raw: Vec<u8>,
    pub termios_before: libc::termios,
}

/// The pty's terminal side, opened by name (no `unsafe` needed): it has
/// the same settings as the master.
fn tty_of(master: &dyn MasterPty) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let name = master.tty_name().expect("a unix pty has a terminal name");
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .unwrap_or_else(|e| panic!("open {}: {e}", name.display()))
}

/// The pty's terminal settings.
pub fn termios(master: &dyn MasterPty) -> libc::termios {
    nix::sys::termios::tcgetattr(tty_of(master))
        .expect("tcgetattr")
        .into()
}

impl Running {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::start_program(env!("CARGO_BIN_EXE_selfconn-tui"), args, env)
    }

    /// Starts `program` (the binary, or a wrapper that runs it).
    pub fn start_program(program: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
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
    pub fn pump(&mut self, wait: Duration) {
        match self.output.recv_timeout(wait) {
            Ok(bytes) => self.feed(&bytes),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(bytes) = self.output.try_recv() {
            self.feed(&bytes);
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.raw.extend_from_slice(bytes);
    }

    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// Waits until `done` holds for the screen, at most [`LIMIT`].
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&vt100::Screen) -> bool) {
        self.wait_within(what, LIMIT, done);
    }

    /// Waits until `done` holds for the screen, at most `limit`.
    pub fn wait_within(
        &mut self,
        what: &str,
        limit: Duration,
        done: impl Fn(&vt100::Screen) -> bool,
    ) {
        let start = Instant::now();
        while !done(self.screen()) {
            if start.elapsed() > limit {
                panic!(
                    "timed out after {limit:?} waiting for {what}; the screen:\n{}",
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
            self.pump(Duration::from_millis(20));
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the exit (at most [`LIMIT`]) and reads the last output.
    pub fn wait_exit(&mut self) -> portable_pty::ExitStatus {
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

    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("a pid") as i32
    }

    /// The terminal is as before: cooked mode, main screen, no mouse
    /// reporting, cursor visible.
    pub fn assert_terminal_restored(&self) {
        let s = self.screen();
        assert!(!s.alternate_screen(), "still on the alternate screen");
        assert_eq!(
            s.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reporting left on"
        );
        assert!(!s.hide_cursor(), "cursor left hidden");
        assert!(!s.bracketed_paste(), "bracketed paste left on");
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

    pub fn assert_raw_mode_now(&self) {
        let now = termios(self.master.as_ref());
        assert_eq!(now.c_lflag & (libc::ICANON | libc::ECHO), 0, "raw mode");
        assert!(self.screen().alternate_screen(), "on the alternate screen");
        assert!(self.screen().bracketed_paste(), "bracketed paste on");
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
pub fn find_row(s: &vt100::Screen, parts: &[&str]) -> Option<(u16, String)> {
    s.rows(0, COLS)
        .enumerate()
        .find(|(_, line)| parts.iter().all(|p| line.contains(p)))
        .map(|(i, line)| (i as u16, line))
}

pub fn first_frame(s: &vt100::Screen) -> bool {
    s.contents().contains("selfconn-tui │") && s.contents().contains("q quit")
}

/// The filter is being typed (the footer's prompt).
pub fn filter_open(s: &vt100::Screen) -> bool {
    s.contents().contains(" filter: ")
}

/// The state letter of a process (`T`: stopped).
pub fn proc_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .unwrap_or('?')
}

/// The whole frame is on screen: the title bar, the footer, and every row
/// between the first pane's top border and the footer bordered on both
/// sides, or by the table's scrollbar (a half-drawn screen, or one left
/// blank, is not).
pub fn whole(s: &vt100::Screen) -> bool {
    let rows: Vec<String> = s.rows(0, COLS).collect();
    let Some(top) = rows.iter().position(|l| l.starts_with(['┏', '╭'])) else {
        return false;
    };
    let bordered = |l: &String| {
        let l = l.trim_end();
        l.starts_with(['┏', '┃', '┗', '╭', '│', '╰'])
            && l.ends_with(['┓', '┃', '┛', '╮', '│', '╯', '█', '║'])
    };
    rows[0].contains("selfconn-tui │")
        && rows[rows.len() - 1].contains("q quit")
        && rows[top..rows.len() - 1].iter().all(bordered)
}

impl Running {
    /// Waits until the process is stopped, reading its output meanwhile.
    pub fn wait_stopped(&mut self) {
        let start = Instant::now();
        while proc_state(self.pid()) != 'T' {
            assert!(
                start.elapsed() < LIMIT,
                "not stopped after {LIMIT:?}: state {}",
                proc_state(self.pid())
            );
            self.pump(Duration::from_millis(20));
        }
        // What it wrote before stopping: read until the pty is quiet (the
        // reader thread may lag on a loaded machine), at most a second.
        let quiet = Instant::now();
        loop {
            let before = self.raw.len();
            self.pump(Duration::from_millis(100));
            if self.raw.len() == before || quiet.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// The terminal's modes as the test found them (as a shell sets them
    /// while a job is stopped).
    pub fn reset_terminal_modes(&self) {
        let before = nix::sys::termios::Termios::from(self.termios_before);
        nix::sys::termios::tcsetattr(
            tty_of(self.master.as_ref()),
            nix::sys::termios::SetArg::TCSANOW,
            &before,
        )
        .expect("tcsetattr");
    }

    /// After SIGCONT: raw mode and the alternate screen again, the whole
    /// frame redrawn (every pane's border where it was), and a key
    /// answered at once; then `q` restores the terminal.
    pub fn assert_resumes_whole(&mut self) {
        // A blank screen model: only a full redraw makes it whole again
        // (an update draws only what changed).
        self.parser = vt100::Parser::new(ROWS, COLS, 0);
        self.signal(nix::sys::signal::Signal::SIGCONT);
        self.wait_for("the whole frame again", |s| {
            s.alternate_screen() && whole(s)
        });
        let start = Instant::now();
        while termios(self.master.as_ref()).c_lflag & libc::ICANON != 0 {
            assert!(start.elapsed() < LIMIT, "raw mode not back after {LIMIT:?}");
            self.pump(Duration::from_millis(20));
        }
        self.assert_raw_mode_now();
        self.send(b"?");
        self.wait_within("help after a key", Duration::from_secs(2), |s| {
            s.contents().contains(" Keys ")
        });
        self.send(b"q");
        let status = self.wait_exit();
        assert!(status.success(), "{status:?}");
        self.assert_terminal_restored();
    }
}
