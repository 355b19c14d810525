//! The notebook's 2-D model (`In[11]`): EfficientNet-B0 per frame, pooled over time, then a
//! LayerNorm / Dropout(0.3) / Linear head.
//!
//! Parameter names are those of the notebook's `EfficientNetTemporal` module: `backbone.features.*`,
//! `attn_pool.fc1.*` / `attn_pool.fc2.*` (attention pooling only), `ln.*`, `fc.*`.
//!
//! The frozen stages (`features[0..7]`) train in one of two ways, the `frozen_bn` setting
//! ([`crate::deep::train::FrozenBn`]): in evaluation mode (running BatchNorm statistics, no
//! stochastic depth; frozen layers are really frozen and their activations can be reused, the
//! quick profile's default and what [`EfficientNetTemporal::forward`] does), or in training mode as
//! the notebook's `model.train()` ([`crate::deep::models::DeepNet`]'s `trunk_train`).

use std::fmt;
use std::str::FromStr;

use candle_core::{D, Result, Tensor, bail};
use candle_nn::{Init, Linear, Module, VarBuilder};

use super::efficientnet::{EfficientNetB0, FEATURE_DIM, FIRST_TRAINABLE_STAGE, NUM_STAGES};
use super::nn::Noise;

/// Dropout before the classifier, as the notebook's `EfficientNetTemporal(dropout=0.3)`.
pub const HEAD_DROPOUT: f32 = 0.3;
/// `nn.LayerNorm` default epsilon.
const LN_EPS: f64 = 1e-5;

/// Parameter-name prefixes of the fine-tuned part (the last two `features` children and the head).
pub const TRAINABLE_PREFIXES: &[&str] = &[
    "backbone.features.7.",
    "backbone.features.8.",
    "attn_pool.",
    "ln.",
    "fc.",
];

/// How per-frame features are pooled over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over frames.
    Avg,
    /// Element-wise maximum over frames.
    Max,
    /// Learned attention weights (softmax over frames) and a weighted sum.
    Attn,
}

impl Pooling {
    /// The notebook's name: "avg", "max" or "attn".
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Avg => "avg",
            Pooling::Max => "max",
            Pooling::Attn => "attn",
        }
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pooling {
    type Err = crate::Error;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "avg" => Ok(Pooling::Avg),
            "max" => Ok(Pooling::Max),
            "attn" => Ok(Pooling::Attn),
            _ => Err(crate::Error::InvalidArgument(format!(
                "pooling must be avg, max or attn, got {s:?}"
            ))),
        }
    }
}

/// A `torch.nn.Linear` with torch's default initialisation
/// (weight and bias uniform in `±1/sqrt(in_features)`).
fn torch_linear(vb: VarBuilder, in_dim: usize, out_dim: usize) -> Result<Linear> {
    let bound = 1.0 / (in_dim as f64).sqrt();
    let init = Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let weight = vb.get_with_hints((out_dim, in_dim), "weight", init)?;
    let bias = vb.get_with_hints(out_dim, "bias", init)?;
    Ok(Linear::new(weight, Some(bias)))
}

/// The notebook's `TemporalAttentionPool`: `fc2(tanh(fc1(f)))` scores, softmax over time.
struct AttentionPool {
    fc1: Linear,
    fc2: Linear,
}

impl AttentionPool {
    fn new(vb: VarBuilder, feat_dim: usize) -> Result<Self> {
        Ok(Self {
            fc1: torch_linear(vb.pp("fc1"), feat_dim, feat_dim / 2)?,
            fc2: torch_linear(vb.pp("fc2"), feat_dim / 2, 1)?,
        })
    }

    /// (B, T, D) -> (pooled (B, D), weights (B, T)).
    fn forward(&self, feats: &Tensor) -> Result<(Tensor, Tensor)> {
        let hidden = self.fc1.forward(feats)?.tanh()?;
        let scores = self.fc2.forward(&hidden)?.squeeze(D::Minus1)?;
        let attn = candle_nn::ops::softmax(&scores, 1)?;
        let pooled = feats.broadcast_mul(&attn.unsqueeze(D::Minus1)?)?.sum(1)?;
        Ok((pooled, attn))
    }
}

/// Temporal pooling and classifier: optional attention pool, LayerNorm, Dropout(0.3), Linear.
pub struct TemporalHead {
    pooling: Pooling,
    attn_pool: Option<AttentionPool>,
    ln_weight: Tensor,
    ln_bias: Tensor,
    fc: Linear,
}

impl TemporalHead {
    /// vb at the notebook model's root: creates "attn_pool.fc1/fc2" (Attn only), "ln", "fc".
    pub fn new(
        vb: VarBuilder,
        pooling: Pooling,
        feat_dim: usize,
        num_classes: usize,
    ) -> Result<Self> {
        if feat_dim < 2 || num_classes == 0 {
            bail!(
                "temporal head needs feat_dim >= 2 and num_classes >= 1 ({feat_dim}, {num_classes})"
            )
        }
        let attn_pool = match pooling {
            Pooling::Attn => Some(AttentionPool::new(vb.pp("attn_pool"), feat_dim)?),
            Pooling::Avg | Pooling::Max => None,
        };
        let ln = vb.pp("ln");
        let ln_weight = ln.get_with_hints(feat_dim, "weight", Init::Const(1.0))?;
        let ln_bias = ln.get_with_hints(feat_dim, "bias", Init::Const(0.0))?;
        let fc = torch_linear(vb.pp("fc"), feat_dim, num_classes)?;
        Ok(Self {
            pooling,
            attn_pool,
            ln_weight,
            ln_bias,
            fc,
        })
    }

    /// The pooling this head was built with.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// feats (B, T, D) -> (pooled (B, D), attention weights (B, T) for Attn)
    pub fn pool(&self, feats: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let (_, frames, _) = feats.dims3()?;
        if frames == 0 {
            bail!("temporal pooling over zero frames")
        }
        match (&self.attn_pool, self.pooling) {
            (_, Pooling::Avg) => Ok((feats.mean(1)?, None)),
            (_, Pooling::Max) => Ok((feats.max(1)?, None)),
            (Some(attn), Pooling::Attn) => {
                let (pooled, weights) = attn.forward(feats)?;
                Ok((pooled, Some(weights)))
            }
            (None, Pooling::Attn) => bail!("attention pooling without attention weights"),
        }
    }

    /// pooled -> logits: LayerNorm, dropout (training only), Linear
    pub fn classify(&self, pooled: &Tensor, noise: Option<&mut Noise>) -> Result<Tensor> {
        let x = layer_norm(pooled, &self.ln_weight, &self.ln_bias)?;
        let x = match noise {
            Some(noise) => noise.dropout(&x, HEAD_DROPOUT)?,
            None => x,
        };
        self.fc.forward(&x)
    }
}

/// `nn.LayerNorm` over the last axis from differentiable operations (candle's fused layer-norm
/// kernel has no backward pass).
fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred
        .broadcast_div(&(var + LN_EPS)?.sqrt()?)?
        .broadcast_mul(weight)?
        .broadcast_add(bias)
}

/// The notebook's `EfficientNetTemporal`: per-frame EfficientNet-B0 features, temporal pooling, head.
pub struct EfficientNetTemporal {
    /// The per-frame feature extractor (`backbone.*`).
    pub backbone: EfficientNetB0,
    /// Pooling over frames and classifier (`attn_pool.*`, `ln.*`, `fc.*`).
    pub head: TemporalHead,
}

impl EfficientNetTemporal {
    /// vb at root: backbone under "backbone.", head at root.
    pub fn new(vb: VarBuilder, pooling: Pooling, num_classes: usize) -> Result<Self> {
        Ok(Self {
            backbone: EfficientNetB0::new(vb.pp("backbone"))?,
            head: TemporalHead::new(vb, pooling, FEATURE_DIM, num_classes)?,
        })
    }

    /// x (B, T, C, H, W) -> (logits (B, n), attention (B, T) or None), eval or training
    ///
    /// In training (`noise` Some) the frozen stages run in evaluation mode and without gradient
    /// (`frozen_bn = eval`); only [`forward_tail`](Self::forward_tail) trains.
    pub fn forward(
        &self,
        x: &Tensor,
        noise: Option<&mut Noise>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (batch, frames, c, h, w) = x.dims5()?;
        let frames_flat = x.reshape((batch * frames, c, h, w))?;
        let trunk = self
            .backbone
            .forward_features(&frames_flat, 0..FIRST_TRAINABLE_STAGE, None)?;
        let trunk = if noise.is_some() {
            trunk.detach()
        } else {
            trunk
        };
        let (logits, attn, _) = self.forward_tail(&trunk, batch, frames, noise)?;
        Ok((logits, attn))
    }

    /// the fine-tuned tail only: trunk activations (B*T, 192, h, w) from `features[0..7]` -> (logits, attn, pooled (B,1280))
    pub fn forward_tail(
        &self,
        trunk: &Tensor,
        batch: usize,
        frames: usize,
        noise: Option<&mut Noise>,
    ) -> Result<(Tensor, Option<Tensor>, Tensor)> {
        if trunk.dim(0)? != batch * frames {
            bail!(
                "trunk activations {:?} do not hold {batch} x {frames} frames",
                trunk.dims()
            )
        }
        let mut noise = noise;
        let maps = self.backbone.forward_features(
            trunk,
            FIRST_TRAINABLE_STAGE..NUM_STAGES,
            noise.as_deref_mut(),
        )?;
        let feats = EfficientNetB0::pool(&maps)?.reshape((batch, frames, FEATURE_DIM))?;
        let (pooled, attn) = self.head.pool(&feats)?;
        let logits = self.head.classify(&pooled, noise)?;
        Ok((logits, attn, pooled))
    }
}
