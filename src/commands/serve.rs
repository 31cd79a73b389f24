//! `selfconn-tui serve`: a Prometheus endpoint. A background thread scans
//! on its own interval; `/metrics` answers with the last result and its
//! age; `/` with a page linking `/metrics`; anything else is a 404.
//!
//! Scans run on an interval rather than on each scrape: a scrape never
//! waits for a scan (a slow scan on a busy host does not time scrapes
//! out), two Prometheus servers (an HA pair) or a scrape flood cost no
//! more than one, and the cost is fixed by the interval whoever scrapes.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::core::live::{LiveEvent, StormChange};
use crate::report::metrics::{self, LiveCounts, ProcessStats, ScanHistory};
use crate::sys::scanner::{ScanOptions, Scanner};
use crate::sys::tracefs::{self, LiveCatch};

/// The shortest interval between two scans: never more than one a second.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to answer on (IP:PORT, IPv6 as [::1]:9977); an
    /// address that is not loopback needs --allow-remote
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9977", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Allow a --listen address that is not loopback: the metrics name
    /// programs and ports, anyone who can reach the address reads them
    #[arg(long)]
    pub allow_remote: bool,
    /// Seconds between two scans (at least 1); scrapes get the last result
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_interval)]
    pub interval: Duration,
    /// The proc filesystem to read (for tests on fixture trees)
    #[arg(long, hide = true, default_value = "/proc")]
    pub proc_root: PathBuf,
    /// `[live]` of the configuration file.
    #[arg(skip)]
    pub storm: crate::core::live::StormConfig,
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    // No name lookups: an address, not a host name.
    s.parse().map_err(|_| {
        format!("{s:?} is not an address and port such as 127.0.0.1:9977 or [::1]:9977")
    })
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if (1.0..=86_400.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 1 and 86400"
        )),
    }
}

/// What the scan thread leaves for the scrapes.
#[derive(Debug, Default)]
struct State {
    /// The snapshot's part of the exposition, made once per scan.
    snapshot_text: Option<Arc<str>>,
    /// When the last successful scan finished.
    scanned_at: Option<Instant>,
    /// Set once the first scan has ended, successful or not.
    attempted: bool,
    history: ScanHistory,
    /// Fed by live catch (when it runs).
    live: LiveCounts,
    /// Namespace names by id, as of the last scan (live events name a
    /// namespace by its id only).
    netns_names: HashMap<u64, String>,
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A panicked scan thread leaves consistent data: each update is whole.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn run(args: ServeArgs) -> ExitCode {
    let addr = args.listen;
    if !addr.ip().is_loopback() && !args.allow_remote {
        eprintln!(
            "selfconn-tui: refusing to listen on {addr}: not a loopback address, so the metrics \
             (programs, ports) would be readable from the network; pass --allow-remote to do it"
        );
        return ExitCode::from(2);
    }
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("selfconn-tui: cannot listen on {addr}: {}", bind_reason(&e));
            return ExitCode::from(2);
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    let server = match tiny_http::Server::from_listener(listener, None) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("selfconn-tui: cannot serve on {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    // Before anything can be asked to stop: a signal then ends the loop.
    let on_signal = match SignalWatch::start(server.clone()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("selfconn-tui: cannot handle signals: {e}");
            return ExitCode::from(2);
        }
    };

    let shared: Shared = Arc::default();
    let live = start_live_catch(&shared, &args.proc_root, args.storm);
    let (stop_scans, stop_rx) = mpsc::channel::<()>();
    let scanner = Scanner::new(ScanOptions {
        proc_root: args.proc_root.clone(),
        ..ScanOptions::default()
    });
    let scans = {
        let shared = shared.clone();
        std::thread::spawn(move || scan_loop(scanner, &shared, args.interval, &stop_rx))
    };
    eprintln!("selfconn-tui: serving metrics on http://{local}/metrics");

    let status = loop {
        match server.recv() {
            Ok(request) => answer(request, &shared),
            Err(_) if on_signal.stopping() => {
                break ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("selfconn-tui: cannot accept connections any more: {e}");
                break ExitCode::from(2);
            }
        }
    };
    drop(stop_scans);
    let _ = scans.join();
    on_signal.close();
    if let Some(live) = live
        && let Err(e) = live.stop()
    {
        eprintln!("selfconn-tui: cannot remove the tracing instance: {e}");
    }
    status
}

/// Starts live catch when this host allows it, feeding the counters; says
/// on stderr why not otherwise.
fn start_live_catch(
    shared: &Shared,
    proc_root: &std::path::Path,
    storm: crate::core::live::StormConfig,
) -> Option<LiveCatch> {
    let sink = shared.clone();
    let config = tracefs::config_for_own_namespace(proc_root, storm);
    match LiveCatch::start_with(config, move |c| {
        count_live(&mut lock(&sink), &c.event);
        true
    }) {
        Ok(live) => {
            lock(shared).live.enabled = true;
            Some(live)
        }
        Err(why) => {
            eprintln!(
                "selfconn-tui: live catch off ({why}): self-connects are seen by the scans only"
            );
            None
        }
    }
}

/// Counts a self-connect caught or a retry storm started, by namespace
/// name and process.
fn count_live(state: &mut State, event: &LiveEvent) {
    let (owner, counts) = match event {
        LiveEvent::SelfConnect { owner, .. } => (owner, &mut state.live.self_connects_caught),
        LiveEvent::Storm {
            change: StormChange::Started(_),
            owner,
        } => (owner, &mut state.live.retry_storms),
        _ => return,
    };
    let netns = owner
        .as_ref()
        .and_then(|o| o.netns)
        .map(|id| {
            state
                .netns_names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let process = owner
        .as_ref()
        .map_or_else(|| "unknown".to_string(), |o| o.name.clone());
    *counts.entry((netns, process)).or_default() += 1;
}

/// A thread that waits for SIGTERM or SIGINT, then unblocks the server's
/// `recv()` so that the request loop ends.
struct SignalWatch {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
    stopping: Arc<AtomicBool>,
}

impl SignalWatch {
    fn start(server: Arc<tiny_http::Server>) -> std::io::Result<SignalWatch> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let handle = signals.handle();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let thread = std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                flag.store(true, Ordering::SeqCst);
                server.unblock();
            }
        });
        Ok(SignalWatch {
            handle,
            thread,
            stopping,
        })
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn close(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

fn bind_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AddrInUse => "the port is in use (another program listens on it)".to_string(),
        K::AddrNotAvailable => "no interface of this host has that address".to_string(),
        K::PermissionDenied => "permission denied (ports below 1024 need root)".to_string(),
        _ => e.to_string(),
    }
}

/// Scans every `interval` until `stop` is dropped. The pause after a scan
/// is at least as long as the scan took, so that a host where scans are
/// slow never spends more than half a core on them.
fn scan_loop(mut scanner: Scanner, shared: &Shared, interval: Duration, stop: &mpsc::Receiver<()>) {
    let interval = interval.max(MIN_INTERVAL);
    loop {
        let started = Instant::now();
        let result = scanner.scan();
        let took = started.elapsed();
        // Rendered outside the lock: scrapes meanwhile get the previous one.
        let text = result
            .as_ref()
            .ok()
            .map(|s| Arc::from(metrics::snapshot_text(s)));
        {
            let mut state = lock(shared);
            match &result {
                Ok(snapshot) => {
                    state.history.record_scan(snapshot);
                    state.netns_names = snapshot
                        .namespaces
                        .iter()
                        .map(|n| (n.id, n.name.clone()))
                        .collect();
                    state.snapshot_text = text;
                    state.scanned_at = Some(Instant::now());
                }
                Err(failure) => {
                    state.history.record_failure(failure.errors(), took);
                }
            }
            state.attempted = true;
        }
        if let Err(failure) = &result {
            eprintln!("selfconn-tui: scan failed, serving the last result: {failure}");
        }
        let pause = interval.saturating_sub(took).max(took);
        match stop.recv_timeout(pause) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}

const INDEX_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>selfconn-tui</title></head>\n\
<body><h1>selfconn-tui</h1>\n\
<p>TCP self-connects and risky listeners on this host, for Prometheus: \
<a href=\"/metrics\">/metrics</a></p>\n</body></html>\n";

fn answer(request: tiny_http::Request, shared: &Shared) {
    use tiny_http::Method;
    let path = request.url().split('?').next().unwrap_or("");
    let is_get = matches!(request.method(), Method::Get | Method::Head);
    let (code, content_type, body): (u16, &str, String) = match (path, is_get) {
        ("/metrics", true) => match exposition(shared) {
            Some(text) => (200, metrics::CONTENT_TYPE, text),
            None => (
                503,
                "text/plain; charset=utf-8",
                "the first scan has not finished yet\n".to_string(),
            ),
        },
        ("/", true) => (200, "text/html; charset=utf-8", INDEX_PAGE.to_string()),
        ("/" | "/metrics", false) => (
            405,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".to_string(),
        ),
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found: try /metrics\n".to_string(),
        ),
    };
    let header =
        tiny_http::Header::from_bytes("Content-Type", content_type).expect("a valid static header");
    let response = tiny_http::Response::from_string(body)
        .with_status_code(code)
        .with_header(header);
    // A client that went away is not worth a message.
    let _ = request.respond(response);
}

/// The exposition as of now: the last scan's part, then the rest.
fn exposition(shared: &Shared) -> Option<String> {
    let process = read_process_stats();
    let state = lock(shared);
    if !state.attempted {
        return None;
    }
    let age = state.scanned_at.map(|t| t.elapsed());
    let runtime = metrics::runtime_text(&state.history, &state.live, age, process.as_ref());
    Some(match &state.snapshot_text {
        Some(text) => format!("{text}{runtime}"),
        None => runtime,
    })
}

/// This process's CPU time, memory and descriptors, from `/proc/self`.
fn read_process_stats() -> Option<ProcessStats> {
    let me = procfs::process::Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let page = procfs::page_size();
    let boot = procfs::boot_time_secs().ok()? as f64;
    let max_fds = me
        .limits()
        .ok()
        .and_then(|l| match l.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(v) => Some(v),
            procfs::process::LimitValue::Unlimited => None,
        });
    Some(ProcessStats {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_memory_bytes: stat.rss * page,
        virtual_memory_bytes: stat.vsize,
        start_time_seconds: boot + stat.starttime as f64 / ticks,
        open_fds: me.fd_count().ok()? as u64,
        max_fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_are_literal() {
        assert_eq!(
            parse_listen("[::1]:9977").unwrap(),
            "[::1]:9977".parse::<SocketAddr>().unwrap()
        );
        for bad in [
            "localhost:9977",
            "127.0.0.1",
            "127.0.0.1:99999",
            ":9977",
            "",
        ] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains("127.0.0.1:9977"), "{bad}: {e}");
        }
    }

    #[test]
    fn intervals_below_a_second_are_refused() {
        assert_eq!(parse_interval("2.5").unwrap(), Duration::from_millis(2500));
        for bad in ["0.5", "0", "-1", "nan", "inf", "1e9", "x"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_metrics_before_the_first_scan_then_the_last_result() {
        let shared: Shared = Arc::default();
        assert_eq!(exposition(&shared), None);
        lock(&shared).attempted = true;
        let text = exposition(&shared).unwrap();
        assert!(text.contains("selfconn_live_catch_enabled 0\n"));
        assert!(!text.contains("selfconn_last_scan_age_seconds"));
        assert!(text.contains("process_open_fds "));
        {
            let mut state = lock(&shared);
            state.snapshot_text = Some(Arc::from("# snapshot part\n"));
            state.scanned_at = Some(Instant::now());
        }
        let text = exposition(&shared).unwrap();
        assert!(text.starts_with("# snapshot part\n"));
        assert!(text.contains("selfconn_last_scan_age_seconds "));
    }

    #[test]
    fn live_events_are_counted_by_namespace_name_and_process() {
        use crate::core::live::{Owner, StateChange, Task, TcpState};
        let owner = |netns| Owner {
            pid: 7,
            tid: 7,
            comm: "client".into(),
            name: "client-full".into(),
            cmdline: "client-full --x".into(),
            uid: Some(0),
            netns,
        };
        let change = StateChange {
            time: Duration::ZERO,
            task: Task { tid: 7, comm: None },
            family: crate::core::socket::Family::Ipv4,
            local: "127.0.0.1:45000".parse().unwrap(),
            remote: "127.0.0.1:45000".parse().unwrap(),
            old: TcpState::SYN_SENT,
            new: TcpState::SYN_RECV,
        };
        let mut state = State::default();
        state.netns_names.insert(11, "host".into());
        for netns in [Some(11), Some(11), Some(12)] {
            let event = LiveEvent::SelfConnect {
                change: change.clone(),
                owner: Some(owner(netns)),
            };
            count_live(&mut state, &event);
        }
        count_live(&mut state, &LiveEvent::Lost { count: 3 });
        let got: Vec<_> = state.live.self_connects_caught.into_iter().collect();
        assert_eq!(
            got,
            vec![
                (("12".to_string(), "client-full".to_string()), 1),
                (("host".to_string(), "client-full".to_string()), 2),
            ]
        );
        assert!(state.live.retry_storms.is_empty());
    }
}
