//! Scale-out: the per-video work of a run split across independent tasks (Slurm array tasks), each
//! writing into the shared content-addressed caches, so that the ordinary run afterwards finds
//! every product computed and only fits, evaluates and reports.
//!
//! The per-video products are what the notebook script asks for, resolved from the run's
//! configuration: the classical feature vectors of every video of `data_root_classical` for both
//! feature sets (`notebook`, `motion+`), and the preprocessed deep frames of every video of
//! `data_root_deep` for each distinct clip setting of the four deep models. Task `i` of `n` takes
//! the videos whose split-file path hashes to `i` modulo `n` ([`Shard::owns`]): deterministic,
//! balanced, and adding videos moves none of the others. Tasks never write the same cache entry,
//! and the caches' atomic, checksummed writes mean an entry written by a killed task is never read
//! as complete.
//!
//! A video a task cannot use (it does not decode) gets a record next to where its product would
//! be (`<key>.unusable`, holding the reason): the merge's check counts it as tried, not missing,
//! and the run tries it once more and reports it as it reports every bad video. Without the
//! record one bad video would keep the merge from ever starting.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::Config;
use crate::dataset::{Dataset, Sample};
use crate::deep::data::{ClipCache, ClipSpec, load_clips};
use crate::deep::models::DeepKind;
use crate::features::cache::FeatureCache;
use crate::features::extract::{FeatureOptions, strip_path, try_extract_samples};
use crate::settings::{DeepSettings, RunPaths};
use crate::util::cache::BlobCache;
use crate::{Error, Result};

/// Task `index` of `count` (0-based, as `$SLURM_ARRAY_TASK_ID` counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole dataset as one task.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether this task computes the products of `sample`: its path as written in the split file
    /// hashed modulo the task count. The path, not the file's bytes: every task can decide without
    /// reading any video, and a video keeps its task when others are added.
    pub fn owns(&self, sample: &Sample) -> bool {
        self.count == 1
            || xxh3_64(sample.rel_path.as_bytes()) % self.count as u64 == self.index as u64
    }

    /// The samples of `samples` this task owns, in order.
    pub fn select(&self, samples: &[Sample]) -> Vec<Sample> {
        samples.iter().filter(|s| self.owns(s)).cloned().collect()
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// `i/n` with `0 <= i < n`, e.g. `3/8`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || {
            Error::InvalidArgument(format!(
                "--shard {s}: expected TASK/TASKS with 0 <= TASK < TASKS, e.g. 0/4 \
                 (in a Slurm array: --shard $SLURM_ARRAY_TASK_ID/4)"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One kind of per-video product a run needs.
#[derive(Debug, Clone)]
pub enum Product {
    /// Classical feature vectors of `data_root_classical` under these options.
    Features(FeatureOptions),
    /// Preprocessed deep frames of `data_root_deep` under this clip setting (for these models).
    Frames(ClipSpec, Vec<DeepKind>),
}

impl Product {
    /// "features notebook", "frames 112 px x 8 uniform (Deep-2D-Avg, Deep-2D-Max, ...)".
    pub fn describe(&self) -> String {
        match self {
            Product::Features(o) => format!("features {}", o.set.as_str()),
            Product::Frames(spec, kinds) => format!(
                "frames {} px x {} {} ({})",
                spec.size,
                spec.frames,
                spec.sampling,
                kinds
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// What a run's per-video work is: the products, the two datasets, and where the caches are.
#[derive(Debug, Clone)]
pub struct Plan {
    pub products: Vec<Product>,
    pub classical: Dataset,
    pub deep: Dataset,
    pub feature_cache: PathBuf,
    pub frame_cache: PathBuf,
}

impl Plan {
    /// The per-video products of the notebook script under `cfg`.
    pub fn from_config(cfg: &Config) -> Result<Plan> {
        let paths = RunPaths::from_config(cfg)?;
        let mut products = Vec::new();
        for set in ["notebook", "motion+"] {
            let mut c = cfg.clone();
            c.set("feature_set", set)?;
            products.push(Product::Features(FeatureOptions::from_config(&c)?));
        }
        let mut frames: Vec<(ClipSpec, Vec<DeepKind>)> = Vec::new();
        let mut frame_cache = paths.cache_dir.join("deep_frames");
        for kind in DeepKind::ALL {
            let s = DeepSettings::from_config(cfg, kind, &paths.model_dir)?;
            frame_cache = s.cache_dir.clone();
            match frames
                .iter_mut()
                .find(|(spec, _)| spec.fingerprint() == s.clip.fingerprint())
            {
                Some((_, kinds)) => kinds.push(kind),
                None => frames.push((s.clip, vec![kind])),
            }
        }
        products.extend(frames.into_iter().map(|(s, k)| Product::Frames(s, k)));
        let (classical, _) = Dataset::load_lenient(cfg.str("data_root_classical")?)?;
        let (deep, _) = Dataset::load_lenient(cfg.str("data_root_deep")?)?;
        Ok(Plan {
            products,
            classical,
            deep,
            feature_cache: paths.cache_dir.join("features"),
            frame_cache,
        })
    }

    /// The cache folder of `product`'s entries.
    fn cache_dir(&self, product: &Product) -> &Path {
        match product {
            Product::Features(_) => &self.feature_cache,
            Product::Frames(..) => &self.frame_cache,
        }
    }

    /// The cache key of `video` under `product`'s settings (reads the file; decodes nothing).
    fn key(product: &Product, video: &Path) -> Result<String> {
        let fingerprint = match product {
            Product::Features(o) => o.fingerprint(),
            Product::Frames(spec, _) => spec.fingerprint(),
        };
        FeatureCache::key(video, &fingerprint)
    }

    fn samples(&self, product: &Product) -> Vec<Sample> {
        let ds = match product {
            Product::Features(_) => &self.classical,
            Product::Frames(..) => &self.deep,
        };
        ds.train
            .iter()
            .chain(&ds.val)
            .chain(&ds.test)
            .cloned()
            .collect()
    }
}

/// One product's work in one task.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareRow {
    pub product: String,
    /// Videos this task owns.
    pub videos: usize,
    /// Found complete in the cache.
    pub reused: usize,
    /// Computed and written by this task.
    pub computed: usize,
    /// Could not be used (decoding failed); the run reports them as it always does.
    pub unusable: usize,
    pub seconds: f64,
}

/// The records of videos a task could not use, in a product's cache folder: `<key>.unusable`,
/// the reason as UTF-8 text.
fn unusable_records(dir: &Path) -> BlobCache {
    BlobCache::new(dir, *b"VCUV", "unusable")
}

/// Computes every product of `plan` for the videos `shard` owns, into the caches, and records
/// each video that could not be used (with its reason) so that the merge's check does not wait
/// for it.
pub fn prepare(plan: &Plan, shard: Shard, progress: bool) -> Result<Vec<PrepareRow>> {
    let mut rows = Vec::new();
    for product in &plan.products {
        let samples = shard.select(&plan.samples(product));
        let started = std::time::Instant::now();
        let (reused, loaded, skipped, not_cached) = match product {
            Product::Features(opts) => {
                let cache = FeatureCache::new(&plan.feature_cache);
                let m = try_extract_samples(&samples, opts, Some(&cache), progress)?;
                (m.cache_hits, m.n_videos(), m.skipped, m.not_cached)
            }
            Product::Frames(spec, _) => {
                let cache = ClipCache::new(&plan.frame_cache);
                let set = load_clips(&samples, spec, Some(&cache), "frames", progress)?;
                (set.cache_hits, set.len(), set.skipped, set.not_cached)
            }
        };
        let records = unusable_records(plan.cache_dir(product));
        for s in &skipped {
            // A file that cannot even be read has no key; the run reports it without a record.
            if let Ok(key) = Plan::key(product, &s.path) {
                records.put(&key, strip_path(&s.reason, &s.path).as_bytes())?;
            }
        }
        // A task exists to fill the caches: a product it computed but could not store (disk
        // full, a cache folder it may not write) fails the task, so that Slurm says so.
        if let Some(first) = not_cached.first() {
            return Err(Error::Data(format!(
                "{}: {} of this task's products could not be stored in {} (first: {}); see the \
                 warnings above",
                product.describe(),
                not_cached.len(),
                plan.cache_dir(product).display(),
                first.display()
            )));
        }
        rows.push(PrepareRow {
            product: product.describe(),
            videos: samples.len(),
            reused,
            computed: loaded - reused,
            unusable: skipped.len(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(rows)
}

/// What the caches hold for a plan, product by product: what a merge would still have to compute,
/// and the videos a task tried and could not use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheCheck {
    /// (product, video) pairs with neither an entry nor a record: their task has not run (or
    /// was killed).
    pub missing: Vec<(String, PathBuf)>,
    /// (product, video, reason) for videos a task recorded as unusable: the run tries them once
    /// more and reports them as skipped.
    pub unusable: Vec<(String, PathBuf, String)>,
}

/// Which products are not yet in the caches. Reads each video once per product to key it;
/// decodes nothing. A video that cannot be read at all is the run's to report, in neither list.
pub fn check(plan: &Plan) -> Result<CacheCheck> {
    let mut out = CacheCheck::default();
    for product in &plan.products {
        for s in plan.samples(product) {
            match plan.state(product, &s) {
                Stored::Entry | Stored::Unreadable => {}
                Stored::Unusable(reason) => {
                    out.unusable
                        .push((product.describe(), s.path.clone(), reason))
                }
                Stored::Missing => out.missing.push((product.describe(), s.path.clone())),
            }
        }
    }
    Ok(out)
}

/// What the caches hold for one video under one product.
enum Stored {
    /// Its complete entry.
    Entry,
    /// A task's record that the video cannot be used, with the reason.
    Unusable(String),
    /// Neither.
    Missing,
    /// The file cannot be read to key it: the run reports it.
    Unreadable,
}

impl Plan {
    fn state(&self, product: &Product, s: &Sample) -> Stored {
        let Ok(key) = Plan::key(product, &s.path) else {
            return Stored::Unreadable;
        };
        let present = match product {
            Product::Features(_) => FeatureCache::new(&self.feature_cache).get(&key).is_some(),
            Product::Frames(..) => ClipCache::new(&self.frame_cache).get(&key).is_some(),
        };
        if present {
            return Stored::Entry;
        }
        match unusable_records(self.cache_dir(product)).get(&key) {
            Some(reason) => Stored::Unusable(String::from_utf8_lossy(&reason).into_owned()),
            None => Stored::Missing,
        }
    }
}

/// The rows as a text table.
pub fn table(rows: &[PrepareRow]) -> String {
    let mut out = format!(
        "{:<60} {:>7} {:>7} {:>9} {:>9} {:>9}\n",
        "product", "videos", "reused", "computed", "unusable", "seconds"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<60} {:>7} {:>7} {:>9} {:>9} {:>9.1}\n",
            r.product, r.videos, r.reused, r.computed, r.unusable, r.seconds
        ));
    }
    out
}

/// What `vidcompare slurm` writes: a job-array script of prepare tasks and a merge script.
#[derive(Debug, Clone)]
pub struct SlurmJob {
    /// The experiment script, as given.
    pub script: PathBuf,
    pub tasks: usize,
    /// `--set` overrides, passed to every task and to the merge.
    pub set: Vec<String>,
    pub partition: Option<String>,
    pub cpus_per_task: Option<usize>,
    pub gpus_per_task: Option<usize>,
    /// Wall-clock limit, Slurm's format (`HH:MM:SS`, `D-HH`).
    pub time: Option<String>,
    /// The vidcompare binary the jobs run.
    pub binary: PathBuf,
    /// Where the scripts and the logs go.
    pub dir: PathBuf,
    /// The folder the jobs run in (relative paths in the script and the settings are from here).
    pub workdir: PathBuf,
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl SlurmJob {
    fn header(&self, name: &str, log: &str) -> String {
        let mut h = format!(
            "#!/bin/bash\n#SBATCH --job-name={name}\n#SBATCH --output={}\n",
            self.dir.join("logs").join(log).display()
        );
        if let Some(p) = &self.partition {
            h.push_str(&format!("#SBATCH --partition={p}\n"));
        }
        if let Some(c) = self.cpus_per_task {
            h.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
        }
        if let Some(g) = self.gpus_per_task {
            h.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
        }
        if let Some(t) = &self.time {
            h.push_str(&format!("#SBATCH --time={t}\n"));
        }
        h
    }

    fn args(&self) -> String {
        let mut a = shell_quote(&self.script.display().to_string());
        for s in &self.set {
            a.push_str(" --set ");
            a.push_str(&shell_quote(s));
        }
        a
    }

    /// The array script: task `$SLURM_ARRAY_TASK_ID` runs `vidcompare prepare` on its shard.
    pub fn prepare_script(&self) -> String {
        format!(
            "{}#SBATCH --array=0-{}\nset -euo pipefail\ncd {}\n\
             # A failed task can be resubmitted alone: sbatch --array=3,7 {}\n\
             exec {} prepare {} --quiet --shard \"$SLURM_ARRAY_TASK_ID/{}\"\n",
            self.header("vidcompare-prepare", "prepare-%A_%a.log"),
            self.tasks - 1,
            shell_quote(&self.workdir.display().to_string()),
            self.dir.join("prepare.sbatch").display(),
            shell_quote(&self.binary.display().to_string()),
            self.args(),
            self.tasks
        )
    }

    /// The merge script: refuses to start while a product is missing (and lists what), then runs
    /// the experiment, which finds everything cached.
    pub fn merge_script(&self) -> String {
        format!(
            "{}set -euo pipefail\ncd {}\n{} prepare {} --check\nexec {} run {} --quiet\n",
            self.header("vidcompare-merge", "merge-%j.log"),
            shell_quote(&self.workdir.display().to_string()),
            shell_quote(&self.binary.display().to_string()),
            self.args(),
            shell_quote(&self.binary.display().to_string()),
            self.args()
        )
    }

    /// Writes `prepare.sbatch`, `merge.sbatch` and `logs/` into [`SlurmJob::dir`]; returns the
    /// two scripts' paths.
    pub fn write(&self) -> Result<(PathBuf, PathBuf)> {
        let logs = self.dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
        let prepare = self.dir.join("prepare.sbatch");
        let merge = self.dir.join("merge.sbatch");
        for (p, text) in [
            (&prepare, self.prepare_script()),
            (&merge, self.merge_script()),
        ] {
            std::fs::write(p, text).map_err(|e| Error::io(p, e))?;
        }
        Ok((prepare, merge))
    }
}

/// Submits the array and the merge (`--dependency=afterok:ARRAY`) with `sbatch`; returns the two
/// job ids.
pub fn submit(prepare: &Path, merge: &Path) -> Result<(String, String)> {
    let run = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new("sbatch")
            .arg("--parsable")
            .args(args)
            .output()
            .map_err(|e| {
                Error::InvalidArgument(format!(
                    "cannot run sbatch ({e}): is Slurm installed and SLURM_CONF set?"
                ))
            })?;
        if !out.status.success() {
            return Err(Error::InvalidArgument(format!(
                "sbatch {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        // --parsable prints "jobid" or "jobid;cluster".
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.trim().split(';').next().unwrap_or("").to_string())
    };
    let array = run(&[&prepare.display().to_string()])?;
    let merge_id = run(&[
        &format!("--dependency=afterok:{array}"),
        &merge.display().to_string(),
    ])?;
    Ok((array, merge_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(p: &str) -> Sample {
        Sample {
            rel_path: p.to_string(),
            path: PathBuf::from(p),
            label: 0,
            line: 1,
        }
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!(
            "3/8".parse::<Shard>().unwrap(),
            Shard { index: 3, count: 8 }
        );
        for bad in ["8/8", "1/0", "x/4", "4", "-1/4", ""] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains("TASK/TASKS"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_video_has_exactly_one_task_and_tasks_are_balanced() {
        let samples: Vec<Sample> = (0..4000)
            .map(|i| sample(&format!("videos/c{}/v{i:05}.mp4", i % 7)))
            .collect();
        let n = 8;
        let mut seen = vec![0usize; samples.len()];
        for i in 0..n {
            let shard = Shard { index: i, count: n };
            let mine = shard.select(&samples);
            // 500 expected per task; a hash that balances stays well within 15 %.
            assert!(
                (425..=575).contains(&mine.len()),
                "task {i}: {}",
                mine.len()
            );
            for (j, s) in samples.iter().enumerate() {
                if shard.owns(s) {
                    seen[j] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        // Adding videos moves none of the others.
        let before: Vec<bool> = samples
            .iter()
            .map(|s| Shard { index: 2, count: n }.owns(s))
            .collect();
        let mut more = samples.clone();
        more.push(sample("videos/new.mp4"));
        let after: Vec<bool> = more[..samples.len()]
            .iter()
            .map(|s| Shard { index: 2, count: n }.owns(s))
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn slurm_scripts_carry_the_array_the_dependency_and_the_settings() {
        let job = SlurmJob {
            script: PathBuf::from("scripts/comparative_analysis.rhai"),
            tasks: 4,
            set: vec!["seed=7".into(), "data_root_deep=/data/my videos".into()],
            partition: Some("gpu".into()),
            cpus_per_task: Some(8),
            gpus_per_task: Some(1),
            time: Some("02:00:00".into()),
            binary: PathBuf::from("/opt/vidcompare"),
            dir: PathBuf::from("/scratch/run/slurm"),
            workdir: PathBuf::from("/scratch/run"),
        };
        let p = job.prepare_script();
        for want in [
            "#SBATCH --array=0-3",
            "#SBATCH --partition=gpu",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --time=02:00:00",
            "#SBATCH --output=/scratch/run/slurm/logs/prepare-%A_%a.log",
            "--shard \"$SLURM_ARRAY_TASK_ID/4\"",
            "--set seed=7 --set 'data_root_deep=/data/my videos'",
        ] {
            assert!(p.contains(want), "missing {want} in\n{p}");
        }
        let m = job.merge_script();
        assert!(
            m.contains("prepare scripts/comparative_analysis.rhai --set seed=7"),
            "{m}"
        );
        assert!(m.contains("--check\nexec /opt/vidcompare run"), "{m}");
        assert!(!m.contains("--array"), "{m}");
    }
}
