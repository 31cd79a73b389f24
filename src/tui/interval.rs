//! `--interval`: how often the dashboard rescans, parsed and bounded.

use std::time::Duration;

/// Below this the scan itself (a full `/proc` walk) would dominate the CPU.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Above this the dashboard is no longer live.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

const EXAMPLES: &str = "expected a duration like 1, 0.5, 500ms, 2s or 1m";

fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Formats an interval the way a user would type it (`500ms`, `1s`, `2.5s`).
pub fn format_interval(d: Duration) -> String {
    show(d)
}

/// Parses an interval: a plain number is seconds (`1`, `0.5`); a unit may
/// follow (`500ms`, `2s`, `1m`, `1h`). Refuses zero, negative numbers,
/// garbage, and values outside 100ms..=1h, saying why.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    if number.is_empty() {
        return Err(format!("not a duration: {EXAMPLES}"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {EXAMPLES}"))?;
    if !value.is_finite() {
        return Err(format!("not a duration: {EXAMPLES}"));
    }
    if value < 0.0 {
        return Err(format!("negative: {EXAMPLES}"));
    }
    let seconds_per_unit = match unit {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} (use ms, s, m or h): {EXAMPLES}"
            ));
        }
    };
    let seconds = value * seconds_per_unit;
    if seconds == 0.0 {
        return Err(format!(
            "the interval must be positive (at least {})",
            show(MIN_INTERVAL)
        ));
    }
    if seconds > MAX_INTERVAL.as_secs_f64() {
        return Err(format!(
            "too long: at most {} between refreshes",
            show(MAX_INTERVAL)
        ));
    }
    let d = Duration::from_secs_f64(seconds);
    if d < MIN_INTERVAL {
        return Err(format!(
            "too short: at least {} between refreshes (each one reads all of /proc)",
            show(MIN_INTERVAL)
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_seconds_fractions_and_units() {
        let ok = |s: &str| parse_interval(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("1"), Duration::from_secs(1));
        assert_eq!(ok("0.5"), Duration::from_millis(500));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("2s"), Duration::from_secs(2));
        assert_eq!(ok(" 2 s "), Duration::from_secs(2));
        assert_eq!(ok("100ms"), MIN_INTERVAL);
        assert_eq!(ok("1m"), Duration::from_secs(60));
        assert_eq!(ok("1h"), MAX_INTERVAL);
        assert_eq!(ok("3600"), MAX_INTERVAL);
    }

    #[test]
    fn refuses_zero_negative_garbage_and_extremes_with_a_reason() {
        let err = |s: &str| parse_interval(s).expect_err(s);
        assert!(err("0").contains("positive"));
        assert!(err("0s").contains("positive"));
        assert!(err("0ms").contains("positive"));
        assert!(err("-1").contains("negative"));
        assert!(err("-0.5s").contains("negative"));
        assert!(err("fast").contains("not a duration"));
        assert!(err("").contains("not a duration"));
        assert!(err("1.2.3").contains("not a duration"));
        assert!(err("nan").contains("not a duration"));
        assert!(err("5 parsecs").contains("unknown unit"));
        assert!(err("99ms").contains("too short"));
        assert!(err("0.01").contains("too short"));
        assert!(err("3601").contains("too long"));
        assert!(err("2h").contains("too long"));
        assert!(err("1e400").contains("not a duration") || err("1e400").contains("unit"));
    }

    #[test]
    fn formats_as_typed() {
        assert_eq!(format_interval(Duration::from_millis(500)), "500ms");
        assert_eq!(format_interval(Duration::from_secs(1)), "1s");
        assert_eq!(format_interval(Duration::from_millis(2500)), "2.5s");
        assert_eq!(format_interval(Duration::from_secs(90)), "90s");
        assert_eq!(format_interval(Duration::from_secs(120)), "2m");
        assert_eq!(format_interval(MAX_INTERVAL), "1h");
    }
}
