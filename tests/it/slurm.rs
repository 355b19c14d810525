//! Scale-out on a real (single-host) Slurm cluster: a 4-task prepare array and its merge job
//! reproduce a single-process run's numbers exactly; a task killed mid-way and resubmitted alone
//! completes the caches with the same products.
//!
//! Needs `slurmctld`, `slurmd` and `munged` (Debian's slurm-wlm and munge, which `make test`
//! installs) and root. Without them the test fails with instructions, unless
//! `VIDCOMPARE_SKIP_SLURM=1` says to skip it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use vidcompare::dataset::synth::{DemoCounts, generate_root};

use crate::common::{crate_dir, vidcompare_cmd};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The cluster of `tools/slurm-local.sh`, stopped (by pid files) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let out = Command::new(crate_dir().join("tools/slurm-local.sh"))
            .args(["start", &dir.display().to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tools/slurm-local.sh start failed:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
        }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self.cmd(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// Waits until no job of `job` (an array id or a job id) is pending or running. Panics when
    /// a job waits on a dependency that can no longer be met, or after `limit`.
    fn wait(&self, job: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            let out = self.run("squeue", &["-h", "-j", job, "-o", "%T %r"]);
            let states = text(&out.stdout);
            if states.trim().is_empty() {
                return;
            }
            assert!(
                !states.contains("DependencyNeverSatisfied"),
                "job {job} can never start: {states}"
            );
            assert!(
                start.elapsed() < limit,
                "job {job} still queued after {limit:?}: {states}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Each task of `job` that has ended (the controller keeps them for `MinJobAge`, 300 s) as
    /// `(array task id, state, exit code)`, e.g. `("2", "COMPLETED", "0:0")`.
    fn ended(&self, job: &str) -> Vec<(String, String, String)> {
        let out = self.run("scontrol", &["show", "job", "-o", job]);
        text(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let field = |name: &str| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix(name))
                        .unwrap_or("?")
                        .to_string()
                };
                (
                    field("ArrayTaskId="),
                    field("JobState="),
                    field("ExitCode="),
                )
            })
            .collect()
    }

    /// Waits for the prepare array `job` and panics unless every task completed with status 0,
    /// showing a failed task's log (`dir/logs/prepare-JOB_TASK.log`).
    fn wait_completed(&self, job: &str, dir: &Path, limit: Duration) {
        self.wait(job, limit);
        for (task, state, code) in self.ended(job) {
            if state != "COMPLETED" || code != "0:0" {
                let log = dir.join(format!("logs/prepare-{job}_{task}.log"));
                panic!(
                    "prepare task {job}_{task} ended {state} (exit {code}); its log {}:\n{}",
                    log.display(),
                    fs::read_to_string(&log).unwrap_or_else(|e| format!("({e})"))
                );
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(crate_dir().join("tools/slurm-local.sh"))
            .args(["stop", &self.dir.display().to_string()])
            .status();
    }
}

fn slurm_available() -> bool {
    if std::env::var("VIDCOMPARE_SKIP_SLURM").as_deref() == Ok("1") {
        eprintln!("VIDCOMPARE_SKIP_SLURM=1: the Slurm scale-out test is skipped");
        return false;
    }
    let found = ["slurmctld", "slurmd", "munged", "sbatch"].iter().all(|p| {
        Command::new("sh")
            .args(["-c", &format!("command -v {p} || test -x /usr/sbin/{p}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        found,
        "the Slurm test needs slurm-wlm and munge (apt-get install slurm-wlm munge, or \
         tools/install-deps.sh); set VIDCOMPARE_SKIP_SLURM=1 to skip it"
    );
    true
}

/// The settings every run of this test shares; `cache` and `name` keep the runs apart.
fn settings(root: &Path, reports: &Path, cache: &Path, name: &str) -> Vec<String> {
    let r = root.display();
    vec![
        format!("data_root_classical={r}"),
        format!("data_root_deep={r}"),
        format!("report_dir={}", reports.display()),
        format!("run_name={name}"),
        format!("cache_dir={}", cache.display()),
        "enhance=false".into(),
        "resize_w=160".into(),
        "resize_h=120".into(),
    ]
}

fn with_sets(args: &[&str], sets: &[String]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for s in sets {
        v.push("--set".into());
        v.push(s.clone());
    }
    v
}

/// Every model's metrics, by name, from a run's `models.json`.
fn metrics(reports: &Path, name: &str) -> Vec<(String, Value)> {
    let path = reports.join(name).join("models.json");
    let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["metrics"].clone(),
            )
        })
        .collect()
}

/// The per-video products (`features/`, `deep_frames/`) under a cache dir, each as its path
/// relative to `dir` and a digest of its content (readable when two caches differ). An entry also
/// stores how long its video took (so that a cached run still reports true extraction times),
/// which differs from run to run: the digest leaves out those 8 bytes (after the magic and the
/// `u32` frame count of a feature entry, the three `u32`s of a clip entry) and the checksum
/// trailer that covers them. Temporaries a killed task left behind are not products.
fn products(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("features"), dir.join("deep_frames")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.contains(vidcompare::util::fs::TEMP_MARKER) {
                // A task killed mid-write leaves its temporary behind; no reader takes it.
                continue;
            } else {
                let mut bytes = fs::read(&p).unwrap();
                if p.extension().is_some_and(|e| e == "unusable") {
                    // A task's record of a video it could not use: the reason, as text. None is
                    // expected here; listed, it shows in the comparison's message.
                    out.push((
                        p.strip_prefix(dir).unwrap().with_extension(format!(
                            "unusable ({})",
                            String::from_utf8_lossy(&fs::read(&p).unwrap())
                        )),
                        0,
                    ));
                    continue;
                }
                let seconds_at = match p.extension().and_then(|e| e.to_str()) {
                    Some("vcf") => 4 + 4,
                    Some("vcb") => 4 + 12,
                    other => panic!("{}: not a product ({other:?})", p.display()),
                };
                assert!(bytes.len() >= seconds_at + 16, "{}: too short", p.display());
                bytes.truncate(bytes.len() - 8);
                bytes[seconds_at..seconds_at + 8].fill(0);
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    xxhash_rust::xxh3::xxh3_64(&bytes),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_four_task_array_reproduces_the_single_process_run() {
    if !slurm_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    generate_root(
        &root,
        DemoCounts {
            train: 3,
            val: 1,
            test: 1,
        },
        5,
        false,
    )
    .unwrap();
    let reports = tmp.path().join("reports");
    let script = "scripts/comparative_analysis.rhai";

    // The reference: one process, its own cache.
    let single = settings(&root, &reports, &tmp.path().join("cache-single"), "single");
    let out = vidcompare_cmd()
        .args(with_sets(&["run", script, "--quiet"], &single))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let cluster = Cluster::start(&tmp.path().join("slurm"));

    // The array and its merge, on a fresh cache.
    let cache = tmp.path().join("cache-array");
    let merged = settings(&root, &reports, &cache, "merged");
    let jobs = tmp.path().join("jobs");
    let out = vidcompare_cmd()
        .env("SLURM_CONF", &cluster.conf)
        .args(with_sets(
            &[
                "slurm",
                script,
                "--tasks",
                "4",
                "--dir",
                &jobs.display().to_string(),
                "--submit",
            ],
            &merged,
        ))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // "submitted prepare array JOB (4 tasks) and merge JOB"
    let line = stdout
        .lines()
        .find(|l| l.starts_with("submitted prepare array"))
        .expect("job ids printed");
    let words: Vec<&str> = line.split_whitespace().collect();
    let (array, merge) = (words[3], words[words.len() - 1]);
    cluster.wait_completed(array, &jobs, Duration::from_secs(900));
    cluster.wait(merge, Duration::from_secs(900));

    // Each task did its own share, and together they left nothing for the merge to compute.
    let logs: Vec<String> = (0..4)
        .map(|i| {
            fs::read_to_string(jobs.join(format!("logs/prepare-{array}_{i}.log")))
                .unwrap_or_else(|e| panic!("task {i}'s log: {e}"))
        })
        .collect();
    for (i, log) in logs.iter().enumerate() {
        assert!(log.contains(&format!("shard {i}/4")), "task {i}:\n{log}");
    }
    let merge_log = fs::read_to_string(jobs.join(format!("logs/merge-{merge}.log"))).unwrap();
    assert!(
        merge_log.contains("every per-video product is cached"),
        "{merge_log}"
    );
    assert!(merge_log.contains("report: "), "{merge_log}");
    let html = fs::read_to_string(reports.join("merged/index.html")).unwrap();
    assert!(
        html.contains("computed by this run: 0"),
        "the merge's report must say it computed no per-video product"
    );

    // The numbers are the single process's, model by model.
    let a = metrics(&reports, "single");
    let b = metrics(&reports, "merged");
    assert_eq!(a.len(), 10);
    assert_eq!(a, b);

    // A task killed mid-way leaves its products missing (never half-written); the merge's check
    // refuses and lists them; resubmitting that task alone completes the caches with the same
    // products as the complete array's (values and frames; only the stored timings differ).
    let cache2 = tmp.path().join("cache-killed");
    let killed = settings(&root, &reports, &cache2, "killed");
    let jobs2 = tmp.path().join("jobs-killed");
    let out = vidcompare_cmd()
        .args(with_sets(
            &[
                "slurm",
                script,
                "--tasks",
                "4",
                "--dir",
                &jobs2.display().to_string(),
            ],
            &killed,
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let prepare = jobs2.join("prepare.sbatch");
    let sbatch = cluster.run("sbatch", &["--parsable", &prepare.display().to_string()]);
    let array2 = text(&sbatch.stdout).trim().to_string();
    // Cancel task 2 as soon as it runs (or before it starts).
    let task = format!("{array2}_2");
    let start = Instant::now();
    loop {
        let st = text(
            &cluster
                .run("squeue", &["-h", "-j", &task, "-o", "%T"])
                .stdout,
        );
        if st.contains("RUNNING") || start.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.run("scancel", &[&task]);
    cluster.wait(&array2, Duration::from_secs(900));
    let check = vidcompare_cmd()
        .args(with_sets(&["prepare", script, "--check"], &killed))
        .output()
        .unwrap();
    let err = text(&check.stderr);
    assert!(!check.status.success(), "the check must refuse: {err}");
    assert!(err.contains("missing: features notebook: "), "{err}");
    assert!(err.contains("per-video products are not cached"), "{err}");

    let again = cluster.run(
        "sbatch",
        &["--parsable", "--array=2", &prepare.display().to_string()],
    );
    let again = text(&again.stdout).trim().to_string();
    cluster.wait_completed(&again, &jobs2, Duration::from_secs(900));
    let check = vidcompare_cmd()
        .args(with_sets(&["prepare", script, "--check"], &killed))
        .output()
        .unwrap();
    let log = jobs2.join(format!("logs/prepare-{again}_2.log"));
    let log = fs::read_to_string(&log).unwrap_or_else(|e| format!("{}: {e}", log.display()));
    assert!(
        check.status.success(),
        "{}\nthe resubmitted task's log:\n{log}",
        text(&check.stderr)
    );
    assert!(log.contains("shard 2/4"), "{log}");
    let (killed, complete) = (products(&cache2), products(&cache));
    assert!(!complete.is_empty());
    let only = |a: &[(PathBuf, u64)], b: &[(PathBuf, u64)]| -> Vec<PathBuf> {
        a.iter()
            .filter(|x| !b.contains(x))
            .map(|x| x.0.clone())
            .collect()
    };
    assert_eq!(
        killed,
        complete,
        "same products as the complete array's; differing only in the resubmitted run: {:?}, \
         only in the complete array's: {:?}",
        only(&killed, &complete),
        only(&complete, &killed)
    );
}
