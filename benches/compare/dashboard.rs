//! The dashboard in a pseudo-terminal: its CPU with live catch on and off,
//! and how fast a key press is answered.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{BIN, Measured, count_rows, cpu_seconds};

/// Whether a tracing instance of process `pid` exists: live catch runs.
fn live_catch_runs(pid: i32) -> bool {
    use selfconn_tui::sys::tracefs::{instance::instance_name, mount};
    mount::find().is_some_and(|root| {
        root.join("instances")
            .join(instance_name(pid as u32, 0))
            .exists()
    })
}

/// The dashboard's CPU at a 1 s interval over `secs`, live catch on (as it
/// starts as root) then off (`--no-live-catch`), against reading the tables
/// once a second (`floor` is one `cat` of both).
pub fn cpu(secs: u64, floor: Measured) {
    let sockets = count_rows("/proc/net/tcp") + count_rows("/proc/net/tcp6");
    let reference = 100.0 * floor.wall.as_secs_f64();
    println!(
        "Dashboard at 1 s interval over {secs} s, {sockets} sockets, no new findings; the reference is `cat` of both tables once a second ({reference:.2}% of one core, from the floor above):"
    );
    println!();
    println!("| live catch | CPU, % of one core | vs `cat` once a second | peak RSS |");
    println!("|---|---|---|---|");
    for (label, extra) in [
        ("on", None),
        ("off (`--no-live-catch`)", Some("--no-live-catch")),
    ] {
        let mut args = vec!["--interval", "1s"];
        args.extend(extra);
        let d = Dashboard::start(&args);
        d.settle(Duration::from_millis(1500), Duration::from_secs(20));
        let runs = live_catch_runs(d.pid());
        let label = match (extra.is_none(), runs) {
            (true, false) => "on asked, but not running (no tracefs?)",
            (false, true) => "off asked, but running",
            _ => label,
        };
        let t0 = cpu_seconds(d.pid());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            let _ = d.output.recv_timeout(Duration::from_millis(200));
        }
        let used = cpu_seconds(d.pid()) - t0;
        let pct = 100.0 * used / start.elapsed().as_secs_f64();
        println!(
            "| {label} | {pct:.2}% | {:.2}x | {:.1} MiB |",
            pct / reference,
            d.peak_rss_kib() as f64 / 1024.0
        );
    }
    println!();
}

/// The dashboard in a pseudo-terminal.
struct Dashboard {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: mpsc::Receiver<usize>,
    _pair: portable_pty::PtyPair,
}

impl Dashboard {
    fn start(args: &[&str]) -> Dashboard {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        let child = pair.slave.spawn_command(cmd).expect("dashboard starts");
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(n).is_err() {
                    break;
                }
            }
        });
        Dashboard {
            child,
            writer,
            output,
            _pair: pair,
        }
    }

    fn pid(&self) -> i32 {
        self.child.process_id().unwrap() as i32
    }

    /// Waits until the output has been quiet for `quiet`, at most `limit`.
    fn settle(&self, quiet: Duration, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.output.recv_timeout(quiet).is_err() {
                return;
            }
        }
    }

    fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.writer.write_all(b"q");
        let _ = self.writer.flush();
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Key press to the next frame, with live catch as it starts by default.
pub fn keys(presses: usize) {
    let mut d = Dashboard::start(&["--interval", "1s"]);
    d.settle(Duration::from_millis(1500), Duration::from_secs(20));
    let mut lat = Vec::new();
    for i in 0..presses {
        // Let a refresh land first, so a press is not timed against a scan's redraw.
        d.settle(Duration::from_millis(150), Duration::from_secs(3));
        let key: &[u8] = if i % 2 == 0 { b"j" } else { b"k" };
        let t = Instant::now();
        d.writer.write_all(key).unwrap();
        d.writer.flush().unwrap();
        if d.output.recv_timeout(Duration::from_secs(2)).is_ok() {
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let median = lat.get(lat.len() / 2).copied().unwrap_or_default();
    let worst = lat.last().copied().unwrap_or_default();
    println!(
        "Dashboard, key press to next frame: median {:.1} ms, worst {:.1} ms over {} presses ({} answered); peak RSS {:.1} MiB",
        median.as_secs_f64() * 1000.0,
        worst.as_secs_f64() * 1000.0,
        presses,
        lat.len(),
        d.peak_rss_kib() as f64 / 1024.0
    );
    println!();
}
