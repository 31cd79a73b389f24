//! Helpers shared by the configuration tests: a file written in a
//! temporary directory, and the layered configuration of a command line.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use selfconn_tui::cli::Cli;
use selfconn_tui::config::{self, ConfigError, Layered};

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn layered(argv: &[OsString], env: &HashMap<&str, String>) -> Result<Layered, ConfigError> {
    let lookup = |k: &str| env.get(k).cloned();
    config::prepare(Cli::command(), argv, &lookup)
}
