//! `selfconn-tui serve`: what it costs while nobody asks (CPU between two
//! scans) and how fast a scrape is answered (it serves the last scan).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{BIN, Measured, count_rows, cpu_seconds};

/// A running `serve` on a loopback port of its choosing; dropping it sends
/// SIGTERM (so that it removes its tracing instance) and waits.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(interval: &str) -> Serve {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--interval", interval])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut addr = None;
        // Its first lines: maybe why live catch is off, then the address.
        for _ in 0..10 {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(rest) = line
                .trim()
                .strip_prefix("selfconn-tui: serving metrics on http://")
            {
                addr = rest.trim_end_matches("/metrics").parse().ok();
                break;
            }
        }
        // Keep reading its stderr so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        let mut serve = Serve {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
        };
        serve.addr = addr.expect("serve says where it listens");
        serve
    }

    /// One GET of `/metrics`: the body and how long it took, connect to end.
    fn scrape(&self) -> (String, Duration) {
        let t = Instant::now();
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        (body, t.elapsed())
    }

    /// Waits (at most `limit`) for the first scan to be served.
    fn wait_scanned(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.scrape().0.contains("\nselfconn_sockets_scanned{") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let end = Instant::now() + Duration::from_secs(5);
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

/// `serve --interval 15` left alone for `secs` after its first scan: its
/// CPU, against reading the tables every 15 s (`floor`: one `cat`).
pub fn idle(secs: u64, floor: Measured) {
    let sockets = count_rows("/proc/net/tcp") + count_rows("/proc/net/tcp6");
    let serve = Serve::start("15");
    if !serve.wait_scanned(Duration::from_secs(30)) {
        println!("Serve idle: skipped, no scan served within 30 s");
        return;
    }
    let pid = serve.child.id() as i32;
    let t0 = cpu_seconds(pid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let pct = 100.0 * (cpu_seconds(pid) - t0) / start.elapsed().as_secs_f64();
    let reference = 100.0 * floor.wall.as_secs_f64() / 15.0;
    println!(
        "`serve --interval 15`, no scrapes, over {secs} s after its first scan, {sockets} sockets: {pct:.3}% of one core (budget 1%); `cat` of both tables every 15 s costs {reference:.3}% ({:.2}x)",
        pct / reference
    );
    println!();
}

/// `reps` scrapes of a `serve` that has scanned `sockets`: median and worst,
/// against one `cat` of both tables (`floor`).
pub fn scrapes(reps: usize, floor: Measured) {
    let sockets = count_rows("/proc/net/tcp") + count_rows("/proc/net/tcp6");
    let serve = Serve::start("15");
    if !serve.wait_scanned(Duration::from_secs(60)) {
        println!("Serve scrapes: skipped, no scan served within 60 s");
        return;
    }
    let mut times: Vec<Duration> = (0..reps).map(|_| serve.scrape().1).collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (median, worst) = (times[times.len() / 2], times[times.len() - 1]);
    println!(
        "`serve` scrape of `/metrics` over loopback, {sockets} sockets (the last scan served): median {:.1} ms, worst {:.1} ms of {reps} (budget 50 ms); one `cat` of both tables takes {:.1} ms ({:.3}x the median)",
        ms(median),
        ms(worst),
        ms(floor.wall),
        median.as_secs_f64() / floor.wall.as_secs_f64()
    );
    println!();
}
