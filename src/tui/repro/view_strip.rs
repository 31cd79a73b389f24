//! The packet strip under a run: the last packets on `lo` to or from the
//! target port, one line each in tcpdump's short form, the refused
//! attempts folded into a running count (dim), the self-connect's `[S]`,
//! `[S.]` and `[.]` highlighted; or why there is no capture.

use ratatui::style::Modifier;
use ratatui::text::Line;

use crate::core::packets::LineKind;
use crate::tui::text::truncate_end;
use crate::tui::theme::Theme;

use super::history::{Capture, Run};

/// The strip's lines, newest last, at most `rows` (with its heading);
/// empty when there is nothing to show.
pub(super) fn strip_lines(t: &Theme, run: &Run, rows: usize, w: usize) -> Vec<Line<'static>> {
    match &run.capture {
        Capture::Unknown => vec![],
        Capture::Off(why) => vec![Line::styled(truncate_end(why, w), t.dim)],
        Capture::On { strip, utc_offset } => {
            if rows < 2 {
                return vec![];
            }
            let lines = strip.lines(*utc_offset);
            let head = format!(
                "packets on lo, port {} (as tcpdump -n shows them)",
                run.target().port()
            );
            let mut out = vec![Line::styled(truncate_end(&head, w), t.heading)];
            if lines.is_empty() {
                out.push(Line::styled("none yet", t.dim));
                return out;
            }
            let hit = t.self_connect.remove_modifier(Modifier::REVERSED);
            let skip = lines.len().saturating_sub(rows - 1);
            for l in lines.into_iter().skip(skip) {
                let style = match l.kind {
                    LineKind::Folded => t.dim,
                    LineKind::Handshake => hit.add_modifier(Modifier::BOLD),
                    LineKind::Packet => t.plain,
                };
                out.push(Line::styled(truncate_end(&l.text, w), style));
            }
            out
        }
    }
}
