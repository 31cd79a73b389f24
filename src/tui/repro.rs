//! The repro pane's state: the form of each loop (port, host, mode,
//! pace), what each run showed last, and the self-connections it made.
//!
//! Pure, like [`super::app::App`]: keys arrive as [`ReproEffect`]s, work
//! for threads leaves as [`ReproRequest`]s (through `App::outbox`; the
//! event loop hands them to [`super::repro_runner::ReproRunner`]), and the
//! runner's answers come back as [`ReproUpdate`]s: plain values, counters
//! sampled at the draw tick. Tests feed fixed updates.
//!
//! Two slots: the first loop, and the second one of a duel (`d`). The
//! same port cannot connect to itself twice at once, so the duel presets
//! put the second loop on another port: the odd neighbour for the parity
//! duel (which never connects), the next even port for the guard duel
//! (the guard catches and closes; the plain loop holds its port).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::core::ports::PortPolicy;
use crate::repro::{Config, End, Mode, Snapshot, Stage, parse_port};

/// How many loops can run side by side.
pub const SLOTS: usize = 2;
/// A run started from the dashboard stops by itself after this long...
pub const MAX_TIME: Duration = Duration::from_secs(300);
/// ... or this many attempts (about 5 minutes as fast as possible).
pub const MAX_ATTEMPTS: u64 = 100_000_000;
/// Rates kept for the sparkline (one per draw tick).
const RATES_KEPT: usize = 240;
/// Source ports kept for the ticker.
const PORTS_KEPT: usize = 24;
/// Self-connections remembered for the table's mark.
const MARKS_KEPT: usize = 8;
const HOST_MAX: usize = 64;
const PORT_MAX: usize = 7;

/// Host presets for ←/→ in the host field.
pub const HOSTS: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Field {
    #[default]
    Port,
    Host,
    Mode,
    Pace,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Port, Field::Host, Field::Mode, Field::Pace];

    pub fn label(self) -> &'static str {
        match self {
            Field::Port => "port",
            Field::Host => "host",
            Field::Mode => "mode",
            Field::Pace => "pace",
        }
    }

    /// A field one types into (the others cycle with ←/→).
    pub fn is_text(self) -> bool {
        matches!(self, Field::Port | Field::Host)
    }
}

/// Attempts per second: a preset, or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    PerSec(u32),
    #[default]
    Max,
}

impl Pace {
    /// Slowest first: → goes faster.
    pub const PRESETS: [Pace; 5] = [
        Pace::PerSec(10),
        Pace::PerSec(100),
        Pace::PerSec(1000),
        Pace::PerSec(10_000),
        Pace::Max,
    ];

    pub fn rate(self) -> Option<f64> {
        match self {
            Pace::PerSec(n) => Some(f64::from(n)),
            Pace::Max => None,
        }
    }

    pub fn label(self) -> String {
        match self {
            Pace::PerSec(n) => format!("{}/s", group(u64::from(n))),
            Pace::Max => "max".to_string(),
        }
    }

    /// In words, for the form's note.
    pub fn words(self) -> String {
        match self {
            Pace::PerSec(n) => format!("{} attempts per second", group(u64::from(n))),
            Pace::Max => "as fast as possible".to_string(),
        }
    }

    fn step(self, dir: i8) -> Pace {
        let i = Pace::PRESETS.iter().position(|&p| p == self).unwrap_or(0);
        Pace::PRESETS[cycle(i, Pace::PRESETS.len(), dir)]
    }
}

fn cycle(i: usize, n: usize, dir: i8) -> usize {
    if dir >= 0 {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The characters a host can be typed with (addresses and names).
pub fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '[' | ']' | '%')
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

/// One run as the pane shows it: the config, the counters as last sampled,
/// the history for the sparkline and the ticker, and the end.
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
        }
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

    fn finish(&mut self, end: End, stats: Snapshot, held: bool) {
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

    /// The 4-tuple of the self-connection, if it connected to itself.
    pub fn self_connection(&self) -> Option<(SocketAddr, SocketAddr)> {
        match &self.end {
            Some(End::SelfConnected { local, peer, .. }) => Some((*local, *peer)),
            _ => None,
        }
    }
}

/// A note under a slot's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Why it did not start (bad input, a target that is not local...).
    Error(String),
    Info(String),
}

/// One loop's form and its last run.
#[derive(Debug, Clone)]
pub struct Slot {
    pub port: String,
    pub host: String,
    pub mode: Mode,
    pub pace: Pace,
    /// The user typed the port (a late suggestion must not replace it).
    pub port_edited: bool,
    pub note: Option<Note>,
    /// Asked to start; the target is being checked.
    pub starting: bool,
    pub run: Option<Run>,
    /// The form changed since the last run ended: the pane shows what to
    /// expect of the new settings rather than the old result.
    pub stale: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            port: String::new(),
            host: HOSTS[0].to_string(),
            mode: Mode::Fresh,
            pace: Pace::Max,
            port_edited: false,
            note: None,
            starting: false,
            run: None,
            stale: false,
        }
    }
}

impl Slot {
    /// A loop is running or about to: its form is locked.
    pub fn is_busy(&self) -> bool {
        self.starting || self.run.as_ref().is_some_and(Run::is_running)
    }

    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(Run::is_running)
    }

    pub fn holds_socket(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.held)
    }

    pub fn port_number(&self) -> Option<u16> {
        parse_port(&self.port).ok()
    }

    fn value(&mut self, field: Field) -> Option<&mut String> {
        match field {
            Field::Port => Some(&mut self.port),
            Field::Host => Some(&mut self.host),
            _ => None,
        }
    }
}

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
}

/// A change asked for by a key in the pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReproEffect {
    Start,
    Stop,
    CloseSocket,
    Duel,
    ParityDuel,
    GuardDuel,
    NextField,
    PrevField,
    /// The previous (-1) or next (+1) value of the focused field.
    Cycle(i8),
    Type(char),
    Backspace,
    ClearField,
}

/// What the state needs to know of the latest scan.
#[derive(Debug, Clone, Default)]
pub struct ScanFacts {
    pub policy: Option<PortPolicy>,
    /// Local ports in use in the tool's own namespace.
    pub used: Vec<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct ReproState {
    pub open: bool,
    pub duel: bool,
    pub slots: [Slot; SLOTS],
    /// The focused field: which slot, which field.
    pub focus: (usize, Field),
    /// The next character typed replaces the focused text field (it was
    /// just focused, or filled in by a suggestion).
    pub replace: bool,
    /// Self-connections this dashboard made (held or closed), newest last:
    /// the sockets table marks them.
    pub marks: VecDeque<SocketAddr>,
}

/// Requests that follow from an effect or an update.
pub type Requests = Vec<ReproRequest>;

impl ReproState {
    /// The slots on screen.
    pub fn shown(&self) -> usize {
        if self.duel { 2 } else { 1 }
    }

    pub fn any_busy(&self) -> bool {
        self.slots.iter().any(Slot::is_busy)
    }

    pub fn any_running(&self) -> bool {
        self.slots.iter().any(Slot::is_running)
    }

    pub fn any_held(&self) -> bool {
        self.slots.iter().any(Slot::holds_socket)
    }

    /// The fields in focus order: the first slot's, then the second's.
    pub fn fields(&self) -> Vec<(usize, Field)> {
        (0..self.shown())
            .flat_map(|s| Field::ALL.map(|f| (s, f)))
            .collect()
    }

    /// Whether the focused field takes typed text now.
    pub fn typing(&self) -> Option<Field> {
        let (slot, field) = self.focus;
        (field.is_text() && !self.slots[slot].is_busy()).then_some(field)
    }

    pub fn is_first_field(&self) -> bool {
        self.fields().first() == Some(&self.focus)
    }

    pub fn is_last_field(&self) -> bool {
        self.fields().last() == Some(&self.focus)
    }

    /// Whether `addr` is a self-connection this dashboard made.
    pub fn is_mark(&self, addr: SocketAddr) -> bool {
        self.marks.contains(&addr)
    }

    /// The pane opens: a port is suggested if there is none yet.
    pub fn open(&mut self, facts: &ScanFacts) -> Requests {
        self.open = true;
        let a = &self.slots[0];
        if a.port.is_empty() && !a.port_edited {
            self.replace = true;
            vec![suggest(Purpose::Open, &a.host, facts.clone(), None)]
        } else {
            vec![]
        }
    }

    /// Stops whatever runs (the pane closes, or Esc).
    pub fn stop_all(&mut self) -> Requests {
        (0..SLOTS)
            .filter(|&s| self.slots[s].is_busy())
            .map(|slot| ReproRequest::Stop { slot })
            .collect()
    }

    pub fn apply(&mut self, effect: ReproEffect, facts: &ScanFacts) -> Requests {
        match effect {
            ReproEffect::Start => self.start(),
            ReproEffect::Stop => self.stop_all(),
            ReproEffect::CloseSocket => (0..SLOTS)
                .filter(|&s| self.slots[s].holds_socket())
                .map(|slot| ReproRequest::CloseSocket { slot })
                .collect(),
            ReproEffect::Duel => self.toggle_duel(facts),
            ReproEffect::ParityDuel => self.preset(Purpose::ParityDuel, facts),
            ReproEffect::GuardDuel => self.preset(Purpose::GuardDuel, facts),
            ReproEffect::NextField | ReproEffect::PrevField => {
                let fields = self.fields();
                let i = fields.iter().position(|&f| f == self.focus).unwrap_or(0);
                let dir = if effect == ReproEffect::NextField {
                    1
                } else {
                    -1
                };
                self.focus = fields[cycle(i, fields.len(), dir)];
                self.replace = true;
                vec![]
            }
            ReproEffect::Cycle(dir) => {
                let (s, field) = self.focus;
                let slot = &mut self.slots[s];
                if slot.is_busy() {
                    return vec![];
                }
                match field {
                    Field::Mode => {
                        let i = Mode::ALL.iter().position(|&m| m == slot.mode).unwrap_or(0);
                        slot.mode = Mode::ALL[cycle(i, Mode::ALL.len(), dir)];
                    }
                    Field::Pace => slot.pace = slot.pace.step(dir),
                    Field::Host => {
                        let i = HOSTS.iter().position(|&h| h == slot.host);
                        let next = match i {
                            Some(i) => cycle(i, HOSTS.len(), dir),
                            None => 0,
                        };
                        slot.host = HOSTS[next].to_string();
                        self.replace = true;
                    }
                    Field::Port => {}
                }
                slot.note = None;
                slot.stale = true;
                vec![]
            }
            ReproEffect::Type(c) => {
                let (s, field) = self.focus;
                let replace = std::mem::replace(&mut self.replace, false);
                let slot = &mut self.slots[s];
                let ok = match field {
                    Field::Port => c.is_ascii_digit(),
                    Field::Host => is_host_char(c),
                    _ => false,
                };
                if slot.is_busy() || !ok {
                    return vec![];
                }
                let max = if field == Field::Port {
                    PORT_MAX
                } else {
                    HOST_MAX
                };
                if let Some(v) = slot.value(field) {
                    if replace {
                        v.clear();
                    }
                    if v.len() < max {
                        v.push(c);
                    }
                }
                if field == Field::Port {
                    slot.port_edited = true;
                }
                slot.note = None;
                slot.stale = true;
                vec![]
            }
            ReproEffect::Backspace | ReproEffect::ClearField => {
                let (s, field) = self.focus;
                self.replace = false;
                let slot = &mut self.slots[s];
                if slot.is_busy() {
                    return vec![];
                }
                if let Some(v) = slot.value(field) {
                    if effect == ReproEffect::Backspace {
                        v.pop();
                    } else {
                        v.clear();
                    }
                }
                if field == Field::Port {
                    slot.port_edited = true;
                }
                slot.note = None;
                slot.stale = true;
                vec![]
            }
        }
    }

    /// Starts every shown slot that is not busy, after checking its form.
    fn start(&mut self) -> Requests {
        let mut out = Vec::new();
        let shown = self.shown();
        for s in 0..shown {
            if self.slots[s].is_busy() {
                continue;
            }
            let port = match parse_port(&self.slots[s].port) {
                Ok(p) => p,
                Err(e) => {
                    let msg = if self.slots[s].port.trim().is_empty() {
                        "type a port to connect to (1-65535)".to_string()
                    } else {
                        e.to_string()
                    };
                    self.slots[s].note = Some(Note::Error(msg));
                    continue;
                }
            };
            let host = self.slots[s].host.trim().to_string();
            if host.is_empty() {
                self.slots[s].note = Some(Note::Error(
                    "type a host: 127.0.0.1, ::1, or an address of this machine".to_string(),
                ));
                continue;
            }
            // The same port cannot connect to itself twice at once.
            let other = 1 - s;
            let o = &self.slots[other];
            let clash = shown == 2
                && o.port_number() == Some(port)
                && o.host.trim() == host
                && (o.is_busy() || o.holds_socket());
            if clash {
                self.slots[s].note = Some(Note::Error(format!(
                    "the other loop targets {host} port {port} too, and a port connects to itself \
                     only once at a time: pick another port ({} sets up two)",
                    crate::tui::keymap::key_label(crate::tui::keymap::Action::ReproGuardDuel)
                )));
                continue;
            }
            let slot = &mut self.slots[s];
            slot.note = None;
            slot.starting = true;
            out.push(ReproRequest::Start {
                slot: s,
                host,
                port,
                mode: slot.mode,
                rate: slot.pace.rate(),
            });
        }
        out
    }

    fn toggle_duel(&mut self, facts: &ScanFacts) -> Requests {
        if self.duel {
            self.duel = false;
            if self.focus.0 == 1 {
                self.focus = (0, self.focus.1);
            }
            return if self.slots[1].is_busy() {
                vec![ReproRequest::Stop { slot: 1 }]
            } else {
                vec![]
            };
        }
        self.duel = true;
        // The first time, the second loop starts as a copy of the first on
        // another port; later it is as it was left.
        if self.slots[1].port.is_empty() {
            let a = self.slots[0].clone();
            let b = &mut self.slots[1];
            b.host = a.host.clone();
            b.mode = a.mode;
            b.pace = a.pace;
            b.note = None;
            b.port_edited = false;
            b.stale = true;
            return vec![suggest(
                Purpose::Duel,
                &a.host,
                facts_excluding(facts, a.port_number()),
                None,
            )];
        }
        vec![]
    }

    fn preset(&mut self, purpose: Purpose, facts: &ScanFacts) -> Requests {
        if self.any_busy() {
            self.slots[0].note = Some(Note::Error(format!(
                "stop the loops first ({})",
                crate::tui::keymap::key_label(crate::tui::keymap::Action::ReproStop)
            )));
            return vec![];
        }
        self.duel = true;
        let a = self.slots[0].clone();
        let (ma, mb) = match purpose {
            Purpose::GuardDuel => (Mode::Fresh, Mode::Guarded),
            _ => {
                let m = if matches!(a.mode, Mode::Fresh | Mode::Reuse) {
                    a.mode
                } else {
                    Mode::Fresh
                };
                (m, m)
            }
        };
        self.slots[0].mode = ma;
        self.slots[0].stale = true;
        let b = &mut self.slots[1];
        b.mode = mb;
        b.host = a.host.clone();
        b.pace = a.pace;
        b.note = None;
        b.stale = true;
        vec![suggest(purpose, &a.host, facts.clone(), a.port_number())]
    }

    /// Takes an answer of the runner; returns whether the table must be
    /// rescanned at once (a self-connection appeared or was closed).
    pub fn update(&mut self, u: ReproUpdate) -> bool {
        match u {
            ReproUpdate::Suggested { purpose, port } => {
                let Some(p) = port else {
                    self.slots[0].note = Some(Note::Error(
                        "no free port of connect()'s parity in the ephemeral range: type one"
                            .to_string(),
                    ));
                    return false;
                };
                match purpose {
                    Purpose::Open => {
                        let a = &mut self.slots[0];
                        if !a.port_edited && !a.is_busy() {
                            a.port = p.to_string();
                            a.stale = true;
                            a.note = None;
                        }
                    }
                    Purpose::Duel => {
                        let b = &mut self.slots[1];
                        if !b.is_busy() {
                            b.port = p.to_string();
                            b.port_edited = false;
                        }
                    }
                    Purpose::ParityDuel | Purpose::GuardDuel => {
                        let partner = purpose.partner(p);
                        for (s, port) in [(0, Some(p)), (1, partner)] {
                            let slot = &mut self.slots[s];
                            if let Some(port) = port
                                && !slot.is_busy()
                            {
                                slot.port = port.to_string();
                                slot.port_edited = true;
                                slot.note = None;
                            }
                        }
                        let words = match purpose {
                            Purpose::ParityDuel => format!(
                                "parity duel: {p} against its neighbour {}, both {}: press {} to start both",
                                p + 1,
                                self.slots[0].mode,
                                crate::tui::keymap::key_label(
                                    crate::tui::keymap::Action::ReproStart
                                )
                            ),
                            _ => format!(
                                "guard duel: fresh on {p} against guarded on {} (a port connects to \
                                 itself once at a time, so two ports): press {} to start both",
                                p + 2,
                                crate::tui::keymap::key_label(
                                    crate::tui::keymap::Action::ReproStart
                                )
                            ),
                        };
                        self.slots[0].note = Some(Note::Info(words));
                    }
                }
                self.replace = true;
                false
            }
            ReproUpdate::Started { slot, config } => {
                let s = &mut self.slots[slot];
                s.starting = false;
                s.stale = false;
                s.run = Some(Run::new(config));
                false
            }
            ReproUpdate::Refused { slot, message } => {
                let s = &mut self.slots[slot];
                s.starting = false;
                s.note = Some(Note::Error(message));
                false
            }
            ReproUpdate::Cancelled { slot } => {
                self.slots[slot].starting = false;
                false
            }
            ReproUpdate::Progress { slot, stats } => {
                let caught = stats.caught > 0;
                if let Some(run) = self.slots[slot].run.as_mut().filter(|r| r.is_running()) {
                    run.sample(stats);
                    if caught && run.config.mode == Mode::Guarded {
                        // What the guard caught and closed waits in TIME_WAIT.
                        let target = run.target();
                        self.mark(target);
                    }
                }
                false
            }
            ReproUpdate::Ended {
                slot,
                end,
                stats,
                held,
            } => {
                let s = &mut self.slots[slot];
                s.starting = false;
                let Some(run) = s.run.as_mut() else {
                    return false;
                };
                let caught = stats.caught > 0 && run.config.mode == Mode::Guarded;
                run.finish(end, stats, held);
                let target = run.target();
                if caught {
                    self.mark(target);
                }
                if let Some((local, _)) =
                    self.slots[slot].run.as_ref().and_then(Run::self_connection)
                {
                    self.mark(local);
                    return true;
                }
                false
            }
            ReproUpdate::Closed { slot } => {
                if let Some(run) = self.slots[slot].run.as_mut() {
                    run.held = false;
                }
                true
            }
        }
    }
}

impl ReproState {
    /// Remembers a self-connection for the table's mark.
    fn mark(&mut self, addr: SocketAddr) {
        if self.marks.back() == Some(&addr) {
            return;
        }
        self.marks.retain(|&m| m != addr);
        if self.marks.len() == MARKS_KEPT {
            self.marks.pop_front();
        }
        self.marks.push_back(addr);
    }
}

fn facts_excluding(facts: &ScanFacts, port: Option<u16>) -> ScanFacts {
    let mut f = facts.clone();
    f.used.extend(port);
    f
}

fn suggest(purpose: Purpose, host: &str, facts: ScanFacts, prefer: Option<u16>) -> ReproRequest {
    ReproRequest::Suggest {
        purpose,
        host: host.trim().to_string(),
        policy: facts.policy,
        used: facts.used,
        prefer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn pace_cycles_through_the_presets() {
        assert_eq!(Pace::Max.step(1), Pace::PerSec(10));
        assert_eq!(Pace::Max.step(-1), Pace::PerSec(10_000));
        assert_eq!(Pace::PerSec(100).step(1).label(), "1,000/s");
        assert_eq!(Pace::Max.rate(), None);
    }

    #[test]
    fn typing_replaces_a_fresh_field_then_appends() {
        let mut st = ReproState::default();
        let facts = ScanFacts::default();
        st.slots[0].port = "46384".into();
        st.replace = true;
        for c in "44600".chars() {
            st.apply(ReproEffect::Type(c), &facts);
        }
        assert_eq!(st.slots[0].port, "44600");
        st.apply(ReproEffect::Type('x'), &facts);
        assert_eq!(st.slots[0].port, "44600", "not a digit");
        st.apply(ReproEffect::Backspace, &facts);
        assert_eq!(st.slots[0].port, "4460");
        st.apply(ReproEffect::NextField, &facts);
        assert_eq!(st.focus, (0, Field::Host));
        for c in "::1".chars() {
            st.apply(ReproEffect::Type(c), &facts);
        }
        assert_eq!(st.slots[0].host, "::1");
        st.apply(ReproEffect::NextField, &facts);
        st.apply(ReproEffect::Cycle(1), &facts);
        assert_eq!(st.slots[0].mode, Mode::Reuse);
        st.apply(ReproEffect::NextField, &facts);
        st.apply(ReproEffect::Cycle(-1), &facts);
        assert_eq!(st.slots[0].pace, Pace::PerSec(10_000));
        st.apply(ReproEffect::NextField, &facts);
        assert_eq!(st.focus, (0, Field::Port), "wraps around with one slot");
    }

    #[test]
    fn bad_ports_and_empty_hosts_never_start() {
        let facts = ScanFacts::default();
        for (port, words) in [
            ("0", "port 0"),
            ("70000", "out of range"),
            ("", "type a port"),
        ] {
            let mut st = ReproState::default();
            st.slots[0].port = port.into();
            assert!(st.apply(ReproEffect::Start, &facts).is_empty());
            match &st.slots[0].note {
                Some(Note::Error(m)) => assert!(m.contains(words), "{m}"),
                other => panic!("{other:?}"),
            }
            assert!(!st.slots[0].starting);
        }
        let mut st = ReproState::default();
        st.slots[0].port = "44600".into();
        st.slots[0].host = " ".into();
        assert!(st.apply(ReproEffect::Start, &facts).is_empty());
    }

    #[test]
    fn a_duel_on_one_port_is_refused() {
        let facts = ScanFacts::default();
        let mut st = ReproState {
            duel: true,
            ..ReproState::default()
        };
        st.slots[0].port = "44600".into();
        st.slots[1].port = "44600".into();
        let reqs = st.apply(ReproEffect::Start, &facts);
        assert_eq!(reqs.len(), 1, "{reqs:?}");
        assert!(matches!(st.slots[1].note, Some(Note::Error(_))));
    }
}
