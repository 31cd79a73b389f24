//! Packet capture on the real kernel: the port filter run by a real
//! `AF_PACKET` socket, the strip fed by a real self-connect, our lines
//! against tcpdump's on the same capture file, `repro --pcap` read back with
//! `tcpdump -r`, and the reason given without root. Everything that needs
//! root runs in a private network namespace.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use selfconn_tui::core::packets::{LineKind, Packet, SeqTracker, Strip, parse, tcpdump_line};
use selfconn_tui::report::pcap;
use selfconn_tui::sys::capture::{Capture, CaptureError, Finished};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_selfconn-tui");

/// Hands the capture's packets to `take` until it says it has what it
/// waits for, or 5 s pass.
fn collect_until(capture: &Capture, mut take: impl FnMut(Vec<Packet>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if take(capture.take_new()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A connect that is refused (nothing listens on `to`).
fn refused(to: SocketAddr) {
    let err = TcpStream::connect_timeout(&to, Duration::from_secs(2)).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
}

fn tcpdump_available(test: &str) -> bool {
    let found = Command::new("tcpdump").arg("--version").output().is_ok();
    if !found {
        common::skip(&format!(
            "{test}: tcpdump is not installed (.ci/run installs it)"
        ));
    }
    found
}

/// `tcpdump -n -r FILE` with times in UTC; its lines.
fn tcpdump_read(file: &Path) -> Vec<String> {
    let out = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(file)
        .env("TZ", "UTC")
        .output()
        .expect("tcpdump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_kernel_filter_passes_the_ports_tcp_packets_once_each_and_nothing_else() {
    let result = common::in_private_netns(|| {
        let port = common::free_port("127.0.0.1");
        let other = common::free_port("127.0.0.1");
        let capture = Capture::start(port).expect("capture as root");
        refused(SocketAddr::from(([127, 0, 0, 1], other)));
        refused(SocketAddr::from(([127, 0, 0, 1], port)));
        refused(format!("[::1]:{port}").parse().unwrap());
        let mut seen = Vec::new();
        collect_until(&capture, |new| {
            seen.extend(new);
            seen.len() >= 4
        });
        let Finished { stats, error, .. } = capture.finish();
        (port, other, seen, stats, error)
    });
    let Some((port, other, seen, stats, error)) = result else {
        return;
    };
    assert!(error.is_none(), "{error:?}");
    // Two refused attempts to the port: [S] and [R.] each, once each
    // (the loopback's second copy filtered out), and nothing of `other`.
    let flags: Vec<String> = seen.iter().map(|p| p.flags.tcpdump()).collect();
    assert_eq!(flags, ["S", "R.", "S", "R."], "{seen:#?}");
    assert!(
        seen.iter()
            .all(|p| p.dst.port() == port || p.src.port() == port)
    );
    assert!(
        seen.iter()
            .all(|p| p.dst.port() != other && p.src.port() != other)
    );
    assert_eq!([seen[0].is_v6(), seen[2].is_v6()], [false, true]);
    assert_eq!(seen[1].ack, seen[0].seq.wrapping_add(1));
    // Finishing reads what was still coming: nothing more, and nothing
    // that user space had to throw away.
    assert_eq!(stats.packets, 4);
    assert_eq!(
        stats.skipped, 0,
        "only one copy of the port's TCP passed the filter"
    );
}

#[test]
fn a_self_connect_puts_its_three_packets_at_the_end_of_the_strip() {
    let result = common::in_private_netns(|| {
        let port = common::free_port("127.0.0.1");
        let target = SocketAddr::from(([127, 0, 0, 1], port));
        let capture = Capture::start(port).expect("capture as root");
        for _ in 0..5 {
            refused(target);
        }
        let socket = common::self_connect(target);
        let mut strip = Strip::new(port, 20);
        collect_until(&capture, |new| {
            new.into_iter().for_each(|p| strip.push(p));
            strip.self_connect().is_some()
        });
        drop(socket);
        capture.finish();
        (port, strip)
    });
    let Some((port, strip)) = result else {
        return;
    };
    let me = format!("127.0.0.1.{port}");
    let lines = strip.lines(0);
    let kinds: Vec<LineKind> = lines.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [
            LineKind::Folded,
            LineKind::Handshake,
            LineKind::Handshake,
            LineKind::Handshake
        ],
        "{lines:#?}"
    );
    assert!(
        lines[0].text.starts_with("… 5 refused attempts folded"),
        "{}",
        lines[0].text
    );
    let isn = strip.self_connect().expect("seen whole").isn;
    let same = format!(" IP {me} > {me}: Flags ");
    assert!(
        lines[1].text.contains(&format!("{same}[S], seq {isn}, ")),
        "{}",
        lines[1].text
    );
    assert!(
        lines[2].text.contains(&format!(
            "{same}[S.], seq {isn}, ack {}, ",
            isn.wrapping_add(1)
        )),
        "{}",
        lines[2].text
    );
    assert!(
        lines[3].text.contains(&format!("{same}[.], ack 1, ")),
        "{}",
        lines[3].text
    );
}

#[test]
fn our_lines_are_tcpdumps_lines_for_the_same_capture_file() {
    if !tcpdump_available("our_lines_are_tcpdumps_lines") {
        return;
    }
    let result = common::in_private_netns(|| {
        let port = common::free_port("127.0.0.1");
        let capture = Capture::start(port).expect("capture as root");
        for host in ["127.0.0.1", "[::1]"] {
            let target: SocketAddr = format!("{host}:{port}").parse().unwrap();
            refused(target);
            let socket = common::self_connect(target);
            // Data that comes back, then the close: [P.], [.], [F.].
            socket.send(b"hello").unwrap();
            let mut buf = [std::mem::MaybeUninit::new(0u8); 8];
            assert_eq!(socket.recv(&mut buf).unwrap(), 5);
            drop(socket);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        // Both closes seen: each ends with a FIN from the port to itself.
        while capture.stats().packets < 2 * (2 + 3 + 2 + 2) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        capture.finish()
    });
    let Some(done) = result else {
        return;
    };
    let kept = done.tail.packets();
    assert!(kept.len() >= 18, "{} packets", kept.len());
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut f = file.reopen().unwrap();
    pcap::write_to(&mut f, kept.iter().copied()).unwrap();

    let mut tracker = SeqTracker::default();
    let ours: Vec<String> = kept
        .iter()
        .map(|c| {
            let p = parse(&c.data, c.time).expect("a TCP packet");
            tcpdump_line(&p, &tracker.observe(&p), 0)
        })
        .collect();
    let theirs = tcpdump_read(file.path());
    assert_eq!(ours, theirs);
    for wanted in [
        "Flags [S.]",
        "Flags [R.]",
        "Flags [P.]",
        "Flags [F.]",
        " IP6 ",
    ] {
        assert!(
            ours.iter().any(|l| l.contains(wanted)),
            "no {wanted} in {ours:#?}"
        );
    }
}

/// `selfconn-tui repro ARGS` in a private namespace whose range is
/// 44000-44999; `None` (and a note) when not root.
fn repro_in_netns(test: &str, args: &[&str]) -> Option<Output> {
    common::repro_in_netns_with_range(test, "44000 44999", args)
}

#[test]
fn repro_pcap_writes_a_file_that_tcpdump_reads_with_the_handshake() {
    if !tcpdump_available("repro_pcap_writes_a_file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.pcap");
    let file_arg = file.to_str().unwrap();
    let Some(out) = repro_in_netns(
        "repro_pcap_writes_a_file",
        &["--port", "44600", "--max-time", "20", "--pcap", file_arg],
    ) else {
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("with the self-connect handshake"),
        "{stderr}"
    );
    let lines = tcpdump_read(&file);
    assert!(lines.len() <= 203, "bounded: {} lines", lines.len());
    let me = "127.0.0.1.44600 > 127.0.0.1.44600: Flags";
    let at = |flags: &str| {
        lines
            .iter()
            .position(|l| l.contains(&format!("{me} [{flags}]")))
            .unwrap_or_else(|| panic!("no [{flags}] from the port to itself in {lines:#?}"))
    };
    let (syn, syn_ack, ack) = (at("S"), at("S."), at("."));
    assert!(syn < syn_ack && syn_ack < ack, "{lines:#?}");
    // Refused attempts before it, from other ports.
    assert!(
        lines[..syn]
            .iter()
            .any(|l| l.contains("> 127.0.0.1.44600: Flags [S]"))
    );
    assert!(
        lines[..syn]
            .iter()
            .any(|l| l.contains("127.0.0.1.44600 > ") && l.contains("Flags [R.]"))
    );
}

#[test]
fn not_root_is_a_stated_reason() {
    if !common::root_or_skip("dropping to another user needs root") {
        return;
    }
    let stdout = common::run_ignored_test_as_nobody("not_root_inner");
    assert!(
        stdout.contains("capture: off (packet strip: needs root)"),
        "{stdout}"
    );

    // The command refuses before the run, and leaves no file behind.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nope.pcap");
    let out = Command::new("setpriv")
        .args(common::AS_NOBODY)
        .arg(BIN)
        .args(["repro", "--port", "44600", "--max-attempts", "1", "--pcap"])
        .arg(&file)
        .output()
        .expect("setpriv runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--pcap: capturing packets needs root"),
        "{stderr}"
    );
    assert!(!file.exists());
}

#[test]
#[ignore = "run by not_root_is_a_stated_reason as another user"]
fn not_root_inner() {
    assert!(!common::is_root(), "this half runs without root");
    let err = Capture::start(44600).err().expect("refused without root");
    assert!(matches!(err, CaptureError::NeedsRoot), "{err}");
    println!("capture: off ({})", err.short());
}
