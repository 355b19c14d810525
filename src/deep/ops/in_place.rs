//! The element-wise tails of EfficientNet-B0's layers at inference, applied in place on the CPU:
//! `silu(x + shift[c])` after a convolution with folded BatchNorm, `x + shift[c]` after the
//! projection, the squeeze-excitation gate `x * gate[n, c]` and the residual sum `x + r`.
//!
//! As tensor operations each of these allocates a new activation (a first touch of fresh pages and
//! a zero fill), and candle runs them single-threaded below 64K elements and on its own worker
//! pool above; at 8 frames of 112 px they were a fifth of the network's time on one thread.
//! Here they overwrite the activation they are given, in parallel chunks of whole planes, with
//! loops compiled for AVX2 and FMA when the CPU has them (chosen at run time).
//!
//! Only [`apply`] is public to the crate: it takes the in-place path for a CPU f32 tensor
//! without gradients and falls back to the tensor operations otherwise (other devices, other
//! types, gradients recorded, [`super::KernelPath::Generic`]). Its caller must own the
//! activation: a tensor that nothing else reads afterwards (the fresh output of the layer
//! before), since the storage is overwritten.

use candle_core::{CpuStorage, DType, InplaceOp2, Layout, Result, Tensor, bail};
use rayon::prelude::*;

use super::cpu::contiguous;
use super::shift_silu::{fast_exp, shift_silu};
use crate::deep::nn::grad_disabled;

/// Which tail to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// `silu(x + v[c])`, `v` of length C.
    ShiftSilu,
    /// `x + v[c]`, `v` of length C.
    Shift,
    /// `x * v[n, c]`, `v` of shape (N, C) (the squeeze-excitation gate).
    Scale,
    /// `x + v`, `v` of the shape of `x` (the residual sum).
    Add,
}

/// Elements per parallel task (whole planes are grouped up to about this many).
const TASK_ELEMS: usize = 16 * 1024;

/// `x` (N, C, H, W) with `tail` applied, overwriting `x`'s storage where the in-place path
/// applies (see the module docs); the caller gives up `x`.
pub(crate) fn apply(x: Tensor, v: &Tensor, tail: Tail) -> Result<Tensor> {
    let (n, c, _, _) = x.dims4()?;
    let want: &[usize] = match tail {
        Tail::ShiftSilu | Tail::Shift => &[c],
        Tail::Scale => &[n, c],
        Tail::Add => x.dims(),
    };
    if v.dims() != want {
        bail!(
            "{tail:?}: operand {:?} does not fit {:?}",
            v.dims(),
            x.dims()
        )
    }
    let f32s = x.dtype() == DType::F32 && v.dtype() == DType::F32;
    if grad_disabled()
        && x.is_contiguous()
        && super::use_cpu_kernel(x.device(), f32s)
        && !x.is_variable()
    {
        x.inplace_op2(&v.contiguous()?, &InPlace(tail))?;
        return Ok(x);
    }
    match tail {
        Tail::ShiftSilu => shift_silu(&x, v),
        Tail::Shift => x.broadcast_add(&v.reshape((1, c, 1, 1))?),
        Tail::Scale => x.broadcast_mul(&v.reshape((n, c, 1, 1))?),
        Tail::Add => x + v,
    }
}

struct InPlace(Tail);

impl InplaceOp2 for InPlace {
    fn name(&self) -> &'static str {
        "in-place-tail"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (CpuStorage::F32(x), CpuStorage::F32(v)) = (s1, s2) else {
            bail!("{}: only f32", self.name())
        };
        let Some((start, end)) = l1.contiguous_offsets() else {
            bail!("{}: the activation must be contiguous", self.name())
        };
        let dims = l1.shape().dims();
        let plane = dims.get(2..).map(|d| d.iter().product()).unwrap_or(1usize);
        let v = contiguous(v, l2, self.name())?;
        run(&mut x[start..end], v, plane.max(1), self.0);
        Ok(())
    }
}

/// The tail over `x`, planes of `plane` elements, in parallel.
fn run(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    if tail == Tail::Add {
        x.par_chunks_mut(TASK_ELEMS)
            .zip(v.par_chunks(TASK_ELEMS))
            .for_each(|(x, r)| chunk(x, r, plane, tail));
        return;
    }
    let per = (TASK_ELEMS / plane).max(1);
    x.par_chunks_mut(per * plane)
        .enumerate()
        .for_each(|(k, x)| {
            // The per-plane values of this task's planes (index = n C + c, taken mod len(v)).
            let first = k * per;
            let vals: Vec<f32> = (first..first + x.len().div_ceil(plane))
                .map(|i| v[i % v.len()])
                .collect();
            chunk(x, &vals, plane, tail)
        });
}

/// One task: AVX2 + FMA code where the CPU has it, else the baseline build.
fn chunk(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { chunk_avx2(x, v, plane, tail) };
    }
    chunk_generic(x, v, plane, tail)
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chunk_avx2(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    chunk_generic(x, v, plane, tail)
}

/// `v` holds one value per plane of `x` (or, for [`Tail::Add`], one per element).
#[inline(always)]
fn chunk_generic(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    if tail == Tail::Add {
        for (a, &b) in x.iter_mut().zip(v) {
            *a += b;
        }
        return;
    }
    for (p, &s) in x.chunks_mut(plane).zip(v) {
        match tail {
            Tail::ShiftSilu => {
                for a in p.iter_mut() {
                    let z = *a + s;
                    *a = z / (1.0 + fast_exp(-z));
                }
            }
            Tail::Shift => p.iter_mut().for_each(|a| *a += s),
            Tail::Scale => p.iter_mut().for_each(|a| *a *= s),
            Tail::Add => unreachable!("handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::nn::no_grad;
    use candle_core::Device;

    /// Each tail against its definition written out element by element, on planes that do not
    /// fill a task evenly (7x7 and 57x3) and a batch of two images.
    #[test]
    fn every_tail_matches_its_definition() -> Result<()> {
        let dev = Device::Cpu;
        for &(n, c, h, w) in &[
            (2usize, 5usize, 7usize, 7usize),
            (2, 400, 57, 3),
            (1, 3, 1, 1),
        ] {
            let x = Tensor::randn(0f32, 3.0, (n, c, h, w), &dev)?;
            let xs = x.flatten_all()?.to_vec1::<f32>()?;
            let plane = h * w;
            for tail in [Tail::ShiftSilu, Tail::Shift, Tail::Scale, Tail::Add] {
                let v = match tail {
                    Tail::ShiftSilu | Tail::Shift => Tensor::randn(0f32, 1.0, c, &dev)?,
                    Tail::Scale => Tensor::randn(0f32, 1.0, (n, c), &dev)?,
                    Tail::Add => Tensor::randn(0f32, 1.0, (n, c, h, w), &dev)?,
                };
                let vs = v.flatten_all()?.to_vec1::<f32>()?;
                let want: Vec<f64> = xs
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| {
                        let (a, nc) = (f64::from(a), i / plane);
                        match tail {
                            Tail::ShiftSilu => {
                                let z = a + f64::from(vs[nc % c]);
                                z / (1.0 + (-z).exp())
                            }
                            Tail::Shift => a + f64::from(vs[nc % c]),
                            Tail::Scale => a * f64::from(vs[nc]),
                            Tail::Add => a + f64::from(vs[i]),
                        }
                    })
                    .collect();
                // A copy, so `x` stays the same input for every tail.
                let owned = x.copy()?;
                let got = no_grad(|| apply(owned, &v, tail))?;
                let got = got.flatten_all()?.to_vec1::<f32>()?;
                for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
                    let tol = 1e-6 * (1.0 + e.abs());
                    assert!(
                        (f64::from(g) - e).abs() <= tol,
                        "{tail:?} {:?} element {i}: {g} vs {e}",
                        (n, c, h, w)
                    );
                }
            }
        }
        Ok(())
    }

    /// Outside `no_grad` the tensor operations run and `x` is left as it was.
    #[test]
    fn with_gradients_the_input_is_not_overwritten() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::ones((1, 2, 3, 3), DType::F32, &dev)?;
        let shift = Tensor::new(&[1f32, 2.0], &dev)?;
        let y = apply(x.clone(), &shift, Tail::Shift)?;
        assert_eq!(x.sum_all()?.to_scalar::<f32>()?, 18.0);
        assert_eq!(y.sum_all()?.to_scalar::<f32>()?, 18.0 + 9.0 * 3.0);
        Ok(())
    }
}
