//! The one sanitiser for text that reaches a terminal: process names,
//! command lines, namespace names, file contents, error messages that
//! quote them. Any local user can name a process `\x1b]0;owned\x07` or
//! `ok\nFAKE ROW`; printed raw, that retitles the window, wipes the
//! screen or forges rows of a report that root reads.
//!
//! [`terminal_safe`] escapes what a terminal would act on, visibly (so a
//! name that tries it shows as such), and borrows when nothing needed
//! escaping (almost always). [`terminal_safe_cut`] also cuts to a display
//! width, so that a 3000-character name does not widen every row.
//!
//! The escapes are for reading, not for parsing: a backslash is left as is,
//! so `a\x1bb` may be a name with an ESC or one with four characters
//! `\`, `x`, `1`, `b`. JSON output does not go through here (serde escapes
//! exactly).

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The marker at the end of a cut text.
pub const CUT_MARKER: char = '…';

/// The bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069),
/// which reorder what follows them ("Trojan Source"), the bidi marks that
/// do the same more quietly (U+200E, U+200F, U+061C), and the line and
/// paragraph separators (U+2028, U+2029), which some terminals break
/// lines at. All invisible.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c,
        '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{061c}'
        | '\u{2028}' | '\u{2029}')
}

/// Whether `c` must not reach a terminal as is: C0 controls, DEL, C1
/// controls (`U+009B` is a one-character CSI on some terminals; these are
/// exactly `char::is_control`), and [`is_bidi_control`].
/// Whether `c` is shown escaped: a control character, or one that turns
/// the direction of the text around it.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0}'..='\u{1f}' | '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `s` with every control character, DEL and bidi control replaced by a
/// visible escape (`\x1b`, `\n`, `\u{9b}`, `\u{202e}`). Borrows `s` when
/// nothing needs escaping.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    // Printable ASCII, the common case, is checked byte by byte.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`terminal_safe`] for an owned string: returns it unchanged (no copy)
/// when nothing needed escaping.
pub fn terminal_safe_string(s: String) -> String {
    match terminal_safe(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(escaped) => escaped,
    }
}

/// [`terminal_safe`], then cut to at most `max_width` columns, ending with
/// `…` when cut. Borrows `s` when nothing needed escaping or cutting.
pub fn terminal_safe_cut(s: &str, max_width: usize) -> Cow<'_, str> {
    let safe = terminal_safe(s);
    if UnicodeWidthStr::width(safe.as_ref()) <= max_width {
        return safe;
    }
    Cow::Owned(cut_to_width(&safe, max_width))
}

/// Cuts `s` (safe already, and wider than `max`) to `max` columns with the
/// marker at the end. The one cut by width: the dashboard's cells use it
/// too, on text they made safe already.
pub fn cut_to_width(s: &str, max: usize) -> String {
    // The marker is one column wide.
    let Some(room) = max.checked_sub(1) else {
        return String::new();
    };
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > room {
            break;
        }
        out.push(c);
        w += cw;
    }
    // Character widths do not always add up to the string's width (emoji
    // sequences): drop characters until it fits. Bounded by the length.
    while !out.is_empty() && UnicodeWidthStr::width(out.as_str()) > room {
        out.pop();
    }
    out.push(CUT_MARKER);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile names, and what each must become.
    const ESCAPED: &[(&str, &str)] = &[
        ("postgres", "postgres"),
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
        (
            "ok\nself-connect high v4 0.0.0.0:1",
            "ok\\nself-connect high v4 0.0.0.0:1",
        ),
        ("spin\rroot", "spin\\rroot"),
        ("tab\there", "tab\\there"),
        ("nul\0byte", "nul\\x00byte"),
        ("del\x7f", "del\\x7f"),
        ("c1\u{9b}2J", "c1\\u{9b}2J"),
        ("c1 nel\u{85}", "c1 nel\\u{85}"),
        ("evil\u{202e}txt.exe", "evil\\u{202e}txt.exe"),
        ("\u{2066}isolate\u{2069}", "\\u{2066}isolate\\u{2069}"),
        (
            "\u{202a}\u{202b}\u{202c}\u{202d}",
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
        ),
        ("\u{2067}\u{2068}", "\\u{2067}\\u{2068}"),
        ("mark\u{200f}", "mark\\u{200f}"),
        ("line\u{2028}sep", "line\\u{2028}sep"),
        ("naïve-ソケット", "naïve-ソケット"),
        ("👨‍👩‍👧 family", "👨‍👩‍👧 family"),
        ("back\\slash", "back\\slash"),
        ("", ""),
    ];

    fn is_safe(s: &str) -> bool {
        !s.chars().any(needs_escape)
    }

    #[test]
    fn hostile_names_are_escaped_visibly() {
        for (name, want) in ESCAPED {
            let got = terminal_safe(name);
            assert_eq!(got, *want, "{name:?}");
            assert!(is_safe(&got), "{name:?} -> {got:?}");
            // Escaping is idempotent: a report sanitised twice reads the same.
            assert_eq!(terminal_safe(&got), got, "{name:?}");
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        for s in ["postgres", "naïve-ソケット", "👨‍👩‍👧", "", "a b\\c"] {
            assert!(matches!(terminal_safe(s), Cow::Borrowed(_)), "{s:?}");
            assert!(
                matches!(terminal_safe_cut(s, 40), Cow::Borrowed(_)),
                "{s:?}"
            );
        }
        assert!(matches!(terminal_safe("a\x1b"), Cow::Owned(_)));
    }

    #[test]
    fn every_control_and_bidi_character_is_escaped() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let safe = terminal_safe(&all);
        assert!(is_safe(&safe));
        assert!(!safe.chars().any(char::is_control), "no control survives");
        for c in ['\u{1b}', '\u{9b}', '\u{7f}', '\u{202e}', '\u{2069}'] {
            assert!(!safe.contains(c), "{c:?}");
        }
    }

    #[test]
    fn cuts_by_display_width_with_a_marker() {
        let long = "x".repeat(3000);
        let cut = terminal_safe_cut(&long, 24);
        assert_eq!(cut.chars().count(), 24);
        assert!(cut.ends_with('…'));
        assert_eq!(UnicodeWidthStr::width(cut.as_ref()), 24);

        // Wide characters: never wider than asked, even when a wide one
        // would straddle the edge.
        for (s, max) in [
            ("ソケットソケット", 7),
            ("ソケットソケット", 8),
            ("😀😀😀😀😀", 5),
            ("a\u{301}bcdef", 3),
        ] {
            let cut = terminal_safe_cut(s, max);
            let w = UnicodeWidthStr::width(cut.as_ref());
            assert!(
                w <= max && w + 1 >= max,
                "{s:?} to {max}: {cut:?} is {w} wide"
            );
            assert!(cut.ends_with('…'), "{cut:?}");
        }

        // An emoji sequence joined by U+200D is as wide as one emoji; cut
        // inside, it is still never wider than asked.
        let family = "👨‍👩‍👧".repeat(4);
        for max in 0..10 {
            let cut = terminal_safe_cut(&family, max);
            assert!(
                UnicodeWidthStr::width(cut.as_ref()) <= max,
                "{max}: {cut:?}"
            );
        }

        // Cut after escaping: an escape counts for its visible width.
        let cut = terminal_safe_cut("\x1b\x1b\x1b\x1b", 10);
        assert_eq!(cut, "\\x1b\\x1b\\…");
        assert_eq!(terminal_safe_cut("abc", 0), "");
        assert_eq!(terminal_safe_cut("abc", 1), "…");
        assert_eq!(terminal_safe_cut("abc", 3), "abc");
    }
}
