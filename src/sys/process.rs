//! What the tool reads about a process, all through procfs: its command
//! line, its full program name, its user, and this process's effective
//! capabilities. Used for socket owners ([`super::owners`]) and namespace
//! labels ([`super::namespaces`]); the fd walk that finds the owners stays
//! hand-written in `owners.rs`, for speed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use procfs::process::Process;

/// CAP_SYS_PTRACE and CAP_SYS_ADMIN (`include/uapi/linux/capability.h`).
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;

/// The facts of one process; what could not be read is empty or `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    /// Its arguments, argv[0] first.
    pub cmdline: Vec<String>,
    /// The kernel's name for it, cut at 15 characters.
    pub comm: String,
    /// The executable's path (needs ptrace rights over the process).
    pub exe: Option<PathBuf>,
    /// Its effective uid.
    pub uid: Option<u32>,
    /// When it started, in clock ticks after boot (with the pid, this names
    /// one process: a pid is reused only by a later one).
    pub start_time: Option<u64>,
}

impl ProcessFacts {
    /// Reads the process at `pid_dir` (`/proc/PID`). The uid is read only
    /// when asked for (one more file).
    pub fn read(pid_dir: &Path, with_uid: bool) -> ProcessFacts {
        let Ok(p) = Process::new_with_root(pid_dir.to_path_buf()) else {
            return ProcessFacts::default();
        };
        let stat = p.stat().ok();
        ProcessFacts {
            cmdline: p.cmdline().unwrap_or_else(|_| lossy_cmdline(pid_dir)),
            start_time: stat.as_ref().map(|s| s.starttime),
            comm: stat.map(|s| s.comm).unwrap_or_else(|| comm_file(pid_dir)),
            exe: p.exe().ok(),
            uid: if with_uid {
                p.status().ok().map(|s| s.euid)
            } else {
                None
            },
        }
    }

    /// What tells a later look that this is still the same process, with
    /// the same name.
    pub fn stat_clues(&self) -> StatClues {
        StatClues {
            start: self.start_time.unwrap_or(0),
            comm: self.comm.clone(),
        }
    }

    /// The full program name (see [`program_name`]).
    pub fn program(&self) -> String {
        program_name(
            self.exe.as_deref(),
            self.cmdline.first().map(String::as_str),
            &self.comm,
        )
    }

    /// The command line, arguments joined by spaces; `[comm]` for a
    /// process without one (a kernel thread, a zombie).
    pub fn command_line(&self) -> String {
        if self.cmdline.is_empty() {
            format!("[{}]", self.comm)
        } else {
            self.cmdline.join(" ")
        }
    }
}

/// A process's start time and kernel name, from one read of
/// `/proc/PID/stat`: a pid whose start time changed names another process;
/// a name that changed means an `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatClues {
    pub start: u64,
    pub comm: String,
}

impl StatClues {
    /// `None` when the process is gone (or `stat` cannot be read).
    pub fn read(pid_dir: &Path) -> Option<StatClues> {
        let stat = Process::new_with_root(pid_dir.to_path_buf())
            .and_then(|p| p.stat())
            .ok()?;
        Some(StatClues {
            start: stat.starttime,
            comm: stat.comm,
        })
    }
}

/// procfs refuses a command line that is not UTF-8 (any process can have
/// one); such a process still gets one, with the bad bytes replaced.
fn lossy_cmdline(pid_dir: &Path) -> Vec<String> {
    std::fs::read(pid_dir.join("cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `comm` when `stat` cannot be parsed (a fixture tree holds only `comm`).
fn comm_file(pid_dir: &Path) -> String {
    std::fs::read_to_string(pid_dir.join("comm"))
        .map(|s| s.trim_end_matches('\n').to_string())
        .unwrap_or_default()
}

/// The full program name: `comm` is cut at 15 characters, so prefer the
/// executable's file name, then argv[0]'s, and use `comm` only when it is
/// all there is (kernel threads, exe unreadable).
pub fn program_name(exe: Option<&Path>, argv0: Option<&str>, comm: &str) -> String {
    let from_exe = exe
        .and_then(|p| p.file_name())
        .and_then(OsStr::to_str)
        .map(|s| s.trim_end_matches(" (deleted)").to_string());
    let from_argv0 = argv0
        .and_then(|a| a.split_whitespace().next())
        .and_then(|a| Path::new(a).file_name())
        .and_then(OsStr::to_str)
        .map(str::to_string);
    // An interpreter's exe (python3.11) says less than argv[0] when argv[0]
    // starts like comm (which the kernel takes from the script or program).
    match (from_exe, from_argv0) {
        (Some(exe), Some(a0))
            if !comm.is_empty() && a0.starts_with(comm) && !exe.starts_with(comm) =>
        {
            a0
        }
        (Some(exe), _) => exe,
        (None, Some(a0)) => a0,
        (None, None) => comm.to_string(),
    }
}

/// Whether this process may read other processes' namespace links and
/// join their namespaces: CAP_SYS_PTRACE and CAP_SYS_ADMIN in its
/// effective set.
pub fn has_namespace_caps() -> bool {
    Process::myself().and_then(|p| p.status()).is_ok_and(|s| {
        s.capeff & (1 << CAP_SYS_PTRACE) != 0 && s.capeff & (1 << CAP_SYS_ADMIN) != 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_name_prefers_the_uncut_name() {
        let exe = Path::new("/usr/lib/postgresql/16/bin/postgres");
        assert_eq!(
            program_name(Some(exe), Some("postgres: checkpointer"), "postgres"),
            "postgres"
        );
        let exe = Path::new("/work/target/debug/deps/selfconn_tui_integration-0123abcd");
        assert_eq!(
            program_name(Some(exe), None, "selfconn_tui_in"),
            "selfconn_tui_integration-0123abcd"
        );
        let py = Path::new("/usr/bin/python3.11");
        assert_eq!(
            program_name(
                Some(py),
                Some("/opt/app/very-long-server-name"),
                "very-long-serve"
            ),
            "very-long-server-name"
        );
        assert_eq!(program_name(None, None, "kworker/0:1"), "kworker/0:1");
        assert_eq!(
            program_name(Some(Path::new("/tmp/a (deleted)")), None, "a"),
            "a"
        );
    }

    #[test]
    fn reads_this_process() {
        let me = ProcessFacts::read(Path::new("/proc/self"), true);
        assert_eq!(me.uid, Some(nix::unistd::geteuid().as_raw()));
        assert!(!me.cmdline.is_empty() && !me.comm.is_empty());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.exe.as_deref(), Some(exe.as_path()));
        assert_eq!(me.program(), exe.file_name().unwrap().to_str().unwrap());
        let clues = StatClues::read(Path::new("/proc/self")).unwrap();
        assert_eq!(clues, me.stat_clues());
        assert!(clues.start > 0);
        assert!(StatClues::read(Path::new("/proc/999999999")).is_none());
        let cap_eff = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(
            has_namespace_caps(),
            cap_eff & (1 << 19 | 1 << 21) == 1 << 19 | 1 << 21
        );
    }

    #[test]
    fn a_fixture_process_and_a_command_line_that_is_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let pid_dir = dir.path().join("300");
        std::fs::create_dir(&pid_dir).unwrap();
        std::fs::write(pid_dir.join("comm"), "nginx\n").unwrap();
        std::fs::write(pid_dir.join("cmdline"), b"nginx: master\xff\0-g\0").unwrap();
        let f = ProcessFacts::read(&pid_dir, true);
        assert_eq!(f.comm, "nginx");
        assert_eq!(f.cmdline, vec!["nginx: master\u{fffd}", "-g"]);
        assert_eq!(f.uid, None);
        assert_eq!(f.program(), "nginx:");
        assert_eq!(ProcessFacts::default().command_line(), "[]");
    }
}
