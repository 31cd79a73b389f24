//! Our private tracing instance (`instances/selfconn-tui-<pid>[-<n>]`):
//! creating it, setting its events and filters, removing it on every exit
//! path, and removing the ones left by runs that were killed.
//!
//! The global instance and instances of other tools are never touched:
//! everything here works under a directory whose name we chose.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::core::ports::PortRange;

use super::Unavailable;

/// Every instance of ours starts with this.
pub const PREFIX: &str = "selfconn-tui-";

/// The state-change event, then its pre-4.16 name (same fields).
const STATE_EVENTS: [(&str, &str); 2] = [("sock", "inet_sock_set_state"), ("tcp", "tcp_set_state")];
const RESET_EVENT: (&str, &str) = ("tcp", "tcp_receive_reset");

/// Simultaneous open: SYN_SENT (2) -> SYN_RECV (3). A filter cannot
/// compare two fields, so the addresses are compared after reading.
const STATE_FILTER: &str = "oldstate == 2 && newstate == 3";

/// The name of the `seq`th instance of process `pid`: several sessions of
/// one process (tests running in parallel) each get their own.
pub fn instance_name(pid: u32, seq: u32) -> String {
    if seq == 0 {
        format!("{PREFIX}{pid}")
    } else {
        format!("{PREFIX}{pid}-{seq}")
    }
}

/// The process that made an instance of ours, from its name.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, seq) = rest.split_once('-').unwrap_or((rest, "0"));
    seq.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Removes the instances of ours whose process no longer lives (a run
/// killed with SIGKILL cannot clean up). Returns the names removed.
/// A pid is alive when `/proc/PID` exists from here: from inside a pid
/// namespace, prefer running where the tool's pids are visible.
pub fn remove_stale(tracefs: &Path, proc_root: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(tracefs.join("instances")) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if pid != std::process::id()
            && !proc_root.join(pid.to_string()).exists()
            && std::fs::remove_dir(entry.path()).is_ok()
        {
            removed.push(name);
        }
    }
    removed
}

/// Makes a new instance of ours; the caller must remove it (see
/// [`remove`]) on every path from here on.
pub fn create(tracefs: &Path) -> Result<PathBuf, Unavailable> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let instances = tracefs.join("instances");
    for _ in 0..64 {
        let seq = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = instances.join(instance_name(std::process::id(), seq));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Unavailable::Tracefs(format!(
                    "cannot create a tracing instance in {}: {e}",
                    instances.display()
                )));
            }
        }
    }
    Err(Unavailable::Tracefs("no free instance name".into()))
}

/// What an instance was set up to see.
#[derive(Debug)]
pub struct Configured {
    /// Why retry storms cannot be seen, when the reset event is missing.
    pub storms_off: Option<Unavailable>,
}

/// Sets the clock, the filters and the events of the instance at `dir`,
/// then turns tracing on.
pub fn configure(dir: &Path, reset_ports: PortRange) -> Result<Configured, Unavailable> {
    // CLOCK_MONOTONIC timestamps, so that they can be turned into wall
    // time; the default clock is close to it where this is refused.
    let _ = write(&dir.join("trace_clock"), "mono");
    // Wake a waiting reader at the first event, not when half full.
    let _ = write(&dir.join("buffer_percent"), "0");
    let state_dir = STATE_EVENTS
        .iter()
        .map(|(g, e)| dir.join("events").join(g).join(e))
        .find(|p| p.is_dir())
        .ok_or(Unavailable::EventMissing("sock:inet_sock_set_state"))?;
    enable(&state_dir, STATE_FILTER)?;
    let reset_dir = dir.join("events").join(RESET_EVENT.0).join(RESET_EVENT.1);
    let storms_off = if reset_dir.is_dir() {
        let filter = format!(
            "dport >= {} && dport <= {}",
            reset_ports.low, reset_ports.high
        );
        enable(&reset_dir, &filter)?;
        None
    } else {
        Some(Unavailable::EventMissing("tcp:tcp_receive_reset"))
    };
    write(&dir.join("tracing_on"), "1")
        .map_err(|e| Unavailable::Tracefs(format!("cannot turn tracing on: {e}")))?;
    Ok(Configured { storms_off })
}

/// Sets an event's filter, then enables it.
fn enable(event_dir: &Path, filter: &str) -> Result<(), Unavailable> {
    let name = event_dir.file_name().unwrap_or_default().to_string_lossy();
    write(&event_dir.join("filter"), filter).map_err(|e| {
        Unavailable::Tracefs(format!(
            "the kernel refused the filter {filter:?} on {name}: {e}"
        ))
    })?;
    write(&event_dir.join("enable"), "1")
        .map_err(|e| Unavailable::Tracefs(format!("cannot enable {name}: {e}")))
}

/// Writes a control file in place (tracefs files are not truncated).
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Removes the instance at `dir`, waiting up to `wait` while it is busy
/// (a reader still has `trace_pipe` open). Gone already counts as done.
pub fn remove(dir: &Path, wait: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes every instance this process made. For a last-resort path (a
/// panic hook) that has no handle: instances whose reader is still open
/// stay busy and are left to the next start's stale cleanup.
pub fn remove_own(tracefs: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(tracefs.join("instances")) else {
        return 0;
    };
    dir.flatten()
        .filter(|e| owner_pid(&e.file_name().to_string_lossy()) == Some(std::process::id()))
        .filter(|e| std::fs::remove_dir(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid_and_are_told_from_others() {
        assert_eq!(instance_name(4242, 0), "selfconn-tui-4242");
        assert_eq!(instance_name(4242, 3), "selfconn-tui-4242-3");
        assert_eq!(owner_pid("selfconn-tui-4242"), Some(4242));
        assert_eq!(owner_pid("selfconn-tui-4242-3"), Some(4242));
        for other in [
            "selfconn-tui-",
            "selfconn-tui-x",
            "selfconn-tui-1-x",
            "perf-4242",
            "selfconn-tui-4242-",
        ] {
            assert_eq!(owner_pid(other), None, "{other}");
        }
    }
}
