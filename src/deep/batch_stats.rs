//! Training-mode batch norm of the frozen layers (`frozen_bn = train`) without autograd: the
//! batch's per-channel statistics, computed in f64 on the CPU, fold into one scale and shift per
//! channel that the layers apply in place with their activation, as in evaluation.

use candle_core::{DType, Result, Storage, Tensor, Var};
use candle_nn::BatchNorm;
use rayon::prelude::*;

use super::ops::cpu::f32_slice;

/// `sum f(v)` over `values` in eight f64 lanes (vectorised; an exact-order sum is not needed).
#[inline(always)]
fn lane_sum(values: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&v| f(f64::from(v))).sum();
    for chunk in chunks {
        for l in 0..8 {
            acc[l] += f(f64::from(chunk[l]));
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The contiguous f32 values of a CPU tensor, handed to `f`, or `None` on another device or
/// type.
fn with_cpu_f32<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<Option<R>> {
    if x.dtype() != DType::F32 || !x.device().is_cpu() {
        return Ok(None);
    }
    let (storage, layout) = x.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Ok(None);
    };
    if !layout.is_contiguous() {
        return Ok(None);
    }
    f(f32_slice(cpu, layout, "batch statistics")?).map(Some)
}

/// Per-channel mean and biased variance of an `(N, C, H, W)` f32 tensor on the CPU, in f64
/// (two passes: the mean, then the squared deviations from it), or `None` elsewhere.
pub(crate) fn channel_mean_var_nchw(x: &Tensor) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
    let (n, c, h, w) = x.dims4()?;
    let plane = h * w;
    if n * plane == 0 {
        return Ok(None);
    }
    let m = (n * plane) as f64;
    with_cpu_f32(x, |data| {
        let planes = |ci: usize| (0..n).map(move |ni| &data[(ni * c + ci) * plane..][..plane]);
        let stats: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ci| {
                let mean = planes(ci).map(|p| lane_sum(p, |v| v)).sum::<f64>() / m;
                let var = planes(ci)
                    .map(|p| lane_sum(p, |v| (v - mean) * (v - mean)))
                    .sum::<f64>()
                    / m;
                (mean, var)
            })
            .collect();
        Ok(stats.into_iter().unzip())
    })
}

/// Rows per parallel task of [`channel_mean_var_rows`].
const ROWS_PER_TASK: usize = 1024;

/// Per-channel mean and biased variance of a channels-last f32 tensor on the CPU (the last
/// dimension is the channel, every other one a row), in f64 (two passes), or `None` elsewhere.
pub(crate) fn channel_mean_var_rows(x: &Tensor) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
    let c = x.dims().last().copied().unwrap_or(0);
    let rows = x.elem_count() / c.max(1);
    if c == 0 || rows == 0 {
        return Ok(None);
    }
    let m = rows as f64;
    with_cpu_f32(x, |data| {
        // Column sums of row blocks in parallel, then summed: first of the values, then of
        // the squared deviations from the mean.
        let column_sums = |mean: Option<&[f64]>| -> Vec<f64> {
            data.par_chunks(ROWS_PER_TASK * c)
                .map(|block| {
                    let mut acc = vec![0.0f64; c];
                    for row in block.chunks_exact(c) {
                        match mean {
                            None => acc.iter_mut().zip(row).for_each(|(a, &v)| {
                                *a += f64::from(v);
                            }),
                            Some(mean) => {
                                acc.iter_mut()
                                    .zip(row)
                                    .zip(mean)
                                    .for_each(|((a, &v), &mu)| {
                                        let d = f64::from(v) - mu;
                                        *a += d * d;
                                    })
                            }
                        }
                    }
                    acc
                })
                .reduce(
                    || vec![0.0f64; c],
                    |mut a, b| {
                        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                        a
                    },
                )
        };
        let mean: Vec<f64> = column_sums(None).into_iter().map(|s| s / m).collect();
        let var: Vec<f64> = column_sums(Some(&mean))
            .into_iter()
            .map(|s| s / m)
            .collect();
        Ok((mean, var))
    })
}

/// Moves a batch norm's running statistics by one training step as torch does: `(1 -
/// momentum) running + momentum batch`, with the batch's biased variance `var` over `m` values
/// per channel unbiased by `m / (m - 1)`. `mean` and `var` are `(C)` or `(1, C)` tensors on the
/// batch norm's device.
pub(crate) fn move_running_stats(
    bn: &BatchNorm,
    momentum: f64,
    mean: &Tensor,
    var: &Tensor,
    m: usize,
) -> Result<()> {
    let unbias = if m > 1 {
        m as f64 / (m - 1) as f64
    } else {
        f64::NAN // torch refuses one value per channel; a NaN running variance says so
    };
    let moved = |running: &Tensor, batch: &Tensor, scale: f64| -> Result<()> {
        let batch = batch.detach().flatten_all()?.to_dtype(running.dtype())?;
        let next = ((running * (1.0 - momentum))? + (batch * (momentum * scale))?)?;
        Var::from_tensor(running)?.set(&next)
    };
    moved(bn.running_mean(), mean, 1.0)?;
    moved(bn.running_var(), var, unbias)
}

/// Training-mode BatchNorm from the batch's per-channel `mean` and biased `var` over `m` values
/// each: moves the running statistics ([`move_running_stats`]) and returns the `(2, C)` scale
/// and shift that normalise with the batch statistics, `scale = gamma / sqrt(var + eps)` and
/// `shift = beta - mean scale`.
pub(crate) fn fold_train_batch_norm(
    bn: &BatchNorm,
    momentum: f64,
    mean: &[f64],
    var: &[f64],
    m: usize,
) -> Result<Tensor> {
    let device = bn.running_mean().device().clone();
    let c = mean.len();
    let as_tensor = |v: &[f64]| Tensor::from_iter(v.iter().map(|&x| x as f32), &device);
    move_running_stats(bn, momentum, &as_tensor(mean)?, &as_tensor(var)?, m)?;
    let (gamma, beta) = match bn.weight_and_bias() {
        Some((g, b)) => (g.to_vec1::<f32>()?, b.to_vec1::<f32>()?),
        None => (vec![1.0; c], vec![0.0; c]),
    };
    let scale: Vec<f64> = (0..c)
        .map(|i| f64::from(gamma[i]) / (var[i] + bn.eps()).sqrt())
        .collect();
    let mut v: Vec<f32> = scale.iter().map(|&s| s as f32).collect();
    v.extend((0..c).map(|i| (f64::from(beta[i]) - mean[i] * scale[i]) as f32));
    Tensor::from_vec(v, (2, c), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn channel_statistics_by_hand_in_both_layouts() {
        // Two images of two channels, 2x1 planes: channel 0 holds 1, 2, 3, 4 (mean 2.5,
        // variance 1.25), channel 1 holds 10, 10, 10, 14 (mean 11, variance 3).
        let nchw = Tensor::from_vec(
            vec![1f32, 2., 10., 10., 3., 4., 10., 14.],
            (2, 2, 2, 1),
            &Device::Cpu,
        )
        .unwrap();
        let (mean, var) = channel_mean_var_nchw(&nchw).unwrap().unwrap();
        assert_eq!((mean, var), (vec![2.5, 11.0], vec![1.25, 3.0]));
        // The same values channels-last, (N, H, W, C).
        let last = nchw.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap();
        let (mean, var) = channel_mean_var_rows(&last).unwrap().unwrap();
        assert_eq!((mean, var), (vec![2.5, 11.0], vec![1.25, 3.0]));
        // Not contiguous: no statistics (the caller takes the tensor path).
        let strided = nchw.permute((0, 2, 3, 1)).unwrap();
        assert!(channel_mean_var_rows(&strided).unwrap().is_none());
    }
}
