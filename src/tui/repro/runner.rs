//! The repro pane's threads: it carries out [`ReproRequest`]s and answers
//! with [`ReproUpdate`]s. Owned by the event loop (and by tests), never by
//! the state, which stays pure.
//!
//! Each loop runs in its own thread ([`ReproHandle`]); the target is
//! checked (a name may need DNS) in a short-lived thread first, so that
//! no key waits for it. The counters are read without a lock when the
//! loop asks for a sample, at the draw tick. A socket connected to itself
//! is kept here until the user closes it. Dropping the runner (or
//! [`ReproRunner::shutdown`]) stops every loop and waits for it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, TryRecvError};

use socket2::{Domain, SockAddr, Socket, Type};

use super::capture::SlotCapture;
use super::incident::IncidentRun;
use super::messages::{Purpose, ReproRequest, ReproUpdate};
use super::{MAX_ATTEMPTS, MAX_TIME, SLOTS};
use crate::core::ports::PortPolicy;
use crate::repro::facts::read_time_wait;
use crate::repro::{Config, Mode, ReproHandle, SelfConnection, Target};
use crate::sys::procnet::{NetFiles, read_policy};

/// What the target check hands back: the loop's handle, and whether the
/// last self-connection on the target still waits in TIME_WAIT.
type Checked = Result<(ReproHandle, bool), String>;

#[derive(Debug, Default)]
struct Slot {
    /// The target being checked; the loop's handle comes back here.
    starting: Option<Receiver<Checked>>,
    running: Option<ReproHandle>,
    held: Option<SelfConnection>,
    /// The packet capture of the latest run, and how it started (said
    /// once the run has started).
    capture: SlotCapture,
    capture_said: Option<Result<i32, &'static str>>,
}

#[derive(Debug, Default)]
pub struct ReproRunner {
    slots: [Slot; SLOTS],
    /// The "service restart" incident, on slot 0's target.
    incident: Option<IncidentRun>,
    /// Answers not yet collected by [`ReproRunner::poll`].
    ready: Vec<ReproUpdate>,
}

impl ReproRunner {
    pub fn new() -> ReproRunner {
        ReproRunner::default()
    }

    /// Whether a loop runs or is about to (the event loop then polls at
    /// the frame rate).
    pub fn is_active(&self) -> bool {
        !self.ready.is_empty()
            || self.incident.is_some()
            || self
                .slots
                .iter()
                .any(|s| s.starting.is_some() || s.running.is_some() || s.capture.is_live())
    }

    /// Whether a loop runs (its counters change).
    pub fn is_running(&self) -> bool {
        self.incident.is_some() || self.slots.iter().any(|s| s.running.is_some())
    }

    pub fn request(&mut self, req: ReproRequest) {
        match req {
            ReproRequest::Suggest {
                purpose,
                host,
                policy,
                used,
                prefer,
            } => {
                let policy = policy.unwrap_or_else(|| {
                    read_policy(&NetFiles::own(Path::new("/proc")), &mut Vec::new())
                });
                let ip = trial_ip(&host);
                let port = suggest(purpose, &policy, prefer, |p| {
                    !used.contains(&p) && is_free(ip, p)
                });
                self.ready.push(ReproUpdate::Suggested { purpose, port });
            }
            ReproRequest::Start {
                slot,
                host,
                port,
                mode,
                rate,
            } => self.start(slot, host, port, mode, rate),
            ReproRequest::Stop { slot } => {
                if let Some(i) = self.incident.as_ref().filter(|_| slot == 0) {
                    i.stop(); // the end is collected by `poll`
                }
                let s = &mut self.slots[slot];
                if s.starting.take().is_some() {
                    self.ready.push(ReproUpdate::Cancelled { slot });
                }
                if let Some(h) = &s.running {
                    h.stop(); // the end is collected by `poll`
                }
            }
            ReproRequest::CloseSocket { slot } => {
                if let Some(conn) = self.slots[slot].held.take() {
                    conn.close();
                    self.ready.push(ReproUpdate::Closed { slot });
                }
            }
            ReproRequest::SavePcap { slot } => {
                let dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
                let (packets, result) = self.slots[slot].capture.save(&dir);
                if !packets.is_empty() {
                    self.ready.push(ReproUpdate::Packets { slot, packets });
                }
                self.ready.push(ReproUpdate::Saved { slot, result });
            }
            ReproRequest::Incident { host, port } => self.start_incident(&host, port),
            ReproRequest::FreeStolenPort => {
                if let Some(i) = &self.incident {
                    i.release();
                }
            }
        }
    }

    /// Starts the incident on slot 0 (after its held socket and any loop
    /// are gone), with a capture of the port.
    fn start_incident(&mut self, host: &str, port: u16) {
        self.clear_slot(0);
        self.incident = None;
        let (capture, said) = SlotCapture::start(port);
        match IncidentRun::start(host, port) {
            Ok((run, config)) => {
                self.incident = Some(run);
                let s = &mut self.slots[0];
                s.capture = capture;
                self.ready.push(ReproUpdate::IncidentStarted { config });
                self.ready.push(ReproUpdate::Capture { slot: 0, on: said });
            }
            Err(message) => self.ready.push(ReproUpdate::Refused { slot: 0, message }),
        }
    }

    /// A new run on this slot: its old socket goes first (it may hold the
    /// very port), then any old loop and capture.
    fn clear_slot(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        if s.held.take().is_some() {
            self.ready.push(ReproUpdate::Closed { slot });
        }
        if let Some(h) = s.running.take() {
            let _ = h.stop_and_join();
        }
        s.capture = SlotCapture::default();
        s.capture_said = None;
    }

    /// Checks the target in a short-lived thread, which starts the loop.
    fn start(&mut self, slot: usize, host: String, port: u16, mode: Mode, rate: Option<f64>) {
        self.clear_slot(slot);
        if slot == 0 {
            self.incident = None;
        }
        let s = &mut self.slots[slot];
        // The capture starts before the loop, so that its first packets
        // are in the strip.
        let (capture, said) = SlotCapture::start(port);
        s.capture = capture;
        s.capture_said = Some(said);
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("selfconn-repro-check".into())
            .spawn(move || {
                let started = Target::resolve(&host, port)
                    .map_err(|e| e.to_string())
                    .and_then(|target| {
                        let config = Config {
                            rate,
                            max_time: MAX_TIME,
                            max_attempts: MAX_ATTEMPTS,
                            ..Config::new(target, mode)
                        };
                        config.check().map_err(|e| e.to_string())?;
                        let time_wait = read_time_wait(config.target.addr());
                        ReproHandle::spawn(config)
                            .map(|h| (h, time_wait))
                            .map_err(|e| format!("cannot start the loop: {e}"))
                    });
                // When the start was cancelled meanwhile, the handle comes
                // back and is dropped: the loop stops.
                let _ = tx.send(started);
            });
        match spawned {
            Ok(_) => s.starting = Some(rx),
            Err(e) => self.ready.push(ReproUpdate::Refused {
                slot,
                message: format!("cannot start a thread: {e}"),
            }),
        }
    }

    /// The answers since the last call: starts, ends, and with `sample`
    /// the counters of every running loop.
    pub fn poll(&mut self, sample: bool) -> Vec<ReproUpdate> {
        let mut out = std::mem::take(&mut self.ready);
        self.poll_incident(sample, &mut out);
        for (slot, s) in self.slots.iter_mut().enumerate() {
            if let Some(rx) = &s.starting {
                match rx.try_recv() {
                    Ok(Ok((handle, time_wait))) => {
                        out.push(ReproUpdate::Started {
                            slot,
                            config: handle.config().clone(),
                        });
                        if let Some(on) = s.capture_said.take() {
                            out.push(ReproUpdate::Capture { slot, on });
                        }
                        if time_wait {
                            out.push(ReproUpdate::TimeWait { slot });
                        }
                        s.running = Some(handle);
                        s.starting = None;
                    }
                    Ok(Err(message)) => {
                        out.push(ReproUpdate::Refused { slot, message });
                        s.starting = None;
                        s.capture = SlotCapture::default();
                    }
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => {
                        out.push(ReproUpdate::Refused {
                            slot,
                            message: "the target check stopped without an answer".into(),
                        });
                        s.starting = None;
                        s.capture = SlotCapture::default();
                    }
                }
            }
            let packets = if sample {
                let mut p = s.capture.take_new();
                p.extend(s.capture.settle());
                p
            } else {
                s.capture.settle()
            };
            if !packets.is_empty() {
                out.push(ReproUpdate::Packets { slot, packets });
            }
            let Some(handle) = &s.running else { continue };
            if handle.is_finished() {
                s.capture.run_ended();
                if let Some(h) = s.running.take() {
                    let mut outcome = h.join();
                    s.held = outcome.take_connection();
                    out.push(ReproUpdate::Ended {
                        slot,
                        end: outcome.end,
                        stats: outcome.stats,
                        held: s.held.is_some(),
                    });
                }
            } else if sample {
                out.push(ReproUpdate::Progress {
                    slot,
                    stats: handle.snapshot(),
                });
            }
        }
        out
    }

    /// The incident's steps, counters and end.
    fn poll_incident(&mut self, sample: bool, out: &mut Vec<ReproUpdate>) {
        let Some(incident) = &mut self.incident else {
            return;
        };
        let (updates, finished) = incident.poll(sample);
        out.extend(updates);
        if finished {
            self.incident = None;
            self.slots[0].capture.run_ended();
        }
    }

    /// Asks every loop to stop, without waiting.
    pub fn stop(&mut self) {
        if let Some(i) = &self.incident {
            i.stop();
        }
        for s in &mut self.slots {
            s.starting = None;
            if let Some(h) = &s.running {
                h.stop();
            }
        }
    }

    /// Stops every loop, then waits for them all; closes held sockets.
    pub fn shutdown(&mut self) {
        self.stop();
        self.incident = None;
        for s in &mut self.slots {
            if let Some(h) = s.running.take() {
                let _ = h.join();
            }
            s.held = None;
            s.capture = SlotCapture::default();
        }
        self.ready.clear();
    }
}

impl Drop for ReproRunner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The address to try binding on: the host when it is an address, else
/// loopback (a name is checked when the run starts).
fn trial_ip(host: &str) -> IpAddr {
    host.trim_matches(['[', ']'])
        .parse()
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Whether nothing has `port` bound on `ip`: a bind without
/// `SO_REUSEADDR` fails on any socket using the port there (a listener, a
/// connection, a socket in TIME_WAIT, a wildcard bind).
pub fn is_free(ip: IpAddr, port: u16) -> bool {
    let addr = SocketAddr::new(ip, port);
    Socket::new(Domain::for_address(addr), Type::STREAM, None)
        .and_then(|s| s.bind(&SockAddr::from(addr)))
        .is_ok()
}

/// A port for `purpose`, with connect()'s parity, inside the range and not
/// reserved, that `free` accepts, and (for a duel) a partner port that it
/// accepts too. `prefer` is kept when it fits.
pub fn suggest(
    purpose: Purpose,
    policy: &PortPolicy,
    prefer: Option<u16>,
    free: impl Fn(u16) -> bool,
) -> Option<u16> {
    let usable = |p: u16| policy.is_ephemeral(p) && free(p);
    let fits = |p: u16| {
        policy.range.has_connect_parity(p)
            && usable(p)
            && match purpose.partner(p) {
                Some(q) => q <= policy.range.high && usable(q),
                None => true,
            }
    };
    if let Some(p) = prefer.filter(|&p| fits(p)) {
        return Some(p);
    }
    policy.range.suggest_target(fits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ports::{PortRange, ReservedPorts};

    #[test]
    fn suggestions_have_connect_parity_and_free_partners() {
        let policy = PortPolicy {
            range: PortRange {
                low: 40000,
                high: 40010,
            },
            reserved: ReservedPorts::parse("40004").unwrap(),
        };
        let all = |_| true;
        let p = suggest(Purpose::Open, &policy, None, all).unwrap();
        assert!(policy.range.has_connect_parity(p) && p != 40004, "{p}");
        assert_eq!(
            suggest(Purpose::Open, &policy, Some(40002), all),
            Some(40002)
        );
        assert_ne!(
            suggest(Purpose::Open, &policy, Some(40003), all),
            Some(40003),
            "odd: not kept"
        );
        // The parity duel needs p + 1 free; the guard duel p + 2.
        let p = suggest(Purpose::ParityDuel, &policy, None, |x| x != 40005).unwrap();
        assert_ne!(p, 40004);
        assert_ne!(p + 1, 40005);
        let p = suggest(Purpose::GuardDuel, &policy, Some(40010), all).unwrap();
        assert!(p + 2 <= 40010 && p + 2 != 40004 && p != 40004, "{p}");
        assert_eq!(suggest(Purpose::Open, &policy, None, |_| false), None);
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(!is_free(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        drop(l);
        assert_eq!(trial_ip("[::1]"), "::1".parse::<IpAddr>().unwrap());
        assert_eq!(trial_ip("localhost"), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
}
