//! One error type for the whole library, with kinds as candle's: every I/O, media, dataset or
//! checkpoint error names the file it is about, and a tensor error keeps candle's own error.

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
    /// The data cannot support what was asked, although the settings are valid: no usable
    /// training video, a clip without frames.
    #[error("{0}")]
    Data(String),
    /// A tensor operation failed (shapes, dtypes, devices): candle's error, kept whole.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A weights file or model checkpoint cannot be read, written or used.
    #[error("{}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    /// A configuration key or value is wrong (from `--set`, a script, or the CLI).
    #[error("config: {0}")]
    Config(String),
    /// A Rhai script failed; the message already carries file:line:column and the source line.
    #[error("{0}")]
    Script(String),
    /// Rendering or saving the report failed.
    #[error("report: {0}")]
    Report(String),
    /// An argument outside what the function accepts (a caller's mistake, not the data's).
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

    /// A checkpoint or weights-file error about `path`.
    pub fn checkpoint(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}

/// Return early with an error of a given kind, as candle's `bail!`, formatting like `format!`:
///
/// - `bail!(Config, "img_size = {size}: must be between 1 and {max}")` for the kinds that hold
///   a message (`Config`, `Data`, `Report`, `Script`, `InvalidArgument`);
/// - `bail!(Checkpoint, path, "corrupt checkpoint ({why})")`;
/// - `bail!(error)` for any [`Error`] value, e.g. `bail!(Error::video(path, kind))`.
///
/// ```
/// fn frames(n: usize) -> vidcompare::Result<usize> {
///     if n == 0 {
///         vidcompare::bail!(Data, "a clip with {n} frames has no tensor");
///     }
///     Ok(n)
/// }
/// assert!(matches!(frames(0), Err(vidcompare::Error::Data(m)) if m.contains("0 frames")));
/// ```
#[macro_export]
macro_rules! bail {
    (Checkpoint, $path:expr, $($fmt:tt)+) => {
        return Err($crate::Error::checkpoint($path, format!($($fmt)+)))
    };
    ($kind:ident, $($fmt:tt)+) => {
        return Err($crate::Error::$kind(format!($($fmt)+)))
    };
    ($err:expr $(,)?) => {
        return Err($err)
    };
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
