//! The pane component: each pane draws itself from the shared state and
//! turns key actions into [`Effect`]s, which [`super::app::App::apply`]
//! carries out in one place. Panes keep only their own view state
//! (scroll positions); everything they share lives in [`App`].
//!
//! Adding a pane (as the repro pane, [`super::repro`], was):
//! 1. a [`PaneId`] variant and its title;
//! 2. a struct implementing [`Pane`], registered in
//!    [`super::dashboard::Dashboard::new`]: its place in that list is its
//!    place in the Tab order, and [`super::layout::compute`] puts every
//!    pane after the sockets table in the lower row (side by side when
//!    wide, the focused one when narrow, alone when zoomed);
//! 3. its keys: a row in [`super::keymap::KEYMAP`] each (help and footer
//!    follow). A global key is an [`Action`] with its meaning in the
//!    dashboard's `global_effect`; a key that means something only in the
//!    pane gets its own [`super::keymap::Command`] variant (and scope),
//!    which only the focused pane sees, in [`Pane::handle_command`]; a
//!    pane that takes typed text says which characters in
//!    [`Pane::takes_text`] and gets them as edits;
//! 4. state changes as [`Effect`]s handled in `App::apply`; work for a
//!    background thread as a [`super::app::Request`] in the app's outbox,
//!    which the event loop forwards; results come back as a new
//!    [`super::event::Event`] variant over the same channel (the repro
//!    runner's are collected by the event loop at the frame tick, which is
//!    also when it samples the counters).

use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::{App, Effect};
use super::keymap::{Action, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Sockets,
    Details,
    Events,
    /// Reproducing the problem live; in the Tab order while it is open.
    Repro,
}

impl PaneId {
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Sockets => "Sockets",
            PaneId::Details => "Details",
            PaneId::Events => "Events",
            PaneId::Repro => "Repro",
        }
    }
}

pub trait Pane {
    fn id(&self) -> PaneId;

    /// Draws the pane into `area` (borders included). Focus is
    /// `app.focus == self.id()`.
    fn draw(&self, frame: &mut Frame, area: Rect, app: &App);

    /// Handles a key action while the pane has the focus. `None` lets the
    /// action's global meaning apply (e.g. `q` quits).
    fn handle_key(&mut self, action: Action, app: &App) -> Option<Effect>;

    /// Handles any command while the pane has the focus: its own scope's,
    /// typed text, or a global action (by default, [`Pane::handle_key`]).
    fn handle_command(&mut self, command: Command, app: &App) -> Option<Effect> {
        match command {
            Command::Global(action) => self.handle_key(action, app),
            _ => None,
        }
    }

    /// The characters a focused field of the pane takes as typed text now
    /// (`None`: keys are keys).
    fn takes_text(&self, app: &App) -> Option<Box<dyn Fn(char) -> bool>> {
        let _ = app;
        None
    }

    /// Handles the mouse inside the pane's `area`. By default the wheel
    /// acts like the arrow keys and a click focuses the pane.
    fn handle_mouse(&mut self, mouse: MouseEvent, area: Rect, app: &App) -> Option<Effect> {
        let _ = area;
        match mouse.kind {
            MouseEventKind::ScrollUp => self.scroll(-3, app),
            MouseEventKind::ScrollDown => self.scroll(3, app),
            MouseEventKind::Down(_) => Some(Effect::Focus(self.id())),
            _ => None,
        }
    }

    /// Scrolls by `lines` (negative: up), for the mouse wheel.
    fn scroll(&mut self, lines: isize, app: &App) -> Option<Effect> {
        let action = if lines < 0 { Action::Up } else { Action::Down };
        let mut last = None;
        for _ in 0..lines.unsigned_abs() {
            last = self.handle_key(action, app).or(last);
        }
        last
    }
}
