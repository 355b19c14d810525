//! One Adam update of a CPU parameter in a single pass, in place: the L2 weight decay, both
//! moments and the parameter, element by element, in parallel chunks.
//!
//! As tensor operations the same update is about fifteen passes over the parameter, each into a
//! freshly allocated tensor (R3D-18's fine-tuned layer4 holds 25M values: every pass writes
//! 100 MB of new pages); here each value of the parameter, its gradient and its two moments is
//! read once and written once.
//!
//! The arithmetic is torch's single-tensor `Adam` (`torch/optim/adam.py`), in f32 with its
//! order of operations: `g = grad + wd * p`, `m = m + (1 - beta1) * (g - m)` (`lerp_`),
//! `v = v * beta2 + (1 - beta2) * g * g` (`mul_`, `addcmul_`),
//! `p = p - step_size * (m / (sqrt(v) / sqrt(bc2) + eps))` (`addcdiv_`), with
//! `step_size = lr / bc1`; no fused multiply-add, so every build gives the same bits.

use std::sync::Mutex;

use candle_core::{CpuStorage, InplaceOp2, Layout, Result, bail};
use rayon::prelude::*;

use super::cpu::{f32_slice, f32_slice_mut};

/// Elements per parallel task.
const TASK_ELEMS: usize = 64 * 1024;

/// The scalars of one update, computed in f64 as torch computes them in Python.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamScalars {
    pub weight_decay: f32,
    /// `1 - beta1`.
    pub one_minus_beta1: f32,
    pub beta2: f32,
    /// `1 - beta2`.
    pub one_minus_beta2: f32,
    /// `lr / (1 - beta1^t)`.
    pub step_size: f32,
    /// `sqrt(1 - beta2^t)`.
    pub bc2_sqrt: f32,
    pub eps: f32,
}

impl AdamScalars {
    /// The scalars of step `t` (1-based).
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64, t: i32) -> Self {
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        AdamScalars {
            weight_decay: weight_decay as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            step_size: (lr / bc1) as f32,
            bc2_sqrt: bc2.sqrt() as f32,
            eps: eps as f32,
        }
    }
}

/// A parameter's two moments, kept on the host beside it.
#[derive(Debug)]
pub(crate) struct HostMoments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl HostMoments {
    /// Zero moments for a parameter of `len` values.
    pub fn zeros(len: usize) -> Self {
        HostMoments {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }
}

/// The in-place op: applied to the parameter with its gradient as the operand.
pub(crate) struct AdamUpdate<'a> {
    pub moments: &'a Mutex<HostMoments>,
    pub scalars: AdamScalars,
}

impl InplaceOp2 for AdamUpdate<'_> {
    fn name(&self) -> &'static str {
        "adam-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let p = f32_slice_mut(s1, l1, self.name())?;
        let g = f32_slice(s2, l2, self.name())?;
        let mut guard = self.moments.lock().expect("adam moments lock");
        let HostMoments { m, v } = &mut *guard;
        if g.len() != p.len() || m.len() != p.len() || v.len() != p.len() {
            bail!(
                "{}: parameter of {} values, gradient of {}, moments of {}",
                self.name(),
                p.len(),
                g.len(),
                m.len()
            )
        }
        update(p, g, m, v, self.scalars);
        Ok(())
    }
}

/// The update over whole slices, in parallel tasks.
pub(crate) fn update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
    p.par_chunks_mut(TASK_ELEMS)
        .zip(g.par_chunks(TASK_ELEMS))
        .zip(m.par_chunks_mut(TASK_ELEMS))
        .zip(v.par_chunks_mut(TASK_ELEMS))
        .for_each(|(((p, g), m), v)| chunk(p, g, m, v, s));
}

/// One task, compiled for AVX-512 or AVX2 where the CPU has them (same bits: no fused
/// operations).
fn chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn fast512(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
            chunk_generic(p, g, m, v, s)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: checked just above.
            return unsafe { fast512(p, g, m, v, s) };
        }
    }
    chunk2(p, g, m, v, s)
}

crate::util::simd::avx2_dispatch! {
    /// One task, compiled for AVX2 where the CPU has it.
    fn chunk2(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) => chunk_generic
}

#[inline(always)]
fn chunk_generic(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = g + s.weight_decay * *p;
        *m += s.one_minus_beta1 * (g - *m);
        *v = *v * s.beta2 + s.one_minus_beta2 * g * g;
        let denom = v.sqrt() / s.bc2_sqrt + s.eps;
        *p -= s.step_size * (*m / denom);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One element by the definition, in f64.
    fn reference(p: f64, g: f64, m: f64, v: f64, t: i32) -> (f64, f64, f64) {
        let (lr, b1, b2, eps, wd) = (1e-3, 0.9, 0.999, 1e-8, 1e-2);
        let g = g + wd * p;
        let m = b1 * m + (1.0 - b1) * g;
        let v = b2 * v + (1.0 - b2) * g * g;
        let m_hat = m / (1.0 - b1.powi(t));
        let v_hat = v / (1.0 - b2.powi(t));
        (p - lr * m_hat / (v_hat.sqrt() + eps), m, v)
    }

    #[test]
    fn three_steps_follow_the_definition_across_task_boundaries() {
        // More values than one task, with a partial last task and a partial SIMD tail.
        let n = TASK_ELEMS * 2 + 37;
        let mut p: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let mut m = vec![0.0f32; n];
        let mut v = vec![0.0f32; n];
        let (mut rp, mut rm, mut rv): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            p.iter().map(|&x| x as f64).collect(),
            vec![0.0; n],
            vec![0.0; n],
        );
        for t in 1..=3 {
            let g: Vec<f32> = (0..n)
                .map(|i| ((i * 53 + t as usize * 11) % 97) as f32 / 97.0 - 0.4)
                .collect();
            update(
                &mut p,
                &g,
                &mut m,
                &mut v,
                AdamScalars::new(1e-3, 0.9, 0.999, 1e-8, 1e-2, t),
            );
            for i in 0..n {
                (rp[i], rm[i], rv[i]) = reference(rp[i], g[i] as f64, rm[i], rv[i], t);
            }
        }
        for i in 0..n {
            assert!(
                (p[i] as f64 - rp[i]).abs() <= 1e-6 + 1e-6 * rp[i].abs(),
                "p[{i}]"
            );
            assert!((m[i] as f64 - rm[i]).abs() <= 1e-6, "m[{i}]");
            assert!((v[i] as f64 - rv[i]).abs() <= 1e-7, "v[{i}]");
        }
    }
}
