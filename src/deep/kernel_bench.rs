//! `vidcompare bench kernels`: the deep models' dispatching operations on one device, each kernel
//! path checked and timed there.
//!
//! What it checks, on the chosen device and on both [`KernelPath`]s:
//! - the depthwise convolution (output, input gradient, weight gradient) against the torch
//!   fixtures of `tools/fixtures_deep_effnet.py` (`effnet_depthwise.safetensors`), at the
//!   fixture tests' tolerance;
//! - the channels-last 3D convolution (output and both gradients) against the torch fixtures of
//!   `tools/fixtures_deep_r3d.py` (`r3d_conv3d.safetensors`);
//! - the depthwise convolution at EfficientNet-B0's own sizes against a float64 CPU reference;
//! - EfficientNet-B0's features and R3D-18's embedding, whole networks with the same random
//!   weights, against the CPU kernels (which `tests/it/deep_*.rs` check against torch).
//!
//! Each check records which kernel really ran (a CPU kernel, our CUDA kernel, or the generic
//! tensor ops), from the dispatch counters. With `reps > 0` it then times, with a device
//! synchronisation before each clock read, the depthwise convolution at those sizes (forward,
//! forward + backward), EfficientNet-B0 stage by stage on a video's frames, and R3D-18's trunk
//! and layer4 on a video's clips; on CUDA also with TF32 matrix products (what PyTorch's
//! cuDNN convolutions use by default), with the error that costs.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::conv3d::{conv3d_channels_last, conv3d_channels_last_inference, conv3d_ntchw};
use super::efficientnet::{EfficientNetB0, NUM_STAGES};
use super::nn::no_grad;
use super::ops::{KernelPath, cpu_kernel_calls, cuda_kernel_calls, depthwise_conv2d};
use super::r3d::R3d18;
use crate::{Error, Result};

/// Tolerance of the torch fixture checks (max abs error / max |reference|), as in
/// `tests/it/deep_effnet.rs`.
pub const FIXTURE_RTOL: f64 = 1e-5;
/// Float32 on the device against the float64 CPU reference, for outputs that sum at most k*k
/// terms (forward, input gradient).
pub const SUM_RTOL: f64 = 1e-5;
/// The weight gradient sums over batch and positions (up to 10^5 terms) in float32.
pub const REDUCTION_RTOL: f64 = 1e-4;
/// Whole networks against the CPU kernels, as the whole-network torch fixtures allow.
pub const NET_RTOL: f64 = 3e-5;

/// Sizes of the timed workloads.
#[derive(Debug, Clone, Copy)]
pub struct BenchSizes {
    /// Image side (the notebook: 224).
    pub size: usize,
    /// Frames of one video for EfficientNet-B0 (the notebook: 32).
    pub frames: usize,
    /// Clips of one video for R3D-18 (the notebook: 32 frames in 16-frame clips, 2).
    pub clips: usize,
    /// Frames per clip (the notebook: 16).
    pub clip_len: usize,
    /// Timed repetitions (after one untimed warm-up); 0 checks only.
    pub reps: usize,
}

impl Default for BenchSizes {
    fn default() -> Self {
        BenchSizes {
            size: 224,
            frames: 32,
            clips: 2,
            clip_len: 16,
            reps: 5,
        }
    }
}

/// One comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    /// "fast" or "generic" (the path asked for).
    pub path: String,
    /// What really ran: "cpu kernel", "cuda kernel" or "generic tensor ops".
    pub ran: String,
    /// Max abs error relative to max |reference|.
    pub error: f64,
    pub tolerance: f64,
    pub reference: String,
    pub ok: bool,
}

/// One timed workload.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub name: String,
    pub path: String,
    /// Median over the repetitions, milliseconds.
    pub median_ms: f64,
    pub min_ms: f64,
    pub reps: usize,
}

/// Everything `bench kernels` measured.
#[derive(Debug, Clone, Serialize)]
pub struct KernelReport {
    pub device: String,
    pub cuda_kernels_compiled: bool,
    pub checks: Vec<Check>,
    pub timings: Vec<Timing>,
    /// Every check passed.
    pub ok: bool,
}

impl KernelReport {
    /// A plain-text table of the checks and timings.
    pub fn render(&self) -> String {
        let mut s = format!("deep kernels on {}\n\n", self.device);
        s += &format!(
            "{:<56} {:<8} {:<18} {:>10} {:>9}  ok\n",
            "check", "path", "ran", "error", "tolerance"
        );
        for c in &self.checks {
            s += &format!(
                "{:<56} {:<8} {:<18} {:>10.2e} {:>9.0e}  {}\n",
                c.name,
                c.path,
                c.ran,
                c.error,
                c.tolerance,
                if c.ok { "yes" } else { "NO" }
            );
        }
        if !self.timings.is_empty() {
            s += &format!(
                "\n{:<64} {:<8} {:>10} {:>10}\n",
                "timed", "path", "median ms", "min ms"
            );
            for t in &self.timings {
                s += &format!(
                    "{:<64} {:<8} {:>10.3} {:>10.3}\n",
                    t.name, t.path, t.median_ms, t.min_ms
                );
            }
        }
        s += &format!(
            "\n{}\n",
            if self.ok {
                "all checks passed"
            } else {
                "SOME CHECKS FAILED"
            }
        );
        s
    }
}

/// The depthwise layers of EfficientNet-B0 at 224 px, one per kernel size and stride, and the
/// widest: (name, channels, side, kernel, stride).
const DEPTHWISE_CASES: [(&str, usize, usize, usize, usize); 4] = [
    ("stage 2 entry", 96, 112, 3, 2),
    ("stage 3 entry", 144, 56, 5, 2),
    ("stage 5", 672, 14, 5, 1),
    ("stage 6", 1152, 7, 5, 1),
];

/// "stage 5: 2 x 672 ch, 14 px, k5 s1"
fn depthwise_label(stage: &str, n: usize, c: usize, side: usize, k: usize, s: usize) -> String {
    format!("{stage}: {n} x {c} ch, {side} px, k{k} s{s}")
}
/// Batch of the depthwise checks (the timings use a video's frames).
const DEPTHWISE_CHECK_BATCH: usize = 2;

/// Uniform numbers in [-1, 1) of `shape`, on the CPU, from `seed`.
fn uniform(shape: &[usize], seed: u64) -> Result<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.r#gen::<f32>() * 2.0 - 1.0).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// Max abs error of `a` against `reference`, relative to max |reference|.
fn relative_error(a: &Tensor, reference: &Tensor) -> Result<f64> {
    if a.dims() != reference.dims() {
        return Err(Error::Config(format!(
            "shape {:?} against the reference's {:?}",
            a.dims(),
            reference.dims()
        )));
    }
    let a = a.to_device(&Device::Cpu)?.to_dtype(DType::F64)?;
    let r = reference.to_device(&Device::Cpu)?.to_dtype(DType::F64)?;
    let scale = r.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?;
    let err = (a - &r)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?;
    if !err.is_finite() {
        return Ok(f64::INFINITY);
    }
    Ok(err / scale.max(1e-30))
}

/// Runs `f` on `path` and says which kernel really ran.
fn on_path<R>(path: KernelPath, f: impl FnOnce() -> Result<R>) -> Result<(R, String)> {
    let (cpu, cuda) = (cpu_kernel_calls(), cuda_kernel_calls());
    let r = path.run(f)?;
    let ran = if cuda_kernel_calls() > cuda {
        "cuda kernel"
    } else if cpu_kernel_calls() > cpu {
        "cpu kernel"
    } else {
        "generic tensor ops"
    };
    Ok((r, ran.to_string()))
}

struct Checks<'a> {
    path: KernelPath,
    ran: &'a str,
    out: &'a mut Vec<Check>,
}

impl Checks<'_> {
    fn add(
        &mut self,
        name: String,
        actual: &Tensor,
        reference: &Tensor,
        tolerance: f64,
        what: &str,
    ) -> Result<()> {
        let error = relative_error(actual, reference)?;
        self.out.push(Check {
            name,
            path: self.path.name().to_string(),
            ran: self.ran.to_string(),
            error,
            tolerance,
            reference: what.to_string(),
            ok: error <= tolerance,
        });
        Ok(())
    }
}

/// Forward and both gradients of a depthwise convolution on `device`, with `g` the upstream
/// gradient (the loss is `sum(y * g)`, as in the fixtures).
fn depthwise_with_grads(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Result<[Tensor; 3]> {
    let x = Var::from_tensor(&x.to_device(device)?)?;
    let w = Var::from_tensor(&w.to_device(device)?)?;
    let y = depthwise_conv2d(&x, &w, stride, padding)?;
    let grads = (&y * g.to_device(device)?)?.sum_all()?.backward()?;
    let missing = || Error::Config("depthwise convolution: no gradient".into());
    let dx = grads.get(&x).ok_or_else(missing)?.clone();
    let dw = grads.get(&w).ok_or_else(missing)?.clone();
    Ok([y, dx, dw])
}

/// One safetensors file of torch fixtures.
struct Fixture {
    file: std::path::PathBuf,
    tensors: HashMap<String, Tensor>,
}

impl Fixture {
    fn load(folder: &Path, name: &str) -> Result<Fixture> {
        let file = folder.join(name);
        let tensors = candle_core::safetensors::load(&file, &Device::Cpu).map_err(|e| {
            Error::Config(format!("cannot read the fixture {}: {e}", file.display()))
        })?;
        Ok(Fixture { file, tensors })
    }

    fn get(&self, key: &str) -> Result<&Tensor> {
        self.tensors
            .get(key)
            .ok_or_else(|| Error::Config(format!("{} has no tensor {key}", self.file.display())))
    }
}

fn fixture_checks(device: &Device, fixtures: &Path, out: &mut Vec<Check>) -> Result<()> {
    let fx = Fixture::load(fixtures, "effnet_depthwise.safetensors")?;
    let get = |key: &str| fx.get(key);
    for (tag, stride, padding) in [("k3s1", 1, 1), ("k5s2", 2, 2)] {
        for path in KernelPath::ALL {
            let (got, ran) = on_path(path, || {
                depthwise_with_grads(
                    get(&format!("{tag}.x"))?,
                    get(&format!("{tag}.w"))?,
                    get(&format!("{tag}.g"))?,
                    stride,
                    padding,
                    device,
                )
            })?;
            let mut checks = Checks {
                path,
                ran: &ran,
                out,
            };
            for (part, t) in ["y", "dx", "dw"].iter().zip(&got) {
                checks.add(
                    format!("depthwise {tag} {part}"),
                    t,
                    get(&format!("{tag}.{part}"))?,
                    FIXTURE_RTOL,
                    "torch fixture",
                )?;
            }
        }
    }
    Ok(())
}

/// Tolerance of the 3D convolution's torch fixture checks, as in `tests/it/deep_r3d.rs`.
pub const CONV3D_RTOL: f64 = 1e-4;

/// The channels-last 3D convolution (R3D-18's) with gradients against the torch fixtures of
/// `tools/fixtures_deep_r3d.py` (`r3d_conv3d.safetensors`: strides, paddings and kernel shapes
/// of every kind, biases added after).
fn conv3d_fixture_checks(device: &Device, fixtures: &Path, out: &mut Vec<Check>) -> Result<()> {
    let fx = Fixture::load(fixtures, "r3d_conv3d.safetensors")?;
    let get = |key: &str| fx.get(key);
    let triple = |key: &str| -> Result<[usize; 3]> {
        let v: Vec<f64> = get(key)?.to_dtype(DType::F64)?.to_vec1()?;
        match v.as_slice() {
            [a, b, c] => Ok([*a as usize, *b as usize, *c as usize]),
            _ => Err(Error::Config(format!(
                "{}: {key} is not a triple",
                fx.file.display()
            ))),
        }
    };
    let to_cl = |t: &Tensor| -> Result<Tensor> { Ok(t.permute((0, 2, 3, 4, 1))?.contiguous()?) };
    let mut case = 0;
    while fx.tensors.contains_key(&format!("case{case}.x")) {
        let p = format!("case{case}.");
        let (stride, padding) = (
            triple(&format!("{p}stride"))?,
            triple(&format!("{p}padding"))?,
        );
        for path in KernelPath::ALL {
            let (got, ran) = on_path(path, || {
                let x = Var::from_tensor(&to_cl(get(&format!("{p}x"))?)?.to_device(device)?)?;
                let w = Var::from_tensor(&get(&format!("{p}w"))?.to_device(device)?)?;
                let mut y = conv3d_channels_last(&x, &w, stride, padding)?;
                if let Ok(b) = get(&format!("{p}b")) {
                    y = y.broadcast_add(&b.to_device(device)?)?;
                }
                let g = to_cl(get(&format!("{p}g"))?)?.to_device(device)?;
                let grads = (&y * g)?.sum_all()?.backward()?;
                let missing = || Error::Config("conv3d: no gradient".into());
                let dx = grads.get(&x).ok_or_else(missing)?.clone();
                let dw = grads.get(&w).ok_or_else(missing)?.clone();
                Ok([y, dx, dw])
            })?;
            let mut checks = Checks {
                path,
                ran: &ran,
                out,
            };
            let expected = [
                to_cl(get(&format!("{p}y"))?)?,
                to_cl(get(&format!("{p}dx"))?)?,
                get(&format!("{p}dw"))?.clone(),
            ];
            for ((part, t), e) in ["y", "dx", "dw"].iter().zip(&got).zip(&expected) {
                checks.add(
                    format!("conv3d channels-last case{case} {part}"),
                    t,
                    e,
                    CONV3D_RTOL,
                    "torch fixture",
                )?;
            }
        }
        case += 1;
    }
    if case == 0 {
        return Err(Error::Config(format!("{} has no cases", fx.file.display())));
    }
    Ok(())
}

fn depthwise_size_checks(device: &Device, out: &mut Vec<Check>) -> Result<()> {
    for (i, &(stage, c, side, k, s)) in DEPTHWISE_CASES.iter().enumerate() {
        let name = depthwise_label(stage, DEPTHWISE_CHECK_BATCH, c, side, k, s);
        let p = k / 2;
        let x = uniform(&[DEPTHWISE_CHECK_BATCH, c, side, side], 10 + i as u64)?;
        let w = uniform(&[c, 1, k, k], 20 + i as u64)?;
        let o = (side + 2 * p - k) / s + 1;
        let g = uniform(&[DEPTHWISE_CHECK_BATCH, c, o, o], 30 + i as u64)?;
        let reference = KernelPath::Fast.run(|| {
            depthwise_with_grads(
                &x.to_dtype(DType::F64)?,
                &w.to_dtype(DType::F64)?,
                &g.to_dtype(DType::F64)?,
                s,
                p,
                &Device::Cpu,
            )
        })?;
        for path in KernelPath::ALL {
            let (got, ran) = on_path(path, || depthwise_with_grads(&x, &w, &g, s, p, device))?;
            let mut checks = Checks {
                path,
                ran: &ran,
                out,
            };
            for ((part, t), r) in ["y", "dx", "dw"].iter().zip(&got).zip(&reference) {
                let tol = if *part == "dw" {
                    REDUCTION_RTOL
                } else {
                    SUM_RTOL
                };
                checks.add(
                    format!("depthwise {name} {part}"),
                    t,
                    r,
                    tol,
                    "float64 on the CPU",
                )?;
            }
        }
    }
    Ok(())
}

/// The tensors of `varmap` copied to `device`, for a second copy of the same network there.
fn copy_to(varmap: &VarMap, device: &Device) -> Result<HashMap<String, Tensor>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Config("variable map poisoned".into()))?;
    data.iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().to_device(device)?)))
        .collect()
}

/// The same randomly initialised EfficientNet-B0 and R3D-18 on the CPU and on `device`.
struct Nets {
    effnet_cpu: EfficientNetB0,
    effnet: EfficientNetB0,
    r3d_cpu: R3d18,
    r3d: R3d18,
}

impl Nets {
    fn new(device: &Device) -> Result<Nets> {
        let vm = VarMap::new();
        let effnet_cpu =
            EfficientNetB0::new(VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))?;
        let effnet = EfficientNetB0::new(VarBuilder::from_tensors(
            copy_to(&vm, device)?,
            DType::F32,
            device,
        ))?;
        let vm = VarMap::new();
        let r3d_cpu = R3d18::new(VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu), 5)?;
        let r3d = R3d18::new(
            VarBuilder::from_tensors(copy_to(&vm, device)?, DType::F32, device),
            5,
        )?;
        Ok(Nets {
            effnet_cpu,
            effnet,
            r3d_cpu,
            r3d,
        })
    }
}

/// EfficientNet-B0 features and R3D-18 embeddings on `device` against the CPU kernels, on
/// small inputs (2 images of 96 px; one 8-frame clip of 64 px).
fn network_checks(nets: &Nets, device: &Device, out: &mut Vec<Check>) -> Result<()> {
    let images = uniform(&[2, 3, 96, 96], 40)?;
    let reference = nets
        .effnet_cpu
        .forward_features(&images, 0..NUM_STAGES, None)?;
    let clip = uniform(&[1, 3, 8, 64, 64], 41)?;
    let r3d_reference = nets
        .r3d_cpu
        .forward_embedding(&nets.r3d_cpu.forward_trunk(&clip)?, None)?;
    let on_device = (images.to_device(device)?, clip.to_device(device)?);
    for path in KernelPath::ALL {
        let (features, ran) = on_path(path, || {
            Ok(nets
                .effnet
                .forward_features(&on_device.0, 0..NUM_STAGES, None)?)
        })?;
        Checks {
            path,
            ran: &ran,
            out,
        }
        .add(
            "EfficientNet-B0 features, 2 x 96 px".into(),
            &features,
            &reference,
            NET_RTOL,
            "CPU kernels",
        )?;
        let (emb, ran) = on_path(path, || {
            let trunk = nets.r3d.forward_trunk(&on_device.1)?;
            Ok(nets.r3d.forward_embedding(&trunk, None)?)
        })?;
        Checks {
            path,
            ran: &ran,
            out,
        }
        .add(
            "R3D-18 embedding, 8 x 64 px clip".into(),
            &emb,
            &r3d_reference,
            NET_RTOL,
            "CPU kernels",
        )?;
    }
    Ok(())
}

/// Median and minimum milliseconds of `reps` runs of `f` (after one untimed run), with the
/// device synchronised before each clock read. The runs are on a worker thread of the pool, as
/// the models run in the pipeline (see [`on_pool`](super::ops::on_pool)).
fn time_ms(
    device: &Device,
    reps: usize,
    mut f: impl FnMut() -> Result<Tensor> + Send,
) -> Result<(f64, f64)> {
    super::ops::on_pool(device, || {
        let warm = f()?;
        super::device::sync(device)?;
        drop(warm);
        let mut ms = Vec::with_capacity(reps);
        for _ in 0..reps {
            super::device::sync(device)?;
            let t = Instant::now();
            let y = f()?;
            super::device::sync(device)?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            drop(y);
        }
        ms.sort_by(f64::total_cmp);
        Ok((ms[ms.len() / 2], ms[0]))
    })
}

/// The timed workloads, restricted to those whose name contains one of `only` (all when it is
/// empty); `seen` collects every workload's name, timed or not.
struct Timer<'a> {
    reps: usize,
    only: &'a [String],
    seen: Vec<String>,
    out: &'a mut Vec<Timing>,
}

impl Timer<'_> {
    /// Whether the workload `name` is timed.
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| name.contains(p.as_str()))
    }

    /// Times `f` as the workload `name` on `path` when it is wanted.
    fn run(
        &mut self,
        name: String,
        path: &str,
        f: impl FnOnce() -> Result<(f64, f64)>,
    ) -> Result<()> {
        let wanted = self.wants(&name);
        self.seen.push(name.clone());
        if wanted {
            let (median_ms, min_ms) = f()?;
            self.out.push(Timing {
                name,
                path: path.to_string(),
                median_ms,
                min_ms,
                reps: self.reps,
            });
        }
        Ok(())
    }
}

fn timings(
    nets: &Nets,
    device: &Device,
    sizes: BenchSizes,
    timer: &mut Timer,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let reps = sizes.reps;
    // The depthwise convolution alone, on a video's frames at 224 px.
    for (i, &(stage, c, side, k, s)) in DEPTHWISE_CASES.iter().enumerate() {
        let side = side * sizes.size / 224;
        let p = k / 2;
        if side == 0 {
            continue;
        }
        let name = depthwise_label(stage, sizes.frames, c, side, k, s);
        let x = uniform(&[sizes.frames, c, side, side], 50 + i as u64)?.to_device(device)?;
        let w = uniform(&[c, 1, k, k], 60 + i as u64)?.to_device(device)?;
        for path in KernelPath::ALL {
            timer.run(format!("depthwise {name}, forward"), path.name(), || {
                path.run(|| time_ms(device, reps, || Ok(depthwise_conv2d(&x, &w, s, p)?)))
            })?;
            let xv = Var::from_tensor(&x)?;
            let wv = Var::from_tensor(&w)?;
            timer.run(
                format!("depthwise {name}, forward + backward"),
                path.name(),
                || {
                    path.run(|| {
                        time_ms(device, reps, || {
                            let y = depthwise_conv2d(&xv, &wv, s, p)?;
                            let grads = y.sum_all()?.backward()?;
                            Ok(grads.get(&wv).cloned().unwrap_or_else(|| y.clone()))
                        })
                    })
                },
            )?;
        }
    }
    // EfficientNet-B0 on one video's frames, stage by stage and whole (evaluation mode, inside
    // no_grad as predictions run, as torch's side under torch.no_grad()).
    let frames = uniform(&[sizes.frames, 3, sizes.size, sizes.size], 70)?.to_device(device)?;
    let tag = format!("{} x {} px", sizes.frames, sizes.size);
    for path in KernelPath::ALL {
        let _guard = path.enter();
        let mut x = frames.clone();
        for stage in 0..NUM_STAGES {
            let input = x.clone();
            timer.run(
                format!("EfficientNet-B0 features[{stage}], {tag}"),
                path.name(),
                || {
                    time_ms(device, reps, || {
                        Ok(no_grad(|| {
                            nets.effnet.forward_features(&input, stage..stage + 1, None)
                        })?)
                    })
                },
            )?;
            x = no_grad(|| nets.effnet.forward_features(&input, stage..stage + 1, None))?;
        }
        timer.run(format!("EfficientNet-B0 whole, {tag}"), path.name(), || {
            time_ms(device, reps, || {
                Ok(no_grad(|| {
                    nets.effnet.forward_features(&frames, 0..NUM_STAGES, None)
                })?)
            })
        })?;
    }
    // R3D-18 on one video's clips: the trunk (stem..layer3) and layer4 + pooling.
    let clips = uniform(
        &[sizes.clips, 3, sizes.clip_len, sizes.size, sizes.size],
        71,
    )?
    .to_device(device)?;
    let clip_tag = format!(
        "{} x {} frames x {} px",
        sizes.clips, sizes.clip_len, sizes.size
    );
    timer.run(
        format!("R3D-18 trunk (stem..layer3), {clip_tag}"),
        "fast",
        || {
            time_ms(device, reps, || {
                Ok(no_grad(|| nets.r3d.forward_trunk(&clips))?)
            })
        },
    )?;
    timer.run(format!("R3D-18 layer4 + pool, {clip_tag}"), "fast", || {
        let trunk = no_grad(|| nets.r3d.forward_trunk(&clips))?;
        time_ms(device, reps, || {
            Ok(no_grad(|| nets.r3d.forward_embedding(&trunk, None))?)
        })
    })?;
    timer.run(format!("R3D-18 whole, {clip_tag}"), "fast", || {
        time_ms(device, reps, || {
            Ok(no_grad(|| {
                let trunk = nets.r3d.forward_trunk(&clips)?;
                nets.r3d.forward_embedding(&trunk, None)
            })?)
        })
    })?;
    // One of R3D-18's layer1 convolutions (64 -> 64 channels, 3x3x3, at half the side) and
    // its parts: the whole channels-last convolution as the network trains it (channel-major
    // patches, differentiable) and as its frozen trunk runs it at inference; the same on an
    // NTCHW input (no permutes); candle's conv2d on the folded temporal taps (im2col
    // and a product); a matrix product of the same size (the arithmetic alone).
    let side = (sizes.size / 2).max(3);
    let (n, t, c) = (sizes.clips, sizes.clip_len, 64);
    let conv_tag = format!("{n} x {t} frames x {side} px, 64 -> 64 ch, 3x3x3");
    let x_cl = uniform(&[n, t, side, side, c], 72)?.to_device(device)?;
    let w = (uniform(&[c, c, 3, 3, 3], 73)? * 0.05)?.to_device(device)?;
    let x_ntchw = x_cl.permute((0, 1, 4, 2, 3))?.contiguous()?;
    let folded = uniform(&[n * t, c * 3, side, side], 74)?.to_device(device)?;
    let w2 = w.reshape((c, c * 3, 3, 3))?;
    let cols = uniform(&[n * t * side * side, c * 27], 75)?.to_device(device)?;
    let w_mat = w.reshape((c, c * 27))?.t()?;
    timer.run(format!("conv3d channels-last, {conv_tag}"), "fast", || {
        time_ms(device, reps, || {
            Ok(conv3d_channels_last(&x_cl, &w, [1; 3], [1; 3])?)
        })
    })?;
    // As the frozen trunk runs it at inference: tap-major, the patch rows built tile by tile
    // beside the product on the CPU.
    timer.run(
        format!("conv3d channels-last, inference, {conv_tag}"),
        "fast",
        || {
            time_ms(device, reps, || {
                Ok(conv3d_channels_last_inference(&x_cl, &w, [1; 3], [1; 3])?)
            })
        },
    )?;
    timer.run(
        format!("conv3d NTCHW (no permutes), {conv_tag}"),
        "generic",
        || {
            time_ms(device, reps, || {
                Ok(conv3d_ntchw(&x_ntchw, &w, [1; 3], [1; 3])?)
            })
        },
    )?;
    timer.run(
        format!("candle conv2d on the folded taps, {conv_tag}"),
        "generic",
        || time_ms(device, reps, || Ok(folded.conv2d(&w2, 1, 1, 1, 1)?)),
    )?;
    timer.run(
        format!("matrix product of the same size, {conv_tag}"),
        "generic",
        || time_ms(device, reps, || Ok(cols.matmul(&w_mat)?)),
    )?;
    // On CUDA: the same networks with TF32 matrix products (PyTorch's default for cuDNN
    // convolutions), timed, and what it costs in accuracy on the check inputs.
    if device.is_cuda() {
        let before = candle_core::cuda::gemm_reduced_precision_f32();
        candle_core::cuda::set_gemm_reduced_precision_f32(true);
        let result = (|| -> Result<()> {
            timer.run(
                format!("EfficientNet-B0 whole, {tag}, TF32"),
                "fast",
                || {
                    time_ms(device, reps, || {
                        Ok(nets.effnet.forward_features(&frames, 0..NUM_STAGES, None)?)
                    })
                },
            )?;
            timer.run(format!("R3D-18 whole, {clip_tag}, TF32"), "fast", || {
                time_ms(device, reps, || {
                    let trunk = nets.r3d.forward_trunk(&clips)?;
                    Ok(nets.r3d.forward_embedding(&trunk, None)?)
                })
            })?;
            let mut fast = Vec::new();
            network_checks(nets, device, &mut fast)?;
            for mut c in fast.into_iter().filter(|c| c.path == "fast") {
                c.name += ", TF32 (information)";
                // Reported, not required: TF32 keeps 10 mantissa bits.
                c.tolerance = f64::INFINITY;
                c.ok = true;
                checks.push(c);
            }
            Ok(())
        })();
        candle_core::cuda::set_gemm_reduced_precision_f32(before);
        result?;
    }
    Ok(())
}

/// Checks every dispatching deep operation on `device` (both paths) against the torch fixtures
/// in `fixtures` (the folder of `effnet_depthwise.safetensors` and `r3d_conv3d.safetensors`)
/// and the CPU kernels, then, with
/// `sizes.reps > 0`, times them: every workload, or, when `only` is not empty, those whose name
/// contains one of its strings (an error names the workloads when one of them matches none).
pub fn bench_kernels(
    device: &Device,
    fixtures: &Path,
    sizes: BenchSizes,
    only: &[String],
) -> Result<KernelReport> {
    let mut checks = Vec::new();
    fixture_checks(device, fixtures, &mut checks)?;
    conv3d_fixture_checks(device, fixtures, &mut checks)?;
    depthwise_size_checks(device, &mut checks)?;
    let nets = Nets::new(device)?;
    network_checks(&nets, device, &mut checks)?;
    let mut timed = Vec::new();
    if sizes.reps > 0 {
        let mut timer = Timer {
            reps: sizes.reps,
            only,
            seen: Vec::new(),
            out: &mut timed,
        };
        timings(&nets, device, sizes, &mut timer, &mut checks)?;
        let mut seen = timer.seen;
        // One name per workload (each path is timed under the same name).
        let mut names = std::collections::HashSet::new();
        seen.retain(|n| names.insert(n.clone()));
        if let Some(p) = only
            .iter()
            .find(|p| !seen.iter().any(|n| n.contains(p.as_str())))
        {
            return Err(Error::Config(format!(
                "bench kernels --only {p:?}: no workload's name contains it; the workloads \
                 are:\n  {}",
                seen.join("\n  ")
            )));
        }
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(KernelReport {
        device: super::device::describe(device),
        cuda_kernels_compiled: cfg!(feature = "cuda"),
        checks,
        timings: timed,
        ok,
    })
}
