//! One run as the pane shows it: the config, the counters as last sampled,
//! the rates and source ports seen (for the sparkline and the ticker), how
//! far it got on the way to the proof, and how it ended.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::core::packets::{Packet, Strip};
use crate::repro::scenario::{Step as IncidentStep, StepEvent};
use crate::repro::{Config, End, Snapshot, Stage};

/// Rates kept for the sparkline (one per draw tick).
const RATES_KEPT: usize = 240;
/// Source ports kept for the ticker.
const PORTS_KEPT: usize = 24;
/// Lines the packet strip keeps (more than any pane shows).
const STRIP_LINES: usize = 16;

/// The packet capture of a run, as the pane shows it.
#[derive(Debug, Clone)]
pub enum Capture {
    /// Not said yet (the runner says it when the run starts).
    Unknown,
    /// Packets go into the strip; times at this UTC offset.
    On { strip: Box<Strip>, utc_offset: i32 },
    /// Why there is no capture, in a few words.
    Off(&'static str),
}

/// How far a run got on the way to the proof, for the stage chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Trying = 0,
    KernelPicked = 1,
    SimultaneousOpen = 2,
    Established = 3,
    EchoProven = 4,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Trying,
        Step::KernelPicked,
        Step::SimultaneousOpen,
        Step::Established,
        Step::EchoProven,
    ];

    /// The furthest step a stage shows.
    pub fn of(stage: Stage) -> Step {
        match stage {
            Stage::KernelPickedTarget => Step::KernelPicked,
            // The engine moves from simultaneous open to ESTABLISHED in one
            // step (connect() returns on ESTABLISHED).
            Stage::SelfConnected | Stage::EchoFailed => Step::Established,
            Stage::EchoProven => Step::EchoProven,
            _ => Step::Trying,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Run {
    pub config: Config,
    pub stats: Snapshot,
    /// Attempts per second between consecutive samples, oldest first.
    pub rates: VecDeque<u64>,
    /// Source ports seen at the samples (consecutive repeats once), oldest first.
    pub ports: VecDeque<u16>,
    /// The furthest step seen.
    pub furthest: Step,
    pub end: Option<End>,
    /// The socket connected to itself is still open.
    pub held: bool,
    pub capture: Capture,
    /// The last run's self-connection on the target still waited in
    /// TIME_WAIT when this run started.
    pub time_wait: bool,
    /// The steps of the "service restart" incident, when this run is one.
    pub incident: Option<Vec<StepEvent>>,
}

impl Run {
    pub fn new(config: Config) -> Run {
        Run {
            config,
            stats: Snapshot::default(),
            rates: VecDeque::new(),
            ports: VecDeque::new(),
            furthest: Step::Trying,
            end: None,
            held: false,
            capture: Capture::Unknown,
            time_wait: false,
            incident: None,
        }
    }

    /// A run of the "service restart" incident.
    pub fn incident(config: Config) -> Run {
        Run {
            incident: Some(Vec::new()),
            ..Run::new(config)
        }
    }

    /// The capture started (with the UTC offset for the times) or not.
    pub fn capture_said(&mut self, on: Result<i32, &'static str>) {
        self.capture = match on {
            Ok(utc_offset) => Capture::On {
                strip: Box::new(Strip::new(self.target().port(), STRIP_LINES)),
                utc_offset,
            },
            Err(why) => Capture::Off(why),
        };
    }

    /// Packets for the strip, oldest first.
    pub fn packets(&mut self, packets: Vec<Packet>) {
        if let Capture::On { strip, .. } = &mut self.capture {
            for p in packets {
                strip.push(p);
            }
        }
    }

    /// The incident waits with the stolen port held (for `c`).
    pub fn incident_waits(&self) -> bool {
        self.is_running()
            && self.incident.as_ref().is_some_and(|steps| {
                steps
                    .last()
                    .is_some_and(|e| matches!(e.step, IncidentStep::ServiceRestartFailed { .. }))
            })
    }

    pub fn is_running(&self) -> bool {
        self.end.is_none()
    }

    pub fn target(&self) -> SocketAddr {
        self.config.target.addr()
    }

    /// Takes a new sample of the counters.
    pub fn sample(&mut self, stats: Snapshot) {
        if stats.elapsed > self.stats.elapsed {
            let rate = stats.rate_since(&self.stats).round() as u64;
            if self.rates.len() == RATES_KEPT {
                self.rates.pop_front();
            }
            self.rates.push_back(rate);
        }
        self.note_port(stats.last_source_port);
        self.furthest = self.furthest.max(Step::of(stats.stage));
        self.stats = stats;
    }

    /// Adds the kernel's latest pick to the source-port ticker.
    fn note_port(&mut self, port: Option<u16>) {
        if let Some(p) = port
            && self.ports.back() != Some(&p)
        {
            if self.ports.len() == PORTS_KEPT {
                self.ports.pop_front();
            }
            self.ports.push_back(p);
        }
    }

    /// The attempts per second lately: over the last second of samples.
    pub fn recent_rate(&self) -> u64 {
        let n = self.rates.len().min(10);
        if n == 0 {
            return 0;
        }
        self.rates.iter().rev().take(n).sum::<u64>() / n as u64
    }

    pub(super) fn finish(&mut self, end: End, stats: Snapshot, held: bool) {
        self.note_port(stats.last_source_port);
        self.furthest = self.furthest.max(Step::of(stats.stage));
        if let End::SelfConnected { echo, .. } = &end {
            self.furthest = self.furthest.max(if echo.verified {
                Step::EchoProven
            } else {
                Step::Established
            });
        }
        self.stats = stats;
        self.end = Some(end);
        self.held = held;
    }

    /// A step of the incident: its self-connection shows in the numbers
    /// and the chain.
    pub(super) fn incident_step(&mut self, event: StepEvent) {
        if let IncidentStep::ClientSelfConnected { local, .. } = &event.step {
            self.stats.last_source_port = Some(local.port());
            self.note_port(Some(local.port()));
            self.furthest = Step::EchoProven;
        }
        if let Some(steps) = self.incident.as_mut() {
            steps.push(event);
        }
    }

    /// The incident is over: its steps say how (the end is only there to
    /// say it runs no more).
    pub(super) fn finish_incident(&mut self, stats: Snapshot) {
        let source = self.stats.last_source_port;
        self.stats = stats;
        self.stats.last_source_port = self.stats.last_source_port.or(source);
        self.end = Some(End::Stopped);
        self.held = false;
    }

    /// The 4-tuple of the self-connection, if it connected to itself.
    pub fn self_connection(&self) -> Option<(SocketAddr, SocketAddr)> {
        match &self.end {
            Some(End::SelfConnected { local, peer, .. }) => Some((*local, *peer)),
            _ => None,
        }
    }
}
