//! The demo-data generator end to end: a tiny root that Dataset::load accepts, videos that decode
//! to what was rendered, determinism, reuse and refusal to overwrite foreign folders.

use std::fs;
use std::path::Path;
use std::time::Instant;

use tempfile::TempDir;
use vidcompare::Error;
use vidcompare::dataset::synth::{
    CLASS_NAMES, DemoCounts, Motion, VideoRanges, VideoSpec, generate_root_with, render_frame,
    video_seed,
};
use vidcompare::dataset::{Dataset, DemoSize, SplitName, generate};
use vidcompare::video::{decode_indices, probe};

/// Tiny, fast videos: 64x48 or 48x64 at 15 fps for 1 s.
fn tiny() -> VideoRanges {
    VideoRanges {
        sizes: vec![(64, 48), (48, 64)],
        fps: (15, 15),
        duration_s: (1.0, 1.0),
    }
}

fn one_each() -> DemoCounts {
    DemoCounts::new(1, 1, 1)
}

#[test]
fn tiny_root_loads_and_decodes() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("classical");
    let n = generate_root_with(&root, one_each(), &tiny(), 7, false).unwrap();
    assert_eq!(n, 9);

    let d = Dataset::load(&root).unwrap();
    assert_eq!(d.n_classes(), 3);
    assert_eq!(d.class_names, ["left-right", "up-down", "circle"]);
    for s in SplitName::ALL {
        assert_eq!(d.class_counts(s), vec![1, 1, 1], "{s}");
    }
    assert!(root.join("README.txt").is_file());
    assert!(root.join("demo.json").is_file());

    for (index, (split, sample)) in d.all().enumerate() {
        // Paths say the class, and the label matches it.
        assert!(
            sample
                .rel_path
                .starts_with(&format!("videos/{}/{}_", CLASS_NAMES[sample.label], split))
        );
        let info = probe(&sample.path).unwrap();
        // Video i of the root was drawn from video_seed(seed, "classical", i), in this order.
        let motion = Motion::ALL[sample.label];
        let spec = VideoSpec::random(video_seed(7, "classical", index), motion, &tiny());
        assert_eq!((info.width, info.height), (spec.width, spec.height));
        assert_eq!(info.fps, Some(15.0));
        assert_eq!(info.frame_count, 15);
        // Decoded frames are the rendered ones up to compression loss.
        let decoded = decode_indices(&sample.path, &[0, 14], None).unwrap();
        for (t, frame) in &decoded.frames {
            let want = render_frame(&spec, *t);
            let mad: f64 = frame
                .as_raw()
                .iter()
                .zip(want.as_raw())
                .map(|(a, b)| (*a as f64 - *b as f64).abs())
                .sum::<f64>()
                / want.as_raw().len() as f64;
            assert!(
                mad < 12.0,
                "{}: frame {t} differs from the render by {mad:.1} on average",
                sample.rel_path
            );
        }
    }
    // No temporary files are left behind.
    for entry in walk(&root) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains(".part"), "leftover {name}");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walk(root)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(root).unwrap().display().to_string(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let dir = TempDir::new().unwrap();
    let (a, b, c) = (
        dir.path().join("a/deep"),
        dir.path().join("b/deep"),
        dir.path().join("c/deep"),
    );
    generate_root_with(&a, one_each(), &tiny(), 3, false).unwrap();
    generate_root_with(&b, one_each(), &tiny(), 3, false).unwrap();
    generate_root_with(&c, one_each(), &tiny(), 4, false).unwrap();
    let (sa, sb, sc) = (snapshot(&a), snapshot(&b), snapshot(&c));
    assert_eq!(sa.len(), 9 + 3 + 3); // videos, split files, classes/README/demo.json
    assert!(sa == sb, "same seed, different files");
    let video = |s: &[(String, Vec<u8>)]| {
        s.iter()
            .find(|f| f.0.ends_with("train_000.mp4") && f.0.contains("circle"))
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(video(&sa), video(&sc));
}

#[test]
fn rerun_reuses_and_changed_parameters_regenerate() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("r");
    generate_root_with(&root, one_each(), &tiny(), 1, false).unwrap();
    let video = root.join("videos/up-down/test_000.mp4");
    let before = fs::metadata(&video).unwrap().modified().unwrap();

    let t = Instant::now();
    generate_root_with(&root, one_each(), &tiny(), 1, false).unwrap();
    assert!(t.elapsed().as_secs_f64() < 1.0);
    assert_eq!(
        fs::metadata(&video).unwrap().modified().unwrap(),
        before,
        "reuse rewrote a video"
    );

    // A deleted video makes the root incomplete: it is made again.
    fs::remove_file(&video).unwrap();
    generate_root_with(&root, one_each(), &tiny(), 1, false).unwrap();
    assert!(video.is_file());

    // Other counts replace the root, leaving no stale videos behind.
    generate_root_with(&root, DemoCounts::new(2, 1, 1), &tiny(), 1, false).unwrap();
    let d = Dataset::load(&root).unwrap();
    assert_eq!(d.class_counts(SplitName::Train), vec![2, 2, 2]);
    generate_root_with(&root, one_each(), &tiny(), 1, false).unwrap();
    assert!(!root.join("videos/circle/train_001.mp4").exists());
    assert_eq!(walk(&root.join("videos")).len(), 9);
}

#[test]
fn refuses_foreign_folders_and_bad_arguments() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("mine");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("thesis.tex"), "precious").unwrap();
    let err = generate_root_with(&root, one_each(), &tiny(), 1, false).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("not a vidcompare demo dataset")),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(root.join("thesis.tex")).unwrap(),
        "precious"
    );

    let empty = dir.path().join("e");
    let zero = generate_root_with(&empty, DemoCounts::new(1, 0, 1), &tiny(), 1, false);
    assert!(matches!(zero, Err(Error::InvalidArgument(_))));
    let odd = VideoRanges {
        sizes: vec![(63, 48)],
        ..tiny()
    };
    assert!(matches!(
        generate_root_with(&empty, one_each(), &odd, 1, false),
        Err(Error::InvalidArgument(_))
    ));
}

/// Timing of the real `small` demo (87 videos); run with
/// `cargo test --release --test demo_data -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_generate_small() {
    let dir = TempDir::new().unwrap();
    let t = Instant::now();
    let summary = generate(dir.path(), DemoSize::Small, 0, false).unwrap();
    println!(
        "generate(Small): {:.1} s, {:?}",
        t.elapsed().as_secs_f64(),
        summary.roots
    );
    let t = Instant::now();
    let again = generate(dir.path(), DemoSize::Small, 0, false).unwrap();
    println!(
        "again (reused {:?}): {:.3} s",
        again.reused,
        t.elapsed().as_secs_f64()
    );
    for (_, root, n) in &summary.roots {
        let d = Dataset::load(root).unwrap();
        assert_eq!(d.all().count(), *n);
    }
}
