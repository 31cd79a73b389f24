//! The configuration file reaching the dashboard: colours in the theme,
//! `[repro]` in the repro pane's form, and a key rebinding that reaches the
//! dispatcher, help and the footer (in a test binary of its own, since the
//! key table in force is process-wide).

mod common;
mod config_support;
mod dashboard_fixture;

use std::collections::HashMap;
use std::ffi::OsString;

use config_support::{layered, write};
use selfconn_tui::config;
use selfconn_tui::tui::theme::Theme;

#[test]
fn colours_from_the_file_reach_the_dashboards_theme() {
    use ratatui::style::{Color, Style};
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[colours]\nself_connect = \"black on yellow\"\n",
    );
    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let l = layered(&argv, &HashMap::new()).unwrap();
    let theme = l.colours().apply(Theme::default_dark());
    assert_eq!(
        theme.self_connect,
        Style::new().fg(Color::Black).bg(Color::Yellow)
    );
    let mut d = dashboard_fixture::busy_dashboard(theme);
    let t = dashboard_fixture::render(&mut d, 120, 40);
    let buf = t.backend().buffer();
    let yellow = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .filter(|&p| buf[p].bg == Color::Yellow && buf[p].fg == Color::Black)
        .count();
    assert!(yellow > 0, "a self-connect row in the file's colours");
}

#[test]
fn repro_defaults_from_the_file_reach_the_panes_form() {
    use selfconn_tui::repro::Mode;
    use selfconn_tui::tui::repro::Pace;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[repro]\nmode = \"reuse\"\nrate = 200\nhost = \"::1\"\n",
    );
    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let l = layered(&argv, &HashMap::new()).unwrap();
    let defaults = config::repro::pane_defaults(&l);
    assert_eq!(
        (defaults.host.as_str(), defaults.mode, defaults.pace),
        ("::1", Mode::Reuse, Pace::PerSec(200))
    );
    let mut d = dashboard_fixture::busy_dashboard(Theme::default_dark());
    d.app.set_repro_defaults(&defaults);
    d.handle(dashboard_fixture::ch('r'));
    let t = dashboard_fixture::render(&mut d, 120, 40);
    let text = dashboard_fixture::screen(&t).join("\n");
    let form = text
        .lines()
        .find(|l| l.contains("port ") && l.contains("mode "))
        .unwrap_or_else(|| panic!("no form:\n{text}"));
    for shown in ["host ::1", "mode reuse", "pace 200/s"] {
        assert!(form.contains(shown), "{shown}: {form}");
    }
    // The environment wins over the file, as for the flag.
    let env = HashMap::from([("SELFCONN_TUI_REPRO_MODE", "bind".to_string())]);
    let l = layered(&argv, &env).unwrap();
    assert_eq!(config::repro::pane_defaults(&l).mode, Mode::Bind);
    // Without a file: the pane's own defaults.
    let none = ["selfconn-tui", "--no-config"].map(OsString::from).to_vec();
    let l = layered(&none, &HashMap::new()).unwrap();
    let d = config::repro::pane_defaults(&l);
    assert_eq!(
        (d.host.as_str(), d.mode, d.pace),
        ("127.0.0.1", Mode::Fresh, Pace::Max)
    );
}

#[test]
fn a_repro_host_the_pane_cannot_hold_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[repro]\nmode = \"fresh\"\nhost = \"evil\\u001b[2J host\"\n",
    );
    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let e = layered(&argv, &HashMap::new()).unwrap_err().to_string();
    assert!(e.contains("c.toml:3: repro.host:"), "{e}");
    assert!(e.contains("is not a host") && !e.contains('\u{1b}'), "{e}");
    let env = HashMap::from([("SELFCONN_TUI_REPRO_HOST", "a b".to_string())]);
    let none = ["selfconn-tui", "--no-config"].map(OsString::from).to_vec();
    let e = layered(&none, &env).unwrap_err().to_string();
    assert!(e.contains("SELFCONN_TUI_REPRO_HOST"), "{e}");
}

/// The only test in this file that installs a key table (it is process-wide).
#[test]
fn a_rebound_key_works_and_help_shows_it() {
    use crossterm::event::KeyCode;
    use dashboard_fixture::*;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[keys]\nhelp = [\"h\", \"F1\"]\nsort_next = \"o\"\nclear = \"z\"\n\
         down = [\"Down\", \"m\"]\nup = [\"Up\", \"e\"]\nfilter = \"f\"\nquit = \"Q\"\n",
    );
    let argv: Vec<OsString> = ["selfconn-tui", "--config", file.to_str().unwrap()]
        .map(OsString::from)
        .to_vec();
    let l = layered(&argv, &HashMap::new()).unwrap();
    config::keys::install(l.keys());

    let mut d = busy_dashboard(Theme::default_dark());
    d.handle(ch('?'));
    assert!(!d.app.help_open(), "? no longer opens help");
    d.handle(ch('h'));
    assert!(d.app.help_open(), "h opens help");
    let t = render(&mut d, 100, 40);
    let text = screen(&t).join("\n");
    let line = text
        .lines()
        .find(|l| l.contains("this help"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("  h F1  "), "{line}");
    // The words name the keys in force, not the defaults.
    assert!(line.contains("this help (h F1 or z closes it)"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.contains(" o ") && l.contains("sort by the next column")),
        "{text}"
    );
    // All of help, scrolled or not.
    let all: Vec<String> = selfconn_tui::tui::panes::help::content(&d.app)
        .iter()
        .map(|l| l.to_string())
        .collect();
    let all = all.join("\n");
    for words in [
        "next field (↓ m too)",
        "previous field (↑ e too)",
        "(after f;",
    ] {
        assert!(all.contains(words), "{words}:\n{all}");
    }
    assert!(text.contains("m/e scroll · h or z closes"), "{text}");
    for stale in ["? or Esc", "↓ j", "↑ k", "after /"] {
        assert!(!all.contains(stale), "{stale} still named:\n{all}");
    }
    assert!(!text.contains("j/k"), "{text}");
    // z (Clear, rebound from Esc) closes it, as help says.
    d.handle(ch('z'));
    assert!(!d.app.help_open(), "z closes help");
    // F1 opens it and closes it again (the help key toggles).
    d.handle(key(KeyCode::F(1)));
    assert!(d.app.help_open());
    d.handle(key(KeyCode::F(1)));
    assert!(!d.app.help_open());
    // The footer and the too-small screen name the rebound keys too.
    let footer = screen(&render(&mut d, 100, 40)).pop().unwrap();
    assert!(
        footer.contains("Q quit") && footer.contains("h help"),
        "{footer}"
    );
    assert!(
        footer.contains("f filter") && !footer.contains("? help"),
        "{footer}"
    );
    let small = screen(&render(&mut d, 50, 8)).join("\n");
    assert!(small.contains("press Q to quit"), "{small}");
    // The default file documents the default keys, whatever is installed.
    let default = config::show::default_file(&l);
    assert!(
        default.contains("## this help (? or Esc closes it)"),
        "{default}"
    );
}
