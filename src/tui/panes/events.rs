//! The event log, newest first: self-connects seen and gone, risky
//! listeners appearing and disappearing, policy changes, scan errors. The
//! one place that words the core's changes; text from other processes or
//! the kernel (process and namespace names, error messages) is made
//! terminal-safe here.

use std::cell::Cell;

use chrono::{DateTime, Local};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::core::changes::{
    ChangeKind, ListenerAppeared, ListenerGone, LiveOwner, NetnsRef, RetryStorm, SelfConnect,
    SelfConnectCaught,
};
use crate::core::sanitize::{terminal_safe, terminal_safe_cut};
use crate::core::snapshot::{Owner, UnknownOwner};
use crate::core::words::{group, plural, time_of_day};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Action, key_label};
use crate::tui::pane::{Pane, PaneId};
use crate::tui::text::wrap;
use crate::tui::theme::Theme;
use crate::tui::tracker::{LogEntry, Logged};

#[derive(Debug, Default)]
pub struct EventsPane {
    /// Newest entries skipped.
    scroll: usize,
    page: Cell<usize>,
}

/// How an entry is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    /// A risky listener.
    Warning,
    /// The scan could not read something.
    Error,
    /// A self-connection.
    Alert,
}

/// Process and namespace names are cut to this many cells.
const NAME_WIDTH: usize = 48;

/// Who holds a socket, as a noun phrase ("held by ...").
fn owner_words(owner: &Owner) -> String {
    match owner {
        Owner::Process(p) => format!("pid {} {}", p.pid, terminal_safe_cut(&p.name, NAME_WIDTH)),
        Owner::Unknown(UnknownOwner::KernelHeld) => "the kernel".into(),
        Owner::Unknown(UnknownOwner::NotPermitted) => "another user's process (need root)".into(),
        Owner::Unknown(UnknownOwner::NotFound) => "a process no longer visible".into(),
        Owner::Unknown(UnknownOwner::NotResolved) => "an unknown process".into(),
    }
}

/// The process behind a live event, or the task id the kernel gave when
/// it was gone before it could be read.
pub fn live_owner_words(owner: Option<&LiveOwner>, tid: i32) -> String {
    match owner {
        Some(o) => format!(
            "pid {} {}",
            o.pid,
            terminal_safe_cut(&o.process, NAME_WIDTH)
        ),
        None => format!("task {tid} (gone before it could be read)"),
    }
}

fn ns_name(ns: &NetnsRef) -> std::borrow::Cow<'_, str> {
    terminal_safe_cut(&ns.name, NAME_WIDTH)
}

impl LogEntry {
    pub fn level(&self) -> Level {
        let kind = match &self.what {
            Logged::MoreScanErrors(_) => return Level::Error,
            Logged::NamespacesAppeared(_) | Logged::NamespacesGone(_) | Logged::Note(_) => {
                return Level::Info;
            }
            Logged::Change(kind) => kind,
        };
        match kind {
            ChangeKind::SelfConnectSeen(_)
            | ChangeKind::SelfConnectGone(_)
            | ChangeKind::PortStolen(_)
            | ChangeKind::SelfConnectCaught(_)
            | ChangeKind::RetryStormStarted(_) => Level::Alert,
            ChangeKind::ListenerAppeared(_)
            | ChangeKind::ListenerGone(_)
            | ChangeKind::ListenerRiskChanged(_) => Level::Warning,
            ChangeKind::ScanError(_) | ChangeKind::ScanFailed(_) => Level::Error,
            _ => Level::Info,
        }
    }

    /// The entry in plain words (without its timestamp).
    pub fn message(&self) -> String {
        let kind = match &self.what {
            Logged::MoreScanErrors(n) => {
                return format!("scan error: and {n} more (see the header)");
            }
            Logged::NamespacesAppeared(v) => return namespaces_appeared(v),
            Logged::NamespacesGone(v) => return namespaces_gone(v),
            Logged::Note(text) => return terminal_safe(text).into_owned(),
            Logged::Change(kind) => kind,
        };
        let safe = |e: &dyn std::fmt::Display| terminal_safe(&e.to_string()).into_owned();
        match kind {
            ChangeKind::WatchStarted(w) => format!(
                "watching {}: {} self-connected, {}",
                plural(w.sockets, "socket", "sockets"),
                w.self_connects,
                plural(w.risky_listeners, "risky listener", "risky listeners")
            ),
            ChangeKind::ScanFailed(f) => format!("scan failed: {}", safe(&f.message)),
            ChangeKind::ScanRecovered => "scanning works again".to_string(),
            ChangeKind::ScanError(e) => format!("scan error: {}", safe(e)),
            ChangeKind::ScanErrorCleared(e) => format!("scan error cleared: {}", safe(e)),
            ChangeKind::NamespaceAppeared(n) => {
                format!("network namespace {} appeared", ns_name(&n.netns))
            }
            ChangeKind::NamespaceGone(n) => format!(
                "network namespace {} is gone, and its sockets with it",
                ns_name(&n.netns)
            ),
            ChangeKind::RangeChanged(r) => {
                let ns = self.in_ns(&r.netns);
                format!("{ns}ephemeral range now {} (was {})", r.range, r.was)
            }
            ChangeKind::ReservedChanged(r) => {
                let ns = self.in_ns(&r.netns);
                format!("{ns}reserved ports now {} (was {})", r.reserved, r.was)
            }
            ChangeKind::ListenerAppeared(l) => self.listener_appeared(l),
            ChangeKind::ListenerRiskChanged(l) => {
                let ns = self.in_ns(&l.netns);
                format!("{ns}listener on {} is now {} risk", l.port, l.risk)
            }
            ChangeKind::ListenerSafe(l) => format!(
                "{}{} is no longer at risk: reserved now, or outside the ephemeral range",
                self.in_ns(&l.netns),
                l.port
            ),
            ChangeKind::ListenerGone(l) => self.listener_gone(l),
            ChangeKind::SelfConnectSeen(s) => self.self_connect_seen(s),
            ChangeKind::SelfConnectGone(s) => self.self_connect_gone(s),
            ChangeKind::SelfConnectCaught(c) => self.self_connect_caught(c),
            ChangeKind::RetryStormStarted(r) => format!(
                "{}RETRY STORM ({} risk, {}/s): {}",
                self.in_ns(&r.netns),
                r.risk,
                r.rate_per_sec,
                terminal_safe(&r.explanation())
            ),
            ChangeKind::RetryStormEnded(r) => self.storm_ended(r),
            ChangeKind::PortStolen(i) => format!(
                "{}PORT STOLEN {}",
                self.in_ns(&i.netns),
                terminal_safe(&crate::core::incident_advice::incident_summary(i))
            ),
        }
    }

    /// `[name] ` when the snapshot had several namespaces.
    fn in_ns(&self, ns: &NetnsRef) -> String {
        if self.name_netns {
            format!("[{}] ", ns_name(ns))
        } else {
            String::new()
        }
    }

    fn self_connect_seen(&self, s: &SelfConnect) -> String {
        let seen = if s.first_seen == s.last_seen {
            format!("seen {}", time_of_day(&s.first_seen))
        } else {
            format!(
                "seen {}–{}",
                time_of_day(&s.first_seen),
                time_of_day(&s.last_seen)
            )
        };
        format!(
            "{}SELF-CONNECT {} ↔ itself ({}), held by {}; {}{seen}{}",
            self.in_ns(&s.netns),
            s.addr,
            s.state,
            owner_words(&s.owner),
            if s.present_at_start {
                "present at start, "
            } else {
                ""
            },
            if self.ongoing {
                ", still there"
            } else if self.netns_gone {
                "; its network namespace is gone"
            } else {
                ""
            },
        )
    }

    fn self_connect_caught(&self, c: &SelfConnectCaught) -> String {
        format!(
            "{}SELF-CONNECT CAUGHT {} ↔ itself, made by {} (kernel event)",
            self.in_ns(&c.netns),
            c.addr,
            live_owner_words(c.owner.as_ref(), c.tid),
        )
    }

    fn storm_ended(&self, r: &RetryStorm) -> String {
        format!(
            "{}retry storm on {} ended: {} refused in all, {}",
            self.in_ns(&r.netns),
            r.target,
            r.total,
            live_owner_words(r.owner.as_ref(), r.pid),
        )
    }

    fn self_connect_gone(&self, s: &SelfConnect) -> String {
        format!(
            "{}self-connect {} gone; it was seen {}–{}, held by {}",
            self.in_ns(&s.netns),
            s.addr,
            time_of_day(&s.first_seen),
            time_of_day(&s.last_seen),
            owner_words(&s.owner)
        )
    }

    fn listener_appeared(&self, l: &ListenerAppeared) -> String {
        format!(
            "{}{}-risk listener on {} {}, held by {}",
            self.in_ns(&l.netns),
            l.risk,
            l.addr,
            if l.present_at_start {
                "(present at start)"
            } else {
                "appeared"
            },
            owner_words(&l.owner)
        )
    }

    fn listener_gone(&self, l: &ListenerGone) -> String {
        format!(
            "{}nothing listens on {} any more ({} stopped listening): clients \
             retrying it can now connect to themselves",
            self.in_ns(&l.netns),
            l.port,
            owner_words(&l.owner)
        )
    }
}

/// Namespaces named in a folded entry before the rest are counted.
const NAMES_LISTED: usize = 6;

/// `a, b, c` or `a, b, …, and 4 more`: names made safe and cut.
fn ns_names(v: &[NetnsRef]) -> String {
    let mut names: Vec<String> = v
        .iter()
        .take(NAMES_LISTED)
        .map(|n| ns_name(n).into_owned())
        .collect();
    if v.len() > NAMES_LISTED {
        names.push(format!("and {} more", v.len() - NAMES_LISTED));
    }
    names.join(", ")
}

/// One refresh's new namespaces, in one entry.
fn namespaces_appeared(v: &[NetnsRef]) -> String {
    match v {
        [one] => format!("network namespace {} appeared", ns_name(one)),
        _ => format!(
            "{} appeared: {}",
            plural(v.len(), "network namespace", "network namespaces"),
            ns_names(v)
        ),
    }
}

/// One refresh's namespaces gone, in one entry.
fn namespaces_gone(v: &[NetnsRef]) -> String {
    match v {
        [one] => format!(
            "network namespace {} is gone, and its sockets with it",
            ns_name(one)
        ),
        _ => format!(
            "{} are gone, and their sockets with them: {}",
            plural(v.len(), "network namespace", "network namespaces"),
            ns_names(v)
        ),
    }
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

/// The entries on show, newest first: namespace events unless hidden, and
/// those the `/` filter matches (on the time and the message, as shown).
fn shown(app: &App) -> Vec<&LogEntry> {
    let hide = app.hides_namespace_events();
    let filter = app.filter();
    let mut text = String::new();
    app.tracker()
        .entries()
        .iter()
        .rev()
        .filter(|e| !(hide && e.what.is_namespace_event()))
        .filter(|e| {
            if !filter.is_active() {
                return true;
            }
            text.clear();
            text.push_str(&stamp(&e.at));
            text.push_str(&e.message().to_lowercase());
            filter.matches_text(&text)
        })
        .collect()
}

fn push_wrapped(out: &mut Vec<Line<'static>>, text: &str, w: usize, style: Style) {
    out.extend(
        wrap(text, w, "", "  ")
            .into_iter()
            .map(|l| Line::styled(l, style)),
    );
}

/// The live findings, one each: retry storms going on (with their
/// rate), then the self-connects caught live, newest first, with their
/// owner and whether the socket is gone.
pub fn live_findings(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = app.theme();
    let tr = app.tracker();
    let mut out = Vec::new();
    for r in tr.storms() {
        let tries = r
            .tries_likely_within
            .map(|n| format!(", self-connect probably within ~{} tries", group(n)))
            .unwrap_or_default();
        let text = format!(
            "STORM {} {} refused {}/s ({} in {} s), {} risk{tries}",
            r.target,
            live_owner_words(r.owner.as_ref(), r.pid),
            group(r.rate_per_sec),
            group(r.refusals),
            r.window_secs,
            r.risk,
        );
        push_wrapped(&mut out, &text, w, t.high);
    }
    for c in tr.caught().collect::<Vec<_>>().into_iter().rev() {
        let state = match (c.closed, c.lifetime_ms) {
            (false, _) => "open".to_string(),
            (true, Some(ms)) => format!("closed, lived at least {ms} ms"),
            (true, None) => "closed".to_string(),
        };
        let text = format!(
            "CAUGHT {}{} ↔ itself, {}; {state} · {} clears",
            stamp(&c.caught_at),
            c.addr,
            live_owner_words(c.owner.as_ref(), c.tid),
            key_label(Action::ClearCaught),
        );
        push_wrapped(&mut out, &text, w, t.self_connect);
    }
    out
}

/// The time of day before a log line, with the space that separates it.
fn stamp(at: &DateTime<Local>) -> String {
    format!("{} ", time_of_day(at))
}

impl Pane for EventsPane {
    fn id(&self) -> PaneId {
        PaneId::Events
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let t = app.theme();
        let entries = shown(app);
        let scroll = self.scroll.min(entries.len().saturating_sub(1));
        let mut title = vec![Span::styled("Events", t.value)];
        if app.filter().is_active() {
            title.push(Span::raw(format!(
                " {} of {} match “{}”",
                entries.len(),
                app.tracker().len(),
                terminal_safe_cut(app.filter().text(), NAME_WIDTH)
            )));
        } else {
            title.push(Span::raw(format!(" {}", entries.len())));
        }
        title.push(Span::styled(" newest first", t.dim));
        if app.hides_namespace_events() {
            title.push(Span::styled(
                format!(
                    " · namespaces hidden ({})",
                    key_label(Action::ToggleNamespaceEvents)
                ),
                t.dim,
            ));
        }
        if scroll > 0 {
            title.push(Span::styled(format!(" (scrolled {scroll})"), t.dim));
        }
        let block = pane_block(app, PaneId::Events, title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let h = inner.height as usize;
        self.page.set(h.max(1));
        // Live findings stay on top (at most half the pane) until cleared.
        let w = inner.width as usize;
        let mut lines: Vec<Line> = live_findings(app, w);
        lines.truncate(h / 2);
        if entries.is_empty() {
            let none = if app.tracker().is_empty() {
                "No events yet."
            } else {
                "No events match."
            };
            lines.push(Line::styled(none, t.dim));
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        }
        // Wrap only what fits on screen.
        for e in entries.iter().skip(scroll) {
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
        let last = shown(app).len().saturating_sub(1);
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
