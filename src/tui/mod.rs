//! The dashboard: a full-screen view over the scanner.
//!
//! Threads: the scan worker ([`worker`]), the terminal reader and the
//! signal forwarder ([`event`]), and live catch's reader
//! (`crate::sys::tracefs`, when root and tracefs allow it) send one
//! [`event::Event`] enum over one channel; the main loop here handles them in batches and draws only when
//! something changed, or once a second for the clock. Ctrl-Z and SIGTSTP
//! suspend it like other full-screen programs: the terminal is handed
//! back, the process stops, and on SIGCONT the terminal is taken back and
//! everything redrawn. While a repro loop
//! runs ([`repro::runner`], one thread per loop), the main loop also wakes
//! about ten times a second, samples its counters (atomics, no lock) and
//! draws. The state and the drawing ([`dashboard::Dashboard`],
//! [`app::App`], [`panes`]) know nothing of threads or the real terminal,
//! so tests drive them directly.
//!
//! Modules: [`keymap`] (the key table), [`text_input`] (editing typed
//! text), [`pane`] (the component trait), [`layout`], [`theme`], [`view`]
//! (filter and sort), [`tracker`] (the event log: the core's changes, kept for the
//! log pane), [`terminal`] (enter and restore), [`interval`]
//! (`--interval`), [`repro`] (the repro pane: its form, state, thread and
//! view), [`bigdigits`] (numbers in large type), [`record`] (`--record`
//! and `--replay`: a replay source stands in for the scan worker and the
//! repro runner; a recorder writes what arrives), [`destroy`] (freeing a
//! port: destroying one self-connected socket the user confirmed),
//! `requests` (what the dashboard asks of the worker, the runner and the
//! machine, and the answers back).

pub mod app;
pub mod bigdigits;
pub mod clipboard;
pub mod dashboard;
pub mod destroy;
pub mod event;
pub mod interval;
pub mod keymap;
pub mod layout;
pub mod pane;
pub mod panes;
pub mod record;
pub mod repro;
mod requests;
pub mod terminal;
pub mod text;
pub mod text_input;
pub mod theme;
pub mod tracker;
pub mod view;
pub mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use chrono::{Local, Timelike};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::sys::scanner::ScanOptions;
use crate::sys::tracefs;
use dashboard::Dashboard;
use event::{Event, SignalThread};
use repro::ReproRunner;
use requests::{exchange_recorded, write_input};
use theme::Theme;
use tracker::LiveCatchStatus;
use worker::ScanWorker;

pub use requests::exchange;

/// How often the screen is redrawn while a repro loop runs.
pub const REPRO_FRAME: Duration = Duration::from_millis(100);

/// What the dashboard needs from the command line.
#[derive(Debug)]
pub struct Config {
    pub interval: Duration,
    pub theme: Theme,
    pub proc_root: PathBuf,
    /// Show one network namespace only (`--netns`, `--own-netns`).
    pub netns: Option<String>,
    /// Live (maybe recorded), or a replay.
    pub inputs: record::Inputs,
    /// How long after a listener goes a self-connection on its port is
    /// reported as the port stolen.
    pub incident_window: Duration,
    /// When refused connects make a retry storm.
    pub storm: crate::core::live::StormConfig,
    /// Whether to start live catch (`--no-live-catch` turns it off).
    pub live_catch: bool,
    /// The repro pane's first host, mode and pace (`[repro]`).
    pub repro: repro::FormDefaults,
}

/// Why the loop ended.
enum Exit {
    Quit,
    Signal(i32),
    Failed(String),
    Panicked,
}

/// Runs the dashboard until `q`, Ctrl-C or a signal; the terminal is
/// restored on every way out.
pub fn run(config: Config) -> ExitCode {
    let (tx, rx) = mpsc::channel::<Event>();
    // Signals first: a SIGTERM during start-up still restores the terminal.
    let signals = match SignalThread::spawn(tx.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("selfconn-tui: cannot handle signals: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut terminal, guard) = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            terminal::restore();
            eprintln!("selfconn-tui: cannot use the terminal: {e}");
            return ExitCode::from(2);
        }
    };
    let mut dash = new_dashboard(&config, &terminal);
    let stop_input = Arc::new(AtomicBool::new(false));
    let (mut recorder, source) = Source::of(config.inputs, config.proc_root.clone(), config.netns);
    dash.app.set_mark(source.mark(recorder.as_ref()));
    let replay = matches!(source, Source::Replay(..));
    let started = source
        .spawn(config.interval, tx.clone())
        .and_then(|w| event::spawn_input(tx.clone(), Arc::clone(&stop_input)).map(|_| w));
    // Live catch (not in a replay): its events come through the same channel.
    let live = if replay {
        None
    } else if !config.live_catch {
        let off = LiveCatchStatus::Off("--no-live-catch".into());
        dash.app.apply(app::Effect::LiveCatch(off));
        None
    } else {
        start_live_catch(&mut dash, &config.proc_root, config.storm, tx.clone())
    };
    drop(tx);
    let (worker, replay) = match started {
        Ok(w) => w,
        Err(e) => {
            drop(guard);
            eprintln!("selfconn-tui: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let mut runner = ReproRunner::new();
    let exit = event_loop(
        &mut terminal,
        &mut dash,
        &rx,
        Inputs {
            worker: worker.as_ref(),
            runner: &mut runner,
            recorder: recorder.as_mut(),
        },
        panic_test_requested(),
    );

    // The repro loops stop first (within a few milliseconds); the terminal
    // is restored while they do; then they are waited for.
    runner.stop();
    stop_sources(live, &stop_input, worker, replay);
    signals.close();
    drop(terminal);
    drop(guard);
    runner.shutdown();
    if let Some(rec) = recorder {
        report_recording(rec);
    }
    exit_code(exit)
}

/// The dashboard's state as the command line asks, sized to the terminal.
fn new_dashboard(config: &Config, terminal: &terminal::Term) -> Dashboard {
    let mut dash = Dashboard::new(config.theme.clone(), config.interval, Local::now());
    if let Ok(window) = chrono::TimeDelta::from_std(config.incident_window) {
        dash.app.set_incident_window(window);
    }
    dash.app.set_netns_only(config.netns.clone());
    dash.app.set_repro_defaults(&config.repro);
    if let Ok(size) = terminal.size() {
        dash.handle(Event::Resize(size.width, size.height));
    }
    dash
}

/// A test hook: proves that a panic restores the terminal. Debug builds
/// only (`cargo test`): a release build cannot be made to panic from the
/// environment.
fn panic_test_requested() -> bool {
    cfg!(debug_assertions) && std::env::var_os("SELFCONN_TUI_TEST_PANIC").is_some()
}

/// Stops what feeds the loop: live catch, the input reader, the scan
/// worker or the replay source.
fn stop_sources(
    live: Option<tracefs::LiveCatch>,
    stop_input: &AtomicBool,
    worker: Option<ScanWorker>,
    replay: Option<worker::ReplaySource>,
) {
    // The tracing instance goes on every way out: here after q or a
    // signal, in the hook or while unwinding after a panic.
    if let Some(live) = live
        && let Err(e) = live.stop()
    {
        eprintln!("selfconn-tui: cannot remove the tracing instance: {e}");
    }
    stop_input.store(true, Ordering::Relaxed);
    if let Some(w) = worker {
        w.stop();
    }
    drop(replay);
}

/// The process's exit status for why the loop ended.
fn exit_code(exit: Exit) -> ExitCode {
    match exit {
        Exit::Quit => ExitCode::SUCCESS,
        Exit::Signal(sig) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        Exit::Failed(msg) => {
            eprintln!("selfconn-tui: {msg}");
            ExitCode::from(1)
        }
        Exit::Panicked => ExitCode::from(101),
    }
}

/// Where the dashboard's live inputs come from.
enum Source {
    /// The proc filesystem, and `--netns`.
    Live(PathBuf, Option<String>),
    Replay(record::Recording, f64),
}

impl Source {
    /// The source of `inputs` (the proc filesystem and `--netns` when
    /// live), and the recorder, when recording.
    fn of(
        inputs: record::Inputs,
        proc_root: PathBuf,
        netns: Option<String>,
    ) -> (Option<record::Recorder>, Source) {
        match inputs {
            record::Inputs::Live { recorder } => (recorder, Source::Live(proc_root, netns)),
            record::Inputs::Replay { recording, speed } => (None, Source::Replay(recording, speed)),
        }
    }

    /// The header's mark: a replay, or a recording.
    fn mark(&self, recorder: Option<&record::Recorder>) -> Option<record::Mark> {
        match (self, recorder) {
            (Source::Replay(r, speed), _) => Some(record::Mark::replay(
                &r.path().display().to_string(),
                r.header(),
                *speed,
            )),
            (_, Some(rec)) => Some(record::Mark::Recording {
                file: rec.path().display().to_string(),
                stopped: None,
            }),
            _ => None,
        }
    }

    /// Starts the scan worker, or the replay source.
    fn spawn(
        self,
        interval: Duration,
        tx: mpsc::Sender<Event>,
    ) -> std::io::Result<(Option<ScanWorker>, Option<worker::ReplaySource>)> {
        match self {
            Source::Live(proc_root, netns) => {
                let options = ScanOptions {
                    proc_root,
                    owners: worker::owner_scope(false),
                    netns,
                    ..ScanOptions::default()
                };
                Ok((Some(ScanWorker::spawn(options, interval, tx)?), None))
            }
            Source::Replay(recording, speed) => Ok((
                None,
                Some(worker::ReplaySource::spawn(recording, speed, tx)?),
            )),
        }
    }
}

/// What the loop hands requests to, and records inputs with.
struct Inputs<'a> {
    worker: Option<&'a ScanWorker>,
    runner: &'a mut ReproRunner,
    recorder: Option<&'a mut record::Recorder>,
}

impl Inputs<'_> {
    /// [`exchange_recorded`] with these inputs.
    fn exchange(&mut self, dash: &mut Dashboard, sample: bool) -> bool {
        exchange_recorded(
            dash,
            self.runner,
            self.worker,
            sample,
            self.recorder.as_deref_mut(),
        )
    }
}

/// Says on the restored terminal what was recorded.
fn report_recording(rec: record::Recorder) {
    let path = rec.path().display().to_string();
    let stopped = rec.stopped().map(str::to_string);
    match rec.finish() {
        Ok(n) => eprintln!(
            "selfconn-tui: recorded {} to {path}{}",
            crate::core::words::plural(n, "input", "inputs"),
            stopped.map_or_else(String::new, |why| format!(" (stopped early: {why})"))
        ),
        Err(e) => eprintln!("selfconn-tui: the recording {path} may be incomplete: {e}"),
    }
}

/// Starts live catch when this host allows it (root, tracefs) and says
/// in the header whether it runs or why not.
fn start_live_catch(
    dash: &mut Dashboard,
    proc_root: &std::path::Path,
    storm: crate::core::live::StormConfig,
    tx: mpsc::Sender<Event>,
) -> Option<tracefs::LiveCatch> {
    dash.app.apply(app::Effect::StormWindow(storm.window));
    let config = tracefs::config_for_own_namespace(proc_root, storm);
    let started =
        tracefs::LiveCatch::start_with(config, move |c| tx.send(Event::Live(Box::new(c))).is_ok());
    let (live, status) = match started {
        Ok(live) => {
            let storms_off = live.storms_off().map(|e| e.to_string());
            install_cleanup_hook(live.cleanup_handle());
            (Some(live), LiveCatchStatus::On { storms_off })
        }
        Err(why) => (None, LiveCatchStatus::Off(why.to_string())),
    };
    dash.app.apply(app::Effect::LiveCatch(status));
    live
}

/// A panic on any thread removes the tracing instance first (a build
/// with `panic = "abort"` would not unwind to the drop).
fn install_cleanup_hook(handle: tracefs::CleanupHandle) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = handle.cleanup();
        previous(info);
    }));
}

fn event_loop(
    terminal: &mut terminal::Term,
    dash: &mut Dashboard,
    rx: &mpsc::Receiver<Event>,
    mut inputs: Inputs,
    panic_test: bool,
) -> Exit {
    let mut redraw = true;
    let mut next_frame = Instant::now();
    loop {
        if terminal::panicked() || !terminal::is_active() {
            return Exit::Panicked;
        }
        // Requests out, answers in; a running loop's counters at the frame
        // rate only.
        let frame_due = inputs.runner.is_active() && Instant::now() >= next_frame;
        if frame_due {
            next_frame = Instant::now() + REPRO_FRAME;
        }
        // Copies go to the terminal itself, between two frames.
        write_copies(terminal, dash);
        if frame_due || !dash.app.requests().is_empty() {
            let sample = frame_due && inputs.runner.is_running();
            redraw |= inputs.exchange(dash, sample);
        }
        if let Err(exit) = draw_if_needed(terminal, dash, redraw, panic_test) {
            return exit;
        }
        redraw = false;
        let first = match rx.recv_timeout(wake_timeout(inputs.runner, next_frame)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => {
                redraw |= dash.tick(Local::now());
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Exit::Failed("the scanner and the input reader stopped".into());
            }
        };
        match handle_batch(terminal, dash, rx, first, &mut inputs) {
            Ok(changed) => redraw |= changed,
            Err(exit) => return exit,
        }
    }
}

/// Writes the copies the dashboard asked for to the terminal (OSC 52).
fn write_copies(terminal: &mut terminal::Term, dash: &mut Dashboard) {
    for text in dash.app.take_copies() {
        let _ = clipboard::write(terminal.backend_mut(), &text);
    }
}

/// Draws when `redraw` or when the dashboard asked for a full redraw
/// (then clearing the screen first).
fn draw_if_needed(
    terminal: &mut terminal::Term,
    dash: &mut Dashboard,
    redraw: bool,
    panic_test: bool,
) -> Result<(), Exit> {
    let mut redraw = redraw;
    if dash.app.take_full_redraw() {
        // Resizing to the same size clears the screen and forgets what
        // was drawn, without asking the terminal for the cursor.
        if let Ok(size) = terminal.size()
            && let Err(e) = terminal.resize(size.into())
        {
            return Err(Exit::Failed(format!("cannot draw: {e}")));
        }
        redraw = true;
    }
    if redraw {
        dash.set_now(Local::now());
        if let Err(e) = terminal.draw(|f| dash.draw(f)) {
            return Err(Exit::Failed(format!("cannot draw: {e}")));
        }
        if panic_test {
            panic!("SELFCONN_TUI_TEST_PANIC is set: panicking after the first frame");
        }
    }
    Ok(())
}

/// How long to wait for an event: until the next second for the clock,
/// or the next frame while a repro loop runs or starts.
fn wake_timeout(runner: &ReproRunner, next_frame: Instant) -> Duration {
    let now = Local::now();
    let timeout = Duration::from_nanos(
        1_000_000_000u64.saturating_sub(u64::from(now.nanosecond() % 1_000_000_000)),
    );
    if runner.is_active() {
        timeout.min(next_frame.saturating_duration_since(Instant::now()))
    } else {
        timeout
    }
}

/// Handles `first` and everything already queued before the next frame.
/// Returns whether to redraw, or why to stop.
fn handle_batch(
    terminal: &mut terminal::Term,
    dash: &mut Dashboard,
    rx: &mpsc::Receiver<Event>,
    first: Event,
    inputs: &mut Inputs,
) -> Result<bool, Exit> {
    let mut redraw = false;
    for ev in std::iter::once(first).chain(rx.try_iter()) {
        if let Some(rec) = inputs.recorder.as_deref_mut() {
            write_input(dash, rec, &ev);
        }
        redraw |= on_event(dash, ev)?;
        if dash.app.wants_quit() {
            return Err(Exit::Quit);
        }
        // Requests go out before the next key: a key typed right after
        // `r` sees the suggested port.
        write_copies(terminal, dash);
        if !dash.app.requests().is_empty() {
            redraw |= inputs.exchange(dash, false);
        }
    }
    Ok(redraw)
}

/// Handles one event: the process's and the terminal's business here, the
/// rest by the dashboard. Returns whether to redraw, or why to stop.
fn on_event(dash: &mut Dashboard, ev: Event) -> Result<bool, Exit> {
    match ev {
        Event::Signal(sig) => Err(Exit::Signal(sig)),
        Event::InputGone(e) => Err(Exit::Failed(format!("the terminal is gone: {e}"))),
        Event::Suspend | Event::Continued => suspend_or_resume(dash, ev),
        Event::Key(k) if is_suspend_key(&k) => suspend_or_resume(dash, Event::Suspend),
        other => Ok(dash.handle(other)),
    }
}

/// Ctrl-Z, as raw mode delivers it (a key, not SIGTSTP).
fn is_suspend_key(k: &KeyEvent) -> bool {
    k.kind != KeyEventKind::Release
        && k.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(k.code, KeyCode::Char('z') | KeyCode::Char('Z'))
}

/// On [`Event::Suspend`] (Ctrl-Z, SIGTSTP): hands the terminal back and
/// stops the process, as SIGTSTP's default action would (replaced here by
/// a handler, so that the terminal is restored first), then, once
/// continued, takes it back. SIGSTOP, because the kernel discards SIGTSTP
/// for an orphaned process group. On [`Event::Continued`] (SIGCONT, also
/// after a `kill -STOP` that left no time to hand anything back): takes
/// the terminal back. Either way everything is redrawn.
fn suspend_or_resume(dash: &mut Dashboard, ev: Event) -> Result<bool, Exit> {
    let stopped = if matches!(ev, Event::Suspend) {
        // Stops even when the terminal was not ours to hand back.
        terminal::suspend();
        signal_hook::low_level::raise(signal_hook::consts::SIGSTOP)
    } else {
        Ok(())
    };
    stopped
        .and_then(|_| terminal::resume())
        .map_err(|e| Exit::Failed(format!("cannot take the terminal back: {e}")))?;
    dash.app.apply(app::Effect::FullRedraw);
    Ok(true)
}
