//! A dense 2-D convolution in NCHW for inference on the CPU (EfficientNet-B0's stem and 1x1
//! convolutions): per image, the transposed patch matrix `(C k k, Ho Wo)` (the image itself for
//! a 1x1) and one product `W (O, C k k)` times it, written straight into the image's
//! `(O, Ho, Wo)` output; images in parallel, each product on one thread. Optionally the
//! layer's element-wise tail (evaluation-mode BatchNorm, SiLU) runs on each image's output
//! right after its product, while it is still in the core's cache. candle's `conv2d` builds the patch
//! matrix the other way round and then transposes its product back to NCHW, which made the
//! stem 4x PyTorch's time.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu::{f32_slice, matmul_rows};
use super::in_place::{self, Tail};

/// `conv2d(x, w, stride, padding)` without bias, torch's semantics: `x` (N, C, H, W), `w`
/// (O, C, k, k), f32 on the CPU. No backward pass: callers use it without gradients (the
/// frozen trunk inside [`crate::deep::nn::no_grad`]); elsewhere candle's `conv2d` runs.
pub fn conv2d_inference(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    conv2d_inference_with_tail(x, w, stride, padding, None)
}

/// [`conv2d_inference`] followed by `tail`, an affine tail of [`in_place`] with its `(2, O)`
/// scales and shifts, applied to each image's output right after its product (the same values
/// as [`in_place::apply`] on the whole output, without a second pass over memory).
pub(crate) fn conv2d_inference_with_tail(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    padding: usize,
    tail: Option<(&Tensor, Tail)>,
) -> Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let (o, wc, k, k2) = w.dims4()?;
    if wc != c || k != k2 || k == 0 || stride == 0 || h + 2 * padding < k || wd + 2 * padding < k {
        bail!(
            "conv2d: weight {:?} does not fit input {:?} (stride {stride}, padding {padding})",
            w.dims(),
            x.dims()
        )
    }
    let g = Geometry {
        n,
        c,
        h,
        w: wd,
        o,
        k,
        stride,
        padding,
        ho: (h + 2 * padding - k) / stride + 1,
        wo: (wd + 2 * padding - k) / stride + 1,
    };
    let tail = match tail {
        None => None,
        Some((v, tail @ (Tail::Affine | Tail::AffineSilu))) if v.dims() == [2, g.o] => {
            Some((v.flatten_all()?.to_vec1::<f32>()?, tail))
        }
        Some((v, tail)) => bail!(
            "conv2d: a {tail:?} tail with values {:?} for {} output channels",
            v.dims(),
            g.o
        ),
    };
    x.contiguous()?
        .apply_op2_no_bwd(&w.contiguous()?, &Conv2dInference { g, tail })
}

#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    stride: usize,
    padding: usize,
    ho: usize,
    wo: usize,
}

struct Conv2dInference {
    g: Geometry,
    /// The affine tail and its values, `(2, O)` row-major.
    tail: Option<(Vec<f32>, Tail)>,
}

impl CustomOp2 for Conv2dInference {
    fn name(&self) -> &'static str {
        "conv2d-inference"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let x = f32_slice(x, xl, "conv2d input")?;
        let w = f32_slice(w, wl, "conv2d weight")?;
        let (kk, plane, in_plane) = (g.c * g.k * g.k, g.ho * g.wo, g.h * g.w);
        let threads = rayon::current_num_threads().max(1);
        // Fewer images than threads: the product itself in parallel.
        let parallelism = if g.n < threads {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        let len = g.n * g.o * plane;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len]
            .par_chunks_mut(g.o * plane)
            .zip(x.par_chunks(g.c * in_plane))
            .for_each_init(Vec::new, |cols: &mut Vec<f32>, (out, x)| {
                // A 1x1 convolution without stride or padding multiplies the image itself.
                let pointwise = g.k == 1 && g.stride == 1 && g.padding == 0;
                let rhs = if pointwise {
                    x
                } else {
                    build_columns(&g, x, cols);
                    cols.as_slice()
                };
                // SAFETY: `w` is o x kk (row stride kk), `rhs` kk x plane (row stride plane),
                // `out` o x plane (row stride plane); they do not overlap.
                unsafe {
                    matmul_rows(
                        g.o,
                        plane,
                        kk,
                        out.as_mut_ptr().cast::<f32>(),
                        false,
                        w.as_ptr(),
                        rhs.as_ptr(),
                        parallelism,
                    );
                }
                if let Some((v, tail)) = &self.tail {
                    // SAFETY: the product above wrote all of this image's output.
                    let out = unsafe {
                        std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), out.len())
                    };
                    in_place::run(out, v, plane, *tail);
                }
            });
        // SAFETY: every product above wrote its whole o x plane block (`read_dst` false).
        unsafe { out.set_len(len) };
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.ho, g.wo))))
    }
}

/// The transposed patch matrix `(C k k, Ho Wo)` of one image `x` into `cols`: row `(c, i, j)`
/// is input plane `c` shifted by tap `(i, j)` and sampled with the stride, zero in the padding.
fn build_columns(g: &Geometry, x: &[f32], cols: &mut Vec<f32>) {
    let (kk, plane, in_plane) = (g.c * g.k * g.k, g.ho * g.wo, g.h * g.w);
    cols.clear();
    cols.resize(kk * plane, 0.0);
    for (row, dst) in cols.chunks_exact_mut(plane).enumerate() {
        let (ci, i, j) = (row / (g.k * g.k), row / g.k % g.k, row % g.k);
        let src = &x[ci * in_plane..][..in_plane];
        for oy in 0..g.ho {
            let Some(iy) = (oy * g.stride + i).checked_sub(g.padding) else {
                continue;
            };
            if iy >= g.h {
                continue;
            }
            let src_row = &src[iy * g.w..][..g.w];
            for (ox, d) in dst[oy * g.wo..][..g.wo].iter_mut().enumerate() {
                let ix = (ox * g.stride + j).wrapping_sub(g.padding);
                if ix < g.w {
                    *d = src_row[ix];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// Against candle's `conv2d` (itself checked against torch through the EfficientNet-B0
    /// fixtures on the generic path), at the stem's kernel and stride, odd sizes and a 1x1.
    #[test]
    fn matches_candles_conv2d() {
        let dev = Device::Cpu;
        for (n, c, h, w, o, k, stride, padding) in [
            (3, 3, 17, 14, 8, 3, 2, 1),
            (1, 3, 16, 16, 32, 3, 2, 1),
            (2, 4, 9, 11, 5, 5, 1, 2),
            (2, 6, 5, 7, 3, 1, 1, 0),
        ] {
            let x = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 0.3, (o, c, k, k), &dev).unwrap();
            let want = x.conv2d(&wt, padding, stride, 1, 1).unwrap();
            let got = conv2d_inference(&x, &wt, stride, padding).unwrap();
            assert_eq!(got.dims(), want.dims());
            let err = crate::deep::max_abs_diff(&got, &want);
            assert!(err < 1e-5, "{n}x{c}x{h}x{w} k{k} s{stride}: {err}");
        }
    }

    /// With a tail, each image's output is the convolution followed by `x * scale + shift`
    /// (and SiLU), as candle's `conv2d` and tensor operations compute them; more images than
    /// threads and fewer, a 1x1 and the stem's 3x3 with stride 2.
    #[test]
    fn the_tail_is_applied_to_every_image() {
        let dev = Device::Cpu;
        for (n, c, h, w, o, k, stride, padding) in
            [(5, 6, 9, 7, 11, 1, 1, 0), (1, 3, 16, 15, 8, 3, 2, 1)]
        {
            let x = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 0.3, (o, c, k, k), &dev).unwrap();
            let v = Tensor::randn(0f32, 1.0, (2, o), &dev).unwrap();
            let conv = x.conv2d(&wt, padding, stride, 1, 1).unwrap();
            let affine = conv
                .broadcast_mul(&v.get(0).unwrap().reshape((1, o, 1, 1)).unwrap())
                .unwrap()
                .broadcast_add(&v.get(1).unwrap().reshape((1, o, 1, 1)).unwrap())
                .unwrap();
            for (tail, want) in [
                (Tail::Affine, affine.clone()),
                (Tail::AffineSilu, affine.silu().unwrap()),
            ] {
                let got = crate::deep::nn::no_grad(|| {
                    conv2d_inference_with_tail(&x, &wt, stride, padding, Some((&v, tail)))
                })
                .unwrap();
                let err = crate::deep::max_abs_diff(&got, &want);
                assert!(err < 1e-5, "{tail:?} {n}x{c}x{h}x{w} k{k}: {err}");
            }
        }
        // A tail that is not affine, or values of the wrong shape, are refused.
        let x = Tensor::zeros((1, 2, 3, 3), DType::F32, &dev).unwrap();
        let wt = Tensor::zeros((4, 2, 1, 1), DType::F32, &dev).unwrap();
        let v = Tensor::zeros((2, 3), DType::F32, &dev).unwrap();
        assert!(conv2d_inference_with_tail(&x, &wt, 1, 0, Some((&v, Tail::Affine))).is_err());
        let g = Tensor::zeros((1, 4), DType::F32, &dev).unwrap();
        assert!(conv2d_inference_with_tail(&x, &wt, 1, 0, Some((&g, Tail::Scale))).is_err());
    }
}
