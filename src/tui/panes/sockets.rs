//! The sockets table: findings first (self-connects, then high, then
//! medium), or every socket with `a`. Only the rows on screen are built;
//! columns are dropped by priority when the terminal is narrow.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Margin, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Cell, HighlightSpacing, Paragraph, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table,
    TableState, Wrap,
};

use super::pane_block;
use crate::core::sanitize::{terminal_safe, terminal_safe_string};
use crate::core::snapshot::{Snapshot, Socket};
use crate::core::words::plural;
use crate::tui::app::{App, Effect, Motion};
use crate::tui::keymap::{Action, key_label};
use crate::tui::layout::table_body_rows;
use crate::tui::pane::{Pane, PaneId};
use crate::tui::text::{truncate_end, truncate_start, width};
use crate::tui::view::{Column, cell_text, visible_offset};

const HIGHLIGHT: &str = "▶ ";
/// In the process column of a self-connection the repro pane made.
pub const REPRO_TAG: &str = "◆ repro";

/// Whether `s` is a self-connection the repro pane made (held, or closed
/// and waiting in TIME_WAIT): in the tool's own namespace, on an address
/// the pane connected to itself.
pub fn is_repro_socket(app: &App, snap: &Snapshot, s: &Socket) -> bool {
    s.entry.is_self_connected() && snap.namespace_of(s).is_own && app.repro().is_mark(s.entry.local)
}

#[derive(Debug, Default)]
pub struct SocketsPane;

/// Smallest useful width, and the most a column may take.
fn bounds(c: Column) -> (usize, usize) {
    match c {
        Column::Finding => (12, 12),
        Column::Family => (3, 4),
        Column::Local | Column::Remote => (11, 47),
        Column::State => (11, 12),
        Column::Pid => (5, 8),
        Column::Process => (8, 24),
        Column::User => (5, 12),
        Column::Netns => (5, 16),
    }
}

/// Which columns to keep when space runs out: first ones stay longest.
fn priority(many_namespaces: bool) -> Vec<Column> {
    let mut v = vec![
        Column::Finding,
        Column::Local,
        Column::State,
        Column::Process,
        Column::Remote,
        Column::Pid,
    ];
    if many_namespaces {
        v.push(Column::Netns);
    }
    v.extend([Column::User, Column::Family]);
    if !many_namespaces {
        v.push(Column::Netns);
    }
    v
}

/// Picks the columns that fit in `avail` cells and their widths, given the
/// width each would like (`desired`, indexed like [`Column::ALL`]).
pub fn fit_columns(avail: usize, desired: &[usize; 9], many_ns: bool) -> Vec<(Column, usize)> {
    let idx = |c: Column| Column::ALL.iter().position(|&x| x == c).unwrap_or(0);
    let mut chosen: Vec<(Column, usize)> = Vec::new();
    let mut used = 0;
    // Important columns get the width they want before less important ones
    // get any; a column that does not fit at its smallest is left out.
    for c in priority(many_ns) {
        let (min, max) = bounds(c);
        let want = desired[idx(c)].clamp(min, max);
        let gap = usize::from(!chosen.is_empty());
        let left = avail.saturating_sub(used + gap);
        if left >= min {
            let w = want.min(left);
            used += gap + w;
            chosen.push((c, w));
        }
    }
    chosen.sort_by_key(|(c, _)| idx(*c));
    chosen
}

impl SocketsPane {
    fn title(app: &App) -> Vec<Span<'static>> {
        let t = app.theme();
        let v = app.view();
        let mut spans = vec![];
        let what = if app.shows_all() {
            "All sockets"
        } else {
            "Findings"
        };
        spans.push(Span::styled(what.to_string(), t.value));
        if app.snapshot().is_none() {
            // Nothing counted yet.
        } else if app.filter().is_active() {
            spans.push(Span::raw(format!(
                " {} of {} match “{}”",
                v.rows.len(),
                v.candidates,
                terminal_safe(app.filter().text())
            )));
        } else {
            spans.push(Span::raw(format!(" {}", v.rows.len())));
        }
        if app.shows_all()
            && let Some(c) = app.counts()
        {
            spans.push(Span::styled(
                format!(" ({})", plural(c.findings(), "finding", "findings")),
                t.dim,
            ));
        }
        spans
    }

    /// Before the first scan: scanning, or why the scan failed.
    fn no_scan_message(app: &App) -> Vec<Line<'static>> {
        let t = app.theme();
        match app.failure() {
            Some((_, msg)) => vec![
                Line::from(Span::styled("The scan failed:", t.error)),
                Line::from(terminal_safe(msg).into_owned()),
                Line::from(Span::styled("The dashboard keeps trying.", t.dim)),
            ],
            None => vec![Line::from(Span::styled("Scanning…", t.dim))],
        }
    }

    /// No row to show: nothing matches the filter, no socket at all, or
    /// (the good news) no finding.
    fn no_rows_message(app: &App, snap: &Snapshot) -> Vec<Line<'static>> {
        let t = app.theme();
        if app.filter().is_active() {
            vec![
                Line::from(format!(
                    "Nothing matches “{}”.",
                    terminal_safe(app.filter().text())
                )),
                Line::from(Span::styled(
                    format!(
                        "{} clears the filter{}.",
                        key_label(Action::Clear),
                        if app.shows_all() {
                            ""
                        } else {
                            "; a searches all sockets"
                        }
                    ),
                    t.dim,
                )),
            ]
        } else if app.shows_all() {
            vec![Line::from("No TCP sockets at all.")]
        } else {
            vec![
                Line::from(Span::styled(
                    "✓ No self-connected socket, and no listener inside the ephemeral range.",
                    t.live,
                )),
                Line::from(Span::styled(
                    format!(
                        "Press {} to list all {} sockets.",
                        key_label(Action::ToggleAll),
                        snap.sockets.len()
                    ),
                    t.dim,
                )),
            ]
        }
    }

    /// The text of every column of `s`, sanitised; the process column of a
    /// repro socket carries the tag.
    fn cell_texts(snap: &Snapshot, s: &Socket, mark: bool) -> [String; 9] {
        Column::ALL.map(|c| {
            if mark && c == Column::Process {
                REPRO_TAG.to_string()
            } else {
                // Process, user and namespace names come from other
                // processes.
                terminal_safe_string(cell_text(snap, s, c))
            }
        })
    }

    /// The width each column would like: its widest cell or its title
    /// (with the sort arrow).
    fn desired_widths(app: &App, texts: &[[String; 9]]) -> [usize; 9] {
        let mut desired = [0usize; 9];
        for (i, c) in Column::ALL.iter().enumerate() {
            let title_w = width(c.title()) + usize::from(*c == app.sort().column);
            desired[i] = texts
                .iter()
                .map(|r| width(&r[i]))
                .max()
                .unwrap_or(0)
                .max(title_w);
        }
        desired
    }

    /// The table of the `visible` sockets, in the columns that fit `inner_width`.
    fn table(
        app: &App,
        snap: &Snapshot,
        visible: &[&Socket],
        inner_width: usize,
    ) -> Table<'static> {
        let t = app.theme();
        let marked: Vec<bool> = visible
            .iter()
            .map(|s| is_repro_socket(app, snap, s))
            .collect();
        let texts: Vec<[String; 9]> = visible
            .iter()
            .zip(&marked)
            .map(|(s, &mark)| Self::cell_texts(snap, s, mark))
            .collect();
        let desired = Self::desired_widths(app, &texts);
        let avail = inner_width.saturating_sub(width(HIGHLIGHT) + 1);
        let cols = fit_columns(avail, &desired, snap.namespaces.len() > 1);

        let header = Row::new(cols.iter().map(|(c, w)| {
            let mut title = c.title().to_string();
            if *c == app.sort().column {
                title.push_str(app.sort().arrow());
            }
            Cell::from(truncate_end(&title, *w))
        }))
        .style(t.table_header);
        let process_shown = cols.iter().any(|(c, _)| *c == Column::Process);
        let rows: Vec<Row> = visible
            .iter()
            .zip(&texts)
            .zip(&marked)
            .map(|((s, text), &mark)| {
                Row::new(cols.iter().map(|(c, w)| {
                    let i = Column::ALL.iter().position(|x| x == c).unwrap_or(0);
                    let cell = match c {
                        // Too narrow for the process: the tag goes first.
                        Column::Finding if mark && !process_shown => truncate_end(REPRO_TAG, *w),
                        Column::Local | Column::Remote => truncate_start(&text[i], *w),
                        _ => truncate_end(&text[i], *w),
                    };
                    Cell::from(cell)
                }))
                .style(if mark { t.repro } else { t.finding(s.finding) })
            })
            .collect();
        let widths: Vec<Constraint> = cols
            .iter()
            .map(|(_, w)| Constraint::Length(*w as u16))
            .collect();
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(t.selected)
            .highlight_symbol(HIGHLIGHT)
            .highlight_spacing(HighlightSpacing::Always)
    }

    fn draw_scrollbar(
        frame: &mut Frame,
        area: Rect,
        app: &App,
        rows: usize,
        offset: usize,
        body: usize,
    ) {
        let mut sb = ScrollbarState::new(rows.saturating_sub(body))
            .position(offset)
            .viewport_content_length(body);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None)
                .style(app.theme().border(app.focus() == PaneId::Sockets)),
            area.inner(Margin {
                vertical: 2,
                horizontal: 0,
            }),
            &mut sb,
        );
    }

    fn draw_message(frame: &mut Frame, inner: Rect, lines: Vec<Line>) {
        let h = lines.len() as u16;
        let top = inner.y + inner.height.saturating_sub(h) / 2;
        let area = Rect::new(
            inner.x,
            top,
            inner.width,
            inner.bottom().saturating_sub(top),
        );
        frame.render_widget(
            Paragraph::new(Text::from(lines))
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            area,
        );
    }
}

impl Pane for SocketsPane {
    fn id(&self) -> PaneId {
        PaneId::Sockets
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let t = app.theme();
        let sort = format!(
            " sort: {} {} ",
            app.sort().column.title(),
            app.sort().arrow()
        );
        let block = pane_block(app, PaneId::Sockets, Self::title(app))
            .title_top(Line::from(Span::styled(sort, t.dim)).right_aligned());
        let inner = block.inner(area);
        frame.render_widget(block, area);

        let Some(snap) = app.snapshot() else {
            Self::draw_message(frame, inner, Self::no_scan_message(app));
            return;
        };
        let view = app.view();
        if view.rows.is_empty() {
            Self::draw_message(frame, inner, Self::no_rows_message(app, snap));
            return;
        }

        // Only the rows on screen.
        let body = table_body_rows(area);
        let offset = visible_offset(view.offset, view.selected, view.rows.len(), body);
        let end = (offset + body).min(view.rows.len());
        let visible: Vec<&Socket> = view.rows[offset..end]
            .iter()
            .map(|&i| &snap.sockets[i as usize])
            .collect();
        let table = Self::table(app, snap, &visible, inner.width as usize);
        let mut state = TableState::default().with_selected(Some(view.selected - offset));
        frame.render_stateful_widget(table, inner, &mut state);

        if view.rows.len() > body {
            Self::draw_scrollbar(frame, area, app, view.rows.len(), offset, body);
        }
    }

    fn handle_key(&mut self, action: Action, _app: &App) -> Option<Effect> {
        let m = match action {
            Action::Up => Motion::Up(1),
            Action::Down => Motion::Down(1),
            Action::PageUp => Motion::PageUp,
            Action::PageDown => Motion::PageDown,
            Action::Top => Motion::Top,
            Action::Bottom => Motion::Bottom,
            _ => return None,
        };
        Some(Effect::Select(m))
    }

    fn handle_mouse(&mut self, mouse: MouseEvent, area: Rect, app: &App) -> Option<Effect> {
        match mouse.kind {
            MouseEventKind::ScrollUp => Some(Effect::Select(Motion::Up(3))),
            MouseEventKind::ScrollDown => Some(Effect::Select(Motion::Down(3))),
            MouseEventKind::Down(MouseButton::Left) => {
                // Border and header row above the first row.
                let first = area.y + 2;
                let body = table_body_rows(area);
                if mouse.row >= first && ((mouse.row - first) as usize) < body {
                    let v = app.view();
                    let offset = visible_offset(v.offset, v.selected, v.rows.len(), body);
                    let i = offset + (mouse.row - first) as usize;
                    if i < v.rows.len() {
                        return Some(Effect::SelectRow(i));
                    }
                }
                Some(Effect::Focus(PaneId::Sockets))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_tables_keep_the_important_columns() {
        let desired = [12, 2, 15, 15, 11, 5, 10, 6, 4];
        let names =
            |cols: Vec<(Column, usize)>| cols.into_iter().map(|(c, _)| c).collect::<Vec<_>>();
        let wide = names(fit_columns(200, &desired, false));
        assert_eq!(wide, Column::ALL.to_vec());
        let narrow = names(fit_columns(56, &desired, false));
        assert_eq!(
            narrow,
            vec![
                Column::Finding,
                Column::Family,
                Column::Local,
                Column::State,
                Column::Process
            ]
        );
        // The address got its full width before a less useful column got any.
        let cols = fit_columns(56, &desired, false);
        assert!(cols.contains(&(Column::Local, 15)));
        let cols = fit_columns(100, &desired, true);
        assert!(cols.iter().any(|(c, _)| *c == Column::Netns));
        let total: usize = cols.iter().map(|(_, w)| w + 1).sum::<usize>() - 1;
        assert!(total <= 100);
    }
}
