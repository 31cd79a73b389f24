//! `selfconn-tui scan --prometheus FILE`: one scan's metrics, written for
//! node_exporter's textfile collector (a cron job or systemd timer runs it).

use std::path::Path;
use std::process::ExitCode;

use crate::core::snapshot::Snapshot;
use crate::report::metrics::{self, LiveCounts, ScanHistory};
use crate::sys::atomic_file;

/// Writes the metrics of `snapshot` to `path`, atomically: exit 0 when
/// written (findings or not: they are in the file, and a timer's unit
/// should not fail for them), 2 with the reason when not, the old file
/// left as it was.
pub fn write(snapshot: &Snapshot, path: &Path) -> ExitCode {
    let mut history = ScanHistory::default();
    history.record_scan(snapshot);
    // One scan sees no live events: live catch is off in this mode.
    let text = metrics::textfile(snapshot, &history, &LiveCounts::default());
    match atomic_file::replace(path, text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "selfconn-tui: cannot write {}: {}; the old file, if any, is unchanged",
                path.display(),
                reason(&e, path)
            );
            ExitCode::from(2)
        }
    }
}

fn reason(e: &std::io::Error, path: &Path) -> String {
    use std::io::ErrorKind as K;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => ".".to_string(),
    };
    match e.kind() {
        K::NotFound => format!("directory {dir} does not exist"),
        K::NotADirectory => format!("{dir} is not a directory"),
        K::IsADirectory => "it is a directory".to_string(),
        K::ReadOnlyFilesystem => format!("{dir} is on a read-only file system"),
        K::StorageFull => format!("no space left on the device of {dir}"),
        K::PermissionDenied => format!("permission denied in {dir}"),
        _ => e.to_string(),
    }
}
