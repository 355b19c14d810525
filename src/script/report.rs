//! `report::` — what a script writes into the report: sections, Markdown prose, tables, charts and
//! image strips.

use rhai::{
    Array, Dynamic, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};

use super::classical::ScriptResult;
use super::{Shared, at, lock, rt};
use crate::report::{Better, Cell, Chart, ChartKind, Column, Series, Table, image_item};
use crate::results::ModelResult;
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
];

/// Run `f` on the current section, or explain how to open one.
fn with_section(state: &Shared, f: impl FnOnce(&mut crate::report::Section)) -> Res<()> {
    let mut st = lock(state);
    let id = st.current_section.clone().ok_or_else(|| {
        rt("no report section is open: call report::section(id, title) before adding content")
    })?;
    let section = st.report.section(&id, "").map_err(rt)?;
    f(section);
    Ok(())
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
            at(
                &ctx,
                with_section(&st, |s| {
                    s.markdown(&md);
                }),
            )
        },
    );

    let st = state.clone();
    FuncRegistration::new("table").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, caption: ImmutableString, columns: Array, rows: Array| {
            let r = table_from(&caption, columns, rows).and_then(|t| {
                with_section(&st, |s| {
                    s.table(t);
                })
            });
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
                let r = chart_from(kind.clone(), spec).and_then(|c| {
                    with_section(&st, |s| {
                        s.chart(c);
                    })
                });
                at(&ctx, r)
            },
        );
    }

    let st = state.clone();
    FuncRegistration::new("images").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, caption: ImmutableString, items: Array| {
            let r = images_from(items).and_then(|out| {
                with_section(&st, |s| {
                    s.images(&caption, out);
                })
            });
            at(&ctx, r)
        },
    );

    let st = state.clone();
    FuncRegistration::new("metrics_table").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, caption: ImmutableString, models: Array| {
            let r = models_from(models).and_then(|ms| {
                let t = metrics_table(&caption, &ms);
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
            at(
                &ctx,
                with_section(&st, |s| {
                    s.chart(c);
                }),
            )
        },
    );

    let st = state.clone();
    FuncRegistration::new("grid_search").set_into_module(
        &mut m,
        move |ctx: NativeCallContext, model: ScriptResult| {
            let r = grid_table(&model).and_then(|t| {
                with_section(&st, |s| {
                    s.table(t);
                })
            });
            at(&ctx, r)
        },
    );

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

fn opt(x: Option<f64>) -> Cell {
    x.map_or(Cell::Missing, Cell::num)
}

/// One row per model with the notebook's unified-table columns, best values highlighted.
fn metrics_table(caption: &str, models: &[ScriptResult]) -> Table {
    let columns = vec![
        Column::text("model"),
        Column::higher("accuracy", 3),
        Column::higher("precision", 3),
        Column::higher("recall", 3),
        Column::higher("F1", 3),
        Column::higher("macro AUC", 3),
        Column::lower("train (s)", 3),
        Column::lower("infer / video, classifier (ms)", 3),
        Column::lower("infer / video, end to end (s)", 3),
        Column::lower("model size (MB)", 3),
        Column::text("params"),
        Column::text("test videos"),
    ];
    let rows = models
        .iter()
        .map(|m| {
            let e = &m.efficiency;
            vec![
                Cell::Text(m.name.clone()),
                Cell::num(m.metrics.accuracy),
                Cell::num(m.metrics.precision),
                Cell::num(m.metrics.recall),
                Cell::num(m.metrics.f1),
                opt(m.metrics.macro_auc),
                Cell::num(e.train_time_s),
                Cell::num(e.infer_time_s_per_video * 1e3),
                opt(e.infer_time_s_per_video_e2e),
                opt(e.model_size_mb),
                match (e.params, &e.params_meaning) {
                    (Some(p), Some(what)) => Cell::Text(format!("{p} ({what})")),
                    (Some(p), None) => Cell::Int(p as i64),
                    _ => Cell::Missing,
                },
                Cell::Int(m.protocol.n_videos as i64),
            ]
        })
        .collect();
    Table {
        caption: caption.to_string(),
        columns,
        rows,
    }
}

fn confusion_chart(m: &ModelResult, names: &[String]) -> Chart {
    let n = m.metrics.confusion.len();
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("C{i}"));
    Chart {
        kind: ChartKind::Heatmap,
        title: format!("{} — confusion matrix (test)", m.name),
        x_label: "predicted".into(),
        y_label: "true".into(),
        categories: (0..n).map(name).collect(),
        series: m
            .metrics
            .confusion
            .iter()
            .enumerate()
            .map(|(i, row)| Series {
                name: name(i),
                values: row.iter().map(|&c| c as f64).collect(),
            })
            .collect(),
        log_y: false,
    }
}

/// Every grid-search candidate with its fold scores, the chosen one marked.
fn grid_table(m: &ModelResult) -> Res<Table> {
    let rows = m.details["grid_search"]
        .as_array()
        .ok_or_else(|| rt(format!("{} has no grid search", m.name)))?;
    let best = m.details["best_index"].as_u64().unwrap_or(0) as usize;
    let columns = vec![
        Column::text("parameters"),
        Column::higher("mean CV accuracy", 3),
        Column::num("std", 3),
        Column::text("fold accuracies"),
        Column::num("rank", 0),
        Column::text("chosen"),
    ];
    let out = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let params = r["params"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let folds = r["fold_scores"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_f64().map_or("—".into(), |x| format!("{x:.3}")))
                        .collect::<Vec<_>>()
                        .join(" / ")
                })
                .unwrap_or_default();
            vec![
                Cell::Text(params.replace('"', "")),
                r["mean"].as_f64().map_or(Cell::Missing, Cell::num),
                r["std"].as_f64().map_or(Cell::Missing, Cell::num),
                Cell::Text(folds),
                r["rank"].as_i64().map_or(Cell::Missing, Cell::Int),
                Cell::Text(if i == best {
                    "✔ best".into()
                } else {
                    String::new()
                }),
            ]
        })
        .collect();
    Ok(Table {
        caption: format!("{}: grid search (stratified 3-fold CV on train)", m.name),
        columns,
        rows: out,
    })
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
