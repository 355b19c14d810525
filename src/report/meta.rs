//! Run provenance for the report header: when, which version and commit, on what machine, how.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// How a run was made, recorded with every report (in the spirit of MLflow's run metadata).
///
/// [`RunMeta::collect`] fills what the process can find out by itself; the caller adds the
/// script, seed, config, datasets, GPU and duration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RunMeta {
    /// Start of the run, RFC 3339 in local time (`2025-01-31T14:05:09+01:00`).
    pub date: String,
    /// vidcompare version that ran (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Short commit of the current directory's git checkout, `+dirty` when tracked files changed.
    pub git_commit: Option<String>,
    /// Path of the Rhai script that ran.
    pub script: Option<String>,
    /// Random seed of the run.
    pub seed: Option<u64>,
    /// Resolved configuration, key and value as text, in the order given.
    pub config: Vec<(String, String)>,
    /// Datasets the run read.
    pub datasets: Vec<DatasetMeta>,
    /// CPU model and logical core count.
    pub cpu: String,
    /// GPU used, when one was.
    pub gpu: Option<String>,
    /// Operating system and kernel.
    pub os: String,
    /// Wall-clock seconds of the whole run.
    pub duration_s: Option<f64>,
    /// The command line, shell-quoted so it can be pasted back.
    pub command_line: String,
    /// Per-video products (feature vectors, preprocessed deep frames) the run found in its caches
    /// and the ones it computed itself: after a complete `vidcompare prepare` array, 0 computed.
    pub products: Option<ProductCounts>,
}

/// How many per-video products a run reused from its caches and how many it computed.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ProductCounts {
    pub reused: usize,
    pub computed: usize,
}

/// One dataset a run read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DatasetMeta {
    /// Dataset name.
    pub name: String,
    /// Root folder (holding `splits/`).
    pub root: String,
    /// Number of videos listed.
    pub videos: usize,
    /// Number of classes.
    pub classes: usize,
    /// Symbolic links inside the root that its videos are reached through, as
    /// `videos -> /resolved/location (symbolic link)`.
    #[serde(default)]
    pub links: Vec<String>,
}

impl RunMeta {
    /// Fill date, version, git commit, CPU, OS and command line from the running process.
    ///
    /// Never fails: anything it cannot find out is left `None` or says "unknown".
    pub fn collect() -> RunMeta {
        RunMeta {
            date: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            cpu: cpu_description(),
            os: os_description(),
            command_line: command_line(std::env::args()),
            ..RunMeta::default()
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `git rev-parse --short HEAD`, marked `+dirty` when tracked files differ, so a report made from
/// uncommitted code says so.
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"]).filter(|c| !c.is_empty())?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}+dirty")
    } else {
        commit
    })
}

fn logical_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| cpu_model_from_cpuinfo(&s));
    let cores = logical_cores();
    let s = if cores == 1 { "" } else { "s" };
    match model {
        Some(model) => format!("{model} ({cores} logical core{s})"),
        None => format!("{} ({cores} logical core{s})", std::env::consts::ARCH),
    }
}

/// The CPU model from `/proc/cpuinfo` text: `model name` on x86, `Model`/`CPU part` elsewhere.
fn cpu_model_from_cpuinfo(text: &str) -> Option<String> {
    ["model name", "Model", "Hardware", "cpu model"]
        .iter()
        .find_map(|key| {
            text.lines().find_map(|line| {
                let (k, v) = line.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
            })
        })
        .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        })
        .filter(|s| !s.is_empty());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let base = pretty.unwrap_or_else(|| std::env::consts::OS.to_string());
    match kernel {
        Some(k) => format!("{base}, kernel {k} ({})", std::env::consts::ARCH),
        None => format!("{base} ({})", std::env::consts::ARCH),
    }
}

/// Join arguments so the line can be pasted into a POSIX shell: arguments with anything beyond
/// a safe set of characters are single-quoted.
fn command_line(args: impl IntoIterator<Item = String>) -> String {
    args.into_iter()
        .map(|a| {
            let safe = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if safe {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_fills_what_it_can() {
        let m = RunMeta::collect();
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(&m.date).is_ok(),
            "{}",
            m.date
        );
        assert!(m.cpu.contains("logical core"), "{}", m.cpu);
        assert!(!m.os.is_empty());
        assert!(!m.command_line.is_empty());
        assert_eq!(m.script, None);
    }

    #[test]
    fn cpu_model_is_read_from_cpuinfo() {
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)   CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model_from_cpuinfo(x86).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        let arm = "processor : 0\nBogoMIPS : 48.00\n\nModel : Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(
            cpu_model_from_cpuinfo(arm).as_deref(),
            Some("Raspberry Pi 4 Model B Rev 1.4")
        );
        assert_eq!(cpu_model_from_cpuinfo("processor : 0\n"), None);
    }

    #[test]
    fn command_line_quotes_for_the_shell() {
        let args = [
            "vidcompare",
            "run",
            "my script.rhai",
            "--set",
            "seed=7",
            "it's",
        ];
        assert_eq!(
            command_line(args.iter().map(|s| s.to_string())),
            r"vidcompare run 'my script.rhai' --set seed=7 'it'\''s'"
        );
    }
}
