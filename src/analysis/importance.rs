//! Which inputs a classifier relies on: permutation importance on the original (named) features,
//! grouped by feature family or by feature, and the random forest's importance of PCA components.
//!
//! Permutation importance follows scikit-learn's `permutation_importance`: the score (accuracy) on
//! the given rows, minus the score after the rows of a column are shuffled, averaged over repeats.
//! A group of columns (a whole family, or every statistic of one feature) is shuffled with one
//! permutation of the rows, so the group's columns keep their joint values and the group as a whole
//! is cut from the labels. For a group of one column this is exactly scikit-learn's definition.

use ndarray::Array2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classical::models::FittedModel;
use crate::classical::pipeline::Preprocessor;
use crate::error::{Error, Result};
use crate::features::layout::{Family, Layout};
use crate::metrics::accuracy;

/// A named set of feature columns that is permuted together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureGroup {
    /// E.g. `motion` or `shape/hog`.
    pub name: String,
    /// Column indices into the feature matrix.
    pub columns: Vec<usize>,
}

/// One group per feature family present in `layout` (colour, texture, shape, motion).
pub fn groups_by_family(layout: &Layout) -> Vec<FeatureGroup> {
    let families = layout.families();
    Family::ALL
        .iter()
        .map(|&f| FeatureGroup {
            name: f.as_str().to_string(),
            columns: (0..families.len()).filter(|&i| families[i] == f).collect(),
        })
        .filter(|g| !g.columns.is_empty())
        .collect()
}

/// One group per `family/feature` of `layout` (e.g. `shape/hog`, `motion/lk`), every temporal
/// statistic of the feature included, in layout order.
pub fn groups_by_feature(layout: &Layout) -> Vec<FeatureGroup> {
    let mut groups: Vec<FeatureGroup> = Vec::new();
    for (family, feature, _stat, range) in layout.ranges() {
        let name = format!("{family}/{feature}");
        match groups.iter_mut().find(|g| g.name == name) {
            Some(g) => g.columns.extend(range),
            None => groups.push(FeatureGroup {
                name,
                columns: range.collect(),
            }),
        }
    }
    groups
}

/// One group per column, named by `names` (or the column index): scikit-learn's own setting.
pub fn single_columns(n_columns: usize, names: Option<&[String]>) -> Vec<FeatureGroup> {
    (0..n_columns)
        .map(|j| FeatureGroup {
            name: names
                .and_then(|n| n.get(j).cloned())
                .unwrap_or_else(|| j.to_string()),
            columns: vec![j],
        })
        .collect()
}

/// The importance of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupImportance {
    /// The group's name.
    pub name: String,
    /// Number of columns in the group.
    pub n_columns: usize,
    /// Mean score decrease over the repeats.
    pub mean: f64,
    /// Population standard deviation of the decrease over the repeats (NumPy's `std`).
    pub std: f64,
    /// The decrease of each repeat.
    pub repeats: Vec<f64>,
}

/// Permutation importances of every group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermutationImportance {
    /// Accuracy on the unpermuted rows.
    pub baseline: f64,
    /// Rows scored.
    pub n_rows: usize,
    /// One entry per group, in the order given.
    pub groups: Vec<GroupImportance>,
}

fn check_groups(x: &Array2<f64>, y: &[usize], groups: &[FeatureGroup]) -> Result<()> {
    if x.nrows() != y.len() {
        return Err(Error::InvalidArgument(format!(
            "permutation importance: {} rows but {} labels",
            x.nrows(),
            y.len()
        )));
    }
    if x.nrows() < 2 {
        return Err(Error::InvalidArgument(
            "permutation importance needs at least two rows".into(),
        ));
    }
    for g in groups {
        if let Some(&bad) = g.columns.iter().find(|&&c| c >= x.ncols()) {
            return Err(Error::InvalidArgument(format!(
                "feature group `{}`: column {bad} is outside the {} columns",
                g.name,
                x.ncols()
            )));
        }
    }
    Ok(())
}

/// Permutation importance with the row permutations given: `permutations[g][r]` is the permutation
/// of repeat `r` for group `g`, applied as `x_perm[i, c] = x[perm[i], c]` for every column `c` of
/// the group. `predict` maps feature rows to class predictions (a whole pipeline: imputation,
/// scaling, PCA and classifier). Groups are scored in parallel.
pub fn permutation_importance_with<F>(
    predict: F,
    x: &Array2<f64>,
    y: &[usize],
    groups: &[FeatureGroup],
    permutations: &[Vec<Vec<usize>>],
) -> Result<PermutationImportance>
where
    F: Fn(&Array2<f64>) -> Result<Vec<usize>> + Sync,
{
    check_groups(x, y, groups)?;
    if permutations.len() != groups.len() {
        return Err(Error::InvalidArgument(format!(
            "permutation importance: {} permutation lists for {} groups",
            permutations.len(),
            groups.len()
        )));
    }
    let n = x.nrows();
    for p in permutations.iter().flatten() {
        let mut seen = vec![false; n];
        if p.len() != n
            || !p
                .iter()
                .all(|&i| i < n && !std::mem::replace(&mut seen[i], true))
        {
            return Err(Error::InvalidArgument(format!(
                "permutation importance: a permutation is not a permutation of 0..{n}"
            )));
        }
    }
    let baseline = accuracy(y, &predict(x)?)?;
    let groups = groups
        .par_iter()
        .zip(permutations.par_iter())
        .map(|(g, perms)| {
            let mut xp = x.clone();
            let mut repeats = Vec::with_capacity(perms.len());
            for perm in perms {
                for &c in &g.columns {
                    for (i, &src) in perm.iter().enumerate() {
                        xp[[i, c]] = x[[src, c]];
                    }
                }
                repeats.push(baseline - accuracy(y, &predict(&xp)?)?);
            }
            Ok(summarise(g, repeats))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PermutationImportance {
        baseline,
        n_rows: n,
        groups,
    })
}

/// `n_repeats` seeded row permutations of `0..n` for each of `n_groups` groups: group `g` draws
/// from its own ChaCha8 stream of `seed`, so the result does not depend on scheduling.
pub fn seeded_permutations(
    n: usize,
    n_groups: usize,
    n_repeats: usize,
    seed: u64,
) -> Vec<Vec<Vec<usize>>> {
    (0..n_groups)
        .map(|g| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(g as u64 + 1);
            (0..n_repeats)
                .map(|_| {
                    let mut p: Vec<usize> = (0..n).collect();
                    p.shuffle(&mut rng);
                    p
                })
                .collect()
        })
        .collect()
}

fn summarise(g: &FeatureGroup, repeats: Vec<f64>) -> GroupImportance {
    let k = repeats.len().max(1) as f64;
    let mean = repeats.iter().sum::<f64>() / k;
    let std = (repeats.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / k).sqrt();
    GroupImportance {
        name: g.name.clone(),
        n_columns: g.columns.len(),
        mean,
        std,
        repeats,
    }
}

/// Permutation importance of a whole classical pipeline (imputation, scaling, family weights,
/// PCA, classifier) on raw feature rows, with the same permutations as [`permutation_importance`]
/// and the same result up to floating-point rounding, but quicker.
///
/// Everything before the classifier is per-column affine and then linear (imputing, centring,
/// scaling and weighting act on each column alone; PCA is a projection), so shuffling the rows of a
/// group's columns moves the PCA scores by the shuffled columns' own contribution:
/// `z' = z + Σ_c (t_c(x[perm, c]) − t_c(x[:, c])) · V[:, c]ᵀ`. Each repeat then costs the group's
/// columns instead of the whole vector (163,828 values per video for the notebook's features).
pub fn pipeline_permutation_importance(
    prep: &Preprocessor,
    model: &FittedModel,
    x: &Array2<f64>,
    y: &[usize],
    groups: &[FeatureGroup],
    n_repeats: usize,
    seed: u64,
) -> Result<PermutationImportance> {
    check_groups(x, y, groups)?;
    if n_repeats == 0 {
        return Err(Error::InvalidArgument(
            "permutation importance needs at least one repeat".into(),
        ));
    }
    // Per-column transform up to the PCA: impute, scale, weight (dropping zero weights).
    let xs = prep.scaler.transform_owned(prep.imputer.transform(x)?)?;
    if prep.weights.len() != xs.ncols() {
        return Err(Error::InvalidArgument(format!(
            "preprocessor: {} weights for {} columns",
            prep.weights.len(),
            xs.ncols()
        )));
    }
    let mut column_of: Vec<Option<usize>> = vec![None; x.ncols()];
    let mut kept = 0;
    let mut weighted = 0;
    for (j, keep) in prep.imputer.keep_mask().iter().enumerate() {
        if !keep {
            continue;
        }
        if prep.weights[kept] != 0.0 {
            column_of[j] = Some(weighted);
            weighted += 1;
        }
        kept += 1;
    }
    let keep_cols: Vec<usize> = (0..prep.weights.len())
        .filter(|&c| prep.weights[c] != 0.0)
        .collect();
    let mut xw = xs.select(ndarray::Axis(1), &keep_cols);
    for (mut col, &c) in xw.columns_mut().into_iter().zip(&keep_cols) {
        col *= prep.weights[c];
    }
    let z0 = prep.pca.transform(&xw)?;
    let components = prep.pca.components();
    let baseline = accuracy(y, &model.try_predict(&z0)?)?;
    let permutations = seeded_permutations(x.nrows(), groups.len(), n_repeats, seed);
    let out = groups
        .par_iter()
        .zip(permutations.par_iter())
        .map(|(g, perms)| {
            let cols: Vec<usize> = g.columns.iter().filter_map(|&c| column_of[c]).collect();
            let mut repeats = Vec::with_capacity(perms.len());
            for perm in perms {
                let mut z = z0.clone();
                for &c in &cols {
                    let v = components.column(c);
                    for (i, &src) in perm.iter().enumerate() {
                        let d = xw[[src, c]] - xw[[i, c]];
                        if d != 0.0 {
                            z.row_mut(i).scaled_add(d, &v);
                        }
                    }
                }
                repeats.push(baseline - accuracy(y, &model.try_predict(&z)?)?);
            }
            Ok(summarise(g, repeats))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PermutationImportance {
        baseline,
        n_rows: x.nrows(),
        groups: out,
    })
}

/// Permutation importance with `n_repeats` seeded permutations per group (group `g` draws from its
/// own stream seeded by `seed` and `g`, so the result does not depend on scheduling).
pub fn permutation_importance<F>(
    predict: F,
    x: &Array2<f64>,
    y: &[usize],
    groups: &[FeatureGroup],
    n_repeats: usize,
    seed: u64,
) -> Result<PermutationImportance>
where
    F: Fn(&Array2<f64>) -> Result<Vec<usize>> + Sync,
{
    if n_repeats == 0 {
        return Err(Error::InvalidArgument(
            "permutation importance needs at least one repeat".into(),
        ));
    }
    let permutations = seeded_permutations(x.nrows(), groups.len(), n_repeats, seed);
    permutation_importance_with(predict, x, y, groups, &permutations)
}

impl PermutationImportance {
    /// The groups by decreasing mean importance (ties by name): the order the report lists them.
    pub fn ranked(&self) -> Vec<&GroupImportance> {
        let mut order: Vec<&GroupImportance> = self.groups.iter().collect();
        order.sort_by(|a, b| b.mean.total_cmp(&a.mean).then(a.name.cmp(&b.name)));
        order
    }
}

/// The `top` largest of a random forest's mean-decrease-in-impurity importances of its input
/// columns (PCA components), as `(column, importance)`, largest first (ties by column).
pub fn top_components(importances: &[f64], top: usize) -> Vec<(usize, f64)> {
    let mut idx: Vec<usize> = (0..importances.len()).collect();
    idx.sort_by(|&a, &b| importances[b].total_cmp(&importances[a]).then(a.cmp(&b)));
    idx.truncate(top);
    idx.into_iter().map(|i| (i, importances[i])).collect()
}
