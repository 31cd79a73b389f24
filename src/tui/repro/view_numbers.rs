//! The repro pane's big numbers: the attempts and the source port against
//! the target, in the largest type that fits ([`Numbers::pick`]), laid out
//! for the widest numbers to come so that nothing moves while they grow.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::bigdigits::{self, Size};
use crate::tui::text::width;
use crate::tui::theme::Theme;

/// How the numbers are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Numbers {
    pub(super) attempts: Size,
    pub(super) ports: Size,
    /// The target in large type too (else in the label).
    pub(super) target_big: bool,
    /// Attempts above the ports rather than beside them.
    pub(super) stacked: bool,
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

    pub(super) fn height(&self) -> u16 {
        let a = 1 + self.attempts.height();
        let p = 1 + self.ports.height();
        if self.stacked { a + p } else { a.max(p) }
    }

    /// The biggest layout that fits.
    pub(super) fn pick(w: u16, h: u16, attempts: &str, source: &str, target: &str) -> Numbers {
        use Size::*;
        for (ports, target_big) in [
            (Huge, true),
            (Large, true),
            (Medium, true),
            (Large, false),
            (Medium, false),
        ] {
            // Side by side with smaller attempts before stacked.
            for stacked in [false, true] {
                for a in [Huge, Large, Medium, Small]
                    .into_iter()
                    .filter(|&a| a <= ports)
                {
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

/// The widest attempt count and source port the layout keeps room for.
pub(super) const RESERVED_ATTEMPTS: &str = "0,000,000";
pub(super) const RESERVED_PORT: &str = "00000";

/// `text`, or `room` when that is wider (same glyph widths: digits).
pub(super) fn reserve<'a>(text: &'a str, room: &'a str) -> &'a str {
    if text.chars().count() >= room.chars().count() {
        text
    } else {
        room
    }
}

/// Pads each line with spaces to `w` columns (a number kept in its place).
fn pad_to(lines: &mut [Line<'static>], w: usize) {
    for l in lines {
        let have = l.width();
        if have < w {
            l.spans.push(Span::raw(" ".repeat(w - have)));
        }
    }
}

pub(super) fn draw_numbers(
    frame: &mut Frame,
    r: Rect,
    t: &Theme,
    n: Numbers,
    (attempts, source, target): (&str, &str, &str),
    (wide_attempts, wide_source, _): (&str, &str, &str),
    hit: bool,
) {
    let hit_style = t.self_connect.remove_modifier(Modifier::REVERSED);
    let (aw, pw) = n.widths(wide_attempts, wide_source, target);
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
        let sw = n.ports.width(wide_source) as usize;
        let cw = n.ports.width(cmp) as usize;
        let pad = sw + 1 + cw + 1;
        let label = if pad >= 12 {
            format!("{:<pad$}TARGET", "SOURCE PORT")
        } else {
            "SOURCE PORT · TARGET".to_string()
        };
        p.push(Line::styled(label, t.dim));
        let mut sl = bigdigits::render(source, n.ports, src_style);
        pad_to(&mut sl, sw);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_shrink_to_fit() {
        let n = Numbers::pick(118, 12, "14,116", "46382", "46384");
        assert_eq!(
            (n.attempts, n.ports, n.target_big, n.stacked),
            (Size::Large, Size::Large, true, false)
        );
        // A projector: huge ports beside the attempts.
        let n = Numbers::pick(196, 30, "0,000,000", "46382", "46384");
        assert_eq!(
            (n.ports, n.target_big, n.stacked),
            (Size::Huge, true, false)
        );
        let n = Numbers::pick(118, 20, "14,116", "46382", "46384");
        assert_eq!((n.ports, n.target_big), (Size::Huge, true), "{n:?}");
        let n = Numbers::pick(118, 12, "1,234,567", "46382", "46384");
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
