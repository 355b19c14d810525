//! `report::` — what a script writes into the report: sections, Markdown prose, tables, charts and
//! image strips.

use rhai::{
    Array, Dynamic, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};

use super::classical::ScriptResult;
use super::{Shared, at, lock, rt};
use crate::analysis::importance::PermutationImportance;
use crate::analysis::insights::{insights, to_markdown};
use crate::analysis::learning::LearningRow;
use crate::analysis::tsne::{MapMethod, TsneOptions, tsne_view};
use crate::report::analysis::{
    component_chart, importance_chart, importance_table, learning_curve_plots, learning_table,
    tsne_plot,
};
use crate::report::compare::{
    COMPARISON_EXPORT, PAIRS_EXPORT, comparison_table, confusion_chart, efficiency_charts,
    paired_table, protocol_markdown, roc_plot, training_curve_plots,
};
use crate::report::result_tables::{ColumnSet, grid_search_table, metrics_table};
use crate::report::{
    Better, Block, Cell, Chart, ChartKind, Column, Plot, PlotKind, Series, Table, XySeries,
    image_item,
};
use crate::results::{ModelResult, ResultsTable};
use crate::video::Frame;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub(super) const FUNCTIONS: &[&str] = &[
    "title",
    "section",
    "markdown",
    "table",
    "bar_chart",
    "line_chart",
    "images",
    "warn",
    "metrics_table",
    "confusion",
    "grid_search",
    "comparison",
    "efficiency",
    "roc",
    "training_curves",
    "plot",
    "tsne",
    "learning_curves",
    "importance",
    "pca_importance",
    "insights",
];

/// Run `f` on the current section, or explain how to open one.
fn with_section<T>(state: &Shared, f: impl FnOnce(&mut crate::report::Section) -> T) -> Res<T> {
    let mut st = lock(state);
    let id = st.current_section.clone().ok_or_else(|| {
        rt("no report section is open: call report::section(id, title) before adding content")
    })?;
    let section = st.report.section(&id, "").map_err(rt)?;
    Ok(f(section))
}

pub(super) fn module(state: Shared) -> Module {
    let mut m = Module::new();

    let st = state.clone();
    FuncRegistration::new("title").set_into_module(&mut m, move |t: ImmutableString| {
        lock(&st).report.title = t.to_string();
    });

    let st = state.clone();
    FuncRegistration::new("section").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, id: ImmutableString, title: ImmutableString| {
            at(&ctx, open_section(&st, &id, &title))
        },
    );

    let st = state.clone();
    FuncRegistration::new("markdown").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, md: ImmutableString| {
            at(&ctx, add_block(&st, markdown(md.to_string())))
        },
    );

    let st = state.clone();
    FuncRegistration::new("table").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, caption: ImmutableString, columns: Array, rows: Array| {
            let r =
                table_from(&caption, columns, rows).and_then(|t| add_block(&st, Block::Table(t)));
            at(&ctx, r)
        },
    );

    for (name, kind) in [
        ("bar_chart", ChartKind::Bar),
        ("line_chart", ChartKind::Line),
    ] {
        let st = state.clone();
        FuncRegistration::new(name).set_into_module(
            &mut m,
            move |ctx: NativeCallContext, spec: Map| {
                let r =
                    chart_from(kind.clone(), spec).and_then(|c| add_block(&st, Block::Chart(c)));
                at(&ctx, r)
            },
        );
    }

    let st = state.clone();
    FuncRegistration::new("images").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, caption: ImmutableString, items: Array| {
            let r = images_from(items).and_then(|items| {
                let caption = caption.to_string();
                add_block(&st, Block::Images { caption, items })
            });
            at(&ctx, r)
        },
    );

    let st = state.clone();
    FuncRegistration::new("metrics_table").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, caption: ImmutableString, models: Array| {
            let r = models_from(models).and_then(|ms| {
                let refs: Vec<&ModelResult> = ms.iter().map(|m| &**m).collect();
                let t = metrics_table(&caption, &refs, ColumnSet::Compact);
                let notes: Vec<String> = ms
                    .iter()
                    .flat_map(|m| m.notes.iter().map(|n| format!("- {n}")))
                    .collect();
                with_section(&st, |s| {
                    s.table(t);
                    if !notes.is_empty() {
                        s.markdown(&format!("**Notes**\n\n{}", notes.join("\n")));
                    }
                })
            });
            at(&ctx, r)
        },
    );

    let st = state.clone();
    FuncRegistration::new("confusion").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, model: ScriptResult, classes: Array| {
            let names: Vec<String> = classes.into_iter().map(|c| c.to_string()).collect();
            let c = confusion_chart(&model, &names);
            at(&ctx, add_block(&st, Block::Chart(c)))
        },
    );

    let st = state.clone();
    FuncRegistration::new("grid_search").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, model: ScriptResult| {
            let r = grid_search_table(&model)
                .ok_or_else(|| rt(format!("{} has no grid search", model.name)))
                .and_then(|t| add_block(&st, Block::Table(t)));
            at(&ctx, r)
        },
    );

    register_comparison(&mut m, &state);
    register_plots(&mut m, &state);

    let st = state;
    FuncRegistration::new("warn").set_into_module(&mut m, move |w: ImmutableString| {
        eprintln!("warning: {w}");
        lock(&st).report.warnings.push(w.to_string());
    });
    m
}

fn models_from(models: Array) -> Res<Vec<ScriptResult>> {
    models
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            m.try_cast::<ScriptResult>()
                .ok_or_else(|| rt(format!("item {i} is not a ModelResult")))
        })
        .collect()
}

fn open_section(state: &Shared, id: &str, title: &str) -> Res<()> {
    let mut s = lock(state);
    s.report.section(id, title).map_err(rt)?;
    s.current_section = Some(id.to_string());
    Ok(())
}

fn images_from(items: Array) -> Res<Vec<crate::report::ImageItem>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        let (frame, cap) = if it.is::<Frame>() {
            (it.cast::<Frame>(), String::new())
        } else if let Some(mut map) = it.try_cast::<Map>() {
            let frame = map
                .remove("frame")
                .and_then(|f| f.try_cast::<Frame>())
                .ok_or_else(|| rt(format!("images: item {i} is a map without a `frame` Frame")))?;
            let cap = map
                .get("caption")
                .map(|c| c.to_string())
                .unwrap_or_default();
            (frame, cap)
        } else {
            return Err(rt(format!(
                "images: item {i} must be a Frame or #{{frame: Frame, caption: \"...\"}}"
            )));
        };
        out.push(image_item(&frame, &cap).map_err(rt)?);
    }
    Ok(out)
}

fn cell(v: Dynamic) -> Cell {
    if v.is_unit() {
        Cell::Missing
    } else if let Ok(i) = v.as_int() {
        Cell::Int(i)
    } else if let Ok(x) = v.as_float() {
        if x.is_finite() {
            Cell::Num(x)
        } else {
            Cell::Missing
        }
    } else {
        Cell::Text(v.to_string())
    }
}

fn column(v: Dynamic, i: usize) -> Res<Column> {
    if v.is_string() {
        return Ok(Column {
            name: v.to_string(),
            better: None,
            digits: None,
        });
    }
    let map = v
        .try_cast::<Map>()
        .ok_or_else(|| rt(format!("table: column {i} must be a name or #{{name: ..}}")))?;
    let name = map
        .get("name")
        .map(|n| n.to_string())
        .ok_or_else(|| rt(format!("table: column {i} has no `name`")))?;
    let better = match map.get("better").map(|b| b.to_string()) {
        None => None,
        Some(b) if b == "higher" => Some(Better::Higher),
        Some(b) if b == "lower" => Some(Better::Lower),
        Some(b) => {
            return Err(rt(format!(
                "table: column `{name}`: better must be \"higher\" or \"lower\", not \"{b}\""
            )));
        }
    };
    let digits = match map.get("digits") {
        None => None,
        Some(d) => Some(
            d.as_int()
                .ok()
                .filter(|d| (0..=12).contains(d))
                .ok_or_else(|| rt(format!("table: column `{name}`: digits must be 0..12")))?
                as usize,
        ),
    };
    Ok(Column {
        name,
        better,
        digits,
    })
}

fn table_from(caption: &str, columns: Array, rows: Array) -> Res<Table> {
    let columns = columns
        .into_iter()
        .enumerate()
        .map(|(i, c)| column(c, i))
        .collect::<Res<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (r, row) in rows.into_iter().enumerate() {
        let row = row
            .try_cast::<Array>()
            .ok_or_else(|| rt(format!("table: row {r} is not an array")))?;
        if row.len() != columns.len() {
            return Err(rt(format!(
                "table `{caption}`: row {r} has {} cells but there are {} columns",
                row.len(),
                columns.len()
            )));
        }
        out.push(row.into_iter().map(cell).collect());
    }
    Ok(Table {
        caption: caption.to_string(),
        columns,
        rows: out,
        groups: Vec::new(),
        summary: None,
    })
}

fn floats(v: Dynamic, what: &str) -> Res<Vec<f64>> {
    let arr = v
        .try_cast::<Array>()
        .ok_or_else(|| rt(format!("{what} must be an array of numbers")))?;
    arr.into_iter()
        .map(|x| {
            x.as_float()
                .or_else(|_| x.as_int().map(|i| i as f64))
                .map_err(|_| rt(format!("{what} must hold numbers, found {}", x.type_name())))
        })
        .collect()
}

fn chart_from(kind: ChartKind, mut spec: Map) -> Res<Chart> {
    let text = |m: &Map, k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
    let categories: Vec<String> = spec
        .remove("categories")
        .and_then(|c| c.try_cast::<Array>())
        .ok_or_else(|| rt("chart: `categories` (an array of labels) is required"))?
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    let series_spec = spec
        .remove("series")
        .ok_or_else(|| rt("chart: `series` is required"))?;
    let mut series = Vec::new();
    if let Some(arr) = series_spec.clone().try_cast::<Array>() {
        for (i, s) in arr.into_iter().enumerate() {
            let mut m = s
                .try_cast::<Map>()
                .ok_or_else(|| rt(format!("chart: series {i} must be #{{name, values}}")))?;
            let name = text(&m, "name");
            let values = floats(
                m.remove("values").unwrap_or_default(),
                &format!("series `{name}` values"),
            )?;
            series.push(Series { name, values });
        }
    } else if let Some(m) = series_spec.try_cast::<Map>() {
        for (name, values) in m {
            let values = floats(values, &format!("series `{name}`"))?;
            series.push(Series {
                name: name.to_string(),
                values,
            });
        }
    } else {
        return Err(rt(
            "chart: `series` must be an array of #{name, values} or a map",
        ));
    }
    for s in &series {
        if s.values.len() != categories.len() {
            return Err(rt(format!(
                "chart: series `{}` has {} values for {} categories",
                s.name,
                s.values.len(),
                categories.len()
            )));
        }
    }
    Ok(Chart {
        kind,
        title: text(&spec, "title"),
        x_label: text(&spec, "x_label"),
        y_label: text(&spec, "y_label"),
        categories,
        series,
        log_y: spec
            .get("log_y")
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(false),
    })
}

/// The models a comparison covers: the given ones, or every result of the run so far.
fn models_or_run(state: &Shared, models: Option<Array>) -> Res<Vec<ModelResult>> {
    match models {
        Some(a) => Ok(models_from(a)?.iter().map(|m| (**m).clone()).collect()),
        None => Ok(lock(state).results.models.clone()),
    }
}

/// Append `block` to the open section.
fn add_block(state: &Shared, block: Block) -> Res<()> {
    with_section(state, |s| s.blocks.push(block))
}

fn markdown(text: String) -> Block {
    Block::Markdown { text }
}

fn add_plot(state: &Shared, p: &Plot) -> Res<()> {
    with_section(state, |s| s.plot(p).map(|_| ()))?.map_err(rt)
}

fn comparison(state: &Shared, models: Option<Array>) -> Res<()> {
    let ms = models_or_run(state, models)?;
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let table = comparison_table(&refs);
    let protocol = protocol_markdown(&refs);
    let pairs = paired_table(&refs);
    let mut st = lock(state);
    let id = st.current_section.clone().ok_or_else(|| {
        rt("no report section is open: call report::section(id, title) before adding content")
    })?;
    st.report
        .add_exported_table(&id, table, COMPARISON_EXPORT)
        .map_err(rt)?;
    st.report.section(&id, "").map_err(rt)?.markdown(&protocol);
    if let Some(pairs) = pairs {
        st.report
            .add_exported_table(&id, pairs, PAIRS_EXPORT)
            .map_err(rt)?;
    }
    Ok(())
}

fn register_comparison(m: &mut Module, state: &Shared) {
    let st = state.clone();
    FuncRegistration::new("comparison").set_into_module(m, move |ctx: NativeCallContext| {
        at(&ctx, comparison(&st, None))
    });
    let st = state.clone();
    FuncRegistration::new("comparison")
        .set_into_module(m, move |ctx: NativeCallContext, models: Array| {
            at(&ctx, comparison(&st, Some(models)))
        });

    for with_models in [false, true] {
        let st = state.clone();
        let run = move |models: Option<Array>| -> Res<i64> {
            let ms = models_or_run(&st, models)?;
            let refs: Vec<&ModelResult> = ms.iter().collect();
            let charts = efficiency_charts(&refs);
            let n = charts.len() as i64;
            with_section(&st, |s| {
                for c in charts {
                    s.chart(c);
                }
            })?;
            Ok(n)
        };
        if with_models {
            FuncRegistration::new("efficiency")
                .set_into_module(m, move |ctx: NativeCallContext, models: Array| {
                    at(&ctx, run(Some(models)))
                });
        } else {
            FuncRegistration::new("efficiency")
                .set_into_module(m, move |ctx: NativeCallContext| at(&ctx, run(None)));
        }
    }

    let st = state.clone();
    FuncRegistration::new("roc").set_into_module(
        m,
        move |ctx: NativeCallContext, model: ScriptResult, classes: Array| {
            let names: Vec<String> = classes.into_iter().map(|c| c.to_string()).collect();
            at(&ctx, add_plot(&st, &roc_plot(&model, &names)))
        },
    );

    let st = state.clone();
    FuncRegistration::new("training_curves").set_into_module(
        m,
        move |ctx: NativeCallContext, model: ScriptResult| -> Res<bool> {
            let Some(epochs) = model.training_curves() else {
                return Ok(false);
            };
            let r = training_curve_plots(&model.name, epochs)
                .iter()
                .try_for_each(|p| add_plot(&st, p));
            at(&ctx, r.map(|_| true))
        },
    );

    let st = state.clone();
    FuncRegistration::new("pca_importance").set_into_module(
        m,
        move |ctx: NativeCallContext, model: ScriptResult| -> Res<bool> {
            let top = &model.details.classical.pca_importances_top20;
            if top.is_empty() {
                return Ok(false);
            }
            let comps: Vec<(usize, f64)> =
                top.iter().map(|c| (c.component, c.importance)).collect();
            let c = component_chart(
                &format!(
                    "{} — importance of PCA components (top {})",
                    model.name,
                    comps.len()
                ),
                &comps,
            );
            at(&ctx, add_block(&st, Block::Chart(c))).map(|_| true)
        },
    );

    for with_rows in [false, true] {
        let st = state.clone();
        let run = move |rows: Option<Array>| -> Res<()> {
            let learning = match rows {
                Some(r) => learning_rows(r)?,
                None => Vec::new(),
            };
            let results = ResultsTable {
                models: lock(&st).results.models.clone(),
            };
            let md = to_markdown(&insights(&results, &learning));
            add_block(&st, markdown(md))
        };
        if with_rows {
            FuncRegistration::new("insights")
                .set_into_module(m, move |ctx: NativeCallContext, rows: Array| {
                    at(&ctx, run(Some(rows)))
                });
        } else {
            FuncRegistration::new("insights")
                .set_into_module(m, move |ctx: NativeCallContext| at(&ctx, run(None)));
        }
    }
}

fn learning_rows(rows: Array) -> Res<Vec<LearningRow>> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            rhai::serde::from_dynamic::<LearningRow>(&r).map_err(|e| {
                rt(format!(
                    "learning-curve row {i}: {e} (expected #{{model, fraction, n_train, seed, accuracy, f1, train_time_s}})"
                ))
            })
        })
        .collect()
}

fn matrix_from(x: Array, what: &str) -> Res<ndarray::Array2<f64>> {
    let n = x.len();
    let mut data = Vec::new();
    let mut d = None;
    for (i, row) in x.into_iter().enumerate() {
        let row = floats(row, &format!("{what} row {i}"))?;
        match d {
            None => d = Some(row.len()),
            Some(k) if k != row.len() => {
                return Err(rt(format!(
                    "{what}: row {i} has {} values, row 0 has {k}",
                    row.len()
                )));
            }
            _ => {}
        }
        data.extend(row);
    }
    ndarray::Array2::from_shape_vec((n, d.unwrap_or(0)), data).map_err(rt)
}

fn indices(v: Array, what: &str) -> Res<Vec<usize>> {
    v.into_iter()
        .map(|l| {
            l.as_int()
                .ok()
                .filter(|&i| i >= 0)
                .map(|i| i as usize)
                .ok_or_else(|| rt(format!("{what} must be non-negative integers")))
        })
        .collect()
}

fn tsne(state: &Shared, title: &str, x: Array, labels: Array, classes: Array, o: &Map) -> Res<Map> {
    let x = matrix_from(x, "t-SNE input")?;
    let labels = indices(labels, "labels")?;
    let names: Vec<String> = classes.into_iter().map(|c| c.to_string()).collect();
    let point_labels: Vec<String> = match o.get("point_labels") {
        Some(v) => v
            .clone()
            .try_cast::<Array>()
            .ok_or_else(|| rt("point_labels must be an array"))?
            .into_iter()
            .map(|p| p.to_string())
            .collect(),
        None => Vec::new(),
    };
    let mut opts = TsneOptions {
        seed: lock(state).config.int("seed").map_err(rt)? as u64,
        ..TsneOptions::default()
    };
    if let Some(p) = o.get("perplexity") {
        opts.perplexity = p
            .as_float()
            .or_else(|_| p.as_int().map(|i| i as f64))
            .map_err(|_| rt("perplexity must be a number"))?;
    }
    if let Some(s) = o.get("seed") {
        opts.seed = s.as_int().map_err(|_| rt("seed must be an integer"))? as u64;
    }
    let view = tsne_view(title, &x, &labels, &names, &point_labels, &opts).map_err(rt)?;
    add_plot(state, &tsne_plot(&view))?;
    let mut out = Map::new();
    out.insert("caption".into(), view.caption.into());
    out.insert("k".into(), Dynamic::from_int(view.k as i64));
    let f = |v: Option<f64>| v.map_or(Dynamic::UNIT, Dynamic::from_float);
    out.insert("knn_map".into(), f(view.knn_map));
    out.insert("knn_original".into(), f(view.knn_original));
    out.insert(
        "perplexity".into(),
        match view.method {
            MapMethod::Tsne { perplexity } => Dynamic::from_float(perplexity),
            MapMethod::Pca => Dynamic::UNIT,
        },
    );
    Ok(out)
}

fn plot_from(mut spec: Map) -> Res<Plot> {
    let text = |m: &Map, k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
    let kind = match text(&spec, "kind").as_str() {
        "" | "line" | "lines" => PlotKind::Line,
        "scatter" | "points" => PlotKind::Scatter,
        other => return Err(rt(format!("plot: kind `{other}` (line or scatter)"))),
    };
    let mut p = Plot::new(
        kind,
        text(&spec, "title"),
        text(&spec, "x_label"),
        text(&spec, "y_label"),
    );
    let series = spec
        .remove("series")
        .and_then(|s| s.try_cast::<Array>())
        .ok_or_else(|| rt("plot: `series` (an array of #{name, x, y}) is required"))?;
    for (i, s) in series.into_iter().enumerate() {
        let mut m = s
            .try_cast::<Map>()
            .ok_or_else(|| rt(format!("plot: series {i} must be #{{name, x, y}}")))?;
        let name = text(&m, "name");
        let mut get = |k: &str| -> Res<Vec<f64>> {
            match m.remove(k) {
                Some(v) => floats(v, &format!("series `{name}` {k}")),
                None => Ok(Vec::new()),
            }
        };
        let (x, y, lo, hi) = (get("x")?, get("y")?, get("lo")?, get("hi")?);
        let labels = m
            .remove("labels")
            .and_then(|l| l.try_cast::<Array>())
            .map(|a| a.into_iter().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        p.series.push(XySeries {
            name,
            x,
            y,
            lo,
            hi,
            labels,
        });
    }
    let range = |m: &Map, k: &str| -> Res<Option<[f64; 2]>> {
        match m.get(k) {
            None => Ok(None),
            Some(v) => {
                let r = floats(v.clone(), k)?;
                match r.as_slice() {
                    [a, b] => Ok(Some([*a, *b])),
                    _ => Err(rt(format!("plot: {k} must be [lo, hi]"))),
                }
            }
        }
    };
    p.x_range = range(&spec, "x_range")?;
    p.y_range = range(&spec, "y_range")?;
    let flag = |m: &Map, k: &str| m.get(k).and_then(|v| v.as_bool().ok()).unwrap_or(false);
    p.log_y = flag(&spec, "log_y");
    p.diagonal = flag(&spec, "diagonal");
    p.caption = text(&spec, "caption");
    p.validate().map_err(rt)?;
    Ok(p)
}

fn register_plots(m: &mut Module, state: &Shared) {
    let st = state.clone();
    FuncRegistration::new("plot").set_into_module(m, move |ctx: NativeCallContext, spec: Map| {
        at(&ctx, plot_from(spec).and_then(|p| add_plot(&st, &p)))
    });

    for with_opts in [false, true] {
        let st = state.clone();
        let run = move |title: ImmutableString, x: Array, labels: Array, classes: Array, o: Map| {
            tsne(&st, &title, x, labels, classes, &o)
        };
        if with_opts {
            FuncRegistration::new("tsne").set_into_module(
                m,
                move |ctx: NativeCallContext,
                      title: ImmutableString,
                      x: Array,
                      labels: Array,
                      classes: Array,
                      o: Map| at(&ctx, run(title, x, labels, classes, o)),
            );
        } else {
            FuncRegistration::new("tsne").set_into_module(
                m,
                move |ctx: NativeCallContext,
                      title: ImmutableString,
                      x: Array,
                      labels: Array,
                      classes: Array| {
                    at(&ctx, run(title, x, labels, classes, Map::new()))
                },
            );
        }
    }

    let st = state.clone();
    FuncRegistration::new("learning_curves").set_into_module(
        m,
        move |ctx: NativeCallContext, rows: Array| {
            let r = learning_rows(rows).and_then(|rows| {
                for p in learning_curve_plots(&rows) {
                    add_plot(&st, &p)?;
                }
                let t = learning_table(&rows);
                add_block(&st, Block::Table(t))
            });
            at(&ctx, r)
        },
    );

    let st = state.clone();
    FuncRegistration::new("importance").set_into_module(
        m,
        move |ctx: NativeCallContext, result: Map, top: i64| {
            let r = rhai::serde::from_dynamic::<PermutationImportance>(&Dynamic::from_map(
                result.clone(),
            ))
            .and_then(|imp| {
                let model = result
                    .get("model")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                let by = result.get("by").map(|v| v.to_string()).unwrap_or_default();
                let what = if by == "feature" {
                    "feature"
                } else {
                    "feature family"
                };
                let title = format!("{model} — permutation importance by {what}");
                let chart = importance_chart(&imp, &title, top.max(1) as usize);
                let table = importance_table(
                    &imp,
                    &format!(
                        "{title}: accuracy {:.3} on {} held-out videos before shuffling",
                        imp.baseline, imp.n_rows
                    ),
                );
                with_section(&st, |s| {
                    s.chart(chart);
                    s.table(table);
                })
            });
            at(&ctx, r)
        },
    );
}
