//! Text from other processes and the kernel, made safe for a terminal.
//!
//! Placeholder with the agreed signatures: the full sanitiser (C0/C1
//! controls, DEL and bidi overrides) replaces this file at merge.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with control characters and bidi overrides escaped visibly.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if is_unsafe(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// [`terminal_safe`], then cut to `max_width` columns, ending with `…`
/// when cut.
pub fn terminal_safe_cut(s: &str, max_width: usize) -> Cow<'_, str> {
    let safe = terminal_safe(s);
    let width: usize = safe.chars().map(|c| c.width().unwrap_or(0)).sum();
    if width <= max_width {
        return safe;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in safe.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max_width {
            break;
        }
        out.push(c);
        w += cw;
    }
    if max_width > 0 {
        out.push('…');
    }
    Cow::Owned(out)
}
