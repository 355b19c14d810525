//! Shape features against OpenCV / numpy / scikit-image references made by
//! `tools/fixtures_shape.py` (the notebook's own functions run on the same grey PNGs).

use std::time::Instant;

use crate::common::fixture_path;
use image::GrayImage;
use serde_json::Value;
use vidcompare::features::shape::{
    Contour, arc_length_closed, canny, contour_area, contour_features, edge_histogram,
    find_external_contours, hog, hog_len, shape_features, shape_len,
};

const INPUTS: [&str; 5] = [
    "proc_64x48",
    "proc_97x73",
    "noise_97x73",
    "flat_40x30",
    "frame_320x240",
];
const BINARY: [&str; 6] = ["rect", "nested", "pixel", "diagonal", "full", "random"];

fn load_gray(name: &str) -> GrayImage {
    let path = fixture_path(&format!("features/{name}"));
    image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8()
}

fn reference() -> Value {
    let path = fixture_path("features/shape_reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("shape_reference.json parses")
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// JSON doubles that hold float32 values exactly (the script writes `float(np.float32)`).
fn f32s(v: &Value) -> Vec<f32> {
    f64s(v).into_iter().map(|x| x as f32).collect()
}

/// A space-separated string of exact decimal float64 values (Python `repr`).
fn f64_text(v: &Value) -> Vec<f64> {
    v.as_str()
        .expect("string of floats")
        .split_whitespace()
        .map(|t| t.parse::<f64>().expect("float"))
        .collect()
}

fn contours_of(v: &Value) -> Vec<Contour> {
    v.as_array()
        .expect("contour list")
        .iter()
        .map(|c| {
            c.as_array()
                .expect("point list")
                .iter()
                .map(|p| {
                    let p = f64s(p);
                    [p[0] as i32, p[1] as i32]
                })
                .collect()
        })
        .collect()
}

fn assert_same_f32(name: &str, what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: {what} length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            "{name}: {what}[{i}] = {a:e}, reference {b:e}\nours {ours:?}\nreference {theirs:?}"
        );
    }
}

#[test]
fn canny_is_bit_exact_with_opencv() {
    for name in INPUTS {
        let gray = load_gray(&format!("shape_{name}.png"));
        let expected = load_gray(&format!("shape_{name}_canny.png"));
        let ours = canny(&gray, 80.0, 160.0);
        let diff: Vec<(u32, u32)> = ours
            .enumerate_pixels()
            .filter(|(x, y, p)| p.0 != expected.get_pixel(*x, *y).0)
            .map(|(x, y, _)| (x, y))
            .take(10)
            .collect();
        assert!(
            diff.is_empty(),
            "{name}: pixels differing from cv2.Canny (first 10): {diff:?}"
        );
    }
    // The fixtures do exercise edges: the realistic frame has thousands of edge pixels.
    let r = reference();
    let frame = &r["inputs"]["frame_320x240"];
    assert!(frame["edge_pixels"].as_u64().unwrap() > 1000);
}

#[test]
fn edge_histogram_matches_the_notebook() {
    let r = reference();
    for name in INPUTS {
        let gray = load_gray(&format!("shape_{name}.png"));
        let ours = edge_histogram(&canny(&gray, 80.0, 160.0), 16);
        let theirs = f32s(&r["inputs"][name]["edge_histogram"]);
        assert_same_f32(name, "edge_histogram", &ours, &theirs);
    }
    // Binary images (one with a min == max projection, one with non-0/255 values).
    for name in BINARY {
        let img = load_gray(&format!("shape_bin_{name}.png"));
        let theirs = f32s(&r["binary"][name]["edge_histogram"]);
        assert_same_f32(name, "edge_histogram", &edge_histogram(&img, 16), &theirs);
    }
}

fn check_contours(name: &str, ours: &[Contour], expected: &Value) {
    let areas = f64_text(&expected["areas"]);
    let peris = f64_text(&expected["perimeters"]);
    let n_points = f64s(&expected["n_points"]);
    assert_eq!(ours.len(), areas.len(), "{name}: number of contours");
    if let Some(points) = expected.get("points") {
        let theirs = contours_of(points);
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{name}: contour {i} points");
        }
    }
    for (i, c) in ours.iter().enumerate() {
        assert_eq!(
            c.len(),
            n_points[i] as usize,
            "{name}: contour {i} point count"
        );
        // Same points and the same float arithmetic as OpenCV: equal to the last bit.
        assert_eq!(contour_area(c), areas[i], "{name}: contour {i} area");
        assert_eq!(
            arc_length_closed(c),
            peris[i],
            "{name}: contour {i} perimeter"
        );
    }
}

#[test]
fn contours_match_opencv_on_canny_edges() {
    let r = reference();
    for name in INPUTS {
        let gray = load_gray(&format!("shape_{name}.png"));
        let edges = canny(&gray, 80.0, 160.0);
        let expected = &r["inputs"][name];
        check_contours(name, &find_external_contours(&edges), &expected["contours"]);
        let theirs = f32s(&expected["contour_features"]);
        assert_same_f32(name, "contour_features", &contour_features(&edges), &theirs);
    }
    // Enough contours to exercise numpy's blocked float32 sums (>= 8 values) in the statistics.
    assert!(f64_text(&r["inputs"]["noise_97x73"]["contours"]["areas"]).len() > 128);
}

#[test]
fn contours_match_opencv_on_hand_made_images() {
    let r = reference();
    for name in BINARY {
        let img = load_gray(&format!("shape_bin_{name}.png"));
        let ours = find_external_contours(&img);
        check_contours(name, &ours, &r["binary"][name]);
        let theirs = f32s(&r["binary"][name]["contour_features"]);
        assert_same_f32(name, "contour_features", &contour_features(&img), &theirs);
    }
}

#[test]
fn hand_made_contours_have_the_expected_geometry() {
    // Independent of the fixture numbers: values worked out by hand.
    // A filled 10x7 rectangle at (3, 4): the contour runs through the outer pixel centres.
    let c = find_external_contours(&load_gray("shape_bin_rect.png"));
    assert_eq!(c, vec![vec![[3, 4], [3, 10], [12, 10], [12, 4]]]);
    assert_eq!(contour_area(&c[0]), f64::from((10 - 1) * (7 - 1)));
    assert_eq!(arc_length_closed(&c[0]), 2.0 * (9.0 + 6.0));
    // A 20x20 square ring at (2, 2) with a filled square inside its hole: only the ring's
    // outer border is external.
    let c = find_external_contours(&load_gray("shape_bin_nested.png"));
    assert_eq!(c, vec![vec![[2, 2], [2, 21], [21, 21], [21, 2]]]);
    assert_eq!(contour_area(&c[0]), 19.0 * 19.0);
    // One pixel: one point, no area, no length.
    let c = find_external_contours(&load_gray("shape_bin_pixel.png"));
    assert_eq!(c, vec![vec![[6, 4]]]);
    assert_eq!(
        contour_features(&load_gray("shape_bin_pixel.png")),
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    // A 13-pixel diagonal from (4, 3) to (16, 15): CHAIN_APPROX_SIMPLE keeps its two end points
    // and the closed perimeter goes there and back.
    let c = find_external_contours(&load_gray("shape_bin_diagonal.png"));
    assert_eq!(c, vec![vec![[4, 3], [16, 15]]]);
    assert_eq!(contour_area(&c[0]), 0.0);
    assert!((arc_length_closed(&c[0]) - 2.0 * 12.0 * 2f64.sqrt()).abs() < 1e-5);
    // An all-foreground 17x12 image: the contour is the image frame.
    let c = find_external_contours(&load_gray("shape_bin_full.png"));
    assert_eq!(c, vec![vec![[0, 0], [0, 11], [16, 11], [16, 0]]]);
    assert_eq!(contour_area(&c[0]), 16.0 * 11.0);
}

fn parse_f32_text(v: &Value) -> Vec<f32> {
    v.as_str()
        .expect("string of floats")
        .split_whitespace()
        .map(|t| t.parse::<f32>().expect("float"))
        .collect()
}

#[test]
fn hog_matches_scikit_image() {
    let r = reference();
    // Every value of the inputs whose reference above is strided (tools/fixtures_hog_full.py).
    let full = crate::common::fixture_json("features/shape_hog_full.json");
    let mut compared_in_full = 0;
    for name in INPUTS {
        let gray = load_gray(&format!("shape_{name}.png"));
        let expected = &r["inputs"][name];
        let ours = hog(&gray);
        if let Some(all) = full.get(name) {
            let theirs = parse_f32_text(&all["hog"]);
            assert_eq!(theirs.len(), ours.len(), "{name}: full length");
            let worst = ours
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                worst <= 1e-6,
                "{name}: max |ours - skimage| over all {} values = {worst:e}",
                ours.len()
            );
            compared_in_full += 1;
        }
        assert_eq!(
            ours.len(),
            expected["hog_len"].as_u64().unwrap() as usize,
            "{name}: length"
        );
        assert_eq!(ours.len(), hog_len(gray.width(), gray.height()));
        let stride = expected["hog_stride"].as_u64().unwrap() as usize;
        let theirs = parse_f32_text(&expected["hog"]);
        let sample: Vec<f32> = ours.iter().step_by(stride).copied().collect();
        assert_eq!(sample.len(), theirs.len(), "{name}: sample length");
        // The arithmetic is skimage's, step for step, so the values agree to the last bit on
        // this machine; the tolerance only leaves room for a libm whose hypot/atan2 differ by an
        // ulp (which can flip the last bit of a float32 cell total). The brief allows 1e-5.
        let worst = sample
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "{name}: max |ours - skimage| = {worst:e}");
        // Checksums of the whole vector, for the strided references.
        let sum: f64 = ours.iter().map(|&v| f64::from(v)).sum();
        let sumsq: f64 = ours.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let (rs, rq) = (
            expected["hog_sum"].as_f64().unwrap(),
            expected["hog_sumsq"].as_f64().unwrap(),
        );
        assert!(
            (sum - rs).abs() <= 1e-6 * rs.abs().max(1.0),
            "{name}: sum {sum} vs {rs}"
        );
        assert!(
            (sumsq - rq).abs() <= 1e-6 * rq.abs().max(1.0),
            "{name}: sumsq {sumsq} vs {rq}"
        );
    }
    // The 320x240 frame and the 97x73 noise, the two strided above.
    assert_eq!(compared_in_full, 2);
}

#[test]
fn shape_features_is_the_notebook_concatenation() {
    let r = reference();
    let gray = load_gray("shape_frame_320x240.png");
    let v = shape_features(&gray);
    assert_eq!(v.len(), 16 + 6 + 40716);
    assert_eq!(v.len(), shape_len(320, 240));
    let expected = &r["inputs"]["frame_320x240"];
    assert_same_f32(
        "frame",
        "edge_histogram part",
        &v[..16],
        &f32s(&expected["edge_histogram"]),
    );
    assert_same_f32(
        "frame",
        "contour part",
        &v[16..22],
        &f32s(&expected["contour_features"]),
    );
    assert_same_f32("frame", "hog part", &v[22..], &hog(&gray));
}

/// Time per 320x240 frame of each function, next to the Python times the fixture script
/// measured. Run with `cargo test --release --test features_shape -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_per_320x240_frame() {
    let gray = load_gray("shape_frame_320x240.png");
    let edges = canny(&gray, 80.0, 160.0);
    let _ = hog(&gray); // builds the lookup tables once
    let time = |f: &dyn Fn()| {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..20 {
                f();
            }
            best = best.min(t.elapsed().as_secs_f64() / 20.0 * 1e3);
        }
        best
    };
    let py: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_path("features/shape_timing.json"))
            .expect("shape_timing.json"),
    )
    .expect("timing json");
    let rows = [
        (
            "canny",
            time(&|| {
                std::hint::black_box(canny(&gray, 80.0, 160.0));
            }),
            "canny_ms",
        ),
        (
            "edge_histogram(edges)",
            time(&|| {
                std::hint::black_box(edge_histogram(&edges, 16));
            }),
            "edge_histogram_of_edges_ms",
        ),
        (
            "contour_features(edges)",
            time(&|| {
                std::hint::black_box(contour_features(&edges));
            }),
            "contour_features_of_edges_ms",
        ),
        (
            "hog",
            time(&|| {
                std::hint::black_box(hog(&gray));
            }),
            "hog_ms",
        ),
        (
            "shape_features (all)",
            time(&|| {
                std::hint::black_box(shape_features(&gray));
            }),
            "notebook_shape_total_ms",
        ),
    ];
    for (what, ms, key) in rows {
        println!(
            "{what:<26} rust {ms:8.3} ms   python {:8.3} ms",
            py[key].as_f64().unwrap_or(f64::NAN)
        );
    }
}
