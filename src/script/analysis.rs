//! `analysis::` — analyses over finished models from a script: the run's results so far, stratified
//! subsets and learning curves, permutation importance on the original features, and the PCA
//! features of a split for t-SNE.
//!
//! Results come back as plain Rhai maps and arrays, so a script can print, filter or pass them to
//! `report::learning_curves`, `report::importance` and `report::tsne`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::{Array2, Axis, concatenate};
use rhai::{
    Array, Dynamic, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};
use serde_json::Value;

use super::classical::{ScriptPrepared, ScriptResult, prep_options};
use super::dataset::ScriptDataset;
use super::features::ScriptFeatures;
use super::{Shared, at, lock, rt};
use crate::analysis::importance::{
    groups_by_family, groups_by_feature, pipeline_permutation_importance,
};
use crate::analysis::learning::{
    ClassicalCurve, NOTEBOOK_FRACTIONS, classical_learning_curve, stratified_subset,
};
use crate::classical::models::ModelSpec;
use crate::classical::pipeline::ClassicalPipeline;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &[
    "results",
    "stratified_subset",
    "learning_curve",
    "permutation_importance",
    "pca_features",
];

fn number(v: &Dynamic, what: &str) -> Res<f64> {
    v.as_float()
        .or_else(|_| v.as_int().map(|i| i as f64))
        .map_err(|_| rt(format!("{what} must be a number, not {}", v.type_name())))
}

fn numbers(v: &Dynamic, what: &str) -> Res<Vec<f64>> {
    let arr = v
        .clone()
        .try_cast::<Array>()
        .ok_or_else(|| rt(format!("{what} must be an array of numbers")))?;
    arr.iter().map(|x| number(x, what)).collect()
}

fn seeds_of(o: &Map, default: u64) -> Res<Vec<u64>> {
    match o.get("seeds") {
        None => Ok(vec![default]),
        Some(v) => numbers(v, "seeds")?
            .into_iter()
            .map(|s| {
                if s >= 0.0 && s.fract() == 0.0 {
                    Ok(s as u64)
                } else {
                    Err(rt(format!("seeds: {s} is not a non-negative integer")))
                }
            })
            .collect(),
    }
}

fn to_f64(m: &ScriptFeatures) -> Array2<f64> {
    m.x.mapv(f64::from)
}

fn learning_curve(
    st: &Shared,
    ds: &ScriptDataset,
    train: &ScriptFeatures,
    test: &ScriptFeatures,
    o: &Map,
) -> Res<Array> {
    let seed = crate::settings::seed(&lock(st).config).map_err(rt)?;
    let kind = o.get("model").map_or("rf".to_string(), |v| v.to_string());
    let params: Value = match o.get("params") {
        Some(p) => rhai::serde::from_dynamic(p)?,
        // The notebook's learning-curve forest: 200 trees, no grid search.
        None if kind == "rf" => serde_json::json!({"n_estimators": 200}),
        None => Value::Null,
    };
    let spec = ModelSpec::from_params(&kind, &params).map_err(rt)?;
    let name = match o.get("name") {
        Some(n) => n.to_string(),
        None => crate::classical::pipeline::model_name(&kind).map_err(rt)?,
    };
    let fractions = match o.get("fractions") {
        Some(v) => numbers(v, "fractions")?,
        None => NOTEBOOK_FRACTIONS.to_vec(),
    };
    let seeds = seeds_of(o, seed)?;
    let prep = prep_options(o)?;
    let rows = classical_learning_curve(
        &to_f64(train),
        &train.y,
        &train.layout,
        &to_f64(test),
        &test.y,
        &ClassicalCurve {
            name: &name,
            spec,
            prep,
            n_classes: ds.n_classes(),
            fractions: &fractions,
            seeds: &seeds,
        },
    )
    .map_err(rt)?;
    rows.iter()
        .map(rhai::serde::to_dynamic)
        .collect::<Res<Array>>()
}

/// Saved pipelines loaded during this process, by path: the preprocessor of a 163,828-value
/// feature vector is tens of megabytes, and each analysis of a model would read it again.
fn load_pipeline(path: &str) -> Res<Arc<ClassicalPipeline>> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<ClassicalPipeline>>>> = OnceLock::new();
    let cache = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
    // A later run may write another model to the same path: the key includes size and time.
    let key = match std::fs::metadata(path) {
        Ok(m) => format!("{path}\u{0}{}\u{0}{:?}", m.len(), m.modified().ok()),
        Err(e) => return Err(rt(format!("{path}: {e}"))),
    };
    if let Some(p) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(p.clone());
    }
    let p = Arc::new(ClassicalPipeline::load(Path::new(path)).map_err(rt)?);
    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
    // Keep the cache small: a run analyses a few models.
    if c.len() >= 4 {
        c.clear();
    }
    c.insert(key, p.clone());
    Ok(p)
}

fn permutation(st: &Shared, model: &ScriptResult, sets: Array, o: &Map) -> Res<Map> {
    let artifact = model
        .artifacts
        .iter()
        .find(|a| a.name == "pipeline")
        .ok_or_else(|| {
            rt(format!(
                "{} has no saved pipeline: permutation importance needs a classical model",
                model.name
            ))
        })?;
    let pipeline = load_pipeline(&artifact.path)?;
    let mats: Vec<ScriptFeatures> = sets
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            f.try_cast::<ScriptFeatures>()
                .ok_or_else(|| rt(format!("item {i} is not a Features matrix")))
        })
        .collect::<Res<_>>()?;
    let first = mats
        .first()
        .ok_or_else(|| rt("give at least one Features matrix (e.g. [xva, xte])"))?;
    let views: Vec<_> = mats.iter().map(|m| m.x.view()).collect();
    let x = concatenate(Axis(0), &views)
        .map_err(|e| rt(format!("the feature matrices do not stack: {e}")))?
        .mapv(f64::from);
    let y: Vec<usize> = mats.iter().flat_map(|m| m.y.iter().copied()).collect();
    let by = o.get("by").map_or("family".to_string(), |v| v.to_string());
    let groups = match by.as_str() {
        "family" => groups_by_family(&first.layout),
        "feature" => groups_by_feature(&first.layout),
        other => {
            return Err(rt(format!(
                "by = \"{other}\": group by \"family\" or \"feature\""
            )));
        }
    };
    let repeats = match o.get("repeats") {
        Some(v) => number(v, "repeats")? as usize,
        None => 10,
    };
    let seed = match o.get("seed") {
        Some(v) => number(v, "seed")? as u64,
        None => crate::settings::seed(&lock(st).config).map_err(rt)?,
    };
    let imp = pipeline_permutation_importance(
        &pipeline.prep,
        &pipeline.model,
        &x,
        &y,
        &groups,
        repeats,
        seed,
    )
    .map_err(rt)?;
    let mut out = rhai::serde::to_dynamic(&imp)?
        .try_cast::<Map>()
        .unwrap_or_default();
    out.insert("model".into(), model.name.clone().into());
    out.insert("by".into(), by.into());
    out.insert("n_repeats".into(), Dynamic::from_int(repeats as i64));
    Ok(out)
}

fn pca_features(p: &ScriptPrepared, split: &str) -> Res<Map> {
    let d = &p.data;
    let all;
    let all_y;
    let (x, y) = match split {
        "train" => (&d.x_train, &d.y_train),
        "val" => (&d.x_val, &d.y_val),
        "test" => (&d.x_test, &d.y_test),
        "all" => {
            all = concatenate(
                Axis(0),
                &[d.x_train.view(), d.x_val.view(), d.x_test.view()],
            )
            .map_err(|e| rt(format!("the splits do not stack: {e}")))?;
            all_y = [d.y_train.as_slice(), &d.y_val, &d.y_test].concat();
            (&all, &all_y)
        }
        other => return Err(rt(format!("split `{other}`: use train, val, test or all"))),
    };
    let rows: Array = x
        .rows()
        .into_iter()
        .map(|r| Dynamic::from_array(r.iter().map(|&v| Dynamic::from_float(v)).collect()))
        .collect();
    let mut out = Map::new();
    out.insert("x".into(), rows.into());
    out.insert(
        "labels".into(),
        Dynamic::from_array(y.iter().map(|&l| Dynamic::from_int(l as i64)).collect()),
    );
    if split == "test" {
        out.insert(
            "paths".into(),
            Dynamic::from_array(
                p.data
                    .test_paths
                    .iter()
                    .map(|q| Dynamic::from(q.display().to_string()))
                    .collect(),
            ),
        );
    }
    Ok(out)
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();

    let st = state.clone();
    FuncRegistration::new("results").set_into_module(&mut m, move || -> Array {
        lock(&st)
            .results
            .models
            .iter()
            .map(|r| Dynamic::from(Arc::new(r.clone()) as ScriptResult))
            .collect()
    });

    FuncRegistration::new("stratified_subset").set_into_module(
        &mut m,
        |ctx: NativeCallContext, labels: Array, fraction: f64, seed: i64| {
            let r = labels
                .iter()
                .map(|l| {
                    l.as_int()
                        .ok()
                        .filter(|&i| i >= 0)
                        .map(|i| i as usize)
                        .ok_or_else(|| rt("labels must be non-negative integers"))
                })
                .collect::<Res<Vec<usize>>>()
                .and_then(|y| {
                    if !(fraction > 0.0 && fraction <= 1.0) || seed < 0 {
                        return Err(rt(format!(
                            "fraction {fraction} must be in (0, 1] and seed {seed} >= 0"
                        )));
                    }
                    Ok(stratified_subset(&y, fraction, seed as u64)
                        .into_iter()
                        .map(|i| Dynamic::from_int(i as i64))
                        .collect::<Array>())
                });
            at(&ctx, r)
        },
    );

    let st = state.clone();
    FuncRegistration::new("learning_curve").set_into_module(
        &mut m,
        move |ctx: NativeCallContext,
              ds: ScriptDataset,
              train: ScriptFeatures,
              test: ScriptFeatures,
              o: Map| at(&ctx, learning_curve(&st, &ds, &train, &test, &o)),
    );

    let st = state;
    FuncRegistration::new("permutation_importance").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, model: ScriptResult, sets: Array, o: Map| {
            at(&ctx, permutation(&st, &model, sets, &o))
        },
    );

    FuncRegistration::new("pca_features").set_into_module(
        &mut m,
        |ctx: NativeCallContext, p: ScriptPrepared, split: ImmutableString| {
            at(&ctx, pca_features(&p, &split))
        },
    );
    m
}
