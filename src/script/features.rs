//! `features::` — classical feature extraction from a script (notebook `build_Xy`).

use std::path::Path;
use std::sync::Arc;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};

use super::dataset::ScriptDataset;
use super::{Shared, at, lock, rt};
use crate::config::Config;
use crate::dataset::SplitName;
use crate::features::cache::FeatureCache;
use crate::features::extract::{FeatureMatrix, FeatureOptions, try_extract_samples};

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &["extract", "layout"];

/// A feature matrix as scripts see it (cheap to clone).
pub type ScriptFeatures = Arc<FeatureMatrix>;

pub(super) fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptFeatures>("Features")
        .register_get("n_videos", |m: &mut ScriptFeatures| m.n_videos() as i64)
        .register_get("dim", |m: &mut ScriptFeatures| m.dim() as i64)
        .register_get("labels", |m: &mut ScriptFeatures| -> Array {
            m.y.iter().map(|&y| Dynamic::from_int(y as i64)).collect()
        })
        .register_get("seconds", |m: &mut ScriptFeatures| -> Array {
            m.seconds.iter().map(|&s| Dynamic::from_float(s)).collect()
        })
        .register_get("frames", |m: &mut ScriptFeatures| -> Array {
            m.n_frames
                .iter()
                .map(|&s| Dynamic::from_int(s as i64))
                .collect()
        })
        .register_get("cache_hits", |m: &mut ScriptFeatures| m.cache_hits as i64)
        .register_get("skipped", |m: &mut ScriptFeatures| -> Array {
            m.skipped
                .iter()
                .map(|s| {
                    let mut mm = Map::new();
                    mm.insert("path".into(), s.path.display().to_string().into());
                    mm.insert("reason".into(), s.reason.clone().into());
                    Dynamic::from_map(mm)
                })
                .collect()
        })
        .register_get("family_sizes", |m: &mut ScriptFeatures| -> Map {
            m.layout
                .family_sizes()
                .into_iter()
                .map(|(f, n)| (f.as_str().into(), Dynamic::from_int(n as i64)))
                .collect()
        })
        .register_fn("name", |m: &mut ScriptFeatures, i: i64| -> Res<String> {
            if i < 0 || i as usize >= m.dim() {
                return Err(rt(format!("feature index {i} out of range 0..{}", m.dim())));
            }
            Ok(m.layout.name(i as usize))
        })
        .register_fn("to_string", |m: &mut ScriptFeatures| {
            format!(
                "Features({} videos x {} dims, {} skipped)",
                m.n_videos(),
                m.dim(),
                m.skipped.len()
            )
        });
}

/// The run's config with a script's per-call overrides (`#{feature_set: "notebook", ...}`).
fn options(base: &Config, overrides: &Map) -> Res<FeatureOptions> {
    let mut cfg = base.clone();
    for (k, v) in overrides {
        let key = match k.as_str() {
            "families" => "feature_families",
            "set" => "feature_set",
            other => other,
        };
        cfg.set(key, &v.to_string()).map_err(rt)?;
    }
    FeatureOptions::from_config(&cfg).map_err(rt)
}

fn extract(st: &Shared, ds: &ScriptDataset, split: &str, overrides: &Map) -> Res<ScriptFeatures> {
    let split: SplitName = split.parse().map_err(rt)?;
    let (opts, cache_dir, progress) = {
        let s = lock(st);
        (
            options(&s.config, overrides)?,
            s.config.str("cache_dir").map_err(rt)?.to_string(),
            s.progress,
        )
    };
    let cache = FeatureCache::new(Path::new(&cache_dir).join("features"));
    let m = try_extract_samples(ds.split(split), &opts, Some(&cache), progress).map_err(rt)?;
    let mut s = lock(st);
    s.count_products(m.n_videos(), m.cache_hits);
    for sk in &m.skipped {
        let w = format!(
            "{} ({}): skipped by feature extraction: {}",
            sk.path.display(),
            split.as_str(),
            sk.reason
        );
        if !s.report.warnings.contains(&w) {
            s.report.warnings.push(w);
        }
    }
    for w in &m.warnings {
        if !s.report.warnings.contains(w) {
            s.report.warnings.push(w.clone());
        }
    }
    Ok(Arc::new(m))
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();

    let st = state.clone();
    FuncRegistration::new("extract").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, ds: ScriptDataset, split: ImmutableString| {
            at(&ctx, extract(&st, &ds, &split, &Map::new()))
        },
    );
    let st = state.clone();
    FuncRegistration::new("extract").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, ds: ScriptDataset, split: ImmutableString, o: Map| {
            at(&ctx, extract(&st, &ds, &split, &o))
        },
    );

    let st = state;
    FuncRegistration::new("layout").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, o: Map| {
            let r = options(&lock(&st).config, &o).map(|opts| {
                let l = opts.layout();
                let mut out = Map::new();
                out.insert("len".into(), Dynamic::from_int(l.len() as i64));
                let fams: Map = l
                    .family_sizes()
                    .into_iter()
                    .map(|(f, n)| (f.as_str().into(), Dynamic::from_int(n as i64)))
                    .collect();
                out.insert("families".into(), fams.into());
                out
            });
            at(&ctx, r)
        },
    );
    m
}
