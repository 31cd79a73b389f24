//! `selfconn-tui repro` as a user runs it: exit status, JSON, messages.
//!
//! Runs on a port inside the ephemeral range go through
//! `unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' BIN repro ...`
//! (root), so that they happen in a private network namespace; without
//! root they say they were skipped. Every run is bounded in time.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{free_port_outside_range, json_of as json};
use std::net::{Ipv4Addr, TcpListener};

const BIN: &str = env!("CARGO_BIN_EXE_selfconn-tui");

/// `selfconn-tui repro ARGS` in a private network namespace; `None` (and a
/// note) when not root.
fn repro_in_netns(test: &str, args: &[&str]) -> Option<Output> {
    common::repro_in_netns_with_range(test, "32768 60999", args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fresh_self_connect_as_json() {
    let Some(out) = repro_in_netns(
        "fresh_self_connect_as_json",
        &["--port", "44600", "--max-time", "20", "--json"],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["host"], "127.0.0.1");
    assert_eq!(j["port"], 44600);
    assert_eq!(j["mode"], "fresh");
    assert_eq!(j["result"], "self_connected");
    assert_eq!(j["self_connected"], true);
    assert_eq!(j["local"], "127.0.0.1:44600");
    assert_eq!(j["peer"], "127.0.0.1:44600");
    assert_eq!(j["echo_verified"], true);
    let attempts = j["attempts"].as_u64().unwrap();
    assert!(attempts > 1);
    assert_eq!(j["refused"].as_u64(), Some(attempts - 1));
    assert_eq!(j["even_source_ports"].as_u64(), Some(attempts));
    assert_eq!(j["odd_source_ports"], 0);
    assert_eq!(j["caught"], 0);
    assert!(j["errors"].as_object().unwrap().is_empty());
    assert!(j["elapsed_ms"].as_u64().is_some());
    assert!(j["attempts_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(j["port_range"], "32768-60999");
    assert_eq!(j["expectation"], "expected");
    assert!(j["error"].is_null());
}

#[test]
fn reuse_self_connect_in_words() {
    let Some(out) = repro_in_netns(
        "reuse_self_connect_in_words",
        &["--port", "44602", "--mode", "reuse", "--max-time", "20"],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("127.0.0.1:44602 connected to itself after "),
        "{text}"
    );
    assert!(
        first.contains(
            "local 127.0.0.1:44602 = peer 127.0.0.1:44602; echo verified (wrote 'selfconn-tui echo', read it back)"
        ),
        "{text}"
    );
    assert!(text.contains("ip_local_reserved_ports=44602"), "{text}");
    assert!(!text.contains('\x1b'), "no colour under NO_COLOR or a pipe");
    // Not a terminal: no progress line.
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn an_odd_port_hits_the_limit_and_parity_is_explained() {
    let Some(out) = repro_in_netns(
        "an_odd_port_hits_the_limit",
        &["--port", "44601", "--max-time", "0.5"],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("No self-connect to 127.0.0.1:44601 after "),
        "{text}"
    );
    assert!(
        text.contains("the time limit (0.5 s) was reached"),
        "{text}"
    );
    assert!(
        text.contains("44601 is odd, but connect() picks even ports first"),
        "{text}"
    );
}

#[test]
fn guarded_is_caught_not_connected() {
    let Some(out) = common::repro_in_netns_with_range(
        "guarded_is_caught_not_connected",
        "44400 44800",
        &[
            "--port",
            "44600",
            "--mode",
            "guarded",
            "--max-time",
            "1.5",
            "--json",
        ],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["self_connected"], false);
    assert_eq!(j["result"], "time_limit");
    assert!(j["caught"].as_u64().unwrap() >= 1, "{j}");
    assert!(j["local"].is_null() && j["peer"].is_null());
}

#[test]
fn bind_mode_on_the_host_connects_at_once() {
    let port = free_port_outside_range().to_string();
    let out = common::repro(&["--port", &port, "--mode", "bind", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["attempts"], 1);
    assert_eq!(j["self_connected"], true);
    assert_eq!(j["echo_verified"], true);
    assert_eq!(j["local"], j["peer"]);
    assert_eq!(j["port_ephemeral"], false);
    assert_eq!(j["mode"], "bind");
}

#[test]
fn a_listener_answers_exit_1() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = common::repro(&["--port", &port]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("is answered by a listener: connected to it, not to itself"),
        "{text}"
    );
    let out = common::repro(&["--port", &port, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["result"], "connected_to_listener");
}

#[test]
fn the_rate_limit_holds() {
    let port = free_port_outside_range().to_string();
    let out = common::repro(&[
        "--port",
        &port,
        "--rate",
        "200",
        "--max-time",
        "0.5",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["result"], "time_limit");
    let n = j["attempts"].as_u64().unwrap();
    assert!((60..=140).contains(&n), "{n} attempts at 200/s in 0.5 s");
    assert_eq!(j["rate_limit"], 200.0);
    assert_eq!(j["expectation"], "never");
}

#[test]
fn ctrl_c_stops_and_reports() {
    let port = free_port_outside_range().to_string();
    let child = Command::new(BIN)
        .args(["repro", "--port", &port, "--rate", "1000", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["result"], "stopped");
    assert!(j["attempts"].as_u64().unwrap() > 0);
}

#[test]
fn bad_input_is_an_error_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["--port", "0"], "port 0"),
        (&["--port", "70000"], "out of range"),
        (&["--port", "http"], "not a port number"),
        (&["--port", "44600", "--mode", "nc"], "possible values"),
        (
            &["--port", "44600", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (&["--port", "44600", "--rate", "0"], "from 0.01"),
        (&["--port", "44600", "--rate", "1e-19"], "from 0.01"),
        (&["--port", "44600", "--rate", "5e-324"], "from 0.01"),
        (&["--port", "44600", "--rate", "NaN"], "from 0.01"),
        (&["--port", "44600", "--rate", "inf"], "from 0.01"),
        (&["--port", "44600", "--rate", "-1"], "from 0.01"),
        (&["--port", "44600", "--max-time", "0"], "time limit"),
        (&["--port", "44600", "--max-attempts", "0"], "attempt limit"),
        (&[], "--port"),
    ];
    for (args, want) in cases {
        let out = common::repro(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn non_local_hosts_are_refused_before_any_packet() {
    for host in ["8.8.8.8", "203.0.113.7", "2001:db8::1"] {
        let out = common::repro(&["--port", "44600", "--host", host, "--json"]);
        assert_eq!(out.status.code(), Some(2), "{host}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("selfconn-tui: ") && err.contains("not an address of this machine"),
            "{err}"
        );
        // --json: the error as the one object on stdout (tests/json_errors.rs).
        assert_eq!(json(&out)["error"]["kind"], "not_local");
    }
    let out = common::repro(&["--port", "44600", "--host", "0.0.0.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("wildcard"));
    let out = common::repro(&["--port", "44600", "--host", "127.0.0.2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("reaches 127.0.0.2:44600 from 127.0.0.1"),
        "{}",
        stderr(&out)
    );
}

/// The system calls `socket` and `connect` made by `selfconn-tui ARGS`, as
/// strace writes them (`-f`: every thread). `None` after a skip when strace
/// is missing or may not trace here.
fn socket_calls(test: &str, args: &[&str]) -> Option<(Output, String)> {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let out = match Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=socket,connect", "-o"])
        .arg(&trace)
        .arg(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            common::skip(&format!("{test}: cannot run strace ({e})"));
            return None;
        }
    };
    match std::fs::read_to_string(&trace) {
        Ok(text) => Some((out, text)),
        Err(e) => {
            common::skip(&format!(
                "{test}: strace wrote no trace ({e}): {}",
                stderr(&out)
            ));
            None
        }
    }
}

#[test]
fn a_host_name_is_refused_without_a_single_socket() {
    // The control: strace sees the sockets of a run that does start.
    let port = free_port_outside_range().to_string();
    let Some((out, trace)) = socket_calls(
        "a_host_name_is_refused_without_a_single_socket",
        &["repro", "--port", &port, "--max-attempts", "1"],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        trace.contains("socket(AF_INET, SOCK_STREAM"),
        "strace shows the attempt's socket: {trace}"
    );

    // A name: refused before any socket, so no DNS query (a UDP socket to
    // port 53, or the nscd / systemd-resolved sockets) can leave.
    for host in [
        "example.invalid",
        "example.invalid:53",
        "db",
        "localhost.localdomain",
    ] {
        let (out, trace) = socket_calls(
            "a_host_name_is_refused",
            &["repro", "--port", "44600", "--host", host, "--json"],
        )
        .expect("strace ran for the control");
        assert_eq!(out.status.code(), Some(2), "{host}: {}", stderr(&out));
        assert_eq!(json(&out)["error"]["kind"], "bad_host", "{host}");
        assert!(
            !trace.contains("socket(") && !trace.contains("connect("),
            "{host}: no socket at all, so no resolver: {trace}"
        );
    }
}

#[test]
fn localhost_is_read_from_the_hosts_file_not_asked_of_a_resolver() {
    let port = free_port_outside_range().to_string();
    let Some((out, trace)) = socket_calls(
        "localhost_is_read_from_the_hosts_file",
        &[
            "repro",
            "--port",
            &port,
            "--host",
            "localhost",
            "--max-attempts",
            "1",
            "--json",
        ],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = json(&out);
    assert_eq!(j["host"], "localhost");
    assert_eq!(j["attempts"], 1);
    for resolver in ["htons(53)", "nscd", "resolve/io.systemd", "AF_UNIX"] {
        assert!(!trace.contains(resolver), "{resolver} in {trace}");
    }
}
