//! Property-based fuzzing of the split-file parser and the video-open path, plus a kept corpus.
//!
//! Two kinds of tests live here:
//!
//! - proptest properties that generate split files (valid lines, junk lines, arbitrary bytes) and
//!   mutated videos (truncated, bit-flipped, spliced) at random, and check that the library never
//!   panics or hangs and that everything it returns is consistent with its input;
//! - deterministic tests that run every file under `tests/fixtures/fuzz/` through the same checks,
//!   so inputs that once mattered keep being tested whatever the random seed.
//!
//! Failing proptest seeds are persisted to `tests/fixtures/fuzz/proptest-regressions/fuzz.txt`
//! and replayed first on every run. `PROPTEST_CASES=5000 cargo test --test fuzz` fuzzes longer.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use tempfile::TempDir;
use vidcompare::Error;
use vidcompare::dataset::splits::parse_split_file;
use vidcompare::dataset::{Dataset, Sample};
use vidcompare::error::Problem;
use vidcompare::video::{
    Codec, Decoded, Frame, Sampling, VideoWriter, decode_indices, decode_sampled, probe,
};

/// Where proptest records the seeds of failing cases (replayed first on later runs).
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/fuzz/proptest-regressions/fuzz.txt"
);

/// The kept corpus.
fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(kind)
}

/// `cases` unless `PROPTEST_CASES` asks for more or fewer; failures persisted to the corpus folder.
fn config(cases: u32, max_shrink_iters: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            base.cases
        } else {
            cases
        },
        max_shrink_iters,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..base
    }
}

// ---------------------------------------------------------------------------------------------
// Split files
// ---------------------------------------------------------------------------------------------

/// The file's lines as the split format defines them: after an optional UTF-8 BOM, split on `\n`.
fn file_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.split(|&b| b == b'\n').collect()
}

/// Written independently of the parser: not absolute, and `..` never climbs above the start.
fn stays_inside(rel: &str) -> bool {
    if rel.is_empty() || rel.starts_with('/') || Path::new(rel).is_absolute() {
        return false;
    }
    let b = rel.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return false;
    }
    let mut depth = 0usize;
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// The label a line's last field spells, read by hand: an optional sign, then decimal digits
/// (`-0` is zero, so allowed); `None` for anything else or a value beyond `usize`.
fn label_of(field: &str) -> Option<usize> {
    let (negative, digits) = match field.as_bytes().first() {
        Some(b'+') => (false, &field[1..]),
        Some(b'-') => (true, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: usize = 0;
    for d in digits.bytes() {
        value = value.checked_mul(10)?.checked_add(usize::from(d - b'0'))?;
    }
    (!negative || value == 0).then_some(value)
}

/// What must hold for any split file whatever its bytes: problems sit on real lines of this file,
/// samples come one per line in order, each with the label its line spells and a path inside the
/// root.
fn check_parse_invariants(
    split: &Path,
    root: &Path,
    bytes: &[u8],
    samples: &[Sample],
    problems: &[Problem],
) -> Result<(), TestCaseError> {
    let lines = file_lines(bytes);
    for p in problems {
        prop_assert_eq!(&p.file, split, "problem about another file: {}", p);
        prop_assert!(!p.message.is_empty(), "empty problem message: {:?}", p);
        if let Some(l) = p.line {
            prop_assert!(
                (1..=lines.len()).contains(&l),
                "problem at line {} of a {}-line file: {}",
                l,
                lines.len(),
                p
            );
        }
    }
    let mut previous_line = 0;
    for s in samples {
        prop_assert!(
            s.line > previous_line && s.line <= lines.len(),
            "sample line {} out of order or beyond {} lines",
            s.line,
            lines.len()
        );
        previous_line = s.line;
        let Ok(text) = std::str::from_utf8(lines[s.line - 1]) else {
            return Err(TestCaseError::fail(format!(
                "sample {s:?} from a line that is not UTF-8"
            )));
        };
        let text = text.trim();
        prop_assert!(
            !text.starts_with('#'),
            "sample from a comment line: {:?}",
            s
        );
        let last = text.split_whitespace().last().unwrap_or("");
        prop_assert_eq!(
            label_of(last),
            Some(s.label),
            "label of {:?} from line {:?}",
            s,
            text
        );
        prop_assert!(
            !s.rel_path.contains('\\') && !s.rel_path.contains('"'),
            "raw characters left in {:?}",
            s
        );
        prop_assert!(
            text.replace('\\', "/").contains(&s.rel_path),
            "sample path {:?} not on its line {:?}",
            s.rel_path,
            text
        );
        prop_assert!(stays_inside(&s.rel_path), "path leaves the root: {:?}", s);
        prop_assert_eq!(&s.path, &root.join(&s.rel_path));
        if let (Ok(croot), Ok(cfile)) = (fs::canonicalize(root), fs::canonicalize(&s.path)) {
            prop_assert!(cfile.starts_with(&croot), "{:?} resolves outside", s);
        }
    }
    Ok(())
}

/// Parse `bytes` written as `root/splits/<name>` and check the invariants; returns the parse.
fn parse_bytes(
    root: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(Vec<Sample>, Vec<Problem>), TestCaseError> {
    let split = root.join("splits").join(name);
    fs::create_dir_all(split.parent().unwrap()).unwrap();
    fs::write(&split, bytes).unwrap();
    let (samples, problems) = parse_split_file(&split, root);
    check_parse_invariants(&split, root, bytes, &samples, &problems)?;
    Ok((samples, problems))
}

/// `Dataset::load` must return a dataset or a list of problems located in files of this root.
fn check_load(root: &Path) -> Result<(), TestCaseError> {
    let line_count = |p: &Path| fs::read(p).map(|b| file_lines(&b).len()).unwrap_or(0);
    match Dataset::load(root) {
        Ok(d) => {
            prop_assert!(!d.train.is_empty() && !d.val.is_empty() && !d.test.is_empty());
            let n = d.n_classes();
            for (split, s) in d.all() {
                let file = root.join("splits").join(split.file_name());
                let bytes = fs::read(&file).unwrap();
                check_parse_invariants(&file, root, &bytes, std::slice::from_ref(s), &[])?;
                prop_assert!(s.label < n, "label {} of {} classes", s.label, n);
            }
        }
        Err(Error::Dataset(problems)) => {
            prop_assert!(!problems.is_empty());
            for p in &problems {
                prop_assert!(p.file.starts_with(root), "problem outside the root: {}", p);
                if let Some(l) = p.line {
                    prop_assert!(
                        l >= 1 && l <= line_count(&p.file),
                        "line {} beyond the end of {}",
                        l,
                        p
                    );
                }
            }
        }
        Err(e) => return Err(TestCaseError::fail(format!("untyped failure: {e}"))),
    }
    Ok(())
}

/// What a generated line must produce.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// A sample with this path (as the parser reports it) and label; `ok` when the path names an
    /// existing file, so the line has no problem (else it has one: missing file or directory).
    Sample { rel: String, label: usize, ok: bool },
    /// At least one problem on this line, and no sample.
    Problem,
    /// A blank or comment line: nothing at all.
    Skip,
    /// Arbitrary text: only the invariants apply.
    Unknown,
}

/// One generated line (without its `\n`) and what it must give.
#[derive(Debug, Clone)]
struct GenLine {
    bytes: Vec<u8>,
    expect: Expect,
}

/// A relative path: `dirs/file.mp4` with directories that never end in `.mp4`, so a generated
/// file path is never also a generated directory.
#[derive(Debug, Clone)]
struct RelPath {
    parts: Vec<String>,
}

impl RelPath {
    /// The canonical form, `/`-separated: what two spellings of one file share.
    fn key(&self) -> String {
        self.parts.join("/")
    }
}

fn rel_path() -> impl Strategy<Value = RelPath> {
    let dir = prop_oneof![
        "[a-z0-9_]{1,6}",
        "[a-zA-Z0-9_-]{1,4}( [a-z0-9]{1,3})?",
        "[éüß漢字ё]{1,3}",
    ];
    let file = prop_oneof!["[a-z0-9_]{1,6}", "[a-z]{1,3} [a-zé]{1,3}", "[漢字é]{1,2}"];
    (prop::collection::vec(dir, 0..3), file).prop_map(|(mut parts, file)| {
        parts.push(format!("{file}.mp4"));
        RelPath { parts }
    })
}

/// How a path is spelled on its line; every style names the same file.
#[derive(Debug, Clone, Copy)]
enum PathStyle {
    Plain,
    Backslashes,
    DotPrefix,
    /// `zz/../path`: a detour through a directory the test always creates.
    Detour,
}

fn path_style() -> impl Strategy<Value = PathStyle> {
    prop_oneof![
        3 => Just(PathStyle::Plain),
        1 => Just(PathStyle::Backslashes),
        1 => Just(PathStyle::DotPrefix),
        1 => Just(PathStyle::Detour),
    ]
}

/// (text written, path the parser reports).
fn spell(p: &RelPath, style: PathStyle) -> (String, String) {
    let key = p.key();
    match style {
        PathStyle::Plain => (key.clone(), key),
        PathStyle::Backslashes => (p.parts.join("\\"), key),
        PathStyle::DotPrefix => (format!("./{key}"), format!("./{key}")),
        PathStyle::Detour => (format!("zz/../{key}"), format!("zz/../{key}")),
    }
}

/// Quote a path when it must be (it has a space) or when asked to.
fn field(path: &str, quote: bool) -> String {
    if quote || path.contains(' ') {
        format!("\"{path}\"")
    } else {
        path.to_string()
    }
}

/// A label as written: `3`, `+3`, `003`.
fn label_text(label: usize, form: u8) -> String {
    match form % 3 {
        0 => label.to_string(),
        1 => format!("+{label}"),
        _ => format!("00{label}"),
    }
}

/// Leading whitespace, separator, trailing whitespace (maybe the `\r` of a CRLF file).
fn spacing() -> impl Strategy<Value = (String, String, String)> {
    ("[ \t]{0,2}", "[ \t]{1,3}", "[ \t]{0,2}\r?")
}

/// What a line needs on disk.
#[derive(Debug, Clone)]
enum Create {
    /// An (empty) file at this key.
    File(String),
    /// A directory at this key.
    Dir(String),
    /// Nothing: the line names a file that should not exist (unless another line creates it).
    Missing(String),
}

fn valid_line(labels: usize) -> impl Strategy<Value = (GenLine, Option<Create>)> {
    (
        rel_path(),
        path_style(),
        0..labels,
        any::<u8>(),
        any::<bool>(),
        spacing(),
        prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2)],
    )
        .prop_map(
            |(mut p, style, label, form, quote, (lead, sep, trail), kind)| {
                if kind == 2 {
                    // Directory names end in `.dir`, which no generated file or directory does.
                    let last = p.parts.last_mut().expect("a path has a file part");
                    *last = last.replace(".mp4", ".dir");
                }
                let (written, reported) = spell(&p, style);
                let text = format!(
                    "{lead}{}{sep}{}{trail}",
                    field(&written, quote),
                    label_text(label, form)
                );
                let create = match kind {
                    0 => Create::File(p.key()),
                    1 => Create::Missing(p.key()),
                    _ => Create::Dir(p.key()),
                };
                let line = GenLine {
                    bytes: text.into_bytes(),
                    expect: Expect::Sample {
                        rel: reported,
                        label,
                        ok: kind == 0,
                    },
                };
                (line, Some(create))
            },
        )
}

fn bad_line() -> impl Strategy<Value = GenLine> {
    let p = || rel_path().prop_map(|p| p.key());
    let bad = prop_oneof![
        (p(), 1u64..u64::MAX).prop_map(|(p, n)| format!("{} -{n}", field(&p, false))),
        (p(), "[1-9][0-9]{20,45}").prop_map(|(p, n)| format!("{} {n}", field(&p, false))),
        (
            p(),
            prop::sample::select(vec!["1.5", "x", "0x10", "1e3", "--1", "+-2", "٣"])
        )
            .prop_map(|(p, l)| format!("{} {l}", field(&p, false))),
        p().prop_map(|p| format!("{} 0", field(&format!("../{p}"), false))),
        p().prop_map(|p| format!("{} 1", field(&format!("a/../../{p}"), false))),
        p().prop_map(|p| format!("{} 0", field(&format!("/{p}"), false))),
        p().prop_map(|p| format!("{} 0", field(&format!("\\{p}"), false))),
        p().prop_map(|p| format!("C:\\{} 0", p.replace(' ', "_"))),
        p().prop_map(|p| format!("\"{p} 0")),
        p().prop_map(|p| format!("{} 0 1", field(&p, false))),
        p().prop_map(|p| field(&p, false)),
        p().prop_map(|p| format!("\"{p}\"0")),
        Just("\"\" 0".to_string()),
        Just("a\"b.mp4 0".to_string()),
        Just("\"".to_string()),
    ];
    prop_oneof![
        10 => (bad, "\r?").prop_map(|(t, eol)| GenLine {
            bytes: format!("{t}{eol}").into_bytes(),
            expect: Expect::Problem,
        }),
        // 0xFF never occurs in UTF-8, so the line is invalid whatever follows.
        1 => prop::collection::vec(128u8..=255, 0..8).prop_map(|tail| {
            let mut b = vec![0xFF];
            b.extend_from_slice(&tail);
            b.extend_from_slice(b" 0");
            GenLine { bytes: b, expect: Expect::Problem }
        }),
    ]
}

fn skip_line() -> impl Strategy<Value = GenLine> {
    prop_oneof![
        Just(String::new()),
        "[ \t]{1,4}\r?",
        "[ \t]{0,2}#[^\n]{0,20}",
        "#\"unterminated [^\n]{0,5}",
    ]
    .prop_map(|t| GenLine {
        bytes: t.into_bytes(),
        expect: Expect::Skip,
    })
}

fn unknown_line() -> impl Strategy<Value = GenLine> {
    prop_oneof![
        "[^\n]{0,40}",
        "[ \t\r\"#/\\\\.a-c0-9+-]{0,20}",
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |&b| b != b'\n'),
            0..30
        )
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .prop_map(|t| GenLine {
        bytes: t.into_bytes(),
        expect: Expect::Unknown,
    })
}

/// A line of any kind, with what it needs on disk.
fn any_line(labels: usize) -> impl Strategy<Value = (GenLine, Option<Create>)> {
    prop_oneof![
        4 => valid_line(labels),
        3 => bad_line().prop_map(|l| (l, None)),
        2 => skip_line().prop_map(|l| (l, None)),
        1 => unknown_line().prop_map(|l| (l, None)),
    ]
}

/// Create what the lines need, plus the `zz/` that detours go through; then a line whose file
/// was to be missing but that another line created expects no problem after all.
fn populate(root: &Path, lines: &mut [(GenLine, Option<Create>)]) {
    fs::create_dir_all(root.join("zz")).unwrap();
    let mut files = std::collections::HashSet::new();
    for (_, c) in lines.iter() {
        match c {
            Some(Create::File(key)) => {
                let target = root.join(key);
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::write(&target, b"").unwrap();
                files.insert(key.clone());
            }
            Some(Create::Dir(key)) => fs::create_dir_all(root.join(key)).unwrap(),
            _ => {}
        }
    }
    for (line, c) in lines.iter_mut() {
        if let (Some(Create::Missing(key)), Expect::Sample { ok, .. }) = (c, &mut line.expect) {
            *ok = files.contains(key.as_str());
        }
    }
}

/// Join lines into a file, optionally behind a BOM.
fn join(lines: &[GenLine], bom: bool, final_newline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(&l.bytes);
    }
    if final_newline && !lines.is_empty() {
        out.push(b'\n');
    }
    out
}

/// Check each generated line's own expectation against the parse.
fn check_expectations(
    root: &Path,
    lines: &[GenLine],
    samples: &[Sample],
    problems: &[Problem],
) -> Result<(), TestCaseError> {
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        let here: Vec<&Sample> = samples.iter().filter(|s| s.line == n).collect();
        let n_problems = problems.iter().filter(|p| p.line == Some(n)).count();
        match &l.expect {
            Expect::Sample { rel, label, ok } => {
                prop_assert_eq!(
                    here.len(),
                    1,
                    "line {} {:?}",
                    n,
                    String::from_utf8_lossy(&l.bytes)
                );
                prop_assert_eq!(&here[0].rel_path, rel);
                prop_assert_eq!(here[0].label, *label);
                prop_assert_eq!(&here[0].path, &root.join(rel));
                prop_assert_eq!(
                    n_problems == 0,
                    *ok,
                    "line {} {:?}: problems {:?}",
                    n,
                    String::from_utf8_lossy(&l.bytes),
                    problems
                );
            }
            Expect::Problem => {
                prop_assert!(
                    here.is_empty() && n_problems > 0,
                    "line {} {:?} should be a problem: samples {:?}, problems {:?}",
                    n,
                    String::from_utf8_lossy(&l.bytes),
                    here,
                    problems
                );
            }
            Expect::Skip => {
                prop_assert!(
                    here.is_empty() && n_problems == 0,
                    "line {} {:?} should be skipped",
                    n,
                    String::from_utf8_lossy(&l.bytes)
                );
            }
            Expect::Unknown => {}
        }
    }
    Ok(())
}

/// Bytes that stress the tokenizer: whitespace, quotes, comment marks, separators, BOM halves,
/// digits and signs, invalid UTF-8.
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b" \t\r\n\"#/\\.-+0123456789az:\xEF\xBB\xBF\xC3\xA9\xFF".to_vec();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(prop::sample::select(alphabet), 0..400),
    ]
}

/// An empty file at `root/rel`.
fn touch(root: &Path, rel: &str) {
    let target = root.join(rel);
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::write(target, b"").unwrap();
}

/// One row of a generated valid dataset.
#[derive(Debug, Clone)]
struct Row {
    split: usize,
    /// Canonical path, for creating the file and spotting two spellings of one file.
    key: String,
    /// The path as the parser must report it.
    reported: String,
    /// The line as written.
    text: String,
    label: usize,
}

impl Row {
    fn anchor(split: usize, key: &str, label: usize) -> Row {
        Row {
            split,
            key: key.to_string(),
            reported: key.to_string(),
            text: format!("{key} {label}"),
            label,
        }
    }
}

proptest! {
    #![proptest_config(config(256, 1000))]

    /// Arbitrary bytes: no panic, and whatever comes back is consistent with the bytes.
    #[test]
    fn split_parser_survives_arbitrary_bytes(bytes in tricky_bytes(), bom in any::<bool>()) {
        let root = TempDir::new().unwrap();
        // Short names the byte soup can hit: `a 0`, `0 0`, `./a 1`.
        for rel in ["a", "0", "a.mp4", "zz/a"] {
            touch(root.path(), rel);
        }
        let mut file = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        file.extend_from_slice(&bytes);
        parse_bytes(root.path(), "train.txt", &file)?;
    }

    /// Generated lines of every kind: each line gives exactly what its kind promises.
    #[test]
    fn split_parser_follows_each_line(
        mut lines in prop::collection::vec(any_line(5), 0..40),
        bom in any::<bool>(),
        final_newline in any::<bool>(),
    ) {
        let root = TempDir::new().unwrap();
        populate(root.path(), &mut lines);
        let lines: Vec<GenLine> = lines.into_iter().map(|(l, _)| l).collect();
        let bytes = join(&lines, bom, final_newline);
        let (samples, problems) = parse_bytes(root.path(), "train.txt", &bytes)?;
        check_expectations(root.path(), &lines, &samples, &problems)?;
    }

    /// Dataset::load over three split files of any lines and any classes.txt: typed result only.
    #[test]
    fn dataset_load_survives_any_splits(
        files in prop::collection::vec(prop::collection::vec(any_line(4), 0..12), 3),
        missing in prop::option::of(0usize..3),
        classes in prop::option::of(tricky_bytes()),
    ) {
        let root = TempDir::new().unwrap();
        fs::create_dir_all(root.path().join("splits")).unwrap();
        let mut all: Vec<(GenLine, Option<Create>)> = files.iter().flatten().cloned().collect();
        populate(root.path(), &mut all);
        for (i, (name, lines)) in ["train.txt", "val.txt", "test.txt"].iter().zip(&files).enumerate() {
            if missing == Some(i) {
                continue;
            }
            let lines: Vec<GenLine> = lines.iter().map(|(l, _)| l.clone()).collect();
            fs::write(root.path().join("splits").join(name), join(&lines, false, true)).unwrap();
        }
        if let Some(c) = classes {
            fs::write(root.path().join("classes.txt"), c).unwrap();
        }
        check_load(root.path())?;
    }

    /// A valid dataset, however it is spelled, loads to exactly the samples written.
    #[test]
    fn valid_dataset_round_trips(
        n_classes in 1usize..5,
        entries in prop::collection::vec(
            (rel_path(), path_style(), any::<usize>(), 0usize..3, any::<u8>(), any::<bool>(), spacing()),
            0..24,
        ),
        fillers in prop::collection::vec(prop::option::of(skip_line()), 1..24),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        named in any::<bool>(),
    ) {
        let root = TempDir::new().unwrap();
        // Anchors make the labels 0..n, give every class to train, and leave no split empty.
        let mut rows: Vec<Row> = (0..n_classes)
            .map(|l| Row::anchor(0, &format!("anchor/c{l}.mp4"), l))
            .collect();
        rows.push(Row::anchor(1, "anchor/v.mp4", 0));
        rows.push(Row::anchor(2, "anchor/t.mp4", 0));
        let mut seen: std::collections::HashSet<String> = rows.iter().map(|r| r.key.clone()).collect();
        for (p, style, label, split, form, quote, (lead, sep, trail)) in entries {
            if !seen.insert(p.key()) {
                continue;
            }
            let (written, reported) = spell(&p, style);
            let label = label % n_classes;
            rows.push(Row {
                split,
                key: p.key(),
                reported,
                text: format!("{lead}{}{sep}{}{trail}", field(&written, quote), label_text(label, form)),
                label,
            });
        }
        fs::create_dir_all(root.path().join("splits")).unwrap();
        fs::create_dir_all(root.path().join("zz")).unwrap();
        let mut expected: [Vec<(String, usize, usize)>; 3] = Default::default();
        let mut fillers = fillers.into_iter().cycle();
        for (split, name) in ["train.txt", "val.txt", "test.txt"].iter().enumerate() {
            let mut lines: Vec<GenLine> = Vec::new();
            for r in rows.iter().filter(|r| r.split == split) {
                if let Some(Some(f)) = fillers.next() {
                    lines.push(f);
                }
                touch(root.path(), &r.key);
                let text = if crlf { format!("{}\r", r.text) } else { r.text.clone() };
                lines.push(GenLine { bytes: text.into_bytes(), expect: Expect::Unknown });
                expected[split].push((r.reported.clone(), r.label, lines.len()));
            }
            fs::write(root.path().join("splits").join(name), join(&lines, bom, true)).unwrap();
        }
        let names: Vec<String> = (0..n_classes).map(|i| format!("class {i}")).collect();
        if named {
            let text: String = names.iter().map(|n| format!("  {n}\r\n\n")).collect();
            fs::write(root.path().join("classes.txt"), text).unwrap();
        }
        let d = match Dataset::load(root.path()) {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(format!("valid dataset rejected: {e}"))),
        };
        for (got, want) in [&d.train, &d.val, &d.test].iter().zip(&expected) {
            let got: Vec<(String, usize, usize)> =
                got.iter().map(|s| (s.rel_path.clone(), s.label, s.line)).collect();
            prop_assert_eq!(&got, want);
        }
        for (_, s) in d.all() {
            prop_assert_eq!(&s.path, &root.path().join(&s.rel_path));
        }
        if named {
            prop_assert_eq!(&d.class_names, &names);
        } else {
            let fallback: Vec<String> = (0..n_classes).map(|i| format!("C{i}")).collect();
            prop_assert_eq!(&d.class_names, &fallback);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Videos
// ---------------------------------------------------------------------------------------------

/// Frames in each seed video.
const SEED_FRAMES: usize = 10;

/// How long the three calls on one mutated file may take together. On this 2-core machine a
/// 10-frame clip takes well under 0.1 s; the slack is for a machine busy with parallel builds,
/// while a real hang (a demuxer spinning on a corrupt header) still fails in a few seconds.
const WATCHDOG: Duration = Duration::from_secs(5);

/// The seed videos, made once per test process: (extension, bytes).
fn seeds() -> &'static [(&'static str, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        [
            ("mp4", Codec::Auto),
            ("mkv", Codec::Auto),
            ("avi", Codec::Mpeg4),
        ]
        .into_iter()
        .map(|(ext, codec)| {
            let path = dir.path().join(format!("seed.{ext}"));
            write_seed(&path, codec);
            (ext, fs::read(&path).unwrap())
        })
        .collect()
    })
}

/// 32x24, 10 frames at 10 fps: a gradient with a square moving across it, so frames differ.
fn write_seed(path: &Path, codec: Codec) {
    let mut w = VideoWriter::create(path, 32, 24, 10, codec).unwrap();
    for t in 0..SEED_FRAMES as u32 {
        let frame = Frame::from_fn(32, 24, |x, y| {
            let inside = (x + 32 - 3 * t) % 32 < 8 && (8..16).contains(&y);
            if inside {
                image::Rgb([250, 250, 20])
            } else {
                image::Rgb([(x * 8) as u8, (y * 10) as u8, (t * 25) as u8])
            }
        });
        w.write(&frame).unwrap();
    }
    w.finish().unwrap();
}

/// One edit of a file's bytes. Positions are proportions of the current length, so the same
/// mutation means something for every seed.
#[derive(Debug, Clone)]
enum Mutation {
    /// Keep only the bytes before this point.
    Truncate(Index),
    /// XOR one byte anywhere.
    Flip(Index, u8),
    /// XOR one byte in the first 512, where the container headers are.
    FlipHead(Index, u8),
    /// Overwrite bytes with these (e.g. a length field with 0xFFFFFFFF).
    Overwrite(Index, Vec<u8>),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// The start of seed `donor` up to a point, then this file from a point: one container's
    /// header on another's body.
    Splice {
        donor: usize,
        head: Index,
        body: Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let xor = 1u8..=255;
    let fill = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..64),
        (
            1usize..64,
            prop::sample::select(vec![0x00u8, 0xFF, 0x7F, 0x80])
        )
            .prop_map(|(n, b)| vec![b; n]),
    ];
    prop_oneof![
        2 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), xor.clone()).prop_map(|(i, x)| Mutation::Flip(i, x)),
        3 => (any::<Index>(), xor).prop_map(|(i, x)| Mutation::FlipHead(i, x)),
        2 => (any::<Index>(), fill.clone()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        1 => (any::<Index>(), fill).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1usize..512).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (0usize..3, any::<Index>(), any::<Index>())
            .prop_map(|(donor, head, body)| Mutation::Splice { donor, head, body }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    let pos = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Truncate(i) => bytes.truncate(pos(i, len)),
            Mutation::Flip(i, x) if len > 0 => bytes[pos(i, len)] ^= x,
            Mutation::FlipHead(i, x) if len > 0 => bytes[pos(i, len.min(512))] ^= x,
            Mutation::Overwrite(i, b) => {
                let at = pos(i, len);
                let end = (at + b.len()).min(len);
                bytes[at..end].copy_from_slice(&b[..end - at]);
            }
            Mutation::Insert(i, b) => {
                let at = pos(i, len + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = pos(i, len);
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Splice { donor, head, body } => {
                let donor = &seeds()[donor % seeds().len()].1;
                let mut out = donor[..pos(head, donor.len())].to_vec();
                out.extend_from_slice(&bytes[pos(body, len)..]);
                bytes = out;
            }
            Mutation::Flip(..) | Mutation::FlipHead(..) => {}
        }
    }
    bytes
}

/// The samplings tried by `decode_sampled` (all bounded, so a header that lies about the frame
/// count cannot make the test itself allocate without limit).
fn samplings() -> [Sampling; 4] {
    [
        Sampling::Uniform { target_fps: 2.0 },
        Sampling::Random { k: 4 },
        Sampling::Dense { max_frames: 12 },
        Sampling::Linspace { n: 6 },
    ]
}

/// What happened to one file, in a form the corpus miner can tell apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Outcome {
    probe: String,
    decode: String,
}

/// A short name for a result: `ok(frames/requested, warnings?)` or the error kind's variant.
fn outcome_of<T>(r: &Result<T, Error>, ok: impl Fn(&T) -> String) -> String {
    match r {
        Ok(v) => ok(v),
        Err(Error::Video { kind, .. }) => {
            let name = format!("{kind:?}");
            name.split('(').next().unwrap_or("").to_string()
        }
        Err(e) => format!("untyped: {e}"),
    }
}

/// An error must be `Error::Video` naming `path`.
fn check_error(what: &str, path: &Path, e: &Error) -> Result<(), String> {
    match e {
        Error::Video { path: p, .. } if p == path => Ok(()),
        Error::Video { path: p, .. } => Err(format!(
            "{what}: error names {} instead of {}: {e}",
            p.display(),
            path.display()
        )),
        other => Err(format!("{what}: not a video error: {other:?}")),
    }
}

/// Frames returned must be among those requested, in order, at the requested size.
fn check_decoded(
    what: &str,
    path: &Path,
    d: &Decoded,
    requested: &[usize],
    size: Option<(u32, u32)>,
    max_frames: usize,
) -> Result<(), String> {
    if d.info.path != path {
        return Err(format!("{what}: info names {}", d.info.path.display()));
    }
    if d.info.frame_count > max_frames {
        return Err(format!(
            "{what}: {} frames counted in a file that can hold at most {max_frames}",
            d.info.frame_count
        ));
    }
    // The frames must be a subsequence of the requested indices.
    let mut rest = requested.iter();
    for (i, f) in &d.frames {
        if !rest.any(|r| r == i) {
            return Err(format!(
                "{what}: frame {i} was not requested (or out of order) in {requested:?}"
            ));
        }
        match size {
            Some(s) if f.dimensions() != s => {
                return Err(format!(
                    "{what}: frame {i} is {:?}, asked {s:?}",
                    f.dimensions()
                ));
            }
            _ if f.width() == 0 || f.height() == 0 => {
                return Err(format!("{what}: frame {i} is empty"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Probe and decode `path` three ways on a watchdog thread; every call must return within
/// [`WATCHDOG`], typed, and consistent. `max_frames` bounds any frame count that comes back.
fn check_video(path: &Path, seed: u64, max_frames: usize) -> Result<Outcome, String> {
    let owned = path.to_path_buf();
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let path = owned.as_path();
        let probed = probe(path);
        let indices = [0, 1, 4, 9, 20];
        let small = Some((16, 12));
        let picked = decode_indices(path, &indices, small);
        let native = decode_indices(path, &[0, 2], None);
        let sampling = samplings()[seed as usize % 4];
        let sampled = decode_sampled(path, &sampling, Some((8, 6)), seed);
        let _ = tx.send((probed, picked, native, sampling, sampled));
    });
    let (probed, picked, native, sampling, sampled) = match rx.recv_timeout(WATCHDOG) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return Err(format!(
                "{}: probe/decode did not finish within {WATCHDOG:?} (hang?)",
                path.display()
            ));
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().err().map(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            return Err(format!("{}: panicked: {panic:?}", path.display()));
        }
    };

    match &probed {
        Ok(info) => {
            if info.path != path || info.frame_count > max_frames {
                return Err(format!(
                    "probe: implausible {info:?} (at most {max_frames} frames)"
                ));
            }
        }
        Err(e) => check_error("probe", path, e)?,
    }
    for (what, r, requested, size) in [
        (
            "decode_indices",
            &picked,
            &[0, 1, 4, 9, 20][..],
            Some((16, 12)),
        ),
        ("decode_indices (native size)", &native, &[0, 2][..], None),
    ] {
        match r {
            Ok(d) => {
                check_decoded(what, path, d, requested, size, max_frames)?;
                if probed.as_ref().ok() != Some(&d.info) {
                    return Err(format!(
                        "{what}: info {:?} differs from probe {probed:?}",
                        d.info
                    ));
                }
            }
            Err(e) => check_error(what, path, e)?,
        }
    }
    match &sampled {
        Ok(d) => {
            let requested = sampling.indices(d.info.frame_count, d.info.fps, seed);
            check_decoded(
                "decode_sampled",
                path,
                d,
                &requested,
                Some((8, 6)),
                max_frames,
            )?;
        }
        Err(e) => check_error("decode_sampled", path, e)?,
    }
    Ok(Outcome {
        probe: outcome_of(&probed, |i| {
            let n = match i.frame_count.cmp(&SEED_FRAMES) {
                _ if i.frame_count == 0 => "no",
                std::cmp::Ordering::Less => "fewer",
                std::cmp::Ordering::Equal => "all",
                std::cmp::Ordering::Greater => "more",
            };
            format!("ok({n} frames)")
        }),
        decode: outcome_of(&picked, |d| {
            let available = [0, 1, 4, 9, 20]
                .iter()
                .filter(|&&i| i < d.info.frame_count)
                .count();
            let got = match d.frames.len() {
                0 => "none",
                n if n < available => "some",
                _ => "all",
            };
            let corrupt = d
                .warnings
                .iter()
                .any(|w| w.contains("failed to decode") || w.contains("could not be decoded"));
            format!("ok({got}{})", if corrupt { ", corrupt" } else { "" })
        }),
    })
}

/// The most frames a file of `len` bytes can plausibly hold: a packet needs at least a byte of
/// the file (or of an index entry), and the seeds have 10.
fn frame_bound(len: usize) -> usize {
    SEED_FRAMES.max(len)
}

proptest! {
    #![proptest_config(config(64, 16))]

    /// Mutated videos: probe and decode never panic or hang, and return typed, bounded results.
    #[test]
    fn mutated_videos_fail_cleanly(
        seed_index in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..4),
        ext in prop::sample::select(vec!["", "mp4", "mkv", "avi", "bin"]),
        seed in any::<u64>(),
    ) {
        let (seed_ext, original) = &seeds()[seed_index];
        let bytes = mutate(original.clone(), &mutations);
        let dir = TempDir::new().unwrap();
        let path = dir.path().join(format!("v.{}", if ext.is_empty() { seed_ext } else { ext }));
        fs::write(&path, &bytes).unwrap();
        let truncation_only = mutations.iter().all(|m| matches!(m, Mutation::Truncate(_)));
        let bound = if truncation_only { SEED_FRAMES } else { frame_bound(bytes.len()) };
        check_video(&path, seed, bound).map_err(TestCaseError::fail)?;
    }
}

/// Regenerates `tests/fixtures/fuzz/video/`: mutates the seeds with a fixed RNG seed and keeps
/// the first small file for each distinct outcome (error kind, partial decode, warnings), plus
/// the three seeds themselves. Run with
/// `VIDCOMPARE_WRITE_CORPUS=1 cargo test --test fuzz mine_video_corpus -- --ignored --nocapture`.
#[test]
#[ignore = "regenerates the kept corpus; run by hand"]
fn mine_video_corpus() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    const MAX_FILES: usize = 17;
    const MAX_BYTES: usize = 20 * 1024;
    let write = std::env::var_os("VIDCOMPARE_WRITE_CORPUS").is_some();
    let out = corpus_dir("video");
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng);
    let strategy = (
        0usize..3,
        prop::collection::vec(mutation(), 1..4),
        any::<u64>(),
    );
    let dir = TempDir::new().unwrap();
    let mut kept: std::collections::BTreeMap<Outcome, String> = Default::default();
    let mut counts: std::collections::BTreeMap<Outcome, usize> = Default::default();
    for (ext, bytes) in seeds() {
        let name = format!("seed.{ext}");
        let path = dir.path().join(&name);
        fs::write(&path, bytes).unwrap();
        let outcome = check_video(&path, 0, SEED_FRAMES).unwrap();
        kept.insert(
            Outcome {
                probe: format!("seed {ext}"),
                ..outcome
            },
            name,
        );
        if write {
            fs::write(out.join(format!("seed.{ext}")), bytes).unwrap();
        }
    }
    for case in 0..2000 {
        let (seed_index, mutations, seed) = strategy.new_tree(&mut runner).unwrap().current();
        let (ext, original) = &seeds()[seed_index];
        let bytes = mutate(original.clone(), &mutations);
        let name = format!("case{case:04}.{ext}");
        let path = dir.path().join(&name);
        fs::write(&path, &bytes).unwrap();
        let outcome = check_video(&path, seed, frame_bound(bytes.len())).unwrap();
        *counts.entry(outcome.clone()).or_default() += 1;
        if bytes.len() <= MAX_BYTES && kept.len() < MAX_FILES && !kept.contains_key(&outcome) {
            if write {
                // The decode seed is part of the name so the corpus test replays the same sampling.
                fs::write(
                    out.join(format!("case{case:04}-s{}.{ext}", seed % 4)),
                    &bytes,
                )
                .unwrap();
            }
            kept.insert(outcome, name);
        }
    }
    for (o, n) in &counts {
        println!("{n:5}  {o:?}");
    }
    println!("kept: {kept:#?}");
}

// ---------------------------------------------------------------------------------------------
// The kept corpus
// ---------------------------------------------------------------------------------------------

/// Every file of one corpus folder, sorted; at least one.
fn corpus(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus folder {kind}");
    files
}

/// Split-corpus files named `bug-*` reproduce known bugs in `Dataset::load`; see the ignored
/// tests below. They still go through the parser.
fn is_known_bug(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("bug-"))
}

/// A root with the files the split corpus names: two videos, one with a space in its name, one
/// with non-ASCII names, and a directory that looks like a video.
fn corpus_root() -> TempDir {
    let root = TempDir::new().unwrap();
    for rel in [
        "videos/a.mp4",
        "videos/b.mp4",
        "videos/my clip.mp4",
        "vidéos/ü.mp4",
    ] {
        touch(root.path(), rel);
    }
    fs::create_dir_all(root.path().join("videos/dir.mp4")).unwrap();
    root
}

/// The hand-counted `# expect samples=N problems=M` on a corpus file's first line, if any.
fn expectation(bytes: &[u8]) -> Option<(usize, usize)> {
    let first = file_lines(bytes)[0];
    let rest = std::str::from_utf8(first)
        .ok()?
        .trim()
        .strip_prefix("# expect ")?;
    let mut numbers = rest.split_whitespace().map(|kv| {
        kv.split_once('=')
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .expect("`# expect samples=N problems=M`")
    });
    Some((numbers.next()?, numbers.next()?))
}

#[test]
fn split_corpus_parses_as_counted() {
    for file in corpus("splits") {
        let bytes = fs::read(&file).unwrap();
        let root = corpus_root();
        let (samples, problems) = parse_bytes(root.path(), "train.txt", &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Some((n_samples, n_problems)) = expectation(&bytes) {
            assert_eq!(
                (samples.len(), problems.len()),
                (n_samples, n_problems),
                "{}: samples {samples:#?}\nproblems {problems:#?}",
                file.display()
            );
        }
    }
}

#[test]
fn split_corpus_loads_as_a_dataset() {
    for file in corpus("splits").into_iter().filter(|f| !is_known_bug(f)) {
        let bytes = fs::read(&file).unwrap();
        let root = corpus_root();
        fs::create_dir_all(root.path().join("splits")).unwrap();
        // The same file as all three splits: valid lines then also meet the duplicate checks.
        for name in ["train.txt", "val.txt", "test.txt"] {
            fs::write(root.path().join("splits").join(name), &bytes).unwrap();
        }
        check_load(root.path()).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

/// `Dataset::load` on a root whose train split is `bug_file` (val and test are valid) must come
/// back within [`WATCHDOG`] with a typed error.
///
/// The load runs in a child process (this test binary re-run on just `test_name`) under a 1 GiB
/// address-space limit, because the bug it reproduces allocates without bound: a thread could
/// not be stopped, and would eat the machine's memory before the watchdog fired.
fn load_known_bug(test_name: &str, bug_file: &str) {
    const CHILD: &str = "VIDCOMPARE_FUZZ_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let bytes = fs::read(corpus_dir("splits").join(bug_file)).unwrap();
        let root = corpus_root();
        fs::create_dir_all(root.path().join("splits")).unwrap();
        fs::write(root.path().join("splits/train.txt"), bytes).unwrap();
        fs::write(
            root.path().join("splits/val.txt"),
            "\"videos/my clip.mp4\" 0\n",
        )
        .unwrap();
        fs::write(root.path().join("splits/test.txt"), "vidéos/ü.mp4 0\n").unwrap();
        match Dataset::load(root.path()) {
            Err(Error::Dataset(problems)) => assert!(!problems.is_empty()),
            other => panic!("expected a dataset error, got {other:?}"),
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$0\" \"$@\"")
        .arg(exe)
        .args([test_name, "--exact", "--test-threads=1"])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > WATCHDOG {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    match status {
        Some(s) => assert!(
            s.success(),
            "Dataset::load on {bug_file} failed: {s} (panic or out of memory)"
        ),
        None => panic!("Dataset::load on {bug_file} did not return within {WATCHDOG:?}"),
    }
}

/// Found by fuzzing: the class count was `max label + 1`, so a label of `usize::MAX` overflowed
/// (a panic in debug builds). Now a label larger than the number of listed videos is a problem on
/// its line.
#[test]
fn known_bug_max_label_overflows() {
    load_known_bug("known_bug_max_label_overflows", "bug-max-label.txt");
}

/// Found by fuzzing: a typo such as label `1000000000000` made `n_classes` 10^12, and listing the
/// missing labels (and the fallback class names) walked all of them. Now it is a problem on its
/// line, found at once.
#[test]
fn known_bug_huge_label_hangs() {
    load_known_bug("known_bug_huge_label_hangs", "bug-huge-label.txt");
}

#[test]
fn video_corpus_fails_cleanly() {
    for file in corpus("video") {
        let len = fs::metadata(&file).unwrap().len() as usize;
        // `-sN` in the name is the decode seed the miner used (it picks the sampling).
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let seed = name
            .rsplit_once("-s")
            .and_then(|(_, s)| s.parse().ok())
            .unwrap_or(0);
        check_video(&file, seed, frame_bound(len)).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The seeds in the corpus are intact videos: all 10 frames, 32x24, decodable.
#[test]
fn video_corpus_seeds_are_whole() {
    for file in corpus("video")
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("seed."))
    {
        let info = probe(&file).unwrap();
        assert_eq!(
            (info.width, info.height, info.frame_count),
            (32, 24, 10),
            "{info:?}"
        );
        let d = decode_indices(&file, &[0, 1, 4, 9], None).unwrap();
        let got: Vec<usize> = d.frames.iter().map(|(i, _)| *i).collect();
        assert_eq!(got, [0, 1, 4, 9], "{}", file.display());
        // Frame 9: the yellow square covers x where (x + 5) % 32 < 8, i.e. 27..32 and 0..3;
        // elsewhere the gradient is (8x, 10y, 225).
        let frame9 = &d.frames[3].1;
        let near =
            |got: [u8; 3], want: [u8; 3]| got.iter().zip(want).all(|(&g, w)| g.abs_diff(w) <= 30);
        let square = frame9.get_pixel(29, 12).0;
        assert!(
            near(square, [250, 250, 20]),
            "{}: square {square:?}",
            file.display()
        );
        let background = frame9.get_pixel(16, 4).0;
        assert!(
            near(background, [128, 40, 225]),
            "{}: background {background:?}",
            file.display()
        );
    }
}
