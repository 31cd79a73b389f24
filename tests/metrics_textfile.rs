//! `selfconn-tui scan --prometheus FILE`: the file node_exporter reads is
//! replaced whole (a reader never sees part of it), and a failed write
//! (no directory, not a directory, disk full, read-only) keeps the old one.

mod common;
mod metrics_support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The last family of the exposition: a file that has it is complete.
const LAST_LINE: &str = "# TYPE selfconn_retry_storms_total counter\n";

fn write_metrics(path: &Path) -> std::process::Output {
    run(&["scan", "--prometheus", path.to_str().unwrap()])
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_the_metrics_readable_by_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selfconn.prom");
    let out = write_metrics(&path);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout: a timer runs it");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# HELP selfconn_self_connected_sockets "));
    assert!(text.ends_with(LAST_LINE), "{text}");
    assert!(text.contains("selfconn_live_catch_enabled 0\n"));
    assert!(text.contains("selfconn_scan_duration_seconds_count 1\n"));
    // node_exporter has its own process metrics; no age in a file.
    assert!(!text.contains("process_") && !text.contains("_age_seconds"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o044,
        0o044,
        "readable by group and others: {mode:o}"
    );
    assert_eq!(names_in(dir.path()), vec!["selfconn.prom"]);

    // --json and --prometheus are two different outputs.
    let out = run(&["scan", "--json", "--prometheus", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_reader_sees_the_old_file_or_the_new_never_a_part() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("selfconn.prom");
    assert_eq!(write_metrics(&path).status.code(), Some(0));
    let first = std::fs::read_to_string(&path).unwrap();

    // A reader that opened the old file keeps all of it: it was replaced,
    // not rewritten in place.
    let mut held = std::fs::File::open(&path).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0u32;
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.starts_with("# HELP ") && text.ends_with(LAST_LINE),
                    "a partial file ({} bytes) after {reads} reads",
                    text.len()
                );
                reads += 1;
            }
            reads
        });
        for _ in 0..15 {
            let out = write_metrics(&path);
            assert_eq!(out.status.code(), Some(0), "{out:?}");
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        reader.join().unwrap()
    });
    assert!(
        reads > 15,
        "the reader ran alongside the writes ({reads} reads)"
    );
    let mut old = String::new();
    held.read_to_string(&mut old).unwrap();
    assert_eq!(old, first);
    assert_eq!(names_in(dir.path()), vec!["selfconn.prom"]);
}

#[test]
fn a_missing_directory_or_a_file_as_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = write_metrics(&dir.path().join("missing/selfconn.prom"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/missing does not exist"), "{err}");
    assert!(err.contains("the old file, if any, is unchanged"), "{err}");

    let file = dir.path().join("plain");
    std::fs::write(&file, "not a directory\n").unwrap();
    let out = write_metrics(&file.join("selfconn.prom"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/plain is not a directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory\n");
    assert_eq!(names_in(dir.path()), vec!["plain"]);
}

/// A full disk, then a read-only one: a one-page tmpfs holding the old file,
/// mounted in a private mount namespace (gone with the shell).
#[test]
fn disk_full_and_read_only_keep_the_old_file() {
    if !root_or_skip("mounting a tmpfs (in a private mount namespace) needs root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let script = r#"
        set -e
        mnt=$1; bin=$2
        mount -t tmpfs -o size=4k,mode=0755 selfconn-test "$mnt"
        printf 'old\n' > "$mnt/selfconn.prom"
        set +e
        "$bin" scan --prometheus "$mnt/selfconn.prom" 2>&1; echo "full rc=$?"
        echo "full file=$(cat "$mnt/selfconn.prom") entries=$(ls -A "$mnt" | tr '\n' ' ')"
        mount -o remount,ro "$mnt"
        "$bin" scan --prometheus "$mnt/selfconn.prom" 2>&1; echo "ro rc=$?"
        echo "ro file=$(cat "$mnt/selfconn.prom") entries=$(ls -A "$mnt" | tr '\n' ' ')"
    "#;
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_selfconn-tui"))
        .output()
        .expect("unshare runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let expect = [
        "no space left on the device of",
        "full rc=2",
        "full file=old entries=selfconn.prom ",
        "is on a read-only file system",
        "ro rc=2",
        "ro file=old entries=selfconn.prom ",
    ];
    assert_eq!(lines.len(), expect.len(), "{text}");
    for (line, want) in lines.iter().zip(expect) {
        assert!(line.contains(want), "{want:?} in {line:?}\n{text}");
    }
    // The mount was private to the shell: nothing is left mounted here.
    assert_eq!(std::fs::read_dir(&mnt).unwrap().count(), 0);
}
