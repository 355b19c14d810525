//! Run configuration: the notebook's settings (lower-cased names), their defaults, and validated
//! overrides from `--set key=value` or a script.
//!
//! Raw strings arrive at the boundary and are checked once against [`KEYS`]; the rest of the
//! library reads typed values.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A configuration value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

/// What values a key accepts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    /// Inclusive range.
    Int(i64, i64),
    /// Inclusive range.
    Float(f64, f64),
    Str,
    Choice(&'static [&'static str]),
}

/// One documented configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every key a run understands, with its default. Names follow the notebook's constants.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: "data_root_classical",
        kind: Kind::Str,
        default: "data/demo/classical",
        doc: "dataset root for the classical pipeline (holds splits/)",
    },
    KeySpec {
        name: "data_root_deep",
        kind: Kind::Str,
        default: "data/demo/deep",
        doc: "dataset root for the deep pipeline (holds splits/)",
    },
    KeySpec {
        name: "resize_w",
        kind: Kind::Int(8, 4096),
        default: "320",
        doc: "classical frame width (INTER_AREA resize)",
    },
    KeySpec {
        name: "resize_h",
        kind: Kind::Int(8, 4096),
        default: "240",
        doc: "classical frame height",
    },
    KeySpec {
        name: "img_size",
        kind: Kind::Int(0, 1024),
        default: "0",
        doc: "deep frame size, square (0 = from deep_profile: 112 quick, 224 notebook)",
    },
    KeySpec {
        name: "deep_profile",
        kind: Kind::Choice(&["quick", "notebook"]),
        default: "quick",
        doc: "deep settings: quick (112 px, 8 frames, 8-frame clips, 2 epochs; for CPUs) or the notebook's (224 px, 32 frames, 16-frame clips, 6 epochs)",
    },
    KeySpec {
        name: "num_frames",
        kind: Kind::Int(0, 512),
        default: "0",
        doc: "frames per video for the 2D models (0 = from deep_profile)",
    },
    KeySpec {
        name: "clip_len",
        kind: Kind::Int(0, 512),
        default: "0",
        doc: "frames per clip for R3D-18 (0 = from deep_profile)",
    },
    KeySpec {
        name: "epochs",
        kind: Kind::Int(0, 1000),
        default: "0",
        doc: "deep training epochs (0 = from deep_profile)",
    },
    KeySpec {
        name: "batch_size",
        kind: Kind::Int(1, 1024),
        default: "2",
        doc: "deep training batch size (videos)",
    },
    KeySpec {
        name: "lr",
        kind: Kind::Float(1e-8, 10.0),
        default: "1e-4",
        doc: "Adam learning rate (weight decay 1e-4 as L2, StepLR halving every max(2, epochs/2) epochs)",
    },
    KeySpec {
        name: "patience",
        kind: Kind::Int(1, 1000),
        default: "4",
        doc: "early stopping: epochs without a better validation accuracy",
    },
    KeySpec {
        name: "device",
        kind: Kind::Choice(&["auto", "cpu", "cuda"]),
        default: "auto",
        doc: "where deep models run: auto (CUDA when built with --features cuda and a GPU is present), cpu, cuda",
    },
    KeySpec {
        name: "weights_efficientnet",
        kind: Kind::Str,
        default: "",
        doc: "torchvision efficientnet_b0 weights (.safetensors, or zip-format .pth); empty = trained from scratch",
    },
    KeySpec {
        name: "weights_r3d",
        kind: Kind::Str,
        default: "",
        doc: "torchvision r3d_18 weights (.safetensors, or zip-format .pth); empty = trained from scratch",
    },
    KeySpec {
        name: "frozen_bn",
        kind: Kind::Choice(&["auto", "eval", "train"]),
        default: "auto",
        doc: "frozen layers of the deep models during training: eval (running BatchNorm statistics, no stochastic depth; their activations are computed once per video and reused every epoch) or train (the notebook's model.train(): batch statistics, running statistics updated, stochastic depth, recomputed every batch); auto = from deep_profile: eval for quick, train for notebook",
    },
    KeySpec {
        name: "norm_3d",
        kind: Kind::Choice(&["kinetics", "imagenet"]),
        default: "kinetics",
        doc: "input normalisation of R3D-18: Kinetics-400 statistics (torchvision's), or the notebook's ImageNet values",
    },
    KeySpec {
        name: "classical_sampling",
        kind: Kind::Choice(&["uniform", "random", "dense"]),
        default: "uniform",
        doc: "frame sampling for classical features",
    },
    KeySpec {
        name: "deep_sampling",
        kind: Kind::Choice(&["uniform", "random"]),
        default: "uniform",
        doc: "frame sampling for deep models",
    },
    KeySpec {
        name: "fast_mode",
        kind: Kind::Bool,
        default: "true",
        doc: "the notebook's FAST_MODE (dense sampling keeps 120 frames, else 500)",
    },
    KeySpec {
        name: "cache_dir",
        kind: Kind::Str,
        default: "cache",
        doc: "where feature and activation caches go (safe to delete)",
    },
    KeySpec {
        name: "seed",
        kind: Kind::Int(0, i64::MAX),
        default: "42",
        doc: "seed for every random choice",
    },
    KeySpec {
        name: "report_dir",
        kind: Kind::Str,
        default: "reports",
        doc: "reports are written to REPORT_DIR/RUN_NAME/index.html",
    },
    KeySpec {
        name: "run_name",
        kind: Kind::Str,
        default: "comparative_analysis",
        doc: "name of this run's report folder",
    },
    KeySpec {
        name: "feature_set",
        kind: Kind::Choice(&["notebook", "motion+"]),
        default: "motion+",
        doc: "classical features: the notebook's vector, or it plus whole-clip motion (motion+)",
    },
    KeySpec {
        name: "feature_families",
        kind: Kind::Str,
        default: "color,texture,shape,motion",
        doc: "feature families to extract (comma-separated subset)",
    },
    KeySpec {
        name: "enhance",
        kind: Kind::Bool,
        default: "true",
        doc: "NL-means denoise + unsharp mask before classical features (the notebook's enhance_frame)",
    },
    KeySpec {
        name: "horn_schunck",
        kind: Kind::Choice(&["real", "placeholder"]),
        default: "real",
        doc: "dense Horn-Schunck flow features, or the notebook's zero placeholder (same layout)",
    },
    KeySpec {
        name: "motion_weight",
        kind: Kind::Int(0, 1000),
        default: "0",
        doc: "weight of the motion family before PCA in the motion+ models (0 = auto: as much variance as all appearance features)",
    },
    KeySpec {
        name: "cv_preprocess",
        kind: Kind::Choice(&["per_fold", "outside"]),
        default: "per_fold",
        doc: "grid search: refit imputer, scaler and PCA inside each fold (per_fold, as scikit-learn's Pipeline in GridSearchCV) or fit them once on all of train before the folds (outside, the notebook's)",
    },
    KeySpec {
        name: "sample_frames_per_class",
        kind: Kind::Int(0, 64),
        default: "4",
        doc: "frames shown per class in the dataset section",
    },
];

/// A validated configuration: every key of [`KEYS`], with its default or an override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    values: BTreeMap<String, Value>,
}

impl Default for Config {
    fn default() -> Self {
        let values = KEYS
            .iter()
            .map(|k| {
                (
                    k.name.to_string(),
                    parse(k, k.default).expect("defaults are valid"),
                )
            })
            .collect();
        Config { values }
    }
}

impl Config {
    /// Defaults overridden by `key=value` strings (as given to `--set`).
    pub fn with_overrides<S: AsRef<str>>(overrides: &[S]) -> Result<Config> {
        let mut cfg = Config::default();
        for o in overrides {
            let o = o.as_ref();
            let (k, v) = o.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "`--set {o}`: expected key=value, e.g. --set seed=7"
                ))
            })?;
            cfg.set(k.trim(), v.trim())?;
        }
        Ok(cfg)
    }

    /// Set `key` from its string form, checking the key and the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let spec = spec(key)?;
        let v = parse(spec, value)?;
        self.values.insert(key.to_string(), v);
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Result<&Value> {
        spec(key)?;
        Ok(&self.values[key])
    }

    pub fn str(&self, key: &str) -> Result<&str> {
        match self.get(key)? {
            Value::Str(s) => Ok(s),
            v => Err(Error::Config(format!("{key} is {v}, not a string"))),
        }
    }

    pub fn int(&self, key: &str) -> Result<i64> {
        match self.get(key)? {
            Value::Int(i) => Ok(*i),
            v => Err(Error::Config(format!("{key} is {v}, not an integer"))),
        }
    }

    pub fn float(&self, key: &str) -> Result<f64> {
        match self.get(key)? {
            Value::Float(x) => Ok(*x),
            Value::Int(i) => Ok(*i as f64),
            v => Err(Error::Config(format!("{key} is {v}, not a number"))),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key)? {
            Value::Bool(b) => Ok(*b),
            v => Err(Error::Config(format!("{key} is {v}, not true/false"))),
        }
    }

    /// All keys and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }
}

fn spec(key: &str) -> Result<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == key).ok_or_else(|| {
        let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        let hint = match closest(key, &names) {
            Some(c) => format!(" (did you mean `{c}`?)"),
            None => String::new(),
        };
        Error::Config(format!(
            "unknown key `{key}`{hint}; known keys: {}",
            names.join(", ")
        ))
    })
}

fn parse(spec: &KeySpec, raw: &str) -> Result<Value> {
    let bad = |what: &str| Error::Config(format!("{} = `{raw}`: {what}", spec.name));
    match spec.kind {
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(bad("expected true or false")),
        },
        Kind::Int(lo, hi) => {
            let i: i64 = raw.parse().map_err(|_| bad("expected an integer"))?;
            if i < lo || i > hi {
                return Err(bad(&format!("must be between {lo} and {hi}")));
            }
            Ok(Value::Int(i))
        }
        Kind::Float(lo, hi) => {
            let x: f64 = raw.parse().map_err(|_| bad("expected a number"))?;
            if !(lo..=hi).contains(&x) {
                return Err(bad(&format!("must be between {lo} and {hi}")));
            }
            Ok(Value::Float(x))
        }
        Kind::Str => Ok(Value::Str(raw.to_string())),
        Kind::Choice(opts) => {
            if opts.contains(&raw) {
                Ok(Value::Str(raw.to_string()))
            } else {
                Err(bad(&format!("expected one of {}", opts.join(", "))))
            }
        }
    }
}

/// The candidate nearest to `word` by edit distance, if it is reasonably close.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_notebook() {
        let c = Config::default();
        assert_eq!(c.int("resize_w").unwrap(), 320);
        assert_eq!(c.int("resize_h").unwrap(), 240);
        // The deep frame size comes from the profile (224 in the notebook's, 112 in the quick one).
        assert_eq!(c.int("img_size").unwrap(), 0);
        assert_eq!(c.str("deep_profile").unwrap(), "quick");
        // The frozen layers' mode also comes from the profile (eval quick, train notebook).
        assert_eq!(c.str("frozen_bn").unwrap(), "auto");
        assert_eq!(c.float("lr").unwrap(), 1e-4);
        assert_eq!(c.int("seed").unwrap(), 42);
        assert_eq!(c.str("classical_sampling").unwrap(), "uniform");
        assert!(c.bool("fast_mode").unwrap());
    }

    #[test]
    fn overrides_are_typed_and_checked() {
        let c = Config::with_overrides(&["seed=7", "fast_mode=false", "classical_sampling=dense"])
            .unwrap();
        assert_eq!(c.int("seed").unwrap(), 7);
        assert!(!c.bool("fast_mode").unwrap());
        assert_eq!(c.str("classical_sampling").unwrap(), "dense");

        let e = Config::with_overrides(&["resize_w=abc"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("resize_w") && e.contains("integer"), "{e}");
        let e = Config::with_overrides(&["classical_sampling=sparse"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("uniform, random, dense"), "{e}");
        let e = Config::with_overrides(&["sed=1"]).unwrap_err().to_string();
        assert!(e.contains("did you mean `seed`"), "{e}");
        let e = Config::with_overrides(&["seed"]).unwrap_err().to_string();
        assert!(e.contains("key=value"), "{e}");
        let e = Config::with_overrides(&["resize_w=100000"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("between"), "{e}");
    }
}
