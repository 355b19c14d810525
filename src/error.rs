//! One error type for the whole library; every I/O or media error names the file it is about.

use std::fmt;
use std::path::{Path, PathBuf};

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in vidcompare.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A video could not be opened, decoded or encoded.
    #[error("{}: {kind}", path.display())]
    Video { path: PathBuf, kind: VideoErrorKind },
    /// A dataset's split files have problems; all of them are listed, each with file:line.
    #[error("{}", Problems(.0))]
    Dataset(Vec<Problem>),
    /// A configuration key or value is wrong (from `--set`, a script, or the CLI).
    #[error("config: {0}")]
    Config(String),
    /// A Rhai script failed; the message already carries file:line:column and the source line.
    #[error("{0}")]
    Script(String),
    /// Rendering or saving the report failed.
    #[error("report: {0}")]
    Report(String),
    /// An argument outside what the function accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Why a video failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VideoErrorKind {
    #[error("file not found")]
    NotFound,
    #[error("not a video file FFmpeg can read ({0})")]
    NotAVideo(String),
    #[error("the file has no video stream")]
    NoVideoStream,
    #[error("no decoder for codec {0}")]
    NoDecoder(String),
    #[error("decoding failed: {0}")]
    Decode(String),
    #[error("no frame could be decoded")]
    NoFrames,
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// One problem found while reading a dataset, located by file and (when it has one) line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "dataset has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A video error about `path`.
    pub fn video(path: impl AsRef<Path>, kind: VideoErrorKind) -> Self {
        Error::Video {
            path: path.as_ref().to_path_buf(),
            kind,
        }
    }
}

/// Attach a path to `std::io::Result`s, in the spirit of anyhow's `Context`.
pub trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
