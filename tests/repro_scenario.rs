//! The "service restart" scenario end to end, on the real kernel in
//! private network namespaces with a narrow ephemeral range (root): the
//! binary with `--json` and in words, and the engine with a destroy.

mod common;

use std::process::Output;
use std::sync::atomic::AtomicBool;

use selfconn_tui::repro::scenario::{FreeWith, ScenarioConfig, Step, run_restart};
use selfconn_tui::repro::{Counters, Target};

/// `selfconn-tui repro ARGS` in a private namespace whose range is
/// 44000-44999; `None` (and a note) when not root.
fn repro_in_netns(test: &str, args: &[&str]) -> Option<Output> {
    common::repro_in_netns_with_range(test, "44000 44999", args)
}

#[test]
fn the_restart_scenario_as_json_fails_the_restart_then_starts_again() {
    let Some(out) = repro_in_netns(
        "the_restart_scenario_as_json",
        &[
            "--scenario",
            "restart",
            "--port",
            "44600",
            "--max-time",
            "20",
            "--json",
        ],
    ) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let j = common::json_of(&out);
    assert_eq!(j["scenario"], "restart");
    assert_eq!(j["reproduced"], true);
    let steps = j["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "service_started",
            "service_stopped",
            "client_self_connected",
            "service_restart_failed",
            "port_freed",
            "service_back"
        ]
    );
    let results: Vec<&str> = steps
        .iter()
        .map(|s| s["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["ok", "ok", "ok", "failed", "ok", "ok"]);
    assert_eq!(steps[2]["local"], "127.0.0.1:44600");
    assert_eq!(steps[2]["attempts"], j["attempts"]);
    assert!(j["attempts"].as_u64().unwrap() >= 1);
    assert_eq!(steps[3]["errno"], "EADDRINUSE");
    assert_eq!(steps[3]["call"], "bind()");
    // Times in order, each an RFC 3339 stamp.
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = steps
        .iter()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s["time"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let elapsed: Vec<u64> = steps
        .iter()
        .map(|s| s["elapsed_ms"].as_u64().unwrap())
        .collect();
    assert!(elapsed.windows(2).all(|w| w[0] <= w[1]), "{elapsed:?}");
}

#[test]
fn the_restart_scenario_in_words_names_each_step() {
    let Some(out) = repro_in_netns(
        "the_restart_scenario_in_words",
        &[
            "--scenario",
            "restart",
            "--port",
            "44602",
            "--max-time",
            "20",
        ],
    ) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].contains("service started: listening on 127.0.0.1:44602"));
    assert!(lines[2].contains("connected to itself"));
    assert!(lines[3].contains("service restart FAILED: bind() EADDRINUSE"));
    assert!(lines[5].contains("service started again"));
    assert!(lines[6].starts_with("Reproduced"));
}

#[test]
fn a_client_that_never_gets_the_port_gives_up_and_the_scenario_says_so() {
    // An odd port above a range starting even, and a range too wide for
    // the attempt limit: the plain connect() loop does not reach it.
    let Some(out) = repro_in_netns(
        "a_client_that_never_gets_the_port",
        &[
            "--scenario",
            "restart",
            "--port",
            "44999",
            "--max-attempts",
            "50",
            "--json",
        ],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1));
    let j = common::json_of(&out);
    assert_eq!(j["reproduced"], false);
    let last = j["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["step"], "client_gave_up");
    assert_eq!(last["end"], "attempt_limit");
    assert_eq!(last["attempts"], 50);
}

#[test]
fn the_stolen_socket_can_be_destroyed_from_outside_and_steps_stream_as_they_happen() {
    common::in_private_netns(|| {
        common::set_netns_sysctl("ip_local_port_range", "44600 44631");
        let target = Target::from_addr("127.0.0.1:44604".parse().unwrap()).unwrap();
        let config = ScenarioConfig {
            max_time: std::time::Duration::from_secs(20),
            free_with: FreeWith::Destroy,
            ..ScenarioConfig::new(target)
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let out = run_restart(
            &config,
            &Counters::new(),
            &AtomicBool::new(false),
            &mut |e| tx.send(e.clone()).unwrap(),
        );
        let streamed: Vec<_> = rx.try_iter().collect();
        assert_eq!(streamed, out.steps, "every step went through the callback");
        assert!(out.reproduced, "{:#?}", out.steps);
        assert!(matches!(
            out.steps[4].step,
            Step::PortFreed {
                how: FreeWith::Destroy,
                ..
            }
        ));
        // Everything is closed: the port is free, with no TIME_WAIT.
        let plain =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let addr: std::net::SocketAddr = "127.0.0.1:44604".parse().unwrap();
        assert!(plain.bind(&addr.into()).is_ok());
    });
}
