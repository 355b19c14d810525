//! Bad datasets: truncated, zero-byte, non-video, audio-only, one-frame and missing files are
//! classified by `check`, reported and skipped by a run, and an interrupted extraction resumes
//! from the cache.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vidcompare::dataset::check::{CheckStatus, Severity, check_with_progress};
use vidcompare::dataset::synth::{DemoCounts, VideoRanges, generate_root_with};
use vidcompare::dataset::{Dataset, SplitName};
use vidcompare::deep::data::{ClipCache, ClipSpec, DeepSampling, load_clips};
use vidcompare::features::cache::FeatureCache;
use vidcompare::features::extract::{FeatureOptions, NOT_CACHED, try_extract_samples};
use vidcompare::interrupt::{interrupted, is_interrupted_error, set_interrupted};
use vidcompare::video::{Codec, Frame, VideoWriter, probe};

use crate::common::{isolated, vidcompare_cmd};

/// 64x48 at 15 fps for 2 s: 30 frames, quick to write and decode.
fn tiny() -> VideoRanges {
    VideoRanges {
        sizes: vec![(64, 48)],
        fps: (15, 15),
        duration_s: (2.0, 2.0),
    }
}

/// 3 classes x (3 train, 1 val, 1 test) good videos.
fn good_root(dir: &Path) -> PathBuf {
    let root = dir.join("data");
    let counts = DemoCounts {
        train: 3,
        val: 1,
        test: 1,
    };
    generate_root_with(&root, counts, &tiny(), 11, false).unwrap();
    root
}

/// Move `root/videos` to `store` and leave a symbolic link in its place, as datasets on clusters
/// and shared disks are laid out.
fn link_videos_to_store(root: &Path, store: &Path) {
    fs::rename(root.join("videos"), store).unwrap();
    std::os::unix::fs::symlink(store, root.join("videos")).unwrap();
}

fn append(root: &Path, split: &str, lines: &[&str]) {
    let p = root.join("splits").join(format!("{split}.txt"));
    let mut text = fs::read_to_string(&p).unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    fs::write(&p, text).unwrap();
}

/// Audio-only WAV: RIFF header and 0.5 s of a 440 Hz sine, 16-bit mono at 8 kHz.
fn write_wav(path: &Path) {
    let rate = 8000u32;
    let samples: Vec<i16> = (0..rate / 2)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    b.extend_from_slice(&2u16.to_le_bytes()); // block align
    b.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    fs::write(path, b).unwrap();
}

/// A video of `n` frames whose content changes every frame.
fn write_video(path: &Path, n: usize) {
    let mut w = VideoWriter::create(path, 64, 48, 15, Codec::Auto).unwrap();
    for i in 0..n {
        let f = Frame::from_fn(64, 48, |x, y| {
            image::Rgb([
                (x * 4) as u8,
                (y * 5) as u8,
                ((i * 37 + (x as usize) * (y as usize)) % 256) as u8,
            ])
        });
        w.write(&f).unwrap();
    }
    w.finish().unwrap();
}

fn cut(path: &Path, fraction: f64) {
    let bytes = fs::read(path).unwrap();
    let keep = (bytes.len() as f64 * fraction) as usize;
    fs::write(path, &bytes[..keep]).unwrap();
}

/// Bad videos, as (split, rel path, expected status); every one has label 0.
const BAD: &[(&str, &str, CheckStatus)] = &[
    ("train", "videos/bad/truncated.mp4", CheckStatus::Truncated),
    ("train", "videos/bad/zero.mp4", CheckStatus::ZeroBytes),
    ("train", "videos/bad/notes.mp4", CheckStatus::NotAVideo),
    ("val", "videos/bad/audio.wav", CheckStatus::NoVideoStream),
    ("val", "videos/bad/one_frame.mp4", CheckStatus::TooShort),
    ("test", "videos/bad/truncated.mkv", CheckStatus::Truncated),
    ("test", "videos/bad/missing.mp4", CheckStatus::Missing),
];

/// The good root plus every kind of bad file, listed in the splits after the good ones.
fn bad_root(dir: &Path) -> PathBuf {
    let root = good_root(dir);
    let bad = root.join("videos/bad");
    fs::create_dir_all(&bad).unwrap();
    let real = root.join("videos/left-right/train_000.mp4");
    fs::copy(&real, bad.join("truncated.mp4")).unwrap();
    cut(&bad.join("truncated.mp4"), 0.4);
    fs::write(bad.join("zero.mp4"), b"").unwrap();
    fs::write(bad.join("notes.mp4"), "these are my notes, not a video\n").unwrap();
    write_wav(&bad.join("audio.wav"));
    write_video(&bad.join("one_frame.mp4"), 1);
    write_video(&bad.join("truncated.mkv"), 60);
    cut(&bad.join("truncated.mkv"), 0.4);
    for split in ["train", "val", "test"] {
        let lines: Vec<String> = BAD
            .iter()
            .filter(|b| b.0 == split)
            .map(|b| format!("{} 0", b.1))
            .collect();
        append(
            &root,
            split,
            &lines.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    root
}

#[test]
fn wav_and_one_frame_fixtures_are_what_they_claim() {
    // The hand-written fixtures must be valid files of their kind, or the checks prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav);
    let err = probe(&wav).unwrap_err().to_string();
    assert!(err.contains("no video stream"), "{err}");
    let one = dir.path().join("one.mp4");
    write_video(&one, 1);
    assert_eq!(probe(&one).unwrap().frame_count, 1);
}

#[test]
fn check_classifies_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = bad_root(dir.path());
    let report = check_with_progress(&root, false).unwrap();

    assert_eq!(report.counts.videos, 15 + BAD.len());
    for (split, rel, status) in BAD {
        let row = report
            .row(rel)
            .unwrap_or_else(|| panic!("no row for {rel}"));
        assert_eq!(row.status, *status, "{rel}: {}", row.detail);
        assert_eq!(row.split.as_str(), *split);
    }
    // Unusable ones are errors; the one-frame video and the cut Matroska (whose first frames
    // still decode) are usable with a warning.
    let sev = |rel: &str| report.row(rel).unwrap().severity;
    assert_eq!(sev("videos/bad/one_frame.mp4"), Severity::Warning);
    assert_eq!(sev("videos/bad/truncated.mkv"), Severity::Warning);
    for rel in [
        "videos/bad/truncated.mp4",
        "videos/bad/zero.mp4",
        "videos/bad/notes.mp4",
        "videos/bad/audio.wav",
        "videos/bad/missing.mp4",
    ] {
        assert_eq!(sev(rel), Severity::Error, "{rel}");
    }
    assert!(
        report
            .row("videos/bad/audio.wav")
            .unwrap()
            .detail
            .contains("audio")
    );
    assert!(
        report
            .row("videos/bad/truncated.mp4")
            .unwrap()
            .detail
            .contains("moov")
    );
    assert_eq!(report.counts.ok, 15);
    assert_eq!(report.counts.errors, 5);
    assert_eq!(report.counts.warnings, 2);
    assert!(report.has_errors());
    // The missing file is placed at its own line: the first line after train/val's good ones.
    let missing = report.row("videos/bad/missing.mp4").unwrap();
    assert_eq!((missing.split, missing.line), (SplitName::Test, 5));

    // The table lists problems only, then the summary.
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + BAD.len() + 1, "{text}");
    assert!(lines[0].starts_with("where"));
    assert!(
        !text.contains("left-right/train_000.mp4"),
        "ok rows are not listed"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("22 videos checked: 15 ok, 2 warnings, 5 errors")
    );
    // Aligned: the status column starts at the same place in every row.
    let col = lines[0].find("status").unwrap();
    for l in &lines[1..lines.len() - 1] {
        assert!(
            l[col..].starts_with(|c: char| c.is_ascii_alphabetic())
                && l.as_bytes()[col - 1] == b' ',
            "misaligned: {l}"
        );
    }
}

#[test]
fn check_command_prints_the_table_and_exits_1_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = bad_root(dir.path());
    let out = vidcompare(&["check", &root.display().to_string()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}");
    for (_, rel, status) in BAD {
        let line = stdout
            .lines()
            .find(|l| l.contains(rel))
            .unwrap_or_else(|| panic!("{rel} not in\n{stdout}"));
        assert!(line.contains(status.as_str()), "{line}");
    }
    assert!(text(&out.stderr).contains("5 of 22 videos are unusable"));

    // A clean dataset passes.
    // A clean dataset whose videos/ is a link to a store elsewhere passes, and the link is shown.
    let good = good_root(&dir.path().join("good"));
    let store = dir.path().join("store");
    link_videos_to_store(&good, &store);
    let out = vidcompare(&["check", &good.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("15 videos checked: 15 ok, 0 warnings, 0 errors"));
    let resolved = fs::canonicalize(&store).unwrap();
    assert!(
        stdout.contains(&format!("videos -> {} (symbolic link)", resolved.display())),
        "{stdout}"
    );
}

#[test]
fn lenient_load_drops_missing_videos_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = good_root(dir.path());
    append(&root, "test", &["videos/gone.mp4 1"]);
    // Strict loading still refuses it.
    assert!(Dataset::load(&root).is_err());
    let (ds, warnings) = Dataset::load_lenient(&root).unwrap();
    assert_eq!(ds.test.len(), 3);
    assert_eq!(warnings.len(), 1);
    let w = warnings[0].to_string();
    assert!(w.contains("test.txt:4: video file not found"), "{w}");
    assert!(w.ends_with("videos/gone.mp4"), "{w}");

    // Other problems stay fatal, and the missing video is listed with them.
    append(&root, "val", &["videos/left-right/val_000.mp4 x"]);
    let e = Dataset::load_lenient(&root).unwrap_err().to_string();
    assert!(e.contains("val.txt:4: label `x` is not an integer"), "{e}");
    assert!(e.contains("gone.mp4"), "{e}");
}

#[test]
fn a_split_whose_videos_are_all_missing_is_fatal_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = good_root(dir.path());
    fs::write(
        root.join("splits/val.txt"),
        "videos/a.mp4 0\nvideos/b.mp4 1\nvideos/c.mp4 2\n",
    )
    .unwrap();
    let e = Dataset::load_lenient(&root).unwrap_err().to_string();
    assert!(
        e.contains(
            "val.txt: no usable video left in the val split: all 3 listed videos are missing"
        ),
        "{e}"
    );
}

fn vidcompare(args: &[&str]) -> Output {
    vidcompare_cmd().args(args).output().expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_notebook(root: &Path, tmp: &Path) -> Output {
    let r = root.display().to_string();
    vidcompare(&[
        "run",
        "scripts/comparative_analysis.rhai",
        "--quiet",
        "--set",
        &format!("data_root_classical={r}"),
        "--set",
        &format!("data_root_deep={r}"),
        "--set",
        &format!("report_dir={}", tmp.join("reports").display()),
        "--set",
        "run_name=robust",
        "--set",
        &format!("cache_dir={}", tmp.join("cache").display()),
        "--set",
        "enhance=false",
        "--set",
        "resize_w=160",
        "--set",
        "resize_h=120",
        "--set",
        "sample_frames_per_class=2",
    ])
}

#[test]
fn the_notebook_runs_to_the_end_and_reports_every_bad_video() {
    let dir = tempfile::tempdir().unwrap();
    let root = bad_root(dir.path());
    // The videos live in a shared store the dataset links to.
    link_videos_to_store(&root, &dir.path().join("store"));
    let out = run_notebook(&root, dir.path());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "stderr:\n{stderr}");

    let json: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("reports/robust/results.json")).unwrap(),
    )
    .unwrap();
    let warnings: Vec<String> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let all = warnings.join("\n");
    // Every unusable video is in the report and on stderr, with its reason.
    let reasons: &[(&str, &[&str])] = &[
        ("truncated.mp4", &["not a video", "invalid data"]),
        ("zero.mp4", &["not a video", "invalid data", "empty"]),
        ("notes.mp4", &["not a video", "invalid data"]),
        ("audio.wav", &["no video stream"]),
        ("missing.mp4", &["not found"]),
        (
            "truncated.mkv",
            &["truncated", "decoded", "expected frames", "not delivered"],
        ),
    ];
    for (name, why) in reasons {
        let w = warnings
            .iter()
            .find(|w| w.contains(name))
            .unwrap_or_else(|| panic!("{name} not in the report's warnings:\n{all}"));
        let lw = w.to_lowercase();
        assert!(
            why.iter().any(|r| lw.contains(r)),
            "{name}: reason missing in `{w}`"
        );
        assert!(stderr.contains(name), "{name} not on stderr:\n{stderr}");
    }
    // The classical pipeline used the 15 good videos plus the one-frame one.
    let html = fs::read_to_string(dir.path().join("reports/robust/index.html")).unwrap();
    assert!(html.contains("id=\"classical\""));
    // The runs index beside the run folder lists this run.
    let index = fs::read_to_string(dir.path().join("reports/index.html")).unwrap();
    assert!(
        index.contains("<a href=\"robust&#x2f;index.html\">robust</a>"),
        "{index}"
    );
    // The dataset's link to the store is stated in the run metadata.
    assert!(
        html.contains("videos reached through <code>videos -&gt; "),
        "the report does not show where videos/ leads"
    );
    // The classical section says how many videos it left out: the four that can't be decoded at
    // all (the missing one was dropped when the splits were read, and warned about there).
    assert!(
        html.contains("4 of 21 videos could not be used"),
        "classical section does not count the excluded videos"
    );
}

/// `vidcompare prepare` over the bad root, as the tasks of a 2-task array, then its `--check`.
fn prepare(root: &Path, tmp: &Path, extra: &[&str]) -> Output {
    let r = root.display().to_string();
    let mut args = vec![
        "prepare".to_string(),
        "scripts/comparative_analysis.rhai".to_string(),
        "--quiet".to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    for set in [
        format!("data_root_classical={r}"),
        format!("data_root_deep={r}"),
        format!("cache_dir={}", tmp.join("cache").display()),
        "enhance=false".to_string(),
        "resize_w=160".to_string(),
        "resize_h=120".to_string(),
    ] {
        args.push("--set".to_string());
        args.push(set);
    }
    vidcompare_cmd().args(&args).output().expect("binary runs")
}

/// Scale-out over a dataset with bad videos: each prepare task records the videos it cannot use,
/// so the merge's check passes (naming them and why) instead of waiting for products that can
/// never exist; it still waits for a task that has not run, and for a repaired video (whose
/// content, hence key, changed).
#[test]
fn the_merge_check_counts_bad_videos_as_tried_and_waits_for_tasks_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = bad_root(dir.path());
    let out = prepare(&root, dir.path(), &["--shard", "0/2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = prepare(&root, dir.path(), &["--check"]);
    let err = text(&check.stderr);
    assert!(!check.status.success(), "task 1 has not run:\n{err}");
    assert!(err.contains("missing: features notebook: "), "{err}");

    let out = prepare(&root, dir.path(), &["--shard", "1/2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = prepare(&root, dir.path(), &["--check"]);
    let err = text(&check.stderr);
    assert!(check.status.success(), "{err}");
    assert!(
        text(&check.stdout).contains("every per-video product is cached, but for"),
        "{}",
        text(&check.stdout)
    );
    assert!(!err.contains("missing:"), "{err}");
    let unusable: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("unusable: "))
        .collect();
    // The four files that do not decode at all, for each of the three products, with the reason
    // (and the path said once).
    for name in ["truncated.mp4", "zero.mp4", "notes.mp4", "audio.wav"] {
        let lines: Vec<&&str> = unusable.iter().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 3, "{name}:\n{err}");
        for l in lines {
            assert_eq!(l.matches(name).count(), 1, "{l}");
            let l = l.to_lowercase();
            assert!(
                ["not a video", "invalid data", "no video stream", "empty"]
                    .iter()
                    .any(|r| l.contains(r)),
                "{l}"
            );
        }
    }
    // No good video is among them.
    assert!(unusable.iter().all(|l| l.contains("videos/bad/")), "{err}");

    // A repaired video has new content, so its record no longer applies: missing again. (A copy
    // of a dataset video would be found cached: entries are keyed by content.)
    write_video(&root.join("videos/bad/notes.mp4"), 30);
    let check = prepare(&root, dir.path(), &["--check"]);
    let err = text(&check.stderr);
    assert!(!check.status.success(), "{err}");
    let missing: Vec<&str> = err.lines().filter(|l| l.starts_with("missing: ")).collect();
    assert_eq!(missing.len(), 3, "{err}");
    assert!(
        missing.iter().all(|l| l.ends_with("videos/bad/notes.mp4")),
        "{err}"
    );
}

/// A cache that cannot be written (here its folder is a file) loses no video: the run keeps
/// every computed product and warns that it was not cached; a prepare task, whose purpose is the
/// cache, fails naming the cache folder.
#[test]
fn an_unwritable_cache_loses_no_video_but_fails_a_prepare_task() {
    let dir = tempfile::tempdir().unwrap();
    let root = good_root(dir.path());
    let ds = Dataset::load(&root).unwrap();
    let blocked = dir.path().join("cache");
    fs::create_dir_all(&blocked).unwrap();
    fs::write(
        blocked.join("features"),
        b"a file where the folder should be",
    )
    .unwrap();
    fs::write(
        blocked.join("deep_frames"),
        b"a file where the folder should be",
    )
    .unwrap();

    let opts = FeatureOptions {
        width: 64,
        height: 48,
        enhance: false,
        ..FeatureOptions::default()
    };
    let cache = FeatureCache::new(blocked.join("features"));
    let m = try_extract_samples(&ds.train, &opts, Some(&cache), false).unwrap();
    assert_eq!((m.n_videos(), m.skipped.len()), (9, 0));
    assert_eq!(m.not_cached.len(), 9);
    assert_eq!(
        m.warnings.iter().filter(|w| w.contains(NOT_CACHED)).count(),
        9,
        "{:?}",
        m.warnings
    );
    let spec = ClipSpec {
        size: 32,
        frames: 4,
        sampling: DeepSampling::Uniform,
        enhance: false,
        seed: 0,
    };
    let clips = load_clips(
        &ds.train,
        &spec,
        Some(&ClipCache::new(blocked.join("deep_frames"))),
        "frames",
        false,
    )
    .unwrap();
    assert_eq!((clips.len(), clips.skipped.len()), (9, 0));
    assert_eq!(clips.not_cached.len(), 9);
    assert_eq!(
        clips
            .warnings
            .iter()
            .filter(|w| w.contains(NOT_CACHED))
            .count(),
        9,
        "{:?}",
        clips.warnings
    );

    let out = prepare(&root, dir.path(), &["--shard", "0/1"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("products could not be stored in") && err.contains("features"),
        "{err}"
    );
}

#[test]
fn a_split_with_no_usable_video_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = good_root(dir.path());
    let bad = root.join("videos/bad");
    fs::create_dir_all(&bad).unwrap();
    fs::write(bad.join("zero.mp4"), b"").unwrap();
    fs::write(bad.join("notes.mp4"), "not a video\n").unwrap();
    fs::write(
        root.join("splits/val.txt"),
        "videos/bad/zero.mp4 0\nvideos/bad/notes.mp4 1\n",
    )
    .unwrap();
    let out = run_notebook(&root, dir.path());
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the val split has no usable video (2 skipped)"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn an_interrupted_extraction_stops_and_resumes_from_the_cache() {
    // The interrupt flag is process-wide: set here, it would stop the tests running beside it.
    if !isolated("robustness::an_interrupted_extraction_stops_and_resumes_from_the_cache") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = good_root(dir.path());
    let ds = Dataset::load(&root).unwrap();
    let opts = FeatureOptions {
        width: 64,
        height: 48,
        enhance: false,
        ..FeatureOptions::default()
    };
    let cache = FeatureCache::new(dir.path().join("cache"));

    // Some videos finished before the interrupt...
    let done = try_extract_samples(&ds.train[..4], &opts, Some(&cache), false).unwrap();
    assert_eq!((done.n_videos(), done.cache_hits), (4, 0));

    // ...then Ctrl-C: the next extraction stops with the interrupt error, nothing half-done.
    set_interrupted(true);
    let e = try_extract_samples(&ds.train, &opts, Some(&cache), false).unwrap_err();
    assert!(is_interrupted_error(&e), "{e}");
    assert!(e.to_string().contains("interrupted"));
    set_interrupted(false);
    assert!(!interrupted());

    // Running again resumes: the finished videos come from the cache, the rest are extracted.
    let m = try_extract_samples(&ds.train, &opts, Some(&cache), false).unwrap();
    assert_eq!(m.n_videos(), 9);
    assert_eq!(m.cache_hits, 4);
    assert!(m.skipped.is_empty());
    assert_eq!(m.x.row(0), done.x.row(0));
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_run_cleanly_and_the_next_run_resumes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    // Longer, larger clips than elsewhere so that the run is still extracting when signalled.
    let ranges = VideoRanges {
        sizes: vec![(160, 120)],
        fps: (30, 30),
        duration_s: (4.0, 4.0),
    };
    let counts = DemoCounts {
        train: 3,
        val: 1,
        test: 1,
    };
    generate_root_with(&root, counts, &ranges, 5, false).unwrap();
    let cache = dir.path().join("cache");
    let r = root.display().to_string();
    let args = [
        "run".to_string(),
        "scripts/comparative_analysis.rhai".into(),
        "--quiet".into(),
        "--set".into(),
        format!("data_root_classical={r}"),
        "--set".into(),
        format!("data_root_deep={r}"),
        "--set".into(),
        format!("report_dir={}", dir.path().join("reports").display()),
        "--set".into(),
        format!("cache_dir={}", cache.display()),
        "--set".into(),
        "enhance=false".into(),
        "--set".into(),
        "sample_frames_per_class=0".into(),
    ];
    let child = vidcompare_cmd()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal as soon as the first feature vector reaches the cache.
    let cached = || {
        walk(&cache.join("features"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "vcf"))
            .count()
    };
    let t = std::time::Instant::now();
    while cached() == 0 && t.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr:\n{stderr}");
    assert!(
        stderr.contains("interrupt: finishing the current video"),
        "{stderr}"
    );
    assert!(
        stderr.contains("interrupted: completed videos are cached"),
        "{stderr}"
    );
    let kept = cached();
    assert!((1..2 * 15).contains(&kept), "{kept} cached vectors");

    // The next run finishes, reusing what the interrupted one cached.
    let out = vidcompare(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(cached(), 2 * 15, "one vector per video and feature set");
}

/// Every file under `dir` (none when it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
