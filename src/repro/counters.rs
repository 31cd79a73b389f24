//! Live counters of a run, shared with a UI without locks.
//!
//! One writer (the engine's loop) and any number of readers. The writer
//! keeps its own tally and publishes it with plain atomic stores after each
//! attempt, so the hot loop pays no read-modify-write and no lock. A reader
//! takes a [`Snapshot`]; the detail counters are stored with `Release` after
//! `attempts`, and loaded with `Acquire` before it, so in a snapshot no
//! detail counter ever exceeds `attempts`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The errnos that get their own counter; everything else counts as
/// "other". `ECONNREFUSED` is not here: refusals have their own counter.
pub const ERRNO_SLOTS: [(i32, &str); 10] = [
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EINPROGRESS, "EINPROGRESS"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::EINTR, "EINTR"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::EALREADY, "EALREADY"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ECONNABORTED, "ECONNABORTED"),
];

/// Slots in [`ErrorCounts`]: one per entry of [`ERRNO_SLOTS`], then "other".
pub const ERROR_SLOTS: usize = ERRNO_SLOTS.len() + 1;

/// The slot an errno counts in.
pub fn errno_slot(errno: i32) -> usize {
    ERRNO_SLOTS
        .iter()
        .position(|&(e, _)| e == errno)
        .unwrap_or(ERRNO_SLOTS.len())
}

/// The symbolic name of an errno (`ECONNREFUSED`), or `errno N`.
pub fn errno_name(errno: i32) -> String {
    let e = nix::errno::Errno::from_raw(errno);
    if e == nix::errno::Errno::UnknownErrno {
        format!("errno {errno}")
    } else {
        format!("{e:?}")
    }
}

/// Where the run is. Transient stages (`KernelPickedTarget`) may be too
/// short for a UI to see; the final stage stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Stage {
    /// Not started.
    #[default]
    Idle = 0,
    /// Connecting; refusals so far.
    Trying = 1,
    /// `connect()` returned with the target port as source port.
    KernelPickedTarget = 2,
    /// Simultaneous open completed: established, local == peer.
    SelfConnected = 3,
    /// The echo came back: the socket talks to itself.
    EchoProven = 4,
    /// Self-connected, but the echo did not come back.
    EchoFailed = 5,
    /// Connected to a listener, not to itself.
    ConnectedToOther = 6,
    /// The port is taken: `bind()` to it failed.
    PortInUse = 7,
    /// The attempt or time limit was reached.
    LimitReached = 8,
    /// Stopped by its owner.
    Stopped = 9,
    /// An error ended the run; see [`Counters::failure`].
    Failed = 10,
}

impl Stage {
    const ALL: [Stage; 11] = [
        Stage::Idle,
        Stage::Trying,
        Stage::KernelPickedTarget,
        Stage::SelfConnected,
        Stage::EchoProven,
        Stage::EchoFailed,
        Stage::ConnectedToOther,
        Stage::PortInUse,
        Stage::LimitReached,
        Stage::Stopped,
        Stage::Failed,
    ];

    fn from_u8(v: u8) -> Stage {
        Stage::ALL
            .get(usize::from(v))
            .copied()
            .unwrap_or(Stage::Idle)
    }

    /// Whether the run is over (the stage will not change again).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Stage::EchoProven
                | Stage::EchoFailed
                | Stage::ConnectedToOther
                | Stage::PortInUse
                | Stage::LimitReached
                | Stage::Stopped
                | Stage::Failed
        )
    }

    /// A few words for a status line.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Idle => "idle",
            Stage::Trying => "trying",
            Stage::KernelPickedTarget => "kernel picked the target port",
            Stage::SelfConnected => "connected to itself (simultaneous open)",
            Stage::EchoProven => "connected to itself, echo proven",
            Stage::EchoFailed => "connected to itself, echo failed",
            Stage::ConnectedToOther => "connected to a listener, not to itself",
            Stage::PortInUse => "port in use",
            Stage::LimitReached => "limit reached",
            Stage::Stopped => "stopped",
            Stage::Failed => "failed",
        }
    }
}

/// Errors by errno, in the order of [`ERRNO_SLOTS`], then "other".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorCounts(pub [u64; ERROR_SLOTS]);

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The non-zero counters with their names (`"other"` for the rest).
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| (ERRNO_SLOTS.get(i).map_or("other", |s| s.1), n))
    }
}

/// The counters at one moment, as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Snapshot {
    pub stage: Stage,
    /// Attempts started (each is one `connect()`, with its socket set-up).
    pub attempts: u64,
    /// Attempts refused (`ECONNREFUSED`): nothing listened, no self-connect.
    pub refused: u64,
    pub errors: ErrorCounts,
    /// The last errno counted as "other", if any.
    pub last_other_errno: Option<i32>,
    /// Time since the run started; frozen once it ended.
    pub elapsed: Duration,
    /// The source port the kernel chose on the last attempt that got one.
    pub last_source_port: Option<u16>,
    pub even_source_ports: u64,
    pub odd_source_ports: u64,
    /// Self-connections caught and closed by the guard (`guarded` mode).
    pub caught: u64,
}

impl Snapshot {
    /// Average attempts per second since the start.
    pub fn attempts_per_sec(&self) -> f64 {
        per_sec(self.attempts, self.elapsed)
    }

    /// Attempts per second between an earlier snapshot and this one (for a
    /// live rate: sample every few hundred milliseconds).
    pub fn rate_since(&self, earlier: &Snapshot) -> f64 {
        per_sec(
            self.attempts.saturating_sub(earlier.attempts),
            self.elapsed.saturating_sub(earlier.elapsed),
        )
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// A process-wide origin so that start and end times fit in atomics.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

const NOT_ENDED: u64 = u64::MAX;

/// The shared counters. Put them in an `Arc` to share with a UI; read them
/// with [`Counters::snapshot`].
#[derive(Debug)]
pub struct Counters {
    stage: AtomicU8,
    attempts: AtomicU64,
    refused: AtomicU64,
    errors: [AtomicU64; ERROR_SLOTS],
    last_other_errno: AtomicI32,
    started_ns: AtomicU64,
    ended_ns: AtomicU64,
    /// 0 = none yet (the kernel never picks port 0).
    last_source_port: AtomicU32,
    even: AtomicU64,
    odd: AtomicU64,
    caught: AtomicU64,
    failure: OnceLock<String>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters::new()
    }
}

impl Counters {
    pub fn new() -> Counters {
        epoch(); // times given to `begin` and `end` are later than this
        Counters {
            stage: AtomicU8::new(Stage::Idle as u8),
            attempts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            last_other_errno: AtomicI32::new(0),
            started_ns: AtomicU64::new(NOT_ENDED),
            ended_ns: AtomicU64::new(NOT_ENDED),
            last_source_port: AtomicU32::new(0),
            even: AtomicU64::new(0),
            odd: AtomicU64::new(0),
            caught: AtomicU64::new(0),
            failure: OnceLock::new(),
        }
    }

    pub fn stage(&self) -> Stage {
        Stage::from_u8(self.stage.load(Ordering::Acquire))
    }

    /// The message of the error that ended the run, once it failed. (Set
    /// once: counters reused for another run keep the first failure's
    /// message; the run's [`Outcome`](super::Outcome) always has its own.)
    pub fn failure(&self) -> Option<&str> {
        if self.stage() == Stage::Failed {
            self.failure.get().map(String::as_str)
        } else {
            None
        }
    }

    /// Time since the start; frozen at the end; zero before the start.
    pub fn elapsed(&self) -> Duration {
        let start = self.started_ns.load(Ordering::Acquire);
        if start == NOT_ENDED {
            return Duration::ZERO;
        }
        let end = match self.ended_ns.load(Ordering::Acquire) {
            NOT_ENDED => nanos_since_epoch(Instant::now()),
            e => e,
        };
        Duration::from_nanos(end.saturating_sub(start))
    }

    pub fn snapshot(&self) -> Snapshot {
        // Details first (Acquire), attempts last: see the module notes.
        let refused = self.refused.load(Ordering::Acquire);
        let errors = ErrorCounts(std::array::from_fn(|i| {
            self.errors[i].load(Ordering::Acquire)
        }));
        let even = self.even.load(Ordering::Acquire);
        let odd = self.odd.load(Ordering::Acquire);
        let caught = self.caught.load(Ordering::Acquire);
        let port = self.last_source_port.load(Ordering::Relaxed);
        let other = self.last_other_errno.load(Ordering::Relaxed);
        let attempts = self.attempts.load(Ordering::Relaxed);
        Snapshot {
            stage: self.stage(),
            attempts,
            refused,
            errors,
            last_other_errno: (other != 0).then_some(other),
            elapsed: self.elapsed(),
            last_source_port: u16::try_from(port).ok().filter(|&p| p != 0),
            even_source_ports: even,
            odd_source_ports: odd,
            caught,
        }
    }

    // --- The writer's side (the engine) ---

    /// Resets everything and starts the clock.
    pub(crate) fn begin(&self, at: Instant) {
        self.publish(&Tally::default());
        self.last_other_errno.store(0, Ordering::Relaxed);
        self.ended_ns.store(NOT_ENDED, Ordering::Release);
        self.started_ns
            .store(nanos_since_epoch(at), Ordering::Release);
        self.set_stage(Stage::Trying);
    }

    pub(crate) fn set_stage(&self, stage: Stage) {
        self.stage.store(stage as u8, Ordering::Release);
    }

    /// Publishes the writer's tally: plain stores, no read-modify-write.
    #[inline]
    pub(crate) fn publish(&self, t: &Tally) {
        self.attempts.store(t.attempts, Ordering::Relaxed);
        self.refused.store(t.refused, Ordering::Release);
        self.even.store(t.even, Ordering::Release);
        self.odd.store(t.odd, Ordering::Release);
        self.last_source_port
            .store(u32::from(t.last_port), Ordering::Relaxed);
    }

    /// Publishes the rarer counters (errors, catches).
    pub(crate) fn publish_rare(&self, t: &Tally) {
        for (slot, n) in self.errors.iter().zip(t.errors.0) {
            slot.store(n, Ordering::Release);
        }
        self.caught.store(t.caught, Ordering::Release);
        self.last_other_errno
            .store(t.last_other_errno, Ordering::Relaxed);
    }

    /// Stops the clock with the final stage.
    pub(crate) fn end(&self, stage: Stage, failure: Option<String>, at: Instant) {
        if let Some(f) = failure {
            let _ = self.failure.set(f);
        }
        self.ended_ns
            .store(nanos_since_epoch(at), Ordering::Release);
        self.set_stage(stage);
    }
}

/// The engine's private counts, published to [`Counters`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub attempts: u64,
    pub refused: u64,
    pub errors: ErrorCounts,
    pub last_other_errno: i32,
    pub last_port: u16,
    pub even: u64,
    pub odd: u64,
    pub caught: u64,
}

impl Tally {
    #[inline]
    pub fn source_port(&mut self, port: u16) {
        if port == 0 {
            return;
        }
        self.last_port = port;
        if port % 2 == 0 {
            self.even += 1;
        } else {
            self.odd += 1;
        }
    }

    pub fn error(&mut self, errno: i32) {
        let slot = errno_slot(errno);
        self.errors.0[slot] += 1;
        if slot == ERRNO_SLOTS.len() {
            self.last_other_errno = errno;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_have_slots_and_names() {
        assert_eq!(
            ERRNO_SLOTS[errno_slot(libc::EADDRNOTAVAIL)].1,
            "EADDRNOTAVAIL"
        );
        assert_eq!(errno_slot(libc::EPERM), ERRNO_SLOTS.len());
        assert_eq!(errno_name(libc::ECONNREFUSED), "ECONNREFUSED");
        assert_eq!(errno_name(99999), "errno 99999");
        let mut t = Tally::default();
        t.error(libc::EADDRNOTAVAIL);
        t.error(libc::EPERM);
        t.error(libc::EPERM);
        let named: Vec<_> = t.errors.nonzero().collect();
        assert_eq!(named, vec![("EADDRNOTAVAIL", 1), ("other", 2)]);
        assert_eq!(t.last_other_errno, libc::EPERM);
    }

    #[test]
    fn a_snapshot_shows_what_was_published() {
        let c = Counters::new();
        assert_eq!(c.snapshot().stage, Stage::Idle);
        assert_eq!(c.elapsed(), Duration::ZERO);
        let start = Instant::now();
        c.begin(start);
        let mut t = Tally {
            attempts: 3,
            refused: 2,
            ..Tally::default()
        };
        t.source_port(44600);
        t.source_port(44601);
        t.source_port(0);
        t.caught = 1;
        c.publish(&t);
        c.publish_rare(&t);
        let s = c.snapshot();
        assert_eq!(s.stage, Stage::Trying);
        assert_eq!((s.attempts, s.refused, s.caught), (3, 2, 1));
        assert_eq!((s.even_source_ports, s.odd_source_ports), (1, 1));
        assert_eq!(s.last_source_port, Some(44601));
        c.end(
            Stage::Failed,
            Some("boom".into()),
            start + Duration::from_millis(500),
        );
        assert_eq!(c.failure(), Some("boom"));
        assert_eq!(c.elapsed(), Duration::from_millis(500));
        assert!(c.stage().is_final());
        // A new run on the same counters starts from zero.
        c.begin(Instant::now());
        assert_eq!(c.snapshot().attempts, 0);
        assert_eq!(c.snapshot().last_source_port, None);
    }

    #[test]
    fn rates_come_from_two_samples() {
        let a = Snapshot {
            attempts: 1000,
            elapsed: Duration::from_millis(100),
            ..Snapshot::default()
        };
        let b = Snapshot {
            attempts: 3000,
            elapsed: Duration::from_millis(300),
            ..Snapshot::default()
        };
        assert_eq!(b.rate_since(&a), 10_000.0);
        assert_eq!(b.attempts_per_sec(), 10_000.0);
        assert_eq!(a.rate_since(&a), 0.0);
    }

    #[test]
    fn stages_round_trip_through_the_atomic() {
        for s in Stage::ALL {
            assert_eq!(Stage::from_u8(s as u8), s);
        }
    }
}
