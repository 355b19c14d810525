//! `dataset::` — load and summarise `ROOT/splits/*.txt` datasets from a script.

use std::sync::Arc;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};

use super::{Shared, at, lock, rt};
use crate::dataset::{Dataset, SplitName, summary::summarize};
use crate::report::DatasetMeta;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &["load", "summary", "split"];

/// A loaded dataset as scripts see it (cheap to clone).
pub type ScriptDataset = Arc<Dataset>;

fn split_name(name: &str) -> Res<SplitName> {
    SplitName::ALL
        .iter()
        .copied()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| {
            rt(format!(
                "unknown split `{name}`: use \"train\", \"val\" or \"test\""
            ))
        })
}

fn samples(ds: &Dataset, split: SplitName) -> Array {
    ds.split(split)
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("path".into(), s.path.display().to_string().into());
            m.insert("rel_path".into(), s.rel_path.clone().into());
            m.insert("label".into(), (s.label as i64).into());
            m.insert("class".into(), ds.class_name(s.label).to_string().into());
            m.insert("line".into(), (s.line as i64).into());
            Dynamic::from_map(m)
        })
        .collect()
}

pub(super) fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptDataset>("Dataset")
        .register_get("root", |d: &mut ScriptDataset| d.root.display().to_string())
        .register_get("n_classes", |d: &mut ScriptDataset| d.n_classes() as i64)
        .register_get("class_names", |d: &mut ScriptDataset| -> Array {
            d.class_names.iter().map(|c| c.clone().into()).collect()
        })
        .register_get("train", |d: &mut ScriptDataset| {
            samples(d, SplitName::Train)
        })
        .register_get("val", |d: &mut ScriptDataset| samples(d, SplitName::Val))
        .register_get("test", |d: &mut ScriptDataset| samples(d, SplitName::Test))
        .register_fn("to_string", |d: &mut ScriptDataset| {
            format!(
                "Dataset({}: {} train, {} val, {} test, {} classes)",
                d.root.display(),
                d.train.len(),
                d.val.len(),
                d.test.len(),
                d.n_classes()
            )
        });
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();

    let st = state.clone();
    FuncRegistration::new("load").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, root: ImmutableString| at(&ctx, load(&st, &root)),
    );

    FuncRegistration::new("split").set_into_module(
        &mut m,
        |ctx: NativeCallContext, ds: ScriptDataset, name: ImmutableString| {
            at(&ctx, split_name(&name).map(|s| samples(&ds, s)))
        },
    );

    let st = state;
    FuncRegistration::new("summary")
        .set_into_module(&mut m, move |ctx: NativeCallContext, ds: ScriptDataset| {
            at(&ctx, summary(&st, &ds))
        });
    m
}

/// Lenient: a listed video that does not exist is dropped with a warning (stderr and the report)
/// instead of failing the run; every other dataset problem still stops the script.
fn load(st: &Shared, root: &str) -> Res<ScriptDataset> {
    let (ds, missing) = Dataset::load_lenient(root).map_err(rt)?;
    if !missing.is_empty() {
        let mut s = lock(st);
        for p in &missing {
            let w = format!("{p} (skipped)");
            eprintln!("warning: {w}");
            if !s.report.warnings.contains(&w) {
                s.report.warnings.push(w);
            }
        }
    }
    let name = ds
        .root
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| root.to_string());
    let meta = DatasetMeta {
        name,
        root: root.to_string(),
        videos: ds.train.len() + ds.val.len() + ds.test.len(),
        classes: ds.n_classes(),
        links: ds.links().iter().map(ToString::to_string).collect(),
    };
    let mut s = lock(st);
    if !s.datasets.iter().any(|d| d.root == meta.root) {
        s.datasets.push(meta);
    }
    Ok(Arc::new(ds))
}

fn summary(st: &Shared, ds: &Dataset) -> Res<Dynamic> {
    let progress = lock(st).progress;
    let summary = summarize(ds, progress);
    let mut s = lock(st);
    for b in &summary.bad_videos {
        let w = format!(
            "{} ({}): skipped: {}",
            b.path.display(),
            b.split.as_str(),
            b.reason
        );
        eprintln!("warning: {w}");
        if !s.report.warnings.contains(&w) {
            s.report.warnings.push(w);
        }
    }
    drop(s);
    rhai::serde::to_dynamic(&summary)
}
