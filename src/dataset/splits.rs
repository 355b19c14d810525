//! Reading and validating a dataset laid out as `ROOT/splits/{train,val,test}.txt`.
//!
//! This is the notebook's `read_split_file` / `load_splits`, made strict: instead of failing on the
//! first bad line (or silently accepting it), [`Dataset::load`] checks everything and reports every
//! problem at once, each located by file and line, in one [`Error::Dataset`].
//!
//! # Layout
//!
//! ```text
//! ROOT/
//!   classes.txt          optional: one class name per line, line i (0-based) names label i
//!   splits/train.txt
//!   splits/val.txt
//!   splits/test.txt
//!   videos/...           anywhere under ROOT; split files name them relative to ROOT
//! ```
//!
//! # Split file format
//!
//! One sample per line: a path relative to `ROOT`, whitespace, an integer label.
//!
//! ```text
//! # comment lines start with '#'
//! videos/walk/clip_001.mp4 0
//! videos\run\clip_002.mp4  1
//! "videos/run/my clip.mp4" 1
//! ```
//!
//! - Blank lines and lines whose first non-blank character is `#` are skipped.
//! - Surrounding whitespace (including the `\r` of CRLF files) is trimmed, and a UTF-8 byte-order
//!   mark at the start of the file is ignored.
//! - Backslashes in paths become `/`, so split files written on Windows work unchanged.
//! - A path containing spaces must be written in double quotes: `"clips/my clip.mp4" 2`. Quotes
//!   cannot be escaped; a path cannot itself contain a `"`.
//! - Labels are `0..n`: every label from 0 to the largest one must appear in some split, and
//!   `n_classes` is the largest label plus one (the notebook counts distinct labels, which is the
//!   same number once the labels are known to be contiguous).
//!
//! # What is checked
//!
//! Missing `splits/` directory or split file; a split file with no samples; malformed lines (wrong
//! number of fields, unterminated quote, non-UTF-8 bytes); labels that are not integers or are
//! negative; paths that leave `ROOT` as written (absolute paths, `..` that climbs above the root);
//! video files that do not exist; the same path twice in one split; the
//! same path in two splits (leakage between train and evaluation); labels that do not form `0..n`;
//! a class that appears in `val` or `test` but never in `train`; and a `classes.txt` whose number of
//! names differs from the number of classes. Only existence of the video files is checked here;
//! whether they decode is the video module's business.
//!
//! # Symbolic links
//!
//! A path is judged as written: `../x.mp4` and `/data/x.mp4` are refused, but a symbolic link
//! inside the root that the dataset's owner made (`ROOT/videos -> /shared/store/ucf101`, as is
//! usual on clusters and shared disks) is followed. [`Dataset::links`] lists such links with the
//! location they resolve to, for `vidcompare check` and the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result};

/// Name of the directory under the root that holds the split files.
pub const SPLITS_DIR: &str = "splits";

/// Name of the optional class-name file at the root.
pub const CLASSES_FILE: &str = "classes.txt";

/// One of the three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    /// Training data (`splits/train.txt`).
    Train,
    /// Validation data (`splits/val.txt`).
    Val,
    /// Held-out test data (`splits/test.txt`).
    Test,
}

impl SplitName {
    /// All splits, in the order they are read and reported.
    pub const ALL: [SplitName; 3] = [SplitName::Train, SplitName::Val, SplitName::Test];

    /// `"train"`, `"val"` or `"test"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
            SplitName::Test => "test",
        }
    }

    /// The split file's name: `"train.txt"`, `"val.txt"` or `"test.txt"`.
    pub const fn file_name(self) -> &'static str {
        match self {
            SplitName::Train => "train.txt",
            SplitName::Val => "val.txt",
            SplitName::Test => "test.txt",
        }
    }
}

impl fmt::Display for SplitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SplitName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(SplitName::Train),
            "val" | "valid" | "validation" => Ok(SplitName::Val),
            "test" => Ok(SplitName::Test),
            other => Err(Error::InvalidArgument(format!(
                "unknown split `{other}` (expected train, val or test)"
            ))),
        }
    }
}

/// One labelled video listed in a split file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The path as written in the split file, with backslashes turned into `/`.
    pub rel_path: String,
    /// `rel_path` joined onto the dataset root.
    pub path: PathBuf,
    /// Class label, `0..n_classes`.
    pub label: usize,
    /// 1-based line number in the split file, for error messages.
    pub line: usize,
}

/// A validated dataset: three splits of labelled videos and the class names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    /// The directory the split files' paths are relative to.
    pub root: PathBuf,
    /// Samples of `splits/train.txt`, in file order.
    pub train: Vec<Sample>,
    /// Samples of `splits/val.txt`, in file order.
    pub val: Vec<Sample>,
    /// Samples of `splits/test.txt`, in file order.
    pub test: Vec<Sample>,
    /// One name per class: from `classes.txt` when present, else `C0..C{n-1}` as the notebook's
    /// plots label them.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Read and validate the dataset at `root`; see the [module docs](self) for the format and the
    /// checks. On failure the error lists every problem found, each with file and line.
    pub fn load(root: impl AsRef<Path>) -> Result<Dataset> {
        load_impl(root.as_ref(), false).map(|(ds, _)| ds)
    }

    /// [`Dataset::load`], except that a video file that does not exist is not fatal: its sample is
    /// dropped from its split and its problem (`file:line: video file not found: ...`) is returned
    /// as a warning. Every other problem stays fatal, and so does a split that dropping leaves
    /// without any sample (the error names its split file). Labels, duplicates and the class count
    /// are checked on the split files as written, so a missing video never changes `n_classes`.
    pub fn load_lenient(root: impl AsRef<Path>) -> Result<(Dataset, Vec<Problem>)> {
        let (ds, missing) = load_impl(root.as_ref(), true)?;
        Ok((ds, missing.into_iter().map(|m| m.problem).collect()))
    }

    /// The samples of one split.
    pub fn split(&self, s: SplitName) -> &[Sample] {
        match s {
            SplitName::Train => &self.train,
            SplitName::Val => &self.val,
            SplitName::Test => &self.test,
        }
    }

    /// Number of classes (labels are `0..n_classes`).
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The name of class `label`, or `"?"` for a label outside `0..n_classes`.
    pub fn class_name(&self, label: usize) -> &str {
        self.class_names.get(label).map_or("?", String::as_str)
    }

    /// Every sample with its split: train, then val, then test, each in file order.
    pub fn all(&self) -> impl Iterator<Item = (SplitName, &Sample)> {
        SplitName::ALL
            .into_iter()
            .flat_map(move |s| self.split(s).iter().map(move |x| (s, x)))
    }

    /// The symbolic links the samples' paths go through (a folder such as `videos` linked to a
    /// shared store, or a single linked file), each once, in the order first met, with the
    /// location it resolves to. Empty when no path goes through a link.
    pub fn links(&self) -> Vec<Link> {
        let mut links: Vec<Link> = Vec::new();
        for (_, sample) in self.all() {
            let mut at = PathBuf::new();
            for part in Path::new(&sample.rel_path).components() {
                let Component::Normal(part) = part else {
                    continue;
                };
                at.push(part);
                let full = self.root.join(&at);
                let is_link = fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink());
                if !is_link {
                    continue;
                }
                let written = at.to_string_lossy().replace('\\', "/");
                if links.iter().any(|l| l.path == written) {
                    continue;
                }
                if let Ok(target) = fs::canonicalize(&full) {
                    links.push(Link {
                        path: written,
                        target,
                    });
                }
            }
        }
        links
    }

    /// Number of samples of each class in split `s`, indexed by label.
    pub fn class_counts(&self, s: SplitName) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for x in self.split(s) {
            counts[x.label] += 1;
        }
        counts
    }
}

/// A symbolic link inside a dataset root that sample paths go through ([`Dataset::links`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The link, relative to the root, as the split files reach it (`videos`).
    pub path: String,
    /// Where it resolves to (all links followed).
    pub target: PathBuf,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} (symbolic link)",
            self.path,
            self.target.display()
        )
    }
}

/// A sample whose video file does not exist, dropped by [`Dataset::load_lenient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVideo {
    /// The split it was listed in.
    pub split: SplitName,
    /// The sample as parsed from its line.
    pub sample: Sample,
    /// `splits/X.txt:line: video file not found: ...`.
    pub problem: Problem,
}

/// [`Dataset::load`] and [`Dataset::load_lenient`]; in lenient mode missing videos are dropped
/// and returned instead of being fatal.
pub(crate) fn load_impl(root: &Path, lenient: bool) -> Result<(Dataset, Vec<MissingVideo>)> {
    let root = root.to_path_buf();
    let mut problems = Vec::new();

    match fs::metadata(&root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::Dataset(vec![problem(
                &root,
                None,
                "dataset root is not a directory",
            )]));
        }
        Err(e) => {
            return Err(Error::Dataset(vec![problem(
                &root,
                None,
                format!("dataset root cannot be read: {e}"),
            )]));
        }
    }

    let splits_dir = root.join(SPLITS_DIR);
    let mut splits: [Vec<Sample>; 3] = Default::default();
    // Lenient mode: problems of videos that do not exist, and their lines, per split.
    let mut missing: [Vec<Problem>; 3] = Default::default();
    let mut missing_lines: [Vec<Option<usize>>; 3] = Default::default();
    if !splits_dir.is_dir() {
        problems.push(problem(
            &splits_dir,
            None,
            format!(
                "splits directory not found (expected {SPLITS_DIR}/train.txt, val.txt and test.txt under the root)"
            ),
        ));
    } else {
        for (i, name) in SplitName::ALL.iter().enumerate() {
            let file = splits_dir.join(name.file_name());
            if !file.is_file() {
                problems.push(problem(&file, None, "split file not found"));
                continue;
            }
            let (samples, found, missing_at) = parse_split_file_impl(&file, &root);
            let empty = samples.is_empty() && found.is_empty();
            for (k, p) in found.into_iter().enumerate() {
                if lenient && missing_at.contains(&k) {
                    missing_lines[i].push(p.line);
                    missing[i].push(p);
                } else {
                    problems.push(p);
                }
            }
            if empty {
                problems.push(problem(&file, None, "split file lists no samples"));
            }
            splits[i] = samples;
        }
        check_duplicates(&splits_dir, &splits, &mut problems);
    }

    let n_classes = check_labels(&splits_dir, &splits, &mut problems);
    let class_names = read_class_names(&root, n_classes, &mut problems);

    // Dropping happens after the checks above so that they see the split files as written.
    let mut dropped = Vec::new();
    for (i, name) in SplitName::ALL.iter().enumerate() {
        if missing[i].is_empty() {
            continue;
        }
        let (gone, kept): (Vec<Sample>, Vec<Sample>) = std::mem::take(&mut splits[i])
            .into_iter()
            .partition(|s| missing_lines[i].contains(&Some(s.line)));
        if kept.is_empty() {
            problems.push(problem(
                &splits_dir.join(name.file_name()),
                None,
                format!(
                    "no usable video left in the {name} split: all {} listed video{} missing",
                    missing[i].len(),
                    if missing[i].len() == 1 {
                        " is"
                    } else {
                        "s are"
                    }
                ),
            ));
        }
        splits[i] = kept;
        for p in std::mem::take(&mut missing[i]) {
            match gone.iter().find(|s| Some(s.line) == p.line) {
                Some(sample) => dropped.push(MissingVideo {
                    split: *name,
                    sample: sample.clone(),
                    problem: p,
                }),
                // The line had no sample (a bad label, already a fatal problem): keep it listed.
                None => problems.push(p),
            }
        }
    }

    if !problems.is_empty() {
        // Failing anyway: list the missing videos too, so that one run shows every problem.
        problems.extend(dropped.into_iter().map(|m| m.problem));
        return Err(Error::Dataset(problems));
    }
    let [train, val, test] = splits;
    Ok((
        Dataset {
            root,
            train,
            val,
            test,
            class_names,
        },
        dropped,
    ))
}

/// Parse one split file whose paths are relative to `root`.
///
/// Returns the samples that parsed, and the problems found (each at `path` and its line). A line
/// that does not parse, or whose path leaves the root, gives no sample; a line whose video is
/// merely missing still gives its sample (with a problem), so that later checks such as label
/// coverage do not report spurious follow-on problems. Cross-line checks (duplicates, label range)
/// are [`Dataset::load`]'s job.
pub fn parse_split_file(path: &Path, root: &Path) -> (Vec<Sample>, Vec<Problem>) {
    let (samples, problems, _) = parse_split_file_impl(path, root);
    (samples, problems)
}

/// [`parse_split_file`], plus the positions in the problem list of the "video file not found"
/// problems, which [`Dataset::load_lenient`] turns into warnings.
fn parse_split_file_impl(path: &Path, root: &Path) -> (Vec<Sample>, Vec<Problem>, Vec<usize>) {
    let mut missing_at = Vec::new();
    let mut samples = Vec::new();
    let mut problems = Vec::new();
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            problems.push(problem(path, None, format!("cannot read split file: {e}")));
            return (samples, problems, missing_at);
        }
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);

    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            problems.push(problem(path, Some(line_no), "line is not valid UTF-8"));
            continue;
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (raw_path, label_text) = match split_fields(text) {
            Ok(fields) => fields,
            Err(message) => {
                problems.push(problem(path, Some(line_no), message));
                continue;
            }
        };
        let rel_path = raw_path.replace('\\', "/");
        let label = match parse_label(label_text) {
            Ok(label) => Some(label),
            Err(message) => {
                problems.push(problem(path, Some(line_no), message));
                None
            }
        };
        if let Err(message) = check_inside_root(&rel_path) {
            problems.push(problem(path, Some(line_no), message));
            continue;
        }
        let resolved = root.join(&rel_path);
        match fs::metadata(&resolved) {
            Ok(m) if m.is_dir() => {
                problems.push(problem(
                    path,
                    Some(line_no),
                    format!("{} is a directory, not a video file", resolved.display()),
                ));
            }
            Ok(_) => {}
            Err(_) => {
                missing_at.push(problems.len());
                problems.push(problem(
                    path,
                    Some(line_no),
                    format!("video file not found: {}", resolved.display()),
                ));
            }
        }
        if let Some(label) = label {
            samples.push(Sample {
                rel_path,
                path: resolved,
                label,
                line: line_no,
            });
        }
    }
    (samples, problems, missing_at)
}

/// Split a non-blank, trimmed line into (path, label), honouring a double-quoted path.
fn split_fields(text: &str) -> Result<(&str, &str), String> {
    const QUOTE_HINT: &str =
        "a path containing spaces must be double-quoted, e.g. \"clips/my clip.mp4\" 2";
    if let Some(rest) = text.strip_prefix('"') {
        let Some(end) = rest.find('"') else {
            return Err(format!("unterminated quote in `{text}`"));
        };
        let quoted = &rest[..end];
        let after = &rest[end + 1..];
        if !after.is_empty() && !after.starts_with(char::is_whitespace) {
            return Err(format!(
                "expected whitespace after the closing quote in `{text}`"
            ));
        }
        if quoted.trim().is_empty() {
            return Err("empty path".to_string());
        }
        let fields: Vec<&str> = after.split_whitespace().collect();
        return match fields.as_slice() {
            [label] => Ok((quoted, label)),
            [] => Err(format!(
                "expected `path label`, found only a path (missing label?) in `{text}`"
            )),
            _ => Err(format!(
                "expected `path label`, found {} fields after the quoted path in `{text}`",
                fields.len()
            )),
        };
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.as_slice() {
        [path, label] => {
            if path.contains('"') || label.contains('"') {
                Err(format!("misplaced quote in `{text}`; {QUOTE_HINT}"))
            } else {
                Ok((path, label))
            }
        }
        [_] => Err(format!(
            "expected `path label`, found 1 field (missing label?) in `{text}`"
        )),
        _ => Err(format!(
            "expected `path label`, found {} fields in `{text}`; {QUOTE_HINT}",
            fields.len()
        )),
    }
}

fn parse_label(text: &str) -> Result<usize, String> {
    match text.parse::<i128>() {
        Ok(v) if v < 0 => Err(format!("label {v} is negative; labels are 0..n_classes")),
        Ok(v) => usize::try_from(v).map_err(|_| format!("label {v} is too large")),
        Err(_) => Err(format!("label `{text}` is not an integer")),
    }
}

/// Reject absolute paths and `..` that climbs above the root, without touching the file system.
fn check_inside_root(rel: &str) -> Result<(), String> {
    if rel.is_empty() {
        return Err("empty path".to_string());
    }
    let bytes = rel.as_bytes();
    // `C:/x` (a Windows drive) is absolute on Windows even though Unix reads it as relative.
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if rel.starts_with('/') || drive || Path::new(rel).is_absolute() {
        return Err(format!(
            "path `{rel}` is absolute; paths must be relative to the dataset root"
        ));
    }
    let mut depth: usize = 0;
    for comp in Path::new(rel).components() {
        match comp {
            Component::ParentDir => {
                if depth == 0 {
                    return Err(format!("path `{rel}` leaves the dataset root through `..`"));
                }
                depth -= 1;
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "path `{rel}` is absolute; paths must be relative to the dataset root"
                ));
            }
        }
    }
    Ok(())
}

/// `a/./b/../c` -> `a/c`; used to recognise the same file written two ways.
fn normalise(rel: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn check_duplicates(splits_dir: &Path, splits: &[Vec<Sample>; 3], problems: &mut Vec<Problem>) {
    // First occurrence of each normalised path: (split, line).
    let mut seen: HashMap<String, (SplitName, usize)> = HashMap::new();
    for (name, samples) in SplitName::ALL.iter().zip(splits) {
        let file = splits_dir.join(name.file_name());
        for s in samples {
            let key = normalise(&s.rel_path);
            match seen.get(&key) {
                Some(&(first_split, first_line)) if first_split == *name => {
                    problems.push(problem(
                        &file,
                        Some(s.line),
                        format!(
                            "`{}` is listed twice in {} (first at line {first_line})",
                            s.rel_path,
                            name.file_name()
                        ),
                    ));
                }
                Some(&(first_split, first_line)) => {
                    problems.push(problem(
                        &file,
                        Some(s.line),
                        format!(
                            "`{}` is also in {} line {first_line}; a video in two splits leaks between training and evaluation",
                            s.rel_path,
                            first_split.file_name()
                        ),
                    ));
                }
                None => {
                    seen.insert(key, (*name, s.line));
                }
            }
        }
    }
}

/// Check labels form `0..n` and that every class met in val/test was trained on; returns `n`.
fn check_labels(
    splits_dir: &Path,
    splits: &[Vec<Sample>; 3],
    problems: &mut Vec<Problem>,
) -> usize {
    // Every label 0..n-1 must appear somewhere, so a label can't exceed the number of videos
    // listed. Checking that first also keeps an absurd label (10^12, usize::MAX) from sizing
    // anything below.
    let total: usize = splits.iter().map(Vec::len).sum();
    for (name, samples) in SplitName::ALL.iter().zip(splits) {
        for s in samples.iter().filter(|s| s.label >= total) {
            problems.push(problem(
                &splits_dir.join(name.file_name()),
                Some(s.line),
                format!(
                    "label {} is too large: with {total} videos listed, labels can only run from 0 to {}",
                    s.label,
                    total - 1
                ),
            ));
        }
    }
    let all: BTreeSet<usize> = splits
        .iter()
        .flatten()
        .map(|s| s.label)
        .filter(|&l| l < total)
        .collect();
    let Some(&max) = all.iter().next_back() else {
        return 0;
    };
    let n = max + 1;
    let missing: Vec<usize> = (0..n).filter(|l| !all.contains(l)).collect();
    if !missing.is_empty() {
        let list = join_numbers(&missing);
        let (noun, verb) = if missing.len() == 1 {
            ("label", "never appears")
        } else {
            ("labels", "never appear")
        };
        problems.push(problem(
            splits_dir,
            None,
            format!("labels must be 0..{max} ({n} classes); {noun} {list} {verb} in any split"),
        ));
    }

    let trained: BTreeSet<usize> = splits[0].iter().map(|s| s.label).collect();
    for (name, samples) in SplitName::ALL.iter().zip(splits).skip(1) {
        let mut untrained: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for s in samples.iter().filter(|s| !trained.contains(&s.label)) {
            untrained.entry(s.label).or_default().push(s.line);
        }
        let file = splits_dir.join(name.file_name());
        for (label, lines) in untrained {
            let (noun, list) = if lines.len() == 1 {
                ("line", lines[0].to_string())
            } else {
                ("lines", join_numbers(&lines))
            };
            problems.push(problem(
                &file,
                Some(lines[0]),
                format!(
                    "class {label} appears in {} ({noun} {list}) but never in train.txt, so no model can learn it",
                    name.file_name()
                ),
            ));
        }
    }
    n
}

fn read_class_names(root: &Path, n_classes: usize, problems: &mut Vec<Problem>) -> Vec<String> {
    let fallback = || (0..n_classes).map(|i| format!("C{i}")).collect::<Vec<_>>();
    let file = root.join(CLASSES_FILE);
    let text = match fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fallback(),
        Err(e) => {
            problems.push(problem(&file, None, format!("cannot read: {e}")));
            return fallback();
        }
    };
    let Ok(text) = String::from_utf8(text) else {
        problems.push(problem(&file, None, "not valid UTF-8"));
        return fallback();
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut names: Vec<String> = Vec::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let name = line.trim();
        if name.is_empty() {
            continue;
        }
        if let Some(first) = first_line.get(name) {
            problems.push(problem(
                &file,
                Some(i + 1),
                format!("class name `{name}` repeats line {first}"),
            ));
        } else {
            first_line.insert(name, i + 1);
        }
        names.push(name.to_string());
    }
    if names.len() != n_classes {
        problems.push(problem(
            &file,
            None,
            format!(
                "{} class name{} but the splits use {n_classes} class{} (labels 0..{})",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                if n_classes == 1 { "" } else { "es" },
                n_classes.saturating_sub(1)
            ),
        ));
        return fallback();
    }
    names
}

fn join_numbers(xs: &[usize]) -> String {
    xs.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn problem(file: &Path, line: Option<usize>, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_path_buf(),
        line,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_plain_quoted_and_bad() {
        assert_eq!(split_fields("a/b.mp4 3"), Ok(("a/b.mp4", "3")));
        assert_eq!(split_fields("a/b.mp4\t 3"), Ok(("a/b.mp4", "3")));
        assert_eq!(
            split_fields("\"my dir/a b.mp4\" 2"),
            Ok(("my dir/a b.mp4", "2"))
        );
        assert!(
            split_fields("\"a b.mp4 2")
                .unwrap_err()
                .contains("unterminated quote")
        );
        assert!(
            split_fields("a b.mp4 2")
                .unwrap_err()
                .contains("double-quoted")
        );
        assert!(split_fields("a.mp4").unwrap_err().contains("missing label"));
        assert!(split_fields("\"a.mp4\"2").is_err());
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label("0"), Ok(0));
        assert_eq!(parse_label("12"), Ok(12));
        assert!(parse_label("-1").unwrap_err().contains("negative"));
        assert!(parse_label("1.5").unwrap_err().contains("not an integer"));
        assert!(parse_label("x").unwrap_err().contains("not an integer"));
    }

    #[test]
    fn inside_root_is_lexical() {
        assert!(check_inside_root("a/b.mp4").is_ok());
        assert!(check_inside_root("a/../b.mp4").is_ok());
        assert!(check_inside_root("./a/./b.mp4").is_ok());
        assert!(check_inside_root("../b.mp4").is_err());
        assert!(check_inside_root("a/../../b.mp4").is_err());
        assert!(check_inside_root("/etc/passwd").is_err());
        assert!(check_inside_root("C:/x.mp4").is_err());
    }

    #[test]
    fn normalise_paths() {
        assert_eq!(normalise("a/./b/../c.mp4"), "a/c.mp4");
        assert_eq!(normalise("./a//c.mp4"), "a/c.mp4");
    }

    #[test]
    fn split_names() {
        assert_eq!(
            SplitName::ALL.map(SplitName::as_str),
            ["train", "val", "test"]
        );
        assert_eq!(SplitName::Val.to_string(), "val");
        assert_eq!("TEST".parse::<SplitName>().unwrap(), SplitName::Test);
        assert!("dev".parse::<SplitName>().is_err());
        assert_eq!(
            serde_json::to_string(&SplitName::Train).unwrap(),
            "\"train\""
        );
    }
}
