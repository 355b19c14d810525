//! Random forest of CART trees as scikit-learn's `RandomForestClassifier` grows them (gini,
//! `max_features='sqrt'`, bootstrap, `min_samples_leaf=1`), with probabilities and MDI importances.
//!
//! The tree builder follows scikit-learn's `DepthFirstTreeBuilder` + `BestSplitter` + `Gini`:
//!
//! - features are cast to `f32` first (scikit-learn's trees work in `float32`), and so are queries;
//! - at each node up to `max_features` features are drawn without replacement; a feature that is
//!   constant in the node (max - min <= 1e-7) counts as drawn but drawing continues until at least
//!   one non-constant feature has been evaluated;
//! - candidate thresholds are midpoints between consecutive distinct sorted values (values closer
//!   than 1e-7 are one value), the best is the first one maximising scikit-learn's proxy
//!   `-(w_r gini_r + w_l gini_l)`; `x <= threshold` goes left;
//! - a node is a leaf at `max_depth`, below `min_samples_split` distinct samples, when pure
//!   (gini <= machine epsilon), or when no split exists; node ids are assigned in pre-order;
//! - bootstrap draws become integer sample weights, rows drawn zero times are left out.
//!
//! What cannot match scikit-learn is the random stream (numpy's MT19937 for bootstraps, the
//! splitter's own `rand_r` for feature draws); trees use ChaCha8 seeds derived from the seed, so a
//! forest is deterministic for a seed but not identical to scikit-learn's. With all features drawn
//! and no bootstrap, a tree is the same as `DecisionTreeClassifier`'s whenever no two features tie.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_prediction_input, check_training_input};
use crate::error::{Error, Result};

/// scikit-learn's `FEATURE_THRESHOLD`: values closer than this are one value.
const FEATURE_THRESHOLD: f64 = 1e-7;

/// How many features each split considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaxFeatures {
    /// `max(1, floor(sqrt(n_features)))`, the forest default.
    Sqrt,
    /// Every feature (a plain decision tree).
    All,
    /// A fixed count (clipped to the number of features).
    Count(usize),
}

impl MaxFeatures {
    /// The count for `n_features` features.
    pub fn resolve(self, n_features: usize) -> usize {
        match self {
            MaxFeatures::Sqrt => ((n_features as f64).sqrt().floor() as usize).max(1),
            MaxFeatures::All => n_features,
            MaxFeatures::Count(c) => c.clamp(1, n_features.max(1)),
        }
    }
}

/// Hyper-parameters of one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Features considered per split.
    pub max_features: MaxFeatures,
    /// Deepest level (root = 0); `None` grows until leaves are pure.
    pub max_depth: Option<usize>,
    /// A node with fewer distinct samples than this is a leaf (>= 2).
    pub min_samples_split: usize,
}

/// Hyper-parameters of [`ForestParams::fit_forest`], validated at construction.
///
/// Defaults (scikit-learn's): 100 trees, no depth limit, `min_samples_split = 2`,
/// `max_features = sqrt`, bootstrap on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForestParams {
    n_estimators: usize,
    max_depth: Option<usize>,
    min_samples_split: usize,
    max_features: MaxFeatures,
    bootstrap: bool,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_estimators: 100,
            max_depth: None,
            min_samples_split: 2,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
        }
    }
}

impl ForestParams {
    /// Checks `n_estimators >= 1`, `max_depth` unset or `>= 1`, `min_samples_split >= 2`.
    ///
    /// ```
    /// use vidcompare::classical::models::forest::ForestParams;
    /// assert!(ForestParams::new(200, None, 2).is_ok());
    /// assert!(ForestParams::new(0, None, 2).is_err());
    /// assert!(ForestParams::new(200, Some(0), 2).is_err());
    /// assert!(ForestParams::new(200, Some(20), 1).is_err());
    /// ```
    pub fn new(
        n_estimators: usize,
        max_depth: Option<usize>,
        min_samples_split: usize,
    ) -> Result<Self> {
        if n_estimators < 1 {
            return Err(Error::InvalidArgument(
                "rf: n_estimators must be >= 1, got 0".into(),
            ));
        }
        if max_depth == Some(0) {
            return Err(Error::InvalidArgument(
                "rf: max_depth must be null (unlimited) or >= 1, got 0".into(),
            ));
        }
        if min_samples_split < 2 {
            return Err(Error::InvalidArgument(format!(
                "rf: min_samples_split must be >= 2, got {min_samples_split}"
            )));
        }
        Ok(ForestParams {
            n_estimators,
            max_depth,
            min_samples_split,
            ..Default::default()
        })
    }

    /// Sets the features per split; a count must be >= 1.
    pub fn with_max_features(mut self, max_features: MaxFeatures) -> Result<Self> {
        if max_features == MaxFeatures::Count(0) {
            return Err(Error::InvalidArgument(
                "rf: max_features must be >= 1, got 0".into(),
            ));
        }
        self.max_features = max_features;
        Ok(self)
    }

    /// Turns bootstrap sampling on or off (off: every tree sees every row once).
    pub fn with_bootstrap(mut self, bootstrap: bool) -> Self {
        self.bootstrap = bootstrap;
        self
    }

    /// The number of trees.
    pub fn n_estimators(&self) -> usize {
        self.n_estimators
    }

    /// The parameters keyed like scikit-learn's (`max_depth`, `min_samples_split`,
    /// `n_estimators`, plus `max_features` / `bootstrap` when not the defaults).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "max_depth": self.max_depth,
            "min_samples_split": self.min_samples_split,
            "n_estimators": self.n_estimators,
        });
        match self.max_features {
            MaxFeatures::Sqrt => {}
            MaxFeatures::All => v["max_features"] = serde_json::Value::Null,
            MaxFeatures::Count(c) => v["max_features"] = c.into(),
        }
        if !self.bootstrap {
            v["bootstrap"] = false.into();
        }
        v
    }

    fn tree_params(&self) -> TreeParams {
        TreeParams {
            max_features: self.max_features,
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
        }
    }

    /// Grows the forest, trees in parallel. Tree `t` uses a ChaCha8 stream seeded by the `t`-th
    /// number drawn from `seed`, so the result does not depend on the thread count.
    pub fn fit_forest(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        seed: u64,
    ) -> Result<FittedForest> {
        check_training_input("rf", x, y, n_classes)?;
        check_row_count("rf", x)?;
        let (n, d) = x.dim();
        let columns = Columns::new(x);
        let mut seeder = ChaCha8Rng::seed_from_u64(seed);
        let seeds: Vec<u64> = (0..self.n_estimators).map(|_| seeder.r#gen()).collect();
        let params = self.tree_params();
        let bootstrap = self.bootstrap;
        let trees: Vec<DecisionTree> = seeds
            .par_iter()
            .map(|&s| {
                let mut rng = ChaCha8Rng::seed_from_u64(s);
                let weights = if bootstrap {
                    let mut counts = vec![0.0; n];
                    for _ in 0..n {
                        counts[rng.gen_range(0..n)] += 1.0;
                    }
                    counts
                } else {
                    vec![1.0; n]
                };
                grow_tree(&columns, y, n_classes, &weights, &params, &mut rng)
            })
            .collect();

        // scikit-learn averages the normalised importances of the trees that split at least once.
        let mut importances = vec![0.0; d];
        let splitting: Vec<&DecisionTree> = trees.iter().filter(|t| t.nodes.len() > 1).collect();
        for tree in &splitting {
            for (acc, v) in importances.iter_mut().zip(&tree.importances) {
                *acc += v;
            }
        }
        if !splitting.is_empty() {
            let count = splitting.len() as f64;
            importances.iter_mut().for_each(|v| *v /= count);
            let total: f64 = importances.iter().sum();
            if total > 0.0 {
                importances.iter_mut().for_each(|v| *v /= total);
            }
        }
        Ok(FittedForest {
            n_features: d,
            n_classes,
            trees,
            importances,
        })
    }
}

/// A trained forest; owns its trees, serialises and reloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedForest {
    n_features: usize,
    n_classes: usize,
    trees: Vec<DecisionTree>,
    importances: Vec<f64>,
}

impl FittedForest {
    /// The trees, in seed order.
    pub fn trees(&self) -> &[DecisionTree] {
        &self.trees
    }

    /// Mean decrease in impurity per feature, normalised to sum 1 (all zeros if no tree split),
    /// like scikit-learn's `feature_importances_`.
    pub fn feature_importances(&self) -> &[f64] {
        &self.importances
    }

    /// Total tree nodes over all trees.
    pub fn n_params(&self) -> (u64, &'static str) {
        (
            self.trees.iter().map(|t| t.nodes.len() as u64).sum(),
            "tree nodes",
        )
    }

    /// Mean over trees of each tree's leaf class fractions (scikit-learn's soft vote), `n_classes`
    /// wide; rows sum to 1.
    pub fn try_predict_proba(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        check_prediction_input("rf", x, self.n_features)?;
        let k = self.n_classes;
        let n_trees = self.trees.len() as f64;
        let rows: Vec<Vec<f64>> = (0..x.nrows())
            .into_par_iter()
            .map(|r| {
                let query: Vec<f32> = x.row(r).iter().map(|&v| v as f32).collect();
                let mut acc = vec![0.0; k];
                for tree in &self.trees {
                    for (a, v) in acc.iter_mut().zip(tree.leaf_value(&query)) {
                        *a += v;
                    }
                }
                acc.iter_mut().for_each(|a| *a /= n_trees);
                acc
            })
            .collect();
        Ok(rows_to_array(rows, k))
    }

    /// The class with the highest mean probability (first on ties).
    pub fn try_predict(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
        let proba = self.try_predict_proba(x)?;
        Ok(proba
            .rows()
            .into_iter()
            .map(|r| argmax(r.as_slice().unwrap_or(&r.to_vec())))
            .collect())
    }
}

/// One node of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TreeNode {
    /// `x[feature] <= threshold` (compared in `f32` precision) goes to `left`, else `right`.
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
        right: u32,
    },
    /// A leaf; `value` indexes its class fractions in the tree's leaf table.
    Leaf { value: u32 },
}

/// One CART tree: nodes in pre-order (scikit-learn's node ids) and class fractions per leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionTree {
    n_features: usize,
    n_classes: usize,
    nodes: Vec<TreeNode>,
    /// `n_leaves x n_classes` fractions, row-major.
    leaf_values: Vec<f64>,
    /// This tree's normalised MDI importances.
    importances: Vec<f64>,
}

impl DecisionTree {
    /// Grows one tree on all rows (optionally weighted; weight-0 rows are left out), like
    /// `DecisionTreeClassifier(max_features, max_depth, min_samples_split).fit(x, y, sample_weight)`.
    pub fn fit(
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        sample_weight: Option<&[f64]>,
        params: &TreeParams,
        seed: u64,
    ) -> Result<Self> {
        check_training_input("tree", x, y, n_classes)?;
        check_row_count("tree", x)?;
        if let Some(w) = sample_weight {
            if w.len() != y.len() || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::InvalidArgument(format!(
                    "tree: sample_weight must hold {} finite non-negative values",
                    y.len()
                )));
            }
            if !w.iter().any(|&v| v > 0.0) {
                return Err(Error::InvalidArgument(
                    "tree: every sample weight is 0".into(),
                ));
            }
        }
        if params.min_samples_split < 2 || params.max_depth == Some(0) {
            return Err(Error::InvalidArgument(
                "tree: min_samples_split must be >= 2 and max_depth null or >= 1".into(),
            ));
        }
        let weights = sample_weight.map_or_else(|| vec![1.0; y.len()], <[f64]>::to_vec);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(grow_tree(
            &Columns::new(x),
            y,
            n_classes,
            &weights,
            params,
            &mut rng,
        ))
    }

    /// The nodes in pre-order; node 0 is the root.
    pub fn nodes(&self) -> &[TreeNode] {
        &self.nodes
    }

    /// Normalised mean-decrease-in-impurity importances of this tree.
    pub fn feature_importances(&self) -> &[f64] {
        &self.importances
    }

    /// Class fractions of the leaf that `query` (already cast to `f32`) falls into.
    fn leaf_value(&self, query: &[f32]) -> &[f64] {
        let mut node = 0usize;
        loop {
            match self.nodes[node] {
                TreeNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    node = if f64::from(query[feature as usize]) <= threshold {
                        left as usize
                    } else {
                        right as usize
                    };
                }
                TreeNode::Leaf { value } => {
                    let start = value as usize * self.n_classes;
                    return &self.leaf_values[start..start + self.n_classes];
                }
            }
        }
    }

    /// Leaf class fractions per row, `n_classes` wide (scikit-learn's tree `predict_proba`).
    pub fn try_predict_proba(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        check_prediction_input("tree", x, self.n_features)?;
        let rows: Vec<Vec<f64>> = x
            .rows()
            .into_iter()
            .map(|r| {
                let query: Vec<f32> = r.iter().map(|&v| v as f32).collect();
                self.leaf_value(&query).to_vec()
            })
            .collect();
        Ok(rows_to_array(rows, self.n_classes))
    }
}

/// Row indices and node ids are stored in 32 bits.
fn check_row_count(model: &str, x: &Array2<f64>) -> Result<()> {
    if x.nrows() >= 1 << 31 {
        return Err(Error::InvalidArgument(format!(
            "{model}: {} training rows is more than this implementation supports (2^31 - 1)",
            x.nrows()
        )));
    }
    Ok(())
}

fn rows_to_array(rows: Vec<Vec<f64>>, width: usize) -> Array2<f64> {
    let n = rows.len();
    Array2::from_shape_vec((n, width), rows.into_iter().flatten().collect())
        .expect("every row has the stated width")
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The training matrix as `f32`, feature-major, so a node scans one feature contiguously.
struct Columns {
    n: usize,
    d: usize,
    data: Vec<f32>,
}

impl Columns {
    fn new(x: &Array2<f64>) -> Self {
        let (n, d) = x.dim();
        let mut data = Vec::with_capacity(n * d);
        for f in 0..d {
            data.extend(x.column(f).iter().map(|&v| v as f32));
        }
        Columns { n, d, data }
    }

    fn get(&self, feature: usize, row: usize) -> f32 {
        self.data[feature * self.n + row]
    }

    fn column(&self, feature: usize) -> &[f32] {
        &self.data[feature * self.n..(feature + 1) * self.n]
    }
}

/// Gini impurity from weighted class counts, in scikit-learn's operation order.
fn gini(counts: &[f64], weight: f64) -> f64 {
    let sq: f64 = counts.iter().fold(0.0, |acc, c| acc + c * c);
    1.0 - sq / (weight * weight)
}

struct Split {
    feature: usize,
    threshold: f64,
}

struct StackRecord {
    start: usize,
    end: usize,
    depth: usize,
    parent: Option<(usize, bool)>,
    impurity: f64,
}

fn grow_tree(
    cols: &Columns,
    y: &[usize],
    n_classes: usize,
    weights: &[f64],
    params: &TreeParams,
    rng: &mut ChaCha8Rng,
) -> DecisionTree {
    let d = cols.d;
    let k = n_classes;
    let max_features = params.max_features.resolve(d);
    let max_depth = params.max_depth.unwrap_or(usize::MAX);
    let mut samples: Vec<usize> = (0..cols.n).filter(|&i| weights[i] > 0.0).collect();
    let w_root: f64 = samples.iter().map(|&i| weights[i]).sum();

    let mut nodes: Vec<TreeNode> = Vec::new();
    let mut leaf_values: Vec<f64> = Vec::new();
    let mut importances = vec![0.0; d];
    let mut scratch: Vec<u64> = Vec::with_capacity(samples.len());
    let mut radix_buffer: Vec<u64> = Vec::with_capacity(samples.len());
    let mut features: Vec<usize> = (0..d).collect();
    let mut stack = vec![StackRecord {
        start: 0,
        end: samples.len(),
        depth: 0,
        parent: None,
        impurity: f64::INFINITY,
    }];

    while let Some(rec) = stack.pop() {
        let node_samples = &mut samples[rec.start..rec.end];
        let mut counts = vec![0.0; k];
        let mut w_node = 0.0;
        for &i in node_samples.iter() {
            counts[y[i]] += weights[i];
            w_node += weights[i];
        }
        let n_node = node_samples.len();
        let impurity = if rec.parent.is_none() {
            gini(&counts, w_node)
        } else {
            rec.impurity
        };
        let mut is_leaf = rec.depth >= max_depth || n_node < params.min_samples_split || n_node < 2;
        is_leaf = is_leaf || impurity <= f64::EPSILON;

        let mut chosen = None;
        if !is_leaf {
            let split = best_split(
                cols,
                y,
                weights,
                node_samples,
                &counts,
                w_node,
                max_features,
                &mut features,
                &mut scratch,
                &mut radix_buffer,
                rng,
            );
            match split {
                None => is_leaf = true,
                Some(s) => {
                    // Partition: rows going left first, as the threshold sends them.
                    let mut left = 0;
                    for t in 0..node_samples.len() {
                        let i = node_samples[t];
                        if f64::from(cols.get(s.feature, i)) <= s.threshold {
                            node_samples.swap(left, t);
                            left += 1;
                        }
                    }
                    let mut counts_left = vec![0.0; k];
                    let mut w_left = 0.0;
                    for &i in &node_samples[..left] {
                        counts_left[y[i]] += weights[i];
                        w_left += weights[i];
                    }
                    let counts_right: Vec<f64> = counts
                        .iter()
                        .zip(&counts_left)
                        .map(|(t, l)| t - l)
                        .collect();
                    let w_right = w_node - w_left;
                    let imp_left = gini(&counts_left, w_left);
                    let imp_right = gini(&counts_right, w_right);
                    let improvement = (w_node / w_root)
                        * (impurity
                            - (w_right / w_node * imp_right)
                            - (w_left / w_node * imp_left));
                    if improvement + f64::EPSILON < 0.0 {
                        is_leaf = true;
                    } else {
                        importances[s.feature] +=
                            w_node * impurity - w_left * imp_left - w_right * imp_right;
                        chosen = Some((s, rec.start + left, imp_left, imp_right));
                    }
                }
            }
        }

        let node_id = nodes.len();
        if let Some((parent, is_left)) = rec.parent
            && let TreeNode::Split { left, right, .. } = &mut nodes[parent]
        {
            if is_left {
                *left = node_id as u32;
            } else {
                *right = node_id as u32;
            }
        }
        match chosen {
            Some((s, pos, imp_left, imp_right)) if !is_leaf => {
                nodes.push(TreeNode::Split {
                    feature: s.feature as u32,
                    threshold: s.threshold,
                    left: 0,
                    right: 0,
                });
                stack.push(StackRecord {
                    start: pos,
                    end: rec.end,
                    depth: rec.depth + 1,
                    parent: Some((node_id, false)),
                    impurity: imp_right,
                });
                stack.push(StackRecord {
                    start: rec.start,
                    end: pos,
                    depth: rec.depth + 1,
                    parent: Some((node_id, true)),
                    impurity: imp_left,
                });
            }
            _ => {
                let value = (leaf_values.len() / k.max(1)) as u32;
                // scikit-learn stores count / weight, then predict_proba divides by the row sum.
                let fractions: Vec<f64> = counts.iter().map(|c| c / w_node).collect();
                let mut total: f64 = fractions.iter().sum();
                if total == 0.0 {
                    total = 1.0;
                }
                leaf_values.extend(fractions.iter().map(|f| f / total));
                nodes.push(TreeNode::Leaf { value });
            }
        }
    }

    for v in importances.iter_mut() {
        *v /= w_root;
    }
    let total: f64 = importances.iter().sum();
    if total > 0.0 {
        importances.iter_mut().for_each(|v| *v /= total);
    }
    DecisionTree {
        n_features: d,
        n_classes,
        nodes,
        leaf_values,
        importances,
    }
}

/// A feature value and a row index in one integer whose order is the value's total order, then
/// the row's. Rows are below 2^32 (checked when the forest is fitted).
fn pack(value: f32, row: usize) -> u64 {
    let bits = value.to_bits();
    // Negative floats order reversed as integers: flip all their bits; positives: flip the sign.
    let key = if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u64::from(key) << 32) | row as u64
}

fn unpack_value(packed: u64) -> f32 {
    let key = (packed >> 32) as u32;
    f32::from_bits(if key & 0x8000_0000 != 0 {
        key & 0x7FFF_FFFF
    } else {
        !key
    })
}

/// Sorts packed entries by their value key (the high 32 bits); the order of equal values is
/// irrelevant because equal values always land on the same side of a threshold. Large nodes use
/// an LSD radix sort (4 byte passes, skipping bytes all keys share), small ones a comparison sort.
fn sort_by_value(v: &mut Vec<u64>, buffer: &mut Vec<u64>) {
    const RADIX_MIN: usize = 64;
    if v.len() < RADIX_MIN {
        v.sort_unstable();
        return;
    }
    buffer.clear();
    buffer.resize(v.len(), 0);
    for shift in [32u32, 40, 48, 56] {
        let mut offsets = [0usize; 256];
        for &x in v.iter() {
            offsets[((x >> shift) & 0xFF) as usize] += 1;
        }
        if offsets.contains(&v.len()) {
            continue;
        }
        let mut total = 0;
        for o in offsets.iter_mut() {
            let count = *o;
            *o = total;
            total += count;
        }
        for &x in v.iter() {
            let b = ((x >> shift) & 0xFF) as usize;
            buffer[offsets[b]] = x;
            offsets[b] += 1;
        }
        std::mem::swap(v, buffer);
    }
}

/// scikit-learn's `node_split_best` for one node; `None` when every drawn feature is constant.
#[allow(clippy::too_many_arguments)]
fn best_split(
    cols: &Columns,
    y: &[usize],
    weights: &[f64],
    node_samples: &[usize],
    counts_total: &[f64],
    w_node: f64,
    max_features: usize,
    features: &mut [usize],
    scratch: &mut Vec<u64>,
    radix_buffer: &mut Vec<u64>,
    rng: &mut ChaCha8Rng,
) -> Option<Split> {
    let d = features.len();
    let k = counts_total.len();
    let mut best: Option<Split> = None;
    let mut best_proxy = f64::NEG_INFINITY;
    let mut constants = 0usize;
    let mut sum_left = vec![0.0; k];
    // `drawn` counts the features visited so far, constant ones included, as scikit-learn's
    // n_visited_features does: stop after max_features unless all of them were constant.
    for drawn in 0..d {
        if !(drawn < max_features || drawn <= constants) {
            break;
        }
        // Fisher-Yates, one draw at a time: features[drawn] is a uniform pick among the undrawn.
        let j = rng.gen_range(drawn..d);
        features.swap(drawn, j);
        let f = features[drawn];

        // Sorting plain u64s (value's order-preserving bits, then row) is much faster than sorting
        // (f32, row) pairs through a float comparator.
        let column = cols.column(f);
        scratch.clear();
        scratch.extend(node_samples.iter().map(|&i| pack(column[i], i)));
        sort_by_value(scratch, radix_buffer);
        let value = |t: usize| f64::from(unpack_value(scratch[t]));
        let row = |t: usize| (scratch[t] & 0xFFFF_FFFF) as usize;
        let m = scratch.len();
        if value(m - 1) <= value(0) + FEATURE_THRESHOLD {
            constants += 1;
            continue;
        }

        sum_left.iter_mut().for_each(|v| *v = 0.0);
        let mut w_left = 0.0;
        let mut moved = 0usize;
        let mut p = 0usize;
        while p < m {
            while p + 1 < m && value(p + 1) <= value(p) + FEATURE_THRESHOLD {
                p += 1;
            }
            let p_prev = p;
            p += 1;
            if p >= m {
                break;
            }
            for t in moved..p {
                let i = row(t);
                sum_left[y[i]] += weights[i];
                w_left += weights[i];
            }
            moved = p;
            let w_right = w_node - w_left;
            let mut sq_left = 0.0;
            let mut sq_right = 0.0;
            for c in 0..k {
                sq_left += sum_left[c] * sum_left[c];
                let r = counts_total[c] - sum_left[c];
                sq_right += r * r;
            }
            let gini_left = 1.0 - sq_left / (w_left * w_left);
            let gini_right = 1.0 - sq_right / (w_right * w_right);
            let proxy = -w_right * gini_right - w_left * gini_left;
            if proxy > best_proxy {
                best_proxy = proxy;
                let lo = value(p_prev);
                let hi = value(p);
                let mut threshold = lo / 2.0 + hi / 2.0;
                if threshold == hi || threshold.is_infinite() {
                    threshold = lo;
                }
                best = Some(Split {
                    feature: f,
                    threshold,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_sort_in_float_order_and_unpack() {
        let values = [
            f32::NEG_INFINITY,
            -1.5,
            -1e-30,
            -0.0,
            0.0,
            1e-30,
            2.0,
            f32::INFINITY,
        ];
        let mut packed: Vec<u64> = values
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &v)| pack(v, i))
            .collect();
        let mut buffer = Vec::new();
        sort_by_value(&mut packed, &mut buffer);
        let back: Vec<f32> = packed.iter().map(|&p| unpack_value(p)).collect();
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.map(f32::to_bits)
        );

        // The radix path (>= 64 entries) agrees with a comparison sort.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let raw: Vec<f32> = (0..500).map(|_| rng.gen_range(-3.0f32..3.0)).collect();
        let mut packed: Vec<u64> = raw.iter().enumerate().map(|(i, &v)| pack(v, i)).collect();
        sort_by_value(&mut packed, &mut buffer);
        let mut expected = raw.clone();
        expected.sort_by(f32::total_cmp);
        let got: Vec<f32> = packed.iter().map(|&p| unpack_value(p)).collect();
        assert_eq!(got, expected);
        let rows: Vec<usize> = packed.iter().map(|&p| (p & 0xFFFF_FFFF) as usize).collect();
        assert!(rows.iter().zip(&got).all(|(&r, &v)| raw[r] == v));
    }
}
