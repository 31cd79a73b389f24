//! The repro pane: pick a port, a host, a mode and a pace, start, and
//! watch a client connect to itself. While a loop runs: the attempts and
//! the source port the kernel just picked against the target, in large
//! type when there is room; the stage chain with a line in plain words;
//! the source-port ticker; the counters; a sparkline of attempts per
//! second. Two slots side by side for a duel.
//!
//! Drawn from [`crate::tui::repro::ReproState`] only (counters sampled at
//! the draw tick), so tests draw it from fixed updates.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::pane_block;
use crate::core::ports::PortPolicy;
use crate::report::repro_text::headline_of;
use crate::repro::explain::{Likelihood, explain_end, prospect};
use crate::repro::{End, Mode, Stage};
use crate::tui::app::{App, Effect};
use crate::tui::bigdigits::{self, Size};
use crate::tui::keymap::{Action, key_label};
use crate::tui::pane::{Pane, PaneId};
use crate::tui::repro::{Field, MAX_TIME, Note, ReproEffect, Run, Slot, Step, group, is_host_char};
use crate::tui::text::{truncate_end, width, wrap};
use crate::tui::theme::Theme;

#[derive(Debug, Default)]
pub struct ReproPane;

impl Pane for ReproPane {
    fn id(&self) -> PaneId {
        PaneId::Repro
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let st = &app.repro;
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
        let policy = app.own_policy();
        if st.duel && inner.width >= 30 {
            let [a, gap, b] = inner.layout(&Layout::horizontal([
                Constraint::Fill(1),
                Constraint::Length(1),
                Constraint::Fill(1),
            ]));
            let bar: Vec<Line> = (0..gap.height)
                .map(|_| Line::styled("│", app.theme.border))
                .collect();
            frame.render_widget(Paragraph::new(bar), gap);
            draw_slot(frame, a, app, 0, &policy);
            draw_slot(frame, b, app, 1, &policy);
        } else {
            draw_slot(frame, inner, app, 0, &policy);
        }
    }

    fn handle_key(&mut self, action: Action, app: &App) -> Option<Effect> {
        let st = &app.repro;
        let r = |e| Some(Effect::Repro(e));
        match action {
            Action::ReproStart => r(ReproEffect::Start),
            Action::ReproStop => r(ReproEffect::Stop),
            Action::ReproBack => Some(Effect::ReproBack),
            Action::ReproCloseSocket => r(ReproEffect::CloseSocket),
            Action::ReproDuel => r(ReproEffect::Duel),
            Action::ReproParityDuel => r(ReproEffect::ParityDuel),
            Action::ReproGuardDuel => r(ReproEffect::GuardDuel),
            // Tab leaves the pane after the last field; ↓ goes round.
            Action::ReproNextField if st.is_last_field() => Some(Effect::CycleFocus(1)),
            Action::ReproPrevField if st.is_first_field() => Some(Effect::CycleFocus(-1)),
            Action::ReproNextField | Action::Down => r(ReproEffect::NextField),
            Action::ReproPrevField | Action::Up => r(ReproEffect::PrevField),
            Action::ReproLess => r(ReproEffect::Cycle(-1)),
            Action::ReproMore => r(ReproEffect::Cycle(1)),
            _ => None,
        }
    }

    fn handle_text(&mut self, key: &KeyEvent, app: &App) -> Option<Effect> {
        let field = app.repro.typing()?;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let effect = match key.code {
            KeyCode::Char('u') if ctrl => ReproEffect::ClearField,
            KeyCode::Char(_) if ctrl || alt => return None,
            KeyCode::Char(c) if field == Field::Port && c.is_ascii_digit() => ReproEffect::Type(c),
            KeyCode::Char(c) if field == Field::Host && is_host_char(c) => ReproEffect::Type(c),
            KeyCode::Backspace | KeyCode::Delete => ReproEffect::Backspace,
            _ => return None,
        };
        Some(Effect::Repro(effect))
    }

    fn handle_mouse(&mut self, mouse: MouseEvent, _area: Rect, _app: &App) -> Option<Effect> {
        match mouse.kind {
            MouseEventKind::Down(_) => Some(Effect::Focus(PaneId::Repro)),
            _ => None,
        }
    }
}

fn title(app: &App) -> Vec<Span<'static>> {
    let t = &app.theme;
    let st = &app.repro;
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

/// The keys that apply now, for the bottom border.
fn hints(app: &App, max: usize) -> Line<'static> {
    let t = &app.theme;
    let st = &app.repro;
    if app.focus != PaneId::Repro {
        return Line::from(vec![
            Span::styled(" ", t.dim),
            Span::styled(key_label(Action::Repro), t.key),
            Span::styled(" to use this pane ", t.dim),
        ])
        .right_aligned();
    }
    let mut items: Vec<(Action, &str)> = Vec::new();
    if st.any_busy() {
        items.push((Action::ReproStop, "stop"));
    } else {
        let again = st.slots.iter().any(|s| s.run.is_some());
        items.push((
            Action::ReproStart,
            if again { "start again" } else { "start" },
        ));
    }
    if st.any_held() {
        items.push((Action::ReproCloseSocket, "close socket"));
    }
    if !st.any_busy() {
        items.push((Action::ReproDuel, if st.duel { "one loop" } else { "duel" }));
        items.push((Action::ReproParityDuel, "parity duel"));
        items.push((Action::ReproGuardDuel, "guard duel"));
        items.push((Action::ReproMore, "change"));
        items.push((Action::ReproBack, "close pane"));
    }
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (i, (action, words)) in items.iter().enumerate() {
        let key = key_label(*action);
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
struct Cursor {
    area: Rect,
    y: u16,
}

impl Cursor {
    fn left(&self) -> u16 {
        self.area.bottom().saturating_sub(self.y)
    }

    fn take(&mut self, h: u16) -> Rect {
        let h = h.min(self.left());
        let r = Rect::new(self.area.x, self.y, self.area.width, h);
        self.y += h;
        r
    }

    fn lines(&mut self, frame: &mut Frame, lines: Vec<Line<'static>>) {
        let r = self.take(lines.len() as u16);
        frame.render_widget(Paragraph::new(lines), r);
    }
}

fn draw_slot(frame: &mut Frame, area: Rect, app: &App, s: usize, policy: &PortPolicy) {
    let t = &app.theme;
    let st = &app.repro;
    let slot = &st.slots[s];
    let w = area.width as usize;
    let mut cur = Cursor { area, y: area.y };
    let mut top = form(app, s, w);
    if let Some(note) = &slot.note {
        let (text, style, mark) = match note {
            Note::Error(m) => (m, t.error, "✖ "),
            Note::Info(m) => (m, t.value, "ⓘ "),
        };
        for l in wrap(text, w, mark, "  ").into_iter().take(3) {
            top.push(Line::styled(l, style));
        }
    }
    cur.lines(frame, top);
    match &slot.run {
        _ if slot.starting => {
            cur.lines(frame, vec![Line::styled("checking the target…", t.dim)]);
        }
        Some(run) if run.is_running() || !slot.stale => running(frame, &mut cur, app, run, policy),
        other => {
            // The form changed since the last run: what to expect now, and
            // the socket the last run still holds.
            if let Some((local, _)) = other
                .as_ref()
                .filter(|r| r.held)
                .and_then(|r| r.self_connection())
            {
                let text = format!(
                    "still holding {local} connected to itself: {} closes it",
                    key_label(Action::ReproCloseSocket)
                );
                let lines = wrap(&text, w, "◆ ", "  ")
                    .into_iter()
                    .map(|l| Line::styled(l, t.value))
                    .collect();
                cur.lines(frame, lines);
            }
            idle(frame, &mut cur, t, slot, policy, w);
        }
    }
}

/// The fields as chips, flowed into lines.
fn form(app: &App, s: usize, w: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let st = &app.repro;
    let slot = &st.slots[s];
    let busy = slot.is_busy();
    let mut chips: Vec<Vec<Span<'static>>> = Vec::new();
    if st.duel {
        chips.push(vec![Span::styled(
            if s == 0 { "A" } else { "B" },
            t.heading,
        )]);
    }
    for field in Field::ALL {
        let focused = app.focus == PaneId::Repro && st.focus == (s, field) && !busy;
        let value = match field {
            Field::Port if slot.port.is_empty() => "…".to_string(),
            Field::Port => slot.port.clone(),
            Field::Host => slot.host.clone(),
            Field::Mode => slot.mode.name().to_string(),
            Field::Pace => slot.pace.label(),
        };
        let mut chip = vec![Span::styled(format!("{} ", field.label()), t.dim)];
        if !focused {
            chip.push(Span::styled(value, t.value));
        } else if field.is_text() {
            let style = if st.replace { t.selected } else { t.value };
            chip.push(Span::styled(value, style));
            chip.push(Span::styled("▏", t.key));
        } else {
            chip.push(Span::styled("◀ ", t.key));
            chip.push(Span::styled(value, t.selected));
            chip.push(Span::styled(" ▶", t.key));
        }
        chips.push(chip);
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

/// Before a run: what to expect, in plain words.
fn idle(
    frame: &mut Frame,
    cur: &mut Cursor,
    t: &Theme,
    slot: &Slot,
    policy: &PortPolicy,
    w: usize,
) {
    let mut lines: Vec<Line<'static>> = vec![Line::raw("")];
    match slot.port_number() {
        Some(port) => {
            let p = prospect(policy, slot.mode, port);
            let (mark, style) = match p.likelihood {
                Likelihood::Expected => ("✓ ", t.live),
                Likelihood::Unlikely => ("⚠ ", t.warning),
                Likelihood::Never => ("✖ ", t.warning),
            };
            let first = wrap(&p.why, w, "   ", "   ");
            for (i, l) in first.into_iter().enumerate() {
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
        None if slot.port.is_empty() => {
            lines.push(Line::styled("finding a free port…", t.dim));
        }
        None => {}
    }
    lines.push(Line::raw(""));
    let about = format!(
        "{}: {}. Pace: {}; a run stops by itself after {} min.",
        slot.mode,
        slot.mode.summary(),
        slot.pace.words(),
        MAX_TIME.as_secs() / 60
    );
    for l in wrap(&about, w, "", "") {
        lines.push(Line::styled(l, t.dim));
    }
    let n = cur.left() as usize;
    lines.truncate(n);
    cur.lines(frame, lines);
}

/// How the numbers are laid out.
#[derive(Debug, Clone, Copy)]
struct Numbers {
    attempts: Size,
    ports: Size,
    /// The target in large type too (else in the label).
    target_big: bool,
    /// Attempts above the ports rather than beside them.
    stacked: bool,
}

const GAP: u16 = 3;

impl Numbers {
    fn widths(&self, attempts: &str, source: &str, target: &str) -> (u16, u16) {
        let a = self.attempts.width(attempts).max(8);
        let p = if self.target_big {
            let cmp = self.ports.width("=");
            let pad = self.ports.width(source) + 1 + cmp + 1;
            let label = if pad >= 12 { pad + 6 } else { 20 };
            (pad + self.ports.width(target)).max(label)
        } else {
            self.ports.width(source).max(21 + width(target) as u16)
        };
        (a, p)
    }

    fn width(&self, attempts: &str, source: &str, target: &str) -> u16 {
        let (a, p) = self.widths(attempts, source, target);
        if self.stacked { a.max(p) } else { a + GAP + p }
    }

    fn height(&self) -> u16 {
        let a = 1 + self.attempts.height();
        let p = 1 + self.ports.height();
        if self.stacked { a + p } else { a.max(p) }
    }

    /// The biggest layout that fits.
    fn pick(w: u16, h: u16, attempts: &str, source: &str, target: &str) -> Numbers {
        use Size::*;
        for (ports, target_big) in [
            (Large, true),
            (Medium, true),
            (Large, false),
            (Medium, false),
        ] {
            for a in [Large, Medium, Small].into_iter().filter(|&a| a <= ports) {
                for stacked in [false, true] {
                    let n = Numbers {
                        attempts: a,
                        ports,
                        target_big,
                        stacked,
                    };
                    if n.width(attempts, source, target) <= w && n.height() <= h {
                        return n;
                    }
                }
            }
        }
        Numbers {
            attempts: Small,
            ports: Small,
            target_big: true,
            stacked: false,
        }
    }
}

/// A run: numbers, the stage chain and what it means, ticker, counters,
/// sparkline; after the end, the result. When rows are short, the least
/// important parts go first (see [`story`] for the order).
fn running(frame: &mut Frame, cur: &mut Cursor, app: &App, run: &Run, policy: &PortPolicy) {
    let t = &app.theme;
    let s = &run.stats;
    let w = cur.area.width as usize;
    let target = run.target().port();
    let hit = s.last_source_port == Some(target) || run.self_connection().is_some();
    let hit_style = t.self_connect.remove_modifier(Modifier::REVERSED);

    // (priority, lines), in display order; 0 matters most. A long part of
    // the story keeps two lines ahead of the ticker and the counters; the
    // rest comes when there is room (marked `…` when there is not).
    let mut blocks: Vec<(u8, Vec<Line<'static>>)> = vec![(0, vec![chain(t, run, w)])];
    let mut continued: Vec<usize> = Vec::new();
    for (prio, mut lines) in story(t, run, policy, w) {
        if prio <= MUST && lines.len() > 2 {
            let rest = lines.split_off(2);
            blocks.push((prio, lines));
            continued.push(blocks.len() - 1);
            blocks.push((6, rest));
        } else {
            blocks.push((prio, lines));
        }
    }
    blocks.push((4, vec![ticker(t, run, policy, w)]));
    blocks.push((5, vec![counters(t, run, w)]));
    // Rows kept for the story before the numbers grow: two per part.
    let must: u16 = blocks
        .iter()
        .filter(|(p, _)| *p <= MUST)
        .map(|(_, l)| l.len().min(2) as u16)
        .sum();

    let attempts = group(s.attempts);
    let source = s
        .last_source_port
        .map_or_else(|| "-".to_string(), |p| p.to_string());
    let target_txt = target.to_string();
    let n = Numbers::pick(
        cur.area.width,
        cur.left().saturating_sub(must),
        &attempts,
        &source,
        &target_txt,
    );
    let mut left = cur.left().saturating_sub(n.height());
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by_key(|&i| blocks[i].0);
    let mut keep = vec![false; blocks.len()];
    for i in order {
        let h = blocks[i].1.len() as u16;
        if h <= left {
            keep[i] = true;
            left -= h;
        } else if blocks[i].0 <= MUST && left > 0 {
            blocks[i].1.truncate(left as usize);
            ellipsis(&mut blocks[i].1, w);
            keep[i] = true;
            left = 0;
        }
    }
    for &i in &continued {
        if keep[i] && !keep[i + 1] {
            ellipsis(&mut blocks[i].1, w);
        }
    }
    let r = cur.take(n.height());
    draw_numbers(
        frame,
        r,
        t,
        n,
        (&attempts, &source, &target_txt),
        hit,
        hit_style,
    );
    // Spare rows: one under the numbers, one above the sparkline.
    if left >= 4 {
        cur.take(1);
        left -= 1;
    }
    for ((_, lines), keep) in blocks.into_iter().zip(keep) {
        if keep {
            cur.lines(frame, lines);
        }
    }
    // A rate over a handful of attempts means nothing.
    if left >= 3 && (!run.rates.is_empty() || s.attempts >= 100) {
        cur.take(1);
        let h = cur.left().min(SPARK_MAX);
        let r = cur.take(h);
        let average = group(s.attempts_per_sec().round() as u64);
        let label = if run.rates.is_empty() {
            // Over before the first frame: no rate to plot.
            Line::from(vec![
                Span::styled("attempts/s ", t.dim),
                Span::styled(average, t.value),
                Span::styled(" on average", t.dim),
            ])
        } else {
            Line::from(vec![
                Span::styled("attempts/s ", t.dim),
                Span::styled(group(run.recent_rate()), t.value),
                Span::styled(format!(" lately · {average} on average"), t.dim),
            ])
        };
        let [lr, bars] = r.layout(&Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
        ]));
        frame.render_widget(Paragraph::new(label), lr);
        let n = bars.width as usize;
        let data: Vec<u64> = run.rates.iter().rev().take(n).rev().copied().collect();
        // Headroom above the highest bar: a steady pace reads as a line,
        // not a wall.
        let top = data.iter().copied().max().unwrap_or(0).saturating_mul(5) / 4;
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .max(top.max(1))
                .style(t.chart),
            bars,
        );
    }
}

/// Marks the last line as cut short.
fn ellipsis(lines: &mut [Line<'static>], w: usize) {
    if let Some(last) = lines.last_mut() {
        let text: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
        let style = last.spans.first().map_or(last.style, |s| s.style);
        let cut = truncate_end(text.trim_end(), w.saturating_sub(1));
        *last = Line::styled(format!("{}…", cut.trim_end_matches('…')), style);
    }
}

/// Story parts with this priority or better are kept before the numbers grow.
const MUST: u8 = 3;
/// The sparkline's most rows (with its label).
const SPARK_MAX: u16 = 10;

fn draw_numbers(
    frame: &mut Frame,
    r: Rect,
    t: &Theme,
    n: Numbers,
    (attempts, source, target): (&str, &str, &str),
    hit: bool,
    hit_style: Style,
) {
    let (aw, pw) = n.widths(attempts, source, target);
    let (ar, pr) = if n.stacked {
        let ah = 1 + n.attempts.height();
        (
            Rect::new(r.x, r.y, aw.min(r.width), ah.min(r.height)),
            Rect::new(r.x, r.y + ah, pw.min(r.width), r.height.saturating_sub(ah)),
        )
    } else {
        (
            Rect::new(r.x, r.y, aw.min(r.width), r.height),
            Rect::new(
                r.x + aw + GAP,
                r.y,
                pw.min(r.width.saturating_sub(aw + GAP)),
                r.height,
            ),
        )
    };
    let mut a = vec![Line::styled("ATTEMPTS", t.dim)];
    a.extend(bigdigits::render(attempts, n.attempts, t.value));
    frame.render_widget(Paragraph::new(a), ar);

    let src_style = if hit { hit_style } else { t.value };
    let cmp = if hit { "=" } else { "≠" };
    let mut p: Vec<Line<'static>> = Vec::new();
    if n.target_big {
        let sw = n.ports.width(source) as usize;
        let cw = n.ports.width(cmp) as usize;
        let pad = sw + 1 + cw + 1;
        let label = if pad >= 12 {
            format!("{:<pad$}TARGET", "SOURCE PORT")
        } else {
            "SOURCE PORT · TARGET".to_string()
        };
        p.push(Line::styled(label, t.dim));
        let sl = bigdigits::render(source, n.ports, src_style);
        let cl = bigdigits::render(cmp, n.ports, if hit { hit_style } else { t.dim });
        let tl = bigdigits::render(target, n.ports, t.value);
        for ((s, c), tt) in sl.into_iter().zip(cl).zip(tl) {
            let mut spans = s.spans;
            spans.push(Span::raw(" "));
            spans.extend(c.spans);
            spans.push(Span::raw(" "));
            spans.extend(tt.spans);
            p.push(Line::from(spans));
        }
    } else {
        p.push(Line::from(vec![
            Span::styled("SOURCE PORT ", t.dim),
            Span::styled(
                if hit { "= " } else { "≠ " },
                if hit { hit_style } else { t.dim },
            ),
            Span::styled("target ", t.dim),
            Span::styled(target.to_string(), t.value),
        ]));
        p.extend(bigdigits::render(source, n.ports, src_style));
    }
    frame.render_widget(Paragraph::new(p), pr);
}

/// trying ▸ kernel picked 44600 ▸ simultaneous open ▸ ESTABLISHED to itself ▸ echo proven
fn chain(t: &Theme, run: &Run, w: usize) -> Line<'static> {
    let port = run.target().port();
    // In bind mode the loop sets the source port itself.
    let picked = if run.config.mode == Mode::Bind {
        format!("bound {port}")
    } else {
        format!("kernel picked {port}")
    };
    let long = [
        "trying".to_string(),
        picked,
        "simultaneous open".to_string(),
        "ESTABLISHED to itself".to_string(),
        "echo proven".to_string(),
    ];
    let short = [
        "trying",
        if run.config.mode == Mode::Bind {
            "bound"
        } else {
            "picked"
        },
        "sim. open",
        "ESTABLISHED",
        "echo",
    ]
    .map(String::from);
    let running = run.is_running();
    let ending: Option<(String, Style)> = match (&run.end, run.stats.stage) {
        (None, _) => None,
        (Some(End::SelfConnected { echo, .. }), _) if !echo.verified => {
            Some((Stage::EchoFailed.label().to_string(), t.warning))
        }
        (Some(End::SelfConnected { .. }), _) => None,
        (Some(End::Failed(_)), _) => Some((Stage::Failed.label().to_string(), t.error)),
        (Some(_), stage) => Some((stage.label().to_string(), t.warning)),
    };
    let build = |labels: &[String; 5]| -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        for (i, step) in Step::ALL.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" ▸ ", t.dim));
            }
            let reached = *step <= run.furthest;
            let current = running && *step == run.furthest;
            let (text, style) = if current {
                (format!("● {}", labels[i]), t.key)
            } else if reached {
                (format!("✓ {}", labels[i]), t.live)
            } else {
                (labels[i].clone(), t.dim)
            };
            spans.push(Span::styled(text, style));
        }
        if let Some((label, style)) = &ending {
            spans.push(Span::styled(" ▸ ", t.dim));
            spans.push(Span::styled(format!("✖ {label}"), *style));
        }
        spans
    };
    let fits = |spans: &[Span]| spans.iter().map(|s| width(&s.content)).sum::<usize>() <= w;
    let spans = build(&long);
    if fits(&spans) {
        return Line::from(spans);
    }
    let spans = build(&short);
    if fits(&spans) {
        return Line::from(spans);
    }
    // Too narrow for the chain: the stage alone.
    let (label, style) = match ending {
        Some((label, style)) => (format!("✖ {label}"), style),
        None if running => (format!("● {}", long[run.furthest as usize]), t.key),
        None => (format!("✓ {}", long[run.furthest as usize]), t.live),
    };
    Line::styled(truncate_end(&label, w), style)
}

/// What is going on, in plain words (while running), or the result, as
/// (priority, lines): while running, what the stage means; after a
/// self-connect, the 4-tuple, the echo, whether the socket is held (these
/// stay when rows are short), then what it means for a service.
fn story(t: &Theme, run: &Run, policy: &PortPolicy, w: usize) -> Vec<(u8, Vec<Line<'static>>)> {
    let s = &run.stats;
    let port = run.target().port();
    let mode = run.config.mode;
    let say = |text: &str, style: Style, first: &str| -> Vec<Line<'static>> {
        wrap(&cli_words(text), w, first, "  ")
            .into_iter()
            .map(|l| Line::styled(l, style))
            .collect()
    };
    let mut out = Vec::new();
    match &run.end {
        None => {
            let text = match s.stage {
                Stage::KernelPickedTarget => format!(
                    "The kernel picked {port} as the source port: the SYN goes from {port} to {port}."
                ),
                Stage::SelfConnected => "Simultaneous open: the SYN met itself, and the socket is ESTABLISHED with local = peer; an echo checks it.".to_string(),
                _ if mode == Mode::Guarded && s.caught > 0 => format!(
                    "The guard caught {} self-connection{} to {port} and closed {}, as Go's dialer does: the loop goes on, never connected to itself.",
                    group(s.caught),
                    if s.caught == 1 { "" } else { "s" },
                    if s.caught == 1 { "it" } else { "them" }
                ),
                _ => prospect(policy, mode, port).why,
            };
            out.push((1, say(&text, t.plain, "")));
        }
        Some(end @ End::SelfConnected { local, peer, echo }) => {
            // Narrow (a duel on a small screen): the short forms.
            let narrow = w < 70;
            let tuple = if narrow && local == peer {
                format!("local = peer = {local}")
            } else {
                format!(
                    "local {local} = peer {peer}, ESTABLISHED: connected to itself after {} attempt{} ({:.2} s)",
                    group(s.attempts),
                    if s.attempts == 1 { "" } else { "s" },
                    s.elapsed.as_secs_f64()
                )
            };
            out.push((1, say(&tuple, t.self_connect, "✓ ")));
            out.push((
                2,
                if echo.verified && narrow {
                    say("echo proven: read back what it wrote", t.live, "✓ ")
                } else if echo.verified {
                    say(
                        &format!("echo proven: wrote '{}', read it back", echo.sent_text()),
                        t.live,
                        "✓ ",
                    )
                } else {
                    say(
                        &format!("echo: {}", echo.error.as_deref().unwrap_or("no answer")),
                        t.warning,
                        "✖ ",
                    )
                },
            ));
            out.push((
                3,
                if run.held && narrow {
                    say(
                        &format!(
                            "held open: {} closes it",
                            key_label(Action::ReproCloseSocket)
                        ),
                        t.value,
                        "◆ ",
                    )
                } else if run.held {
                    say(
                        &format!(
                            "held open (◆ repro in the table): {} closes it, then it waits in TIME_WAIT",
                            key_label(Action::ReproCloseSocket)
                        ),
                        t.value,
                        "◆ ",
                    )
                } else if narrow {
                    say("closed: now in TIME_WAIT", t.dim, "◇ ")
                } else {
                    say("closed: the 4-tuple waits in TIME_WAIT (about 60 s)", t.dim, "◇ ")
                },
            ));
            let lines: Vec<Line<'static>> = explain_end(policy, mode, port, end, s)
                .iter()
                .flat_map(|l| say(l, t.dim, ""))
                .collect();
            out.push((6, lines));
        }
        Some(end) => {
            let style = match end {
                End::Failed(_) => t.error,
                End::Stopped => t.value,
                _ => t.warning,
            };
            out.push((1, say(&headline_of(&run.config, end, s), style, "")));
            let lines: Vec<Line<'static>> = explain_end(policy, mode, port, end, s)
                .iter()
                .flat_map(|l| say(l, t.dim, ""))
                .collect();
            out.push((6, lines));
        }
    }
    out
}

/// The engine's explanations name command-line options; here they are
/// fields of the form.
fn cli_words(text: &str) -> String {
    text.replace("--mode ", "mode ").replace(
        "Raise --max-time or --max-attempts.",
        "Start it again to go on.",
    )
}

/// The source ports the kernel handed out lately, newest last, and the
/// parity counts; shorter forms when narrow.
fn ticker(t: &Theme, run: &Run, policy: &PortPolicy, w: usize) -> Line<'static> {
    let s = &run.stats;
    let target = run.target().port();
    let style_of = |p: u16| {
        if p == target {
            t.self_connect
        } else if policy.range.has_connect_parity(p) {
            t.value
        } else {
            t.medium
        }
    };
    let counts = format!(
        "even {} · odd {}",
        group(s.even_source_ports),
        group(s.odd_source_ports)
    );
    for (head, tail) in [
        ("source ports ", format!("  {counts}")),
        ("ports ", format!(" {counts}")),
        ("", format!(" {counts}")),
    ] {
        let room = w.saturating_sub(width(head) + width(&tail));
        let mut ports: Vec<Span<'static>> = Vec::new();
        let mut used = 0;
        for &p in run.ports.iter().rev() {
            let txt = format!("{p} ");
            if used + txt.len() > room {
                break;
            }
            used += txt.len();
            ports.push(Span::styled(txt, style_of(p)));
        }
        if ports.is_empty() && !run.ports.is_empty() {
            continue;
        }
        ports.reverse();
        let mut spans = vec![Span::styled(head, t.dim)];
        if ports.is_empty() {
            spans.push(Span::styled("none yet ", t.dim));
        }
        spans.extend(ports);
        spans.push(Span::styled(tail, t.dim));
        return Line::from(spans);
    }
    Line::styled(truncate_end(&counts, w), t.dim)
}

/// elapsed · refused · errors · caught
fn counters(t: &Theme, run: &Run, w: usize) -> Line<'static> {
    let s = &run.stats;
    let errors = s.errors.total();
    let mut spans = vec![
        Span::styled("elapsed ", t.dim),
        Span::styled(format!("{:.1} s", s.elapsed.as_secs_f64()), t.value),
        Span::styled(" · refused ", t.dim),
        Span::styled(group(s.refused), t.value),
        Span::styled(" · errors ", t.dim),
        Span::styled(group(errors), if errors > 0 { t.warning } else { t.value }),
    ];
    if errors > 0 {
        let named: Vec<String> = s
            .errors
            .nonzero()
            .map(|(name, n)| format!("{name} {}", group(n)))
            .collect();
        spans.push(Span::styled(format!(" ({})", named.join(", ")), t.dim));
    }
    spans.push(Span::styled(" · caught ", t.dim));
    spans.push(Span::styled(
        group(s.caught),
        if s.caught > 0 { t.live } else { t.value },
    ));
    let total: usize = spans.iter().map(|s| width(&s.content)).sum();
    if total > w {
        let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        return Line::styled(truncate_end(&text, w), t.dim);
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_shrink_to_fit() {
        let n = Numbers::pick(118, 20, "14,116", "46382", "46384");
        assert_eq!(
            (n.attempts, n.ports, n.target_big),
            (Size::Large, Size::Large, true)
        );
        let n = Numbers::pick(118, 20, "1,234,567", "46382", "46384");
        assert_eq!(n.ports, Size::Large);
        assert!(n.attempts < Size::Large || n.stacked);
        let n = Numbers::pick(78, 4, "14,116", "46382", "46384");
        assert_eq!((n.ports, n.target_big), (Size::Medium, true));
        let n = Numbers::pick(38, 4, "14,116", "46382", "46384");
        assert!(n.ports <= Size::Medium && !n.target_big, "{n:?}");
        let n = Numbers::pick(38, 1, "14,116", "46382", "46384");
        assert_eq!(n.ports, Size::Small);
    }
}
