//! The precedence, once for every setting: flag > environment > file >
//! default. The environment and the file are folded into the clap
//! definition as each flag's default (so clap's own flag-over-default rule
//! finishes the job), after each value has passed the flag's own parser;
//! a setting no flag sets yet is resolved here the same way and carried.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command};

use super::colours::ColourOverrides;
use super::file::{self, ConfigFile, FileValue};
use super::keys::KeySetting;
use super::settings::{SETTINGS, Setting};
use super::{ConfigError, Location, Origin};

/// Looks up an environment variable (the real one, or a test's).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(&'static str),
    File {
        path: PathBuf,
        line: usize,
    },
    Default,
    /// No value, and no default: the program's behaviour without it.
    Unset,
}

/// One setting after the environment, the file and the default.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub setting: &'static Setting,
    pub value: Option<String>,
    pub source: Source,
    /// A flag sets it (on the command line, it wins over `value`).
    pub has_flag: bool,
}

/// The configuration layered over the command line's definition.
#[derive(Debug)]
pub struct Layered {
    /// The definition, with each flag's default taken from the layers.
    pub command: Command,
    pub location: Location,
    pub file: Option<ConfigFile>,
    pub resolved: Vec<Resolved>,
}

impl Layered {
    /// Parses the command line against the layered definition.
    pub fn matches(&self, argv: &[OsString]) -> Result<ArgMatches, clap::Error> {
        self.command.clone().try_get_matches_from(argv)
    }

    /// A setting, by `section` and `key`.
    pub fn get(&self, section: &str, key: &str) -> Option<&Resolved> {
        self.resolved
            .iter()
            .find(|r| r.setting.section == section && r.setting.key == key)
    }

    pub fn colours(&self) -> ColourOverrides {
        ColourOverrides(
            self.file
                .as_ref()
                .map_or_else(Vec::new, |f| f.colours.clone()),
        )
    }

    pub fn keys(&self) -> &[KeySetting] {
        self.file.as_ref().map_or(&[], |f| &f.keys)
    }
}

/// Reads the file that `argv` and the environment point to, checks it and
/// the environment, and folds both into `base`. Generated documents
/// (`completions`, `man`, `config --default`) use no file, so that what a
/// package ships does not depend on the packager's own settings.
pub fn prepare(base: Command, argv: &[OsString], env: Env) -> Result<Layered, ConfigError> {
    let location = super::locate(&base, argv, env);
    let file = match &location {
        Location::Given(path) => Some(file::read(path)?),
        Location::Default(path) if path.exists() => Some(file::read(path)?),
        _ => None,
    };
    let mut command = base;
    let mut resolved = Vec::with_capacity(SETTINGS.len());
    for (i, setting) in SETTINGS.iter().enumerate() {
        let arg = find_arg(&command, setting).cloned();
        let in_file = file.as_ref().and_then(|f| Some((f, f.value(i)?)));
        let r = resolve(setting, arg.as_ref(), in_file, env)?;
        if arg.is_some() {
            command = fold(command, setting, r.value.clone(), &r.source);
        }
        resolved.push(r);
    }
    super::repro::check(&resolved)?;
    Ok(Layered {
        command,
        location,
        file,
        resolved,
    })
}

fn find_arg<'a>(cmd: &'a Command, s: &Setting) -> Option<&'a Arg> {
    let owner = match s.command {
        Some(name) => cmd.find_subcommand(name)?,
        None => cmd,
    };
    owner.get_arguments().find(|a| a.get_id() == s.arg)
}

/// Environment, then file, then default, each checked by the flag's parser.
fn resolve(
    setting: &'static Setting,
    arg: Option<&Arg>,
    in_file: Option<(&ConfigFile, &FileValue)>,
    env: Env,
) -> Result<Resolved, ConfigError> {
    let check = |v: &str| match arg {
        Some(a) => check_with_flag(a, v),
        None => setting.fallback.map_or(Ok(()), |f| (f.check)(v)),
    };
    let done = |value: Option<String>, source| Resolved {
        setting,
        value,
        source,
        has_flag: arg.is_some(),
    };
    if let Some(v) = env(setting.env).filter(|v| !v.is_empty()) {
        check(&v).map_err(|message| ConfigError {
            origin: Origin::Env(setting.env.to_string()),
            key: None,
            message,
        })?;
        return Ok(done(Some(v), Source::Env(setting.env)));
    }
    if let Some((f, v)) = in_file {
        check(&v.text).map_err(|m| f.error(v.line, &setting.name(), m))?;
        let source = Source::File {
            path: f.path.clone(),
            line: v.line,
        };
        return Ok(done(Some(v.text.clone()), source));
    }
    let default = match arg {
        Some(a) => a
            .get_default_values()
            .first()
            .map(|d| d.to_string_lossy().into_owned()),
        None => setting.fallback.map(|f| f.default.to_string()),
    };
    Ok(match default {
        Some(d) => done(Some(d), Source::Default),
        None => done(None, Source::Unset),
    })
}

/// Runs `value` through the flag's own parser, as if typed after it, and
/// returns clap's complaint (without its usage lines) if it has one.
fn check_with_flag(arg: &Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or(arg.get_id().as_str()).to_string();
    let probe = Arg::new("probe")
        .long(long.clone())
        .value_parser(arg.get_value_parser().clone())
        .allow_hyphen_values(true)
        .value_names(arg.get_value_names().unwrap_or_default().to_vec());
    let cmd = Command::new("selfconn-tui").no_binary_name(true).arg(probe);
    match cmd.try_get_matches_from([format!("--{long}={value}")]) {
        Ok(_) => Ok(()),
        Err(e) => Err(clap_message(&e)),
    }
}

/// clap's message, one line: `invalid value 'x' for '--theme <THEME>' [...]`.
fn clap_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let text: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    text.join(" ").trim_start_matches("error: ").to_string()
}

/// Makes the layered value the flag's default, and names its variable.
fn fold(cmd: Command, s: &Setting, value: Option<String>, source: &Source) -> Command {
    let env = s.env;
    let layered = !matches!(source, Source::Default | Source::Unset);
    let edit = move |a: Arg| {
        let a = a.env(env);
        match value.filter(|_| layered) {
            Some(v) => a.default_value(v),
            None => a,
        }
    };
    match s.command {
        Some(name) => cmd.mut_subcommand(name, |sub| sub.mut_arg(s.arg, edit)),
        None => cmd.mut_arg(s.arg, edit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flags_own_parser_judges_a_layered_value() {
        let arg = Arg::new("theme")
            .long("theme")
            .value_name("THEME")
            .value_parser(["default", "high-contrast"]);
        assert_eq!(check_with_flag(&arg, "default"), Ok(()));
        let e = check_with_flag(&arg, "neon").unwrap_err();
        assert!(
            e.starts_with("invalid value 'neon' for '--theme <THEME>'"),
            "{e}"
        );
        assert!(e.contains("high-contrast"), "{e}");
        assert!(!e.contains('\n'));
    }
}
