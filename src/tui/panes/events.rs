//! The event log, newest first: self-connects seen and gone, risky
//! listeners appearing and disappearing, policy changes, scan errors.

use std::cell::Cell;

use chrono::{DateTime, Local};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::tui::app::{App, Effect};
use crate::tui::keymap::Action;
use crate::tui::pane::{Pane, PaneId};
use crate::tui::text::wrap;
use crate::tui::theme::Theme;
use crate::tui::tracker::{Level, LogEntry};

#[derive(Debug, Default)]
pub struct EventsPane {
    /// Newest entries skipped.
    scroll: usize,
    page: Cell<usize>,
}

fn style(t: &Theme, e: &LogEntry) -> Style {
    match e.level() {
        Level::Alert => t.self_connect,
        Level::Warning => t.high,
        Level::Error => t.error,
        Level::Info => t.plain,
    }
}

const STAMP: usize = 9;

fn stamp(at: &DateTime<Local>) -> String {
    at.format("%H:%M:%S ").to_string()
}

impl Pane for EventsPane {
    fn id(&self) -> PaneId {
        PaneId::Events
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let t = app.theme();
        let entries = app.tracker().entries();
        let scroll = self.scroll.min(entries.len().saturating_sub(1));
        let mut title = vec![
            Span::styled("Events", t.value),
            Span::raw(format!(" {}", entries.len())),
            Span::styled(" newest first", t.dim),
        ];
        if scroll > 0 {
            title.push(Span::styled(format!(" (scrolled {scroll})"), t.dim));
        }
        let block = pane_block(app, PaneId::Events, title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let h = inner.height as usize;
        self.page.set(h.max(1));
        if entries.is_empty() {
            frame.render_widget(Paragraph::new(Line::styled("No events yet.", t.dim)), inner);
            return;
        }
        // Wrap only what fits on screen.
        let w = inner.width as usize;
        let mut lines: Vec<Line> = Vec::with_capacity(h);
        for e in entries.iter().rev().skip(scroll) {
            if lines.len() >= h {
                break;
            }
            let st = style(t, e);
            let pad = " ".repeat(STAMP);
            let wrapped = wrap(&e.message(), w, &pad, &pad);
            for (i, l) in wrapped.into_iter().enumerate() {
                if i == 0 {
                    lines.push(Line::from(vec![
                        Span::styled(stamp(&e.at), t.dim),
                        Span::styled(l[STAMP..].to_string(), st),
                    ]));
                } else {
                    lines.push(Line::styled(l, st));
                }
            }
        }
        lines.truncate(h);
        frame.render_widget(Paragraph::new(lines), inner);
    }

    fn handle_key(&mut self, action: Action, app: &App) -> Option<Effect> {
        let last = app.tracker().len().saturating_sub(1);
        let page = self.page.get().max(1);
        self.scroll = match action {
            Action::Up => self.scroll.saturating_sub(1),
            Action::Down => (self.scroll + 1).min(last),
            Action::PageUp => self.scroll.saturating_sub(page),
            Action::PageDown => (self.scroll + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => return None,
        };
        Some(Effect::Redraw)
    }
}
