//! How the core quotes numbers and input back in messages: numbers grouped
//! by thousands, and excerpts of input bounded in length, so that a huge
//! or hostile value never becomes a huge message.

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` quoted as a Rust string literal (control characters escaped), cut
/// after `max_chars` characters with `…` and the full length in bytes.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], grouped(text.len() as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(199_990), "199,990");
        assert_eq!(grouped(8_388_608), "8,388,608");
    }

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
