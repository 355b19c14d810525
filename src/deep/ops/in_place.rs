//! The element-wise tails of the networks' layers at inference, applied in place on the CPU.
//! EfficientNet-B0 (NCHW, [`apply`]): `silu(x + shift[c])` after a convolution with folded
//! BatchNorm, `x + shift[c]` after the projection, the squeeze-excitation gate `x * gate[n, c]`
//! and the residual sum `x + r`. R3D-18 (channels-last, [`apply_channels_last`]): the folded
//! BatchNorm's shift with or without the ReLU, and the block's `relu(x + r)`.
//!
//! As tensor operations each of these allocates a new activation (a first touch of fresh pages and
//! a zero fill), and candle runs them single-threaded below 64K elements and on its own worker
//! pool above (EfficientNet-B0 on 8 frames of 112 px, one thread: 62.7 ms with them, 45.3 ms with
//! this module). Here they overwrite the activation they are given, in parallel chunks of whole planes, with
//! loops compiled for AVX2 and FMA when the CPU has them (chosen at run time).
//!
//! [`apply`] and [`apply_channels_last`] take the in-place path for a CPU f32 tensor
//! without gradients and fall back to the tensor operations otherwise (other devices, other
//! types, gradients recorded, [`super::KernelPath::Generic`]). The caller must own the
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
    if in_place(&x, v, want, Op::Planes(tail))? {
        return Ok(x);
    }
    match tail {
        Tail::ShiftSilu => shift_silu(&x, v),
        Tail::Shift => x.broadcast_add(&v.reshape((1, c, 1, 1))?),
        Tail::Scale => x.broadcast_mul(&v.reshape((n, c, 1, 1))?),
        Tail::Add => x + v,
    }
}

/// Which tail to apply to a channels-last `(..., C)` activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LastTail {
    /// `x + v[c]`, `v` of length C.
    Shift,
    /// `relu(x + v[c])`, `v` of length C.
    ShiftRelu,
    /// `relu(x + v)`, `v` of the shape of `x` (the residual sum).
    AddRelu,
}

/// `x`, channels-last (the last dimension is the channel), with `tail` applied, overwriting
/// `x`'s storage where the in-place path applies (see the module docs); the caller gives up `x`.
pub(crate) fn apply_channels_last(x: Tensor, v: &Tensor, tail: LastTail) -> Result<Tensor> {
    let c = x.dims().last().copied().unwrap_or(1);
    let want: &[usize] = match tail {
        LastTail::Shift | LastTail::ShiftRelu => &[c],
        LastTail::AddRelu => x.dims(),
    };
    if in_place(&x, v, want, Op::Last(tail))? {
        return Ok(x);
    }
    match tail {
        LastTail::Shift => x.broadcast_add(v),
        LastTail::ShiftRelu => x.broadcast_add(v)?.relu(),
        LastTail::AddRelu => (x + v)?.relu(),
    }
}

/// Checks that the operand `v` has the shape `want`, then applies `op` to `x` in place when a CPU
/// pass may overwrite it (f32 on the CPU, no gradient recorded, contiguous, not a trainable
/// variable): true when it did, false when the caller's tensor operations must run.
fn in_place(x: &Tensor, v: &Tensor, want: &[usize], op: Op) -> Result<bool> {
    if v.dims() != want || x.rank() == 0 {
        bail!("{op:?}: operand {:?} does not fit {:?}", v.dims(), x.dims())
    }
    let f32s = x.dtype() == DType::F32 && v.dtype() == DType::F32;
    let applies = grad_disabled()
        && x.is_contiguous()
        && !x.is_variable()
        && super::use_cpu_kernel(x.device(), f32s);
    if applies {
        x.inplace_op2(&v.contiguous()?, &InPlace(op))?;
    }
    Ok(applies)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Planes(Tail),
    Last(LastTail),
}

struct InPlace(Op);

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
        let v = contiguous(v, l2, self.name())?;
        let x = &mut x[start..end];
        match self.0 {
            Op::Planes(tail) => {
                let plane = dims.get(2..).map(|d| d.iter().product()).unwrap_or(1usize);
                run(x, v, plane.max(1), tail)
            }
            Op::Last(tail) => run_last(x, v, dims.last().copied().unwrap_or(1).max(1), tail),
        }
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

crate::util::simd::avx2_dispatch! {
    /// One task, compiled for AVX2 + FMA where the CPU has them.
    fn chunk(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) => chunk_generic
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

/// The channels-last tail over `x` with `c` channels, in parallel tasks of whole pixels.
fn run_last(x: &mut [f32], v: &[f32], c: usize, tail: LastTail) {
    let task = (TASK_ELEMS / c).max(1) * c;
    match tail {
        LastTail::AddRelu => x
            .par_chunks_mut(task)
            .zip(v.par_chunks(task))
            .for_each(|(x, r)| last_chunk(x, r, tail)),
        _ => x.par_chunks_mut(task).for_each(|x| last_chunk(x, v, tail)),
    }
}

crate::util::simd::avx2_dispatch! {
    /// One task of [`run_last`], compiled for AVX2 + FMA where the CPU has them.
    fn last_chunk(x: &mut [f32], v: &[f32], tail: LastTail) => last_chunk_generic
}

/// `v`: the C shifts (whole pixels of `x`), or for [`LastTail::AddRelu`] one value per element.
#[inline(always)]
fn last_chunk_generic(x: &mut [f32], v: &[f32], tail: LastTail) {
    match tail {
        LastTail::AddRelu => {
            for (a, &b) in x.iter_mut().zip(v) {
                *a = (*a + b).max(0.0);
            }
        }
        LastTail::Shift => {
            for px in x.chunks_mut(v.len()) {
                px.iter_mut().zip(v).for_each(|(a, &s)| *a += s);
            }
        }
        LastTail::ShiftRelu => {
            for px in x.chunks_mut(v.len()) {
                px.iter_mut()
                    .zip(v)
                    .for_each(|(a, &s)| *a = (*a + s).max(0.0));
            }
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

    /// The channels-last tails against their definitions, with a channel count that does not
    /// divide a task (3 and 37) and negative values for the ReLU.
    #[test]
    fn every_channels_last_tail_matches_its_definition() -> Result<()> {
        let dev = Device::Cpu;
        for &dims in &[[1usize, 2, 5, 5, 37], [2, 3, 50, 40, 3]] {
            let x = Tensor::randn(0f32, 2.0, &dims, &dev)?;
            let xs = x.flatten_all()?.to_vec1::<f32>()?;
            let c = dims[4];
            for tail in [LastTail::Shift, LastTail::ShiftRelu, LastTail::AddRelu] {
                let v = match tail {
                    LastTail::AddRelu => Tensor::randn(0f32, 1.0, &dims, &dev)?,
                    _ => Tensor::randn(0f32, 1.0, c, &dev)?,
                };
                let vs = v.flatten_all()?.to_vec1::<f32>()?;
                let got = no_grad(|| apply_channels_last(x.copy()?, &v, tail))?;
                let got = got.flatten_all()?.to_vec1::<f32>()?;
                for (i, (&g, &a)) in got.iter().zip(&xs).enumerate() {
                    let want = match tail {
                        LastTail::Shift => a + vs[i % c],
                        LastTail::ShiftRelu => (a + vs[i % c]).max(0.0),
                        LastTail::AddRelu => (a + vs[i]).max(0.0),
                    };
                    assert_eq!(g, want, "{tail:?} {dims:?} element {i}");
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
