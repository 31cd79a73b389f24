//! The sources of the dashboard's facts. The scan worker: scans, sends
//! the snapshot to the main loop, waits for the interval, again. The main
//! loop never waits for a scan. It stops when its control channel is
//! dropped (or the main loop's receiver is gone), after the scan in
//! progress. The replay source ([`ReplaySource`]) stands in for it (and
//! for the repro runner) with a recording: it sends the recorded inputs at
//! their times.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use chrono::Local;

use super::app::ScanResult;
use super::event::Event;
use super::record::{Recording, ReplayNews, play_time};
use crate::sys::scanner::{OwnerScope, ScanOptions, Scanner};

/// The longest sleep of the replay source: it notices a stop this soon.
const REPLAY_NAP: Duration = Duration::from_millis(100);

/// What the main loop can ask of the worker. Dropping the worker's
/// handle stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Whose owners to look up from now on; rescans at once.
    Owners(OwnerScope),
    /// Rescan at once (the whole tables).
    Rescan,
    /// Whether live catch watches the host for self-connects: while it
    /// does, most refreshes read the listeners only (see [`FullReads`]).
    LiveCatch(bool),
}

/// The longest time between two full reads of the tables.
pub const FULL_EVERY_MAX: Duration = Duration::from_secs(10);

/// A full read costs at most about this share of the time between two
/// (a read of 180 ms, 100k sockets here, comes every 9 s).
const FULL_SHARE: u32 = 50;

/// When the worker reads the whole tables. Self-connects are connections,
/// so only a full read lists them; a listeners-only read stops where the
/// kernel starts listing connections, which is most of a full read's cost
/// on a busy host. While live catch watches (it reports a self-connect
/// the moment it is made), full reads come as often as their cost allows,
/// at least every [`FULL_EVERY_MAX`]; without it, every refresh is full.
#[derive(Debug, Default)]
pub struct FullReads {
    live_catch: bool,
    /// When the last full read started, and how long it took.
    last: Option<(Instant, Duration)>,
    /// Asked for (a rescan, another owner scope): the next read is full.
    asked: bool,
}

impl FullReads {
    /// Whether the read about to start at `now` must be full.
    pub fn due(&self, now: Instant, interval: Duration, scope: OwnerScope) -> bool {
        let Some((at, took)) = self.last else {
            return true;
        };
        let since = now.saturating_duration_since(at);
        !self.live_catch
            || self.asked
            // The all-sockets view lists the connections.
            || scope == OwnerScope::All
            || since >= took * FULL_SHARE
            || since + interval > FULL_EVERY_MAX
    }

    /// A read that started at `at` and took `took` succeeded.
    pub fn done(&mut self, full: bool, at: Instant, took: Duration) {
        if full {
            self.last = Some((at, took));
            self.asked = false;
        }
    }

    pub fn control(&mut self, c: Control) {
        match c {
            Control::LiveCatch(on) => {
                self.live_catch = on;
                self.asked |= !on;
            }
            Control::Rescan | Control::Owners(_) => self.asked = true,
        }
    }
}

pub struct ScanWorker {
    control: Sender<Control>,
}

/// Owners are looked up for every socket only while all sockets are
/// listed: the walk over every process's descriptors is most of a scan's
/// cost on a busy host, and the findings view shows only the findings'.
pub fn owner_scope(all_sockets_shown: bool) -> OwnerScope {
    if all_sockets_shown {
        OwnerScope::All
    } else {
        OwnerScope::Findings
    }
}

/// How long to wait after a scan that took `took`: the rest of the
/// interval, but at least as long as the scan took, so that a slow scan
/// (a huge host) never keeps a core busy more than half the time.
pub fn pause_after(interval: Duration, took: Duration) -> Duration {
    interval.saturating_sub(took).max(took)
}

impl ScanWorker {
    pub fn spawn(
        options: ScanOptions,
        interval: Duration,
        tx: Sender<Event>,
    ) -> std::io::Result<ScanWorker> {
        let (control, commands) = mpsc::channel::<Control>();
        std::thread::Builder::new()
            .name("selfconn-scan".into())
            .spawn(move || {
                let mut scanner = Scanner::new(options);
                let mut full = FullReads::default();
                loop {
                    let started = Instant::now();
                    let at = Local::now();
                    let whole = full.due(started, interval, scanner.options.owners);
                    let result = if whole {
                        scanner.scan()
                    } else {
                        scanner.scan_listeners()
                    };
                    let took = started.elapsed();
                    if result.is_ok() {
                        full.done(whole, started, took);
                    }
                    let scan = ScanResult {
                        at,
                        result,
                        listeners_only: !whole,
                    };
                    if tx.send(Event::Scan(Box::new(scan))).is_err() {
                        return;
                    }
                    // Controls that come while waiting count; a rescan or
                    // another owner scope ends the wait.
                    let deadline = Instant::now() + pause_after(interval, took);
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match commands.recv_timeout(left) {
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                            Ok(c) => {
                                full.control(c);
                                match c {
                                    Control::Owners(scope) => scanner.options.owners = scope,
                                    Control::LiveCatch(_) => continue,
                                    Control::Rescan => {}
                                }
                                break;
                            }
                        }
                    }
                }
            })?;
        Ok(ScanWorker { control })
    }

    pub fn send(&self, c: Control) {
        // A worker that already stopped has nothing left to be told.
        let _ = self.control.send(c);
    }

    /// Asks the worker to stop; it finishes a scan in progress first. Not
    /// joined: quitting does not wait for a slow scan.
    pub fn stop(self) {}
}

/// Plays a recording: each input at its time divided by the speed, then
/// a [`ReplayNews::Ended`]. Stops when dropped (or when the main loop's
/// receiver is gone), within [`REPLAY_NAP`].
pub struct ReplaySource {
    stop: Arc<AtomicBool>,
}

impl ReplaySource {
    pub fn spawn(
        mut recording: Recording,
        speed: f64,
        tx: Sender<Event>,
    ) -> std::io::Result<ReplaySource> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("selfconn-replay".into())
            .spawn(move || {
                let started = Instant::now();
                let mut problem = None;
                while let Some(next) = recording.next_input() {
                    let (at, ev) = match next {
                        Ok(input) => input,
                        Err(e) => {
                            problem = Some(e);
                            break;
                        }
                    };
                    let due = started + play_time(at, speed);
                    if !wait_until(due, &stopped) || tx.send(ev).is_err() {
                        return;
                    }
                }
                let inputs = recording.read();
                let _ = tx.send(Event::Replay(ReplayNews::Ended { inputs, problem }));
            })?;
        Ok(ReplaySource { stop })
    }

    /// Stops the replay; not joined (it stops within [`REPLAY_NAP`]).
    pub fn stop(self) {}
}

impl Drop for ReplaySource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sleeps until `due` in naps; false if `stop` was set meanwhile.
fn wait_until(due: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(REPLAY_NAP));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_live_catch_every_read_is_full() {
        let t0 = Instant::now();
        let mut f = FullReads::default();
        let s = Duration::from_secs(1);
        assert!(f.due(t0, s, OwnerScope::Findings), "the first");
        f.done(true, t0, Duration::from_millis(180));
        assert!(f.due(t0 + s, s, OwnerScope::Findings));
    }

    #[test]
    fn with_live_catch_full_reads_come_as_their_cost_allows_and_at_least_every_ten_seconds() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let mut f = FullReads::default();
        f.control(Control::LiveCatch(true));
        // A cheap full read (a small host): every refresh stays full.
        f.done(true, t0, ms(8));
        assert!(f.due(t0 + s(1), s(1), OwnerScope::Findings));
        // An expensive one: listeners only until 50 times its cost...
        f.done(true, t0, ms(180));
        assert!(!f.due(t0 + s(1), s(1), OwnerScope::Findings));
        assert!(!f.due(t0 + s(8), s(1), OwnerScope::Findings));
        assert!(f.due(t0 + s(9), s(1), OwnerScope::Findings));
        // ...and never more than 10 s apart, however costly.
        f.done(true, t0, s(1));
        assert!(!f.due(t0 + s(8), s(1), OwnerScope::Findings));
        assert!(f.due(t0 + s(9) + ms(1), s(1), OwnerScope::Findings));
        // A listeners-only read changes nothing of that.
        f.done(false, t0 + s(5), ms(1));
        assert!(!f.due(t0 + s(6), s(1), OwnerScope::Findings));
    }

    #[test]
    fn a_rescan_the_all_sockets_view_or_live_catch_stopping_make_the_next_read_full() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let busy = || {
            let mut f = FullReads::default();
            f.control(Control::LiveCatch(true));
            f.done(true, t0, Duration::from_millis(180));
            f
        };
        assert!(!busy().due(t0 + s(1), s(1), OwnerScope::Findings));
        assert!(busy().due(t0 + s(1), s(1), OwnerScope::All));
        for c in [
            Control::Rescan,
            Control::LiveCatch(false),
            Control::Owners(OwnerScope::All),
        ] {
            let mut f = busy();
            f.control(c);
            assert!(f.due(t0 + s(1), s(1), OwnerScope::Findings), "{c:?}");
        }
        // Asked once: after that full read, listeners only again.
        let mut f = busy();
        f.control(Control::Rescan);
        f.done(true, t0 + s(1), Duration::from_millis(180));
        assert!(!f.due(t0 + s(2), s(1), OwnerScope::Findings));
    }

    #[test]
    fn slow_scans_leave_the_core_idle_half_the_time() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(pause_after(s(1), ms(10)), ms(990));
        assert_eq!(pause_after(s(1), ms(700)), ms(700));
        assert_eq!(pause_after(s(1), s(3)), s(3));
    }
}
