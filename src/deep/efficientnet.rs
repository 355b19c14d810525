//! torchvision's EfficientNet-B0 feature extractor on candle, with torchvision's parameter names.
//!
//! The layer table, padding, BatchNorm settings (eps 1e-5, momentum 0.1), squeeze-excitation
//! sizes and stochastic-depth schedule follow `torchvision/models/efficientnet.py`, so a
//! torchvision `state_dict` (minus `num_batches_tracked` and the classifier) loads by name:
//!
//! ```text
//! features.0          stem: 3x3 conv stride 2 (3 -> 32) + BN + SiLU   features.0.{0,1}
//! features.1 .. 7     MBConv stages                                  features.S.B.block.L...
//! features.8          head: 1x1 conv (320 -> 1280) + BN + SiLU        features.8.{0,1}
//! ```
//!
//! Speed (all paths differentiable, all checked against torch in `tests/deep_effnet.rs`):
//! - depthwise convolutions do not go through candle's grouped `conv2d` (one small convolution
//!   per channel): [`depthwise_conv2d`] uses a direct CPU kernel with its own backward pass, and
//!   on other devices a sum over kernel taps of shifted slices ([`depthwise_conv2d_taps`]);
//! - 1x1 convolutions are matrix products (candle's `conv2d` backward is very slow for them);
//! - evaluation-mode BatchNorm is folded into the convolution weight and a per-channel shift,
//!   and `shift + SiLU` is one fused pass on the CPU ([`shift_silu`]).

use std::ops::Range;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor, bail};
use candle_nn::init::{FanInOut, NonLinearity, NormalOrUniform};
use candle_nn::{BatchNorm, BatchNormConfig, Init, VarBuilder};
use rayon::prelude::*;

use super::nn::Noise;

/// Index of the first fine-tuned child of `features` (the notebook fine-tunes the last 2 of 9).
pub const FIRST_TRAINABLE_STAGE: usize = 7;
/// Number of children of `features`: stem, seven MBConv stages, head convolution.
pub const NUM_STAGES: usize = 9;
/// Width of the pooled feature vector.
pub const FEATURE_DIM: usize = 1280;

const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;
/// torchvision's `stochastic_depth_prob` for B0, scaled linearly over the 16 blocks.
const STOCHASTIC_DEPTH_PROB: f32 = 0.2;
const STEM_CHANNELS: usize = 32;

/// torchvision's B0 table: (expand ratio, kernel, stride, input channels, output channels, layers).
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// torchvision's `nn.init.kaiming_normal_(w, mode="fan_out")` for every convolution.
const CONV_INIT: Init = Init::Kaiming {
    dist: NormalOrUniform::Normal,
    fan: FanInOut::FanOut,
    non_linearity: NonLinearity::ReLU,
};

fn bn_config() -> BatchNormConfig {
    BatchNormConfig {
        eps: BN_EPS,
        remove_mean: true,
        affine: true,
        momentum: BN_MOMENTUM,
    }
}

/// torchvision's `Conv2dNormActivation`: convolution without bias (`.0`), BatchNorm2d (`.1`)
/// and optionally SiLU; "same" symmetric padding `(k - 1) / 2`.
struct ConvNormAct {
    weight: Tensor,
    stride: usize,
    padding: usize,
    depthwise: bool,
    bn: BatchNorm,
    silu: bool,
}

impl ConvNormAct {
    fn new(
        vb: VarBuilder,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        depthwise: bool,
        silu: bool,
    ) -> Result<Self> {
        let in_per_group = if depthwise { 1 } else { in_channels };
        if depthwise && in_channels != out_channels {
            bail!(
                "depthwise convolution needs in == out channels ({in_channels} vs {out_channels})"
            )
        }
        let weight = vb.pp("0").get_with_hints(
            (out_channels, in_per_group, kernel, kernel),
            "weight",
            CONV_INIT,
        )?;
        let bn = candle_nn::batch_norm(out_channels, bn_config(), vb.pp("1"))?;
        Ok(Self {
            weight,
            stride,
            padding: (kernel - 1) / 2,
            depthwise,
            bn,
            silu,
        })
    }

    fn conv(&self, x: &Tensor, weight: &Tensor, train: bool) -> Result<Tensor> {
        if self.depthwise {
            depthwise_conv2d(x, weight, self.stride, self.padding)
        } else if weight.dim(2)? == 1 && weight.dim(3)? == 1 && self.stride == 1 {
            if train {
                pointwise_conv2d(x, weight)
            } else {
                pointwise_conv2d_batched(x, weight)
            }
        } else {
            x.conv2d(weight, self.padding, self.stride, 1, 1)
        }
    }

    /// Training mode uses batch statistics and moves the running ones; evaluation folds the
    /// running statistics into the convolution weight and one per-channel shift.
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = if train {
            self.bn.forward_train(&self.conv(x, &self.weight, true)?)?
        } else {
            let (scale, shift) = folded_batch_norm(&self.bn)?;
            let c = scale.dim(0)?;
            let weight = self.weight.broadcast_mul(&scale.reshape((c, 1, 1, 1))?)?;
            let y = self.conv(x, &weight, false)?;
            if self.silu {
                return shift_silu(&y, &shift);
            }
            y.broadcast_add(&shift.reshape((1, c, 1, 1))?)?
        };
        if self.silu { y.silu() } else { Ok(y) }
    }
}

/// 1x1 convolution as one matrix product, (Cout, Cin) x (Cin, N*H*W), for training.
///
/// Same result as `conv2d`, but its backward pass is two plain matrix products, where candle's
/// `conv2d` backward runs a convolution with an (H, W) kernel and a direct transposed
/// convolution (10x slower than the forward pass on the fine-tuned stages).
fn pointwise_conv2d(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let (n, c_in, h, w) = x.dims4()?;
    let c_out = weight.dim(0)?;
    let columns = x.transpose(0, 1)?.reshape((c_in, n * h * w))?;
    weight
        .reshape((c_out, c_in))?
        .matmul(&columns)?
        .reshape((c_out, n, h, w))?
        .transpose(0, 1)
}

/// 1x1 convolution as a batch of matrix products, (Cout, Cin) x (Cin, H*W) per image, for
/// evaluation: no transposition of the activations, unlike [`pointwise_conv2d`] and candle's
/// `conv2d` (which copies every image into a scratch matrix first).
fn pointwise_conv2d_batched(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let (n, c_in, h, w) = x.dims4()?;
    let c_out = weight.dim(0)?;
    weight
        .reshape((c_out, c_in))?
        .broadcast_left(n)?
        .matmul(&x.contiguous()?.reshape((n, c_in, h * w))?)?
        .reshape((n, c_out, h, w))
}

/// Evaluation-mode BatchNorm as `y = x * scale + shift` (running statistics do not train).
fn folded_batch_norm(bn: &BatchNorm) -> Result<(Tensor, Tensor)> {
    let mean = bn.running_mean().detach();
    let var = bn.running_var().detach();
    let inv_std = (var + bn.eps())?.sqrt()?.recip()?;
    let (scale, shift) = match bn.weight_and_bias() {
        Some((w, b)) => {
            let scale = w.mul(&inv_std)?;
            let shift = b.sub(&mean.mul(&scale)?)?;
            (scale, shift)
        }
        None => {
            let shift = mean.mul(&inv_std)?.neg()?;
            (inv_std, shift)
        }
    };
    Ok((scale, shift))
}

/// torchvision's `SqueezeExcitation` with SiLU: global average pool, `fc1` and `fc2` as 1x1
/// convolutions with bias, sigmoid gate per channel.
struct SqueezeExcitation {
    fc1_weight: Tensor,
    fc1_bias: Tensor,
    fc2_weight: Tensor,
    fc2_bias: Tensor,
}

impl SqueezeExcitation {
    fn new(vb: VarBuilder, channels: usize, squeeze: usize) -> Result<Self> {
        let conv = |name: &str, out: usize, inp: usize| -> Result<(Tensor, Tensor)> {
            let vb = vb.pp(name);
            let w = vb.get_with_hints((out, inp, 1, 1), "weight", CONV_INIT)?;
            let b = vb.get_with_hints(out, "bias", Init::Const(0.0))?;
            Ok((w, b))
        };
        let (fc1_weight, fc1_bias) = conv("fc1", squeeze, channels)?;
        let (fc2_weight, fc2_bias) = conv("fc2", channels, squeeze)?;
        Ok(Self {
            fc1_weight,
            fc1_bias,
            fc2_weight,
            fc2_bias,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, c, _, _) = x.dims4()?;
        let pooled = x.flatten_from(2)?.mean(2)?;
        let squeeze = self.fc1_weight.dim(0)?;
        let h = pooled
            .matmul(&self.fc1_weight.reshape((squeeze, c))?.t()?)?
            .broadcast_add(&self.fc1_bias)?
            .silu()?;
        let gate = h
            .matmul(&self.fc2_weight.reshape((c, squeeze))?.t()?)?
            .broadcast_add(&self.fc2_bias)?;
        let gate = candle_nn::ops::sigmoid(&gate)?;
        x.broadcast_mul(&gate.reshape((n, c, 1, 1))?)
    }
}

/// The shape of one MBConv block (torchvision's `MBConvConfig` after width/depth scaling).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MbConvConfig {
    /// Channel expansion of the inverted bottleneck (1 = no expansion convolution).
    pub expand_ratio: usize,
    /// Depthwise kernel size (3 or 5).
    pub kernel: usize,
    /// Depthwise stride (1 or 2).
    pub stride: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Probability of dropping the residual branch in training (`StochasticDepth`, mode "row").
    pub stochastic_depth: f32,
}

/// torchvision's `MBConv` block; parameters under `block.*`.
pub struct MbConv {
    expand: Option<ConvNormAct>,
    depthwise: ConvNormAct,
    se: SqueezeExcitation,
    project: ConvNormAct,
    residual: bool,
    stochastic_depth: f32,
}

impl MbConv {
    /// `vb` at the block (e.g. `features.2.0`): creates `block.0.0.weight`, ...
    pub fn new(vb: VarBuilder, cfg: MbConvConfig) -> Result<Self> {
        if !(1..=2).contains(&cfg.stride) {
            bail!("MBConv stride must be 1 or 2, got {}", cfg.stride)
        }
        let vb = vb.pp("block");
        let expanded = cfg.in_channels * cfg.expand_ratio;
        let mut layer = 0;
        let mut next = || {
            layer += 1;
            vb.pp((layer - 1).to_string())
        };
        let expand = if expanded != cfg.in_channels {
            Some(ConvNormAct::new(
                next(),
                cfg.in_channels,
                expanded,
                1,
                1,
                false,
                true,
            )?)
        } else {
            None
        };
        let depthwise = ConvNormAct::new(
            next(),
            expanded,
            expanded,
            cfg.kernel,
            cfg.stride,
            true,
            true,
        )?;
        let se = SqueezeExcitation::new(next(), expanded, (cfg.in_channels / 4).max(1))?;
        let project = ConvNormAct::new(next(), expanded, cfg.out_channels, 1, 1, false, false)?;
        Ok(Self {
            expand,
            depthwise,
            se,
            project,
            residual: cfg.stride == 1 && cfg.in_channels == cfg.out_channels,
            stochastic_depth: cfg.stochastic_depth,
        })
    }

    /// (N, C_in, H, W) -> (N, C_out, H / stride, W / stride); training mode when `noise` is Some.
    pub fn forward(&self, x: &Tensor, noise: Option<&mut Noise>) -> Result<Tensor> {
        let train = noise.is_some();
        let mut y = match &self.expand {
            Some(expand) => expand.forward(x, train)?,
            None => x.clone(),
        };
        y = self.depthwise.forward(&y, train)?;
        y = self.se.forward(&y)?;
        y = self.project.forward(&y, train)?;
        if !self.residual {
            return Ok(y);
        }
        if let Some(noise) = noise {
            y = noise.drop_path(&y, self.stochastic_depth)?;
        }
        y + x
    }
}

/// One child of `features`.
enum Stage {
    Conv(ConvNormAct),
    Blocks(Vec<MbConv>),
}

/// torchvision's `efficientnet_b0` without its classifier: `features` and the average pool.
pub struct EfficientNetB0 {
    stages: Vec<Stage>,
}

impl EfficientNetB0 {
    /// vb at the backbone root: names "features.0.0.weight", "features.1.0.block.1.0.weight", ...
    ///
    /// Without stored weights the variables start as torchvision initialises them
    /// (Kaiming-normal fan-out convolutions, BatchNorm ones / zeros).
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("features");
        let mut stages = Vec::with_capacity(NUM_STAGES);
        stages.push(Stage::Conv(ConvNormAct::new(
            vb.pp("0"),
            3,
            STEM_CHANNELS,
            3,
            2,
            false,
            true,
        )?));
        let total_blocks: usize = STAGES.iter().map(|s| s.5).sum();
        let mut block_id = 0;
        for (i, &(expand_ratio, kernel, stride, in_channels, out_channels, layers)) in
            STAGES.iter().enumerate()
        {
            let stage_vb = vb.pp((i + 1).to_string());
            let mut blocks = Vec::with_capacity(layers);
            for b in 0..layers {
                let cfg = MbConvConfig {
                    expand_ratio,
                    kernel,
                    stride: if b == 0 { stride } else { 1 },
                    in_channels: if b == 0 { in_channels } else { out_channels },
                    out_channels,
                    stochastic_depth: STOCHASTIC_DEPTH_PROB * block_id as f32 / total_blocks as f32,
                };
                blocks.push(MbConv::new(stage_vb.pp(b.to_string()), cfg)?);
                block_id += 1;
            }
            stages.push(Stage::Blocks(blocks));
        }
        let last_in = STAGES[STAGES.len() - 1].4;
        stages.push(Stage::Conv(ConvNormAct::new(
            vb.pp("8"),
            last_in,
            FEATURE_DIM,
            1,
            1,
            false,
            true,
        )?));
        Ok(Self { stages })
    }

    /// run `features[range]` (0..9) on (N, C, H, W); BN/stochastic depth in training mode when noise is Some.
    pub fn forward_features(
        &self,
        x: &Tensor,
        range: Range<usize>,
        noise: Option<&mut Noise>,
    ) -> Result<Tensor> {
        if range.start > range.end || range.end > self.stages.len() {
            bail!(
                "feature stages {range:?} out of 0..{} for EfficientNet-B0",
                self.stages.len()
            )
        }
        let mut noise = noise;
        let train = noise.is_some();
        let mut x = x.clone();
        for stage in &self.stages[range] {
            x = match stage {
                Stage::Conv(conv) => conv.forward(&x, train)?,
                Stage::Blocks(blocks) => {
                    for block in blocks {
                        x = block.forward(&x, noise.as_deref_mut())?;
                    }
                    x
                }
            };
        }
        Ok(x)
    }

    /// adaptive avg pool + flatten: (N, 1280, h, w) -> (N, 1280)
    pub fn pool(x: &Tensor) -> Result<Tensor> {
        x.flatten_from(2)?.mean(2)
    }
}

/// `silu(x + shift[c])` for `x` (N, C, H, W) and `shift` (C): the evaluation-mode tail of
/// every convolution + BatchNorm + SiLU, fused into one pass on the CPU with a vectorisable
/// `exp` (candle's SiLU calls the scalar `expf` per element, 3x slower than torch).
pub fn shift_silu(x: &Tensor, shift: &Tensor) -> Result<Tensor> {
    let (_, c, _, _) = x.dims4()?;
    if shift.dims() != [c] {
        bail!("shift {:?} does not fit {:?}", shift.dims(), x.dims())
    }
    let native = matches!(x.dtype(), DType::F32 | DType::F64);
    if x.device().is_cpu() && native && shift.dtype() == x.dtype() {
        x.contiguous()?.apply_op2(&shift.contiguous()?, ShiftSilu)
    } else {
        x.broadcast_add(&shift.reshape((1, c, 1, 1))?)?.silu()
    }
}

/// `exp(x)` in f32 from a degree-6 polynomial on `[-ln2/2, ln2/2]` and an exponent shift,
/// written branch-free so loops over it vectorise; relative error about 2e-7.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
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

/// Depthwise 2-D convolution, torch's `conv2d(x, w, stride, padding, groups = C)` without bias:
/// `x` (N, C, H, W), `weight` (C, 1, k, k), symmetric zero padding.
///
/// f32/f64 tensors on the CPU use a direct kernel (with a matching backward pass); other devices
/// and dtypes use [`depthwise_conv2d_taps`].
pub fn depthwise_conv2d(
    x: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let geometry = DepthwiseGeometry::new(x, weight, stride, padding)?;
    let native = matches!(x.dtype(), DType::F32 | DType::F64);
    if x.device().is_cpu() && native && weight.dtype() == x.dtype() {
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
}

/// Element types of the direct CPU kernels.
trait Real:
    Copy
    + Send
    + Sync
    + Default
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
}
impl Real for f32 {}
impl Real for f64 {}

fn contiguous<'a, T>(data: &'a [T], layout: &Layout, what: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("depthwise kernel: {what} must be contiguous"),
    }
}

/// out[plane] += w[tap] * x[plane] over all taps, one (n, c) plane at a time.
fn depthwise_forward_kernel<T: Real>(g: &DepthwiseGeometry, x: &[T], w: &[T]) -> Vec<T> {
    let (k, s, p) = (g.k, g.stride, g.padding);
    let mut out = vec![T::default(); g.n * g.c * g.ho * g.wo];
    out.par_chunks_mut(g.ho * g.wo)
        .enumerate()
        .for_each(|(plane, out)| {
            let c = plane % g.c;
            let x = &x[plane * g.h * g.w..(plane + 1) * g.h * g.w];
            for i in 0..k {
                let rows = g.valid(i, g.h, g.ho);
                for j in 0..k {
                    let wv = w[(c * k + i) * k + j];
                    let cols = g.valid(j, g.w, g.wo);
                    if cols.is_empty() {
                        continue;
                    }
                    for oy in rows.clone() {
                        let iy = oy * s + i - p;
                        let x_row = &x[iy * g.w..(iy + 1) * g.w];
                        let out_row = &mut out[oy * g.wo..(oy + 1) * g.wo];
                        if s == 1 {
                            let x0 = cols.start + j - p;
                            let src = &x_row[x0..x0 + cols.len()];
                            for (o, &v) in out_row[cols.clone()].iter_mut().zip(src) {
                                *o += wv * v;
                            }
                        } else {
                            for ox in cols.clone() {
                                out_row[ox] += wv * x_row[ox * s + j - p];
                            }
                        }
                    }
                }
            }
        });
    out
}

/// d input: scatter w[tap] * grad[plane] back onto the input positions each tap read.
fn depthwise_grad_input_kernel<T: Real>(g: &DepthwiseGeometry, grad: &[T], w: &[T]) -> Vec<T> {
    let (k, s, p) = (g.k, g.stride, g.padding);
    let mut dx = vec![T::default(); g.n * g.c * g.h * g.w];
    dx.par_chunks_mut(g.h * g.w)
        .enumerate()
        .for_each(|(plane, dx)| {
            let c = plane % g.c;
            let grad = &grad[plane * g.ho * g.wo..(plane + 1) * g.ho * g.wo];
            for i in 0..k {
                let rows = g.valid(i, g.h, g.ho);
                for j in 0..k {
                    let wv = w[(c * k + i) * k + j];
                    let cols = g.valid(j, g.w, g.wo);
                    if cols.is_empty() {
                        continue;
                    }
                    for oy in rows.clone() {
                        let iy = oy * s + i - p;
                        let g_row = &grad[oy * g.wo..(oy + 1) * g.wo];
                        let dx_row = &mut dx[iy * g.w..(iy + 1) * g.w];
                        for ox in cols.clone() {
                            dx_row[ox * s + j - p] += wv * g_row[ox];
                        }
                    }
                }
            }
        });
    dx
}

/// d weight[c, tap] = sum over batch and output positions of grad * the input the tap read.
fn depthwise_grad_weight_kernel<T: Real>(g: &DepthwiseGeometry, x: &[T], grad: &[T]) -> Vec<T> {
    let (k, s, p) = (g.k, g.stride, g.padding);
    let mut dw = vec![T::default(); g.c * k * k];
    dw.par_chunks_mut(k * k).enumerate().for_each(|(c, dw)| {
        for n in 0..g.n {
            let plane = n * g.c + c;
            let x = &x[plane * g.h * g.w..(plane + 1) * g.h * g.w];
            let grad = &grad[plane * g.ho * g.wo..(plane + 1) * g.ho * g.wo];
            for i in 0..k {
                let rows = g.valid(i, g.h, g.ho);
                for j in 0..k {
                    let cols = g.valid(j, g.w, g.wo);
                    if cols.is_empty() {
                        continue;
                    }
                    let mut sum = T::default();
                    for oy in rows.clone() {
                        let iy = oy * s + i - p;
                        let x_row = &x[iy * g.w..(iy + 1) * g.w];
                        let g_row = &grad[oy * g.wo..(oy + 1) * g.wo];
                        for ox in cols.clone() {
                            sum += g_row[ox] * x_row[ox * s + j - p];
                        }
                    }
                    dw[i * k + j] += sum;
                }
            }
        }
    });
    dw
}

/// Runs `kernel` on two CPU storages of the same float type.
fn dispatch2(
    name: &str,
    a: (&CpuStorage, &Layout),
    b: (&CpuStorage, &Layout),
    kernel32: impl Fn(&[f32], &[f32]) -> Vec<f32>,
    kernel64: impl Fn(&[f64], &[f64]) -> Vec<f64>,
) -> Result<CpuStorage> {
    match (a.0, b.0) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => Ok(CpuStorage::F32(kernel32(
            contiguous(x, a.1, name)?,
            contiguous(y, b.1, name)?,
        ))),
        (CpuStorage::F64(x), CpuStorage::F64(y)) => Ok(CpuStorage::F64(kernel64(
            contiguous(x, a.1, name)?,
            contiguous(y, b.1, name)?,
        ))),
        _ => bail!("{name}: only f32/f64 tensors of one dtype"),
    }
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
            |x, w| depthwise_forward_kernel(g, x, w),
            |x, w| depthwise_forward_kernel(g, x, w),
        )?;
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
}
