//! The configuration file and the environment under the flags: the
//! precedence for every setting, bad files and the printed configuration.
//! What reaches the dashboard is in `config_dashboard.rs`.

mod common;
mod config_support;

use config_support::{layered, write};

use std::collections::HashMap;
use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use selfconn_tui::cli::{Cli, Command};
use selfconn_tui::config::settings::{SETTINGS, Setting};
use selfconn_tui::config::{self, Layered, Source};

/// Two valid values per setting, different from each other.
fn values(s: &Setting) -> (&'static str, &'static str) {
    match (s.section, s.key) {
        ("dashboard", "interval") => ("3s", "250ms"),
        ("dashboard", "theme") => ("default", "high-contrast"),
        ("scan", "netns") => ("own", "host"),
        ("repro", "host") => ("::1", "127.0.0.2"),
        ("repro", "mode") => ("reuse", "bind-first"),
        ("repro", "rate") => ("5", "7.5"),
        ("repro", "max_attempts") => ("11", "12"),
        ("repro", "max_time") => ("2", "3.5"),
        ("live", "storm_refusals") => ("50", "60"),
        ("live", "storm_window") => ("5s", "20s"),
        ("incidents", "window") => ("90s", "2h"),
        ("serve", "listen") => ("127.0.0.1:9000", "[::1]:9001"),
        other => panic!("no test values for {other:?}: add them here"),
    }
}

/// A command line that reaches the setting's flag, with `--flag=value`.
fn argv_with(s: &Setting, flag: Option<&str>) -> Vec<OsString> {
    let mut v: Vec<String> = vec!["selfconn-tui".into()];
    // A setting no flag sets yet may name a subcommand still to come.
    if let Some(sub) = s
        .command
        .filter(|c| Cli::command().find_subcommand(c).is_some())
    {
        v.push(sub.into());
    }
    if s.command == Some("repro") {
        v.extend(["--port".into(), "40000".into()]);
    }
    if let Some(f) = flag {
        v.push(format!("--{}={f}", s.arg.replace('_', "-")));
    }
    v.into_iter().map(OsString::from).collect()
}

/// The value that won, as the flag would have carried it, and whether it
/// came from the command line.
fn winner(l: &Layered, s: &Setting, argv: &[OsString]) -> (String, bool) {
    let m = l.matches(argv).expect("the command line parses");
    let m: &ArgMatches = match s.command {
        Some(sub) => m.subcommand_matches(sub).unwrap(),
        None => &m,
    };
    let raw = m
        .get_raw(s.arg)
        .and_then(|mut v| v.next())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    (raw, m.value_source(s.arg) == Some(ValueSource::CommandLine))
}

#[test]
fn flag_over_environment_over_file_over_default_for_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    for s in SETTINGS {
        let (a, b) = values(s);
        let name = s.name();
        let file = write(
            dir.path(),
            "c.toml",
            &format!("[{}]\n\n{} = {a:?}\n", s.section, s.key),
        );
        let no_env = HashMap::new();
        let env_b: HashMap<&str, String> = [(s.env, b.to_string())].into();

        // Default: no file, no variable.
        let mut argv = argv_with(s, None);
        argv.push("--no-config".into());
        let l = layered(&argv, &no_env).unwrap();
        let r = l.get(s.section, s.key).unwrap();
        assert!(
            matches!(r.source, Source::Default | Source::Unset),
            "{name}: {r:?}"
        );
        let builtin = r.value.clone();
        if r.has_flag {
            assert_eq!(
                winner(&l, s, &argv).0,
                builtin.clone().unwrap_or_default(),
                "{name}"
            );
        }

        // The file over the default, with the line it is on.
        let mut argv = argv_with(s, None);
        argv.extend(["--config".into(), file.clone().into()]);
        let l = layered(&argv, &no_env).unwrap();
        let r = l.get(s.section, s.key).unwrap();
        assert_eq!(r.value.as_deref(), Some(a), "{name}");
        assert_eq!(
            r.source,
            Source::File {
                path: file.clone(),
                line: 3
            },
            "{name}"
        );
        if r.has_flag {
            assert_eq!(winner(&l, s, &argv), (a.to_string(), false), "{name}");
        }

        // The environment over the file.
        let l = layered(&argv, &env_b).unwrap();
        let r = l.get(s.section, s.key).unwrap();
        assert_eq!(
            (r.value.as_deref(), &r.source),
            (Some(b), &Source::Env(s.env)),
            "{name}"
        );
        if r.has_flag {
            assert_eq!(winner(&l, s, &argv), (b.to_string(), false), "{name}");
            // The flag over everything.
            let mut argv = argv_with(s, Some(a));
            argv.extend(["--config".into(), file.clone().into()]);
            let l = layered(&argv, &env_b).unwrap();
            assert_eq!(winner(&l, s, &argv), (a.to_string(), true), "{name}");
        }
        assert_ne!(
            builtin.as_deref(),
            Some(b),
            "{name}: pick values other than the default"
        );
    }
}

#[test]
fn every_setting_stands_behind_a_flag_or_carries_its_own_default() {
    let l = layered(
        &["selfconn-tui".into(), "--no-config".into()],
        &HashMap::new(),
    )
    .unwrap();
    for r in &l.resolved {
        assert!(
            r.has_flag || r.setting.fallback.is_some(),
            "{} has neither a flag nor a default",
            r.setting.name()
        );
    }
}

#[test]
fn layered_values_arrive_typed_in_the_commands_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[dashboard]\ninterval = 0.5\ntheme = \"high-contrast\"\n[repro]\nmax_time = 2.5\nrate = 40\n",
    );
    let env: HashMap<&str, String> = [("SELFCONN_TUI_REPRO_MODE", "guarded".to_string())].into();
    let argv: Vec<OsString> = [
        "selfconn-tui",
        "--config",
        file.to_str().unwrap(),
        "repro",
        "--port",
        "40000",
    ]
    .map(OsString::from)
    .to_vec();
    let l = layered(&argv, &env).unwrap();
    let cli = Cli::from_arg_matches(&l.matches(&argv).unwrap()).unwrap();
    let Some(Command::Repro(r)) = cli.command else {
        panic!("repro")
    };
    assert_eq!(r.max_time, std::time::Duration::from_millis(2500));
    assert_eq!(r.rate, Some(40.0));
    assert_eq!(r.mode.name(), "guarded");
    assert_eq!(
        r.max_attempts,
        selfconn_tui::repro::Config::DEFAULT_MAX_ATTEMPTS
    );

    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let cli = Cli::from_arg_matches(&l.matches(&argv).unwrap()).unwrap();
    assert_eq!(
        cli.dashboard.interval,
        std::time::Duration::from_millis(500)
    );
    assert_eq!(
        cli.dashboard.theme,
        selfconn_tui::tui::theme::ThemeName::HighContrast
    );
}

#[test]
fn the_default_location_follows_xdg_config_home_then_home() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("selfconn-tui")).unwrap();
    write(
        &xdg.join("selfconn-tui"),
        "config.toml",
        "[repro]\nmax_attempts = 77\n",
    );
    let env: HashMap<&str, String> = [
        ("XDG_CONFIG_HOME", xdg.display().to_string()),
        ("HOME", "/nonexistent".to_string()),
    ]
    .into();
    let argv = vec![OsString::from("selfconn-tui")];
    let l = layered(&argv, &env).unwrap();
    assert_eq!(
        l.get("repro", "max_attempts").unwrap().value.as_deref(),
        Some("77")
    );
    // HOME/.config when XDG_CONFIG_HOME is unset; a missing file is no error.
    let env: HashMap<&str, String> = [("HOME", dir.path().display().to_string())].into();
    let l = layered(&argv, &env).unwrap();
    assert_eq!(
        l.location,
        config::Location::Default(dir.path().join(".config/selfconn-tui/config.toml"))
    );
    assert_eq!(
        l.get("repro", "max_attempts").unwrap().source,
        Source::Default
    );
    // A file named on the command line must exist.
    let argv: Vec<OsString> = ["selfconn-tui", "--config", "/nonexistent/c.toml"]
        .map(OsString::from)
        .to_vec();
    let e = layered(&argv, &env).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/c.toml: cannot read it"), "{e}");
}

/// `(file contents, the start of the message)` for each kind of mistake.
const BAD_FILES: &[(&str, &str)] = &[
    ("[dashboard]\ninterval = \"2s\"\n[repro\n", "c.toml:3: "),
    (
        "[repro]\nmax_attempts = 5\nmax_tries = 3\n",
        "c.toml:3: repro.max_tries: unknown key",
    ),
    ("[dashbord]\n", "c.toml:1: dashbord: unknown section"),
    (
        "[keys]\nquit = \"Q\"\nhelp = \"Q\"\n",
        "c.toml:3: keys.help: Q is already bound to quit",
    ),
    (
        "[keys]\nhelp = \"q\"\n",
        "c.toml:2: keys.help: q is already bound to quit",
    ),
    (
        "[keys]\nfly = \"f\"\n",
        "c.toml:2: keys.fly: unknown action",
    ),
    (
        "[keys]\nhelp = \"Hyper-h\"\n",
        "c.toml:2: keys.help: \"Hyper-h\" is not a key",
    ),
    (
        "\n[colours]\nhigh = \"blurple\"\n",
        "c.toml:3: colours.high: \"blurple\" is not a colour",
    ),
    (
        "[colours]\nsparkle = \"red\"\n",
        "c.toml:2: colours.sparkle: unknown element",
    ),
    (
        "[dashboard]\ntheme = \"neon\"\n",
        "c.toml:2: dashboard.theme: invalid value 'neon' for '--theme <THEME>'",
    ),
    (
        "[dashboard]\ninterval = \"0s\"\n",
        "c.toml:2: dashboard.interval: invalid value '0s'",
    ),
    (
        "[repro]\nmax_attempts = 0\n",
        "c.toml:2: repro.max_attempts: invalid value '0'",
    ),
    (
        "[repro]\nrate = true\n",
        "c.toml:2: repro.rate: expected a number",
    ),
    (
        "[repro]\nmode = \"fresh\"\nmode = \"bind\"\n",
        "c.toml:3: mode: duplicate key",
    ),
    (
        "[live]\nstorm_refusals = 0\n",
        "c.toml:2: live.storm_refusals: ",
    ),
    (
        "[serve]\nlisten = \"localhost\"\n",
        "c.toml:2: serve.listen: invalid value 'localhost' for '--listen <ADDR:PORT>'",
    ),
    (
        "interval = 1\n",
        "c.toml:1: interval: settings go in sections",
    ),
];

#[test]
fn bad_files_are_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in BAD_FILES {
        let file = write(dir.path(), "c.toml", text);
        let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
            .map(OsString::from)
            .to_vec();
        let e = layered(&argv, &HashMap::new()).expect_err(text).to_string();
        let want = format!("{}/{want}", dir.path().display());
        assert!(
            e.starts_with(&want),
            "for {text:?}\n got: {e}\nwant: {want}..."
        );
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn a_bad_file_or_variable_stops_the_binary_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "c.toml", "[repro]\nmode = \"sideways\"\n");
    let out = common::bin()
        .args(["--config", file.to_str().unwrap(), "scan", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --json asked for JSON: the error comes as one object on stdout too.
    let doc = common::json_of(&out);
    assert_eq!(doc["error"]["kind"], "config", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("repro.mode")),
        "{doc}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "selfconn-tui: {}:2: repro.mode: invalid value 'sideways'",
            file.display()
        )),
        "{err}"
    );
    let out = common::bin()
        .args(["--no-config", "config"])
        .env("SELFCONN_TUI_INTERVAL", "fast")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "selfconn-tui: environment variable SELFCONN_TUI_INTERVAL: invalid value 'fast'"
        ),
        "{err}"
    );
}

/// The real binary, its real environment: a repro run reports the limits
/// it ran with (flag > variable > file).
#[test]
fn the_binary_layers_flag_environment_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[repro]\nmax_attempts = 3\nrate = 50\nmode = \"reuse\"\nmax_time = 20\n",
    );
    let port = common::free_port_outside_range().to_string();
    let out = common::bin()
        .args([
            "--config",
            file.to_str().unwrap(),
            "repro",
            "--json",
            "--port",
            &port,
        ])
        .args(["--max-attempts", "1"])
        .env("SELFCONN_TUI_REPRO_MODE", "fresh")
        .env("SELFCONN_TUI_REPRO_MAX_ATTEMPTS", "2")
        .output()
        .unwrap();
    let doc = common::json_of(&out);
    assert_eq!(doc["max_attempts"], 1, "the flag");
    assert_eq!(doc["mode"], "fresh", "the variable");
    assert_eq!(doc["rate_limit"], 50.0, "the file");
    assert_eq!(doc["max_time_ms"], 20_000, "the file");

    let out = common::bin()
        .args(["--config", file.to_str().unwrap(), "config"])
        .env("SELFCONN_TUI_REPRO_MAX_ATTEMPTS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let path = file.display();
    assert!(
        text.contains("max_attempts = 2 # environment SELFCONN_TUI_REPRO_MAX_ATTEMPTS"),
        "{text}"
    );
    assert!(
        text.contains(&format!("rate = 50 # file {path}:3")),
        "{text}"
    );
    assert!(text.contains("interval = \"1s\" # default"), "{text}");
    // What it prints is TOML, with these values.
    let doc: toml::Table = text.parse().expect("config prints TOML");
    assert_eq!(doc["repro"]["max_attempts"].as_integer(), Some(2));
    assert_eq!(doc["repro"]["mode"].as_str(), Some("reuse"));
}

#[test]
fn the_default_file_parses_back_and_every_default_in_it_is_valid() {
    let out = common::run(&["config", "--default"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // As printed: everything commented out, the defaults apply.
    let file = write(dir.path(), "as-printed.toml", &text);
    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let l = layered(&argv, &HashMap::new()).unwrap();
    assert!(
        l.resolved
            .iter()
            .all(|r| !matches!(r.source, Source::File { .. }))
    );
    // Every `# key = value` line uncommented: all valid, all from the file.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if !l.starts_with("##") => format!("{rest}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    let file = write(dir.path(), "uncommented.toml", &uncommented);
    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let l = layered(&argv, &HashMap::new()).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    for r in &l.resolved {
        assert!(
            matches!(r.source, Source::File { .. }),
            "{} not in the default file",
            r.setting.name()
        );
    }
    let f = l.file.as_ref().unwrap();
    assert_eq!(
        f.keys.len(),
        selfconn_tui::tui::keymap::KEYMAP.len(),
        "every action"
    );
    assert_eq!(f.colours.len(), 1);
}

#[test]
fn global_options_go_before_a_subcommand_and_dashboard_flags_do_not() {
    let out = common::run(&["--no-config", "scan", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let out = common::run(&["scan", "--no-config", "--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let out = common::run(&["--interval", "2s", "scan"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--interval is for the dashboard (no subcommand); `scan` does not take it"),
        "{err}"
    );
    let out = common::run(&["--no-config", "--config", "x.toml", "config"]);
    assert_eq!(out.status.code(), Some(2), "the two exclude each other");
}
