//! `scan` on crafted `/proc` trees that a hostile or broken system could
//! present: huge lines, files without newlines, floods of garbled rows,
//! random bytes, tables without their header, huge sysctl values. Every
//! scan must end, say what is wrong in a bounded, readable way, and never
//! pass garbage off as "nothing found". The big trees are built at test
//! time in a temporary directory.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const HEADER6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

/// A self-connection on 127.0.0.1:44600 (0xAE38), established.
const SELF_CONNECT: &str = "   0: 0100007F:AE38 0100007F:AE38 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 20 4 30 10 -1";

/// A garbled row: the state field is not a TCP state.
const GARBLED: &str = "   1: 0100007F:AE38 0100007F:0016 ZZ 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 30 10 -1";

/// How long any scan here may take before it counts as a hang (generous:
/// the machine is small and shared; a working scan takes well under 2 s).
const DEADLINE: Duration = Duration::from_secs(60);

/// A `/proc` tree with the default port policy and the given tables.
fn tree(tcp: &[u8], tcp6: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sys/net/ipv4/ip_local_port_range",
        b"32768\t60999\n",
    );
    write(dir.path(), "sys/net/ipv4/ip_local_reserved_ports", b"\n");
    write(dir.path(), "net/tcp", tcp);
    write(dir.path(), "net/tcp6", tcp6);
    dir
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn empty6() -> Vec<u8> {
    format!("{HEADER6}\n").into_bytes()
}

/// Runs the binary, failing the test (and killing it) when it is not done
/// by [`DEADLINE`]. Output is drained on threads so that a flood cannot
/// block the child.
fn run_bounded(args: &[&str]) -> Output {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`selfconn-tui {}` still running after {DEADLINE:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn scan_json(root: &Path) -> (Output, Value) {
    let out = run_bounded(&["scan", "--json", "--proc-root", root.to_str().unwrap()]);
    let doc = json_of(&out);
    (out, doc)
}

fn scan_text(root: &Path) -> Output {
    run_bounded(&["scan", "--proc-root", root.to_str().unwrap()])
}

fn errors_of(doc: &Value) -> Vec<String> {
    doc["errors"]
        .as_array()
        .expect("an errors list")
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["source"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// Some error says all of `words`.
fn assert_said(errors: &[String], words: &[&str]) {
    assert!(
        errors.iter().any(|e| words.iter().all(|w| e.contains(w))),
        "no error says {words:?}: {errors:#?}"
    );
}

/// No procfs internals, no build paths, one line each.
fn assert_our_own_words(lines: &[String]) {
    for l in lines {
        assert!(
            !l.contains("Internal") && !l.contains("procfs") && !l.contains(".cargo"),
            "{l}"
        );
        assert!(!l.contains('\n'), "one line: {l:?}");
    }
}

#[test]
fn a_header_line_of_512_kib_does_not_hang_and_the_rows_after_it_are_read() {
    let mut tcp = vec![b'h'; 512 * 1024];
    tcp.push(b'\n');
    tcp.extend_from_slice(SELF_CONNECT.as_bytes());
    tcp.push(b'\n');
    let dir = tree(&tcp, &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(1), "the self-connect is found");
    assert_eq!(doc["findings"][0]["local_port"], 44600);
    let errors = errors_of(&doc);
    assert_said(&errors, &["net/tcp line 1", "524,288 bytes"]);
    assert_our_own_words(&errors);
}

#[test]
fn an_8_mb_table_without_a_newline_ends_as_an_error() {
    let tcp = vec![b'7'; 8 * 1024 * 1024];
    let dir = tree(&tcp, &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(2), "nothing readable: exit 2");
    let errors = errors_of(&doc);
    assert_said(&errors, &["line 1", "8,388,608 bytes"]);
    assert_said(&errors, &["no row could be read"]);
}

#[test]
fn two_hundred_thousand_garbled_rows_give_a_few_warnings_and_a_count() {
    let mut tcp = format!("{HEADER}\n");
    for _ in 0..200_000 {
        tcp.push_str(GARBLED);
        tcp.push('\n');
    }
    tcp.push_str(SELF_CONNECT);
    tcp.push('\n');
    let dir = tree(tcp.as_bytes(), &empty6());

    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(1), "the one good row is a finding");
    assert!(
        out.stdout.len() < 16 * 1024,
        "JSON of {} bytes",
        out.stdout.len()
    );
    let errors = errors_of(&doc);
    assert!(errors.len() <= 12, "{} errors", errors.len());
    assert_said(&errors, &["and 199,990 more unreadable rows"]);

    let out = scan_text(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.len() < 8 * 1024, "stderr of {} bytes", stderr.len());
    assert!(
        stderr.contains("and 199,990 more unreadable rows"),
        "{stderr}"
    );
}

#[test]
fn a_garbled_row_is_described_in_one_line_of_our_own() {
    let tcp = format!("{HEADER}\n{SELF_CONNECT}\n{GARBLED}\n");
    let dir = tree(tcp.as_bytes(), &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let errors = errors_of(&doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("net/tcp line 3"), "{errors:?}");
    assert!(
        errors[0].contains("\"ZZ\" is not a TCP state"),
        "{errors:?}"
    );
    assert_our_own_words(&errors);

    let out = scan_text(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<String> = stderr.lines().map(str::to_string).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert_our_own_words(&warnings);
}

#[test]
fn random_bytes_are_an_error_not_a_clean_bill() {
    // A fixed xorshift sequence: the same "random" table every run.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let dir = tree(&bytes, &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(2), "garbage is not 'nothing found'");
    assert_eq!(doc["findings"], serde_json::json!([]));
    let errors = errors_of(&doc);
    assert_said(&errors, &["net/tcp:", "no row could be read"]);
    assert!(errors.len() <= 12, "{} errors", errors.len());
    assert_our_own_words(&errors);

    let out = scan_text(dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("no row could be read"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("No self-connected") && stdout.contains("Nothing can be concluded"),
        "{stdout}"
    );
}

#[test]
fn a_table_of_only_garbled_rows_is_an_error() {
    let tcp = format!("{HEADER}\n{GARBLED}\n{GARBLED}\n   2: nonsense\n");
    let dir = tree(tcp.as_bytes(), &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(2));
    let errors = errors_of(&doc);
    assert_said(&errors, &["no row could be read"]);
    // An empty table (the header alone) is fine: no sockets, no error.
    let dir = tree(format!("{HEADER}\n").as_bytes(), &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(errors_of(&doc), Vec::<String>::new());
}

#[test]
fn a_table_without_its_header_keeps_its_first_row() {
    let second = SELF_CONNECT
        .replace("AE38 0100007F:AE38", "AE3A 0100007F:AE3A")
        .replace("12345", "12346");
    let tcp = format!("{SELF_CONNECT}\n{second}\n");
    let dir = tree(tcp.as_bytes(), &empty6());
    let (out, doc) = scan_json(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let mut ports: Vec<u64> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["local_port"].as_u64().unwrap())
        .collect();
    ports.sort();
    assert_eq!(ports, vec![44600, 44602], "both rows, the first one too");
    let errors = errors_of(&doc);
    assert_said(&errors, &["net/tcp line 1", "no header line"]);
}

#[test]
fn thirty_two_thousand_reserved_ports_make_a_short_summary() {
    let dir = tree(format!("{HEADER}\n").as_bytes(), &empty6());
    // Every odd port from 1 to 65535: 32,768 single-port entries.
    let list: Vec<String> = (0..32_768u32).map(|i| (2 * i + 1).to_string()).collect();
    write(
        dir.path(),
        "sys/net/ipv4/ip_local_reserved_ports",
        format!("{}\n", list.join(",")).as_bytes(),
    );
    let out = scan_text(dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("reserved"))
        .unwrap_or_else(|| panic!("a summary line in {stdout}"));
    assert!(line.len() < 200, "a summary line of {} bytes", line.len());
    assert!(line.contains("32,768 ports"), "{line}");
    // JSON stays exact.
    let (_, doc) = scan_json(dir.path());
    assert_eq!(doc["reserved_ports"].as_array().unwrap().len(), 32_768);
}

#[test]
fn a_huge_sysctl_value_is_not_echoed_whole() {
    let dir = tree(format!("{HEADER}\n").as_bytes(), &empty6());
    write(
        dir.path(),
        "sys/net/ipv4/ip_local_port_range",
        &vec![b'x'; 1024 * 1024],
    );
    let out = scan_text(dir.path());
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ip_local_port_range"), "{stderr}");
    assert!(stderr.len() < 1024, "stderr of {} bytes", stderr.len());
}

/// The dashboard's scan thread uses the same scanner: through the library,
/// a scan of the 512 KiB header ends too.
#[test]
fn the_library_scanner_ends_on_a_huge_header() {
    use selfconn_tui::sys::scanner::{ScanOptions, Scanner};
    let mut tcp = vec![b' '; 600 * 1024];
    tcp.push(b'\n');
    let dir = tree(&tcp, &empty6());
    let root = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut scanner = Scanner::new(ScanOptions {
            proc_root: root,
            ..ScanOptions::default()
        });
        let _ = tx.send(scanner.scan().map(|s| s.errors));
    });
    let errors = rx
        .recv_timeout(DEADLINE)
        .expect("the scan ends")
        .expect("a snapshot");
    assert!(
        errors.iter().any(|e| e.source.ends_with("net/tcp line 1")),
        "{errors:?}"
    );
}
