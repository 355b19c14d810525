//! Shape features of one grey frame, as the notebook's `edge_histogram`, `contour_features` and
//! `hog_features` (cell In[6]), matching OpenCV, numpy and scikit-image to the bit.
//!
//! The notebook runs `cv2.Canny(gray, 80, 160)` twice (once per edge feature); [`shape_features`]
//! runs it once. Submodules: [`canny`](fn@canny) (OpenCV's detector), contour following and
//! measures ([`find_external_contours`], [`contour_area`], [`arc_length_closed`]), [`hog`], and
//! the numpy arithmetic they share.

mod canny;
mod contours;
mod hog;
mod numpy;

use image::GrayImage;

pub use canny::canny;
pub use contours::{
    Contour, arc_length_closed, contour_area, contour_features, find_external_contours,
};
pub use hog::{hog, hog_len};

/// The notebook's Canny thresholds (`cv2.Canny(gray, 80, 160)`).
pub const CANNY_LOW: f64 = 80.0;
/// See [`CANNY_LOW`].
pub const CANNY_HIGH: f64 = 160.0;
/// Bins of the notebook's edge-projection histogram.
pub const EDGE_BINS: usize = 16;
/// Length of [`contour_features`]' vector.
pub const CONTOUR_FEATURES: usize = 6;

/// The notebook's `edge_histogram` on an edge map: the column sums of the 0/255 edge values
/// (`edges.sum(axis=0)` as float32), histogrammed with `np.histogram(proj, bins, density=True)`
/// over their own min..max range, as float32.
///
/// An image of width 0 gives NaN densities (numpy's 0/0); `bins == 0` gives an empty vector.
///
/// ```
/// use vidcompare::features::shape::edge_histogram;
/// // Column sums 0, 0, 255 (one edge pixel in the last column): two bins over 0..255, so
/// // densities 2 / 127.5 / 3 and 1 / 127.5 / 3 (count / bin width / n).
/// let mut edges = image::GrayImage::new(3, 2);
/// edges.put_pixel(2, 1, image::Luma([255]));
/// let h = edge_histogram(&edges, 2);
/// assert_eq!(h, vec![(2.0 / 127.5 / 3.0f64) as f32, (1.0 / 127.5 / 3.0f64) as f32]);
/// ```
pub fn edge_histogram(edges: &GrayImage, bins: usize) -> Vec<f32> {
    let w = edges.width() as usize;
    let mut sums = vec![0u64; w];
    if w > 0 {
        for row in edges.as_raw().chunks_exact(w) {
            for (s, &v) in sums.iter_mut().zip(row) {
                *s += u64::from(v);
            }
        }
    }
    let proj: Vec<f32> = sums.iter().map(|&s| s as f32).collect();
    numpy::histogram_density_f32(&proj, bins)
}

/// The notebook's shape block of one grey frame, in its order: `edge_histogram` (16 values),
/// `contour_features` (6) and `hog_features` ([`hog_len`] values), with one shared
/// `canny(gray, 80, 160)`.
///
/// ```
/// use vidcompare::features::shape::{shape_features, shape_len};
/// let gray = image::GrayImage::from_fn(64, 48, |x, y| image::Luma([if (x / 16 + y / 16) % 2 == 0 { 30 } else { 220 }]));
/// assert_eq!(shape_features(&gray).len(), shape_len(64, 48));
/// ```
pub fn shape_features(gray: &GrayImage) -> Vec<f32> {
    let edges = canny(gray, CANNY_LOW, CANNY_HIGH);
    let mut out = Vec::with_capacity(shape_len(gray.width(), gray.height()));
    out.extend(edge_histogram(&edges, EDGE_BINS));
    out.extend(contour_features(&edges));
    hog::hog_into(gray, &mut out);
    out
}

/// Length of [`shape_features`]' vector for a `width` x `height` frame: 16 + 6 + [`hog_len`]
/// (22 + 40716 = 40738 at the notebook's 320x240).
pub fn shape_len(width: u32, height: u32) -> usize {
    EDGE_BINS + CONTOUR_FEATURES + hog_len(width, height)
}
