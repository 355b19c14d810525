//! Depthwise 2-D convolution (EfficientNet's), differentiable: a direct CPU kernel with its own
//! backward pass, CUDA kernels with theirs (`kernels/depthwise.cu`, with the `cuda` feature),
//! and a device-independent sum of shifted slices for every other device.
//!
//! candle's grouped `conv2d` runs one small convolution per channel, far too slow for
//! EfficientNet's 32..1152-channel depthwise layers.

use std::ops::Range;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu::{Real, dispatch2};

mod blocked;

/// Depthwise 2-D convolution, torch's `conv2d(x, w, stride, padding, groups = C)` without bias:
/// `x` (N, C, H, W), `weight` (C, 1, k, k), symmetric zero padding.
///
/// f32/f64 tensors on the CPU use a direct kernel (with a matching backward pass), and so do
/// f32/f64 tensors on a CUDA device when built with the `cuda` feature; other devices and
/// dtypes, and [`super::KernelPath::Generic`], use [`depthwise_conv2d_taps`].
pub fn depthwise_conv2d(
    x: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let geometry = DepthwiseGeometry::new(x, weight, stride, padding)?;
    let native = matches!(x.dtype(), DType::F32 | DType::F64);
    let supports = native && weight.dtype() == x.dtype();
    if super::use_cpu_kernel(x.device(), supports) || super::use_cuda_kernel(x.device(), supports) {
        x.contiguous()?
            .apply_op2(&weight.contiguous()?, DepthwiseForward(geometry))
    } else {
        depthwise_conv2d_taps(x, weight, stride, padding)
    }
}

/// Device-independent depthwise convolution from differentiable tensor operations: the sum
/// over the k*k kernel taps of shifted slices of the padded input times per-channel weights.
///
/// Stride 2 first splits the padded input into its 2x2 polyphase components, so each tap is a
/// plain shifted slice of one component. Slices are taken on the flattened spatial axis ("wide"
/// rows that include the padding columns, cut away at the end) to keep them contiguous runs.
pub fn depthwise_conv2d_taps(
    x: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let g = DepthwiseGeometry::new(x, weight, stride, padding)?;
    let (n, c, k, s) = (g.n, g.c, g.k, g.stride);
    let padded = x
        .pad_with_zeros(2, padding, padding)?
        .pad_with_zeros(3, padding, padding)?;
    let (hp, wp) = (g.h + 2 * padding, g.w + 2 * padding);
    // Round the padded size up to a multiple of the stride; the extra zeros are never read.
    let (hs, ws) = (hp.div_ceil(s), wp.div_ceil(s));
    let padded = padded
        .pad_with_zeros(2, 0, hs * s - hp)?
        .pad_with_zeros(3, 0, ws * s - wp)?;
    // (N, C, s*s phases, hs*ws): phase (a, b) holds padded[.., s*y + a, s*x + b].
    let phases = if s == 1 {
        padded.reshape((n, c, 1, hs * ws))?
    } else {
        padded
            .reshape((n, c, hs, s, ws, s))?
            .permute((0, 1, 3, 5, 2, 4))?
            .reshape((n, c, s * s, hs * ws))?
    };
    // Tap (i, j) reads phase (i % s, j % s) from flat offset (i / s) * ws + j / s, for ho wide rows.
    let max_offset = ((k - 1) / s) * ws + (k - 1) / s;
    let needed = max_offset + g.ho * ws;
    let phases = phases.pad_with_zeros(3, 0, needed.saturating_sub(hs * ws))?;
    let taps = weight.reshape((c, k * k))?;
    let mut acc: Option<Tensor> = None;
    for i in 0..k {
        for j in 0..k {
            let phase = (i % s) * s + j % s;
            let offset = (i / s) * ws + j / s;
            let slice = phases.narrow(2, phase, 1)?.narrow(3, offset, g.ho * ws)?;
            let w = taps.narrow(1, i * k + j, 1)?.reshape((1, c, 1, 1))?;
            let term = slice.broadcast_mul(&w)?;
            acc = Some(match acc {
                None => term,
                Some(acc) => (acc + term)?,
            });
        }
    }
    let Some(acc) = acc else {
        bail!("depthwise convolution with an empty kernel")
    };
    acc.reshape((n, c, g.ho, ws))?.narrow(3, 0, g.wo)
}

/// Sizes of one depthwise convolution.
#[derive(Clone, Copy, Debug)]
struct DepthwiseGeometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    padding: usize,
    ho: usize,
    wo: usize,
}

/// One kernel tap `(i, j)` applied along one output row: output row `oy` reads input row `iy`,
/// and output columns `cols` read input columns `ox * stride + j - padding`, all inside.
struct TapRow {
    /// Index of the tap in the (k, k) kernel, `i * k + j`.
    tap: usize,
    /// Output row.
    oy: usize,
    /// Input row it reads.
    iy: usize,
    /// Output columns whose input column is inside the image.
    cols: Range<usize>,
    /// Column of the tap in the kernel.
    j: usize,
}

impl TapRow {
    /// Input column read by output column `ox` (in `cols`).
    #[inline(always)]
    fn input_col(&self, ox: usize, g: &DepthwiseGeometry) -> usize {
        ox * g.stride + self.j - g.padding
    }
}

impl DepthwiseGeometry {
    fn new(x: &Tensor, weight: &Tensor, stride: usize, padding: usize) -> Result<Self> {
        let (n, c, h, w) = x.dims4()?;
        let (wc, one, k, k2) = weight.dims4()?;
        if wc != c || one != 1 || k != k2 || k == 0 {
            bail!(
                "depthwise weight {:?} does not fit input {:?}",
                weight.dims(),
                x.dims()
            )
        }
        if stride == 0 || h + 2 * padding < k || w + 2 * padding < k {
            bail!(
                "depthwise convolution: input {:?} too small for kernel {k}, padding {padding}, stride {stride}",
                x.dims()
            )
        }
        Ok(Self {
            n,
            c,
            h,
            w,
            k,
            stride,
            padding,
            ho: (h + 2 * padding - k) / stride + 1,
            wo: (w + 2 * padding - k) / stride + 1,
        })
    }

    /// Output positions `o` (in `0..out`) whose input `o * stride + tap - padding` is inside
    /// `0..size`.
    fn valid(&self, tap: usize, size: usize, out: usize) -> Range<usize> {
        let (s, p) = (self.stride, self.padding);
        let lo = p.saturating_sub(tap).div_ceil(s);
        // o * s + tap - p <= size - 1  <=>  o <= (size - 1 + p - tap) / s
        let hi = if size + p > tap {
            ((size - 1 + p - tap) / s + 1).min(out)
        } else {
            0
        };
        lo..hi.max(lo)
    }

    /// The loop skeleton of all three kernels: calls `f` for every kernel tap and every output
    /// row that tap reaches inside the image (taps that reach no column are skipped), taps in
    /// row-major order, rows ascending.
    fn for_each_tap_row(&self, mut f: impl FnMut(&TapRow)) {
        let k = self.k;
        for i in 0..k {
            let rows = self.valid(i, self.h, self.ho);
            for j in 0..k {
                let cols = self.valid(j, self.w, self.wo);
                if cols.is_empty() {
                    continue;
                }
                for oy in rows.clone() {
                    f(&TapRow {
                        tap: i * k + j,
                        oy,
                        iy: oy * self.stride + i - self.padding,
                        cols: cols.clone(),
                        j,
                    });
                }
            }
        }
    }

    /// The (n, c) planes of an input-sized buffer.
    fn in_plane(&self) -> usize {
        self.h * self.w
    }

    /// The (n, c) planes of an output-sized buffer.
    fn out_plane(&self) -> usize {
        self.ho * self.wo
    }
}

/// The planar forward kernel: `out[plane] += w[tap] * x[plane]` over all taps, one (n, c)
/// plane at a time, one tap and one output row at a time.
fn depthwise_forward_kernel<T: Real>(g: &DepthwiseGeometry, x: &[T], w: &[T]) -> Vec<T> {
    let kk = g.k * g.k;
    let mut out = vec![T::default(); g.n * g.c * g.out_plane()];
    out.par_chunks_mut(g.out_plane())
        .enumerate()
        .for_each(|(plane, out)| {
            let w = &w[(plane % g.c) * kk..][..kk];
            let x = &x[plane * g.in_plane()..][..g.in_plane()];
            g.for_each_tap_row(|t| {
                let wv = w[t.tap];
                let x_row = &x[t.iy * g.w..][..g.w];
                let out_row = &mut out[t.oy * g.wo..][..g.wo];
                if g.stride == 1 {
                    // Unit stride: one contiguous run, which vectorises.
                    let x0 = t.input_col(t.cols.start, g);
                    let src = &x_row[x0..x0 + t.cols.len()];
                    for (o, &v) in out_row[t.cols.clone()].iter_mut().zip(src) {
                        *o += wv * v;
                    }
                } else {
                    for ox in t.cols.clone() {
                        out_row[ox] += wv * x_row[t.input_col(ox, g)];
                    }
                }
            });
        });
    out
}

/// d input: scatter w[tap] * grad[plane] back onto the input positions each tap read.
fn depthwise_grad_input_kernel<T: Real>(g: &DepthwiseGeometry, grad: &[T], w: &[T]) -> Vec<T> {
    let kk = g.k * g.k;
    let mut dx = vec![T::default(); g.n * g.c * g.in_plane()];
    dx.par_chunks_mut(g.in_plane())
        .enumerate()
        .for_each(|(plane, dx)| {
            let w = &w[(plane % g.c) * kk..][..kk];
            let grad = &grad[plane * g.out_plane()..][..g.out_plane()];
            g.for_each_tap_row(|t| {
                let wv = w[t.tap];
                let g_row = &grad[t.oy * g.wo..][..g.wo];
                let dx_row = &mut dx[t.iy * g.w..][..g.w];
                for ox in t.cols.clone() {
                    dx_row[t.input_col(ox, g)] += wv * g_row[ox];
                }
            });
        });
    dx
}

/// d weight[c, tap] = sum over batch and output positions of grad * the input the tap read.
fn depthwise_grad_weight_kernel<T: Real>(g: &DepthwiseGeometry, x: &[T], grad: &[T]) -> Vec<T> {
    let kk = g.k * g.k;
    let mut dw = vec![T::default(); g.c * kk];
    dw.par_chunks_mut(kk).enumerate().for_each(|(c, dw)| {
        for n in 0..g.n {
            let plane = n * g.c + c;
            let x = &x[plane * g.in_plane()..][..g.in_plane()];
            let grad = &grad[plane * g.out_plane()..][..g.out_plane()];
            g.for_each_tap_row(|t| {
                let x_row = &x[t.iy * g.w..][..g.w];
                let g_row = &grad[t.oy * g.wo..][..g.wo];
                let mut sum = T::default();
                for ox in t.cols.clone() {
                    sum += g_row[ox] * x_row[t.input_col(ox, g)];
                }
                dw[t.tap] += sum;
            });
        }
    });
    dw
}

/// Forward custom op: (x, weight) -> output.
struct DepthwiseForward(DepthwiseGeometry);

impl CustomOp2 for DepthwiseForward {
    fn name(&self) -> &'static str {
        "depthwise-conv2d"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.0;
        let out = dispatch2(
            self.name(),
            (x, xl),
            (w, wl),
            |x, w| match blocked::preferred_f32(g) {
                true => blocked::forward_f32(g, x, w),
                false => depthwise_forward_kernel(g, x, w),
            },
            |x, w| match blocked::preferred_f64(g) {
                true => blocked::forward_generic(g, x, w),
                false => depthwise_forward_kernel(g, x, w),
            },
        )?;
        Ok((out, Shape::from((g.n, g.c, g.ho, g.wo))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        x: &candle_core::CudaStorage,
        xl: &Layout,
        w: &candle_core::CudaStorage,
        wl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let g = &self.0;
        let out = cuda::launch(cuda::Kernel::Forward, g, (x, xl), (w, wl))?;
        Ok((out, Shape::from((g.n, g.c, g.ho, g.wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = grad.apply_op2_no_bwd(&w.contiguous()?, &DepthwiseGradInput(self.0))?;
        let dw = x
            .contiguous()?
            .apply_op2_no_bwd(&grad, &DepthwiseGradWeight(self.0))?;
        Ok((Some(dx), Some(dw)))
    }
}

/// Backward custom op for the input: (grad, weight) -> d x.
struct DepthwiseGradInput(DepthwiseGeometry);

impl CustomOp2 for DepthwiseGradInput {
    fn name(&self) -> &'static str {
        "depthwise-conv2d-grad-input"
    }

    fn cpu_fwd(
        &self,
        grad: &CpuStorage,
        gl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.0;
        let out = dispatch2(
            self.name(),
            (grad, gl),
            (w, wl),
            |d, w| depthwise_grad_input_kernel(g, d, w),
            |d, w| depthwise_grad_input_kernel(g, d, w),
        )?;
        Ok((out, Shape::from((g.n, g.c, g.h, g.w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        grad: &candle_core::CudaStorage,
        gl: &Layout,
        w: &candle_core::CudaStorage,
        wl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let g = &self.0;
        let out = cuda::launch(cuda::Kernel::GradInput, g, (grad, gl), (w, wl))?;
        Ok((out, Shape::from((g.n, g.c, g.h, g.w))))
    }
}

/// Backward custom op for the weight: (x, grad) -> d weight.
struct DepthwiseGradWeight(DepthwiseGeometry);

impl CustomOp2 for DepthwiseGradWeight {
    fn name(&self) -> &'static str {
        "depthwise-conv2d-grad-weight"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        grad: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.0;
        let out = dispatch2(
            self.name(),
            (x, xl),
            (grad, gl),
            |x, d| depthwise_grad_weight_kernel(g, x, d),
            |x, d| depthwise_grad_weight_kernel(g, x, d),
        )?;
        Ok((out, Shape::from((g.c, 1, g.k, g.k))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        x: &candle_core::CudaStorage,
        xl: &Layout,
        grad: &candle_core::CudaStorage,
        gl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let g = &self.0;
        let out = cuda::launch(cuda::Kernel::GradWeight, g, (x, xl), (grad, gl))?;
        Ok((out, Shape::from((g.c, 1, g.k, g.k))))
    }
}

/// The CUDA kernels of `kernels/depthwise.cu` (PTX compiled by build.rs), launched on candle's
/// stream; one thread per output element for the forward pass and the input gradient, one block
/// per (channel, tap) for the weight gradient.
#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::backend::BackendStorage;
    use candle_core::cuda_backend::cudarc::driver::{
        CudaSlice, DeviceRepr, LaunchConfig, PushKernelArg,
    };
    use candle_core::cuda_backend::{CudaStorageSlice, WrapErr};
    use candle_core::{CudaDevice, CudaStorage, Layout, Result, bail};

    use super::super::cuda::{THREADS, grid_stride, int, view};
    use super::DepthwiseGeometry;

    const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/depthwise.ptx"));
    const MODULE: &str = "vidcompare-depthwise";

    #[derive(Clone, Copy)]
    pub(super) enum Kernel {
        /// (x, w) -> y
        Forward,
        /// (grad, w) -> d x
        GradInput,
        /// (x, grad) -> d w
        GradWeight,
    }

    impl Kernel {
        fn name(self) -> &'static str {
            match self {
                Kernel::Forward => "depthwise_forward",
                Kernel::GradInput => "depthwise_grad_input",
                Kernel::GradWeight => "depthwise_grad_weight",
            }
        }
    }

    /// Runs `kernel` on two contiguous CUDA storages of one float type.
    pub(super) fn launch(
        kernel: Kernel,
        g: &DepthwiseGeometry,
        a: (&CudaStorage, &Layout),
        b: (&CudaStorage, &Layout),
    ) -> Result<CudaStorage> {
        let dev = a.0.device().clone();
        let slice = match (&a.0.slice, &b.0.slice) {
            (CudaStorageSlice::F32(x), CudaStorageSlice::F32(y)) => {
                CudaStorageSlice::F32(run(kernel, "f32", g, &dev, (x, a.1), (y, b.1))?)
            }
            (CudaStorageSlice::F64(x), CudaStorageSlice::F64(y)) => {
                CudaStorageSlice::F64(run(kernel, "f64", g, &dev, (x, a.1), (y, b.1))?)
            }
            _ => bail!(
                "{}: only f32/f64 tensors of one dtype on CUDA, got {:?} and {:?}",
                kernel.name(),
                a.0.dtype(),
                b.0.dtype()
            ),
        };
        Ok(CudaStorage { slice, device: dev })
    }

    fn run<T: DeviceRepr>(
        kernel: Kernel,
        suffix: &str,
        g: &DepthwiseGeometry,
        dev: &CudaDevice,
        a: (&CudaSlice<T>, &Layout),
        b: (&CudaSlice<T>, &Layout),
    ) -> Result<CudaSlice<T>> {
        let name = kernel.name();
        let (a, b) = (view(a.0, a.1, name)?, view(b.0, b.1, name)?);
        let out_len = match kernel {
            Kernel::Forward => g.n * g.c * g.ho * g.wo,
            Kernel::GradInput => g.n * g.c * g.h * g.w,
            Kernel::GradWeight => g.c * g.k * g.k,
        };
        let cfg = match kernel {
            // One block per (channel, tap); THREADS matches GRAD_WEIGHT_THREADS in the .cu file.
            Kernel::GradWeight => LaunchConfig {
                grid_dim: (int(out_len, name)? as u32, 1, 1),
                block_dim: (THREADS, 1, 1),
                shared_mem_bytes: 0,
            },
            _ => grid_stride(out_len),
        };
        let func = dev.get_or_load_custom_func(&format!("{name}_{suffix}"), MODULE, PTX)?;
        // SAFETY: every element of `out` is written by the kernel before it is read.
        let out = unsafe { dev.alloc::<T>(out_len)? };
        let dims = [g.n, g.c, g.h, g.w, g.k, g.stride, g.padding, g.ho, g.wo]
            .into_iter()
            .map(|v| int(v, name))
            .collect::<Result<Vec<i32>>>()?;
        let mut builder = func.builder();
        builder.arg(&a);
        builder.arg(&b);
        builder.arg(&out);
        for d in &dims {
            builder.arg(d);
        }
        // SAFETY: the argument list matches the kernel's signature in kernels/depthwise.cu
        // (three pointers, nine ints); the sizes were checked above.
        unsafe { builder.launch(cfg) }.w()?;
        Ok(out)
    }
}
