//! `classical::` — the notebook's classical section from a script: fit the preprocessing (impute,
//! scale, family weights, PCA) on train, grid-search SVM / RF / kNN, evaluate on test.

use std::path::PathBuf;
use std::sync::Arc;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};
use serde_json::Value;

use super::dataset::ScriptDataset;
use super::features::ScriptFeatures;
use super::{Shared, at, lock, rt};
use crate::classical::models::notebook_grid;
use crate::classical::pca::PcaComponents;
use crate::classical::pipeline::{PrepOptions, Prepared, Training, prepare, train_and_evaluate};
use crate::features::extract::FeatureOptions;
use crate::features::layout::Family;
use crate::results::ModelResult;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &["prepare", "train", "grid"];

/// Prepared data with the dataset's class names.
#[derive(Debug, Clone)]
pub struct ScriptPrepared {
    pub data: Arc<Prepared>,
    pub class_names: Arc<Vec<String>>,
}

/// A model result as scripts see it.
pub type ScriptResult = Arc<ModelResult>;

pub(super) fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptPrepared>("Prepared")
        .register_get("n_components", |p: &mut ScriptPrepared| {
            p.data.prep.pca.n_components() as i64
        })
        .register_get("dim_in", |p: &mut ScriptPrepared| p.data.dim_in as i64)
        .register_get("n_train", |p: &mut ScriptPrepared| {
            p.data.y_train.len() as i64
        })
        .register_get("n_test", |p: &mut ScriptPrepared| {
            p.data.y_test.len() as i64
        })
        .register_get(
            "explained_variance_ratio",
            |p: &mut ScriptPrepared| -> Array {
                p.data
                    .prep
                    .pca
                    .explained_variance_ratio()
                    .iter()
                    .map(|&x| Dynamic::from_float(x))
                    .collect()
            },
        )
        .register_fn("to_string", |p: &mut ScriptPrepared| {
            format!(
                "Prepared({} train x {} -> {} PCA components)",
                p.data.y_train.len(),
                p.data.dim_in,
                p.data.prep.pca.n_components()
            )
        });
    engine
        .register_type_with_name::<ScriptResult>("ModelResult")
        .register_get("name", |r: &mut ScriptResult| r.name.clone())
        .register_get("accuracy", |r: &mut ScriptResult| r.metrics.accuracy)
        .register_get("f1", |r: &mut ScriptResult| r.metrics.f1)
        .register_get("train_time_s", |r: &mut ScriptResult| {
            r.efficiency.train_time_s
        })
        .register_get("summary", |r: &mut ScriptResult| -> Dynamic {
            rhai::serde::to_dynamic(r.as_ref()).unwrap_or(Dynamic::UNIT)
        })
        .register_fn("to_string", |r: &mut ScriptResult| {
            format!(
                "{}: accuracy {:.3}, macro F1 {:.3}",
                r.name, r.metrics.accuracy, r.metrics.f1
            )
        });
}

fn prep_options(o: &Map) -> Res<PrepOptions> {
    let mut p = PrepOptions::default();
    if let Some(v) = o.get("pca") {
        p.pca = if let Ok(f) = v.as_float() {
            if !(0.0..1.0).contains(&f) || f == 0.0 {
                return Err(rt(format!(
                    "pca = {f}: a variance fraction must be in (0, 1)"
                )));
            }
            PcaComponents::Fraction(f)
        } else if let Ok(k) = v.as_int() {
            if k < 1 {
                return Err(rt(format!("pca = {k}: need at least one component")));
            }
            PcaComponents::Count(k as usize)
        } else {
            return Err(rt(
                "pca must be a fraction (0.95) or a component count (20)",
            ));
        };
    }
    if let Some(w) = o.get("family_weights") {
        let w = w
            .clone()
            .try_cast::<Map>()
            .ok_or_else(|| rt("family_weights must be a map like #{motion: 4.0}"))?;
        for (k, v) in w {
            let fam = Family::parse(&k).ok_or_else(|| {
                rt(format!(
                    "family_weights: unknown family `{k}` (color, texture, shape, motion)"
                ))
            })?;
            let x = v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map_err(|_| rt(format!("family_weights.{k} must be a number")))?;
            if !(x >= 0.0 && x.is_finite()) {
                return Err(rt(format!("family_weights.{k} = {x} must be >= 0")));
            }
            p.family_weights.push((fam, x));
        }
    }
    Ok(p)
}

fn dynamic_to_json(v: Dynamic) -> Res<Value> {
    rhai::serde::from_dynamic::<Value>(&v)
}

/// The notebook grid for `kind`, with keys the script overrides (`#{C: [1, 10]}`).
fn grid_for(kind: &str, overrides: Option<&Dynamic>) -> Res<Vec<(String, Vec<Value>)>> {
    let mut grid: Vec<(String, Vec<Value>)> = notebook_grid(kind)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if grid.is_empty() {
        return Err(rt(format!("unknown model `{kind}` (svm, rf, knn)")));
    }
    if let Some(o) = overrides {
        let o = o
            .clone()
            .try_cast::<Map>()
            .ok_or_else(|| rt("grid must be a map like #{C: [0.1, 1, 10]}"))?;
        for (k, v) in o {
            let values = match dynamic_to_json(v)? {
                Value::Array(a) => a,
                one => vec![one],
            };
            match grid.iter_mut().find(|(g, _)| g.as_str() == k.as_str()) {
                Some(slot) => slot.1 = values,
                None => grid.push((k.to_string(), values)),
            }
        }
    }
    Ok(grid)
}

fn do_prepare(
    st: &Shared,
    ds: &ScriptDataset,
    tr: &ScriptFeatures,
    va: &ScriptFeatures,
    te: &ScriptFeatures,
    o: &Map,
) -> Res<ScriptPrepared> {
    let options = {
        let s = lock(st);
        FeatureOptions::from_config(&s.config).map_err(rt)?
    };
    let opts = prep_options(o)?;
    let data = prepare(tr, va, te, &options, &opts).map_err(rt)?;
    Ok(ScriptPrepared {
        data: Arc::new(data),
        class_names: Arc::new(ds.class_names.clone()),
    })
}

fn do_train(st: &Shared, p: &ScriptPrepared, kind: &str, o: &Map) -> Res<ScriptResult> {
    let grid = grid_for(kind, o.get("grid"))?;
    let suffix = o.get("suffix").map(|s| s.to_string()).unwrap_or_default();
    let (seed, model_dir) = {
        let s = lock(st);
        let dir = PathBuf::from(s.config.str("report_dir").map_err(rt)?)
            .join(s.config.str("run_name").map_err(rt)?)
            .join("models");
        (s.config.int("seed").map_err(rt)? as u64, dir)
    };
    let grid_ref: Vec<(&str, Vec<Value>)> =
        grid.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let run = train_and_evaluate(
        &p.data,
        &Training {
            kind,
            grid: &grid_ref,
            class_names: &p.class_names,
            seed,
            model_dir: &model_dir,
            name_suffix: &suffix,
        },
    )
    .map_err(rt)?;
    let r = Arc::new(run.result);
    lock(st).results.push((*r).clone());
    Ok(r)
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();

    let st = state.clone();
    FuncRegistration::new("prepare").set_into_module(
        &mut m,
        move |ctx: NativeCallContext,
              ds: ScriptDataset,
              tr: ScriptFeatures,
              va: ScriptFeatures,
              te: ScriptFeatures,
              o: Map| at(&ctx, do_prepare(&st, &ds, &tr, &va, &te, &o)),
    );

    for with_opts in [false, true] {
        let st = state.clone();
        if with_opts {
            FuncRegistration::new("train").set_into_module(
                &mut m,
                move |ctx: NativeCallContext, p: ScriptPrepared, kind: ImmutableString, o: Map| {
                    at(&ctx, do_train(&st, &p, &kind, &o))
                },
            );
        } else {
            FuncRegistration::new("train").set_into_module(
                &mut m,
                move |ctx: NativeCallContext, p: ScriptPrepared, kind: ImmutableString| {
                    at(&ctx, do_train(&st, &p, &kind, &Map::new()))
                },
            );
        }
    }

    FuncRegistration::new("grid").set_into_module(
        &mut m,
        |ctx: NativeCallContext, kind: ImmutableString| {
            let r = grid_for(&kind, None).and_then(|g| {
                let mut out = Map::new();
                for (k, v) in g {
                    out.insert(k.into(), rhai::serde::to_dynamic(&v)?);
                }
                Ok(out)
            });
            at(&ctx, r)
        },
    );
    m
}
