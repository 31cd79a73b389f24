//! `selfconn-tui scan`, end to end: fixture trees, the live kernel on
//! loopback, and a private network namespace with its own port policy.

mod common;

use common::*;
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!("{}/assets/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn find<'a>(list: &'a Value, local: &str, port: u64, state: &str) -> Option<&'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .find(|f| f["local_addr"] == local && f["local_port"] == port && f["state"] == state)
}

/// The rows of `doc[key]` in the tool's own namespace: a root scan also
/// lists every other namespace, where the same address and port can be in
/// use at the same time.
fn own_rows(doc: &Value, key: &str) -> Value {
    let own = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["is_own"] == true)
        .expect("own namespace listed");
    Value::Array(
        doc[key]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["netns"]["id"] == own["id"])
            .cloned()
            .collect(),
    )
}

#[test]
fn fixture_with_odd_low_end_ipv6_mapped_time_wait_and_a_garbled_line() {
    let out = run(&[
        "scan",
        "--json",
        "--all",
        "--proc-root",
        &fixture("odd-range"),
    ]);
    assert_eq!(out.status.code(), Some(1), "findings give exit 1");
    let doc = json_of(&out);
    assert_eq!(doc["ephemeral_range"]["low"], 40001);
    assert_eq!(doc["ephemeral_range"]["high"], 50000);
    assert_eq!(
        doc["reserved_ports"],
        serde_json::json!([{"low": 1, "high": 4}, {"low": 45001, "high": 45001}])
    );
    let f = &doc["findings"];
    let sc = |addr, port, state| {
        let x =
            find(f, addr, port, state).unwrap_or_else(|| panic!("{addr}:{port} {state} in {f:#}"));
        assert_eq!(x["kind"], "self_connect");
        assert_eq!(x["risk"], Value::Null);
        assert_eq!(x["remote_addr"], addr);
        assert_eq!(x["remote_port"], port);
        x
    };
    sc("127.0.0.1", 44601, "ESTABLISHED");
    let tw = sc("127.0.0.1", 44603, "TIME_WAIT");
    assert_eq!(tw["inode"], 0);
    assert_eq!(tw["pid"], Value::Null);
    assert!(
        tw["owner_unknown_reason"]
            .as_str()
            .unwrap()
            .contains("kernel")
    );
    sc("10.0.0.5", 41001, "CLOSE_WAIT");
    let v6 = sc("::1", 50000, "ESTABLISHED");
    assert_eq!(v6["family"], "ipv6");
    let mapped = sc("::ffff:127.0.0.1", 46001, "FIN_WAIT1");
    assert_eq!(mapped["family"], "ipv6");

    let listener = |addr, port| find(f, addr, port, "LISTEN").map(|x| x["risk"].clone());
    // With the range starting at the odd 40001, connect() walks odd ports first.
    assert_eq!(listener("0.0.0.0", 44603), Some("high".into()));
    assert_eq!(listener("127.0.0.1", 44600), Some("medium".into()));
    assert_eq!(listener("::", 46003), Some("high".into()), "wildcard IPv6");
    assert_eq!(listener("0.0.0.0", 45001), None, "reserved");
    assert_eq!(listener("0.0.0.0", 22), None, "below the range");
    assert_eq!(listener("::", 8080), None, "below the range");
    assert_eq!(f.as_array().unwrap().len(), 8);

    // Findings come most urgent first: self-connects, then high, then medium.
    let order: Vec<&str> = f
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["risk"].as_str().unwrap_or("self"))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|r| match *r {
        "self" => 0,
        "high" => 1,
        _ => 2,
    });
    assert_eq!(order, sorted);

    // --all: every row that parsed, the garbled one reported, not fatal.
    assert_eq!(doc["sockets"].as_array().unwrap().len(), 12);
    assert_eq!(doc["sockets_scanned"], 12);
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("net/tcp line 10")
    );
}

#[test]
fn missing_and_garbled_files_are_reported_and_the_scan_goes_on() {
    let out = run(&["scan", "--json", "--proc-root", &fixture("missing-tcp6")]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let errors: Vec<String> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["source"], e["message"]))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("tcp6") && e.contains("not found")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("ip_local_reserved_ports") && e.contains("not a port")),
        "{errors:?}"
    );
    assert_eq!(doc["reserved_ports"], serde_json::json!([]));
    assert_eq!(doc["findings"][0]["local_port"], 44600);
    assert_eq!(doc["findings"][0]["risk"], "high");

    // The human report shows the same warnings on stderr.
    let out = run(&["scan", "--proc-root", &fixture("missing-tcp6")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("tcp6"),
        "{stderr}"
    );
}

#[test]
fn no_readable_table_is_an_error_with_one_clear_line() {
    let empty = tempfile::tempdir().unwrap();
    let out = run(&["scan", "--proc-root", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("selfconn-tui: cannot read the TCP tables"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let out = run(&["scan", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
    let out = run(&["scan", "extra"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn live_self_connection_and_risky_listener_on_loopback() {
    let listener = listener_in_range("127.0.0.1", true);
    let lport = listener.local_addr().unwrap().port();
    let port = free_port("127.0.0.1");
    let me = self_connect(format!("127.0.0.1:{port}").parse().unwrap());

    let out = run(&["scan", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    let pid = std::process::id();

    let findings = own_rows(&doc, "findings");
    let sc = find(&findings, "127.0.0.1", port.into(), "ESTABLISHED")
        .unwrap_or_else(|| panic!("self-connection on {port} in {findings:#}"));
    assert_eq!(sc["kind"], "self_connect");
    assert_eq!(sc["pid"], pid);
    assert!(
        sc["process"].as_str().unwrap().starts_with("scan_cli"),
        "{sc}"
    );
    assert_eq!(sc["owner_unknown_reason"], Value::Null);

    let l = find(&findings, "127.0.0.1", lport.into(), "LISTEN").expect("listener found");
    assert_eq!(l["kind"], "ephemeral_listener");
    assert_eq!(l["risk"], "high");
    assert_eq!(l["pid"], pid);

    // The table, piped: no colour codes, the same findings.
    let out = run(&["scan"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "no escape codes when piped");
    assert!(text.contains(&format!("127.0.0.1:{port}")) && text.contains("self-connect"));

    drop(me);
    // After close, the same tuple lingers in TIME_WAIT, still a self-connect.
    let out = run(&["scan", "--json"]);
    let doc = json_of(&out);
    let findings = own_rows(&doc, "findings");
    let tw = find(&findings, "127.0.0.1", port.into(), "TIME_WAIT");
    assert!(
        tw.is_some_and(|t| t["pid"].is_null()),
        "{:#}",
        doc["findings"]
    );
}

#[test]
fn all_adds_every_socket_with_owners() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let cport = c.local_addr().unwrap().port();
    let out = run(&["scan", "--json", "--all"]);
    let doc = json_of(&out);
    let sockets = own_rows(&doc, "sockets");
    // A source port is shared by connections to different peers: match
    // the peer too (a busy host has other 127.0.0.1:cport connections).
    let lport = l.local_addr().unwrap().port();
    let row = sockets
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["local_addr"] == "127.0.0.1"
                && r["local_port"] == cport
                && r["remote_port"] == lport
                && r["state"] == "ESTABLISHED"
        })
        .expect("client socket listed");
    assert_eq!(row["kind"], Value::Null);
    assert_eq!(row["pid"], std::process::id());
    // Without --all there is no "sockets" key.
    let doc = json_of(&run(&["scan", "--json"]));
    assert!(doc.get("sockets").is_none());
}

#[test]
fn private_namespace_with_odd_range_and_reserved_port() {
    let result = in_private_netns(|| {
        set_netns_sysctl("ip_local_port_range", "40001 50000");
        set_netns_sysctl("ip_local_reserved_ports", "44603,46000-46010");
        let high = std::net::TcpListener::bind("0.0.0.0:44601").unwrap();
        let medium = std::net::TcpListener::bind("127.0.0.1:44600").unwrap();
        let reserved = std::net::TcpListener::bind("0.0.0.0:44603").unwrap();
        let reserved_range = std::net::TcpListener::bind("[::]:46005").unwrap();
        let outside = std::net::TcpListener::bind("0.0.0.0:39999").unwrap();
        let me = self_connect("127.0.0.1:44999".parse().unwrap());
        let out = run(&["scan", "--json"]);
        drop((high, medium, reserved, reserved_range, outside, me));
        out
    });
    let Some(out) = result else { return };
    assert_eq!(out.status.code(), Some(1));
    let doc = json_of(&out);
    assert_eq!(
        doc["ephemeral_range"],
        serde_json::json!({"low": 40001, "high": 50000})
    );
    assert_eq!(
        doc["reserved_ports"],
        serde_json::json!([{"low": 44603, "high": 44603}, {"low": 46000, "high": 46010}])
    );
    // As root the scan covers every namespace: keep the private one's findings.
    let f = &own_rows(&doc, "findings");
    let risk = |addr, port| find(f, addr, port, "LISTEN").map(|x| x["risk"].clone());
    assert_eq!(risk("0.0.0.0", 44601), Some("high".into()));
    assert_eq!(risk("127.0.0.1", 44600), Some("medium".into()));
    assert_eq!(risk("0.0.0.0", 44603), None, "reserved port");
    assert_eq!(risk("::", 46005), None, "reserved range");
    assert_eq!(risk("0.0.0.0", 39999), None, "below the range");
    let sc = find(f, "127.0.0.1", 44999, "ESTABLISHED").expect("self-connect in the namespace");
    assert_eq!(sc["pid"], std::process::id());
    assert_eq!(f.as_array().unwrap().len(), 3, "{f:#}");
}

#[test]
fn an_ipv6_self_connect_is_found_alive_and_in_time_wait() {
    // In a quiet namespace the scanner skips a table that sockstat says is
    // empty; a lone IPv6 socket, alive or in TIME_WAIT, must still be read.
    let result = in_private_netns(|| {
        let me = self_connect("[::1]:44700".parse().unwrap());
        let alive = run(&["scan", "--json"]);
        drop(me);
        let closed = run(&["scan", "--json"]);
        (alive, closed)
    });
    let Some((alive, closed)) = result else {
        return;
    };
    let doc = json_of(&alive);
    let f = find(&doc["findings"], "::1", 44700, "ESTABLISHED").expect("alive");
    assert_eq!(f["kind"], "self_connect");
    assert_eq!(f["family"], "ipv6");
    let doc = json_of(&closed);
    assert!(
        find(&doc["findings"], "::1", 44700, "TIME_WAIT").is_some(),
        "{:#}",
        doc["findings"]
    );
}
