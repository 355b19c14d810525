//! Texture features (GLCM, LBP, Gabor) against scikit-image fixtures and hand-computed cases.
//!
//! Fixtures come from `tools/fixtures_texture.py`; the timing benchmark is
//! `cargo test --release --test features_texture -- --ignored --nocapture`.

use std::f64::consts::PI;
use std::path::PathBuf;

use image::GrayImage;
use serde_json::Value;
use vidcompare::features::texture::{
    GABOR_FREQUENCIES, GABOR_LEN, GABOR_THETAS, GLCM_LEN, LBP_BINS, gabor_features,
    gabor_magnitude_stats, glcm_counts, glcm_features, glcm_offset, lbp_hist, lbp_uniform_codes,
};

const CASES: [&str; 5] = [
    "proc_64x48",
    "proc_97x73",
    "tiny_7x5",
    "const_40x30",
    "demo_320x240",
];

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/features")
}

fn load(case: &str) -> (GrayImage, Value) {
    let dir = fixture_dir();
    let img = image::open(dir.join(format!("texture_{case}.png")))
        .unwrap()
        .into_luma8();
    let text = std::fs::read_to_string(dir.join(format!("texture_{case}.json"))).unwrap();
    (img, serde_json::from_str(&text).unwrap())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(got.abs()) + abs
}

#[test]
fn glcm_matches_skimage() {
    for case in CASES {
        let (img, fx) = load(case);
        let got = glcm_features(&img);
        let want = floats(&fx["glcm"]);
        assert_eq!(got.len(), GLCM_LEN);
        assert_eq!(want.len(), GLCM_LEN);
        for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
            // Both sides are f64 sums over the same 256 cells, in different orders, then cast to
            // f32: agreement to f32 rounding (plus 1e-9 for correlations near zero).
            assert!(
                close(f64::from(g), w, 1e-6, 1e-9),
                "{case} glcm[{k}]: {g} vs {w}"
            );
        }
    }
}

#[test]
fn lbp_codes_match_skimage_exactly() {
    for case in CASES {
        let (img, fx) = load(case);
        let Some(rows) = fx.get("lbp_codes") else {
            continue;
        };
        let codes = lbp_uniform_codes(&img);
        for (r, row) in rows.as_array().unwrap().iter().enumerate() {
            let want: Vec<u8> = row.as_str().unwrap().bytes().map(|b| b - b'0').collect();
            let got: Vec<u8> = (0..img.width())
                .map(|c| codes.get_pixel(c, r as u32).0[0])
                .collect();
            assert_eq!(got, want, "{case} row {r}");
        }
    }
}

#[test]
fn lbp_hist_matches_skimage_exactly() {
    for case in CASES {
        let (img, fx) = load(case);
        let got = lbp_hist(&img);
        let want = floats(&fx["lbp"]);
        assert_eq!(got.len(), LBP_BINS);
        // count / n in f64 then cast to f32 on both sides: bit-identical.
        let want: Vec<f32> = want.iter().map(|&v| v as f32).collect();
        assert_eq!(got, want, "{case}");
        assert!(got[10..].iter().all(|&v| v == 0.0));
    }
}

#[test]
fn gabor_matches_notebook_float32_path() {
    for case in CASES {
        let (img, fx) = load(case);
        let got = gabor_features(&img);
        let want = floats(&fx["gabor"]);
        assert_eq!(got.len(), GABOR_LEN);
        for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
            // The notebook runs skimage on a float32 image (complex64 kernel, float32 outputs and
            // float32 mean/var); we compute in f64. Textured images agree to ~5e-7; the constant
            // image's response is a small difference of kernel taps (~2.5e-6 off in float32), and
            // its variance is 0 here vs float32 round-off (~1e-20) there, hence the 1e-12 floor.
            assert!(
                close(f64::from(g), w, 1e-5, 1e-12),
                "{case} gabor[{k}]: {g} vs {w}"
            );
        }
    }
}

#[test]
fn gabor_matches_skimage_float64_tightly() {
    // skimage on a float64 image is the same filter without float32 rounding, so the separable
    // f64 implementation must agree to summation-order round-off.
    for case in CASES {
        let (img, fx) = load(case);
        let want = fx["gabor_f64"].as_array().unwrap();
        let mut k = 0;
        for &f in &GABOR_FREQUENCIES {
            for &t in &GABOR_THETAS {
                let (mean, var) = gabor_magnitude_stats(&img, f, t);
                let w = floats(&want[k]);
                assert!(
                    close(mean, w[0], 1e-10, 1e-15),
                    "{case} f={f} t={t} mean {mean} vs {}",
                    w[0]
                );
                assert!(
                    close(var, w[1], 1e-8, 1e-15),
                    "{case} f={f} t={t} var {var} vs {}",
                    w[1]
                );
                k += 1;
            }
        }
    }
}

/// The classic Haralick 4x4 example (also skimage's graycomatrix docstring), levels 0..3,
/// stored as grey values `level * 16 + 9` so quantisation by 16 is exercised.
fn haralick_4x4() -> GrayImage {
    let levels = [[0, 0, 1, 1], [0, 0, 1, 1], [0, 2, 2, 2], [2, 2, 3, 3]];
    GrayImage::from_fn(4, 4, |x, y| {
        image::Luma([levels[y as usize][x as usize] * 16 + 9])
    })
}

#[test]
fn glcm_counts_by_hand() {
    let mut q = haralick_4x4();
    q.iter_mut().for_each(|v| *v /= 16);
    let counts = |off| {
        let c = glcm_counts(&q, 4, off);
        c[..].chunks(4).map(|r| r.to_vec()).collect::<Vec<_>>()
    };
    // (row, col) offsets: right; down-right; down; down-left, counted pair by pair.
    assert_eq!(
        counts((0, 1)),
        [[2, 2, 1, 0], [0, 2, 0, 0], [0, 0, 3, 1], [0, 0, 0, 1]]
    );
    assert_eq!(
        counts((1, 1)),
        [[1, 1, 3, 0], [0, 1, 1, 0], [0, 0, 0, 2], [0, 0, 0, 0]]
    );
    assert_eq!(
        counts((1, 0)),
        [[3, 0, 2, 0], [0, 2, 2, 0], [0, 0, 1, 2], [0, 0, 0, 0]]
    );
    assert_eq!(
        counts((1, -1)),
        [[2, 0, 0, 0], [1, 1, 2, 0], [0, 0, 2, 1], [0, 0, 0, 0]]
    );
    assert_eq!(glcm_offset(1.0, 0.0), (0, 1));
    assert_eq!(glcm_offset(1.0, 3.0 * PI / 4.0), (1, -1));
    // Offsets beyond the image give no pairs.
    assert!(glcm_counts(&q, 4, (0, 4)).iter().all(|&v| v == 0));
}

#[test]
fn glcm_props_by_hand() {
    // Distance 1, angle 0: the symmetric matrix S = C + C^T of the counts above has 24 pairs:
    // S(0,0)=4, S(0,1)=S(1,0)=2, S(0,2)=S(2,0)=1, S(1,1)=4, S(2,2)=6, S(2,3)=S(3,2)=1, S(3,3)=2.
    let f = glcm_features(&haralick_4x4());
    let at = |prop: usize| f64::from(f[prop * 8]); // prop-major, then distance, then angle
    let contrast = (2.0 + 2.0 + 4.0 + 4.0 + 1.0 + 1.0) / 24.0;
    let dissimilarity = (2.0 + 2.0 + 2.0 + 2.0 + 1.0 + 1.0) / 24.0;
    let homogeneity = (16.0 + 6.0 / 2.0 + 2.0 / 5.0) / 24.0;
    let asm: f64 = (16.0 + 4.0 + 4.0 + 1.0 + 1.0 + 16.0 + 36.0 + 1.0 + 1.0 + 4.0) / 576.0;
    // Marginal (both ways, S is symmetric): 7, 6, 8, 3 of 24; mean 31/24, variance 599/576;
    // E[ij] = 58/24, so covariance 431/576.
    let correlation = 431.0 / 599.0;
    let want = [
        contrast,
        dissimilarity,
        homogeneity,
        asm.sqrt(),
        correlation,
        asm,
    ];
    for (k, w) in want.into_iter().enumerate() {
        assert!(close(at(k), w, 1e-6, 0.0), "prop {k}: {} vs {w}", at(k));
    }
}

#[test]
fn glcm_constant_image_correlation_is_one() {
    let f = glcm_features(&GrayImage::from_pixel(5, 5, image::Luma([200])));
    for (k, &v) in f.iter().enumerate() {
        // contrast, dissimilarity 0; homogeneity, energy, correlation, ASM 1.
        let want = if k < 16 { 0.0 } else { 1.0 };
        assert_eq!(v, want, "index {k}");
    }
}

#[test]
fn lbp_codes_by_hand() {
    // Samples at (r - sin, c + cos) for p = 0..7 (right, up-right, up, ...), diagonals bilinear.
    let px = [[10u8, 90, 90], [10, 50, 90], [10, 10, 10]];
    let img = GrayImage::from_fn(3, 3, |x, y| image::Luma([px[y as usize][x as usize]]));
    let codes = lbp_uniform_codes(&img);
    // Centre 50: right 90, up-right ~86.6, up 90 set; up-left ~30, left 10, down-left ~13.4,
    // down 10, down-right ~30 clear: 11100000, one change, code 3.
    assert_eq!(codes.get_pixel(1, 1).0[0], 3);
    // Top-left 10, zeros outside: right 90 and up-right ~19.5 set, up 0, up-left ~0.9, left 0,
    // down-left ~2.9 clear, down 10 (>= is set) and down-right ~46.6 set: 11000011, two
    // changes along the chain, uniform with four ones.
    assert_eq!(codes.get_pixel(0, 0).0[0], 4);

    // Alternating neighbours around a centre of 50: not uniform, code P + 1 = 9.
    let alt = [[0u8, 0, 0], [90, 50, 90], [0, 0, 0]];
    let img = GrayImage::from_fn(3, 3, |x, y| image::Luma([alt[y as usize][x as usize]]));
    assert_eq!(lbp_uniform_codes(&img).get_pixel(1, 1).0[0], 9);

    let h = lbp_hist(&GrayImage::from_pixel(1, 1, image::Luma([7])));
    // A single pixel: only zeros around it, no sample >= 7, code 0.
    assert_eq!(h[0], 1.0);
    assert!(h[1..].iter().all(|&v| v == 0.0));
}

#[test]
fn gabor_constant_image_by_hand() {
    // A constant image stays constant under reflect borders, so the response is v * (sum of the
    // 2-D kernel) everywhere: mean |v * sum k|, variance 0. The kernel is summed here straight
    // from skimage's gabor_kernel formula.
    let v = 0.6;
    let img = GrayImage::from_pixel(23, 17, image::Luma([153])); // 153 / 255 = 0.6
    for f in [0.2, 0.4] {
        for theta in [0.0, PI / 4.0, PI / 2.0] {
            let sigma = 1.0 / PI * (2f64.ln() / 2.0).sqrt() * 3.0 / f;
            let half = |a: f64, b: f64| {
                (3.0 * sigma * a)
                    .abs()
                    .max((3.0 * sigma * b).abs())
                    .max(1.0)
                    .ceil() as i64
            };
            let (x0, y0) = (
                half(theta.cos(), theta.sin()),
                half(theta.cos(), theta.sin()),
            );
            let (mut re, mut im) = (0.0, 0.0);
            for y in -y0..=y0 {
                for x in -x0..=x0 {
                    let (x, y) = (x as f64, y as f64);
                    let rotx = x * theta.cos() + y * theta.sin();
                    let roty = -x * theta.sin() + y * theta.cos();
                    let g = (-0.5 * (rotx * rotx + roty * roty) / (sigma * sigma)).exp()
                        / (2.0 * PI * sigma * sigma);
                    re += g * (2.0 * PI * f * rotx).cos();
                    im += g * (2.0 * PI * f * rotx).sin();
                }
            }
            let (mean, var) = gabor_magnitude_stats(&img, f, theta);
            let want = v * (re * re + im * im).sqrt();
            assert!(
                close(mean, want, 1e-9, 1e-15),
                "f={f} t={theta}: {mean} vs {want}"
            );
            assert!(var.abs() < 1e-24, "f={f} t={theta}: var {var}");
        }
    }
}

#[test]
fn empty_image_does_not_panic() {
    let img = GrayImage::new(0, 0);
    assert_eq!(glcm_features(&img).len(), GLCM_LEN);
    assert_eq!(lbp_hist(&img).len(), LBP_BINS);
    assert_eq!(gabor_features(&img).len(), GABOR_LEN);
}

#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn timing_per_320x240_frame() {
    let (img, _) = load("demo_320x240");
    let time = |name: &str, f: &dyn Fn()| {
        f();
        let reps = 20;
        let t0 = std::time::Instant::now();
        for _ in 0..reps {
            f();
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / f64::from(reps);
        println!("{name}: {ms:.3} ms per 320x240 frame");
    };
    time("glcm_features", &|| {
        std::hint::black_box(glcm_features(&img));
    });
    time("lbp_hist", &|| {
        std::hint::black_box(lbp_hist(&img));
    });
    time("gabor_features (6 filters)", &|| {
        std::hint::black_box(gabor_features(&img));
    });
}
