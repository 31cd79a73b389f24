//! What the panes, the layout and the event loop read of the dashboard's
//! state (its fields are private to [`super`]), and the few setters the
//! event loop uses for time, size and the table's height.

use std::time::Duration;

use chrono::{DateTime, Local};
use ratatui::layout::Rect;

use super::{App, Request};
use crate::core::snapshot::{Counts, Snapshot};
use crate::tui::pane::PaneId;
use crate::tui::panes::confirm::Confirm;
use crate::tui::repro::ReproState;
use crate::tui::theme::Theme;
use crate::tui::tracker::Tracker;
use crate::tui::view::{Filter, Sort, TableView};

impl App {
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// How often the scanner refreshes.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The time the dashboard shows.
    pub fn now(&self) -> DateTime<Local> {
        self.now
    }

    pub fn set_now(&mut self, now: DateTime<Local>) {
        self.now = now;
    }

    /// The snapshot on screen (an older one while paused).
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// When the connections of the snapshot on screen were read, if before
    /// its listeners (a listeners-only refresh; see [`super::ScanResult`]).
    pub fn connections_at(&self) -> Option<DateTime<Local>> {
        self.connections_at
    }

    /// The counts of the snapshot on screen.
    pub fn counts(&self) -> Option<Counts> {
        self.counts
    }

    /// Since when the view is paused.
    pub fn paused_since(&self) -> Option<DateTime<Local>> {
        self.paused_since
    }

    /// The last scan failed completely: when, and why.
    pub fn failure(&self) -> Option<&(DateTime<Local>, String)> {
        self.failure.as_ref()
    }

    /// The event log.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The table's rows and selection.
    pub fn view(&self) -> &TableView {
        &self.view
    }

    /// All sockets are listed (not only the findings).
    pub fn shows_all(&self) -> bool {
        self.show_all
    }

    /// The filter in force.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The filter being typed, while it is.
    pub fn filter_being_typed(&self) -> Option<&str> {
        self.filter_input.as_deref()
    }

    pub fn sort(&self) -> Sort {
        self.sort
    }

    /// The pane with the keyboard focus.
    pub fn focus(&self) -> PaneId {
        self.focus
    }

    /// The panes in Tab order.
    pub fn tab_order(&self) -> &[PaneId] {
        &self.pane_order
    }

    /// The pane shown alone in the main area, if one is.
    pub fn zoomed(&self) -> Option<PaneId> {
        self.zoom
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    /// The screen size, as of the last draw or resize.
    pub fn size(&self) -> Rect {
        self.size
    }

    pub fn resize(&mut self, size: Rect) {
        self.size = size;
    }

    /// Rows of the table on screen.
    pub fn table_rows(&self) -> usize {
        self.table_rows
    }

    /// The layout gave the table `rows` rows: the selection stays on screen.
    pub fn set_table_rows(&mut self, rows: usize) {
        self.table_rows = rows.max(1);
        self.view.scroll_into_view(self.table_rows);
    }

    /// The user asked to quit.
    pub fn wants_quit(&self) -> bool {
        self.quit
    }

    /// Whether the whole screen must be repainted (Ctrl-L); asking resets it.
    pub fn take_full_redraw(&mut self) -> bool {
        std::mem::take(&mut self.full_redraw)
    }

    /// How many scans arrived.
    pub fn scans_seen(&self) -> u64 {
        self.scans_seen
    }

    /// Work for the event loop, not yet handed out.
    pub fn requests(&self) -> &[Request] {
        &self.outbox
    }

    /// Hands out the work for the event loop, oldest first.
    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.outbox)
    }

    /// The overlay that frees a port, while it is open.
    pub fn confirm(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }

    /// The status line's message, if there is one.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// `--netns`: the one namespace shown, as asked for on the command line.
    pub fn netns_only(&self) -> Option<&str> {
        self.netns_only.as_deref()
    }

    /// Shows one namespace only (`--netns`, `--own-netns`): the header says so.
    pub fn set_netns_only(&mut self, wanted: Option<String>) {
        self.netns_only = wanted;
    }

    /// The repro pane's first host, mode and pace (`[repro]` of the
    /// configuration).
    pub fn set_repro_defaults(&mut self, d: &crate::tui::repro::FormDefaults) {
        self.repro.set_defaults(d);
    }

    /// Namespaces appearing and going are hidden from the event log.
    pub fn hides_namespace_events(&self) -> bool {
        self.hide_ns_events
    }

    /// Hands out the texts to put on the clipboard (the
    /// [`Request::Copy`]s), leaving the other requests queued.
    pub fn take_copies(&mut self) -> Vec<String> {
        let mut copies = Vec::new();
        self.outbox.retain(|r| match r {
            Request::Copy(text) => {
                copies.push(text.clone());
                false
            }
            _ => true,
        });
        copies
    }

    /// The repro pane's state.
    pub fn repro(&self) -> &ReproState {
        &self.repro
    }
}
