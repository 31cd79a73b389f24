//! The glue of each mode: arguments in, engine, report out, exit status.

pub mod config;
pub mod dashboard;
pub mod generate;
pub mod pcap;
pub mod repro;
pub mod repro_scenario;
pub mod scan;
pub mod serve;
pub mod textfile;
pub mod watch;

use std::io::Write;
use std::process::ExitCode;

use crate::core::sanitize::terminal_safe;
use crate::report::error_json::ErrorDoc;

/// A command's failure: one line on stderr for a person and, under
/// `--json`, the error document on stdout for a script (so stdout always
/// holds exactly one object). Exit status 2.
pub fn fail<'a>(json: bool, doc: impl Into<ErrorDoc<'a>>) -> ExitCode {
    let doc = doc.into();
    eprintln!("selfconn-tui: {}", terminal_safe(&doc.error.message));
    if json {
        // Should stdout fail too, stderr already has the message.
        let _ = write_stdout(&doc.to_line());
    }
    ExitCode::from(2)
}

/// Writes `text` to stdout. A closed pipe (`| head`) is not an error worth
/// a message; any other error is returned.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e),
        _ => Ok(()),
    }
}
