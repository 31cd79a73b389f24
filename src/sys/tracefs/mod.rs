//! Live catch, the I/O part: kernel tracepoints read through tracefs in a
//! private tracing instance. Sees every self-connect the moment it
//! happens (`sock:inet_sock_set_state`) and refused connects
//! (`tcp:tcp_receive_reset`) for the retry-storm warning, in every
//! network namespace of the host, at no cost while nothing happens.
//!
//! [`LiveCatch::start`] returns a typed reason when it cannot run (for a
//! header's "live catch: off (not root)"). The instance is removed when
//! the [`LiveCatch`] is dropped, through a [`CleanupHandle`] from a signal
//! handler or panic hook, and at the next start if a killed run left one.

pub mod instance;
pub mod mount;
pub mod owner;
mod reader;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};

use crate::core::live::{LiveEvent, StormConfig, StormTracker};
use crate::core::ports::PortRange;

pub use reader::{kernel_now, wall_time};

/// Why live catch is off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("not root")]
    NotRoot,
    #[error("tracefs unavailable: {0}")]
    Tracefs(String),
    #[error("event {0} missing on this kernel")]
    EventMissing(&'static str),
}

/// How to run live catch.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Refused connects are watched on these target ports (in the kernel's
    /// filter): the widest ephemeral range among the namespaces. Parity and
    /// the estimate are taken relative to it.
    pub reset_ports: PortRange,
    pub storm: StormConfig,
    /// A tracefs root to use instead of finding (or mounting) one.
    pub tracefs: Option<PathBuf>,
    /// Where process facts are read.
    pub proc_root: PathBuf,
    /// The longest the reader waits before looking at the stop flag.
    pub poll_interval: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            reset_ports: PortRange::KERNEL_DEFAULT,
            storm: StormConfig::default(),
            tracefs: None,
            proc_root: PathBuf::from("/proc"),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// One event, with the wall-clock time the kernel recorded it.
#[derive(Debug, Clone)]
pub struct Caught {
    pub wall: DateTime<Local>,
    pub event: LiveEvent,
}

/// Counts of what the reader has seen.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    state_changes: AtomicU64,
    self_connects: AtomicU64,
    resets: AtomicU64,
    lost: AtomicU64,
    unparsed: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveStats {
    /// Simultaneous opens seen (the kernel filter passes only those).
    pub state_changes: u64,
    pub self_connects: u64,
    /// Refused connects toward the watched ports.
    pub resets: u64,
    /// Events the kernel dropped before they were read.
    pub lost: u64,
    /// Lines of our events that could not be read.
    pub unparsed: u64,
}

/// State shared by the session, its reader thread and cleanup handles.
pub(crate) struct Shared {
    dir: PathBuf,
    stop: AtomicBool,
    /// Set once the reader has closed `trace_pipe` (the instance is busy
    /// until then).
    closed: Mutex<bool>,
    closed_cv: Condvar,
    stats: Counters,
}

impl Shared {
    fn mark_closed(&self) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.closed_cv.notify_all();
    }

    fn wait_closed(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        while !*closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            closed = match self.closed_cv.wait_timeout(closed, left) {
                Ok((c, _)) => c,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// Removes the session's instance from anywhere (a signal handler's
/// thread, a panic hook): stops the reader, waits for it to close
/// `trace_pipe`, then removes the directory. Idempotent.
#[derive(Clone)]
pub struct CleanupHandle(Arc<Shared>);

impl CleanupHandle {
    pub fn cleanup(&self) -> std::io::Result<()> {
        self.0.stop.store(true, Ordering::Relaxed);
        self.0.wait_closed(Duration::from_secs(2));
        instance::remove(&self.0.dir, Duration::from_secs(1))
    }

    pub fn instance_dir(&self) -> &Path {
        &self.0.dir
    }
}

/// A running live catch. Dropping it stops the reader and removes the
/// tracing instance.
pub struct LiveCatch {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    tracefs: PathBuf,
    mounted: bool,
    storms_off: Option<Unavailable>,
    stale_removed: Vec<String>,
}

impl LiveCatch {
    /// Starts live catch; events arrive on the returned channel.
    pub fn start(config: LiveConfig) -> Result<(LiveCatch, Receiver<Caught>), Unavailable> {
        let (tx, rx) = channel();
        let live = LiveCatch::start_with(config, move |c| tx.send(c).is_ok())?;
        Ok((live, rx))
    }

    /// Starts live catch, handing each event to `sink` on the reader
    /// thread; the reader stops when `sink` returns false.
    pub fn start_with(
        config: LiveConfig,
        sink: impl FnMut(Caught) -> bool + Send + 'static,
    ) -> Result<LiveCatch, Unavailable> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Unavailable::NotRoot);
        }
        let (tracefs, mounted) = mount::locate(config.tracefs.as_deref())?;
        let stale_removed = instance::remove_stale(&tracefs, &config.proc_root);
        let dir = instance::create(&tracefs)?;
        let shared = Arc::new(Shared {
            dir,
            stop: AtomicBool::new(false),
            closed: Mutex::new(true),
            closed_cv: Condvar::new(),
            stats: Counters::default(),
        });
        // From here on, every failure path removes the instance.
        let guard = CleanupHandle(shared.clone());
        let started = Self::start_reader(&config, &shared, sink);
        let (thread, storms_off) = match started {
            Ok(ok) => ok,
            Err(e) => {
                let _ = guard.cleanup();
                return Err(e);
            }
        };
        Ok(LiveCatch {
            shared,
            thread: Some(thread),
            tracefs,
            mounted,
            storms_off,
            stale_removed,
        })
    }

    fn start_reader(
        config: &LiveConfig,
        shared: &Arc<Shared>,
        sink: impl FnMut(Caught) -> bool + Send + 'static,
    ) -> Result<(JoinHandle<()>, Option<Unavailable>), Unavailable> {
        let configured = instance::configure(&shared.dir, config.reset_ports)?;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(shared.dir.join("trace_pipe"))
            .map_err(|e| Unavailable::Tracefs(format!("cannot open trace_pipe: {e}")))?;
        *shared.closed.lock().unwrap_or_else(|e| e.into_inner()) = false;
        let reader = reader::Reader {
            file,
            shared: shared.clone(),
            tracker: StormTracker::new(config.storm, config.reset_ports),
            sink,
            poll_interval: config.poll_interval,
            proc_root: config.proc_root.clone(),
        };
        let on_exit = shared.clone();
        let thread = std::thread::Builder::new()
            .name("live-catch".into())
            .spawn(move || {
                // Marks trace_pipe closed even if the reader panics.
                struct Closed(Arc<Shared>);
                impl Drop for Closed {
                    fn drop(&mut self) {
                        self.0.mark_closed();
                    }
                }
                let _closed = Closed(on_exit);
                reader.run();
            })
            .map_err(|e| {
                shared.mark_closed();
                Unavailable::Tracefs(format!("cannot start the reader thread: {e}"))
            })?;
        Ok((thread, configured.storms_off))
    }

    /// What a header shows while it runs.
    pub fn describe(&self) -> &'static str {
        "live catch: tracefs"
    }

    /// The instance's directory (`.../instances/selfconn-tui-<pid>`).
    pub fn instance_dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn tracefs(&self) -> &Path {
        &self.tracefs
    }

    /// Whether this start mounted tracefs (it stays mounted: see `mount`).
    pub fn mounted_tracefs(&self) -> bool {
        self.mounted
    }

    /// Why retry storms are not watched, when they are not.
    pub fn storms_off(&self) -> Option<&Unavailable> {
        self.storms_off.as_ref()
    }

    /// Instances left by killed runs that this start removed.
    pub fn stale_removed(&self) -> &[String] {
        &self.stale_removed
    }

    pub fn cleanup_handle(&self) -> CleanupHandle {
        CleanupHandle(self.shared.clone())
    }

    /// Whether the reader still runs (it ends on a read error or when the
    /// consumer hangs up).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    pub fn stats(&self) -> LiveStats {
        let c = &self.shared.stats;
        LiveStats {
            state_changes: c.state_changes.load(Ordering::Relaxed),
            self_connects: c.self_connects.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            unparsed: c.unparsed.load(Ordering::Relaxed),
        }
    }

    /// Stops and removes the instance, saying whether that worked.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // Bounded: the reader looks at the flag every poll interval.
            let _ = t.join();
        }
        CleanupHandle(self.shared.clone()).cleanup()
    }
}

impl Drop for LiveCatch {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Removes every instance of this process without a handle (last resort,
/// e.g. a panic hook with `panic = "abort"`); see [`instance::remove_own`].
pub fn remove_own_instances() -> usize {
    mount::find()
        .map(|root| instance::remove_own(&root))
        .unwrap_or(0)
}

/// The configuration for watching the namespaces of `snap`: refused
/// connects on the widest of their ranges.
pub fn config_for(
    snap: &crate::core::snapshot::Snapshot,
    proc_root: &Path,
    storm: StormConfig,
) -> LiveConfig {
    LiveConfig {
        storm,
        reset_ports: crate::core::live::widest_range(
            snap.namespaces.iter().map(|n| n.policy.range),
        ),
        proc_root: proc_root.to_path_buf(),
        ..LiveConfig::default()
    }
}

/// The configuration when no snapshot is at hand yet: refused connects on
/// the widest of this namespace's range and the kernel's default (other
/// namespaces mostly keep the default).
pub fn config_for_own_namespace(proc_root: &Path, storm: StormConfig) -> LiveConfig {
    let own = std::fs::read_to_string(proc_root.join("sys/net/ipv4/ip_local_port_range"))
        .ok()
        .and_then(|t| PortRange::parse(&t).ok());
    LiveConfig {
        reset_ports: crate::core::live::widest_range(
            own.into_iter().chain([PortRange::KERNEL_DEFAULT]),
        ),
        storm,
        proc_root: proc_root.to_path_buf(),
        ..LiveConfig::default()
    }
}
