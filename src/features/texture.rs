//! Texture features of the notebook's cell In[6] (GLCM properties, uniform LBP histogram, Gabor
//! magnitude statistics), reproducing scikit-image's arithmetic.
//!
//! Every function takes the 8-bit grey frame that OpenCV's `COLOR_BGR2GRAY` gives (see
//! `features::convert`). Reference values come from `tools/fixtures_texture.py` (scikit-image
//! 0.26, SciPy 1.17, NumPy 2.4) and are checked in `tests/features_texture.rs`.

use std::f64::consts::PI;

use image::GrayImage;

/// Grey levels of the GLCM: the notebook quantises with `gray // 16`.
pub const GLCM_LEVELS: usize = 16;
/// GLCM pixel-pair distances, in the notebook's order.
pub const GLCM_DISTANCES: [f64; 2] = [1.0, 2.0];
/// GLCM angles in radians (0, 45, 90 and 135 degrees), in the notebook's order.
pub const GLCM_ANGLES: [f64; 4] = [0.0, PI / 4.0, PI / 2.0, 3.0 * PI / 4.0];
/// GLCM properties in the notebook's order; each contributes distances x angles values.
pub const GLCM_PROPS: [&str; 6] = [
    "contrast",
    "dissimilarity",
    "homogeneity",
    "energy",
    "correlation",
    "ASM",
];
/// Length of [`glcm_features`]: 6 properties x 2 distances x 4 angles.
pub const GLCM_LEN: usize = GLCM_PROPS.len() * GLCM_DISTANCES.len() * GLCM_ANGLES.len();

/// Number of circle points of the notebook's LBP (`P = 8`, radius `R = 1`).
pub const LBP_POINTS: usize = 8;
/// Histogram bins of [`lbp_hist`] (`np.histogram(..., bins=32, range=(0, 32))`); only the first
/// `LBP_POINTS + 2` can be non-zero.
pub const LBP_BINS: usize = 32;

/// Gabor frequencies (cycles per pixel), in the notebook's order.
pub const GABOR_FREQUENCIES: [f64; 2] = [0.2, 0.4];
/// Gabor orientations in radians, in the notebook's order (inner loop).
pub const GABOR_THETAS: [f64; 3] = [0.0, PI / 4.0, PI / 2.0];
/// Length of [`gabor_features`]: mean and variance per (frequency, theta).
pub const GABOR_LEN: usize = 2 * GABOR_FREQUENCIES.len() * GABOR_THETAS.len();

// ---------------------------------------------------------------------------------------------
// GLCM

/// skimage's `_glcm_loop` offset for one (distance, angle): `(round(sin(angle) * d),
/// round(cos(angle) * d))` as (rows, columns), rounding half away from zero. The pixel at
/// `(r, c)` is paired with `(r + rows, c + cols)`; note that at 45 and 135 degrees distance 2
/// rounds to the same offset as distance 1 (`round(1.414) = 1`), as in skimage.
pub fn glcm_offset(distance: f64, angle: f64) -> (isize, isize) {
    (
        round_half_away(angle.sin() * distance),
        round_half_away(angle.cos() * distance),
    )
}

/// skimage's Cython `round`: `(r + 0.5)` or `(r - 0.5)` truncated towards zero.
fn round_half_away(r: f64) -> isize {
    (if r > 0.0 { r + 0.5 } else { r - 0.5 }) as isize
}

/// Non-symmetric co-occurrence counts of `image` (values are grey levels) for one offset from
/// [`glcm_offset`], row-major `levels x levels` (`counts[i * levels + j]` counts pixel value `i`
/// paired with value `j` at the offset), like one slice of `skimage.feature.graycomatrix` before
/// symmetrisation. Pairs with a value `>= levels` are skipped, as skimage does.
pub fn glcm_counts(image: &GrayImage, levels: usize, offset: (isize, isize)) -> Vec<u32> {
    let mut counts = vec![0u32; levels * levels];
    let (w, h) = (image.width() as isize, image.height() as isize);
    let (dr, dc) = offset;
    // Saturating, so that an absurd offset gives an empty range instead of an overflow.
    let (r0, r1) = (0.max(dr.saturating_neg()), h.min(h.saturating_sub(dr)));
    let (c0, c1) = (0.max(dc.saturating_neg()), w.min(w.saturating_sub(dc)));
    if r0 >= r1 || c0 >= c1 {
        return counts;
    }
    let px = image.as_raw();
    let wu = w as usize;
    // Neighbouring pixels often share a cell; four interleaved copies of the matrix keep the
    // increments from waiting on one another.
    let cells = levels * levels;
    let mut copies = vec![0u32; 4 * cells];
    for r in r0..r1 {
        let row = &px[r as usize * wu..][..wu];
        let other = &px[(r + dr) as usize * wu..][..wu];
        let a = &row[c0 as usize..c1 as usize];
        let b = &other[(c0 + dc) as usize..(c1 + dc) as usize];
        for (k, (&i, &j)) in a.iter().zip(b).enumerate() {
            let (i, j) = (i as usize, j as usize);
            if i < levels && j < levels {
                copies[(k & 3) * cells + i * levels + j] += 1;
            }
        }
    }
    for copy in copies.chunks_exact(cells) {
        for (c, &v) in counts.iter_mut().zip(copy) {
            *c += v;
        }
    }
    counts
}

/// The six `graycoprops` values of one symmetric, normalised GLCM, in [`GLCM_PROPS`] order.
fn glcm_props(counts: &[u32], levels: usize) -> [f64; 6] {
    // symmetric=True adds the transpose; normed=True divides by the total, which skimage sets
    // to 1 when no pair exists (every property then sees an all-zero matrix).
    let total: u64 = 2 * counts.iter().map(|&v| u64::from(v)).sum::<u64>();
    let total = if total == 0 { 1.0 } else { total as f64 };
    let p = |i: usize, j: usize| {
        f64::from(counts[i * levels + j]) + f64::from(counts[j * levels + i]) // exact in f64
    };
    let (mut contrast, mut dissim, mut homog, mut asm) = (0.0, 0.0, 0.0, 0.0);
    let (mut mean_i, mut mean_j) = (0.0, 0.0);
    for i in 0..levels {
        for j in 0..levels {
            let v = p(i, j) / total;
            let d = i as f64 - j as f64;
            contrast += v * d * d;
            dissim += v * d.abs();
            homog += v / (1.0 + d * d);
            asm += v * v;
            mean_i += v * i as f64;
            mean_j += v * j as f64;
        }
    }
    let (mut var_i, mut var_j, mut cov) = (0.0, 0.0, 0.0);
    for i in 0..levels {
        for j in 0..levels {
            let v = p(i, j) / total;
            let (di, dj) = (i as f64 - mean_i, j as f64 - mean_j);
            var_i += v * di * di;
            var_j += v * dj * dj;
            cov += v * di * dj;
        }
    }
    let (std_i, std_j) = (var_i.sqrt(), var_j.sqrt());
    // skimage (0.26 checked) defines the correlation of a (near-)constant GLCM as 1.
    let correlation = if std_i < 1e-15 || std_j < 1e-15 {
        1.0
    } else {
        cov / (std_i * std_j)
    };
    [contrast, dissim, homog, asm.sqrt(), correlation, asm]
}

/// The notebook's `glcm_features`: `graycomatrix(gray // 16, distances=[1, 2], angles=[0, pi/4,
/// pi/2, 3pi/4], levels=16, symmetric=True, normed=True)`, then for each property of
/// [`GLCM_PROPS`] the 2 x 4 `graycoprops` array flattened distance-major: 48 values.
///
/// An image without any pixel pair at some offset (narrower or shorter than 3 pixels) gets
/// skimage's values for an empty matrix there: 0 for every property but correlation, which is 1.
pub fn glcm_features(gray: &GrayImage) -> Vec<f32> {
    let mut quantised = gray.clone();
    quantised.iter_mut().for_each(|v| *v /= 16);
    let nd = GLCM_DISTANCES.len();
    let na = GLCM_ANGLES.len();
    let mut props = vec![[0.0f64; 6]; nd * na];
    // Several (distance, angle) pairs share an offset (see glcm_offset); count each offset once.
    let mut done: Vec<((isize, isize), [f64; 6])> = Vec::with_capacity(nd * na);
    for (d_idx, &d) in GLCM_DISTANCES.iter().enumerate() {
        for (a_idx, &a) in GLCM_ANGLES.iter().enumerate() {
            let offset = glcm_offset(d, a);
            let values = match done.iter().find(|(o, _)| *o == offset) {
                Some((_, v)) => *v,
                None => {
                    let v = glcm_props(&glcm_counts(&quantised, GLCM_LEVELS, offset), GLCM_LEVELS);
                    done.push((offset, v));
                    v
                }
            };
            props[d_idx * na + a_idx] = values;
        }
    }
    (0..GLCM_PROPS.len())
        .flat_map(|k| props.iter().map(move |p| p[k] as f32))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// LBP

/// skimage's circle sample offsets (rows, columns) for `P` points of radius `R`:
/// `np.round(-R sin(2 pi p / P), 5)` and `np.round(R cos(2 pi p / P), 5)`.
fn lbp_circle(points: usize, radius: f64) -> Vec<(f64, f64)> {
    // np.round(x, 5) is rint(x * 1e5) / 1e5.
    let round5 = |x: f64| (x * 1e5).round_ties_even() / 1e5;
    (0..points)
        .map(|p| {
            let t = 2.0 * PI * p as f64 / points as f64;
            (round5(-radius * t.sin()), round5(radius * t.cos()))
        })
        .collect()
}

/// Uniform code of each 8-bit pattern (bit `p` set when circle point `p` is `>=` the centre):
/// the number of set bits when the open chain 0..7 has at most two 0/1 changes, else 9. skimage
/// counts changes along the open chain; for "at most 2" that equals counting around the circle.
const LBP_UNIFORM: [u8; 256] = {
    let mut lut = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let changes = ((b ^ (b >> 1)) & 0x7f) as u32;
        lut[b] = if changes.count_ones() <= 2 {
            (b as u32).count_ones() as u8
        } else {
            LBP_POINTS as u8 + 1
        };
        b += 1;
    }
    lut
};

/// The uniform LBP code map of `skimage.feature.local_binary_pattern(gray, P=8, R=1,
/// method='uniform')`: per pixel, the number of circle samples `>=` the centre when the pattern
/// has at most two 0/1 changes, else 9. Samples are bilinear in float64 with zeros outside the
/// image, with skimage's exact arithmetic, so ties at the diagonal points resolve identically.
pub fn lbp_uniform_codes(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let mut out = GrayImage::new(gray.width(), gray.height());
    if w == 0 || h == 0 {
        return out;
    }
    // With R = 1 every sample lies within one pixel of the centre, so a one-pixel zero border
    // stands in for skimage's constant mode (cval = 0) without bounds checks.
    let pw = w + 2;
    let mut padded = vec![0.0f64; pw * (h + 2)];
    for (y, row) in gray.as_raw().chunks_exact(w).enumerate() {
        for (x, &v) in row.iter().enumerate() {
            padded[(y + 1) * pw + x + 1] = f64::from(v);
        }
    }
    lbp_codes_padded(&padded, w, h, out.as_mut());
    out
}

/// [`lbp_codes_impl`], compiled for AVX-512 (F, BW) or AVX2 where the CPU has them; no FMA,
/// so every build rounds alike.
fn lbp_codes_padded(padded: &[f64], w: usize, h: usize, codes: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
    {
        // SAFETY: the CPU supports AVX-512 F and BW, checked just above; the function is
        // otherwise the same safe code as `lbp_codes_impl`.
        unsafe { lbp_codes_avx512(padded, w, h, codes) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above; the function is otherwise the same
        // safe code as `lbp_codes_impl`.
        unsafe { lbp_codes_avx2(padded, w, h, codes) };
        return;
    }
    lbp_codes_impl(padded, w, h, codes);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lbp_codes_avx2(padded: &[f64], w: usize, h: usize, codes: &mut [u8]) {
    lbp_codes_impl(padded, w, h, codes);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn lbp_codes_avx512(padded: &[f64], w: usize, h: usize, codes: &mut [u8]) {
    lbp_codes_impl(padded, w, h, codes);
}

#[inline(always)]
fn lbp_codes_impl(padded: &[f64], w: usize, h: usize, codes: &mut [u8]) {
    let pw = w + 2;
    let circle = lbp_circle(LBP_POINTS, 1.0);
    // skimage samples at (r + rp, c + cp) and interpolates with the fractions (r + rp) -
    // floor(r + rp), which depend on r and c through rounding, so they are tabulated per row and
    // per column exactly as skimage forms them. For image sizes below 2^32 the floor and ceil
    // are r + floor(rp) and r + ceil(rp) (the fractions 0, 0.29289 and 0.70711 are far from
    // an integer at that magnitude), which lets a whole row be processed with plain slices.
    let frac = |i: usize, off: f64| {
        let pos = i as f64 + off;
        pos - pos.floor()
    };
    let dc: Vec<Vec<f64>> = circle
        .iter()
        .map(|&(_, cp)| (0..w).map(|c| frac(c, cp)).collect())
        .collect();
    let mut bits = vec![0u8; w];
    for r in 0..h {
        bits.fill(0);
        let centre = &padded[(r + 1) * pw + 1..][..w];
        for (k, &(rp, cp)) in circle.iter().enumerate() {
            let dr = frac(r, rp);
            // Padded row and column indices (+1 for the border) of the four neighbours.
            let r0 = (r as f64 + 1.0 + rp.floor()) as usize;
            let r1 = (r as f64 + 1.0 + rp.ceil()) as usize;
            let c0 = (1.0 + cp.floor()) as usize;
            let c1 = (1.0 + cp.ceil()) as usize;
            let tl = &padded[r0 * pw + c0..][..w];
            let tr = &padded[r0 * pw + c1..][..w];
            let bl = &padded[r1 * pw + c0..][..w];
            let br = &padded[r1 * pw + c1..][..w];
            let dc = &dc[k][..w];
            let centre = &centre[..w];
            let bits = &mut bits[..w];
            if dr == 0.0 && cp == cp.floor() {
                // An axis point (every dc is 0 too): the bilinear sum is (1 - 0) tl + 0 tr, then
                // (1 - 0) top + 0 bottom, exactly tl for the finite values here.
                for c in 0..w {
                    bits[c] |= u8::from(tl[c] - centre[c] >= 0.0) << k;
                }
                continue;
            }
            for c in 0..w {
                let top = (1.0 - dc[c]) * tl[c] + dc[c] * tr[c];
                let bottom = (1.0 - dc[c]) * bl[c] + dc[c] * br[c];
                let value = (1.0 - dr) * top + dr * bottom;
                bits[c] |= u8::from(value - centre[c] >= 0.0) << k;
            }
        }
        for (code, &b) in codes[r * w..][..w].iter_mut().zip(&bits) {
            *code = LBP_UNIFORM[b as usize];
        }
    }
}

/// The notebook's `lbp_features`: the density histogram (`np.histogram(codes, bins=32,
/// range=(0, 32), density=True)`) of [`lbp_uniform_codes`], i.e. the fraction of pixels with
/// each code 0..=31 (codes above 9 never occur). An empty image gives NaNs, as NumPy does.
pub fn lbp_hist(gray: &GrayImage) -> Vec<f32> {
    let codes = lbp_uniform_codes(gray);
    let mut counts = [0u64; LBP_BINS];
    for &v in codes.as_raw() {
        counts[v as usize] += 1;
    }
    let n = codes.as_raw().len() as f64;
    counts.iter().map(|&k| (k as f64 / n) as f32).collect()
}

// ---------------------------------------------------------------------------------------------
// Gabor

/// skimage's `_sigma_prefactor(bandwidth)`: Gaussian sigma times frequency for a bandwidth in
/// octaves.
fn sigma_prefactor(bandwidth: f64) -> f64 {
    let b2 = 2f64.powf(bandwidth);
    1.0 / PI * (2f64.ln() / 2.0).sqrt() * (b2 + 1.0) / (b2 - 1.0)
}

/// One factor of the separable complex Gabor kernel: `scale * exp(-t^2 / (2 sigma^2)) *
/// exp(i w t)` for t = -radius..=radius, as (real, imaginary) arrays.
fn gabor_factor(radius: usize, sigma: f64, w: f64, scale: f64) -> (Vec<f64>, Vec<f64>) {
    (-(radius as isize)..=radius as isize)
        .map(|t| {
            let t = t as f64;
            let g = scale * (-0.5 * t * t / (sigma * sigma)).exp();
            (g * (w * t).cos(), g * (w * t).sin())
        })
        .unzip()
}

/// SciPy's `mode='reflect'` (half-sample symmetric, `dcba|abcd|dcba`), periodic with period
/// `2 n` so that kernels wider than the image fold back as often as needed.
fn reflect(i: isize, n: usize) -> usize {
    if (0..n as isize).contains(&i) {
        return i as usize; // the common case, without a division
    }
    let n = n as isize;
    let m = i.rem_euclid(2 * n);
    (if m < n { m } else { 2 * n - 1 - m }) as usize
}

/// Reusable planes for the separable Gabor passes.
struct GaborScratch {
    /// Horizontal pass output, real and imaginary planes (row-major, image size).
    h_re: Vec<f64>,
    h_im: Vec<f64>,
    /// One reflect-padded input row.
    pad: Vec<f64>,
    /// Source row offsets of the vertical taps for one output row.
    rows: Vec<(usize, usize)>,
    /// |response| of every pixel.
    mag: Vec<f64>,
}

impl GaborScratch {
    fn new(w: usize, h: usize) -> Self {
        GaborScratch {
            h_re: vec![0.0; w * h],
            h_im: vec![0.0; w * h],
            pad: Vec::new(),
            rows: Vec::new(),
            mag: vec![0.0; w * h],
        }
    }
}

/// Mean and (population) variance of the Gabor magnitude `sqrt(real^2 + imag^2)` where `real,
/// imag = skimage.filters.gabor(gray / 255, frequency, theta)` with the defaults (bandwidth 1,
/// n_stds 3, offset 0, mode 'reflect').
///
/// skimage convolves with the 2-D kernel `exp(-(x^2 + y^2) / 2 sigma^2) / (2 pi sigma^2) *
/// exp(i 2 pi f (x cos(theta) + y sin(theta)))` (isotropic because both sigmas come from the
/// bandwidth). That kernel is the product of a complex row kernel and a complex column kernel,
/// so two 1-D complex passes give the same filter at a fraction of the cost. Computed in f64
/// throughout: it matches skimage on a float64 image to ~1e-12 and the notebook's float32 path
/// to its float32 rounding (~1e-6 relative). An empty image gives NaNs, as NumPy does.
pub fn gabor_magnitude_stats(gray: &GrayImage, frequency: f64, theta: f64) -> (f64, f64) {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let plane: Vec<f64> = gray
        .as_raw()
        .iter()
        .map(|&v| f64::from(v) / 255.0)
        .collect();
    gabor_stats_with(&plane, w, h, frequency, theta, &mut GaborScratch::new(w, h))
}

/// Output pixels per register block: each block keeps its sums in registers across all taps,
/// instead of reloading and storing a row accumulator per tap.
const LANES: usize = 8;

/// Whether an imaginary kernel factor can be dropped: exactly zero at theta = 0, and at
/// theta = pi/2 only `sin(2 pi f cos(pi/2) x)`, some 1e-16 of the real part, which moves the
/// response by ~1e-16 relative (skimage's own float32 path is ~1e-6 off).
fn negligible(im: &[f64], re: &[f64]) -> bool {
    let peak = re.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    im.iter().all(|v| v.abs() <= 1e-12 * peak)
}

/// Horizontal pass over one reflect-padded row (`pad[c + r]` is pixel `c`, `r` the radius):
/// `out[c] = sum_x k(x) pad[c + r - x]` for `x = -r..=r`, given the half kernel `k_re[j],
/// k_im[j] = k(j)`, `j = 0..=r`. The Gabor factor's real part is even and its imaginary part
/// odd, so the taps `x = j` and `x = -j` are taken together: `k_re(j) (a + b) + i k_im(j) (a -
/// b)` with `a = pad[c + r - j]`, `b = pad[c + r + j]` (half the multiplications). Complex
/// kernel unless `CPLX` is false.
#[inline(always)]
fn horizontal_row<const CPLX: bool, const L: usize>(
    pad: &[f64],
    k_re: &[f64],
    k_im: &[f64],
    out_re: &mut [f64],
    out_im: &mut [f64],
) {
    let r = k_re.len() - 1;
    let w = out_re.len();
    let blocks = w / L * L;
    for c0 in (0..blocks).step_by(L) {
        let mid: &[f64; L] = pad[c0 + r..][..L].try_into().unwrap();
        let (mut re, mut im) = ([0.0f64; L], [0.0f64; L]);
        for l in 0..L {
            re[l] = k_re[0] * mid[l];
        }
        for j in 1..=r {
            let (kr, ki) = (k_re[j], k_im[j]);
            let a: &[f64; L] = pad[c0 + r - j..][..L].try_into().unwrap();
            let b: &[f64; L] = pad[c0 + r + j..][..L].try_into().unwrap();
            for l in 0..L {
                re[l] += kr * (a[l] + b[l]);
                if CPLX {
                    im[l] += ki * (a[l] - b[l]);
                }
            }
        }
        out_re[c0..c0 + L].copy_from_slice(&re);
        if CPLX {
            out_im[c0..c0 + L].copy_from_slice(&im);
        }
    }
    for c in blocks..w {
        let (mut re, mut im) = (k_re[0] * pad[c + r], 0.0);
        for j in 1..=r {
            let (a, b) = (pad[c + r - j], pad[c + r + j]);
            re += k_re[j] * (a + b);
            im += k_im[j] * (a - b);
        }
        out_re[c] = re;
        if CPLX {
            out_im[c] = im;
        }
    }
}

/// Vertical pass for one output row, writing |response| to `mag`: `out[c] = sum_y k(y)
/// h[row(-y)][c]` for `y = -r..=r`, given the half kernel `k(j)`, `j = 0..=r`, and the source
/// row offsets `rows[j] = (row(-j), row(j))`. As in [`horizontal_row`] the taps `y = j` and
/// `y = -j` go together: `k_re(j) (h[-j] + h[j]) + i k_im(j) (h[-j] - h[j])`. `H_CPLX` /
/// `K_CPLX` say whether the intermediate and the kernel have an imaginary part, so the zero
/// halves cost nothing.
#[inline(always)]
fn vertical_row<const H_CPLX: bool, const K_CPLX: bool, const L: usize>(
    h_re: &[f64],
    h_im: &[f64],
    rows: &[(usize, usize)],
    k_re: &[f64],
    k_im: &[f64],
    mag: &mut [f64],
) {
    let w = mag.len();
    let blocks = w / L * L;
    let centre = rows[0].0;
    for c0 in (0..blocks).step_by(L) {
        let (mut re, mut im) = ([0.0f64; L], [0.0f64; L]);
        let hr: &[f64; L] = h_re[centre + c0..][..L].try_into().unwrap();
        let hi: &[f64; L] = h_im[centre + c0..][..L].try_into().unwrap();
        for l in 0..L {
            re[l] = k_re[0] * hr[l];
            if H_CPLX {
                im[l] = k_re[0] * hi[l];
            }
        }
        for ((&(m, p), &kr), &ki) in rows.iter().zip(k_re).zip(k_im).skip(1) {
            let ar: &[f64; L] = h_re[m + c0..][..L].try_into().unwrap();
            let br: &[f64; L] = h_re[p + c0..][..L].try_into().unwrap();
            let ai: &[f64; L] = h_im[m + c0..][..L].try_into().unwrap();
            let bi: &[f64; L] = h_im[p + c0..][..L].try_into().unwrap();
            for l in 0..L {
                pair_acc::<H_CPLX, K_CPLX>(
                    &mut re[l], &mut im[l], ar[l], ai[l], br[l], bi[l], kr, ki,
                );
            }
        }
        let out: &mut [f64; L] = (&mut mag[c0..c0 + L]).try_into().unwrap();
        for l in 0..L {
            out[l] = (re[l] * re[l] + im[l] * im[l]).sqrt();
        }
    }
    for c in blocks..w {
        let mut re = k_re[0] * h_re[centre + c];
        let mut im = if H_CPLX {
            k_re[0] * h_im[centre + c]
        } else {
            0.0
        };
        for ((&(m, p), &kr), &ki) in rows.iter().zip(k_re).zip(k_im).skip(1) {
            let (ar, ai, br, bi) = (h_re[m + c], h_im[m + c], h_re[p + c], h_im[p + c]);
            pair_acc::<H_CPLX, K_CPLX>(&mut re, &mut im, ar, ai, br, bi, kr, ki);
        }
        mag[c] = (re * re + im * im).sqrt();
    }
}

/// `(re, im) += k (a) + conj-symmetric k (b)`: with `S = a + b` and `D = a - b`, `re += kr Sre -
/// ki Dim` and `im += kr Sim + ki Dre`, skipping the products with a known-zero part.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pair_acc<const H_CPLX: bool, const K_CPLX: bool>(
    re: &mut f64,
    im: &mut f64,
    ar: f64,
    ai: f64,
    br: f64,
    bi: f64,
    kr: f64,
    ki: f64,
) {
    *re += kr * (ar + br);
    if H_CPLX && K_CPLX {
        *re -= ki * (ai - bi);
    }
    if H_CPLX {
        *im += kr * (ai + bi);
    }
    if K_CPLX {
        *im += ki * (ar - br);
    }
}

/// [`gabor_stats_impl`], compiled for AVX-512 F where the CPU has it (8 f64 lanes, blocks of 16
/// outputs so the two accumulators of each lane overlap their latency), else for AVX2 (4
/// lanes), else portable. No FMA is enabled and every output sums its taps in the same order,
/// so all builds give the same bits.
fn gabor_stats_with(
    plane: &[f64],
    w: usize,
    h: usize,
    frequency: f64,
    theta: f64,
    s: &mut GaborScratch,
) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512 F, checked just above; the function is otherwise the
        // same safe code as `gabor_stats_impl`.
        return unsafe { gabor_stats_avx512(plane, w, h, frequency, theta, s) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above; the function is otherwise the same
        // safe code as `gabor_stats_impl`.
        return unsafe { gabor_stats_avx2(plane, w, h, frequency, theta, s) };
    }
    gabor_stats_impl::<LANES>(plane, w, h, frequency, theta, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gabor_stats_avx2(
    plane: &[f64],
    w: usize,
    h: usize,
    frequency: f64,
    theta: f64,
    s: &mut GaborScratch,
) -> (f64, f64) {
    gabor_stats_impl::<LANES>(plane, w, h, frequency, theta, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gabor_stats_avx512(
    plane: &[f64],
    w: usize,
    h: usize,
    frequency: f64,
    theta: f64,
    s: &mut GaborScratch,
) -> (f64, f64) {
    gabor_stats_impl::<{ 2 * LANES }>(plane, w, h, frequency, theta, s)
}

#[inline(always)]
fn gabor_stats_impl<const L: usize>(
    plane: &[f64],
    w: usize,
    h: usize,
    frequency: f64,
    theta: f64,
    s: &mut GaborScratch,
) -> (f64, f64) {
    if w == 0 || h == 0 {
        return (f64::NAN, f64::NAN);
    }
    let sigma = sigma_prefactor(1.0) / frequency;
    let (ct, st) = (theta.cos(), theta.sin());
    // gabor_kernel's half sizes x0 and y0 coincide when sigma_x == sigma_y.
    let radius = (3.0 * sigma * ct)
        .abs()
        .max((3.0 * sigma * st).abs())
        .max(1.0)
        .ceil() as usize;
    // Half kernels, k(j) for j = 0..=radius (the real parts are even, the imaginary odd).
    let (kx_re, kx_im) = gabor_factor(radius, sigma, 2.0 * PI * frequency * ct, 1.0);
    let (ky_re, ky_im) = gabor_factor(
        radius,
        sigma,
        2.0 * PI * frequency * st,
        1.0 / (2.0 * PI * sigma * sigma),
    );
    let (kx_re, kx_im) = (&kx_re[radius..], &kx_im[radius..]);
    let (ky_re, ky_im) = (&ky_re[radius..], &ky_im[radius..]);
    let x_cplx = !negligible(kx_im, kx_re);
    let y_cplx = !negligible(ky_im, ky_re);

    // Horizontal pass: h[r][c] = sum_x kx(x) img[r][reflect(c - x)], with pad[p] =
    // img[r][reflect(p - radius)].
    s.pad.resize(w + 2 * radius, 0.0);
    for r in 0..h {
        let src = &plane[r * w..][..w];
        let (left, rest) = s.pad.split_at_mut(radius);
        let (mid, right) = rest.split_at_mut(w);
        mid.copy_from_slice(src);
        for (p, v) in left.iter_mut().enumerate() {
            *v = src[reflect(p as isize - radius as isize, w)];
        }
        for (p, v) in right.iter_mut().enumerate() {
            *v = src[reflect((w + p) as isize, w)];
        }
        let out_re = &mut s.h_re[r * w..][..w];
        let out_im = &mut s.h_im[r * w..][..w];
        if x_cplx {
            horizontal_row::<true, L>(&s.pad, kx_re, kx_im, out_re, out_im);
        } else {
            horizontal_row::<false, L>(&s.pad, kx_re, kx_im, out_re, out_im);
        }
    }

    // Vertical pass: out[r][c] = sum_y ky(y) h[reflect(r - y)][c].
    for r in 0..h {
        s.rows.clear();
        s.rows.extend((0..=radius as isize).map(|j| {
            let r = r as isize;
            (reflect(r - j, h) * w, reflect(r + j, h) * w)
        }));
        let mag = &mut s.mag[r * w..][..w];
        let (hr, hi, rows) = (&s.h_re[..], &s.h_im[..], &s.rows[..]);
        match (x_cplx, y_cplx) {
            (true, true) => vertical_row::<true, true, L>(hr, hi, rows, ky_re, ky_im, mag),
            (true, false) => vertical_row::<true, false, L>(hr, hi, rows, ky_re, ky_im, mag),
            (false, true) => vertical_row::<false, true, L>(hr, hi, rows, ky_re, ky_im, mag),
            (false, false) => vertical_row::<false, false, L>(hr, hi, rows, ky_re, ky_im, mag),
        }
    }

    // Two passes, as numpy's var does, so a near-constant response keeps its tiny variance.
    let n = (w * h) as f64;
    let mean = lane_sum(&s.mag, |m| m) / n;
    let var = lane_sum(&s.mag, |m| (m - mean) * (m - mean)) / n;
    (mean, var)
}

/// `sum f(v)` over `values` in `LANES` interleaved partial sums (vectorisable, and more accurate
/// than one running sum; NumPy's pairwise order differs anyway, by ~1e-16 relative).
#[inline(always)]
fn lane_sum(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for l in 0..LANES {
            acc[l] += f(chunk[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The notebook's `gabor_features`: for each frequency of [`GABOR_FREQUENCIES`] and (inner)
/// theta of [`GABOR_THETAS`], the mean and variance of [`gabor_magnitude_stats`]: 12 values.
pub fn gabor_features(gray: &GrayImage) -> Vec<f32> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let mut scratch = GaborScratch::new(w, h);
    let plane: Vec<f64> = gray
        .as_raw()
        .iter()
        .map(|&v| f64::from(v) / 255.0)
        .collect();
    let mut feats = Vec::with_capacity(GABOR_LEN);
    for &f in &GABOR_FREQUENCIES {
        for &t in &GABOR_THETAS {
            let (mean, var) = gabor_stats_with(&plane, w, h, f, t, &mut scratch);
            feats.push(mean as f32);
            feats.push(var as f32);
        }
    }
    feats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbp_builds_give_the_portable_codes() {
        // The dispatch runs an AVX-512 or AVX2 build of the same loops; the codes must be the
        // portable build's. Few grey levels make many ties with the centre (where `>=` and
        // rounding of the diagonal samples decide), and odd sizes exercise the row ends.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for (w, h) in [(37, 23), (1, 9), (9, 1), (64, 17)] {
            let img = GrayImage::from_fn(w, h, |_, _| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                image::Luma([[0, 100, 101, 255][(state >> 62) as usize]])
            });
            let (w, h) = (w as usize, h as usize);
            let pw = w + 2;
            let mut padded = vec![0.0f64; pw * (h + 2)];
            for (y, row) in img.as_raw().chunks_exact(w).enumerate() {
                for (x, &v) in row.iter().enumerate() {
                    padded[(y + 1) * pw + x + 1] = f64::from(v);
                }
            }
            let mut portable = vec![0u8; w * h];
            lbp_codes_impl(&padded, w, h, &mut portable);
            assert_eq!(lbp_uniform_codes(&img).as_raw(), &portable, "{w}x{h}");
        }
    }

    #[test]
    fn gabor_block_widths_and_instruction_sets_round_alike() {
        // The dispatch picks an AVX-512 or AVX2 build with another block width; each output
        // still sums its taps in the same order without fused multiply-adds, so every build
        // must give the portable one's bits. Sizes off the block widths exercise the tails,
        // and a 5-pixel side is narrower than the largest kernel radius (9), so reflect folds.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for (w, h) in [(37, 23), (5, 40), (64, 5)] {
            let plane: Vec<f64> = (0..w * h)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    f64::from((state >> 56) as u8) / 255.0
                })
                .collect();
            for &f in &GABOR_FREQUENCIES {
                for &t in &GABOR_THETAS {
                    let mut s = GaborScratch::new(w, h);
                    let portable = gabor_stats_impl::<LANES>(&plane, w, h, f, t, &mut s);
                    let wide = gabor_stats_impl::<{ 2 * LANES }>(&plane, w, h, f, t, &mut s);
                    let wider = gabor_stats_impl::<{ 4 * LANES }>(&plane, w, h, f, t, &mut s);
                    let chosen = gabor_stats_with(&plane, w, h, f, t, &mut s);
                    for got in [wide, wider, chosen] {
                        assert_eq!(got.0.to_bits(), portable.0.to_bits(), "{w}x{h} f={f} t={t}");
                        assert_eq!(got.1.to_bits(), portable.1.to_bits(), "{w}x{h} f={f} t={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn skimage_offsets() {
        // Row offset is sin * d, column cos * d, half away from zero; 45/135 degrees at d = 2
        // collapse onto d = 1 (round(1.414) = 1), verified against graycomatrix on a 3x3 ramp.
        let got: Vec<_> = GLCM_DISTANCES
            .iter()
            .flat_map(|&d| GLCM_ANGLES.iter().map(move |&a| glcm_offset(d, a)))
            .collect();
        assert_eq!(
            got,
            [
                (0, 1),
                (1, 1),
                (1, 0),
                (1, -1),
                (0, 2),
                (1, 1),
                (2, 0),
                (1, -1)
            ]
        );
    }

    #[test]
    #[allow(clippy::approx_constant)] // 0.70711 is skimage's 5-decimal rounding, not 1/sqrt(2)
    fn lbp_circle_matches_skimage_rounding() {
        let c = lbp_circle(8, 1.0);
        let d = 0.70711;
        let want = [
            (0.0, 1.0),
            (-d, d),
            (-1.0, 0.0),
            (-d, -d),
            (0.0, -1.0),
            (d, -d),
            (1.0, 0.0),
            (d, d),
        ];
        for (g, w) in c.iter().zip(want) {
            assert_eq!(g.0, w.0);
            assert_eq!(g.1, w.1);
        }
    }

    #[test]
    fn reflect_is_half_sample_symmetric_and_periodic() {
        // scipy.ndimage 'reflect' on [a b c]: ... c b a | a b c | c b a | a b c ...
        let got: Vec<usize> = (-7..10).map(|i| reflect(i, 3)).collect();
        assert_eq!(got, [0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2, 2]);
        assert!((-5..5).all(|i| reflect(i, 1) == 0));
    }

    #[test]
    fn sigma_prefactor_value() {
        // 1/pi * sqrt(ln 2 / 2) * 3 for one octave; the value printed by skimage._sigma_prefactor(1).
        assert!((sigma_prefactor(1.0) - 0.562_171_875_387_832_8).abs() < 1e-15);
    }

    #[test]
    fn separable_kernel_equals_2d_kernel() {
        // The product of the two factors is skimage's 2-D gabor_kernel formula, pointwise.
        let (f, theta) = (0.2, PI / 4.0);
        let sigma = sigma_prefactor(1.0) / f;
        let r = 6;
        let (xr, xi) = gabor_factor(r, sigma, 2.0 * PI * f * theta.cos(), 1.0);
        let scale = 1.0 / (2.0 * PI * sigma * sigma);
        let (yr, yi) = gabor_factor(r, sigma, 2.0 * PI * f * theta.sin(), scale);
        for yy in 0..=2 * r {
            for xx in 0..=2 * r {
                let (x, y) = (xx as f64 - r as f64, yy as f64 - r as f64);
                let rotx = x * theta.cos() + y * theta.sin();
                let roty = -x * theta.sin() + y * theta.cos();
                let g = (-0.5 * (rotx * rotx + roty * roty) / (sigma * sigma)).exp() * scale;
                let ph = 2.0 * PI * f * rotx;
                let re = xr[xx] * yr[yy] - xi[xx] * yi[yy];
                let im = xr[xx] * yi[yy] + xi[xx] * yr[yy];
                assert!((re - g * ph.cos()).abs() < 1e-15, "{xx} {yy}");
                assert!((im - g * ph.sin()).abs() < 1e-15, "{xx} {yy}");
            }
        }
    }
}
