//! `classical::` — the notebook's classical section from a script: fit the preprocessing (impute,
//! scale, family weights, PCA) on train, grid-search SVM / RF / kNN, evaluate on test.

use std::sync::Arc;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};
use serde_json::Value;

use super::dataset::ScriptDataset;
use super::features::ScriptFeatures;
use super::{Shared, at, lock, rt};
use crate::classical::pca::PcaComponents;
use crate::classical::pipeline::{
    CvPreprocess, PrepOptions, Prepared, Training, prepare, train_and_evaluate,
};
use crate::results::ModelResult;
use crate::settings;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &["prepare", "train", "grid", "motion_weight"];

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

/// `pca` and `family_weights` of a script's options map (`#{ pca: 0.95, family_weights:
/// #{ motion: 4.0 } }`), checked by the settings layer; shared by `classical::prepare` and the
/// analyses that refit the preprocessing.
pub(super) fn prep_options(o: &Map) -> Res<PrepOptions> {
    let pca = match o.get("pca") {
        None => PcaComponents::Fraction(settings::DEFAULT_PCA_FRACTION),
        Some(v) => {
            if let Ok(f) = v.as_float() {
                PcaComponents::Fraction(f)
            } else if let Ok(k) = v.as_int() {
                settings::pca_count(k).map_err(rt)?
            } else {
                return Err(rt(
                    "pca must be a fraction (0.95) or a component count (20)",
                ));
            }
        }
    };
    let mut weights = Vec::new();
    if let Some(w) = o.get("family_weights") {
        let w = w
            .clone()
            .try_cast::<Map>()
            .ok_or_else(|| rt("family_weights must be a map like #{motion: 4.0}"))?;
        for (k, v) in w {
            let x = v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map_err(|_| rt(format!("family_weights.{k} must be a number")))?;
            weights.push(settings::family_weight(&k, x).map_err(rt)?);
        }
    }
    let mut opts = settings::prep_options(pca, &weights).map_err(rt)?;
    if let Some(cv) = o.get("cv_preprocess") {
        opts.cv_preprocess = CvPreprocess::parse(&cv.to_string()).map_err(rt)?;
    }
    Ok(opts)
}

/// The notebook grid for `kind`, with keys the script overrides (`#{C: [1, 10]}`).
fn grid_for(kind: &str, overrides: Option<&Dynamic>) -> Res<Vec<(String, Vec<Value>)>> {
    let mut given = Vec::new();
    if let Some(o) = overrides {
        let o = o
            .clone()
            .try_cast::<Map>()
            .ok_or_else(|| rt("grid must be a map like #{C: [0.1, 1, 10]}"))?;
        for (k, v) in o {
            let values = match rhai::serde::from_dynamic::<Value>(&v)? {
                Value::Array(a) => a,
                one => vec![one],
            };
            given.push((k.to_string(), values));
        }
    }
    settings::grid(kind, given).map_err(rt)
}

/// The motion family's weight before PCA for these training features: the config's
/// `motion_weight`, or (0, auto) the variance-balancing weight; 1.0 when there is nothing to
/// balance.
fn motion_weight(st: &Shared, train: &ScriptFeatures) -> Res<f64> {
    let requested = lock(st).config.int("motion_weight").map_err(rt)? as f64;
    Ok(settings::motion_weight(requested, &train.layout.family_sizes()).unwrap_or(1.0))
}

fn do_prepare(
    st: &Shared,
    ds: &ScriptDataset,
    tr: &ScriptFeatures,
    va: &ScriptFeatures,
    te: &ScriptFeatures,
    o: &Map,
) -> Res<ScriptPrepared> {
    // The options the features were extracted with (the set may differ from the config's, e.g.
    // `#{feature_set: "notebook"}`): what the saved pipeline extracts from a new video.
    // The config's cv_preprocess unless the call's options name one.
    let mut opts = prep_options(o)?;
    if !o.contains_key("cv_preprocess") {
        let cv = lock(st)
            .config
            .str("cv_preprocess")
            .map_err(rt)?
            .to_string();
        opts.cv_preprocess = CvPreprocess::parse(&cv).map_err(rt)?;
    }
    let data = prepare(tr, va, te, &tr.options, &opts).map_err(rt)?;
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
        let paths = settings::RunPaths::from_config(&s.config).map_err(rt)?;
        (settings::seed(&s.config).map_err(rt)?, paths.model_dir)
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

    let st = state.clone();
    FuncRegistration::new("motion_weight").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, train: ScriptFeatures| at(&ctx, motion_weight(&st, &train)),
    );

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
