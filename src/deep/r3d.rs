//! torchvision's R3D-18 (`torchvision.models.video.r3d_18`) on candle, with the notebook's head.
//!
//! The architecture and every parameter name follow torchvision's `VideoResNet` with
//! `BasicBlock`, `Conv3DSimple` and `BasicStem`, so a torchvision `state_dict` (minus
//! `num_batches_tracked`) loads as is. The notebook replaces `fc` by
//! `Sequential(LayerNorm(512), Dropout(0.3), Linear(512, n_classes))`: names `fc.0.*`, `fc.2.*`.
//!
//! Activations travel through the network channels-last, `(N, T, H, W, C)` (see
//! [`crate::deep::conv3d`]); the public methods take and return torch's `(N, C, T, H, W)`.

use candle_core::{D, Result, Tensor, bail};
use candle_nn::{BatchNorm, BatchNormConfig, Init, Linear, Module, ModuleT, VarBuilder};

use super::batch_stats::{channel_mean_var_rows, fold_train_batch_norm, move_running_stats};
use super::conv3d::{Conv3d, conv3d_channels_last_inference};
use super::nn::{Noise, settle};
use super::ops::in_place::{self, LastTail};

/// Parameter-name prefixes the notebook fine-tunes (layer4 and the head).
pub const TRAINABLE_PREFIXES: &[&str] = &["layer4.", "fc."];

/// Width of the embedding that feeds the head.
pub const EMBEDDING_DIM: usize = 512;

/// Dropout probability of the notebook's head.
pub const HEAD_DROPOUT: f32 = 0.3;

/// Channels of the trunk output (layer3).
pub const TRUNK_CHANNELS: usize = 256;

/// torch's `BatchNorm3d` momentum for the running statistics.
const BN_MOMENTUM: f64 = 0.1;

/// `BatchNorm3d` as torch builds it (eps 1e-5, momentum 0.1, affine).
fn batch_norm3d(vb: VarBuilder, channels: usize) -> Result<BatchNorm> {
    candle_nn::batch_norm(
        channels,
        BatchNormConfig {
            eps: 1e-5,
            remove_mean: true,
            affine: true,
            momentum: BN_MOMENTUM,
        },
        vb,
    )
}

/// Batch norm of a channels-last `(N, T, H, W, C)` activation: as an `(N * T * H * W, C)`
/// matrix it has the same per-channel statistics as `BatchNorm3d` over `(N, C, T, H, W)`.
fn batch_norm_channels_last(bn: &BatchNorm, x: &Tensor, train: bool) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let c = dims.last().copied().unwrap_or(0);
    let rows = x.reshape(((), c))?;
    let y = if train {
        batch_norm_rows_train(bn, &rows)?
    } else {
        bn.forward_t(&rows, false)?
    };
    y.reshape(dims)
}

/// torch's `BatchNorm` in training mode on an `(M, C)` matrix whose columns are the channels:
/// normalised with the batch's mean and biased variance per channel, scaled and shifted, and
/// the running statistics updated (`(1 - momentum) running + momentum batch`, the variance
/// unbiased, `M / (M - 1)`). Differentiable in `x` and the affine parameters.
///
/// candle_nn's `forward_train` transposes the activation to `(C, M)` and back, two strided
/// copies of it (and of its gradient) per batch norm; here the column sums are products with
/// a row of ones, which stay in the channels-last layout.
fn batch_norm_rows_train(bn: &BatchNorm, x: &Tensor) -> Result<Tensor> {
    let m = x.dim(0)?;
    if m < 2 {
        bail!("batch norm in training mode needs more than one value per channel, got {m}");
    }
    let ones = Tensor::ones((1, m), x.dtype(), x.device())?;
    let inv_m = 1.0 / m as f64;
    let mean = (ones.matmul(x)? * inv_m)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = (ones.matmul(&centred.sqr()?)? * inv_m)?;
    move_running_stats(bn, BN_MOMENTUM, &mean, &var, m)?;
    let y = centred.broadcast_div(&(var + bn.eps())?.sqrt()?)?;
    match bn.weight_and_bias() {
        Some((gamma, beta)) => y.broadcast_mul(gamma)?.broadcast_add(beta),
        None => Ok(y),
    }
}

/// `(N, C, T, H, W)` to channels-last `(N, T, H, W, C)`, contiguous.
fn to_channels_last(x: &Tensor) -> Result<Tensor> {
    x.permute((0, 2, 3, 4, 1))?.contiguous()
}

/// Channels-last `(N, T, H, W, C)` to `(N, C, T, H, W)`, contiguous.
fn from_channels_last(x: &Tensor) -> Result<Tensor> {
    x.permute((0, 4, 1, 2, 3))?.contiguous()
}

/// Mean over T, H and W of a channels-last `(N, T, H, W, C)` activation: `(N, C)`.
fn global_avg_pool_channels_last(x: &Tensor) -> Result<Tensor> {
    let (n, t, h, w, c) = x.dims5()?;
    x.reshape((n, t * h * w, c))?.mean(1)
}

/// `torch.nn.LayerNorm` over the last dimension, from differentiable ops.
///
/// candle_nn's `LayerNorm` runs a fused kernel on contiguous inputs that has no backward pass:
/// neither its own parameters nor anything before it would get a gradient.
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of size `dim` (new ones: 1 and 0).
    fn new(vb: VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        let weight = vb.get_with_hints(dim, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(dim, "bias", Init::Const(0.0))?;
        Ok(LayerNorm { weight, bias, eps })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(var + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// Conv3d then BatchNorm3d, the `Sequential(conv, bn)` pairs of torchvision's blocks.
struct ConvBn {
    conv: Conv3d,
    bn: BatchNorm,
}

impl ConvBn {
    /// `vb` at the `Sequential`: the conv is `0`, the batch norm `1`.
    fn new(
        vb: VarBuilder,
        in_c: usize,
        out_c: usize,
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [usize; 3],
    ) -> Result<Self> {
        let conv = Conv3d::new(vb.pp("0"), in_c, out_c, kernel, stride, padding, false)?;
        let bn = batch_norm3d(vb.pp("1"), out_c)?;
        Ok(ConvBn { conv, bn })
    }

    /// Channels-last forward pass, differentiable; `train` selects batch statistics.
    /// Inside [`super::nn::no_grad`] the output carries no autograd history.
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.conv.forward_channels_last(x)?;
        Ok(settle(batch_norm_channels_last(&self.bn, &y, train)?))
    }

    /// The frozen trunk in training mode, inside [`super::nn::no_grad`]: the convolution's
    /// inference path, then the batch's statistics (which move the running ones) folded into a
    /// scale and shift applied in place, with the ReLU that follows when `relu`. Where the
    /// statistics are not computed directly (another device), the tensor path.
    fn forward_frozen_train(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let y = self.conv_inference(x)?;
        match channel_mean_var_rows(&y)? {
            Some((mean, var)) => {
                let m = y.elem_count() / mean.len();
                let scale_shift = fold_train_batch_norm(&self.bn, BN_MOMENTUM, &mean, &var, m)?;
                // The convolution's output is fresh: the scale and shift may overwrite it.
                Self::scale_shift_in_place(y, &scale_shift, relu)
            }
            None => {
                let y = batch_norm_channels_last(&self.bn, &y, true)?.detach();
                if relu { y.relu() } else { Ok(y) }
            }
        }
    }

    /// Eval-mode inference on a channels-last clip, the batch norm reduced to a per-channel
    /// scale and shift applied to the convolution's output in one pass
    /// (`conv(x, w) * s + (beta - mean * s)`, `s = gamma / sqrt(var + eps)`).
    /// Records no gradient. With `relu`, the ReLU that follows is applied too.
    fn forward_folded(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let mean = self.bn.running_mean().detach();
        let var = self.bn.running_var().detach();
        let inv_std = (var + self.bn.eps())?.sqrt()?.recip()?;
        let (scale, shift) = match self.bn.weight_and_bias() {
            Some((gamma, beta)) => {
                let scale = (gamma.detach() * inv_std)?;
                let shift = (beta.detach() - (mean * &scale)?)?;
                (scale, shift)
            }
            None => {
                let shift = (mean * &inv_std)?.neg()?;
                (inv_std, shift)
            }
        };
        let y = self.conv_inference(x)?;
        // The convolution's output is fresh: the scale and shift (and ReLU) may overwrite it.
        Self::scale_shift_in_place(y, &Tensor::stack(&[&scale, &shift], 0)?, relu)
    }

    /// The convolution's inference path (no autograd) on a channels-last clip.
    fn conv_inference(&self, x: &Tensor) -> Result<Tensor> {
        conv3d_channels_last_inference(
            &x.detach(),
            &self.conv.weight().detach(),
            self.conv.stride(),
            self.conv.padding(),
        )
    }

    /// `y * scale + shift` per channel (`scale_shift` is `(2, C)`), then the ReLU when `relu`,
    /// written over `y`, which must be a fresh tensor no one else holds.
    fn scale_shift_in_place(y: Tensor, scale_shift: &Tensor, relu: bool) -> Result<Tensor> {
        let tail = if relu {
            LastTail::AffineRelu
        } else {
            LastTail::Affine
        };
        in_place::apply_channels_last(y, scale_shift, tail)
    }
}

/// torchvision's video `BasicBlock` with `Conv3DSimple` convolutions:
/// `relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x))`.
pub struct BasicBlock {
    conv1: ConvBn,
    conv2: ConvBn,
    downsample: Option<ConvBn>,
}

impl BasicBlock {
    /// A block from `in_planes` to `planes` channels with stride `stride` on T, H and W.
    /// Parameter names under `vb`: `conv1.{0,1}`, `conv2.{0,1}` and, when the stride is not 1
    /// or the width changes, `downsample.{0,1}` (a 1x1x1 convolution with stride `stride`).
    pub fn new(vb: VarBuilder, in_planes: usize, planes: usize, stride: usize) -> Result<Self> {
        if stride == 0 {
            bail!("BasicBlock: stride must be at least 1");
        }
        let conv1 = ConvBn::new(
            vb.pp("conv1"),
            in_planes,
            planes,
            [3; 3],
            [stride; 3],
            [1; 3],
        )?;
        let conv2 = ConvBn::new(vb.pp("conv2"), planes, planes, [3; 3], [1; 3], [1; 3])?;
        let downsample = if stride != 1 || in_planes != planes {
            Some(ConvBn::new(
                vb.pp("downsample"),
                in_planes,
                planes,
                [1; 3],
                [stride; 3],
                [0; 3],
            )?)
        } else {
            None
        };
        Ok(BasicBlock {
            conv1,
            conv2,
            downsample,
        })
    }

    /// Forward pass on `(N, C, T, H, W)`; `train` puts the batch norms in training mode
    /// (batch statistics, running statistics updated with momentum 0.1). Differentiable.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        from_channels_last(&self.forward_channels_last(&to_channels_last(x)?, train)?)
    }

    /// Forward pass on a channels-last `(N, T, H, W, C)` clip. Differentiable.
    pub fn forward_channels_last(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let out = self.conv1.forward(x, train)?.relu()?;
        let out = self.conv2.forward(&out, train)?;
        let residual = match &self.downsample {
            Some(ds) => ds.forward(x, train)?,
            None => x.clone(),
        };
        Ok(settle((out + residual)?.relu()?))
    }

    /// The frozen trunk's block in training mode inside [`super::nn::no_grad`] (batch
    /// statistics, running statistics moved; see [`ConvBn::forward_frozen_train`]): the same
    /// values as [`Self::forward_channels_last`] with `train`, without autograd.
    fn forward_channels_last_frozen_train(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_without_grad(x, ConvBn::forward_frozen_train)
    }

    /// Eval-mode inference on a channels-last `(N, T, H, W, C)` clip with the batch norms
    /// reduced to a scale and shift per channel (the frozen trunk's path); records no gradient.
    pub fn forward_channels_last_eval(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_without_grad(x, ConvBn::forward_folded)
    }

    /// The block with each convolution + batch norm (+ ReLU when the flag says so) computed by
    /// `conv_bn` into a fresh output, the residual sum and ReLU then applied in place.
    fn forward_without_grad(
        &self,
        x: &Tensor,
        conv_bn: impl Fn(&ConvBn, &Tensor, bool) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let out = conv_bn(&self.conv1, x, true)?;
        let out = conv_bn(&self.conv2, &out, false)?;
        let residual = match &self.downsample {
            Some(ds) => conv_bn(ds, x, false)?,
            None => x.clone(),
        };
        // `out` is conv2's fresh output.
        in_place::apply_channels_last(out, &residual, LastTail::AddRelu)
    }
}

/// torchvision's `r3d_18` with the notebook's `fc` head.
pub struct R3d18 {
    stem: ConvBn,
    /// layer1..layer4, two blocks each.
    layers: Vec<Vec<BasicBlock>>,
    head_norm: LayerNorm,
    head_linear: Linear,
    num_classes: usize,
}

impl R3d18 {
    /// vb at the model root (names "stem.0.weight", "layer4.1.conv2.1.running_var", "fc.2.bias").
    pub fn new(vb: VarBuilder, num_classes: usize) -> Result<Self> {
        if num_classes == 0 {
            bail!("R3d18: num_classes must be at least 1");
        }
        // BasicStem: stride (1, 2, 2), padding (1, 3, 3).
        let stem = ConvBn::new(vb.pp("stem"), 3, 64, [3, 7, 7], [1, 2, 2], [1, 3, 3])?;
        let mut layers = Vec::with_capacity(4);
        let mut in_planes = 64;
        for (i, (planes, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)]
            .into_iter()
            .enumerate()
        {
            let vb_layer = vb.pp(format!("layer{}", i + 1));
            let first = BasicBlock::new(vb_layer.pp("0"), in_planes, planes, stride)?;
            let second = BasicBlock::new(vb_layer.pp("1"), planes, planes, 1)?;
            layers.push(vec![first, second]);
            in_planes = planes;
        }
        let head_norm = LayerNorm::new(vb.pp("fc").pp("0"), EMBEDDING_DIM, 1e-5)?;
        let head_linear = candle_nn::linear(EMBEDDING_DIM, num_classes, vb.pp("fc").pp("2"))?;
        Ok(R3d18 {
            stem,
            layers,
            head_norm,
            head_linear,
            num_classes,
        })
    }

    /// Number of classes of the head.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Checks that `x` is a 5-d clip batch with `channels` channels.
    fn check_input(x: &Tensor, channels: usize, what: &str) -> Result<()> {
        match x.dims() {
            &[_, c, t, h, w] if c == channels && t > 0 && h > 0 && w > 0 => Ok(()),
            d => bail!("R3d18: {what} must be (N, {channels}, T, H, W), got shape {d:?}"),
        }
    }

    /// stem..layer3 on a channels-last clip, `(N, T, H, W, 3)` to `(N, T', H', W', 256)`:
    /// eval mode with folded batch norms (`train == false`, no gradient), or torch's train
    /// mode (batch statistics, running statistics updated).
    fn trunk_channels_last(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        // Training mode without autograd (the frozen trunk's usual case): batch statistics
        // folded into in-place scale and shift passes.
        let frozen = train && super::nn::grad_disabled();
        let mut x = if frozen {
            self.stem.forward_frozen_train(x, true)?
        } else if train {
            self.stem.forward(x, true)?.relu()?
        } else {
            self.stem.forward_folded(x, true)?
        };
        for layer in &self.layers[..3] {
            for block in layer {
                x = if frozen {
                    block.forward_channels_last_frozen_train(&x)?
                } else if train {
                    block.forward_channels_last(&x, true)?
                } else {
                    block.forward_channels_last_eval(&x)?
                };
            }
        }
        Ok(x.detach())
    }

    /// layer4 and global average pooling on a channels-last trunk output: `(N, 512)`. In eval
    /// mode inside [`no_grad`](super::nn::no_grad) (predictions) with folded batch norms, as
    /// the trunk.
    fn embedding_channels_last(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.clone();
        let folded = !train && super::nn::grad_disabled();
        for block in &self.layers[3] {
            x = if folded {
                block.forward_channels_last_eval(&x)?
            } else {
                block.forward_channels_last(&x, train)?
            };
        }
        global_avg_pool_channels_last(&x)
    }

    /// stem..layer3 in eval mode (the frozen trunk; its output is cached per video by the caller).
    /// `(N, 3, T, H, W)` to `(N, 256, T', H', W')`, contiguous: T' = ceil(T / 4) and
    /// H' = ceil(H / 8) (3x8x112x112 gives 2x14x14; layer4 then halves each again).
    /// The output is detached: no gradient flows back into the trunk.
    pub fn forward_trunk(&self, x: &Tensor) -> Result<Tensor> {
        Self::check_input(x, 3, "input")?;
        from_channels_last(&self.trunk_channels_last(&to_channels_last(x)?, false)?)
    }

    /// stem..layer3 in torch's training mode (the notebook's `model.train()` on the frozen
    /// trunk, `frozen_bn = train`): every batch norm normalises with the batch's statistics and
    /// updates its running statistics. `(N, 3, T, H, W)` to `(N, 256, T', H', W')` as
    /// [`forward_trunk`](Self::forward_trunk); detached, no gradient flows back.
    pub fn forward_trunk_train(&self, x: &Tensor) -> Result<Tensor> {
        Self::check_input(x, 3, "input")?;
        from_channels_last(&self.trunk_channels_last(&to_channels_last(x)?, true)?)
    }

    /// layer4 + avgpool -> (N, 512) embedding; BN in train mode when noise is Some.
    pub fn forward_embedding(&self, trunk: &Tensor, noise: Option<&mut Noise>) -> Result<Tensor> {
        Self::check_input(trunk, TRUNK_CHANNELS, "trunk output")?;
        self.embedding_channels_last(&to_channels_last(trunk)?, noise.is_some())
    }

    /// LayerNorm, dropout 0.3 (training only), Linear -> logits (N, n_classes).
    pub fn forward_head(&self, emb: &Tensor, noise: Option<&mut Noise>) -> Result<Tensor> {
        match emb.dims() {
            &[_, d] if d == EMBEDDING_DIM => {}
            d => bail!("R3d18: embedding must be (N, {EMBEDDING_DIM}), got shape {d:?}"),
        }
        let x = self.head_norm.forward(emb)?;
        let x = match noise {
            Some(noise) => noise.dropout(&x, HEAD_DROPOUT)?,
            None => x,
        };
        self.head_linear.forward(&x)
    }

    /// Whole model: `(N, 3, T, H, W)` to logits `(N, n_classes)`.
    ///
    /// `None` is torch's `model.eval()`. `Some` is torch's `model.train()`: every batch norm,
    /// the trunk's included, uses batch statistics and updates its running statistics, and the
    /// head applies dropout. (The cached path `forward_trunk` + `forward_embedding` keeps the
    /// trunk in eval mode instead, `frozen_bn = eval`.) As in the notebook, whose trunk parameters have
    /// `requires_grad = False`, the trunk output is detached: gradients reach layer4 and the
    /// head only.
    pub fn forward(&self, x: &Tensor, noise: Option<&mut Noise>) -> Result<Tensor> {
        Self::check_input(x, 3, "input")?;
        let train = noise.is_some();
        let trunk = self.trunk_channels_last(&to_channels_last(x)?, train)?;
        let emb = self.embedding_channels_last(&trunk, train)?;
        self.forward_head(&emb, noise)
    }
}
