//! The deep training loop's pieces against PyTorch (tools/fixtures_deep_train.py): Adam with L2
//! weight decay, StepLR, cross-entropy and softmax.

use crate::common::fixture_json;
use candle_core::{Device, Tensor, Var};
use serde_json::Value;
use vidcompare::deep::ops::{KernelPath, cpu_kernel_calls};
use vidcompare::deep::train::{Adam, step_lr};

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn adam_matches_torch_optim_adam_on_both_paths() {
    let f = fixture_json("deep/train_reference.json");
    let shape: Vec<usize> = f["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let grads: Vec<Tensor> = f["grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| Tensor::from_vec(floats(g), shape.clone(), &Device::Cpu).unwrap())
        .collect();
    // The fast path updates the parameter in place in one pass (a CPU kernel); the generic
    // path by tensor operations, as on a GPU. The path is chosen when the optimizer is built.
    for path in KernelPath::ALL {
        for case in f["adam"].as_array().unwrap() {
            let p = Var::from_tensor(
                &Tensor::from_vec(floats(&f["p0"]), shape.clone(), &Device::Cpu).unwrap(),
            )
            .unwrap();
            let lr = case["lr"].as_f64().unwrap();
            let wd = case["weight_decay"].as_f64().unwrap();
            let calls = cpu_kernel_calls();
            let mut adam = path.run(|| Adam::new(vec![("p".into(), p.clone())], lr, wd).unwrap());
            assert_eq!(
                cpu_kernel_calls() - calls,
                u64::from(path == KernelPath::Fast),
                "{}",
                path.name()
            );
            for (g, want) in grads.iter().zip(case["steps"].as_array().unwrap()) {
                // The gradient of sum(p * g) is g.
                let loss = (p.as_tensor() * g).unwrap().sum_all().unwrap();
                let gs = loss.backward().unwrap();
                adam.step(&gs).unwrap();
                let got = p
                    .as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                for (a, b) in got.iter().zip(floats(want)) {
                    assert!(
                        (a - b).abs() <= 1e-6 + 1e-5 * b.abs(),
                        "{} lr {lr} wd {wd}: {a} vs {b}",
                        path.name()
                    );
                }
            }
        }
    }
}

#[test]
fn step_lr_matches_torch() {
    let f = fixture_json("deep/train_reference.json");
    let s = &f["step_lr"];
    let base = s["base"].as_f64().unwrap();
    let step = s["step_size"].as_u64().unwrap() as usize;
    let gamma = s["gamma"].as_f64().unwrap();
    for (epoch, want) in s["lrs"].as_array().unwrap().iter().enumerate() {
        let got = step_lr(base, epoch, step, gamma);
        assert!(
            (got - want.as_f64().unwrap()).abs() < 1e-15,
            "epoch {epoch}"
        );
    }
}

#[test]
fn cross_entropy_and_softmax_match_torch() {
    let f = fixture_json("deep/train_reference.json");
    let c = &f["cross_entropy"];
    let logits = Tensor::from_vec(floats(&c["logits"]), (5, 3), &Device::Cpu).unwrap();
    let target: Vec<u32> = c["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    let target = Tensor::from_vec(target, 5, &Device::Cpu).unwrap();
    let loss = candle_nn::loss::cross_entropy(&logits, &target)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((loss as f64 - c["loss"].as_f64().unwrap()).abs() < 1e-6);
    let sm = candle_nn::ops::softmax(&logits, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    for (a, b) in sm.iter().zip(floats(&c["softmax"])) {
        assert!((a - b).abs() < 1e-6);
    }
}
