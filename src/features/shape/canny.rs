//! OpenCV's Canny edge detector (3x3 Sobel, L1 gradient), bit-exact with `cv2.Canny(gray, lo, hi)`.
//!
//! Follows `modules/imgproc/src/canny.cpp` / `canny.simd.hpp` of OpenCV 4.x/5.x on the default
//! path (`apertureSize = 3`, `L2gradient = false`): Sobel derivatives with `BORDER_REPLICATE`,
//! magnitude `|dx| + |dy|`, non-maximum suppression with OpenCV's fixed-point tan(22.5 deg) sector
//! test, then hysteresis from the strong pixels through 8-connected weak ones.

use image::GrayImage;

/// `tan(22.5 deg)` in Q15, rounded, as OpenCV's `TG22`.
const TG22: i32 = 13573;
const CANNY_SHIFT: u32 = 15;

/// Map states, as OpenCV's: a candidate that hysteresis may still promote, a pixel that cannot be
/// an edge (also the one-pixel frame around the map), and an edge.
const WEAK: u8 = 0;
const NOT_EDGE: u8 = 1;
const EDGE: u8 = 2;

/// Canny edges of an 8-bit grey image, exactly as `cv2.Canny(gray, low, high)` with the default
/// aperture 3 and L1 gradient: 255 on edge pixels, 0 elsewhere.
///
/// The thresholds are swapped when `low > high` and floored to integers (OpenCV's `cvFloor`),
/// then a pixel is a candidate when its magnitude is `> low` and a local maximum across the
/// gradient direction, and a seed when it is also `> high`. NaN thresholds count as 0.
///
/// ```
/// use vidcompare::features::shape::canny;
/// // A vertical step from 0 to 200: the edge is the column just left of the step.
/// let img = image::GrayImage::from_fn(8, 6, |x, _| image::Luma([if x < 4 { 0 } else { 200 }]));
/// let edges = canny(&img, 80.0, 160.0);
/// assert!((0..6).all(|y| edges.get_pixel(3, y).0 == [255]));
/// assert_eq!(edges.pixels().filter(|p| p.0[0] == 255).count(), 6);
/// ```
pub fn canny(gray: &GrayImage, low: f64, high: f64) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || h == 0 {
        return GrayImage::new(gray.width(), gray.height());
    }
    let (low, high) = if low > high { (high, low) } else { (low, high) };
    // `as` saturates out-of-range values and maps NaN to 0, where cvFloor would be undefined.
    let low = low.floor() as i32;
    let high = high.floor() as i32;

    // Rows of derivatives and magnitudes are made on the fly in a ring of three (above, centre,
    // below), as OpenCV does; only the map is image-sized. Magnitude rows carry a zero column on
    // each side and the rows outside the image are zero, which is what OpenCV's ring buffer
    // holds there (`_mag[-1] = _mag[cols] = 0`, zeroed rows above and below).
    let ms = w + 2;
    let mut sobel = SobelRows::new(gray.as_raw(), w, h);
    let mut dx = vec![0i16; 3 * w];
    let mut dy = vec![0i16; 3 * w];
    let mut mag = vec![0i32; 3 * ms];
    let zero_row = vec![0i32; ms];
    let mut compute_row = |y: usize, dx: &mut [i16], dy: &mut [i16], mag: &mut [i32]| {
        let slot = y % 3;
        let (rdx, rdy) = (&mut dx[slot * w..][..w], &mut dy[slot * w..][..w]);
        sobel.row(y, rdx, rdy);
        let rmag = &mut mag[slot * ms + 1..][..w];
        for ((m, &a), &b) in rmag.iter_mut().zip(&*rdx).zip(&*rdy) {
            *m = i32::from(a).abs() + i32::from(b).abs();
        }
    };
    compute_row(0, &mut dx, &mut dy, &mut mag);

    let mut map = vec![NOT_EDGE; ms * (h + 2)];
    let mut stack: Vec<usize> = Vec::with_capacity(1024);
    for y in 0..h {
        if y + 1 < h {
            compute_row(y + 1, &mut dx, &mut dy, &mut mag);
        }
        let slot = y % 3;
        let mag_a = &mag[slot * ms..][..ms];
        let mag_p = if y > 0 {
            &mag[((y - 1) % 3) * ms..][..ms]
        } else {
            &zero_row[..]
        };
        let mag_n = if y + 1 < h {
            &mag[((y + 1) % 3) * ms..][..ms]
        } else {
            &zero_row[..]
        };
        let (rdx, rdy) = (&dx[slot * w..][..w], &dy[slot * w..][..w]);
        let map_row = &mut map[(y + 1) * ms..][..ms];
        for x in 0..w {
            // Column x of the image is index x + 1 of the padded rows.
            let c = x + 1;
            let m = mag_a[c];
            if m <= low {
                continue;
            }
            let (xs, ys) = (i32::from(rdx[x]), i32::from(rdy[x]));
            let ax = xs.abs();
            let ay = ys.abs() << CANNY_SHIFT;
            let tg22x = ax * TG22;
            let is_max = if ay < tg22x {
                m > mag_a[c - 1] && m >= mag_a[c + 1]
            } else {
                let tg67x = tg22x + (ax << (CANNY_SHIFT + 1));
                if ay > tg67x {
                    m > mag_p[c] && m >= mag_n[c]
                } else if (xs ^ ys) < 0 {
                    m > mag_p[c + 1] && m > mag_n[c - 1]
                } else {
                    m > mag_p[c - 1] && m > mag_n[c + 1]
                }
            };
            if is_max {
                if m > high {
                    map_row[c] = EDGE;
                    stack.push((y + 1) * ms + c);
                } else {
                    map_row[c] = WEAK;
                }
            }
        }
    }

    // Hysteresis: everything 8-connected to a seed through candidates becomes an edge. The frame
    // of the map is NOT_EDGE, so neighbour indices never leave it.
    let neighbours = [
        -1isize,
        1,
        -(ms as isize) - 1,
        -(ms as isize),
        -(ms as isize) + 1,
        ms as isize - 1,
        ms as isize,
        ms as isize + 1,
    ];
    while let Some(c) = stack.pop() {
        for &d in &neighbours {
            let n = c.wrapping_add_signed(d);
            if map[n] == WEAK {
                map[n] = EDGE;
                stack.push(n);
            }
        }
    }

    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = &map[(y + 1) * ms + 1..(y + 1) * ms + 1 + w];
        out.extend(row.iter().map(|&v| if v == EDGE { 255u8 } else { 0 }));
    }
    GrayImage::from_raw(gray.width(), gray.height(), out).expect("w * h edge bytes")
}

/// 3x3 Sobel derivatives `(d/dx, d/dy)` with replicated borders, one row at a time, as
/// `cv::Sobel(src, CV_16S, ..., 3, 1, 0, BORDER_REPLICATE)`: `dx = [-1 0 1] x [1 2 1]^T`, `dy`
/// its transpose.
///
/// Separable: a vertical pass (`up + 2 mid + down` for dx, `down - up` for dy) into rows with one
/// replicated column on each side, then the horizontal pass; both are straight loops the compiler
/// vectorises.
struct SobelRows<'a> {
    src: &'a [u8],
    w: usize,
    h: usize,
    smooth: Vec<i16>,
    diff: Vec<i16>,
}

impl<'a> SobelRows<'a> {
    fn new(src: &'a [u8], w: usize, h: usize) -> Self {
        Self {
            src,
            w,
            h,
            smooth: vec![0; w + 2],
            diff: vec![0; w + 2],
        }
    }

    fn row(&mut self, y: usize, dx: &mut [i16], dy: &mut [i16]) {
        let (w, h) = (self.w, self.h);
        let up = &self.src[y.saturating_sub(1) * w..][..w];
        let mid = &self.src[y * w..][..w];
        let down = &self.src[(y + 1).min(h - 1) * w..][..w];
        for (((s, d), (&u, &m)), &n) in self.smooth[1..=w]
            .iter_mut()
            .zip(&mut self.diff[1..=w])
            .zip(up.iter().zip(mid))
            .zip(down)
        {
            let (u, m, n) = (i16::from(u), i16::from(m), i16::from(n));
            *s = u + 2 * m + n;
            *d = n - u;
        }
        self.smooth[0] = self.smooth[1];
        self.smooth[w + 1] = self.smooth[w];
        self.diff[0] = self.diff[1];
        self.diff[w + 1] = self.diff[w];
        // |values| <= 4 * 255, well inside i16.
        for (o, s) in dx.iter_mut().zip(self.smooth.windows(3)) {
            *o = s[2] - s[0];
        }
        for (o, d) in dy.iter_mut().zip(self.diff.windows(3)) {
            *o = d[0] + 2 * d[1] + d[2];
        }
    }
}

/// Whole-image Sobel derivatives (row-major), for the tests.
#[cfg(test)]
fn sobel3_replicate(src: &[u8], w: usize, h: usize) -> (Vec<i16>, Vec<i16>) {
    let mut dx = vec![0i16; w * h];
    let mut dy = vec![0i16; w * h];
    let mut rows = SobelRows::new(src, w, h);
    for y in 0..h {
        rows.row(y, &mut dx[y * w..(y + 1) * w], &mut dy[y * w..(y + 1) * w]);
    }
    (dx, dy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]))
    }

    #[test]
    fn sobel_matches_hand_computed_values_with_replicated_border() {
        // Rows 0..3 of a horizontal ramp 0, 10, 20, 30: inside, dx = (20 - 0) * (1 + 2 + 1) = 80;
        // at x = 0 the left neighbour is replicated: (10 - 0) * 4 = 40. No vertical change: dy = 0.
        let g = img(4, 3, |x, _| (10 * x) as u8);
        let (dx, dy) = sobel3_replicate(g.as_raw(), 4, 3);
        assert_eq!(&dx[..4], &[40, 80, 80, 40]);
        assert!(dy.iter().all(|&v| v == 0));
        // A single bright pixel at (1, 1) of a 3x3 image: dy at (1, 0) sees it below with weight 2.
        let g = img(3, 3, |x, y| if (x, y) == (1, 1) { 100 } else { 0 });
        let (dx, dy) = sobel3_replicate(g.as_raw(), 3, 3);
        assert_eq!(dy[1], 200);
        assert_eq!(dx[3], 200); // (0, 1): right neighbour is the bright pixel, weight 2
        assert_eq!(dx[5], -200);
    }

    #[test]
    fn flat_and_empty_images_have_no_edges() {
        let g = img(9, 7, |_, _| 77);
        assert!(canny(&g, 80.0, 160.0).pixels().all(|p| p.0[0] == 0));
        assert_eq!(
            canny(&GrayImage::new(0, 5), 80.0, 160.0).dimensions(),
            (0, 5)
        );
    }

    #[test]
    fn weak_edges_survive_only_when_connected_to_a_strong_one() {
        // Step of 30 grey levels: |dx| = 120, between the thresholds 80 and 160, so the edge is
        // weak everywhere and hysteresis drops it; with high = 100 it is strong.
        let g = img(10, 8, |x, _| if x < 5 { 50 } else { 80 });
        assert!(canny(&g, 80.0, 160.0).pixels().all(|p| p.0[0] == 0));
        let e = canny(&g, 80.0, 100.0);
        assert_eq!(e.pixels().filter(|p| p.0[0] == 255).count(), 8);
        // Swapped thresholds behave like the ordered pair.
        assert_eq!(canny(&g, 100.0, 80.0), e);
    }

    #[test]
    fn thresholds_are_strict_after_flooring() {
        // Magnitude exactly 120: `m > low` fails for low = 120 (and 120.9, floored to 120).
        let g = img(10, 8, |x, _| if x < 5 { 50 } else { 80 });
        assert!(canny(&g, 120.9, 10.0).pixels().all(|p| p.0[0] == 0));
        assert!(canny(&g, 119.0, 119.0).pixels().any(|p| p.0[0] == 255));
        assert!(canny(&g, 119.0, 120.0).pixels().all(|p| p.0[0] == 0));
    }
}
