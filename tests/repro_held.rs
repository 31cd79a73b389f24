//! A target that a socket connected to itself already holds: the kernel can
//! never hand out the port for it while that socket is open, and `repro`
//! says so before and after the run instead of asking for more time. Also
//! the summary's pass duration, which must agree with the rate it shows.
//!
//! Runs happen in a private network namespace (root): the held socket and
//! the `repro` child both live there, and nothing touches the host.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_target_held_by_a_self_connection_is_said_before_and_after_the_run() {
    let Some((out, json)) = common::in_private_netns(|| {
        // A narrow range: a free target would be reached in a few hundred
        // attempts, so a run that never gets there shows the hold.
        common::set_netns_sysctl("ip_local_port_range", "40000 40009");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 40004));
        let held = common::self_connect(addr);
        let args = [
            "--port",
            "40004",
            "--max-attempts",
            "2000",
            "--max-time",
            "5",
        ];
        let out = common::repro(&args);
        let json = common::repro(&[&args[..], &["--json"]].concat());
        drop(held);
        (out, json)
    }) else {
        return;
    };
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // Before: on stderr, even without a terminal.
    assert!(
        stderr.contains("127.0.0.1:40004 is already connected to itself")
            && stderr.contains("cannot pick 40004 for this target until that socket closes"),
        "{stderr}"
    );
    // After: in the summary, instead of asking for more time.
    assert!(
        stdout.contains("127.0.0.1:40004 is connected to itself and holds the port"),
        "{stdout}"
    );
    assert!(!stdout.contains("did not hand out"), "{stdout}");
    assert!(!stdout.contains("--max-time"), "{stdout}");
    let j = common::json_of(&json);
    assert_eq!(j["expectation"], "never");
    let notes = j["notes"][0].as_str().unwrap_or_default();
    assert!(notes.contains("holds the port"), "{j}");
}

#[test]
fn the_pass_duration_agrees_with_the_rate_shown() {
    let Some(out) = common::in_private_netns(|| {
        // Default range, an even port: a few slow attempts never reach it.
        common::set_netns_sysctl("ip_local_port_range", "32768 60999");
        common::repro(&["--port", "40000", "--rate", "3", "--max-time", "1.5"])
    }) else {
        return;
    };
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // "at 3.3 attempts/s a pass over the 14116 ports takes about 71 min"
    let tail = stdout
        .split("yet; at ")
        .nth(1)
        .unwrap_or_else(|| panic!("no pass in {stdout}"));
    let words: Vec<&str> = tail.split_whitespace().collect();
    let rate: f64 = words[0].parse().unwrap();
    let unit = words[1];
    assert_eq!(
        unit,
        if rate == 1.0 {
            "attempt/s"
        } else {
            "attempts/s"
        }
    );
    assert_eq!(words[6], "14116", "{tail}");
    let shown: f64 = words[10].parse().unwrap();
    let scale = match words[11].trim_end_matches('.') {
        "h" => 3600.0,
        "min" => 60.0,
        other => panic!("unit {other:?} in {tail}"),
    };
    // The duration is the ports over the rate as shown, rounded as shown.
    let want = 14116.0 / rate / scale;
    let precision = if scale == 3600.0 { 0.05 } else { 0.5 };
    assert!(
        (want - shown).abs() <= precision + 1e-9,
        "{rate}/s: {shown} shown, {want} expected: {tail}"
    );
}
