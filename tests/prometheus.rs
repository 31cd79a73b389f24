//! Against the real Prometheus (Debian's `prometheus` package): the
//! exposition passes `promtool check metrics`, and a Prometheus server
//! scraping `selfconn-tui serve` sees a real self-connect and a real
//! in-range listener, and fires the self-connect alert.

mod common;
mod metrics_support;

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use metrics_support::*;
use serde_json::Value;

fn promtool_check(text: &str) -> (bool, String) {
    let out = output_with_stdin(Command::new("promtool").args(["check", "metrics"]), text);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn real_output_passes_promtool_check_metrics() {
    if !have("promtool") {
        skip("promtool missing (Debian package prometheus)");
        return;
    }
    // The checker itself rejects what it should.
    let (ok, _) =
        promtool_check("# HELP x_total a\n# TYPE x_total counter\nx_total{a=\"b\nc\"} 1\n");
    assert!(!ok, "promtool accepts a raw newline in a label value");

    // The textfile of a live scan, with a self-connect in it.
    let port = free_port("127.0.0.1");
    let _held = self_connect(SocketAddr::from(([127, 0, 0, 1], port)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selfconn.prom");
    let out = run(&["scan", "--prometheus", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("selfconn_self_connected_sockets{"), "{text}");
    let (ok, said) = promtool_check(&text);
    assert!(ok, "{said}\n{text}");

    // What serve answers, process metrics and age included.
    let serve = start_serve("127.0.0.1:0", &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let r = get(serve.addr, "/metrics").unwrap();
        if r.status == 200 {
            break r.body;
        }
        assert!(Instant::now() < deadline, "no scan within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(body.contains("process_cpu_seconds_total "));
    let (ok, said) = promtool_check(&body);
    assert!(ok, "{said}\n{body}");
}

/// A free port outside the ephemeral range, other than `not`.
fn port_outside_range(not: &[u16]) -> u16 {
    let (low, high) = port_range();
    (1025..65535u16)
        .rev()
        .filter(|p| (*p < low || *p > high) && !not.contains(p))
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port outside the range")
}

/// Asks Prometheus's HTTP API for an instant vector.
fn query(prom: SocketAddr, promql: &str) -> Vec<Value> {
    let r = match get(prom, &format!("/api/v1/query?query={}", url_encode(promql))) {
        Ok(r) if r.status == 200 => r,
        // Still starting.
        _ => return Vec::new(),
    };
    let doc: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(doc["status"], "success", "{doc}");
    doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn value_of(series: &Value) -> f64 {
    series["value"][1].as_str().unwrap().parse().unwrap()
}

/// Queries until `check` accepts the result, or panics at the deadline
/// with the last result.
fn wait_for(
    prom: SocketAddr,
    promql: &str,
    deadline: Instant,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    loop {
        let result = query(prom, promql);
        if check(&result) {
            return result;
        }
        assert!(
            Instant::now() < deadline,
            "{promql}: still {result:?} at the deadline"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_real_prometheus_sees_a_self_connect_and_a_risky_listener() {
    if !have("prometheus") {
        skip("prometheus missing (Debian package prometheus)");
        return;
    }
    // Everything in a private network namespace with its own port range:
    // the children (serve, prometheus) inherit it, nothing touches the host's.
    in_private_netns(|| {
        set_netns_sysctl("ip_local_port_range", "40000 40999");
        let serve_port = port_outside_range(&[]);
        let prom_port = port_outside_range(&[serve_port]);

        let sc_port = free_port("127.0.0.1");
        assert!((40000..=40999).contains(&sc_port));
        let _self_connected = self_connect(SocketAddr::from(([127, 0, 0, 1], sc_port)));
        let listener = listener_in_range("127.0.0.1", true);
        let listen_port = listener.local_addr().unwrap().port();

        let mut serve = start_serve(&format!("127.0.0.1:{serve_port}"), &["--interval", "1"]);

        let dir = tempfile::tempdir().unwrap();
        let rules = format!(
            "{}/assets/deploy/selfconn.rules.yml",
            env!("CARGO_MANIFEST_DIR")
        );
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: selfconn\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{serve_port}']\n"
            ),
        )
        .unwrap();
        let prom_addr = SocketAddr::from(([127, 0, 0, 1], prom_port));
        let mut prometheus = ChildGuard(Some(
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={prom_addr}"))
                .arg("--log.level=warn")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("prometheus starts"),
        ));

        let deadline = Instant::now() + Duration::from_secs(90);
        wait_for(prom_addr, "up{job=\"selfconn\"} == 1", deadline, |r| {
            r.len() == 1
        });
        // Our namespace, told apart from the host's by its port range.
        let ns = wait_for(
            prom_addr,
            "selfconn_ephemeral_port_range_low == 40000",
            deadline,
            |r| r.len() == 1,
        )[0]["metric"]["netns"]
            .as_str()
            .unwrap()
            .to_string();
        let sel = |extra: &str| format!("{{netns=\"{ns}\"{extra}}}");

        let high = wait_for(
            prom_addr,
            &format!("selfconn_ephemeral_port_range_high{}", sel("")),
            deadline,
            |r| r.len() == 1,
        );
        assert_eq!(value_of(&high[0]), 40999.0);
        let sc = wait_for(
            prom_addr,
            &format!(
                "selfconn_self_connected_sockets{}",
                sel(",family=\"ipv4\",state=\"ESTABLISHED\"")
            ),
            deadline,
            |r| r.len() == 1,
        );
        assert_eq!(value_of(&sc[0]), 1.0);
        let info = wait_for(
            prom_addr,
            &format!(
                "selfconn_risky_listener_info{}",
                sel(&format!(",port=\"{listen_port}\""))
            ),
            deadline,
            |r| r.len() == 1,
        );
        let labels = &info[0]["metric"];
        assert_eq!(labels["risk"], "high");
        let me = std::env::current_exe().unwrap();
        assert_eq!(
            labels["process"].as_str().unwrap(),
            me.file_name().unwrap().to_str().unwrap(),
            "the test holds the listener"
        );
        let risky = wait_for(
            prom_addr,
            &format!("selfconn_risky_listeners{}", sel(",risk=\"high\"")),
            deadline,
            |r| r.len() == 1,
        );
        assert_eq!(value_of(&risky[0]), 1.0);
        let live = wait_for(prom_addr, "selfconn_live_catch_enabled", deadline, |r| {
            r.len() == 1
        });
        // Live catch runs when root (tracefs), and is off otherwise.
        let on = if common::is_root() { 1.0 } else { 0.0 };
        assert_eq!(value_of(&live[0]), on);
        let age = wait_for(prom_addr, "selfconn_last_scan_age_seconds", deadline, |r| {
            r.len() == 1
        });
        assert!(value_of(&age[0]) < 10.0, "{age:?}");
        // The alert rule, evaluated by Prometheus on the real series.
        wait_for(
            prom_addr,
            &format!(
                "ALERTS{}",
                sel(",alertname=\"TcpSelfConnect\",alertstate=\"firing\"")
            ),
            deadline,
            |r| r.len() == 1,
        );

        assert_eq!(
            prometheus
                .stop_with(nix::sys::signal::Signal::SIGTERM)
                .code(),
            Some(0)
        );
        assert_eq!(
            serve
                .child
                .stop_with(nix::sys::signal::Signal::SIGTERM)
                .code(),
            Some(0)
        );
        drop(listener);
    });
}
