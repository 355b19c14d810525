//! 3D convolution and 3D global average pooling on candle, differentiable.
//!
//! candle 0.11 has `conv1d`/`conv2d` but no `conv3d`. A 3D convolution with kernel
//! `(kt, kh, kw)` is a 2D convolution over `(H, W)` whose input channels are the `C * kt`
//! temporal taps: for output frame `to`, tap `k` reads input frame `to * st + k - pt`. So we
//! gather the `kt` frames each output frame needs, stack them next to the channels
//! (`(N, To, C, kt, H, W)`, channel index `c * kt + k`), fold `N * To` into the batch and call
//! candle's `conv2d` once with the weight reshaped (for free) from `(O, C, kt, kh, kw)` to
//! `(O, C * kt, kh, kw)`. Every step (pad, narrow, index-select, stack, reshape, conv2d) has a
//! backward pass in candle, so gradients reach both the input and the weight, on CPU and CUDA.
//!
//! This generic path works on `(N, T, C, H, W)` ("NTCHW"): the fold into
//! `(N * T, C, H, W)` is a free reshape. The public [`conv3d`] and [`Conv3d`]'s [`Module`]
//! implementation take and return torch's `(N, C, T, H, W)`; [`to_ntchw`] / [`from_ntchw`]
//! convert.
//!
//! Fast path: candle's `conv2d` spends as much time on its im2col as on the matrix product on
//! the CPU, and 90 % of its time on a GPU. [`conv3d_channels_last`] keeps activations as
//! `(N, T, H, W, C)`, builds the patch matrix with one parallel pass of copies (our custom op,
//! a CPU kernel or, with the `cuda` feature, a CUDA one, whose backward pass is the matching
//! col2im) and multiplies it with the weight; the product is already channels-last, and batch
//! norm runs on it as an `(N * T * H * W, C)` matrix. R3D-18 uses this layout throughout; for
//! other dtypes (or with [`super::ops::KernelPath::Generic`]) the convolution falls back to the
//! NTCHW path between two permutes. Both paths are checked
//! against torch, gradients included. The CPU kernel itself lives in `ops/patches.rs`.

use candle_core::{DType, Module, Result, Tensor, bail};
use candle_nn::{Init, VarBuilder};

use super::nn::param;
use super::ops::patches::{Geometry, PatchMatrix, PatchProduct, TapMajorWeight};

/// 3D convolution with the semantics of `torch.nn.functional.conv3d` (zero padding,
/// dilation 1, groups 1, no bias).
///
/// `x` is `(N, C, T, H, W)`, `w` is `(O, C, kt, kh, kw)`, `stride` and `padding` are
/// `[t, h, w]`. Returns `(N, O, To, Ho, Wo)` with `To = (T + 2 pt - kt) / st + 1` (and likewise
/// for H and W). Differentiable in `x` and `w`.
pub fn conv3d(x: &Tensor, w: &Tensor, stride: [usize; 3], padding: [usize; 3]) -> Result<Tensor> {
    if x.rank() != 5 {
        bail!(
            "conv3d: input must be (N, C, T, H, W), got shape {:?}",
            x.dims()
        );
    }
    let y = conv3d_ntchw(&to_ntchw(x)?, w, stride, padding)?;
    from_ntchw(&y)
}

/// `(N, C, T, H, W)` to the network-internal `(N, T, C, H, W)` layout (a contiguous copy).
pub fn to_ntchw(x: &Tensor) -> Result<Tensor> {
    swap_channels_and_time(x, "(N, C, T, H, W)")?.contiguous()
}

/// The network-internal `(N, T, C, H, W)` layout back to torch's `(N, C, T, H, W)`
/// (a strided view; call `contiguous()` if a flat buffer is needed).
pub fn from_ntchw(x: &Tensor) -> Result<Tensor> {
    swap_channels_and_time(x, "(N, T, C, H, W)")
}

/// Axes 1 and 2 of a 5-d tensor swapped (a view), or an error naming the layout expected.
fn swap_channels_and_time(x: &Tensor, layout: &str) -> Result<Tensor> {
    if x.rank() != 5 {
        bail!("expected a 5-d {layout} tensor, got shape {:?}", x.dims());
    }
    x.permute((0, 2, 1, 3, 4))
}

/// Output length of a convolution along one axis, or an error naming the axis.
fn out_len(axis: &str, input: usize, kernel: usize, stride: usize, pad: usize) -> Result<usize> {
    if stride == 0 {
        bail!("conv3d: stride along {axis} must be at least 1");
    }
    if kernel == 0 {
        bail!("conv3d: kernel size along {axis} must be at least 1");
    }
    let padded = input + 2 * pad;
    if padded < kernel {
        bail!(
            "conv3d: kernel {kernel} along {axis} is larger than the padded input \
             ({input} + 2 * {pad} = {padded})"
        );
    }
    Ok((padded - kernel) / stride + 1)
}

/// The checked sizes of one 3D convolution (`[t, h, w]` triples).
struct ConvDims {
    /// Output channels.
    out_channels: usize,
    /// `[kt, kh, kw]`.
    kernel: [usize; 3],
    /// `[To, Ho, Wo]`.
    output: [usize; 3],
}

/// Checks torch's weight `(O, C, kt, kh, kw)` against an input of `channels` channels and
/// `input` = `[T, H, W]`, and computes the output size.
fn conv_dims(
    channels: usize,
    input: [usize; 3],
    w: &Tensor,
    stride: [usize; 3],
    padding: [usize; 3],
) -> Result<ConvDims> {
    let (o, wc, kt, kh, kw) = match w.dims() {
        &[o, wc, kt, kh, kw] => (o, wc, kt, kh, kw),
        d => bail!("conv3d: weight must be (O, C, kt, kh, kw), got shape {d:?}"),
    };
    if wc != channels {
        bail!(
            "conv3d: input has {channels} channels but the weight {:?} expects {wc}",
            w.dims()
        );
    }
    let kernel = [kt, kh, kw];
    let mut output = [0; 3];
    for (a, axis) in ["T", "H", "W"].into_iter().enumerate() {
        output[a] = out_len(axis, input[a], kernel[a], stride[a], padding[a])?;
    }
    Ok(ConvDims {
        out_channels: o,
        kernel,
        output,
    })
}

/// Indices `start, start + step, ...` (`count` of them) as a u32 tensor on `x`'s device.
fn strided_indices(x: &Tensor, start: usize, step: usize, count: usize) -> Result<Tensor> {
    let idx: Vec<u32> = (0..count).map(|i| (start + i * step) as u32).collect();
    Tensor::from_vec(idx, count, x.device())
}

/// 3D convolution in the network-internal layout: `x` is `(N, T, C, H, W)`, `w` is
/// `(O, C, kt, kh, kw)` (torch's layout); returns `(N, To, O, Ho, Wo)`, contiguous.
pub fn conv3d_ntchw(
    x: &Tensor,
    w: &Tensor,
    stride: [usize; 3],
    padding: [usize; 3],
) -> Result<Tensor> {
    let (n, t, c, h, wd) = match x.dims() {
        &[n, t, c, h, wd] => (n, t, c, h, wd),
        d => bail!("conv3d: input must be 5-d, got shape {d:?}"),
    };
    let dims = conv_dims(c, [t, h, wd], w, stride, padding)?;
    if x.dtype() != w.dtype() {
        bail!(
            "conv3d: input dtype {:?} differs from weight dtype {:?}",
            x.dtype(),
            w.dtype()
        );
    }
    let (o, [kt, kh, kw], [to, ho, wo]) = (dims.out_channels, dims.kernel, dims.output);
    let [st, sh, sw] = stride;
    let [pt, ph, pw] = padding;

    // Temporal taps: tap k of output frame i reads padded frame i * st + k.
    let xp = if pt > 0 {
        x.pad_with_zeros(1, pt, pt)?
    } else {
        x.clone()
    };
    let xp = xp.contiguous()?;
    let tap = |k: usize| -> Result<Tensor> {
        let sel = if st == 1 {
            xp.narrow(1, k, to)?
        } else {
            xp.index_select(&strided_indices(&xp, k, st, to)?, 1)?
        };
        sel.contiguous()
    };
    let stacked = if kt == 1 {
        tap(0)?
    } else {
        let taps = (0..kt).map(tap).collect::<Result<Vec<_>>>()?;
        // (N, To, C, kt, H, W): channel c * kt + k matches the weight's (C, kt) flattening.
        Tensor::stack(&taps, 3)?
    };
    let x2 = stacked.reshape((n * to, c * kt, h, wd))?;
    let w2 = w.reshape((o, c * kt, kh, kw))?;

    // candle's conv2d takes one stride and one padding for both axes, and its backward pass
    // derives the transposed convolution's output padding from H alone; both are right when
    // the axes agree, including in how many trailing input rows/columns they leave unused.
    let uniform = sh == sw && ph == pw && (h + 2 * ph - kh) % sh == (wd + 2 * pw - kw) % sw;
    let y = if uniform {
        x2.conv2d(&w2, ph, sh, 1, 1)?
    } else {
        // Pad explicitly and crop to exactly the rows/columns the windows read: then conv2d
        // needs no padding and leaves nothing unused along either axis.
        let x2 = x2
            .pad_with_zeros(2, ph, ph)?
            .pad_with_zeros(3, pw, pw)?
            .narrow(2, 0, (ho - 1) * sh + kh)?
            .narrow(3, 0, (wo - 1) * sw + kw)?;
        if sh == sw {
            x2.conv2d(&w2, 0, sh, 1, 1)?
        } else {
            let full = x2.conv2d(&w2, 0, 1, 1, 1)?;
            full.index_select(&strided_indices(&full, 0, sh, ho)?, 2)?
                .index_select(&strided_indices(&full, 0, sw, wo)?, 3)?
        }
    };
    y.reshape((n, to, o, ho, wo))
}

/// Upper bound on the elements of one patch matrix of the channels-last path (4 Mi floats,
/// 16 MiB): larger convolutions are computed a few output rows at a time. Small blocks stay
/// below the allocator's mmap threshold, so they reuse memory instead of page-faulting in
/// fresh zeroed pages on every call (which cost as much as the copies themselves).
const MAX_PATCH_ELEMENTS: usize = 1 << 22;
/// The same bound on a GPU (64 Mi floats, 256 MiB): there each chunk costs a kernel launch and a
/// matrix product, and bigger products run closer to the card's speed.
const MAX_PATCH_ELEMENTS_GPU: usize = 1 << 26;

/// The patch-matrix bound for tensors on `device`.
fn max_patch_elements(device: &candle_core::Device) -> usize {
    if device.is_cuda() {
        MAX_PATCH_ELEMENTS_GPU
    } else {
        MAX_PATCH_ELEMENTS
    }
}

/// 3D convolution of a channels-last clip: `x` is `(N, T, H, W, C)`, `w` is torch's
/// `(O, C, kt, kh, kw)`; returns `(N, To, Ho, Wo, O)`, contiguous. Differentiable in `x` and
/// `w`.
///
/// On the CPU with f32 (and on a GPU with the `cuda` feature) it multiplies the weight, as the
/// `(O, C * kt * kh * kw)` matrix it already is, by a channel-major patch matrix (our op, with a
/// col2im backward): the weight's gradient then flows through a single reshape (candle's
/// backward pass costs two full passes over a tensor per graph node, which for layer4's
/// 7M-element weights is more than the products). Elsewhere it runs [`conv3d_ntchw`] between
/// two permutes.
pub fn conv3d_channels_last(
    x: &Tensor,
    w: &Tensor,
    stride: [usize; 3],
    padding: [usize; 3],
) -> Result<Tensor> {
    let max = max_patch_elements(x.device());
    conv3d_channels_last_chunked(x, w, stride, padding, max, true)
}

/// [`conv3d_channels_last`] for inference (the frozen trunk): where a call has many output
/// positions, it uses the tap-major patch matrix, whose contiguous copies are the fastest to
/// build, at the price of a permuted copy of the weight.
pub(crate) fn conv3d_channels_last_inference(
    x: &Tensor,
    w: &Tensor,
    stride: [usize; 3],
    padding: [usize; 3],
) -> Result<Tensor> {
    let max = max_patch_elements(x.device());
    conv3d_channels_last_chunked(x, w, stride, padding, max, false)
}

/// Fewest output positions for the CPU's tap-major convolution (see
/// [`conv3d_channels_last_chunked`]). Measured in interleaved runs of the two choices: R3D-18's
/// layer4 at 224 px on two 16-frame clips (784 positions) is 13 % faster tap-major, at one
/// thread and two; on one clip (392 positions, the per-video pass) 20 % faster at two threads
/// and 4 % slower at one, the whole pass no slower; layer3 on one 8-frame clip at 112 px (392
/// positions) makes the whole pass 10 % faster at two threads, 3 % at one. Smaller calls, such
/// as layer4 at 112 px on one 8-frame clip (49 positions), keep the channel-major path.
const TAP_MAJOR_MIN_POSITIONS: usize = 256;

/// The channels-last convolution with patch matrices of at most about `max_patch_elements`
/// elements (at least one output line each), channel-major or tap-major.
fn conv3d_channels_last_chunked(
    x: &Tensor,
    w: &Tensor,
    stride: [usize; 3],
    padding: [usize; 3],
    max_patch_elements: usize,
    channel_major: bool,
) -> Result<Tensor> {
    let (n, t, h, wd, c) = match x.dims() {
        &[n, t, h, wd, c] => (n, t, h, wd, c),
        d => bail!("conv3d: channels-last input must be (N, T, H, W, C), got shape {d:?}"),
    };
    let dims = conv_dims(c, [t, h, wd], w, stride, padding)?;
    let f32s = x.dtype() == DType::F32 && w.dtype() == DType::F32;
    let positions = n * dims.output.iter().product::<usize>();
    // On the CPU, tap-major (inference) pays for reordering the weight once per call: worth it
    // where there are many output positions per weight (R3D-18's stem, layer1 and layer2 at
    // any size, layer3 and layer4 on larger clips), not for few (layer3 and layer4 on a short
    // 112 px clip take the channel-major path, the weight as stored).
    let channel_major =
        channel_major || (x.device().is_cpu() && positions < TAP_MAJOR_MIN_POSITIONS);
    if !channel_major && f32s && x.device().is_cpu() && super::ops::use_cpu_kernel(x.device(), true)
    {
        // Tap-major on the CPU (inference): the weight matrix in one pass, then, tile by tile,
        // the products of each tap's shifted input (stride 1 across the image) or of the patch
        // rows built beside them. No backward pass: the differentiable path is
        // channel-major.
        let w_mat = w.contiguous()?.apply_op1_no_bwd(&TapMajorWeight)?;
        let geometry = Geometry {
            batch: n,
            input: [t, h, wd],
            channels: c,
            kernel: dims.kernel,
            stride,
            padding,
            output: dims.output,
        };
        let [to, ho, wo] = dims.output;
        let y = x
            .contiguous()?
            .apply_op2(&w_mat, PatchProduct { geometry })?;
        return y.reshape((n, to, ho, wo, dims.out_channels));
    }
    let fast = super::ops::use_cpu_kernel(x.device(), f32s)
        || super::ops::use_cuda_kernel(x.device(), f32s);
    if !fast {
        let y = conv3d_ntchw(&x.permute((0, 1, 4, 2, 3))?, w, stride, padding)?;
        return y.permute((0, 1, 3, 4, 2))?.contiguous();
    }
    let (o, kernel, [to, ho, wo]) = (dims.out_channels, dims.kernel, dims.output);
    let geometry = Geometry {
        batch: n,
        input: [t, h, wd],
        channels: c,
        kernel,
        stride,
        padding,
        output: dims.output,
    };
    let k = geometry.patch_len();
    let x = x.contiguous()?;
    if kernel == [1; 3] && stride == [1; 3] && padding == [0; 3] {
        let y = x
            .reshape((n * t * h * wd, c))?
            .matmul(&w.reshape((o, c))?.t()?)?;
        return y.reshape((n, to, ho, wo, o));
    }
    // Channel-major: out^T = W (O, K) x patches^T, the weight used as stored.
    // Tap-major: out = patches x W'^T with W' the weight permuted to (O, kt, kh, kw, C).
    let w_mat = if channel_major {
        w.reshape((o, k))?
    } else {
        w.permute((0, 2, 3, 4, 1))?.reshape((o, k))?.t()?
    };
    let lines_total = n * to * ho;
    // Chunks bound the memory of a pass without autograd (each patch matrix is dropped after its
    // product). With autograd, every chunk's patch matrix stays alive for the backward pass
    // anyway, so one product over all positions: larger products run faster (layer4 of R3D-18
    // in training, 1568 positions against chunks of 294: 260-270 against 200-215 GFLOP/s at 2
    // threads), and the backward pass adds one weight gradient instead of one per chunk.
    let recorded = x.track_op() || w.track_op();
    let lines_per_chunk = if recorded {
        lines_total
    } else {
        (max_patch_elements / (wo * k).max(1)).clamp(1, lines_total)
    };
    let mut chunks = Vec::with_capacity(lines_total.div_ceil(lines_per_chunk));
    let mut first = 0;
    while first < lines_total {
        let last = (first + lines_per_chunk).min(lines_total);
        let patches = x.apply_op1(PatchMatrix {
            geometry,
            lines: first..last,
            channel_major,
        })?;
        chunks.push(if channel_major {
            w_mat.matmul(&patches.t()?)?
        } else {
            patches.matmul(&w_mat)?
        });
        first = last;
    }
    let y = if chunks.len() == 1 {
        chunks.swap_remove(0)
    } else {
        Tensor::cat(&chunks, if channel_major { 1 } else { 0 })?
    };
    let y = if channel_major { y.t()? } else { y };
    y.reshape((n, to, ho, wo, o))
}

/// Global average pooling of an `(N, C, T, H, W)` tensor to `(N, C, 1, 1, 1)`, as
/// `torch.nn.AdaptiveAvgPool3d((1, 1, 1))`.
pub fn adaptive_avg_pool3d_to_1(x: &Tensor) -> Result<Tensor> {
    let (n, c, _, _, _) = match x.dims() {
        &[n, c, t, h, w] => (n, c, t, h, w),
        d => bail!("adaptive_avg_pool3d: input must be (N, C, T, H, W), got shape {d:?}"),
    };
    x.flatten_from(2)?.mean(2)?.reshape((n, c, 1, 1, 1))
}

/// Global average pooling in the network-internal layout: `(N, T, C, H, W)` to `(N, C)`.
pub fn global_avg_pool_ntchw(x: &Tensor) -> Result<Tensor> {
    let (n, t, c, h, w) = match x.dims() {
        &[n, t, c, h, w] => (n, t, c, h, w),
        d => bail!("global average pooling: input must be (N, T, C, H, W), got shape {d:?}"),
    };
    // Sum over the whole (T, H, W) volume at once, like torch's mean.
    x.permute((0, 2, 1, 3, 4))?
        .reshape((n, c, t * h * w))?
        .mean(2)
}

/// A 3D convolution layer with torch's parameter names (`weight`, optional `bias`).
#[derive(Clone, Debug)]
pub struct Conv3d {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: [usize; 3],
    padding: [usize; 3],
}

impl Conv3d {
    /// Loads (or, from a `VarMap`, creates) `weight` `(out_c, in_c, kt, kh, kw)` and, when
    /// `bias`, `bias` `(out_c)` under `vb`. New weights follow torchvision's video ResNet
    /// initialisation (Kaiming normal, fan-out, ReLU gain); a new bias is zero.
    pub fn new(
        vb: VarBuilder,
        in_c: usize,
        out_c: usize,
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [usize; 3],
        bias: bool,
    ) -> Result<Self> {
        if kernel.contains(&0) || stride.contains(&0) {
            bail!("Conv3d: kernel {kernel:?} and stride {stride:?} must be positive");
        }
        let fan_out = (out_c * kernel.iter().product::<usize>()).max(1);
        let stdev = (2.0 / fan_out as f64).sqrt();
        let [kt, kh, kw] = kernel;
        let weight = vb.get_with_hints(
            (out_c, in_c, kt, kh, kw),
            "weight",
            Init::Randn { mean: 0.0, stdev },
        )?;
        let bias = if bias {
            Some(vb.get_with_hints(out_c, "bias", Init::Const(0.0))?)
        } else {
            None
        };
        Ok(Conv3d {
            weight,
            bias,
            stride,
            padding,
        })
    }

    /// Builds a layer from existing tensors: `weight` `(O, C, kt, kh, kw)`, `bias` `(O)`.
    pub fn from_tensors(
        weight: Tensor,
        bias: Option<Tensor>,
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> Result<Self> {
        if weight.rank() != 5 {
            bail!("Conv3d: weight must be 5-d, got shape {:?}", weight.dims());
        }
        if let Some(b) = &bias
            && b.dims() != [weight.dim(0)?]
        {
            bail!(
                "Conv3d: bias shape {:?} does not match {} output channels",
                b.dims(),
                weight.dim(0)?
            );
        }
        if stride.contains(&0) {
            bail!("Conv3d: stride {stride:?} must be positive");
        }
        Ok(Conv3d {
            weight,
            bias,
            stride,
            padding,
        })
    }

    /// The weight, `(O, C, kt, kh, kw)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(O)`, if the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Forward pass on a channels-last clip, `(N, T, H, W, C)` to `(N, To, Ho, Wo, O)` (see
    /// [`conv3d_channels_last`]).
    /// Inside [`super::nn::no_grad`] its parameters are used detached and it runs as inference
    /// does (tap-major, tiled on the CPU; e.g. the frozen trunk in training mode).
    pub fn forward_channels_last(&self, x: &Tensor) -> Result<Tensor> {
        let w = param(&self.weight);
        let y = if super::nn::grad_disabled() {
            conv3d_channels_last_inference(x, &w, self.stride, self.padding)?
        } else {
            conv3d_channels_last(x, &w, self.stride, self.padding)?
        };
        match &self.bias {
            None => Ok(y),
            Some(b) => y.broadcast_add(&param(b)),
        }
    }

    /// The stride, `[t, h, w]`.
    pub fn stride(&self) -> [usize; 3] {
        self.stride
    }

    /// The zero padding, `[t, h, w]`.
    pub fn padding(&self) -> [usize; 3] {
        self.padding
    }

    /// Forward pass in the network-internal layout: `(N, T, C, H, W)` to `(N, To, O, Ho, Wo)`.
    pub fn forward_ntchw(&self, x: &Tensor) -> Result<Tensor> {
        let y = conv3d_ntchw(x, &self.weight, self.stride, self.padding)?;
        match &self.bias {
            None => Ok(y),
            Some(b) => y.broadcast_add(&b.reshape((1, 1, (), 1, 1))?),
        }
    }
}

impl Module for Conv3d {
    /// `(N, C, T, H, W)` to `(N, O, To, Ho, Wo)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        from_ntchw(&self.forward_ntchw(&to_ntchw(x)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::max_abs_diff;
    use candle_core::Device;

    /// The channels-last fast path, computed in one piece or a frame at a time, agrees with
    /// the differentiable path (which the integration tests check against torch); the larger
    /// clip has enough output positions for the CPU's tiled tap-major kernel, the smaller one
    /// takes the channel-major path either way.
    #[test]
    fn channels_last_path_agrees_with_the_differentiable_path() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 0.2, (4, 3, 3, 3, 3), &dev).unwrap();
        for shape in [(2, 2, 7, 8, 3), (1, 8, 30, 22, 3)] {
            let x = Tensor::randn(0f32, 1.0, shape, &dev).unwrap();
            for (stride, padding) in [([1, 1, 1], [1, 1, 1]), ([2, 2, 1], [1, 0, 2])] {
                let reference =
                    conv3d_ntchw(&x.permute((0, 1, 4, 2, 3)).unwrap(), &w, stride, padding)
                        .unwrap()
                        .permute((0, 1, 3, 4, 2))
                        .unwrap();
                let positions = reference.elem_count() / 4;
                assert_eq!(positions >= TAP_MAJOR_MIN_POSITIONS, shape.0 == 1);
                for max in [usize::MAX, 1] {
                    for channel_major in [false, true] {
                        let y = conv3d_channels_last_chunked(
                            &x,
                            &w,
                            stride,
                            padding,
                            max,
                            channel_major,
                        )
                        .unwrap();
                        assert_eq!(y.dims(), reference.dims());
                        assert!(
                            max_abs_diff(&y, &reference) < 1e-5,
                            "{shape:?}, stride {stride:?}, max {max}, channel-major {channel_major}"
                        );
                    }
                }
            }
        }
    }
}
