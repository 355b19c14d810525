//! The Rhai host: runs experiment scripts with the library's primitives registered, one namespace
//! per library area (`dataset::`, `video::`, `report::`), and turns script errors into
//! `file:line:column` messages with the offending source line.
//!
//! A script reads its settings with `config()`, writes prose and results into the report with
//! `report::…`, and may `import` other scripts (paths relative to the importing script's folder),
//! one module per notebook section. Editing a script never needs a rebuild.

mod analysis;
mod classical;
mod dataset;
mod deep;
mod features;
mod report;
mod video;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Position, Scope};

use crate::config::{Config, Value, closest};
use crate::error::{Error, IoContext, Result};
use crate::report::{Report, RunMeta};

/// Options of one script run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Validated configuration (defaults plus `--set` overrides).
    pub config: Config,
    /// Show progress bars on the terminal.
    pub progress: bool,
    /// Stop a runaway script after this many Rhai operations (None: unlimited).
    pub max_operations: Option<u64>,
    /// Stop the script after this many seconds of wall-clock time (None: unlimited).
    pub max_seconds: Option<f64>,
    /// Folder of report templates to use instead of the built-in copies (edits need no rebuild).
    pub templates_dir: Option<PathBuf>,
    /// Write the report when the script finishes (tests may turn this off).
    pub write_report: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            config: Config::default(),
            progress: true,
            max_operations: None,
            max_seconds: None,
            templates_dir: None,
            write_report: true,
        }
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report the script built (also saved as `results.json` beside the HTML).
    pub report: Report,
    /// The model results the script produced (saved as `models.json`).
    pub results: crate::results::ResultsTable,
    /// `REPORT_DIR/RUN_NAME/index.html` when the report was written.
    pub index_html: Option<PathBuf>,
}

/// State the registered functions share while a script runs.
#[derive(Debug)]
pub(crate) struct RunState {
    pub report: Report,
    pub current_section: Option<String>,
    pub config: Config,
    pub progress: bool,
    pub datasets: Vec<crate::report::DatasetMeta>,
    /// Every model result of the run, saved as `models.json` beside the report.
    pub results: crate::results::ResultsTable,
    /// Per-video products taken from the caches and computed, over the whole run.
    pub products: crate::report::ProductCounts,
}

impl RunState {
    /// Counts `total` per-video products of which `reused` came from a cache.
    pub(crate) fn count_products(&mut self, total: usize, reused: usize) {
        self.products.reused += reused;
        self.products.computed += total.saturating_sub(reused);
    }
}

pub(crate) type Shared = Arc<Mutex<RunState>>;

pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, RunState> {
    // A panic in another registered function can't leave the report half-updated in a way that
    // matters more than losing the run, so recover the guard instead of propagating the poison.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turn a library error into a Rhai runtime error (Rhai fills in the script position).
pub(crate) fn rt(e: impl std::fmt::Display) -> Box<EvalAltResult> {
    e.to_string().into()
}

/// Give a native function's error the position of the call that raised it. Rhai leaves errors
/// from namespaced (`report::table`) native calls without a position, and a script author needs it.
pub(crate) fn at<T>(
    ctx: &rhai::NativeCallContext,
    r: std::result::Result<T, Box<EvalAltResult>>,
) -> std::result::Result<T, Box<EvalAltResult>> {
    r.map_err(|mut e| {
        if e.position().is_none() {
            e.set_position(ctx.call_position());
        }
        e
    })
}

/// The script's view of the configuration: `cfg.seed` or `cfg["seed"]`; an unknown key is an error
/// with the closest known key as a hint (a plain map would silently give `()`).
#[derive(Debug, Clone)]
pub struct ScriptConfig(Arc<Config>);

impl ScriptConfig {
    fn get(&mut self, key: &str) -> std::result::Result<Dynamic, Box<EvalAltResult>> {
        match self.0.get(key) {
            Ok(v) => Ok(value_to_dynamic(v)),
            Err(e) => Err(rt(e)),
        }
    }
}

fn value_to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Int(i) => Dynamic::from_int(*i),
        Value::Float(x) => Dynamic::from_float(*x),
        Value::Str(s) => Dynamic::from(s.clone()),
    }
}

/// Build an engine with every vidcompare namespace registered, sharing `state`.
pub(crate) fn build_engine(
    state: Shared,
    script_dir: &Path,
    max_ops: Option<u64>,
    max_seconds: Option<f64>,
) -> Engine {
    let mut engine = Engine::new();
    engine.set_module_resolver(FileModuleResolver::new_with_path(script_dir));
    if let Some(n) = max_ops {
        engine.set_max_operations(n);
    }
    // Ctrl-C and the time limit stop the script between Rhai operations (long library calls
    // check the interrupt flag themselves).
    let started = Instant::now();
    engine.on_progress(move |_| {
        if crate::interrupt::interrupted() {
            return Some(crate::interrupt::INTERRUPTED_MESSAGE.into());
        }
        match max_seconds {
            Some(s) if started.elapsed().as_secs_f64() > s => {
                Some(format!("time limit of {s} s reached (--max-seconds)").into())
            }
            _ => None,
        }
    });
    engine.set_max_expr_depths(256, 256);

    engine
        .register_type_with_name::<ScriptConfig>("Config")
        .register_indexer_get(ScriptConfig::get)
        .register_fn("keys", |c: &mut ScriptConfig| -> rhai::Array {
            c.0.iter()
                .map(|(k, _)| Dynamic::from(k.to_string()))
                .collect()
        })
        .register_fn("to_string", |c: &mut ScriptConfig| -> String {
            c.0.iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        });
    engine
        .register_fn("fmt", |x: f64, digits: i64| {
            format!("{:.*}", digits.clamp(0, 12) as usize, x)
        })
        .register_fn("fmt", |x: i64, _digits: i64| x.to_string());
    let st = state.clone();
    engine.register_fn("config", move || {
        ScriptConfig(Arc::new(lock(&st).config.clone()))
    });

    engine.register_static_module("dataset", dataset::module(state.clone()).into());
    engine.register_static_module("video", video::module(state.clone()).into());
    engine.register_static_module("features", features::module(state.clone()).into());
    engine.register_static_module("classical", classical::module(state.clone()).into());
    engine.register_static_module("deep", deep::module(state.clone()).into());
    engine.register_static_module("analysis", analysis::module(state.clone()).into());
    engine.register_static_module("report", report::module(state).into());
    video::register_types(&mut engine);
    dataset::register_types(&mut engine);
    features::register_types(&mut engine);
    classical::register_types(&mut engine);
    engine
}

/// Run the script at `path` and (unless turned off) write its report to
/// `REPORT_DIR/RUN_NAME/index.html`.
pub fn run_script(path: &Path, opts: RunOptions) -> Result<RunOutcome> {
    let started = Instant::now();
    let source = std::fs::read_to_string(path).at(path)?;
    let script_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));

    let mut meta = RunMeta::collect();
    meta.script = Some(path.display().to_string());
    meta.seed = crate::settings::seed(&opts.config).ok();
    meta.config = opts
        .config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let title = format!(
        "vidcompare: {}",
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("report")
    );
    let state: Shared = Arc::new(Mutex::new(RunState {
        report: Report::new(title, meta),
        current_section: None,
        config: opts.config.clone(),
        progress: opts.progress,
        datasets: Vec::new(),
        results: crate::results::ResultsTable::new(),
        products: Default::default(),
    }));

    let engine = build_engine(
        state.clone(),
        script_dir,
        opts.max_operations,
        opts.max_seconds,
    );
    let mut ast = engine
        .compile(&source)
        .map_err(|e| Error::Script(format_error(path, &EvalAltResult::from(e), script_dir)))?;
    ast.set_source(path.display().to_string());
    let mut scope = Scope::new();
    engine
        .run_ast_with_scope(&mut scope, &ast)
        .map_err(|e| Error::Script(format_error(path, &e, script_dir)))?;
    drop(engine);

    let mut st = lock(&state);
    let datasets = std::mem::take(&mut st.datasets);
    let mut report = st.report.clone();
    let results = std::mem::take(&mut st.results);
    report.meta.products = Some(st.products);
    drop(st);
    report.meta.datasets = datasets;
    report.meta.duration_s = Some(started.elapsed().as_secs_f64());
    report.meta.gpu = results.gpu_used();
    report.set_key_findings(&results);

    let index_html = if opts.write_report {
        let dir = crate::settings::RunPaths::from_config(&opts.config)?.run_dir;
        if !results.models.is_empty() {
            results.save_json(dir.join("models.json"))?;
        }
        let index = report.write(&dir, opts.templates_dir.as_deref())?;
        // The runs index beside the run folders; a run whose folder cannot be listed still has
        // its own report, so this only warns.
        let report_dir = PathBuf::from(opts.config.str("report_dir")?);
        if let Err(e) = crate::report::runs::write_index(&report_dir, opts.templates_dir.as_deref())
        {
            eprintln!("warning: the runs index was not updated: {e}");
        }
        Some(index)
    } else {
        None
    };
    Ok(RunOutcome {
        report,
        results,
        index_html,
    })
}

/// Format a Rhai error as `error: message`, then `--> file:line:column`, the source line with a
/// caret, and the chain of calls/imports that led there.
pub fn format_error(main: &Path, err: &EvalAltResult, script_dir: &Path) -> String {
    let main_src = main.display().to_string();
    let mut trail = Vec::new();
    let mut src = main_src.clone();
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(name, fsrc, inner, pos) => {
                trail.push(format!(
                    "in call to `{name}` at {}",
                    locate(&src, *pos, script_dir, &main_src)
                ));
                if !fsrc.is_empty() {
                    src = fsrc.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                trail.push(format!(
                    "in module `{name}` imported at {}",
                    locate(&src, *pos, script_dir, &main_src)
                ));
                if !name.is_empty() {
                    src = name.clone();
                }
                e = inner;
            }
            _ => break,
        }
    }
    let pos = e.position();
    let mut msg = e.to_string();
    // Rhai appends " (line L, position C)"; we print the position our own way.
    if let Some(i) = msg.rfind(" (line ") {
        msg.truncate(i);
    }
    if let EvalAltResult::ErrorTerminated(why, _) = e {
        msg = format!("script stopped: {why}");
    }
    if let EvalAltResult::ErrorFunctionNotFound(sig, _) = e
        && let Some(hint) = function_hint(sig)
    {
        msg.push_str(&format!("\n  hint: did you mean `{hint}`?"));
    }
    let mut out = format!(
        "error: {msg}\n  --> {}",
        locate(&src, pos, script_dir, &main_src)
    );
    if let (Some(line), Some(text)) = (pos.line(), source_line(&src, pos, script_dir, &main_src)) {
        let col = pos.position().unwrap_or(1).max(1);
        let w = line.to_string().len();
        out.push_str(&format!(
            "\n{:w$} |\n{line} | {text}\n{:w$} | {}^",
            "",
            "",
            " ".repeat(col - 1)
        ));
    }
    for t in trail.iter().rev() {
        out.push_str(&format!("\n  {t}"));
    }
    out
}

fn script_file(src: &str, script_dir: &Path, main_src: &str) -> PathBuf {
    if src == main_src {
        return PathBuf::from(src);
    }
    let p = script_dir.join(src);
    if p.extension().is_none() {
        p.with_extension("rhai")
    } else {
        p
    }
}

fn locate(src: &str, pos: Position, script_dir: &Path, main_src: &str) -> String {
    let file = script_file(src, script_dir, main_src);
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", file.display()),
        (Some(l), None) => format!("{}:{l}", file.display()),
        _ => file.display().to_string(),
    }
}

fn source_line(src: &str, pos: Position, script_dir: &Path, main_src: &str) -> Option<String> {
    let text = std::fs::read_to_string(script_file(src, script_dir, main_src)).ok()?;
    text.lines()
        .nth(pos.line()? - 1)
        .map(|l| l.replace('\t', " "))
}

/// Suggest the registered function closest to the one a script called.
fn function_hint(sig: &str) -> Option<String> {
    let name = sig.split(['(', ' ']).next()?.trim();
    let (ns, short) = match name.rsplit_once("::") {
        Some((ns, f)) => (Some(ns), f),
        None => (None, name),
    };
    let known: Vec<String> = known_functions()
        .into_iter()
        .filter(|f| match ns {
            Some(ns) => f.starts_with(&format!("{ns}::")),
            None => true,
        })
        .collect();
    let shorts: Vec<&str> = known
        .iter()
        .map(|f| f.rsplit("::").next().unwrap_or(f))
        .collect();
    let best = closest(short, &shorts)?;
    if best == short {
        return None;
    }
    known
        .iter()
        .find(|f| f.rsplit("::").next() == Some(best))
        .cloned()
}

/// Names of every function vidcompare registers, namespaced (`report::table`), for hints and docs.
pub fn known_functions() -> Vec<String> {
    let mut v: Vec<String> = ["config", "fmt"].iter().map(|s| s.to_string()).collect();
    for (ns, names) in [
        ("dataset", dataset::FUNCTIONS),
        ("video", video::FUNCTIONS),
        ("features", features::FUNCTIONS),
        ("classical", classical::FUNCTIONS),
        ("deep", deep::FUNCTIONS),
        ("analysis", analysis::FUNCTIONS),
        ("report", report::FUNCTIONS),
    ] {
        v.extend(names.iter().map(|n| format!("{ns}::{n}")));
    }
    v
}
