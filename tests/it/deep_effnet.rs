//! EfficientNet-B0 and the notebook's temporal head against torch / torchvision.
//!
//! Fixtures come from `tools/fixtures_deep_effnet.py` (torch on the CPU, float32). Tolerance:
//! every compared tensor satisfies `max |ours - torch| <= 1e-5 * max |torch|` (gradients and
//! running statistics too), the whole network through `features[0..9]` and the temporal model
//! `3e-5` (observed: at most 1e-6 and 1.3e-6).
//!
//! Every case that reaches a dispatch runs twice ([`on_both_paths`]): on the CPU kernels and on
//! the generic tensor-op path a GPU takes, at the same tolerances.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use crate::common::{assert_tensor_close, fixture_path, fixture_tensors};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use vidcompare::deep::efficientnet::{
    EfficientNetB0, FEATURE_DIM, FIRST_TRAINABLE_STAGE, MbConv, MbConvConfig, NUM_STAGES,
};
use vidcompare::deep::nn::Noise;
use vidcompare::deep::ops::{
    KernelPath, cpu_kernel_calls, depthwise_conv2d, depthwise_conv2d_taps, shift_silu,
};
use vidcompare::deep::temporal::{EfficientNetTemporal, Pooling, TRAINABLE_PREFIXES, TemporalHead};

const RTOL: f32 = 1e-5;
/// Whole-network comparisons: 17 blocks of float32 rounding.
const NET_RTOL: f32 = 3e-5;
const NUM_CLASSES: usize = 7;

/// Runs `case` on each kernel path, the CPU kernels first, then the generic tensor-op path, with
/// the path's name for messages. Proves that each path really ran: the fast pass must have used
/// a CPU kernel, the generic pass none.
pub fn on_both_paths(mut case: impl FnMut(&str)) {
    for path in KernelPath::ALL {
        let before = cpu_kernel_calls();
        path.run(|| case(path.name()));
        let used = cpu_kernel_calls() - before;
        match path {
            KernelPath::Fast => assert!(used > 0, "the fast pass used no CPU kernel"),
            KernelPath::Generic => assert_eq!(used, 0, "the generic pass used CPU kernels"),
        }
    }
}

fn get<'a>(map: &'a BTreeMap<String, Tensor>, key: &str) -> &'a Tensor {
    map.get(key)
        .unwrap_or_else(|| panic!("fixture has no tensor {key}"))
}

/// The closed formula of tools/fixtures_deep_effnet.py: n numbers in [-1, 1) for tensor t.
fn hash_uniform(n: usize, t: usize) -> Vec<f64> {
    let base = (t as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    (1..=n as u64)
        .map(|i| {
            let mut h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(base);
            h ^= h >> 32;
            h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
            h ^= h >> 29;
            (h >> 40) as f64 / (1u64 << 23) as f64 - 1.0
        })
        .collect()
}

/// Sets every variable of `varmap` from the closed formula (names sorted, as the script does).
pub fn fill_formula(varmap: &VarMap) {
    let data = varmap.data().lock().unwrap();
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (t, name) in names.into_iter().enumerate() {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let s = hash_uniform(var.elem_count(), t);
        let leaf = name.rsplit('.').next().unwrap();
        let values: Vec<f32> = match leaf {
            "running_var" => s.iter().map(|s| 1.0 + 0.5 * s * s).collect::<Vec<f64>>(),
            "running_mean" | "bias" => s.iter().map(|s| 0.1 * s).collect(),
            "weight" if dims.len() == 1 => s.iter().map(|s| 1.0 + 0.2 * s).collect(),
            "weight" => {
                let fan_in: usize = dims[1..].iter().product();
                let gain = (8.0 / fan_in as f64).sqrt();
                s.iter().map(|s| s * gain).collect()
            }
            other => panic!("no formula for {name} ({other})"),
        }
        .into_iter()
        .map(|v| v as f32)
        .collect();
        var.set(&Tensor::from_vec(values, dims, &Device::Cpu).unwrap())
            .unwrap();
    }
}

fn new_varmap() -> (VarMap, Device) {
    (VarMap::new(), Device::Cpu)
}

fn var_names_and_shapes(varmap: &VarMap) -> BTreeMap<String, Vec<usize>> {
    varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.dims().to_vec()))
        .collect()
}

#[test]
fn depthwise_conv_matches_torch_groups_conv_with_gradients() {
    let fx = fixture_tensors("deep/effnet_depthwise.safetensors");
    for (tag, stride, padding) in [("k3s1", 1, 1), ("k5s2", 2, 2)] {
        on_both_paths(|path| {
            let what = format!("{path}: depthwise {tag}");
            let x = Var::from_tensor(get(&fx, &format!("{tag}.x"))).unwrap();
            let w = Var::from_tensor(get(&fx, &format!("{tag}.w"))).unwrap();
            let y = depthwise_conv2d(&x, &w, stride, padding).unwrap();
            assert_tensor_close(
                &format!("{what} y"),
                &y,
                get(&fx, &format!("{tag}.y")),
                RTOL,
            );
            let g = get(&fx, &format!("{tag}.g"));
            let grads = (&y * g).unwrap().sum_all().unwrap().backward().unwrap();
            let dx = grads.get(&x).expect("gradient for x");
            let dw = grads.get(&w).expect("gradient for w");
            assert_tensor_close(
                &format!("{what} dx"),
                dx,
                get(&fx, &format!("{tag}.dx")),
                RTOL,
            );
            assert_tensor_close(
                &format!("{what} dw"),
                dw,
                get(&fx, &format!("{tag}.dw")),
                RTOL,
            );
        });
    }
}

#[test]
fn depthwise_conv_rejects_mismatched_weight() {
    let x = Tensor::zeros((1, 4, 5, 5), DType::F32, &Device::Cpu).unwrap();
    let w = Tensor::zeros((3, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    for path in KernelPath::ALL {
        assert!(path.run(|| depthwise_conv2d(&x, &w, 1, 1)).is_err());
    }
    assert!(depthwise_conv2d_taps(&x, &w, 1, 1).is_err());
}

#[test]
fn fused_shift_silu_matches_silu_of_sum_with_gradients() {
    let dev = Device::Cpu;
    // values from -100 to 100 reach both saturated ends of the fast exp
    let values: Vec<f32> = (0..2 * 3 * 5 * 7)
        .map(|i| ((i * 37) % 210) as f32 / 1.05 - 100.0)
        .collect();
    let x = Var::from_tensor(&Tensor::from_vec(values, (2, 3, 5, 7), &dev).unwrap()).unwrap();
    let shift = Var::from_tensor(&Tensor::new(&[0.5f32, -1.25, 2.0], &dev).unwrap()).unwrap();
    let g = Tensor::randn(0f32, 1.0, (2, 3, 5, 7), &dev).unwrap();
    let fused = shift_silu(&x, &shift).unwrap();
    let reference = x
        .broadcast_add(&shift.reshape((1, 3, 1, 1)).unwrap())
        .unwrap()
        .silu()
        .unwrap();
    assert_tensor_close("shift_silu", &fused, &reference, 1e-6);
    let fused_grads = (&fused * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let ref_grads = (&reference * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (what, var) in [("d x", &x), ("d shift", &shift)] {
        assert_tensor_close(
            what,
            fused_grads.get(var).unwrap(),
            ref_grads.get(var).unwrap(),
            1e-5,
        );
    }
    // f64 takes the exact-exp path
    let x64 = x.to_dtype(DType::F64).unwrap();
    let s64 = shift.to_dtype(DType::F64).unwrap();
    let diff = (shift_silu(&x64, &s64)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        - &reference)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-4, "f64 shift_silu differs by {diff}");
    assert!(shift_silu(&x, &Tensor::zeros(4, DType::F32, &dev).unwrap()).is_err());
}

fn mbconv_from_fixture(
    prefix: &str,
    cfg: MbConvConfig,
) -> (MbConv, VarMap, BTreeMap<String, Tensor>) {
    let fx = fixture_tensors("deep/effnet_mbconv.safetensors");
    let (mut varmap, dev) = new_varmap();
    let block = MbConv::new(
        VarBuilder::from_varmap(&varmap, DType::F32, &dev).pp(prefix),
        cfg,
    )
    .unwrap();
    varmap
        .load(fixture_path("deep/effnet_mbconv.safetensors"))
        .unwrap();
    (block, varmap, fx)
}

#[test]
fn mbconv_stride2_eval_matches_torchvision() {
    let cfg = MbConvConfig {
        expand_ratio: 6,
        kernel: 5,
        stride: 2,
        in_channels: 16,
        out_channels: 24,
        stochastic_depth: 0.0,
    };
    let (block, _vm, fx) = mbconv_from_fixture("a", cfg);
    on_both_paths(|path| {
        let y = block.forward(get(&fx, "a.input"), None).unwrap();
        assert_tensor_close(&format!("{path}: mbconv a"), &y, get(&fx, "a.output"), RTOL);
    });
}

#[test]
fn mbconv_residual_eval_matches_torchvision() {
    let cfg = MbConvConfig {
        expand_ratio: 6,
        kernel: 5,
        stride: 1,
        in_channels: 24,
        out_channels: 24,
        stochastic_depth: 0.2,
    };
    let (block, _vm, fx) = mbconv_from_fixture("b", cfg);
    on_both_paths(|path| {
        let y = block.forward(get(&fx, "b.input"), None).unwrap();
        assert_tensor_close(&format!("{path}: mbconv b"), &y, get(&fx, "b.output"), RTOL);
    });
}

#[test]
fn mbconv_train_mode_matches_torchvision_output_gradients_and_running_stats() {
    let cfg = MbConvConfig {
        expand_ratio: 6,
        kernel: 3,
        stride: 1,
        in_channels: 24,
        out_channels: 24,
        stochastic_depth: 0.0,
    };
    on_both_paths(|path| {
        let (block, varmap, fx) = mbconv_from_fixture("c", cfg);
        let mut noise = Noise::new(7);
        let x = Var::from_tensor(get(&fx, "c.input")).unwrap();
        let y = block.forward(&x, Some(&mut noise)).unwrap();
        assert_tensor_close(
            &format!("{path}: mbconv c (train)"),
            &y,
            get(&fx, "c.output"),
            RTOL,
        );
        let grads = (&y * get(&fx, "c.g"))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_tensor_close(
            &format!("{path}: mbconv c d input"),
            grads.get(&x).expect("input gradient"),
            get(&fx, "c.grad.input"),
            RTOL,
        );
        let data = varmap.data().lock().unwrap();
        let mut params = 0;
        for (key, expected) in &fx {
            if let Some(name) = key.strip_prefix("c.grad.").filter(|n| *n != "input") {
                let var = &data[&format!("c.{name}")];
                let grad = grads
                    .get(var)
                    .unwrap_or_else(|| panic!("no gradient for c.{name}"));
                assert_tensor_close(&format!("{path}: {key}"), grad, expected, RTOL);
                params += 1;
            }
        }
        // expand conv + BN, depthwise conv + BN, SE fc1/fc2 weight + bias, project conv + BN
        assert_eq!(params, 13, "parameters with a torch gradient");
        let mut checked = 0;
        for (key, expected) in &fx {
            if let Some(name) = key.strip_prefix("c.after.") {
                let var = data
                    .get(&format!("c.{name}"))
                    .unwrap_or_else(|| panic!("no variable c.{name}"));
                assert_tensor_close(&format!("{path}: {key}"), var.as_tensor(), expected, RTOL);
                // and it really moved away from the loaded value
                let before = get(&fx, &format!("c.{name}"));
                let moved = (var.as_tensor() - before)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(moved > 1e-4, "{key} did not move");
                checked += 1;
            }
        }
        assert_eq!(checked, 6, "three BatchNorms, two running statistics each");
    });
}

#[test]
fn temporal_head_matches_notebook_pooling_and_logits() {
    let fx = fixture_tensors("deep/effnet_temporal.safetensors");
    let feats = get(&fx, "feats");
    for pooling in [Pooling::Avg, Pooling::Max, Pooling::Attn] {
        let (varmap, dev) = new_varmap();
        let head = TemporalHead::new(
            VarBuilder::from_varmap(&varmap, DType::F32, &dev),
            pooling,
            FEATURE_DIM,
            NUM_CLASSES,
        )
        .unwrap();
        fill_formula(&varmap);
        let (pooled, attn) = head.pool(feats).unwrap();
        assert_tensor_close(
            &format!("{pooling} pooled"),
            &pooled,
            get(&fx, &format!("{pooling}.pooled")),
            RTOL,
        );
        match (pooling, attn) {
            (Pooling::Attn, Some(attn)) => {
                assert_tensor_close("attn weights", &attn, get(&fx, "attn.attn"), RTOL)
            }
            (Pooling::Attn, None) => panic!("attention pooling returned no weights"),
            (_, attn) => assert!(attn.is_none()),
        }
        let logits = head.classify(&pooled, None).unwrap();
        assert_tensor_close(
            &format!("{pooling} logits"),
            &logits,
            get(&fx, &format!("{pooling}.logits")),
            RTOL,
        );
    }
}

#[test]
fn efficientnet_b0_features_match_torchvision() {
    on_both_paths(|path| {
        let fx = fixture_tensors("deep/effnet_full.safetensors");
        let (varmap, dev) = new_varmap();
        let net = EfficientNetB0::new(VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
        fill_formula(&varmap);
        let trunk = net
            .forward_features(get(&fx, "input"), 0..FIRST_TRAINABLE_STAGE, None)
            .unwrap();
        assert_tensor_close(
            &format!("{path}: features[0..7]"),
            &trunk,
            get(&fx, "trunk"),
            NET_RTOL,
        );
        let maps = net
            .forward_features(&trunk, FIRST_TRAINABLE_STAGE..NUM_STAGES, None)
            .unwrap();
        assert_tensor_close(
            &format!("{path}: features[0..9]"),
            &maps,
            get(&fx, "features"),
            NET_RTOL,
        );
        let pooled = EfficientNetB0::pool(&maps).unwrap();
        assert_tensor_close(
            &format!("{path}: pooled"),
            &pooled,
            get(&fx, "pooled"),
            NET_RTOL,
        );
        // the two images must give different features, or the comparison would prove little
        let diff = (pooled.get(0).unwrap() - pooled.get(1).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff > 1e-3, "features do not depend on the input ({diff})");
        assert!(net.forward_features(&trunk, 5..10, None).is_err());
        // As predictions run it: without gradients (the stem through its inference kernel).
        let trunk = vidcompare::deep::nn::no_grad(|| {
            net.forward_features(get(&fx, "input"), 0..FIRST_TRAINABLE_STAGE, None)
        })
        .unwrap();
        assert_tensor_close(
            &format!("{path}: features[0..7] (no_grad)"),
            &trunk,
            get(&fx, "trunk"),
            NET_RTOL,
        );
    });
}

#[test]
fn efficientnet_temporal_matches_notebook_keys_and_logits() {
    let fx = fixture_tensors("deep/effnet_full.safetensors");
    let keys_path = fixture_path("deep/effnet_keys.json");
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keys_path).unwrap()).unwrap();
    let clip = get(&fx, "input").unsqueeze(0).unwrap();
    on_both_paths(|path| {
        for pooling in [Pooling::Avg, Pooling::Max, Pooling::Attn] {
            let (varmap, dev) = new_varmap();
            let model = EfficientNetTemporal::new(
                VarBuilder::from_varmap(&varmap, DType::F32, &dev),
                pooling,
                NUM_CLASSES,
            )
            .unwrap();
            let expected: BTreeMap<String, Vec<usize>> = keys["keys"][pooling.to_string()]
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| {
                    let name = kv[0].as_str().unwrap().to_string();
                    let shape = kv[1]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap() as usize)
                        .collect();
                    (name, shape)
                })
                .collect();
            assert_eq!(
                var_names_and_shapes(&varmap),
                expected,
                "{pooling}: state_dict keys"
            );
            fill_formula(&varmap);
            let (logits, attn) = model.forward(&clip, None).unwrap();
            assert_tensor_close(
                &format!("{path}: {pooling} model logits"),
                &logits,
                get(&fx, &format!("{pooling}.logits")),
                NET_RTOL,
            );
            assert_eq!(attn.is_some(), pooling == Pooling::Attn);
            if let Some(attn) = attn {
                assert_tensor_close(
                    &format!("{path}: model attention"),
                    &attn,
                    get(&fx, "attn.attn"),
                    NET_RTOL,
                );
            }
        }
    });
}

#[test]
fn trainable_prefixes_select_the_notebook_trainable_parameters() {
    let keys: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_path("deep/effnet_keys.json")).unwrap(),
    )
    .unwrap();
    let expected: HashSet<String> = keys["trainable_attn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let (varmap, dev) = new_varmap();
    EfficientNetTemporal::new(
        VarBuilder::from_varmap(&varmap, DType::F32, &dev),
        Pooling::Attn,
        NUM_CLASSES,
    )
    .unwrap();
    let selected: HashSet<String> = var_names_and_shapes(&varmap)
        .into_keys()
        .filter(|k| TRAINABLE_PREFIXES.iter().any(|p| k.starts_with(p)))
        .filter(|k| !k.contains("running_"))
        .collect();
    assert_eq!(selected, expected);
}

#[test]
fn training_step_reaches_only_the_fine_tuned_parameters() {
    on_both_paths(|path| {
        let (varmap, dev) = new_varmap();
        let model = EfficientNetTemporal::new(
            VarBuilder::from_varmap(&varmap, DType::F32, &dev),
            Pooling::Attn,
            3,
        )
        .unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 2, 3, 64, 64), &dev).unwrap();
        let bn8_before = varmap.data().lock().unwrap()["backbone.features.8.1.running_mean"]
            .as_tensor()
            .copy()
            .unwrap();
        let mut noise = Noise::new(3);
        let (logits, attn) = model.forward(&x, Some(&mut noise)).unwrap();
        assert_eq!(logits.dims(), &[1, 3]);
        assert_eq!(attn.unwrap().dims(), &[1, 2]);
        let target = Tensor::new(&[1u32], &dev).unwrap();
        let loss = candle_nn::loss::cross_entropy(&logits, &target).unwrap();
        let grads = loss.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        for (name, var) in data.iter() {
            let trainable = TRAINABLE_PREFIXES.iter().any(|p| name.starts_with(p))
                && !name.contains("running_");
            assert_eq!(
                grads.get(var).is_some(),
                trainable,
                "{path}: {name}: gradient presence"
            );
        }
        // the tail's BatchNorm ran in training mode, the frozen trunk's did not
        let moved = (data["backbone.features.8.1.running_mean"].as_tensor() - bn8_before)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(moved > 0.0);
        let stem_mean = data["backbone.features.0.1.running_mean"]
            .as_tensor()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(stem_mean, 0.0, "frozen BatchNorm statistics must not move");
    });
}

#[test]
fn default_initialisation_follows_torchvision() {
    let (varmap, dev) = new_varmap();
    EfficientNetTemporal::new(
        VarBuilder::from_varmap(&varmap, DType::F32, &dev),
        Pooling::Attn,
        NUM_CLASSES,
    )
    .unwrap();
    let data = varmap.data().lock().unwrap();
    let stats = |name: &str| -> (f32, f32, f32) {
        let t = data[name].as_tensor().flatten_all().unwrap();
        let v: Vec<f32> = t.to_vec1().unwrap();
        let n = v.len() as f32;
        let mean = v.iter().sum::<f32>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt();
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        (mean, std, max)
    };
    // kaiming_normal_(mode="fan_out"): std = sqrt(2 / (out * k * k))
    let (_, std, _) = stats("backbone.features.8.0.weight");
    let want = (2.0f32 / 1280.0).sqrt();
    assert!((std / want - 1.0).abs() < 0.02, "conv std {std} vs {want}");
    let (_, std, _) = stats("backbone.features.2.0.block.1.0.weight");
    let want = (2.0f32 / (96.0 * 9.0)).sqrt();
    assert!(
        (std / want - 1.0).abs() < 0.1,
        "depthwise std {std} vs {want}"
    );
    assert_eq!(
        stats("backbone.features.3.1.block.1.1.weight"),
        (1.0, 0.0, 1.0)
    );
    assert_eq!(stats("backbone.features.3.1.block.2.fc1.bias").2, 0.0);
    // torch.nn.Linear: uniform in ±1/sqrt(in_features)
    let bound = 1.0 / (FEATURE_DIM as f32).sqrt();
    let (_, std, max) = stats("attn_pool.fc1.weight");
    assert!(max <= bound && max > 0.99 * bound);
    assert!((std / (bound / 3f32.sqrt()) - 1.0).abs() < 0.02);
    assert!(stats("fc.bias").2 <= bound);
    assert_eq!(stats("ln.weight"), (1.0, 0.0, 1.0));
}

#[test]
fn pooling_names_round_trip() {
    for (p, s) in [
        (Pooling::Avg, "avg"),
        (Pooling::Max, "max"),
        (Pooling::Attn, "attn"),
    ] {
        assert_eq!(p.to_string(), s);
        assert_eq!(s.parse::<Pooling>().unwrap(), p);
        assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<Pooling>(&format!("\"{s}\"")).unwrap(),
            p
        );
    }
    let err = "mean".parse::<Pooling>().unwrap_err().to_string();
    assert!(err.contains("avg") && err.contains("mean"), "{err}");
}

/// CPU time (user + system, all threads) of this process in ms, from /proc/self/stat
/// (Linux; 10 ms resolution, assuming the usual 100 clock ticks per second).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}

/// Fastest wall time of `reps` runs of `f` and the mean CPU time per run, in ms. On a shared,
/// loaded machine the CPU time is the steadier of the two.
fn time_ms(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    let cpu_start = process_cpu_ms();
    let best = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min);
    let cpu = match (cpu_start, process_cpu_ms()) {
        (Some(a), Some(b)) => (b - a) / reps as f64,
        _ => f64::NAN,
    };
    (best, cpu)
}

/// CPU timings for the report:
/// `cargo test --release --test deep_effnet -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_trunk_and_tail_8_frames() {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let model = EfficientNetTemporal::new(
        VarBuilder::from_varmap(&varmap, DType::F32, &dev),
        Pooling::Attn,
        10,
    )
    .unwrap();
    let reps = 8;
    for size in [112, 224] {
        let x = Tensor::randn(0f32, 1.0, (8, 3, size, size), &dev).unwrap();
        let trunk_of = |x: &Tensor| {
            model
                .backbone
                .forward_features(x, 0..FIRST_TRAINABLE_STAGE, None)
                .unwrap()
                .detach()
        };
        let trunk = trunk_of(&x);
        let t_trunk = time_ms(reps, || {
            trunk_of(&x);
        });
        let target = Tensor::new(&[3u32], &dev).unwrap();
        let mut noise = Noise::new(1);
        let mut forward = || {
            let (logits, _, _) = model.forward_tail(&trunk, 1, 8, Some(&mut noise)).unwrap();
            candle_nn::loss::cross_entropy(&logits, &target).unwrap()
        };
        forward().backward().unwrap();
        let t_fwd = time_ms(reps, || {
            forward();
        });
        let t_step = time_ms(reps, || {
            forward().backward().unwrap();
        });
        println!(
            "candle {size}x{size} 8 frames (best wall / mean CPU ms): features[0..7] eval \
             {:.1} / {:.0}, tail fwd+bwd {:.1} / {:.0} (forward alone {:.1} / {:.0})",
            t_trunk.0, t_trunk.1, t_step.0, t_step.1, t_fwd.0, t_fwd.1
        );
    }
}
