//! `selfconn-tui repro` on a terminal: the announcement, the live progress
//! line (redrawn in place), then the result, with colour.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const BIN: &str = env!("CARGO_BIN_EXE_selfconn-tui");

/// A free port outside the host's ephemeral range (refused, never picked).
fn free_port_outside_range() -> u16 {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let range: Vec<u16> = text
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (1025..65535u16)
        .rev()
        .filter(|p| !(range[0]..=range[1]).contains(p))
        .find(|&p| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok())
        .unwrap()
}

/// Runs the binary in a pseudo-terminal; returns the raw bytes, the final
/// screen and the exit code.
fn run_in_pty(args: &[&str], colour: bool) -> (Vec<u8>, String, u32) {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(BIN);
    cmd.args(args);
    if colour {
        cmd.env_remove("NO_COLOR");
    } else {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let reading = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child is gone and the slave is closed.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the run did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(pty.master);
    let raw = reading.join().unwrap();
    let mut parser = vt100::Parser::new(24, 200, 0);
    parser.process(&raw);
    (raw, parser.screen().contents(), status.exit_code())
}

#[test]
fn a_terminal_gets_a_live_line_then_the_result() {
    let port = free_port_outside_range().to_string();
    let (raw, screen, code) = run_in_pty(
        &["repro", "--port", &port, "--rate", "500", "--max-time", "1"],
        false,
    );
    assert_eq!(code, 1, "{screen}");
    let text = String::from_utf8_lossy(&raw);
    // The progress line was drawn several times, in place.
    let redraws = text.matches("\r\x1b[2Kfresh 127.0.0.1:").count();
    assert!(redraws >= 5, "{redraws} redraws in:\n{text}");
    assert!(text.contains("refused"), "{text}");
    // The final screen: the announcement, the result, no leftover progress.
    assert!(
        screen.contains(&format!("Connecting to 127.0.0.1:{port} (mode fresh")),
        "{screen}"
    );
    assert!(
        screen.contains("is outside the ephemeral range"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("No self-connect to 127.0.0.1:{port} after ")),
        "{screen}"
    );
    assert!(
        !screen.contains("(target "),
        "the progress line was cleared:\n{screen}"
    );
    assert!(!text.contains("\x1b[1m"), "NO_COLOR: no bold");
}

#[test]
fn a_terminal_gets_colour_unless_no_color() {
    let port = free_port_outside_range().to_string();
    let (raw, screen, code) = run_in_pty(&["repro", "--port", &port, "--mode", "bind"], true);
    assert_eq!(code, 0, "{screen}");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\x1b[1m"), "bold expected: {text:?}");
    assert!(
        screen.contains("connected to itself after 1 attempt"),
        "{screen}"
    );
}
