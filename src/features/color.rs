//! Colour features of one frame: the notebook's `color_hist_rgb`, `color_hist_hsv`,
//! `color_moments` and `avg_color`, with NumPy's float32 arithmetic reproduced.
//!
//! The notebook computes these in float32 NumPy, whose sums are not plain loops: a full reduction
//! (`v.mean()`, `v.var()`, SciPy's `skew`) uses NumPy's pairwise summation, while the per-column
//! mean of `avg_color` (`mean(axis=0)`) accumulates row after row. Skewness in particular is a
//! small difference of large float32 sums, so a float64 computation would differ from the
//! notebook's in the fifth significant digit; [`pairwise_sum`] and the sequential sums below follow
//! NumPy's order exactly instead.

use crate::video::Frame;

/// Histogram bins per channel used by the notebook.
pub const BINS: usize = 16;

/// Length of [`color_features`]: RGB and HSV histograms (3 x 16 each), 9 moments, 3 averages.
pub const COLOR_LEN: usize = 6 * BINS + 9 + 3;

/// Normalised per-channel histograms of an RGB frame, `3 * bins` values: the R histogram, then G,
/// then B (the notebook converts BGR to RGB first).
///
/// Each is `cv2.calcHist` over `[0, 256)` with `bins` equal bins, divided by its sum plus 1e-9, so
/// each channel's values add up to 1 (an empty frame gives zeros). `bins = 0` gives an empty
/// vector.
///
/// ```
/// use vidcompare::features::color::rgb_hist;
/// let f = vidcompare::video::Frame::from_pixel(2, 2, image::Rgb([0, 128, 255]));
/// let h = rgb_hist(&f, 2);
/// assert_eq!(h, vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
/// ```
pub fn rgb_hist(frame: &Frame, bins: usize) -> Vec<f32> {
    channel_hists(frame.as_raw(), bins)
}

/// Normalised per-channel histograms of an HSV frame (from
/// [`to_hsv`](crate::features::convert::to_hsv)), `3 * bins` values: H, S, V.
///
/// Like the notebook, the hue histogram also spans `[0, 256)` although OpenCV's hue stops at 179,
/// so with 16 bins the last four hue bins are always empty.
pub fn hsv_hist(hsv: &Frame, bins: usize) -> Vec<f32> {
    channel_hists(hsv.as_raw(), bins)
}

/// Histograms of the three interleaved channels of `data`, each normalised as in the notebook.
fn channel_hists(data: &[u8], bins: usize) -> Vec<f32> {
    if bins == 0 {
        return Vec::new();
    }
    // OpenCV's calcHist maps an 8-bit value v to floor(v * bins / 256) through a lookup table
    // computed in double precision.
    let scale = bins as f64 / 256.0;
    let lut: Vec<usize> = (0..256)
        .map(|v| ((v as f64 * scale).floor() as usize).min(bins - 1))
        .collect();
    let mut counts = vec![0u32; 3 * bins];
    for p in data.chunks_exact(3) {
        for c in 0..3 {
            counts[c * bins + lut[usize::from(p[c])]] += 1;
        }
    }
    let mut out = Vec::with_capacity(3 * bins);
    for ch in counts.chunks_exact(bins) {
        let hist: Vec<f32> = ch.iter().map(|&n| n as f32).collect();
        // `hist / (hist.sum() + 1e-9)` in float32.
        let denom = pairwise_sum(&hist) + 1e-9_f32;
        out.extend(hist.iter().map(|&n| n / denom));
    }
    out
}

/// Per-channel mean, population variance and skewness of an RGB frame, in the order
/// `[mean_R, var_R, skew_R, mean_G, var_G, skew_G, mean_B, var_B, skew_B]`.
///
/// These are `v.mean()`, `v.var()` and `scipy.stats.skew(v)` (biased) of each channel as float32,
/// computed in the same float32 order as NumPy. Where SciPy's skewness is undefined (a constant
/// channel, whose variance is zero up to float32 precision) SciPy returns NaN, which the notebook
/// turns into 0 only at the end of the video vector; this function returns 0 for it directly so
/// that no NaN enters later statistics. An empty frame gives all zeros.
///
/// ```
/// use vidcompare::features::color::color_moments;
/// // Two pixels: R = 0 and 2 (mean 1, variance 1, skew 0); G and B constant.
/// let f = vidcompare::video::Frame::from_fn(2, 1, |x, _| image::Rgb([2 * x as u8, 7, 9]));
/// assert_eq!(color_moments(&f), [1.0, 1.0, 0.0, 7.0, 0.0, 0.0, 9.0, 0.0, 0.0]);
/// ```
pub fn color_moments(frame: &Frame) -> [f32; 9] {
    let mut out = [0.0; 9];
    let n = frame.as_raw().len() / 3;
    if n == 0 {
        return out;
    }
    let nf = n as f32;
    let mut v = vec![0.0_f32; n];
    let mut t = vec![0.0_f32; n];
    for c in 0..3 {
        for (dst, p) in v.iter_mut().zip(frame.as_raw().chunks_exact(3)) {
            *dst = f32::from(p[c]);
        }
        let mean = pairwise_sum(&v) / nf;
        // np.var and scipy's moments: deviations, their powers, and pairwise means, in float32.
        for (d, &x) in t.iter_mut().zip(&v) {
            let e = x - mean;
            *d = e * e;
        }
        let m2 = pairwise_sum(&t) / nf;
        for (d, &x) in t.iter_mut().zip(&v) {
            let e = x - mean;
            *d = e * e * e;
        }
        let m3 = pairwise_sum(&t) / nf;
        let eps_mean = f32::EPSILON * mean;
        let skew = if m2 <= eps_mean * eps_mean {
            0.0
        } else {
            m3 / m2.powf(1.5)
        };
        out[3 * c] = mean;
        out[3 * c + 1] = m2;
        out[3 * c + 2] = skew;
    }
    out
}

/// Mean R, G and B of a frame (`rgb.reshape(-1, 3).mean(axis=0)` in float32: NumPy sums this
/// column mean pixel after pixel). An empty frame gives zeros.
///
/// ```
/// let f = vidcompare::video::Frame::from_fn(2, 1, |x, _| image::Rgb([10 * x as u8, 4, 1]));
/// assert_eq!(vidcompare::features::color::avg_color(&f), [5.0, 4.0, 1.0]);
/// ```
pub fn avg_color(frame: &Frame) -> [f32; 3] {
    let n = frame.as_raw().len() / 3;
    if n == 0 {
        return [0.0; 3];
    }
    let mut sum = [0.0_f32; 3];
    for p in frame.as_raw().chunks_exact(3) {
        for c in 0..3 {
            sum[c] += f32::from(p[c]);
        }
    }
    sum.map(|s| s / n as f32)
}

/// The notebook's colour block of one frame, [`COLOR_LEN`] values in its order: RGB histogram,
/// HSV histogram (16 bins each), [`color_moments`], [`avg_color`].
///
/// `hsv` is [`to_hsv`](crate::features::convert::to_hsv) of `frame`, passed in so that callers
/// computing it anyway do not convert twice.
pub fn color_features(frame: &Frame, hsv: &Frame) -> Vec<f32> {
    let mut v = Vec::with_capacity(COLOR_LEN);
    v.extend(rgb_hist(frame, BINS));
    v.extend(hsv_hist(hsv, BINS));
    v.extend(color_moments(frame));
    v.extend(avg_color(frame));
    v
}

/// NumPy's float32 pairwise summation (`np.add.reduce` of a 1-D array): blocks of at most 128
/// values are summed with eight interleaved accumulators, longer runs are split in two at a
/// multiple of 8 and the halves' sums added.
pub fn pairwise_sum(a: &[f32]) -> f32 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        let mut res = 0.0_f32;
        for &x in a {
            res += x;
        }
        res
    } else if n <= BLOCK {
        let mut r = [0.0_f32; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (acc, &x) in r.iter_mut().zip(&a[i..i + 8]) {
                *acc += x;
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x2 frame whose statistics are easy to count by hand.
    fn two_by_two() -> Frame {
        // R: 0, 0, 0, 255 ; G: 16, 32, 48, 64 ; B: 100 everywhere.
        let px = [[0, 16, 100], [0, 32, 100], [0, 48, 100], [255, 64, 100]];
        Frame::from_fn(2, 2, |x, y| image::Rgb(px[(2 * y + x) as usize]))
    }

    #[test]
    fn hand_counted_histogram() {
        let h = rgb_hist(&two_by_two(), 16);
        assert_eq!(h.len(), 48);
        // R: three pixels in bin 0, one in bin 15.
        assert_eq!(h[0], 0.75);
        assert_eq!(h[15], 0.25);
        // G: 16, 32, 48 and 64 fall in bins 1, 2, 3, 4.
        assert_eq!(&h[16..22], &[0.0, 0.25, 0.25, 0.25, 0.25, 0.0]);
        // B: 100 / 16 = 6.25 -> bin 6.
        assert_eq!(h[32 + 6], 1.0);
        for ch in h.chunks(16) {
            assert!((ch.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn uneven_bin_counts_follow_floor() {
        // 3 bins over [0, 256): 85 * 3 / 256 = 0.996 -> bin 0, 86 -> 1.008 -> bin 1, 255 -> bin 2.
        let f = Frame::from_fn(3, 1, |x, _| image::Rgb([[85, 86, 255][x as usize]; 3]));
        let third = 1.0 / 3.0_f32;
        assert_eq!(&rgb_hist(&f, 3)[..3], &[third, third, third]);
        assert!(rgb_hist(&f, 0).is_empty());
    }

    #[test]
    fn hand_computed_moments() {
        let m = color_moments(&two_by_two());
        // R = 0, 0, 0, 255: mean 63.75, deviations -63.75 (x3) and 191.25, so variance
        // (3 * 63.75^2 + 191.25^2) / 4 = 12192.1875 and third moment
        // (191.25^3 - 3 * 63.75^3) / 4 = 1554503.90625; skew = m3 / m2^1.5.
        assert_eq!(m[0], 63.75);
        assert_eq!(m[1], 12192.1875);
        let skew = 1554503.90625_f64 / 12192.1875_f64.powf(1.5);
        assert!((f64::from(m[2]) - skew).abs() < 1e-6, "{} vs {skew}", m[2]);
        // ... which is the skew of a two-point law with p = 1/4: (1 - 2p) / sqrt(p (1 - p)).
        assert!((skew - 2.0 / 3.0_f64.sqrt()).abs() < 1e-12);
        // G = 16, 32, 48, 64: symmetric, so skew 0; variance (24^2 + 8^2) / 2 = 320.
        assert_eq!(&m[3..6], &[40.0, 320.0, 0.0]);
        // B constant: skew defined as 0 (SciPy gives NaN).
        assert_eq!(&m[6..9], &[100.0, 0.0, 0.0]);
    }

    #[test]
    fn features_have_the_notebook_length() {
        let f = two_by_two();
        let hsv = crate::features::convert::to_hsv(&f);
        let v = color_features(&f, &hsv);
        assert_eq!(v.len(), COLOR_LEN);
        assert_eq!(COLOR_LEN, 108);
        assert_eq!(&v[105..], &[63.75, 40.0, 100.0]);
    }

    #[test]
    fn empty_frame_gives_zeros() {
        let f = Frame::new(0, 0);
        assert!(rgb_hist(&f, 4).iter().all(|&x| x == 0.0));
        assert_eq!(color_moments(&f), [0.0; 9]);
        assert_eq!(avg_color(&f), [0.0; 3]);
    }

    #[test]
    fn pairwise_order_differs_from_a_plain_loop() {
        // 2^24 + 1 is not a float32: a plain left-to-right sum of [2^24, 1, 1, ...] loses every
        // 1. Pairwise, 200 values split into 96 + 104; in the first block the accumulator holding
        // 2^24 loses its 11 ones but the other seven accumulators keep 12 each (84), and the
        // second half adds up to 104: 2^24 + 188.
        let mut a = vec![1.0_f32; 200];
        a[0] = 16_777_216.0;
        let plain = a.iter().fold(0.0_f32, |s, &x| s + x);
        assert_eq!(plain, 16_777_216.0);
        assert_eq!(pairwise_sum(&a), 16_777_404.0);
    }
}
