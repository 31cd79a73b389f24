//! How the runner's answers change the pane's state: a suggested port
//! fills in the form, a start or an end changes a slot's run, sampled
//! counters add to its history, and self-connections are remembered for
//! the sockets table's mark.

use crate::repro::scenario::{Step as IncidentStep, StepEvent};
use crate::repro::{Config, End, Mode, Snapshot};
use crate::tui::keymap::{ReproAction, key_label};

use super::form::Note;
use super::history::Run;
use super::messages::{Purpose, ReproUpdate};
use super::state::ReproState;

impl ReproState {
    /// Takes an answer of the runner; returns whether the table must be
    /// rescanned at once (a self-connection appeared or was closed).
    pub fn update(&mut self, u: ReproUpdate) -> bool {
        match u {
            ReproUpdate::Suggested { purpose, port } => {
                self.suggested(purpose, port);
                false
            }
            ReproUpdate::Started { slot, config } => {
                self.started(slot, config);
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
                self.progress(slot, stats);
                false
            }
            ReproUpdate::Ended {
                slot,
                end,
                stats,
                held,
            } => self.ended(slot, end, stats, held),
            ReproUpdate::Closed { slot } => {
                if let Some(run) = self.slots[slot].run.as_mut() {
                    run.held = false;
                }
                true
            }
            ReproUpdate::Capture { slot, on } => {
                if let Some(run) = self.slots[slot].run.as_mut() {
                    run.capture_said(on);
                }
                false
            }
            ReproUpdate::Packets { slot, packets } => {
                if let Some(run) = self.slots[slot].run.as_mut() {
                    run.packets(packets);
                }
                false
            }
            ReproUpdate::TimeWait { slot } => {
                if let Some(run) = self.slots[slot].run.as_mut() {
                    run.time_wait = true;
                }
                false
            }
            ReproUpdate::Saved { slot, result } => {
                self.slots[slot].note = Some(match result {
                    Ok(path) => Note::Info(format!(
                        "capture written to {} (read it with tcpdump -n -r {})",
                        path.display(),
                        path.display()
                    )),
                    Err(why) => Note::Error(format!("capture not saved: {why}")),
                });
                false
            }
            ReproUpdate::IncidentStarted { config } => {
                let s = &mut self.slots[0];
                s.starting = false;
                s.stale = false;
                s.run = Some(Run::incident(config));
                false
            }
            ReproUpdate::IncidentStep { event } => self.incident_step(event),
            ReproUpdate::IncidentEnded { stats } => {
                if let Some(run) = self.slots[0].run.as_mut() {
                    run.finish_incident(stats);
                }
                true
            }
        }
    }

    /// A step of the incident; a self-connection is marked for the table.
    fn incident_step(&mut self, event: StepEvent) -> bool {
        let Some(run) = self.slots[0].run.as_mut() else {
            return false;
        };
        let connected = match &event.step {
            IncidentStep::ClientSelfConnected { local, .. } => Some(*local),
            _ => None,
        };
        run.incident_step(event);
        if let Some(local) = connected {
            self.mark(local);
            return true;
        }
        false
    }

    fn suggested(&mut self, purpose: Purpose, port: Option<u16>) {
        let Some(p) = port else {
            self.slots[0].note = Some(Note::Error(
                "no free port of connect()'s parity in the ephemeral range: type one".to_string(),
            ));
            return;
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
            Purpose::ParityDuel | Purpose::GuardDuel => self.preset_ports(purpose, p),
        }
        self.replace = true;
    }

    /// Fills in both ports of a duel preset and says what it shows.
    fn preset_ports(&mut self, purpose: Purpose, p: u16) {
        for (s, port) in [(0, Some(p)), (1, purpose.partner(p))] {
            let slot = &mut self.slots[s];
            if let Some(port) = port
                && !slot.is_busy()
            {
                slot.port = port.to_string();
                slot.port_edited = true;
                slot.note = None;
            }
        }
        let start = key_label(ReproAction::Start);
        let words = match purpose {
            Purpose::ParityDuel => format!(
                "parity duel: {p} against its neighbour {}, both {}: press {start} to start both",
                u32::from(p) + 1,
                self.slots[0].mode,
            ),
            _ => format!(
                "guard duel: fresh on {p} against guarded on {} (a port connects to \
                 itself once at a time, so two ports): press {start} to start both",
                u32::from(p) + 2,
            ),
        };
        self.slots[0].note = Some(Note::Info(words));
    }

    fn started(&mut self, slot: usize, config: Config) {
        let s = &mut self.slots[slot];
        s.starting = false;
        s.stale = false;
        s.run = Some(Run::new(config));
    }

    fn progress(&mut self, slot: usize, stats: Snapshot) {
        let caught = stats.caught > 0;
        let Some(run) = self.slots[slot].run.as_mut().filter(|r| r.is_running()) else {
            return;
        };
        run.sample(stats);
        if caught && run.config.mode == Mode::Guarded {
            // What the guard caught and closed waits in TIME_WAIT.
            let target = run.target();
            self.mark(target);
        }
    }

    fn ended(&mut self, slot: usize, end: End, stats: Snapshot, held: bool) -> bool {
        let s = &mut self.slots[slot];
        s.starting = false;
        let Some(run) = s.run.as_mut() else {
            return false;
        };
        let caught = stats.caught > 0 && run.config.mode == Mode::Guarded;
        run.finish(end, stats, held);
        let target = run.target();
        let connected = run.self_connection();
        if caught {
            self.mark(target);
        }
        if let Some((local, _)) = connected {
            self.mark(local);
            return true;
        }
        false
    }
}
