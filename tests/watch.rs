//! `scan --watch` on the real kernel: the NDJSON stream, a self-connect
//! made and reset within a millisecond caught with its pid and command, a
//! retry storm in a private namespace, a clean end on SIGTERM with no
//! tracing instance left, and live catch off (not root) with its reason.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `scan --watch`, its lines read on a thread.
struct Watch {
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl Watch {
    fn start(mut cmd: Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scan --watch");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line: {e}: {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line `pick` accepts within `within`.
    fn wait_for(&mut self, within: Duration, pick: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(v) = self.seen.iter().find(|v| pick(v)) {
            return Some(v.clone());
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.lines.recv_timeout(left).ok()?;
            self.seen.push(v.clone());
            if pick(&v) {
                return Some(v);
            }
        }
    }

    /// Waits for the exit (bounded) and returns its code.
    fn exit_code(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().expect("exited, not killed");
            }
            assert!(Instant::now() < deadline, "scan --watch did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn started(&mut self) -> Value {
        self.wait_for(Duration::from_secs(10), |v| v["event"] == "watch_started")
            .expect("a watch_started line first")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn watch(args: &[&str]) -> Command {
    let mut cmd = common::bin();
    cmd.args(["scan", "--watch"]).args(args);
    cmd
}

fn instance_of(pid: u32) -> bool {
    let dir = std::path::Path::new("/sys/kernel/tracing/instances");
    std::fs::read_dir(dir).is_ok_and(|d| {
        d.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // `selfconn-tui-PID`, or `selfconn-tui-PID-N` for a second one.
            name.strip_prefix(&format!("selfconn-tui-{pid}"))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
    })
}

const PYTHON_SELF_CONNECT: &str = "\
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.bind(('127.0.0.1', int(sys.argv[1])))
s.connect(('127.0.0.1', int(sys.argv[1])))
s.close()
";

#[test]
fn a_self_connect_reset_within_a_millisecond_is_one_line_with_pid_and_command() {
    if !common::root_or_skip("live catch needs root") {
        return;
    }
    if Command::new("python3").arg("-V").output().is_err() {
        common::skip("python3 is needed for the client");
        return;
    }
    let mut w = Watch::start(watch(&["--duration", "5"]));
    let first = w.started();
    assert_eq!(first["live_catch"]["enabled"], true, "{first}");
    assert_eq!(first["live_catch"]["source"], "tracefs");
    assert!(first["time"].is_string() && first["interval_ms"] == 1000);
    assert!(instance_of(w.child.id()), "its tracing instance exists");

    let port = common::free_port("127.0.0.1");
    let client = Command::new("python3")
        .args(["-c", PYTHON_SELF_CONNECT, &port.to_string()])
        .spawn()
        .expect("python3");
    let pid = client.id();
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "the client self-connected and closed");
    let line = w
        .wait_for(Duration::from_secs(4), |v| {
            v["event"] == "self_connect_caught" && v["local_port"] == port
        })
        .expect("a self_connect_caught line");
    assert_eq!(line["pid"], pid, "{line}");
    assert!(
        line["process"].as_str().unwrap().starts_with("python3"),
        "{line}"
    );
    assert!(
        line["cmdline"].as_str().unwrap().contains("import socket"),
        "{line}"
    );
    assert_eq!(line["kind"], "self_connect");
    assert_eq!(line["local_addr"], "127.0.0.1");
    assert_eq!(line["remote_port"], port);
    assert_eq!(line["family"], "ipv4");
    assert!(line["netns"]["id"].as_u64().unwrap() > 0, "{line}");
    assert!(line["time"].is_string());
    // Found something: exit 1 at the end of --duration, instance removed.
    assert_eq!(w.exit_code(Duration::from_secs(10)), 1);
    assert!(!instance_of(w.child.id()), "no instance left");
}

#[test]
fn a_retry_storm_in_a_private_namespace_is_a_finding() {
    let seen = common::in_private_netns(|| {
        common::set_netns_sysctl("ip_local_port_range", "40000 49999");
        // Started from this thread: the watch runs in this namespace. The
        // threshold from the configuration: 50 refusals (not 100).
        let mut cmd = watch(&["--duration", "8", "--interval", "500ms"]);
        cmd.env("SELFCONN_TUI_STORM_REFUSALS", "50");
        let mut w = Watch::start(cmd);
        let first = w.started();
        assert_eq!(first["live_catch"]["enabled"], true, "{first}");
        let target: SocketAddr = "127.0.0.1:45000".parse().unwrap();
        let refused = common::refused_connects(target, 80);
        assert!(refused >= 60, "only {refused} of 80 refused");
        let storm = w.wait_for(Duration::from_secs(5), |v| {
            v["event"] == "retry_storm_started" && v["remote_port"] == 45000
        });
        let code = w.exit_code(Duration::from_secs(15));
        (storm, code)
    });
    let Some((storm, code)) = seen else { return };
    let storm = storm.expect("a retry_storm_started line");
    assert_eq!(storm["kind"], "retry_storm");
    assert_eq!(storm["pid"], std::process::id());
    assert_eq!(storm["risk"], "high", "45000 has the parity of 40000");
    assert_eq!(storm["connect_parity"], true);
    assert_eq!(storm["range"]["low"], 40000);
    assert_eq!(storm["tries_expected"], 5000);
    let refusals = storm["refusals"].as_u64().unwrap();
    assert!((50..100).contains(&refusals), "{storm}");
    assert!(storm["rate_per_sec"].as_u64().unwrap() > 10, "{storm}");
    let why = storm["explanation"].as_str().unwrap();
    assert!(
        why.contains("on 127.0.0.1:45000; nothing listens there and the port is inside the range: it will connect to itself, probably within ~"),
        "{why}"
    );
    assert_eq!(code, 1);
}

#[test]
fn sigterm_ends_it_cleanly_and_removes_the_instance() {
    if !common::root_or_skip("live catch needs root") {
        return;
    }
    let mut w = Watch::start(watch(&[]));
    w.started();
    let pid = w.child.id();
    assert!(instance_of(pid));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = w.exit_code(Duration::from_secs(10));
    assert!(code == 0 || code == 1, "exit {code}");
    assert!(!instance_of(pid), "an instance of {pid} was left");
}

#[test]
fn not_root_says_why_live_catch_is_off_and_watches_on() {
    if !common::root_or_skip("setpriv to another user needs root") {
        return;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_selfconn-tui"))
        .args([
            "scan",
            "--watch",
            "--duration",
            "1.5",
            "--interval",
            "200ms",
        ]);
    let mut w = Watch::start(cmd);
    let first = w.started();
    assert_eq!(first["live_catch"]["enabled"], false, "{first}");
    assert_eq!(first["live_catch"]["reason"], "not root");
    assert!(first["sockets"].as_u64().is_some(), "{first}");
    let code = w.exit_code(Duration::from_secs(10));
    assert!(code == 0 || code == 1, "exit {code}");
}

#[test]
fn watch_flags_need_watch_and_bad_durations_are_refused() {
    let out = common::run(&["scan", "--duration", "5"]);
    assert_eq!(out.status.code(), Some(2));
    let out = common::run(&["scan", "--watch", "--duration", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("above zero"), "{err}");
    let out = common::run(&["scan", "--watch", "--json"]);
    assert_eq!(out.status.code(), Some(2));
}
