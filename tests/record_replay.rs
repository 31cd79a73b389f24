//! `--record` and `--replay`: a recording plays back the screens it was
//! made from, the header says it is a replay, keys that would act on the
//! machine are refused, damaged or foreign files are refused cleanly, and
//! a replay needs no root.

mod common;
mod dashboard_fixture;
mod pty_harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

use dashboard_fixture::*;
use selfconn_tui::repro::{Config, End, Mode, Snapshot as Counters, Stage, Target};
use selfconn_tui::tui::dashboard::Dashboard;
use selfconn_tui::tui::event::Event;
use selfconn_tui::tui::record::{Header, Mark, Recorder, Recording, ReplayNews};
use selfconn_tui::tui::repro::{Purpose, ReproUpdate};
use selfconn_tui::tui::theme::Theme;
use selfconn_tui::tui::worker::ReplaySource;

const W: u16 = 120;
const H: u16 = 40;

fn header() -> Header {
    Header::new("stage-laptop".into(), at(11, 58, 0), (W, H))
}

fn fresh() -> Dashboard {
    let mut d = Dashboard::new(Theme::default_dark(), Duration::from_secs(1), at(12, 0, 0));
    d.handle(Event::Resize(W, H));
    d
}

fn draw(d: &mut Dashboard) -> Vec<String> {
    let mut t = terminal(W, H);
    t.draw(|f| d.draw(f)).unwrap();
    screen(&t)
}

/// The scans of a short demo: a quiet host, a busy one, its listeners
/// only (live catch on), a failed scan, the quiet host again.
fn scans() -> Vec<Event> {
    vec![
        scan(plain_snapshot(at(12, 0, 0))),
        scan(busy_snapshot(at(12, 0, 4))),
        listeners_scan(busy_snapshot(at(12, 0, 5))),
        failed_scan(at(12, 0, 5), "/proc/net/tcp", "Permission denied"),
        scan(plain_snapshot(at(12, 0, 6))),
    ]
}

fn counters(attempts: u64, stage: Stage, port: u16) -> Counters {
    Counters {
        stage,
        attempts,
        refused: attempts.saturating_sub(1),
        elapsed: Duration::from_millis(attempts / 10),
        last_source_port: Some(port),
        even_source_ports: attempts,
        ..Counters::default()
    }
}

/// A run of the repro pane to itself on 127.0.0.1:44600.
fn repro_run() -> Vec<Event> {
    let target = Target::resolve("127.0.0.1", 44600).unwrap();
    let addr = target.addr();
    let config = Config::new(target, Mode::Reuse);
    let ended = End::SelfConnected {
        local: addr,
        peer: addr,
        echo: selfconn_tui::repro::Echo {
            sent: selfconn_tui::repro::ECHO_MESSAGE,
            received: selfconn_tui::repro::ECHO_MESSAGE.to_vec(),
            verified: true,
            error: None,
        },
    };
    [
        ReproUpdate::Suggested {
            purpose: Purpose::Open,
            port: Some(44600),
        },
        ReproUpdate::Started { slot: 0, config },
        ReproUpdate::Progress {
            slot: 0,
            stats: counters(1200, Stage::Trying, 44598),
        },
        ReproUpdate::Progress {
            slot: 0,
            stats: counters(23456, Stage::Trying, 44602),
        },
        ReproUpdate::Ended {
            slot: 0,
            end: ended,
            stats: counters(31337, Stage::EchoProven, 44600),
            held: true,
        },
    ]
    .into_iter()
    .map(|u| Event::Repro(Box::new(u)))
    .collect()
}

/// Records `events` while a dashboard shows them; returns its screens.
fn record(path: &Path, events: Vec<Event>) -> Vec<Vec<String>> {
    let mut rec = Recorder::create(path, &header()).unwrap();
    let mut d = fresh();
    let mut screens = Vec::new();
    for ev in events {
        assert_eq!(rec.observe(&ev), None);
        d.handle(ev);
        screens.push(draw(&mut d));
    }
    assert_eq!(rec.finish().unwrap(), screens.len() as u64);
    screens
}

fn all_inputs(r: &mut Recording) -> Vec<(Duration, Event)> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match r.next_input() {
            Some(Ok(i)) => out.push(i),
            Some(Err(e)) => panic!("a damaged input: {e}"),
            None => return out,
        }
    }
    panic!("more inputs than written")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn record_then_replay_gives_the_same_screens() {
    let dir = tmp();
    let path = dir.path().join("demo.rec.gz");
    let recorded = record(&path, scans());
    assert!(
        recorded[1].iter().any(|l| l.contains("45002")),
        "the busy scan shows"
    );
    assert!(
        recorded[2].iter().any(|l| l.contains("45002"))
            && recorded[2]
                .iter()
                .any(|l| l.contains("connections of 12:00:04")),
        "a listeners-only scan keeps the connections: {:#?}",
        recorded[2]
    );

    let mut r = Recording::open(&path).unwrap();
    assert_eq!(r.header().host, "stage-laptop");
    assert_eq!(r.header().terminal, (W, H));
    assert_eq!(r.header().started, at(11, 58, 0));
    let inputs = all_inputs(&mut r);
    assert_eq!(inputs.len(), recorded.len());
    let times: Vec<Duration> = inputs.iter().map(|(t, _)| *t).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in order: {times:?}"
    );

    let mut d = fresh();
    for (i, (_, ev)) in inputs.into_iter().enumerate() {
        d.handle(ev);
        assert_eq!(draw(&mut d), recorded[i], "screen {i} differs");
    }
}

#[test]
fn a_replayed_run_opens_the_pane_and_plays_its_counters() {
    let dir = tmp();
    let path = dir.path().join("run.rec.gz");
    let mut events = vec![scan(plain_snapshot(at(12, 0, 0)))];
    events.extend(repro_run());
    let mut rec = Recorder::create(&path, &header()).unwrap();
    let mut live = fresh();
    live.handle(ch('r'));
    for ev in events {
        rec.observe(&ev);
        live.handle(ev);
    }
    rec.finish().unwrap();

    let mut r = Recording::open(&path).unwrap();
    let mut d = fresh();
    d.app
        .set_mark(Some(Mark::replay("run.rec.gz", r.header(), 1.0)));
    for (_, ev) in all_inputs(&mut r) {
        d.handle(ev);
    }
    assert!(
        d.app.repro().is_open(),
        "the pane opened when the run started"
    );
    let (a, b) = (live.app.repro().slot(0), d.app.repro().slot(0));
    let (ra, rb) = (a.run().unwrap(), b.run().unwrap());
    assert_eq!(rb.stats, ra.stats);
    assert_eq!(rb.ports, ra.ports);
    assert_eq!(rb.rates, ra.rates);
    assert!(rb.end.as_ref().is_some_and(End::is_self_connected));
    let s = draw(&mut d).join("\n");
    assert!(s.contains("REPLAY of run.rec.gz"), "{s}");
    assert!(s.contains("44600"), "{s}");
    // Nothing went to the runner: a replay binds no socket.
    assert!(
        d.app
            .requests()
            .iter()
            .all(|r| !matches!(r, selfconn_tui::tui::app::Request::Repro(_)))
    );
}

#[test]
fn the_header_marks_a_replay() {
    let mut d = fresh();
    d.app
        .set_mark(Some(Mark::replay("talk/demo.rec.gz", &header(), 2.0)));
    d.handle(scan(busy_snapshot(at(12, 0, 4))));
    d.set_now(at(12, 0, 5));
    let before = draw(&mut d);
    d.handle(Event::Replay(ReplayNews::Ended {
        inputs: 4,
        problem: None,
    }));
    let after = draw(&mut d);
    let head = |s: &[String]| s[..4].join("\n");
    insta::assert_snapshot!("replay_header", head(&before));
    assert!(
        head(&after).contains("ended (4 inputs played)"),
        "{}",
        head(&after)
    );
}

#[test]
fn keys_that_act_on_the_machine_are_refused_in_a_replay() {
    let mut d = fresh();
    d.app
        .set_mark(Some(Mark::replay("demo.rec.gz", &header(), 1.0)));
    d.handle(scan(plain_snapshot(at(12, 0, 0))));
    d.handle(ch('r'));
    assert!(d.app.repro().is_open(), "the pane may be looked at");
    d.handle(ch('4'));
    d.handle(ch('4'));
    d.handle(ch('s'));
    d.handle(ch('x'));
    d.handle(ch('c'));
    assert!(
        d.app.take_requests().is_empty(),
        "no work for the runner or the scanner"
    );
    assert!(!d.app.repro().any_busy());
    let line = d.app.mark().unwrap().line();
    assert!(
        line.contains("refused") && line.contains("acts on nothing"),
        "{line}"
    );
    let s = draw(&mut d).join("\n");
    assert!(s.contains("refused"), "{s}");

    // K on a recorded self-connect: no question, no request.
    d.handle(ch('r'));
    d.handle(key(crossterm::event::KeyCode::Esc));
    d.handle(ch('K'));
    assert!(d.app.take_requests().is_empty());
    let line = d.app.mark().unwrap().line();
    assert!(line.contains("destroying a socket refused"), "{line}");

    // Live, the same key asks the runner to start.
    let mut live = fresh();
    live.handle(scan(plain_snapshot(at(12, 0, 0))));
    live.handle(ch('r'));
    live.app.take_requests();
    typed(&mut live, "44600");
    live.handle(ch('s'));
    assert!(!live.app.take_requests().is_empty());
}

/// A gzip file holding `text`.
fn gzip(path: &Path, text: &str) {
    let mut g = GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::default());
    g.write_all(text.as_bytes()).unwrap();
    g.finish().unwrap();
}

fn refused(path: &Path) -> String {
    match Recording::open(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn foreign_and_damaged_files_are_refused_clearly() {
    let dir = tmp();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("plain.txt"), "hello\n").unwrap();
    assert!(refused(&p("plain.txt")).contains("not a selfconn-tui recording"));
    std::fs::write(p("empty"), "").unwrap();
    assert!(refused(&p("empty")).contains("not a selfconn-tui recording"));
    gzip(&p("other.gz"), "{\"format\":\"asciicast\",\"version\":1}\n");
    assert!(refused(&p("other.gz")).contains("another format"));
    gzip(&p("text.gz"), "just text\n");
    assert!(refused(&p("text.gz")).contains("not JSON"));
    let mut h = serde_json::to_value(header()).unwrap();
    h["version"] = 99.into();
    gzip(&p("v99.gz"), &format!("{h}\n"));
    let msg = refused(&p("v99.gz"));
    assert!(
        msg.contains("version 99") && msg.contains("reads version 1"),
        "{msg}"
    );
    assert!(refused(&p("missing")).contains("No such file"));
    assert!(refused(dir.path()).contains("directory"));

    // A good header, then a damaged line, then one that breaks a rule the
    // dashboard relies on (a socket of a namespace not listed).
    let h = serde_json::to_string(&header()).unwrap();
    gzip(&p("bad-line.gz"), &format!("{h}\n{{\"ms\":1,\"input\n"));
    let mut r = Recording::open(&p("bad-line.gz")).unwrap();
    let e = r.next_input().unwrap().expect_err("an error");
    assert!(e.contains("input 1 is damaged"), "{e}");
    assert!(r.next_input().is_none());
}

#[test]
fn a_snapshot_that_breaks_the_dashboards_rules_is_refused() {
    let dir = tmp();
    let path = dir.path().join("rules.gz");
    let mut snap = busy_snapshot(at(12, 0, 0));
    snap.sockets[0].netns = 7;
    let mut rec = Recorder::create(&path, &header()).unwrap();
    rec.observe(&scan(snap));
    rec.finish().unwrap();
    let mut r = Recording::open(&path).unwrap();
    let e = r.next_input().unwrap().expect_err("refused");
    assert!(e.contains("namespace 7"), "{e}");
}

/// A recording of `n` busy scans.
fn long_recording(path: &Path, n: u32) {
    let mut rec = Recorder::create(path, &header()).unwrap();
    for i in 0..n {
        let mut s = busy_snapshot(at(12, i / 60, i % 60));
        // Different each time, so that compression leaves bytes to cut.
        s.scan_micros = u64::from(i).wrapping_mul(2_654_435_761);
        rec.observe(&scan(s));
    }
    rec.finish().unwrap();
}

#[test]
fn a_truncated_recording_plays_what_it_can_and_says_so() {
    let dir = tmp();
    let path = dir.path().join("cut.gz");
    long_recording(&path, 40);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();

    let mut r = Recording::open(&path).unwrap();
    let (mut ok, mut err) = (0, None);
    for _ in 0..100 {
        match r.next_input() {
            Some(Ok(_)) => ok += 1,
            Some(Err(e)) => err = Some(e),
            None => break,
        }
    }
    assert!(ok > 0 && ok < 40, "{ok} inputs played");
    let e = err.expect("the cut is reported");
    assert!(e.starts_with(&format!("after {ok} inputs")), "{e}");

    // The replay source says so too.
    let (tx, rx) = mpsc::channel();
    let _source = ReplaySource::spawn(Recording::open(&path).unwrap(), 1000.0, tx).unwrap();
    let mut scans = 0;
    let news = loop {
        match rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the replay ends")
        {
            Event::Scan(_) => scans += 1,
            Event::Replay(n) => break n,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(scans, ok);
    assert!(
        matches!(&news, ReplayNews::Ended { inputs, problem: Some(p) } if *inputs == ok && p.contains("after")),
        "{news:?}"
    );
}

/// Two scans, `gap` apart in real time (the recorder stamps inputs as
/// they come).
fn paced_recording(path: &Path, gap: Duration) {
    let mut rec = Recorder::create(path, &header()).unwrap();
    rec.observe(&scan(plain_snapshot(at(12, 0, 0))));
    let deadline = Instant::now() + gap;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    rec.observe(&scan(busy_snapshot(at(12, 0, 1))));
    rec.finish().unwrap();
}

#[test]
fn the_replay_source_keeps_the_recorded_pace_divided_by_the_speed() {
    let dir = tmp();
    let path = dir.path().join("paced.gz");
    let gap = Duration::from_millis(400);
    paced_recording(&path, gap);

    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let source = ReplaySource::spawn(Recording::open(&path).unwrap(), 4.0, tx).unwrap();
    let mut kinds = Vec::new();
    for _ in 0..3 {
        match rx.recv_timeout(Duration::from_secs(10)).expect("an event") {
            Event::Scan(s) => kinds.push(format!("scan {}", s.result.unwrap().sockets.len())),
            Event::Replay(ReplayNews::Ended { inputs, problem }) => {
                assert_eq!((inputs, problem), (2, None));
                kinds.push("end".into());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let took = started.elapsed();
    let busy = busy_snapshot(at(12, 0, 1)).sockets.len();
    let plain = plain_snapshot(at(12, 0, 0)).sockets.len();
    assert_eq!(
        kinds,
        [
            format!("scan {plain}"),
            format!("scan {busy}"),
            "end".into()
        ]
    );
    assert!(took >= gap / 4, "played in {took:?}, faster than ×4");
    assert!(took < gap, "played in {took:?}: not faster than recorded");
    source.stop();
}

#[test]
fn a_stopped_replay_source_sends_nothing_more() {
    let dir = tmp();
    let path = dir.path().join("stop.gz");
    paced_recording(&path, Duration::from_millis(100));
    let (tx, rx) = mpsc::channel();
    // At ×0.001 the second input would come after minutes.
    let source = ReplaySource::spawn(Recording::open(&path).unwrap(), 0.001, tx).unwrap();
    assert!(matches!(
        rx.recv_timeout(Duration::from_secs(10)),
        Ok(Event::Scan(_))
    ));
    source.stop();
    // The thread ends (dropping its sender) within a nap.
    match rx.recv_timeout(Duration::from_secs(5)) {
        Err(mpsc::RecvTimeoutError::Disconnected) => {}
        other => panic!("the source went on: {other:?}"),
    }
}

#[test]
fn recording_stops_at_its_limit_and_stays_playable() {
    let dir = tmp();
    let path = dir.path().join("full.gz");
    let mut rec = Recorder::create(&path, &header())
        .unwrap()
        .with_limit(50_000);
    let mut note = None;
    for i in 0..100 {
        if let Some(n) = rec.observe(&scan(busy_snapshot(at(12, 0, i % 60)))) {
            note = Some(n);
            break;
        }
    }
    let note = note.expect("the limit is reached");
    assert!(note.contains("limit"), "{note}");
    let kept = rec.inputs();
    assert!(kept > 0);
    assert!(rec.observe(&scan(plain_snapshot(at(12, 1, 0)))).is_none());
    rec.finish().unwrap();
    let mut r = Recording::open(&path).unwrap();
    assert_eq!(all_inputs(&mut r).len() as u64, kept);
}

fn cli(args: &[&str]) -> std::process::Output {
    common::run(args)
}

#[test]
fn the_cli_refuses_bad_recordings_and_speeds_with_exit_2() {
    let dir = tmp();
    let bad = dir.path().join("bad.gz");
    std::fs::write(&bad, "not gzip at all").unwrap();
    let bad = bad.to_str().unwrap();
    let out = cli(&["--replay", bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot replay") && err.contains("not a selfconn-tui recording"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let good = dir.path().join("good.gz");
    long_recording(&good, 1);
    let good = good.to_str().unwrap();
    for speed in ["0", "-1", "nan", "x"] {
        let out = cli(&["--replay", good, "--speed", speed]);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--speed"), "{err}");
    }
    let out = cli(&["--replay", good, "--record", "/tmp/never-written.gz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!Path::new("/tmp/never-written.gz").exists());
    let out = cli(&["--speed", "2"]);
    assert_eq!(out.status.code(), Some(2), "--speed needs --replay");
}

/// Makes `path` and its directory readable by anyone (for uid 65534).
fn open_to_all(dir: &Path, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_replay_needs_no_root() {
    if !common::root_or_skip("dropping to uid 65534 with setpriv needs root") {
        return;
    }
    let dir = tmp();
    let path: PathBuf = dir.path().join("demo.rec.gz");
    long_recording(&path, 2);
    open_to_all(dir.path(), &path);
    let bin = env!("CARGO_BIN_EXE_selfconn-tui");
    let mut run = pty_harness::Running::start_program(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin,
            "--replay",
            path.to_str().unwrap(),
        ],
        &[("XDG_CONFIG_HOME", "/nonexistent/selfconn-tui-tests")],
    );
    run.wait_for("the replay's mark and its findings", |s| {
        let text = s.contents();
        text.contains("REPLAY of") && text.contains("stage-laptop") && text.contains("45002")
    });
    let text = run.screen().contents();
    assert!(
        text.contains("self-connect") || text.contains("45002"),
        "{text}"
    );
    run.send(b"q");
    let status = run.wait_exit();
    assert!(status.success(), "{status:?}");
    run.assert_terminal_restored();
}
