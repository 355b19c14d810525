//! Two-dimensional maps of feature spaces (t-SNE through linfa-tsne), and how well classes separate
//! in them: any `n x d` matrix with labels becomes 2-D points per class and a caption written from the
//! measured separation, for the report to draw as a scatter plot.

use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;

use crate::classical::pca::{Pca, PcaComponents};
use crate::error::{Error, Result};

/// The notebook's t-SNE perplexity before the small-set guard (`min(30, n - 1)`).
pub const NOTEBOOK_PERPLEXITY: f64 = 30.0;

/// Settings of a t-SNE map.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneOptions {
    /// Requested perplexity (default 30, as the notebook); lowered for small sets by
    /// [`guarded_perplexity`].
    pub perplexity: f64,
    /// Seed of the random initial layout.
    pub seed: u64,
    /// Gradient-descent iterations (default 1000, as scikit-learn).
    pub max_iter: usize,
}

impl Default for TsneOptions {
    fn default() -> Self {
        TsneOptions {
            perplexity: NOTEBOOK_PERPLEXITY,
            seed: 42,
            max_iter: 1000,
        }
    }
}

/// How a 2-D map was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapMethod {
    /// t-SNE with this (guarded) perplexity.
    Tsne {
        /// The perplexity used.
        perplexity: f64,
    },
    /// The first two principal components: sets of fewer than four points, where t-SNE has no
    /// valid perplexity.
    Pca,
}

/// The perplexity to use for `n` points: the notebook's `max(2, min(requested, n - 1))`, then at
/// most `(n - 1) / 3`, which linfa-tsne (like the original Barnes-Hut code) requires. `None` for
/// fewer than four points.
///
/// ```
/// use vidcompare::analysis::tsne::guarded_perplexity;
/// assert_eq!(guarded_perplexity(200, 30.0), Some(30.0));
/// assert_eq!(guarded_perplexity(60, 30.0), Some(59.0 / 3.0));
/// assert_eq!(guarded_perplexity(4, 30.0), Some(1.0));
/// assert_eq!(guarded_perplexity(3, 30.0), None);
/// ```
pub fn guarded_perplexity(n: usize, requested: f64) -> Option<f64> {
    if n < 4 {
        return None;
    }
    let m = (n - 1) as f64;
    Some(requested.min(m).max(2.0).min(m / 3.0))
}

/// A 2-D map of the rows of `x` (`n x d`): t-SNE for four or more points, else the first two
/// principal components (zero-padded when `x` has a single column).
///
/// Rows must be finite. The result is deterministic for a given seed.
pub fn embed_2d(x: &Array2<f64>, opts: &TsneOptions) -> Result<(Array2<f64>, MapMethod)> {
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return Err(Error::InvalidArgument(format!(
            "t-SNE needs at least one point with at least one feature (got {n} x {d})"
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(
            "t-SNE input holds NaN or infinite values".into(),
        ));
    }
    // linfa-tsne needs at least as many features as embedding dimensions.
    let x = if d < 2 {
        let mut p = Array2::zeros((n, 2));
        p.column_mut(0).assign(&x.column(0));
        p
    } else {
        x.as_standard_layout().to_owned()
    };
    let Some(perplexity) = guarded_perplexity(n, opts.perplexity) else {
        return Ok((pca_2d(&x)?, MapMethod::Pca));
    };
    let rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    // Exact gradients (threshold 0) for small sets, Barnes-Hut beyond.
    let theta = if n <= 500 { 0.0 } else { 0.5 };
    let params = TSneParams::embedding_size_with_rng(2, rng)
        .perplexity(perplexity)
        .approx_threshold(theta)
        .max_iter(opts.max_iter.max(10));
    // bhtsne asserts on inputs it cannot handle; turn such a panic into an error.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| params.transform(x)));
    let map = match outcome {
        Ok(Ok(map)) => map,
        Ok(Err(e)) => return Err(Error::InvalidArgument(format!("t-SNE failed: {e}"))),
        Err(_) => {
            return Err(Error::InvalidArgument(format!(
                "t-SNE failed on {n} points (perplexity {perplexity})"
            )));
        }
    };
    if map.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "t-SNE diverged on {n} points (perplexity {perplexity})"
        )));
    }
    Ok((map, MapMethod::Tsne { perplexity }))
}

fn pca_2d(x: &Array2<f64>) -> Result<Array2<f64>> {
    let n = x.nrows();
    let k = 2.min(n).min(x.ncols());
    let mut out = Array2::zeros((n, 2));
    if n < 2 {
        return Ok(out);
    }
    let (_, z) = Pca::fit_transform(x, PcaComponents::Count(k))?;
    for j in 0..z.ncols().min(2) {
        out.column_mut(j).assign(&z.column(j));
    }
    Ok(out)
}

/// Leave-one-out k-nearest-neighbour accuracy of `labels` in the space of `x`'s rows (Euclidean):
/// each point is classified by a majority vote of its `k` nearest other points, ties going to the
/// class whose voters are nearer in total. `None` for fewer than two points.
///
/// ```
/// use ndarray::array;
/// use vidcompare::analysis::tsne::knn_accuracy;
/// let x = array![[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]];
/// assert_eq!(knn_accuracy(x.view(), &[0, 0, 1, 1], 1), Some(1.0));
/// assert_eq!(knn_accuracy(x.view(), &[0, 1, 0, 1], 1), Some(0.0));
/// ```
pub fn knn_accuracy(x: ArrayView2<'_, f64>, labels: &[usize], k: usize) -> Option<f64> {
    let n = x.nrows().min(labels.len());
    if n < 2 || k == 0 {
        return None;
    }
    let k = k.min(n - 1);
    let n_classes = labels[..n].iter().max().map_or(0, |m| m + 1);
    let mut correct = 0;
    for i in 0..n {
        let mut d: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let dist: f64 = x
                    .row(i)
                    .iter()
                    .zip(x.row(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                (dist, j)
            })
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut votes = vec![(0usize, 0.0f64); n_classes];
        for &(dist, j) in d.iter().take(k) {
            votes[labels[j]].0 += 1;
            votes[labels[j]].1 += dist.sqrt();
        }
        let best = (0..n_classes)
            .max_by(|&a, &b| {
                votes[a]
                    .0
                    .cmp(&votes[b].0)
                    .then(votes[b].1.total_cmp(&votes[a].1))
            })
            .unwrap_or(0);
        if best == labels[i] {
            correct += 1;
        }
    }
    Some(correct as f64 / n as f64)
}

/// A t-SNE map and how well the classes separate in it: plain data that the report draws as a
/// scatter plot (`report::analysis::tsne_plot`).
#[derive(Debug, Clone)]
pub struct TsneView {
    /// `"{title} (t-SNE)"` or `"{title} (PCA)"`.
    pub title: String,
    /// Names of the two map axes, e.g. `t-SNE 1`, `t-SNE 2`.
    pub axes: [String; 2],
    /// The map's points, one entry per class present, in class order.
    pub classes: Vec<ClassPoints>,
    /// Where the map comes from and how well the classes separate, in words.
    pub caption: String,
    /// How the map was made.
    pub method: MapMethod,
    /// Leave-one-out kNN accuracy in the 2-D map.
    pub knn_map: Option<f64>,
    /// Leave-one-out kNN accuracy in the original space.
    pub knn_original: Option<f64>,
    /// The neighbours used for both.
    pub k: usize,
}

/// The points of one class in a 2-D map.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPoints {
    /// The class name.
    pub name: String,
    /// First map coordinate of each point.
    pub x: Vec<f64>,
    /// Second map coordinate of each point.
    pub y: Vec<f64>,
    /// A label per point (e.g. the video); empty for none.
    pub labels: Vec<String>,
}

/// Words for how far a kNN accuracy is from chance toward perfect.
fn separation_words(acc: f64, chance: f64) -> &'static str {
    let gain = if chance < 1.0 {
        (acc - chance) / (1.0 - chance)
    } else {
        0.0
    };
    if gain >= 0.8 {
        "the classes separate well"
    } else if gain >= 0.5 {
        "the classes partly separate"
    } else if gain >= 0.2 {
        "the classes overlap a lot"
    } else {
        "the classes are mixed: no better than chance"
    }
}

/// A t-SNE scatter plot of the rows of `x` (`n x d`: PCA features, pooled embeddings, logits, ...)
/// coloured by class, with a caption on how well the classes separate: the leave-one-out
/// `k`-nearest-neighbour accuracy in the map and in the original space (k = 5, or one less than
/// the smallest class when that is smaller), against the majority-class rate.
///
/// `point_labels` (e.g. video paths) go into the plot's data table; pass `&[]` for none.
///
/// ```
/// use ndarray::Array2;
/// use vidcompare::analysis::tsne::{TsneOptions, tsne_view};
/// let x = Array2::from_shape_fn((12, 3), |(i, j)| (i / 4) as f64 * 10.0 + (i * 7 + j) as f64 % 3.0 * 0.1);
/// let labels: Vec<usize> = (0..12).map(|i| i / 4).collect();
/// let names = vec!["a".to_string(), "b".into(), "c".into()];
/// let v = tsne_view("PCA features", &x, &labels, &names, &[], &TsneOptions::default()).unwrap();
/// assert_eq!(v.classes.len(), 3);
/// assert!(v.caption.contains("separate well"), "{}", v.caption);
/// ```
pub fn tsne_view(
    title: &str,
    x: &Array2<f64>,
    labels: &[usize],
    class_names: &[String],
    point_labels: &[String],
    opts: &TsneOptions,
) -> Result<TsneView> {
    let n = x.nrows();
    if labels.len() != n {
        return Err(Error::InvalidArgument(format!(
            "t-SNE `{title}`: {n} rows but {} labels",
            labels.len()
        )));
    }
    if !point_labels.is_empty() && point_labels.len() != n {
        return Err(Error::InvalidArgument(format!(
            "t-SNE `{title}`: {n} rows but {} point labels",
            point_labels.len()
        )));
    }
    let (map, method) = embed_2d(x, opts)?;
    let n_classes = labels
        .iter()
        .max()
        .map_or(0, |m| m + 1)
        .max(class_names.len());
    let name = |c: usize| {
        class_names
            .get(c)
            .cloned()
            .unwrap_or_else(|| format!("class {c}"))
    };
    let what = match method {
        MapMethod::Tsne { .. } => "t-SNE",
        MapMethod::Pca => "PCA",
    };
    let classes = (0..n_classes)
        .filter_map(|c| {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            (!rows.is_empty()).then(|| ClassPoints {
                name: name(c),
                x: rows.iter().map(|&i| map[[i, 0]]).collect(),
                y: rows.iter().map(|&i| map[[i, 1]]).collect(),
                labels: if point_labels.is_empty() {
                    Vec::new()
                } else {
                    rows.iter().map(|&i| point_labels[i].clone()).collect()
                },
            })
        })
        .collect();
    let mut counts = vec![0usize; n_classes.max(1)];
    for &l in labels {
        counts[l] += 1;
    }
    // At most 5 neighbours, and fewer than the smallest class has other members, so a point's own
    // class can hold the majority of its neighbours.
    let smallest = counts.iter().copied().filter(|&c| c > 0).min().unwrap_or(1);
    let k = 5
        .min(smallest.saturating_sub(1))
        .max(1)
        .min(n.saturating_sub(1));
    let knn_map = knn_accuracy(map.view(), labels, k);
    let knn_original = knn_accuracy(x.view(), labels, k);
    let chance = counts.iter().copied().max().unwrap_or(0) as f64 / n.max(1) as f64;
    let how = match method {
        MapMethod::Tsne { perplexity } => format!(
            "t-SNE of {n} points ({}-dimensional; perplexity {}, seed {})",
            x.ncols(),
            trim_float(perplexity),
            opts.seed
        ),
        MapMethod::Pca => format!(
            "Only {n} points, too few for t-SNE: the first two principal components of the {}-dimensional features",
            x.ncols()
        ),
    };
    let caption = match (knn_map, knn_original) {
        (Some(m), Some(o)) => format!(
            "{how}. Leave-one-out {k}-nearest-neighbour accuracy: {m:.2} in this map and {o:.2} in \
             the original space, against {chance:.2} for always guessing the largest class: in the \
             original space {}.",
            separation_words(o, chance)
        ),
        _ => format!("{how}."),
    };
    Ok(TsneView {
        title: format!("{title} ({what})"),
        axes: [format!("{what} 1"), format!("{what} 2")],
        classes,
        caption,
        method,
        knn_map,
        knn_original,
        k,
    })
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
