//! The four deep models of the notebook, as [`VideoNet`]s: EfficientNet-B0 with temporal average,
//! max or attention pooling (`Deep-2D-Avg`, `Deep-2D-Max`, `Deep-2D-Attn`) and R3D-18
//! (`Deep-3D-R3D18`).

use std::fmt;
use std::str::FromStr;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::data::{Clip, Norm, clip_tensor, frames_tensor};
use super::efficientnet::FIRST_TRAINABLE_STAGE;
use super::nn::{Noise, no_grad};
use super::ops::on_pool;
use super::r3d::R3d18;
use super::temporal::{EfficientNetTemporal, Pooling};
use super::train::{TailOutput, VideoNet};
use super::weights::Arch;
use crate::{Error, Result};

/// Which deep model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeepKind {
    /// EfficientNet-B0 per frame, mean over time.
    Avg,
    /// EfficientNet-B0 per frame, max over time.
    Max,
    /// EfficientNet-B0 per frame, learned attention over time.
    Attn,
    /// R3D-18 on a clip.
    R3d,
}

impl DeepKind {
    /// All four, in the notebook's order.
    pub const ALL: [DeepKind; 4] = [DeepKind::Avg, DeepKind::Max, DeepKind::Attn, DeepKind::R3d];

    /// The notebook's model name.
    pub fn name(self) -> &'static str {
        match self {
            DeepKind::Avg => "Deep-2D-Avg",
            DeepKind::Max => "Deep-2D-Max",
            DeepKind::Attn => "Deep-2D-Attn",
            DeepKind::R3d => "Deep-3D-R3D18",
        }
    }

    /// Short name: avg, max, attn, r3d.
    pub fn short(self) -> &'static str {
        match self {
            DeepKind::Avg => "avg",
            DeepKind::Max => "max",
            DeepKind::Attn => "attn",
            DeepKind::R3d => "r3d",
        }
    }

    /// True for the 3D CNN.
    pub fn is_3d(self) -> bool {
        self == DeepKind::R3d
    }

    /// The torchvision architecture whose weights it loads.
    pub fn arch(self) -> Arch {
        if self.is_3d() {
            Arch::R3d18
        } else {
            Arch::EfficientNetB0
        }
    }

    /// Parameter-name prefixes that are fine-tuned.
    pub fn trainable_prefixes(self) -> &'static [&'static str] {
        if self.is_3d() {
            super::r3d::TRAINABLE_PREFIXES
        } else {
            super::temporal::TRAINABLE_PREFIXES
        }
    }
}

impl fmt::Display for DeepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeepKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeepKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "avg" | "deep-2d-avg" => Ok(DeepKind::Avg),
            "max" | "deep-2d-max" => Ok(DeepKind::Max),
            "attn" | "attention" | "deep-2d-attn" => Ok(DeepKind::Attn),
            "r3d" | "r3d18" | "r3d_18" | "deep-3d-r3d18" => Ok(DeepKind::R3d),
            _ => Err(Error::InvalidArgument(format!(
                "unknown deep model `{s}`; expected avg, max, attn or r3d"
            ))),
        }
    }
}

/// A built model, ready to train or predict.
pub enum DeepNet {
    /// EfficientNet-B0 + temporal pooling.
    Frames(EfficientNetTemporal, Norm, Device),
    /// R3D-18.
    Clip(R3d18, Norm, Device),
}

impl DeepNet {
    /// [`VideoNet::tail`]'s work, on the pool.
    fn tail_inner(&self, trunks: &[&Tensor], noise: Option<&mut Noise>) -> Result<TailOutput> {
        let mut noise = noise;
        match self {
            DeepNet::Frames(m, ..) => {
                let frames = trunks.first().map(|t| t.dim(0)).transpose()?;
                let frames = frames.unwrap_or(0);
                let same = trunks.iter().all(|t| t.dim(0).ok() == Some(frames));
                if same {
                    let x = Tensor::cat(trunks, 0)?;
                    let (logits, attention, embedding) =
                        m.forward_tail(&x, trunks.len(), frames, noise)?;
                    Ok(TailOutput {
                        logits,
                        embedding,
                        attention,
                    })
                } else {
                    // Random sampling of a video shorter than the clip gives fewer frames: run
                    // such a batch one video at a time.
                    let mut logits = Vec::new();
                    let mut embedding = Vec::new();
                    for t in trunks {
                        let (l, _, e) = m.forward_tail(t, 1, t.dim(0)?, noise.as_deref_mut())?;
                        logits.push(l);
                        embedding.push(e);
                    }
                    Ok(TailOutput {
                        logits: Tensor::cat(&logits, 0)?,
                        embedding: Tensor::cat(&embedding, 0)?,
                        attention: None,
                    })
                }
            }
            DeepNet::Clip(m, ..) => {
                let x = Tensor::cat(trunks, 0)?;
                let embedding = m.forward_embedding(&x, noise.as_deref_mut())?;
                let logits = m.forward_head(&embedding, noise)?;
                Ok(TailOutput {
                    logits,
                    embedding,
                    attention: None,
                })
            }
        }
    }

    /// [`VideoNet::trunk_train`]'s work, inside its `no_grad`.
    fn trunk_train_inner(&self, inputs: &[&Tensor], noise: &mut Noise) -> Result<Vec<Tensor>> {
        match self {
            DeepNet::Frames(m, ..) => {
                // The notebook's `x.view(b * t, c, h, w)`: every frame of the batch in one
                // BatchNorm batch.
                let x = Tensor::cat(inputs, 0)?;
                let t = m
                    .backbone
                    .forward_features(&x, 0..FIRST_TRAINABLE_STAGE, Some(noise))?
                    .detach();
                split_rows(&t, inputs.iter().map(|x| x.dim(0)))
            }
            DeepNet::Clip(m, ..) => {
                let same = inputs.iter().all(|x| x.dims() == inputs[0].dims());
                if same {
                    let t = m.forward_trunk_train(&Tensor::cat(inputs, 0)?)?;
                    split_rows(&t, inputs.iter().map(|x| x.dim(0)))
                } else {
                    // Clips of different lengths (random sampling of a video shorter than the
                    // clip) cannot share a batch: each gets its own statistics.
                    inputs
                        .iter()
                        .map(|x| Ok(m.forward_trunk_train(x)?))
                        .collect()
                }
            }
        }
    }

    /// Build `kind` for `n_classes` from `vb` (parameters by torchvision's names).
    pub fn build(kind: DeepKind, vb: VarBuilder, n_classes: usize, norm: Norm) -> Result<DeepNet> {
        let device = vb.device().clone();
        Ok(match kind {
            DeepKind::R3d => DeepNet::Clip(R3d18::new(vb, n_classes)?, norm, device),
            k => {
                let pooling = match k {
                    DeepKind::Avg => Pooling::Avg,
                    DeepKind::Max => Pooling::Max,
                    _ => Pooling::Attn,
                };
                DeepNet::Frames(
                    EfficientNetTemporal::new(vb, pooling, n_classes)?,
                    norm,
                    device,
                )
            }
        })
    }
}

impl VideoNet for DeepNet {
    fn device(&self) -> &Device {
        match self {
            DeepNet::Frames(_, _, dev) | DeepNet::Clip(_, _, dev) => dev,
        }
    }

    fn input(&self, clip: &Clip) -> Result<Tensor> {
        match self {
            DeepNet::Frames(_, norm, dev) => frames_tensor(clip, *norm, dev),
            DeepNet::Clip(_, norm, dev) => Ok(clip_tensor(clip, *norm, dev)?.unsqueeze(0)?),
        }
    }

    fn trunk(&self, input: &Tensor) -> Result<Tensor> {
        // Frozen: nothing of it trains, so no autograd history is kept (see `no_grad`). On a
        // worker thread of the pool, as every pass of the network (see `on_pool`).
        let t = on_pool(self.device(), || {
            no_grad(|| match self {
                DeepNet::Frames(m, ..) => {
                    m.backbone
                        .forward_features(input, 0..FIRST_TRAINABLE_STAGE, None)
                }
                DeepNet::Clip(m, ..) => m.forward_trunk(input),
            })
        });
        Ok(t?.detach())
    }

    fn trunk_train(&self, inputs: &[&Tensor], noise: &mut Noise) -> Result<Vec<Tensor>> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        // Training mode (batch statistics, running statistics updated) but frozen: no autograd
        // history, as in torch, whose frozen parameters do not require gradients.
        on_pool(self.device(), || {
            no_grad(|| self.trunk_train_inner(inputs, noise))
        })
    }

    fn tail(&self, trunks: &[&Tensor], noise: Option<&mut Noise>) -> Result<TailOutput> {
        on_pool(self.device(), || self.tail_inner(trunks, noise))
    }
}

/// `t` cut along dim 0 into consecutive pieces of the given lengths.
fn split_rows(
    t: &Tensor,
    lengths: impl Iterator<Item = candle_core::Result<usize>>,
) -> Result<Vec<Tensor>> {
    let mut start = 0;
    let mut out = Vec::new();
    for n in lengths {
        let n = n?;
        out.push(t.narrow(0, start, n)?);
        start += n;
    }
    Ok(out)
}
