//! Payload files for `body_file`, `body_files` and multipart file parts: read once when the
//! scenario loads, kept in memory and shared by every worker behind an `Arc`, like data
//! rows. A request picks one file of the set; nothing is read from disk under load.

use std::path::{Path, PathBuf};

/// Most files one glob may match.
pub(crate) const MAX_FILES: usize = 10_000;
/// Most bytes one set of files may hold.
pub(crate) const MAX_SET_BYTES: usize = 1 << 30;
/// Content type of a file whose extension is not in [`TYPES`].
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

/// Content types by file extension (lowercase), for files with no `content_type` given.
const TYPES: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("wav", "audio/wav"),
    ("mp3", "audio/mpeg"),
    ("flac", "audio/flac"),
    ("ogg", "audio/ogg"),
    ("pdf", "application/pdf"),
    ("json", "application/json"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("npy", OCTET_STREAM),
    ("bin", OCTET_STREAM),
];

/// One loaded file.
#[derive(Debug)]
pub(crate) struct File {
    /// The file name without its directory, as a multipart part's `filename`.
    pub name: String,
    /// Guessed from the extension.
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The files one `body_file`, `body_files` or multipart part sends, in path order.
#[derive(Debug)]
pub(crate) struct FileSet {
    files: Vec<File>,
}

impl FileSet {
    /// Every file `pattern` (relative to `dir`) matches. No match, a directory among the
    /// matches, or an unreadable file is an error (a message without the pattern).
    pub fn glob(dir: &Path, pattern: &str) -> Result<FileSet, String> {
        let full = dir.join(pattern);
        let text = full
            .to_str()
            .ok_or_else(|| format!("{} is not valid UTF-8", full.display()))?;
        let paths = glob::glob(text).map_err(|e| format!("bad glob pattern: {e}"))?;
        let mut found = Vec::new();
        for entry in paths {
            let path = entry.map_err(|e| format!("cannot read {}", e.path().display()))?;
            if found.len() == MAX_FILES {
                return Err(format!("matches more than {MAX_FILES} files"));
            }
            found.push(path);
        }
        if found.is_empty() {
            return Err(format!("{} matches no file", full.display()));
        }
        Self::read(&found)
    }

    /// The one file at `path` (relative to `dir`).
    pub fn one(dir: &Path, path: &str) -> Result<FileSet, String> {
        Self::read(&[dir.join(path)])
    }

    fn read(paths: &[PathBuf]) -> Result<FileSet, String> {
        let mut files = Vec::with_capacity(paths.len());
        let mut total = 0usize;
        for path in paths {
            if path.is_dir() {
                return Err(format!("{} is a directory, not a file", path.display()));
            }
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            total = total.saturating_add(bytes.len());
            if total > MAX_SET_BYTES {
                return Err(format!("files add up to more than {MAX_SET_BYTES} bytes"));
            }
            files.push(File {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                content_type: guess_type(path),
                bytes,
            });
        }
        Ok(FileSet { files })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn get(&self, i: usize) -> Option<&File> {
        self.files.get(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &File> {
        self.files.iter()
    }

    /// The largest file, in bytes.
    pub fn largest(&self) -> usize {
        self.files.iter().map(|f| f.bytes.len()).max().unwrap_or(0)
    }

    /// The longest file name, in bytes.
    pub fn longest_name(&self) -> usize {
        self.files.iter().map(|f| f.name.len()).max().unwrap_or(0)
    }

    /// The content type every file shares, or `application/octet-stream` when they differ.
    pub fn common_type(&self) -> &'static str {
        let mut types = self.files.iter().map(|f| f.content_type);
        let first = types.next().unwrap_or(OCTET_STREAM);
        if types.all(|t| t == first) {
            first
        } else {
            OCTET_STREAM
        }
    }
}

/// The content type of `path` by its extension.
pub(crate) fn guess_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or(OCTET_STREAM, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("blast-files-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("b.png"), b"PNG-B").unwrap();
        std::fs::write(dir.join("a.png"), b"PNG-AA").unwrap();
        std::fs::write(dir.join("c.jpg"), b"JPG").unwrap();
        dir
    }

    #[test]
    fn a_glob_reads_every_match_in_path_order() {
        let dir = scratch("glob");
        let set = FileSet::glob(&dir, "*.png").unwrap();
        let names: Vec<&str> = set.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.png", "b.png"]);
        assert_eq!(set.get(0).unwrap().bytes, b"PNG-AA");
        assert_eq!((set.largest(), set.longest_name()), (6, 5));
        assert_eq!(set.common_type(), "image/png");
        let mixed = FileSet::glob(&dir, "*.*g").unwrap();
        assert_eq!((mixed.len(), mixed.common_type()), (3, OCTET_STREAM));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_match_a_directory_or_a_missing_file_is_an_error() {
        let dir = scratch("bad");
        let none = FileSet::glob(&dir, "*.wav").unwrap_err();
        assert!(none.ends_with("*.wav matches no file"), "{none}");
        let sub = FileSet::glob(&dir, "s*").unwrap_err();
        assert!(sub.ends_with("sub is a directory, not a file"), "{sub}");
        let one = FileSet::one(&dir, "sub").unwrap_err();
        assert!(one.ends_with("sub is a directory, not a file"), "{one}");
        let missing = FileSet::one(&dir, "absent.bin").unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        assert!(FileSet::glob(&dir, "[")
            .unwrap_err()
            .starts_with("bad glob pattern"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn types_come_from_extensions() {
        assert_eq!(guess_type(Path::new("x/cat.JPG")), "image/jpeg");
        assert_eq!(guess_type(Path::new("a.wav")), "audio/wav");
        assert_eq!(guess_type(Path::new("noext")), OCTET_STREAM);
    }
}
