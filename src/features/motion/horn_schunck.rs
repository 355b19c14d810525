//! Horn–Schunck dense optical flow (Horn & Schunck 1981), optionally coarse-to-fine, and the
//! 38-value flow descriptor that fills the notebook's `horn_schunck_dense_features` slot.
//!
//! Conventions (the Python reference in `tools/fixtures_motion.py` implements the same):
//!
//! - Intensities are grey levels 0..255 as f32; `alpha` is in grey levels, so `alpha²` weighs
//!   the smoothness term against squared grey-level gradients.
//! - Derivatives are the paper's first differences averaged over the 2x2x2 cube of
//!   `(row i, column j, frame k)`: `Ex`, `Ey` average the four x (y) differences of the two
//!   frames, `Et` the four frame differences. Indices past the last row or column are clamped.
//! - The local average `ū` weighs edge neighbours 1/6 and diagonal ones 1/12, clamping at the
//!   border. Each Jacobi iteration updates every pixel from the previous iterate:
//!   `u ← ū − Ex (Ex (ū − u₀) + Ey (v̄ − v₀) + Et) / (α² + Ex² + Ey²)` (and `v` with `Ey`), where
//!   `(u₀, v₀)` is the flow the frames were warped with (zero on one level, which is exactly the
//!   paper's update).
//! - Coarse to fine: both frames go down a pyramid (5-tap `[1 4 6 4 1]/16` blur with
//!   `BORDER_REFLECT_101`, every second pixel, size `ceil(n/2)`) while the coarser level keeps at
//!   least [`HsParams::min_size`] pixels on its short side, up to `levels` levels. On each level
//!   from the coarsest, the next frame is warped towards the previous one by the current flow
//!   (bilinear, coordinates clamped to the frame), the iterations refine the flow, and it is
//!   carried to the finer level by bilinear interpolation at `(x/2, y/2)` times 2.

use image::GrayImage;
use ndarray::Array2;

use super::lk::reflect101;
use super::{nan_to_zero, percentile_sorted};

/// Length of [`horn_schunck_features`] with the default 16 + 16 bins: 4 + 16 + 16 + 2 = 38.
pub const HS_FEATURE_LEN: usize = 38;

/// Upper end of the magnitude histogram in [`horn_schunck_features`], pixels per frame pair;
/// larger magnitudes count in the last bin.
pub const HS_MAG_RANGE: f32 = 8.0;

/// Parameters of [`horn_schunck_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HsParams {
    /// Smoothness weight α in grey levels (default 10): larger gives smoother, smaller flows.
    pub alpha: f32,
    /// Jacobi iterations on each pyramid level (default 100).
    pub iterations: usize,
    /// Pyramid levels, 1 = the paper's single-scale method (default 4, which follows motions of
    /// several pixels per frame; on a 320x240 demo frame pair whose object moves 6 px, 3 levels
    /// recover 2.7 px of it and 4 levels 4.3 px).
    pub levels: usize,
    /// A coarser level is only made while its shorter side keeps at least this many pixels
    /// (default 16).
    pub min_size: usize,
}

impl Default for HsParams {
    fn default() -> Self {
        HsParams {
            alpha: 10.0,
            iterations: 100,
            levels: 4,
            min_size: 16,
        }
    }
}

/// A float image, row-major.
#[derive(Clone)]
struct Plane {
    w: usize,
    h: usize,
    d: Vec<f32>,
}

impl Plane {
    fn from_gray(g: &GrayImage) -> Plane {
        Plane {
            w: g.width() as usize,
            h: g.height() as usize,
            d: g.as_raw().iter().map(|&p| f32::from(p)).collect(),
        }
    }

    fn zeros(w: usize, h: usize) -> Plane {
        Plane {
            w,
            h,
            d: vec![0.0; w * h],
        }
    }

    /// Bilinear sample at (x, y), the coordinates clamped to the frame.
    #[inline]
    fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let r0 = y0 * self.w;
        let r1 = y1 * self.w;
        let top = self.d[r0 + x0] + (self.d[r0 + x1] - self.d[r0 + x0]) * fx;
        let bot = self.d[r1 + x0] + (self.d[r1 + x1] - self.d[r1 + x0]) * fx;
        top + (bot - top) * fy
    }

    /// One level down: `[1 4 6 4 1]/16` in both directions with `BORDER_REFLECT_101`, every
    /// second pixel.
    fn down(&self) -> Plane {
        const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
        let (dw, dh) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut rows = vec![0f32; dw * self.h];
        for y in 0..self.h {
            let r = &self.d[y * self.w..(y + 1) * self.w];
            for x in 0..dw {
                let mut s = 0.0;
                for (k, kv) in K.iter().enumerate() {
                    s += kv * r[reflect101(2 * x as isize + k as isize - 2, self.w)];
                }
                rows[y * dw + x] = s;
            }
        }
        let mut out = Plane::zeros(dw, dh);
        for y in 0..dh {
            for x in 0..dw {
                let mut s = 0.0;
                for (k, kv) in K.iter().enumerate() {
                    s += kv * rows[reflect101(2 * y as isize + k as isize - 2, self.h) * dw + x];
                }
                out.d[y * dw + x] = s;
            }
        }
        out
    }

    /// Bilinear upsampling of a coarse flow component to `w x h`, times 2 (pixels double).
    fn up_flow(&self, w: usize, h: usize) -> Plane {
        let mut out = Plane::zeros(w, h);
        for y in 0..h {
            for x in 0..w {
                out.d[y * w + x] = 2.0 * self.sample(x as f32 * 0.5, y as f32 * 0.5);
            }
        }
        out
    }
}

/// Dense flow from `prev` to `next` with [`HsParams::default`]: `(u, v)` in pixels, each
/// `height x width` (row-major like the image), `u` positive to the right and `v` downwards.
///
/// Errors with [`crate::Error::InvalidArgument`] when the frames differ in size.
pub fn horn_schunck(
    prev: &GrayImage,
    next: &GrayImage,
) -> crate::Result<(Array2<f32>, Array2<f32>)> {
    horn_schunck_with(prev, next, &HsParams::default())
}

/// Dense Horn–Schunck flow with explicit parameters (see the module documentation for the exact
/// scheme).
///
/// ```
/// use vidcompare::features::motion::{HsParams, horn_schunck_with};
/// let f = |dx: f32| image::GrayImage::from_fn(48, 32, |x, y| {
///     let (x, y) = (x as f32 - dx, y as f32);
///     image::Luma([(128.0 + 60.0 * (x * 0.3).sin() * (y * 0.25).cos()) as u8])
/// });
/// let (u, v) = horn_schunck_with(&f(0.0), &f(1.0), &HsParams::default()).unwrap();
/// assert!((u.mean().unwrap() - 1.0).abs() < 0.2 && v.mean().unwrap().abs() < 0.1);
/// ```
pub fn horn_schunck_with(
    prev: &GrayImage,
    next: &GrayImage,
    params: &HsParams,
) -> crate::Result<(Array2<f32>, Array2<f32>)> {
    if prev.dimensions() != next.dimensions() {
        return Err(crate::Error::InvalidArgument(format!(
            "Horn-Schunck needs two frames of one size, got {}x{} and {}x{}",
            prev.width(),
            prev.height(),
            next.width(),
            next.height()
        )));
    }
    if !(params.alpha.is_finite() && params.alpha >= 0.0) {
        return Err(crate::Error::InvalidArgument(format!(
            "Horn-Schunck alpha must be a finite number >= 0, got {}",
            params.alpha
        )));
    }
    let (w, h) = (prev.width() as usize, prev.height() as usize);
    if w == 0 || h == 0 {
        return Ok((Array2::zeros((h, w)), Array2::zeros((h, w))));
    }
    let mut p1 = vec![Plane::from_gray(prev)];
    let mut p2 = vec![Plane::from_gray(next)];
    while p1.len() < params.levels.max(1) {
        let last = p1.last().expect("level 0 exists");
        if last.w.div_ceil(2).min(last.h.div_ceil(2)) < params.min_size.max(2) {
            break;
        }
        let (d1, d2) = (last.down(), p2.last().expect("same depth").down());
        p1.push(d1);
        p2.push(d2);
    }
    let mut flow: Option<(Plane, Plane)> = None;
    for lvl in (0..p1.len()).rev() {
        let (i1, i2) = (&p1[lvl], &p2[lvl]);
        let (u0, v0) = match flow.take() {
            None => (Plane::zeros(i1.w, i1.h), Plane::zeros(i1.w, i1.h)),
            Some((u, v)) => (u.up_flow(i1.w, i1.h), v.up_flow(i1.w, i1.h)),
        };
        flow = Some(refine(i1, i2, u0, v0, params));
    }
    let (u, v) = flow.expect("at least one level");
    Ok((
        Array2::from_shape_vec((h, w), u.d).expect("h * w values"),
        Array2::from_shape_vec((h, w), v.d).expect("h * w values"),
    ))
}

crate::util::simd::avx2_dispatch! {
    /// The Horn–Schunck iterations on one level, starting from and linearised around
    /// `(u0, v0)`, compiled for AVX2 + FMA where the CPU has them (same results, see
    /// `util::simd`).
    fn refine(i1: &Plane, i2: &Plane, u0: Plane, v0: Plane, params: &HsParams) -> (Plane, Plane)
        => refine_impl
}

#[inline(always)]
fn refine_impl(i1: &Plane, i2: &Plane, u0: Plane, v0: Plane, params: &HsParams) -> (Plane, Plane) {
    let (w, h) = (i1.w, i1.h);
    let warped = if u0.d.iter().chain(&v0.d).all(|&f| f == 0.0) {
        i2.clone()
    } else {
        let mut p = Plane::zeros(w, h);
        for y in 0..h {
            for x in 0..w {
                let k = y * w + x;
                p.d[k] = i2.sample(x as f32 + u0.d[k], y as f32 + v0.d[k]);
            }
        }
        p
    };
    // Per pixel: ex, ey, the constant part of the residual and 1 / (α² + ex² + ey²).
    let a2 = params.alpha * params.alpha;
    let mut ex = vec![0f32; w * h];
    let mut ey = vec![0f32; w * h];
    let mut c = vec![0f32; w * h];
    let mut inv = vec![0f32; w * h];
    let (e1, e2) = (&i1.d, &warped.d);
    for y in 0..h {
        let y1 = (y + 1).min(h - 1);
        for x in 0..w {
            let x1 = (x + 1).min(w - 1);
            let (a, b, cc, d) = (y * w + x, y * w + x1, y1 * w + x, y1 * w + x1);
            let gx =
                0.25 * ((e1[b] - e1[a]) + (e1[d] - e1[cc]) + (e2[b] - e2[a]) + (e2[d] - e2[cc]));
            let gy =
                0.25 * ((e1[cc] - e1[a]) + (e1[d] - e1[b]) + (e2[cc] - e2[a]) + (e2[d] - e2[b]));
            let gt =
                0.25 * ((e2[a] - e1[a]) + (e2[cc] - e1[cc]) + (e2[b] - e1[b]) + (e2[d] - e1[d]));
            ex[a] = gx;
            ey[a] = gy;
            c[a] = gt - gx * u0.d[a] - gy * v0.d[a];
            inv[a] = 1.0 / (a2 + gx * gx + gy * gy);
        }
    }
    // Flow kept with a one-pixel replicated border so the averaging loop has no branches.
    let (pw, ph) = (w + 2, h + 2);
    let mut u = vec![0f32; pw * ph];
    let mut v = vec![0f32; pw * ph];
    for y in 0..h {
        u[(y + 1) * pw + 1..(y + 1) * pw + 1 + w].copy_from_slice(&u0.d[y * w..(y + 1) * w]);
        v[(y + 1) * pw + 1..(y + 1) * pw + 1 + w].copy_from_slice(&v0.d[y * w..(y + 1) * w]);
    }
    replicate_border(&mut u, w, h);
    replicate_border(&mut v, w, h);
    let mut nu = u.clone();
    let mut nv = v.clone();
    const EDGE: f32 = 1.0 / 6.0;
    const DIAG: f32 = 1.0 / 12.0;
    // The paper's average of the 8 neighbours of each column x + 1 of three padded rows, as
    // whole-row operations over shifted slices of exactly w values (no index arithmetic, so the
    // loop vectorises).
    #[inline(always)]
    fn avg_row(up: &[f32], mid: &[f32], down: &[f32], out: &mut [f32]) {
        let w = out.len();
        let (u0, u1, u2) = (&up[..w], &up[1..w + 1], &up[2..w + 2]);
        let (m0, m2) = (&mid[..w], &mid[2..w + 2]);
        let (d0, d1, d2) = (&down[..w], &down[1..w + 1], &down[2..w + 2]);
        for x in 0..w {
            out[x] =
                EDGE * (u1[x] + m2[x] + d1[x] + m0[x]) + DIAG * (u0[x] + u2[x] + d2[x] + d0[x]);
        }
    }
    let mut ub = vec![0f32; w];
    let mut vb = vec![0f32; w];
    for _ in 0..params.iterations {
        for y in 0..h {
            let base = (y + 1) * pw;
            // Row slices of known length let the compiler drop the bounds checks.
            let (uu, um, ud) = (
                &u[base - pw..base],
                &u[base..base + pw],
                &u[base + pw..base + 2 * pw],
            );
            let (vu, vm, vd) = (
                &v[base - pw..base],
                &v[base..base + pw],
                &v[base + pw..base + 2 * pw],
            );
            let r = y * w..(y + 1) * w;
            let (exr, eyr, cr, ir) = (&ex[r.clone()], &ey[r.clone()], &c[r.clone()], &inv[r]);
            let nur = &mut nu[base + 1..base + 1 + w];
            let nvr = &mut nv[base + 1..base + 1 + w];
            avg_row(uu, um, ud, &mut ub);
            avg_row(vu, vm, vd, &mut vb);
            for x in 0..w {
                let t = (exr[x] * ub[x] + eyr[x] * vb[x] + cr[x]) * ir[x];
                nur[x] = ub[x] - exr[x] * t;
                nvr[x] = vb[x] - eyr[x] * t;
            }
        }
        replicate_border(&mut nu, w, h);
        replicate_border(&mut nv, w, h);
        std::mem::swap(&mut u, &mut nu);
        std::mem::swap(&mut v, &mut nv);
    }
    let unpad = |f: &[f32]| {
        let mut p = Plane::zeros(w, h);
        for y in 0..h {
            p.d[y * w..(y + 1) * w].copy_from_slice(&f[(y + 1) * pw + 1..(y + 1) * pw + 1 + w]);
        }
        p
    };
    (unpad(&u), unpad(&v))
}

/// Copy the outermost image pixels into the one-pixel border of a `(w + 2) x (h + 2)` buffer.
fn replicate_border(f: &mut [f32], w: usize, h: usize) {
    let pw = w + 2;
    for y in 1..=h {
        f[y * pw] = f[y * pw + 1];
        f[y * pw + w + 1] = f[y * pw + w];
    }
    f.copy_within(pw..2 * pw, 0);
    f.copy_within(h * pw..(h + 1) * pw, (h + 1) * pw);
}

/// Summary of a dense flow field: `4 + mag_bins + ang_bins + 2` values, 38 with the defaults.
///
/// Layout, with `m = sqrt(u² + v²)` per pixel and `θ = atan2(v, u)` (image axes, y down):
///
/// | index                  | value                                                         |
/// |------------------------|---------------------------------------------------------------|
/// | 0, 1, 2, 3             | mean m, std m (population), median m, max m                   |
/// | 4 .. 4 + mag_bins      | histogram of m over [0, [`HS_MAG_RANGE`]) px, values beyond in the last bin, as a density (`Σ bin · width = 1`) |
/// | then ang_bins values   | histogram of θ over [-π, π), each pixel weighted by m, summing to 1 (all 0 without motion) |
/// | last 2                 | mean u, mean v                                                |
pub fn flow_summary(
    u: &Array2<f32>,
    v: &Array2<f32>,
    mag_bins: usize,
    ang_bins: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; 4 + mag_bins + ang_bins + 2];
    let n = u.len().min(v.len());
    if n == 0 {
        return out;
    }
    let mags: Vec<f64> = u
        .iter()
        .zip(v.iter())
        .map(|(&a, &b)| f64::from((a * a + b * b).sqrt()))
        .collect();
    let (mean, std) = super::mean_std(&mags);
    let mut sorted = mags.clone();
    sorted.sort_by(f64::total_cmp);
    out[0] = mean as f32;
    out[1] = std as f32;
    out[2] = percentile_sorted(&sorted, 50.0) as f32;
    out[3] = sorted[n - 1] as f32;
    if mag_bins > 0 {
        let width = f64::from(HS_MAG_RANGE) / mag_bins as f64;
        let mut counts = vec![0f64; mag_bins];
        for &m in &mags {
            counts[((m / width) as usize).min(mag_bins - 1)] += 1.0;
        }
        for (k, c) in counts.into_iter().enumerate() {
            out[4 + k] = (c / (n as f64 * width)) as f32;
        }
    }
    if ang_bins > 0 {
        let mut hist = vec![0f64; ang_bins];
        let mut total = 0.0;
        for ((&a, &b), &m) in u.iter().zip(v.iter()).zip(&mags) {
            if m > 0.0 {
                let t = (f64::from(b).atan2(f64::from(a)) + std::f64::consts::PI)
                    / std::f64::consts::TAU;
                hist[((t * ang_bins as f64) as usize).min(ang_bins - 1)] += m;
                total += m;
            }
        }
        if total > 0.0 {
            for (k, hv) in hist.into_iter().enumerate() {
                out[4 + mag_bins + k] = (hv / total) as f32;
            }
        }
    }
    let len = out.len();
    out[len - 2] = (u.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64) as f32;
    out[len - 1] = (v.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64) as f32;
    nan_to_zero(&mut out);
    out
}

/// The real `horn_schunck_dense_features(frames[:2], mag_bins, ang_bins)`: [`horn_schunck`]
/// flow from the first to the second frame, summarised by [`flow_summary`]
/// (`4 + mag_bins + ang_bins + 2` values, [`HS_FEATURE_LEN`] with 16 + 16 bins). Fewer than two
/// frames give zeros; frames of different sizes are compared over their common region.
pub fn horn_schunck_features(frames: &[GrayImage], mag_bins: usize, ang_bins: usize) -> Vec<f32> {
    if frames.len() < 2 {
        return vec![0.0; 4 + mag_bins + ang_bins + 2];
    }
    let (a, b) = super::crop_pair(&frames[0], &frames[1]);
    match horn_schunck(&a, &b) {
        Ok((u, v)) => flow_summary(&u, &v, mag_bins, ang_bins),
        Err(_) => vec![0.0; 4 + mag_bins + ang_bins + 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn textured(w: u32, h: u32, dx: f32, dy: f32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32 - dx, y as f32 - dy);
            let v =
                128.0 + 50.0 * (x * 0.31).sin() * (y * 0.23).cos() + 30.0 * ((x + y) * 0.17).sin();
            Luma([v.round() as u8])
        })
    }

    #[test]
    fn zero_motion_gives_zero_flow() {
        let a = textured(40, 30, 0.0, 0.0);
        let (u, v) = horn_schunck(&a, &a).unwrap();
        assert!(u.iter().chain(v.iter()).all(|&f| f == 0.0));
    }

    #[test]
    fn vertical_translation_is_found() {
        let (u, v) =
            horn_schunck(&textured(64, 48, 0.0, 0.0), &textured(64, 48, 0.0, 1.0)).unwrap();
        let (mu, mv) = (u.mean().unwrap(), v.mean().unwrap());
        assert!(mu.abs() < 0.1 && (mv - 1.0).abs() < 0.15, "{mu} {mv}");
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let e = horn_schunck(&GrayImage::new(4, 4), &GrayImage::new(5, 4)).unwrap_err();
        assert!(e.to_string().contains("5x4"), "{e}");
    }

    #[test]
    fn summary_layout_by_hand() {
        // Two pixels: (3, 4) and (0, 0): magnitudes 5 and 0.
        let u = Array2::from_shape_vec((1, 2), vec![3.0, 0.0]).unwrap();
        let v = Array2::from_shape_vec((1, 2), vec![4.0, 0.0]).unwrap();
        let s = flow_summary(&u, &v, 16, 16);
        assert_eq!(s.len(), HS_FEATURE_LEN);
        assert_eq!(&s[..4], &[2.5, 2.5, 2.5, 5.0]);
        // Bin width 0.5: 0 -> bin 0, 5 -> bin 10; density 1 / (2 * 0.5) each.
        assert_eq!(s[4], 1.0);
        assert_eq!(s[4 + 10], 1.0);
        // atan2(4, 3) = 0.927 rad -> bin floor((0.927 + pi) / (2 pi) * 16) = 10; weight 1.
        assert_eq!(s[20 + 10], 1.0);
        assert_eq!(&s[36..], &[1.5, 2.0]);
        assert_eq!(horn_schunck_features(&[], 16, 16), vec![0.0; 38]);
    }
}
