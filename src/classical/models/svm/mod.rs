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
//!
//! The parts: `params` (checked hyper-parameters), `smo` (the solver and kernel matrix),
//! `platt` (probabilities); training and prediction of the one-vs-one model are here.

mod params;
mod platt;
mod smo;

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_prediction_input, check_training_input};
use crate::error::{Error, Result};
use platt::binary_svc_probability;
use smo::{Gram, KernelFn, solve_c_svc};

pub use params::{Gamma, Kernel, SvmParams, scale_gamma};
pub use platt::{
    multiclass_probability, pairwise_coupled_probabilities, sigmoid_predict, sigmoid_train,
};

/// libsvm's stopping tolerance (`eps`, scikit-learn's `tol` default).
pub const TOLERANCE: f64 = 1e-3;
/// Up to this many training rows the whole kernel matrix is computed up front, in parallel
/// (`n^2` f32 values: 256 MiB at the limit); above it, rows are computed when the solver asks.
const PREFILL_LIMIT: usize = 8192;

impl SvmParams {
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

/// One trained pair: dual coefficients (`alpha * y`) over the pair's rows, intercept, Platt A/B.
struct PairModel {
    coef: Vec<f64>,
    rho: f64,
    prob_a: f64,
    prob_b: f64,
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
