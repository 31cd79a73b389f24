//! The loop: connect to a local port until the kernel hands out that very
//! port as the source port and the socket ends up connected to itself.
//!
//! Blocking sockets, one `connect()` per attempt and one `getsockname()` to
//! learn the source port the kernel chose, nothing else in the hot path:
//! no allocation, no lock, counters published with plain atomic stores.
//!
//! Checked on Linux 6.18: after a refused blocking `connect()`,
//! `getsockname()` still shows the source port (the address goes back to
//! the wildcard), so no non-blocking dance is needed to see it; a
//! non-blocking `connect()` shows it too, after `EINPROGRESS`. A socket
//! bound to port 0 loses that port on refusal (the next `connect()` on it
//! picks like an unbound one), so `bind-first` needs a new socket per
//! attempt; `reuse` keeps one socket, as `tcploop.c` does.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::counters::{Counters, Snapshot, Stage, Tally, errno_name};
use super::mode::Mode;
use super::pace::{MAX_RATE, MIN_RATE, Pacer};
use super::proof::{Echo, SelfConnection};
use super::target::Target;

/// What a run does and when it gives up.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub mode: Mode,
    /// Attempts per second; `None`: as fast as possible.
    pub rate: Option<f64>,
    pub max_attempts: u64,
    pub max_time: Duration,
    /// How long the echo may take to come back.
    pub echo_timeout: Duration,
    /// How long one `connect()` may block (`SO_SNDTIMEO`). On loopback the
    /// answer is immediate; this only bounds a SYN that a firewall drops,
    /// so that a stop or the time limit is never held up for minutes.
    pub connect_timeout: Duration,
}

impl Config {
    pub const DEFAULT_MAX_ATTEMPTS: u64 = 1_000_000;
    pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(30);
    /// The highest attempt limit accepted.
    pub const MAX_ATTEMPTS_LIMIT: u64 = 1_000_000_000;
    /// The longest time limit accepted.
    pub const MAX_TIME_LIMIT: Duration = Duration::from_secs(24 * 3600);
    pub const DEFAULT_ECHO_TIMEOUT: Duration = Duration::from_secs(1);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

    /// A config with the defaults: as fast as possible, 1,000,000 attempts
    /// or 30 s, whichever comes first.
    pub fn new(target: Target, mode: Mode) -> Config {
        Config {
            target,
            mode,
            rate: None,
            max_attempts: Config::DEFAULT_MAX_ATTEMPTS,
            max_time: Config::DEFAULT_MAX_TIME,
            echo_timeout: Config::DEFAULT_ECHO_TIMEOUT,
            connect_timeout: Config::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Checks the limits, and that the mode can reach the target at all.
    pub fn check(&self) -> Result<(), ReproError> {
        if let Some(r) = self.rate
            && !(MIN_RATE..=MAX_RATE).contains(&r)
        {
            return Err(ReproError::Config(format!(
                "the rate must be from {MIN_RATE} to {MAX_RATE} attempts per second, not {r}"
            )));
        }
        if !(1..=Config::MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(ReproError::Config(format!(
                "the attempt limit must be 1 to {}, not {}",
                Config::MAX_ATTEMPTS_LIMIT,
                self.max_attempts
            )));
        }
        if self.max_time.is_zero() || self.max_time > Config::MAX_TIME_LIMIT {
            return Err(ReproError::Config(format!(
                "the time limit must be more than 0 and at most {} s, not {} s",
                Config::MAX_TIME_LIMIT.as_secs(),
                self.max_time.as_secs_f64()
            )));
        }
        if self.mode.kernel_picks_address() && self.target.source_ip() != self.target.ip() {
            return Err(ReproError::SourceAddress {
                target: self.target.addr(),
                from: self.target.source_ip(),
                mode: self.mode,
            });
        }
        Ok(())
    }
}

/// An error that stops a run (or keeps it from starting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReproError {
    #[error("{0}")]
    Config(String),
    #[error(
        "the kernel reaches {target} from {from}, so an unbound client (--mode {mode}) can never be connected to itself there; use {from} as the host, or --mode bind or bind-first"
    )]
    SourceAddress {
        target: SocketAddr,
        from: IpAddr,
        mode: Mode,
    },
    #[error("{call} failed: {message} ({name}){hint}")]
    Syscall {
        call: String,
        errno: i32,
        name: String,
        message: String,
        hint: String,
    },
}

impl ReproError {
    fn syscall(call: &str, errno: i32) -> ReproError {
        let hint = match errno {
            libc::EPERM | libc::EACCES | libc::EHOSTUNREACH => {
                "; a firewall rule may reject connections to this port"
            }
            libc::EMFILE | libc::ENFILE => "; too many open files",
            _ => "",
        };
        ReproError::Syscall {
            call: call.to_string(),
            errno,
            name: errno_name(errno),
            message: std::io::Error::from_raw_os_error(errno).to_string(),
            hint: hint.to_string(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Connected to itself: local == peer, and the echo tells whether it
    /// read back what it wrote.
    SelfConnected {
        local: SocketAddr,
        peer: SocketAddr,
        echo: Echo,
    },
    /// Something listens on the target: connected to it, not to itself.
    /// The socket was closed.
    ConnectedToOther {
        local: SocketAddr,
        peer: SocketAddr,
    },
    /// `bind()` to the target port failed: something listens on it or has
    /// it bound (`bind` mode).
    PortInUse {
        addr: SocketAddr,
    },
    AttemptLimit,
    TimeLimit,
    Stopped,
    Failed(ReproError),
}

impl End {
    pub fn is_self_connected(&self) -> bool {
        matches!(self, End::SelfConnected { .. })
    }

    /// A short name for JSON and logs.
    pub fn name(&self) -> &'static str {
        match self {
            End::SelfConnected { .. } => "self_connected",
            End::ConnectedToOther { .. } => "connected_to_listener",
            End::PortInUse { .. } => "port_in_use",
            End::AttemptLimit => "attempt_limit",
            End::TimeLimit => "time_limit",
            End::Stopped => "stopped",
            End::Failed(_) => "failed",
        }
    }

    fn stage(&self) -> Stage {
        match self {
            End::SelfConnected { echo, .. } if echo.verified => Stage::EchoProven,
            End::SelfConnected { .. } => Stage::EchoFailed,
            End::ConnectedToOther { .. } => Stage::ConnectedToOther,
            End::PortInUse { .. } => Stage::PortInUse,
            End::AttemptLimit | End::TimeLimit => Stage::LimitReached,
            End::Stopped => Stage::Stopped,
            End::Failed(_) => Stage::Failed,
        }
    }
}

/// The result of a run. When it connected to itself, the outcome holds the
/// open socket until [`Outcome::take_connection`] takes it or the outcome
/// is dropped.
#[derive(Debug)]
pub struct Outcome {
    pub target: SocketAddr,
    pub mode: Mode,
    pub end: End,
    /// The counters at the end.
    pub stats: Snapshot,
    connection: Option<SelfConnection>,
}

impl Outcome {
    pub fn is_self_connected(&self) -> bool {
        self.end.is_self_connected()
    }

    /// The self-connected socket, while the outcome holds it.
    pub fn connection(&self) -> Option<&SelfConnection> {
        self.connection.as_ref()
    }

    /// Takes the self-connected socket: it stays open while the caller
    /// keeps it.
    pub fn take_connection(&mut self) -> Option<SelfConnection> {
        self.connection.take()
    }

    pub(crate) fn failed(config: &Config, error: ReproError, counters: &Counters) -> Outcome {
        let now = Instant::now();
        if counters.stage() == Stage::Idle {
            counters.begin(now);
        }
        counters.end(Stage::Failed, Some(error.to_string()), now);
        Outcome {
            target: config.target.addr(),
            mode: config.mode,
            end: End::Failed(error),
            stats: counters.snapshot(),
            connection: None,
        }
    }
}

/// Runs the loop until it connects to itself, reaches a limit, fails, or
/// `stop` is set. Blocks; see [`ReproHandle`](super::ReproHandle) for a
/// run in a thread. Every socket is closed when this returns, except a
/// self-connected one, which the outcome holds.
pub fn run(config: &Config, counters: &Counters, stop: &AtomicBool) -> Outcome {
    if let Err(e) = config.check() {
        return Outcome::failed(config, e, counters);
    }
    let start = Instant::now();
    counters.begin(start);
    let mut engine = Engine::new(config, counters);
    let (end, connection) = engine.main_loop(start, stop);
    drop(engine); // closes the reused socket, if any
    let failure = match &end {
        End::Failed(e) => Some(e.to_string()),
        _ => None,
    };
    counters.end(end.stage(), failure, Instant::now());
    Outcome {
        target: config.target.addr(),
        mode: config.mode,
        end,
        stats: counters.snapshot(),
        connection,
    }
}

/// What one attempt came to.
enum Step {
    /// Refused or failed: try again.
    Again,
    Connected(Socket),
    /// Boxed: rare, and it keeps the common steps small.
    End(Box<End>),
}

struct Engine<'a> {
    config: &'a Config,
    counters: &'a Counters,
    domain: Domain,
    target: SockAddr,
    /// The target's address with port 0, for `bind-first`.
    any_port: SockAddr,
    target_port: u16,
    /// The one socket of `reuse` mode, between attempts.
    reused: Option<Socket>,
    /// When the time limit ends the run.
    deadline: Instant,
    tally: Tally,
}

impl<'a> Engine<'a> {
    fn new(config: &'a Config, counters: &'a Counters) -> Engine<'a> {
        let addr = config.target.addr();
        Engine {
            config,
            counters,
            domain: Domain::for_address(addr),
            target: SockAddr::from(addr),
            any_port: SockAddr::from(SocketAddr::new(addr.ip(), 0)),
            target_port: addr.port(),
            reused: None,
            deadline: Instant::now() + config.max_time,
            tally: Tally::default(),
        }
    }

    fn main_loop(&mut self, start: Instant, stop: &AtomicBool) -> (End, Option<SelfConnection>) {
        self.deadline = start + self.config.max_time;
        let deadline = self.deadline;
        let mut pacer = Pacer::new(self.config.rate, start);
        loop {
            if stop.load(Ordering::Relaxed) {
                return (End::Stopped, None);
            }
            if self.tally.attempts >= self.config.max_attempts {
                return (End::AttemptLimit, None);
            }
            let now = Instant::now();
            if now >= deadline {
                return (End::TimeLimit, None);
            }
            if pacer.is_limited()
                && let Some(end) = wait_until(pacer.next_due(now), deadline, stop)
            {
                return (end, None);
            }
            let step = self.attempt();
            self.counters.publish(&self.tally);
            match step {
                Step::Again => {}
                Step::End(end) => {
                    self.counters.publish_rare(&self.tally);
                    return (*end, None);
                }
                Step::Connected(socket) => {
                    if let Some(done) = self.connected(socket) {
                        return done;
                    }
                }
            }
        }
    }

    /// A connected socket: itself, a listener, or (guarded) caught.
    fn connected(&mut self, socket: Socket) -> Option<(End, Option<SelfConnection>)> {
        let addrs = socket
            .local_addr()
            .and_then(|l| Ok((l, socket.peer_addr()?)))
            .map(|(l, p)| (l.as_socket(), p.as_socket()));
        let (local, peer) = match addrs {
            Ok((Some(l), Some(p))) => (l, p),
            Ok(_) => {
                self.tally.error(libc::EAFNOSUPPORT);
                self.counters.publish_rare(&self.tally);
                return None;
            }
            Err(e) => {
                // Reset between connect() and getpeername(): count, go on.
                self.tally.error(e.raw_os_error().unwrap_or(0));
                self.counters.publish_rare(&self.tally);
                return None;
            }
        };
        if local.port() == self.target_port {
            self.counters.set_stage(Stage::KernelPickedTarget);
        }
        let is_self = local.ip() == peer.ip() && local.port() == peer.port();
        if !is_self {
            self.counters.publish_rare(&self.tally);
            return Some((End::ConnectedToOther { local, peer }, None));
        }
        if self.config.mode == Mode::Guarded {
            // Go's dialer: local == peer means it connected to itself;
            // close it and try again.
            self.tally.caught += 1;
            self.counters.publish_rare(&self.tally);
            self.counters.set_stage(Stage::Trying);
            drop(socket);
            return None;
        }
        self.counters.set_stage(Stage::SelfConnected);
        self.counters.publish_rare(&self.tally);
        let echo = Echo::run(&socket, self.config.echo_timeout);
        Some((
            End::SelfConnected { local, peer, echo },
            Some(SelfConnection::new(socket, local, peer)),
        ))
    }

    /// One attempt: a socket as the mode wants it, one `connect()`.
    #[inline]
    fn attempt(&mut self) -> Step {
        self.tally.attempts += 1;
        let socket = match self.socket() {
            Ok(s) => s,
            Err(step) => return step,
        };
        match socket.connect(&self.target) {
            Ok(()) => {
                self.tally.source_port(local_port(&socket));
                Step::Connected(socket)
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                if errno == libc::ECONNREFUSED {
                    self.tally.refused += 1;
                    self.tally.source_port(local_port(&socket));
                    if self.config.mode == Mode::Reuse {
                        self.reused = Some(socket);
                    }
                    return Step::Again;
                }
                if is_fatal(errno) {
                    return Step::End(Box::new(End::Failed(ReproError::syscall(
                        "connect()",
                        errno,
                    ))));
                }
                // EINPROGRESS: no answer within the connect timeout. The
                // kernel chose a port; count it. In reuse mode the socket
                // is dropped (it may still be connecting) and replaced.
                if errno == libc::EINPROGRESS || errno == libc::ETIMEDOUT {
                    self.tally.source_port(local_port(&socket));
                }
                self.tally.error(errno);
                self.counters.publish_rare(&self.tally);
                Step::Again
            }
        }
    }

    /// The socket for the next attempt.
    #[inline]
    fn socket(&mut self) -> Result<Socket, Step> {
        if let Some(s) = self.reused.take() {
            return Ok(s);
        }
        let s = Socket::new(self.domain, Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| fail("socket()", &e))?;
        // Not past the time limit (a reused socket keeps its first value).
        let left = self.deadline.saturating_duration_since(Instant::now());
        let timeout = self
            .config
            .connect_timeout
            .min(left)
            .max(Duration::from_millis(1));
        s.set_write_timeout(Some(timeout))
            .map_err(|e| fail("setsockopt(SO_SNDTIMEO)", &e))?;
        match self.config.mode {
            Mode::Fresh | Mode::Guarded => {}
            Mode::Reuse => {
                // As tcploop.c does; it changes nothing for the port choice.
                s.set_reuse_address(true)
                    .map_err(|e| fail("setsockopt(SO_REUSEADDR)", &e))?;
            }
            Mode::Bind => {
                s.set_reuse_address(true)
                    .map_err(|e| fail("setsockopt(SO_REUSEADDR)", &e))?;
                if let Err(e) = s.bind(&self.target) {
                    return Err(match e.raw_os_error() {
                        Some(libc::EADDRINUSE) => {
                            self.tally.error(libc::EADDRINUSE);
                            Step::End(Box::new(End::PortInUse {
                                addr: self.config.target.addr(),
                            }))
                        }
                        _ => fail("bind()", &e),
                    });
                }
            }
            Mode::BindFirst => {
                if let Err(e) = s.bind(&self.any_port) {
                    return match e.raw_os_error() {
                        // No free port of either parity: count, go on.
                        Some(errno @ (libc::EADDRINUSE | libc::EADDRNOTAVAIL)) => {
                            self.tally.error(errno);
                            self.counters.publish_rare(&self.tally);
                            Err(Step::Again)
                        }
                        _ => Err(fail("bind()", &e)),
                    };
                }
            }
        }
        Ok(s)
    }
}

fn fail(call: &str, e: &std::io::Error) -> Step {
    Step::End(Box::new(End::Failed(ReproError::syscall(
        call,
        e.raw_os_error().unwrap_or(0),
    ))))
}

/// The port `getsockname()` shows; 0 when it shows none.
#[inline]
fn local_port(socket: &Socket) -> u16 {
    socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map_or(0, |a| a.port())
}

/// Errors that will not go away by trying again.
fn is_fatal(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINVAL
            | libc::EAFNOSUPPORT
            | libc::EPERM
            | libc::EACCES
            | libc::ENETUNREACH
            | libc::EHOSTUNREACH
            | libc::EBADF
            | libc::ENOTSOCK
            | libc::EFAULT
            | libc::EPROTOTYPE
            | libc::EISCONN
    )
}

/// Sleeps until `due`, in short slices so that a stop is seen within
/// 20 ms. Returns why it gave up, if it did.
fn wait_until(due: Instant, deadline: Instant, stop: &AtomicBool) -> Option<End> {
    const SLICE: Duration = Duration::from_millis(20);
    loop {
        if stop.load(Ordering::Relaxed) {
            return Some(End::Stopped);
        }
        let now = Instant::now();
        if now >= due {
            return None;
        }
        if now >= deadline {
            return Some(End::TimeLimit);
        }
        std::thread::sleep((due.min(deadline) - now).min(SLICE));
    }
}
