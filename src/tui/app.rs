//! The dashboard's state, and the one place where it changes
//! ([`App::apply`]). Pure: time comes in as `now`, snapshots as values; no
//! terminal and no threads here, so tests drive it directly. The fields
//! are private: panes and the event loop read them through methods that
//! say what they are, and change them only through [`Effect`]s (or the
//! few methods the event loop calls on a scan, a resize or a tick).

use std::time::Duration;

use chrono::{DateTime, Local};
use ratatui::layout::Rect;

use super::pane::PaneId;
use super::panes::confirm::{Confirm, DestroyTarget};
use super::record::{Mark, ReplayNews};
use super::repro::{ReproEffect, ReproRequest, ReproState};
use super::text::append_typed;
use super::text_input::{self, TextEdit};
use super::theme::Theme;
use super::tracker::{LiveCatchStatus, Tracker};
use super::view::{Filter, SearchIndex, Sort, TableView};
use crate::core::snapshot::{Counts, Namespace, Snapshot, Socket};
use crate::sys::scanner::ScanFailure;

mod copy;
mod free_port;
mod queries;
mod repro_link;

/// The longest filter, in characters (a paste may be megabytes).
const FILTER_MAX_CHARS: usize = 200;

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
    /// Typing into the filter (it applies as it is typed).
    EditFilter(TextEdit),
    /// A paste into the filter being typed: one line, bounded.
    PasteIntoFilter(String),
    /// Keep the filter typed so far, and stop typing.
    KeepFilter,
    /// Clear the filter, and stop typing.
    CancelFilter,
    /// Close what is open, else clear the filter.
    Clear,
    /// Show the details of the selection full size, or go back.
    ToggleDetails,
    /// A change of the repro pane (opening and closing it included).
    Repro(ReproEffect),
    /// `K`: ask to destroy the selected self-connected socket (or say why
    /// the selection is not one).
    AskFreePort,
    /// The answer to that question (`y`: destroy; `n`, Esc: cancel), or,
    /// once the kernel answered, closing the overlay.
    FreePortAnswer(bool),
    /// Hide or show namespaces appearing and going in the event log.
    ToggleNamespaceEvents,
    /// Copy the selected finding's fix to the clipboard.
    CopyFix,
    /// Copy the line that reserves every risky listener of the selected
    /// socket's namespace.
    CopyReserveAll,
    /// Forget the self-connects caught live (`C`).
    ClearCaught,
    /// Whether live catch runs, or why not (for the header).
    LiveCatch(LiveCatchStatus),
    /// The window retry storms are counted over (from the configuration).
    StormWindow(Duration),
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
    /// Destroy this one self-connected socket (the user said yes); the
    /// answer comes back through [`App::on_freed`].
    FreePort(DestroyTarget),
    /// Live catch started (true) or stopped: the scan worker reads the
    /// whole tables less often while it runs.
    LiveCatch(bool),
    /// Put this text on the clipboard: the event loop writes it to the
    /// terminal as OSC 52 ([`crate::tui::clipboard`]).
    Copy(String),
}

/// A scan's outcome as the worker sends it.
#[derive(Debug)]
pub struct ScanResult {
    /// When the scan started (a failure has no snapshot to carry it).
    pub at: DateTime<Local>,
    pub result: Result<Snapshot, ScanFailure>,
    /// The snapshot holds the listening sockets only (see
    /// [`crate::sys::scanner::Scanner::scan_listeners`]): the connections
    /// are those of the last full scan.
    pub listeners_only: bool,
}

#[derive(Debug)]
pub struct App {
    theme: Theme,
    interval: Duration,
    /// The time the dashboard shows; set by the event loop (tests fix it).
    now: DateTime<Local>,
    /// The snapshot on screen.
    snapshot: Option<Snapshot>,
    /// Its counts (computed once per snapshot, not per frame).
    counts: Option<Counts>,
    /// The newest snapshot, held back while paused.
    pending: Option<Snapshot>,
    /// When the connections of the snapshot on screen (and of the one held
    /// back) were read, when that was before its listeners (a
    /// listeners-only refresh keeps those of the last full one).
    connections_at: Option<DateTime<Local>>,
    pending_connections_at: Option<DateTime<Local>>,
    paused_since: Option<DateTime<Local>>,
    /// The last scan failed completely: when, and why.
    failure: Option<(DateTime<Local>, String)>,
    tracker: Tracker,
    view: TableView,
    view_dirty: bool,
    /// The snapshot's search texts, built when a filter is first used on it.
    search: Option<SearchIndex>,
    show_all: bool,
    filter: Filter,
    /// Some while the filter is being typed.
    filter_input: Option<String>,
    sort: Sort,
    focus: PaneId,
    /// The Tab order (the dashboard's panes).
    pane_order: Vec<PaneId>,
    /// A pane shown alone in the main area (Enter: details).
    zoom: Option<PaneId>,
    help: bool,
    /// The screen, as of the last draw or resize.
    size: Rect,
    /// Rows of the table on screen, as of the last layout.
    table_rows: usize,
    quit: bool,
    full_redraw: bool,
    scans_seen: u64,
    /// Requests for the event loop, oldest first.
    outbox: Vec<Request>,
    /// The repro pane: its forms, its runs, the self-connections it made.
    repro: ReproState,
    /// Namespaces appearing and going are left out of the event log.
    hide_ns_events: bool,
    /// `--netns`: the one namespace shown, as asked for.
    netns_only: Option<String>,
    /// This is a replay, or the dashboard records (`--replay`, `--record`).
    mark: Option<Mark>,
    /// The overlay that frees a port (`K`), while it is open.
    confirm: Option<Confirm>,
    /// A one-line message for the status line (until the next key).
    notice: Option<String>,
}

impl App {
    /// A dashboard with the panes of `tab_order` (the repro pane joins the
    /// order when it opens).
    pub fn new(
        theme: Theme,
        interval: Duration,
        now: DateTime<Local>,
        tab_order: Vec<PaneId>,
    ) -> App {
        App {
            theme,
            interval,
            now,
            snapshot: None,
            counts: None,
            pending: None,
            connections_at: None,
            pending_connections_at: None,
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
            pane_order: tab_order,
            zoom: None,
            help: false,
            size: Rect::new(0, 0, 80, 24),
            table_rows: 10,
            quit: false,
            full_redraw: false,
            scans_seen: 0,
            outbox: Vec::new(),
            repro: ReproState::default(),
            hide_ns_events: false,
            netns_only: None,
            mark: None,
            confirm: None,
            notice: None,
        }
    }

    /// Marks the dashboard as a replay, or as recording.
    pub fn set_mark(&mut self, mark: Option<Mark>) {
        self.mark = mark;
    }

    pub fn mark(&self) -> Option<&Mark> {
        self.mark.as_ref()
    }

    /// Inputs come from a recording: nothing may act on this machine.
    pub fn is_replay(&self) -> bool {
        self.mark.as_ref().is_some_and(Mark::is_replay)
    }

    pub fn on_replay_news(&mut self, news: ReplayNews) {
        if let Some(m) = self.mark.as_mut() {
            m.on_news(news);
        }
    }

    /// The latest scan (held back while paused, or on screen).
    fn latest(&self) -> Option<&Snapshot> {
        self.pending.as_ref().or(self.snapshot.as_ref())
    }

    /// How long after a listener goes a self-connection on its port is an
    /// incident (the configuration's `[incidents] window`).
    pub fn set_incident_window(&mut self, window: chrono::TimeDelta) {
        self.tracker.set_incident_window(window);
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Takes a scan's outcome: the log always records it; the view only
    /// when not paused.
    pub fn on_scan(&mut self, scan: ScanResult) {
        self.scans_seen += 1;
        match scan.result {
            Ok(mut snap) => {
                let connections_at = if scan.listeners_only {
                    self.keep_connections(&mut snap)
                } else {
                    None
                };
                self.tracker.attribute(&mut snap);
                if scan.listeners_only {
                    self.tracker.observe_listeners(&snap);
                } else {
                    self.tracker.observe(&snap);
                }
                self.failure = None;
                if self.is_paused() {
                    self.pending = Some(snap);
                    self.pending_connections_at = connections_at;
                } else {
                    self.show(snap);
                    self.connections_at = connections_at;
                }
            }
            Err(fail) => {
                let msg = fail.to_string();
                self.tracker.observe_failure(scan.at, &msg);
                self.failure = Some((scan.at, msg));
            }
        }
    }

    /// An event of live catch: the log records it at once, paused or not.
    pub fn on_live(&mut self, caught: &crate::sys::tracefs::Caught) -> bool {
        match caught.event {
            crate::core::live::LiveEvent::Failed { .. } => {
                self.outbox.push(Request::LiveCatch(false));
            }
            // Events were lost: a self-connect may be among them, and only
            // a full read would show it.
            crate::core::live::LiveEvent::Lost { .. } => self.outbox.push(Request::Rescan),
            _ => {}
        }
        self.tracker.observe_live(caught)
    }

    /// Gives a listeners-only snapshot the connections of the latest
    /// (moved out of it: it is about to be replaced); returns when those
    /// were read.
    fn keep_connections(&mut self, snap: &mut Snapshot) -> Option<DateTime<Local>> {
        let (old, at) = if let Some(p) = self.pending.take() {
            (p, self.pending_connections_at.take())
        } else if self.is_paused() {
            // The one on screen stays there while paused.
            (self.snapshot.clone()?, self.connections_at)
        } else {
            (self.snapshot.take()?, self.connections_at)
        };
        let at = at.unwrap_or(old.taken_at);
        snap.keep_connections_of(old);
        Some(at)
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
        if !matches!(effect, Effect::Redraw | Effect::FullRedraw) {
            self.notice = None;
        }
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
            Effect::CycleFocus(dir) => self.cycle_focus(dir),
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
            Effect::TogglePause => self.toggle_pause(),
            Effect::StartFilter
            | Effect::EditFilter(_)
            | Effect::PasteIntoFilter(_)
            | Effect::KeepFilter => self.edit_filter(effect),
            Effect::CancelFilter => {
                self.filter_input = None;
                self.set_filter("");
            }
            Effect::Clear => return self.clear(),
            Effect::ClearCaught => {
                self.tracker.clear_caught();
            }
            Effect::LiveCatch(status) => {
                let on = matches!(status, LiveCatchStatus::On { .. });
                self.tracker.set_live_catch(status);
                self.outbox.push(Request::LiveCatch(on));
            }
            Effect::StormWindow(window) => self.tracker.set_storm_window(window),
            Effect::ToggleDetails => {
                if self.zoom.is_some() {
                    self.zoom = None;
                    self.focus = PaneId::Sockets;
                } else {
                    self.zoom = Some(PaneId::Details);
                    self.focus = PaneId::Details;
                }
            }
            Effect::Repro(e) => self.apply_repro(e),
            Effect::AskFreePort | Effect::FreePortAnswer(_) => self.free_port(effect),
            Effect::ToggleNamespaceEvents => self.hide_ns_events = !self.hide_ns_events,
            Effect::CopyFix => self.copy_fix(),
            Effect::CopyReserveAll => self.copy_reserve_all(),
        }
        true
    }

    fn cycle_focus(&mut self, dir: i8) {
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
            // Entering the form: at its first field going forward, its
            // last going back.
            self.apply_repro(ReproEffect::Enter(dir));
        }
    }

    fn toggle_pause(&mut self) {
        if self.paused_since.take().is_some() {
            if let Some(snap) = self.pending.take() {
                self.show(snap);
                self.connections_at = self.pending_connections_at.take();
                self.rebuild_view();
            }
        } else {
            self.paused_since = Some(self.now);
        }
    }

    /// Starting, typing and keeping the filter; it applies as it is typed.
    fn edit_filter(&mut self, effect: Effect) {
        match effect {
            Effect::StartFilter => {
                self.filter_input = Some(self.filter.text().to_string());
            }
            Effect::EditFilter(edit) => {
                let mut text = self.filter_input.take().unwrap_or_default();
                match edit {
                    TextEdit::Insert(c) => {
                        append_typed(&mut text, c.encode_utf8(&mut [0; 4]), FILTER_MAX_CHARS);
                    }
                    edit => text_input::apply(&mut text, edit),
                }
                self.set_filter(&text);
                self.filter_input = Some(text);
            }
            Effect::PasteIntoFilter(pasted) => {
                let mut text = self.filter_input.take().unwrap_or_default();
                append_typed(&mut text, &pasted, FILTER_MAX_CHARS);
                self.set_filter(&text);
                self.filter_input = Some(text);
            }
            Effect::KeepFilter => {
                if let Some(text) = self.filter_input.take() {
                    self.set_filter(&text);
                }
            }
            _ => {}
        }
    }

    /// Esc: close what is open, else clear the filter; false when there
    /// was nothing to do.
    fn clear(&mut self) -> bool {
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
