//! Image resizing with OpenCV's `INTER_AREA` semantics (what the notebook's `cv2.resize` calls use).
//!
//! OpenCV picks one of three algorithms, and so does [`resize_area`]:
//!
//! - shrinking by an integer factor in both directions: the mean of each box of source pixels;
//! - shrinking otherwise (neither direction enlarges): area-weighted averaging, where source pixels
//!   that straddle a destination pixel's edge count with the fraction that falls inside it;
//! - enlarging in either direction: bilinear interpolation with OpenCV's "area" coefficients
//!   (each destination pixel takes the source pixel it starts in, blended with the next one only
//!   by the part of the destination pixel that crosses into it; so enlarging by an integer factor
//!   replicates pixels), in OpenCV's 11-bit fixed point.
//!
//! Results match `cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)` to within one grey level
//! (OpenCV's vectorised and scalar code round a few values differently from each other); the
//! fixtures made by `tools/make_resize_fixture.py` pin this.

use super::Frame;

/// OpenCV's fixed-point scale for bilinear coefficients (`INTER_RESIZE_COEF_SCALE`).
const COEF_SCALE: f32 = 2048.0;
const CN: usize = 3;

/// Resize an RGB frame to `width` x `height` like OpenCV's `INTER_AREA`.
///
/// The same size returns a copy. A zero-sized source or destination gives an all-black frame of
/// the requested size rather than an error, as there is nothing to interpolate.
///
/// ```
/// use vidcompare::video::{Frame, resize::resize_area};
/// // A 2x2 box mean: (0 + 100 + 200 + 100) / 4 = 100.
/// let src = Frame::from_fn(2, 2, |x, y| image::Rgb([((x + y) * 100) as u8; 3]));
/// assert_eq!(resize_area(&src, 1, 1).get_pixel(0, 0).0, [100, 100, 100]);
/// ```
pub fn resize_area(src: &Frame, width: u32, height: u32) -> Frame {
    let (sw, sh) = src.dimensions();
    if (sw, sh) == (width, height) {
        return src.clone();
    }
    if width == 0 || height == 0 || sw == 0 || sh == 0 {
        return Frame::new(width, height);
    }
    // OpenCV derives its scales this way round (1 / (dst / src)); keep it for identical rounding.
    let inv_x = f64::from(width) / f64::from(sw);
    let inv_y = f64::from(height) / f64::from(sh);
    let scale_x = 1.0 / inv_x;
    let scale_y = 1.0 / inv_y;
    let (sw, sh, dw, dh) = (sw as usize, sh as usize, width as usize, height as usize);
    let data = if scale_x >= 1.0 && scale_y >= 1.0 {
        let ix = scale_x.round_ties_even();
        let iy = scale_y.round_ties_even();
        if (scale_x - ix).abs() < f64::EPSILON && (scale_y - iy).abs() < f64::EPSILON {
            box_mean(src.as_raw(), sw, dw, dh, ix as usize, iy as usize)
        } else {
            area_weighted(src.as_raw(), sw, sh, dw, dh, scale_x, scale_y)
        }
    } else {
        area_bilinear(
            src.as_raw(),
            sw,
            sh,
            dw,
            dh,
            (scale_x, inv_x),
            (scale_y, inv_y),
        )
    };
    Frame::from_raw(width, height, data).expect("buffer size is width * height * 3 by construction")
}

/// Integer shrink: the mean of each `fx` x `fy` box (OpenCV `resizeAreaFast`). OpenCV's 2x2
/// kernel rounds halves up; its general kernel multiplies by `1/area` in float and rounds to even.
fn box_mean(src: &[u8], sw: usize, dw: usize, dh: usize, fx: usize, fy: usize) -> Vec<u8> {
    let mut out = vec![0u8; dw * dh * CN];
    let inv_area = 1.0f32 / (fx * fy) as f32;
    for dy in 0..dh {
        for dx in 0..dw {
            for c in 0..CN {
                let mut sum = 0u32;
                for y in dy * fy..(dy + 1) * fy {
                    let row = &src[y * sw * CN..];
                    for x in dx * fx..(dx + 1) * fx {
                        sum += u32::from(row[x * CN + c]);
                    }
                }
                out[(dy * dw + dx) * CN + c] = if fx == 2 && fy == 2 {
                    ((sum + 2) >> 2) as u8
                } else {
                    round_u8(sum as f32 * inv_area)
                };
            }
        }
    }
    out
}

/// One source pixel's share of one destination pixel.
#[derive(Debug, Clone, Copy)]
struct Tap {
    dst: usize,
    src: usize,
    weight: f32,
}

/// The fractional-overlap table of OpenCV's `computeResizeAreaTab`, in its order (by destination,
/// then source): each destination pixel covers `scale` source pixels; partly covered ones at
/// either end get the covered fraction. Weights are normalised by the cell width, which is
/// shorter than `scale` only if the last cell runs past the image.
fn area_taps(ssize: usize, dsize: usize, scale: f64) -> Vec<Tap> {
    let mut taps = Vec::with_capacity(ssize * 2);
    for d in 0..dsize {
        let fs1 = d as f64 * scale;
        let fs2 = fs1 + scale;
        let cell = scale.min(ssize as f64 - fs1);
        let s2 = (fs2.floor() as usize).min(ssize - 1);
        let s1 = (fs1.ceil() as usize).min(s2);
        if s1 as f64 - fs1 > 1e-3 {
            taps.push(Tap {
                dst: d,
                src: s1 - 1,
                weight: ((s1 as f64 - fs1) / cell) as f32,
            });
        }
        for s in s1..s2 {
            taps.push(Tap {
                dst: d,
                src: s,
                weight: (1.0 / cell) as f32,
            });
        }
        if fs2 - s2 as f64 > 1e-3 {
            let w = (fs2 - s2 as f64).min(1.0).min(cell) / cell;
            taps.push(Tap {
                dst: d,
                src: s2,
                weight: w as f32,
            });
        }
    }
    taps
}

/// Non-integer shrink (OpenCV `resizeArea_<uchar, float>`): separable weighted sums in f32,
/// accumulated in OpenCV's order so results round the same way.
fn area_weighted(
    src: &[u8],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    scale_x: f64,
    scale_y: f64,
) -> Vec<u8> {
    let xtaps = area_taps(sw, dw, scale_x);
    let ytaps = area_taps(sh, dh, scale_y);
    let row_len = dw * CN;
    // Horizontal pass once per source row; a row straddling two destination rows is reused.
    let mut rows = vec![0f32; sh * row_len];
    for (sy, row) in rows.chunks_exact_mut(row_len).enumerate() {
        let s = &src[sy * sw * CN..(sy + 1) * sw * CN];
        for t in &xtaps {
            for c in 0..CN {
                row[t.dst * CN + c] += f32::from(s[t.src * CN + c]) * t.weight;
            }
        }
    }
    let mut out = vec![0u8; dh * row_len];
    let mut sum = vec![0f32; row_len];
    let mut i = 0;
    for dy in 0..dh {
        sum.fill(0.0);
        while i < ytaps.len() && ytaps[i].dst == dy {
            let t = ytaps[i];
            let row = &rows[t.src * row_len..(t.src + 1) * row_len];
            for (acc, &v) in sum.iter_mut().zip(row) {
                *acc += t.weight * v;
            }
            i += 1;
        }
        for (o, &v) in out[dy * row_len..(dy + 1) * row_len].iter_mut().zip(&sum) {
            *o = round_u8(v);
        }
    }
    out
}

/// Per destination coordinate: the first source index and the two 11-bit weights, following
/// OpenCV's `area_mode` rule: start at `floor(d * scale)`, blend with the next source pixel by the
/// fraction of this destination pixel that lies past it. `clamp_edge` is OpenCV's x-axis clamping
/// (the y axis clamps rows instead and keeps the weights).
fn area_linear_coeffs(
    dsize: usize,
    ssize: usize,
    scale: f64,
    inv: f64,
    clamp_edge: bool,
) -> Vec<(usize, i32, i32)> {
    (0..dsize)
        .map(|d| {
            let mut s = (d as f64 * scale).floor() as usize;
            let mut f = ((d + 1) as f64 - (s + 1) as f64 * inv) as f32;
            f = if f <= 0.0 { 0.0 } else { f - f.floor() };
            if clamp_edge && s >= ssize - 1 {
                f = 0.0;
                s = ssize - 1;
            }
            let w0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
            let w1 = (f * COEF_SCALE).round_ties_even() as i32;
            (s, w0, w1)
        })
        .collect()
}

/// Enlarging (in at least one direction): OpenCV's generic bilinear resize with `INTER_AREA`
/// coefficients, horizontal pass in exact integers, vertical pass with the rounding of OpenCV's
/// SIMD kernel (`VResizeLinearVec_32s8u`), which produces almost all of its output pixels.
fn area_bilinear(
    src: &[u8],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    (scale_x, inv_x): (f64, f64),
    (scale_y, inv_y): (f64, f64),
) -> Vec<u8> {
    let xc = area_linear_coeffs(dw, sw, scale_x, inv_x, true);
    let yc = area_linear_coeffs(dh, sh, scale_y, inv_y, false);
    let row_len = dw * CN;
    // Only the source rows some output row reads.
    let mut needed = vec![false; sh];
    for &(sy, _, _) in &yc {
        needed[sy.min(sh - 1)] = true;
        needed[(sy + 1).min(sh - 1)] = true;
    }
    let mut rows = vec![0i32; sh * row_len];
    for (sy, row) in rows.chunks_exact_mut(row_len).enumerate() {
        if !needed[sy] {
            continue;
        }
        let s = &src[sy * sw * CN..(sy + 1) * sw * CN];
        for (dx, &(sx, w0, w1)) in xc.iter().enumerate() {
            for c in 0..CN {
                let a = i32::from(s[sx * CN + c]);
                // At the right edge OpenCV uses the edge pixel at full weight.
                let b = if sx + 1 < sw {
                    i32::from(s[(sx + 1) * CN + c])
                } else {
                    0
                };
                row[dx * CN + c] = if sx + 1 < sw {
                    a * w0 + b * w1
                } else {
                    a * COEF_SCALE as i32
                };
            }
        }
    }
    let mut out = vec![0u8; dh * row_len];
    for (dy, &(sy, b0, b1)) in yc.iter().enumerate() {
        let r0 = &rows[sy.min(sh - 1) * row_len..][..row_len];
        let r1 = &rows[(sy + 1).min(sh - 1) * row_len..][..row_len];
        for (x, o) in out[dy * row_len..(dy + 1) * row_len].iter_mut().enumerate() {
            let v = (((r0[x] >> 4) * b0) >> 16) + (((r1[x] >> 4) * b1) >> 16);
            *o = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
    }
    out
}

/// OpenCV's `saturate_cast<uchar>(float)`: round half to even, then clamp.
fn round_u8(v: f32) -> u8 {
    v.round_ties_even().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_row(values: &[u8]) -> Frame {
        Frame::from_fn(values.len() as u32, 1, |x, _| {
            image::Rgb([values[x as usize]; 3])
        })
    }

    fn reds(img: &Frame) -> Vec<u8> {
        img.pixels().map(|p| p.0[0]).collect()
    }

    #[test]
    fn same_size_is_a_copy() {
        let img = grey_row(&[1, 2, 3]);
        assert_eq!(resize_area(&img, 3, 1), img);
    }

    #[test]
    fn integer_shrink_is_a_box_mean() {
        // 4x2 -> 2x1: boxes {10, 20, 30, 41} and {50, 60, 70, 80}; 101/4 = 25.25 -> 25, 65.
        let v = [10u8, 20, 50, 60, 30, 41, 70, 80];
        let img = Frame::from_fn(4, 2, |x, y| image::Rgb([v[(y * 4 + x) as usize]; 3]));
        assert_eq!(reds(&resize_area(&img, 2, 1)), vec![25, 65]);
        // 3x1 box: (0 + 1 + 3) / 3 = 1.33 -> 1; (3 + 3 + 4) / 3 = 3.33 -> 3.
        assert_eq!(
            reds(&resize_area(&grey_row(&[0, 1, 3, 3, 3, 4]), 2, 1)),
            vec![1, 3]
        );
    }

    #[test]
    fn fractional_shrink_weights_partial_pixels() {
        // 3 -> 2: scale 1.5; d0 = (a + b/2) / 1.5, d1 = (b/2 + c) / 1.5.
        // a=0, b=90, c=180: d0 = 45/1.5 = 30, d1 = 225/1.5 = 150.
        assert_eq!(
            reds(&resize_area(&grey_row(&[0, 90, 180]), 2, 1)),
            vec![30, 150]
        );
        // 5 -> 2: scale 2.5; d0 = (10 + 20 + 30/2) / 2.5 = 18, d1 = (30/2 + 40 + 50) / 2.5 = 42.
        assert_eq!(
            reds(&resize_area(&grey_row(&[10, 20, 30, 40, 50]), 2, 1)),
            vec![18, 42]
        );
    }

    #[test]
    fn integer_enlarge_replicates_pixels() {
        assert_eq!(
            reds(&resize_area(&grey_row(&[10, 200]), 4, 1)),
            vec![10, 10, 200, 200]
        );
        let up = resize_area(&grey_row(&[7, 9]), 6, 3);
        assert_eq!(reds(&up), [7, 7, 7, 9, 9, 9].repeat(3));
    }

    #[test]
    fn fractional_enlarge_blends_the_crossing_pixel() {
        // 2 -> 3: scale 2/3; d0 = s0; d1 starts in s0 at 2/3 and crosses into s1 for half of its
        // width: (s0 + s1) / 2; d2 = s1. s = [0, 200] -> [0, 100, 200].
        assert_eq!(
            reds(&resize_area(&grey_row(&[0, 200]), 3, 1)),
            vec![0, 100, 200]
        );
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        assert_eq!(resize_area(&grey_row(&[1, 2]), 0, 0).dimensions(), (0, 0));
        assert_eq!(resize_area(&Frame::new(0, 0), 2, 2), Frame::new(2, 2));
    }
}
