//! The deployment files under assets/deploy/: the alert rules pass
//! `promtool check rules` and their unit tests (`promtool test rules`), and
//! the systemd units pass `systemd-analyze verify` with no warning.

mod common;
mod metrics_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use metrics_support::have;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/deploy")
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn alert_rules_pass_promtool_check_and_their_tests() {
    if !have("promtool") {
        common::skip("promtool missing (Debian package prometheus)");
        return;
    }
    let out = Command::new("promtool")
        .args(["check", "rules", "selfconn.rules.yml"])
        .current_dir(deploy_dir())
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 4 rules found"), "{text}");

    let out = Command::new("promtool")
        .args(["test", "rules", "selfconn.rules.test.yml"])
        .current_dir(deploy_dir())
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn the_rules_name_only_metrics_that_exist() {
    let rules = std::fs::read_to_string(deploy_dir().join("selfconn.rules.yml")).unwrap();
    let exported = [
        "selfconn_self_connected_sockets",
        "selfconn_risky_listener_info",
        "selfconn_retry_storms_total",
        "selfconn_last_scan_age_seconds",
        "selfconn_scan_errors_total",
        "selfconn_ephemeral_port_range_low",
    ];
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("selfconn_") {
            assert!(exported.contains(&word), "{word} is not a metric we export");
        }
    }
}

#[test]
fn systemd_units_verify_without_warnings() {
    if !have("systemd-analyze") {
        common::skip("systemd-analyze missing (Debian package systemd)");
        return;
    }
    // The units name the installed binary; verify them against the built one.
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for name in [
        "selfconn-tui.service",
        "selfconn-tui-textfile.service",
        "selfconn-tui-textfile.timer",
    ] {
        let text = std::fs::read_to_string(deploy_dir().join(name)).unwrap();
        let text = text.replace(
            "/usr/local/bin/selfconn-tui",
            env!("CARGO_BIN_EXE_selfconn-tui"),
        );
        std::fs::write(dir.path().join(name), text).unwrap();
        units.push(dir.path().join(name));
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    // Unknown or misspelt settings are only warnings: none allowed.
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("selfconn-tui"))
        .collect();
    assert!(warnings.is_empty(), "{text}");
}
