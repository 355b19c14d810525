//! Colour conversions and colour features against OpenCV and the notebook's own Python functions
//! (fixtures made by `tools/fixtures_color.py`).

use crate::common::fixture_path;
use serde_json::Value;
use vidcompare::features::color::{self, COLOR_LEN};
use vidcompare::features::convert::{gray_f32, to_gray, to_hsv};
use vidcompare::video::Frame;

fn load_rgb(name: &str) -> Frame {
    image::open(fixture_path(&format!("features/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .to_rgb8()
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture_path("features/color_reference.json"))
        .expect("reference json");
    serde_json::from_str(&text).expect("valid json")
}

const ALL: [&str; 4] = ["proc_64x48", "proc_97x73", "flatblue_64x48", "real_320x240"];

/// The fixture's checksum of a conversion's output bytes (see `cube_checksum` in the script).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().enumerate().fold(0u64, |acc, (k, &v)| {
        let w = (k as u64).wrapping_mul(2_654_435_761).wrapping_add(12_345) & 0xffff_ffff;
        acc.wrapping_add(u64::from(v).wrapping_mul(w))
    })
}

/// Every 24-bit colour once: pixel p = 4096 y + x has R = p >> 16, G = (p >> 8) & 255, B = p & 255.
fn colour_cube() -> Frame {
    Frame::from_fn(4096, 4096, |x, y| {
        let p = y * 4096 + x;
        image::Rgb([(p >> 16) as u8, (p >> 8) as u8, p as u8])
    })
}

#[test]
fn gray_and_hsv_are_bit_exact_for_every_colour() {
    let r = reference();
    let cube = colour_cube();
    assert_eq!(
        checksum(to_gray(&cube).as_raw()),
        r["cube_checksum"]["gray"].as_u64().unwrap(),
        "COLOR_BGR2GRAY differs from OpenCV for some colour"
    );
    assert_eq!(
        checksum(to_hsv(&cube).as_raw()),
        r["cube_checksum"]["hsv"].as_u64().unwrap(),
        "COLOR_BGR2HSV differs from OpenCV for some colour"
    );
}

/// Byte-for-byte equality, reporting how many bytes differ and the first one rather than
/// printing whole images.
fn assert_same_bytes(what: &str, got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "{what}: size");
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(
        bad.is_empty(),
        "{what}: {} bytes differ, first at {}: {} vs OpenCV {}",
        bad.len(),
        bad[0],
        got[bad[0]],
        want[bad[0]]
    );
}

/// A sample image compared directly, so that a failure shows where (the cube checksums above
/// only say whether).
#[test]
fn gray_and_hsv_match_opencv_images() {
    let frame = load_rgb("color_proc_64x48.png");
    let gray = image::open(fixture_path("features/color_proc_64x48_gray.png"))
        .unwrap()
        .to_luma8();
    assert_same_bytes("gray", to_gray(&frame).as_raw(), gray.as_raw());
    let hsv = load_rgb("color_proc_64x48_hsv.png");
    assert_same_bytes("hsv", to_hsv(&frame).as_raw(), hsv.as_raw());
    // gray.astype(np.float32) / 255.0, indexed [row, column].
    let g = gray_f32(&gray);
    assert_eq!(g.dim(), (48, 64));
    assert_eq!(g[[3, 5]], f32::from(gray.get_pixel(5, 3).0[0]) / 255.0);
}

/// Values from the notebook's functions; `null` where SciPy's skew is NaN (a constant channel),
/// which [`color::color_moments`] defines as 0 (the notebook zeroes NaN at the end).
fn expected(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map_or(0.0, |f| f as f32))
        .collect()
}

/// Histograms, means, variances and averages reproduce NumPy's float32 operations, so they are
/// expected bit for bit; the skewness goes through `powf`, which NumPy may take from a SIMD
/// library rather than libm, so it gets the relative tolerance of 1e-6 (a few float32 ulps).
fn assert_close(name: &str, what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name} {what} length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-6 * w.abs();
        assert!(
            (g - w).abs() <= tol,
            "{name} {what}[{i}]: got {g}, notebook {w}"
        );
    }
}

#[test]
fn colour_features_match_the_notebook() {
    let r = reference();
    for name in ALL {
        let frame = load_rgb(&format!("color_{name}.png"));
        let hsv = to_hsv(&frame);
        let want = &r["frames"][name];
        let rgb_hist = color::rgb_hist(&frame, 16);
        let hsv_hist = color::hsv_hist(&hsv, 16);
        let moments = color::color_moments(&frame);
        let avg = color::avg_color(&frame);
        assert_eq!(rgb_hist, expected(&want["rgb_hist"]), "{name} rgb_hist");
        assert_eq!(hsv_hist, expected(&want["hsv_hist"]), "{name} hsv_hist");
        assert_eq!(avg.to_vec(), expected(&want["avg"]), "{name} avg_color");
        let wm = expected(&want["moments"]);
        for ch in 0..3 {
            assert_eq!(moments[3 * ch], wm[3 * ch], "{name} mean of channel {ch}");
            assert_eq!(
                moments[3 * ch + 1],
                wm[3 * ch + 1],
                "{name} var of channel {ch}"
            );
        }
        assert_close(name, "moments", &moments, &wm);

        let all = color::color_features(&frame, &hsv);
        assert_eq!(all.len(), COLOR_LEN);
        let mut joined = rgb_hist.clone();
        joined.extend(&hsv_hist);
        joined.extend(moments);
        joined.extend(avg);
        assert_eq!(all, joined, "{name}: notebook order rgb, hsv, moments, avg");
    }
}

#[test]
fn constant_channel_has_zero_skew_where_scipy_gives_nan() {
    let r = reference();
    assert!(r["frames"]["flatblue_64x48"]["moments"][8].is_null());
    let frame = load_rgb("color_flatblue_64x48.png");
    let m = color::color_moments(&frame);
    assert_eq!(&m[6..], &[77.0, 0.0, 0.0]);
}

#[test]
fn hue_histogram_keeps_the_notebooks_empty_top_bins() {
    // Hue stops at 179, so bins 12..16 of [0, 256) (values 192 and up) never fill.
    let frame = load_rgb("color_real_320x240.png");
    let h = color::hsv_hist(&to_hsv(&frame), 16);
    assert!(h[12..16].iter().all(|&v| v == 0.0));
    assert!((h[..16].iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

/// Time per 320x240 frame (release build: `cargo test --release --test features_color --
/// --ignored --nocapture`).
#[test]
#[ignore]
fn timing_per_frame() {
    let frame = load_rgb("color_real_320x240.png");
    let n = 200;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(to_gray(&frame));
    }
    let gray = t.elapsed().as_secs_f64() / f64::from(n);
    let t = std::time::Instant::now();
    let mut hsv = to_hsv(&frame);
    for _ in 1..n {
        hsv = std::hint::black_box(to_hsv(&frame));
    }
    let thsv = t.elapsed().as_secs_f64() / f64::from(n);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(color::color_features(&frame, &hsv));
    }
    let feats = t.elapsed().as_secs_f64() / f64::from(n);
    println!(
        "320x240: to_gray {:.3} ms, to_hsv {:.3} ms, color_features {:.3} ms",
        gray * 1e3,
        thsv * 1e3,
        feats * 1e3
    );
}
