//! Small text helpers for cells and wrapped paragraphs, by display width.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::core::sanitize::{cut_to_width, is_bidi_control};

pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to `max` columns, ending with `…` when cut: the cut of
/// [`crate::core::sanitize::terminal_safe_cut`], without escaping again
/// (cells are made safe where their text is built).
pub fn truncate_end(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    cut_to_width(s, max)
}

/// Cuts `s` to `max` columns from the left, starting with `…`: for
/// addresses, where the port at the end matters most, and the filter as
/// it is typed (the cursor is at the end). Its own loop, not
/// [`cut_to_width`]: it keeps the end of the text, which the shared cut
/// (for names and messages, whose start matters) never does.
pub fn truncate_start(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        tail.push(c);
        w += cw;
    }
    let mut out = String::from("…");
    out.extend(tail.into_iter().rev());
    out
}

/// Appends typed or pasted `input` to a one-line field: control
/// characters (a pasted newline or tab) become spaces, bidi controls
/// are dropped, and the field stops at
/// `max_chars` characters. Returns whether anything was added.
pub fn append_typed(field: &mut String, input: &str, max_chars: usize) -> bool {
    let mut room = max_chars.saturating_sub(field.chars().count());
    let before = field.len();
    for c in input.chars() {
        if room == 0 {
            break;
        }
        let c = match c {
            c if c.is_control() => ' ',
            c if is_bidi_control(c) => continue,
            c => c,
        };
        field.push(c);
        room -= 1;
    }
    field.len() != before
}

/// Wraps `text` at spaces to lines of at most `max` columns; the first line
/// starts with `first`, the following ones with `rest` (a hanging indent).
/// Words longer than a line are split.
pub fn wrap(text: &str, max: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut line_w = width(first);
    let mut empty = true;
    let indent_w = width(rest);
    let max = max.max(indent_w + 8);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let ww = width(word);
        let need = if empty { ww } else { ww + 1 };
        if line_w + need > max && !empty {
            lines.push(std::mem::take(&mut line));
            line.push_str(rest);
            line_w = indent_w;
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_w += 1;
        }
        if line_w + ww <= max {
            line.push_str(word);
            line_w += ww;
        } else {
            // A word longer than the line: split it by width.
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if line_w + cw > max {
                    lines.push(std::mem::take(&mut line));
                    line.push_str(rest);
                    line_w = indent_w;
                }
                line.push(c);
                line_w += cw;
            }
        }
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_by_width_at_either_end() {
        assert_eq!(truncate_end("postgres", 10), "postgres");
        assert_eq!(truncate_end("very-long-server-name", 8), "very-lo…");
        assert_eq!(truncate_start("[fe80::1:2:3:4]:44600", 10), "…:4]:44600");
        assert_eq!(truncate_start("1.2.3.4:5", 9), "1.2.3.4:5");
        assert_eq!(truncate_end("x", 0), "");
    }

    #[test]
    fn typed_and_pasted_text_is_one_clean_bounded_line() {
        let mut f = String::from("ab");
        assert!(append_typed(&mut f, "c\nd\te\x1b[2J\u{9b}\u{202e}f", 100));
        assert_eq!(f, "abc d e [2J f");
        let mut f = String::new();
        assert!(append_typed(&mut f, &"ソ".repeat(5000), 200));
        assert_eq!(f.chars().count(), 200);
        assert!(!append_typed(&mut f, "more", 200), "full");
        assert_eq!(f.chars().count(), 200);
    }

    #[test]
    fn wraps_with_a_hanging_indent_and_splits_long_words() {
        let lines = wrap("one two three four", 11, "• ", "  ");
        assert_eq!(lines, vec!["• one two", "  three", "  four"]);
        let lines = wrap(
            "sysctl -w net.ipv4.ip_local_reserved_ports=44600",
            20,
            "$ ",
            "  ",
        );
        assert!(lines.iter().all(|l| width(l) <= 20), "{lines:?}");
        assert_eq!(lines[0], "$ sysctl -w");
        assert_eq!(wrap("", 10, "- ", "  "), vec!["- "]);
    }
}
