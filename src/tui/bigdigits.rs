//! Numbers in large type, for the back row of a room: a 3×5 pixel font
//! drawn with block characters, scaled by whole cells. Huge: a pixel is
//! three columns by two rows, 10 rows tall (a 200×50 projector screen).
//! Large: two columns by one row (`██`), 5 rows tall. Medium: half blocks
//! (`▀▄█`), a pixel is one column by half a row, 3 rows tall. Smaller than
//! that the pane prints plain numbers.
//!
//! Drawn here rather than with a big-text crate: the crates at hand draw
//! 8×8 glyphs, too wide for a port number beside a counter on a 120
//! column projector, let alone two loops side by side.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Size {
    /// Plain text: one row.
    Small,
    /// Half blocks: three rows.
    Medium,
    /// Full blocks two columns wide: five rows.
    Large,
    /// Full blocks three columns wide and two rows tall: ten rows.
    Huge,
}

impl Size {
    /// Rows the number takes.
    pub fn height(self) -> u16 {
        match self {
            Size::Small => 1,
            Size::Medium => 3,
            Size::Large => 5,
            Size::Huge => 10,
        }
    }

    /// A pixel's columns and rows, and the columns between glyphs (the
    /// block sizes).
    fn scale(self) -> (u16, usize, u16) {
        match self {
            Size::Huge => (3, 2, 2),
            Size::Large => (2, 1, 1),
            _ => (1, 1, 1),
        }
    }

    /// Columns `text` takes.
    pub fn width(self, text: &str) -> u16 {
        match self {
            Size::Small => crate::tui::text::width(text) as u16,
            _ => {
                let (px, _, gap) = self.scale();
                let glyphs: u16 = text.chars().map(|c| glyph(c).0 * px).sum();
                let gaps = text.chars().count().saturating_sub(1) as u16;
                glyphs + gaps * gap
            }
        }
    }
}

/// A glyph: its width in pixels and its 5 rows, bit 0 the leftmost pixel.
fn glyph(c: char) -> (u16, [u8; 5]) {
    // Rows written as the pixels read, left to right: 0b100 is the left pixel.
    let g = |rows: [u8; 5]| (3, rows.map(|r| ((r & 4) >> 2) | (r & 2) | ((r & 1) << 2)));
    match c {
        '0' => g([0b111, 0b101, 0b101, 0b101, 0b111]),
        '1' => g([0b010, 0b110, 0b010, 0b010, 0b111]),
        '2' => g([0b111, 0b001, 0b111, 0b100, 0b111]),
        '3' => g([0b111, 0b001, 0b111, 0b001, 0b111]),
        '4' => g([0b101, 0b101, 0b111, 0b001, 0b001]),
        '5' => g([0b111, 0b100, 0b111, 0b001, 0b111]),
        '6' => g([0b111, 0b100, 0b111, 0b101, 0b111]),
        '7' => g([0b111, 0b001, 0b001, 0b001, 0b001]),
        '8' => g([0b111, 0b101, 0b111, 0b101, 0b111]),
        '9' => g([0b111, 0b101, 0b111, 0b001, 0b111]),
        '-' => g([0b000, 0b000, 0b111, 0b000, 0b000]),
        '=' => g([0b000, 0b111, 0b000, 0b111, 0b000]),
        '≠' => g([0b001, 0b111, 0b010, 0b111, 0b100]),
        ',' | '.' => (1, [0, 0, 0, 1, 1]),
        _ => (3, [0; 5]),
    }
}

fn pixel(rows: &[u8; 5], row: usize, x: u16) -> bool {
    rows.get(row).is_some_and(|r| r & (1 << x) != 0)
}

/// `text` in large type as lines of `size.height()` rows.
pub fn render(text: &str, size: Size, style: Style) -> Vec<Line<'static>> {
    if size == Size::Small {
        return vec![Line::from(Span::styled(text.to_string(), style))];
    }
    let glyphs: Vec<(u16, [u8; 5])> = text.chars().map(glyph).collect();
    if size == Size::Medium {
        return half_blocks(&glyphs, style);
    }
    let (px, py, gap) = size.scale();
    let mut lines = Vec::with_capacity(size.height() as usize);
    for row in 0..5 {
        let mut s = String::new();
        for (i, (w, rows)) in glyphs.iter().enumerate() {
            if i > 0 {
                s.extend(std::iter::repeat_n(' ', gap as usize));
            }
            for x in 0..*w {
                let c = if pixel(rows, row, x) { '█' } else { ' ' };
                s.extend(std::iter::repeat_n(c, px as usize));
            }
        }
        for _ in 0..py {
            lines.push(Line::from(Span::styled(s.clone(), style)));
        }
    }
    lines
}

/// Medium: two pixel rows per line, in half blocks.
fn half_blocks(glyphs: &[(u16, [u8; 5])], style: Style) -> Vec<Line<'static>> {
    let mut lines = Vec::with_capacity(3);
    for row in 0..3 {
        let mut s = String::new();
        for (i, (w, rows)) in glyphs.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            for x in 0..*w {
                let top = pixel(rows, row * 2, x);
                let bottom = pixel(rows, row * 2 + 1, x);
                s.push(match (top, bottom) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
        }
        lines.push(Line::from(Span::styled(s, style)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn digits_in_both_sizes() {
        let large = text(&render("10", Size::Large, Style::new()));
        assert_eq!(
            large,
            vec![
                "  ██   ██████",
                "████   ██  ██",
                "  ██   ██  ██",
                "  ██   ██  ██",
                "██████ ██████",
            ]
        );
        let medium = text(&render("4,2", Size::Medium, Style::new()));
        assert_eq!(medium, vec!["█ █   ▀▀█", "▀▀█ ▄ █▀▀", "  ▀ ▀ ▀▀▀"]);
        assert_eq!(Size::Large.width("10"), 13);
        assert_eq!(Size::Medium.width("4,2"), 9);
        assert_eq!(Size::Small.width("4,2"), 3);
        let huge = text(&render("1", Size::Huge, Style::new()));
        assert_eq!(huge.len(), 10);
        assert_eq!(huge[0], "   ███   ");
        assert_eq!(huge[1], huge[0], "two rows a pixel");
        assert_eq!(huge[8], "█████████");
        assert_eq!(Size::Huge.width("1,0"), 9 + 2 + 3 + 2 + 9);
        assert_eq!(
            text(&render("1,0", Size::Huge, Style::new()))[0]
                .chars()
                .count(),
            25
        );
        for lines in [large, medium] {
            let w = lines[0].chars().count();
            assert!(lines.iter().all(|l| l.chars().count() == w));
        }
    }
}
