//! Principal component analysis with scikit-learn's `PCA(n_components=…, svd_solver='auto')` results, fitted through the small side of the data.
//!
//! # Why not linfa-reduction
//!
//! `linfa_reduction::Pca` copies the centred data, runs a *truncated* randomised LOBPCG SVD for a
//! fixed number of components, clips singular values at 1e-8 and never computes the total
//! variance, so it can neither choose `k` from a variance fraction nor reproduce scikit-learn's
//! full-SVD numbers. This module computes the exact decomposition instead, on linfa-linalg's
//! symmetric eigensolver:
//!
//! - `n <= d` (the notebook: 54 videos x 163,828 features): the n x n Gram matrix `Xc Xcᵀ = U S² Uᵀ`,
//!   accumulated over blocks of columns so the centred matrix is never materialised, and then
//!   `components = Uᵀ Xc / S`. No d x d matrix is ever formed.
//! - `n > d`: the d x d covariance `Xcᵀ Xc = V S² Vᵀ`, accumulated over blocks of rows.
//!
//! Both equal the SVD of the centred data. Working on the squared matrix resolves each variance to
//! about `eps·λmax` absolutely (LAPACK's SVD does to `eps·σmax`), so axes carrying more than about
//! 1e-7 of the leading variance, which is all that a 0.95 fraction keeps, agree with scikit-learn
//! to better than 1e-8; trailing near-zero variances agree only in absolute terms. Signs follow
//! `svd_flip(u_based_decision=False)` (the largest-magnitude entry of each component is
//! positive), so projections match scikit-learn's.
//! Directions without variance (beyond the rank of the centred data) have no unique basis; like
//! LAPACK we return some orthonormal completion, onto which training rows project to zero.
//! scikit-learn switches to a randomised solver for an integer `n_components` on matrices larger
//! than 500 in some dimension; this module stays exact there.

use linfa_linalg::eigh::{EigSort, EighInto};
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Columns per block when accumulating the Gram matrix or computing components.
const COL_BLOCK: usize = 512;
/// Rows per block when accumulating the covariance or projecting.
const ROW_BLOCK: usize = 32;
/// Eigenvalues below this fraction of the largest are rounding noise of a zero singular value
/// (the eigensolver's absolute error is about `n·eps·λmax`), so their directions are completed.
const NULL_RELATIVE: f64 = 1e-11;

/// How many components to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PcaComponents {
    /// The fewest components whose cumulative explained variance ratio exceeds this fraction
    /// (`0 < f < 1`), as scikit-learn's `n_components=0.95`.
    Fraction(f64),
    /// Exactly this many components (`1..=min(n, d)`).
    Count(usize),
}

/// A fitted PCA: the training mean and the leading principal axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    mean: Array1<f64>,
    /// k x d, one unit-norm principal axis per row, by decreasing variance.
    components: Array2<f64>,
    explained_variance: Vec<f64>,
    explained_variance_ratio: Vec<f64>,
    singular_values: Vec<f64>,
}

impl Pca {
    /// Learned values a transform uses: the mean of each input column and the `k x d` axes.
    pub fn n_params(&self) -> u64 {
        (self.mean.len() + self.components.len()) as u64
    }

    /// Fits on `x` (rows = samples). Errors when `x` has fewer than 2 rows, no column, a non-finite
    /// value, or when `n_components` is out of range.
    pub fn fit(x: &Array2<f64>, n_components: PcaComponents) -> Result<Pca> {
        Ok(Self::fit_impl(x, n_components)?.0)
    }

    /// Fits on `x` and returns its projection too (`U·S` from the decomposition, which equals
    /// [`transform`](Self::transform) of `x`).
    pub fn fit_transform(
        x: &Array2<f64>,
        n_components: PcaComponents,
    ) -> Result<(Pca, Array2<f64>)> {
        let (pca, projected) = Self::fit_impl(x, n_components)?;
        let projected = match projected {
            Some(p) => p,
            None => pca.transform(x)?,
        };
        Ok((pca, projected))
    }

    /// Projects `x` onto the components: `(x - mean) · componentsᵀ`, n x k.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.mean.len() {
            return Err(Error::InvalidArgument(format!(
                "PCA: fitted on {} features but the input has {}",
                self.mean.len(),
                x.ncols()
            )));
        }
        let k = self.components.nrows();
        let blocks: Vec<Array2<f64>> = x
            .axis_chunks_iter(Axis(0), ROW_BLOCK)
            .into_par_iter()
            .map(|rows| {
                // Centring before the product (rather than subtracting mean·Vᵀ after) avoids
                // cancellation when the mean is large compared with the spread.
                let centred = &rows - &self.mean;
                centred.dot(&self.components.t())
            })
            .collect();
        let mut out = Array2::zeros((x.nrows(), k));
        let mut row = 0;
        for b in blocks {
            out.slice_mut(s![row..row + b.nrows(), ..]).assign(&b);
            row += b.nrows();
        }
        Ok(out)
    }

    /// Per-feature training mean (`mean_`).
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// Principal axes, k x d (`components_`).
    pub fn components(&self) -> &Array2<f64> {
        &self.components
    }

    /// Variance along each kept axis, with ddof 1 (`explained_variance_`).
    pub fn explained_variance(&self) -> &[f64] {
        &self.explained_variance
    }

    /// Fraction of the total variance along each kept axis (`explained_variance_ratio_`).
    pub fn explained_variance_ratio(&self) -> &[f64] {
        &self.explained_variance_ratio
    }

    /// Singular values of the centred training data for the kept axes (`singular_values_`).
    pub fn singular_values(&self) -> &[f64] {
        &self.singular_values
    }

    /// Number of kept components, k (`n_components_`).
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    /// Number of input features, d.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn fit_impl(
        x: &Array2<f64>,
        n_components: PcaComponents,
    ) -> Result<(Pca, Option<Array2<f64>>)> {
        let (n, d) = x.dim();
        if n < 2 || d == 0 {
            return Err(Error::InvalidArgument(format!(
                "PCA needs at least 2 samples and 1 feature, got a {n} x {d} matrix"
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "PCA: the input has a non-finite value at row {}, column {}",
                i / d,
                i % d
            )));
        }
        let max_k = n.min(d);
        crate::settings::check_pca(n_components)?;
        match n_components {
            PcaComponents::Count(k) if k > max_k => {
                return Err(Error::InvalidArgument(format!(
                    "PCA: n_components={k} must be between 1 and min(n_samples, n_features)={max_k}"
                )));
            }
            _ => {}
        }

        let mean = column_means(x);
        let small_side = if n <= d {
            gram(x, &mean)
        } else {
            covariance(x, &mean)
        };
        let (eigenvalues, eigenvectors) = small_side
            .eigh_into()
            .map_err(|e| Error::InvalidArgument(format!("PCA: eigendecomposition failed: {e}")))?
            .sort_eig_desc();
        // Round-off can push the eigenvalues of a PSD matrix slightly below zero.
        let lambda: Vec<f64> = eigenvalues.iter().map(|&l| l.max(0.0)).collect();
        let dof = (n - 1) as f64;
        let variance: Vec<f64> = lambda.iter().map(|l| l / dof).collect();
        let total: f64 = variance.iter().sum();
        let ratio: Vec<f64> = variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        let k = match n_components {
            PcaComponents::Count(k) => k,
            PcaComponents::Fraction(f) => {
                // np.searchsorted(cumsum, f, side="right") + 1: one past the last prefix whose
                // cumulative ratio is <= f.
                let mut cumulative = 0.0;
                let at_or_below = ratio
                    .iter()
                    .take_while(|&&r| {
                        cumulative += r;
                        cumulative <= f
                    })
                    .count();
                (at_or_below + 1).min(max_k)
            }
        };
        let singular: Vec<f64> = lambda[..k].iter().map(|l| l.sqrt()).collect();
        let null_floor = lambda[0] * NULL_RELATIVE;

        let (mut components, mut scores) = if n <= d {
            let u = eigenvectors.slice(s![.., ..k]).to_owned();
            let mut v = components_from_gram(x, &mean, &u, &singular);
            let mut scores = u;
            for (i, &s_i) in singular.iter().enumerate() {
                if lambda[i] <= null_floor {
                    v.row_mut(i).fill(0.0);
                    scores.column_mut(i).fill(0.0);
                } else {
                    scores.column_mut(i).mapv_inplace(|u| u * s_i);
                }
            }
            complete_basis(&mut v, |i| lambda[i] <= null_floor);
            (v, Some(scores))
        } else {
            (eigenvectors.slice(s![.., ..k]).t().to_owned(), None)
        };

        // svd_flip(u_based_decision=False): the largest |entry| of each axis becomes positive.
        for (i, mut axis) in components.axis_iter_mut(Axis(0)).enumerate() {
            let mut arg = 0;
            for (j, v) in axis.iter().enumerate() {
                if v.abs() > axis[arg].abs() {
                    arg = j;
                }
            }
            if axis[arg] < 0.0 {
                axis.mapv_inplace(|v| -v);
                if let Some(scores) = scores.as_mut() {
                    scores.column_mut(i).mapv_inplace(|v| -v);
                }
            }
        }

        let pca = Pca {
            mean,
            components,
            explained_variance: variance[..k].to_vec(),
            explained_variance_ratio: ratio[..k].to_vec(),
            singular_values: singular,
        };
        Ok((pca, scores))
    }
}

/// Column means, summed row after row.
fn column_means(x: &Array2<f64>) -> Array1<f64> {
    let n = x.nrows() as f64;
    let mut sum = Array1::zeros(x.ncols());
    for row in x.rows() {
        sum += &row;
    }
    sum / n
}

/// `Xc Xcᵀ` (n x n) summed over column blocks, each block centred on the fly.
fn gram(x: &Array2<f64>, mean: &Array1<f64>) -> Array2<f64> {
    let n = x.nrows();
    let starts: Vec<usize> = (0..x.ncols()).step_by(COL_BLOCK).collect();
    starts
        .into_par_iter()
        .fold(
            || Array2::zeros((n, n)),
            |mut g, j0| {
                let j1 = (j0 + COL_BLOCK).min(x.ncols());
                let block = centred_columns(x.view(), mean, j0, j1);
                ndarray::linalg::general_mat_mul(1.0, &block, &block.t(), 1.0, &mut g);
                g
            },
        )
        .reduce(|| Array2::zeros((n, n)), |a, b| a + b)
}

/// `Xcᵀ Xc` (d x d) summed over row blocks.
fn covariance(x: &Array2<f64>, mean: &Array1<f64>) -> Array2<f64> {
    let d = x.ncols();
    x.axis_chunks_iter(Axis(0), ROW_BLOCK)
        .into_par_iter()
        .fold(
            || Array2::zeros((d, d)),
            |mut c, rows| {
                let centred = &rows - mean;
                ndarray::linalg::general_mat_mul(1.0, &centred.t(), &centred, 1.0, &mut c);
                c
            },
        )
        .reduce(|| Array2::zeros((d, d)), |a, b| a + b)
}

/// `Xc[:, j0..j1]` as an owned n x (j1 - j0) matrix.
fn centred_columns(x: ArrayView2<f64>, mean: &Array1<f64>, j0: usize, j1: usize) -> Array2<f64> {
    &x.slice(s![.., j0..j1]) - &mean.slice(s![j0..j1])
}

/// `diag(1/S) Uᵀ Xc` (k x d), block by block over the columns of x; rows with `S = 0` come out
/// non-finite and are overwritten by the caller.
fn components_from_gram(
    x: &Array2<f64>,
    mean: &Array1<f64>,
    u: &Array2<f64>,
    singular: &[f64],
) -> Array2<f64> {
    let k = u.ncols();
    let mut v = Array2::zeros((k, x.ncols()));
    v.axis_chunks_iter_mut(Axis(1), COL_BLOCK)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut out)| {
            let j0 = b * COL_BLOCK;
            let block = centred_columns(x.view(), mean, j0, j0 + out.ncols());
            ndarray::linalg::general_mat_mul(1.0, &u.t(), &block, 0.0, &mut out);
            for (mut row, &s_i) in out.axis_iter_mut(Axis(0)).zip(singular) {
                row.mapv_inplace(|v| if s_i > 0.0 { v / s_i } else { 0.0 });
            }
        });
    v
}

/// Replaces the rows flagged by `is_null` with unit vectors orthogonal to every other row, by
/// Gram-Schmidt on the standard basis, so the axes stay orthonormal.
fn complete_basis(v: &mut Array2<f64>, is_null: impl Fn(usize) -> bool) {
    let (k, d) = v.dim();
    let mut candidate = 0usize;
    for i in (0..k).filter(|&i| is_null(i)) {
        while candidate < d {
            let mut w = Array1::<f64>::zeros(d);
            w[candidate] = 1.0;
            candidate += 1;
            // Two passes of projection keep the result orthogonal to working precision.
            for _ in 0..2 {
                for r in (0..k).filter(|&r| r != i && (!is_null(r) || r < i)) {
                    let row = v.row(r);
                    let dot = row.dot(&w);
                    w.scaled_add(-dot, &row);
                }
            }
            let norm = w.dot(&w).sqrt();
            if norm > 0.5 {
                v.row_mut(i).assign(&(w / norm));
                break;
            }
        }
    }
}
