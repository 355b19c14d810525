//! Support-vector classifier as scikit-learn's `SVC(probability=True)` runs it: libsvm's C-SVC.
//!
//! - Training is libsvm's SMO solver (Fan, Chen & Lin 2005: second-order working-set selection,
//!   shrinking, stopping tolerance 1e-3), transcribed step by step so that decision values land
//!   within the solver tolerance of scikit-learn's. Kernel rows are stored as `f32` and RBF rows use
//!   the `|x|^2 + |y|^2 - 2 x.y` form during training, as libsvm does; prediction uses the exact
//!   `exp(-gamma |x - y|^2)` form, as libsvm's `k_function` does. Dot products use four running
//!   sums (rounding differs from libsvm's index-order sums at the 1e-16 level).
//! - Multi-class is one-vs-one over the classes present in the training labels, sorted (scikit-learn's
//!   libsvm fork sorts labels); prediction is majority voting, ties to the lowest class index.
//! - Probabilities are Platt scaling fitted on 5-fold cross-validated decision values of each pair
//!   (Lin, Lin & Weng 2007), coupled into class probabilities by Wu, Lin & Weng (2004) method 2,
//!   exactly as libsvm's `multiclass_probability` (also for two classes, where libsvm's iteration
//!   stops within 0.005/k of the closed form). The cross-validation split is a seeded ChaCha8
//!   shuffle: libsvm's own `rand()`-based split cannot be reproduced, so probabilities agree with
//!   scikit-learn's only approximately (typically within a few hundredths).

use std::sync::OnceLock;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_prediction_input, check_training_input, four_sums};
use crate::classical::search::{Estimator, Fitted};
use crate::error::{Error, Result};

/// libsvm's stopping tolerance (`eps`, scikit-learn's `tol` default).
pub const TOLERANCE: f64 = 1e-3;
/// libsvm's floor for a non-positive quadratic coefficient.
const TAU: f64 = 1e-12;
/// Folds of the internal cross-validation that produces decision values for Platt scaling.
const PLATT_FOLDS: usize = 5;
/// Pairwise probabilities are clipped to `[MIN_PROB, 1 - MIN_PROB]` before coupling.
const MIN_PROB: f64 = 1e-7;
/// Up to this many training rows the whole kernel matrix is computed up front, in parallel
/// (`n^2` f32 values: 256 MiB at the limit); above it, rows are computed when the solver asks.
const PREFILL_LIMIT: usize = 8192;

/// The kernel of an SVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kernel {
    /// `x . y`
    Linear,
    /// `exp(-gamma |x - y|^2)`
    Rbf,
}

impl Kernel {
    /// scikit-learn's name for the kernel.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Linear => "linear",
            Kernel::Rbf => "rbf",
        }
    }
}

/// The RBF kernel width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Gamma {
    /// scikit-learn's `'scale'`: `1 / (n_features * X.var())` over the whole training matrix
    /// (1 when that variance is 0).
    Scale,
    /// A fixed positive value.
    Value(f64),
}

/// Hyper-parameters of [`SvmParams::fit_svm`], validated at construction.
///
/// Defaults (scikit-learn's): `C = 1`, `kernel = rbf`, `gamma = scale`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SvmParams {
    c: f64,
    kernel: Kernel,
    gamma: Gamma,
}

impl Default for SvmParams {
    fn default() -> Self {
        SvmParams {
            c: 1.0,
            kernel: Kernel::Rbf,
            gamma: Gamma::Scale,
        }
    }
}

impl SvmParams {
    /// Checks `C > 0` (finite) and a numeric gamma `> 0` (finite).
    ///
    /// ```
    /// use vidcompare::classical::models::svm::{Gamma, Kernel, SvmParams};
    /// assert!(SvmParams::new(1.0, Kernel::Rbf, Gamma::Scale).is_ok());
    /// assert!(SvmParams::new(0.0, Kernel::Rbf, Gamma::Scale).is_err());
    /// assert!(SvmParams::new(1.0, Kernel::Rbf, Gamma::Value(-1.0)).is_err());
    /// ```
    pub fn new(c: f64, kernel: Kernel, gamma: Gamma) -> Result<Self> {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "svm: C must be a finite number > 0, got {c}"
            )));
        }
        if let Gamma::Value(g) = gamma {
            if !(g.is_finite() && g > 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "svm: gamma must be 'scale' or a finite number > 0, got {g}"
                )));
            }
        }
        Ok(SvmParams { c, kernel, gamma })
    }

    /// The regularisation constant `C`.
    pub fn c(&self) -> f64 {
        self.c
    }

    /// The kernel.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The kernel width setting (ignored by the linear kernel, as in scikit-learn).
    pub fn gamma(&self) -> Gamma {
        self.gamma
    }

    /// The parameters keyed like scikit-learn's (`C`, `gamma`, `kernel`).
    pub fn to_json(&self) -> serde_json::Value {
        let gamma = match self.gamma {
            Gamma::Scale => serde_json::Value::from("scale"),
            Gamma::Value(g) => serde_json::Value::from(g),
        };
        serde_json::json!({ "C": self.c, "gamma": gamma, "kernel": self.kernel.name() })
    }

    /// Trains one-vs-one C-SVCs with Platt probabilities. `y` holds labels in `0..n_classes`; at
    /// least two distinct labels must occur (libsvm refuses one class too). `seed` drives the
    /// Platt cross-validation shuffle only.
    pub fn fit_svm(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        seed: u64,
    ) -> Result<FittedSvm> {
        check_training_input("svm", x, y, n_classes)?;
        let (n, d) = x.dim();
        let mut labels: Vec<usize> = y.to_vec();
        labels.sort_unstable();
        labels.dedup();
        if labels.len() < 2 {
            return Err(Error::InvalidArgument(format!(
                "svm: the training labels must contain at least two classes, found only class {}",
                labels[0]
            )));
        }
        let gamma = match (self.kernel, self.gamma) {
            (Kernel::Linear, _) => 0.0,
            (Kernel::Rbf, Gamma::Value(g)) => g,
            (Kernel::Rbf, Gamma::Scale) => scale_gamma(x),
        };
        let kernel = KernelFn {
            kernel: self.kernel,
            gamma,
        };
        let x_std = x.as_standard_layout();
        let flat = x_std.as_slice().expect("standard layout is contiguous");
        let gram = Gram::new(flat, n, d, kernel);
        if n <= PREFILL_LIMIT {
            gram.prefill();
        }

        // libsvm's svm_group_classes: rows of each class (in label order) in their original order.
        let k = labels.len();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (row, &label) in y.iter().enumerate() {
            let c = labels
                .binary_search(&label)
                .expect("label is among the present labels");
            members[c].push(row);
        }
        let pairs: Vec<(usize, usize)> = (0..k)
            .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
            .collect();

        let trained: Vec<PairModel> = pairs
            .par_iter()
            .enumerate()
            .map(|(p, &(i, j))| {
                let gidx: Vec<usize> = members[i].iter().chain(&members[j]).copied().collect();
                let signs: Vec<i8> = std::iter::repeat_n(1i8, members[i].len())
                    .chain(std::iter::repeat_n(-1i8, members[j].len()))
                    .collect();
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(p as u64);
                let ((prob_a, prob_b), (coef, rho)) = rayon::join(
                    || binary_svc_probability(&gram, &gidx, &signs, self.c, &mut rng),
                    || solve_c_svc(&gram, &gidx, &signs, self.c),
                );
                PairModel {
                    coef,
                    rho,
                    prob_a,
                    prob_b,
                }
            })
            .collect();

        // libsvm's model layout: support vectors grouped by class; the coefficients of pair (i, j)
        // for class i's vectors live in sv_coef[j - 1], for class j's vectors in sv_coef[i].
        let mut nonzero: Vec<Vec<bool>> = members.iter().map(|m| vec![false; m.len()]).collect();
        for (&(i, j), model) in pairs.iter().zip(&trained) {
            let ci = members[i].len();
            for (t, &a) in model.coef.iter().enumerate() {
                if a.abs() > 0.0 {
                    if t < ci {
                        nonzero[i][t] = true;
                    } else {
                        nonzero[j][t - ci] = true;
                    }
                }
            }
        }
        let n_sv: Vec<usize> = nonzero
            .iter()
            .map(|v| v.iter().filter(|&&b| b).count())
            .collect();
        let sv_start: Vec<usize> = n_sv
            .iter()
            .scan(0, |acc, &c| {
                let s = *acc;
                *acc += c;
                Some(s)
            })
            .collect();
        let total_sv: usize = n_sv.iter().sum();
        let mut support_indices = Vec::with_capacity(total_sv);
        for (c, flags) in nonzero.iter().enumerate() {
            for (t, &nz) in flags.iter().enumerate() {
                if nz {
                    support_indices.push(members[c][t]);
                }
            }
        }
        let mut support_vectors = Array2::<f64>::zeros((total_sv, d));
        for (r, &row) in support_indices.iter().enumerate() {
            support_vectors.row_mut(r).assign(&x.row(row));
        }
        let mut sv_coef = Array2::<f64>::zeros((k - 1, total_sv));
        for (&(i, j), model) in pairs.iter().zip(&trained) {
            let ci = members[i].len();
            let (coef_i, coef_j) = model.coef.split_at(ci);
            let kept_i = coef_i.iter().zip(&nonzero[i]).filter(|(_, nz)| **nz);
            for (q, (&a, _)) in (sv_start[i]..).zip(kept_i) {
                sv_coef[[j - 1, q]] = a;
            }
            let kept_j = coef_j.iter().zip(&nonzero[j]).filter(|(_, nz)| **nz);
            for (q, (&a, _)) in (sv_start[j]..).zip(kept_j) {
                sv_coef[[i, q]] = a;
            }
        }
        Ok(FittedSvm {
            kernel: self.kernel,
            gamma,
            n_features: d,
            n_classes,
            labels,
            n_sv,
            support_indices,
            support_vectors,
            sv_coef,
            rho: trained.iter().map(|m| m.rho).collect(),
            prob_a: trained.iter().map(|m| m.prob_a).collect(),
            prob_b: trained.iter().map(|m| m.prob_b).collect(),
        })
    }
}

impl Estimator for SvmParams {
    fn fit(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        seed: u64,
    ) -> Result<Box<dyn Fitted>> {
        Ok(Box::new(self.fit_svm(x, y, n_classes, seed)?))
    }

    fn describe(&self) -> serde_json::Value {
        self.to_json()
    }
}

/// scikit-learn's `gamma='scale'`: `1 / (n_features * X.var())`, the variance over all entries.
pub fn scale_gamma(x: &Array2<f64>) -> f64 {
    let count = x.len() as f64;
    let mean = x.iter().sum::<f64>() / count;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    if var == 0.0 {
        1.0
    } else {
        1.0 / (x.ncols() as f64 * var)
    }
}

/// A trained one-vs-one SVM that owns its support vectors, so it serialises and reloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedSvm {
    kernel: Kernel,
    /// The resolved RBF width (0 for the linear kernel).
    gamma: f64,
    n_features: usize,
    n_classes: usize,
    /// The classes present in training, ascending (libsvm's label order).
    labels: Vec<usize>,
    /// Support vectors per present class.
    n_sv: Vec<usize>,
    /// Training-row index of each support vector.
    support_indices: Vec<usize>,
    support_vectors: Array2<f64>,
    /// libsvm's `(k - 1) x n_sv` dual-coefficient layout.
    sv_coef: Array2<f64>,
    /// One intercept per pair (libsvm's `rho`; decision = sum - rho).
    rho: Vec<f64>,
    prob_a: Vec<f64>,
    prob_b: Vec<f64>,
}

impl FittedSvm {
    /// The resolved kernel width used (0 for the linear kernel).
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// The classes seen in training, ascending; pair order and probability columns follow them.
    pub fn classes(&self) -> &[usize] {
        &self.labels
    }

    /// Support vectors per class present, like scikit-learn's `n_support_`.
    pub fn n_support(&self) -> &[usize] {
        &self.n_sv
    }

    /// Training-row indices of the support vectors (grouped by class), like `support_`.
    pub fn support_indices(&self) -> &[usize] {
        &self.support_indices
    }

    /// Platt parameters `(A, B)` of each pair, like `probA_` / `probB_`.
    pub fn platt(&self) -> Vec<(f64, f64)> {
        self.prob_a
            .iter()
            .copied()
            .zip(self.prob_b.iter().copied())
            .collect()
    }

    /// Stored numbers: support-vector values plus dual coefficients plus one intercept and two
    /// Platt parameters per pair.
    pub fn n_params(&self) -> (u64, &'static str) {
        let n_sv = self.support_vectors.nrows() as u64;
        let pairs = self.rho.len() as u64;
        let values = n_sv * self.n_features as u64 + self.sv_coef.len() as u64 + 3 * pairs;
        (values, "support vectors")
    }

    /// libsvm's decision values, one column per pair `(i, j)` of present classes in order
    /// (0,1), (0,2), ..., (1,2), ...; positive favours the lower class `i`. For two classes
    /// scikit-learn's `decision_function` is the negation of column 0.
    ///
    /// # Panics
    /// If `x` has a different number of columns than the training matrix.
    pub fn decision_function(&self, x: &Array2<f64>) -> Array2<f64> {
        self.try_decision_function(x)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`FittedSvm::decision_function`] with a typed error for a column-count mismatch.
    pub fn try_decision_function(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        check_prediction_input("svm", x, self.n_features)?;
        let k = self.labels.len();
        let n_pairs = k * (k - 1) / 2;
        let kernel = KernelFn {
            kernel: self.kernel,
            gamma: self.gamma,
        };
        let sv_std = self.support_vectors.as_standard_layout();
        let sv = sv_std.as_slice().expect("standard layout is contiguous");
        let d = self.n_features;
        let starts: Vec<usize> = self
            .n_sv
            .iter()
            .scan(0, |acc, &c| {
                let s = *acc;
                *acc += c;
                Some(s)
            })
            .collect();
        let rows: Vec<Vec<f64>> = (0..x.nrows())
            .into_par_iter()
            .map(|r| {
                let query: Vec<f64> = x.row(r).to_vec();
                let kvalue: Vec<f64> = sv.chunks_exact(d).map(|s| kernel.eval(&query, s)).collect();
                let mut dec = Vec::with_capacity(n_pairs);
                let mut p = 0;
                for i in 0..k {
                    for j in i + 1..k {
                        let mut sum = 0.0;
                        let (si, sj) = (starts[i], starts[j]);
                        for t in 0..self.n_sv[i] {
                            sum += self.sv_coef[[j - 1, si + t]] * kvalue[si + t];
                        }
                        for t in 0..self.n_sv[j] {
                            sum += self.sv_coef[[i, sj + t]] * kvalue[sj + t];
                        }
                        dec.push(sum - self.rho[p]);
                        p += 1;
                    }
                }
                dec
            })
            .collect();
        let mut out = Array2::zeros((x.nrows(), n_pairs));
        for (r, dec) in rows.iter().enumerate() {
            for (p, &v) in dec.iter().enumerate() {
                out[[r, p]] = v;
            }
        }
        Ok(out)
    }

    /// One-vs-one voting (a pair's vote goes to `i` only when its decision value is > 0), ties to
    /// the lowest class, as libsvm's `svm_predict`.
    pub fn try_predict(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
        let dec = self.try_decision_function(x)?;
        let k = self.labels.len();
        Ok(dec
            .rows()
            .into_iter()
            .map(|row| self.labels[ovo_vote(k, &row.to_vec())])
            .collect())
    }

    /// Class probabilities (libsvm's `svm_predict_probability`), `n_classes` wide: classes absent
    /// from training get 0.
    pub fn try_predict_proba(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        let dec = self.try_decision_function(x)?;
        let k = self.labels.len();
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        let platt = self.platt();
        for (r, row) in dec.rows().into_iter().enumerate() {
            let probs = pairwise_coupled_probabilities(k, &row.to_vec(), &platt);
            for (c, &label) in self.labels.iter().enumerate() {
                out[[r, label]] = probs[c];
            }
        }
        Ok(out)
    }
}

impl Fitted for FittedSvm {
    /// Errors when `x` has a different number of columns than the training matrix.
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
        self.try_predict(x)
    }

    /// Errors when `x` has a different number of columns than the training matrix.
    fn scores(&self, x: &Array2<f64>) -> Result<Vec<Vec<f64>>> {
        let proba = self.try_predict_proba(x)?;
        Ok(proba.rows().into_iter().map(|r| r.to_vec()).collect())
    }
}

/// One trained pair: dual coefficients (`alpha * y`) over the pair's rows, intercept, Platt A/B.
struct PairModel {
    coef: Vec<f64>,
    rho: f64,
    prob_a: f64,
    prob_b: f64,
}

#[derive(Debug, Clone, Copy)]
struct KernelFn {
    kernel: Kernel,
    gamma: f64,
}

impl KernelFn {
    /// libsvm's `k_function`: the exact form used at prediction time.
    fn eval(&self, a: &[f64], b: &[f64]) -> f64 {
        match self.kernel {
            Kernel::Linear => dot(a, b),
            Kernel::Rbf => (-self.gamma * squared_distance(a, b)).exp(),
        }
    }
}

/// Dot product with [`four_sums`] (libsvm sums in index order; the difference is rounding at the
/// 1e-16 level, far below the solver's tolerance).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    four_sums(a, b, |x, y| x * y)
}

/// Squared Euclidean distance, four running sums as in [`dot`].
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    four_sums(a, b, |x, y| (x - y) * (x - y))
}

/// The training kernel matrix over all rows, shared by every pair and every Platt fold.
struct Gram<'a> {
    x: &'a [f64],
    d: usize,
    kernel: KernelFn,
    x_square: Vec<f64>,
    rows: Vec<OnceLock<Box<[f32]>>>,
}

impl<'a> Gram<'a> {
    fn new(x: &'a [f64], n: usize, d: usize, kernel: KernelFn) -> Self {
        let x_square = match kernel.kernel {
            Kernel::Rbf => x.chunks_exact(d).map(|r| dot(r, r)).collect(),
            Kernel::Linear => Vec::new(),
        };
        Gram {
            x,
            d,
            kernel,
            x_square,
            rows: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    fn row_x(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    /// libsvm's training-time kernel (`kernel_linear` / `kernel_rbf`).
    fn k_train(&self, i: usize, j: usize) -> f64 {
        let xy = dot(self.row_x(i), self.row_x(j));
        match self.kernel.kernel {
            Kernel::Linear => xy,
            Kernel::Rbf => {
                (-self.kernel.gamma * (self.x_square[i] + self.x_square[j] - 2.0 * xy)).exp()
            }
        }
    }

    fn compute_row(&self, i: usize) -> Box<[f32]> {
        (0..self.rows.len())
            .map(|j| self.k_train(i, j) as f32)
            .collect()
    }

    /// Kernel row `i` over all training rows, as libsvm's `Qfloat` (f32) cache stores it.
    fn row(&self, i: usize) -> &[f32] {
        // compute_row never enters rayon, so a thread can't re-enter this cell's initialisation.
        self.rows[i].get_or_init(|| self.compute_row(i))
    }

    fn prefill(&self) {
        self.rows.par_iter().enumerate().for_each(|(i, cell)| {
            cell.get_or_init(|| self.compute_row(i));
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
    Free,
}

/// libsvm's `Solver` for C-SVC (`solve_c_svc`), over the training rows `gidx` with labels `y`.
/// Arrays are indexed by position; shrinking permutes positions, `active_set` remembers the
/// original one.
struct Solver<'g, 'a> {
    gram: &'g Gram<'a>,
    l: usize,
    active_size: usize,
    gidx: Vec<usize>,
    y: Vec<i8>,
    g: Vec<f64>,
    g_bar: Vec<f64>,
    alpha: Vec<f64>,
    status: Vec<Bound>,
    p: Vec<f64>,
    c: Vec<f64>,
    qd: Vec<f64>,
    active_set: Vec<usize>,
    eps: f64,
    unshrink: bool,
}

/// Solves one binary C-SVC; returns the dual coefficients `alpha_i * y_i` in the order of `gidx`
/// and the intercept `rho`.
fn solve_c_svc(gram: &Gram<'_>, gidx: &[usize], y: &[i8], c: f64) -> (Vec<f64>, f64) {
    let l = gidx.len();
    let mut solver = Solver {
        gram,
        l,
        active_size: l,
        gidx: gidx.to_vec(),
        y: y.to_vec(),
        g: vec![-1.0; l],
        g_bar: vec![0.0; l],
        alpha: vec![0.0; l],
        status: vec![Bound::Lower; l],
        p: vec![-1.0; l],
        c: vec![c; l],
        qd: gidx.iter().map(|&i| gram.k_train(i, i)).collect(),
        active_set: (0..l).collect(),
        eps: TOLERANCE,
        unshrink: false,
    };
    // libsvm's safety cap; scikit-learn's default (-1) has none, convergence comes first anyway.
    let max_iter = 10_000_000usize.max(100 * l);
    solver.run(max_iter);
    let rho = solver.calculate_rho();
    let mut coef = vec![0.0; l];
    for pos in 0..l {
        coef[solver.active_set[pos]] = solver.alpha[pos] * f64::from(solver.y[pos]);
    }
    (coef, rho)
}

impl Solver<'_, '_> {
    /// `Q[i][k] = y_i y_k K(i, k)` read from kernel row `row` of position `i`, as libsvm's f32.
    #[inline]
    fn q(&self, row: &[f32], i: usize, k: usize) -> f64 {
        let v = row[self.gidx[k]];
        f64::from(if self.y[i] == self.y[k] { v } else { -v })
    }

    fn is_upper(&self, i: usize) -> bool {
        self.status[i] == Bound::Upper
    }

    fn is_lower(&self, i: usize) -> bool {
        self.status[i] == Bound::Lower
    }

    fn update_status(&mut self, i: usize) {
        self.status[i] = if self.alpha[i] >= self.c[i] {
            Bound::Upper
        } else if self.alpha[i] <= 0.0 {
            Bound::Lower
        } else {
            Bound::Free
        };
    }

    fn swap_index(&mut self, i: usize, j: usize) {
        self.gidx.swap(i, j);
        self.y.swap(i, j);
        self.g.swap(i, j);
        self.status.swap(i, j);
        self.alpha.swap(i, j);
        self.p.swap(i, j);
        self.active_set.swap(i, j);
        self.g_bar.swap(i, j);
        self.c.swap(i, j);
        self.qd.swap(i, j);
    }

    fn run(&mut self, max_iter: usize) {
        let l = self.l;
        let mut iter = 0usize;
        let mut counter = l.min(1000) + 1;
        while iter < max_iter {
            counter -= 1;
            if counter == 0 {
                counter = l.min(1000);
                self.do_shrinking();
            }
            let (i, j) = match self.select_working_set() {
                Some(ij) => ij,
                None => {
                    self.reconstruct_gradient();
                    self.active_size = l;
                    match self.select_working_set() {
                        Some(ij) => {
                            counter = 1;
                            ij
                        }
                        None => return,
                    }
                }
            };
            iter += 1;
            self.take_step(i, j);
        }
        // Out of iterations: leave a consistent full gradient for rho.
        self.reconstruct_gradient();
        self.active_size = l;
    }

    fn take_step(&mut self, i: usize, j: usize) {
        let gram = self.gram;
        let row_i = gram.row(self.gidx[i]);
        let row_j = gram.row(self.gidx[j]);
        let (c_i, c_j) = (self.c[i], self.c[j]);
        let (old_ai, old_aj) = (self.alpha[i], self.alpha[j]);
        let q_ij = self.q(row_i, i, j);
        if self.y[i] != self.y[j] {
            let mut quad = self.qd[i] + self.qd[j] + 2.0 * q_ij;
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (-self.g[i] - self.g[j]) / quad;
            let diff = self.alpha[i] - self.alpha[j];
            self.alpha[i] += delta;
            self.alpha[j] += delta;
            if diff > 0.0 {
                if self.alpha[j] < 0.0 {
                    self.alpha[j] = 0.0;
                    self.alpha[i] = diff;
                }
            } else if self.alpha[i] < 0.0 {
                self.alpha[i] = 0.0;
                self.alpha[j] = -diff;
            }
            if diff > c_i - c_j {
                if self.alpha[i] > c_i {
                    self.alpha[i] = c_i;
                    self.alpha[j] = c_i - diff;
                }
            } else if self.alpha[j] > c_j {
                self.alpha[j] = c_j;
                self.alpha[i] = c_j + diff;
            }
        } else {
            let mut quad = self.qd[i] + self.qd[j] - 2.0 * q_ij;
            if quad <= 0.0 {
                quad = TAU;
            }
            let delta = (self.g[i] - self.g[j]) / quad;
            let sum = self.alpha[i] + self.alpha[j];
            self.alpha[i] -= delta;
            self.alpha[j] += delta;
            if sum > c_i {
                if self.alpha[i] > c_i {
                    self.alpha[i] = c_i;
                    self.alpha[j] = sum - c_i;
                }
            } else if self.alpha[j] < 0.0 {
                self.alpha[j] = 0.0;
                self.alpha[i] = sum;
            }
            if sum > c_j {
                if self.alpha[j] > c_j {
                    self.alpha[j] = c_j;
                    self.alpha[i] = sum - c_j;
                }
            } else if self.alpha[i] < 0.0 {
                self.alpha[i] = 0.0;
                self.alpha[j] = sum;
            }
        }

        let d_ai = self.alpha[i] - old_ai;
        let d_aj = self.alpha[j] - old_aj;
        for k in 0..self.active_size {
            let g = self.q(row_i, i, k) * d_ai + self.q(row_j, j, k) * d_aj;
            self.g[k] += g;
        }

        let ui = self.is_upper(i);
        let uj = self.is_upper(j);
        self.update_status(i);
        self.update_status(j);
        if ui != self.is_upper(i) {
            let sign = if ui { -c_i } else { c_i };
            for k in 0..self.l {
                let q = self.q(row_i, i, k);
                self.g_bar[k] += sign * q;
            }
        }
        if uj != self.is_upper(j) {
            let sign = if uj { -c_j } else { c_j };
            for k in 0..self.l {
                let q = self.q(row_j, j, k);
                self.g_bar[k] += sign * q;
            }
        }
    }

    /// WSS2: `i` maximises `-y_i grad_i` over I_up, `j` minimises the second-order objective
    /// decrease over I_low; `None` when the maximal violation is below `eps`.
    fn select_working_set(&self) -> Option<(usize, usize)> {
        let mut gmax = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        let mut gmax_idx = None;
        let mut gmin_idx = None;
        let mut obj_diff_min = f64::INFINITY;
        for t in 0..self.active_size {
            if self.y[t] == 1 {
                if !self.is_upper(t) && -self.g[t] >= gmax {
                    gmax = -self.g[t];
                    gmax_idx = Some(t);
                }
            } else if !self.is_lower(t) && self.g[t] >= gmax {
                gmax = self.g[t];
                gmax_idx = Some(t);
            }
        }
        let i = gmax_idx?;
        let row_i = self.gram.row(self.gidx[i]);
        let yi = f64::from(self.y[i]);
        for j in 0..self.active_size {
            let (grad_diff, quad_sign) = if self.y[j] == 1 {
                if self.is_lower(j) {
                    continue;
                }
                if self.g[j] >= gmax2 {
                    gmax2 = self.g[j];
                }
                (gmax + self.g[j], -1.0)
            } else {
                if self.is_upper(j) {
                    continue;
                }
                if -self.g[j] >= gmax2 {
                    gmax2 = -self.g[j];
                }
                (gmax - self.g[j], 1.0)
            };
            if grad_diff > 0.0 {
                // libsvm reads Q_i[j] (= y_i y_j K) and multiplies by y_i again.
                let quad = self.qd[i] + self.qd[j] + quad_sign * 2.0 * yi * self.q(row_i, i, j);
                let obj_diff = if quad > 0.0 {
                    -(grad_diff * grad_diff) / quad
                } else {
                    -(grad_diff * grad_diff) / TAU
                };
                if obj_diff <= obj_diff_min {
                    gmin_idx = Some(j);
                    obj_diff_min = obj_diff;
                }
            }
        }
        if gmax + gmax2 < self.eps {
            return None;
        }
        gmin_idx.map(|j| (i, j))
    }

    fn be_shrunk(&self, i: usize, gmax1: f64, gmax2: f64) -> bool {
        if self.is_upper(i) {
            if self.y[i] == 1 {
                -self.g[i] > gmax1
            } else {
                -self.g[i] > gmax2
            }
        } else if self.is_lower(i) {
            if self.y[i] == 1 {
                self.g[i] > gmax2
            } else {
                self.g[i] > gmax1
            }
        } else {
            false
        }
    }

    fn do_shrinking(&mut self) {
        let mut gmax1 = f64::NEG_INFINITY;
        let mut gmax2 = f64::NEG_INFINITY;
        for i in 0..self.active_size {
            if self.y[i] == 1 {
                if !self.is_upper(i) && -self.g[i] >= gmax1 {
                    gmax1 = -self.g[i];
                }
                if !self.is_lower(i) && self.g[i] >= gmax2 {
                    gmax2 = self.g[i];
                }
            } else {
                if !self.is_upper(i) && -self.g[i] >= gmax2 {
                    gmax2 = -self.g[i];
                }
                if !self.is_lower(i) && self.g[i] >= gmax1 {
                    gmax1 = self.g[i];
                }
            }
        }
        if !self.unshrink && gmax1 + gmax2 <= self.eps * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient();
            self.active_size = self.l;
        }
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap_index(i, self.active_size);
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
    }

    fn reconstruct_gradient(&mut self) {
        let (l, active) = (self.l, self.active_size);
        if active == l {
            return;
        }
        for j in active..l {
            self.g[j] = self.g_bar[j] + self.p[j];
        }
        let nr_free = (0..active)
            .filter(|&j| self.status[j] == Bound::Free)
            .count();
        let gram = self.gram;
        if nr_free * l > 2 * active * (l - active) {
            for i in active..l {
                let row_i = gram.row(self.gidx[i]);
                let mut gi = self.g[i];
                for j in 0..active {
                    if self.status[j] == Bound::Free {
                        gi += self.alpha[j] * self.q(row_i, i, j);
                    }
                }
                self.g[i] = gi;
            }
        } else {
            for i in 0..active {
                if self.status[i] == Bound::Free {
                    let row_i = gram.row(self.gidx[i]);
                    let alpha_i = self.alpha[i];
                    for j in active..l {
                        let q = self.q(row_i, i, j);
                        self.g[j] += alpha_i * q;
                    }
                }
            }
        }
    }

    fn calculate_rho(&self) -> f64 {
        let mut nr_free = 0usize;
        let (mut ub, mut lb, mut sum_free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for i in 0..self.active_size {
            let yg = f64::from(self.y[i]) * self.g[i];
            if self.is_upper(i) {
                if self.y[i] == -1 {
                    ub = ub.min(yg);
                } else {
                    lb = lb.max(yg);
                }
            } else if self.is_lower(i) {
                if self.y[i] == 1 {
                    ub = ub.min(yg);
                } else {
                    lb = lb.max(yg);
                }
            } else {
                nr_free += 1;
                sum_free += yg;
            }
        }
        if nr_free > 0 {
            sum_free / nr_free as f64
        } else {
            (ub + lb) / 2.0
        }
    }
}

/// libsvm's `svm_binary_svc_probability`: decision values from a shuffled 5-fold
/// cross-validation of the pair, then Platt's sigmoid fitted on them. Returns `(A, B)`.
fn binary_svc_probability(
    gram: &Gram<'_>,
    gidx: &[usize],
    y: &[i8],
    c: f64,
    rng: &mut ChaCha8Rng,
) -> (f64, f64) {
    let l = gidx.len();
    let mut perm: Vec<usize> = (0..l).collect();
    for i in 0..l {
        let j = i + rng.gen_range(0..l - i);
        perm.swap(i, j);
    }
    let folds: Vec<Vec<(usize, f64)>> = (0..PLATT_FOLDS)
        .into_par_iter()
        .map(|fold| {
            let begin = fold * l / PLATT_FOLDS;
            let end = (fold + 1) * l / PLATT_FOLDS;
            let train: Vec<usize> = perm[..begin].iter().chain(&perm[end..]).copied().collect();
            let held_out = &perm[begin..end];
            let p_count = train.iter().filter(|&&t| y[t] > 0).count();
            let n_count = train.len() - p_count;
            let constant = match (p_count, n_count) {
                (0, 0) => Some(0.0),
                (_, 0) => Some(1.0),
                (0, _) => Some(-1.0),
                _ => None,
            };
            if let Some(v) = constant {
                return held_out.iter().map(|&t| (t, v)).collect();
            }
            // libsvm retrains through svm_train, whose sorted labels put the -1 rows first as its
            // positive class; the sign is flipped back below (`*= label[0]`).
            let sub_gidx: Vec<usize> = train
                .iter()
                .filter(|&&t| y[t] < 0)
                .chain(train.iter().filter(|&&t| y[t] > 0))
                .map(|&t| gidx[t])
                .collect();
            let sub_y: Vec<i8> = std::iter::repeat_n(1i8, n_count)
                .chain(std::iter::repeat_n(-1i8, p_count))
                .collect();
            let (coef, rho) = solve_c_svc(gram, &sub_gidx, &sub_y, c);
            // The held-out rows are training rows, so their kernel values are already in the
            // matrix (as f32; libsvm recomputes them in f64, a difference far below what the
            // cross-validation split itself changes).
            held_out
                .iter()
                .map(|&t| {
                    let row = gram.row(gidx[t]);
                    let mut sum = 0.0;
                    for (s, &a) in coef.iter().enumerate() {
                        if a != 0.0 {
                            sum += a * f64::from(row[sub_gidx[s]]);
                        }
                    }
                    (t, -(sum - rho))
                })
                .collect()
        })
        .collect();
    let mut dec = vec![0.0; l];
    for (t, v) in folds.into_iter().flatten() {
        dec[t] = v;
    }
    let positive: Vec<bool> = y.iter().map(|&s| s > 0).collect();
    sigmoid_train(&dec, &positive)
}

/// Platt's sigmoid `P(y = 1 | f) = 1 / (1 + exp(A f + B))` fitted by the Newton method with
/// backtracking of Lin, Lin & Weng (2007), exactly as libsvm's `sigmoid_train`. `positive[i]`
/// says whether sample `i` is in the positive class. Returns `(A, B)`.
pub fn sigmoid_train(dec_values: &[f64], positive: &[bool]) -> (f64, f64) {
    let prior1 = positive.iter().filter(|&&p| p).count() as f64;
    let prior0 = positive.len() as f64 - prior1;
    let max_iter = 100;
    let min_step = 1e-10;
    let sigma = 1e-12;
    let eps = 1e-5;
    let hi_target = (prior1 + 1.0) / (prior1 + 2.0);
    let lo_target = 1.0 / (prior0 + 2.0);
    let t: Vec<f64> = positive
        .iter()
        .map(|&p| if p { hi_target } else { lo_target })
        .collect();
    let objective = |a: f64, b: f64| -> f64 {
        let mut f = 0.0;
        for (&dv, &ti) in dec_values.iter().zip(&t) {
            let fapb = dv * a + b;
            if fapb >= 0.0 {
                f += ti * fapb + (1.0 + (-fapb).exp()).ln();
            } else {
                f += (ti - 1.0) * fapb + (1.0 + fapb.exp()).ln();
            }
        }
        f
    };
    let mut a = 0.0;
    let mut b = ((prior0 + 1.0) / (prior1 + 1.0)).ln();
    let mut fval = objective(a, b);
    for _ in 0..max_iter {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (sigma, sigma, 0.0, 0.0, 0.0);
        for (&dv, &ti) in dec_values.iter().zip(&t) {
            let fapb = dv * a + b;
            let (p, q) = if fapb >= 0.0 {
                let e = (-fapb).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = fapb.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += dv * dv * d2;
            h22 += d2;
            h21 += dv * d2;
            let d1 = ti - p;
            g1 += dv * d1;
            g2 += d1;
        }
        if g1.abs() < eps && g2.abs() < eps {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let gd = g1 * da + g2 * db;
        let mut stepsize = 1.0;
        while stepsize >= min_step {
            let new_a = a + stepsize * da;
            let new_b = b + stepsize * db;
            let newf = objective(new_a, new_b);
            if newf < fval + 0.0001 * stepsize * gd {
                a = new_a;
                b = new_b;
                fval = newf;
                break;
            }
            stepsize /= 2.0;
        }
        if stepsize < min_step {
            // libsvm: "Line search fails in two-class probability estimates"; keep the last A, B.
            break;
        }
    }
    (a, b)
}

/// libsvm's one-vs-one vote for one sample over `k` classes: pair `(i, j)`'s vote goes to `i`
/// when its decision value is > 0, else to `j`; the most votes win, ties to the lowest index.
/// `decision` is in pair order (0,1), (0,2), ..., (1,2), ...
///
/// ```
/// use vidcompare::classical::models::svm::ovo_vote;
/// // 0 beats 1, 2 beats 0, 1 beats 2: one vote each, class 0 wins the tie.
/// assert_eq!(ovo_vote(3, &[1.0, -1.0, 1.0]), 0);
/// ```
pub fn ovo_vote(k: usize, decision: &[f64]) -> usize {
    let mut votes = vec![0usize; k];
    let mut p = 0;
    for i in 0..k {
        for j in i + 1..k {
            if decision[p] > 0.0 {
                votes[i] += 1;
            } else {
                votes[j] += 1;
            }
            p += 1;
        }
    }
    let mut best = 0;
    for c in 1..k {
        if votes[c] > votes[best] {
            best = c;
        }
    }
    best
}

/// libsvm's `svm_predict_probability` for one sample: each pair's decision value through its
/// Platt sigmoid, clipped to `[1e-7, 1 - 1e-7]`, then coupled by [`multiclass_probability`].
/// `dec` and `platt` are in pair order (0,1), (0,2), ..., (1,2), ... over `k` classes.
pub fn pairwise_coupled_probabilities(k: usize, dec: &[f64], platt: &[(f64, f64)]) -> Vec<f64> {
    let mut pairwise = Array2::<f64>::zeros((k, k));
    let mut p = 0;
    for i in 0..k {
        for j in i + 1..k {
            let (a, b) = platt[p];
            let pr = sigmoid_predict(dec[p], a, b).clamp(MIN_PROB, 1.0 - MIN_PROB);
            pairwise[[i, j]] = pr;
            pairwise[[j, i]] = 1.0 - pr;
            p += 1;
        }
    }
    multiclass_probability(&pairwise)
}

/// libsvm's `sigmoid_predict`, written to avoid cancellation in `1 - p`.
pub fn sigmoid_predict(decision_value: f64, a: f64, b: f64) -> f64 {
    let fapb = decision_value * a + b;
    if fapb >= 0.0 {
        let e = (-fapb).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + fapb.exp())
    }
}

/// Pairwise coupling, method 2 of Wu, Lin & Weng (2004), exactly as libsvm's
/// `multiclass_probability`: `r[[i, j]]` estimates `P(class i | class i or j)` (with
/// `r[[j, i]] = 1 - r[[i, j]]`); the result sums to 1.
///
/// ```
/// use ndarray::array;
/// use vidcompare::classical::models::svm::multiclass_probability;
/// let p = multiclass_probability(&array![[0.0, 0.5], [0.5, 0.0]]);
/// assert!((p[0] - 0.5).abs() < 1e-12 && (p[1] - 0.5).abs() < 1e-12);
/// ```
pub fn multiclass_probability(r: &Array2<f64>) -> Vec<f64> {
    let k = r.nrows();
    let max_iter = 100.max(k);
    let eps = 0.005 / k as f64;
    let mut p = vec![1.0 / k as f64; k];
    let mut q = Array2::<f64>::zeros((k, k));
    for t in 0..k {
        for j in 0..t {
            q[[t, t]] += r[[j, t]] * r[[j, t]];
            q[[t, j]] = q[[j, t]];
        }
        for j in t + 1..k {
            q[[t, t]] += r[[j, t]] * r[[j, t]];
            q[[t, j]] = -r[[j, t]] * r[[t, j]];
        }
    }
    let mut qp = vec![0.0; k];
    for _ in 0..max_iter {
        // Recomputed each sweep for numerical accuracy, as libsvm does.
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = 0.0;
            for j in 0..k {
                qp[t] += q[[t, j]] * p[j];
            }
            pqp += p[t] * qp[t];
        }
        let max_error = qp.iter().map(|&v| (v - pqp).abs()).fold(0.0, f64::max);
        if max_error < eps {
            break;
        }
        for t in 0..k {
            let diff = (-qp[t] + pqp) / q[[t, t]];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[[t, t]] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[[t, j]]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}
