//! The notebook's `enhance_frame`: OpenCV's coloured non-local-means denoising followed by an
//! unsharp mask, reimplemented to give OpenCV's bytes.
//!
//! ```text
//! den   = cv2.fastNlMeansDenoisingColored(frame, None, 5, 5, 7, 21)
//! ga    = cv2.GaussianBlur(den, (0, 0), 1.0)
//! sharp = cv2.addWeighted(den, 1.5, ga, -0.5, 0)
//! ```
//!
//! Each step follows OpenCV's 8-bit integer arithmetic:
//!
//! - colour conversion: OpenCV converts to CIELAB with `COLOR_LBGR2Lab` (linear RGB, no sRGB
//!   gamma) through its fixed-point tables (`RGB2Lab_b`, `Lab2RGBinteger` in `color_lab.cpp`),
//!   reproduced in [`lrgb_to_lab`] and [`lab_to_lrgb`];
//! - NL-means (`fast_nlmeans_denoising_invoker.hpp`): L is denoised with `h`, the (a, b) pair as
//!   one two-channel image with `h_color`. The patch distance is the exact integer sum of squared
//!   differences over the template window (and channels); OpenCV divides it by a power of two
//!   (64 for a 7x7 window) and looks the weight up in a table of
//!   `round(M exp(-d / (h^2 channels)))`, `M = INT_MAX / (search^2 255)`, cut to 0 below 0.001 M;
//!   the estimate is the rounded integer weighted mean. Borders are reflected (`BORDER_DEFAULT`).
//!   Integer sums do not depend on the order they are formed in, so the incremental scheme here
//!   gives OpenCV's bytes;
//! - Gaussian blur: OpenCV's bit-exact 8-bit path (`GaussianBlurFixedPoint`), a separable filter
//!   with an 8-bit fixed-point kernel (`[1, 14, 62, 102, 62, 14, 1] / 256` for sigma 1);
//! - `addWeighted`: float arithmetic rounded half to even.
//!
//! Speed: the naive NL-means costs search^2 x template^2 operations per pixel. Here the work is
//! reorganised offset by offset: the patch distance is symmetric, so only half the search offsets
//! are visited, each weight serving both pixels of the pair. For a row of offsets (one dy) and a
//! row of pixels, the patch distances of every dx come from a running column sum per dx (the row
//! entering the template window added, the one leaving it subtracted) summed across the
//! template's width, then turned into weights through the table; each target pixel then sums
//! the terms of all its dx in registers before touching memory. Row bands run in parallel with
//! rayon. The inner loops come in three kernels chosen at run time ([`NlMeansKernel`], all
//! giving the same bytes): AVX-512 where the CPU has F, BW, VL and VNNI and the table allows
//! it (16-bit lanes: only `min(SSD >> shift, lmax)` matters, so sums can be capped where they
//! reach "too far to weigh"; the table looked up with word permutes; VNNI multiply-adds, see
//! the `avx512` submodule), else AVX2 (8 lanes of 32-bit integers, a gather into the table),
//! else portable Rust.

use std::sync::OnceLock;

use image::GrayImage;
use rayon::prelude::*;

use super::Frame;
use crate::{Error, Result};

/// Parameters of [`enhance`], defaulting to the notebook's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnhanceParams {
    /// Filter strength for lightness (OpenCV's `h`). Default 5.
    pub h: f32,
    /// Filter strength for the colour components (`hColor`). Default 5.
    pub h_color: f32,
    /// Side of the square patch compared between pixels (`templateWindowSize`). Default 7.
    pub template_window: usize,
    /// Side of the square area searched for similar patches (`searchWindowSize`). Default 21.
    pub search_window: usize,
    /// Weight of the denoised frame in the unsharp mask (the blur gets `1 - amount`). Default 1.5.
    pub unsharp_amount: f32,
    /// Standard deviation of the unsharp mask's Gaussian blur. Default 1.
    pub blur_sigma: f32,
}

impl Default for EnhanceParams {
    fn default() -> Self {
        Self {
            h: 5.0,
            h_color: 5.0,
            template_window: 7,
            search_window: 21,
            unsharp_amount: 1.5,
            blur_sigma: 1.0,
        }
    }
}

/// Largest template window [`denoise_nl_means_colored`] uses (its integer patch distances stay
/// within `i32` up to here); larger values are clamped to it.
pub const MAX_TEMPLATE_WINDOW: usize = 63;

/// Largest search window used; larger values are clamped to it (beyond it OpenCV's fixed-point
/// weight scale `INT_MAX / (search^2 255)` becomes too coarse to be meaningful).
pub const MAX_SEARCH_WINDOW: usize = 255;

impl EnhanceParams {
    /// Check the values a script or the command line supplied.
    ///
    /// The filter strengths must be finite and non-negative, the windows between 1 and
    /// [`MAX_TEMPLATE_WINDOW`] / [`MAX_SEARCH_WINDOW`], the amount finite and the sigma finite
    /// and positive.
    ///
    /// ```
    /// use vidcompare::video::enhance::EnhanceParams;
    /// assert!(EnhanceParams::default().validate().is_ok());
    /// let bad = EnhanceParams { blur_sigma: 0.0, ..Default::default() };
    /// assert!(bad.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidArgument(format!("enhance: {msg}")));
        for (name, v) in [("h", self.h), ("h_color", self.h_color)] {
            if !v.is_finite() || v < 0.0 {
                return bad(format!("{name} must be a finite number >= 0, got {v}"));
            }
        }
        if !(1..=MAX_TEMPLATE_WINDOW).contains(&self.template_window) {
            return bad(format!(
                "template_window must be 1..={MAX_TEMPLATE_WINDOW}, got {}",
                self.template_window
            ));
        }
        if !(1..=MAX_SEARCH_WINDOW).contains(&self.search_window) {
            return bad(format!(
                "search_window must be 1..={MAX_SEARCH_WINDOW}, got {}",
                self.search_window
            ));
        }
        if !self.unsharp_amount.is_finite() {
            return bad(format!(
                "unsharp_amount must be finite, got {}",
                self.unsharp_amount
            ));
        }
        if !self.blur_sigma.is_finite() || self.blur_sigma <= 0.0 {
            return bad(format!(
                "blur_sigma must be a finite number > 0, got {}",
                self.blur_sigma
            ));
        }
        Ok(())
    }
}

/// The notebook's `enhance_frame`: [`denoise_nl_means_colored`], then [`unsharp_mask`] with
/// `p.blur_sigma` and `p.unsharp_amount`.
///
/// ```
/// use vidcompare::video::{Frame, enhance::{EnhanceParams, enhance}};
/// let flat = Frame::from_pixel(8, 6, image::Rgb([90, 120, 30]));
/// let out = enhance(&flat, &EnhanceParams::default());
/// assert_eq!(out.dimensions(), (8, 6));
/// ```
pub fn enhance(frame: &Frame, p: &EnhanceParams) -> Frame {
    unsharp_mask(
        &denoise_nl_means_colored(frame, p),
        p.blur_sigma,
        p.unsharp_amount,
    )
}

/// `cv2.fastNlMeansDenoisingColored(frame, None, p.h, p.h_color, p.template_window,
/// p.search_window)`: NL-means on the lightness (strength `h`) and on the (a, b) colour pair
/// (strength `h_color`) of the frame's 8-bit CIELAB image, converted back to RGB.
///
/// Windows are made odd as OpenCV does (`2 (w / 2) + 1`) and clamped to
/// [`MAX_TEMPLATE_WINDOW`] and [`MAX_SEARCH_WINDOW`]; the unsharp fields of `p` are not used.
pub fn denoise_nl_means_colored(frame: &Frame, p: &EnhanceParams) -> Frame {
    denoise_with(frame, p, None).expect("the best kernel is always available")
}

/// [`denoise_nl_means_colored`] on the given inner loops, or `None` when this CPU cannot run
/// them for these parameters (see [`NlMeansKernel`]). Every kernel gives the same bytes; this is
/// for tests and benchmarks that compare them.
pub fn denoise_nl_means_colored_on(
    frame: &Frame,
    p: &EnhanceParams,
    kernel: NlMeansKernel,
) -> Option<Frame> {
    denoise_with(frame, p, Some(kernel))
}

fn denoise_with(frame: &Frame, p: &EnhanceParams, kernel: Option<NlMeansKernel>) -> Option<Frame> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if w == 0 || h == 0 {
        return Some(frame.clone());
    }
    let lab = lrgb_to_lab(frame);
    let n = w * h;
    let mut l = Vec::with_capacity(n);
    let mut ab = Vec::with_capacity(2 * n);
    for px in lab.as_raw().chunks_exact(3) {
        l.push(px[0]);
        ab.extend_from_slice(&px[1..]);
    }
    let (tw, sw) = (p.template_window, p.search_window);
    let l = nl_means_with::<1>(&l, w, h, p.h, tw, sw, kernel)?;
    let ab = nl_means_with::<2>(&ab, w, h, p.h_color, tw, sw, kernel)?;
    let mut out = Vec::with_capacity(3 * n);
    for (l, ab) in l.iter().zip(ab.chunks_exact(2)) {
        out.extend_from_slice(&[*l, ab[0], ab[1]]);
    }
    let lab = Frame::from_raw(frame.width(), frame.height(), out).expect("3 bytes per pixel");
    Some(lab_to_lrgb(&lab))
}

/// `cv2.fastNlMeansDenoising(gray, None, h, template_window, search_window)` on a grey image
/// (the single-channel core of [`denoise_nl_means_colored`]).
pub fn nl_means_gray(
    gray: &GrayImage,
    h: f32,
    template_window: usize,
    search_window: usize,
) -> GrayImage {
    let (w, hgt) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || hgt == 0 {
        return gray.clone();
    }
    let out = nl_means::<1>(gray.as_raw(), w, hgt, h, template_window, search_window);
    GrayImage::from_raw(gray.width(), gray.height(), out).expect("1 byte per pixel")
}

/// `unsharp_mask(frame, sigma, 1.5)`, the notebook's sharpening:
/// `addWeighted(frame, 1.5, GaussianBlur(frame, sigma), -0.5, 0)`.
pub fn unsharp(frame: &Frame, sigma: f32) -> Frame {
    unsharp_mask(frame, sigma, 1.5)
}

/// `cv2.addWeighted(frame, amount, cv2.GaussianBlur(frame, (0, 0), sigma), 1 - amount, 0)`:
/// each byte is `amount x + (1 - amount) blur(x)` computed in float and rounded half to even,
/// then saturated to `0..=255`.
///
/// A non-positive or non-finite `sigma` means no blur, so the frame comes back unchanged.
pub fn unsharp_mask(frame: &Frame, sigma: f32, amount: f32) -> Frame {
    let blur = gaussian_blur(frame, sigma);
    let mut data = vec![0u8; frame.as_raw().len()];
    weighted_sum(frame.as_raw(), blur.as_raw(), amount, &mut data);
    Frame::from_raw(frame.width(), frame.height(), data).expect("same size as the input")
}

crate::util::simd::avx2_dispatch! {
    /// `out = round_half_even(amount a + (1 - amount) b)` saturated to bytes, element by element.
    fn weighted_sum(a: &[u8], b: &[u8], amount: f32, out: &mut [u8]) => weighted_sum_impl
}

#[inline(always)]
fn weighted_sum_impl(a: &[u8], b: &[u8], amount: f32, out: &mut [u8]) {
    let beta = 1.0 - amount;
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        // OpenCV's vector path: v_muladd(a, alpha, v_muladd(b, beta, gamma)) with gamma = 0.
        let v = f32::from(a).mul_add(amount, f32::from(b) * beta);
        *o = v.round_ties_even().clamp(0.0, 255.0) as u8;
    }
}

/// `cv2.GaussianBlur(frame, (0, 0), sigma)` on an 8-bit frame, bit-exact: the kernel side is
/// `round(6 sigma + 1) | 1` (7 for sigma 1), the kernel is [`gaussian_kernel_fixed`], borders
/// are reflected without repeating the edge (`BORDER_REFLECT_101`), and each output is
/// `(sum_y ky sum_x kx src + 2^15) >> 16`.
///
/// A non-positive or non-finite `sigma` returns the frame unchanged.
///
/// ```
/// use vidcompare::video::{Frame, enhance::gaussian_blur};
/// let flat = Frame::from_pixel(9, 9, image::Rgb([7, 70, 200]));
/// assert_eq!(gaussian_blur(&flat, 1.0), flat);
/// ```
pub fn gaussian_blur(frame: &Frame, sigma: f32) -> Frame {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if !(sigma.is_finite() && sigma > 0.0) || w == 0 || h == 0 {
        return frame.clone();
    }
    let n = kernel_size(f64::from(sigma));
    // OpenCV drops the kernel along a dimension of length 1.
    let kx = if w == 1 {
        vec![256]
    } else {
        gaussian_kernel_fixed(n, f64::from(sigma))
    };
    let ky = if h == 1 {
        vec![256]
    } else {
        gaussian_kernel_fixed(n, f64::from(sigma))
    };
    let out = blur_planes(frame.as_raw(), w, h, &kx, &ky);
    Frame::from_raw(frame.width(), frame.height(), out).expect("same size as the input")
}

crate::util::simd::avx2_dispatch! {
    /// The separable fixed-point blur of interleaved RGB rows: each row reflected into a padded
    /// copy, the horizontal taps as whole-row multiply-adds (8.8 fixed point, exact in u32),
    /// then the vertical taps over reflected rows with OpenCV's rounding (16 fractional bits,
    /// half up).
    fn blur_planes(src: &[u8], w: usize, h: usize, kx: &[u16], ky: &[u16]) -> Vec<u8>
        => blur_planes_impl
}

#[inline(always)]
fn blur_planes_impl(src: &[u8], w: usize, h: usize, kx: &[u16], ky: &[u16]) -> Vec<u8> {
    let (rx, ry) = (kx.len() / 2, ky.len() / 2);
    let row = w * 3;
    let xi: Vec<usize> = (0..w + 2 * rx)
        .map(|x| reflect_101(x as isize - rx as isize, w))
        .collect();
    let mut padded = vec![0u8; (w + 2 * rx) * 3];
    let mut hrows = vec![0u32; h * row];
    for (y, hrow) in hrows.chunks_exact_mut(row).enumerate() {
        let srow = &src[y * row..(y + 1) * row];
        for (d, &sx) in padded.chunks_exact_mut(3).zip(&xi) {
            d.copy_from_slice(&srow[sx * 3..sx * 3 + 3]);
        }
        for (k, &kv) in kx.iter().enumerate() {
            let kv = u32::from(kv);
            for (o, &p) in hrow.iter_mut().zip(&padded[k * 3..k * 3 + row]) {
                *o += kv * u32::from(p);
            }
        }
    }
    let mut out = vec![0u8; h * row];
    let mut acc = vec![0u32; row];
    for (y, orow) in out.chunks_exact_mut(row).enumerate() {
        acc.fill(1 << 15);
        for (k, &kv) in ky.iter().enumerate() {
            let sy = reflect_101(y as isize + k as isize - ry as isize, h);
            let kv = u32::from(kv);
            for (a, &v) in acc.iter_mut().zip(&hrows[sy * row..(sy + 1) * row]) {
                *a += kv * v;
            }
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = (a >> 16).min(255) as u8;
        }
    }
    out
}

/// OpenCV's kernel side for a Gaussian of `sigma` on 8-bit images: `round(sigma 3 2 + 1) | 1`.
fn kernel_size(sigma: f64) -> usize {
    ((sigma * 3.0 * 2.0 + 1.0).round_ties_even() as usize) | 1
}

/// `cv2.getGaussianKernel(n, sigma)`: `n` weights `exp(-u^2 / (2 sigma^2))` for
/// `u = i - (n - 1) / 2`, normalised to sum 1 (OpenCV's `getGaussianKernelBitExact` order of
/// operations, with the standard library's `exp`).
///
/// ```
/// let k = vidcompare::video::enhance::gaussian_kernel(3, 1.0);
/// assert!((k[1] - 1.0 / (1.0 + 2.0 * (-0.5f64).exp())).abs() < 1e-15);
/// ```
pub fn gaussian_kernel(n: usize, sigma: f64) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    // x runs over 2u so that even sizes stay integral; 2u squared over 8 sigma^2 = u^2 / 2 sigma^2.
    let scale2x = -0.125 / (sigma * sigma);
    let half = (n - 1) / 2;
    let values: Vec<f64> = (0..half)
        .map(|i| {
            let x = 2 * i as i64 + 1 - n as i64;
            ((x * x) as f64 * scale2x).exp()
        })
        .collect();
    let mut sum = values.iter().fold(0.0, |s, &v| s + v) * 2.0 + 1.0;
    if n.is_multiple_of(2) {
        sum += 1.0;
    }
    let mul = 1.0 / sum;
    let mut k = vec![0.0; n];
    for (i, &v) in values.iter().enumerate() {
        k[i] = v * mul;
        k[n - 1 - i] = v * mul;
    }
    k[half] = mul;
    if n.is_multiple_of(2) {
        k[half + 1] = mul;
    }
    k
}

/// The 8-bit fixed-point kernel (weights in 1/256, summing to 256) that OpenCV's bit-exact
/// `GaussianBlur` uses for an odd side `n`: the [`gaussian_kernel`] weights times 256 rounded
/// with error diffusion from the outside in, the centre taking what is left.
///
/// ```
/// let k = vidcompare::video::enhance::gaussian_kernel_fixed(7, 1.0);
/// assert_eq!(k, vec![1, 14, 62, 102, 62, 14, 1]);
/// ```
pub fn gaussian_kernel_fixed(n: usize, sigma: f64) -> Vec<u16> {
    let n = n | 1;
    let k = gaussian_kernel(n, sigma);
    let mut out = vec![0u16; n];
    let mut err = 0.0;
    let mut sum = 0i64;
    for i in 0..n / 2 {
        let adj = k[i] * 256.0 + err;
        let v = adj.round_ties_even();
        err = adj - v;
        out[i] = v as u16;
        out[n - 1 - i] = v as u16;
        sum += v as i64;
    }
    out[n / 2] = (256 - 2 * sum) as u16;
    out
}

/// OpenCV's `borderInterpolate` for `BORDER_REFLECT_101` (`gfedcb|abcdefgh|gfedcba`), folding
/// again and again when the index lies more than one length outside.
fn reflect_101(mut p: isize, len: usize) -> usize {
    let len = len as isize;
    if len == 1 {
        return 0;
    }
    while p < 0 || p >= len {
        p = if p < 0 { -p } else { 2 * len - 2 - p };
    }
    p as usize
}

// ---------------------------------------------------------------------------------------------
// 8-bit CIELAB of linear RGB, as OpenCV's COLOR_LRGB2Lab / COLOR_Lab2LRGB.

/// OpenCV's `xyz_shift` / `lab_shift`: XYZ coefficients are 12-bit fixed point.
const LAB_SHIFT: i32 = 12;
/// `lab_shift2`: the cube-root table is in 15-bit fixed point (12 + the 3-bit gamma shift).
const LAB_SHIFT2: i32 = 15;
/// Size of OpenCV's `LabCbrtTab_b` (`256 * 3 / 2 * 2^3`).
const CBRT_TAB_SIZE: usize = 3072;
/// `LAB_BASE` / `LUT_BASE` of the inverse conversion.
const LAB_BASE: i32 = 1 << 14;
/// Smallest index of OpenCV's `abToXZ_b` table.
const MIN_AB: i32 = -8145;

/// sRGB (linear) to XYZ, D65, as the exact doubles OpenCV stores (`sRGB2XYZ_D65`).
const RGB2XYZ: [u64; 9] = [
    0x3fda65a14488c60d,
    0x3fd6e297396d0918,
    0x3fc71819d2391d58,
    0x3fcb38cda6e75ff6,
    0x3fe6e297396d0918,
    0x3fb279aae6c8f755,
    0x3f93cc4ac6cdaf4b,
    0x3fbe836eb4e98138,
    0x3fee68427418d691,
];
/// XYZ to linear sRGB, D65 (`XYZ2sRGB_D65`).
const XYZ2RGB: [u64; 9] = [
    0x4009ec804102ff8f,
    0xbff8982a9930be0e,
    0xbfdfe7ff583a53b9,
    0xbfef042528ae74f3,
    0x3ffe040f23897204,
    0x3fa546d3f9e7b80b,
    0x3fac7de5082cf52c,
    0xbfca1e14bdfd2631,
    0x3ff0eabef06b3786,
];
/// The D65 white point (`D65`): 0.950456, 1, 1.088754.
const D65: [u64; 3] = [0x3fee6a22b3892ee8, 0x3ff0000000000000, 0x3ff16b8950763a19];

/// OpenCV's integer Lab tables, built once with OpenCV's float operations.
struct LabTables {
    /// `LabCbrtTab_b`: f(t) = cbrt(t) (or its linear toe) in 15-bit fixed point, t = i / 2040.
    cbrt: Vec<i32>,
    /// Linear RGB (x8) to XYZ / white, 12-bit fixed point; rows X, Y, Z, columns R, G, B.
    to_xyz: [i32; 9],
    /// `LabToYF_b`: for each L byte, Y and f(Y) in 14-bit fixed point.
    y_fy: Vec<(i32, i32)>,
    /// `abToXZ_b`: f^-1 in 14-bit fixed point, indexed from [`MIN_AB`].
    ab_to_xz: Vec<i32>,
    /// XYZ to linear RGB with the white point folded in, 12-bit; rows R, G, B.
    to_rgb: [i32; 9],
}

fn lab_tables() -> &'static LabTables {
    static TABLES: OnceLock<LabTables> = OnceLock::new();
    TABLES.get_or_init(build_lab_tables)
}

fn build_lab_tables() -> LabTables {
    let m = RGB2XYZ.map(f64::from_bits);
    let mi = XYZ2RGB.map(f64::from_bits);
    let wp = D65.map(f64::from_bits);
    let lshift = f64::from(1 << LAB_SHIFT);
    let mut to_xyz = [0; 9];
    let mut to_rgb = [0; 9];
    for i in 0..3 {
        for j in 0..3 {
            // RGB2Lab_b: cvRound(lshift * c / whitePt[i]), row i = X, Y, Z.
            to_xyz[i * 3 + j] = (lshift * m[i * 3 + j] / wp[i]).round_ties_even() as i32;
            // Lab2RGBinteger: cvRound(lshift * c * whitePt[j]) for output row i, input column j.
            to_rgb[i * 3 + j] = (lshift * mi[i * 3 + j] * wp[j]).round_ties_even() as i32;
        }
    }

    let lthresh = 216.0_f32 / 24389.0;
    let lscale = 841.0_f32 / 108.0;
    let lbias = 16.0_f32 / 116.0;
    let cb_scale = 1.0_f32 / (255.0 * 8.0);
    let lshift2 = (1 << LAB_SHIFT2) as f32;
    let cbrt = (0..CBRT_TAB_SIZE)
        .map(|i| {
            let x = cb_scale * i as f32;
            let f = if x < lthresh {
                x.mul_add(lscale, lbias)
            } else {
                opencv_cbrt(x)
            };
            (lshift2 * f).round_ties_even() as i32
        })
        .collect();

    let base = LAB_BASE as f32;
    let y_fy = (0..256)
        .map(|i: i32| {
            if i <= 20 {
                let y = ((i * LAB_BASE * 20 * 9) as f32 / (17 * 29 * 29 * 29) as f32)
                    .round_ties_even() as i32;
                let fy = base * (16.0_f32 / 116.0 + (i * 5) as f32 / (3 * 17 * 29) as f32);
                (y, fy.round_ties_even() as i32)
            } else {
                let fy = (i * 100 * LAB_BASE) as f32 / (255 * 116) as f32
                    + (16 * LAB_BASE) as f32 / 116.0;
                let y = (fy * fy * fy / (LAB_BASE * LAB_BASE) as f32).round_ties_even() as i32;
                (y, fy.round_ties_even() as i32)
            }
        })
        .collect();

    let ab_to_xz = (MIN_AB..LAB_BASE * 9 / 4 + MIN_AB)
        .map(|i| {
            if i <= 3390 {
                i * 108 / 841 - LAB_BASE * 16 / 116 * 108 / 841
            } else {
                i * i / LAB_BASE * i / LAB_BASE
            }
        })
        .collect();

    LabTables {
        cbrt,
        to_xyz,
        y_fy,
        ab_to_xz,
        to_rgb,
    }
}

/// OpenCV's `softfloat` cube root (Turkowski's rational approximation in double precision, with
/// the result's mantissa truncated to float), reproduced bit for bit because the 8-bit Lab
/// table rounds its values.
fn opencv_cbrt(x: f32) -> f32 {
    if x.is_nan() || x.is_infinite() {
        return x;
    }
    let bits = x.to_bits();
    if bits & 0x7fff_ffff == 0 {
        return 0.0;
    }
    let sign = bits >> 31;
    let mut ex = ((bits >> 23) & 0xff) as i32 - 127;
    let mut shx = ex % 3;
    if shx >= 0 {
        shx -= 3;
    }
    ex = (ex - shx) / 3 - 1;
    let frac = u64::from(bits & 0x7f_ffff) << 29;
    let mut fr = f64::from_bits((((shx + 1023) as u64) << 52) | frac);
    let a = [
        0x4046a09e6653ba70,
        0x406808f46c6116e0,
        0x405dca97439cae14,
        0x402add70d2827500,
        0x3fc4f15f83f55d2d,
        0x402d9e20660edb21,
        0x4062ff15c0285815,
        0x406510d06a8112ce,
        0x4040fecbc9e2c375,
    ]
    .map(f64::from_bits);
    fr = ((((a[0] * fr + a[1]) * fr + a[2]) * fr + a[3]) * fr + a[4])
        / ((((a[5] * fr + a[6]) * fr + a[7]) * fr + a[8]) * fr + 1.0);
    let mant = ((fr.to_bits() & 0x000f_ffff_ffff_ffff) >> 29) as u32;
    f32::from_bits((sign << 31) | (((ex + 127) as u32) << 23) | mant)
}

/// 8-bit CIELAB of a linear-RGB frame, exactly `cv2.cvtColor(bgr, cv2.COLOR_LBGR2Lab)`: L scaled
/// to `0..=255` (`L * 255 / 100`), a and b offset by 128.
///
/// "Linear" means OpenCV applies no sRGB gamma: bytes are taken as linear intensities. This is
/// the conversion `fastNlMeansDenoisingColored` uses.
///
/// ```
/// use vidcompare::video::{Frame, enhance::lrgb_to_lab};
/// let white = Frame::from_pixel(1, 1, image::Rgb([255, 255, 255]));
/// assert_eq!(lrgb_to_lab(&white).get_pixel(0, 0).0, [255, 128, 128]);
/// ```
pub fn lrgb_to_lab(frame: &Frame) -> Frame {
    let t = lab_tables();
    let c = &t.to_xyz;
    let lscale = (116 * 255 + 50) / 100;
    let lshift = -((16 * 255 * (1 << LAB_SHIFT2) + 50) / 100);
    let descale = |v: i32, n: i32| (v + (1 << (n - 1))) >> n;
    let mut out = Vec::with_capacity(frame.as_raw().len());
    for px in frame.as_raw().chunks_exact(3) {
        // linearGammaTab_b: 3 fractional bits.
        let (r, g, b) = (
            i32::from(px[0]) * 8,
            i32::from(px[1]) * 8,
            i32::from(px[2]) * 8,
        );
        let f = |row: usize| {
            let i = descale(
                r * c[row * 3] + g * c[row * 3 + 1] + b * c[row * 3 + 2],
                LAB_SHIFT,
            );
            t.cbrt[(i.max(0) as usize).min(CBRT_TAB_SIZE - 1)]
        };
        let (fx, fy, fz) = (f(0), f(1), f(2));
        let l = descale(lscale * fy + lshift, LAB_SHIFT2);
        let a = descale(500 * (fx - fy) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2);
        let bb = descale(200 * (fy - fz) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2);
        out.extend_from_slice(&[sat_u8(l), sat_u8(a), sat_u8(bb)]);
    }
    Frame::from_raw(frame.width(), frame.height(), out).expect("same size as the input")
}

/// Linear RGB of an 8-bit CIELAB frame, exactly `cv2.cvtColor(lab, cv2.COLOR_Lab2LBGR)`
/// (OpenCV's integer `Lab2RGBinteger` path), the inverse of [`lrgb_to_lab`] up to rounding.
pub fn lab_to_lrgb(lab: &Frame) -> Frame {
    let t = lab_tables();
    let c = &t.to_rgb;
    // 12-bit coefficients times 14-bit XYZ, brought to 12 bits (INV_GAMMA_TAB_SIZE).
    let shift = LAB_SHIFT + 14 - 12;
    let mut out = Vec::with_capacity(lab.as_raw().len());
    for px in lab.as_raw().chunks_exact(3) {
        let (ll, aa, bb) = (usize::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        let (y, ify) = t.y_fy[ll];
        // a / 500 and b / 200 in 14-bit fixed point, by OpenCV's multiply-and-shift.
        let adiv = ((5 * aa * 53687 + (1 << 7)) >> 13) - 128 * LAB_BASE / 500;
        let bdiv = ((bb * 41943 + (1 << 4)) >> 9) - 128 * LAB_BASE / 200 + 1;
        let xz = |v: i32| t.ab_to_xz[(v - MIN_AB) as usize];
        let (x, z) = (xz(ify + adiv), xz(ify - bdiv));
        let mut rgb = [0u8; 3];
        for (o, row) in rgb.iter_mut().zip(c.chunks_exact(3)) {
            let v = (row[0] * x + row[1] * y + row[2] * z + (1 << (shift - 1))) >> shift;
            let v = v.clamp(0, 4095);
            *o = sat_u8(((v << 8) - v) >> 12);
        }
        out.extend_from_slice(&rgb);
    }
    Frame::from_raw(lab.width(), lab.height(), out).expect("same size as the input")
}

fn sat_u8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

// ---------------------------------------------------------------------------------------------
// Non-local means.

/// OpenCV's weight table for `channels`-channel patches: index = patch SSD >> `shift`, where
/// 2^`shift` is the power of two at or above the template area; the table stops at its first
/// zero weight (every larger distance weighs zero too).
struct WeightTable {
    lut: Vec<i32>,
    shift: u32,
}

fn weight_table(h: f32, channels: usize, template: usize, search: usize) -> WeightTable {
    let fixed_point_mult = f64::from(i32::MAX / (search * search * 255) as i32);
    let area = template * template;
    let shift = area.next_power_of_two().trailing_zeros();
    let mult = (1u64 << shift) as f64 / area as f64;
    let max_dist = 255 * 255 * channels;
    let almost_max = (max_dist as f64 / mult + 1.0) as usize;
    // `h * h * channels` is a float expression in OpenCV.
    let den = f64::from(h * h * channels as f32);
    let mut lut = Vec::with_capacity(almost_max.min(4096));
    for d in 0..almost_max {
        let dist = d as f64 * mult;
        let mut w = (-dist / den).exp();
        if w.is_nan() {
            w = 1.0; // h = 0: 0 / 0 for the zero distance
        }
        let mut weight = (fixed_point_mult * w).round_ties_even() as i32;
        if f64::from(weight) < 0.001 * fixed_point_mult {
            weight = 0;
        }
        lut.push(weight);
        if weight == 0 {
            break;
        }
    }
    WeightTable { lut, shift }
}

/// NL-means of an interleaved `C`-channel 8-bit image (OpenCV's `FastNlMeansDenoisingInvoker`
/// with one `h` for all channels).
///
/// The patch distance is symmetric, `SSD(p, p + d) = SSD(p + d, p)` (both measured on the
/// padded image), so only half of the search offsets are visited: the weight of `(p, d)` also
/// serves `(p + d, -d)`. For that, distances are also computed for the pixels `p` up to `s`
/// outside the image whose partner `p + d` lies inside it. The weighted sums collect the same
/// integer terms as OpenCV's, so the result is identical.
fn nl_means<const C: usize>(
    src: &[u8],
    w: usize,
    h: usize,
    hpar: f32,
    template_window: usize,
    search_window: usize,
) -> Vec<u8> {
    nl_means_with::<C>(src, w, h, hpar, template_window, search_window, None)
        .expect("the best kernel is always available")
}

/// The inner loops of the NL-means denoiser; all give the same bytes. By default the fastest
/// one the CPU and the parameters allow is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NlMeansKernel {
    /// Plain Rust (vectorised by the compiler where it can); always available.
    Portable,
    /// AVX2: 8 lanes of 32-bit sums, a 32-bit gather into the weight table.
    Avx2,
    /// AVX-512 (F, BW, VL and VNNI): 16-bit capped sums, the table looked up with word
    /// permutes, VNNI multiply-adds taking two search offsets at once. Needs a weight table of
    /// at most 512 entries below 2^15 (search windows of 17 and more with the usual strengths).
    Avx512,
    /// [`Self::Avx512`] with VBMI's byte permutes forming the pixel pairs of the multiply-adds.
    Avx512Vbmi,
}

impl NlMeansKernel {
    /// Every kernel, slowest first.
    pub const ALL: [NlMeansKernel; 4] =
        [Self::Portable, Self::Avx2, Self::Avx512, Self::Avx512Vbmi];

    /// Whether this is one of the AVX-512 kernels.
    fn is_avx512(self) -> bool {
        matches!(self, Self::Avx512 | Self::Avx512Vbmi)
    }
}

use NlMeansKernel as Kernel;

impl Kernel {
    /// Whether this CPU can run the kernel on a table of `lut` and `shift` with a `k`-wide
    /// template and `C` channels.
    fn available<const C: usize>(self, lut: &[i32], shift: u32, k: usize) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512::usable::<C>(lut, shift, k, false),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vbmi => avx512::usable::<C>(lut, shift, k, true),
            #[cfg(not(target_arch = "x86_64"))]
            _ => {
                let _ = (lut, shift, k);
                false
            }
        }
    }
}

/// [`nl_means`] on the given kernel (the fastest available when `None`); `None` when the kernel
/// asked for cannot run here.
fn nl_means_with<const C: usize>(
    src: &[u8],
    w: usize,
    h: usize,
    hpar: f32,
    template_window: usize,
    search_window: usize,
    kernel: Option<Kernel>,
) -> Option<Vec<u8>> {
    let t = template_window.min(MAX_TEMPLATE_WINDOW) / 2;
    let s = search_window.min(MAX_SEARCH_WINDOW) / 2;
    let table = weight_table(hpar, C, 2 * t + 1, 2 * s + 1);
    let k = 2 * t + 1;
    let kernel = match kernel {
        Some(kn) => kn
            .available::<C>(&table.lut, table.shift, k)
            .then_some(kn)?,
        None => Kernel::ALL
            .into_iter()
            .rev()
            .find(|kn| kn.available::<C>(&table.lut, table.shift, k))
            .expect("the portable kernel"),
    };
    // Columns of p reach s beyond the image on each side (pixels whose partner p + d is in it),
    // and their partners s further: pad by 2s + t (reflected coordinates, so the inner s + t
    // border is OpenCV's copyMakeBorder).
    let b = 2 * s + t;
    let (pw, ph) = (w + 2 * b, h + 2 * b);
    // One reflected, padded plane per channel (copyMakeBorder with BORDER_DEFAULT).
    let xi: Vec<usize> = (0..pw)
        .map(|x| reflect_101(x as isize - b as isize, w))
        .collect();
    let mut planes: [Vec<u8>; C] = std::array::from_fn(|_| vec![0u8; pw * ph]);
    for py in 0..ph {
        let sy = reflect_101(py as isize - b as isize, h);
        let row = &src[sy * w * C..(sy + 1) * w * C];
        for (c, plane) in planes.iter_mut().enumerate() {
            for (d, &sx) in plane[py * pw..(py + 1) * pw].iter_mut().zip(&xi) {
                *d = row[sx * C + c];
            }
        }
    }
    // The AVX-512 kernels read two channels interleaved.
    let interleaved: Vec<u8> = if kernel.is_avx512() && C == 2 {
        planes[0]
            .iter()
            .zip(&planes[C - 1])
            .flat_map(|(&a, &b)| [a, b])
            .collect()
    } else {
        Vec::new()
    };
    #[cfg(target_arch = "x86_64")]
    let fast = kernel.is_avx512().then(|| {
        let pixels = if C == 2 { &interleaved } else { &planes[0] };
        avx512::Fast::new(pixels, &table.lut)
    });
    let job = Job::<C> {
        planes: std::array::from_fn(|c| planes[c].as_slice()),
        pw,
        w,
        h,
        b,
        t,
        s,
        lut: &table.lut,
        shift: table.shift,
        kernel,
        #[cfg(target_arch = "x86_64")]
        fast,
    };
    // Bands of the rows of p: the image's and the s rows above it.
    let total = h + s;
    let threads = rayon::current_num_threads().max(1);
    // Each band starts its column sums afresh (2t + 1 rows per offset), so bands are few: one
    // per thread when alone, three per thread otherwise to balance the load.
    let n_bands = if threads == 1 {
        1
    } else {
        (3 * threads).clamp(1, total.div_ceil(16).max(1))
    };
    let band = total.div_ceil(n_bands);
    let partials: Vec<Partial<C>> = (0..n_bands)
        .into_par_iter()
        .filter_map(|k| {
            let r0 = (k * band).min(total) as isize - s as isize;
            let r1 = ((k + 1) * band).min(total) as isize - s as isize;
            (r0 < r1).then(|| job.band(r0, r1))
        })
        .collect();

    let (est, wsum) = merge(partials, w, h);
    // The centre offset: distance 0, weight lut[0], the pixel itself.
    let centre = table.lut[0];
    let mut out = vec![0u8; w * h * C];
    for (j, (o, &ws)) in out.chunks_exact_mut(C).zip(&wsum).enumerate() {
        let ws = (ws + centre) as u32;
        let (half, d) = (ws / 2, f64::from(ws));
        for c in 0..C {
            let e = (est[c][j] + centre * i32::from(src[j * C + c])) as u32;
            // OpenCV's (e + ws / 2) / ws in integers. The f64 quotient truncates to the same
            // value: the numerator and ws are below 2^32 and the quotient below 256, so
            // rounding moves it by at most 2^-44, less than the 1 / ws a non-integer quotient
            // stands off an integer (an integer quotient is exact).
            o[c] = (f64::from(e + half) / d).min(255.0) as u8;
        }
    }
    Some(out)
}

/// The bands' weighted sums added into whole-image planes (`est` per channel, `wsum`) of `w`
/// by `h` pixels. One band over the whole image (one thread) already is that sum.
fn merge<const C: usize>(
    mut partials: Vec<Partial<C>>,
    w: usize,
    h: usize,
) -> ([Vec<i32>; C], Vec<i32>) {
    if partials.len() == 1 && partials[0].lo == 0 && partials[0].wsum.len() == w * h {
        let p = partials.pop().expect("one band");
        return (p.est, p.wsum);
    }
    let mut est: [Vec<i32>; C] = std::array::from_fn(|_| vec![0i32; w * h]);
    let mut wsum = vec![0i32; w * h];
    for part in &partials {
        let range = part.lo * w..part.lo * w + part.wsum.len();
        for (a, &v) in wsum[range.clone()].iter_mut().zip(&part.wsum) {
            *a += v;
        }
        for (e, pe) in est.iter_mut().zip(&part.est) {
            for (a, &v) in e[range.clone()].iter_mut().zip(pe) {
                *a += v;
            }
        }
    }
    (est, wsum)
}

/// Weighted sums a band contributed to image rows `lo..lo + wsum.len() / w`.
struct Partial<const C: usize> {
    lo: usize,
    est: [Vec<i32>; C],
    wsum: Vec<i32>,
}

/// Everything a band of rows needs: padded planes, geometry and the weight table.
struct Job<'a, const C: usize> {
    planes: [&'a [u8]; C],
    /// Padded width.
    pw: usize,
    w: usize,
    h: usize,
    /// Border: 2s + t.
    b: usize,
    /// Template half-size.
    t: usize,
    /// Search half-size.
    s: usize,
    lut: &'a [i32],
    shift: u32,
    /// The inner loops to run.
    kernel: Kernel,
    /// The AVX-512 kernels' pixels and table, when `kernel` is one of them.
    #[cfg(target_arch = "x86_64")]
    fast: Option<avx512::Fast<'a>>,
}

impl<const C: usize> Job<'_, C> {
    /// The weighted sums of the pixels p in rows `r0..r1` (image coordinates, from `-s`),
    /// using AVX2 where the CPU has it.
    fn band(&self, r0: isize, r1: isize) -> Partial<C> {
        #[cfg(target_arch = "x86_64")]
        match (self.kernel, &self.fast) {
            // SAFETY: the kernel was checked to be available on this CPU (`Kernel::available`).
            (Kernel::Avx512, Some(fast)) => {
                return unsafe { avx512::band(self, fast, r0, r1, false) };
            }
            // SAFETY: as above.
            (Kernel::Avx512Vbmi, Some(fast)) => {
                return unsafe { avx512::band(self, fast, r0, r1, true) };
            }
            // SAFETY: as above.
            (Kernel::Avx2, _) => return unsafe { self.band_avx2(r0, r1) },
            _ => {}
        }
        self.band_impl::<false>(r0, r1)
    }

    /// [`Self::band_impl`] compiled for AVX2, with the hand-written kernels of [`avx2`].
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn band_avx2(&self, r0: isize, r1: isize) -> Partial<C> {
        self.band_impl::<true>(r0, r1)
    }

    /// `out[j] = lut[min(ssd[j] >> shift, lmax)]`: the patch distances' weights (the portable
    /// path; see [`avx2::weights`]).
    #[inline(always)]
    fn lookup(&self, ssd: &[i32], out: &mut [i32]) {
        // Indices first (a vector loop), then the table reads.
        let lmax = (self.lut.len() - 1) as i32;
        for (o, &d) in out.iter_mut().zip(ssd) {
            *o = (d >> self.shift).clamp(0, lmax);
        }
        for o in out.iter_mut() {
            // SAFETY: `*o` was clamped to 0..=lut.len() - 1 just above.
            *o = unsafe { *self.lut.get_unchecked(*o as usize) };
        }
    }

    /// `wsum[x] += sum_j wts[wo[j] + x]` and
    /// `est[c][x] += sum_j wts[wo[j] + x] planes[c][po[j] + x]` for x in `0..wsum.len()`: one
    /// target row's terms of several offsets, summed in registers.
    #[inline(always)]
    fn accumulate<const AVX: bool>(
        &self,
        wts: &[i32],
        wo: &[usize],
        po: &[usize],
        wsum: &mut [i32],
        mut est: [&mut [i32]; C],
    ) {
        let n = wsum.len();
        for (&a, &p) in wo.iter().zip(po) {
            assert!(a + n <= wts.len() && self.planes.iter().all(|pl| p + n <= pl.len()));
        }
        let mut x = 0;
        #[cfg(target_arch = "x86_64")]
        if AVX {
            // SAFETY: AVX is only set by `band_avx2`, on a CPU with AVX2; every read stays
            // within the slices, as asserted above.
            x = if self.lut[0] < 1 << 15 {
                unsafe { avx2::accumulate::<C, true>(wts, wo, &self.planes, po, wsum, &mut est) }
            } else {
                unsafe { avx2::accumulate::<C, false>(wts, wo, &self.planes, po, wsum, &mut est) }
            };
        }
        for x in x..n {
            let mut aw = 0;
            let mut ae = [0i32; C];
            for (&a, &p) in wo.iter().zip(po) {
                let wv = wts[a + x];
                aw += wv;
                for (e, plane) in ae.iter_mut().zip(&self.planes) {
                    *e += wv * i32::from(plane[p + x]);
                }
            }
            wsum[x] += aw;
            for (e, v) in est.iter_mut().zip(ae) {
                e[x] += v;
            }
        }
    }

    /// Squared differences (summed over channels) between rows `ya` and `ya + dy` of the padded
    /// planes, the second shifted by `dx`, from padded column `x0`: `out[j] += d^2`.
    #[inline(always)]
    fn add_diff(&self, ya: usize, dy: usize, x0: usize, dx: isize, out: &mut [i32]) {
        let len = out.len();
        let ia = ya * self.pw + x0;
        let ib = ((ya + dy) * self.pw + x0) as isize + dx;
        let a: [&[u8]; C] = std::array::from_fn(|c| &self.planes[c][ia..][..len]);
        let bb: [&[u8]; C] = std::array::from_fn(|c| &self.planes[c][ib as usize..][..len]);
        for (x, o) in out.iter_mut().enumerate() {
            let mut v = 0;
            for c in 0..C {
                let e = i32::from(a[c][x]) - i32::from(bb[c][x]);
                v += e * e;
            }
            *o += v;
        }
    }

    /// `col[j] += d_new^2 - d_old^2` for rows `yn` (entering) and `yo` (leaving).
    #[inline(always)]
    fn slide(&self, yn: usize, yo: usize, dy: usize, x0: usize, dx: isize, col: &mut [i32]) {
        let len = col.len();
        let pw = self.pw;
        let an: [&[u8]; C] = std::array::from_fn(|c| &self.planes[c][yn * pw + x0..][..len]);
        let ao: [&[u8]; C] = std::array::from_fn(|c| &self.planes[c][yo * pw + x0..][..len]);
        let bn: [&[u8]; C] = std::array::from_fn(|c| {
            &self.planes[c][(((yn + dy) * pw + x0) as isize + dx) as usize..][..len]
        });
        let bo: [&[u8]; C] = std::array::from_fn(|c| {
            &self.planes[c][(((yo + dy) * pw + x0) as isize + dx) as usize..][..len]
        });
        for (x, o) in col.iter_mut().enumerate() {
            let mut v = 0;
            for c in 0..C {
                let en = i32::from(an[c][x]) - i32::from(bn[c][x]);
                let eo = i32::from(ao[c][x]) - i32::from(bo[c][x]);
                v += en * en - eo * eo;
            }
            *o += v;
        }
    }

    /// For the pixels p of rows `r0..r1` (image coordinates, from `-s`), visit the half of the
    /// search offsets d after the centre, row of offsets by row (dy), and add each weight to p's
    /// sums and to its partner p + d's.
    ///
    /// For one dy and one row of p, the patch distances of every dx are formed first (a running
    /// column sum per dx down the rows, then the template's width), turned into weights, then
    /// each target pixel sums its 2s + 1 (or s) terms in registers before touching memory.
    #[inline(always)]
    fn band_impl<const AVX: bool>(&self, r0: isize, r1: isize) -> Partial<C> {
        let (w, b, t, s, pw) = (self.w, self.b, self.t, self.s, self.pw);
        let (hi, bi, ti, si) = (self.h as isize, b as isize, t as isize, s as isize);
        let k = 2 * t + 1;
        let nd = 2 * s + 1;
        // Weights are formed for p in columns -s..w + s, column sums for -s - t..w + s + t.
        let xw = w + 2 * s;
        let cw = xw + 2 * t;
        let lo = r0.max(0) as usize;
        let rows = (r1 + si).min(hi) as usize - lo;
        let mut col = vec![0i32; nd * cw];
        let mut wts = vec![0i32; nd * xw];
        let mut ssd = vec![0i32; xw];
        let mut wo = vec![0usize; nd];
        let mut po = vec![0usize; nd];
        let mut est: [Vec<i32>; C] = std::array::from_fn(|_| vec![0i32; rows * w]);
        let mut wsum = vec![0i32; rows * w];
        // Padded column of p = -s - t.
        let x0 = b - s - t;
        for dy in 0..=s {
            let dxs: std::ops::RangeInclusive<isize> = if dy == 0 { 1..=si } else { -si..=si };
            let (ra, rb) = (r0.max(-(dy as isize)), r1.min(hi));
            if ra >= rb {
                continue;
            }
            for r in ra..rb {
                for dx in dxs.clone() {
                    let di = (dx + si) as usize;
                    // Only the columns of p in the image or with their partner in it:
                    // weights wl..wh, column sums wl..wh + 2t.
                    let (wl, wh) = (s - dx.max(0) as usize, s + w + (-dx).max(0) as usize);
                    let c = &mut col[di * cw + wl..di * cw + wh + 2 * t];
                    let xs = x0 + wl;
                    if r == ra {
                        c.fill(0);
                        for kk in 0..k {
                            let ya = (r - ti + bi) as usize + kk;
                            self.add_diff(ya, dy, xs, dx, c);
                        }
                    } else {
                        let yn = (r + ti + bi) as usize;
                        self.slide(yn, yn - k, dy, xs, dx, c);
                    }
                    let out = &mut wts[di * xw + wl..di * xw + wh];
                    #[cfg(target_arch = "x86_64")]
                    if AVX {
                        // SAFETY: AVX is only set by `band_avx2`, on a CPU with AVX2.
                        unsafe { avx2::weights(c, k, self.shift, self.lut, out) };
                        continue;
                    }
                    let ssd = &mut ssd[..out.len()];
                    window_sums(c, k, ssd);
                    self.lookup(ssd, out);
                }
                let nd_row = dxs.clone().count();
                if r >= 0 {
                    // Side 1: p in row r takes w(p, d) I(p + d).
                    let row = r as usize - lo;
                    let src = (r + dy as isize + bi) as usize * pw + b;
                    for (j, dx) in dxs.clone().enumerate() {
                        wo[j] = (dx + si) as usize * xw + s;
                        po[j] = (src as isize + dx) as usize;
                    }
                    let at = row * w;
                    let (wsum, est) = (
                        &mut wsum[at..at + w],
                        est.each_mut().map(|e| &mut e[at..at + w]),
                    );
                    self.accumulate::<AVX>(&wts, &wo[..nd_row], &po[..nd_row], wsum, est);
                }
                let rt = r + dy as isize;
                if rt < hi {
                    // Side 2: q = p + d in row r + dy takes w(q - d, d) I(q - d).
                    let row = rt as usize - lo;
                    let src = (r + bi) as usize * pw + b;
                    for (j, dx) in dxs.clone().enumerate() {
                        // The weight of p = q - d sits at p's column, x - dx, in dx's row.
                        wo[j] = (dx + si) as usize * (xw - 1) + 2 * s;
                        po[j] = (src as isize - dx) as usize;
                    }
                    let at = row * w;
                    let (wsum, est) = (
                        &mut wsum[at..at + w],
                        est.each_mut().map(|e| &mut e[at..at + w]),
                    );
                    self.accumulate::<AVX>(&wts, &wo[..nd_row], &po[..nd_row], wsum, est);
                }
            }
        }
        Partial { lo, est, wsum }
    }
}

/// `out[j] = col[j] + ... + col[j + k - 1]`, the template's width summed (one fused pass for
/// the usual 7-wide template).
#[inline(always)]
fn window_sums(col: &[i32], k: usize, out: &mut [i32]) {
    let n = out.len();
    if k == 7 {
        let c: [&[i32]; 7] = std::array::from_fn(|i| &col[i..][..n]);
        for (j, o) in out.iter_mut().enumerate() {
            *o = c[0][j] + c[1][j] + c[2][j] + c[3][j] + c[4][j] + c[5][j] + c[6][j];
        }
    } else {
        out.copy_from_slice(&col[..n]);
        for kk in 1..k {
            for (o, &v) in out.iter_mut().zip(&col[kk..][..n]) {
                *o += v;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512;

/// The AVX2 kernels of the NL-means inner loops.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// `out[j] = lut[min((col[j] + ... + col[j + k - 1]) >> shift, lmax)]`.
    ///
    /// # Safety
    /// AVX2; `col.len() >= out.len() + k - 1`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn weights(col: &[i32], k: usize, shift: u32, lut: &[i32], out: &mut [i32]) {
        let n = out.len();
        assert!(col.len() + 1 >= n + k);
        let lmax = lut.len() as i32 - 1;
        unsafe {
            let vmax = _mm256_set1_epi32(lmax);
            let sh = _mm_cvtsi32_si128(shift as i32);
            let cp = col.as_ptr();
            let mut j = 0;
            while j + 8 <= n {
                let mut s = _mm256_loadu_si256(cp.add(j) as *const __m256i);
                if k == 7 {
                    for kk in 1..7 {
                        s = _mm256_add_epi32(
                            s,
                            _mm256_loadu_si256(cp.add(j + kk) as *const __m256i),
                        );
                    }
                } else {
                    for kk in 1..k {
                        s = _mm256_add_epi32(
                            s,
                            _mm256_loadu_si256(cp.add(j + kk) as *const __m256i),
                        );
                    }
                }
                let i = _mm256_min_epi32(_mm256_srl_epi32(s, sh), vmax);
                let wv = _mm256_i32gather_epi32::<4>(lut.as_ptr(), i);
                _mm256_storeu_si256(out.as_mut_ptr().add(j) as *mut __m256i, wv);
                j += 8;
            }
            for j in j..n {
                let s: i32 = col[j..j + k].iter().sum();
                out[j] = lut[((s >> shift) as usize).min(lmax as usize)];
            }
        }
    }

    /// The vector part of `Job::accumulate`: 16 pixels at a time; returns where it stopped.
    ///
    /// # Safety
    /// AVX2; the reads `wts[wo[j]..][..n]` and `planes[c][po[j]..][..n + 16]` are in bounds.
    #[target_feature(enable = "avx2")]
    pub unsafe fn accumulate<const C: usize, const MADD: bool>(
        wts: &[i32],
        wo: &[usize],
        planes: &[&[u8]; C],
        po: &[usize],
        wsum: &mut [i32],
        est: &mut [&mut [i32]; C],
    ) -> usize {
        let n = wsum.len();
        let mut x = 0;
        unsafe {
            while x + 16 <= n {
                let z = _mm256_setzero_si256();
                let (mut aw0, mut aw1) = (z, z);
                let mut ae = [[z; 2]; C];
                for (&a, &p) in wo.iter().zip(po) {
                    let wp = wts.as_ptr().add(a + x);
                    let w0 = _mm256_loadu_si256(wp as *const __m256i);
                    let w1 = _mm256_loadu_si256(wp.add(8) as *const __m256i);
                    aw0 = _mm256_add_epi32(aw0, w0);
                    aw1 = _mm256_add_epi32(aw1, w1);
                    for c in 0..C {
                        let px = _mm_loadu_si128(planes[c].as_ptr().add(p + x) as *const __m128i);
                        let p0 = _mm256_cvtepu8_epi32(px);
                        let p1 = _mm256_cvtepu8_epi32(_mm_srli_si128::<8>(px));
                        // With weights below 2^15 (search windows of 17 and more) and pixels
                        // below 2^8, the 16-bit multiply-add of (w, 0) and (p, 0) is the product.
                        let (q0, q1) = if MADD {
                            (_mm256_madd_epi16(w0, p0), _mm256_madd_epi16(w1, p1))
                        } else {
                            (_mm256_mullo_epi32(w0, p0), _mm256_mullo_epi32(w1, p1))
                        };
                        ae[c][0] = _mm256_add_epi32(ae[c][0], q0);
                        ae[c][1] = _mm256_add_epi32(ae[c][1], q1);
                    }
                }
                let add = |dst: *mut i32, v: __m256i| {
                    let d = dst as *mut __m256i;
                    _mm256_storeu_si256(d, _mm256_add_epi32(_mm256_loadu_si256(d), v));
                };
                add(wsum.as_mut_ptr().add(x), aw0);
                add(wsum.as_mut_ptr().add(x + 8), aw1);
                for c in 0..C {
                    add(est[c].as_mut_ptr().add(x), ae[c][0]);
                    add(est[c].as_mut_ptr().add(x + 8), ae[c][1]);
                }
                x += 16;
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_101_matches_opencv() {
        // gfedcb|abcdefgh|gfedcba for len 8, and repeated folding for tiny lengths.
        let idx: Vec<usize> = (-3..11).map(|p| reflect_101(p, 8)).collect();
        assert_eq!(idx, vec![3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4]);
        let idx: Vec<usize> = (-4..6).map(|p| reflect_101(p, 2)).collect();
        assert_eq!(idx, vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(reflect_101(-5, 1), 0);
    }

    #[test]
    fn kernel_size_from_sigma() {
        assert_eq!(kernel_size(1.0), 7);
        assert_eq!(kernel_size(0.5), 5); // round(4) | 1
        assert_eq!(kernel_size(2.0), 13);
    }

    #[test]
    fn weight_table_for_the_notebook_parameters() {
        let t = weight_table(5.0, 1, 7, 21);
        // INT_MAX / (21 * 21 * 255) = 19096; 49 -> next power of two 64.
        assert_eq!(t.lut[0], 19096);
        assert_eq!(t.shift, 6);
        // d = 1 -> dist 64/49, weight round(19096 exp(-64 / (49 * 25))).
        let w1 = (19096.0 * (-64.0 / 49.0 / 25.0_f64).exp()).round() as i32;
        assert_eq!(t.lut[1], w1);
        assert_eq!(*t.lut.last().unwrap(), 0);
        assert!(t.lut.windows(2).all(|p| p[0] >= p[1]));
        // Two channels spread h^2 over both: the table reaches twice as far.
        let t2 = weight_table(5.0, 2, 7, 21);
        assert!(t2.lut.len() > t.lut.len() * 19 / 10);
    }

    #[test]
    fn cbrt_is_close_to_the_real_cube_root() {
        for x in [0.01_f32, 0.2, 0.5, 0.9, 1.0, 1.4] {
            let c = opencv_cbrt(x);
            assert!(
                (f64::from(c) - f64::from(x).cbrt()).abs() < 1e-6,
                "{x}: {c}"
            );
        }
        assert_eq!(opencv_cbrt(0.0), 0.0);
        assert_eq!(opencv_cbrt(8.0), 2.0);
    }

    #[test]
    fn lab_round_trip_is_close() {
        let f = Frame::from_fn(16, 16, |x, y| {
            image::Rgb([(x * 16) as u8, (y * 16) as u8, ((x + y) * 8) as u8])
        });
        let back = lab_to_lrgb(&lrgb_to_lab(&f));
        for (a, b) in f.as_raw().iter().zip(back.as_raw()) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 3, "{a} vs {b}");
        }
    }

    #[test]
    fn flat_image_is_a_fixed_point_of_nl_means() {
        let g = GrayImage::from_pixel(10, 7, image::Luma([77]));
        assert_eq!(nl_means_gray(&g, 5.0, 7, 21), g);
    }

    #[test]
    fn nl_means_matches_a_direct_computation() {
        // The brute-force definition (every offset, every template pixel) on a small noisy image.
        let (w, h) = (13usize, 9usize);
        let img: Vec<u8> = (0..w * h)
            .map(|i| ((i * 37 + (i / w) * 11) % 97 + 60) as u8)
            .collect();
        let (tw, sw, hp) = (3usize, 7usize, 12.0f32);
        let fast = nl_means::<1>(&img, w, h, hp, tw, sw);
        let table = weight_table(hp, 1, tw, sw);
        let (t, s) = (tw as isize / 2, sw as isize / 2);
        let at = |x: isize, y: isize| i32::from(img[reflect_101(y, h) * w + reflect_101(x, w)]);
        for y in 0..h as isize {
            for x in 0..w as isize {
                let (mut est, mut ws) = (0i64, 0i64);
                for dy in -s..=s {
                    for dx in -s..=s {
                        let mut d = 0;
                        for ty in -t..=t {
                            for tx in -t..=t {
                                // OpenCV pads with a border of s + t first, so the compared pixel
                                // is reflected from the padded image, which equals reflecting
                                // the final coordinate.
                                let e = at(x + tx, y + ty) - at(x + dx + tx, y + dy + ty);
                                d += e * e;
                            }
                        }
                        let idx = ((d >> table.shift) as usize).min(table.lut.len() - 1);
                        let wg = i64::from(table.lut[idx]);
                        est += wg * i64::from(at(x + dx, y + dy));
                        ws += wg;
                    }
                }
                let want = ((est + ws / 2) / ws) as u8;
                assert_eq!(fast[y as usize * w + x as usize], want, "pixel ({x}, {y})");
            }
        }
    }

    /// OpenCV's NL-means by its definition (every offset, every template pixel), for `C`
    /// interleaved channels.
    fn direct<const C: usize>(
        img: &[u8],
        w: usize,
        h: usize,
        hp: f32,
        tw: usize,
        sw: usize,
    ) -> Vec<u8> {
        let table = weight_table(hp, C, tw, sw);
        let (t, s) = (tw as isize / 2, sw as isize / 2);
        let at = |x: isize, y: isize, c: usize| {
            i64::from(img[(reflect_101(y, h) * w + reflect_101(x, w)) * C + c])
        };
        let mut out = vec![0u8; w * h * C];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let (mut est, mut ws) = ([0i64; C], 0i64);
                for dy in -s..=s {
                    for dx in -s..=s {
                        let mut d = 0;
                        for ty in -t..=t {
                            for tx in -t..=t {
                                for c in 0..C {
                                    let e = at(x + tx, y + ty, c) - at(x + dx + tx, y + dy + ty, c);
                                    d += e * e;
                                }
                            }
                        }
                        let idx = ((d >> table.shift) as usize).min(table.lut.len() - 1);
                        let wg = i64::from(table.lut[idx]);
                        for (c, e) in est.iter_mut().enumerate() {
                            *e += wg * at(x + dx, y + dy, c);
                        }
                        ws += wg;
                    }
                }
                for (c, e) in est.iter().enumerate() {
                    out[(y as usize * w + x as usize) * C + c] = ((e + ws / 2) / ws) as u8;
                }
            }
        }
        out
    }

    fn every_kernel_matches_the_definition<const C: usize>() -> Vec<Kernel> {
        let mut ran = Vec::new();
        // One thread runs one band, whose sums need no merging: checked on the largest image.
        let one_band = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a one-thread pool");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 32) as u8
        };
        for (w, h) in [(1, 1), (3, 2), (9, 7), (23, 31), (48, 20)] {
            // Noise (most distances large) and a smooth ramp with a little noise (most small).
            let noise: Vec<u8> = (0..w * h * C).map(|_| next()).collect();
            let smooth: Vec<u8> = (0..w * h * C)
                .map(|i| ((i / C % w) * 3 + (i / C / w) * 2 + i % C * 50) as u8 ^ (next() & 7))
                .collect();
            for img in [&noise, &smooth] {
                // Besides the window sizes, h sets the table's length: in 64-entry chunks, 3
                // and 5 for h = 5 (one and two channels), 1 and 2 for h = 3, and 2 and 4, 4 and 7,
                // and 8 for the last three (the AVX-512 lookup's tree of blends).
                for (hp, tw, sw) in [
                    (5.0, 7, 21),
                    (10.0, 5, 17),
                    (3.0, 3, 21),
                    (8.0, 7, 25),
                    (4.6, 7, 21),
                    (6.2, 7, 21),
                    (6.9, 7, 21),
                ] {
                    let want = direct::<C>(img, w, h, hp, tw, sw);
                    for kernel in Kernel::ALL {
                        if let Some(got) = nl_means_with::<C>(img, w, h, hp, tw, sw, Some(kernel)) {
                            assert_eq!(
                                got, want,
                                "{kernel:?}, {w}x{h}, {C} channels, h {hp}, windows {tw} {sw}"
                            );
                            if (w, h) == (48, 20) {
                                let single = one_band.install(|| {
                                    nl_means_with::<C>(img, w, h, hp, tw, sw, Some(kernel))
                                });
                                assert_eq!(
                                    single.as_ref(),
                                    Some(&want),
                                    "{kernel:?}, one band, {C} channels, h {hp}"
                                );
                            }
                            if !ran.contains(&kernel) {
                                ran.push(kernel);
                            }
                        }
                    }
                }
            }
        }
        ran
    }

    #[test]
    fn every_kernel_matches_the_definition_on_one_and_two_channels() {
        // Each kernel this CPU has (the portable one always) gives the definition's bytes; the
        // list of those that ran is printed, so a run on a CPU without AVX-512 is visible.
        let one = every_kernel_matches_the_definition::<1>();
        let two = every_kernel_matches_the_definition::<2>();
        println!("kernels checked: one channel {one:?}, two channels {two:?}");
        assert!(one.contains(&Kernel::Portable) && two.contains(&Kernel::Portable));
    }

    #[test]
    fn unsharp_rounds_half_to_even() {
        // A one-pixel image is its own blur, so the result is 1.5 x - 0.5 x = x.
        let f = Frame::from_pixel(1, 1, image::Rgb([3, 250, 0]));
        assert_eq!(unsharp(&f, 1.0), f);
        // A bright dot: 1.5 * 255 - 0.5 * blur saturates at 255.
        let dot = Frame::from_fn(9, 9, |x, y| {
            image::Rgb([if (x, y) == (4, 4) { 255 } else { 0 }; 3])
        });
        let out = unsharp(&dot, 1.0);
        assert_eq!(out.get_pixel(4, 4).0, [255; 3]);
    }

    #[test]
    fn empty_frames_pass_through() {
        let f = Frame::new(0, 0);
        let p = EnhanceParams::default();
        assert_eq!(enhance(&f, &p).dimensions(), (0, 0));
        assert_eq!(gaussian_blur(&f, 1.0).dimensions(), (0, 0));
    }

    #[test]
    fn tiny_frames_do_not_panic() {
        let p = EnhanceParams::default();
        for (w, h) in [(1, 1), (1, 5), (5, 1), (2, 3), (30, 2)] {
            let f = Frame::from_fn(w, h, |x, y| {
                image::Rgb([(x * 40) as u8, (y * 50) as u8, 90])
            });
            assert_eq!(enhance(&f, &p).dimensions(), (w, h));
        }
    }
}
