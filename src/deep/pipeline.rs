//! One deep model from dataset to [`ModelResult`]: frames, model, training, test-set evaluation,
//! efficiency — the deep half of the notebook's In[15].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::Tensor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::data::{ClipCache, ClipSet, ClipSpec, Norm, load_clip, load_clips};
use super::device::{DevicePref, describe, select, sync};
use super::device_memory::{DeviceMemory, GPU_PEAK};
use super::models::{DeepKind, DeepNet};
use super::train::{
    CheckpointPlan, FrozenBn, TrainOptions, TrainReport, TrunkSource, fit, predict, predict_with,
    resume, trunks,
};
use super::weights::{LoadLog, ParamStore, read_weights};
use crate::config::Config;
use crate::dataset::{Dataset, Sample};
use crate::features::extract::SkippedVideo;
use crate::latency::LATENCY_VIDEOS;
use crate::metrics::evaluate;
use crate::results::{
    Artifact, DeepDetails, Efficiency, Embeddings, EpochRow, FrameWeights, ModelDetails, ModelKind,
    ModelResult, Protocol, video_keys,
};
use crate::{Error, Result, bail};

/// Everything that decides how one deep model is trained and evaluated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeepSettings {
    pub kind: DeepKind,
    /// Frames per video (2D) or per clip (3D), size, sampling, enhancement.
    pub clip: ClipSpec,
    pub norm: Norm,
    pub train: TrainOptions,
    /// How the frozen layers run while the tail trains (`frozen_bn`).
    #[serde(default)]
    pub frozen_bn: FrozenBn,
    /// "quick" or "notebook".
    pub profile: String,
    /// "auto", "cpu" or "cuda".
    pub device: String,
    /// torchvision weights; None = trained from scratch.
    pub weights: Option<PathBuf>,
    /// Where preprocessed clips are cached.
    pub cache_dir: PathBuf,
    /// Where the checkpoint goes.
    pub model_dir: PathBuf,
}

impl DeepSettings {
    /// The settings for `kind` from a run's configuration: `deep_profile` gives the defaults
    /// (quick: 112 px, 8 frames, 8-frame clips, 2 epochs, frozen layers in eval mode; notebook:
    /// 224 px, 32 frames, 16-frame clips, 6 epochs, frozen layers in training mode as its
    /// `model.train()`) and `img_size`, `num_frames`, `clip_len`, `epochs` override them when
    /// not 0, `frozen_bn` when not `auto`.
    pub fn from_config(cfg: &Config, kind: DeepKind, model_dir: &Path) -> Result<DeepSettings> {
        let profile = cfg.str("deep_profile")?.to_string();
        let (size, frames, clip_len, epochs, frozen_bn) = match profile.as_str() {
            "notebook" => (224, 32, 16, 6, FrozenBn::Train),
            _ => (112, 8, 8, 2, FrozenBn::Eval),
        };
        let frozen_bn = match cfg.str("frozen_bn")? {
            "auto" => frozen_bn,
            other => other.parse()?,
        };
        let pick = |key: &str, default: i64| -> Result<i64> {
            let v = cfg.int(key)?;
            Ok(if v == 0 { default } else { v })
        };
        let size = pick("img_size", size)? as u32;
        let frames = if kind.is_3d() {
            pick("clip_len", clip_len)?
        } else {
            pick("num_frames", frames)?
        } as usize;
        let epochs = pick("epochs", epochs)? as usize;
        let seed = cfg.int("seed")? as u64;
        let mut train = TrainOptions::notebook(epochs, seed);
        train.batch_size = cfg.int("batch_size")? as usize;
        train.lr = cfg.float("lr")?;
        train.patience = cfg.int("patience")? as usize;
        let norm = if kind.is_3d() && cfg.str("norm_3d")? == "kinetics" {
            Norm::Kinetics
        } else {
            Norm::ImageNet
        };
        let weights_key = if kind.is_3d() {
            "weights_r3d"
        } else {
            "weights_efficientnet"
        };
        let weights = match cfg.str(weights_key)?.trim() {
            "" => None,
            p => Some(PathBuf::from(p)),
        };
        let clip = ClipSpec {
            size,
            frames,
            sampling: cfg.str("deep_sampling")?.parse()?,
            enhance: cfg.bool("enhance")?,
            seed,
        };
        clip.validate()?;
        Ok(DeepSettings {
            kind,
            clip,
            norm,
            train,
            frozen_bn,
            profile,
            device: cfg.str("device")?.to_string(),
            weights,
            cache_dir: PathBuf::from(cfg.str("cache_dir")?).join("deep_frames"),
            model_dir: model_dir.to_path_buf(),
        })
    }

    /// "8 frames" or "1 clip x 8 frames", with sampling.
    pub fn frames_text(&self) -> String {
        if self.kind.is_3d() {
            format!(
                "1 clip x {} frames ({})",
                self.clip.frames, self.clip.sampling
            )
        } else {
            format!("{} frames ({})", self.clip.frames, self.clip.sampling)
        }
    }
}

/// The clips of a dataset's three splits under one spec.
#[derive(Debug, Clone)]
pub struct DeepData {
    pub train: ClipSet,
    pub val: ClipSet,
    pub test: ClipSet,
    pub class_names: Vec<String>,
    /// Content key of each test video ([`video_keys`]), computed once for every model trained on
    /// these clips; empty when a test file could not be read again.
    pub test_videos: Vec<String>,
}

impl DeepData {
    /// Every video left out, with its reason.
    pub fn skipped(&self) -> Vec<&SkippedVideo> {
        self.train
            .skipped
            .iter()
            .chain(&self.val.skipped)
            .chain(&self.test.skipped)
            .collect()
    }
}

/// Load (or take from the cache) the clips of all three splits. A split left with no usable
/// video is an error naming it.
pub fn load_data(
    ds: &Dataset,
    spec: &ClipSpec,
    cache_dir: &Path,
    progress: bool,
) -> Result<DeepData> {
    let cache = ClipCache::new(cache_dir);
    let load = |samples: &[Sample], name: &str| -> Result<ClipSet> {
        let set = load_clips(
            samples,
            spec,
            Some(&cache),
            &format!("frames {name}"),
            progress,
        )?;
        if set.is_empty() && !samples.is_empty() {
            bail!(
                Data,
                "{}: none of the {} videos of the {name} split could be decoded (first: {})",
                ds.root.join("splits").join(format!("{name}.txt")).display(),
                samples.len(),
                set.skipped
                    .first()
                    .map(|s| s.reason.as_str())
                    .unwrap_or("no reason"),
            );
        }
        Ok(set)
    };
    let test = load(&ds.test, "test")?;
    Ok(DeepData {
        train: load(&ds.train, "train")?,
        val: load(&ds.val, "val")?,
        test_videos: video_keys(&test.files).unwrap_or_default(),
        test,
        class_names: ds.class_names.clone(),
    })
}

/// A trained and evaluated deep model.
#[derive(Debug, Clone)]
pub struct DeepRun {
    pub result: ModelResult,
    pub train: TrainReport,
    pub load_log: LoadLog,
    /// True when a finished checkpoint of identical settings was reused instead of training.
    pub resumed: bool,
}

fn fingerprint(settings: &DeepSettings, data: &DeepData) -> Result<String> {
    let mut h = Xxh3::new();
    let mut s = settings.clone();
    // Where files go does not change the weights.
    s.cache_dir = PathBuf::new();
    s.model_dir = PathBuf::new();
    h.update(
        serde_json::to_string(&s)
            .expect("settings serialise")
            .as_bytes(),
    );
    if let Some(w) = &settings.weights {
        let meta = std::fs::metadata(w).map_err(|e| Error::io(w, e))?;
        h.update(&meta.len().to_le_bytes());
        if let Ok(m) = meta.modified() {
            h.update(format!("{m:?}").as_bytes());
        }
    }
    for set in [&data.train, &data.val] {
        for (p, l) in set.paths.iter().zip(&set.labels) {
            h.update(p.as_bytes());
            h.update(&(*l as u64).to_le_bytes());
        }
        for c in &set.clips {
            for f in &c.frames {
                h.update(f.as_raw());
            }
        }
    }
    Ok(format!("{:032x}", h.digest128()))
}

/// File-name form of a model name: "deep-2d-max".
pub fn slug(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Frozen-trunk activations computed in this process, by model, initial weights, clip settings
/// and video: refits on subsets of the same data (learning curves) reuse them.
fn trunk_memo() -> &'static Mutex<HashMap<String, Tensor>> {
    static MEMO: OnceLock<Mutex<HashMap<String, Tensor>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

fn memo_trunks(net: &DeepNet, settings: &DeepSettings, set: &ClipSet) -> Result<Vec<Tensor>> {
    let prefix = format!(
        "{}|{:?}|{}|{}|",
        settings.kind.short(),
        settings.weights,
        settings.train.seed,
        settings.clip.fingerprint()
    );
    let mut out = Vec::with_capacity(set.len());
    for (clip, path) in set.clips.iter().zip(&set.paths) {
        let key = format!("{prefix}{path}");
        let hit = trunk_memo()
            .lock()
            .expect("trunk memo lock")
            .get(&key)
            .cloned();
        let t = match hit {
            Some(t) => t,
            None => {
                let t = trunks(net, std::slice::from_ref(clip))?.remove(0);
                trunk_memo()
                    .lock()
                    .expect("trunk memo lock")
                    .insert(key, t.clone());
                t
            }
        };
        out.push(t);
    }
    Ok(out)
}

/// How [`train_and_evaluate`] treats the frozen trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkUse {
    /// Compute it for this run and time the whole forward pass on test (the reported model).
    Fresh,
    /// Reuse activations computed earlier in this process (learning-curve refits): training
    /// time is then the epochs only and inference times cover the tail only. With
    /// `frozen_bn = train` there is nothing to reuse (training moves the frozen layers' running
    /// statistics), and this is [`TrunkUse::Fresh`].
    Reuse,
}

/// Train `settings.kind` on `data` (train / val), evaluate it on test, and measure it.
pub fn train_and_evaluate(
    data: &DeepData,
    settings: &DeepSettings,
    progress: bool,
) -> Result<DeepRun> {
    train_and_evaluate_with(data, settings, progress, TrunkUse::Fresh)
}

/// [`train_and_evaluate`] with a choice of [`TrunkUse`].
pub fn train_and_evaluate_with(
    data: &DeepData,
    settings: &DeepSettings,
    progress: bool,
    trunk_use: TrunkUse,
) -> Result<DeepRun> {
    let kind = settings.kind;
    let name = kind.name().to_string();
    let n_classes = data.class_names.len();
    if data.train.is_empty() {
        bail!(Data, "{name}: no usable training video");
    }
    if data.test.is_empty() {
        bail!(Data, "{name}: no usable test video");
    }
    // This model's own peak memory: the process peak is reset here, so models run before it
    // do not count.
    let memory = crate::memory::StageMemory::start();
    let device = select(DevicePref::parse(&settings.device)?)?;
    // On a GPU, the model's own peak of device memory, read from the driver.
    let device_memory = DeviceMemory::start(&device);
    let store = match &settings.weights {
        Some(path) => {
            ParamStore::with_weights(settings.train.seed, read_weights(path, kind.arch())?, path)
        }
        None => ParamStore::seeded(settings.train.seed),
    };
    let net = DeepNet::build(kind, store.var_builder(&device), n_classes, settings.norm)?;
    let load_log = store.finish()?;
    let prefixes = kind.trainable_prefixes();
    let (params, params_trainable) = store.counts(prefixes);

    let ckpt = settings
        .model_dir
        .join(format!("{}.safetensors", slug(&name)));
    let mut meta = BTreeMap::new();
    meta.insert("model".to_string(), name.clone());
    let mut plan = CheckpointPlan {
        path: ckpt.clone(),
        fingerprint: fingerprint(settings, data)?,
        meta,
    };

    let started = Instant::now();
    let mut notes = Vec::new();
    let previous = match resume(&store, &plan) {
        Ok(found) => found,
        Err(e) => {
            // A damaged checkpoint is never trusted: say so and train again.
            notes.push(format!(
                "{e}; it was not used and the model was trained again."
            ));
            None
        }
    };
    let (report, train_time_s, resumed) = match previous {
        Some((report, meta)) => {
            let t = meta
                .get("train_time_s")
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(f64::NAN);
            (report, t, true)
        }
        None => {
            let (xtr, xva) = match (settings.frozen_bn, trunk_use) {
                // Recomputed in training mode every batch: nothing to compute ahead.
                (FrozenBn::Train, _) => (Vec::new(), Vec::new()),
                (FrozenBn::Eval, TrunkUse::Fresh) => (
                    trunks(&net, &data.train.clips)?,
                    trunks(&net, &data.val.clips)?,
                ),
                (FrozenBn::Eval, TrunkUse::Reuse) => (
                    memo_trunks(&net, settings, &data.train)?,
                    memo_trunks(&net, settings, &data.val)?,
                ),
            };
            let (train_src, val_src) = match settings.frozen_bn {
                FrozenBn::Eval => (TrunkSource::Cached(&xtr), TrunkSource::Cached(&xva)),
                FrozenBn::Train => (
                    TrunkSource::Live(&data.train.clips),
                    TrunkSource::Live(&data.val.clips),
                ),
            };
            sync(&device)?;
            let trunk_s = started.elapsed().as_secs_f64();
            plan.meta
                .insert("trunk_seconds".into(), format!("{trunk_s}"));
            let report = fit(
                &net,
                &store,
                prefixes,
                (train_src, &data.train.labels),
                (val_src, &data.val.labels),
                &settings.train,
                Some(&plan),
                &name,
                progress,
            )?;
            sync(&device)?;
            let total = started.elapsed().as_secs_f64();
            plan.meta.insert("train_time_s".into(), format!("{total}"));
            super::train::save_finished(&store, &plan, &report)?;
            (report, total, false)
        }
    };

    if let Some(first) = data.test.clips.first() {
        super::train::warm_up(&net, first)?;
    }
    let preds = match (settings.frozen_bn, trunk_use) {
        // Training moved the frozen BatchNorms' running statistics: activations computed
        // before it do not hold.
        (FrozenBn::Train, _) | (FrozenBn::Eval, TrunkUse::Fresh) => {
            predict(&net, &data.test.clips)?
        }
        (FrozenBn::Eval, TrunkUse::Reuse) => {
            let xte = memo_trunks(&net, settings, &data.test)?;
            predict_with(&net, &data.test.clips, Some(&xte))?
        }
    };
    let y_true = data.test.labels.clone();
    let metrics = evaluate(&y_true, &preds.preds, &preds.probs, n_classes)?;
    let n_test = y_true.len().max(1) as f64;
    let forward = preds.forward_seconds.iter().sum::<f64>() / n_test;
    // End to end per video, measured as for every model: from the file (no clip cache), one
    // video at a time.
    let latency = crate::latency::measure(&data.test.files, LATENCY_VIDEOS, |v| {
        let (clip, _) = load_clip(v, &settings.clip)?;
        predict(&net, &[Arc::new(clip)]).map(|_| ())
    });
    if let Err(e) = &latency {
        notes.push(format!("{name}: end-to-end latency not measured: {e}"));
    }
    // Throughput: the whole test split from its files at once (clips loaded in parallel, then
    // the forward passes).
    let throughput = crate::latency::throughput(&data.test.files, |all| {
        use rayon::prelude::*;
        let clips = all
            .par_iter()
            .map(|v| load_clip(v, &settings.clip).map(|(c, _)| Arc::new(c)))
            .collect::<Result<Vec<_>>>()?;
        predict(&net, &clips).map(|_| ())
    });
    if let Err(e) = &throughput {
        notes.push(format!("{name}: throughput not measured: {e}"));
    }
    let stage_memory = memory.finish();
    // The GPU's own figure where the driver gives one; otherwise host memory, labelled as such.
    let (memory_mb, memory_start_mb, memory_kind) = match device_memory.finish() {
        Some(gpu) => (Some(gpu.own), Some(gpu.start), Some(GPU_PEAK.to_string())),
        None => (
            stage_memory.map(|m| m.reported().0),
            stage_memory.map(|m| m.reported().1),
            stage_memory.map(|m| m.reported().2.to_string()),
        ),
    };
    let mut efficiency = Efficiency {
        train_time_s,
        infer_time_s_per_video: forward,
        infer_time_s_per_video_e2e: latency.as_ref().ok().copied().flatten().map(|l| l.median_s),
        latency_videos: latency.as_ref().ok().copied().flatten().map(|l| l.videos),
        throughput_videos_per_s: throughput.as_ref().ok().copied().flatten(),
        params: Some(params),
        params_trainable: Some(params_trainable),
        params_meaning: Some("weights".into()),
        memory_mb,
        memory_start_mb,
        memory_kind,
        rss_peak_mb: stage_memory.map(|m| m.peak),
        ..Efficiency::default()
    };
    let bytes = std::fs::metadata(&ckpt).map(|m| m.len()).unwrap_or(0);
    efficiency.set_model_size(bytes);

    if load_log.from_scratch() {
        notes.push(format!(
            "Trained from scratch: no pretrained weights were given (set `{}`), so the frozen \
             layers are random. Expect far lower accuracy than the notebook's ImageNet / \
             Kinetics-initialised model.",
            if kind.is_3d() {
                "weights_r3d"
            } else {
                "weights_efficientnet"
            }
        ));
    }
    if resumed {
        notes.push(format!(
            "Weights reused from the finished checkpoint {} (same settings and data); the \
             training time is that of the original run.",
            ckpt.display()
        ));
    }
    if kind.is_3d() && settings.norm == Norm::Kinetics {
        notes.push(
            "Input normalised with Kinetics-400 statistics (torchvision's for R3D-18); the \
             notebook used ImageNet's (set norm_3d=imagenet to match it)."
                .into(),
        );
    }
    let skipped = data
        .skipped()
        .into_iter()
        .map(|s| crate::results::SkippedVideo {
            path: s.path.display().to_string(),
            reason: s.reason.clone(),
        })
        .collect();
    let attention = preds
        .attention
        .iter()
        .zip(&data.test.paths)
        .map(|(w, p)| FrameWeights {
            path: p.clone(),
            weights: w.clone(),
        })
        .collect();
    let param_mb = params as f64 * 4.0 / (1024.0 * 1024.0);
    let details = ModelDetails {
        deep: DeepDetails {
            training_curves: report
                .history
                .iter()
                .map(|e| EpochRow {
                    epoch: Some(e.epoch as f64),
                    lr: Some(e.lr),
                    train_loss: Some(e.train_loss),
                    train_acc: Some(e.train_acc),
                    val_loss: Some(e.val_loss),
                    val_acc: Some(e.val_acc),
                    train_seconds: Some(e.train_seconds),
                    val_seconds: Some(e.val_seconds),
                })
                .collect(),
            best_epoch: Some(report.best_epoch),
            best_val_acc: Some(report.best_val_acc),
            stopped_early: Some(report.stopped_early),
            resumed: Some(resumed),
            trained_from_scratch: Some(load_log.from_scratch()),
            weights_source: load_log.source.clone(),
            parameters_loaded: Some(load_log.loaded.len()),
            parameters_initialised: Some(load_log.initialised.len()),
            param_mb_fp32: Some(param_mb),
            device: Some(describe(&device)),
            settings: serde_json::to_value(settings).ok(),
            embeddings: Some(Embeddings {
                pooled: preds.embeddings.clone(),
                logits: preds.logits.clone(),
            }),
            attention,
            skipped: Some(skipped),
            decode_preprocess_s_per_video: Some(
                data.test.clips.iter().map(|c| c.seconds).sum::<f64>() / n_test,
            ),
        },
        ..ModelDetails::default()
    };
    let result = ModelResult {
        name: name.clone(),
        kind: ModelKind::Deep,
        metrics,
        efficiency,
        protocol: Protocol {
            split: "test".into(),
            n_videos: y_true.len(),
            frames_per_video: settings.frames_text(),
            input: format!(
                "{}x{}{}, {} normalisation",
                settings.clip.size,
                settings.clip.size,
                if settings.clip.enhance {
                    ", enhanced"
                } else {
                    ""
                },
                settings.norm.label()
            ),
            test_videos: data.test_videos.clone(),
        },
        y_true,
        y_pred: preds.preds,
        scores: preds.probs,
        test_paths: data.test.paths.clone(),
        score_kind: "softmax".into(),
        details,
        artifacts: if bytes > 0 {
            vec![Artifact::from_file("checkpoint (safetensors)", &ckpt)?]
        } else {
            Vec::new()
        },
        notes,
    };
    Ok(DeepRun {
        result,
        train: report,
        load_log,
        resumed,
    })
}
