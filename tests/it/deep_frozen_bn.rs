//! `frozen_bn = train`: the frozen layers in torch's training mode, as the notebook's
//! `model.train()` runs them, against torch (fixtures from `tools/fixtures_deep_frozen_bn.py`),
//! and the setting itself (profile defaults, a bad value, training without the trunk cache).
//!
//! Tolerances are the deep parity tests' ("max-abs relative to max |reference|"): 1e-4 for
//! R3D-18 as `deep_r3d.rs`, 3e-5 for EfficientNet-B0's running statistics as the whole-network
//! comparisons of `deep_effnet.rs`; 3e-4 for what R3D-18's second step computes from the first
//! Adam update's weights ([`AFTER_UPDATE_TOL`] says why).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use tempfile::TempDir;
use vidcompare::config::Config;
use vidcompare::deep::data::{Clip, Norm};
use vidcompare::deep::models::{DeepKind, DeepNet};
use vidcompare::deep::nn::Noise;
use vidcompare::deep::pipeline::{DeepSettings, load_data, train_and_evaluate};
use vidcompare::deep::train::{
    Adam, FrozenBn, TailOutput, TrainOptions, TrunkSource, VideoNet, fit, trunks,
};
use vidcompare::deep::weights::{ParamStore, load_checkpoint};

use crate::common::{assert_tensor_close, fixture_tensors, tensor_relative_error};
use crate::deep_effnet::{fill_formula, on_both_paths};
use crate::deep_r3d::{NUM_CLASSES, closed_form_input, set_closed_form};

const R3D_TOL: f32 = 1e-4;
/// What the second step computes with the weights of the first update (its logits, loss,
/// layer4 statistics and the weights after it, and the final evaluation): Adam's first update
/// is `lr * g / (|g| + 1e-8)`, which turns float32 rounding in a gradient element near zero
/// into a step of up to `lr` either way, so these carry that noise on top of the network's
/// (observed: at most 7.8e-5; everything before that update, the frozen trunk's statistics
/// after both steps included, is held to [`R3D_TOL`], observed at most 2.4e-5).
const AFTER_UPDATE_TOL: f32 = 3e-4;
const EFFNET_TOL: f32 = 3e-5;
const FIXTURE: &str = "deep/frozen_bn.safetensors";

fn get<'a>(fx: &'a BTreeMap<String, Tensor>, key: &str) -> &'a Tensor {
    fx.get(key)
        .unwrap_or_else(|| panic!("fixture has no tensor {key}"))
}

fn var(varmap: &VarMap, name: &str) -> Tensor {
    varmap.data().lock().unwrap()[name]
        .as_tensor()
        .copy()
        .unwrap()
}

/// Whether the fixture value `key` was computed from the weights of the first Adam update.
fn after_first_update(key: &str) -> bool {
    let frozen_stat = ["stem.", "layer1.", "layer2.", "layer3."]
        .iter()
        .any(|l| key.starts_with(&format!("r3d.step2.after.{l}")));
    key == "r3d.eval.logits"
        || (key.starts_with("r3d.step2.") && key != "r3d.step2.trunk" && !frozen_stat)
}

/// The first `rows` rows of `t` when the reference holds only those.
fn rows_like(t: &Tensor, reference: &Tensor) -> Tensor {
    t.narrow(0, 0, reference.dim(0).unwrap()).unwrap()
}

#[test]
fn r3d_frozen_trunk_in_train_mode_matches_torch_over_two_adam_steps() {
    let fx = fixture_tensors(FIXTURE);
    on_both_paths(|path| {
        let close = |what: &str, actual: &Tensor, expected: &Tensor| {
            let tol = if after_first_update(what) {
                AFTER_UPDATE_TOL
            } else {
                R3D_TOL
            };
            assert_tensor_close(&format!("{path}: {what}"), actual, expected, tol)
        };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = DeepNet::build(DeepKind::R3d, vb, NUM_CLASSES, Norm::Kinetics).unwrap();
        set_closed_form(&varmap);
        let DeepNet::Clip(model, ..) = &net else {
            panic!("R3D-18 builds a clip model")
        };
        let stem_before = var(&varmap, "stem.0.weight");
        let prefixes = DeepKind::R3d.trainable_prefixes();
        let trainable: Vec<(String, Var)> = {
            let data = varmap.data().lock().unwrap();
            let mut v: Vec<(String, Var)> = data
                .iter()
                .filter(|(n, _)| prefixes.iter().any(|p| n.starts_with(p)))
                .filter(|(n, _)| !n.contains("running_"))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let mut adam = Adam::new(trainable, 1e-4, 1e-4).unwrap();
        let mut noise = Noise::new(11);
        let mut first_batch = None;
        for (step, case) in [(1, 10u64), (2, 11)] {
            let p = format!("r3d.step{step}.");
            let x = closed_form_input(case, &[2, 3, 4, 32, 32]);
            // One input per video, as the pipeline gives them: (1, 3, T, H, W).
            let inputs = [x.narrow(0, 0, 1).unwrap(), x.narrow(0, 1, 1).unwrap()];
            let refs: Vec<&Tensor> = inputs.iter().collect();
            let trunk = net.trunk_train(&refs, &mut noise).unwrap();
            assert_eq!(trunk.len(), 2);
            let trunk = Tensor::cat(&trunk, 0).unwrap();
            close(&format!("{p}trunk"), &trunk, get(&fx, &format!("{p}trunk")));
            // layer4 in training mode, the head without dropout (torch's masks are not ours).
            let emb = model.forward_embedding(&trunk, Some(&mut noise)).unwrap();
            let logits = model.forward_head(&emb, None).unwrap();
            close(
                &format!("{p}logits"),
                &logits,
                get(&fx, &format!("{p}logits")),
            );
            let labels = get(&fx, &format!("{p}labels"))
                .to_dtype(DType::U32)
                .unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &labels).unwrap();
            close(
                &format!("{p}loss"),
                &loss.reshape(1).unwrap(),
                get(&fx, &format!("{p}loss")),
            );
            let grads = loss.backward().unwrap();
            let data = varmap.data().lock().unwrap();
            let mut checked = 0;
            for (key, expected) in fx.range(format!("{p}grad.")..) {
                let Some(name) = key.strip_prefix(&format!("{p}grad.")) else {
                    break;
                };
                let grad = grads
                    .get(data[name].as_tensor())
                    .unwrap_or_else(|| panic!("no gradient for {name}"));
                close(key, &rows_like(grad, expected), expected);
                checked += 1;
            }
            assert_eq!(checked, if step == 1 { 9 } else { 0 }, "gradients compared");
            // No gradient reaches the frozen trunk, though its batch norms ran in train mode.
            for (name, v) in data.iter() {
                if !prefixes.iter().any(|p| name.starts_with(p)) {
                    assert!(grads.get(v.as_tensor()).is_none(), "{name} has a gradient");
                }
            }
            drop(data);
            adam.step(&grads).unwrap();
            let mut checked = 0;
            for (key, expected) in fx.range(format!("{p}after.")..) {
                let Some(name) = key.strip_prefix(&format!("{p}after.")) else {
                    break;
                };
                close(key, &rows_like(&var(&varmap, name), expected), expected);
                checked += 1;
            }
            assert_eq!(
                checked,
                9 + 12,
                "parameters and running statistics compared"
            );
            first_batch.get_or_insert(inputs);
        }
        // Evaluation (model.eval()) uses the running statistics training moved.
        let inputs = first_batch.unwrap();
        let trunks: Vec<Tensor> = inputs.iter().map(|x| net.trunk(x).unwrap()).collect();
        let refs: Vec<&Tensor> = trunks.iter().collect();
        let out = net.tail(&refs, None).unwrap();
        close("r3d.eval.logits", &out.logits, get(&fx, "r3d.eval.logits"));
        // Frozen weights stay as they were.
        let stem_after = var(&varmap, "stem.0.weight");
        assert_eq!(
            tensor_relative_error("stem.0.weight", &stem_after, &stem_before),
            0.0
        );
    });
}

#[test]
fn efficientnet_frozen_trunk_in_train_mode_moves_running_statistics_as_torch() {
    let fx = fixture_tensors(FIXTURE);
    on_both_paths(|path| {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = DeepNet::build(DeepKind::Avg, vb, 3, Norm::ImageNet).unwrap();
        fill_formula(&varmap);
        let mut noise = Noise::new(5);
        for step in [1, 2] {
            let x = get(&fx, &format!("effnet.input{step}"));
            // One (T, 3, S, S) input per video; the trunk sees all 4 frames as one batch.
            let inputs = [x.get(0).unwrap(), x.get(1).unwrap()];
            let refs: Vec<&Tensor> = inputs.iter().collect();
            let out = net.trunk_train(&refs, &mut noise).unwrap();
            assert_eq!(out.len(), 2);
            assert_eq!(out[0].dims(), &[2, 192, 1, 1]);
            let prefix = format!("effnet.after{step}.");
            let mut checked = 0;
            for (key, expected) in fx.range(prefix.clone()..) {
                let Some(name) = key.strip_prefix(&prefix) else {
                    break;
                };
                let ours = var(&varmap, &format!("backbone.{name}"));
                assert_tensor_close(&format!("{path}: {key}"), &ours, expected, EFFNET_TOL);
                checked += 1;
            }
            // The stem's BatchNorm, 2 in features.1.0 (no expansion), 3 in each of features.2.0
            // and 2.1: 9, two statistics each.
            assert_eq!(checked, 18, "running statistics compared after pass {step}");
        }
        // Stochastic depth is active in the frozen blocks: the output depends on the draws (the
        // batch statistics do not depend on the running ones, so repeated passes are comparable).
        let x = get(&fx, "effnet.input1");
        let inputs = [x.get(0).unwrap(), x.get(1).unwrap()];
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let run = |seed: u64| {
            let out = net.trunk_train(&refs, &mut Noise::new(seed)).unwrap();
            Tensor::cat(&out, 0).unwrap()
        };
        let (a, b, c) = (run(1), run(1), run(2));
        assert_eq!(tensor_relative_error("same draws", &a, &b), 0.0);
        assert!(tensor_relative_error("other draws", &a, &c) > 1e-3);
    });
}

/// A model that counts how its frozen trunk is run.
struct Counting<'a> {
    net: &'a DeepNet,
    eval: AtomicUsize,
    train: AtomicUsize,
}

impl VideoNet for Counting<'_> {
    fn device(&self) -> &Device {
        self.net.device()
    }
    fn input(&self, clip: &Clip) -> vidcompare::Result<Tensor> {
        self.net.input(clip)
    }
    fn trunk(&self, input: &Tensor) -> vidcompare::Result<Tensor> {
        self.eval.fetch_add(1, Ordering::Relaxed);
        self.net.trunk(input)
    }
    fn trunk_train(
        &self,
        inputs: &[&Tensor],
        noise: &mut Noise,
    ) -> vidcompare::Result<Vec<Tensor>> {
        self.train.fetch_add(1, Ordering::Relaxed);
        self.net.trunk_train(inputs, noise)
    }
    fn tail(
        &self,
        trunks: &[&Tensor],
        noise: Option<&mut Noise>,
    ) -> vidcompare::Result<TailOutput> {
        self.net.tail(trunks, noise)
    }
}

fn tiny_settings(dir: &std::path::Path, kind: DeepKind, extra: &[&str]) -> DeepSettings {
    let mut o = vec![
        "img_size=32".to_string(),
        "num_frames=4".into(),
        "clip_len=4".into(),
        "epochs=2".into(),
        "enhance=false".into(),
        "device=cpu".into(),
        "lr=1e-3".into(),
        format!("cache_dir={}", dir.join("cache").display()),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    let cfg = Config::with_overrides(&o).unwrap();
    DeepSettings::from_config(&cfg, kind, &dir.join("models")).unwrap()
}

#[test]
fn frozen_bn_train_runs_the_trunk_every_batch_and_moves_only_running_statistics() {
    let dir = TempDir::new().unwrap();
    let ds = crate::deep_pipeline::tiny_root(dir.path());
    let s = tiny_settings(dir.path(), DeepKind::Avg, &[]);
    let data = load_data(&ds, &s.clip, &s.cache_dir, false).unwrap();
    assert_eq!((data.train.len(), data.val.len()), (6, 3));
    let opts = TrainOptions::notebook(2, 7);
    let prefixes = DeepKind::Avg.trainable_prefixes();

    for mode in [FrozenBn::Eval, FrozenBn::Train] {
        let store = ParamStore::seeded(7);
        let net = DeepNet::build(
            DeepKind::Avg,
            store.var_builder(&Device::Cpu),
            3,
            Norm::ImageNet,
        )
        .unwrap();
        store.finish().unwrap();
        let before = store.snapshot().unwrap();
        let counting = Counting {
            net: &net,
            eval: AtomicUsize::new(0),
            train: AtomicUsize::new(0),
        };
        let report = match mode {
            FrozenBn::Eval => {
                let xtr = trunks(&net, &data.train.clips).unwrap();
                let xva = trunks(&net, &data.val.clips).unwrap();
                fit(
                    &counting,
                    &store,
                    prefixes,
                    (TrunkSource::Cached(&xtr), &data.train.labels),
                    (TrunkSource::Cached(&xva), &data.val.labels),
                    &opts,
                    None,
                    "cached",
                    false,
                )
            }
            FrozenBn::Train => fit(
                &counting,
                &store,
                prefixes,
                (TrunkSource::Live(&data.train.clips), &data.train.labels),
                (TrunkSource::Live(&data.val.clips), &data.val.labels),
                &opts,
                None,
                "live",
                false,
            ),
        }
        .unwrap();
        assert_eq!(report.history.len(), 2);
        let after = store.snapshot().unwrap();
        let moved = |name: &str| tensor_relative_error(name, &after[name], &before[name]) > 0.0;
        match mode {
            FrozenBn::Eval => {
                // The cache: the trunk never runs inside training.
                assert_eq!(
                    (
                        counting.train.load(Ordering::Relaxed),
                        counting.eval.load(Ordering::Relaxed)
                    ),
                    (0, 0)
                );
                assert!(!moved("backbone.features.0.1.running_mean"));
                assert!(!moved("backbone.features.6.0.block.3.1.running_var"));
            }
            FrozenBn::Train => {
                // 3 batches of 2 videos per epoch in training mode; the 3 validation videos in
                // eval mode after each epoch. (Best epoch restored: at least the first's moves.)
                assert_eq!(
                    counting.train.load(Ordering::Relaxed),
                    2 * 3,
                    "trunk_train calls"
                );
                assert_eq!(
                    counting.eval.load(Ordering::Relaxed),
                    2 * 3,
                    "eval trunk calls"
                );
                assert!(moved("backbone.features.0.1.running_mean"));
                assert!(moved("backbone.features.6.0.block.3.1.running_var"));
            }
        }
        // The tail's batch norms train either way; no frozen weight moves either way.
        assert!(moved("backbone.features.8.1.running_mean"));
        assert!(moved("fc.weight"));
        for name in before.keys() {
            let frozen = !prefixes.iter().any(|p| name.starts_with(p));
            if frozen && !name.contains("running_") {
                assert!(!moved(name), "{mode}: frozen {name} moved");
            }
        }
    }
}

#[test]
fn frozen_bn_train_pipeline_saves_and_evaluates_with_the_moved_statistics() {
    let dir = TempDir::new().unwrap();
    let ds = crate::deep_pipeline::tiny_root(dir.path());
    let key = "backbone.features.0.1.running_mean";
    let initial = {
        let store = ParamStore::seeded(42);
        DeepNet::build(
            DeepKind::Max,
            store.var_builder(&Device::Cpu),
            3,
            Norm::ImageNet,
        )
        .unwrap();
        store.snapshot().unwrap()[key].clone()
    };
    let mut stats = Vec::new();
    for mode in ["eval", "train"] {
        let s = tiny_settings(
            &dir.path().join(mode),
            DeepKind::Max,
            &[&format!("frozen_bn={mode}"), "epochs=1"],
        );
        assert_eq!(s.frozen_bn.as_str(), mode);
        let data = load_data(&ds, &s.clip, &s.cache_dir, false).unwrap();
        let run = train_and_evaluate(&data, &s, false).unwrap();
        let settings = run.result.details.deep.settings.as_ref().unwrap();
        assert_eq!(settings["frozen_bn"], mode, "recorded with the result");
        let ckpt = dir.path().join(mode).join("models/deep-2d-max.safetensors");
        let (tensors, _) = load_checkpoint(&ckpt).unwrap();
        stats.push(tensor_relative_error(key, &tensors[key], &initial));
        assert_eq!(run.result.scores.len(), 3);
    }
    assert_eq!(
        stats[0], 0.0,
        "eval: the frozen statistics are the initial ones"
    );
    assert!(
        stats[1] > 0.0,
        "train: the checkpoint holds the moved statistics"
    );
}

#[test]
fn frozen_bn_defaults_follow_the_profile_and_a_bad_value_names_the_key() {
    let dir = TempDir::new().unwrap();
    let resolve = |o: &[&str]| {
        let cfg = Config::with_overrides(o).unwrap();
        DeepSettings::from_config(&cfg, DeepKind::R3d, dir.path())
            .unwrap()
            .frozen_bn
    };
    assert_eq!(resolve(&[]), FrozenBn::Eval, "quick profile");
    assert_eq!(resolve(&["deep_profile=notebook"]), FrozenBn::Train);
    assert_eq!(
        resolve(&["deep_profile=notebook", "frozen_bn=eval"]),
        FrozenBn::Eval
    );
    assert_eq!(resolve(&["frozen_bn=train"]), FrozenBn::Train);
    let e = Config::with_overrides(&["frozen_bn=frozen"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("frozen_bn") && e.contains("auto, eval, train"),
        "{e}"
    );
    let e = "on".parse::<FrozenBn>().unwrap_err().to_string();
    assert!(
        e.contains("frozen_bn") && e.contains("eval or train"),
        "{e}"
    );
    // Settings saved with results before the key existed read as eval, what those runs did.
    let cfg = Config::with_overrides(&["frozen_bn=train"]).unwrap();
    let s = DeepSettings::from_config(&cfg, DeepKind::Avg, dir.path()).unwrap();
    let mut v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["frozen_bn"], "train");
    v.as_object_mut().unwrap().remove("frozen_bn");
    let old: DeepSettings = serde_json::from_value(v).unwrap();
    assert_eq!(old.frozen_bn, FrozenBn::Eval);
}

#[test]
fn a_script_sets_frozen_bn_per_model_and_a_bad_value_names_the_key_and_line() {
    let dir = TempDir::new().unwrap();
    let script = dir.path().join("s.rhai");
    std::fs::write(
        &script,
        "let s = deep::settings(\"r3d\", #{ frozen_bn: \"train\" });\n\
         if s.frozen_bn != \"train\" { throw `got ${s.frozen_bn}`; }\n\
         let t = deep::settings(\"max\", #{ frozen_bn: \"frozen\" });\n",
    )
    .unwrap();
    let opts = vidcompare::script::RunOptions {
        config: Config::default(),
        progress: false,
        write_report: false,
        ..vidcompare::script::RunOptions::default()
    };
    match vidcompare::script::run_script(&script, opts) {
        Err(vidcompare::Error::Script(msg)) => {
            assert!(msg.contains("s.rhai:3:"), "{msg}");
            assert!(
                msg.contains("frozen_bn = `frozen`: expected one of auto, eval, train"),
                "{msg}"
            );
        }
        other => panic!("expected a script error on line 3, got {other:?}"),
    }
}

/// The frozen trunk in training mode inside `no_grad` (how `trunk_train` runs it): the same
/// activations and running statistics as with autograd history (up to the summation order of
/// the inference kernels the stem and the 1x1 convolutions take without gradients), but each
/// activation is freed once the next layer has read it, so the heap peak is a few
/// activations, not all of them.
#[test]
fn frozen_trunk_under_no_grad_matches_and_frees_activations_as_it_goes() {
    use vidcompare::deep::efficientnet::{EfficientNetB0, FIRST_TRAINABLE_STAGE};
    use vidcompare::deep::nn::no_grad;
    use vidcompare::memory::{heap_live_bytes, heap_peak_bytes, reset_heap_peak};
    // The heap peak is process-wide: run alone.
    if !crate::common::isolated(
        "deep_frozen_bn::frozen_trunk_under_no_grad_matches_and_frees_activations_as_it_goes",
    ) {
        return;
    }
    // Two copies of one network: running statistics move in training mode.
    let make = || {
        let varmap = VarMap::new();
        let net = EfficientNetB0::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))
            .unwrap();
        fill_formula(&varmap);
        (varmap, net)
    };
    let ((vm_a, net_a), (vm_b, net_b)) = (make(), make());
    let (frames, side) = (16, 96);
    let x = Tensor::rand(-1f32, 1f32, (frames, 3, side, side), &Device::Cpu).unwrap();
    let measure = |f: &dyn Fn() -> Tensor| -> (Tensor, f64) {
        let before = heap_live_bytes().expect("the test binary counts allocations");
        reset_heap_peak();
        let y = f();
        let peak = heap_peak_bytes().unwrap().saturating_sub(before);
        (y, peak as f64 / (1 << 20) as f64)
    };
    let (tracked, tracked_mb) = measure(&|| {
        net_a
            .forward_features(&x, 0..FIRST_TRAINABLE_STAGE, Some(&mut Noise::new(3)))
            .unwrap()
    });
    let (free, free_mb) = measure(&|| {
        no_grad(|| {
            net_b
                .forward_features(&x, 0..FIRST_TRAINABLE_STAGE, Some(&mut Noise::new(3)))
                .unwrap()
        })
    });
    // Float32 rounding of reordered sums through 16 blocks (4.9e-6 measured), within the
    // 3e-5 the whole-network torch fixtures allow.
    let activations = tensor_relative_error("activations", &free, &tracked);
    assert!(activations <= 3e-5, "activations differ by {activations}");
    let stats = |vm: &VarMap| -> Tensor {
        let data = vm.data().lock().unwrap();
        let mut names: Vec<_> = data.keys().filter(|k| k.contains("running_")).collect();
        names.sort();
        let flat: Vec<Tensor> = names
            .iter()
            .map(|k| data[*k].as_tensor().flatten_all().unwrap())
            .collect();
        Tensor::cat(&flat, 0).unwrap()
    };
    let running = tensor_relative_error("running statistics", &stats(&vm_b), &stats(&vm_a));
    assert!(running <= 3e-5, "running statistics differ by {running}");
    eprintln!(
        "no_grad vs history: activations {activations:.1e}, running statistics {running:.1e}"
    );
    // The largest activation: stage 2's expansion to 96 channels at half the side.
    let largest_mb = (frames * 96 * (side / 2) * (side / 2) * 4) as f64 / (1 << 20) as f64;
    eprintln!(
        "heap peak: {tracked_mb:.1} MiB with history, {free_mb:.1} MiB under no_grad \
         (largest activation {largest_mb:.1} MiB)"
    );
    assert!(
        free_mb <= 8.0 * largest_mb,
        "no_grad peak {free_mb:.1} MiB is more than 8 of the largest activation ({largest_mb:.1} MiB)"
    );
    assert!(
        tracked_mb >= 3.0 * free_mb,
        "with history {tracked_mb:.1} MiB, under no_grad {free_mb:.1} MiB"
    );
}
