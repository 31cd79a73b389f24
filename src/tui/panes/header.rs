//! The header: the port policy, the counts, the refresh state (live or
//! paused, and since when, and whether live catch runs), then notes: a
//! replay or a recording, a failed scan, what cannot be seen without root,
//! scan errors.

use chrono::{DateTime, Local};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::core::sanitize::{terminal_safe, terminal_safe_cut, terminal_safe_string};
use crate::core::snapshot::Snapshot;
use crate::core::words::{plural, plural_noun, time_of_day};
use crate::tui::app::App;
use crate::tui::interval::format_interval;
use crate::tui::text::truncate_end;
use crate::tui::tracker::LiveCatchStatus;

/// At most this many note lines.
const MAX_NOTES: usize = 3;

/// A short duration: `12s`, `3m05s`, `1h02m`.
pub fn ago(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// The note lines: what went wrong, what cannot be seen.
pub fn notes(app: &App) -> Vec<(Style, String)> {
    let t = app.theme();
    let mut v = Vec::new();
    // First, never cut: a replay must not pass for the live machine.
    if let Some(mark) = app.mark() {
        v.push((t.warning, mark.line()));
    }
    if let Some((at, msg)) = app.failure() {
        v.push((
            t.error,
            format!(
                "✖ scan failed at {}: {msg} (retrying every {})",
                time_of_day(at),
                format_interval(app.interval())
            ),
        ));
    }
    if let Some(snap) = app.snapshot() {
        if let Some(note) = &snap.visibility_note {
            v.push((t.warning, format!("ⓘ {note}")));
        }
        match snap.errors.len() {
            0 => {}
            1 => v.push((t.warning, format!("⚠ scan error: {}", snap.errors[0]))),
            n => v.push((
                t.warning,
                format!(
                    "⚠ {n} scan errors: {} (+{} more, listed in the events)",
                    snap.errors[0],
                    n - 1
                ),
            )),
        }
    }
    v.truncate(MAX_NOTES);
    // Errors and notes quote paths, file contents and names.
    v.into_iter()
        .map(|(style, text)| (style, terminal_safe_string(text)))
        .collect()
}

pub fn height(app: &App, _width: u16) -> u16 {
    3 + notes(app).len() as u16
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let width = area.width as usize;
    let mut lines = vec![
        title_line(app, width),
        counts_line(app, width),
        status_line(app, width),
    ];
    for (style, text) in notes(app) {
        lines.push(Line::from(Span::styled(
            truncate_end(&format!(" {text}"), width),
            style,
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// Line 1: the title bar, with the policy and the clock.
fn title_line(app: &App, width: usize) -> Line<'static> {
    let t = app.theme();
    let clock = format!(" {} ", time_of_day(&app.now()));
    // Narrow: the facts matter more than the program's name.
    let narrow = width < 80;
    let title = match app.snapshot() {
        Some(snap) => {
            let prefix = if narrow { "" } else { " selfconn-tui │" };
            format!("{prefix}{}", policy_words(app, snap, narrow))
        }
        None => " selfconn-tui │ TCP self-connect watch".to_string(),
    };
    let room = width.saturating_sub(clock.chars().count());
    let title = truncate_end(&title, room);
    let pad = room.saturating_sub(crate::tui::text::width(&title));
    Line::from(vec![
        Span::styled(title, t.title_bar),
        Span::styled(" ".repeat(pad), t.title_bar),
        Span::styled(clock, t.title_bar),
    ])
}

/// The policy shown in the title: the own namespace's (or, with --netns,
/// the one namespace shown) and how many namespaces there are.
fn policy_words(app: &App, snap: &Snapshot, narrow: bool) -> String {
    let only = app
        .netns_only()
        .and_then(|_| snap.scanned_namespaces().next().map(|(_, n)| n));
    let own = only.unwrap_or_else(|| snap.own_namespace());
    let mut words = format!(
        " ephemeral {} │ reserved {}",
        own.policy.range, own.policy.reserved
    );
    let n = snap.namespaces.len();
    match (n, narrow) {
        _ if only.is_some() => words.push_str(&format!(
            " │ netns {} only",
            terminal_safe_cut(&own.name, 32)
        )),
        (1, true) => words.push_str(" │ 1 netns"),
        (1, false) => words.push_str(" │ 1 namespace"),
        (n, true) => words.push_str(&format!(" │ {n} netns")),
        (n, false) => words.push_str(&format!(
            " │ {n} namespaces (policy of {})",
            terminal_safe(&own.name)
        )),
    }
    words
}

/// Line 2: the counts.
fn counts_line(app: &App, width: usize) -> Line<'static> {
    let t = app.theme();
    let c = match (app.snapshot(), app.counts()) {
        (Some(_), Some(c)) => c,
        _ => return Line::from(Span::styled(" waiting for the first scan…", t.dim)),
    };
    let sc_style = if c.self_connects > 0 {
        t.self_connect
    } else {
        t.value
    };
    let risky = c.high_listeners + c.medium_listeners;
    let narrow = width < 80;
    let level = |n, word: &str, style| {
        Span::styled(format!("{n} {word}"), if n > 0 { style } else { t.dim })
    };
    Line::from(vec![
        Span::styled(format!(" {}", c.sockets), t.value),
        Span::styled(
            format!(" {} · ", plural_noun(c.sockets, "socket", "sockets")),
            t.dim,
        ),
        Span::styled(
            plural(c.self_connects, "self-connect", "self-connects"),
            sc_style,
        ),
        Span::styled(" · ", t.dim),
        Span::styled(
            if narrow {
                format!("{risky} risky")
            } else {
                plural(risky, "risky listener", "risky listeners")
            },
            t.value,
        ),
        Span::styled(if narrow { ": " } else { " (" }, t.dim),
        level(c.high_listeners, "high", t.high),
        Span::styled(", ", t.dim),
        level(c.medium_listeners, "medium", t.medium),
        Span::styled(if narrow { "" } else { ")" }, t.dim),
    ])
}

/// From this width the status line says in full that a refresh read the
/// listeners only.
const WIDE_STATUS: usize = 120;

/// Line 3: live or paused, the refresh, and whether live catch runs.
fn status_line(app: &App, width: usize) -> Line<'static> {
    let t = app.theme();
    let mut status = match (app.paused_since(), app.snapshot()) {
        (Some(since), snap) => paused_status(app, since, snap),
        (None, Some(s)) => live_status(app, s, width),
        (None, None) => vec![
            Span::styled(" ○ scanning ", t.live),
            Span::styled(format!(" every {}", format_interval(app.interval())), t.dim),
        ],
    };
    if let Some(live) = app.tracker().live_catch() {
        let style = match live {
            LiveCatchStatus::On { .. } => t.value,
            LiveCatchStatus::Off(_) => t.dim,
        };
        status.push(Span::styled(" · ", t.dim));
        // The reason quotes errors of the kernel and of files.
        status.push(Span::styled(terminal_safe_string(live.words()), style));
    }
    Line::from(status)
}

/// Paused: since when, which scan is shown, and the key that resumes.
fn paused_status(app: &App, since: DateTime<Local>, snap: Option<&Snapshot>) -> Vec<Span<'static>> {
    let t = app.theme();
    let mut v = vec![
        Span::styled(" ⏸ PAUSED ", t.paused),
        Span::styled(" since ", t.dim),
        Span::styled(time_of_day(&since), t.value),
        Span::styled(
            format!(" ({})", ago((app.now() - since).num_seconds())),
            t.dim,
        ),
    ];
    if let Some(s) = snap {
        v.push(Span::styled(" · showing the scan of ", t.dim));
        v.push(Span::styled(time_of_day(&s.taken_at), t.value));
    }
    v.push(Span::styled(" · events still recorded · ", t.dim));
    v.push(Span::styled(
        crate::tui::keymap::key_label(crate::tui::keymap::Action::Pause),
        t.key,
    ));
    v.push(Span::styled(" resumes", t.dim));
    v
}

/// Live (or a replay): when the last scan was, how often, how long it
/// took, and a warning when the last result is late.
fn live_status(app: &App, s: &Snapshot, width: usize) -> Vec<Span<'static>> {
    let t = app.theme();
    let mut v = vec![
        // A replay is not the live machine (see the mark below).
        if app.is_replay() {
            Span::styled(" ▶ REPLAY ", t.live)
        } else {
            Span::styled(" ● LIVE ", t.live)
        },
        Span::styled(" refreshed ", t.dim),
        Span::styled(time_of_day(&s.taken_at), t.value),
        Span::styled(", every ", t.dim),
        Span::styled(format_interval(app.interval()), t.value),
    ];
    // A listeners-only refresh: how old the connections are matters more
    // than how long the listeners took, when there is room for one.
    match app.connections_at() {
        Some(at) if width < WIDE_STATUS => {
            v.push(Span::styled(" · conns ", t.dim));
            v.push(Span::styled(time_of_day(&at), t.value));
        }
        Some(at) => {
            let took = scan_time(s.scan_micros);
            v.push(Span::styled(
                format!(" · scan took {took} (listeners; connections of "),
                t.dim,
            ));
            v.push(Span::styled(time_of_day(&at), t.value));
            v.push(Span::styled(")", t.dim));
        }
        None => v.push(Span::styled(
            format!(" · scan took {}", scan_time(s.scan_micros)),
            t.dim,
        )),
    }
    let age = (app.now() - s.taken_at).num_milliseconds();
    let late = app.interval().as_millis() as i64 * 3 + 2000;
    if age > late {
        v.push(Span::styled(
            format!(" · last result {} ago", ago(age / 1000)),
            t.warning,
        ));
    }
    v
}

fn scan_time(micros: u64) -> String {
    if micros < 10_000 {
        format!("{:.1} ms", micros as f64 / 1000.0)
    } else if micros < 1_000_000 {
        format!("{} ms", micros / 1000)
    } else {
        format!("{:.1} s", micros as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(185), "3m05s");
        assert_eq!(ago(3720), "1h02m");
        assert_eq!(ago(-3), "0s");
        assert_eq!(scan_time(1500), "1.5 ms");
        assert_eq!(scan_time(25_000), "25 ms");
        assert_eq!(scan_time(2_500_000), "2.5 s");
    }
}
