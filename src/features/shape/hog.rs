//! Histogram of oriented gradients, as the notebook's `skimage.feature.hog(gray, orientations=9,
//! pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm='L2-Hys', feature_vector=True)`.
//!
//! Follows scikit-image's `_hog.py` and `_hoghistogram.pyx` step by step, including their
//! precision: float64 central differences with zero rows/columns at the image border, magnitude
//! `hypot(g_col, g_row)`, orientation `arctan2(g_row, g_col) * 180/pi % 180`, each pixel's whole
//! magnitude added to the one bin `[20 i, 20 (i + 1))` that holds its orientation in a float32
//! running total per cell (Cython's `cdef float total`), divided by the cell area, then L2-Hys
//! per 2x2-cell block in float64 (numpy's pairwise sums, eps = 1e-5, clip at 0.2).

use std::sync::OnceLock;

use image::GrayImage;

use super::numpy::pairwise_sum;

const ORIENTATIONS: usize = 9;
const CELL: usize = 8;
const BLOCK: usize = 2;
const BLOCK_LEN: usize = BLOCK * BLOCK * ORIENTATIONS;
/// Central differences of 8-bit pixels lie in -255..=255.
const GRAD_SPAN: usize = 511;
/// Orientation of a pixel outside every bin (not reachable for 8-bit gradients, where the
/// orientation is always in [0, 180)); such a pixel votes nowhere, as in `cell_hog`.
const NO_BIN: u8 = u8::MAX;

/// Length of [`hog`]'s vector for a `width` x `height` image: `(cells_y - 1) * (cells_x - 1) *
/// 2 * 2 * 9` with 8-pixel cells, or 0 when the image has fewer than 2 cells either way (where
/// scikit-image raises "The input image is too small").
///
/// ```
/// assert_eq!(vidcompare::features::shape::hog_len(320, 240), 40716);
/// ```
pub fn hog_len(width: u32, height: u32) -> usize {
    let (cx, cy) = (width as usize / CELL, height as usize / CELL);
    if cx < BLOCK || cy < BLOCK {
        0
    } else {
        (cy - BLOCK + 1) * (cx - BLOCK + 1) * BLOCK_LEN
    }
}

/// The notebook's HOG descriptor of a grey image (see the module doc), cast to float32, in
/// scikit-image's `feature_vector` order `(block_row, block_col, cell_row, cell_col,
/// orientation)`. Pixels right of or below the last whole cell are ignored. An image with fewer
/// than 2x2 cells gives an empty vector (scikit-image raises).
///
/// ```
/// use vidcompare::features::shape::{hog, hog_len};
/// let img = image::GrayImage::from_fn(32, 24, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
/// let v = hog(&img);
/// assert_eq!(v.len(), hog_len(32, 24));
/// assert!(v.iter().all(|&x| (0.0..=1.0).contains(&x)));
/// ```
pub fn hog(gray: &GrayImage) -> Vec<f32> {
    let mut out = Vec::with_capacity(hog_len(gray.width(), gray.height()));
    hog_into(gray, &mut out);
    out
}

/// [`hog`], appended to `out` (so a caller assembling a longer vector avoids a second copy).
pub(crate) fn hog_into(gray: &GrayImage, out: &mut Vec<f32>) {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let n_len = hog_len(gray.width(), gray.height());
    if n_len == 0 {
        return;
    }
    let (ncx, ncy) = (w / CELL, h / CELL);
    let tables = tables();
    let src = gray.as_raw();

    // Cell histograms, accumulated pixel by pixel in row-major order: per (cell, bin) this is
    // the same sequence of float32 roundings as cell_hog's loop over the cell's rows.
    let mut cells = vec![0f32; ncy * ncx * ORIENTATIONS];
    for y in 0..ncy * CELL {
        let row = &src[y * w..][..w];
        let vertical = y > 0 && y < h - 1;
        let cell_row = &mut cells[(y / CELL) * ncx * ORIENTATIONS..][..ncx * ORIENTATIONS];
        for x in 0..ncx * CELL {
            let g_row = if vertical {
                i32::from(src[(y + 1) * w + x]) - i32::from(src[(y - 1) * w + x])
            } else {
                0
            };
            let g_col = if x > 0 && x < w - 1 {
                i32::from(row[x + 1]) - i32::from(row[x - 1])
            } else {
                0
            };
            if g_row == 0 && g_col == 0 {
                // Adding a zero magnitude leaves the float32 total unchanged; flat areas are
                // common, and skipping them shortens the add-store-reload chains per bin.
                continue;
            }
            let bin = tables.bin[(g_row + 255) as usize * GRAD_SPAN + (g_col + 255) as usize];
            if bin == NO_BIN {
                continue;
            }
            let mag = tables.magnitude
                [g_row.unsigned_abs() as usize * 256 + g_col.unsigned_abs() as usize];
            let t = &mut cell_row[(x / CELL) * ORIENTATIONS + bin as usize];
            *t = (f64::from(*t) + mag) as f32;
        }
    }
    let area = (CELL * CELL) as f32;
    let cells: Vec<f64> = cells.iter().map(|&t| f64::from(t / area)).collect();

    let eps2 = 1e-5f64 * 1e-5;
    out.reserve(n_len);
    let mut block = [0f64; BLOCK_LEN];
    let mut sq = [0f64; BLOCK_LEN];
    for by in 0..=ncy - BLOCK {
        for bx in 0..=ncx - BLOCK {
            for r in 0..BLOCK {
                let start = ((by + r) * ncx + bx) * ORIENTATIONS;
                block[r * BLOCK * ORIENTATIONS..][..BLOCK * ORIENTATIONS]
                    .copy_from_slice(&cells[start..start + BLOCK * ORIENTATIONS]);
            }
            for (s, &v) in sq.iter_mut().zip(&block) {
                *s = v * v;
            }
            let norm = (pairwise_sum(&sq) + eps2).sqrt();
            for v in block.iter_mut() {
                *v = (*v / norm).min(0.2);
            }
            for (s, &v) in sq.iter_mut().zip(&block) {
                *s = v * v;
            }
            let norm = (pairwise_sum(&sq) + eps2).sqrt();
            out.extend(block.iter().map(|&v| (v / norm) as f32));
        }
    }
}

/// Per-gradient lookups shared by every call: the orientation bin of each `(g_row, g_col)` pair
/// and the magnitude of each `(|g_row|, |g_col|)` pair.
struct Tables {
    bin: Vec<u8>,
    magnitude: Vec<f64>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        // Bin edges as cell_hog sees them: `180. / n * i` stored in a C float.
        let edges: Vec<f64> = (0..=ORIENTATIONS)
            .map(|i| f64::from((180.0 / ORIENTATIONS as f64 * i as f64) as f32))
            .collect();
        let mut bin = Vec::with_capacity(GRAD_SPAN * GRAD_SPAN);
        for g_row in -255i32..=255 {
            for g_col in -255i32..=255 {
                let o = orientation_deg(f64::from(g_row), f64::from(g_col));
                let b = (0..ORIENTATIONS)
                    .find(|&i| o >= edges[i] && o < edges[i + 1])
                    .map_or(NO_BIN, |i| i as u8);
                bin.push(b);
            }
        }
        // libm's hypot, which np.hypot calls; it is symmetric in sign and argument order.
        let mut magnitude = Vec::with_capacity(256 * 256);
        for r in 0..256u32 {
            for c in 0..256u32 {
                magnitude.push(f64::from(c).hypot(f64::from(r)));
            }
        }
        Tables { bin, magnitude }
    })
}

/// `np.arctan2(g_row, g_col) * (180 / np.pi) % 180` with numpy's floored float remainder.
fn orientation_deg(g_row: f64, g_col: f64) -> f64 {
    let deg = g_row.atan2(g_col) * (180.0 / std::f64::consts::PI);
    let m = deg % 180.0;
    if m < 0.0 {
        m + 180.0
    } else if m == 0.0 {
        0.0 // numpy returns +0.0 for a zero remainder, whatever the dividend's sign
    } else {
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_block_grid() {
        assert_eq!(hog_len(320, 240), 39 * 29 * 36);
        assert_eq!(hog_len(16, 16), 36);
        assert_eq!(hog_len(23, 16), 36); // partial cells are dropped
        assert_eq!(hog_len(15, 100), 0);
        assert!(hog(&GrayImage::new(15, 100)).is_empty());
    }

    #[test]
    fn orientation_bins_by_hand() {
        let t = tables();
        let bin = |r: i32, c: i32| t.bin[(r + 255) as usize * GRAD_SPAN + (c + 255) as usize];
        assert_eq!(bin(0, 0), 0); // arctan2(0, 0) = 0
        assert_eq!(bin(0, 10), 0); // 0 deg
        assert_eq!(bin(0, -10), 0); // 180 deg wraps to 0
        assert_eq!(bin(10, 10), 2); // 45 deg in [40, 60)
        assert_eq!(bin(10, 0), 4); // 90 deg in [80, 100)
        assert_eq!(bin(-10, 10), 6); // -45 deg = 135 deg in [120, 140)
        assert_eq!(bin(-1, 255), 8); // -0.22 deg = 179.78 deg
        assert!(t.bin.iter().all(|&b| b != NO_BIN));
        assert_eq!(t.magnitude[3 * 256 + 4], 5.0);
    }

    #[test]
    fn one_block_of_a_vertical_edge() {
        // 16x16: columns 0..8 dark (0), 8..16 bright (100). Columns 7 and 8 see g_col = 100 at
        // orientation 0 in every row (g_row = 0 everywhere): each cell gets 8 rows * 100 / 64 =
        // 12.5 in bin 0, from column 7 (cells on the left) or 8 (on the right). The block holds
        // four equal values: L2 gives 0.5 each, clipped to 0.2, and the renormalisation gives 0.5
        // again (the 1e-5 eps changes it by ~1e-11).
        let img = GrayImage::from_fn(16, 16, |x, _| image::Luma([if x < 8 { 0 } else { 100 }]));
        let v = hog(&img);
        assert_eq!(v.len(), 36);
        for cell in 0..4 {
            assert!((v[cell * 9] - 0.5).abs() < 1e-6, "{v:?}");
            assert!(v[cell * 9 + 1..cell * 9 + 9].iter().all(|&x| x == 0.0));
        }
    }

    #[test]
    fn flat_image_gives_zeros() {
        let v = hog(&GrayImage::from_pixel(24, 16, image::Luma([90])));
        assert_eq!(v.len(), 2 * 36);
        assert!(v.iter().all(|&x| x == 0.0));
    }
}
