//! The repro pane's state: which forms are shown, which field has the
//! focus, and the self-connections the pane made; and how keys change it
//! ([`ReproState::apply`]). The runner's answers change it in
//! [`super::answers`]. Pure, like [`crate::tui::app::App`]: keys arrive as
//! [`ReproEffect`]s, work for threads leaves as [`ReproRequest`]s.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::repro::{Mode, parse_port};
use crate::tui::keymap::{ReproAction, key_label};
use crate::tui::text_input::TextEdit;

use super::SLOTS;
use super::form::{Field, FormDefaults, Note, Slot, cycle};
use super::messages::{Purpose, ReproRequest, ScanFacts};

/// Self-connections remembered for the table's mark.
const MARKS_KEPT: usize = 8;

/// A change asked for by a key in the pane (or `r` anywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReproEffect {
    /// Open the pane (a port is suggested if there is none yet).
    Open,
    /// Stop what runs; when nothing runs, close the pane.
    Back,
    Start,
    Stop,
    CloseSocket,
    /// Write the last run's capture to a file.
    SavePcap,
    /// Play the "service restart" incident on the first loop's port.
    Incident,
    Duel,
    ParityDuel,
    GuardDuel,
    NextField,
    PrevField,
    /// The pane gets the focus from Tab (+1: at its first field) or
    /// Shift-Tab (-1: at its last).
    Enter(i8),
    /// The previous (-1) or next (+1) value of the focused field.
    Cycle(i8),
    /// Typing into the focused field.
    Edit(TextEdit),
}

#[derive(Debug, Clone, Default)]
pub struct ReproState {
    pub(super) open: bool,
    pub(super) duel: bool,
    pub(super) slots: [Slot; SLOTS],
    /// The focused field: which slot, which field.
    pub(super) focus: (usize, Field),
    /// The next character typed replaces the focused text field (it was
    /// just focused, or filled in by a suggestion).
    pub(super) replace: bool,
    /// Self-connections this dashboard made (held or closed), newest last:
    /// the sockets table marks them.
    pub(super) marks: VecDeque<SocketAddr>,
}

/// Requests that follow from an effect or an update.
pub type Requests = Vec<ReproRequest>;

impl ReproState {
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Two loops side by side.
    pub fn is_duel(&self) -> bool {
        self.duel
    }

    pub fn slot(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    /// The focused field: which slot, which field.
    pub fn focus(&self) -> (usize, Field) {
        self.focus
    }

    /// Whether the next character typed replaces the focused field.
    pub fn replaces_on_type(&self) -> bool {
        self.replace
    }

    /// The slots on screen.
    pub fn shown(&self) -> usize {
        if self.duel { SLOTS } else { 1 }
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

    /// The incident waits with the stolen port held, for `c`.
    pub fn incident_waits(&self) -> bool {
        self.slots[0]
            .run
            .as_ref()
            .is_some_and(|r| r.incident_waits())
    }

    /// Whether a run of this dashboard ended (the start key then says
    /// "start again").
    pub fn any_ran(&self) -> bool {
        self.slots.iter().any(|s| s.run.is_some())
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

    /// The forms' first values (from the configuration), before the pane
    /// opens.
    pub fn set_defaults(&mut self, d: &FormDefaults) {
        for slot in &mut self.slots {
            *slot = Slot::new(d);
        }
    }

    /// Carries out a key's effect; returns the work for the runner.
    pub fn apply(&mut self, effect: ReproEffect, facts: &ScanFacts) -> Requests {
        match effect {
            ReproEffect::Open => self.open(facts),
            ReproEffect::Back if self.any_busy() => self.stop_all(),
            ReproEffect::Back => {
                self.open = false;
                vec![]
            }
            ReproEffect::Start => self.start(),
            ReproEffect::Stop => self.stop_all(),
            ReproEffect::CloseSocket if self.incident_waits() => {
                vec![ReproRequest::FreeStolenPort]
            }
            ReproEffect::CloseSocket => (0..SLOTS)
                .filter(|&s| self.slots[s].holds_socket())
                .map(|slot| ReproRequest::CloseSocket { slot })
                .collect(),
            ReproEffect::SavePcap => self.save_pcap(),
            ReproEffect::Incident => self.incident(),
            ReproEffect::Duel => self.toggle_duel(facts),
            ReproEffect::ParityDuel => self.preset(Purpose::ParityDuel, facts),
            ReproEffect::GuardDuel => self.preset(Purpose::GuardDuel, facts),
            ReproEffect::NextField => self.move_focus(1),
            ReproEffect::PrevField => self.move_focus(-1),
            ReproEffect::Enter(dir) => self.enter(dir),
            ReproEffect::Cycle(dir) => {
                let (s, field) = self.focus;
                if self.slots[s].cycle(field, dir) && field == Field::Host {
                    self.replace = true;
                }
                vec![]
            }
            ReproEffect::Edit(edit) => {
                let (s, field) = self.focus;
                let replace = std::mem::replace(&mut self.replace, false);
                self.slots[s].edit(field, edit, replace);
                vec![]
            }
        }
    }

    /// The pane opens: a port is suggested if there is none yet.
    fn open(&mut self, facts: &ScanFacts) -> Requests {
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

    fn move_focus(&mut self, dir: i8) -> Requests {
        let fields = self.fields();
        let i = fields.iter().position(|&f| f == self.focus).unwrap_or(0);
        self.focus = fields[cycle(i, fields.len(), dir)];
        self.replace = true;
        vec![]
    }

    fn enter(&mut self, dir: i8) -> Requests {
        let fields = self.fields();
        let at = if dir >= 0 {
            fields.first()
        } else {
            fields.last()
        };
        if let Some(&f) = at {
            self.focus = f;
            self.replace = true;
        }
        vec![]
    }

    /// Starts every shown slot that is not busy, after checking its form.
    fn start(&mut self) -> Requests {
        let mut out = Vec::new();
        for s in 0..self.shown() {
            if self.slots[s].is_busy() {
                continue;
            }
            match self.check_form(s) {
                Ok((host, port)) => {
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
                Err(msg) => self.slots[s].note = Some(Note::Error(msg)),
            }
        }
        out
    }

    /// The host and port of slot `s`, or why it cannot start.
    fn check_form(&self, s: usize) -> Result<(String, u16), String> {
        let slot = &self.slots[s];
        let port = match parse_port(&slot.port) {
            Ok(p) => p,
            Err(_) if slot.port.trim().is_empty() => {
                return Err("type a port to connect to (1-65535)".to_string());
            }
            Err(e) => return Err(e.to_string()),
        };
        let host = slot.host.trim().to_string();
        if host.is_empty() {
            return Err("type a host: 127.0.0.1, ::1, or an address of this machine".to_string());
        }
        // The same port cannot connect to itself twice at once.
        let clash = (0..self.shown()).filter(|&o| o != s).any(|o| {
            let other = &self.slots[o];
            other.port_number() == Some(port)
                && other.host.trim() == host
                && (other.is_busy() || other.holds_socket())
        });
        if clash {
            return Err(format!(
                "the other loop targets {host} port {port} too, and a port connects to itself \
                 only once at a time: pick another port ({} sets up two)",
                key_label(ReproAction::GuardDuel)
            ));
        }
        Ok((host, port))
    }

    fn toggle_duel(&mut self, facts: &ScanFacts) -> Requests {
        if self.duel {
            self.duel = false;
            if self.focus.0 != 0 {
                self.focus = (0, self.focus.1);
            }
            return (1..SLOTS)
                .filter(|&s| self.slots[s].is_busy())
                .map(|slot| ReproRequest::Stop { slot })
                .collect();
        }
        self.duel = true;
        // The first time, the second loop starts as a copy of the first on
        // another port; later it is as it was left.
        if !self.slots[1].port.is_empty() {
            return vec![];
        }
        let a = self.slots[0].clone();
        let b = &mut self.slots[1];
        b.host = a.host.clone();
        b.mode = a.mode;
        b.pace = a.pace;
        b.note = None;
        b.port_edited = false;
        b.stale = true;
        let mut facts = facts.clone();
        facts.used.extend(a.port_number());
        vec![suggest(Purpose::Duel, &a.host, facts, None)]
    }

    fn preset(&mut self, purpose: Purpose, facts: &ScanFacts) -> Requests {
        if self.any_busy() {
            self.slots[0].note = Some(Note::Error(format!(
                "stop the loops first ({})",
                key_label(ReproAction::Stop)
            )));
            return vec![];
        }
        self.duel = true;
        let a = self.slots[0].clone();
        let (ma, mb) = match purpose {
            Purpose::GuardDuel => (Mode::Fresh, Mode::Guarded),
            _ if matches!(a.mode, Mode::Fresh | Mode::Reuse) => (a.mode, a.mode),
            _ => (Mode::Fresh, Mode::Fresh),
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

    /// The newest finished run's capture goes to a file.
    fn save_pcap(&mut self) -> Requests {
        let ran: Vec<usize> = (0..self.shown())
            .filter(|&s| self.slots[s].run.as_ref().is_some_and(|r| !r.is_running()))
            .collect();
        if ran.is_empty() {
            let why = if self.any_busy() {
                "a run is still going: the capture is saved once it ended"
            } else {
                "no run yet: start one, then save its packets"
            };
            self.slots[0].note = Some(Note::Error(why.to_string()));
            return vec![];
        }
        ran.into_iter()
            .map(|slot| ReproRequest::SavePcap { slot })
            .collect()
    }

    /// The incident on the first loop's port: one loop, nothing running.
    fn incident(&mut self) -> Requests {
        if self.any_busy() {
            self.slots[0].note = Some(Note::Error(format!(
                "stop the loops first ({})",
                key_label(ReproAction::Stop)
            )));
            return vec![];
        }
        match self.check_form(0) {
            Ok((host, port)) => {
                if self.duel {
                    self.duel = false;
                    self.focus = (0, self.focus.1);
                }
                let slot = &mut self.slots[0];
                slot.note = None;
                slot.starting = true;
                vec![ReproRequest::Incident { host, port }]
            }
            Err(msg) => {
                self.slots[0].note = Some(Note::Error(msg));
                vec![]
            }
        }
    }

    /// Remembers a self-connection for the table's mark.
    pub(super) fn mark(&mut self, addr: SocketAddr) {
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

    fn typed(st: &mut ReproState, text: &str, facts: &ScanFacts) {
        for c in text.chars() {
            st.apply(ReproEffect::Edit(TextEdit::Insert(c)), facts);
        }
    }

    #[test]
    fn typing_replaces_a_fresh_field_then_appends() {
        let mut st = ReproState::default();
        let facts = ScanFacts::default();
        st.slots[0].port = "46384".into();
        st.replace = true;
        typed(&mut st, "44600", &facts);
        assert_eq!(st.slots[0].port, "44600");
        typed(&mut st, "x", &facts);
        assert_eq!(st.slots[0].port, "44600", "not a digit");
        st.apply(ReproEffect::Edit(TextEdit::DeleteBack), &facts);
        assert_eq!(st.slots[0].port, "4460");
        st.apply(ReproEffect::NextField, &facts);
        assert_eq!(st.focus, (0, Field::Host));
        typed(&mut st, "::1", &facts);
        assert_eq!(st.slots[0].host, "::1");
        st.apply(ReproEffect::NextField, &facts);
        st.apply(ReproEffect::Cycle(1), &facts);
        assert_eq!(st.slots[0].mode, Mode::Reuse);
        st.apply(ReproEffect::NextField, &facts);
        st.apply(ReproEffect::Cycle(-1), &facts);
        assert_eq!(st.slots[0].pace, super::super::Pace::PerSec(10_000));
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
        assert!(matches!(st.slots[0].note, Some(Note::Error(_))));
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

    #[test]
    fn back_stops_first_then_closes() {
        let facts = ScanFacts::default();
        let mut st = ReproState::default();
        st.apply(ReproEffect::Open, &facts);
        assert!(st.is_open());
        st.slots[0].starting = true;
        assert_eq!(
            st.apply(ReproEffect::Back, &facts),
            vec![ReproRequest::Stop { slot: 0 }]
        );
        assert!(st.is_open(), "something ran: only stopped");
        st.slots[0].starting = false;
        assert!(st.apply(ReproEffect::Back, &facts).is_empty());
        assert!(!st.is_open());
    }
}
