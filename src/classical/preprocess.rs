//! Median imputation and standardisation with scikit-learn's `SimpleImputer(strategy='median')` and `StandardScaler()` semantics.
//!
//! Both are fitted on the training split only and then applied to every split, as the notebook's
//! `prep_and_pca` does. Matrices can be wide (2,000 x 170,000), so statistics are gathered in
//! blocks of columns in parallel, transforms run row by row in parallel, and the `*_owned`
//! transforms reuse the caller's buffer instead of allocating a second matrix.

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Columns per block when gathering per-column statistics: wide enough to read rows in contiguous
/// runs, small enough that a block of a 2,000-row matrix stays in cache.
const BLOCK: usize = 64;

/// Fills missing values (NaN) with the training median of their column.
///
/// As scikit-learn's default `keep_empty_features=False`, a column with no observed value at fit
/// time has no median and is dropped by [`transform`](Self::transform), so the output can have
/// fewer columns than the input; [`keep_mask`](Self::keep_mask) says which survive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MedianImputer {
    /// Median of the non-missing training values of each input column (0 for dropped columns).
    medians: Vec<f64>,
    /// Whether each input column had an observed value and is kept.
    keep: Vec<bool>,
}

impl MedianImputer {
    /// Learned values it stores: one median per input column.
    pub fn n_params(&self) -> u64 {
        self.medians.len() as u64
    }

    /// Learns each column's median over its non-missing values (the mean of the two middle values
    /// when their count is even, as `numpy.ma.median`).
    ///
    /// Errors on a matrix without rows or columns, or one containing an infinite value (which
    /// scikit-learn rejects as well).
    pub fn fit(x: &Array2<f64>) -> Result<MedianImputer> {
        check_fit_input("median imputer", x)?;
        check_no_infinity("median imputer", x.view())?;
        let per_block: Vec<Vec<Option<f64>>> = column_blocks(x.ncols())
            .into_par_iter()
            .map(|(j0, j1)| {
                let block = x.slice(s![.., j0..j1]);
                let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(x.nrows()); j1 - j0];
                for row in block.rows() {
                    for (col, &v) in columns.iter_mut().zip(row) {
                        if !v.is_nan() {
                            col.push(v);
                        }
                    }
                }
                columns.into_iter().map(median).collect()
            })
            .collect();
        let medians: Vec<Option<f64>> = per_block.into_iter().flatten().collect();
        Ok(MedianImputer {
            keep: medians.iter().map(Option::is_some).collect(),
            medians: medians.into_iter().map(|m| m.unwrap_or(0.0)).collect(),
        })
    }

    /// The fitted medians, one per input column; `None` for a column dropped as empty.
    pub fn medians(&self) -> Vec<Option<f64>> {
        self.medians
            .iter()
            .zip(&self.keep)
            .map(|(&m, &k)| k.then_some(m))
            .collect()
    }

    /// Which input columns the transform keeps.
    pub fn keep_mask(&self) -> &[bool] {
        &self.keep
    }

    /// Number of columns the imputer was fitted on.
    pub fn n_features_in(&self) -> usize {
        self.medians.len()
    }

    /// Number of columns the transform produces.
    pub fn n_features_out(&self) -> usize {
        self.keep.iter().filter(|&&k| k).count()
    }

    /// Replaces each NaN by its column's median and drops the empty columns, into a new matrix.
    ///
    /// Errors when `x` has a different number of columns than at fit time or holds an infinity.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        self.check_input(x.view())?;
        if self.n_features_out() == self.n_features_in() {
            return self.transform_owned(x.clone());
        }
        let kept: Vec<usize> = (0..self.keep.len()).filter(|&j| self.keep[j]).collect();
        let mut out = Array2::zeros((x.nrows(), kept.len()));
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(x.axis_iter(Axis(0)))
            .for_each(|(mut out_row, row)| {
                for (o, &j) in out_row.iter_mut().zip(&kept) {
                    let v = row[j];
                    *o = if v.is_nan() { self.medians[j] } else { v };
                }
            });
        Ok(out)
    }

    /// As [`transform`](Self::transform), but fills `x` in place when no column is dropped, so a
    /// large matrix is not copied.
    pub fn transform_owned(&self, mut x: Array2<f64>) -> Result<Array2<f64>> {
        self.check_input(x.view())?;
        if self.n_features_out() != self.n_features_in() {
            return self.transform(&x);
        }
        x.axis_iter_mut(Axis(0))
            .into_par_iter()
            .for_each(|mut row| {
                for (v, &m) in row.iter_mut().zip(&self.medians) {
                    if v.is_nan() {
                        *v = m;
                    }
                }
            });
        Ok(x)
    }

    fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        check_width("median imputer", self.medians.len(), x.ncols())?;
        check_no_infinity("median imputer", x)
    }
}

/// Centres each column on its training mean and divides by its training standard deviation.
///
/// scikit-learn semantics: NaNs are ignored when fitting and stay NaN when transforming; the
/// variance is the population one (ddof 0) from the corrected two-pass algorithm; a column whose
/// variance is indistinguishable from zero (`var <= n·eps·var + (n·mean·eps)²`) gets scale 1, so
/// constant columns become 0 instead of NaN. A column with no observed value has NaN mean and
/// scale, as in scikit-learn (the imputer before it drops such columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Per-column mean of the training values.
    #[serde(with = "nan_as_null::vec")]
    mean: Vec<f64>,
    /// Per-column population variance of the training values.
    #[serde(with = "nan_as_null::vec")]
    var: Vec<f64>,
    /// Per-column divisor: the standard deviation, or 1 for (near-)constant columns.
    #[serde(with = "nan_as_null::vec")]
    scale: Vec<f64>,
}

impl StandardScaler {
    /// Learned values a transform uses: a mean and a divisor per column.
    pub fn n_params(&self) -> u64 {
        (self.mean.len() + self.scale.len()) as u64
    }

    /// Learns each column's mean and standard deviation over its non-missing values.
    ///
    /// Errors on a matrix without rows or columns, or one containing an infinite value.
    pub fn fit(x: &Array2<f64>) -> Result<StandardScaler> {
        check_fit_input("standard scaler", x)?;
        check_no_infinity("standard scaler", x.view())?;
        let per_block: Vec<Vec<(f64, f64, f64)>> = column_blocks(x.ncols())
            .into_par_iter()
            .map(|(j0, j1)| {
                let block = x.slice(s![.., j0..j1]);
                let width = j1 - j0;
                // Sums run row after row like numpy's axis-0 reduction, so results match it bit
                // for bit in the common case.
                let mut count = vec![0.0f64; width];
                let mut sum = vec![0.0f64; width];
                for row in block.rows() {
                    for ((c, t), &v) in count.iter_mut().zip(sum.iter_mut()).zip(row) {
                        if !v.is_nan() {
                            *c += 1.0;
                            *t += v;
                        }
                    }
                }
                let mean: Vec<f64> = sum.iter().zip(&count).map(|(t, c)| t / c).collect();
                let mut correction = vec![0.0f64; width];
                let mut squares = vec![0.0f64; width];
                for row in block.rows() {
                    for (j, &v) in row.iter().enumerate() {
                        if !v.is_nan() {
                            let d = v - mean[j];
                            correction[j] += d;
                            squares[j] += d * d;
                        }
                    }
                }
                (0..width)
                    .map(|j| {
                        let var =
                            (squares[j] - correction[j] * correction[j] / count[j]) / count[j];
                        let eps = f64::EPSILON;
                        let n = count[j];
                        let bound = n * eps * var + (n * mean[j] * eps).powi(2);
                        let scale = if var <= bound { 1.0 } else { var.sqrt() };
                        (mean[j], var, scale)
                    })
                    .collect()
            })
            .collect();
        let stats: Vec<(f64, f64, f64)> = per_block.into_iter().flatten().collect();
        Ok(StandardScaler {
            mean: stats.iter().map(|s| s.0).collect(),
            var: stats.iter().map(|s| s.1).collect(),
            scale: stats.iter().map(|s| s.2).collect(),
        })
    }

    /// Per-column means (`mean_`).
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-column population variances (`var_`).
    pub fn var(&self) -> &[f64] {
        &self.var
    }

    /// Per-column divisors (`scale_`).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Number of columns the scaler was fitted on.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// `(x - mean) / scale`, into a new matrix. Errors on a column-count mismatch.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        check_width("standard scaler", self.mean.len(), x.ncols())?;
        self.transform_owned(x.clone())
    }

    /// As [`transform`](Self::transform), reusing `x`'s buffer.
    pub fn transform_owned(&self, mut x: Array2<f64>) -> Result<Array2<f64>> {
        check_width("standard scaler", self.mean.len(), x.ncols())?;
        x.axis_iter_mut(Axis(0))
            .into_par_iter()
            .for_each(|mut row| {
                for ((v, &m), &sc) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                    *v = (*v - m) / sc;
                }
            });
        Ok(x)
    }
}

/// The median of `values` (consumed), `None` when empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (_, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    // After selection everything left of n/2 is <= upper; the lower middle is their maximum.
    let lower = values[..n / 2]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    Some((lower + upper) / 2.0)
}

/// Half-open column ranges of at most [`BLOCK`] columns covering `0..ncols`.
fn column_blocks(ncols: usize) -> Vec<(usize, usize)> {
    (0..ncols)
        .step_by(BLOCK)
        .map(|j0| (j0, (j0 + BLOCK).min(ncols)))
        .collect()
}

fn check_fit_input(what: &str, x: &Array2<f64>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: cannot fit on a {} x {} matrix",
            x.nrows(),
            x.ncols()
        )));
    }
    Ok(())
}

fn check_width(what: &str, fitted: usize, got: usize) -> Result<()> {
    if fitted != got {
        return Err(Error::InvalidArgument(format!(
            "{what}: fitted on {fitted} features but the input has {got}"
        )));
    }
    Ok(())
}

fn check_no_infinity(what: &str, x: ArrayView2<f64>) -> Result<()> {
    let found = x
        .axis_iter(Axis(0))
        .into_par_iter()
        .enumerate()
        .find_map_first(|(i, row)| row.iter().position(|v| v.is_infinite()).map(|j| (i, j)));
    match found {
        Some((i, j)) => Err(Error::InvalidArgument(format!(
            "{what}: the input contains infinity at row {i}, column {j}"
        ))),
        None => Ok(()),
    }
}

/// Serde helpers writing NaN as JSON `null` and reading it back, since JSON has no NaN.
pub(crate) mod nan_as_null {
    /// For a single `f64`.
    pub mod scalar {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes NaN as `null`.
        pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            // serialize_some keeps self-describing and binary (bincode) formats symmetric.
            if v.is_nan() {
                s.serialize_none()
            } else {
                s.serialize_some(v)
            }
        }

        /// Reads `null` as NaN.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
        }
    }

    /// For a `Vec<f64>`.
    pub mod vec {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes each NaN as `null`.
        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| if x.is_nan() { None } else { Some(*x) }))
        }

        /// Reads each `null` as NaN.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            let raw = Vec::<Option<f64>>::deserialize(d)?;
            Ok(raw.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        }
    }
}
