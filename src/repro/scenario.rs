//! The "service restart" incident, live: a toy service listens on the
//! port, stops; a client keeps reconnecting to it until the kernel hands it
//! that very port as its source port and it connects to itself; the
//! service restarts and fails with EADDRINUSE; the stolen socket is closed
//! (or destroyed) and the service starts again.
//!
//! Each step is data ([`StepEvent`]: what, when, and whether it worked),
//! given to a callback as it happens, so that a CLI prints it and a pane
//! shows it. Bounded like every run (the client loop's attempt and time
//! limits, a stop flag between steps); everything is closed at the end.
//!
//! Why these choices (checked on Linux 6.18): the client is a plain
//! `connect()` loop (mode `fresh`, no SO_REUSEADDR), as real clients are;
//! a client that sets SO_REUSEADDR (mode `reuse`) would let a service that
//! sets it too bind the port. The service sets SO_REUSEADDR, as most do:
//! it fails all the same. And the stolen socket is freed by an abortive
//! close (SO_LINGER 0) or a destroy: a plain close leaves it in TIME_WAIT,
//! which holds the port for 60 s more, even from that service.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use serde::{Serialize, Serializer};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::counters::{Counters, Snapshot, errno_name};
use super::engine::{Config, End, run};
use super::mode::Mode;
use super::target::Target;
use crate::sys::sockdestroy::SockDestroyer;

/// The scenarios `repro --scenario` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// A restarting service whose port a self-connected client took.
    Restart,
}

impl std::str::FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Scenario, String> {
        match s {
            "restart" => Ok(Scenario::Restart),
            _ => Err(format!("unknown scenario {s:?} (one of: restart)")),
        }
    }
}

/// How the stolen socket is let go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeWith {
    /// Its holder closes it with SO_LINGER 0: a reset, no TIME_WAIT.
    Close,
    /// Destroyed from outside through sock_diag, as `ss -K` does (root).
    Destroy,
}

#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    pub target: Target,
    /// Limits of the client's retry loop.
    pub max_attempts: u64,
    pub max_time: Duration,
    pub free_with: FreeWith,
    /// When set, the stolen port stays held after the failed restart until
    /// this flag is raised (a pane's key), the stop flag, or the time
    /// limit: the audience sees the failure before the fix.
    pub hold: Option<Arc<AtomicBool>>,
}

impl ScenarioConfig {
    pub fn new(target: Target) -> ScenarioConfig {
        ScenarioConfig {
            target,
            max_attempts: Config::DEFAULT_MAX_ATTEMPTS,
            max_time: Config::DEFAULT_MAX_TIME,
            free_with: FreeWith::Close,
            hold: None,
        }
    }

    /// The client's loop: plain `connect()` calls, like real clients.
    pub fn client(&self) -> Config {
        Config {
            max_attempts: self.max_attempts,
            max_time: self.max_time,
            ..Config::new(self.target.clone(), Mode::Fresh)
        }
    }
}

/// One step of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The toy service listens on the port.
    ServiceStarted {
        addr: SocketAddr,
    },
    /// It stopped: nothing listens, and a retrying client gets refused.
    ServiceStopped {
        addr: SocketAddr,
    },
    /// The client connected to itself and holds the port.
    ClientSelfConnected {
        local: SocketAddr,
        attempts: u64,
        refused: u64,
        echo_verified: bool,
    },
    /// The client's loop ended without connecting to itself.
    ClientGaveUp {
        end: &'static str,
        attempts: u64,
    },
    /// The service restarted and could not take its port.
    ServiceRestartFailed {
        call: &'static str,
        errno: String,
    },
    /// The service restarted fine: the port was not held.
    ServiceRestarted {
        addr: SocketAddr,
    },
    /// The stolen socket is gone.
    PortFreed {
        how: FreeWith,
        addr: SocketAddr,
    },
    PortNotFreed {
        how: FreeWith,
        error: String,
    },
    /// The service is back on its port.
    ServiceBack {
        addr: SocketAddr,
    },
    /// A start of the service failed where it should not have.
    ServiceStartFailed {
        call: &'static str,
        errno: String,
    },
    /// The stop flag was set: the scenario ended early.
    Stopped,
}

/// Whether a step went as a service would want it: a restart that fails
/// is `failed` (the point of the scenario), as is a client giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    Ok,
    Failed,
}

/// A step with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepEvent {
    #[serde(flatten)]
    pub step: Step,
    #[serde(serialize_with = "rfc3339")]
    pub time: DateTime<Local>,
    /// Since the scenario started.
    pub elapsed_ms: u64,
    pub result: StepResult,
}

fn rfc3339<S: Serializer>(t: &DateTime<Local>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

impl Step {
    fn result(&self) -> StepResult {
        match self {
            Step::ServiceStarted { .. }
            | Step::ServiceStopped { .. }
            | Step::ClientSelfConnected { .. }
            | Step::ServiceRestarted { .. }
            | Step::PortFreed { .. }
            | Step::ServiceBack { .. } => StepResult::Ok,
            _ => StepResult::Failed,
        }
    }
}

/// How the scenario went.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    pub target: SocketAddr,
    pub steps: Vec<StepEvent>,
    /// The client's counters at the end of its loop.
    pub client: Snapshot,
    /// The whole story happened: the restart failed with EADDRINUSE, the
    /// port was freed, and the service came back.
    pub reproduced: bool,
}

/// Runs the "service restart" scenario; `on_step` sees each step as it
/// happens. Blocks for at most about the client's time limit. `counters`
/// show the client's loop live.
pub fn run_restart(
    config: &ScenarioConfig,
    counters: &Counters,
    stop: &AtomicBool,
    on_step: &mut dyn FnMut(&StepEvent),
) -> ScenarioOutcome {
    let mut r = Recorder {
        start: Instant::now(),
        steps: Vec::new(),
        on_step,
    };
    let addr = config.target.addr();
    let client = run_steps(config, counters, stop, &mut r);
    let reproduced = r.steps.iter().any(
        |e| matches!(&e.step, Step::ServiceRestartFailed { errno, .. } if errno == "EADDRINUSE"),
    ) && r
        .steps
        .last()
        .is_some_and(|e| matches!(e.step, Step::ServiceBack { .. }));
    ScenarioOutcome {
        target: addr,
        steps: r.steps,
        client,
        reproduced,
    }
}

struct Recorder<'a> {
    start: Instant,
    steps: Vec<StepEvent>,
    on_step: &'a mut dyn FnMut(&StepEvent),
}

impl Recorder<'_> {
    fn record(&mut self, step: Step) {
        let event = StepEvent {
            result: step.result(),
            step,
            time: Local::now(),
            elapsed_ms: u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        (self.on_step)(&event);
        self.steps.push(event);
    }
}

/// The steps in order; returns the client's counters. Every socket made
/// here is closed when it returns.
fn run_steps(
    config: &ScenarioConfig,
    counters: &Counters,
    stop: &AtomicBool,
    r: &mut Recorder,
) -> Snapshot {
    let addr = config.target.addr();
    let service = match start_service(addr) {
        Ok(s) => s,
        Err((call, errno)) => {
            r.record(Step::ServiceStartFailed { call, errno });
            return counters.snapshot();
        }
    };
    r.record(Step::ServiceStarted { addr });
    drop(service);
    r.record(Step::ServiceStopped { addr });

    let mut outcome = run(&config.client(), counters, stop);
    let conn = outcome.take_connection();
    let held = match (&outcome.end, conn) {
        (End::SelfConnected { local, echo, .. }, Some(conn)) => {
            r.record(Step::ClientSelfConnected {
                local: *local,
                attempts: outcome.stats.attempts,
                refused: outcome.stats.refused,
                echo_verified: echo.verified,
            });
            conn.into_socket()
        }
        (end, _) => {
            r.record(Step::ClientGaveUp {
                end: end.name(),
                attempts: outcome.stats.attempts,
            });
            return outcome.stats;
        }
    };
    if stop.load(Ordering::Relaxed) {
        r.record(Step::Stopped);
        let _ = held.set_linger(Some(Duration::ZERO));
        return outcome.stats;
    }
    match start_service(addr) {
        Err((call, errno)) => r.record(Step::ServiceRestartFailed { call, errno }),
        Ok(again) => {
            r.record(Step::ServiceRestarted { addr });
            drop(again);
        }
    }
    if !wait_for_release(config, stop) {
        r.record(Step::Stopped);
        let _ = held.set_linger(Some(Duration::ZERO));
        return outcome.stats;
    }
    let local = held.local_addr().ok().and_then(|a| a.as_socket());
    match free(held, local.unwrap_or(addr), config.free_with) {
        Ok(()) => r.record(Step::PortFreed {
            how: config.free_with,
            addr: local.unwrap_or(addr),
        }),
        Err(error) => {
            r.record(Step::PortNotFreed {
                how: config.free_with,
                error,
            });
            return outcome.stats;
        }
    }
    match start_service(addr) {
        Ok(back) => {
            r.record(Step::ServiceBack { addr });
            drop(back);
        }
        Err((call, errno)) => r.record(Step::ServiceStartFailed { call, errno }),
    }
    outcome.stats
}

/// Waits for the hold flag, if there is one (bounded by the client's time
/// limit); false when stopped or out of time.
fn wait_for_release(config: &ScenarioConfig, stop: &AtomicBool) -> bool {
    let Some(hold) = &config.hold else {
        return true;
    };
    let deadline = Instant::now() + config.max_time;
    while !hold.load(Ordering::Relaxed) {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The toy service: SO_REUSEADDR (as most services set), bind, listen.
/// On failure, the call that failed and its errno's name.
fn start_service(addr: SocketAddr) -> Result<Socket, (&'static str, String)> {
    let err =
        |call: &'static str, e: std::io::Error| (call, errno_name(e.raw_os_error().unwrap_or(0)));
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| err("socket()", e))?;
    s.set_reuse_address(true)
        .map_err(|e| err("setsockopt(SO_REUSEADDR)", e))?;
    s.bind(&SockAddr::from(addr))
        .map_err(|e| err("bind()", e))?;
    s.listen(128).map_err(|e| err("listen()", e))?;
    Ok(s)
}

/// Lets the stolen socket go so that it leaves no TIME_WAIT behind; the
/// socket is closed in every case.
fn free(held: Socket, addr: SocketAddr, how: FreeWith) -> Result<(), String> {
    match how {
        FreeWith::Close => {
            held.set_linger(Some(Duration::ZERO))
                .map_err(|e| format!("setsockopt(SO_LINGER): {e}"))?;
            drop(held);
            Ok(())
        }
        FreeWith::Destroy => {
            let inode = std::fs::metadata(format!("/proc/self/fd/{}", held.as_raw_fd()))
                .map_err(|e| format!("cannot read the socket's inode: {e}"))?
                .ino();
            let done = SockDestroyer::open()
                .map_err(|e| format!("sock_diag: {e}"))
                .and_then(|mut d| {
                    d.destroy_self_connected(addr, addr, inode)
                        .map_err(|e| e.to_string())
                });
            // Destroyed or not, the holder lets it go without TIME_WAIT.
            let _ = held.set_linger(Some(Duration::ZERO));
            drop(held);
            done.map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_serialise_flat_with_their_name_time_and_result() {
        let e = StepEvent {
            step: Step::ServiceRestartFailed {
                call: "bind()",
                errno: "EADDRINUSE".into(),
            },
            time: Local::now(),
            elapsed_ms: 12,
            result: StepResult::Failed,
        };
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["step"], "service_restart_failed");
        assert_eq!(j["result"], "failed");
        assert_eq!(j["errno"], "EADDRINUSE");
        assert_eq!(j["call"], "bind()");
        assert_eq!(j["elapsed_ms"], 12);
        assert!(j["time"].as_str().unwrap().contains('T'));
        assert_eq!(
            Step::ServiceBack {
                addr: "127.0.0.1:1".parse().unwrap()
            }
            .result(),
            StepResult::Ok
        );
        assert_eq!("restart".parse::<Scenario>(), Ok(Scenario::Restart));
        assert!(
            "reboot"
                .parse::<Scenario>()
                .unwrap_err()
                .contains("restart")
        );
    }

    #[test]
    fn a_port_in_use_ends_the_scenario_at_the_first_start_and_closes_nothing_else() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::from_addr(taken.local_addr().unwrap()).unwrap();
        let mut seen = Vec::new();
        let out = run_restart(
            &ScenarioConfig::new(target),
            &Counters::new(),
            &AtomicBool::new(false),
            &mut |e| seen.push(e.step.clone()),
        );
        assert_eq!(
            seen,
            vec![Step::ServiceStartFailed {
                call: "bind()",
                errno: "EADDRINUSE".into()
            }]
        );
        assert_eq!(out.steps.len(), 1);
        assert!(!out.reproduced);
        assert_eq!(out.client.attempts, 0);
    }
}
