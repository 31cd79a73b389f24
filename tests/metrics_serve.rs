//! `selfconn-tui serve` as a user meets it: the pages, bad addresses, a
//! port in use, signals, and a scrape flood that must not multiply scans.

mod common;
mod metrics_support;

use std::time::{Duration, Instant};

use metrics_support::*;
use nix::sys::signal::Signal;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn pages_metrics_not_found_and_a_clean_stop_on_sigterm() {
    let mut serve = start_serve("127.0.0.1:0", &["--interval", "1"]);
    let addr = serve.addr;
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let index = get(addr, "/").unwrap();
    assert_eq!(index.status, 200);
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        index.body.contains("<a href=\"/metrics\">"),
        "{}",
        index.body
    );

    // The first scan may still be running: 503, then the metrics.
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let r = get(addr, "/metrics").unwrap();
        if r.status == 200 {
            break r;
        }
        assert_eq!(r.status, 503, "{r:?}");
        assert!(Instant::now() < deadline, "no scan within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &metrics.body;
    // Live catch runs when root (tracefs), and is off otherwise.
    let live = if common::is_root() { 1.0 } else { 0.0 };
    assert_eq!(sample(body, "selfconn_live_catch_enabled"), Some(live));
    let age = sample(body, "selfconn_last_scan_age_seconds").expect("an age");
    assert!((0.0..5.0).contains(&age), "age {age}");
    assert!(sample(body, "process_open_fds").unwrap() > 0.0);
    assert!(body.contains("selfconn_sockets_scanned{netns=\""), "{body}");
    // A query string is not part of the path.
    assert_eq!(get(addr, "/metrics?x=1").unwrap().status, 200);

    for path in ["/nope", "/metrics/", "/index.html"] {
        assert_eq!(get(addr, path).unwrap().status, 404, "{path}");
    }
    assert_eq!(request(addr, "POST", "/metrics").unwrap().status, 405);

    let status = serve.child.stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(get(addr, "/").is_err(), "nothing answers after the stop");
}

#[test]
fn sigint_stops_it_too() {
    let mut serve = start_serve("[::1]:0", &[]);
    assert!(serve.addr.is_ipv6());
    assert_eq!(get(serve.addr, "/").unwrap().status, 200);
    assert_eq!(serve.child.stop_with(Signal::SIGINT).code(), Some(0));
}

#[test]
fn a_scrape_flood_does_not_multiply_scans() {
    let serve = start_serve("127.0.0.1:0", &["--interval", "1"]);
    let count = |body: &str| sample(body, "selfconn_scan_duration_seconds_count").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let r = get(serve.addr, "/metrics").unwrap();
        if r.status == 200 {
            break r.body;
        }
        assert!(Instant::now() < deadline, "no scan within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let started = Instant::now();
    let before = count(&first);
    let mut last = String::new();
    // Four clients at once, 100 scrapes each, bounded in time too.
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut body = String::new();
                    for _ in 0..100 {
                        if started.elapsed() > Duration::from_secs(30) {
                            break;
                        }
                        let r = get(serve.addr, "/metrics").unwrap();
                        assert_eq!(r.status, 200);
                        body = r.body;
                    }
                    body
                })
            })
            .collect();
        for w in workers {
            last = w.join().unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let scans = count(&last) - before;
    // One scan a second at most, whatever the scrape rate.
    assert!(
        scans <= elapsed.ceil() + 1.0,
        "{scans} scans in {elapsed:.2} s of 400 scrapes"
    );
}

#[test]
fn a_public_address_needs_allow_remote() {
    let out = common::run(&["serve", "--listen", "0.0.0.0:9977"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:9977") && err.contains("--allow-remote"),
        "{err}"
    );
    let out = common::run(&["serve", "--listen", "[::]:9977"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));

    // With it, an address of this host is served (port 0: any free one).
    let mut serve = start_serve("0.0.0.0:0", &["--allow-remote"]);
    let port = serve.addr.port();
    assert_eq!(get(([127, 0, 0, 1], port).into(), "/").unwrap().status, 200);
    assert_eq!(serve.child.stop_with(Signal::SIGTERM).code(), Some(0));
}

#[test]
fn bad_addresses_and_a_port_in_use_are_clear_errors() {
    for bad in ["localhost:9977", "127.0.0.1", "127.0.0.1:70000", "nonsense"] {
        let out = common::run(&["serve", "--listen", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = stderr_of(&out);
        assert!(
            err.contains("is not an address and port such as 127.0.0.1:9977"),
            "{bad}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let out = common::run(&["serve", "--interval", "0.2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("between 1 and 86400"));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = common::run(&["serve", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("in use"),
        "{err}"
    );

    // An address that no interface of this host has (bound, never reached).
    let out = common::run(&["serve", "--listen", "192.0.2.1:9977", "--allow-remote"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no interface of this host has that address"));
}
