//! Copying text to the clipboard through the terminal: OSC 52
//! (`ESC ] 52 ; c ; BASE64 BEL`). The terminal itself sets its clipboard,
//! so it works over ssh, and in tmux with `set-clipboard on`; no X or
//! Wayland client is needed. The state asks for a copy with
//! [`super::app::Request::Copy`]; the event loop writes the sequence
//! between two frames. The payload is base64, so no byte of the text
//! reaches the terminal as such.

use std::io::Write;

/// The most bytes of text sent (several terminals refuse longer
/// sequences; a fix is a few hundred bytes).
pub const MAX_BYTES: usize = 74_994;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The OSC 52 sequence that puts `text` on the clipboard (`None` when it
/// is too long to send).
pub fn osc52(text: &str) -> Option<String> {
    (text.len() <= MAX_BYTES).then(|| format!("\x1b]52;c;{}\x07", base64(text.as_bytes())))
}

/// Writes the sequence for `text` to the terminal, and flushes.
pub fn write(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    let Some(seq) = osc52(text) else {
        return Err(std::io::Error::other(
            "the text is too long for the clipboard",
        ));
    };
    out.write_all(seq.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        // RFC 4648, section 10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x3f]), "//4/");
    }

    #[test]
    fn the_sequence_carries_the_text_in_base64_and_nothing_raw() {
        let text = "sysctl -w net.ipv4.ip_local_reserved_ports=44600";
        assert_eq!(
            osc52(text).unwrap(),
            "\x1b]52;c;c3lzY3RsIC13IG5ldC5pcHY0LmlwX2xvY2FsX3Jlc2VydmVkX3BvcnRzPTQ0NjAw\x07"
        );
        let hostile = "a\x1b]0;x\x07\nb";
        let seq = osc52(hostile).unwrap();
        assert_eq!(seq.matches('\x1b').count(), 1, "{seq:?}");
        assert_eq!(seq.matches('\x07').count(), 1, "{seq:?}");
        assert!(osc52(&"x".repeat(MAX_BYTES + 1)).is_none());
        let mut out = Vec::new();
        write(&mut out, "ok").unwrap();
        assert_eq!(out, b"\x1b]52;c;b2s=\x07");
        assert!(write(&mut out, &"x".repeat(MAX_BYTES + 1)).is_err());
    }
}
