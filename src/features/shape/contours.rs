//! Outer contours of a binary image, as OpenCV's `findContours(RETR_EXTERNAL,
//! CHAIN_APPROX_SIMPLE)`, with `contourArea` / `arcLength` and the notebook's contour statistics.
//!
//! The border following is a port of OpenCV 4.x/5.x `modules/imgproc/src/contours_new.cpp`
//! (Suzuki & Abe, 1985) for 8-bit input in external mode: the image is padded with a zero frame
//! and binarised (non-zero = 1), scanned row by row, and each outer border whose left neighbour
//! region is not already inside a traced contour is followed and marked. Following OpenCV's marks
//! and scan rules exactly (rather than a textbook Suzuki-Abe) gives the same contours, the same
//! points and the same order, which the float32 statistics depend on.

use image::GrayImage;

use super::numpy::{mean_f32, pairwise_sum, var_f32};

/// One contour: its vertices `[x, y]` in image coordinates, in OpenCV's order.
pub type Contour = Vec<[i32; 2]>;

/// A foreground pixel not yet on a traced border.
const FG: i8 = 1;
/// OpenCV's marks for traced border pixels in the simple modes: `MASK8_NEW` (2), and
/// `MASK8_NEW | MASK8_RIGHT` (0x82, negative as a signed byte) for pixels whose east neighbour
/// is background.
const MARK: i8 = 2;
const MARK_RIGHT: i8 = (0x82u8) as i8;

/// Chain-code steps 0..7 (E, NE, N, NW, W, SW, S, SE; y grows downwards), OpenCV's
/// `chainCodeDeltas`.
const CHAIN: [[i32; 2]; 8] = [
    [1, 0],
    [1, -1],
    [0, -1],
    [-1, -1],
    [-1, 0],
    [-1, 1],
    [0, 1],
    [1, 1],
];

/// The outermost contours of a binary image, exactly as
/// `cv2.findContours(img, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)` returns them: any
/// non-zero pixel is foreground, pixels on the image border belong to contours (OpenCV pads the
/// image with zeros), each contour keeps only the end points of its horizontal, vertical and
/// diagonal runs, and the list is in OpenCV's order (last found first).
///
/// ```
/// use vidcompare::features::shape::find_external_contours;
/// let mut img = image::GrayImage::new(8, 6);
/// for y in 1..4 {
///     for x in 2..7 {
///         img.put_pixel(x, y, image::Luma([255]));
///     }
/// }
/// assert_eq!(find_external_contours(&img), vec![vec![[2, 1], [2, 3], [6, 3], [6, 1]]]);
/// ```
pub fn find_external_contours(image: &GrayImage) -> Vec<Contour> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let step = w + 2;
    let mut img = vec![0i8; step * (h + 2)];
    for (y, row) in image.as_raw().chunks_exact(w).enumerate() {
        let dst = &mut img[(y + 1) * step + 1..][..w];
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = i8::from(v != 0);
        }
    }
    let deltas = chain_offsets(step);

    let mut found = Vec::new();
    // The scan of `ContourScanner_::findNext`, over the padded image's inner columns and rows.
    let (width, height) = (step - 1, h + 1);
    for y in 1..height {
        let row = y * step;
        // Column of the last border pixel met on this row (OpenCV's `lnbd`); column 0 is padding.
        let mut last_x = 0usize;
        let mut prev: i8 = 0;
        let mut x = 1usize;
        while x < width {
            let mut p = img[row + x];
            while p == prev {
                x += 1;
                if x >= width {
                    break;
                }
                p = img[row + x];
            }
            if x >= width {
                break;
            }
            if prev == 0 && p == FG {
                // An outer border starts here; in external mode it is followed only when the
                // last border met on the row (if any) was left through its right side.
                if img[row + last_x] <= 0 {
                    let origin = [x as i32 - 1, y as i32 - 1];
                    found.push(follow_border(&mut img, &deltas, row + x, origin));
                    last_x = x;
                    // Resume after the start pixel, whose value the tracing has just changed.
                    prev = img[row + x];
                    x += 1;
                    continue;
                }
            } else if p == 0 && prev >= 1 && prev != FG {
                // Would start a hole border (not followed in external mode) right after a
                // marked pixel: OpenCV records that pixel as the last border met.
                last_x = x - 1;
            }
            prev = p;
            if prev != 0 && prev != FG {
                last_x = x;
            }
            x += 1;
        }
    }
    // OpenCV prepends each new contour to the root's children and lists them depth first.
    found.reverse();
    found
}

/// Index offsets of the 8 chain-code neighbours in a row-major image with `step` columns.
fn chain_offsets(step: usize) -> [isize; 8] {
    let s = step as isize;
    CHAIN.map(|[dx, dy]| dx as isize + dy as isize * s)
}

/// Follows the outer border that starts at pixel index `start` (image point `origin`), marks it
/// the way OpenCV does and returns its CHAIN_APPROX_SIMPLE points: a port of
/// `icvFetchContourEx<schar>` for an outer border.
fn follow_border(img: &mut [i8], deltas: &[isize; 8], start: usize, origin: [i32; 2]) -> Contour {
    let at = |i: usize, s: usize| i.wrapping_add_signed(deltas[s & 7]);
    let mut pts = Vec::new();
    let mut pt = origin;
    let i0 = start;

    // Look for a neighbour, from direction 3 down to 4 (west, which OpenCV checks last and
    // which is background at an outer border's start); none found: an isolated pixel.
    let mut s_end = 4usize;
    let mut s = s_end;
    let mut i1;
    loop {
        s = (s + 7) & 7;
        i1 = at(i0, s);
        if img[i1] != 0 || s == s_end {
            break;
        }
    }
    if s == s_end {
        img[i0] = MARK_RIGHT;
        pts.push(pt);
        return pts;
    }

    let mut i3 = i0;
    let mut prev_s = s ^ 4;
    loop {
        s_end = s;
        // Counter-clockwise search from the direction after the one we came back along; the
        // neighbour we came from guarantees a hit within 8 steps.
        let mut i4 = i3;
        while s < 15 {
            s += 1;
            i4 = at(i3, s);
            if img[i4] != 0 {
                break;
            }
        }
        s &= 7;
        // The search passed east (direction 0) when it wrapped, so the east neighbour is
        // background: OpenCV's "right" mark.
        if s.wrapping_sub(1) < s_end {
            img[i3] = MARK_RIGHT;
        } else if img[i3] == FG {
            img[i3] = MARK;
        }
        if s != prev_s {
            pts.push(pt);
        }
        prev_s = s;
        pt[0] += CHAIN[s][0];
        pt[1] += CHAIN[s][1];
        if i4 == i0 && i3 == i1 {
            break;
        }
        i3 = i4;
        s = (s + 4) & 7;
    }
    pts
}

/// `cv2.contourArea(contour)`: the absolute shoelace area of the polygon through the points
/// (OpenCV converts the integer points to float32 and accumulates in float64; both are exact here).
pub fn contour_area(points: &[[i32; 2]]) -> f64 {
    let Some(&last) = points.last() else {
        return 0.0;
    };
    let mut prev = [last[0] as f32, last[1] as f32];
    let mut a = 0.0f64;
    for p in points {
        let p = [p[0] as f32, p[1] as f32];
        a += f64::from(prev[0]) * f64::from(p[1]) - f64::from(prev[1]) * f64::from(p[0]);
        prev = p;
    }
    (a * 0.5).abs()
}

/// `cv2.arcLength(contour, closed=True)`: the polygon's perimeter including the closing segment,
/// with OpenCV's precision (float32 differences and square roots, summed in float64).
pub fn arc_length_closed(points: &[[i32; 2]]) -> f64 {
    if points.len() <= 1 {
        return 0.0;
    }
    let last = points[points.len() - 1];
    let mut prev = [last[0] as f32, last[1] as f32];
    let mut total = 0.0f64;
    for p in points {
        let p = [p[0] as f32, p[1] as f32];
        let (dx, dy) = (p[0] - prev[0], p[1] - prev[1]);
        total += f64::from((dx * dx + dy * dy).sqrt());
        prev = p;
    }
    total
}

/// The notebook's `contour_features` on an edge map: `[count, mean(area), var(area),
/// mean(perimeter), var(perimeter), sum(area)]` of the external contours, with the areas and
/// perimeters cast to float32 and the statistics in numpy's float32 arithmetic; all zeros when
/// there is no contour.
///
/// ```
/// use vidcompare::features::shape::contour_features;
/// let mut img = image::GrayImage::new(20, 15);
/// for y in 4..11 {
///     for x in 3..13 {
///         img.put_pixel(x, y, image::Luma([255]));
///     }
/// }
/// // One 10x7 block: the contour runs through the outer pixel centres, 9 x 6.
/// assert_eq!(contour_features(&img), [1.0, 54.0, 0.0, 30.0, 0.0, 54.0]);
/// ```
pub fn contour_features(edges: &GrayImage) -> [f32; 6] {
    let contours = find_external_contours(edges);
    if contours.is_empty() {
        return [0.0; 6];
    }
    let areas: Vec<f32> = contours.iter().map(|c| contour_area(c) as f32).collect();
    let peris: Vec<f32> = contours
        .iter()
        .map(|c| arc_length_closed(c) as f32)
        .collect();
    [
        contours.len() as f32,
        mean_f32(&areas),
        var_f32(&areas),
        mean_f32(&peris),
        var_f32(&peris),
        pairwise_sum(&areas),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(w: u32, h: u32, on: &[(u32, u32)]) -> GrayImage {
        let mut img = GrayImage::new(w, h);
        for &(x, y) in on {
            img.put_pixel(x, y, image::Luma([255]));
        }
        img
    }

    #[test]
    fn empty_and_blank_images_have_no_contours() {
        assert!(find_external_contours(&GrayImage::new(0, 0)).is_empty());
        assert!(find_external_contours(&GrayImage::new(5, 4)).is_empty());
        assert_eq!(contour_features(&GrayImage::new(5, 4)), [0.0; 6]);
    }

    #[test]
    fn single_pixel_is_a_one_point_contour() {
        let c = find_external_contours(&binary(5, 5, &[(2, 3)]));
        assert_eq!(c, vec![vec![[2, 3]]]);
        assert_eq!(contour_area(&c[0]), 0.0);
        assert_eq!(arc_length_closed(&c[0]), 0.0);
    }

    #[test]
    fn horizontal_segment_keeps_its_end_points() {
        let c = find_external_contours(&binary(8, 3, &[(1, 1), (2, 1), (3, 1), (4, 1)]));
        assert_eq!(c, vec![vec![[1, 1], [4, 1]]]);
        assert_eq!(contour_area(&c[0]), 0.0);
        assert_eq!(arc_length_closed(&c[0]), 6.0); // there and back
    }

    #[test]
    fn image_border_pixels_belong_to_contours() {
        let img = GrayImage::from_pixel(4, 3, image::Luma([1]));
        let c = find_external_contours(&img);
        assert_eq!(c, vec![vec![[0, 0], [0, 2], [3, 2], [3, 0]]]);
        assert_eq!(contour_area(&c[0]), 6.0);
        assert_eq!(arc_length_closed(&c[0]), 10.0);
    }

    #[test]
    fn contours_are_listed_last_found_first() {
        // Two separate pixels: the lower one is found second and listed first.
        let c = find_external_contours(&binary(6, 6, &[(1, 1), (4, 4)]));
        assert_eq!(c, vec![vec![[4, 4]], vec![[1, 1]]]);
    }

    #[test]
    fn shoelace_and_perimeter_by_hand() {
        // Right triangle with legs 3 and 4.
        let tri = [[0, 0], [3, 0], [0, 4]];
        assert_eq!(contour_area(&tri), 6.0);
        assert_eq!(arc_length_closed(&tri), 12.0);
        assert_eq!(contour_area(&[]), 0.0);
    }
}
