//! `cargo bench`: selfconn-tui against `ss`, `netstat` and the raw tables,
//! on a realistic load built in a private network namespace.
//!
//! Needs root (for `unshare -n`); without it, it says so and exits. Every
//! process it starts is ended when it finishes (holders exit when their
//! stdin closes), and the namespace vanishes with the last of them.
//!
//! Two arrangements at every size, in the same run: the findings held by a
//! small process started after the big holders (the common case on a real
//! host), then by the last big holder (the worst case).
//!
//! Environment knobs: `BENCH_SIZES` (connections, default `1000,18000,50000`:
//! 2k, 36k and 100k sockets),
//! `BENCH_REPS` (default 5), `BENCH_DASH_SECS` (CPU window, default 60),
//! `BENCH_REPRO_SECS` (default 3), `BENCH_SERVE_SECS` (serve's idle
//! window, default 60).
//!
//! Modules: [`dashboard`] (the dashboard in a pseudo-terminal: CPU with live
//! catch on and off, key presses), [`serve`] (`serve`'s idle cost and its
//! scrapes).

#[path = "compare/dashboard.rs"]
mod dashboard;
#[path = "compare/repro.rs"]
mod repro;
#[path = "compare/serve.rs"]
mod serve;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_selfconn-tui");
/// Connections one holder process keeps (two descriptors each: 12k).
const PER_HOLDER: usize = 6000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--hold") {
        hold(args[i + 1].parse().unwrap(), args[i + 2].parse().unwrap());
        return;
    }
    if args.iter().any(|a| a == "--small") {
        small();
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument we ignore.
    if !nix::unistd::geteuid().is_root() {
        println!(
            "skipped: the benchmark builds its load in a private network namespace (unshare -n), which needs root"
        );
        return;
    }
    let started = Instant::now();
    enter_private_namespace();
    let reps = env_num("BENCH_REPS", 5);
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,18000,50000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dash_secs = env_num("BENCH_DASH_SECS", 60) as u64;
    let repro_secs = env_num("BENCH_REPRO_SECS", 3) as u64;
    let serve_secs = env_num("BENCH_SERVE_SECS", 60) as u64;

    println!("# selfconn-tui benchmark");
    println!();
    println!(
        "- machine: {} cores, {}",
        cores(),
        first_line("/proc/cpuinfo", "model name")
    );
    println!(
        "- kernel: {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    println!("- date: {}", chrono::Local::now().format("%Y-%m-%d %H:%M"));
    println!("- repetitions: {reps} (median), binaries: release");
    println!();

    // Before the big load: its sockets would linger in TIME_WAIT after it.
    repro::repro_vs_c(repro_secs);

    let mut load = Load::default();
    for &n in &sizes {
        load.grow_to(n);
        // Started after the big holders, as the client that connected to
        // itself usually is on a real host.
        let small = start_small();
        let sockets = count_rows("/proc/net/tcp") + count_rows("/proc/net/tcp6");
        println!(
            "## {n} established connections ({sockets} sockets, {} holders of up to {} descriptors; the findings, {} listeners in and out of the range and a self-connect, held by a small process started after them)",
            load.holders.len(),
            2 * PER_HOLDER,
            EXTRA_PORTS.len()
        );
        println!();
        println!("| command | median wall | peak RSS | vs reading the files | vs `ss -tanp` |");
        println!("|---|---|---|---|---|");
        let floor = measure(reps, "cat", &["/proc/net/tcp", "/proc/net/tcp6"]);
        let ssp = measure(reps, "ss", &["-tanp"]);
        let rows = [
            ("`cat /proc/net/tcp /proc/net/tcp6` (the floor)", floor),
            (
                "`selfconn-tui scan --json` (owners of findings)",
                measure(reps, BIN, &["scan", "--json"]),
            ),
            (
                "`selfconn-tui scan --json --all` (every owner)",
                measure(reps, BIN, &["scan", "--json", "--all"]),
            ),
            ("`ss -tan`", measure(reps, "ss", &["-tan"])),
            ("`ss -tanp`", ssp),
            (
                "`netstat -tanp`",
                measure(reps.min(3), "netstat", &["-tanp"]),
            ),
        ];
        for (name, m) in rows {
            row(name, m, floor, ssp);
        }
        println!();
        owner_walk(reps.max(5));
        if n == sizes[0] {
            dashboard::cpu(dash_secs, floor);
            serve::idle(serve_secs, floor);
            // A host with some sockets of its own, as the comparison base.
            namespaces(reps, 50);
        }
        if n == *sizes.last().unwrap() {
            dashboard::cpu(dash_secs, floor);
            dashboard::keys(reps.max(10));
            serve::scrapes(reps.max(20), floor);
        }
        drop(small);
        worst_case(&mut load, reps, ssp);
    }
    drop(load);
    println!("(benchmark took {:.0} s)", started.elapsed().as_secs_f64());
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn first_line(path: &str, key: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string()
}

fn count_rows(path: &str) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count().saturating_sub(1))
}

/// Moves this (still single-threaded) process into a new network
/// namespace with loopback up and a wide port range, so that 50k
/// connections fit and nothing touches the host's sysctls.
fn enter_private_namespace() {
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    assert_ne!(std::fs::read_link("/proc/self/ns/net").unwrap(), host);
    let ok = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip runs");
    assert!(ok.success());
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535").unwrap();
    // The holders' listening ports: reserved, or a client could take one as
    // its source port before its holder binds it (the very problem measured).
    std::fs::write("/proc/sys/net/ipv4/ip_local_reserved_ports", "20000-20099").unwrap();
    raise_fd_limit();
}

fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
}

/// One row of a comparison table.
fn row(name: &str, m: Measured, floor: Measured, ssp: Measured) {
    println!(
        "| {name} | {:.3} s | {:.1} MiB | {:.2}x | {:.2}x |",
        m.wall.as_secs_f64(),
        m.max_rss_kib as f64 / 1024.0,
        m.wall.as_secs_f64() / floor.wall.as_secs_f64(),
        m.wall.as_secs_f64() / ssp.wall.as_secs_f64(),
    );
}

/// A socket connected to itself, on a free port of the range: bind the
/// source port to the destination, then connect (simultaneous open).
fn self_connect() -> socket2::Socket {
    use socket2::{Domain, SockAddr, Socket, Type};
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SockAddr::from(addr)).unwrap();
    s.connect(&SockAddr::from(addr)).unwrap();
    s
}

/// A holder: keeps `n` loopback connections to its own listener on `port`
/// until its stdin closes. A line `finding` on stdin makes it hold a
/// self-connect too, `drop` lets it go; it answers `ok`.
fn hold(n: usize, port: u16) {
    raise_fd_limit();
    let l = TcpListener::bind(("127.0.0.1", port)).expect("holder listener");
    let mut keep = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let c = TcpStream::connect(("127.0.0.1", port)).expect("holder connect");
        let (a, _) = l.accept().expect("holder accept");
        keep.push(c);
        keep.push(a);
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut finding = None;
    for line in std::io::stdin().lines() {
        match line.as_deref().map(str::trim) {
            Ok("finding") => finding = Some(self_connect()),
            Ok("drop") => finding = None,
            _ => break,
        }
        println!("ok");
        std::io::stdout().flush().unwrap();
    }
    drop(finding);
}

/// The small process: the extra listeners and a self-connect, until its
/// stdin closes.
fn small() {
    let _listeners = extra_listeners();
    let _sc = self_connect();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// Starts the small process; it ends when the result is dropped.
fn start_small() -> Load {
    let mut load = Load::default();
    load.spawn(
        Command::new(std::env::current_exe().unwrap()).arg("--small"),
        0,
    );
    load.wait_ready();
    load
}

/// Holder processes; dropping it ends them.
#[derive(Default)]
struct Load {
    holders: Vec<Child>,
    outs: Vec<BufReader<ChildStdout>>,
    /// Connections each holder keeps.
    sizes: Vec<usize>,
    connections: usize,
    ready: usize,
}

impl Load {
    fn spawn(&mut self, cmd: &mut Command, connections: usize) {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("holder starts");
        self.outs.push(BufReader::new(child.stdout.take().unwrap()));
        self.holders.push(child);
        self.sizes.push(connections);
        self.connections += connections;
    }

    /// Waits for every holder started since the last wait to say `ready`.
    fn wait_ready(&mut self) {
        for out in &mut self.outs[self.ready..] {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready", "a holder failed");
        }
        self.ready = self.outs.len();
    }

    /// Tells holder `i` one line and waits for its `ok`.
    fn tell(&mut self, i: usize, what: &str) {
        let stdin = self.holders[i].stdin.as_mut().unwrap();
        writeln!(stdin, "{what}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.outs[i].read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ok", "holder {i} did not do {what}");
    }

    fn grow_to(&mut self, n: usize) {
        let exe = std::env::current_exe().unwrap();
        while self.connections < n {
            let k = PER_HOLDER.min(n - self.connections);
            let port = 20000 + self.holders.len() as u16;
            self.spawn(
                Command::new(&exe).args(["--hold", &k.to_string(), &port.to_string()]),
                k,
            );
        }
        self.wait_ready();
    }

    /// `n` more network namespaces, each with its own holder: a listener
    /// and one connection to it.
    fn in_namespaces(n: usize) -> Load {
        let exe = std::env::current_exe().unwrap();
        let mut load = Load::default();
        for _ in 0..n {
            load.spawn(
                Command::new("unshare")
                    .args([
                        "-n",
                        "sh",
                        "-c",
                        r#"ip link set lo up && exec "$0" --hold 1 20000"#,
                    ])
                    .arg(&exe),
                1,
            );
        }
        load.wait_ready();
        load
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.holders {
            drop(c.stdin.take());
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Ports of the listeners the scanner must classify: even and odd ports
/// inside the range, and ports outside it.
const EXTRA_PORTS: [u16; 8] = [40000, 40001, 50000, 50001, 22, 80, 443, 8080];

fn extra_listeners() -> Vec<TcpListener> {
    EXTRA_PORTS
        .iter()
        .filter_map(|p| TcpListener::bind(("0.0.0.0", *p)).ok())
        .collect()
}

/// The CPU time (user and system, all threads) process `pid` has used, in
/// seconds.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let per_sec = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    ticks as f64 / per_sec
}

#[derive(Clone, Copy)]
struct Measured {
    wall: Duration,
    max_rss_kib: i64,
}

/// Runs a command `reps` times (output discarded); the median wall time
/// and the largest peak RSS. The peak is the child's own `VmHWM`, sampled
/// while it runs: `wait4`'s `ru_maxrss` would count the pages of this
/// (large) process that the child had before its exec.
fn measure(reps: usize, prog: &str, args: &[&str]) -> Measured {
    let run = || {
        Command::new(prog)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{prog}: {e}"))
    };
    // Timed runs, with nothing else of ours running: the sampler below
    // reads the child's status every millisecond, which takes a share of a
    // core that a program using both (the scanner does) would miss.
    let mut walls: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            run().wait().unwrap();
            t.elapsed()
        })
        .collect();
    walls.sort();
    Measured {
        wall: walls[walls.len() / 2],
        max_rss_kib: peak_rss(run()),
    }
}

/// The peak RSS of a child (its `VmHWM`, the kernel's own high-water
/// mark), read until it exits.
fn peak_rss(mut child: Child) -> i64 {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0i64;
    while let Ok(text) = std::fs::read_to_string(&status) {
        match text.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            Some(v) => peak = peak.max(v.trim().trim_end_matches(" kB").parse().unwrap_or(0)),
            None => break, // a zombie: it has exited
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.wait().unwrap();
    peak
}

/// One scan with the namespaces there are (the host's, with the load of the
/// smallest size), then with `n` more, each with a listener and a connection.
fn namespaces(reps: usize, n: usize) {
    let before = measure(reps, BIN, &["scan", "--json"]);
    let warm_before = warm_refresh(reps.max(5));
    let extra = Load::in_namespaces(n);
    let after = measure(reps, BIN, &["scan", "--json"]);
    let warm_after = warm_refresh(reps.max(5));
    let counted = Command::new(BIN)
        .args(["scan", "--json"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["namespaces"].as_array().map(Vec::len))
        .unwrap_or(0);
    drop(extra);
    println!("## {n} more network namespaces, a listener and a connection in each");
    println!();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| | without them | with them ({counted} namespaces) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| `selfconn-tui scan --json` (one-shot: joins every namespace) | {:.1} ms | {:.1} ms | {:.2}x |",
        ms(before.wall),
        ms(after.wall),
        after.wall.as_secs_f64() / before.wall.as_secs_f64()
    );
    println!(
        "| a dashboard refresh (warm scanner, in process) | {:.1} ms | {:.1} ms | {:.2}x |",
        ms(warm_before),
        ms(warm_after),
        warm_after.as_secs_f64() / warm_before.as_secs_f64()
    );
    println!();
}

/// The median time of a refresh by a scanner that has scanned before, as
/// the dashboard's does every interval.
fn warm_refresh(reps: usize) -> Duration {
    use selfconn_tui::sys::scanner::{ScanOptions, Scanner};
    let mut scanner = Scanner::new(ScanOptions::default());
    let _ = scanner.scan();
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let _ = scanner.scan();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// What the owner lookup costs in a scanner that refreshes, as the
/// dashboard's does: the first refresh walks, later ones (nothing new)
/// reuse the owners they found and only check them.
fn owner_walk(reps: usize) {
    use selfconn_tui::sys::scanner::{OwnerScope, ScanOptions, Scanner};
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| a refresh in process (the dashboard's scanner) | first refresh | later refreshes (median of {reps}) |"
    );
    println!("|---|---|---|");
    for (label, scope) in [
        ("findings' owners", OwnerScope::Findings),
        ("every owner (all-sockets view)", OwnerScope::All),
    ] {
        let mut s = Scanner::new(ScanOptions {
            owners: scope,
            ..ScanOptions::default()
        });
        let t = Instant::now();
        let _ = s.scan();
        let first = t.elapsed();
        let walked = s.owner_stats().walk;
        let mut later_descriptors = 0;
        let mut times: Vec<Duration> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                let _ = s.scan();
                later_descriptors += s.owner_stats().walk.descriptors;
                t.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "| {label} | {:.1} ms, {} descriptors walked in {} processes | {:.1} ms, {} descriptors walked in all {reps} |",
            ms(first),
            walked.descriptors,
            walked.processes,
            ms(times[times.len() / 2]),
            later_descriptors
        );
    }
    println!();
}

/// The worst case: the only finding held by the last of the biggest
/// holders, which every likely-first rule puts last.
fn worst_case(load: &mut Load, reps: usize, ssp: Measured) {
    use selfconn_tui::sys::scanner::{ScanOptions, Scanner};
    let Some(i) = (0..load.sizes.len()).max_by_key(|&i| load.sizes[i]) else {
        return;
    };
    load.tell(i, "finding");
    let mut s = Scanner::new(ScanOptions::default());
    let _ = s.scan();
    let walked = s.owner_stats().walk;
    println!(
        "### Worst case: the finding held by the last big holder ({} descriptors); walked {} descriptors in {} processes to find it",
        2 * load.sizes[i] + 2,
        walked.descriptors,
        walked.processes
    );
    println!();
    println!("| command | median wall | peak RSS | vs reading the files | vs `ss -tanp` |");
    println!("|---|---|---|---|---|");
    let floor = measure(reps, "cat", &["/proc/net/tcp", "/proc/net/tcp6"]);
    row(
        "`cat /proc/net/tcp /proc/net/tcp6` (the floor)",
        floor,
        floor,
        ssp,
    );
    row(
        "`selfconn-tui scan --json` (owners of findings)",
        measure(reps, BIN, &["scan", "--json"]),
        floor,
        ssp,
    );
    println!();
    load.tell(i, "drop");
}
