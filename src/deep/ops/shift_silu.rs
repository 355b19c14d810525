//! `silu(x + shift[c])`, the second half of EfficientNet's evaluation-mode tail (BatchNorm as a
//! scale and shift, then SiLU) where the in-place pass of `in_place` does not apply (gradients
//! recorded, another device): one fused CPU pass with a vectorisable `exp`, or the unfused tensor
//! ops on every other device.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu::dispatch2;

/// `silu(x + shift[c])` for `x` (N, C, H, W) and `shift` (C). On the CPU (f32/f64) one fused pass
/// (candle's SiLU calls the scalar `expf` per element, 3x slower than torch); elsewhere, and
/// with [`super::KernelPath::Generic`], a broadcast add and candle's SiLU.
pub fn shift_silu(x: &Tensor, shift: &Tensor) -> Result<Tensor> {
    let (_, c, _, _) = x.dims4()?;
    if shift.dims() != [c] {
        bail!("shift {:?} does not fit {:?}", shift.dims(), x.dims())
    }
    let native = matches!(x.dtype(), DType::F32 | DType::F64);
    if super::use_cpu_kernel(x.device(), native && shift.dtype() == x.dtype()) {
        x.contiguous()?.apply_op2(&shift.contiguous()?, ShiftSilu)
    } else {
        x.broadcast_add(&shift.reshape((1, c, 1, 1))?)?.silu()
    }
}

/// `exp(x)` in f32 from a degree-6 polynomial on `[-ln2/2, ln2/2]` and an exponent shift,
/// written branch-free so loops over it vectorise; relative error about 2e-7.
#[inline(always)]
pub(crate) fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer
    const ROUND: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n sits in the low mantissa bits of t: integer arithmetic only, so the loop vectorises
    let n_int = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((n_int.wrapping_add(127) as u32) << 23);
    p * scale
}

fn shift_silu_planes<T: Copy + Default + Send + Sync>(
    x: &[T],
    shift: &[T],
    plane: usize,
    f: impl Fn(T, T) -> T + Sync,
) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    let channels = shift.len();
    out.par_chunks_mut(plane)
        .zip(x.par_chunks(plane))
        .enumerate()
        .for_each(|(i, (dst, src))| {
            let s = shift[i % channels];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = f(v, s);
            }
        });
    out
}

/// The fused CPU op behind [`shift_silu`]: (x, shift) -> silu(x + shift).
struct ShiftSilu;

impl CustomOp2 for ShiftSilu {
    fn name(&self) -> &'static str {
        "shift-silu"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        shift: &CpuStorage,
        sl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = xl.shape().dims();
        let plane = dims[2] * dims[3];
        if plane == 0 {
            bail!("shift-silu on an empty image {dims:?}")
        }
        let out = dispatch2(
            self.name(),
            (x, xl),
            (shift, sl),
            |x, s| {
                shift_silu_planes(x, s, plane, |v, s| {
                    let z = v + s;
                    z / (1.0 + fast_exp(-z))
                })
            },
            |x, s| {
                shift_silu_planes(x, s, plane, |v, s| {
                    let z = v + s;
                    z / (1.0 + (-z).exp())
                })
            },
        )?;
        Ok((out, xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        shift: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // d silu(z) / dz = s (1 + z (1 - s)) with s = sigmoid(z)
        let c = shift.dim(0)?;
        let z = x.broadcast_add(&shift.reshape((1, c, 1, 1))?)?;
        let s = candle_nn::ops::sigmoid(&z)?;
        let slope = (&s * ((&z * (1.0 - &s)?)? + 1.0)?)?;
        let dz = grad.mul(&slope)?;
        let dshift = dz.sum(3)?.sum(2)?.sum(0)?;
        Ok((Some(dz), Some(dshift)))
    }
}
