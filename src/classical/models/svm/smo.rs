//! libsvm's SMO solver for one binary C-SVC (Fan, Chen & Lin 2005), with the kernel matrix it
//! reads: second-order working-set selection, shrinking, f32 kernel rows as libsvm caches them.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::{Kernel, TOLERANCE};
use crate::classical::models::four_sums;

/// libsvm's floor for a non-positive quadratic coefficient.
const TAU: f64 = 1e-12;

#[derive(Debug, Clone, Copy)]
pub(super) struct KernelFn {
    pub(super) kernel: Kernel,
    pub(super) gamma: f64,
}

impl KernelFn {
    /// libsvm's `k_function`: the exact form used at prediction time.
    pub(super) fn eval(&self, a: &[f64], b: &[f64]) -> f64 {
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
pub(super) struct Gram<'a> {
    x: &'a [f64],
    d: usize,
    kernel: KernelFn,
    x_square: Vec<f64>,
    rows: Vec<OnceLock<Box<[f32]>>>,
}

impl<'a> Gram<'a> {
    pub(super) fn new(x: &'a [f64], n: usize, d: usize, kernel: KernelFn) -> Self {
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
    pub(super) fn row(&self, i: usize) -> &[f32] {
        // compute_row never enters rayon, so a thread can't re-enter this cell's initialisation.
        self.rows[i].get_or_init(|| self.compute_row(i))
    }

    pub(super) fn prefill(&self) {
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
pub(super) fn solve_c_svc(gram: &Gram<'_>, gidx: &[usize], y: &[i8], c: f64) -> (Vec<f64>, f64) {
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
