//! The runner's side of the "service restart" incident in the pane: the
//! scenario of [`crate::repro::scenario`] in its own thread, its steps sent
//! back over a channel as they happen, the client's counters shared for
//! the big numbers. The stolen port stays held after the failed restart
//! until the pane's `c` (or Esc, or the time limit): the audience sees the
//! failure before the fix. Bounded; every socket is closed when the
//! thread ends, and dropping this stops and joins it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::repro::scenario::{ScenarioConfig, StepEvent, run_restart};
use crate::repro::{Config, Counters, Snapshot, Target};

use super::MAX_ATTEMPTS;
use super::messages::ReproUpdate;

/// The client's loop stops after this long; the wait for `c` too.
pub const INCIDENT_TIME: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct IncidentRun {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    hold: Arc<AtomicBool>,
    steps: Receiver<StepEvent>,
    thread: Option<JoinHandle<Snapshot>>,
}

impl IncidentRun {
    /// Checks the target and starts the scenario; the client's config (for
    /// the pane's run), or why not.
    pub(super) fn start(host: &str, port: u16) -> Result<(IncidentRun, Config), String> {
        let target = Target::resolve(host, port).map_err(|e| e.to_string())?;
        let hold = Arc::new(AtomicBool::new(false));
        let config = ScenarioConfig {
            max_attempts: MAX_ATTEMPTS,
            max_time: INCIDENT_TIME,
            hold: Some(hold.clone()),
            ..ScenarioConfig::new(target)
        };
        let client = config.client();
        client.check().map_err(|e| e.to_string())?;
        let counters = Arc::new(Counters::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, steps) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("selfconn-incident".into())
            .spawn({
                let (counters, stop) = (counters.clone(), stop.clone());
                move || {
                    let mut send = |e: &StepEvent| {
                        let _ = tx.send(e.clone());
                    };
                    run_restart(&config, &counters, &stop, &mut send).client
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let run = IncidentRun {
            counters,
            stop,
            hold,
            steps,
            thread: Some(thread),
        };
        Ok((run, client))
    }

    /// Lets the scenario go on: the stolen port is freed.
    pub(super) fn release(&self) {
        self.hold.store(true, Ordering::Relaxed);
    }

    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The steps since the last call, the counters with `sample`, and the
    /// end once the thread is over (then `self` is done: drop it).
    pub(super) fn poll(&mut self, sample: bool) -> (Vec<ReproUpdate>, bool) {
        let mut out: Vec<ReproUpdate> = self
            .steps
            .try_iter()
            .map(|event| ReproUpdate::IncidentStep { event })
            .collect();
        let finished = self.thread.as_ref().is_none_or(|t| t.is_finished());
        if finished {
            // Steps sent just before the end.
            out.extend(
                self.steps
                    .try_iter()
                    .map(|event| ReproUpdate::IncidentStep { event }),
            );
            let stats = self.join();
            out.push(ReproUpdate::IncidentEnded { stats });
        } else if sample {
            out.push(ReproUpdate::Progress {
                slot: 0,
                stats: self.counters.snapshot(),
            });
        }
        (out, finished)
    }

    fn join(&mut self) -> Snapshot {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(stats)) => stats,
            _ => self.counters.snapshot(),
        }
    }
}

impl Drop for IncidentRun {
    fn drop(&mut self) {
        self.stop();
        let _ = self.join();
    }
}
