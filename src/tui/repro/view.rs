//! The repro pane on screen: pick a port, a host, a mode and a pace,
//! start, and watch a client connect to itself. This file draws the frame,
//! the form and what to expect before a run; [`super::view_run`] draws a
//! run. Two slots side by side for a duel.
//!
//! Drawn from the state only (counters sampled at the draw tick), so tests
//! draw it from fixed updates.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::core::sanitize::terminal_safe_cut;
use crate::repro::explain::{Likelihood, TargetFacts, prospect};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{Action, Command, ReproAction, key_label};
use crate::tui::pane::{Pane, PaneId};
use crate::tui::panes::pane_block;
use crate::tui::text::{width, wrap};
use crate::tui::theme::Theme;

use super::form::{Field, Note, Slot};
use super::history::Run;
use super::state::{ReproEffect, ReproState};
use super::view_numbers::Numbers;
use super::view_run::{needs, running, shared_layout};
use super::words::expectation;
use super::{MAX_TIME, keys};

#[derive(Debug, Default)]
pub struct ReproPane;

impl Pane for ReproPane {
    fn id(&self) -> PaneId {
        PaneId::Repro
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let st = app.repro();
        let block = pane_block(app, PaneId::Repro, title(app))
            .title_bottom(hints(app, area.width.saturating_sub(4) as usize));
        let mut inner = block.inner(area);
        frame.render_widget(block, area);
        if inner.width < 4 || inner.height == 0 {
            return;
        }
        if inner.width >= 60 {
            inner = inner.inner(Margin {
                horizontal: 1,
                vertical: 0,
            });
        }
        if st.is_duel() && inner.width >= 30 {
            // Two halves of the same width, so that they lay out alike.
            let half = (inner.width - 1) / 2;
            let shared = Shared::new(app, half, inner.height);
            let a = Rect {
                width: half,
                ..inner
            };
            let gap = Rect {
                x: inner.x + half,
                width: 1,
                ..inner
            };
            let b = Rect {
                x: inner.x + half + 1,
                width: half,
                ..inner
            };
            let bar: Vec<Line> = (0..gap.height)
                .map(|_| Line::styled("│", app.theme().border))
                .collect();
            frame.render_widget(Paragraph::new(bar), gap);
            draw_slot(frame, a, app, 0, &shared);
            draw_slot(frame, b, app, 1, &shared);
        } else {
            let shared = Shared::new(app, inner.width, inner.height);
            draw_slot(frame, inner, app, 0, &shared);
        }
    }

    fn handle_key(&mut self, action: Action, _app: &App) -> Option<Effect> {
        // ↑ ↓ (and the wheel) go round the fields.
        let r = |e| Some(Effect::Repro(e));
        match action {
            Action::Down => r(ReproEffect::NextField),
            Action::Up => r(ReproEffect::PrevField),
            _ => None,
        }
    }

    fn handle_command(&mut self, command: Command, app: &App) -> Option<Effect> {
        let st = app.repro();
        let r = |e| Some(Effect::Repro(e));
        let action = match command {
            Command::Global(a) => return self.handle_key(a, app),
            Command::Edit(e) => return r(ReproEffect::Edit(e)),
            Command::Filter(_) => return None,
            Command::Repro(a) => a,
        };
        match action {
            ReproAction::Start => r(ReproEffect::Start),
            ReproAction::Stop => r(ReproEffect::Stop),
            ReproAction::Back => r(ReproEffect::Back),
            ReproAction::CloseSocket => r(ReproEffect::CloseSocket),
            ReproAction::SavePcap => r(ReproEffect::SavePcap),
            ReproAction::Incident => r(ReproEffect::Incident),
            ReproAction::Duel => r(ReproEffect::Duel),
            ReproAction::ParityDuel => r(ReproEffect::ParityDuel),
            ReproAction::GuardDuel => r(ReproEffect::GuardDuel),
            // Tab leaves the pane after the last field; ↓ goes round.
            ReproAction::NextField if st.is_last_field() => Some(Effect::CycleFocus(1)),
            ReproAction::PrevField if st.is_first_field() => Some(Effect::CycleFocus(-1)),
            ReproAction::NextField => r(ReproEffect::NextField),
            ReproAction::PrevField => r(ReproEffect::PrevField),
            ReproAction::Less => r(ReproEffect::Cycle(-1)),
            ReproAction::More => r(ReproEffect::Cycle(1)),
        }
    }

    fn takes_text(&self, app: &App) -> Option<Box<dyn Fn(char) -> bool>> {
        let field = app.repro().typing()?;
        Some(Box::new(move |c| field.accepts(c)))
    }

    fn handle_mouse(&mut self, mouse: MouseEvent, _area: Rect, _app: &App) -> Option<Effect> {
        match mouse.kind {
            MouseEventKind::Down(_) => Some(Effect::Focus(PaneId::Repro)),
            _ => None,
        }
    }
}

fn title(app: &App) -> Vec<Span<'static>> {
    let t = app.theme();
    let st = app.repro();
    let mut v = vec![Span::styled("Repro", t.value)];
    if st.any_running() {
        v.push(Span::raw(" "));
        v.push(Span::styled(" ● RUNNING ", t.live));
    } else if st.any_held() {
        v.push(Span::raw(" "));
        v.push(Span::styled(" ◆ CONNECTED TO ITSELF ", t.self_connect));
    } else {
        v.push(Span::styled(" make a client connect to itself", t.dim));
    }
    v
}

/// The keys that apply now (the same list as the footer's), for the
/// bottom border.
fn hints(app: &App, max: usize) -> Line<'static> {
    let t = app.theme();
    if app.focus() != PaneId::Repro {
        return Line::from(vec![
            Span::styled(" ", t.dim),
            Span::styled(key_label(Action::OpenRepro), t.key),
            Span::styled(" to use this pane ", t.dim),
        ])
        .right_aligned();
    }
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (i, (action, words)) in keys::available(app.repro()).into_iter().enumerate() {
        let key = key_label(action);
        let sep = if i == 0 { "" } else { " · " };
        let w = width(sep) + width(&key) + 1 + width(words);
        if used + w + 1 > max {
            break;
        }
        used += w;
        spans.push(Span::styled(sep, t.dim));
        spans.push(Span::styled(key, t.key));
        spans.push(Span::styled(format!(" {words}"), t.dim));
    }
    spans.push(Span::raw(" "));
    Line::from(spans).right_aligned()
}

/// Lays lines out from the top of an area.
pub(super) struct Cursor {
    pub(super) area: Rect,
    y: u16,
}

impl Cursor {
    pub(super) fn left(&self) -> u16 {
        self.area.bottom().saturating_sub(self.y)
    }

    pub(super) fn take(&mut self, h: u16) -> Rect {
        let h = h.min(self.left());
        let r = Rect::new(self.area.x, self.y, self.area.width, h);
        self.y += h;
        r
    }

    pub(super) fn lines(&mut self, frame: &mut Frame, lines: Vec<Line<'static>>) {
        let r = self.take(lines.len() as u16);
        frame.render_widget(Paragraph::new(lines), r);
    }
}

/// The address a form targets, when it can be told without resolving a
/// name (for the table check before a run).
fn form_target(slot: &Slot) -> Option<SocketAddr> {
    let port = slot.port_number()?;
    let host = slot.host().trim();
    let ip = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) if host.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Err(_) => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A slot's form and its note.
fn top(app: &App, s: usize, w: usize) -> Vec<Line<'static>> {
    let t = app.theme();
    let mut top = form(app, s, w);
    if let Some(note) = app.repro().slot(s).note() {
        let (text, style, mark) = match note {
            Note::Error(m) => (m, t.error, "✖ "),
            Note::Info(m) => (m, t.value, "ⓘ "),
        };
        for l in wrap(text, w, mark, "  ").into_iter().take(3) {
            top.push(Line::styled(l, style));
        }
    }
    top
}

/// What the halves of a duel share, so that they stay aligned: the rows
/// of the forms (whatever the focus or a note does to one of them) and one
/// layout of the numbers (the one that fits the half with the least room,
/// whichever has ended).
struct Shared {
    rows: usize,
    numbers: Option<Numbers>,
}

impl Shared {
    fn new(app: &App, w: u16, h: u16) -> Shared {
        let st = app.repro();
        let rows = (0..st.shown())
            .map(|s| top(app, s, w as usize).len())
            .max()
            .unwrap_or(0);
        let needs: Vec<_> = (0..st.shown())
            .filter_map(|s| shown_run(st.slot(s)))
            .map(|run| {
                let facts = app.target_facts(run.target());
                needs(app.theme(), run, &facts, w as usize)
            })
            .collect();
        let left = h.saturating_sub(rows as u16);
        Shared {
            rows,
            numbers: shared_layout(w, left, &needs),
        }
    }
}

/// The run a slot shows as such (running, or ended with the form as it
/// was), if any.
fn shown_run(slot: &Slot) -> Option<&Run> {
    let run = slot.run().filter(|_| !slot.is_starting())?;
    (run.is_running() || !slot.is_stale()).then_some(run)
}

fn draw_slot(frame: &mut Frame, area: Rect, app: &App, s: usize, shared: &Shared) {
    let t = app.theme();
    let slot = app.repro().slot(s);
    let w = area.width as usize;
    let mut cur = Cursor { area, y: area.y };
    let mut top = top(app, s, w);
    top.resize(shared.rows.max(top.len()), Line::raw(""));
    cur.lines(frame, top);
    if let (Some(run), Some(numbers)) = (shown_run(slot), shared.numbers) {
        let facts = app.target_facts(run.target());
        running(frame, &mut cur, t, (run, &facts), numbers);
        return;
    }
    match slot.run() {
        _ if slot.is_starting() => {
            cur.lines(frame, vec![Line::styled("checking the target…", t.dim)]);
        }
        other => {
            // The form changed since the last run: what to expect now, and
            // the socket the last run still holds.
            if let Some((local, _)) = other.filter(|r| r.held).and_then(|r| r.self_connection()) {
                let text = format!(
                    "still holding {local} connected to itself: {} closes it",
                    key_label(ReproAction::CloseSocket)
                );
                let lines = wrap(&text, w, "◆ ", "  ")
                    .into_iter()
                    .map(|l| Line::styled(l, t.value))
                    .collect();
                cur.lines(frame, lines);
            }
            let target = form_target(slot);
            if let Some((addr, owner)) = target.and_then(|a| app.listener_on(a)) {
                cur.lines(frame, listener_warning(t, addr, owner, w));
            }
            let facts = match target {
                Some(addr) => app.target_facts(addr),
                None => TargetFacts::new(app.own_policy()),
            };
            idle(frame, &mut cur, t, slot, &facts, w);
        }
    }
}

/// Something listens on the typed port: a run would connect to it, not to
/// itself. Said as soon as the port is typed (from the latest scan).
fn listener_warning(
    t: &Theme,
    addr: SocketAddr,
    owner: Option<(String, i32)>,
    w: usize,
) -> Vec<Line<'static>> {
    let who = owner.map_or_else(String::new, |(name, pid)| {
        format!(" ({}, pid {pid})", terminal_safe_cut(&name, 24))
    });
    let text = format!(
        "something listens on {addr}{who}: a run connects to it, not to itself; \
         pick another port, or stop that service first"
    );
    wrap(&text, w, "⚠ ", "  ")
        .into_iter()
        .map(|l| Line::styled(l, t.warning))
        .collect()
}

/// The fields as chips, flowed into lines.
fn form(app: &App, s: usize, w: usize) -> Vec<Line<'static>> {
    let t = app.theme();
    let st: &ReproState = app.repro();
    let slot = st.slot(s);
    let busy = slot.is_busy();
    let mut chips: Vec<Vec<Span<'static>>> = Vec::new();
    if st.is_duel() {
        let name = if s == 0 { "A" } else { "B" };
        chips.push(vec![Span::styled(name, t.heading)]);
    }
    for field in Field::ALL {
        let focused = app.focus() == PaneId::Repro && st.focus() == (s, field) && !busy;
        chips.push(chip(t, slot, field, focused, st.replaces_on_type()));
    }
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for chip in chips {
        let cw: usize = chip.iter().map(|s| width(&s.content)).sum();
        if used > 0 && used + 2 + cw > w {
            lines.push(Line::from(std::mem::take(&mut line)));
            used = 0;
        }
        if used > 0 {
            line.push(Span::raw("  "));
            used += 2;
        }
        used += cw;
        line.extend(chip);
    }
    lines.push(Line::from(line));
    lines
}

/// One field: its label and value, with the cursor or arrows when focused.
fn chip(t: &Theme, slot: &Slot, field: Field, focused: bool, replace: bool) -> Vec<Span<'static>> {
    let value = match field {
        Field::Port if slot.port().is_empty() => "…".to_string(),
        Field::Port => slot.port().to_string(),
        Field::Host => slot.host().to_string(),
        Field::Mode => slot.mode().name().to_string(),
        Field::Pace => slot.pace().label(),
    };
    let mut chip = vec![Span::styled(format!("{} ", field.label()), t.dim)];
    if !focused {
        chip.push(Span::styled(value, t.value));
    } else if field.is_text() {
        let style = if replace { t.selected } else { t.value };
        chip.push(Span::styled(value, style));
        chip.push(Span::styled("▏", t.key));
    } else {
        chip.push(Span::styled("◀ ", t.key));
        chip.push(Span::styled(value, t.selected));
        chip.push(Span::styled(" ▶", t.key));
    }
    chip
}

/// Before a run: what to expect, in plain words.
fn idle(
    frame: &mut Frame,
    cur: &mut Cursor,
    t: &Theme,
    slot: &Slot,
    facts: &TargetFacts,
    w: usize,
) {
    let mut lines: Vec<Line<'static>> = vec![Line::raw("")];
    match slot.port_number() {
        Some(port) => {
            let likelihood = prospect(facts, slot.mode(), port).likelihood;
            let (mark, style) = match likelihood {
                Likelihood::Expected => ("✓ ", t.live),
                Likelihood::Unlikely => ("⚠ ", t.warning),
                Likelihood::Never => ("✖ ", t.warning),
            };
            let why = expectation(facts, slot.mode(), port);
            for (i, l) in wrap(&why, w, "   ", "   ").into_iter().enumerate() {
                if i == 0 {
                    lines.push(Line::from(vec![
                        Span::styled(mark, style),
                        Span::raw(l.trim_start().to_string()),
                    ]));
                } else {
                    lines.push(Line::raw(l));
                }
            }
        }
        None if slot.port().is_empty() => {
            lines.push(Line::styled("finding a free port…", t.dim));
        }
        None => {}
    }
    lines.push(Line::raw(""));
    let about = format!(
        "{}: {}. Pace: {}; a run stops by itself after {} min.",
        slot.mode(),
        slot.mode().summary(),
        slot.pace().words(),
        MAX_TIME.as_secs() / 60
    );
    for l in wrap(&about, w, "", "") {
        lines.push(Line::styled(l, t.dim));
    }
    lines.truncate(cur.left() as usize);
    cur.lines(frame, lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_target_is_told_without_resolving_names() {
        let mut slot = Slot {
            port: "44600".into(),
            ..Slot::default()
        };
        let at = |slot: &Slot| form_target(slot).map(|a| a.to_string());
        assert_eq!(at(&slot).as_deref(), Some("127.0.0.1:44600"));
        slot.host = "[::1]".into();
        assert_eq!(at(&slot).as_deref(), Some("[::1]:44600"));
        slot.host = "localhost".into();
        assert_eq!(at(&slot).as_deref(), Some("127.0.0.1:44600"));
        slot.host = "db.example".into();
        assert_eq!(at(&slot), None);
    }
}
