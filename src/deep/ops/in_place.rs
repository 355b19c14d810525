//! The element-wise tails of the networks' layers at inference, applied in place on the CPU.
//! EfficientNet-B0 (NCHW, [`apply`]): the evaluation-mode BatchNorm after a convolution as
//! `x * scale[c] + shift[c]`, followed by SiLU or not (the projection), the squeeze-excitation
//! gate `x * gate[n, c]` and the residual sum `x + r`. R3D-18 (channels-last,
//! [`apply_channels_last`]): the BatchNorm's `x * scale[c] + shift[c]` with or without the ReLU,
//! and the block's `relu(x + r)`.
//!
//! The BatchNorm's scale is applied here, to the activation, rather than folded into the
//! convolution's weight: folding costs a pass over every weight on every forward pass (for
//! R3D-18's layer4, 25M values written to fresh memory per clip), the activation pass is made
//! anyway, and one more multiplication in it is free.
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

use super::cpu::{f32_slice, f32_slice_mut};
use super::shift_silu::{fast_exp, shift_silu};
use crate::deep::nn::grad_disabled;

/// Which tail to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// `silu(x * v[0, c] + v[1, c])`, `v` of shape (2, C): scale and shift.
    AffineSilu,
    /// `x * v[0, c] + v[1, c]`, `v` of shape (2, C).
    Affine,
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
        Tail::AffineSilu | Tail::Affine => &[2, c],
        Tail::Scale => &[n, c],
        Tail::Add => x.dims(),
    };
    if in_place(&x, v, want, Op::Planes(tail))? {
        return Ok(x);
    }
    let scaled = || x.broadcast_mul(&v.get(0)?.reshape((1, c, 1, 1))?);
    match tail {
        Tail::AffineSilu => shift_silu(&scaled()?, &v.get(1)?),
        Tail::Affine => scaled()?.broadcast_add(&v.get(1)?.reshape((1, c, 1, 1))?),
        Tail::Scale => x.broadcast_mul(&v.reshape((n, c, 1, 1))?),
        Tail::Add => x + v,
    }
}

/// Which tail to apply to a channels-last `(..., C)` activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LastTail {
    /// `x * v[0, c] + v[1, c]`, `v` of shape (2, C): scale and shift.
    Affine,
    /// `relu(x * v[0, c] + v[1, c])`, `v` of shape (2, C).
    AffineRelu,
    /// `relu(x + v)`, `v` of the shape of `x` (the residual sum).
    AddRelu,
}

/// `x`, channels-last (the last dimension is the channel), with `tail` applied, overwriting
/// `x`'s storage where the in-place path applies (see the module docs); the caller gives up `x`.
pub(crate) fn apply_channels_last(x: Tensor, v: &Tensor, tail: LastTail) -> Result<Tensor> {
    let c = x.dims().last().copied().unwrap_or(1);
    let want: &[usize] = match tail {
        LastTail::Affine | LastTail::AffineRelu => &[2, c],
        LastTail::AddRelu => x.dims(),
    };
    if in_place(&x, v, want, Op::Last(tail))? {
        return Ok(x);
    }
    let affine = || x.broadcast_mul(&v.get(0)?)?.broadcast_add(&v.get(1)?);
    match tail {
        LastTail::Affine => affine(),
        LastTail::AffineRelu => affine()?.relu(),
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
        let x = f32_slice_mut(s1, l1, self.name())?;
        let v = f32_slice(s2, l2, self.name())?;
        let dims = l1.shape().dims();
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

/// The tail over `x`, planes of `plane` elements, in parallel; `v` as [`apply`] takes it
/// (rows of C values for the affine tails, taken mod C for further images).
pub(crate) fn run(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    if tail == Tail::Add {
        x.par_chunks_mut(TASK_ELEMS)
            .zip(v.par_chunks(TASK_ELEMS))
            .for_each(|(x, r)| chunk(x, r, plane, tail));
        return;
    }
    let per = (TASK_ELEMS / plane).max(1);
    // Values per plane: scale and shift for the affine tails (rows of `v`), one otherwise.
    let width = match tail {
        Tail::AffineSilu | Tail::Affine => 2,
        _ => 1,
    };
    let row = v.len() / width;
    x.par_chunks_mut(per * plane)
        .enumerate()
        .for_each(|(k, x)| {
            // The per-plane values of this task's planes (index = n C + c, taken mod the row
            // length), interleaved when there are two.
            let first = k * per;
            let vals: Vec<f32> = (first..first + x.len().div_ceil(plane))
                .flat_map(|i| (0..width).map(move |r| v[r * row + i % row]))
                .collect();
            chunk(x, &vals, plane, tail)
        });
}

/// One task, compiled for AVX-512 or AVX2 + FMA where the CPU has them.
fn chunk(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn fast512(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
            chunk_generic(x, v, plane, tail)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: checked just above.
            return unsafe { fast512(x, v, plane, tail) };
        }
    }
    chunk2(x, v, plane, tail)
}

crate::util::simd::avx2_dispatch! {
    /// One task, compiled for AVX2 + FMA where the CPU has them.
    fn chunk2(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) => chunk_generic
}

/// `v` holds one value per plane of `x` (scale and shift, interleaved, for the affine tails;
/// for [`Tail::Add`], one per element).
#[inline(always)]
fn chunk_generic(x: &mut [f32], v: &[f32], plane: usize, tail: Tail) {
    match tail {
        Tail::Add => {
            for (a, &b) in x.iter_mut().zip(v) {
                *a += b;
            }
        }
        Tail::AffineSilu => {
            for (p, sb) in x.chunks_mut(plane).zip(v.chunks_exact(2)) {
                let (s, b) = (sb[0], sb[1]);
                for a in p.iter_mut() {
                    let z = *a * s + b;
                    *a = z / (1.0 + fast_exp(-z));
                }
            }
        }
        Tail::Affine => {
            for (p, sb) in x.chunks_mut(plane).zip(v.chunks_exact(2)) {
                let (s, b) = (sb[0], sb[1]);
                p.iter_mut().for_each(|a| *a = *a * s + b);
            }
        }
        Tail::Scale => {
            for (p, &s) in x.chunks_mut(plane).zip(v) {
                p.iter_mut().for_each(|a| *a *= s);
            }
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

/// `v`: the C scales then the C shifts (`x` holds whole pixels), or for [`LastTail::AddRelu`]
/// one value per element.
#[inline(always)]
fn last_chunk_generic(x: &mut [f32], v: &[f32], tail: LastTail) {
    #[inline(always)]
    fn affine(x: &mut [f32], v: &[f32], relu: bool) {
        let (scale, shift) = v.split_at(v.len() / 2);
        for px in x.chunks_mut(scale.len()) {
            for ((a, &s), &b) in px.iter_mut().zip(scale).zip(shift) {
                let z = *a * s + b;
                *a = if relu { z.max(0.0) } else { z };
            }
        }
    }
    match tail {
        LastTail::AddRelu => {
            for (a, &b) in x.iter_mut().zip(v) {
                *a = (*a + b).max(0.0);
            }
        }
        LastTail::Affine => affine(x, v, false),
        LastTail::AffineRelu => affine(x, v, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::nn::no_grad;
    use candle_core::Device;

    /// Each tail against its definition written out element by element, on planes that do not
    /// fill a task evenly (7x7 and 57x3) and a batch of two images; in place (inside `no_grad`)
    /// and by the tensor operations (outside).
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
            for tail in [Tail::AffineSilu, Tail::Affine, Tail::Scale, Tail::Add] {
                let v = match tail {
                    Tail::AffineSilu | Tail::Affine => Tensor::randn(0f32, 1.0, (2, c), &dev)?,
                    Tail::Scale => Tensor::randn(0f32, 1.0, (n, c), &dev)?,
                    Tail::Add => Tensor::randn(0f32, 1.0, (n, c, h, w), &dev)?,
                };
                let vs = v.flatten_all()?.to_vec1::<f32>()?;
                let want: Vec<f64> = xs
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| {
                        let (a, nc) = (f64::from(a), i / plane);
                        let affine = || a * f64::from(vs[nc % c]) + f64::from(vs[c + nc % c]);
                        match tail {
                            Tail::AffineSilu => {
                                let z = affine();
                                z / (1.0 + (-z).exp())
                            }
                            Tail::Affine => affine(),
                            Tail::Scale => a * f64::from(vs[nc]),
                            Tail::Add => a + f64::from(vs[i]),
                        }
                    })
                    .collect();
                // A copy, so `x` stays the same input for every tail.
                let in_place = no_grad(|| apply(x.copy()?, &v, tail))?;
                let by_ops = apply(x.copy()?, &v, tail)?;
                for (path, got) in [("in place", in_place), ("tensor ops", by_ops)] {
                    let got = got.flatten_all()?.to_vec1::<f32>()?;
                    for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
                        let tol = 1e-6 * (1.0 + e.abs());
                        assert!(
                            (f64::from(g) - e).abs() <= tol,
                            "{tail:?} {path} {:?} element {i}: {g} vs {e}",
                            (n, c, h, w)
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The channels-last tails against their definitions, with a channel count that does not
    /// divide a task (3 and 37) and negative values for the ReLU; in place and by the tensor
    /// operations.
    #[test]
    fn every_channels_last_tail_matches_its_definition() -> Result<()> {
        let dev = Device::Cpu;
        for &dims in &[[1usize, 2, 5, 5, 37], [2, 3, 50, 40, 3]] {
            let x = Tensor::randn(0f32, 2.0, &dims, &dev)?;
            let xs = x.flatten_all()?.to_vec1::<f32>()?;
            let c = dims[4];
            for tail in [LastTail::Affine, LastTail::AffineRelu, LastTail::AddRelu] {
                let v = match tail {
                    LastTail::AddRelu => Tensor::randn(0f32, 1.0, &dims, &dev)?,
                    _ => Tensor::randn(0f32, 1.0, (2, c), &dev)?,
                };
                let vs = v.flatten_all()?.to_vec1::<f32>()?;
                let in_place = no_grad(|| apply_channels_last(x.copy()?, &v, tail))?;
                let by_ops = apply_channels_last(x.copy()?, &v, tail)?;
                for (path, got) in [("in place", in_place), ("tensor ops", by_ops)] {
                    let got = got.flatten_all()?.to_vec1::<f32>()?;
                    for (i, (&g, &a)) in got.iter().zip(&xs).enumerate() {
                        let affine = a * vs[i % c] + vs[c + i % c];
                        let want = match tail {
                            LastTail::Affine => affine,
                            LastTail::AffineRelu => affine.max(0.0),
                            LastTail::AddRelu => (a + vs[i]).max(0.0),
                        };
                        assert_eq!(g, want, "{tail:?} {path} {dims:?} element {i}");
                    }
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
        let scale_shift = Tensor::new(&[[2f32, 2.0], [1.0, 2.0]], &dev)?;
        let y = apply(x.clone(), &scale_shift, Tail::Affine)?;
        assert_eq!(x.sum_all()?.to_scalar::<f32>()?, 18.0);
        assert_eq!(y.sum_all()?.to_scalar::<f32>()?, 18.0 * 2.0 + 9.0 * 3.0);
        Ok(())
    }
}
