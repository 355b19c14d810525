//! 3D convolution and R3D-18 against torch (fixtures from tools/fixtures_deep_r3d.py).
//!
//! Tolerance: every comparison is `max |ours - torch| / max |torch| <= 1e-4` in float32 (the
//! error normalised by the reference's scale), for outputs and gradients alike, on the CPU
//! kernels and on the generic tensor-op path a GPU takes (each case runs on both).
//!
//! The whole-model fixture stores no weights (r3d_18 has 33M parameters, 130 MB). Both the
//! generator and this test build every parameter, buffer and input from the same closed-form
//! formula ([`closed_form`]: an integer hash of the element index and the tensor's position in
//! the sorted key list, mapped to [-1, 1) and scaled per kind of tensor), so the float32 values
//! are bit-identical on both sides; only the outputs are stored.

use std::collections::BTreeMap;

use crate::common::{assert_tensor_close, fixture_path, fixture_tensors, tensor_relative_error};
use crate::deep_effnet::on_both_paths;
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use vidcompare::deep::conv3d::{Conv3d, adaptive_avg_pool3d_to_1, conv3d, conv3d_channels_last};
use vidcompare::deep::nn::Noise;
use vidcompare::deep::r3d::{BasicBlock, R3d18, TRAINABLE_PREFIXES};

/// Largest allowed `max |ours - torch| / max |torch|`.
const TOL: f32 = 1e-4;

fn get<'a>(fx: &'a BTreeMap<String, Tensor>, key: &str) -> &'a Tensor {
    fx.get(key)
        .unwrap_or_else(|| panic!("fixture has no tensor {key}"))
}

fn assert_close(what: &str, actual: &Tensor, expected: &Tensor) {
    assert_tensor_close(what, actual, expected, TOL);
}

fn usize3(t: &Tensor) -> [usize; 3] {
    let v = t.to_vec1::<i64>().expect("an i64 vector");
    [v[0] as usize, v[1] as usize, v[2] as usize]
}

/// The value of `d loss / d var`, or a panic naming the variable.
fn grad_of(grads: &candle_core::backprop::GradStore, var: &Tensor, what: &str) -> Tensor {
    grads
        .get(var)
        .unwrap_or_else(|| panic!("no gradient for {what}"))
        .clone()
}

#[test]
fn conv3d_matches_torch_outputs_and_gradients() {
    let fx = fixture_tensors("deep/r3d_conv3d.safetensors");
    on_both_paths(|path| {
        let close = |what: &str, actual: &Tensor, expected: &Tensor| {
            assert_close(&format!("{path}: {what}"), actual, expected)
        };
        let mut cases = 0;
        while fx.contains_key(&format!("case{cases}.x")) {
            let p = format!("case{cases}.");
            let x = Var::from_tensor(get(&fx, &format!("{p}x"))).unwrap();
            let w = Var::from_tensor(get(&fx, &format!("{p}w"))).unwrap();
            let b = fx
                .get(&format!("{p}b"))
                .map(|b| Var::from_tensor(b).unwrap());
            let stride = usize3(get(&fx, &format!("{p}stride")));
            let padding = usize3(get(&fx, &format!("{p}padding")));

            let mut y = conv3d(x.as_tensor(), w.as_tensor(), stride, padding).unwrap();
            if let Some(b) = &b {
                y = y
                    .broadcast_add(&b.as_tensor().reshape((1, (), 1, 1, 1)).unwrap())
                    .unwrap();
            }
            close(&format!("{p}y"), &y, get(&fx, &format!("{p}y")));

            // The same through the layer type.
            let layer = Conv3d::from_tensors(
                w.as_tensor().clone(),
                b.as_ref().map(|b| b.as_tensor().clone()),
                stride,
                padding,
            )
            .unwrap();
            let y_layer = layer.forward(x.as_tensor()).unwrap();
            close(
                &format!("{p}y (Conv3d)"),
                &y_layer,
                get(&fx, &format!("{p}y")),
            );

            // The channels-last path (R3D-18's), forward and backward.
            let x_cl = Var::from_tensor(
                &x.as_tensor()
                    .permute((0, 2, 3, 4, 1))
                    .unwrap()
                    .contiguous()
                    .unwrap(),
            )
            .unwrap();
            let w_cl = Var::from_tensor(w.as_tensor()).unwrap();
            let mut y_cl =
                conv3d_channels_last(x_cl.as_tensor(), w_cl.as_tensor(), stride, padding).unwrap();
            if let Some(b) = &b {
                y_cl = y_cl.broadcast_add(b.as_tensor()).unwrap();
            }
            let to_cl = |t: &Tensor| t.permute((0, 2, 3, 4, 1)).unwrap();
            close(
                &format!("{p}y (channels-last)"),
                &y_cl,
                &to_cl(get(&fx, &format!("{p}y"))),
            );
            let y_layer_cl = layer.forward_channels_last(x_cl.as_tensor()).unwrap();
            close(
                &format!("{p}y (Conv3d, channels-last)"),
                &y_layer_cl,
                &to_cl(get(&fx, &format!("{p}y"))),
            );
            let loss_cl = (&y_cl * to_cl(get(&fx, &format!("{p}g"))))
                .unwrap()
                .sum_all()
                .unwrap();
            let grads_cl = loss_cl.backward().unwrap();
            close(
                &format!("{p}dx (channels-last)"),
                &grad_of(&grads_cl, x_cl.as_tensor(), "x"),
                &to_cl(get(&fx, &format!("{p}dx"))),
            );
            close(
                &format!("{p}dw (channels-last)"),
                &grad_of(&grads_cl, w_cl.as_tensor(), "w"),
                get(&fx, &format!("{p}dw")),
            );

            let loss = (&y * get(&fx, &format!("{p}g")))
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            let dx = grad_of(&grads, x.as_tensor(), "x");
            close(&format!("{p}dx"), &dx, get(&fx, &format!("{p}dx")));
            let dw = grad_of(&grads, w.as_tensor(), "w");
            close(&format!("{p}dw"), &dw, get(&fx, &format!("{p}dw")));
            if let Some(b) = &b {
                let db = grad_of(&grads, b.as_tensor(), "b");
                close(&format!("{p}db"), &db, get(&fx, &format!("{p}db")));
            }
            cases += 1;
        }
        assert!(cases >= 10, "only {cases} conv3d cases in the fixture");
    });
}

#[test]
fn conv3d_rejects_bad_shapes_with_clear_errors() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 3, 4, 8, 8), DType::F32, &dev).unwrap();
    let w = Tensor::zeros((2, 4, 3, 3, 3), DType::F32, &dev).unwrap();
    let err = conv3d(&x, &w, [1; 3], [1; 3]).unwrap_err().to_string();
    assert!(err.contains("channels"), "{err}");

    let w = Tensor::zeros((2, 3, 3, 3, 3), DType::F32, &dev).unwrap();
    let x4 = Tensor::zeros((3, 4, 8, 8), DType::F32, &dev).unwrap();
    let err = conv3d(&x4, &w, [1; 3], [1; 3]).unwrap_err().to_string();
    assert!(err.contains("(N, C, T, H, W)"), "{err}");

    let short = Tensor::zeros((1, 3, 2, 8, 8), DType::F32, &dev).unwrap();
    let err = conv3d(&short, &w, [1; 3], [0; 3]).unwrap_err().to_string();
    assert!(err.contains("along T"), "{err}");

    let err = conv3d(&x, &w, [1, 0, 1], [1; 3]).unwrap_err().to_string();
    assert!(err.contains("stride"), "{err}");

    let w4 = Tensor::zeros((2, 3, 3, 3), DType::F32, &dev).unwrap();
    assert!(conv3d(&x, &w4, [1; 3], [1; 3]).is_err());
}

#[test]
fn adaptive_avg_pool_is_the_mean_over_time_and_space() {
    let dev = Device::Cpu;
    let (n, c, t, h, w) = (2, 3, 4, 5, 6);
    let values: Vec<f32> = (0..n * c * t * h * w)
        .map(|i| ((i * 37 % 101) as f32) * 0.25 - 7.0)
        .collect();
    let x = Tensor::from_vec(values.clone(), (n, c, t, h, w), &dev).unwrap();
    let pooled = adaptive_avg_pool3d_to_1(&x).unwrap();
    assert_eq!(pooled.dims(), &[n, c, 1, 1, 1]);
    let pooled = pooled.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let volume = t * h * w;
    for (i, got) in pooled.iter().enumerate() {
        let slice = &values[i * volume..(i + 1) * volume];
        let mean = slice.iter().map(|&v| v as f64).sum::<f64>() / volume as f64;
        assert!((*got as f64 - mean).abs() < 1e-5, "{got} vs {mean}");
    }
}

/// Copies the fixture's `prefix + name` tensors into the VarMap variables of the same name,
/// and checks that the two name sets agree.
fn set_vars(varmap: &VarMap, fx: &BTreeMap<String, Tensor>, prefix: &str) {
    let data = varmap.data().lock().unwrap();
    let mut expected: Vec<&str> = fx.keys().filter_map(|k| k.strip_prefix(prefix)).collect();
    expected.sort_unstable();
    let mut ours: Vec<&str> = data.keys().map(String::as_str).collect();
    ours.sort_unstable();
    assert_eq!(ours, expected, "parameter names differ from torch's");
    for (name, var) in data.iter() {
        var.set(get(fx, &format!("{prefix}{name}"))).unwrap();
    }
}

fn var_value(varmap: &VarMap, name: &str) -> Tensor {
    let data = varmap.data().lock().unwrap();
    data.get(name)
        .unwrap_or_else(|| panic!("no variable {name}"))
        .as_tensor()
        .copy()
        .unwrap()
}

#[test]
fn basic_block_matches_torch_in_eval_and_train_mode() {
    let fx = fixture_tensors("deep/r3d_block.safetensors");
    on_both_paths(|path| {
        let close = |what: &str, actual: &Tensor, expected: &Tensor| {
            assert_close(&format!("{path}: {what}"), actual, expected)
        };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let block = BasicBlock::new(vb, 8, 16, 2).unwrap();
        set_vars(&varmap, &fx, "param.");

        let x = Var::from_tensor(get(&fx, "x")).unwrap();
        let y_eval = block.forward_t(x.as_tensor(), false).unwrap();
        close("block eval output", &y_eval, get(&fx, "y_eval"));
        let y_cl = block
            .forward_channels_last_eval(&x.as_tensor().permute((0, 2, 3, 4, 1)).unwrap())
            .unwrap();
        close(
            "block eval output (channels-last)",
            &y_cl,
            &get(&fx, "y_eval").permute((0, 2, 3, 4, 1)).unwrap(),
        );
        // Eval mode leaves the running statistics alone.
        close(
            "running_mean after eval",
            &var_value(&varmap, "conv1.1.running_mean"),
            get(&fx, "param.conv1.1.running_mean"),
        );

        let y_train = block.forward_t(x.as_tensor(), true).unwrap();
        close("block train output", &y_train, get(&fx, "y_train"));
        for (key, expected) in &fx {
            if let Some(name) = key.strip_prefix("after_train.") {
                close(key, &var_value(&varmap, name), expected);
            }
        }

        let loss = (&y_train * get(&fx, "g")).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        close(
            "block train d/dx",
            &grad_of(&grads, x.as_tensor(), "x"),
            get(&fx, "train.dx"),
        );
        let data = varmap.data().lock().unwrap();
        let mut checked = 0;
        for (key, expected) in &fx {
            if let Some(name) = key.strip_prefix("train.grad.") {
                let var = data
                    .get(name)
                    .unwrap_or_else(|| panic!("no variable {name}"));
                close(key, &grad_of(&grads, var.as_tensor(), name), expected);
                checked += 1;
            }
        }
        assert_eq!(
            checked, 9,
            "3 convolutions and 3 batch norms (weight, bias)"
        );
    });
}

/// Element `i` of tensor `j` in [-1, 1): the generator's splitmix64-style integer hash.
fn unit_values(tensor_index: u64, count: usize) -> Vec<f64> {
    let seed = (tensor_index + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (0..count as u64)
        .map(|i| {
            let mut z = (i + 1)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(seed);
            z ^= z >> 31;
            z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 29;
            let u = (z >> 40) as f64 / (1u64 << 24) as f64;
            2.0 * u - 1.0
        })
        .collect()
}

/// The closed-form value of a named parameter or buffer (`closed_form` in the generator).
pub fn closed_form(name: &str, shape: &[usize], tensor_index: u64) -> Tensor {
    let count = shape.iter().product::<usize>();
    let v = unit_values(tensor_index, count);
    let values: Vec<f32> = if name.ends_with("running_var") {
        v.iter().map(|v| (1.0 + 0.5 * v) as f32).collect()
    } else if name.ends_with("running_mean") || name.ends_with("bias") {
        v.iter().map(|v| (0.1 * v) as f32).collect()
    } else if shape.len() == 1 {
        v.iter().map(|v| (1.0 + 0.2 * v) as f32).collect()
    } else {
        let fan_in = shape[1..].iter().product::<usize>() as f64;
        let scale = (6.0 / fan_in).sqrt();
        v.iter().map(|v| (v * scale) as f32).collect()
    };
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// Index base of the whole-model inputs in the closed form.
const INPUT_INDEX_BASE: u64 = 100_000;

pub fn closed_form_input(case: u64, shape: &[usize]) -> Tensor {
    let values: Vec<f32> = unit_values(INPUT_INDEX_BASE + case, shape.iter().product())
        .into_iter()
        .map(|v| v as f32)
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

/// torchvision's key list with shapes: `(name, shape)` sorted by name.
pub fn torchvision_keys() -> Vec<(String, Vec<usize>)> {
    let path = fixture_path("deep/r3d_state_dict_keys.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let (name, shape) = line.split_once(' ').expect("name and shape");
            let shape = shape.split(',').map(|d| d.parse().unwrap()).collect();
            (name.to_string(), shape)
        })
        .collect()
}

pub const NUM_CLASSES: usize = 5;

/// An R3d18 in a VarMap whose variables hold the closed-form weights.
fn closed_form_model() -> (VarMap, R3d18) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = R3d18::new(vb, NUM_CLASSES).unwrap();
    set_closed_form(&varmap);
    (varmap, model)
}

/// Sets every variable of an R3D-18 `varmap` (torchvision's names) to its closed-form value.
pub fn set_closed_form(varmap: &VarMap) {
    let keys = torchvision_keys();
    let data = varmap.data().lock().unwrap();
    for (j, (name, shape)) in keys.iter().enumerate() {
        let var = data
            .get(name)
            .unwrap_or_else(|| panic!("our model has no {name}"));
        var.set(&closed_form(name, shape, j as u64)).unwrap();
    }
}

#[test]
fn r3d18_parameter_names_and_shapes_are_torchvisions() {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let _model = R3d18::new(vb, NUM_CLASSES).unwrap();
    let data = varmap.data().lock().unwrap();
    let mut ours: Vec<(String, Vec<usize>)> = data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().dims().to_vec()))
        .collect();
    ours.sort();
    let expected = torchvision_keys();
    assert_eq!(expected.len(), 104);
    assert_eq!(ours, expected);
    // The fine-tuned prefixes name layer4 and the head, and nothing else.
    let trainable = ours
        .iter()
        .filter(|(k, _)| TRAINABLE_PREFIXES.iter().any(|p| k.starts_with(p)))
        .count();
    let layer4_and_head = ours
        .iter()
        .filter(|(k, _)| k.starts_with("layer4.") || k.starts_with("fc."))
        .count();
    assert_eq!(trainable, layer4_and_head);
    assert!(trainable > 0 && trainable < ours.len());
}

#[test]
fn r3d18_matches_torch_on_a_112_pixel_clip() {
    let fx = fixture_tensors("deep/r3d_model.safetensors");
    on_both_paths(|path| {
        let close = |what: &str, actual: &Tensor, expected: &Tensor| {
            assert_close(&format!("{path}: {what}"), actual, expected)
        };
        let (_varmap, model) = closed_form_model();
        let x = closed_form_input(0, &[1, 3, 8, 112, 112]);

        let trunk = model.forward_trunk(&x).unwrap();
        assert_eq!(trunk.dims(), &[1, 256, 2, 14, 14], "layer3 output");
        let stored = get(&fx, "a.trunk");
        let channels = stored.dim(1).unwrap();
        close("a.trunk", &trunk.narrow(1, 0, channels).unwrap(), stored);

        let emb = model.forward_embedding(&trunk, None).unwrap();
        close("a.embedding", &emb, get(&fx, "a.embedding"));
        let logits = model.forward_head(&emb, None).unwrap();
        close("a.logits", &logits, get(&fx, "a.logits"));
        let whole = model.forward(&x, None).unwrap();
        close("a.logits (forward)", &whole, get(&fx, "a.logits"));
        // As predictions run it: without gradients (the element-wise tails then overwrite each
        // layer's output in place on the CPU), layer4 with folded batch norms too.
        let trunk = vidcompare::deep::nn::no_grad(|| model.forward_trunk(&x)).unwrap();
        close(
            "a.trunk (no_grad)",
            &trunk.narrow(1, 0, channels).unwrap(),
            stored,
        );
        let emb = vidcompare::deep::nn::no_grad(|| model.forward_embedding(&trunk, None)).unwrap();
        close("a.embedding (no_grad)", &emb, get(&fx, "a.embedding"));
    });
}

#[test]
fn r3d18_matches_torch_on_odd_sizes_and_in_a_training_step() {
    let fx = fixture_tensors("deep/r3d_model.safetensors");
    on_both_paths(|path| {
        let close = |what: &str, actual: &Tensor, expected: &Tensor| {
            assert_close(&format!("{path}: {what}"), actual, expected)
        };
        let (varmap, model) = closed_form_model();
        let x = closed_form_input(1, &[2, 3, 5, 36, 44]);

        let trunk = model.forward_trunk(&x).unwrap();
        close("b.trunk", &trunk, get(&fx, "b.trunk"));
        let emb = model.forward_embedding(&trunk, None).unwrap();
        close("b.embedding", &emb, get(&fx, "b.embedding"));
        let logits = model.forward_head(&emb, None).unwrap();
        close("b.logits", &logits, get(&fx, "b.logits"));

        // The cached training path: trunk in eval mode, layer4 batch norms on batch statistics;
        // the head without dropout (the generator cannot reproduce our dropout masks).
        let mut noise = Noise::new(7);
        let emb = model.forward_embedding(&trunk, Some(&mut noise)).unwrap();
        let logits = model.forward_head(&emb, None).unwrap();
        close("b.train.logits", &logits, get(&fx, "b.train.logits"));
        let labels = get(&fx, "b.train.labels").to_dtype(DType::U32).unwrap();
        let loss = candle_nn::loss::cross_entropy(&logits, &labels).unwrap();
        close(
            "b.train.loss",
            &loss.reshape(1).unwrap(),
            get(&fx, "b.train.loss"),
        );
        let grads = loss.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        let mut checked = 0;
        for (key, expected) in &fx {
            if let Some(name) = key.strip_prefix("b.train.grad.") {
                let var = data
                    .get(name)
                    .unwrap_or_else(|| panic!("no variable {name}"));
                let grad = grad_of(&grads, var.as_tensor(), name);
                let rows = expected.dim(0).unwrap();
                close(key, &grad.narrow(0, 0, rows).unwrap(), expected);
                checked += 1;
            }
        }
        assert!(checked >= 5);
        let name = "layer4.1.conv2.1.running_var";
        let after = data.get(name).unwrap().as_tensor().copy().unwrap();
        close(name, &after, get(&fx, &format!("b.train.after.{name}")));
        // The frozen trunk gets no gradient.
        let stem = data.get("stem.0.weight").unwrap();
        assert!(grads.get(stem.as_tensor()).is_none());
    });
}

#[test]
fn r3d18_whole_model_train_mode_updates_every_batch_norm_and_trains_layer4_and_head() {
    let (varmap, model) = closed_form_model();
    let keys = torchvision_keys();
    let x = closed_form_input(1, &[2, 3, 5, 36, 44]);
    let logits = model.forward(&x, Some(&mut Noise::new(5))).unwrap();
    assert_eq!(logits.dims(), &[2, NUM_CLASSES]);
    let labels = Tensor::new(&[0u32, 4], &Device::Cpu).unwrap();
    let grads = candle_nn::loss::cross_entropy(&logits, &labels)
        .unwrap()
        .backward()
        .unwrap();
    let data = varmap.data().lock().unwrap();
    for (j, (name, shape)) in keys.iter().enumerate() {
        let var = data.get(name).unwrap();
        let value = var.as_tensor();
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            // torch's model.train(): batch statistics everywhere, running statistics move.
            let initial = closed_form(name, shape, j as u64);
            assert!(
                tensor_relative_error(name, value, &initial) > 1e-4,
                "{name} not updated"
            );
            assert!(grads.get(value).is_none(), "{name} has a gradient");
        } else {
            let trainable = TRAINABLE_PREFIXES.iter().any(|p| name.starts_with(p));
            assert_eq!(grads.get(value).is_some(), trainable, "gradient of {name}");
        }
    }
}

#[test]
fn r3d18_head_dropout_is_seeded_and_training_only() {
    let (_varmap, model) = closed_form_model();
    let emb = closed_form_input(2, &[4, 512]);
    let eval = model.forward_head(&emb, None).unwrap();
    assert_eq!(eval.dims(), &[4, NUM_CLASSES]);
    let a = model.forward_head(&emb, Some(&mut Noise::new(3))).unwrap();
    let b = model.forward_head(&emb, Some(&mut Noise::new(3))).unwrap();
    let c = model.forward_head(&emb, Some(&mut Noise::new(4))).unwrap();
    assert_eq!(tensor_relative_error("same seed", &a, &b), 0.0);
    assert!(tensor_relative_error("dropout vs eval", &a, &eval) > 1e-3);
    assert!(tensor_relative_error("other seed", &a, &c) > 1e-3);
}

#[test]
fn r3d18_rejects_inputs_of_the_wrong_shape() {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = R3d18::new(vb, 3).unwrap();
    let dev = Device::Cpu;
    let gray = Tensor::zeros((1, 1, 4, 32, 32), DType::F32, &dev).unwrap();
    let err = model.forward_trunk(&gray).unwrap_err().to_string();
    assert!(err.contains("(N, 3, T, H, W)"), "{err}");
    let wrong_trunk = Tensor::zeros((1, 128, 2, 4, 4), DType::F32, &dev).unwrap();
    assert!(model.forward_embedding(&wrong_trunk, None).is_err());
    let wrong_emb = Tensor::zeros((1, 256), DType::F32, &dev).unwrap();
    assert!(model.forward_head(&wrong_emb, None).is_err());
    assert!(R3d18::new(VarBuilder::from_varmap(&VarMap::new(), DType::F32, &dev), 0).is_err());
}

/// CPU timing of the two halves of the notebook's R3D-18 use, the best of 5 runs each (run in
/// release: `RAYON_NUM_THREADS=2 cargo test --release --test deep_r3d -- --ignored --nocapture`;
/// compare with `python3 tools/fixtures_deep_r3d.py --bench`).
#[test]
#[ignore]
fn r3d18_cpu_timing() {
    use std::time::Instant;
    let best_of = |reps: usize, f: &mut dyn FnMut()| -> f64 {
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = R3d18::new(vb, NUM_CLASSES).unwrap();
    let labels = Tensor::new(&[1u32], &Device::Cpu).unwrap();
    for t in [8usize, 16] {
        let x = closed_form_input(0, &[1, 3, t, 112, 112]);
        let trunk = model.forward_trunk(&x).unwrap(); // warm-up
        let trunk_s = best_of(5, &mut || {
            model.forward_trunk(&x).unwrap();
        });
        let mut noise = Noise::new(1);
        let train_s = best_of(5, &mut || {
            let emb = model.forward_embedding(&trunk, Some(&mut noise)).unwrap();
            let logits = model.forward_head(&emb, Some(&mut noise)).unwrap();
            let loss = candle_nn::loss::cross_entropy(&logits, &labels).unwrap();
            loss.backward().unwrap();
        });
        let dims = trunk.dims().to_vec();
        println!(
            "candle 3x{t}x112x112: forward_trunk {trunk_s:.3} s (-> {dims:?}), \
             embedding+head+backward {train_s:.3} s"
        );
    }
}
