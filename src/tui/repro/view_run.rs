//! The repro pane while a loop runs and after it ended: the attempts and
//! the source port in large type (as large as fits), the stage chain, the
//! story in plain words, the source-port ticker, the counters and a
//! sparkline of attempts per second.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use crate::core::ports::PortPolicy;
use crate::repro::explain::TargetFacts;
use crate::repro::{End, Mode, Stage};
use crate::tui::text::{truncate_end, width, wrap};
use crate::tui::theme::Theme;

use super::history::{Run, Step};
use super::view::Cursor;
use super::view_incident::{stage_line, step_lines};
use super::view_numbers::Numbers;
use super::view_numbers::{RESERVED_ATTEMPTS, RESERVED_PORT, draw_numbers, reserve};
use super::view_strip::strip_lines;
use super::words::story;
use crate::core::words::group;

/// A part of the screen: its priority (0 matters most) and its lines.
type Block = (u8, Vec<Line<'static>>);

/// What a run's numbers need from the layout: the rows kept for the story
/// and the widest texts to come.
pub(super) struct Needs {
    must: u16,
    attempts: String,
    source: String,
    target: String,
}

/// What `run` needs, `w` columns wide.
pub(super) fn needs(t: &Theme, run: &Run, facts: &TargetFacts, w: usize) -> Needs {
    let (blocks, _) = blocks(t, run, facts, w);
    // Rows kept for the story before the numbers grow: two per part.
    let must: u16 = blocks
        .iter()
        .filter(|(p, _)| *p <= MUST)
        .map(|(_, l)| l.len().min(2) as u16)
        .sum();
    // Laid out for the widest numbers to come, so that nothing moves while
    // the count grows to a million and the source port changes.
    let s = &run.stats;
    Needs {
        must,
        attempts: reserve(&group(s.attempts), RESERVED_ATTEMPTS).to_string(),
        source: reserve(&source_text(run), RESERVED_PORT).to_string(),
        target: run.target().port().to_string(),
    }
}

/// One layout of the numbers for every run shown (the halves of a duel),
/// in an area `w` wide with `rows` under the form: the biggest that fits
/// the run with the least room, so that both halves show their digits
/// alike whichever has ended.
pub(super) fn shared_layout(w: u16, rows: u16, needs: &[Needs]) -> Option<Numbers> {
    let widest = |f: fn(&Needs) -> &str| {
        needs
            .iter()
            .map(f)
            .max_by_key(|s| width(s))
            .unwrap_or_default()
    };
    let must = needs.iter().map(|n| n.must).max()?;
    Some(Numbers::pick(
        w,
        rows.saturating_sub(must),
        widest(|n| &n.attempts),
        widest(|n| &n.source),
        widest(|n| &n.target),
    ))
}

fn source_text(run: &Run) -> String {
    run.stats
        .last_source_port
        .map_or_else(|| "-".to_string(), |p| p.to_string())
}

/// A run: numbers (laid out as `n`, from [`shared_layout`]), the stage
/// chain and what it means, ticker, counters, sparkline; after the end,
/// the result. When rows are short, the least important parts go first
/// (see [`story`] for the order).
pub(super) fn running(
    frame: &mut Frame,
    cur: &mut Cursor,
    t: &Theme,
    (run, facts): (&Run, &TargetFacts),
    n: Numbers,
) {
    let s = &run.stats;
    let w = cur.area.width as usize;
    let target = run.target().port();
    let (mut blocks, continued) = blocks(t, run, facts, w);
    let attempts = group(s.attempts);
    let source = source_text(run);
    let target_txt = target.to_string();
    let texts = (attempts.as_str(), source.as_str(), target_txt.as_str());
    let wide = (
        reserve(&attempts, RESERVED_ATTEMPTS),
        reserve(&source, RESERVED_PORT),
    );
    let reserved = (wide.0, wide.1, texts.2);
    let mut left = cur.left().saturating_sub(n.height());
    let keep = fit(&mut blocks, &continued, &mut left, w);
    let hit = s.last_source_port == Some(target) || run.self_connection().is_some();
    draw_numbers(frame, cur.take(n.height()), t, n, texts, reserved, hit);
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
    // The packet strip next, with what rows are left (the sparkline gets
    // the rest).
    let strip = strip_lines(t, run, (left as usize).min(STRIP_MAX), w);
    if !strip.is_empty() && strip.len() as u16 <= left {
        left -= strip.len() as u16;
        cur.lines(frame, strip);
    }
    // A rate over a handful of attempts means nothing.
    if left >= 3 && (!run.rates.is_empty() || s.attempts >= 100) {
        cur.take(1);
        let h = cur.left().min(SPARK_MAX);
        sparkline(frame, cur.take(h), t, run);
    }
}

/// (priority, lines), in display order; 0 matters most. A long part of
/// the story keeps two lines ahead of the ticker and the counters; the
/// rest comes when there is room (marked `…` when there is not). Also
/// the blocks that go on in the next one.
fn blocks(t: &Theme, run: &Run, facts: &TargetFacts, w: usize) -> (Vec<Block>, Vec<usize>) {
    if let Some(steps) = &run.incident {
        let blocks = vec![
            (0, vec![stage_line(t, run, steps, w)]),
            (2, step_lines(t, run, steps, w)),
            (4, vec![ticker(t, run, &facts.policy, w)]),
            (5, vec![counters(t, run, w)]),
        ];
        return (blocks, vec![]);
    }
    let mut blocks: Vec<Block> = vec![(0, vec![chain(t, run, w)])];
    let mut continued: Vec<usize> = Vec::new();
    if run.time_wait && run.is_running() {
        let text =
            "the last run's socket is in TIME_WAIT for ~1 s: the kernel skips that port until then";
        let lines = wrap(text, w, "⏳ ", "  ")
            .into_iter()
            .map(|l| Line::styled(l, t.warning))
            .collect();
        blocks.push((2, lines));
    }
    for (prio, mut lines) in story(t, run, facts, w) {
        if prio <= MUST && lines.len() > 2 {
            let rest = lines.split_off(2);
            blocks.push((prio, lines));
            continued.push(blocks.len() - 1);
            blocks.push((6, rest));
        } else {
            blocks.push((prio, lines));
        }
    }
    blocks.push((4, vec![ticker(t, run, &facts.policy, w)]));
    blocks.push((5, vec![counters(t, run, w)]));
    (blocks, continued)
}

/// Which blocks fit in `left` rows, most important first; a must-have
/// block is cut (and marked) rather than left out.
fn fit(blocks: &mut [Block], continued: &[usize], left: &mut u16, w: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by_key(|&i| blocks[i].0);
    let mut keep = vec![false; blocks.len()];
    for i in order {
        let h = blocks[i].1.len() as u16;
        if h <= *left {
            keep[i] = true;
            *left -= h;
        } else if blocks[i].0 <= MUST && *left > 0 {
            blocks[i].1.truncate(*left as usize);
            ellipsis(&mut blocks[i].1, w);
            keep[i] = true;
            *left = 0;
        }
    }
    for &i in continued {
        if keep[i] && !keep[i + 1] {
            ellipsis(&mut blocks[i].1, w);
        }
    }
    keep
}

/// Attempts per second: the label, then the bars.
fn sparkline(frame: &mut Frame, r: Rect, t: &Theme, run: &Run) {
    let average = group(run.stats.attempts_per_sec().round() as u64);
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
    // Headroom above the highest bar: a steady pace reads as a line, not
    // a wall.
    let top = data.iter().copied().max().unwrap_or(0).saturating_mul(5) / 4;
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max(top.max(1))
            .style(t.chart),
        bars,
    );
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
/// The packet strip's most rows (with its heading).
const STRIP_MAX: usize = 10;
/// The sparkline's most rows (with its label).
const SPARK_MAX: u16 = 10;

/// trying ▸ kernel picked 44600 ▸ simultaneous open ▸ ESTABLISHED to itself ▸ echo proven
fn chain(t: &Theme, run: &Run, w: usize) -> Line<'static> {
    let port = run.target().port();
    // In bind mode the loop sets the source port itself.
    let bind = run.config.mode == Mode::Bind;
    let picked = if bind {
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
        if bind { "bound" } else { "picked" },
        "sim. open",
        "ESTABLISHED",
        "echo",
    ]
    .map(String::from);
    let ending = ending(t, run);
    let fits = |spans: &[Span]| spans.iter().map(|s| width(&s.content)).sum::<usize>() <= w;
    for labels in [&long, &short] {
        let spans = chain_spans(t, run, labels, ending.as_ref());
        if fits(&spans) {
            return Line::from(spans);
        }
    }
    // Too narrow for the chain: the stage alone.
    let (label, style) = match ending {
        Some((label, style)) => (format!("✖ {label}"), style),
        None if run.is_running() => (format!("● {}", long[run.furthest as usize]), t.key),
        None => (format!("✓ {}", long[run.furthest as usize]), t.live),
    };
    Line::styled(truncate_end(&label, w), style)
}

/// How a run that did not prove a self-connection ended, for the chain.
fn ending(t: &Theme, run: &Run) -> Option<(String, Style)> {
    match (&run.end, run.stats.stage) {
        (None, _) => None,
        (Some(End::SelfConnected { echo, .. }), _) if !echo.verified => {
            Some((Stage::EchoFailed.label().to_string(), t.warning))
        }
        (Some(End::SelfConnected { .. }), _) => None,
        (Some(End::Failed(_)), _) => Some((Stage::Failed.label().to_string(), t.error)),
        (Some(_), stage) => Some((stage.label().to_string(), t.warning)),
    }
}

/// The chain's steps with `labels`: reached, current, or ahead.
fn chain_spans(
    t: &Theme,
    run: &Run,
    labels: &[String; 5],
    ending: Option<&(String, Style)>,
) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (i, step) in Step::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" ▸ ", t.dim));
        }
        let reached = *step <= run.furthest;
        let current = run.is_running() && *step == run.furthest;
        let (text, style) = if current {
            (format!("● {}", labels[i]), t.key)
        } else if reached {
            (format!("✓ {}", labels[i]), t.live)
        } else {
            (labels[i].clone(), t.dim)
        };
        spans.push(Span::styled(text, style));
    }
    if let Some((label, style)) = ending {
        spans.push(Span::styled(" ▸ ", t.dim));
        spans.push(Span::styled(format!("✖ {label}"), *style));
    }
    spans
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
