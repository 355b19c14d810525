//! The `vidcompare` command line: run experiment scripts, make demo data, inspect videos, render
//! reports from saved results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vidcompare::config::{Config, KEYS};
use vidcompare::dataset::{DemoSize, generate};
use vidcompare::report::Report;
use vidcompare::script::{RunOptions, run_script};
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
    /// List the configuration keys with their defaults.
    Config,
}

fn default_templates(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let p = Path::new("templates");
        p.join("report.html.j2").is_file().then(|| p.to_path_buf())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            script,
            set,
            max_operations,
            templates,
            quiet,
        } => {
            let config = Config::with_overrides(&set)?;
            let opts = RunOptions {
                config,
                progress: !quiet,
                max_operations,
                templates_dir: default_templates(templates),
                write_report: true,
            };
            let out = run_script(&script, opts)?;
            if let Some(p) = out.index_html {
                println!("report: {}", p.display());
            }
        }
        Command::DemoData { dir, size, seed } => {
            let size: DemoSize = size.parse()?;
            let t = std::time::Instant::now();
            let summary = generate(&dir, size, seed, true)?;
            for (name, root, n) in &summary.roots {
                println!("{name}: {n} videos in {}", root.display());
            }
            println!("done in {:.1} s", t.elapsed().as_secs_f64());
        }
        Command::Inspect { videos, json } => {
            let mut failed = 0;
            if !json {
                println!(
                    "{:<40} {:>9} {:>7} {:>8} {:>8} {:>9}  codec",
                    "video", "size", "fps", "frames", "header", "seconds"
                );
            }
            for v in &videos {
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
        }
        Command::Render {
            results,
            out,
            templates,
        } => {
            let report = Report::load_json(&results)?;
            let dir = out.unwrap_or_else(|| {
                results
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            });
            let p = report.write(&dir, default_templates(templates).as_deref())?;
            println!("report: {}", p.display());
        }
        Command::Config => {
            for k in KEYS {
                println!("{:<24} {:<22} {}", k.name, k.default, k.doc);
            }
        }
    }
    Ok(())
}
