//! The Prometheus exposition of fixed snapshots, against golden files
//! (insta): names, labels, help, ordering, and the escaping of label
//! values that come from other processes.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use selfconn_tui::core::ports::{PortPolicy, PortRange, ReservedPorts};
use selfconn_tui::core::snapshot::{
    Namespace, Owner, ProcessInfo, ScanError, Snapshot, Socket, UnknownOwner,
};
use selfconn_tui::core::socket::{Family, SocketEntry, TcpState, classify};
use selfconn_tui::report::metrics::{
    self, LiveCounts, ProcessStats, ScanHistory, runtime_text, snapshot_text,
};

/// A process name no one should have, but anyone can give themselves.
const EVIL: &str = "evil \"quoted\" \\ back\nslash";

fn process(pid: i32, name: &str) -> Owner {
    Owner::Process(Arc::new(ProcessInfo {
        pid,
        name: name.to_string(),
        cmdline: name.to_string(),
        user: "root".to_string(),
    }))
}

fn namespace(id: u64, name: &str, range: &str, reserved: &str) -> Namespace {
    Namespace {
        id,
        name: name.to_string(),
        is_own: id == 1,
        is_host: id == 1,
        policy: PortPolicy {
            range: PortRange::parse(range).unwrap(),
            reserved: ReservedPorts::parse(reserved).unwrap(),
        },
        ..Namespace::default()
    }
}

/// Host: two self-connects on IPv4 (one closed, in TIME_WAIT), one on
/// IPv6, a high-risk listener on both families, a medium one held by a
/// program with quotes, a backslash and a newline in its name, and an
/// ordinary connection. A container: its own range, a high-risk listener
/// whose owner cannot be seen.
fn fixture() -> Snapshot {
    let namespaces = vec![
        namespace(1, "host", "32768 60999", "44600,50000-50009"),
        namespace(2, "docker:3f2a1b4c5d6e", "40001 50000", ""),
    ];
    let rows: Vec<(usize, &str, &str, TcpState, Owner)> = vec![
        (
            0,
            "127.0.0.1:44604",
            "127.0.0.1:44604",
            TcpState::Established,
            process(10, "python3"),
        ),
        (
            0,
            "127.0.0.1:44606",
            "127.0.0.1:44606",
            TcpState::TimeWait,
            Owner::Unknown(UnknownOwner::KernelHeld),
        ),
        (
            0,
            "[::1]:50010",
            "[::1]:50010",
            TcpState::Established,
            process(11, "java"),
        ),
        (
            0,
            "0.0.0.0:40000",
            "0.0.0.0:0",
            TcpState::Listen,
            process(12, "postgres"),
        ),
        (
            0,
            "[::]:40000",
            "[::]:0",
            TcpState::Listen,
            process(12, "postgres"),
        ),
        (
            0,
            "127.0.0.1:40001",
            "0.0.0.0:0",
            TcpState::Listen,
            process(13, EVIL),
        ),
        (
            0,
            "10.0.0.1:22",
            "10.0.0.2:50000",
            TcpState::Established,
            process(14, "sshd"),
        ),
        (
            1,
            "0.0.0.0:44601",
            "0.0.0.0:0",
            TcpState::Listen,
            Owner::Unknown(UnknownOwner::NotPermitted),
        ),
    ];
    let sockets = rows
        .into_iter()
        .enumerate()
        .map(|(i, (netns, local, remote, state, owner))| {
            let local: std::net::SocketAddr = local.parse().unwrap();
            let entry = SocketEntry {
                family: if local.is_ipv4() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                },
                local,
                remote: remote.parse().unwrap(),
                state,
                inode: 100 + i as u64,
                uid: 0,
            };
            Socket {
                finding: classify(&entry, &namespaces[netns].policy),
                entry,
                owner,
                user: Arc::from("root"),
                netns,
            }
        })
        .collect();
    Snapshot {
        taken_at: chrono::Local
            .timestamp_opt(1_767_225_600, 250_000_000)
            .unwrap(),
        scan_micros: 12_345,
        namespaces,
        sockets,
        errors: vec![ScanError::new(
            "netns docker:3f2a1b4c5d6e: /proc/4242/net/tcp6",
            "not found",
        )],
        visibility_note: None,
    }
}

#[test]
fn textfile_of_a_fixed_snapshot() {
    let snap = fixture();
    let mut history = ScanHistory::default();
    history.record_scan(&snap);
    let text = metrics::textfile(&snap, &history, &LiveCounts::default());
    insta::assert_snapshot!(text);
}

#[test]
fn process_names_are_escaped_in_label_values() {
    let text = snapshot_text(&fixture());
    let line = "selfconn_risky_listener_info{netns=\"host\",port=\"40001\",risk=\"medium\",\
                process=\"evil \\\"quoted\\\" \\\\ back\\nslash\"} 1\n";
    assert!(text.contains(line), "{text}");
    // The newline in the name did not break the line: every line is a
    // comment or a sample of one of our metrics.
    for l in text.lines() {
        assert!(l.starts_with("# ") || l.starts_with("selfconn_"), "{l:?}");
    }
}

#[test]
fn counts_follow_the_snapshot() {
    let text = snapshot_text(&fixture());
    let has = |line: &str| assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
    // IPv4 and IPv6 of one port by one program: one info series, two sockets.
    has(r#"selfconn_risky_listeners{netns="host",risk="high"} 2"#);
    has(r#"selfconn_risky_listeners{netns="host",risk="medium"} 1"#);
    has(r#"selfconn_risky_listeners{netns="docker:3f2a1b4c5d6e",risk="medium"} 0"#);
    assert_eq!(text.matches("port=\"40000\"").count(), 1);
    has(r#"selfconn_reserved_ports{netns="host"} 11"#);
    has(r#"selfconn_sockets_scanned{netns="host"} 7"#);
    has(r#"selfconn_ephemeral_port_range_low{netns="docker:3f2a1b4c5d6e"} 40001"#);
    has("selfconn_last_scan_timestamp_seconds 1767225600.25");
}

#[test]
fn runtime_part_with_live_counts_age_and_process() {
    let mut history = ScanHistory::default();
    history.record_scan(&fixture());
    history.record_failure(
        &[ScanError::new(
            "/proc/sys/net/ipv4/ip_local_port_range",
            "permission denied",
        )],
        Duration::from_millis(3),
    );
    let key = |ns: &str, p: &str| (ns.to_string(), p.to_string());
    let live = LiveCounts {
        enabled: true,
        self_connects_caught: BTreeMap::from([(key("host", "python3"), 3)]),
        retry_storms: BTreeMap::from([(key("host", "python3"), 1), (key("host", EVIL), 2)]),
    };
    let process = ProcessStats {
        cpu_seconds: 1.5,
        resident_memory_bytes: 12 << 20,
        virtual_memory_bytes: 300 << 20,
        start_time_seconds: 1_767_225_000.0,
        open_fds: 9,
        max_fds: Some(1024),
    };
    let text = runtime_text(
        &history,
        &live,
        Some(Duration::from_millis(4_500)),
        Some(&process),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn the_golden_text_passes_promtool_check_metrics() {
    let have = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok();
    if !have {
        common::skip("promtool missing (Debian package prometheus)");
        return;
    }
    let snap = fixture();
    let mut history = ScanHistory::default();
    history.record_scan(&snap);
    let text = metrics::textfile(&snap, &history, &LiveCounts::default());
    let out = common::output_with_stdin(
        std::process::Command::new("promtool").args(["check", "metrics"]),
        &text,
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
