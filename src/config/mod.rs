//! The configuration file, the `SELFCONN_TUI_*` environment and the
//! precedence between them and the flags (flag > environment > file >
//! default), for every setting.
//!
//! Modules: [`settings`] (the table of settings), [`file`] (reading and
//! checking the TOML), [`layers`] (the precedence, folded into clap),
//! [`colours`] (`[colours]`), [`keys`] (`[keys]`), [`repro`] (`[repro]`
//! as the dashboard's repro pane starts), [`show`] (what
//! `selfconn-tui config` prints).

pub mod colours;
pub mod file;
pub mod keys;
pub mod layers;
pub mod repro;
pub mod settings;
pub mod show;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use clap::Command;

pub use layers::{Env, Layered, Resolved, Source, prepare};

/// Where a bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: PathBuf, line: Option<usize> },
    Env(String),
}

/// A bad file or variable: where, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { path, line } => {
                write!(f, "{}", path.display())?;
                if let Some(l) = line {
                    write!(f, ":{l}")?;
                }
            }
            Origin::Env(var) => write!(f, "environment variable {var}")?,
        }
        if let Some(k) = &self.key {
            write!(f, ": {k}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Which file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `--config FILE` or `SELFCONN_TUI_CONFIG`: it must exist.
    Given(PathBuf),
    /// `$XDG_CONFIG_HOME/selfconn-tui/config.toml`: read if it exists.
    Default(PathBuf),
    /// `--no-config`.
    Disabled,
    /// A generated document (completions, man page, default file).
    Pristine,
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set.
    Nowhere,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Given(p) => write!(f, "{}", p.display()),
            Location::Default(p) if p.exists() => write!(f, "{}", p.display()),
            Location::Default(p) => write!(f, "{} (not found: defaults apply)", p.display()),
            Location::Disabled => write!(f, "none (--no-config)"),
            Location::Pristine => write!(f, "none (generated documents use the defaults)"),
            Location::Nowhere => write!(f, "none (neither XDG_CONFIG_HOME nor HOME is set)"),
        }
    }
}

/// `$XDG_CONFIG_HOME/selfconn-tui/config.toml`, else `~/.config/...`
/// (a relative `XDG_CONFIG_HOME` is ignored, as the spec says).
pub fn default_path(env: Env) -> Option<PathBuf> {
    let xdg = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        env("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
    })?;
    Some(base.join("selfconn-tui").join("config.toml"))
}

/// Which file `argv` asks for. The command line is parsed leniently first,
/// only for `--config`, `--no-config` and the subcommand.
pub fn locate(base: &Command, argv: &[OsString], env: Env) -> Location {
    let pre = base
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(argv)
        .ok();
    let flag = |m: &clap::ArgMatches, id: &str| {
        m.try_get_one::<bool>(id)
            .ok()
            .flatten()
            .copied()
            .unwrap_or(false)
    };
    let (mut given, mut disabled) = (None, argv.iter().any(|a| a == "--no-config"));
    if let Some(m) = &pre {
        match m.subcommand() {
            Some(("completions" | "man", _)) => return Location::Pristine,
            Some(("config", c)) if flag(c, "default") => return Location::Pristine,
            _ => {}
        }
        disabled |= flag(m, "no_config");
        given = m.try_get_one::<PathBuf>("config").ok().flatten().cloned();
    }
    if given.is_none() {
        // Help or a usage error stopped the lenient parse: still read the
        // file the user named.
        given = argv
            .iter()
            .position(|a| a == "--config")
            .and_then(|i| argv.get(i + 1))
            .map(PathBuf::from);
    }
    if disabled {
        return Location::Disabled;
    }
    if let Some(p) = given.or_else(|| {
        env("SELFCONN_TUI_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }) {
        return Location::Given(p);
    }
    default_path(env).map_or(Location::Nowhere, Location::Default)
}
