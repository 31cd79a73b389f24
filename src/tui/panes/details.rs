//! The details of the selected socket, in plain words: what it is, why it
//! matters, who holds it, and the fixes that apply (from
//! [`crate::core::advice::advise`]), with the exact commands.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::core::advice::{Fix, advise};
use crate::core::changes::SelfConnectKey;
use crate::core::incident_advice::{incident_known_and_inferred, incident_summary, timeline_lines};
use crate::core::reserve::reserve_all;
use crate::core::sanitize::{terminal_safe, terminal_safe_cut};
use crate::core::snapshot::{Namespace, Socket};
use crate::core::socket::FindingKind;
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Action, key_label};
use crate::tui::pane::{Pane, PaneId};
use crate::tui::text::wrap;
use crate::tui::view::{SocketKey, finding_label};

#[derive(Debug, Default)]
pub struct DetailsPane {
    scroll: usize,
    /// The socket the scroll position belongs to; another selection starts at the top.
    scrolled: Option<SocketKey>,
    /// As of the last draw: the largest useful scroll, and the page height.
    max_scroll: Cell<usize>,
    page: Cell<usize>,
}

fn push_wrapped(
    out: &mut Vec<Line<'static>>,
    text: &str,
    w: usize,
    first: &str,
    rest: &str,
    style: Style,
) {
    // Advice and facts quote process, user and namespace names.
    for l in wrap(&terminal_safe(text), w, first, rest) {
        out.push(Line::styled(l, style));
    }
}

/// Commands, one per line and never wrapped (a wrapped command breaks when
/// copied from the screen): indented, without a prompt, and cut with a
/// visible `…` when wider than the pane (`y` copies them whole).
fn push_commands(out: &mut Vec<Line<'static>>, commands: &[String], w: usize, style: Style) {
    const INDENT: &str = "   ";
    for cmd in commands {
        let room = w.saturating_sub(INDENT.len()).max(1);
        let shown = terminal_safe_cut(cmd, room);
        out.push(Line::styled(format!("{INDENT}{shown}"), style));
    }
}

/// With several risky listeners in the selection's namespace: the one line
/// that reserves them all, keeping what is reserved.
fn push_reserve_all(out: &mut Vec<Line<'static>>, app: &App, netns: usize, w: usize) {
    let t = app.theme();
    let Some(all) = app.snapshot().and_then(|s| reserve_all(s, netns)) else {
        return;
    };
    if all.ports.len() < 2 {
        return;
    }
    let title = format!(
        "All {} risky listeners of this namespace at once ({} copies it):",
        all.ports.len(),
        key_label(Action::CopyReserveAll)
    );
    push_wrapped(out, &title, w, "•  ", "   ", t.value);
    push_commands(out, std::slice::from_ref(&all.command), w, t.command);
}

/// The pane's text for the current selection, wrapped to `w` columns.
pub fn content(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = app.theme();
    let Some((socket, ns)) = app.selected() else {
        return nothing_selected(app, w);
    };
    let advice = advise(socket, ns);
    let mut out: Vec<Line<'static>> = Vec::new();
    push_headline(&mut out, app, socket, &advice.what, w);
    incident_lines(&mut out, app, socket, ns, w);
    out.push(Line::raw(""));
    out.push(Line::styled("Why", t.heading));
    for why in &advice.why {
        push_wrapped(&mut out, why, w, "• ", "  ", t.plain);
    }
    if !advice.fixes.is_empty() {
        push_fixes(&mut out, app, socket, &advice.fixes, w);
        push_reserve_all(&mut out, app, socket.netns, w);
    }
    push_socket_facts(&mut out, app, socket, ns, w);
    out
}

/// With no selection: what a self-connect is, and what the table lists.
fn nothing_selected(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = app.theme();
    let mut out: Vec<Line<'static>> = Vec::new();
    let range = app
        .snapshot()
        .map(|s| s.own_namespace().policy.range.to_string())
        .unwrap_or_else(|| "32768-60999".into());
    out.push(Line::styled("Nothing selected.", t.heading));
    out.push(Line::raw(""));
    push_wrapped(
        &mut out,
        &format!(
            "A TCP client that connects to a port on its own host inside the ephemeral range \
             ({range}) while nothing listens there can be handed that very port as its source \
             port: it connects to itself (local address = remote address), reads back what it \
             writes, and the real service can no longer bind the port."
        ),
        w,
        "",
        "",
        t.plain,
    );
    out.push(Line::raw(""));
    push_wrapped(
        &mut out,
        &format!(
            "The table lists self-connected sockets, and listeners on ports inside the range: \
             high risk on the parity connect() tries first, medium on the other. Select one \
             to see why and how to fix it; {} lists every socket.",
            key_label(Action::ToggleAll)
        ),
        w,
        "",
        "",
        t.dim,
    );
    out
}

/// The finding's label, then what the socket is, wrapped beside it.
fn push_headline(out: &mut Vec<Line<'static>>, app: &App, socket: &Socket, what: &str, w: usize) {
    let t = app.theme();
    let label = finding_label(socket);
    let mut head = vec![];
    if !label.is_empty() {
        head.push(Span::styled(
            format!(" {label} "),
            t.finding(socket.finding),
        ));
        head.push(Span::raw(" "));
    }
    let head_w = crate::tui::text::width(label) + if label.is_empty() { 0 } else { 3 };
    let what = wrap(&terminal_safe(what), w.saturating_sub(head_w), "", "");
    head.push(Span::styled(what[0].clone(), t.value));
    out.push(Line::from(head));
    for l in &what[1..] {
        out.push(Line::styled(l.clone(), t.value));
    }
}

/// The numbered fixes with their commands, the key that copies the first
/// command, and (for a self-connect) the key that destroys the socket.
fn push_fixes(out: &mut Vec<Line<'static>>, app: &App, socket: &Socket, fixes: &[Fix], w: usize) {
    let t = app.theme();
    out.push(Line::raw(""));
    out.push(Line::styled("Fixes", t.heading));
    let copied = fixes.iter().position(|f| !f.commands.is_empty());
    for (i, fix) in fixes.iter().enumerate() {
        let n = format!("{}. ", i + 1);
        push_wrapped(out, &fix.title, w, &n, "   ", t.value);
        push_commands(out, &fix.commands, w, t.command);
        if copied == Some(i) {
            out.push(Line::styled(
                format!("   ({} copies it)", key_label(Action::CopyFix)),
                t.dim,
            ));
        }
        if i == 0 && is_self_connect(socket) {
            push_wrapped(
                out,
                &format!(
                    "Or here: {} destroys this one socket (asks first; needs root).",
                    key_label(Action::FreePort)
                ),
                w,
                "   ",
                "   ",
                t.key,
            );
        }
        if let Some(note) = &fix.note {
            push_wrapped(out, note, w, "   ", "   ", t.dim);
        }
    }
}

/// The socket's own facts: family, state, inode, owner, namespace.
fn push_socket_facts(
    out: &mut Vec<Line<'static>>,
    app: &App,
    socket: &Socket,
    ns: &Namespace,
    w: usize,
) {
    let t = app.theme();
    out.push(Line::raw(""));
    out.push(Line::styled("Socket", t.heading));
    let e = &socket.entry;
    let mut facts = format!(
        "{} · {} · inode {} · uid {} ({})",
        e.family.as_str(),
        e.state,
        e.inode,
        e.uid,
        socket.user
    );
    if app.snapshot().is_some_and(|s| s.namespaces.len() > 1) || !ns.is_own {
        facts.push_str(&format!(" · namespace {} ({})", ns.name, ns.id));
    }
    push_wrapped(out, &facts, w, "", "", t.dim);
}

fn is_self_connect(socket: &Socket) -> bool {
    socket
        .finding
        .is_some_and(|f| f.kind == FindingKind::SelfConnect)
}

/// The incident this self-connection is part of, if any: its story in one
/// sentence, what the scans showed and what follows, and its timeline.
fn incident_lines(
    out: &mut Vec<Line<'static>>,
    app: &App,
    socket: &Socket,
    ns: &Namespace,
    w: usize,
) {
    if !is_self_connect(socket) {
        return;
    }
    let key = SelfConnectKey {
        netns: ns.id,
        addr: socket.entry.local,
    };
    let Some(record) = app.tracker().incident_of(&key) else {
        return;
    };
    let t = app.theme();
    let i = &record.incident;
    out.push(Line::raw(""));
    out.push(Line::styled("Incident: a service's port taken", t.heading));
    push_wrapped(out, &incident_summary(i), w, "", "", t.high);
    let (known, inferred) = incident_known_and_inferred(i);
    out.push(Line::styled("Known (seen in the scans)", t.heading));
    for k in &known {
        push_wrapped(out, k, w, "• ", "  ", t.plain);
    }
    out.push(Line::styled("Inferred (not seen)", t.heading));
    for k in &inferred {
        push_wrapped(out, k, w, "• ", "  ", t.plain);
    }
    out.push(Line::styled("Timeline", t.heading));
    for l in timeline_lines(&record.timeline) {
        push_wrapped(out, &l, w, "  ", "           ", t.dim);
    }
}

impl DetailsPane {
    fn scroll_for(&self, app: &App) -> usize {
        let key = app.view().selected_key;
        if key == self.scrolled {
            self.scroll.min(self.max_scroll.get())
        } else {
            0
        }
    }
}

impl Pane for DetailsPane {
    fn id(&self) -> PaneId {
        PaneId::Details
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let mut title = vec![Span::styled("Details", app.theme().value)];
        if let Some((s, _)) = app.selected() {
            title.push(Span::raw(format!(" {}", s.entry.local)));
        }
        let block = pane_block(app, PaneId::Details, title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let lines = content(app, inner.width.saturating_sub(1) as usize);
        let h = inner.height as usize;
        self.max_scroll.set(lines.len().saturating_sub(h));
        self.page.set(h.max(1));
        let scroll = self.scroll_for(app);
        let more_below = lines.len() > scroll + h;
        let shown: Vec<Line> = lines.into_iter().skip(scroll).take(h).collect();
        frame.render_widget(Paragraph::new(shown), inner);
        if (scroll > 0 || more_below) && inner.height > 0 {
            let hint = match (scroll > 0, more_below) {
                (true, true) => " ↑↓ more ",
                (true, false) => " ↑ more ",
                _ => " ↓ more ",
            };
            let r = Rect::new(
                area.right().saturating_sub(hint.chars().count() as u16 + 2),
                area.bottom().saturating_sub(1),
                hint.chars().count() as u16,
                1,
            )
            .intersection(area);
            frame.render_widget(Span::styled(hint, app.theme().dim), r);
        }
    }

    fn handle_key(&mut self, action: Action, app: &App) -> Option<Effect> {
        let current = self.scroll_for(app);
        let page = self.page.get();
        let max = self.max_scroll.get();
        let next = match action {
            Action::Up => current.saturating_sub(1),
            Action::Down => (current + 1).min(max),
            Action::PageUp => current.saturating_sub(page),
            Action::PageDown => (current + page).min(max),
            Action::Top => 0,
            Action::Bottom => max,
            _ => return None,
        };
        self.scroll = next;
        self.scrolled = app.view().selected_key;
        Some(Effect::Redraw)
    }
}
