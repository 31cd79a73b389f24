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
use super::keymap::{self, Action, Command, FilterAction, KeyContext};
use super::layout::{self, Areas};
use super::pane::{Pane, PaneId};
use super::panes::details::DetailsPane;
use super::panes::events::EventsPane;
use super::panes::help::HelpOverlay;
use super::panes::sockets::SocketsPane;
use super::panes::{confirm, footer, header, too_small};
use super::repro::{ReproEffect, ReproPane};
use super::theme::Theme;

pub struct Dashboard {
    pub app: App,
    /// In Tab order.
    panes: Vec<Box<dyn Pane>>,
    help: HelpOverlay,
}

/// What a global key means when the focused pane does not claim it.
/// Movement means something only to a pane.
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
        Action::OpenRepro => Effect::Repro(ReproEffect::Open),
        Action::FreePort => Effect::AskFreePort,
        Action::ToggleNamespaceEvents => Effect::ToggleNamespaceEvents,
        Action::CopyFix => Effect::CopyFix,
        Action::CopyReserveAll => Effect::CopyReserveAll,
        Action::ClearCaught => Effect::ClearCaught,
        Action::Up
        | Action::Down
        | Action::Top
        | Action::Bottom
        | Action::PageUp
        | Action::PageDown => return None,
    })
}

/// What a key means while the filter is typed.
fn filter_effect(command: Command) -> Option<Effect> {
    match command {
        Command::Filter(FilterAction::Keep) => Some(Effect::KeepFilter),
        Command::Filter(FilterAction::Cancel) => Some(Effect::CancelFilter),
        Command::Filter(FilterAction::Up) => Some(Effect::Select(Motion::Up(1))),
        Command::Filter(FilterAction::Down) => Some(Effect::Select(Motion::Down(1))),
        Command::Edit(edit) => Some(Effect::EditFilter(edit)),
        Command::Global(_) | Command::Repro(_) => None,
    }
}

impl Dashboard {
    pub fn new(theme: Theme, interval: Duration, now: DateTime<Local>) -> Dashboard {
        let panes: Vec<Box<dyn Pane>> = vec![
            Box::new(SocketsPane),
            Box::new(DetailsPane::default()),
            Box::new(EventsPane::default()),
            Box::new(ReproPane),
        ];
        // The repro pane joins the Tab order when it opens (`r`).
        let order = panes
            .iter()
            .map(|p| p.id())
            .filter(|&p| p != PaneId::Repro)
            .collect();
        let app = App::new(theme, interval, now, order);
        Dashboard {
            app,
            panes,
            help: HelpOverlay::default(),
        }
    }

    pub fn set_now(&mut self, now: DateTime<Local>) {
        self.app.set_now(now);
    }

    /// The layout for the last known screen size.
    pub fn areas(&self) -> Areas {
        layout::compute(self.app.size(), &self.app)
    }

    /// Recomputes what depends on the layout (the table's page size).
    fn relayout(&mut self) {
        let rows = self
            .areas()
            .of(PaneId::Sockets)
            .map_or(self.app.table_rows(), layout::table_body_rows);
        self.app.set_table_rows(rows);
    }

    /// Handles one event; returns whether the screen must be redrawn.
    /// Signals and a lost terminal are the loop's business, not this.
    pub fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Key(k) => self.on_key(k),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.app.resize(Rect::new(0, 0, w, h));
                self.relayout();
                true
            }
            Event::Scan(scan) => {
                self.on_scan(*scan);
                true
            }
            Event::Live(caught) => self.app.on_live(&caught),
            Event::Repro(update) => {
                self.app.on_repro(*update);
                true
            }
            Event::Replay(news) => {
                self.app.on_replay_news(news);
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
        // The overlay that frees a port is modal: its keys only.
        if let Some(c) = self.app.confirm() {
            let effect = confirm::handle_key(&key, c);
            return self.apply(effect);
        }
        let focus = self.app.focus();
        let help = self.app.help_open();
        let filter = self.app.filter_being_typed().is_some();
        let pane = self.panes.iter_mut().find(|p| p.id() == focus);
        let takes = match &pane {
            Some(p) if !help && !filter => p.takes_text(&self.app),
            _ => None,
        };
        let ctx = KeyContext {
            help,
            filter,
            repro: focus == PaneId::Repro,
            typing: takes.as_deref(),
        };
        let Some(command) = keymap::lookup(&key, &ctx) else {
            return false;
        };
        let effect = if help {
            match command {
                Command::Global(a) => self.help.handle_key(a),
                _ => None,
            }
        } else if filter {
            filter_effect(command)
        } else {
            pane.and_then(|p| p.handle_command(command, &self.app))
                .or_else(|| match command {
                    Command::Global(a) => global_effect(a),
                    _ => None,
                })
        };
        self.apply(effect)
    }

    /// A paste goes into the filter being typed, as one line and bounded;
    /// anywhere else it is ignored (pasted text is never taken as keys).
    fn on_paste(&mut self, pasted: &str) -> bool {
        if self.app.filter_being_typed().is_none() {
            return false;
        }
        self.apply(Some(Effect::PasteIntoFilter(pasted.to_string())))
    }

    pub fn on_mouse(&mut self, m: MouseEvent) -> bool {
        if !matches!(
            m.kind,
            MouseEventKind::Down(_) | MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
        ) {
            return false;
        }
        self.app.refresh_view();
        if self.app.confirm().is_some() {
            return false;
        }
        if self.app.help_open() {
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
        let changed = now.timestamp() != self.app.now().timestamp();
        self.app.set_now(now);
        changed
    }

    pub fn draw(&mut self, frame: &mut Frame) {
        let size = frame.area();
        if size != self.app.size() {
            self.app.resize(size);
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
        if app.help_open() {
            self.help.draw(frame, size, app);
        }
        confirm::draw(frame, size, app);
    }
}
