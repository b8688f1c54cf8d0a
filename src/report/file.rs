//! Report files are whole or absent. Each is written into a temporary file beside it, flushed
//! to disk and renamed over the target, so a full disk, a file-size limit or a crash midway
//! leaves the old file (or none), never a truncated one. Output paths are checked before a
//! run starts, so a typo costs a usage error, not a whole measurement.
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically (see the module header).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_beside(path);
    let written = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Checks that a report can be written at `path`: its directory exists and accepts a new
/// file (tried for real: permission bits do not tell for root or on read-only mounts).
pub fn check_writable(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory, not a file name",
        ));
    }
    let dir = directory_of(path);
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        ));
    }
    let probe = temp_beside(path);
    File::create(&probe)?;
    std::fs::remove_file(&probe)
}

/// The directory a file at `path` goes in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A fresh hidden name in `path`'s directory, unique in this process and across processes.
fn temp_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    directory_of(path).join(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("blast-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let d = scratch("whole");
        let p = d.join("r.json");
        std::fs::write(&p, "old").unwrap();
        write_atomically(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary left: {names:?}");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let d = scratch("failed");
        let p = d.join("r.json");
        std::fs::write(&p, "old").unwrap();
        // Renaming a file over a non-empty directory fails after the temporary was written.
        let blocked = d.join("dir");
        std::fs::create_dir_all(blocked.join("x")).unwrap();
        assert!(write_atomically(&blocked, b"new").is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            2,
            "temporary removed"
        );
    }

    #[test]
    fn missing_directories_and_directories_are_not_writable_paths() {
        let d = scratch("check");
        assert!(check_writable(&d.join("ok.json")).is_ok());
        let e = check_writable(&d.join("nope/x.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        assert!(check_writable(&d).is_err());
        assert!(check_writable(Path::new("bare-name-in-cwd.json")).is_ok());
    }
}
