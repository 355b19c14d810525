//! Classical feature extraction: our stages and the notebook's, side by side in one run.
//!
//!     cargo bench --bench features [-- DATASET_ROOT [MAX_VIDEOS]]
//!
//! Times every stage of our extraction (decode + resize, enhance, colour, GLCM, LBP, Gabor,
//! Canny + contours, HOG, motion) on the same videos, single-threaded so stages compare fairly,
//! then the whole `extract_video` as the program runs it (frames in parallel). When python3 with
//! numpy, scipy, opencv and scikit-image is available it runs `tools/bench_notebook.py` (the
//! notebook's own functions) on the same videos and prints the ratios.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use vidcompare::dataset::Dataset;
use vidcompare::features::extract::{FeatureOptions, FeatureSet, extract_video};
use vidcompare::features::{color, convert, motion, shape, texture};
use vidcompare::video::decode_sampled;
use vidcompare::video::enhance::{EnhanceParams, enhance};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = args
        .first()
        .cloned()
        .unwrap_or_else(|| "data/demo/classical".into());
    let max: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(9);
    let ds = match Dataset::load(&root) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}\n(make the demo data first: vidcompare demo-data data/demo)");
            std::process::exit(1);
        }
    };
    let videos: Vec<PathBuf> = ds.all().map(|(_, s)| s.path.clone()).take(max).collect();
    // The notebook's vector, so both sides compute the same thing (motion+ adds whole-clip flow).
    let opts = FeatureOptions {
        set: FeatureSet::Notebook,
        ..FeatureOptions::default()
    };
    println!(
        "classical features on {} videos of {root} ({}x{}, enhance on, {} cores)",
        videos.len(),
        opts.width,
        opts.height,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (stages, frames) = pool.install(|| rust_stages(&videos, &opts));
    let t = Instant::now();
    for v in &videos {
        extract_video(v, &opts).expect("demo videos decode");
    }
    let e2e = t.elapsed().as_secs_f64();

    let py = python_stages(&videos);
    println!(
        "\n{:<16} {:>12} {:>12} {:>8}",
        "stage", "ours (s)", "notebook (s)", "ratio"
    );
    let py_stages = py.as_ref().map(|p| &p.1);
    let mut ours_total = 0.0;
    for (name, s) in &stages {
        ours_total += s;
        let nb = py_stages.and_then(|p| p.get(name)).copied();
        println!(
            "{:<16} {:>12.3} {:>12} {:>8}",
            name,
            s,
            nb.map(|x| format!("{x:.3}")).unwrap_or("-".into()),
            nb.map(|x| format!("{:.1}x", x / s.max(1e-9)))
                .unwrap_or("-".into())
        );
    }
    println!("{:<16} {:>12.3}", "sum of stages", ours_total);
    println!(
        "\nper video: ours {:.3} s single-threaded, {:.3} s as run (parallel frames); {} frames",
        ours_total / videos.len() as f64,
        e2e / videos.len() as f64,
        frames
    );
    if let Some((total, _)) = py {
        println!(
            "per video: notebook {:.3} s  ->  {:.1}x faster single-threaded, {:.1}x as run",
            total / videos.len() as f64,
            total / ours_total,
            total / e2e
        );
    }
}

fn rust_stages(videos: &[PathBuf], opts: &FeatureOptions) -> (Vec<(String, f64)>, usize) {
    let mut t: BTreeMap<&str, f64> = BTreeMap::new();
    let mut add =
        |k: &'static str, s: Instant| *t.entry(k).or_default() += s.elapsed().as_secs_f64();
    let p = EnhanceParams::default();
    let mut n = 0;
    for v in videos {
        let s = Instant::now();
        let d = decode_sampled(
            v,
            &opts.sampling,
            Some((opts.width, opts.height)),
            opts.seed,
        )
        .expect("demo videos decode");
        add("decode+resize", s);
        let mut grays = Vec::new();
        for (_, f) in &d.frames {
            n += 1;
            let s = Instant::now();
            let f = enhance(f, &p);
            add("enhance", s);
            let s = Instant::now();
            let g = convert::to_gray(&f);
            let hsv = convert::to_hsv(&f);
            std::hint::black_box(color::color_features(&f, &hsv));
            add("color", s);
            let s = Instant::now();
            std::hint::black_box(texture::glcm_features(&g));
            add("glcm", s);
            let s = Instant::now();
            std::hint::black_box(texture::lbp_hist(&g));
            add("lbp", s);
            let s = Instant::now();
            std::hint::black_box(texture::gabor_features(&g));
            add("gabor", s);
            let s = Instant::now();
            let e = shape::canny(&g, 80.0, 160.0);
            std::hint::black_box(shape::edge_histogram(&e, 16));
            std::hint::black_box(shape::contour_features(&e));
            add("canny+contours", s);
            let s = Instant::now();
            std::hint::black_box(shape::hog(&g));
            add("hog", s);
            grays.push(g);
        }
        let s = Instant::now();
        let sub = &grays[..grays.len().min(10)];
        std::hint::black_box(motion::frame_diff_features(sub, 16));
        if sub.len() >= 2 {
            std::hint::black_box(motion::lucas_kanade_sparse(sub, 200));
        }
        add("motion", s);
    }
    (t.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), n)
}

fn python_stages(videos: &[PathBuf]) -> Option<(f64, BTreeMap<String, f64>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench_notebook.py");
    let out = Command::new("python3")
        .arg(script)
        .args(videos)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "(notebook side skipped: {})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("python3 failed")
        );
        return None;
    }
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut stages: BTreeMap<String, f64> = j["stages_s"]
        .as_object()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
        .collect();
    // The notebook decodes every frame then resizes the sampled ones; we fuse the two.
    let dr = stages.remove("decode").unwrap_or(0.0) + stages.remove("resize").unwrap_or(0.0);
    stages.insert("decode+resize".into(), dr);
    Some((j["total_s"].as_f64()?, stages))
}
