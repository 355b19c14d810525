//! Motion features against OpenCV and numpy references (tools/fixtures_motion.py) and hand-made
//! cases.

use crate::common::fixture_path;
use image::{GrayImage, Luma};
use serde_json::Value;
use vidcompare::features::motion::{
    HsParams, MOTION_PLUS_LEN, corner_min_eigen_val, frame_diff_features, good_features_to_track,
    horn_schunck_features, horn_schunck_with, lucas_kanade_sparse, motion_plus_features,
    motion_plus_names, pyr_down, pyr_lk,
};

fn png(name: &str) -> GrayImage {
    image::open(fixture_path(&format!("features/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_luma8()
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture_path("features/motion_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture image a reference key names, e.g. `scene_97x73_0` or `real_320x240_24`.
fn image_for(key: &str) -> GrayImage {
    png(&format!("motion_{key}.png"))
}

/// The two frames a reference record names, and a label for messages.
fn pair(rec: &Value) -> (GrayImage, GrayImage, String) {
    let (a, b) = (rec["prev"].as_str().unwrap(), rec["next"].as_str().unwrap());
    (image_for(a), image_for(b), format!("{a} -> {b}"))
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn points(v: &Value) -> Vec<(f32, f32)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = f64s(p);
            (p[0] as f32, p[1] as f32)
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64], rel: f64, abs: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = abs.max(rel * w.abs());
        assert!(
            (f64::from(g) - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (tolerance {tol})\n got {got:?}\nwant {want:?}"
        );
    }
}

#[test]
fn corner_responses_are_bit_identical_to_opencv() {
    let r = reference();
    for (key, rec) in r["corners"].as_object().unwrap() {
        let img = image_for(key);
        let eig = corner_min_eigen_val(&img);
        let w = img.width() as usize;
        for s in rec["eig_samples"].as_array().unwrap() {
            let s = f64s(s);
            let (x, y) = (s[0] as usize, s[1] as usize);
            assert_eq!(
                f64::from(eig[y * w + x]),
                s[2],
                "{key}: cornerMinEigenVal at ({x}, {y})"
            );
        }
        let max = eig.iter().fold(f32::MIN, |m, &v| m.max(v));
        assert_eq!(
            f64::from(max),
            rec["eig_max"].as_f64().unwrap(),
            "{key}: max"
        );
        let sum: f64 = eig.iter().map(|&v| f64::from(v)).sum();
        let want = rec["eig_sum"].as_f64().unwrap();
        // Only the summation order differs from numpy's: 1e-12 relative.
        assert!(
            (sum - want).abs() <= 1e-12 * want.abs(),
            "{key}: sum {sum} vs {want}"
        );
    }
}

#[test]
fn corners_equal_good_features_to_track() {
    let r = reference();
    for (key, rec) in r["corners"].as_object().unwrap() {
        let got = good_features_to_track(&image_for(key), 200, 0.01, 7.0);
        let want = points(&rec["corners"]);
        assert_eq!(got.len(), want.len(), "{key}: corner count");
        assert_eq!(got, want, "{key}: corners and their order");
    }
}

#[test]
fn pyr_down_equals_opencv() {
    let l0 = png("motion_scene_97x73_0.png");
    let l1 = pyr_down(&l0);
    assert_eq!(l1, png("motion_pyrdown_97x73_l1.png"));
    assert_eq!(pyr_down(&l1), png("motion_pyrdown_97x73_l2.png"));
}

#[test]
fn pyr_lk_matches_calc_optical_flow_pyr_lk() {
    let r = reference();
    for rec in r["lk"].as_array().unwrap() {
        let (prev, next, key) = pair(rec);
        let pts = points(&rec["points"]);
        let want = points(&rec["tracked"]);
        let status: Vec<bool> = f64s(&rec["status"]).iter().map(|&s| s == 1.0).collect();
        let got = pyr_lk(&prev, &next, &pts).unwrap();
        let mut worst = 0f32;
        for (i, g) in got.iter().enumerate() {
            assert_eq!(
                g.is_some(),
                status[i],
                "{key}: status of point {i} at {:?}",
                pts[i]
            );
            if let Some(q) = g {
                worst = worst.max((q.0 - want[i].0).abs().max((q.1 - want[i].1).abs()));
            }
        }
        // The integer window arithmetic and the float operation order are OpenCV's, so the
        // positions agree far inside the 0.05 px asked for.
        println!("{key}: largest difference from OpenCV {worst} px");
        assert!(worst <= 1e-3, "{key}: largest difference {worst} px");
    }
}

#[test]
fn lucas_kanade_sparse_matches_the_notebook() {
    let r = reference();
    for rec in r["lucas_kanade_sparse"].as_array().unwrap() {
        let (prev, next, key) = pair(rec);
        let got = lucas_kanade_sparse(&[prev, next], 200);
        // numpy works in float32 (pairwise sums); we accumulate in f64.
        assert_close(&got, &f64s(&rec["features"]), 1e-5, 1e-6, &key);
    }
}

#[test]
fn frame_diff_matches_the_notebook() {
    let r = reference();
    for rec in r["frame_diff_features"].as_array().unwrap() {
        let names: Vec<&str> = rec["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let frames: Vec<GrayImage> = names.iter().map(|n| image_for(n)).collect();
        let bins = rec["bins"].as_u64().unwrap() as usize;
        let got = frame_diff_features(&frames, bins);
        // numpy's float32 means against our exact integer sums.
        assert_close(&got, &f64s(&rec["features"]), 1e-5, 1e-7, &names.join(","));
    }
}

#[test]
fn horn_schunck_matches_the_numpy_reference() {
    let r = reference();
    for rec in r["horn_schunck"].as_array().unwrap() {
        let (prev, next, key) = pair(rec);
        let p = &rec["params"];
        let params = HsParams {
            alpha: p["alpha"].as_f64().unwrap() as f32,
            iterations: p["iterations"].as_u64().unwrap() as usize,
            levels: p["levels"].as_u64().unwrap() as usize,
            min_size: p["min_size"].as_u64().unwrap() as usize,
        };
        let (u, v) = horn_schunck_with(&prev, &next, &params).unwrap();
        // f32 here, f64 in numpy, over hundreds of iterations: 1e-4 px.
        let mut worst = 0f64;
        for s in rec["samples"].as_array().unwrap() {
            let s = f64s(s);
            let (x, y) = (s[0] as usize, s[1] as usize);
            let (gu, gv) = (f64::from(u[[y, x]]), f64::from(v[[y, x]]));
            worst = worst.max((gu - s[2]).abs()).max((gv - s[3]).abs());
        }
        println!("{key}: largest flow difference from numpy {worst:e} px");
        assert!(worst <= 1e-4, "{key}: largest flow difference {worst}");
        let (mu, mv) = (f64::from(u.mean().unwrap()), f64::from(v.mean().unwrap()));
        assert!(
            (mu - rec["mean_u"].as_f64().unwrap()).abs() <= 1e-5,
            "{key}: mean u {mu}"
        );
        assert!(
            (mv - rec["mean_v"].as_f64().unwrap()).abs() <= 1e-5,
            "{key}: mean v {mv}"
        );
        if params == HsParams::default() {
            let got = horn_schunck_features(&[prev, next], 16, 16);
            assert_close(&got, &f64s(&rec["features"]), 1e-4, 1e-4, &key);
        }
    }
}

/// A smooth texture, shifted right by `dx` pixels.
fn texture(w: u32, h: u32, dx: f32) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as f32 - dx, y as f32);
        let v = 128.0 + 45.0 * (x * 0.29).sin() * (y * 0.21).cos() + 35.0 * ((x - y) * 0.13).cos();
        Luma([v.round() as u8])
    })
}

#[test]
fn horn_schunck_finds_a_one_pixel_shift_and_no_motion() {
    let (a, b) = (texture(80, 60, 0.0), texture(80, 60, 1.0));
    let f = horn_schunck_features(&[a.clone(), b], 16, 16);
    let (mu, mv) = (f[36], f[37]);
    assert!(
        (mu - 1.0).abs() < 0.15 && mv.abs() < 0.05,
        "mean flow ({mu}, {mv})"
    );
    // Rightward motion: angle 0 lies in bin 8 of [-pi, pi).
    let ang = &f[20..36];
    let best = (0..16).max_by(|&i, &j| ang[i].total_cmp(&ang[j])).unwrap();
    assert!(best == 7 || best == 8, "direction bins {ang:?}");
    let still = horn_schunck_features(&[a.clone(), a.clone()], 16, 16);
    assert!(still[..4].iter().all(|&x| x == 0.0) && still[36..] == [0.0, 0.0]);
    assert_eq!(horn_schunck_features(&[a], 16, 16), vec![0.0; 38]);
}

#[test]
fn lucas_kanade_tracks_a_known_shift() {
    let (a, b) = (texture(96, 72, 0.0), texture(96, 72, 3.0));
    let f = lucas_kanade_sparse(&[a.clone(), b], 200);
    // Mean length 3 px, direction +x (cos 1, sin 0).
    assert!(
        (f[0] - 3.0).abs() < 0.1 && (f[4] - 1.0).abs() < 0.01 && f[5].abs() < 0.01,
        "{f:?}"
    );
    assert!(f[6] > 10.0);
    assert_eq!(lucas_kanade_sparse(&[a], 200), [0.0; 10]);
}

#[test]
fn motion_plus_has_a_stable_layout() {
    assert_eq!(motion_plus_names().len(), MOTION_PLUS_LEN);
    let frames: Vec<GrayImage> = (0..12).map(|t| texture(64, 48, t as f32)).collect();
    let v = motion_plus_features(&frames, 12.0);
    assert_eq!(v.len(), MOTION_PLUS_LEN);
    assert!(v.iter().all(|x| x.is_finite()));
    let names = motion_plus_names();
    let get = |n: &str| v[names.iter().position(|m| m.ends_with(n)).unwrap()];
    // One pixel per frame at 12 fps on a 64-pixel-wide frame: 12/64 widths per second, to the
    // right; all of the motion is horizontal.
    assert!(
        (get("dom/mean_x") - 12.0 / 64.0).abs() < 0.03,
        "{}",
        get("dom/mean_x")
    );
    assert!(get("dom/mean_y").abs() < 0.03, "{}", get("dom/mean_y"));
    assert!(get("dense/horizontal_energy_share") > 0.95);
    assert!(get("tracks/horizontal_share") > 0.9);
    assert_eq!(
        motion_plus_features(&frames[..1], 12.0),
        vec![0.0; MOTION_PLUS_LEN]
    );
}

/// Leave-one-out nearest-centroid accuracy on features standardised with the training fold.
fn loo_nearest_centroid(x: &[Vec<f32>], y: &[usize]) -> f64 {
    let n_classes = y.iter().max().map_or(0, |m| m + 1);
    let d = x[0].len();
    let mut correct = 0;
    for i in 0..x.len() {
        let train: Vec<usize> = (0..x.len()).filter(|&j| j != i).collect();
        let mut mean = vec![0f64; d];
        let mut sd = vec![0f64; d];
        for &j in &train {
            for k in 0..d {
                mean[k] += f64::from(x[j][k]) / train.len() as f64;
            }
        }
        for &j in &train {
            for k in 0..d {
                sd[k] += (f64::from(x[j][k]) - mean[k]).powi(2) / train.len() as f64;
            }
        }
        let z = |v: &[f32], k: usize| {
            let s = sd[k].sqrt();
            if s > 1e-12 {
                (f64::from(v[k]) - mean[k]) / s
            } else {
                0.0
            }
        };
        let mut cent = vec![vec![0f64; d]; n_classes];
        let mut count = vec![0usize; n_classes];
        for &j in &train {
            count[y[j]] += 1;
            for (k, c) in cent[y[j]].iter_mut().enumerate() {
                *c += z(&x[j], k);
            }
        }
        let best = (0..n_classes)
            .filter(|&c| count[c] > 0)
            .map(|c| {
                let dist: f64 = (0..d)
                    .map(|k| (z(&x[i], k) - cent[c][k] / count[c] as f64).powi(2))
                    .sum();
                (c, dist)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c);
        if best == Some(y[i]) {
            correct += 1;
        }
    }
    correct as f64 / x.len() as f64
}

/// Demo-data check (run with `cargo test --release --test features_motion -- --ignored
/// --nocapture`, after `vidcompare demo-data /tmp/demo_motion`; `VIDCOMPARE_DEMO_ROOT` picks
/// another classical root): leave-one-out nearest-centroid accuracy of MOTION+ against the
/// notebook's motion features, and MOTION+ time per video.
#[test]
#[ignore]
fn demo_motion_plus_separates_the_classes() {
    use std::time::Instant;
    use vidcompare::dataset::Dataset;
    use vidcompare::features::convert::to_gray;
    use vidcompare::features::motion::notebook_horn_schunck_placeholder;
    use vidcompare::video::{Sampling, decode_sampled};

    let root = std::env::var("VIDCOMPARE_DEMO_ROOT")
        .unwrap_or_else(|_| "/tmp/demo_motion/classical".to_owned());
    let ds = Dataset::load(&root).expect("run `vidcompare demo-data /tmp/demo_motion` first");
    let (mut plus, mut notebook, mut with_hs, mut labels) = (vec![], vec![], vec![], vec![]);
    let (mut t_plus, mut t_decode, mut n) = (0.0, 0.0, 0);
    for (_, s) in ds.all() {
        let t0 = Instant::now();
        let dense = decode_sampled(
            &s.path,
            &Sampling::Dense { max_frames: 500 },
            Some((96, 72)),
            0,
        )
        .unwrap();
        let fps = dense.info.fps.unwrap_or(25.0);
        let grays: Vec<GrayImage> = dense.frames.iter().map(|(_, f)| to_gray(f)).collect();
        t_decode += t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        plus.push(motion_plus_features(&grays, fps));
        t_plus += t1.elapsed().as_secs_f64();

        let uni = decode_sampled(
            &s.path,
            &Sampling::Uniform { target_fps: 1.0 },
            Some((320, 240)),
            0,
        )
        .unwrap();
        let g: Vec<GrayImage> = uni
            .frames
            .iter()
            .take(10)
            .map(|(_, f)| to_gray(f))
            .collect();
        let mut nb = frame_diff_features(&g, 16);
        nb.extend(lucas_kanade_sparse(&g, 200));
        let mut hs = nb.clone();
        nb.extend(notebook_horn_schunck_placeholder());
        hs.extend(horn_schunck_features(&g, 16, 16));
        notebook.push(nb);
        with_hs.push(hs);
        labels.push(s.label);
        n += 1;
    }
    let names = motion_plus_names();
    for c in 0..ds.n_classes() {
        let rows: Vec<&Vec<f32>> = plus
            .iter()
            .zip(&labels)
            .filter(|(_, l)| **l == c)
            .map(|(r, _)| r)
            .collect();
        let show = [
            "dom/horizontal_energy_share",
            "dom/axis_ratio",
            "dom/abs_angular_momentum",
            "dom/max_xy_correlation",
            "tracks/fastest_horizontal_share",
            "diff/centroid_horizontal_share",
        ];
        let line: Vec<String> = show
            .iter()
            .map(|f| {
                let k = names.iter().position(|m| m.ends_with(f)).unwrap();
                format!(
                    "{f}={:.3}",
                    rows.iter().map(|r| f64::from(r[k])).sum::<f64>() / rows.len() as f64
                )
            })
            .collect();
        println!("class {} ({}): {}", c, ds.class_name(c), line.join(" "));
    }
    println!("videos: {n}");
    println!(
        "LOO nearest-centroid accuracy, notebook motion (frame diff + LK, 1 fps): {:.3}",
        loo_nearest_centroid(&notebook, &labels)
    );
    println!(
        "LOO nearest-centroid accuracy, notebook motion + real Horn-Schunck: {:.3}",
        loo_nearest_centroid(&with_hs, &labels)
    );
    println!(
        "LOO nearest-centroid accuracy, MOTION+ ({} values): {:.3}",
        MOTION_PLUS_LEN,
        loo_nearest_centroid(&plus, &labels)
    );
    for group in ["dom/", "window", "dense/", "tracks/", "diff/"] {
        let keep: Vec<usize> = (0..names.len())
            .filter(|&k| names[k].contains(group))
            .collect();
        let sub: Vec<Vec<f32>> = plus
            .iter()
            .map(|r| keep.iter().map(|&k| r[k]).collect())
            .collect();
        println!(
            "  MOTION+ group {group}: {:.3}",
            loo_nearest_centroid(&sub, &labels)
        );
    }
    println!(
        "MOTION+ time per video: {:.3} s (decoding to 96x72 grey: {:.3} s)",
        t_plus / n as f64,
        t_decode / n as f64
    );
}

/// Timing on the 320x240 fixture frames (run with `cargo test --release --test features_motion
/// timing -- --ignored --nocapture`); prints, asserts nothing.
#[test]
#[ignore]
fn timing_per_320x240_frame() {
    use std::time::Instant;
    let (a, b) = (image_for("real_320x240_0"), image_for("real_320x240_1"));
    let time = |what: &str, reps: usize, f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        println!(
            "{what}: {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    };
    let ten: Vec<GrayImage> = (0..10)
        .map(|i| if i % 2 == 0 { a.clone() } else { b.clone() })
        .collect();
    time("frame_diff_features, 10 frames (9 pairs)", 20, &mut || {
        frame_diff_features(&ten, 16);
    });
    time("good_features_to_track, 200 corners", 20, &mut || {
        good_features_to_track(&a, 200, 0.01, 7.0);
    });
    let pair = [a.clone(), b.clone()];
    time("lucas_kanade_sparse (corners + pyr_lk)", 20, &mut || {
        lucas_kanade_sparse(&pair, 200);
    });
    time(
        "horn_schunck_features (4 levels x 100 iterations)",
        5,
        &mut || {
            horn_schunck_features(&pair, 16, 16);
        },
    );
    let small: Vec<GrayImage> = (0..50).map(|t| texture(96, 72, t as f32 * 0.7)).collect();
    time("motion_plus_features, 50 frames of 96x72", 3, &mut || {
        motion_plus_features(&small, 25.0);
    });
}

/// A moving textured scene written as a real video (MPEG-4 part 2, in every FFmpeg build).
fn write_moving_video(path: &std::path::Path, n: usize, fps: u32) {
    use vidcompare::video::{Codec, Frame, VideoWriter};
    let (w, h) = (160u32, 120u32);
    let mut out = VideoWriter::create(path, w, h, fps, Codec::Mpeg4).expect("create writer");
    for i in 0..n as u32 {
        let f = Frame::from_fn(w, h, |x, y| {
            let (u, v) = (x + 3 * i, y + i);
            let t = ((u / 8 + v / 8) % 2) as u8 * 120;
            image::Rgb([t + (u % 50) as u8, 60 + (v % 90) as u8, 200 - t / 2])
        });
        out.write(&f).expect("write frame");
    }
    out.finish().expect("finish");
}

/// One pass over the file serves the sampled frames and the first consecutive frames, each
/// exactly as its own `decode_sampled` call gives them.
#[test]
fn one_decode_serves_several_samplings() {
    use vidcompare::video::decode::decode_sampled_many;
    use vidcompare::video::{Sampling, decode_sampled};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moving.avi");
    write_moving_video(&path, 60, 25);
    let uniform = Sampling::Uniform { target_fps: 1.0 };
    let dense = Sampling::Dense { max_frames: 40 };
    let many = decode_sampled_many(
        &path,
        &[
            (uniform, Some((64, 48))),
            (dense, Some((24, 18))),
            (dense, None),
        ],
        7,
    )
    .unwrap();
    assert_eq!(many.len(), 3);
    let alone = [
        decode_sampled(&path, &uniform, Some((64, 48)), 7).unwrap(),
        decode_sampled(&path, &dense, Some((24, 18)), 7).unwrap(),
        decode_sampled(&path, &dense, None, 7).unwrap(),
    ];
    for (k, (m, a)) in many.iter().zip(&alone).enumerate() {
        assert_eq!(idx_of(m), idx_of(a), "request {k}: frame indices");
        assert!(
            m.frames.iter().zip(&a.frames).all(|(x, y)| x.1 == y.1),
            "request {k}: frames differ from a decode of their own"
        );
        assert!(m.warnings.is_empty(), "request {k}: {:?}", m.warnings);
    }
    assert_eq!(idx_of(&many[0]), vec![0, 25, 50]);
    assert_eq!(many[1].frames.len(), 40);
    assert_eq!(many[2].frames[0].1.dimensions(), (160, 120));
}

fn idx_of(d: &vidcompare::video::Decoded) -> Vec<usize> {
    d.frames.iter().map(|f| f.0).collect()
}

/// With `motion+`, the vector is the notebook's followed by the whole-clip block of the first
/// consecutive frames at the motion size, computed here from a decode of their own.
#[test]
fn motion_plus_vector_extends_the_notebook_vector() {
    use vidcompare::features::convert::to_gray;
    use vidcompare::features::extract::{FeatureOptions, FeatureSet, extract_video};
    use vidcompare::video::{Sampling, decode_sampled};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moving.avi");
    write_moving_video(&path, 50, 25);
    let base = FeatureOptions {
        enhance: false,
        width: 80,
        height: 60,
        motion_max_frames: 30,
        ..FeatureOptions::default()
    };
    let notebook = extract_video(
        &path,
        &FeatureOptions {
            set: FeatureSet::Notebook,
            ..base.clone()
        },
    )
    .unwrap();
    let plus = extract_video(
        &path,
        &FeatureOptions {
            set: FeatureSet::MotionPlus,
            ..base.clone()
        },
    )
    .unwrap();
    let clip = decode_sampled(
        &path,
        &Sampling::Dense { max_frames: 30 },
        Some(base.motion_size),
        base.seed,
    )
    .unwrap();
    assert_eq!(clip.frames.len(), 30);
    let grays: Vec<GrayImage> = clip.frames.iter().map(|(_, f)| to_gray(f)).collect();
    let mut want = notebook.values.clone();
    let mut block = motion_plus_features(&grays, 25.0);
    for v in &mut block {
        if !v.is_finite() {
            *v = 0.0; // nan_to_num, as the extraction does
        }
    }
    want.extend(block);
    assert_eq!(plus.values.len(), want.len());
    let bad: Vec<usize> = (0..want.len())
        .filter(|&i| plus.values[i].to_bits() != want[i].to_bits())
        .collect();
    assert!(
        bad.is_empty(),
        "{} values differ, first at {}",
        bad.len(),
        bad[0]
    );
}

/// `bench features` times the notebook's vector as run (Horn-Schunck's zero placeholder, as the
/// notebook computes it) and, apart, our default with the real flow; the stage pass covers the
/// nine stages in order on every sampled frame.
#[test]
fn feature_bench_times_the_notebook_vector_and_the_real_flow_apart() {
    use vidcompare::dataset::synth::{DemoCounts, VideoRanges, generate_root_with};
    use vidcompare::features::bench::{BenchOptions, STAGES, bench_features_with};
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("data");
    let ranges = VideoRanges {
        sizes: vec![(64, 48)],
        fps: (10, 10),
        duration_s: (2.0, 2.0),
    };
    generate_root_with(&root, DemoCounts::new(1, 1, 1), &ranges, 3, false).unwrap();
    let o = BenchOptions {
        n_videos: 2,
        threads: 1,
        notebook: false,
        enhance: false,
    };
    let t = bench_features_with(&root, &o).unwrap();
    assert_eq!(t.videos, 2);
    // Uniform sampling at one frame per second over two seconds, per video.
    assert!(t.frames >= 2 * 2, "{} frames", t.frames);
    let names: Vec<&str> = t.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, STAGES);
    // Enhancement off: its stage takes no time, every other one some.
    for s in &t.stages {
        assert_eq!(s.ours_s > 0.0, s.name != "enhance", "{s:?}");
        assert_eq!(s.notebook_s, None);
    }
    assert!(t.as_run_s > 0.0 && t.as_run_real_hs_s > 0.0);
    assert_eq!(t.ratios(), None);
    let text = t.render();
    assert!(text.contains("real Horn-Schunck flow"), "{text}");
    assert!(
        text.contains("notebook side skipped: not requested"),
        "{text}"
    );
}
