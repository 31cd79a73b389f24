//! Replacing a file atomically: a reader (node_exporter's textfile
//! collector) sees the old contents or the new, never a part, and a failed
//! write leaves the old file as it was.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes `contents` to a temporary file in `path`'s directory, flushes it
/// to disk, then renames it over `path` (atomic within one file system).
/// On any failure the temporary file is removed and `path` is untouched.
/// The temporary name starts with `.` and ends in `.tmp`, so a collector
/// that reads `*.prom` never picks it up.
pub fn replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path)?;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        // Readable by the collector, which runs as another user.
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(contents)?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself reaches the disk with the directory; a failure here
    // loses nothing that a reader can see.
    if let Some(dir) = parent(path) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

fn parent(path: &Path) -> Option<&Path> {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

/// `DIR/.NAME.PID.tmp`, beside the target so that the rename stays within
/// one file system.
fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let (Some(dir), Some(name)) = (parent(path), path.file_name()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ));
    };
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.tmp", std::process::id()));
    Ok(dir.join(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        std::fs::write(&path, "old\n").unwrap();
        replace(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("m.prom")]);
    }

    #[test]
    fn a_failed_rename_keeps_the_old_file_and_removes_the_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file.
        let path = dir.path().join("m.prom");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "old\n").unwrap();
        let err = replace(&path, b"new\n").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::IsADirectory, "{err}");
        assert_eq!(
            std::fs::read_to_string(path.join("inside")).unwrap(),
            "old\n"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        assert_eq!(
            replace(Path::new("/"), b"x").unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    }
}
