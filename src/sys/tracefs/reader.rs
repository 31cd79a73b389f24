//! The reader thread: drains `trace_pipe`, parses each line, completes
//! owners while the processes live, feeds the storm aggregator and hands
//! what matters to the consumer.
//!
//! `trace_pipe` is opened non-blocking and waited on with `poll()` and a
//! timeout, so the thread sees the stop flag within one poll interval and
//! never sits in a read the kernel will not end.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::time::{ClockId, clock_gettime};

use super::{Caught, Shared, owner};
use crate::core::live::{LiveEvent, StormChange, StormTracker, TraceEvent, parse_line};

/// Reads at most this much between two looks at the stop flag.
const READS_PER_WAKE: usize = 64;
/// A line longer than this is not one of ours: dropped.
const MAX_LINE: usize = 16 * 1024;

/// The kernel's clock (CLOCK_MONOTONIC, as the instance is set to).
pub fn kernel_now() -> Duration {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        .unwrap_or_default()
}

/// The wall-clock time of a kernel timestamp.
pub fn wall_time(kernel: Duration) -> DateTime<Local> {
    let age = kernel_now().saturating_sub(kernel);
    Local::now() - chrono::Duration::from_std(age).unwrap_or_default()
}

/// Thread id -> process id, re-read now and then since ids are reused.
struct Tgids {
    map: HashMap<i32, i32>,
    since: Instant,
}

impl Tgids {
    fn get(&mut self, proc_root: &Path, tid: i32) -> i32 {
        if self.map.len() > 4096 || self.since.elapsed() > Duration::from_secs(5) {
            self.map.clear();
            self.since = Instant::now();
        }
        *self
            .map
            .entry(tid)
            .or_insert_with(|| owner::tgid_of(proc_root, tid).unwrap_or(tid))
    }
}

pub(super) struct Reader<S> {
    pub file: File,
    pub shared: Arc<Shared>,
    pub tracker: StormTracker,
    pub sink: S,
    pub poll_interval: Duration,
    pub proc_root: std::path::PathBuf,
}

impl<S: FnMut(Caught) -> bool> Reader<S> {
    /// Runs until stopped, the consumer hangs up, or a read fails.
    pub fn run(mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut tgids = Tgids {
            map: HashMap::new(),
            since: Instant::now(),
        };
        let timeout = PollTimeout::try_from(self.poll_interval).unwrap_or(PollTimeout::MAX);
        while !self.shared.stop.load(Ordering::Relaxed) {
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            // EINTR or a spurious wake: the read below finds out.
            let _ = poll(&mut fds, timeout);
            for _ in 0..READS_PER_WAKE {
                match self.file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        pending.extend_from_slice(&buf[..n]);
                        if !self.lines(&mut pending, &mut tgids) {
                            return;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let reason = format!("reading trace_pipe failed: {e}");
                        (self.sink)(caught(LiveEvent::Failed { reason }, kernel_now()));
                        return;
                    }
                }
            }
            for change in self.tracker.tick(kernel_now()) {
                let time = change.stats().last_seen;
                if !(self.sink)(caught(
                    LiveEvent::Storm {
                        change,
                        owner: None,
                    },
                    time,
                )) {
                    return;
                }
            }
        }
    }

    /// Handles the complete lines in `pending`; false when the consumer is gone.
    fn lines(&mut self, pending: &mut Vec<u8>, tgids: &mut Tgids) -> bool {
        let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
            if pending.len() > MAX_LINE {
                pending.clear();
            }
            return true;
        };
        let text: Vec<u8> = pending.drain(..=end).collect();
        for line in text.split(|&b| b == b'\n') {
            match parse_line(&String::from_utf8_lossy(line)) {
                Ok(Some(event)) => {
                    if !self.event(event, tgids) {
                        return false;
                    }
                }
                Ok(None) => {}
                Err(_) => {
                    self.shared.stats.unparsed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        true
    }

    fn event(&mut self, event: TraceEvent, tgids: &mut Tgids) -> bool {
        let stats = &self.shared.stats;
        match event {
            TraceEvent::StateChange(change) => {
                stats.state_changes.fetch_add(1, Ordering::Relaxed);
                if !change.is_self_connect() {
                    return true;
                }
                stats.self_connects.fetch_add(1, Ordering::Relaxed);
                let owner = owner::complete(&self.proc_root, &change.task);
                let time = change.time;
                (self.sink)(caught(LiveEvent::SelfConnect { change, owner }, time))
            }
            TraceEvent::Reset(reset) => {
                stats.resets.fetch_add(1, Ordering::Relaxed);
                let pid = tgids.get(&self.proc_root, reset.task.tid);
                let Some(change @ StormChange::Started(_)) = self.tracker.observe(pid, &reset)
                else {
                    return true;
                };
                let owner = owner::complete(&self.proc_root, &reset.task);
                (self.sink)(caught(LiveEvent::Storm { change, owner }, reset.time))
            }
            TraceEvent::Lost { count, .. } => {
                stats.lost.fetch_add(count, Ordering::Relaxed);
                (self.sink)(caught(LiveEvent::Lost { count }, kernel_now()))
            }
        }
    }
}

fn caught(event: LiveEvent, kernel_time: Duration) -> Caught {
    Caught {
        wall: wall_time(kernel_time),
        event,
    }
}
