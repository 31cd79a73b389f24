//! The repro pane's words: what a run is doing or showed, and the advice
//! of [`crate::repro::explain`] in the pane's terms (the fields of its
//! form and its keys, not the command line's options). The sentences the
//! command line shares are in [`crate::report::repro_text`], which takes
//! these terms.

use ratatui::style::Style;
use ratatui::text::Line;

use crate::report::repro_text::{self, Terms, headline_of};
use crate::repro::explain::{TargetFacts, explain_end, prospect};
use crate::repro::{End, Mode, Stage};
use crate::tui::keymap::{ReproAction, key_label};
use crate::tui::text::wrap;
use crate::tui::theme::Theme;

use super::history::Run;
use crate::core::words::{group, plural_noun};

fn mode_field(m: Mode) -> String {
    format!("mode {}", m.name())
}

/// The pane names the mode field, and starting again.
pub const PANE_TERMS: Terms = Terms {
    mode: mode_field,
    more_time: "Start it again to go on.",
    other_run: "a run holding it",
};

/// What to expect from the form's mode on `port`, in one or two sentences.
pub fn expectation(facts: &TargetFacts, mode: Mode, port: u16) -> String {
    repro_text::prospect_words(&prospect(facts, mode, port), &PANE_TERMS)
}

/// Lines of `text` wrapped to `w`, the first after `first`.
fn say(text: &str, style: Style, first: &str, w: usize) -> Vec<Line<'static>> {
    wrap(text, w, first, "  ")
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect()
}

/// What is going on, in plain words (while running), or the result, as
/// (priority, lines): while running, what the stage means; after a
/// self-connect, the 4-tuple, the echo, whether the socket is held (these
/// stay when rows are short), then what it means for a service.
pub fn story(t: &Theme, run: &Run, facts: &TargetFacts, w: usize) -> Vec<(u8, Vec<Line<'static>>)> {
    let mut out = match &run.end {
        None => vec![(1, say(&progress(run, facts), t.plain, "", w))],
        Some(End::SelfConnected { .. }) => connected(t, run, w),
        Some(end) => {
            let style = match end {
                End::Failed(_) => t.error,
                End::Stopped => t.value,
                _ => t.warning,
            };
            let head = headline_of(&run.config, end, &run.stats);
            vec![(1, say(&head, style, "", w))]
        }
    };
    if let Some(end) = &run.end {
        let port = run.target().port();
        let advice = explain_end(facts, run.config.mode, port, end, &run.stats)
            .map(|a| repro_text::advice(&a, &PANE_TERMS));
        let lines = advice.map_or_else(Vec::new, |a| say(&a, t.dim, "", w));
        out.push((6, lines));
    }
    out
}

/// While a loop runs: what its stage means.
fn progress(run: &Run, facts: &TargetFacts) -> String {
    let s = &run.stats;
    let port = run.target().port();
    let mode = run.config.mode;
    match s.stage {
        Stage::KernelPickedTarget => format!(
            "The kernel picked {port} as the source port: the SYN goes from {port} to {port}."
        ),
        Stage::SelfConnected => "Simultaneous open: the SYN met itself, and the socket is ESTABLISHED with local = peer; an echo checks it.".to_string(),
        _ if mode == Mode::Guarded && s.caught > 0 => format!(
            "The guard caught {} {} to {port} and closed {}, as Go's dialer does: the loop goes on, never connected to itself.",
            group(s.caught),
            plural_noun(s.caught, "self-connection", "self-connections"),
            plural_noun(s.caught, "it", "them")
        ),
        _ => expectation(facts, mode, port),
    }
}

/// After a self-connect: the 4-tuple, the echo, whether it is held; the
/// short forms when narrow (a duel on a small screen).
fn connected(t: &Theme, run: &Run, w: usize) -> Vec<(u8, Vec<Line<'static>>)> {
    let Some(End::SelfConnected { local, peer, echo }) = &run.end else {
        return vec![];
    };
    let s = &run.stats;
    let narrow = w < 70;
    let tuple = if narrow && local == peer {
        format!("local = peer = {local}")
    } else {
        format!(
            "local {local} = peer {peer}, ESTABLISHED: connected to itself after {} {} ({:.2} s)",
            group(s.attempts),
            plural_noun(s.attempts, "attempt", "attempts"),
            s.elapsed.as_secs_f64()
        )
    };
    let echo_lines = if echo.verified && narrow {
        say("echo proven: read back what it wrote", t.live, "✓ ", w)
    } else if echo.verified {
        let text = format!("echo proven: wrote '{}', read it back", echo.sent_text());
        say(&text, t.live, "✓ ", w)
    } else {
        let text = format!("echo: {}", echo.error.as_deref().unwrap_or("no answer"));
        say(&text, t.warning, "✖ ", w)
    };
    let close = key_label(ReproAction::CloseSocket);
    let held = if run.held && narrow {
        say(&format!("held open: {close} closes it"), t.value, "◆ ", w)
    } else if run.held {
        let text = format!(
            "held open (◆ repro in the table): {close} closes it, then it waits in TIME_WAIT"
        );
        say(&text, t.value, "◆ ", w)
    } else if narrow {
        say("closed: now in TIME_WAIT", t.dim, "◇ ", w)
    } else {
        say(
            "closed: the 4-tuple waits in TIME_WAIT (about 60 s)",
            t.dim,
            "◇ ",
            w,
        )
    };
    vec![
        (1, say(&tuple, t.self_connect, "✓ ", w)),
        (2, echo_lines),
        (3, held),
    ]
}
