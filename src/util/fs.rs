//! Atomic file writes: the one way vidcompare replaces a file, so that a crash, a full disk or
//! Ctrl-C never leaves a half-written file where a reader (or a later run) expects a whole one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, IoContext, Result};

/// Marker in every temporary file name; nothing that reads a folder of ours takes a name with it.
pub const TEMP_MARKER: &str = ".part";

/// Write `bytes` to `path` atomically: to a temporary file in the same folder, flushed to disk
/// (`fsync`), then renamed over `path`. Missing parent folders are created. Errors name `path`;
/// on error the temporary file is removed and `path` is left as it was.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("sub/out.txt");
/// vidcompare::util::fs::write_atomic(&p, b"hello\n").unwrap();
/// assert_eq!(std::fs::read(&p).unwrap(), b"hello\n");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        File::create(tmp)
            .and_then(|mut f| f.write_all(bytes))
            .at(path)
    })
}

/// [`write_atomic`] for writers that create the file themselves (a video encoder, a safetensors
/// serialiser): `write` is given the temporary path and must leave the whole content there. The
/// temporary name keeps `path`'s extension (an encoder picks the container from it). Errors from
/// `write` are returned as they are; the flush and the rename give [`Error::Io`] naming `path`.
pub fn write_atomic_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = parent_of(path);
    fs::create_dir_all(&dir).at(&dir)?;
    let tmp = temp_path(path)?;
    let result = write(&tmp)
        .and_then(|()| sync(&tmp).at(path))
        .and_then(|()| fs::rename(&tmp, path).at(path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The folder `path` is in (`.` for a bare file name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `dir/.stem.<pid>-<n>.part.ext`: hidden, unique per process and call (two threads writing the
/// same file never share a temporary), and keeping the extension.
fn temp_path(path: &Path) -> Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    if path.file_name().is_none() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        ));
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let unique = format!(".{stem}.{}-{n}{TEMP_MARKER}", std::process::id());
    let name = match path.extension() {
        Some(ext) => format!("{unique}.{}", ext.to_string_lossy()),
        None => unique,
    };
    Ok(path.with_file_name(name))
}

/// Flush a finished file to disk. Opened for writing because Windows refuses to flush a file
/// opened read-only.
fn sync(path: &Path) -> std::io::Result<()> {
    OpenOptions::new().write(true).open(path)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/results.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second, longer");
        assert_eq!(names(&dir.path().join("a/b")), ["results.json"]);
    }

    #[test]
    fn a_failed_writer_keeps_the_old_file_and_removes_its_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.bin");
        write_atomic(&p, b"good").unwrap();
        let err = write_atomic_with(&p, |tmp| {
            fs::write(tmp, b"half").at(tmp)?;
            Err(Error::Config("the writer failed".into()))
        })
        .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"good");
        assert_eq!(names(dir.path()), ["model.bin"]);
    }

    #[test]
    fn a_failed_write_names_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: the rename fails.
        let p = dir.path().join("taken");
        fs::create_dir(p.join("")).unwrap();
        fs::write(p.join("inside"), b"").unwrap();
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, .. } if path == &p),
            "{err}"
        );
        assert_eq!(names(dir.path()), ["taken"]);
    }

    #[test]
    fn temporary_keeps_the_extension_and_is_unique() {
        let p = Path::new("out/clip.mp4");
        let (a, b) = (temp_path(p).unwrap(), temp_path(p).unwrap());
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(Path::new("out")));
        assert_eq!(a.extension().unwrap(), "mp4");
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".clip.") && name.contains(TEMP_MARKER),
            "{name}"
        );
        let bare = temp_path(Path::new("README")).unwrap();
        assert!(
            bare.to_string_lossy().ends_with(TEMP_MARKER),
            "{}",
            bare.display()
        );
    }

    #[test]
    fn not_a_file_path_is_an_error_naming_it() {
        let err = write_atomic(Path::new("/"), b"x").unwrap_err();
        assert!(err.to_string().starts_with('/'), "{err}");
    }

    #[test]
    fn a_missing_folder_that_cannot_be_made_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        let err = write_atomic(&file.join("sub/x.txt"), b"x").unwrap_err();
        assert!(
            err.to_string().contains("f/sub") || err.to_string().contains("f\\sub"),
            "{err}"
        );
    }
}
