//! The dashboard without the terminal: state, panes, key and mouse
//! dispatch, drawing into any ratatui frame. The event loop in
//! [`super::run`] feeds it; tests drive it with fixed data and a
//! `TestBackend`.

use std::time::Duration;

use chrono::{DateTime, Local};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};

use super::app::{App, Effect, Motion, ScanResult};
use super::event::Event;
use super::keymap::{self, Action, Scope};
use super::layout::{self, Areas};
use super::pane::{Pane, PaneId};
use super::panes::details::DetailsPane;
use super::panes::events::EventsPane;
use super::panes::help::HelpOverlay;
use super::panes::repro::ReproPane;
use super::panes::sockets::SocketsPane;
use super::panes::{footer, header, too_small};
use super::text::append_typed;
use super::theme::Theme;

/// The longest filter, in characters (a paste may be megabytes).
const FILTER_MAX_CHARS: usize = 200;

pub struct Dashboard {
    pub app: App,
    /// In Tab order.
    panes: Vec<Box<dyn Pane>>,
    help: HelpOverlay,
}

/// What a key means when no pane claims it.
fn global_effect(action: Action) -> Option<Effect> {
    Some(match action {
        Action::Help => Effect::ShowHelp(true),
        Action::Quit => Effect::Quit,
        Action::Filter => Effect::StartFilter,
        Action::Clear => Effect::Clear,
        Action::Pause => Effect::TogglePause,
        Action::ToggleAll => Effect::ToggleAll,
        Action::SortNext => Effect::SortNext,
        Action::SortReverse => Effect::SortReverse,
        Action::NextPane => Effect::CycleFocus(1),
        Action::PrevPane => Effect::CycleFocus(-1),
        Action::Redraw => Effect::FullRedraw,
        Action::Details => Effect::ToggleDetails,
        Action::Repro => Effect::OpenRepro,
        // The repro pane's own keys mean nothing elsewhere.
        Action::ReproStart
        | Action::ReproStop
        | Action::ReproBack
        | Action::ReproCloseSocket
        | Action::ReproDuel
        | Action::ReproParityDuel
        | Action::ReproGuardDuel
        | Action::ReproNextField
        | Action::ReproPrevField
        | Action::ReproLess
        | Action::ReproMore => return None,
        Action::Up
        | Action::Down
        | Action::Top
        | Action::Bottom
        | Action::PageUp
        | Action::PageDown => return None,
    })
}

impl Dashboard {
    pub fn new(theme: Theme, interval: Duration, now: DateTime<Local>) -> Dashboard {
        let panes: Vec<Box<dyn Pane>> = vec![
            Box::new(SocketsPane),
            Box::new(DetailsPane::default()),
            Box::new(EventsPane::default()),
            Box::new(ReproPane),
        ];
        let mut app = App::new(theme, interval, now);
        // The repro pane joins the Tab order when it opens (`r`).
        app.pane_order = panes
            .iter()
            .map(|p| p.id())
            .filter(|&p| p != PaneId::Repro)
            .collect();
        Dashboard {
            app,
            panes,
            help: HelpOverlay::default(),
        }
    }

    pub fn set_now(&mut self, now: DateTime<Local>) {
        self.app.now = now;
    }

    /// The layout for the last known screen size.
    pub fn areas(&self) -> Areas {
        layout::compute(self.app.size, &self.app)
    }

    /// Recomputes what depends on the layout (the table's page size).
    fn relayout(&mut self) {
        let areas = self.areas();
        if let Some(r) = areas.of(PaneId::Sockets) {
            self.app.table_rows = layout::table_body_rows(r).max(1);
        }
        self.app.view.scroll_into_view(self.app.table_rows);
    }

    /// Handles one event; returns whether the screen must be redrawn.
    /// Signals and a lost terminal are the loop's business, not this.
    pub fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Key(k) => self.on_key(k),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.app.size = Rect::new(0, 0, w, h);
                self.relayout();
                true
            }
            Event::Scan(scan) => {
                self.on_scan(*scan);
                true
            }
            Event::Repro(update) => {
                self.app.on_repro(*update);
                true
            }
            Event::Paste(text) => self.on_paste(&text),
            Event::Other => true,
            // The event loop's business: the terminal and the process.
            Event::Signal(_) | Event::InputGone(_) | Event::Suspend | Event::Continued => false,
        }
    }

    pub fn on_scan(&mut self, scan: ScanResult) {
        self.app.on_scan(scan);
        self.app.refresh_view();
        self.relayout();
    }

    fn apply(&mut self, effect: Option<Effect>) -> bool {
        let Some(effect) = effect else { return false };
        let redraw = self.app.apply(effect);
        self.relayout();
        redraw
    }

    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        if !matches!(key.kind, KeyEventKind::Press | KeyEventKind::Repeat) {
            return false;
        }
        self.app.refresh_view();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
            return self.apply(Some(Effect::Quit));
        }
        if self.app.filter_input.is_some() {
            return self.edit_filter(key);
        }
        let focus = self.app.focus;
        if !self.app.help {
            // A field being typed into sees the key first.
            let typed = self
                .panes
                .iter_mut()
                .find(|p| p.id() == focus)
                .and_then(|p| p.handle_text(&key, &self.app));
            if typed.is_some() {
                return self.apply(typed);
            }
        }
        let scope = if focus == PaneId::Repro && !self.app.help {
            Scope::Repro
        } else {
            Scope::Global
        };
        let Some(action) = keymap::action_in(&key, scope) else {
            return false;
        };
        if self.app.help {
            let effect = self.help.handle_key(action);
            return self.apply(effect);
        }
        let effect = self
            .panes
            .iter_mut()
            .find(|p| p.id() == focus)
            .and_then(|p| p.handle_key(action, &self.app))
            .or_else(|| global_effect(action));
        self.apply(effect)
    }

    /// Typing the filter: it applies as it is typed.
    fn edit_filter(&mut self, key: KeyEvent) -> bool {
        let Some(mut text) = self.app.filter_input.take() else {
            return false;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => {
                self.app.set_filter(&text);
                return true;
            }
            KeyCode::Esc => {
                self.app.set_filter("");
                return true;
            }
            KeyCode::Up => {
                self.app.filter_input = Some(text);
                return self.apply(Some(Effect::Select(Motion::Up(1))));
            }
            KeyCode::Down => {
                self.app.filter_input = Some(text);
                return self.apply(Some(Effect::Select(Motion::Down(1))));
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char('u') if ctrl => text.clear(),
            KeyCode::Char('w') if ctrl => {
                let keep = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
                text.truncate(keep);
            }
            KeyCode::Char(c) if !ctrl => {
                append_typed(&mut text, c.encode_utf8(&mut [0; 4]), FILTER_MAX_CHARS);
            }
            _ => {}
        }
        self.app.set_filter(&text);
        self.app.filter_input = Some(text);
        self.relayout();
        true
    }

    /// A paste goes into the filter being typed, as one line and bounded;
    /// anywhere else it is ignored (pasted text is never taken as keys).
    fn on_paste(&mut self, pasted: &str) -> bool {
        let Some(mut text) = self.app.filter_input.take() else {
            return false;
        };
        append_typed(&mut text, pasted, FILTER_MAX_CHARS);
        self.app.set_filter(&text);
        self.app.filter_input = Some(text);
        self.relayout();
        true
    }

    pub fn on_mouse(&mut self, m: MouseEvent) -> bool {
        if !matches!(
            m.kind,
            MouseEventKind::Down(_) | MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
        ) {
            return false;
        }
        self.app.refresh_view();
        if self.app.help {
            let effect = match m.kind {
                MouseEventKind::ScrollUp => self.help.handle_key(Action::Up),
                MouseEventKind::ScrollDown => self.help.handle_key(Action::Down),
                _ => self.help.handle_key(Action::Clear),
            };
            return self.apply(effect);
        }
        let areas = self.areas();
        let at = Position::new(m.column, m.row);
        let Some((id, rect)) = areas.panes.iter().find(|(_, r)| r.contains(at)).copied() else {
            return false;
        };
        let effect = self
            .panes
            .iter_mut()
            .find(|p| p.id() == id)
            .and_then(|p| p.handle_mouse(m, rect, &self.app));
        self.apply(effect)
    }

    /// A clock tick: only the time moved.
    pub fn tick(&mut self, now: DateTime<Local>) -> bool {
        let changed = now.timestamp() != self.app.now.timestamp();
        self.app.now = now;
        changed
    }

    pub fn draw(&mut self, frame: &mut Frame) {
        let size = frame.area();
        if size != self.app.size {
            self.app.size = size;
        }
        self.app.refresh_view();
        self.relayout();
        let app = &self.app;
        let areas = layout::compute(size, app);
        if areas.too_small {
            too_small::draw(frame, size, app);
            return;
        }
        header::draw(frame, areas.header, app);
        for (id, rect) in &areas.panes {
            if let Some(p) = self.panes.iter().find(|p| p.id() == *id) {
                p.draw(frame, *rect, app);
            }
        }
        footer::draw(frame, areas.footer, app);
        if app.help {
            self.help.draw(frame, size, app);
        }
    }
}
