//! Every setting the configuration file can hold, as data: where it goes in
//! the file, which flag it stands behind, and its environment variable. The
//! precedence (flag > environment > file > default) is applied to each one
//! by the same code ([`super::layers`]), so adding a setting is one row.

use std::net::SocketAddr;

/// How a value is written in TOML (and printed back by `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string; a bare number is taken as its text (`netns = 4242`).
    Text,
    /// A number, or a string holding one (`max_time = 30`, `"2.5"`).
    Number,
    /// A duration: a number of seconds, or a string with a unit (`"500ms"`).
    Duration,
}

/// A setting no flag sets yet: its default and its check. When a flag
/// with the same id appears (a later `serve --listen`), the flag's own
/// parser and default take over and this is not used.
#[derive(Debug, Clone, Copy)]
pub struct Fallback {
    pub default: &'static str,
    pub check: fn(&str) -> Result<(), String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// `[section]` in the file.
    pub section: &'static str,
    pub key: &'static str,
    /// The subcommand whose flag this is (`None`: the dashboard, no subcommand).
    pub command: Option<&'static str>,
    /// The flag's id in clap (the field name).
    pub arg: &'static str,
    pub env: &'static str,
    pub kind: Kind,
    pub fallback: Option<Fallback>,
    /// One line for the default file, and a value to show there when the
    /// setting has no default.
    pub doc: &'static str,
    pub example: &'static str,
}

impl Setting {
    /// `section.key`, as error messages name it.
    pub fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// The sections, in the order of the file.
pub const SECTIONS: &[&str] = &["dashboard", "scan", "repro", "live", "incidents", "serve"];

pub const SETTINGS: &[Setting] = &[
    Setting {
        section: "dashboard",
        key: "interval",
        command: None,
        arg: "interval",
        env: "SELFCONN_TUI_INTERVAL",
        kind: Kind::Duration,
        fallback: None,
        doc: "Time between scans: 1, 0.5, \"500ms\", \"2s\", \"1m\" (from 100ms to 1h)",
        example: "\"1s\"",
    },
    Setting {
        section: "dashboard",
        key: "theme",
        command: None,
        arg: "theme",
        env: "SELFCONN_TUI_THEME",
        kind: Kind::Text,
        fallback: None,
        doc: "Colours: \"default\" (dark terminals) or \"high-contrast\" (projectors); NO_COLOR=1 wins",
        example: "\"high-contrast\"",
    },
    Setting {
        section: "scan",
        key: "netns",
        command: Some("scan"),
        arg: "netns",
        env: "SELFCONN_TUI_NETNS",
        kind: Kind::Text,
        fallback: None,
        doc: "Scan only this network namespace (a name, an id, \"own\", a container id or a PID); unset: all",
        example: "\"own\"",
    },
    Setting {
        section: "repro",
        key: "host",
        command: Some("repro"),
        arg: "host",
        env: "SELFCONN_TUI_REPRO_HOST",
        kind: Kind::Text,
        fallback: None,
        doc: "The host to connect to: loopback or an address of this machine (also the dashboard's repro pane's first host)",
        example: "\"::1\"",
    },
    Setting {
        section: "repro",
        key: "mode",
        command: Some("repro"),
        arg: "mode",
        env: "SELFCONN_TUI_REPRO_MODE",
        kind: Kind::Text,
        fallback: None,
        doc: "How each attempt gets its socket and source port (see `selfconn-tui repro --help`); also the repro pane's first mode",
        example: "\"fresh\"",
    },
    Setting {
        section: "repro",
        key: "rate",
        command: Some("repro"),
        arg: "rate",
        env: "SELFCONN_TUI_REPRO_RATE",
        kind: Kind::Number,
        fallback: None,
        doc: "Attempts per second; unset: as fast as possible (the repro pane starts at this pace, in whole attempts per second)",
        example: "200",
    },
    Setting {
        section: "repro",
        key: "max_attempts",
        command: Some("repro"),
        arg: "max_attempts",
        env: "SELFCONN_TUI_REPRO_MAX_ATTEMPTS",
        kind: Kind::Number,
        fallback: None,
        doc: "`selfconn-tui repro` gives up after this many attempts (the repro pane's runs go on until stopped, 5 minutes at most)",
        example: "100000",
    },
    Setting {
        section: "repro",
        key: "max_time",
        command: Some("repro"),
        arg: "max_time",
        env: "SELFCONN_TUI_REPRO_MAX_TIME",
        kind: Kind::Number,
        fallback: None,
        doc: "`selfconn-tui repro` gives up after this many seconds (the repro pane's runs go on until stopped, 5 minutes at most)",
        example: "30",
    },
    Setting {
        section: "live",
        key: "storm_refusals",
        command: None,
        arg: "storm_refusals",
        env: "SELFCONN_TUI_STORM_REFUSALS",
        kind: Kind::Number,
        fallback: Some(Fallback {
            default: "100",
            check: check_count,
        }),
        doc: "A retry storm: at least this many refused connects to one in-range port...",
        example: "100",
    },
    Setting {
        section: "live",
        key: "storm_window",
        command: None,
        arg: "storm_window",
        env: "SELFCONN_TUI_STORM_WINDOW",
        kind: Kind::Duration,
        fallback: Some(Fallback {
            default: "10s",
            check: check_window,
        }),
        doc: "...within this time",
        example: "\"10s\"",
    },
    Setting {
        section: "incidents",
        key: "window",
        command: None,
        arg: "incident_window",
        env: "SELFCONN_TUI_INCIDENT_WINDOW",
        kind: Kind::Duration,
        fallback: None,
        doc: "A self-connect on a port whose listener went this long ago or less is reported as the port stolen (1s to 24h)",
        example: "\"10m\"",
    },
    Setting {
        section: "serve",
        key: "listen",
        command: Some("serve"),
        arg: "listen",
        env: "SELFCONN_TUI_LISTEN",
        kind: Kind::Text,
        fallback: Some(Fallback {
            default: "127.0.0.1:9977",
            check: check_listen,
        }),
        doc: "Where `selfconn-tui serve` answers Prometheus (ADDRESS:PORT)",
        example: "\"127.0.0.1:9977\"",
    },
];

/// The setting at `[section] key`.
pub fn find(section: &str, key: &str) -> Option<usize> {
    SETTINGS
        .iter()
        .position(|s| s.section == section && s.key == key)
}

/// The incident window: seconds, or a number with a unit (`90s`, `10m`,
/// `2h`), from 1 s to 24 h.
pub fn parse_incident_window(text: &str) -> Result<std::time::Duration, String> {
    const EXPECTED: &str = "expected a duration from 1s to 24h, like 90s, 10m or 2h";
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: {EXPECTED}"))?;
    let per_unit = match unit {
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit {unit:?}: {EXPECTED}")),
    };
    let secs = value * per_unit;
    if !(1.0..=86_400.0).contains(&secs) {
        return Err(format!("{text:?} is out of range: {EXPECTED}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn check_count(s: &str) -> Result<(), String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(()),
        _ => Err(format!(
            "{s:?} is not a whole number of refusals from 1 to 1000000"
        )),
    }
}

fn check_window(s: &str) -> Result<(), String> {
    crate::tui::interval::parse_interval(s).map(|_| ())
}

fn check_listen(s: &str) -> Result<(), String> {
    s.trim().parse::<SocketAddr>().map(|_| ()).map_err(|_| {
        format!("{s:?} is not ADDRESS:PORT (for example 127.0.0.1:9977 or [::1]:9977)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_in_a_known_section_once_and_its_fallback_passes_its_check() {
        for (i, s) in SETTINGS.iter().enumerate() {
            assert!(SECTIONS.contains(&s.section), "{}", s.name());
            assert_eq!(find(s.section, s.key), Some(i), "{} twice", s.name());
            assert!(s.env.starts_with("SELFCONN_TUI_"), "{}", s.env);
            if let Some(f) = s.fallback {
                assert_eq!((f.check)(f.default), Ok(()), "{}", s.name());
            }
        }
        assert!(check_count("0").is_err());
        assert!(check_listen("localhost").is_err());
        assert!(check_window("0").is_err());
        let w = |s| parse_incident_window(s).map(|d| d.as_secs());
        assert_eq!(w("10m"), Ok(600));
        assert_eq!(w("2h"), Ok(7200));
        assert_eq!(w(" 90 "), Ok(90));
        assert!(w("0").is_err() && w("25h").is_err() && w("10x").is_err() && w("-1").is_err());
    }
}
