//! `--json` on every way a command can fail: stdout holds exactly one JSON
//! object, `{"error": {"kind", "message"}}`, the exit status is 2, and
//! stderr still has the message for a person. Also: every kind the code
//! can print is documented in the README.

use std::process::{Command, Output, Stdio};

mod common;

use selfconn_tui::report::error_json::ErrorKind;

const BIN: &str = env!("CARGO_BIN_EXE_selfconn-tui");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run selfconn-tui")
}

/// Stdout parsed as a stream of JSON values: there must be exactly one,
/// an object, followed by nothing but a newline.
fn one_object(args: &[&str], out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {text:?}"));
    assert_eq!(values.len(), 1, "{args:?}: one value on stdout: {text:?}");
    assert!(text.ends_with("}\n"), "{args:?}: one line: {text:?}");
    assert!(values[0].is_object(), "{args:?}: an object: {text:?}");
    values.into_iter().next().unwrap()
}

/// Runs a failing command and checks the shape common to every error:
/// exit 2, one object whose `error` has the `kind` wanted and a message
/// containing `says`, the same message on stderr.
fn expect_error(args: &[&str], kind: &str, says: &str) -> serde_json::Value {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    let doc = one_object(args, &out);
    let error = &doc["error"];
    assert_eq!(error["kind"], kind, "{args:?}: {doc}");
    let message = error["message"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(message.contains(says), "{args:?}: {message}");
    assert_eq!(
        error.as_object().unwrap().len(),
        2,
        "only kind and message: {doc}"
    );
    assert_eq!(
        stderr,
        format!("selfconn-tui: {message}\n"),
        "{args:?}: stderr has the same one line"
    );
    doc
}

#[test]
fn usage_errors_under_json_are_one_object() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["scan", "--json", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            &["scan", "--bogus", "--json"],
            "unexpected argument '--bogus'",
        ),
        (&["scan", "--json", "--netns"], "a value is required"),
        (&["repro", "--json"], "--port"),
        (&["repro", "--json", "--port", "0"], "port 0"),
        (&["repro", "--json", "--port", "70000"], "out of range"),
        (&["repro", "--json", "--port", "http"], "not a port number"),
        (
            &["repro", "--json", "--port", "44600", "--rate", "1e-19"],
            "from 0.01",
        ),
        (
            &["repro", "--json", "--port", "44600", "--rate", "NaN"],
            "from 0.01",
        ),
        (
            &["repro", "--json", "--port", "44600", "--mode", "nc"],
            "possible values",
        ),
        (
            &["repro", "--port", "44600", "--max-time", "0", "--json"],
            "time limit",
        ),
        // The dashboard has no --json: asking for it is still answered in JSON.
        (&["--json"], "unexpected argument '--json'"),
        (&["scan", "--json=yes"], "--json"),
    ];
    for (args, says) in cases {
        expect_error(args, "usage", says);
    }
}

#[test]
fn without_json_a_usage_error_leaves_stdout_empty() {
    let out = run(&["scan", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // `--json` after `--` is an operand, not the option.
    let out = run(&["scan", "--", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
}

#[test]
fn help_stays_text_even_with_json() {
    let out = run(&["scan", "--json", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"));
}

#[test]
fn refused_hosts_are_one_object() {
    expect_error(
        &[
            "repro",
            "--json",
            "--port",
            "44600",
            "--host",
            "example.invalid",
        ],
        "bad_host",
        "not an address",
    );
    expect_error(
        &[
            "repro",
            "--json",
            "--port",
            "44600",
            "--host",
            "127.0.0.1:44600",
        ],
        "bad_host",
        "--port",
    );
    expect_error(
        &["repro", "--json", "--port", "44600", "--host", "0.0.0.0"],
        "bad_host",
        "wildcard",
    );
    expect_error(
        &["repro", "--json", "--port", "44600", "--host", ""],
        "bad_host",
        "empty host name",
    );
    // 127.0.0.2 is reached from 127.0.0.1: refused before the first attempt.
    let port = common::free_port_outside_range().to_string();
    expect_error(
        &["repro", "--json", "--port", &port, "--host", "127.0.0.2"],
        "bad_host",
        "from 127.0.0.1",
    );
    let locals = selfconn_tui::repro::target::local_addresses().unwrap();
    for host in ["203.0.113.7", "2001:db8::1", "[2001:db8::1]"] {
        if locals.iter().any(|ip| host.contains(&ip.to_string())) {
            continue; // an odd test machine that owns a documentation address
        }
        expect_error(
            &["repro", "--json", "--port", "44600", "--host", host],
            "not_local",
            "not an address of this machine",
        );
    }
}

#[test]
fn no_route_is_one_object() {
    // A private namespace whose loopback is down has no route to 127.0.0.1.
    if !common::root_or_skip("no_route_is_one_object: unshare -n needs root") {
        return;
    }
    let out = Command::new("unshare")
        .args(["-n", BIN, "repro", "--json", "--port", "44600"])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    assert_eq!(out.status.code(), Some(2));
    let doc = one_object(&["unshare -n repro"], &out);
    assert_eq!(doc["error"]["kind"], "no_route", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no route to 127.0.0.1:44600"),
        "{doc}"
    );
}

#[test]
fn scan_failures_are_one_object_with_what_could_not_be_read() {
    let empty = tempfile::tempdir().unwrap();
    let root = empty.path().to_str().unwrap();
    let doc = expect_error(
        &["scan", "--json", "--proc-root", root],
        "tables_unreadable",
        "cannot read the TCP tables",
    );
    let errors = doc["errors"].as_array().expect("an errors list");
    let sources: Vec<&str> = errors
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for table in ["net/tcp", "net/tcp6"] {
        assert!(
            sources.iter().any(|s| s.ends_with(table)),
            "{table} in {sources:?}"
        );
    }

    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fixtures/odd-range");
    let doc = expect_error(
        &[
            "scan",
            "--json",
            "--proc-root",
            fixture,
            "--netns",
            "no-such-ns",
        ],
        "unknown_netns",
        "no network namespace matches \"no-such-ns\"",
    );
    assert_eq!(doc["errors"], serde_json::json!([]));
}

#[test]
fn every_error_kind_is_documented_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("the README");
    for kind in ErrorKind::ALL {
        let row = format!("| `{}` |", kind.as_str());
        assert!(readme.contains(&row), "README documents {row}");
    }
}
