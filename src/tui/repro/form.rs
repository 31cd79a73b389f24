//! The form of one loop: the fields (port, host, mode, pace), their values
//! and presets, the note under them, and the run the form last started.
//! Only [`super::state`] and [`super::answers`] change a [`Slot`]; the view
//! and tests read it through its methods.

use crate::core::words::group;
use crate::repro::{Mode, parse_port};
use crate::tui::text_input::{self, TextEdit};

use super::history::Run;

/// Longest text a field takes.
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

    /// Whether the field takes `c` as typed text (in the port field,
    /// letters stay keys: `d` opens the duel).
    pub fn accepts(self, c: char) -> bool {
        match self {
            Field::Port => c.is_ascii_digit(),
            Field::Host => is_host_char(c),
            Field::Mode | Field::Pace => false,
        }
    }

    fn max_len(self) -> usize {
        if self == Field::Port {
            PORT_MAX
        } else {
            HOST_MAX
        }
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

    /// A rate as the form holds it: whole attempts per second (at least
    /// one); `None` is as fast as possible.
    pub fn from_rate(rate: Option<f64>) -> Pace {
        match rate {
            Some(r) if r.is_finite() => {
                Pace::PerSec(r.round().clamp(1.0, f64::from(u32::MAX)) as u32)
            }
            _ => Pace::Max,
        }
    }

    /// The next preset (`dir` >= 0: faster); from a rate between presets
    /// (one from the configuration), the nearest preset that way.
    pub(super) fn step(self, dir: i8) -> Pace {
        if let Some(i) = Pace::PRESETS.iter().position(|&p| p == self) {
            return Pace::PRESETS[cycle(i, Pace::PRESETS.len(), dir)];
        }
        let per_sec = |p: &Pace| match p {
            Pace::PerSec(n) => *n,
            Pace::Max => u32::MAX,
        };
        let own = per_sec(&self);
        let next = if dir >= 0 {
            Pace::PRESETS.iter().find(|p| per_sec(p) > own)
        } else {
            Pace::PRESETS.iter().rev().find(|p| per_sec(p) < own)
        };
        next.copied().unwrap_or(if dir >= 0 {
            Pace::Max
        } else {
            Pace::PRESETS[0]
        })
    }
}

/// A form's first values: the configuration's `[repro]` host, mode and
/// rate (the port is suggested when the pane opens).
#[derive(Debug, Clone, PartialEq)]
pub struct FormDefaults {
    pub host: String,
    pub mode: Mode,
    pub pace: Pace,
}

impl Default for FormDefaults {
    fn default() -> Self {
        FormDefaults {
            host: HOSTS[0].to_string(),
            mode: Mode::Fresh,
            pace: Pace::Max,
        }
    }
}

/// Whether the host field can hold `host` as it is (checked where the
/// configuration is read, so that a bad value is said with its file and
/// line rather than typed into the form).
pub fn fits_host_field(host: &str) -> bool {
    !host.trim().is_empty() && host.len() <= HOST_MAX && host.chars().all(is_host_char)
}

/// The next (`dir` >= 0) or previous index in a ring of `n`.
pub(super) fn cycle(i: usize, n: usize, dir: i8) -> usize {
    if dir >= 0 {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }
}

/// The characters a host can be typed with (addresses and names).
pub fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '[' | ']' | '%')
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
    pub(super) port: String,
    pub(super) host: String,
    pub(super) mode: Mode,
    pub(super) pace: Pace,
    /// The user typed the port (a late suggestion must not replace it).
    pub(super) port_edited: bool,
    pub(super) note: Option<Note>,
    /// Asked to start; the target is being checked.
    pub(super) starting: bool,
    pub(super) run: Option<Run>,
    /// The form changed since the last run ended: the pane shows what to
    /// expect of the new settings rather than the old result.
    pub(super) stale: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot::new(&FormDefaults::default())
    }
}

impl Slot {
    /// An empty form with these first values.
    pub fn new(d: &FormDefaults) -> Slot {
        Slot {
            port: String::new(),
            host: d.host.clone(),
            mode: d.mode,
            pace: d.pace,
            port_edited: false,
            note: None,
            starting: false,
            run: None,
            stale: false,
        }
    }

    /// The port as typed.
    pub fn port(&self) -> &str {
        &self.port
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn pace(&self) -> Pace {
        self.pace
    }

    pub fn note(&self) -> Option<&Note> {
        self.note.as_ref()
    }

    /// The run this form started last, running or ended.
    pub fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    /// Asked to start; the target is being checked.
    pub fn is_starting(&self) -> bool {
        self.starting
    }

    /// The form changed since its last run ended.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

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

    /// Edits a text field; `replace`: the first character typed replaces
    /// the value (it was just focused or filled in). Returns whether the
    /// form changed.
    pub(super) fn edit(&mut self, field: Field, edit: TextEdit, replace: bool) -> bool {
        if self.is_busy() {
            return false;
        }
        let value = match field {
            Field::Port => &mut self.port,
            Field::Host => &mut self.host,
            Field::Mode | Field::Pace => return false,
        };
        match edit {
            TextEdit::Insert(c) if !field.accepts(c) => return false,
            TextEdit::Insert(c) => {
                if replace {
                    value.clear();
                }
                if value.len() < field.max_len() {
                    value.push(c);
                }
            }
            other => text_input::apply(value, other),
        }
        self.touched(field);
        true
    }

    /// The previous (-1) or next (+1) value of a field that cycles.
    pub(super) fn cycle(&mut self, field: Field, dir: i8) -> bool {
        if self.is_busy() {
            return false;
        }
        match field {
            Field::Mode => {
                let i = Mode::ALL.iter().position(|&m| m == self.mode).unwrap_or(0);
                self.mode = Mode::ALL[cycle(i, Mode::ALL.len(), dir)];
            }
            Field::Pace => self.pace = self.pace.step(dir),
            Field::Host => {
                let next = match HOSTS.iter().position(|&h| h == self.host) {
                    Some(i) => cycle(i, HOSTS.len(), dir),
                    None => 0,
                };
                self.host = HOSTS[next].to_string();
            }
            Field::Port => return false,
        }
        self.touched(field);
        true
    }

    /// The form changed: the old note goes, what to expect comes.
    fn touched(&mut self, field: Field) {
        if field == Field::Port {
            self.port_edited = true;
        }
        self.note = None;
        self.stale = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_cycles_through_the_presets() {
        assert_eq!(Pace::Max.step(1), Pace::PerSec(10));
        assert_eq!(Pace::Max.step(-1), Pace::PerSec(10_000));
        assert_eq!(Pace::PerSec(100).step(1).label(), "1,000/s");
        assert_eq!(Pace::Max.rate(), None);
        // A configured rate between presets goes to the nearest one.
        let p = Pace::from_rate(Some(200.0));
        assert_eq!((p, p.label()), (Pace::PerSec(200), "200/s".to_string()));
        assert_eq!(p.step(1), Pace::PerSec(1000));
        assert_eq!(p.step(-1), Pace::PerSec(100));
        assert_eq!(Pace::PerSec(50_000).step(1), Pace::Max);
        assert_eq!(Pace::PerSec(5).step(-1), Pace::PerSec(10));
        assert_eq!(Pace::from_rate(Some(0.01)), Pace::PerSec(1));
        assert_eq!(Pace::from_rate(Some(7.5)), Pace::PerSec(8));
        assert_eq!(Pace::from_rate(None), Pace::Max);
    }

    #[test]
    fn a_host_fits_the_field_when_it_could_have_been_typed() {
        assert!(fits_host_field("::1") && fits_host_field("[fe80::1%lo]"));
        assert!(!fits_host_field("") && !fits_host_field("a b"));
        assert!(!fits_host_field("evil\u{1b}[2J") && !fits_host_field(&"1".repeat(65)));
    }

    #[test]
    fn fields_take_only_their_characters_and_a_busy_form_nothing() {
        let mut s = Slot::default();
        assert!(s.edit(Field::Port, TextEdit::Insert('4'), true));
        assert!(!s.edit(Field::Port, TextEdit::Insert('x'), false));
        assert_eq!(s.port(), "4");
        for _ in 0..20 {
            s.edit(Field::Port, TextEdit::Insert('1'), false);
        }
        assert_eq!(s.port().len(), PORT_MAX);
        assert!(s.edit(Field::Host, TextEdit::Clear, false));
        assert_eq!(s.host(), "");
        s.starting = true;
        assert!(!s.edit(Field::Host, TextEdit::Insert('a'), false));
        assert!(!s.cycle(Field::Mode, 1));
    }
}
