//! Colour-space conversions of 8-bit frames, bit-exact with OpenCV's `cvtColor` on the BGR frame.
//!
//! The notebook calls `cv2.cvtColor(frame_bgr, ...)` on OpenCV's BGR frames; a vidcompare [`Frame`]
//! holds the same pixels in RGB order, so every function here reads `R, G, B` from channels 0, 1, 2
//! and applies the coefficient that OpenCV applies to that colour.

use std::sync::OnceLock;

use image::GrayImage;
use ndarray::Array2;

use crate::video::Frame;

/// OpenCV's fixed-point luma weights for 8-bit `COLOR_BGR2GRAY`: 0.299, 0.587 and 0.114 in
/// 15-bit fixed point (`R2YF`, `G2YF`, `B2YF`, summing to 2^15).
///
/// These are OpenCV 5's. OpenCV 4 used 14-bit weights (4899, 9617, 1868), which give one grey
/// level more or less for 0.26 % of the 2^24 colours; the reference fixtures are made with
/// OpenCV 5, so vidcompare follows it.
const R2Y: u32 = 9798;
const G2Y: u32 = 19235;
const B2Y: u32 = 3735;
const GRAY_SHIFT: u32 = 15;

/// Grey level of an RGB frame, exactly `cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)` (OpenCV 5):
/// `Y = (9798 R + 19235 G + 3735 B + 2^14) >> 15`.
///
/// ```
/// use vidcompare::features::convert::to_gray;
/// let f = vidcompare::video::Frame::from_pixel(1, 1, image::Rgb([255, 0, 0]));
/// assert_eq!(to_gray(&f).get_pixel(0, 0).0, [76]); // (255 * 9798 + 16384) >> 15
/// ```
pub fn to_gray(frame: &Frame) -> GrayImage {
    let data = frame
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            let y = u32::from(p[0]) * R2Y + u32::from(p[1]) * G2Y + u32::from(p[2]) * B2Y;
            ((y + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT) as u8
        })
        .collect();
    GrayImage::from_raw(frame.width(), frame.height(), data).expect("one grey byte per RGB pixel")
}

/// OpenCV's `hsv_shift`: the HSV divisions are done by multiplying with 12-bit fixed-point
/// reciprocals.
const HSV_SHIFT: u32 = 12;

/// The reciprocal tables of OpenCV's `RGB2HSV_b`: `sdiv[v] = round(255 * 2^12 / v)` and
/// `hdiv[d] = round(180 * 2^12 / (6 d))`, both 0 at index 0.
struct HsvTables {
    sdiv: [i32; 256],
    hdiv: [i32; 256],
}

fn hsv_tables() -> &'static HsvTables {
    static TABLES: OnceLock<HsvTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = HsvTables {
            sdiv: [0; 256],
            hdiv: [0; 256],
        };
        for i in 1..256 {
            // saturate_cast<int>(double) rounds half to even, like `round_ties_even`.
            t.sdiv[i] = (f64::from(255 << HSV_SHIFT) / i as f64).round_ties_even() as i32;
            t.hdiv[i] = (f64::from(180 << HSV_SHIFT) / (6.0 * i as f64)).round_ties_even() as i32;
        }
        t
    })
}

/// HSV of an RGB frame, exactly `cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)` for 8-bit images:
/// channel 0 is the hue in `0..180` (degrees / 2), channel 1 the saturation and channel 2 the
/// value, both in `0..=255`.
///
/// ```
/// use vidcompare::features::convert::to_hsv;
/// let f = vidcompare::video::Frame::from_pixel(1, 1, image::Rgb([0, 0, 255]));
/// assert_eq!(to_hsv(&f).get_pixel(0, 0).0, [120, 255, 255]); // blue: 240 degrees / 2
/// ```
pub fn to_hsv(frame: &Frame) -> Frame {
    let t = hsv_tables();
    let half = 1 << (HSV_SHIFT - 1);
    let mut out = Vec::with_capacity(frame.as_raw().len());
    for p in frame.as_raw().chunks_exact(3) {
        let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
        let v = r.max(g).max(b);
        let diff = v - r.min(g).min(b);
        let s = (diff * t.sdiv[v as usize] + half) >> HSV_SHIFT;
        // Ties go to red first, then green, as in OpenCV's mask arithmetic.
        let h = if v == r {
            g - b
        } else if v == g {
            b - r + 2 * diff
        } else {
            r - g + 4 * diff
        };
        let mut h = (h * t.hdiv[diff as usize] + half) >> HSV_SHIFT;
        if h < 0 {
            h += 180;
        }
        out.extend_from_slice(&[h.clamp(0, 255) as u8, s as u8, v as u8]);
    }
    Frame::from_raw(frame.width(), frame.height(), out).expect("three HSV bytes per RGB pixel")
}

/// A grey image as floats in `[0, 1]` (`gray.astype(np.float32) / 255.0`, the Gabor input),
/// indexed `[row, column]`.
///
/// ```
/// let g = image::GrayImage::from_raw(2, 1, vec![0, 255]).unwrap();
/// let a = vidcompare::features::convert::gray_f32(&g);
/// assert_eq!(a.dim(), (1, 2));
/// assert_eq!(a[[0, 1]], 1.0);
/// ```
pub fn gray_f32(gray: &GrayImage) -> Array2<f32> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let data = gray
        .as_raw()
        .iter()
        .map(|&v| f32::from(v) / 255.0)
        .collect();
    Array2::from_shape_vec((h, w), data).expect("one float per grey pixel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_weights_sum_to_one() {
        assert_eq!(R2Y + G2Y + B2Y, 1 << GRAY_SHIFT);
        let white = Frame::from_pixel(3, 2, image::Rgb([255, 255, 255]));
        assert!(to_gray(&white).pixels().all(|p| p.0 == [255]));
    }

    #[test]
    fn hsv_primaries_and_greys() {
        let cases = [
            ([255, 0, 0], [0, 255, 255]),
            ([0, 255, 0], [60, 255, 255]),
            ([0, 0, 255], [120, 255, 255]),
            ([255, 0, 255], [150, 255, 255]),
            ([128, 128, 128], [0, 0, 128]),
            ([0, 0, 0], [0, 0, 0]),
            // s = (100 * round(255 * 4096 / 200) + 2048) >> 12 = (100 * 5222 + 2048) >> 12 = 127
            // (the exact 127.5 is lost to the fixed-point reciprocal); h = 60 / 2 = 30.
            ([200, 200, 100], [30, 127, 200]),
        ];
        for (rgb, hsv) in cases {
            let f = Frame::from_pixel(1, 1, image::Rgb(rgb));
            assert_eq!(to_hsv(&f).get_pixel(0, 0).0, hsv, "rgb {rgb:?}");
        }
    }

    #[test]
    fn empty_frames_give_empty_images() {
        let f = Frame::new(0, 0);
        assert_eq!(to_gray(&f).dimensions(), (0, 0));
        assert_eq!(to_hsv(&f).dimensions(), (0, 0));
        assert_eq!(gray_f32(&to_gray(&f)).dim(), (0, 0));
    }
}
