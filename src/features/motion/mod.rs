//! Motion features: the notebook's frame differences and sparse Lucas–Kanade flow, a real
//! Horn–Schunck dense flow, and MOTION+, a clip-level description of how things move.
//!
//! Inputs are 8-bit grey frames ([`image::GrayImage`], OpenCV `COLOR_BGR2GRAY` semantics, see
//! [`crate::features::convert::to_gray`]). The notebook (cell In[6]) computes
//!
//! - [`frame_diff_features`] on the first ten sampled frames (8 + 16 values),
//! - [`lucas_kanade_sparse`] on the first two (10 values),
//! - `horn_schunck_dense_features`, a disabled placeholder of 38 zeros
//!   ([`notebook_horn_schunck_placeholder`]); [`horn_schunck_features`] is the real thing with the
//!   same length.
//!
//! [`motion_plus_features`] goes beyond the notebook: it looks at consecutive frames over the
//! whole clip (see its docs and [`motion_plus_names`]).
//!
//! Where frames of one call differ in size (decoded videos never do), each pair is compared over
//! the top-left region the two frames share.

use std::borrow::Cow;

use image::GrayImage;

mod flow_stats;
mod horn_schunck;
mod lk;

pub use flow_stats::{MOTION_PLUS_LEN, motion_plus_features, motion_plus_names};
pub use horn_schunck::{
    HS_FEATURE_LEN, HS_MAG_RANGE, HsParams, flow_summary, horn_schunck, horn_schunck_features,
    horn_schunck_with,
};
pub use lk::{
    LkParams, corner_min_eigen_val, good_features_to_track, pyr_down, pyr_lk, pyr_lk_with,
};

/// Length of [`frame_diff_features`] with `bins` histogram bins: 8 statistics + `bins`.
pub const fn frame_diff_len(bins: usize) -> usize {
    8 + bins
}

/// The notebook's `frame_diff_features(frames, bins)`: `8 + bins` values.
///
/// For each consecutive pair, `d = |g[i] - g[i-1]|` per pixel and `m[i] = mean(d)`. The vector is
/// `[mean(m), std(m) (population), min(m), max(m), p25(m), p50(m), p75(m), n_frames]` (numpy's
/// linear-interpolation percentiles) followed by `np.histogram(all d, bins, range=(0, 255),
/// density=True)`. Fewer than two frames give zeros.
///
/// ```
/// use vidcompare::features::motion::frame_diff_features;
/// let a = image::GrayImage::from_pixel(4, 4, image::Luma([10]));
/// let b = image::GrayImage::from_pixel(4, 4, image::Luma([30]));
/// let f = frame_diff_features(&[a.clone(), b, a], 16);
/// assert_eq!(&f[..8], &[20.0, 0.0, 20.0, 20.0, 20.0, 20.0, 20.0, 3.0]);
/// // All differences are 20, in bin [15.94, 31.88): density 1 / bin width.
/// assert!((f[8 + 1] - 16.0 / 255.0).abs() < 1e-7);
/// ```
pub fn frame_diff_features(grays: &[GrayImage], bins: usize) -> Vec<f32> {
    let mut out = vec![0f32; frame_diff_len(bins)];
    if grays.len() < 2 {
        return out;
    }
    let lut = numpy_bin_lut(bins);
    let mut counts = vec![0u64; bins];
    let mut means = Vec::with_capacity(grays.len() - 1);
    for pair in grays.windows(2) {
        let (w, h) = common_size(&pair[0], &pair[1]);
        let (a, b) = (pair[0].as_raw(), pair[1].as_raw());
        let (wa, wb) = (pair[0].width() as usize, pair[1].width() as usize);
        let mut sum = 0u64;
        for y in 0..h {
            let (ra, rb) = (&a[y * wa..y * wa + w], &b[y * wb..y * wb + w]);
            for (&p, &q) in ra.iter().zip(rb) {
                let d = p.abs_diff(q);
                sum += u64::from(d);
                if let Some(bin) = lut[d as usize] {
                    counts[bin] += 1;
                }
            }
        }
        let n = w * h;
        means.push(if n == 0 {
            f64::NAN
        } else {
            sum as f64 / n as f64
        });
    }
    let (mean, std) = mean_std(&means);
    let mut sorted = means.clone();
    sorted.sort_by(f64::total_cmp);
    let stats = [
        mean,
        std,
        sorted[0],
        sorted[sorted.len() - 1],
        percentile_sorted(&sorted, 25.0),
        percentile_sorted(&sorted, 50.0),
        percentile_sorted(&sorted, 75.0),
        grays.len() as f64,
    ];
    for (o, s) in out.iter_mut().zip(stats) {
        *o = s as f32;
    }
    let total: u64 = counts.iter().sum();
    if total > 0 {
        let edges = numpy_linspace_edges(bins);
        for (k, &c) in counts.iter().enumerate() {
            out[8 + k] = (c as f64 / (edges[k + 1] - edges[k]) / total as f64) as f32;
        }
    }
    nan_to_zero(&mut out);
    out
}

/// The notebook's `lucas_kanade_sparse(frames[:2], max_corners)`: Shi–Tomasi corners of
/// `frames[0]` (`maxCorners = max_corners`, quality 0.01, min distance 7) tracked into
/// `frames[1]` with [`pyr_lk`]; over the tracked points' displacement lengths `m` and angles `θ`:
/// `[mean m, std m, min m, max m, mean cos θ, mean sin θ, n_tracked, median m, p75 m, p25 m]`.
/// Frames after the second are ignored.
///
/// Zeros with fewer than two frames, when no corner is found, or when no point is tracked
/// (where the notebook's `np.min` of an empty array would raise). Frames of different sizes are
/// compared over their common top-left region.
pub fn lucas_kanade_sparse(frames: &[GrayImage], max_corners: usize) -> [f32; 10] {
    let [prev, next, ..] = frames else {
        return [0.0; 10];
    };
    let (prev, next) = crop_pair(prev, next);
    let corners = good_features_to_track(&prev, max_corners, 0.01, 7.0);
    if corners.is_empty() {
        return [0.0; 10];
    }
    let tracked = pyr_lk(&prev, &next, &corners).unwrap_or_default();
    let flows: Vec<(f32, f32)> = corners
        .iter()
        .zip(&tracked)
        .filter_map(|(p, q)| q.map(|q| (q.0 - p.0, q.1 - p.1)))
        .collect();
    lk_flow_stats(&flows)
}

/// The ten statistics of [`lucas_kanade_sparse`] over displacement vectors (f32 like numpy's
/// float32 arrays, accumulated in f64).
pub(crate) fn lk_flow_stats(flows: &[(f32, f32)]) -> [f32; 10] {
    if flows.is_empty() {
        return [0.0; 10];
    }
    let mags: Vec<f64> = flows
        .iter()
        .map(|&(dx, dy)| f64::from((dx * dx + dy * dy).sqrt()))
        .collect();
    let n = flows.len() as f64;
    let (mean, std) = mean_std(&mags);
    let cos = flows
        .iter()
        .map(|&(dx, dy)| f64::from(dy.atan2(dx).cos()))
        .sum::<f64>()
        / n;
    let sin = flows
        .iter()
        .map(|&(dx, dy)| f64::from(dy.atan2(dx).sin()))
        .sum::<f64>()
        / n;
    let mut sorted = mags.clone();
    sorted.sort_by(f64::total_cmp);
    let mut out = [
        mean,
        std,
        sorted[0],
        sorted[sorted.len() - 1],
        cos,
        sin,
        n,
        percentile_sorted(&sorted, 50.0),
        percentile_sorted(&sorted, 75.0),
        percentile_sorted(&sorted, 25.0),
    ]
    .map(|v| v as f32);
    nan_to_zero(&mut out);
    out
}

/// The notebook's `horn_schunck_dense_features`: a disabled placeholder of
/// [`HS_FEATURE_LEN`] (38) zeros, for the notebook-compatible layout.
pub fn notebook_horn_schunck_placeholder() -> Vec<f32> {
    vec![0.0; HS_FEATURE_LEN]
}

/// Mean and population standard deviation (numpy's `std`, ddof 0); NaN for no values.
pub(crate) fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// numpy's default (`linear`) percentile `q` in [0, 100] of ascending `sorted` values.
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let t = pos - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

/// Replace NaN and ±inf with 0, like the notebook's final `np.nan_to_num(..., 0, 0, 0)`.
pub(crate) fn nan_to_zero(v: &mut [f32]) {
    for x in v {
        if !x.is_finite() {
            *x = 0.0;
        }
    }
}

/// `np.linspace(0, 255, bins + 1)`: `i * (255 / bins)` with the last edge exactly 255.
fn numpy_linspace_edges(bins: usize) -> Vec<f64> {
    let step = 255.0 / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|i| i as f64 * step).collect();
    if let Some(last) = e.last_mut() {
        *last = 255.0;
    }
    e
}

/// The bin of each grey difference 0..=255 under `np.histogram(d, bins, range=(0, 255))`:
/// `edges[i] <= d < edges[i + 1]`, the last bin closed; `None` for zero bins.
fn numpy_bin_lut(bins: usize) -> [Option<usize>; 256] {
    let mut lut = [None; 256];
    if bins == 0 {
        return lut;
    }
    let edges = numpy_linspace_edges(bins);
    for (d, slot) in lut.iter_mut().enumerate() {
        let v = d as f64;
        let mut i = ((v / 255.0 * bins as f64) as usize).min(bins - 1);
        while i > 0 && v < edges[i] {
            i -= 1;
        }
        while i + 1 < bins && v >= edges[i + 1] {
            i += 1;
        }
        *slot = Some(i);
    }
    lut
}

/// Width and height two frames share.
fn common_size(a: &GrayImage, b: &GrayImage) -> (usize, usize) {
    (
        a.width().min(b.width()) as usize,
        a.height().min(b.height()) as usize,
    )
}

/// Two frames, borrowed or cropped copies.
type FramePair<'a> = (Cow<'a, GrayImage>, Cow<'a, GrayImage>);

/// The two frames cut to their common top-left region (borrowed unchanged when equal in size).
fn crop_pair<'a>(a: &'a GrayImage, b: &'a GrayImage) -> FramePair<'a> {
    if a.dimensions() == b.dimensions() {
        return (Cow::Borrowed(a), Cow::Borrowed(b));
    }
    let (w, h) = common_size(a, b);
    let crop = |img: &GrayImage| {
        Cow::Owned(image::imageops::crop_imm(img, 0, 0, w as u32, h as u32).to_image())
    };
    (crop(a), crop(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn frame_diff_needs_two_frames() {
        let a = GrayImage::from_pixel(5, 4, Luma([7]));
        assert_eq!(frame_diff_features(&[], 16), vec![0.0; 24]);
        assert_eq!(frame_diff_features(&[a], 16), vec![0.0; 24]);
    }

    #[test]
    fn frame_diff_hand_computed() {
        // Pair 1: differences {0, 0, 255, 255} (mean 127.5); pair 2: all 0 (mean 0).
        let a = GrayImage::from_raw(2, 2, vec![0, 0, 0, 0]).unwrap();
        let b = GrayImage::from_raw(2, 2, vec![0, 0, 255, 255]).unwrap();
        let f = frame_diff_features(&[a, b.clone(), b], 4);
        assert_eq!(f.len(), 12);
        let expect = [63.75, 63.75, 0.0, 127.5, 31.875, 63.75, 95.625, 3.0];
        for (g, e) in f[..8].iter().zip(expect) {
            assert!((g - e).abs() < 1e-4, "{f:?}");
        }
        // 6 zeros in bin 0, 2 values of 255 in the last (closed) bin; width 63.75.
        let w = 63.75f32;
        let hist = [6.0 / 8.0 / w, 0.0, 0.0, 2.0 / 8.0 / w];
        for (g, e) in f[8..].iter().zip(hist) {
            assert!((g - e).abs() < 1e-7, "{f:?}");
        }
    }

    #[test]
    fn numpy_bins_put_edges_in_the_upper_bin() {
        let lut = numpy_bin_lut(16);
        // Edges are multiples of 15.9375: 15 is bin 0, 16 bin 1, 255 the last bin.
        assert_eq!(lut[15], Some(0));
        assert_eq!(lut[16], Some(1));
        assert_eq!(lut[255], Some(15));
        assert_eq!(numpy_bin_lut(3)[85], Some(1));
    }

    #[test]
    fn percentiles_match_numpy() {
        let v = [1.0, 2.0, 4.0, 8.0];
        // np.percentile([1, 2, 4, 8], [25, 50, 75]) = [1.75, 3.0, 5.0]
        assert_eq!(percentile_sorted(&v, 25.0), 1.75);
        assert_eq!(percentile_sorted(&v, 50.0), 3.0);
        assert_eq!(percentile_sorted(&v, 75.0), 5.0);
        assert_eq!(percentile_sorted(&[3.0], 75.0), 3.0);
    }

    #[test]
    fn lk_sparse_zero_cases() {
        let flat = GrayImage::from_pixel(64, 48, Luma([90]));
        assert_eq!(
            lucas_kanade_sparse(std::slice::from_ref(&flat), 200),
            [0.0; 10]
        );
        // A flat frame has no corners.
        assert_eq!(lucas_kanade_sparse(&[flat.clone(), flat], 200), [0.0; 10]);
        assert_eq!(notebook_horn_schunck_placeholder(), vec![0.0; 38]);
    }

    #[test]
    fn lk_flow_stats_hand_computed() {
        // Displacements (3, 4) and (0, -2): lengths 5 and 2, angles atan2(4, 3) and -pi/2.
        let s = lk_flow_stats(&[(3.0, 4.0), (0.0, -2.0)]);
        // mean cos = (0.6 + 0) / 2, mean sin = (0.8 - 1) / 2.
        let expect = [3.5, 1.5, 2.0, 5.0, 0.3, -0.1, 2.0, 3.5, 4.25, 2.75];
        for (g, e) in s.iter().zip(expect) {
            assert!((g - e).abs() < 1e-6, "{s:?}");
        }
    }
}
