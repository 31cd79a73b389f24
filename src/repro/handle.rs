//! A run in its own thread, for a UI: live counters, stop, outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::counters::{Counters, Snapshot};
use super::engine::{Config, Outcome, ReproError, run};

/// A running (or finished) reproduction. Dropping the handle stops the
/// loop and waits for it, so no loop outlives its handle, and closes
/// whatever socket the outcome held unless it was taken with
/// [`ReproHandle::join`] or [`ReproHandle::try_join`].
#[derive(Debug)]
pub struct ReproHandle {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Outcome>>,
    config: Config,
}

impl ReproHandle {
    /// Starts the loop in a new thread. The thread is created in the
    /// caller's network namespace.
    pub fn spawn(config: Config) -> std::io::Result<ReproHandle> {
        ReproHandle::spawn_with(config, Arc::default(), Arc::default())
    }

    /// Like [`ReproHandle::spawn`], with counters and a stop flag the
    /// caller already shares (e.g. with a signal handler).
    pub fn spawn_with(
        config: Config,
        counters: Arc<Counters>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<ReproHandle> {
        let thread = {
            let (config, counters, stop) = (config.clone(), counters.clone(), stop.clone());
            std::thread::Builder::new()
                .name("selfconn-repro".to_string())
                .spawn(move || run(&config, &counters, &stop))?
        };
        Ok(ReproHandle {
            counters,
            stop,
            thread: Some(thread),
            config,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live counters (cheap to read: atomics, no lock).
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        self.counters.snapshot()
    }

    /// The flag that stops the loop (for a signal handler, say).
    pub fn stop_flag(&self) -> &Arc<AtomicBool> {
        &self.stop
    }

    /// Asks the loop to stop; it does within one attempt or 20 ms of pacing.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the loop has ended (the outcome is ready).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the end and returns the outcome.
    pub fn join(mut self) -> Outcome {
        self.take_outcome()
    }

    /// The outcome if the loop has ended, without waiting. Returns it once.
    pub fn try_join(&mut self) -> Option<Outcome> {
        if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            Some(self.take_outcome())
        } else {
            None
        }
    }

    /// Stops the loop and waits for it.
    pub fn stop_and_join(self) -> Outcome {
        self.stop();
        self.join()
    }

    fn take_outcome(&mut self) -> Outcome {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(outcome)) => outcome,
            Some(Err(_)) => Outcome::failed(
                &self.config,
                ReproError::Config("the reproduction thread panicked".to_string()),
                &self.counters,
            ),
            None => Outcome::failed(
                &self.config,
                ReproError::Config("the outcome was already taken".to_string()),
                &self.counters,
            ),
        }
    }
}

impl Drop for ReproHandle {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::Relaxed);
            let _ = t.join();
        }
    }
}
