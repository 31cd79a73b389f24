//! The pane component: each pane draws itself from the shared state and
//! turns key actions into [`Effect`]s, which [`super::app::App::apply`]
//! carries out in one place. Panes keep only their own view state
//! (scroll positions); everything they share lives in [`App`].
//!
//! Adding a pane (as the repro pane, [`super::panes::repro`], was):
//! 1. a [`PaneId`] variant and its title;
//! 2. a struct implementing [`Pane`] in `panes/`, registered in
//!    [`super::dashboard::Dashboard::new`]: its place in that list is its
//!    place in the Tab order, and [`super::layout::compute`] puts every
//!    pane after the sockets table in the lower row (side by side when
//!    wide, the focused one when narrow, alone when zoomed);
//! 3. its keys: a row in [`super::keymap::KEYMAP`] (help and footer follow)
//!    with a new [`Action`] if needed; the pane handles it in
//!    [`Pane::handle_key`] when focused, or give it a global meaning in
//!    the dashboard's `global_effect` (e.g. `r` focuses the pane), or
//!    bind keys that only apply while the pane has the focus with a
//!    [`super::keymap::Scope`]; a pane that takes typed text sees keys
//!    first in [`Pane::handle_text`];
//! 4. state changes as new [`Effect`] variants handled in `App::apply`;
//!    work for a background thread as a [`super::app::Request`] pushed to
//!    `App::outbox`, which the event loop forwards; results come back as
//!    a new [`super::event::Event`] variant over the same channel (the
//!    repro runner's are collected by the event loop at the frame tick,
//!    which is also when it samples the counters).

use crossterm::event::{KeyEvent, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::{App, Effect};
use super::keymap::Action;

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

    /// Sees a key before the key table while the pane has the focus, for
    /// typing into a field. `None` lets the key table have it.
    fn handle_text(&mut self, key: &KeyEvent, app: &App) -> Option<Effect> {
        let _ = (key, app);
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
