//! Shi–Tomasi corners and pyramidal Lucas–Kanade tracking, reproducing OpenCV's
//! `goodFeaturesToTrack` and `calcOpticalFlowPyrLK` with the defaults the notebook uses.
//!
//! Everything integer in OpenCV (pyramids, Scharr derivatives, the 14-bit bilinear window
//! interpolation) is reproduced exactly. The float arithmetic follows OpenCV's operation order,
//! including where its vector loops fuse multiply-adds and how they split sums across SIMD lanes,
//! so that the corner responses are bit-identical to those of the opencv-python 5.0 wheel on an
//! AVX-512 machine (where its fixtures were made) and tracked points agree to float rounding.

use image::GrayImage;

/// OpenCV's `BORDER_REFLECT_101` (`gfedcb|abcdefgh|gfedcba`) for any offset, like
/// `cv::borderInterpolate`.
pub(crate) fn reflect101(mut i: isize, n: usize) -> usize {
    let n = n as isize;
    if n == 1 {
        return 0;
    }
    loop {
        if i < 0 {
            i = -i;
        } else if i >= n {
            i = 2 * n - 2 - i;
        } else {
            return i as usize;
        }
    }
}

/// Round half to even, like `cvRound` on x86 (`cvtss2si` in the default rounding mode).
fn cv_round(x: f32) -> i32 {
    x.round_ties_even() as i32
}

/// `cv::cornerMinEigenVal(gray, blockSize = 3, ksize = 3)` with `BORDER_REFLECT_101`: the smaller
/// eigenvalue of the 3x3 box-summed structure tensor of Sobel derivatives scaled by 1/(4·3·255),
/// row-major, `width * height` values.
///
/// Float rounding follows OpenCV 5.0's AVX-512 build: the Sobel column pass and the first
/// `32 * (width / 32)` columns of the row pass use fused multiply-adds (emulated exactly in f64),
/// the remaining columns plain ones; the box filter sums in f64 with OpenCV's running column sum.
pub fn corner_min_eigen_val(gray: &GrayImage) -> Vec<f32> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let src = gray.as_raw();
    // OpenCV scales the Sobel smoothing kernel [1 2 1] by 1/(4 * blockSize * 255) in f32.
    let s = (1.0f64 / (4.0 * 3.0 * 255.0)) as f32;
    let s2 = s * 2.0;
    let (sd, s2d) = (f64::from(s), f64::from(s2));
    let fused_cols = 32 * (w / 32);

    // Horizontal difference (exact integers) for dx and the scaled horizontal smoothing for dy,
    // from rows padded by one reflected pixel on each side.
    let mut diff = vec![0f64; w * h];
    let mut smooth = vec![0f32; w * h];
    let mut padded = vec![0f64; w + 2];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for (x, p) in padded.iter_mut().enumerate() {
            *p = f64::from(row[reflect101(x as isize - 1, w)]);
        }
        let (drow, srow) = (
            &mut diff[y * w..(y + 1) * w],
            &mut smooth[y * w..(y + 1) * w],
        );
        for x in 0..w {
            let (p0, p1, p2) = (padded[x], padded[x + 1], padded[x + 2]);
            drow[x] = p2 - p0;
            srow[x] = if x < fused_cols {
                let t0 = f64::from((p0 * sd) as f32);
                let t1 = f64::from((p1 * s2d + t0) as f32);
                (p2 * sd + t1) as f32
            } else {
                ((p0 * sd) as f32 + (p1 * s2d) as f32) + (p2 * sd) as f32
            };
        }
    }
    let mut xx = vec![0f32; w * h];
    let mut xy = vec![0f32; w * h];
    let mut yy = vec![0f32; w * h];
    for y in 0..h {
        let (ym, yp) = (
            reflect101(y as isize - 1, h) * w,
            reflect101(y as isize + 1, h) * w,
        );
        for x in 0..w {
            let c = diff[y * w + x] as f32;
            let ud = diff[ym + x] + diff[yp + x];
            let dx = (ud * sd + f64::from(c * s2)) as f32;
            let dy = smooth[yp + x] - smooth[ym + x];
            xx[y * w + x] = dx * dx;
            xy[y * w + x] = dx * dy;
            yy[y * w + x] = dy * dy;
        }
    }
    let bxx = box3_sum(&xx, w, h);
    let bxy = box3_sum(&xy, w, h);
    let byy = box3_sum(&yy, w, h);
    (0..w * h)
        .map(|i| {
            let a = bxx[i] * 0.5;
            let b = bxy[i];
            let c = byy[i] * 0.5;
            let t = a - c;
            (a + c) - (t * t + b * b).sqrt()
        })
        .collect()
}

/// Unnormalised 3x3 box filter with `BORDER_REFLECT_101`, as OpenCV's `boxFilter` on `CV_32F`:
/// row sums and a running column sum in f64, rounded to f32 at the end.
fn box3_sum(a: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut rows = vec![0f64; w * h];
    let mut padded = vec![0f64; w + 2];
    for y in 0..h {
        let r = &a[y * w..(y + 1) * w];
        for (x, p) in padded.iter_mut().enumerate() {
            *p = f64::from(r[reflect101(x as isize - 1, w)]);
        }
        for (x, o) in rows[y * w..(y + 1) * w].iter_mut().enumerate() {
            *o = padded[x] + padded[x + 1] + padded[x + 2];
        }
    }
    let mut out = vec![0f32; w * h];
    let row = |y: isize| reflect101(y, h) * w;
    let mut sum: Vec<f64> = (0..w).map(|x| rows[row(-1) + x] + rows[x]).collect();
    for y in 0..h as isize {
        let (add, sub) = (row(y + 1), row(y - 1));
        for x in 0..w {
            let s0 = sum[x] + rows[add + x];
            out[y as usize * w + x] = s0 as f32;
            sum[x] = s0 - rows[sub + x];
        }
    }
    out
}

/// `cv2.goodFeaturesToTrack(gray, maxCorners, qualityLevel, minDistance)` with OpenCV's defaults
/// (no mask, `blockSize = 3`, minimum-eigenvalue response): corners as `(x, y)` pixel
/// coordinates, strongest first, at most `max_corners` (0 = no limit).
///
/// Responses at or below `quality * max` are dropped, survivors must equal their 3x3 maximum and
/// lie off the one-pixel frame, ties are ordered like OpenCV's pointer comparison (later raster
/// position first), and a corner closer than `min_distance` to a stronger accepted one is skipped
/// (OpenCV's grid of `round(min_distance)` cells).
///
/// ```
/// use vidcompare::features::motion::good_features_to_track;
/// // A bright square on black: its four corners.
/// let img = image::GrayImage::from_fn(40, 40, |x, y| {
///     image::Luma([if (10..30).contains(&x) && (10..30).contains(&y) { 200 } else { 0 }])
/// });
/// let corners = good_features_to_track(&img, 200, 0.01, 7.0);
/// assert_eq!(corners.len(), 4);
/// ```
pub fn good_features_to_track(
    gray: &GrayImage,
    max_corners: usize,
    quality: f64,
    min_distance: f64,
) -> Vec<(f32, f32)> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w < 3 || h < 3 || quality.is_nan() || quality <= 0.0 {
        return Vec::new();
    }
    let mut eig = corner_min_eigen_val(gray);
    let max_val = eig.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    // cv::threshold(THRESH_TOZERO) on CV_32F compares against the threshold rounded to f32.
    let thresh = (f64::from(max_val) * quality) as f32;
    for v in &mut eig {
        if v.is_nan() || *v <= thresh {
            *v = 0.0;
        }
    }
    let mut cand: Vec<(f32, usize)> = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let v = eig[y * w + x];
            if v == 0.0 {
                continue;
            }
            let mut m = v;
            for yy in y - 1..=y + 1 {
                for xx in x - 1..=x + 1 {
                    m = m.max(eig[yy * w + xx]);
                }
            }
            if v == m {
                cand.push((v, y * w + x));
            }
        }
    }
    // OpenCV's comparator: larger response first, then the larger address (later pixel).
    cand.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));

    let mut corners = Vec::new();
    let limit = if max_corners == 0 {
        usize::MAX
    } else {
        max_corners
    };
    if min_distance >= 1.0 {
        let cell = (min_distance.round_ties_even() as usize).max(1);
        let (gw, gh) = (w.div_ceil(cell), h.div_ceil(cell));
        let mut grid: Vec<Vec<(f32, f32)>> = vec![Vec::new(); gw * gh];
        let min_d2 = min_distance * min_distance;
        for &(_, idx) in &cand {
            let (x, y) = (idx % w, idx / w);
            let (cx, cy) = (x / cell, y / cell);
            let good = (cy.saturating_sub(1)..=(cy + 1).min(gh - 1)).all(|gy| {
                (cx.saturating_sub(1)..=(cx + 1).min(gw - 1)).all(|gx| {
                    grid[gy * gw + gx].iter().all(|&(px, py)| {
                        let (dx, dy) = (x as f32 - px, y as f32 - py);
                        f64::from(dx * dx + dy * dy) >= min_d2
                    })
                })
            });
            if good {
                grid[cy * gw + cx].push((x as f32, y as f32));
                corners.push((x as f32, y as f32));
                if corners.len() == limit {
                    break;
                }
            }
        }
    } else {
        corners.extend(
            cand.iter()
                .take(limit)
                .map(|&(_, idx)| ((idx % w) as f32, (idx / w) as f32)),
        );
    }
    corners
}

/// One level down a Gaussian pyramid, exactly `cv2.pyrDown` on 8-bit grey: the 5x5 kernel
/// `[1 4 6 4 1]ᵀ[1 4 6 4 1] / 256` at every second pixel, `BORDER_REFLECT_101`, output size
/// `((w + 1) / 2, (h + 1) / 2)`, rounded half up.
pub fn pyr_down(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let (dw, dh) = (w.div_ceil(2), h.div_ceil(2));
    if w == 0 || h == 0 {
        return GrayImage::new(dw as u32, dh as u32);
    }
    let src = gray.as_raw();
    const K: [u32; 5] = [1, 4, 6, 4, 1];
    let xs: Vec<[usize; 5]> = (0..dw)
        .map(|x| std::array::from_fn(|k| reflect101(2 * x as isize + k as isize - 2, w)))
        .collect();
    // Horizontal pass on every source row, then the vertical pass per output row.
    let mut rows = vec![0u32; dw * h];
    for y in 0..h {
        let r = &src[y * w..(y + 1) * w];
        for (x, ix) in xs.iter().enumerate() {
            rows[y * dw + x] = (0..5).map(|k| K[k] * u32::from(r[ix[k]])).sum();
        }
    }
    let mut out = vec![0u8; dw * dh];
    for y in 0..dh {
        let ys: [usize; 5] =
            std::array::from_fn(|k| reflect101(2 * y as isize + k as isize - 2, h));
        for x in 0..dw {
            let s: u32 = (0..5).map(|k| K[k] * rows[ys[k] * dw + x]).sum();
            out[y * dw + x] = ((s + 128) >> 8) as u8;
        }
    }
    GrayImage::from_raw(dw as u32, dh as u32, out).expect("dw * dh bytes")
}

/// Parameters of [`pyr_lk_with`]; [`LkParams::default`] is `cv2.calcOpticalFlowPyrLK`'s default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LkParams {
    /// Square search window side in pixels (default 21).
    pub win_size: usize,
    /// Highest pyramid level, 0-based (default 3); lowered while a level would not exceed the
    /// window, like `buildOpticalFlowPyramid`.
    pub max_level: usize,
    /// Iteration limit per level (default 30).
    pub max_iter: usize,
    /// Stop when the update is at most this long, in pixels (default 0.01).
    pub epsilon: f64,
    /// Lose a point whose normalised minimum eigenvalue falls below this (default 1e-4).
    pub min_eig_threshold: f32,
}

impl Default for LkParams {
    fn default() -> Self {
        LkParams {
            win_size: 21,
            max_level: 3,
            max_iter: 30,
            epsilon: 0.01,
            min_eig_threshold: 1e-4,
        }
    }
}

/// A pyramid level padded by the window size on every side: the image with
/// `BORDER_REFLECT_101`, as `buildOpticalFlowPyramid` pads it.
struct Padded {
    data: Vec<u8>,
    stride: usize,
    w: usize,
    h: usize,
    pad: usize,
}

impl Padded {
    fn new(img: &GrayImage, pad: usize) -> Padded {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let stride = w + 2 * pad;
        let src = img.as_raw();
        let mut data = vec![0u8; stride * (h + 2 * pad)];
        for py in 0..h + 2 * pad {
            let sy = reflect101(py as isize - pad as isize, h);
            for px in 0..stride {
                data[py * stride + px] = src[sy * w + reflect101(px as isize - pad as isize, w)];
            }
        }
        Padded {
            data,
            stride,
            w,
            h,
            pad,
        }
    }

    /// Offset of image pixel (x, y), which may lie up to `pad` pixels outside the image.
    fn at(&self, x: isize, y: isize) -> usize {
        (y + self.pad as isize) as usize * self.stride + (x + self.pad as isize) as usize
    }
}

/// Scharr derivatives `(dI/dx, dI/dy)` of a level, as OpenCV's `calcScharrDeriv`
/// (`[3 10 3]` smoothing, `[-1 0 1]` difference, `BORDER_REFLECT_101`), zero-padded by `pad`.
fn scharr_padded(img: &GrayImage, pad: usize) -> (Vec<[i16; 2]>, usize) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let stride = w + 2 * pad;
    let mut out = vec![[0i16; 2]; stride * (h + 2 * pad)];
    let mut t0 = vec![0i32; w];
    let mut t1 = vec![0i32; w];
    for y in 0..h {
        let (r0, r1, r2) = (
            reflect101(y as isize - 1, h) * w,
            y * w,
            reflect101(y as isize + 1, h) * w,
        );
        for x in 0..w {
            let (s0, s1, s2) = (
                i32::from(src[r0 + x]),
                i32::from(src[r1 + x]),
                i32::from(src[r2 + x]),
            );
            t0[x] = (s0 + s2) * 3 + s1 * 10;
            t1[x] = s2 - s0;
        }
        for x in 0..w {
            let (xm, xp) = (reflect101(x as isize - 1, w), reflect101(x as isize + 1, w));
            let dx = t0[xp] - t0[xm];
            let dy = (t1[xp] + t1[xm]) * 3 + t1[x] * 10;
            out[(y + pad) * stride + x + pad] = [dx as i16, dy as i16];
        }
    }
    (out, stride)
}

/// `CV_DESCALE`: shift right by `n` bits, rounding half up.
#[inline]
fn descale(v: i32, n: u32) -> i32 {
    (v + (1 << (n - 1))) >> n
}

/// Bilinear weights in 14-bit fixed point, as `LKTrackerInvoker` computes them.
fn weights(a: f32, b: f32) -> [i32; 4] {
    const ONE: f32 = (1 << 14) as f32;
    let w00 = cv_round((1.0 - a) * (1.0 - b) * ONE);
    let w01 = cv_round(a * (1.0 - b) * ONE);
    let w10 = cv_round((1.0 - a) * b * ONE);
    [w00, w01, w10, (1 << 14) - w00 - w01 - w10]
}

/// `cv2.calcOpticalFlowPyrLK(prev, next, points, None)` with [`LkParams::default`]: where each
/// point moved in `next`, or `None` where OpenCV reports status 0 (the window left the image, or
/// the gradient matrix was too weak to invert) and for points with a NaN coordinate.
///
/// Errors with [`crate::Error::InvalidArgument`] when the two frames differ in size.
pub fn pyr_lk(
    prev: &GrayImage,
    next: &GrayImage,
    points: &[(f32, f32)],
) -> crate::Result<Vec<Option<(f32, f32)>>> {
    pyr_lk_with(prev, next, points, &LkParams::default())
}

/// [`pyr_lk`] with explicit parameters.
pub fn pyr_lk_with(
    prev: &GrayImage,
    next: &GrayImage,
    points: &[(f32, f32)],
    params: &LkParams,
) -> crate::Result<Vec<Option<(f32, f32)>>> {
    if prev.dimensions() != next.dimensions() {
        return Err(crate::Error::InvalidArgument(format!(
            "Lucas-Kanade needs two frames of one size, got {}x{} and {}x{}",
            prev.width(),
            prev.height(),
            next.width(),
            next.height()
        )));
    }
    if params.win_size < 3 {
        return Err(crate::Error::InvalidArgument(format!(
            "Lucas-Kanade window must be at least 3 pixels, got {}",
            params.win_size
        )));
    }
    if points.is_empty() {
        return Ok(Vec::new());
    }
    if prev.width() == 0 || prev.height() == 0 {
        return Ok(vec![None; points.len()]);
    }
    let win = params.win_size;
    let prev_pyr = build_pyramid(prev, win, params.max_level);
    let next_pyr = build_pyramid(next, win, params.max_level);
    let max_level = prev_pyr.len() - 1;
    let mut next_pts: Vec<(f32, f32)> = points.to_vec();
    let mut status = vec![true; points.len()];
    let eps2 = params.epsilon.clamp(0.0, 10.0).powi(2);
    let max_iter = params.max_iter.min(100);
    for level in (0..=max_level).rev() {
        let i_img = Padded::new(&prev_pyr[level], win);
        let j_img = Padded::new(&next_pyr[level], win);
        let (deriv, dstride) = scharr_padded(&prev_pyr[level], win);
        let tracker = Tracker {
            i: &i_img,
            j: &j_img,
            deriv: &deriv,
            dstride,
            win,
            level,
            max_level,
            max_iter,
            eps2,
            min_eig: params.min_eig_threshold,
        };
        for (k, &p) in points.iter().enumerate() {
            if p.0.is_finite() && p.1.is_finite() {
                tracker.track(p, &mut next_pts[k], &mut status[k]);
            } else {
                status[k] = false;
            }
        }
    }
    Ok(next_pts
        .into_iter()
        .zip(status)
        .map(|(p, ok)| ok.then_some(p))
        .collect())
}

/// The pyramid `calcOpticalFlowPyrLK` builds: levels are added while the next one would still
/// be larger than the window in both directions.
fn build_pyramid(img: &GrayImage, win: usize, max_level: usize) -> Vec<GrayImage> {
    let mut levels = vec![img.clone()];
    while levels.len() <= max_level {
        let last = levels.last().expect("level 0 exists");
        let (nw, nh) = (
            (last.width() as usize).div_ceil(2),
            (last.height() as usize).div_ceil(2),
        );
        if nw <= win || nh <= win {
            break;
        }
        levels.push(pyr_down(last));
    }
    levels
}

/// One pyramid level's state shared by all points (OpenCV's `LKTrackerInvoker`).
struct Tracker<'a> {
    i: &'a Padded,
    j: &'a Padded,
    deriv: &'a [[i16; 2]],
    dstride: usize,
    win: usize,
    level: usize,
    max_level: usize,
    max_iter: usize,
    eps2: f64,
    min_eig: f32,
}

impl Tracker<'_> {
    /// Refine `next` (the estimate from the level above, in that level's coordinates) for the
    /// point `orig` given at level 0, as one call of `LKTrackerInvoker::operator()`.
    fn track(&self, orig: (f32, f32), next: &mut (f32, f32), status: &mut bool) {
        let win = self.win;
        let half = (win as f32 - 1.0) * 0.5;
        let scale = (1.0f64 / f64::from(1u32 << self.level)) as f32;
        let mut prev_pt = (orig.0 * scale, orig.1 * scale);
        let mut next_pt = if self.level == self.max_level {
            prev_pt
        } else {
            (next.0 * 2.0, next.1 * 2.0)
        };
        *next = next_pt;
        prev_pt = (prev_pt.0 - half, prev_pt.1 - half);
        let (ipx, ipy) = (prev_pt.0.floor() as isize, prev_pt.1.floor() as isize);
        let (cols, rows) = (self.i.w as isize, self.i.h as isize);
        let wi = win as isize;
        if ipx < -wi || ipx >= cols || ipy < -wi || ipy >= rows {
            if self.level == 0 {
                *status = false;
            }
            return;
        }
        let [w00, w01, w10, w11] = weights(prev_pt.0 - ipx as f32, prev_pt.1 - ipy as f32);

        // The window of the previous image and its derivatives, interpolated, and the gradient
        // matrix. OpenCV accumulates pixels 0..16 of each row in four f32 SIMD lanes (lane
        // x % 4) and the rest in a scalar, then adds the lanes as (l0 + l2) + (l1 + l3).
        let n = win * win;
        let mut iwin = vec![0i32; n];
        let mut dwin = vec![[0i32; 2]; n];
        let vec_cols = win / 8 * 8;
        let (mut la11, mut la12, mut la22) = ([0f32; 4], [0f32; 4], [0f32; 4]);
        let (mut a11, mut a12, mut a22) = (0f32, 0f32, 0f32);
        let isrc = &self.i.data;
        let istride = self.i.stride;
        for y in 0..win {
            let row = self.i.at(ipx, ipy + y as isize);
            let drow = (ipy + y as isize + wi) as usize * self.dstride + (ipx + wi) as usize;
            for x in 0..win {
                let o = row + x;
                let ival = descale(
                    i32::from(isrc[o]) * w00
                        + i32::from(isrc[o + 1]) * w01
                        + i32::from(isrc[o + istride]) * w10
                        + i32::from(isrc[o + istride + 1]) * w11,
                    14 - 5,
                );
                let d = drow + x;
                let (d00, d01, d10, d11) = (
                    self.deriv[d],
                    self.deriv[d + 1],
                    self.deriv[d + self.dstride],
                    self.deriv[d + self.dstride + 1],
                );
                let ix = descale(
                    i32::from(d00[0]) * w00
                        + i32::from(d01[0]) * w01
                        + i32::from(d10[0]) * w10
                        + i32::from(d11[0]) * w11,
                    14,
                );
                let iy = descale(
                    i32::from(d00[1]) * w00
                        + i32::from(d01[1]) * w01
                        + i32::from(d10[1]) * w10
                        + i32::from(d11[1]) * w11,
                    14,
                );
                iwin[y * win + x] = ival;
                dwin[y * win + x] = [ix, iy];
                if x < vec_cols {
                    let l = x % 4;
                    let (fx, fy) = (ix as f32, iy as f32);
                    la22[l] += fy * fy;
                    la12[l] += fx * fy;
                    la11[l] += fx * fx;
                } else {
                    a11 += (ix * ix) as f32;
                    a12 += (ix * iy) as f32;
                    a22 += (iy * iy) as f32;
                }
            }
        }
        let lanes = |l: [f32; 4]| (l[0] + l[2]) + (l[1] + l[3]);
        const FLT_SCALE: f32 = 1.0 / (1u32 << 20) as f32;
        let a11 = (a11 + lanes(la11)) * FLT_SCALE;
        let a12 = (a12 + lanes(la12)) * FLT_SCALE;
        let a22 = (a22 + lanes(la22)) * FLT_SCALE;
        let det = a11 * a22 - a12 * a12;
        let min_eig = (a22 + a11 - ((a11 - a22) * (a11 - a22) + 4.0 * a12 * a12).sqrt())
            / (2 * win * win) as f32;
        if min_eig < self.min_eig || det < f32::EPSILON {
            if self.level == 0 {
                *status = false;
            }
            return;
        }
        let inv_det = 1.0 / det;

        next_pt = (next_pt.0 - half, next_pt.1 - half);
        let mut prev_delta = (0f32, 0f32);
        let jsrc = &self.j.data;
        let jstride = self.j.stride;
        let mut diffs = vec![0i32; win];
        for iter in 0..self.max_iter {
            let (inx, iny) = (next_pt.0.floor() as isize, next_pt.1.floor() as isize);
            if inx < -wi || inx >= cols || iny < -wi || iny >= rows {
                if self.level == 0 {
                    *status = false;
                }
                break;
            }
            let [w00, w01, w10, w11] = weights(next_pt.0 - inx as f32, next_pt.1 - iny as f32);
            // Mismatch vector b. OpenCV's vector loop adds integer pair sums of pixels
            // (p, p + 4) per 8-pixel block into lanes [b1 b2 b1 b2] for p = 0, 1 and another
            // register for p = 2, 3; the remaining columns go to scalars.
            let mut qb0 = [0f32; 4];
            let mut qb1 = [0f32; 4];
            let (mut ib1, mut ib2) = (0f32, 0f32);
            for y in 0..win {
                let row = self.j.at(inx, iny + y as isize);
                let (j0, j1) = (
                    &jsrc[row..row + win + 1],
                    &jsrc[row + jstride..row + jstride + win + 1],
                );
                let (ir, dr) = (&iwin[y * win..(y + 1) * win], &dwin[y * win..(y + 1) * win]);
                let it = &mut diffs[..win];
                for x in 0..win {
                    let jval = descale(
                        i32::from(j0[x]) * w00
                            + i32::from(j0[x + 1]) * w01
                            + i32::from(j1[x]) * w10
                            + i32::from(j1[x + 1]) * w11,
                        14 - 5,
                    );
                    it[x] = jval - ir[x];
                }
                for blk in (0..vec_cols).step_by(8) {
                    let (t, d) = (&it[blk..blk + 8], &dr[blk..blk + 8]);
                    for p in 0..2 {
                        let (pa, pb) = (p, p + 4);
                        qb0[2 * p] += (t[pa] * d[pa][0] + t[pb] * d[pb][0]) as f32;
                        qb0[2 * p + 1] += (t[pa] * d[pa][1] + t[pb] * d[pb][1]) as f32;
                        let (pa, pb) = (p + 2, p + 6);
                        qb1[2 * p] += (t[pa] * d[pa][0] + t[pb] * d[pb][0]) as f32;
                        qb1[2 * p + 1] += (t[pa] * d[pa][1] + t[pb] * d[pb][1]) as f32;
                    }
                }
                for x in vec_cols..win {
                    ib1 += (it[x] * dr[x][0]) as f32;
                    ib2 += (it[x] * dr[x][1]) as f32;
                }
            }
            let s: [f32; 4] = std::array::from_fn(|l| qb0[l] + qb1[l]);
            let b1 = (ib1 + (s[0] + s[2])) * FLT_SCALE;
            let b2 = (ib2 + (s[1] + s[3])) * FLT_SCALE;
            let delta = (
                (a12 * b2 - a22 * b1) * inv_det,
                (a12 * b1 - a11 * b2) * inv_det,
            );
            next_pt = (next_pt.0 + delta.0, next_pt.1 + delta.1);
            *next = (next_pt.0 + half, next_pt.1 + half);
            let (ddx, ddy) = (f64::from(delta.0), f64::from(delta.1));
            if ddx * ddx + ddy * ddy <= self.eps2 {
                break;
            }
            if iter > 0
                && f64::from((delta.0 + prev_delta.0).abs()) < 0.01
                && f64::from((delta.1 + prev_delta.1).abs()) < 0.01
            {
                *next = (next.0 - delta.0 * 0.5, next.1 - delta.1 * 0.5);
                break;
            }
            prev_delta = delta;
        }

        // With the error output requested (the Python binding always requests it), level 0
        // finally drops points whose window left the image.
        if *status && self.level == 0 {
            let (fx, fy) = (
                (next.0 - half).floor() as isize,
                (next.1 - half).floor() as isize,
            );
            if fx < -wi || fx >= cols || fy < -wi || fy >= rows {
                *status = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn reflect101_by_hand() {
        // gfedcb|abcdefgh|gfedcba on 8 pixels; one pixel reflects to itself.
        let got: Vec<usize> = (-3..11).map(|i| reflect101(i, 8)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4]);
        assert_eq!(reflect101(-5, 1), 0);
        assert_eq!(reflect101(-7, 3), 1);
    }

    #[test]
    fn bilinear_weights_sum_to_one_in_fixed_point() {
        assert_eq!(weights(0.0, 0.0), [16384, 0, 0, 0]);
        assert_eq!(weights(0.5, 0.5), [4096, 4096, 4096, 4096]);
        let w = weights(0.3, 0.7);
        assert_eq!(w.iter().sum::<i32>(), 16384);
        assert_eq!(descale(16384 * 200, 14), 200);
        assert_eq!(descale(-3, 1), -1);
    }

    #[test]
    fn pyr_down_by_hand() {
        let flat = GrayImage::from_pixel(5, 3, Luma([77]));
        let d = pyr_down(&flat);
        assert_eq!(d.dimensions(), (3, 2));
        assert!(d.pixels().all(|p| p.0 == [77]));
        // A single bright pixel at (2, 2) of a 5x5 image: the centre weight is 6 * 6 / 256.
        let mut img = GrayImage::new(5, 5);
        img.put_pixel(2, 2, Luma([180]));
        // (180 * 36 + 128) >> 8 = 25.
        assert_eq!(pyr_down(&img).get_pixel(1, 1).0, [25]);
    }

    #[test]
    fn square_corners_tracked_exactly() {
        let square = |ox: u32, oy: u32| {
            GrayImage::from_fn(64, 64, |x, y| {
                let inside = (ox..ox + 20).contains(&x) && (oy..oy + 20).contains(&y);
                Luma([if inside { 200 } else { 30 }])
            })
        };
        let (a, b) = (square(20, 20), square(22, 21));
        let corners = good_features_to_track(&a, 10, 0.01, 7.0);
        assert_eq!(corners.len(), 4);
        let moved = pyr_lk(&a, &b, &corners).unwrap();
        for (p, q) in corners.iter().zip(&moved) {
            let q = q.expect("tracked");
            assert!(
                (q.0 - p.0 - 2.0).abs() < 0.05 && (q.1 - p.1 - 1.0).abs() < 0.05,
                "{p:?} -> {q:?}"
            );
        }
        let lost = pyr_lk(&a, &b, &[(f32::NAN, 3.0), (-500.0, 10.0)]).unwrap();
        assert_eq!(lost, vec![None, None]);
        assert!(pyr_lk(&a, &GrayImage::new(3, 3), &corners).is_err());
    }
}
