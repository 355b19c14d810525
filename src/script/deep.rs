//! `deep::` — the notebook's deep section from a script: train and evaluate EfficientNet-B0 with
//! temporal pooling and R3D-18, and show their attention weights.
//!
//! ```rhai
//! let r = deep::train(ds, "max");                       // Deep-2D-Max with the run's settings
//! let r = deep::train(ds, "r3d", #{ epochs: 4 });       // override settings for this model
//! let s = deep::settings("attn");                       // the resolved settings, for prose
//! deep::attention(r, 3);                                // thumbnails of 3 test videos
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rhai::{
    Dynamic, EvalAltResult, FuncRegistration, ImmutableString, Map, Module, NativeCallContext,
};

use super::classical::ScriptResult;
use super::dataset::ScriptDataset;
use super::{Shared, at, lock, rt};
use crate::config::Config;
use crate::dataset::Dataset;
use crate::deep::models::DeepKind;
use crate::deep::pipeline::{DeepData, DeepSettings, TrunkUse, load_data, train_and_evaluate_with};
use crate::report::image_item;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &["train", "settings", "attention", "models"];

/// Clips loaded during this process, by dataset root and clip settings: the four models (and
/// learning-curve refits) share them instead of reading the cache again.
fn loaded() -> &'static Mutex<HashMap<String, Arc<DeepData>>> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<DeepData>>>> = OnceLock::new();
    LOADED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The run's configuration with the script's per-model overrides (any config key) applied.
fn config_with(st: &Shared, o: &Map) -> Res<Config> {
    let mut cfg = lock(st).config.clone();
    for (k, v) in o {
        if matches!(k.as_str(), "train_subset" | "suffix" | "record") {
            continue;
        }
        cfg.set(k, &v.to_string()).map_err(rt)?;
    }
    Ok(cfg)
}

fn settings_for(st: &Shared, kind: &str, o: &Map) -> Res<(DeepSettings, bool)> {
    let kind: DeepKind = kind.parse().map_err(rt)?;
    let cfg = config_with(st, o)?;
    let model_dir = crate::settings::RunPaths::from_config(&cfg)
        .map_err(rt)?
        .model_dir;
    let progress = lock(st).progress;
    Ok((
        DeepSettings::from_config(&cfg, kind, &model_dir).map_err(rt)?,
        progress,
    ))
}

fn data_for(st: &Shared, ds: &Dataset, s: &DeepSettings, progress: bool) -> Res<Arc<DeepData>> {
    let key = format!("{}|{}", ds.root.display(), s.clip.fingerprint());
    if let Some(d) = loaded().lock().expect("clip map lock").get(&key) {
        return Ok(d.clone());
    }
    let d = Arc::new(load_data(ds, &s.clip, &s.cache_dir, progress).map_err(rt)?);
    {
        let mut state = lock(st);
        for set in [&d.train, &d.val, &d.test] {
            state.count_products(set.len(), set.cache_hits);
        }
    }
    loaded()
        .lock()
        .expect("clip map lock")
        .insert(key, d.clone());
    Ok(d)
}

fn do_train(st: &Shared, ds: &ScriptDataset, kind: &str, o: &Map) -> Res<ScriptResult> {
    let (mut settings, progress) = settings_for(st, kind, o)?;
    let mut data = data_for(st, ds, &settings, progress)?;
    let suffix = o.get("suffix").map(|s| s.to_string()).unwrap_or_default();
    let mut trunk_use = TrunkUse::Fresh;
    if let Some(subset) = o.get("train_subset") {
        // A learning-curve point: train on these rows of the train split only.
        let idx: Vec<usize> = subset
            .clone()
            .into_typed_array::<i64>()
            .map_err(|_| rt("train_subset must be an array of integers"))?
            .into_iter()
            .map(|i| usize::try_from(i).map_err(|_| rt("train_subset indices must be >= 0")))
            .collect::<Res<_>>()?;
        let mut d = (*data).clone();
        let keep: std::collections::HashSet<&str> = idx
            .iter()
            .filter_map(|&i| ds.train.get(i).map(|s| s.rel_path.as_str()))
            .collect();
        let mut t = crate::deep::data::ClipSet::default();
        for ((c, l), p) in d
            .train
            .clips
            .iter()
            .zip(&d.train.labels)
            .zip(&d.train.paths)
        {
            if keep.contains(p.as_str()) {
                t.clips.push(c.clone());
                t.labels.push(*l);
                t.paths.push(p.clone());
            }
        }
        let whole = t.len() == d.train.len();
        d.train = t;
        data = Arc::new(d);
        if !whole {
            // The whole training split is the main model itself: reuse its checkpoint.
            settings.model_dir = settings.model_dir.join("subsets");
        }
        trunk_use = TrunkUse::Reuse;
    }
    let mut run = train_and_evaluate_with(&data, &settings, progress, trunk_use).map_err(rt)?;
    if !suffix.is_empty() {
        run.result.name.push_str(&suffix);
    }
    let record = o
        .get("record")
        .map(|r| r.as_bool().unwrap_or(true))
        .unwrap_or(true);
    let r = Arc::new(run.result);
    if record {
        lock(st).results.push((*r).clone());
    }
    Ok(r)
}

fn do_settings(st: &Shared, kind: &str, o: &Map) -> Res<Dynamic> {
    let (s, _) = settings_for(st, kind, o)?;
    let mut m: Map = rhai::serde::to_dynamic(&s)?.cast();
    m.insert("name".into(), s.kind.name().into());
    m.insert("frames_text".into(), s.frames_text().into());
    m.insert(
        "device_compiled".into(),
        if crate::deep::device::cuda_compiled() {
            "cpu, cuda".into()
        } else {
            "cpu".into()
        },
    );
    Ok(m.into())
}

/// Thumbnails of the sampled frames of the first `n` test videos with their attention weights.
fn do_attention(st: &Shared, ds: &ScriptDataset, r: &ScriptResult, n: i64) -> Res<()> {
    let att = &r.details.deep.attention;
    if att.is_empty() {
        return Err(rt(format!(
            "{} has no attention weights (only attention pooling does)",
            r.name
        )));
    }
    let settings: DeepSettings = r
        .details
        .deep
        .settings
        .clone()
        .ok_or_else(|| "no settings in its details".to_string())
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
        .map_err(|e| rt(format!("{}: {e}", r.name)))?;
    let progress = lock(st).progress;
    let data = data_for(st, ds, &settings, progress)?;
    let mut blocks = Vec::new();
    for entry in att.iter().take(n.max(0) as usize) {
        let path = entry.path.as_str();
        let Some(i) = data.test.paths.iter().position(|p| p == path) else {
            continue;
        };
        let weights: Vec<f64> = entry.weights.iter().map(|&w| f64::from(w)).collect();
        let label = data.test.labels[i];
        let pred = r
            .test_paths
            .iter()
            .position(|p| p == path)
            .map(|k| r.y_pred[k])
            .unwrap_or(label);
        let top = weights
            .iter()
            .enumerate()
            .fold((0, f64::MIN), |a, (k, &w)| if w > a.1 { (k, w) } else { a })
            .0;
        let mut items = Vec::new();
        for (k, (f, w)) in data.test.clips[i].frames.iter().zip(&weights).enumerate() {
            let mark = if k == top { " (max)" } else { "" };
            items.push(image_item(f, &format!("frame {}: {:.3}{mark}", k + 1, w)).map_err(rt)?);
        }
        let caption = format!(
            "{path}: true {}, predicted {}; uniform weight would be {:.3}",
            ds.class_names.get(label).map(String::as_str).unwrap_or("?"),
            ds.class_names.get(pred).map(String::as_str).unwrap_or("?"),
            1.0 / weights.len().max(1) as f64
        );
        blocks.push((caption, items));
    }
    let mut s = lock(st);
    let id = s.current_section.clone().ok_or_else(|| {
        rt("no report section is open: call report::section(id, title) before deep::attention")
    })?;
    let section = s.report.section(&id, "").map_err(rt)?;
    for (caption, items) in blocks {
        section.images(&caption, items);
    }
    Ok(())
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();
    for with_opts in [false, true] {
        let st = state.clone();
        if with_opts {
            FuncRegistration::new("train").set_into_module(
                &mut m,
                move |ctx: NativeCallContext, ds: ScriptDataset, kind: ImmutableString, o: Map| {
                    at(&ctx, do_train(&st, &ds, &kind, &o))
                },
            );
        } else {
            FuncRegistration::new("train").set_into_module(
                &mut m,
                move |ctx: NativeCallContext, ds: ScriptDataset, kind: ImmutableString| {
                    at(&ctx, do_train(&st, &ds, &kind, &Map::new()))
                },
            );
        }
        let st = state.clone();
        if with_opts {
            FuncRegistration::new("settings").set_into_module(
                &mut m,
                move |ctx: NativeCallContext, kind: ImmutableString, o: Map| {
                    at(&ctx, do_settings(&st, &kind, &o))
                },
            );
        } else {
            FuncRegistration::new("settings").set_into_module(
                &mut m,
                move |ctx: NativeCallContext, kind: ImmutableString| {
                    at(&ctx, do_settings(&st, &kind, &Map::new()))
                },
            );
        }
    }
    let st = state.clone();
    FuncRegistration::new("attention").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, ds: ScriptDataset, r: ScriptResult, n: i64| {
            at(&ctx, do_attention(&st, &ds, &r, n))
        },
    );
    FuncRegistration::new("models").set_into_module(&mut m, || -> rhai::Array {
        DeepKind::ALL
            .iter()
            .map(|k| Dynamic::from(k.short().to_string()))
            .collect()
    });
    m
}
