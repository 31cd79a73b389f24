//! Reads text in lines of bounded length, up to a bounded total, from
//! input that may be hostile: a line far longer than any real one is
//! measured and skipped without being kept, and input that never ends
//! (a crafted file, `/dev/zero`) stops at the limit.

use std::io::BufRead;

/// What one call of [`BoundedLines::next_into`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line of at most `max_line` bytes, appended (without its newline).
    Text,
    /// A longer line, of this many bytes: consumed, nothing appended.
    TooLong(u64),
    /// The end of the input.
    End,
    /// `limit` bytes were read: no more will be.
    Limit,
}

/// Lines of at most `max_line` bytes out of at most `limit`.
pub struct BoundedLines<R> {
    reader: R,
    max_line: usize,
    consumed: u64,
    limit: u64,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(reader: R, max_line: usize, limit: u64) -> Self {
        BoundedLines {
            reader,
            max_line,
            consumed: 0,
            limit,
        }
    }

    /// Appends the next line to `out` when it fits; a longer one is read
    /// through to its end and only measured. Each pass of the loop consumes
    /// at least one byte or returns, and the total is bounded by `limit`.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> std::io::Result<Line> {
        let start = out.len();
        let mut len: u64 = 0;
        loop {
            if self.consumed >= self.limit {
                out.truncate(start);
                return Ok(Line::Limit);
            }
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(match len {
                    0 => Line::End,
                    n if n > self.max_line as u64 => Line::TooLong(n),
                    _ => Line::Text,
                });
            }
            let room = (self.limit - self.consumed).min(available.len() as u64) as usize;
            let available = &available[..room];
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(available.len());
            let fits = len + take as u64 <= self.max_line as u64;
            if fits {
                out.extend_from_slice(&available[..take]);
            } else if len <= self.max_line as u64 {
                out.truncate(start);
            }
            len += take as u64;
            let used = take + usize::from(newline.is_some());
            self.reader.consume(used);
            self.consumed += used as u64;
            if newline.is_some() {
                return Ok(if len > self.max_line as u64 {
                    Line::TooLong(len)
                } else {
                    Line::Text
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max_line: usize, limit: u64) -> Vec<(Line, String)> {
        let mut lines = BoundedLines::new(input, max_line, limit);
        let mut out = Vec::new();
        for _ in 0..100 {
            let mut buf = Vec::new();
            let line = lines.next_into(&mut buf).unwrap();
            let done = matches!(line, Line::End | Line::Limit);
            out.push((line, String::from_utf8(buf).unwrap()));
            if done {
                break;
            }
        }
        out
    }

    #[test]
    fn lines_within_the_bound_are_kept_and_longer_ones_measured() {
        let got = all(b"abc\n123456\n\nxyz", 4, 1000);
        let want = [
            (Line::Text, "abc"),
            (Line::TooLong(6), ""),
            (Line::Text, ""),
            (Line::Text, "xyz"),
            (Line::End, ""),
        ];
        assert_eq!(got, want.map(|(l, s)| (l, s.to_string())));
        // Exactly the bound fits; the last line may lack its newline.
        assert_eq!(all(b"abcd", 4, 1000)[0], (Line::Text, "abcd".into()));
        assert_eq!(all(b"abcde", 4, 1000)[0], (Line::TooLong(5), String::new()));
    }

    #[test]
    fn a_long_line_across_many_buffer_fills_is_skipped_whole() {
        let mut text = vec![b'x'; 100_000];
        text.extend_from_slice(b"\nok\n");
        let reader = std::io::BufReader::with_capacity(64, &text[..]);
        let mut lines = BoundedLines::new(reader, 16, u64::MAX);
        let mut buf = Vec::new();
        assert_eq!(lines.next_into(&mut buf).unwrap(), Line::TooLong(100_000));
        assert!(buf.is_empty());
        assert_eq!(lines.next_into(&mut buf).unwrap(), Line::Text);
        assert_eq!(buf, b"ok");
    }

    #[test]
    fn endless_input_stops_at_the_limit() {
        let endless = std::io::BufReader::new(std::io::repeat(b'z'));
        let mut lines = BoundedLines::new(endless, 16, 1 << 20);
        let mut buf = Vec::new();
        assert_eq!(lines.next_into(&mut buf).unwrap(), Line::Limit);
        assert!(buf.is_empty());
        let newlines = std::io::BufReader::new(std::io::repeat(b'\n'));
        let mut lines = BoundedLines::new(newlines, 16, 10);
        let results: Vec<Line> = (0..11)
            .map(|_| lines.next_into(&mut buf).unwrap())
            .collect();
        assert_eq!(results[9], Line::Text);
        assert_eq!(results[10], Line::Limit);
    }
}
