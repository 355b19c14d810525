//! Training and evaluation of the deep models, as the notebook's `train_deep_2d_variant` /
//! `train_deep_3d` / `eval_deep_*`: Adam with L2 weight decay (torch.optim.Adam), StepLR, early
//! stopping on validation accuracy, and the best-validation checkpoint.
//!
//! How the frozen trunk runs while the tail trains is the `frozen_bn` setting ([`FrozenBn`]):
//!
//! - `eval`: the frozen trunk is run once per video in eval mode and its activations kept
//!   ([`TrunkSource::Cached`]), so every epoch runs only the fine-tuned tail. Frozen layers in
//!   eval mode are a fixed function of the input, so this gives what recomputing them every batch
//!   would.
//! - `train`: the notebook's `model.train()`. The frozen trunk runs on every batch of every epoch
//!   in training mode ([`TrunkSource::Live`]): BatchNorm on the batch's statistics, its running
//!   statistics updated (momentum 0.1, unbiased variance), EfficientNet's stochastic depth active;
//!   no gradient reaches the frozen parameters. Validation and test run it in eval mode, with the
//!   running statistics it has reached, as `model.eval()` does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::data::Clip;
use super::device::sync;
use super::nn::Noise;
use super::ops::adam::{AdamScalars, AdamUpdate, HostMoments};
use super::weights::{ParamStore, load_checkpoint, save_tensors};
use crate::{Result, bail};

/// What one forward pass of a model's fine-tuned tail gives for a batch of videos.
pub struct TailOutput {
    /// Class logits `(B, n_classes)`.
    pub logits: Tensor,
    /// The pooled video embedding before the head `(B, D)` (t-SNE views).
    pub embedding: Tensor,
    /// Temporal attention weights `(B, T)` (attention pooling only).
    pub attention: Option<Tensor>,
}

/// A video model split into a frozen trunk and a fine-tuned tail.
pub trait VideoNet: Sync {
    /// The device its parameters live on.
    fn device(&self) -> &Device;
    /// The model's input for one clip, e.g. `(T, 3, S, S)` or `(3, T, S, S)`.
    fn input(&self, clip: &super::data::Clip) -> Result<Tensor>;
    /// The frozen trunk's activations for one video's input (eval mode, no gradient).
    fn trunk(&self, input: &Tensor) -> Result<Tensor>;
    /// The frozen trunk on a batch of videos' inputs in training mode, as torch runs frozen
    /// layers after `model.train()`: BatchNorm normalises with the whole batch's statistics and
    /// updates its running statistics, stochastic depth draws from `noise`; no gradient. One
    /// activation per input, as [`trunk`](Self::trunk) gives.
    fn trunk_train(&self, inputs: &[&Tensor], noise: &mut Noise) -> Result<Vec<Tensor>>;
    /// The tail on a batch of trunk activations; training mode when `noise` is given.
    fn tail(&self, trunks: &[&Tensor], noise: Option<&mut Noise>) -> Result<TailOutput>;
}

/// How the frozen layers run while the fine-tuned tail trains (the `frozen_bn` setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrozenBn {
    /// Eval mode: running BatchNorm statistics, no stochastic depth. Frozen layers are then a
    /// fixed function of the input, so their activations are computed once per video and reused
    /// every epoch.
    #[default]
    Eval,
    /// Training mode, as the notebook's `model.train()`: batch statistics, running statistics
    /// updated, stochastic depth; recomputed for every batch of every epoch.
    Train,
}

impl FrozenBn {
    /// The setting's value: "eval" or "train".
    pub fn as_str(self) -> &'static str {
        match self {
            FrozenBn::Eval => "eval",
            FrozenBn::Train => "train",
        }
    }
}

impl fmt::Display for FrozenBn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FrozenBn {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<FrozenBn> {
        match s.trim() {
            "eval" => Ok(FrozenBn::Eval),
            "train" => Ok(FrozenBn::Train),
            other => Err(crate::Error::Config(format!(
                "frozen_bn = `{other}`: expected eval or train"
            ))),
        }
    }
}

/// Where a training or validation pass takes the frozen trunk's activations from.
#[derive(Debug, Clone, Copy)]
pub enum TrunkSource<'a> {
    /// Computed once per video in eval mode ([`trunks`]) and reused ([`FrozenBn::Eval`]).
    Cached(&'a [Tensor]),
    /// The videos themselves: the trunk runs on every batch, in training mode while training
    /// and in eval mode for validation ([`FrozenBn::Train`]).
    Live(&'a [Arc<Clip>]),
}

impl TrunkSource<'_> {
    /// Number of videos.
    pub fn len(&self) -> usize {
        match self {
            TrunkSource::Cached(t) => t.len(),
            TrunkSource::Live(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The trunk activations of the videos `idx`: training mode when `noise` is given and the
    /// source is live, eval mode otherwise.
    pub fn batch(
        &self,
        net: &dyn VideoNet,
        idx: &[usize],
        noise: Option<&mut Noise>,
    ) -> Result<Vec<Tensor>> {
        match self {
            TrunkSource::Cached(t) => Ok(idx.iter().map(|&i| t[i].clone()).collect()),
            TrunkSource::Live(clips) => {
                let inputs = idx
                    .iter()
                    .map(|&i| net.input(&clips[i]))
                    .collect::<Result<Vec<_>>>()?;
                match noise {
                    Some(noise) => {
                        let refs: Vec<&Tensor> = inputs.iter().collect();
                        net.trunk_train(&refs, noise)
                    }
                    None => inputs.iter().map(|x| net.trunk(x)).collect(),
                }
            }
        }
    }
}

/// Settings of one training run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// L2 penalty added to the gradient, as torch.optim.Adam's `weight_decay`.
    pub weight_decay: f64,
    /// Early-stopping patience on validation accuracy.
    pub patience: usize,
    /// StepLR period in epochs (the notebook: `max(2, epochs / 2)`).
    pub step_size: usize,
    /// StepLR factor.
    pub gamma: f64,
    pub seed: u64,
}

impl TrainOptions {
    /// The notebook's settings for `epochs` epochs.
    pub fn notebook(epochs: usize, seed: u64) -> TrainOptions {
        TrainOptions {
            epochs,
            batch_size: 2,
            lr: 1e-4,
            weight_decay: 1e-4,
            patience: 4,
            step_size: (epochs / 2).max(2),
            gamma: 0.5,
            seed,
        }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Learning rate used during the epoch.
    pub lr: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    /// Seconds of the training pass (the notebook's `tr_t`).
    pub train_seconds: f64,
    /// Seconds of the validation pass.
    pub val_seconds: f64,
}

/// What training did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainReport {
    pub history: Vec<EpochRecord>,
    /// Epoch whose weights were kept (best validation accuracy, first on ties).
    pub best_epoch: usize,
    pub best_val_acc: f64,
    /// True when early stopping ended training before the last epoch.
    pub stopped_early: bool,
}

/// torch.optim.Adam: `g += weight_decay * p`, bias-corrected first and second moments,
/// `p -= lr * m_hat / (sqrt(v_hat) + eps)`, in torch's order of operations.
///
/// A CPU f32 parameter is updated in place in one pass with its moments kept beside it on the
/// host ([`super::ops::adam`]); any other (another device or type, or an optimizer built on a
/// thread that forced [`KernelPath::Generic`](super::ops::KernelPath)) by tensor operations.
/// The path of each parameter is chosen when the optimizer is built.
pub struct Adam {
    vars: Vec<(String, Var)>,
    moments: Vec<Moments>,
    step: i32,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// One parameter's first and second moments.
enum Moments {
    /// On the host, updated with the parameter in one in-place pass.
    Host(std::sync::Mutex<HostMoments>),
    /// As tensors on the parameter's device.
    Tensors { m: Tensor, v: Tensor },
}

impl Adam {
    /// Adam over `vars` with torch's defaults (betas 0.9, 0.999; eps 1e-8).
    pub fn new(vars: Vec<(String, Var)>, lr: f64, weight_decay: f64) -> Result<Adam> {
        let moments = vars
            .iter()
            .map(|(_, v)| -> Result<Moments> {
                let p = v.as_tensor();
                let host = p.is_contiguous()
                    && super::ops::use_cpu_kernel(p.device(), p.dtype() == DType::F32);
                Ok(if host {
                    Moments::Host(std::sync::Mutex::new(HostMoments::zeros(p.elem_count())))
                } else {
                    Moments::Tensors {
                        m: p.zeros_like()?,
                        v: p.zeros_like()?,
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok(Adam {
            vars,
            moments,
            step: 0,
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        })
    }

    /// One update from `grads`; parameters without a gradient are left alone (as torch).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let s = AdamScalars::new(
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.step,
        );
        for ((_, var), moments) in self.vars.iter().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let p = var.as_tensor();
            match moments {
                Moments::Host(host) => p.inplace_op2(
                    &g.contiguous()?,
                    &AdamUpdate {
                        moments: host,
                        scalars: s,
                    },
                )?,
                Moments::Tensors { m, v } => {
                    let g = if self.weight_decay != 0.0 {
                        (g + (p * self.weight_decay)?)?
                    } else {
                        g.clone()
                    };
                    let new_m = (&*m + ((&g - &*m)? * (1.0 - self.beta1))?)?;
                    let new_v = ((&*v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
                    let denom = ((new_v.sqrt()? / s.bc2_sqrt as f64)? + self.eps)?;
                    let new_p = (p - ((&new_m / denom)? * s.step_size as f64)?)?;
                    // Detached: the moments must not keep every past step's graph alive.
                    *m = new_m.detach();
                    *v = new_v.detach();
                    var.set(&new_p.detach())?;
                }
            }
        }
        Ok(())
    }
}

/// StepLR's learning rate after `epochs_done` scheduler steps.
pub fn step_lr(base: f64, epochs_done: usize, step_size: usize, gamma: f64) -> f64 {
    base * gamma.powi((epochs_done / step_size.max(1)) as i32)
}

/// The notebook's `EarlyStopper(patience, min_delta=0)`.
#[derive(Debug, Clone)]
pub struct EarlyStopper {
    patience: usize,
    best: Option<f64>,
    count: usize,
}

impl EarlyStopper {
    pub fn new(patience: usize) -> EarlyStopper {
        EarlyStopper {
            patience,
            best: None,
            count: 0,
        }
    }

    /// Record an epoch's validation metric; true when training should stop.
    pub fn step(&mut self, metric: f64) -> bool {
        match self.best {
            Some(b) if metric <= b => {
                self.count += 1;
                self.count >= self.patience
            }
            _ => {
                self.best = Some(metric);
                self.count = 0;
                false
            }
        }
    }
}

/// Run `net`'s trunk on every input once (eval mode): the activations the epochs reuse.
pub fn trunks(
    net: &dyn VideoNet,
    clips: &[std::sync::Arc<super::data::Clip>],
) -> Result<Vec<Tensor>> {
    clips
        .iter()
        .map(|c| {
            if crate::interrupt::interrupted() {
                return Err(crate::interrupt::interrupted_error());
            }
            let x = net.input(c)?;
            // A fresh, exactly-sized copy: a trunk output may be a view into a much larger
            // buffer (a convolution's workspace), which would stay alive for the whole run.
            Ok(net.trunk(&x)?.detach().affine(1.0, 0.0)?)
        })
        .collect()
}

fn labels_tensor(y: &[usize], device: &candle_core::Device) -> Result<Tensor> {
    let v: Vec<u32> = y.iter().map(|&l| l as u32).collect();
    Ok(Tensor::from_vec(v, y.len(), device)?)
}

fn argmax_rows(logits: &Tensor) -> Result<Vec<usize>> {
    let v: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
    Ok(v.into_iter().map(|x| x as usize).collect())
}

/// Loss and accuracy of the model over `(trunks, y)` in eval mode.
fn evaluate_tail(
    net: &dyn VideoNet,
    trunks: TrunkSource,
    y: &[usize],
    batch: usize,
) -> Result<(f64, f64)> {
    super::nn::no_grad(|| evaluate_tail_inner(net, trunks, y, batch))
}

fn evaluate_tail_inner(
    net: &dyn VideoNet,
    trunks: TrunkSource,
    y: &[usize],
    batch: usize,
) -> Result<(f64, f64)> {
    let mut loss_sum = 0.0;
    let mut correct = 0usize;
    let all: Vec<usize> = (0..trunks.len()).collect();
    for (idx, ys) in all.chunks(batch).zip(y.chunks(batch)) {
        let chunk = trunks.batch(net, idx, None)?;
        let refs: Vec<&Tensor> = chunk.iter().collect();
        let out = net.tail(&refs, None)?;
        let target = labels_tensor(ys, out.logits.device())?;
        let loss = candle_nn::loss::cross_entropy(&out.logits, &target)?.to_scalar::<f32>()?;
        loss_sum += loss as f64 * ys.len() as f64;
        correct += argmax_rows(&out.logits)?
            .iter()
            .zip(ys)
            .filter(|(p, t)| p == t)
            .count();
    }
    let n = y.len().max(1) as f64;
    Ok((loss_sum / n, correct as f64 / n))
}

/// Where and under which name the best checkpoint is written.
#[derive(Debug, Clone)]
pub struct CheckpointPlan {
    pub path: PathBuf,
    /// A hash of everything that determines the trained weights (settings, data, initial
    /// weights); a finished checkpoint is reused only under the same fingerprint.
    pub fingerprint: String,
    /// Other metadata saved with it (model name, timings, ...).
    pub meta: BTreeMap<String, String>,
}

impl CheckpointPlan {
    fn metadata(&self, complete: bool) -> BTreeMap<String, String> {
        let mut meta = self.meta.clone();
        meta.insert("fingerprint".into(), self.fingerprint.clone());
        meta.insert("complete".into(), complete.to_string());
        meta
    }
}

/// Train the tail of `net` (whose parameters live in `store`; `trainable` prefixes select the
/// fine-tuned ones) on the trunk activations of `train` (cached, or computed every batch in
/// training mode: [`TrunkSource`]), keeping the best-validation weights in `store` at the end
/// (the frozen BatchNorms' running statistics included). With a checkpoint plan, every new best
/// is saved there (atomically, checksummed, marked unfinished); [`save_finished`] marks the
/// final one.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    net: &dyn VideoNet,
    store: &ParamStore,
    trainable: &[&str],
    train: (TrunkSource, &[usize]),
    val: (TrunkSource, &[usize]),
    opts: &TrainOptions,
    checkpoint: Option<&CheckpointPlan>,
    label: &str,
    progress: bool,
) -> Result<TrainReport> {
    let (xtr, ytr) = train;
    let (xva, yva) = val;
    if xtr.is_empty() {
        bail!(Data, "{label}: no usable training video");
    }
    if xtr.len() != ytr.len() || xva.len() != yva.len() {
        bail!(
            InvalidArgument,
            "{label}: {} training and {} validation videos for {} and {} labels",
            xtr.len(),
            xva.len(),
            ytr.len(),
            yva.len()
        );
    }
    if opts.epochs == 0 || opts.batch_size == 0 {
        bail!(Config, "{label}: epochs and batch_size must be at least 1");
    }
    let vars = store.trainable(trainable);
    if vars.is_empty() {
        bail!(
            InvalidArgument,
            "{label}: no trainable parameter under {trainable:?}"
        );
    }
    let mut adam = Adam::new(vars, opts.lr, opts.weight_decay)?;
    let mut noise = Noise::new(opts.seed);
    let mut stopper = EarlyStopper::new(opts.patience);
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, BTreeMap<String, Tensor>)> = None;
    let batches = xtr.len().div_ceil(opts.batch_size);
    let bar = crate::util::progress::bar(progress, opts.epochs * batches, label, "batches");
    let mut stopped_early = false;
    let mut device: Option<Device> = None;
    for epoch in 1..=opts.epochs {
        adam.lr = step_lr(opts.lr, epoch - 1, opts.step_size, opts.gamma);
        let started = Instant::now();
        let order = noise.permutation(xtr.len());
        // Sums over the samples seen so far this epoch: the running loss shown is their mean.
        let mut loss_sum = 0.0;
        let mut seen = 0usize;
        let mut correct = 0usize;
        for idx in order.chunks(opts.batch_size) {
            if crate::interrupt::interrupted() {
                bar.finish_and_clear();
                return Err(crate::interrupt::interrupted_error());
            }
            let ys: Vec<usize> = idx.iter().map(|&i| ytr[i]).collect();
            // The whole step on a worker thread of the pool (see `on_pool`).
            let (out, l) = super::ops::on_pool(net.device(), || -> Result<(TailOutput, f64)> {
                let batch = xtr.batch(net, idx, Some(&mut noise))?;
                let refs: Vec<&Tensor> = batch.iter().collect();
                let out = net.tail(&refs, Some(&mut noise))?;
                let target = labels_tensor(&ys, out.logits.device())?;
                let loss = candle_nn::loss::cross_entropy(&out.logits, &target)?;
                let grads = loss.backward()?;
                adam.step(&grads)?;
                let l = loss.to_scalar::<f32>()? as f64;
                Ok((out, l))
            })?;
            device.get_or_insert_with(|| out.logits.device().clone());
            loss_sum += l * ys.len() as f64;
            seen += ys.len();
            correct += argmax_rows(&out.logits)?
                .iter()
                .zip(&ys)
                .filter(|(p, t)| p == t)
                .count();
            bar.inc(1);
            bar.set_message(format!(
                "epoch {epoch}/{} loss {:.3}",
                opts.epochs,
                loss_sum / seen as f64
            ));
        }
        let dev = device.as_ref().expect("at least one batch ran");
        sync(dev)?;
        let train_seconds = started.elapsed().as_secs_f64();
        let n = xtr.len() as f64;
        let (train_loss, train_acc) = (loss_sum / n, correct as f64 / n);
        let started = Instant::now();
        let (val_loss, val_acc) = if xva.is_empty() {
            (f64::NAN, train_acc)
        } else {
            evaluate_tail(net, xva, yva, opts.batch_size)?
        };
        sync(dev)?;
        let val_seconds = started.elapsed().as_secs_f64();
        bar.set_message(format!(
            "epoch {epoch}: train loss {train_loss:.3} acc {train_acc:.3}, val loss {val_loss:.3} acc {val_acc:.3}"
        ));
        history.push(EpochRecord {
            epoch,
            lr: adam.lr,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            train_seconds,
            val_seconds,
        });
        if best.as_ref().is_none_or(|(b, _, _)| val_acc > *b) {
            let snap = store.snapshot()?;
            if let Some(plan) = checkpoint {
                let mut meta = plan.metadata(false);
                meta.insert("best_epoch".into(), epoch.to_string());
                save_tensors(&snap, &plan.path, &meta)?;
            }
            best = Some((val_acc, epoch, snap));
        }
        if stopper.step(val_acc) {
            stopped_early = epoch < opts.epochs;
            break;
        }
    }
    bar.finish_and_clear();
    let (best_val_acc, best_epoch, snap) = best.expect("at least one epoch ran");
    store.restore(&snap, label)?;
    let report = TrainReport {
        history,
        best_epoch,
        best_val_acc,
        stopped_early,
    };
    Ok(report)
}

/// Save the weights now in `store` as the finished checkpoint of `plan`, with `report`.
pub fn save_finished(
    store: &ParamStore,
    plan: &CheckpointPlan,
    report: &TrainReport,
) -> Result<u64> {
    let mut meta = plan.metadata(true);
    meta.insert(
        "train_report".into(),
        serde_json::to_string(report).expect("report serialises"),
    );
    super::weights::save_checkpoint(store, &plan.path, &meta)
}

/// A finished checkpoint written by [`save_finished`] for exactly this `fingerprint`: the weights (set into
/// `store`) and the training report. None when absent, unfinished or made with other settings;
/// a corrupt file is an error naming it.
pub fn resume(
    store: &ParamStore,
    plan: &CheckpointPlan,
) -> Result<Option<(TrainReport, BTreeMap<String, String>)>> {
    if !plan.path.is_file() {
        return Ok(None);
    }
    let (tensors, meta) = load_checkpoint(&plan.path)?;
    if meta.get("fingerprint") != Some(&plan.fingerprint)
        || meta.get("complete").map(String::as_str) != Some("true")
    {
        return Ok(None);
    }
    let Some(report) = meta
        .get("train_report")
        .and_then(|r| serde_json::from_str::<TrainReport>(r).ok())
    else {
        return Ok(None);
    };
    store.restore(&tensors, &plan.path)?;
    Ok(Some((report, meta)))
}

/// Per-video outputs of a model on a split.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// Softmax probabilities per video.
    pub probs: Vec<Vec<f64>>,
    pub preds: Vec<usize>,
    pub logits: Vec<Vec<f32>>,
    pub embeddings: Vec<Vec<f32>>,
    /// Attention weights over the sampled frames (attention pooling only).
    pub attention: Vec<Vec<f32>>,
    /// Forward-pass seconds per video (trunk + tail, batch of one).
    pub forward_seconds: Vec<f64>,
}

/// One untimed forward pass of the whole model on `clip`, before a timed [`predict`], as the
/// PyTorch reference times its own: the first pass pays one-time costs (buffers growing, kernels
/// set up) that no later video pays.
pub fn warm_up(net: &dyn VideoNet, clip: &super::data::Clip) -> Result<()> {
    let x = net.input(clip)?;
    super::nn::no_grad(|| net.tail(&[&net.trunk(&x)?], None))?;
    sync(x.device())?;
    Ok(())
}

/// Where a timed forward pass of [`predict_with`] starts.
enum Start {
    /// Cached trunk activations: the tail only.
    Trunk(Tensor),
    /// The model's input: trunk and tail.
    Input(Tensor),
}

/// Run the whole model (trunk and tail, eval mode) on each clip, one video at a time, timing
/// each forward pass.
pub fn predict(
    net: &dyn VideoNet,
    clips: &[std::sync::Arc<super::data::Clip>],
) -> Result<Predictions> {
    predict_with(net, clips, None)
}

/// [`predict`], taking the trunk activations from `trunks` when given (then the timings cover
/// the tail only).
pub fn predict_with(
    net: &dyn VideoNet,
    clips: &[std::sync::Arc<super::data::Clip>],
    trunks: Option<&[Tensor]>,
) -> Result<Predictions> {
    let mut p = Predictions::default();
    for (i, c) in clips.iter().enumerate() {
        if crate::interrupt::interrupted() {
            return Err(crate::interrupt::interrupted_error());
        }
        // Where the pass starts: the cached trunk activations, or the input on the device (its
        // copy there is not part of the forward pass).
        let start = match trunks.and_then(|t| t.get(i)) {
            Some(t) => Start::Trunk(t.clone()),
            None => {
                let x = net.input(c)?;
                sync(x.device())?;
                Start::Input(x)
            }
        };
        // The timed pass on a worker thread of the pool, as training runs it (see `on_pool`).
        let started = Instant::now();
        let (out, probs) =
            super::ops::on_pool(net.device(), || -> Result<(TailOutput, Vec<f64>)> {
                let trunk = match start {
                    Start::Trunk(t) => t,
                    Start::Input(x) => net.trunk(&x)?,
                };
                let out = super::nn::no_grad(|| net.tail(&[&trunk], None))?;
                let probs = candle_nn::ops::softmax(&out.logits, D::Minus1)?
                    .to_dtype(DType::F64)?
                    .squeeze(0)?
                    .to_vec1::<f64>()?;
                sync(out.logits.device())?;
                Ok((out, probs))
            })?;
        p.forward_seconds.push(started.elapsed().as_secs_f64());
        let row = |t: &Tensor| -> Result<Vec<f32>> {
            Ok(t.squeeze(0)?.to_dtype(DType::F32)?.to_vec1::<f32>()?)
        };
        p.logits.push(row(&out.logits)?);
        p.embeddings.push(row(&out.embedding)?);
        if let Some(a) = &out.attention {
            p.attention.push(row(a)?);
        }
        let best = probs
            .iter()
            .enumerate()
            .fold((0usize, f64::NEG_INFINITY), |acc, (i, &v)| {
                if v > acc.1 { (i, v) } else { acc }
            });
        p.preds.push(best.0);
        p.probs.push(probs);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lr_and_early_stopping_follow_torch_and_the_notebook() {
        // StepLR(step_size=2, gamma=0.5) over 6 epochs: 1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5.
        let lrs: Vec<f64> = (0..6).map(|e| step_lr(1e-4, e, 2, 0.5)).collect();
        let want = [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5];
        for (a, b) in lrs.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
        // EarlyStopper(patience=2): improvement resets, equal does not count as better.
        let mut s = EarlyStopper::new(2);
        assert!(!s.step(0.5));
        assert!(!s.step(0.5));
        assert!(!s.step(0.6));
        assert!(!s.step(0.6));
        assert!(s.step(0.4));
    }
}
