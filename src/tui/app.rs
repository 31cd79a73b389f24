//! The dashboard's state, and the one place where it changes
//! ([`App::apply`]). Pure: time comes in as `now`, snapshots as values; no
//! terminal and no threads here, so tests drive it directly.

use std::time::Duration;

use chrono::{DateTime, Local};
use ratatui::layout::Rect;

use super::pane::PaneId;
use super::repro::{ReproEffect, ReproRequest, ReproState, ReproUpdate, ScanFacts};
use super::theme::Theme;
use super::tracker::Tracker;
use super::view::{Filter, SearchIndex, Sort, TableView};
use crate::core::snapshot::{Counts, Namespace, Snapshot, Socket};
use crate::sys::scanner::ScanFailure;

/// From this many sockets a filter searches prepared texts.
const SEARCH_INDEX_FROM: usize = 2000;

/// A change to the state, asked for by a pane or a global key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Only the pane's own state changed: draw again.
    Redraw,
    /// Repaint every cell (Ctrl-L).
    FullRedraw,
    ShowHelp(bool),
    Focus(PaneId),
    /// Next (+1) or previous (-1) pane in the Tab order.
    CycleFocus(i8),
    Select(Motion),
    /// Select a row of the table by its index in the view.
    SelectRow(usize),
    ToggleAll,
    SortNext,
    SortReverse,
    TogglePause,
    StartFilter,
    /// Close what is open, else clear the filter.
    Clear,
    /// Show the details of the selection full size, or go back.
    ToggleDetails,
    /// Open the repro pane (or focus it).
    OpenRepro,
    /// Stop the repro loops; when nothing runs, close the repro pane.
    ReproBack,
    Repro(ReproEffect),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    Up(usize),
    Down(usize),
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// Work for the event loop beyond the state: messages to background
/// threads. Effects push them to [`App::outbox`]; the loop drains it after
/// each batch of events.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Look up the owners of every socket (true: all sockets are listed)
    /// or only the findings'.
    AllOwners(bool),
    /// Scan now, not at the next interval (a self-connection of the repro
    /// pane appeared or was closed: the table shows it at once).
    Rescan,
    /// For the repro runner.
    Repro(ReproRequest),
}

/// A scan's outcome as the worker sends it.
#[derive(Debug)]
pub struct ScanResult {
    /// When the scan started (a failure has no snapshot to carry it).
    pub at: DateTime<Local>,
    pub result: Result<Snapshot, ScanFailure>,
}

#[derive(Debug)]
pub struct App {
    pub theme: Theme,
    pub interval: Duration,
    /// The time the dashboard shows; set by the event loop (tests fix it).
    pub now: DateTime<Local>,
    /// The snapshot on screen.
    pub snapshot: Option<Snapshot>,
    /// Its counts (computed once per snapshot, not per frame).
    pub counts: Option<Counts>,
    /// The newest snapshot, held back while paused.
    pub pending: Option<Snapshot>,
    pub paused_since: Option<DateTime<Local>>,
    /// The last scan failed completely: when, and why.
    pub failure: Option<(DateTime<Local>, String)>,
    pub tracker: Tracker,
    pub view: TableView,
    view_dirty: bool,
    /// The snapshot's search texts, built when a filter is first used on it.
    search: Option<SearchIndex>,
    pub show_all: bool,
    pub filter: Filter,
    /// Some while the filter is being typed.
    pub filter_input: Option<String>,
    pub sort: Sort,
    pub focus: PaneId,
    /// The Tab order (the dashboard's panes).
    pub pane_order: Vec<PaneId>,
    /// A pane shown alone in the main area (Enter: details).
    pub zoom: Option<PaneId>,
    pub help: bool,
    /// The screen, as of the last draw or resize.
    pub size: Rect,
    /// Rows of the table on screen, as of the last layout.
    pub table_rows: usize,
    pub quit: bool,
    pub full_redraw: bool,
    pub scans_seen: u64,
    /// Requests for the event loop, oldest first.
    pub outbox: Vec<Request>,
    /// The repro pane: its forms, its runs, the self-connections it made.
    pub repro: ReproState,
}

impl App {
    pub fn new(theme: Theme, interval: Duration, now: DateTime<Local>) -> App {
        App {
            theme,
            interval,
            now,
            snapshot: None,
            counts: None,
            pending: None,
            paused_since: None,
            failure: None,
            tracker: Tracker::new(),
            view: TableView::default(),
            view_dirty: false,
            search: None,
            show_all: false,
            filter: Filter::default(),
            filter_input: None,
            sort: Sort::default(),
            focus: PaneId::Sockets,
            pane_order: vec![PaneId::Sockets, PaneId::Details, PaneId::Events],
            zoom: None,
            help: false,
            size: Rect::new(0, 0, 80, 24),
            table_rows: 10,
            quit: false,
            full_redraw: false,
            scans_seen: 0,
            outbox: Vec::new(),
            repro: ReproState::default(),
        }
    }

    /// What the repro pane needs of the latest scan: the port policy and
    /// the ports in use in the tool's own namespace.
    pub fn scan_facts(&self) -> ScanFacts {
        let Some(snap) = self.snapshot.as_ref().or(self.pending.as_ref()) else {
            return ScanFacts::default();
        };
        let own = snap.namespaces.iter().position(|n| n.is_own);
        let mut used: Vec<u16> = snap
            .sockets
            .iter()
            .filter(|s| Some(s.netns) == own)
            .map(|s| s.entry.local.port())
            .collect();
        used.sort_unstable();
        used.dedup();
        ScanFacts {
            policy: own.map(|i| snap.namespaces[i].policy.clone()),
            used,
        }
    }

    /// The port policy of the tool's own namespace (the kernel defaults
    /// before the first scan).
    pub fn own_policy(&self) -> crate::core::ports::PortPolicy {
        self.snapshot
            .as_ref()
            .or(self.pending.as_ref())
            .and_then(|s| s.namespaces.iter().find(|n| n.is_own))
            .map(|n| n.policy.clone())
            .unwrap_or_default()
    }

    /// Takes an answer of the repro runner.
    pub fn on_repro(&mut self, update: ReproUpdate) {
        if self.repro.update(update) {
            self.outbox.push(Request::Rescan);
        }
    }

    fn push_repro(&mut self, requests: Vec<ReproRequest>) {
        self.outbox.extend(requests.into_iter().map(Request::Repro));
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Takes a scan's outcome: the log always records it; the view only
    /// when not paused.
    pub fn on_scan(&mut self, scan: ScanResult) {
        self.scans_seen += 1;
        match scan.result {
            Ok(snap) => {
                self.tracker.observe(&snap);
                self.failure = None;
                if self.is_paused() {
                    self.pending = Some(snap);
                } else {
                    self.show(snap);
                }
            }
            Err(fail) => {
                let msg = fail.to_string();
                self.tracker.observe_failure(scan.at, &msg);
                self.failure = Some((scan.at, msg));
            }
        }
    }

    fn show(&mut self, snap: Snapshot) {
        self.counts = Some(snap.counts());
        self.snapshot = Some(snap);
        self.search = None;
        self.view_dirty = true;
    }

    /// Rebuilds the table's rows if the snapshot changed since the last
    /// time (called before keys are handled and before drawing, so several
    /// snapshots arriving together cost one rebuild).
    pub fn refresh_view(&mut self) {
        if self.view_dirty {
            self.rebuild_view();
        }
    }

    fn rebuild_view(&mut self) {
        self.view_dirty = false;
        match &self.snapshot {
            Some(snap) => {
                if self.filter.is_active()
                    && self.search.is_none()
                    && snap.sockets.len() >= SEARCH_INDEX_FROM
                {
                    self.search = Some(SearchIndex::build(snap));
                }
                self.view.rebuild(
                    snap,
                    self.show_all,
                    &self.filter,
                    self.sort,
                    self.search.as_ref(),
                )
            }
            None => self.view = TableView::default(),
        }
        self.view.scroll_into_view(self.table_rows);
    }

    pub fn selected(&self) -> Option<(&Socket, &Namespace)> {
        let snap = self.snapshot.as_ref()?;
        let s = self.view.selected_socket(snap)?;
        Some((s, snap.namespace_of(s)))
    }

    pub fn set_filter(&mut self, text: &str) {
        let f = Filter::new(text);
        if f == self.filter {
            return;
        }
        self.filter = f;
        match &self.snapshot {
            Some(snap) if !self.view_dirty => {
                if self.filter.is_active()
                    && self.search.is_none()
                    && snap.sockets.len() >= SEARCH_INDEX_FROM
                {
                    self.search = Some(SearchIndex::build(snap));
                }
                self.view.refilter(snap, &self.filter, self.search.as_ref());
                self.view.scroll_into_view(self.table_rows);
            }
            _ => self.rebuild_view(),
        }
    }

    /// Carries out an effect; returns whether the screen must be redrawn.
    pub fn apply(&mut self, effect: Effect) -> bool {
        self.refresh_view();
        match effect {
            Effect::Quit => self.quit = true,
            Effect::Redraw => {}
            Effect::FullRedraw => self.full_redraw = true,
            Effect::ShowHelp(on) => self.help = on,
            Effect::Focus(p) => {
                if self.zoom.is_some_and(|z| z != p) {
                    self.zoom = None;
                }
                self.focus = p;
            }
            Effect::CycleFocus(dir) => {
                let n = self.pane_order.len();
                let i = self
                    .pane_order
                    .iter()
                    .position(|&p| p == self.focus)
                    .unwrap_or(0);
                let next = if dir >= 0 {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = self.pane_order[next];
                if self.zoom.is_some() {
                    self.zoom = Some(self.focus);
                }
                if self.focus == PaneId::Repro {
                    // Entering the form: at its first field going forward,
                    // its last going back.
                    let fields = self.repro.fields();
                    let at = if dir >= 0 {
                        fields.first()
                    } else {
                        fields.last()
                    };
                    if let Some(&f) = at {
                        self.repro.focus = f;
                        self.repro.replace = true;
                    }
                }
            }
            Effect::Select(m) => self.move_selection(m),
            Effect::SelectRow(i) => {
                if let Some(snap) = &self.snapshot {
                    self.view.select(snap, i);
                }
                self.focus = PaneId::Sockets;
                self.view.scroll_into_view(self.table_rows);
            }
            Effect::ToggleAll => {
                self.show_all = !self.show_all;
                self.outbox.push(Request::AllOwners(self.show_all));
                self.rebuild_view();
            }
            Effect::SortNext => {
                self.sort.column = self.sort.column.next();
                self.sort.reversed = false;
                self.rebuild_view();
            }
            Effect::SortReverse => {
                self.sort.reversed = !self.sort.reversed;
                self.rebuild_view();
            }
            Effect::TogglePause => {
                if self.paused_since.take().is_some() {
                    if let Some(snap) = self.pending.take() {
                        self.show(snap);
                        self.rebuild_view();
                    }
                } else {
                    self.paused_since = Some(self.now);
                }
            }
            Effect::StartFilter => {
                self.filter_input = Some(self.filter.text().to_string());
            }
            Effect::Clear => {
                if self.help {
                    self.help = false;
                } else if self.zoom.is_some() {
                    self.zoom = None;
                    self.focus = PaneId::Sockets;
                } else if self.filter.is_active() {
                    self.set_filter("");
                } else {
                    return false;
                }
            }
            Effect::ToggleDetails => {
                if self.zoom.is_some() {
                    self.zoom = None;
                    self.focus = PaneId::Sockets;
                } else {
                    self.zoom = Some(PaneId::Details);
                    self.focus = PaneId::Details;
                }
            }
            Effect::OpenRepro => {
                if !self.repro.open {
                    let requests = self.repro.open(&self.scan_facts());
                    self.push_repro(requests);
                    self.pane_order.push(PaneId::Repro);
                }
                self.zoom = None;
                self.help = false;
                self.focus = PaneId::Repro;
            }
            Effect::ReproBack => {
                if self.repro.any_busy() {
                    let requests = self.repro.stop_all();
                    self.push_repro(requests);
                } else {
                    self.repro.open = false;
                    self.pane_order.retain(|&p| p != PaneId::Repro);
                    if self.focus == PaneId::Repro {
                        self.focus = PaneId::Sockets;
                    }
                    if self.zoom == Some(PaneId::Repro) {
                        self.zoom = None;
                    }
                }
            }
            Effect::Repro(e) => {
                let requests = self.repro.apply(e, &self.scan_facts());
                self.push_repro(requests);
            }
        }
        true
    }

    fn move_selection(&mut self, m: Motion) {
        let Some(snap) = &self.snapshot else { return };
        let page = self.table_rows.max(1) as isize;
        let v = &mut self.view;
        match m {
            Motion::Up(n) => v.move_by(snap, -(n as isize)),
            Motion::Down(n) => v.move_by(snap, n as isize),
            Motion::PageUp => v.move_by(snap, -page),
            Motion::PageDown => v.move_by(snap, page),
            Motion::Top => v.select(snap, 0),
            Motion::Bottom => v.select(snap, usize::MAX),
        }
        v.scroll_into_view(self.table_rows);
    }
}
