//! Where the dashboard's requests go: the scan worker, the repro runner,
//! the machine (freeing a port); and the runner's answers back, written to
//! the recording when there is one.

use super::app::Request;
use super::dashboard::Dashboard;
use super::destroy;
use super::event::Event;
use super::record;
use super::repro::ReproRunner;
use super::worker::{self, ScanWorker};

/// Hands the dashboard's requests to the scan worker (when there is one)
/// and to the repro runner, and feeds the runner's answers back (with the
/// counters of running loops when `sample`). Returns whether an answer
/// arrived. The event loop calls it; so do tests, without a worker.
pub fn exchange(
    dash: &mut Dashboard,
    runner: &mut ReproRunner,
    worker: Option<&ScanWorker>,
    sample: bool,
) -> bool {
    exchange_recorded(dash, runner, worker, sample, None)
}

/// Writes an input to the recording; when recording stops (full, or a
/// write error), the header says so.
pub(super) fn write_input(dash: &mut Dashboard, rec: &mut record::Recorder, ev: &Event) {
    if rec.observe(ev).is_some() {
        dash.app.set_mark(Some(record::Mark::Recording {
            file: rec.path().display().to_string(),
            stopped: rec.stopped().map(str::to_string),
        }));
    }
}

/// [`exchange`], writing the runner's answers to the recording.
pub(super) fn exchange_recorded(
    dash: &mut Dashboard,
    runner: &mut ReproRunner,
    worker: Option<&ScanWorker>,
    sample: bool,
    mut recorder: Option<&mut record::Recorder>,
) -> bool {
    let mut changed = false;
    let mut sample = sample;
    // Answers can ask for more (a rescan after a self-connection): a few
    // rounds, the rest next time.
    for _ in 0..4 {
        for request in dash.app.take_requests() {
            match request {
                Request::AllOwners(all) => {
                    if let Some(w) = worker {
                        w.send(worker::Control::Owners(worker::owner_scope(all)));
                    }
                }
                Request::Rescan => {
                    if let Some(w) = worker {
                        w.send(worker::Control::Rescan);
                    }
                }
                Request::LiveCatch(on) => {
                    if let Some(w) = worker {
                        w.send(worker::Control::LiveCatch(on));
                    }
                }
                Request::Repro(r) => runner.request(r),
                // Fast enough to do here (see [`destroy`]): one socket,
                // two netlink round trips.
                Request::FreePort(target) => {
                    let outcome = destroy::free_port(&target);
                    dash.app.on_freed(&target, outcome);
                    changed = true;
                }
                // Written by the event loop (it holds the terminal).
                Request::Copy(_) => {}
            }
        }
        let updates = runner.poll(std::mem::take(&mut sample));
        if updates.is_empty() && dash.app.requests().is_empty() {
            break;
        }
        changed |= !updates.is_empty();
        for u in updates {
            let ev = Event::Repro(Box::new(u));
            if let Some(rec) = recorder.as_deref_mut() {
                write_input(dash, rec, &ev);
            }
            dash.handle(ev);
        }
    }
    changed
}
