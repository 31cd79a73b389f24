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
    /// Rescan at once.
    Rescan,
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
                loop {
                    let started = Instant::now();
                    let at = Local::now();
                    let result = scanner.scan();
                    let took = started.elapsed();
                    if tx
                        .send(Event::Scan(Box::new(ScanResult { at, result })))
                        .is_err()
                    {
                        return;
                    }
                    match commands.recv_timeout(pause_after(interval, took)) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(Control::Owners(scope)) => scanner.options.owners = scope,
                        Ok(Control::Rescan) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
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
    fn slow_scans_leave_the_core_idle_half_the_time() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(pause_after(s(1), ms(10)), ms(990));
        assert_eq!(pause_after(s(1), ms(700)), ms(700));
        assert_eq!(pause_after(s(1), s(3)), s(3));
    }
}
