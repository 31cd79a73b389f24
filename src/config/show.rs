//! What `selfconn-tui config` prints: the configuration in effect as TOML,
//! each value with where it came from; and with `--default`, a commented
//! file to start from (`##` lines say what a setting does, `# key = value`
//! lines are the defaults, ready to uncomment).

use std::fmt::Write;

use super::colours::ELEMENTS;
use super::keys::{action_name, key_name};
use super::layers::{Layered, Resolved, Source};
use super::settings::{Kind, SECTIONS, Setting};
use crate::tui::keymap::{self, KEYMAP};
use crate::tui::panes::help::worded;

/// The configuration in effect.
pub fn effective(l: &Layered) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The configuration in effect, and where each value comes from."
    );
    let _ = writeln!(out, "# File: {}", l.location);
    let _ = writeln!(
        out,
        "# A flag on the command line wins over all of these; then SELFCONN_TUI_* variables; then the file."
    );
    for section in SECTIONS {
        let _ = writeln!(out, "\n[{section}]");
        for r in l.resolved.iter().filter(|r| r.setting.section == *section) {
            let _ = writeln!(out, "{}", setting_line(r));
        }
    }
    let _ = writeln!(out, "\n[colours]");
    let colours = l.colours();
    if colours.0.is_empty() {
        let _ = writeln!(
            out,
            "# none: the theme's own (see `config --default` for the elements)"
        );
    }
    for c in &colours.0 {
        let _ = writeln!(
            out,
            "{} = {} # file {}:{}",
            c.element,
            quoted(&c.spec),
            l.file
                .as_ref()
                .map_or_else(String::new, |f| f.path.display().to_string()),
            c.line
        );
    }
    let _ = writeln!(out, "\n[keys]");
    for b in KEYMAP {
        let line = match l.keys().iter().find(|k| k.action == b.command) {
            Some(k) => format!("{} # file {}:{}", key_list(&k.keys), file_name(l), k.line),
            None => format!("{} # default", key_list(b.keys)),
        };
        let _ = writeln!(out, "{} = {line}", action_name(b.command));
    }
    out
}

fn file_name(l: &Layered) -> String {
    l.file
        .as_ref()
        .map_or_else(String::new, |f| f.path.display().to_string())
}

fn setting_line(r: &Resolved) -> String {
    let s = r.setting;
    let flag = if r.has_flag {
        format!("; flag --{}", s.arg.replace('_', "-"))
    } else {
        String::new()
    };
    let from = match &r.source {
        Source::Env(var) => format!("environment {var}"),
        Source::File { path, line } => format!("file {}:{line}", path.display()),
        Source::Default => "default".to_string(),
        Source::Unset => "not set".to_string(),
    };
    match &r.value {
        Some(v) => format!("{} = {} # {from}{flag}", s.key, toml_value(s, v)),
        None => format!("# {} = {} # {from}{flag}", s.key, s.example),
    }
}

/// A value as TOML: numbers bare, everything else quoted.
fn toml_value(s: &Setting, v: &str) -> String {
    let numeric = matches!(s.kind, Kind::Number | Kind::Duration);
    if numeric && v.parse::<i64>().is_ok() {
        return v.to_string();
    }
    if numeric
        && let Ok(f) = v.parse::<f64>()
        && f.is_finite()
    {
        let mut t = f.to_string();
        if !t.contains(['.', 'e', 'E']) {
            t.push_str(".0");
        }
        return t;
    }
    quoted(v)
}

fn quoted(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

fn key_list(keys: &[keymap::Key]) -> String {
    match keys {
        [one] => quoted(&key_name(one)),
        many => {
            let names: Vec<String> = many.iter().map(|k| quoted(&key_name(k))).collect();
            format!("[{}]", names.join(", "))
        }
    }
}

/// A file to start from: every setting with its default, commented out.
pub fn default_file(l: &Layered) -> String {
    let mut out = String::from(
        "## selfconn-tui configuration: $XDG_CONFIG_HOME/selfconn-tui/config.toml\n\
         ## (else ~/.config/selfconn-tui/config.toml; another file with --config FILE,\n\
         ## none with --no-config). `selfconn-tui config` shows what is in effect.\n\
         ## Precedence: flags > environment (SELFCONN_TUI_*) > this file > defaults.\n\
         ## Lines starting with one # are the defaults: uncomment to change one.\n",
    );
    for section in SECTIONS {
        let _ = writeln!(out, "\n[{section}]");
        for r in l.resolved.iter().filter(|r| r.setting.section == *section) {
            let s = r.setting;
            let flag = if r.has_flag {
                format!(", --{}", s.arg.replace('_', "-"))
            } else {
                String::new()
            };
            let _ = writeln!(out, "## {} ({}{flag})", s.doc, s.env);
            let value = r
                .value
                .as_deref()
                .map_or(s.example.to_string(), |v| toml_value(s, v));
            let _ = writeln!(out, "# {} = {value}", s.key);
        }
    }
    out.push_str(
        "\n[colours]\n\
         ## Changes to the theme's styles: [attributes] [colour] [on colour], with the\n\
         ## attributes bold, dim, italic, underlined, reversed and a colour as a name\n\
         ## (red, light-blue, dark-gray...), #rrggbb or 0-255. NO_COLOR=1 turns them off.\n\
         ## The elements:\n",
    );
    for (name, what) in ELEMENTS {
        let _ = writeln!(out, "##   {name:<15} {what}");
    }
    out.push_str("# self_connect = \"bold white on red\"\n");
    out.push_str(
        "\n[keys]\n\
         ## action = \"key\" or [\"key\", \"key\"]: one character, Ctrl-x, F1-F12, space, Esc,\n\
         ## Enter, Tab, Shift-Tab, Backspace, Up, Down, Left, Right, Home, End, PgUp, PgDn.\n\
         ## A rebinding replaces all keys of the action; a key bound twice is refused.\n",
    );
    for b in KEYMAP {
        let _ = writeln!(out, "## {}", worded(b.help, KEYMAP));
        let _ = writeln!(out, "# {} = {}", action_name(b.command), key_list(b.keys));
    }
    out
}
