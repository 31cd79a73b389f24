//! Small wording helpers shared by every screen and report: counts with
//! their noun, numbers grouped by thousands, the time of day. Pure.

use std::fmt::Display;

use chrono::{DateTime, TimeZone};

/// The noun for `n`: `one` for exactly 1, `many` otherwise (0 included).
pub fn plural_noun<'a, N>(n: N, one: &'a str, many: &'a str) -> &'a str
where
    N: PartialEq + From<u8>,
{
    if n == N::from(1) { one } else { many }
}

/// `1 socket`, `0 sockets`, `2 sockets` (the number as is, not grouped).
pub fn plural<N>(n: N, one: &str, many: &str) -> String
where
    N: Copy + Display + PartialEq + From<u8>,
{
    format!("{n} {}", plural_noun(n, one, many))
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
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

/// The time of day to the millisecond: `09:05:03.042` (for steps that
/// follow each other within a second).
pub fn time_of_day_millis<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: Display,
{
    t.format("%H:%M:%S%.3f").to_string()
}

/// The time of day on a 24-hour clock: `09:05:03`.
pub fn time_of_day<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: Display,
{
    t.format("%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn nouns_follow_the_count() {
        assert_eq!(plural(0usize, "socket", "sockets"), "0 sockets");
        assert_eq!(plural(1usize, "socket", "sockets"), "1 socket");
        assert_eq!(plural(2u64, "attempt", "attempts"), "2 attempts");
        assert_eq!(plural(1u64, "was", "were"), "1 was");
        assert_eq!(plural(12345u32, "port", "ports"), "12345 ports");
        assert_eq!(plural_noun(1u16, "it", "them"), "it");
        assert_eq!(plural_noun(3u16, "it", "them"), "them");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(100_000), "100,000");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn time_of_day_is_hours_minutes_seconds_in_the_given_zone() {
        let t = Utc.with_ymd_and_hms(2024, 3, 9, 9, 5, 3).unwrap();
        assert_eq!(time_of_day(&t), "09:05:03");
        let east = t.with_timezone(&FixedOffset::east_opt(2 * 3600).unwrap());
        assert_eq!(time_of_day(&east), "11:05:03");
        let late = Utc.with_ymd_and_hms(2024, 3, 9, 23, 59, 59).unwrap();
        assert_eq!(time_of_day(&late), "23:59:59");
    }
}
