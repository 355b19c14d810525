//! The `vidcompare` command line: run experiment scripts, make demo data, inspect videos, render
//! reports from saved results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vidcompare::classical::pipeline::ClassicalPipeline;
use vidcompare::config::{Config, KEYS};
use vidcompare::dataset::{DemoSize, generate};
use vidcompare::features::extract::{FeatureOptions, extract_video};
use vidcompare::report::Report;
use vidcompare::script::{RunOptions, run_script};
use vidcompare::shard::{Plan, Shard, SlurmJob};
use vidcompare::util::csv::push_record;
use vidcompare::video::probe;

#[derive(Parser)]
#[command(
    name = "vidcompare",
    version,
    about = "Compare classical and deep-learning video classification, from Rhai scripts to an HTML report"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment script (e.g. scripts/comparative_analysis.rhai) and write its report.
    Run {
        /// The Rhai script to run.
        script: PathBuf,
        /// Override a config key, e.g. --set seed=7 --set data_root_classical=/data/ucf/classical
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Stop the script after this many Rhai operations (guards against runaway loops).
        #[arg(long)]
        max_operations: Option<u64>,
        /// Stop the script after this many seconds.
        #[arg(long)]
        max_seconds: Option<f64>,
        /// Folder of report templates (default: ./templates when it exists, else built-in).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Hide progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Write the built-in demo dataset (two roots: DIR/classical and DIR/deep).
    DemoData {
        /// Output folder.
        dir: PathBuf,
        /// small (default; fits the 10-minute demo on 2 cores), medium or large.
        #[arg(long, default_value = "small")]
        size: String,
        /// Seed for the generator.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Print metadata of videos: container, codec, size, fps, exact frame count, duration.
    Inspect {
        videos: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Render a report again from a saved results.json (e.g. after editing a template).
    Render {
        results: PathBuf,
        /// Output folder (default: the folder of results.json).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// Extract classical features from videos and print their length, frames and time
    /// (settings from --set, as in a run).
    Features {
        videos: Vec<PathBuf>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Write the vectors as CSV (one row per video, a header of feature names).
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Classify videos with a saved classical pipeline (REPORT_DIR/.../models/*.pipeline).
    Predict {
        model: PathBuf,
        videos: Vec<PathBuf>,
    },
    /// Check every video of a dataset up front: open and fully decode each one (in parallel) and
    /// print a table of the problems (missing, zero-byte, not a video, audio only, truncated,
    /// corrupt, too short). Exits with status 1 when some video is unusable.
    Check {
        /// The dataset root (holding splits/train.txt, val.txt, test.txt).
        root: PathBuf,
    },
    /// Compute a run's per-video products (classical features of both feature sets, deep frames
    /// of every deep model) into the caches, for the videos of one shard: the work of one Slurm
    /// array task. `vidcompare run` with the same settings then finds them all cached.
    Prepare {
        /// The experiment script the products are for (checked to exist).
        script: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// TASK/TASKS: this task's share of the videos, e.g. --shard $SLURM_ARRAY_TASK_ID/8.
        #[arg(long, default_value = "0/1")]
        shard: String,
        /// Compute nothing: list the products not yet cached and exit with status 1 if any are
        /// missing (what the merge job runs first).
        #[arg(long)]
        check: bool,
        /// Hide progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Write (and with --submit, submit) a Slurm job array of N prepare tasks and a merge job
    /// that runs the script once they have all succeeded.
    Slurm {
        script: PathBuf,
        /// Number of array tasks.
        #[arg(long)]
        tasks: usize,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        partition: Option<String>,
        #[arg(long)]
        cpus_per_task: Option<usize>,
        #[arg(long)]
        gpus_per_task: Option<usize>,
        /// Wall-clock limit per job, in Slurm's format (e.g. 02:00:00).
        #[arg(long)]
        time: Option<String>,
        /// Where the job scripts and logs go.
        #[arg(long, default_value = "slurm")]
        dir: PathBuf,
        /// Submit with sbatch (array, then the merge with --dependency=afterok).
        #[arg(long)]
        submit: bool,
        /// Print the two job scripts instead of writing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Benchmarks on your own data, with the reference side by side when it is installed.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Compare two runs (their folders, report_dir/run_name): the settings that differ and, for
    /// every model in both, the change of each metric, with the paired test where both runs used
    /// the same test videos. Prints a text table and writes an HTML page.
    Diff {
        run_a: PathBuf,
        run_b: PathBuf,
        /// The HTML page to write (default: diff-A-vs-B.html beside run A's folder).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// List the configuration keys with their defaults.
    Config,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Classical feature extraction: every stage single-threaded, the whole extraction as a run
    /// does it, and, when python3 with OpenCV and scikit-image is found, the notebook's own
    /// functions on the same videos with the ratios.
    Features {
        /// A dataset root (holding splits/); its first videos are used.
        root: PathBuf,
        /// How many videos.
        #[arg(long, default_value_t = 9)]
        videos: usize,
        /// Threads for the "as run" pass (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// The deep models' kernels on one device: the depthwise convolution (with gradients) and
    /// whole EfficientNet-B0 / R3D-18 forward passes on each kernel path, checked against the
    /// torch fixtures and the CPU kernels, then timed (EfficientNet stage by stage). Exits with
    /// status 3 when a check fails.
    Kernels {
        /// cpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// The folder of the torch fixtures (effnet_depthwise.safetensors).
        #[arg(long, default_value = "tests/fixtures/deep")]
        fixtures: PathBuf,
        /// Timed repetitions of each workload (0: checks only).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Image side of the timed workloads.
        #[arg(long, default_value_t = 224)]
        size: usize,
        /// Frames of one video for EfficientNet-B0.
        #[arg(long, default_value_t = 32)]
        frames: usize,
        /// Clips of one video for R3D-18.
        #[arg(long, default_value_t = 2)]
        clips: usize,
        /// Frames per R3D-18 clip.
        #[arg(long, default_value_t = 16)]
        clip_len: usize,
        /// Time only the workloads whose name contains this text (repeat for several; the
        /// checks always run).
        #[arg(long = "only", value_name = "TEXT")]
        only: Vec<String>,
        /// Also write everything as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// Every allocation counted, so that each model's memory is its own heap peak
/// ([`vidcompare::memory`]).
#[global_allocator]
static ALLOC: vidcompare::memory::CountingAlloc = vidcompare::memory::CountingAlloc;

fn default_templates(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let p = Path::new("templates");
        p.join("report.html.j2").is_file().then(|| p.to_path_buf())
    })
}

fn main() -> ExitCode {
    quiet_candle_workers();
    vidcompare::memory::keep_freed_heap();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `outer: cause: ...`, leaving out a cause whose text the message
/// already contains (our I/O errors say their source themselves: `PATH: Not a directory`).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// candle's CPU element-wise operations run on its own pool of worker threads, beside rayon's
/// (which runs our kernels and the matrix products). After each operation those workers spin
/// 25,000 times before they sleep, so on a machine with few cores they take CPU time from the
/// rayon threads of the next layer. Measured on 2 cores (`vidcompare bench kernels --size 112
/// --frames 8`, 2 threads): EfficientNet-B0 on a video's 8 frames 39.9 ms with the default, 30.1
/// ms with a limit of 1000 spins; R3D-18 unchanged. In a plain loop over the same network the
/// medians were 38.2, 38.0 and 41.4 ms with limits of 1000, 100 and 1 (45 to 58 ms with the
/// default), so 1000 keeps back-to-back operations quick without holding the core. A limit the
/// user set in the environment is kept.
fn quiet_candle_workers() {
    const VAR: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";
    if std::env::var_os(VAR).is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists, so nothing reads
        // the environment concurrently.
        unsafe { std::env::set_var(VAR, "1000") };
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            script,
            set,
            max_operations,
            max_seconds,
            templates,
            quiet,
        } => run_script_cmd(&script, &set, max_operations, max_seconds, templates, quiet),
        Command::DemoData { dir, size, seed } => demo_data(&dir, &size, seed),
        Command::Inspect { videos, json } => inspect(&videos, json),
        Command::Render {
            results,
            out,
            templates,
        } => render(&results, out, templates),
        Command::Features { videos, set, csv } => features(&videos, &set, csv.as_deref()),
        Command::Diff {
            run_a,
            run_b,
            out,
            templates,
        } => diff(&run_a, &run_b, out, templates),
        Command::Predict { model, videos } => predict(&model, &videos),
        Command::Check { root } => check(&root),
        Command::Prepare {
            script,
            set,
            shard,
            check,
            quiet,
        } => prepare(&script, &set, &shard, check, quiet),
        Command::Slurm {
            script,
            tasks,
            set,
            partition,
            cpus_per_task,
            gpus_per_task,
            time,
            dir,
            submit,
            dry_run,
        } => {
            let job = SlurmJob {
                script,
                tasks,
                set,
                partition,
                cpus_per_task,
                gpus_per_task,
                time,
                binary: std::env::current_exe()?,
                dir: std::path::absolute(&dir)?,
                workdir: std::env::current_dir()?,
            };
            slurm(&job, submit, dry_run)
        }
        Command::Bench {
            what:
                BenchWhat::Features {
                    root,
                    videos,
                    threads,
                },
        } => {
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let table = vidcompare::features::bench::bench_features(&root, videos, threads)?;
            print!("{}", table.render());
            Ok(())
        }
        Command::Bench {
            what:
                BenchWhat::Kernels {
                    device,
                    fixtures,
                    reps,
                    size,
                    frames,
                    clips,
                    clip_len,
                    only,
                    json,
                },
        } => {
            use vidcompare::deep::device::{DevicePref, select};
            use vidcompare::deep::kernel_bench::{BenchSizes, bench_kernels};
            let device = select(DevicePref::parse(&device)?)?;
            let sizes = BenchSizes {
                size,
                frames,
                clips,
                clip_len,
                reps,
            };
            let report = bench_kernels(&device, &fixtures, sizes, &only)?;
            print!("{}", report.render());
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            }
            if !report.ok {
                std::process::exit(3);
            }
            Ok(())
        }
        Command::Config => {
            list_config();
            Ok(())
        }
    }
}

/// `vidcompare run SCRIPT`: the experiment, its report, and a clean stop on Ctrl-C.
fn run_script_cmd(
    script: &Path,
    set: &[String],
    max_operations: Option<u64>,
    max_seconds: Option<f64>,
    templates: Option<PathBuf>,
    quiet: bool,
) -> anyhow::Result<()> {
    let config = Config::with_overrides(set)?;
    // Ctrl-C stops at the next video boundary; finished videos are already cached.
    vidcompare::interrupt::install_interrupt_handler()?;
    let opts = RunOptions {
        config,
        progress: !quiet,
        max_operations,
        max_seconds,
        templates_dir: default_templates(templates),
        write_report: true,
    };
    let out = match run_script(script, opts) {
        Err(e) if vidcompare::interrupt::interrupted() => {
            eprintln!("{e}");
            std::process::exit(vidcompare::interrupt::EXIT_INTERRUPTED);
        }
        r => r?,
    };
    if let Some(p) = out.index_html {
        println!("report: {}", p.display());
    }
    Ok(())
}

/// `vidcompare demo-data DIR`: the two seeded demo roots.
fn demo_data(dir: &Path, size: &str, seed: u64) -> anyhow::Result<()> {
    let size: DemoSize = size.parse()?;
    let t = std::time::Instant::now();
    let summary = generate(dir, size, seed, true)?;
    for (name, root, n) in &summary.roots {
        println!("{name}: {n} videos in {}", root.display());
    }
    println!("done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `vidcompare inspect VIDEO...`: one line (or JSON object) of metadata per video.
fn inspect(videos: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let mut failed = 0;
    if !json {
        println!(
            "{:<40} {:>9} {:>7} {:>8} {:>8} {:>9}  codec",
            "video", "size", "fps", "frames", "header", "seconds"
        );
    }
    for v in videos {
        match probe(v) {
            Ok(i) if json => println!("{}", serde_json::to_string(&i)?),
            Ok(i) => println!(
                "{:<40} {:>9} {:>7} {:>8} {:>8} {:>9.2}  {} in {}",
                v.display(),
                format!("{}x{}", i.width, i.height),
                i.fps.map(|f| format!("{f:.2}")).unwrap_or("?".into()),
                i.frame_count,
                i.container_frame_count
                    .map(|c| c.to_string())
                    .unwrap_or("-".into()),
                i.duration_s,
                i.codec,
                i.container
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} videos could not be read", videos.len());
    }
    Ok(())
}

/// `vidcompare render results.json`: the page again from saved results.
fn render(results: &Path, out: Option<PathBuf>, templates: Option<PathBuf>) -> anyhow::Result<()> {
    let mut report = Report::load_json(results)?;
    // A results.json written before reports had key findings: write them from the models.json
    // saved beside it.
    let models = results.with_file_name("models.json");
    if report.key_findings.is_none() && models.is_file() {
        report.set_key_findings(&vidcompare::results::ResultsTable::load_json(&models)?);
    }
    let dir = out.unwrap_or_else(|| {
        results
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    let p = report.write(&dir, default_templates(templates).as_deref())?;
    println!("report: {}", p.display());
    Ok(())
}

/// `vidcompare diff RUN_A RUN_B`: the text table on stdout, the page written.
fn diff(
    a: &Path,
    b: &Path,
    out: Option<PathBuf>,
    templates: Option<PathBuf>,
) -> anyhow::Result<()> {
    use vidcompare::report::runs::{RunRecord, diff_runs};
    let (ra, rb) = (RunRecord::load(a)?, RunRecord::load(b)?);
    let d = diff_runs(&ra, &rb);
    print!("{d}");
    let out = out.unwrap_or_else(|| {
        ra.dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("diff-{}-vs-{}.html", ra.name, rb.name))
    });
    let html = d
        .report()?
        .render_html(default_templates(templates).as_deref())?;
    vidcompare::util::fs::write_atomic(&out, html.as_bytes())?;
    println!("diff page: {}", out.display());
    Ok(())
}

/// `vidcompare features VIDEO...`: extract, print a line per video, optionally write CSV.
fn features(videos: &[PathBuf], set: &[String], csv: Option<&Path>) -> anyhow::Result<()> {
    let opts = FeatureOptions::from_config(&Config::with_overrides(set)?)?;
    let layout = opts.layout();
    println!(
        "feature set {} ({} values: {})",
        opts.set.as_str(),
        layout.len(),
        layout
            .family_sizes()
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // One CSV record per video (RFC 4180), built only when asked for.
    let mut out = csv.map(|_| String::new());
    if let Some(out) = out.as_mut() {
        push_record(
            out,
            std::iter::once("video".to_string()).chain((0..layout.len()).map(|i| layout.name(i))),
        );
    }
    let mut failed = 0;
    for v in videos {
        // Each video's own peak memory, so that a user can see it does not grow with length.
        let memory = vidcompare::memory::StageMemory::start();
        match extract_video(v, &opts) {
            Ok(f) => {
                let memory = memory
                    .finish()
                    .map(|m| {
                        let heap = m
                            .heap_own()
                            .map(|h| format!("heap peak {h:.1} MB, "))
                            .unwrap_or_default();
                        format!(", {heap}peak RSS {:.1} MB", m.peak)
                    })
                    .unwrap_or_default();
                println!(
                    "{}: {} frames, {:.3} s{memory}",
                    v.display(),
                    f.n_frames,
                    f.seconds
                );
                for w in &f.warnings {
                    eprintln!("warning: {}: {w}", v.display());
                }
                if let Some(out) = out.as_mut() {
                    push_record(
                        out,
                        std::iter::once(v.display().to_string())
                            .chain(f.values.iter().map(|x| x.to_string())),
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if let (Some(path), Some(out)) = (csv, out) {
        std::fs::write(path, out).map_err(|e| vidcompare::Error::io(path, e))?;
        println!("wrote {}", path.display());
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} videos failed", videos.len());
    }
    Ok(())
}

/// `vidcompare predict MODEL VIDEO...`: class and scores per video from a saved pipeline.
fn predict(model: &Path, videos: &[PathBuf]) -> anyhow::Result<()> {
    let p = ClassicalPipeline::load(model)?;
    let mut failed = 0;
    for v in videos {
        match p.predict_video(v) {
            Ok((class, scores)) => println!(
                "{}\t{}\t{}",
                v.display(),
                p.class_names
                    .get(class)
                    .cloned()
                    .unwrap_or(class.to_string()),
                scores
                    .iter()
                    .zip(&p.class_names)
                    .map(|(s, c)| format!("{c}={s:.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} videos could not be classified",
            videos.len()
        );
    }
    Ok(())
}

/// `vidcompare check ROOT`: decode every video of a dataset and list the problems.
fn check(root: &Path) -> anyhow::Result<()> {
    let report = vidcompare::dataset::check::check(root)?;
    println!("{report}");
    if report.has_errors() {
        anyhow::bail!(
            "{} of {} videos are unusable",
            report.counts.errors,
            report.counts.videos
        );
    }
    Ok(())
}

/// `vidcompare prepare SCRIPT --shard i/n`: one task's per-video products into the caches, or
/// (`--check`) the list of what is still missing.
fn prepare(
    script: &Path,
    set: &[String],
    shard: &str,
    check: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    if !script.is_file() {
        anyhow::bail!("{}: no such script", script.display());
    }
    let shard: Shard = shard.parse()?;
    let plan = Plan::from_config(&Config::with_overrides(set)?)?;
    if check {
        let state = vidcompare::shard::check(&plan)?;
        for (product, video, reason) in &state.unusable {
            eprintln!(
                "unusable: {product}: {}: {reason} (the run tries it again and reports it)",
                video.display()
            );
        }
        if state.missing.is_empty() {
            match state.unusable.len() {
                0 => println!("every per-video product is cached"),
                n => {
                    println!("every per-video product is cached, but for {n} recorded as unusable")
                }
            }
            return Ok(());
        }
        for (product, video) in &state.missing {
            eprintln!("missing: {product}: {}", video.display());
        }
        anyhow::bail!(
            "{} per-video products are not cached: run (or resubmit) the prepare tasks first",
            state.missing.len()
        );
    }
    vidcompare::interrupt::install_interrupt_handler()?;
    let rows = vidcompare::shard::prepare(&plan, shard, !quiet)?;
    println!("shard {shard}\n{}", vidcompare::shard::table(&rows));
    Ok(())
}

/// `vidcompare slurm SCRIPT --tasks N`: the job scripts, printed, written or submitted.
fn slurm(job: &SlurmJob, submit: bool, dry_run: bool) -> anyhow::Result<()> {
    if job.tasks == 0 {
        anyhow::bail!("--tasks must be at least 1");
    }
    if dry_run {
        println!(
            "# {}\n{}",
            job.dir.join("prepare.sbatch").display(),
            job.prepare_script()
        );
        println!(
            "# {}\n{}",
            job.dir.join("merge.sbatch").display(),
            job.merge_script()
        );
        return Ok(());
    }
    let (prepare, merge) = job.write()?;
    println!("wrote {} and {}", prepare.display(), merge.display());
    if submit {
        let (array, merge_id) = vidcompare::shard::submit(&prepare, &merge)?;
        println!(
            "submitted prepare array {array} ({} tasks) and merge {merge_id}",
            job.tasks
        );
        println!(
            "a failed task can be resubmitted alone (sbatch --array=3,7 {}), then the merge \
             (sbatch --dependency=afterok:NEW_JOB {})",
            prepare.display(),
            merge.display()
        );
    } else {
        println!(
            "submit with: sbatch {}   then: sbatch --dependency=afterok:JOB {}",
            prepare.display(),
            merge.display()
        );
    }
    Ok(())
}

/// `vidcompare config`: every key with its default and what it does.
fn list_config() {
    for k in KEYS {
        println!("{:<24} {:<22} {}", k.name, k.default, k.doc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotADirectory, "Not a directory");
        let e = anyhow::Error::from(vidcompare::Error::io("/cache/features/ab", io));
        assert_eq!(error_text(&e), "/cache/features/ab: Not a directory");
        let e = anyhow::Error::from(std::io::Error::other("disk full")).context("writing x");
        assert_eq!(error_text(&e), "writing x: disk full");
    }
}
