//! `vidcompare check`: every video of a dataset opened and fully decoded, in parallel, and
//! classified (missing, zero-byte, not a video, audio only, truncated, corrupt, too short, ok),
//! like a video integrity check run before a long experiment.
//!
//! The split files themselves are validated as in [`Dataset::load_lenient`](super::Dataset::load_lenient): a malformed split file
//! is still a fatal [`Error::Dataset`], while a video that does not exist becomes a row here.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::splits::{Sample, SplitName, load_impl};
use crate::error::{Error, Result, VideoErrorKind};
use crate::video::decode::init_ffmpeg;
use crate::video::{VideoInfo, decode_indices, probe};

/// What is wrong with one video, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// The video opened and every frame the stream holds decoded cleanly.
    Ok,
    /// Only one frame: per-frame features work, motion features need two.
    TooShort,
    /// The file does not exist.
    Missing,
    /// The file is empty.
    ZeroBytes,
    /// FFmpeg cannot read it as a media file (text, an image, random bytes).
    NotAVideo,
    /// A media file without a video stream (audio only).
    NoVideoStream,
    /// A video stream this FFmpeg has no decoder for.
    NoDecoder,
    /// The file was cut off: an MP4 without its index, or a stream that ends before it should.
    Truncated,
    /// Packets or frames fail to decode, or no frame decodes at all.
    Corrupt,
}

impl CheckStatus {
    /// Short label used in the table: `"ok"`, `"zero-byte"`, `"not a video"`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::TooShort => "too short",
            CheckStatus::Missing => "missing",
            CheckStatus::ZeroBytes => "zero-byte",
            CheckStatus::NotAVideo => "not a video",
            CheckStatus::NoVideoStream => "no video stream",
            CheckStatus::NoDecoder => "no decoder",
            CheckStatus::Truncated => "truncated",
            CheckStatus::Corrupt => "corrupt",
        }
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing to report.
    Ok,
    /// Usable, with a caveat (some frames lost, a single frame).
    Warning,
    /// Unusable: the pipelines skip it.
    Error,
}

impl Severity {
    /// `"ok"`, `"warning"` or `"error"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The verdict on one listed video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    /// The split file that lists it.
    pub split: SplitName,
    /// 1-based line in that split file.
    pub line: usize,
    /// The path as written in the split file.
    pub rel_path: String,
    /// The path joined onto the dataset root.
    pub path: PathBuf,
    pub status: CheckStatus,
    pub severity: Severity,
    /// Why, in words (for `Ok`: frames, size and rate).
    pub detail: String,
    /// Frames the stream holds (counted from packets) when the file could be probed.
    pub frames: Option<usize>,
}

/// Number of rows per severity and per status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckCounts {
    pub videos: usize,
    pub ok: usize,
    pub warnings: usize,
    pub errors: usize,
    pub by_status: BTreeMap<CheckStatus, usize>,
}

/// The result of [`check`]: one row per listed video, in split-file order (train, val, test).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub root: PathBuf,
    pub rows: Vec<CheckRow>,
    pub counts: CheckCounts,
    /// Symbolic links inside the root that the listed paths go through, with where they lead.
    #[serde(default)]
    pub links: Vec<crate::dataset::Link>,
}

impl CheckReport {
    /// Whether some video is unusable.
    pub fn has_errors(&self) -> bool {
        self.counts.errors > 0
    }

    /// The rows that are not `Ok`.
    pub fn problems(&self) -> impl Iterator<Item = &CheckRow> {
        self.rows.iter().filter(|r| r.severity != Severity::Ok)
    }

    /// The row of the video listed as `rel_path` (as written in its split file).
    pub fn row(&self, rel_path: &str) -> Option<&CheckRow> {
        self.rows.iter().find(|r| r.rel_path == rel_path)
    }
}

impl fmt::Display for CheckReport {
    /// An aligned table of the problems only, then one summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems: Vec<&CheckRow> = self.problems().collect();
        if !problems.is_empty() {
            let at: Vec<String> = problems
                .iter()
                .map(|r| format!("{}:{}", r.split.file_name(), r.line))
                .collect();
            // A column is as wide as its widest cell or its header.
            let width = |cells: &mut dyn Iterator<Item = usize>, header: &str| {
                cells.max().unwrap_or(0).max(header.len())
            };
            let w_at = width(&mut at.iter().map(|s| s.len()), "where");
            let w_sev = "severity".len();
            let w_status = width(
                &mut problems.iter().map(|r| r.status.as_str().len()),
                "status",
            );
            let w_path = width(
                &mut problems.iter().map(|r| r.rel_path.chars().count()),
                "video",
            );
            writeln!(
                f,
                "{:<w_at$}  {:<w_sev$}  {:<w_status$}  {:<w_path$}  detail",
                "where", "severity", "status", "video"
            )?;
            for (r, at) in problems.iter().zip(&at) {
                writeln!(
                    f,
                    "{:<w_at$}  {:<w_sev$}  {:<w_status$}  {:<w_path$}  {}",
                    at,
                    r.severity.as_str(),
                    r.status.as_str(),
                    r.rel_path,
                    r.detail
                )?;
            }
        }
        let c = &self.counts;
        let breakdown: Vec<String> = c
            .by_status
            .iter()
            .filter(|(s, _)| **s != CheckStatus::Ok)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        write!(
            f,
            "{}: {} video{} checked: {} ok, {} warning{}, {} error{}",
            self.root.display(),
            c.videos,
            plural(c.videos),
            c.ok,
            c.warnings,
            plural(c.warnings),
            c.errors,
            plural(c.errors)
        )?;
        if !breakdown.is_empty() {
            write!(f, " ({})", breakdown.join(", "))?;
        }
        for link in &self.links {
            write!(f, "\n  {link}")?;
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Check the dataset at `root`: validate the split files (fatal problems are an
/// [`Error::Dataset`], as for [`Dataset::load`](super::Dataset::load)), then probe and fully decode every listed video in
/// parallel. Shows a progress bar when stderr is a terminal.
pub fn check(root: impl AsRef<Path>) -> Result<CheckReport> {
    check_with_progress(root, std::io::stderr().is_terminal())
}

/// [`check`] with the progress bar turned on or off explicitly.
pub fn check_with_progress(root: impl AsRef<Path>, progress: bool) -> Result<CheckReport> {
    let (ds, missing) = load_impl(root.as_ref(), true)?;
    let items: Vec<(SplitName, &Sample)> = ds.all().collect();
    let bar = crate::util::progress::bar(progress, items.len(), "checking", "videos");
    let mut rows: Vec<CheckRow> = items
        .par_iter()
        .map(|(split, s)| {
            let row = check_video(*split, s);
            bar.inc(1);
            row
        })
        .collect();
    bar.finish_and_clear();
    rows.extend(missing.into_iter().map(|m| CheckRow {
        split: m.split,
        line: m.sample.line,
        rel_path: m.sample.rel_path,
        path: m.sample.path,
        status: CheckStatus::Missing,
        severity: Severity::Error,
        detail: "file not found".into(),
        frames: None,
    }));
    rows.sort_by_key(|r| (r.split, r.line));

    let mut counts = CheckCounts {
        videos: rows.len(),
        ..CheckCounts::default()
    };
    for r in &rows {
        match r.severity {
            Severity::Ok => counts.ok += 1,
            Severity::Warning => counts.warnings += 1,
            Severity::Error => counts.errors += 1,
        }
        *counts.by_status.entry(r.status).or_default() += 1;
    }
    Ok(CheckReport {
        root: ds.root.clone(),
        rows,
        counts,
        links: ds.links(),
    })
}

/// Classify one existing (at load time) video.
fn check_video(split: SplitName, s: &Sample) -> CheckRow {
    let (status, severity, detail, frames) = classify(&s.path);
    CheckRow {
        split,
        line: s.line,
        rel_path: s.rel_path.clone(),
        path: s.path.clone(),
        status,
        severity,
        detail,
        frames,
    }
}

type Verdict = (CheckStatus, Severity, String, Option<usize>);

fn error(status: CheckStatus, detail: impl Into<String>) -> Verdict {
    (status, Severity::Error, detail.into(), None)
}

fn classify(path: &Path) -> Verdict {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return error(CheckStatus::Missing, "file not found");
        }
        Err(e) => return error(CheckStatus::Missing, format!("cannot read: {e}")),
        Ok(m) if m.len() == 0 => {
            return error(CheckStatus::ZeroBytes, "the file is empty (0 bytes)");
        }
        Ok(_) => {}
    }
    let info = match probe(path) {
        Ok(info) => info,
        Err(e) => return classify_open_error(path, e),
    };
    if info.frame_count == 0 {
        return error(
            CheckStatus::Corrupt,
            "the video stream holds no frames".to_string(),
        );
    }
    // Asking for the last frame makes the decoder go through every frame of the stream, while
    // only that one is converted and kept: a full integrity decode in constant memory.
    let last = info.frame_count - 1;
    let decoded = match decode_indices(path, &[last], None) {
        Ok(d) => d,
        Err(Error::Video {
            kind: VideoErrorKind::NoFrames,
            ..
        }) => {
            return (
                CheckStatus::Corrupt,
                Severity::Error,
                format!(
                    "none of the stream's {} frames could be decoded",
                    info.frame_count
                ),
                Some(info.frame_count),
            );
        }
        Err(e) => return classify_open_error(path, e),
    };
    if !decoded.warnings.is_empty() || decoded.frames.is_empty() {
        let text = decoded.warnings.join("; ");
        let status = if text.contains("truncated")
            || text.contains("claims")
            || text.contains("stopped early")
            || text.contains("not delivered")
        {
            CheckStatus::Truncated
        } else {
            CheckStatus::Corrupt
        };
        let detail = if text.is_empty() {
            format!("the last of {} frames did not decode", info.frame_count)
        } else {
            format!("usable: {text}")
        };
        return (status, Severity::Warning, detail, Some(info.frame_count));
    }
    if info.frame_count == 1 {
        return (
            CheckStatus::TooShort,
            Severity::Warning,
            "1 frame: per-frame features work, motion features need at least 2".into(),
            Some(1),
        );
    }
    (
        CheckStatus::Ok,
        Severity::Ok,
        describe(&info),
        Some(info.frame_count),
    )
}

fn describe(info: &VideoInfo) -> String {
    format!(
        "{} frames, {}x{}, {} fps, {}",
        info.frame_count,
        info.width,
        info.height,
        info.fps.map_or("?".into(), |f| format!("{f:.2}")),
        info.codec
    )
}

/// Turn a probe/decode error into a verdict, looking at the bytes for a better reason than
/// FFmpeg's "invalid data" where it helps (a cut-off MP4, a text file).
fn classify_open_error(path: &Path, e: Error) -> Verdict {
    let Error::Video { kind, .. } = e else {
        return error(CheckStatus::Corrupt, e.to_string());
    };
    match kind {
        VideoErrorKind::NotFound => error(CheckStatus::Missing, "file not found"),
        VideoErrorKind::NoVideoStream => {
            let streams = stream_kinds(path);
            let detail = if streams.is_empty() {
                "no video stream (the file holds no streams)".to_string()
            } else {
                format!("no video stream, only {}", streams.join(" + "))
            };
            error(CheckStatus::NoVideoStream, detail)
        }
        VideoErrorKind::NoDecoder(codec) => error(
            CheckStatus::NoDecoder,
            format!("this FFmpeg has no decoder for {codec}"),
        ),
        VideoErrorKind::NotAVideo(msg) => {
            if let Some(why) = mp4_truncation(path) {
                error(CheckStatus::Truncated, format!("{why} (FFmpeg: {msg})"))
            } else if looks_like_text(path) {
                error(
                    CheckStatus::NotAVideo,
                    format!("a text file, not a video (FFmpeg: {msg})"),
                )
            } else {
                error(
                    CheckStatus::NotAVideo,
                    format!("FFmpeg cannot read it: {msg}"),
                )
            }
        }
        other => error(CheckStatus::Corrupt, other.to_string()),
    }
}

/// The kinds of the streams FFmpeg finds in `path` ("audio", "subtitle", ...).
fn stream_kinds(path: &Path) -> Vec<String> {
    init_ffmpeg();
    let Ok(ictx) = ffmpeg::format::input(path) else {
        return Vec::new();
    };
    ictx.streams()
        .map(|s| format!("{:?}", s.parameters().medium()).to_ascii_lowercase())
        .collect()
}

/// First bytes are printable text (UTF-8 without control characters other than whitespace).
fn looks_like_text(path: &Path) -> bool {
    let mut buf = [0u8; 512];
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let Ok(n) = f.read(&mut buf) else {
        return false;
    };
    // A multi-byte character cut at the buffer's end is still text.
    let text = match std::str::from_utf8(&buf[..n]) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    n > 0 && !text.chars().any(|c| c.is_control() && !c.is_whitespace())
}

/// For an ISO base media file (MP4, MOV) that FFmpeg refused: why it looks cut off, by walking
/// its top-level boxes. `None` when the file is not one, or its boxes are intact.
fn mp4_truncation(path: &Path) -> Option<String> {
    let mut f = fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut head = [0u8; 16];
    let mut offset = 0u64;
    let mut has_moov = false;
    let mut first = true;
    while offset < len {
        f.seek(SeekFrom::Start(offset)).ok()?;
        let n = read_up_to(&mut f, &mut head).ok()?;
        if n < 8 {
            return (!first).then(|| {
                format!("MP4 cut off: {len} bytes end inside a box header; the file is truncated")
            });
        }
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        if first && kind != "ftyp" {
            return None;
        }
        first = false;
        let size32 = u32::from_be_bytes(head[0..4].try_into().expect("4 bytes"));
        let size = match size32 {
            0 => len - offset, // the box runs to the end of the file
            1 if n >= 16 => u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")),
            1 => return Some("MP4 cut off inside a box header; the file is truncated".into()),
            s => u64::from(s),
        };
        if size < 8 {
            return None; // not a box structure we understand; leave it to FFmpeg's verdict
        }
        has_moov |= kind == "moov";
        if offset + size > len {
            return Some(format!(
                "MP4 cut off: the `{kind}` box needs {size} bytes but only {} remain{}",
                len - offset,
                if has_moov {
                    ""
                } else {
                    ", and the `moov` index never comes"
                }
            ));
        }
        offset += size;
    }
    (!has_moov).then(|| {
        "MP4 without its `moov` index: the writer never finished the file (truncated)".to_string()
    })
}

fn read_up_to(f: &mut fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut v = ((8 + payload) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend(std::iter::repeat_n(0u8, payload));
        v
    }

    #[test]
    fn mp4_box_walk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        let mut whole = boxed(b"ftyp", 8);
        whole.extend(boxed(b"mdat", 100));
        whole.extend(boxed(b"moov", 20));
        fs::write(&p, &whole).unwrap();
        assert_eq!(mp4_truncation(&p), None);

        fs::write(&p, &whole[..60]).unwrap();
        let why = mp4_truncation(&p).unwrap();
        assert!(
            why.contains("`mdat` box needs 108 bytes but only 44 remain"),
            "{why}"
        );
        assert!(why.contains("moov"), "{why}");

        fs::write(&p, &whole[..16 + 108]).unwrap();
        assert!(mp4_truncation(&p).unwrap().contains("without its `moov`"));

        fs::write(&p, b"hello, this is not an mp4 at all").unwrap();
        assert_eq!(mp4_truncation(&p), None);
        assert!(looks_like_text(&p));
        fs::write(&p, [0u8, 1, 2, 255, 254]).unwrap();
        assert!(!looks_like_text(&p));
    }
}
