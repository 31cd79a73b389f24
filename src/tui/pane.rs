//! The pane component: each pane draws itself from the shared state and
//! turns key actions into [`Effect`]s, which [`super::app::App::apply`]
//! carries out in one place. Panes keep only their own scroll state.
//!
//! Adding a pane: give it a [`PaneId`], implement [`Pane`], register it in
//! [`super::dashboard::Dashboard::new`] (its place in the Tab order), and
//! give it a slot in [`super::layout::compute`]. New key actions go into
//! the table in [`super::keymap`]; new state changes into [`Effect`].

use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::{App, Effect};
use super::keymap::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Sockets,
    Details,
    Events,
}

impl PaneId {
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Sockets => "Sockets",
            PaneId::Details => "Details",
            PaneId::Events => "Events",
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
