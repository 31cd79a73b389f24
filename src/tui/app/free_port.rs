//! `K` and its answers, as state changes: the question about the selected
//! self-connected socket, the request that goes out on `y`, and the
//! kernel's answer coming back. Nothing but the selected self-connected
//! socket is ever asked about, and only `y` sends the request.

use super::{App, Effect, Request};
use crate::tui::panes::confirm::{self, Confirm, DestroyOutcome, DestroyTarget, Stage};

impl App {
    /// Takes the kernel's answer to a [`Request::FreePort`]: the overlay
    /// says what happened, the status line too, and a rescan shows it.
    pub fn on_freed(&mut self, target: &DestroyTarget, outcome: DestroyOutcome) {
        self.notice = Some(confirm::outcome_notice(target, &outcome));
        if let Some(c) = self.confirm.as_mut().filter(|c| &c.target == target) {
            c.stage = Stage::Done(outcome);
        }
        self.outbox.push(Request::Rescan);
    }

    /// `K` and its answers; nothing but the selected self-connected
    /// socket is ever asked about, and only `y` sends the request.
    pub(super) fn free_port(&mut self, effect: Effect) {
        if self.is_replay() {
            if let Some(mark) = self.mark.as_mut() {
                mark.refuse("destroying a socket", self.now);
            }
            return;
        }
        match effect {
            Effect::AskFreePort => match self.selected() {
                None => self.notice = Some("K: select a self-connected socket first".into()),
                Some((s, ns)) => match confirm::target_of(s, ns) {
                    Ok(target) => {
                        self.help = false;
                        self.confirm = Some(Confirm {
                            target,
                            stage: Stage::Asking,
                        });
                    }
                    Err(why) => self.notice = Some(why),
                },
            },
            Effect::FreePortAnswer(yes) => match self.confirm.take() {
                Some(mut c) if yes && c.stage == Stage::Asking => {
                    self.outbox.push(Request::FreePort(c.target.clone()));
                    c.stage = Stage::Destroying;
                    self.confirm = Some(c);
                }
                Some(c) if c.stage == Stage::Asking => {
                    self.notice = Some(format!("{}: not destroyed", c.target.addr));
                }
                Some(
                    c @ Confirm {
                        stage: Stage::Destroying,
                        ..
                    },
                ) => self.confirm = Some(c),
                Some(c) => {
                    if let Stage::Done(outcome) = &c.stage {
                        self.notice = Some(confirm::outcome_notice(&c.target, outcome));
                    }
                }
                None => {}
            },
            _ => {}
        }
    }
}
