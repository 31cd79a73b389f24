//! Completions, the man page and the Debian package, generated from the
//! real binary: every subcommand is in them, and the package's files land
//! where Cargo.toml's `[package.metadata.deb]` says.

mod common;

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use selfconn_tui::cli::Cli;

/// Every subcommand clap knows (so a new one is checked without a list).
fn subcommands() -> Vec<String> {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    names
}

fn stdout_of(args: &[&str]) -> String {
    let out = common::run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn completions_for_every_shell_mention_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let text = stdout_of(&["completions", shell]);
        for sub in subcommands() {
            assert!(text.contains(&sub), "{shell} completions lack {sub}");
        }
        let option = if shell == "fish" {
            "-l config"
        } else {
            "--config"
        };
        assert!(text.contains(option), "{shell}: the global options too");
    }
    let out = common::run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_and_mentions_every_subcommand_and_variable() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(page.contains(".TH selfconn-tui 1"), "a section 1 page");
    for sub in subcommands() {
        assert!(page.contains(&sub), "the man page lacks {sub}");
    }
    assert!(
        page.contains("SELFCONN_TUI_INTERVAL"),
        "the environment is documented"
    );

    let dir = tempfile::tempdir().unwrap();
    stdout_of(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    for sub in subcommands() {
        let p = dir.path().join(format!("selfconn-tui-{sub}.1"));
        assert!(p.exists(), "no page for {sub}");
    }
}

#[test]
fn generated_documents_ignore_the_users_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[dashboard]\ninterval = \"7s\"\n").unwrap();
    let plain = stdout_of(&["man"]);
    let out = common::bin()
        .args(["man"])
        .env("SELFCONN_TUI_CONFIG", &cfg)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), plain);
    assert!(!plain.contains("7s"));
}

/// Destinations of `[package.metadata.deb].assets` (globs: the directory).
fn metadata_destinations() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_debian_package_installs_its_files_where_the_metadata_says() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        common::skip("dpkg-deb is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = tempfile::tempdir().unwrap();
    // The test binary stands in for a release build.
    let built = Command::new(root.join("scripts/package-deb"))
        .args(["--out", out_dir.path().to_str().unwrap()])
        .env("SELFCONN_BIN", env!("CARGO_BIN_EXE_selfconn-tui"))
        // A debug binary is large: compressing it would cost a minute.
        .env("DEB_COMPRESSION", "none")
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let deb = String::from_utf8(built.stdout).unwrap().trim().to_string();
    assert!(deb.ends_with(".deb") && Path::new(&deb).exists(), "{deb}");

    let info = Command::new("dpkg-deb")
        .args(["-f", &deb, "Package", "Version"])
        .output()
        .unwrap();
    let info = String::from_utf8(info.stdout).unwrap();
    assert!(info.contains("Package: selfconn-tui"), "{info}");
    assert!(
        info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );

    let installed = tempfile::tempdir().unwrap();
    let x = Command::new("dpkg")
        .args(["-x", &deb])
        .arg(installed.path())
        .status()
        .unwrap();
    assert!(x.success());
    let at = |p: &str| installed.path().join(p);

    for (source, dest) in metadata_destinations() {
        let optional = source.starts_with("assets/deploy/");
        if optional && !root.join(&source).exists() {
            continue; // packaged when it exists
        }
        let target = if dest.ends_with('/') {
            let name = Path::new(&source)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if name.contains('*') {
                // A glob: the directory holds at least the main page.
                assert!(at(&dest).join("selfconn-tui.1.gz").exists(), "{dest}");
                continue;
            }
            format!("{dest}{name}")
        } else {
            dest.clone()
        };
        assert!(at(&target).is_file(), "{source} should land at {target}");
    }

    // The installed binary runs, and the man pages are gzipped roff.
    let v = Command::new(at("usr/bin/selfconn-tui"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("selfconn-tui "));
    let page = at("usr/share/man/man1/selfconn-tui-scan.1.gz");
    let gz = std::fs::read(&page).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip");
    let bash =
        std::fs::read_to_string(at("usr/share/bash-completion/completions/selfconn-tui")).unwrap();
    assert!(bash.contains("selfconn-tui"));
}

/// Options that take a value, in every command, with their help text.
fn valued_options(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, bool)>) {
    for a in cmd.get_arguments() {
        if a.is_hide_set() || !a.get_action().takes_values() {
            continue;
        }
        let help = a
            .get_long_help()
            .or(a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let listed = !a.get_default_values().is_empty() || !a.get_possible_values().is_empty();
        out.push((format!("{path} --{}", a.get_id()), help, listed));
    }
    for sub in cmd.get_subcommands() {
        valued_options(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn help_gives_every_option_an_example_value() {
    let mut options = Vec::new();
    valued_options(&Cli::command(), "selfconn-tui", &mut options);
    assert!(options.len() >= 8, "{options:?}");
    for (name, help, listed) in options {
        // A default or a list of values shows one; else the text has one.
        let example = help.contains("e.g.") || help.contains(": 1,") || help.contains("`own`");
        assert!(listed || example, "{name}: no example value in {help:?}");
    }
}
