//! Finds tracefs, and mounts it at `/sys/kernel/tracing` when it is not
//! mounted anywhere (root only).
//!
//! A tracefs we mounted is left mounted on exit, on purpose: that is what
//! perf, trace-cmd and bpftrace do, it costs nothing while no instance
//! traces, and unmounting could pull it from under another tool that
//! started using it meanwhile. Only our own instance is removed.

use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sys::statfs::{TRACEFS_MAGIC, statfs};

use super::Unavailable;

/// Where tracefs lives on current systems, and where older ones reach it
/// (debugfs mounts it there on first access).
const PLACES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Whether `path` is the root of a tracefs mount.
pub fn is_tracefs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == TRACEFS_MAGIC)
}

/// The first of the usual places where tracefs is mounted; never mounts.
pub fn find() -> Option<PathBuf> {
    PLACES
        .iter()
        .map(Path::new)
        .find(|p| is_tracefs(p))
        .map(Path::to_path_buf)
}

/// The tracefs root: `wanted` if given (it must be a tracefs), else the
/// first mounted one of the usual places, else a fresh mount at
/// `/sys/kernel/tracing`. The flag says whether we mounted it.
pub fn locate(wanted: Option<&Path>) -> Result<(PathBuf, bool), Unavailable> {
    if let Some(path) = wanted {
        return if is_tracefs(path) {
            Ok((path.to_path_buf(), false))
        } else {
            Err(Unavailable::Tracefs(format!(
                "{} is not a tracefs mount",
                path.display()
            )))
        };
    }
    if let Some(found) = find() {
        return Ok((found, false));
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems
        .lines()
        .any(|l| l.split_whitespace().last() == Some("tracefs"))
    {
        return Err(Unavailable::Tracefs("this kernel has no tracefs".into()));
    }
    let target = Path::new(PLACES[0]);
    if !target.is_dir() {
        return Err(Unavailable::Tracefs(format!(
            "not mounted, and {} does not exist",
            target.display()
        )));
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("nodev"), target, Some("tracefs"), flags, None::<&str>).map_err(|e| {
        Unavailable::Tracefs(format!(
            "not mounted, and mounting it at {} failed: {e}",
            target.display()
        ))
    })?;
    Ok((target.to_path_buf(), true))
}
