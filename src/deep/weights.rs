//! Parameters of the deep models: seeded initialisation, torchvision weights, and checkpoints.
//!
//! [`ParamStore`] is the one place parameters come from. Models ask for each tensor by its
//! torchvision name through a candle `VarBuilder`; the store answers with the pretrained tensor
//! when a weights file holds that name, and otherwise initialises it from the model's init hint
//! with a generator seeded by the run's seed and the parameter's name, so a run is reproducible
//! on CPU and CUDA alike (candle cannot seed its CPU generator) and independent of creation order.
//!
//! Checkpoints are safetensors files whose metadata carries a checksum of every tensor's bytes;
//! a checkpoint that fails it is reported as corrupt and never used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::init::{Init, NormalOrUniform};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::error::IoContext;
use crate::{Error, Result, bail};

/// The two torchvision architectures we load weights for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// `torchvision.models.efficientnet_b0` (under `backbone.` in the notebook's model).
    EfficientNetB0,
    /// `torchvision.models.video.r3d_18`.
    R3d18,
}

impl Arch {
    fn torchvision_name(self) -> &'static str {
        match self {
            Arch::EfficientNetB0 => "efficientnet_b0",
            Arch::R3d18 => "r3d_18",
        }
    }
}

/// Which parameters came from a weights file and which were initialised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadLog {
    /// Where pretrained weights came from, if anywhere.
    pub source: Option<String>,
    /// Parameter names taken from the file.
    pub loaded: Vec<String>,
    /// Parameter names initialised from the seed.
    pub initialised: Vec<String>,
    /// Names in the file the model did not use (e.g. torchvision's ImageNet classifier).
    pub unused: Vec<String>,
}

impl LoadLog {
    /// True when no parameter came from a weights file: the model is trained from scratch.
    pub fn from_scratch(&self) -> bool {
        self.loaded.is_empty()
    }
}

/// Every parameter of one model, with where it came from.
pub struct ParamStore {
    varmap: VarMap,
    pretrained: HashMap<String, Tensor>,
    source: Option<PathBuf>,
    seed: u64,
    log: Mutex<LoadLog>,
}

impl ParamStore {
    /// A store that initialises every parameter from `seed`.
    pub fn seeded(seed: u64) -> Arc<ParamStore> {
        Arc::new(ParamStore {
            varmap: VarMap::new(),
            pretrained: HashMap::new(),
            source: None,
            seed,
            log: Mutex::new(LoadLog::default()),
        })
    }

    /// A store that takes parameters from `tensors` (already under the model's names, see
    /// [`read_weights`]) and initialises the rest from `seed`.
    pub fn with_weights(
        seed: u64,
        tensors: HashMap<String, Tensor>,
        source: impl Into<PathBuf>,
    ) -> Arc<ParamStore> {
        let source = source.into();
        Arc::new(ParamStore {
            varmap: VarMap::new(),
            pretrained: tensors,
            log: Mutex::new(LoadLog {
                source: Some(source.display().to_string()),
                ..LoadLog::default()
            }),
            source: Some(source),
            seed,
        })
    }

    /// A `VarBuilder` over this store, creating f32 parameters on `device`.
    pub fn var_builder(self: &Arc<Self>, device: &Device) -> VarBuilder<'static> {
        let backend: Box<dyn SimpleBackend + 'static> = Box::new(Backend(Arc::clone(self)));
        VarBuilder::from_backend(backend, DType::F32, device.clone())
    }

    /// The variables created so far, by name.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Check that a weights file was really used, after the model was built; returns the log.
    ///
    /// A file none of whose tensors the model asked for is an error (the wrong architecture);
    /// leftover tensors are listed in [`LoadLog::unused`].
    pub fn finish(&self) -> Result<LoadLog> {
        let mut log = self.log.lock().expect("log lock").clone();
        if let Some(src) = &self.source {
            let used: std::collections::HashSet<&String> = log.loaded.iter().collect();
            let mut unused: Vec<String> = self
                .pretrained
                .keys()
                .filter(|k| !used.contains(k))
                .cloned()
                .collect();
            unused.sort();
            if log.loaded.is_empty() {
                bail!(
                    Checkpoint,
                    src,
                    "none of its {} tensors is a parameter of this model (first: {}); \
                     is it the right architecture's checkpoint?",
                    self.pretrained.len(),
                    unused.first().map(String::as_str).unwrap_or("none"),
                );
            }
            log.unused = unused;
        }
        log.loaded.sort();
        log.initialised.sort();
        Ok(log)
    }

    /// Trainable variables: those whose name starts with one of `prefixes`, without BatchNorm's
    /// running statistics (they are updated by the forward pass, not by the optimiser). Sorted
    /// by name.
    pub fn trainable(&self, prefixes: &[&str]) -> Vec<(String, Var)> {
        let data = self.varmap.data().lock().expect("varmap lock");
        let mut out: Vec<(String, Var)> = data
            .iter()
            .filter(|(name, _)| prefixes.iter().any(|p| name.starts_with(p)))
            .filter(|(name, _)| !is_buffer(name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// (total, trainable) parameter counts; BatchNorm running statistics are buffers, not
    /// parameters (as torch's `parameters()`).
    pub fn counts(&self, prefixes: &[&str]) -> (u64, u64) {
        let data = self.varmap.data().lock().expect("varmap lock");
        let mut total = 0u64;
        let mut trainable = 0u64;
        for (name, v) in data.iter() {
            if is_buffer(name) {
                continue;
            }
            let n = v.elem_count() as u64;
            total += n;
            if prefixes.iter().any(|p| name.starts_with(p)) {
                trainable += n;
            }
        }
        (total, trainable)
    }

    /// A copy of every variable's current value, by name (a best-so-far snapshot).
    pub fn snapshot(&self) -> Result<BTreeMap<String, Tensor>> {
        let data = self.varmap.data().lock().expect("varmap lock");
        data.iter()
            .map(|(n, v)| Ok((n.clone(), v.as_tensor().copy()?)))
            .collect()
    }

    /// Set variables from `values` (a snapshot or the checkpoint at `origin`); every variable
    /// must be present with its shape.
    pub fn restore(
        &self,
        values: &BTreeMap<String, Tensor>,
        origin: impl AsRef<Path>,
    ) -> Result<()> {
        let origin = origin.as_ref();
        let data = self.varmap.data().lock().expect("varmap lock");
        for (name, var) in data.iter() {
            let Some(t) = values.get(name) else {
                bail!(
                    Checkpoint,
                    origin,
                    "has no tensor `{name}` this model needs"
                );
            };
            if t.dims() != var.dims() {
                bail!(
                    Checkpoint,
                    origin,
                    "tensor `{name}` has shape {:?}, the model needs {:?}",
                    t.dims(),
                    var.dims()
                );
            }
            var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
        }
        Ok(())
    }
}

/// BatchNorm buffers: running statistics and torch's batch counter.
pub fn is_buffer(name: &str) -> bool {
    name.ends_with("running_mean")
        || name.ends_with("running_var")
        || name.ends_with("num_batches_tracked")
}

struct Backend(Arc<ParamStore>);

impl SimpleBackend for Backend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let store = &self.0;
        let mut data = store.varmap.data().lock().expect("varmap lock");
        if let Some(v) = data.get(name) {
            if v.shape() != &s {
                candle_core::bail!("parameter `{name}` asked twice with different shapes");
            }
            return Ok(v.as_tensor().clone());
        }
        let mut log = store.log.lock().expect("log lock");
        let tensor = match store.pretrained.get(name) {
            Some(t) => {
                if t.shape() != &s {
                    let src = store
                        .source
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    candle_core::bail!(
                        "{src}: tensor `{name}` has shape {:?}, the model needs {:?}",
                        t.dims(),
                        s.dims()
                    );
                }
                log.loaded.push(name.to_string());
                t.to_dtype(dtype)?.to_device(dev)?
            }
            None => {
                log.initialised.push(name.to_string());
                let values = sample_init(&h, &s, store.seed, name);
                Tensor::from_vec(values, s.clone(), &Device::Cpu)?
                    .to_dtype(dtype)?
                    .to_device(dev)?
            }
        };
        let var = Var::from_tensor(&tensor)?;
        let t = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let store = &self.0;
        let data = store.varmap.data().lock().expect("varmap lock");
        match data.get(name) {
            Some(v) => v.as_tensor().to_dtype(dtype)?.to_device(dev),
            None => candle_core::bail!("parameter `{name}` is not known without its shape"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.pretrained.contains_key(name)
    }
}

/// Values for a parameter of shape `shape` drawn as `init` says, from a generator seeded by
/// `seed` and the parameter's name (so each parameter's values do not depend on the others).
pub fn sample_init(init: &Init, shape: &Shape, seed: u64, name: &str) -> Vec<f32> {
    let n = shape.elem_count();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ xxh3_64(name.as_bytes()));
    let uniform = |rng: &mut ChaCha8Rng, lo: f64, hi: f64| -> Vec<f32> {
        (0..n)
            .map(|_| (lo + (hi - lo) * rng.r#gen::<f64>()) as f32)
            .collect()
    };
    let normal = |rng: &mut ChaCha8Rng, mean: f64, std: f64| -> Vec<f32> {
        (0..n)
            .map(|_| {
                // Box-Muller; 1 - u keeps the logarithm finite.
                let u1: f64 = 1.0 - rng.r#gen::<f64>();
                let u2: f64 = rng.r#gen::<f64>();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mean + std * z) as f32
            })
            .collect()
    };
    match *init {
        Init::Const(v) => vec![v as f32; n],
        Init::Randn { mean, stdev } => normal(&mut rng, mean, stdev),
        Init::Uniform { lo, up } => uniform(&mut rng, lo, up),
        Init::Kaiming {
            dist,
            fan,
            non_linearity,
        } => {
            let fan = fan.for_shape(shape).max(1) as f64;
            let std = non_linearity.gain() / fan.sqrt();
            match dist {
                NormalOrUniform::Uniform => {
                    let bound = 3f64.sqrt() * std;
                    uniform(&mut rng, -bound, bound)
                }
                NormalOrUniform::Normal => normal(&mut rng, 0.0, std),
            }
        }
    }
}

/// Read a weights file: `.safetensors`, or a zip-format `.pth` / `.pt` (torch >= 1.6) through
/// candle's pickle reader. Older pickle-only `.pth` files are refused with a pointer to
/// `tools/convert_torchvision.py`.
pub fn read_tensor_file(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        bail!(Checkpoint, path, "weights file not found");
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let tensors: HashMap<String, Tensor> = match ext.as_str() {
        "safetensors" => candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| {
            Error::checkpoint(path, format!("not a readable safetensors file ({e})"))
        })?,
        "pth" | "pt" | "bin" => candle_core::pickle::read_all(path)
            .map_err(|e| {
                Error::checkpoint(
                    path,
                    format!(
                        "cannot read this PyTorch file ({e}); candle reads only zip-format \
                         checkpoints (torch >= 1.6): convert it with \
                         `python3 tools/convert_torchvision.py --pth {} --out weights.safetensors`",
                        path.display()
                    ),
                )
            })?
            .into_iter()
            .collect(),
        _ => bail!(Checkpoint, path, "weights must be .safetensors or .pth"),
    };
    Ok(tensors)
}

/// Read torchvision (or notebook, or our own) weights for `arch` and rename them to our
/// model's parameter names: torchvision's `efficientnet_b0` keys go under `backbone.` and its
/// ImageNet classifier is dropped; `r3d_18`'s Kinetics `fc` is dropped (the notebook replaces
/// it). Files already in the notebook's naming pass unchanged. BatchNorm's batch counters are
/// dropped, and every tensor becomes f32.
pub fn read_weights(path: &Path, arch: Arch) -> Result<HashMap<String, Tensor>> {
    let raw = read_tensor_file(path)?;
    let mut out = HashMap::with_capacity(raw.len());
    for (name, t) in raw {
        // Checkpoints saved from a wrapper (DataParallel) prefix "module.".
        let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
        if name.ends_with("num_batches_tracked") {
            continue;
        }
        let mapped = match arch {
            Arch::EfficientNetB0 => {
                if name.starts_with("classifier.") {
                    continue;
                }
                if name.starts_with("features.") {
                    format!("backbone.{name}")
                } else {
                    name
                }
            }
            Arch::R3d18 => {
                if name == "fc.weight" || name == "fc.bias" {
                    continue;
                }
                name
            }
        };
        let t = t
            .to_dtype(DType::F32)
            .map_err(|e| Error::checkpoint(path, format!("tensor `{mapped}`: {e}")))?;
        out.insert(mapped, t);
    }
    if out.is_empty() {
        bail!(
            Checkpoint,
            path,
            "holds no tensors usable for {}",
            arch.torchvision_name()
        );
    }
    Ok(out)
}

const CHECKSUM_KEY: &str = "vidcompare.xxh3";

/// Save every variable of `store` to a safetensors checkpoint at `path`, atomically, with a
/// checksum and `meta` in its metadata. Returns the file size in bytes.
pub fn save_checkpoint(
    store: &ParamStore,
    path: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<u64> {
    let snapshot = store.snapshot()?;
    save_tensors(&snapshot, path, meta)
}

/// Save named tensors as a checksummed safetensors file (see [`save_checkpoint`]).
pub fn save_tensors(
    tensors: &BTreeMap<String, Tensor>,
    path: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<u64> {
    let mut bytes: BTreeMap<&str, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, t) in tensors {
        let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        bytes.insert(name.as_str(), (t.dims().to_vec(), raw));
    }
    let mut info: HashMap<String, String> = meta.clone().into_iter().collect();
    info.insert(CHECKSUM_KEY.into(), format!("{:016x}", checksum(&bytes)));
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(n, (shape, raw))| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)
                .map(|v| (*n, v))
                .map_err(|e| Error::checkpoint(path, e.to_string()))
        })
        .collect::<Result<_>>()?;
    crate::util::fs::write_atomic_with(path, |tmp| {
        safetensors::tensor::serialize_to_file(views, Some(info), tmp)
            .map_err(|e| Error::checkpoint(path, format!("cannot write checkpoint ({e})")))
    })?;
    Ok(std::fs::metadata(path).at(path)?.len())
}

fn checksum(bytes: &BTreeMap<&str, (Vec<usize>, Vec<u8>)>) -> u64 {
    let mut h = Xxh3::new();
    for (name, (shape, raw)) in bytes {
        h.update(name.as_bytes());
        for d in shape {
            h.update(&(*d as u64).to_le_bytes());
        }
        h.update(raw);
    }
    h.digest()
}

/// Load a checkpoint written by [`save_checkpoint`], verifying its checksum. A file that fails
/// to parse or to match its checksum is an error saying it is corrupt.
pub fn load_checkpoint(
    path: &Path,
) -> Result<(BTreeMap<String, Tensor>, BTreeMap<String, String>)> {
    let buf = std::fs::read(path).at(path)?;
    let corrupt = |why: String| {
        Error::checkpoint(
            path,
            format!("corrupt checkpoint ({why}); delete it to retrain"),
        )
    };
    let st = safetensors::SafeTensors::deserialize(&buf).map_err(|e| corrupt(e.to_string()))?;
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&buf).map_err(|e| corrupt(e.to_string()))?;
    let meta: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let expected = meta
        .get(CHECKSUM_KEY)
        .ok_or_else(|| corrupt("no checksum in its metadata".into()))?
        .clone();
    let mut bytes: BTreeMap<&str, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    let views = st.tensors();
    for (name, view) in &views {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(corrupt(format!("tensor `{name}` is not f32")));
        }
        bytes.insert(name.as_str(), (view.shape().to_vec(), view.data().to_vec()));
    }
    if format!("{:016x}", checksum(&bytes)) != expected {
        return Err(corrupt("checksum mismatch".into()));
    }
    let mut tensors = BTreeMap::new();
    for (name, (shape, raw)) in bytes {
        let v: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let t = Tensor::from_vec(v, shape, &Device::Cpu)?;
        tensors.insert(name.to_string(), t);
    }
    let meta = meta
        .into_iter()
        .filter(|(k, _)| k != CHECKSUM_KEY)
        .collect();
    Ok((tensors, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::init::{FanInOut, NonLinearity};

    #[test]
    fn seeded_init_depends_on_seed_and_name_only() {
        let s = Shape::from((64, 3, 3, 3));
        let init = Init::Kaiming {
            dist: NormalOrUniform::Normal,
            fan: FanInOut::FanOut,
            non_linearity: NonLinearity::ReLU,
        };
        let a = sample_init(&init, &s, 7, "stem.0.weight");
        assert_eq!(a, sample_init(&init, &s, 7, "stem.0.weight"));
        assert_ne!(a, sample_init(&init, &s, 8, "stem.0.weight"));
        assert_ne!(a, sample_init(&init, &s, 7, "stem.1.weight"));
        // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (64 * 9)).
        let n = a.len() as f64;
        let mean = a.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let want = 2.0 / (64.0 * 9.0);
        assert!(mean.abs() < 0.02, "{mean}");
        assert!((var / want - 1.0).abs() < 0.1, "{var} vs {want}");
        let u = sample_init(&Init::Uniform { lo: -0.5, up: 0.25 }, &s, 1, "x");
        assert!(u.iter().all(|&x| (-0.5..0.25).contains(&x)));
    }

    #[test]
    fn checkpoint_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = ParamStore::seeded(3);
        let vb = store.var_builder(&Device::Cpu);
        let lin = candle_nn::linear(4, 2, vb.pp("fc")).unwrap();
        let _ = lin;
        let path = dir.path().join("m.safetensors");
        let mut meta = BTreeMap::new();
        meta.insert("model".to_string(), "test".to_string());
        save_checkpoint(&store, &path, &meta).unwrap();
        let (t, m) = load_checkpoint(&path).unwrap();
        assert_eq!(m.get("model").map(String::as_str), Some("test"));
        let w = store.snapshot().unwrap();
        assert_eq!(
            t["fc.weight"].to_vec2::<f32>().unwrap(),
            w["fc.weight"].to_vec2::<f32>().unwrap()
        );
        // Flip one byte of tensor data (the end of the file is tensor data).
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let err = load_checkpoint(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt checkpoint"), "{err}");
        std::fs::write(&path, b"not a checkpoint").unwrap();
        assert!(load_checkpoint(&path).is_err());
    }

    #[test]
    fn weights_file_of_the_wrong_model_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let t = Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap();
        let mut m = HashMap::new();
        m.insert("something.else".to_string(), t);
        candle_core::safetensors::save(&m, &path).unwrap();
        let w = read_weights(&path, Arch::R3d18).unwrap();
        let store = ParamStore::with_weights(1, w, &path);
        let vb = store.var_builder(&Device::Cpu);
        candle_nn::linear(2, 2, vb.pp("fc.2")).unwrap();
        let err = store.finish().unwrap_err().to_string();
        assert!(err.contains("right architecture"), "{err}");
        let missing = read_weights(&dir.path().join("nope.pth"), Arch::R3d18).unwrap_err();
        assert!(missing.to_string().contains("not found"));
    }
}
