//! How the core quotes input back in messages: excerpts bounded in length,
//! so that a huge or hostile value never becomes a huge message.

use super::words::group;

/// `text` quoted as a Rust string literal (control characters escaped), cut
/// after `max_chars` characters with `…` and the full length in bytes.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], group(text.len() as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_escaped() {
        assert_eq!(excerpt("abc", 5), "\"abc\"");
        assert_eq!(excerpt("a\x1b[2Jb", 10), "\"a\\u{1b}[2Jb\"");
        let long = "x".repeat(1 << 20);
        let e = excerpt(&long, 8);
        assert_eq!(e, "\"xxxxxxxx\"… (1,048,576 bytes)");
        // Cut on a character boundary.
        assert_eq!(excerpt("ééé", 2), "\"éé\"… (6 bytes)");
    }
}
