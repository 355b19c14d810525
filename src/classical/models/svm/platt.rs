//! Probabilities for the SVM: Platt scaling fitted on cross-validated decision values (Lin, Lin &
//! Weng 2007) and pairwise coupling into class probabilities (Wu, Lin & Weng 2004), as libsvm.

use ndarray::Array2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::smo::{Gram, solve_c_svc};

/// Folds of the internal cross-validation that produces decision values for Platt scaling.
const PLATT_FOLDS: usize = 5;
/// Pairwise probabilities are clipped to `[MIN_PROB, 1 - MIN_PROB]` before coupling.
const MIN_PROB: f64 = 1e-7;

/// libsvm's `svm_binary_svc_probability`: decision values from a shuffled 5-fold
/// cross-validation of the pair, then Platt's sigmoid fitted on them. Returns `(A, B)`.
pub(super) fn binary_svc_probability(
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
