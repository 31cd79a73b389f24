//! `[repro]` for the dashboard: the repro pane's first host, mode and
//! pace come from the same settings as `selfconn-tui repro`'s flags (after
//! the environment and the file), and a host the pane's field cannot hold
//! is refused where the file is read, with its file and line.

use crate::core::sanitize::terminal_safe_cut;
use crate::repro::Mode;
use crate::tui::repro::{FormDefaults, Pace, fits_host_field};

use super::layers::{Layered, Resolved, Source};
use super::{ConfigError, Origin};

/// The pane's first values. Each value already passed its flag's parser
/// ([`super::prepare`]) and the host [`check`]; one that does not parse
/// here keeps the pane's own default.
pub fn pane_defaults(layered: &Layered) -> FormDefaults {
    let value = |key| layered.get("repro", key).and_then(|r| r.value.clone());
    let mut d = FormDefaults::default();
    if let Some(host) = value("host").filter(|h| fits_host_field(h)) {
        d.host = host.trim().to_string();
    }
    if let Some(mode) = value("mode").and_then(|m| m.trim().parse::<Mode>().ok()) {
        d.mode = mode;
    }
    if let Some(rate) = value("rate").and_then(|r| r.trim().parse::<f64>().ok()) {
        d.pace = Pace::from_rate(Some(rate));
    }
    d
}

/// A `[repro] host` from the file or the environment that the pane's
/// host field could not hold (spaces, control characters, too long) is a
/// clear error rather than a form that shows something else.
pub fn check(resolved: &[Resolved]) -> Result<(), ConfigError> {
    let Some(r) = resolved
        .iter()
        .find(|r| r.setting.section == "repro" && r.setting.key == "host")
    else {
        return Ok(());
    };
    let Some(host) = r.value.as_deref().filter(|h| !fits_host_field(h)) else {
        return Ok(());
    };
    let message = format!(
        "{:?} is not a host: a literal address (127.0.0.1, ::1, one of this machine's) or \
         localhost, at most 64 letters, digits and . : - _ [ ] %",
        terminal_safe_cut(host, 40)
    );
    let origin = match &r.source {
        Source::Env(var) => Origin::Env(var.to_string()),
        Source::File { path, line } => Origin::File {
            path: path.clone(),
            line: Some(*line),
        },
        // The flag's own default is a good host.
        Source::Default | Source::Unset => return Ok(()),
    };
    let key = matches!(origin, Origin::File { .. }).then(|| r.setting.name());
    Err(ConfigError {
        origin,
        key,
        message,
    })
}
