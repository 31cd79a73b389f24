//! The "service restart" incident on screen: the stage line (each step as
//! it happened, the current one marked) and the steps with their times,
//! the failed restart in red, and what `c` does while the port is held.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::repro::scenario::{FreeWith, Step, StepEvent, StepResult};
use crate::tui::keymap::{ReproAction, key_label};
use crate::tui::text::{truncate_end, width, wrap};
use crate::tui::theme::Theme;

use super::history::Run;
use crate::core::words::{group, time_of_day_millis};

/// A step in a few words, for the stage line.
fn short(step: &Step) -> String {
    match step {
        Step::ServiceStarted { .. } => "service up".into(),
        Step::ServiceStopped { .. } => "service stopped".into(),
        Step::ClientSelfConnected { local, .. } => {
            format!("client connected to itself on {}", local.port())
        }
        Step::ClientGaveUp { .. } => "client gave up".into(),
        Step::ServiceRestartFailed { errno, .. } => format!("restart FAILS: {errno}"),
        Step::ServiceRestarted { .. } => "service restarted".into(),
        Step::PortFreed { .. } => "stolen socket closed".into(),
        Step::PortNotFreed { .. } => "port not freed".into(),
        Step::ServiceBack { .. } => "service starts".into(),
        Step::ServiceStartFailed { errno, .. } => format!("service cannot start: {errno}"),
        Step::Stopped => "stopped".into(),
    }
}

/// A step in a sentence, for the list.
fn long(step: &Step) -> String {
    match step {
        Step::ServiceStarted { addr } => format!("the service listens on {addr}"),
        Step::ServiceStopped { addr } => {
            format!("the service stopped: nothing listens on {addr}; its client retries")
        }
        Step::ClientSelfConnected {
            local,
            attempts,
            echo_verified,
            ..
        } => format!(
            "the client connected to itself ({local} = peer) after {} attempts{}: it holds the port",
            group(*attempts),
            if *echo_verified { ", echo proven" } else { "" }
        ),
        Step::ClientGaveUp { end, attempts } => format!(
            "the client gave up ({end}) after {} attempts: no self-connect this time",
            group(*attempts)
        ),
        Step::ServiceRestartFailed { call, errno } => format!(
            "the service restarts: {call} FAILS with {errno}: its port is held by the client"
        ),
        Step::ServiceRestarted { addr } => {
            format!("the service restarted on {addr}: the port was not held")
        }
        Step::PortFreed { how, addr } => match how {
            FreeWith::Close => format!(
                "the stolen socket {addr} is closed with SO_LINGER 0: a reset, no TIME_WAIT"
            ),
            FreeWith::Destroy => format!("the stolen socket {addr} is destroyed (as ss -K does)"),
        },
        Step::PortNotFreed { error, .. } => format!("the port could not be freed: {error}"),
        Step::ServiceBack { addr } => format!("the service starts again on {addr}"),
        Step::ServiceStartFailed { call, errno } => {
            format!("the service cannot start: {call} failed with {errno}")
        }
        Step::Stopped => "stopped before the end; every socket closed".into(),
    }
}

fn style_of(t: &Theme, e: &StepEvent) -> Style {
    match (&e.step, e.result) {
        (Step::ServiceRestartFailed { .. }, _) => t.error,
        (Step::ClientSelfConnected { .. }, _) => t.repro,
        (_, StepResult::Failed) => t.warning,
        (_, StepResult::Ok) => t.live,
    }
}

/// The stage line: the steps so far, and while the client retries, its
/// count; the oldest steps give way when narrow.
pub(super) fn stage_line(t: &Theme, run: &Run, steps: &[StepEvent], w: usize) -> Line<'static> {
    let mut parts: Vec<(String, Style)> = steps
        .iter()
        .map(|e| {
            let mark = if e.result == StepResult::Ok {
                "✓"
            } else {
                "✖"
            };
            (format!("{mark} {}", short(&e.step)), style_of(t, e))
        })
        .collect();
    let retrying = steps
        .last()
        .is_some_and(|e| matches!(e.step, Step::ServiceStopped { .. }));
    if run.is_running() && retrying {
        let n = group(run.stats.attempts);
        parts.push((format!("● client retrying: {n} attempts"), t.key));
    } else if run.incident_waits() {
        let c = key_label(ReproAction::CloseSocket);
        parts.push((format!("● {c} frees the port"), t.key));
    } else if run.is_running() && steps.is_empty() {
        parts.push(("● starting the service".into(), t.key));
    }
    let total =
        |p: &[(String, Style)]| -> usize { p.iter().map(|(s, _)| width(s) + 3).sum::<usize>() + 2 };
    let mut cut = false;
    while parts.len() > 1 && total(&parts) > w {
        parts.remove(0);
        cut = true;
    }
    let mut spans = Vec::new();
    if cut {
        spans.push(Span::styled("… ▸ ", t.dim));
    }
    for (i, (text, style)) in parts.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" ▸ ", t.dim));
        }
        spans.push(Span::styled(truncate_end(&text, w), style));
    }
    Line::from(spans)
}

/// The steps with their times, and while the port is held, what `c` does.
pub(super) fn step_lines(
    t: &Theme,
    run: &Run,
    steps: &[StepEvent],
    w: usize,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for e in steps {
        let time = time_of_day_millis(&e.time);
        let text = long(&e.step);
        let room = w.saturating_sub(width(&time) + 1);
        for (i, l) in wrap(&text, room, "", "  ").into_iter().enumerate() {
            let head = if i == 0 {
                Span::styled(format!("{time} "), t.dim)
            } else {
                Span::raw(" ".repeat(width(&time) + 1))
            };
            out.push(Line::from(vec![head, Span::styled(l, style_of(t, e))]));
        }
    }
    if run.incident_waits() {
        let text = format!(
            "the service cannot bind its port while the client holds it: {} closes the stolen socket (SO_LINGER 0) and the service starts",
            key_label(ReproAction::CloseSocket)
        );
        out.extend(
            wrap(&text, w, "◆ ", "  ")
                .into_iter()
                .map(|l| Line::styled(l, t.value)),
        );
    }
    out
}
