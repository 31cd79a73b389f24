//! The messages between the pane's state and its thread: work for the
//! runner ([`ReproRequest`], through the dashboard's outbox) and its
//! answers ([`ReproUpdate`], plain values, counters sampled at the draw
//! tick), and what the state needs of the latest scan ([`ScanFacts`]).

use std::path::PathBuf;

use crate::core::packets::parse::Packet;
use crate::core::ports::PortPolicy;
use crate::repro::scenario::StepEvent;
use crate::repro::{Config, End, Mode, Snapshot};

/// What a suggestion of ports is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The first loop's port, when the pane opens.
    Open,
    /// The second loop's port: another free port of the same parity.
    Duel,
    /// A free port with connect()'s parity whose odd neighbour is free too.
    ParityDuel,
    /// A free port with connect()'s parity, and the next one of that parity.
    GuardDuel,
}

impl Purpose {
    /// The second loop's port for a suggested first one.
    pub fn partner(self, port: u16) -> Option<u16> {
        match self {
            Purpose::Open | Purpose::Duel => None,
            Purpose::ParityDuel => port.checked_add(1),
            Purpose::GuardDuel => port.checked_add(2),
        }
    }
}

/// Work for the runner.
#[derive(Debug, Clone, PartialEq)]
pub enum ReproRequest {
    /// Find free ports: inside the range, with connect()'s parity, not in
    /// `used` (the latest snapshot's ports), not reserved, and free for a
    /// trial bind on `host`.
    Suggest {
        purpose: Purpose,
        host: String,
        /// `None` before the first scan: the runner reads it.
        policy: Option<PortPolicy>,
        used: Vec<u16>,
        /// Kept if it fits.
        prefer: Option<u16>,
    },
    Start {
        slot: usize,
        host: String,
        port: u16,
        mode: Mode,
        rate: Option<f64>,
    },
    Stop {
        slot: usize,
    },
    /// Close the socket the slot's run left connected to itself.
    CloseSocket {
        slot: usize,
    },
    /// Write the last run's capture of the slot to a `.pcap` file in the
    /// current directory.
    SavePcap {
        slot: usize,
    },
    /// Play the "service restart" incident on slot 0's target.
    Incident {
        host: String,
        port: u16,
    },
    /// The incident waits with the stolen port held: let it go on.
    FreeStolenPort,
}

/// The runner's answers.
#[derive(Debug, Clone)]
pub enum ReproUpdate {
    Suggested {
        purpose: Purpose,
        port: Option<u16>,
    },
    /// The target was accepted and the loop runs.
    Started {
        slot: usize,
        config: Config,
    },
    /// It did not start: why, in one line.
    Refused {
        slot: usize,
        message: String,
    },
    /// Stopped before the target was checked.
    Cancelled {
        slot: usize,
    },
    /// The counters, sampled at a draw tick.
    Progress {
        slot: usize,
        stats: Snapshot,
    },
    Ended {
        slot: usize,
        end: End,
        stats: Snapshot,
        /// The socket connected to itself is kept open.
        held: bool,
    },
    /// The held socket was closed.
    Closed {
        slot: usize,
    },
    /// The packet capture of the run that just started: on (with the
    /// local UTC offset for the strip's times), or why it is off.
    Capture {
        slot: usize,
        on: Result<i32, &'static str>,
    },
    /// Packets captured since the last draw tick, oldest first.
    Packets {
        slot: usize,
        packets: Vec<Packet>,
    },
    /// The last run's self-connection on the same target still waits in
    /// TIME_WAIT (read from the table when the run started).
    TimeWait {
        slot: usize,
    },
    /// The capture file was written (its path), or why not.
    Saved {
        slot: usize,
        result: Result<PathBuf, String>,
    },
    /// The incident started: its target, as a run of slot 0.
    IncidentStarted {
        config: Config,
    },
    /// One step of the incident, as it happened.
    IncidentStep {
        event: StepEvent,
    },
    /// The incident is over (every socket of it closed); the client's
    /// counters at the end.
    IncidentEnded {
        stats: Snapshot,
    },
}

/// What the state needs to know of the latest scan.
#[derive(Debug, Clone, Default)]
pub struct ScanFacts {
    pub policy: Option<PortPolicy>,
    /// Local ports in use in the tool's own namespace.
    pub used: Vec<u16>,
}
