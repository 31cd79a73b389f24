//! Where everything goes, from the screen size and the state alone, so
//! that drawing and mouse hit-testing agree.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::App;
use super::pane::PaneId;
use super::panes::header;

/// Below this the dashboard shows a short message instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// From this width the lower panes sit side by side.
const SIDE_BY_SIDE: u16 = 110;
/// Below this main-area height, one pane at a time (the focused one).
const STACKED_MIN: u16 = 14;
/// The table's smallest height above the repro pane (three rows).
const REPRO_TABLE_MIN: u16 = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub footer: Rect,
    pub panes: Vec<(PaneId, Rect)>,
    pub too_small: bool,
}

impl Areas {
    pub fn of(&self, id: PaneId) -> Option<Rect> {
        self.panes.iter().find(|(p, _)| *p == id).map(|(_, r)| *r)
    }
}

/// Rows of table content (without borders and header row) in `area`.
pub fn table_body_rows(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

pub fn compute(size: Rect, app: &App) -> Areas {
    if size.width < MIN_WIDTH || size.height < MIN_HEIGHT {
        return Areas {
            header: Rect::default(),
            footer: Rect::default(),
            panes: vec![],
            too_small: true,
        };
    }
    let header_h = header::height(app, size.width);
    let [header, main, footer] = size.layout(&Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ]));
    let panes = if let Some(z) = app.zoomed() {
        vec![(z, main)]
    } else if main.height < STACKED_MIN {
        vec![(app.focus(), main)]
    } else if app.repro().is_open() {
        with_repro(main, app)
    } else {
        dashboard(main, app)
    };
    Areas {
        header,
        footer,
        panes,
        too_small: false,
    }
}

/// Splits `main` into the table, `most` lines at most (less when its rows
/// need less, never under `least`), and what is left below it.
fn table_and_lower(main: Rect, app: &App, least: u16, most: u16) -> (Rect, Rect) {
    let need = (app.view().rows.len() as u16).saturating_add(4);
    let table_h = need.clamp(least, most);
    let [table, lower] = main.layout(&Layout::vertical([
        Constraint::Length(table_h),
        Constraint::Min(0),
    ]));
    (table, lower)
}

/// With the repro pane open: it takes the lower row, full width, under a
/// shorter table (which shows its self-connection when it succeeds). The
/// details or the log take its place while they have the focus.
fn with_repro(main: Rect, app: &App) -> Vec<(PaneId, Rect)> {
    let most = (main.height * 35 / 100).max(REPRO_TABLE_MIN);
    let (table, lower) = table_and_lower(main, app, REPRO_TABLE_MIN, most);
    let shown = match app.focus() {
        PaneId::Details | PaneId::Events => app.focus(),
        _ => PaneId::Repro,
    };
    vec![(PaneId::Sockets, table), (shown, lower)]
}

/// The usual panes: the table takes what its rows need, between 8 lines
/// and 45% of the main area; the details and the log get the rest.
fn dashboard(main: Rect, app: &App) -> Vec<(PaneId, Rect)> {
    let most = (main.height * 45 / 100).max(8);
    let (table, lower) = table_and_lower(main, app, 8, most);
    let lowers: Vec<PaneId> = app
        .tab_order()
        .iter()
        .copied()
        .filter(|&p| p != PaneId::Sockets && p != PaneId::Repro)
        .collect();
    let mut v = vec![(PaneId::Sockets, table)];
    if main.width >= SIDE_BY_SIDE && lowers.len() > 1 {
        // The first lower pane (details) gets a bit more room.
        let mut cs = vec![Constraint::Fill(4)];
        cs.extend(std::iter::repeat_n(Constraint::Fill(3), lowers.len() - 1));
        let rects = lower.layout_vec(&Layout::horizontal(cs));
        v.extend(lowers.into_iter().zip(rects));
    } else if let Some(&first) = lowers.first() {
        // Narrow: one lower pane, the focused one (Tab brings the others).
        let shown = if lowers.contains(&app.focus()) {
            app.focus()
        } else {
            first
        };
        v.push((shown, lower));
    }
    v
}
