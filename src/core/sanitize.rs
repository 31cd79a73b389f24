//! Making text from other processes or the kernel safe for a terminal:
//! control characters are escaped visibly and bidi overrides neutralised,
//! so a process name cannot move the cursor, wipe the screen, retitle the
//! window or reorder what follows it.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

/// C0 and C1 controls, DEL, and the bidi embeddings, overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character written as an escape (`\x1b`, `\u{202e}`).
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// [`terminal_safe`], then cut to `max_width` display cells with a `…`.
pub fn terminal_safe_cut(s: &str, max_width: usize) -> Cow<'_, str> {
    let safe = terminal_safe(s);
    let width: usize = safe.chars().map(|c| c.width().unwrap_or(0)).sum();
    if width <= max_width {
        return safe;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in safe.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max_width {
            break;
        }
        used += w;
        out.push(c);
    }
    if max_width > 0 {
        out.push('…');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(terminal_safe("nginx"), Cow::Borrowed("nginx")));
        assert_eq!(terminal_safe("a\x1b[2Jb\n\u{7f}"), "a\\x1b[2Jb\\x0a\\x7f");
        assert_eq!(terminal_safe("x\u{202e}y\u{9b}"), "x\\u{202e}y\\x9b");
    }

    #[test]
    fn long_text_is_cut_to_a_width_with_a_marker() {
        assert_eq!(terminal_safe_cut("abcdef", 6), "abcdef");
        assert_eq!(terminal_safe_cut("abcdefg", 6), "abcde…");
        assert_eq!(terminal_safe_cut("日本語です", 5), "日本…");
    }
}
