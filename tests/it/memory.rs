//! Per-stage peak memory: each stage's figure is its own, whatever ran before it.

use std::hint::black_box;

use vidcompare::memory::{StageMemory, StageMemoryMb};

use crate::common::isolated;

/// Allocates and touches `mb` MiB, then frees it, inside a measured stage.
fn stage(mb: usize) -> StageMemoryMb {
    let m = StageMemory::start();
    let v = vec![1u8; mb << 20];
    black_box(&v);
    drop(v);
    m.finish().expect("/proc/self/status is readable on Linux")
}

#[test]
fn each_stage_peak_is_its_own_in_either_order() {
    // The peak is process-wide: run alone so that no other test allocates meanwhile.
    if !isolated("memory::each_stage_peak_is_its_own_in_either_order") {
        return;
    }
    let big_first = (stage(300), stage(60));
    let small_first = (stage(60), stage(300));
    for (what, m, want) in [
        ("300 MiB first", big_first.0, 300.0),
        ("60 MiB after 300", big_first.1, 60.0),
        ("60 MiB first", small_first.0, 60.0),
        ("300 MiB after 60", small_first.1, 300.0),
    ] {
        assert!(m.reset, "{what}: the peak could not be reset");
        let own = m.own();
        assert!(
            (own - want).abs() <= 0.1 * want,
            "{what}: own peak {own:.1} MiB, want {want} within 10 % ({m:?})"
        );
        // The counted heap: exactly the vector's bytes, plus at most a few KiB of bookkeeping.
        let heap = m.heap_own().expect("this binary counts its allocations");
        assert!(
            heap >= want && heap - want < 0.05,
            "{what}: heap peak {heap:.3} MiB, want {want} ({m:?})"
        );
        assert_eq!(m.reported().2, vidcompare::memory::HEAP_PEAK);
    }
    // Live heap between stages is what the test keeps, the same at each start.
    let starts =
        [big_first.0, big_first.1, small_first.0, small_first.1].map(|m| m.heap_start.unwrap());
    assert!(
        starts.iter().all(|s| (s - starts[0]).abs() < 0.5),
        "{starts:?}"
    );
    // Without the reset the second stage would report the first one's 300 MiB.
    assert!(big_first.1.peak < big_first.0.peak - 200.0, "{big_first:?}");
}

/// A run whose models go in the order given by `run_name` ("forward" or "reverse"), printing
/// each model's memory as `MEM name value kind`.
const ORDER_SCRIPT: &str = r#"
let cfg = config();
let ds = dataset::load(cfg.data_root_classical);
let o = #{ feature_set: "motion+" };
let prep = classical::prepare(ds, features::extract(ds, "train", o), features::extract(ds, "val", o),
                              features::extract(ds, "test", o), #{ pca: 0.95 });
let jobs = ["svm", "rf", "knn", "avg", "max"];
if cfg.run_name == "reverse" { jobs.reverse(); }
for j in jobs {
    let r = if j == "svm" || j == "rf" || j == "knn" { classical::train(prep, j) } else { deep::train(ds, j) };
    print(`MEM ${r.name} ${r.summary.efficiency.memory_mb} ${r.summary.efficiency.memory_kind}`);
}
"#;

/// End to end through the `vidcompare` binary: the models of a run in one order and in the
/// reverse order report each model's memory within 10 % (1 MB for these tiny models), because
/// each figure is the heap that model itself needed. (On the demo data the seven models'
/// figures agree within 2 % across the two orders while their peak resident sets differ by up
/// to 45 %.)
#[test]
fn each_model_reports_its_own_memory_whatever_the_order() {
    use vidcompare::dataset::synth::{DemoCounts, VideoRanges, generate_root_with};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let ranges = VideoRanges {
        sizes: vec![(64, 48)],
        fps: (15, 15),
        duration_s: (2.0, 2.0),
    };
    let counts = DemoCounts {
        train: 3,
        val: 1,
        test: 2,
    };
    generate_root_with(&root, counts, &ranges, 5, false).unwrap();
    let script = dir.path().join("order.rhai");
    std::fs::write(&script, ORDER_SCRIPT).unwrap();
    let run = |order: &str| -> Vec<(String, f64, String)> {
        let out = crate::common::vidcompare_cmd()
            .arg("run")
            .arg(&script)
            .arg("--quiet")
            .args(["--set", &format!("data_root_classical={}", root.display())])
            .args([
                "--set",
                &format!("report_dir={}", dir.path().join("reports").display()),
            ])
            .args([
                "--set",
                &format!("cache_dir={}", dir.path().join("cache").display()),
            ])
            .args(["--set", &format!("run_name={order}")])
            .args([
                "--set",
                "enhance=false",
                "--set",
                "resize_w=64",
                "--set",
                "resize_h=48",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("MEM "))
            .map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                let n = w.len();
                (
                    w[..n - 3].join(" "),
                    w[n - 3].parse().unwrap(),
                    w[n - 2..].join(" "),
                )
            })
            .collect()
    };
    let forward = run("forward");
    let reverse = run("reverse");
    assert_eq!(forward.len(), 5, "{forward:?}");
    for (name, mb, kind) in &forward {
        assert_eq!(kind, "heap peak", "{name}");
        let (_, other, _) = reverse.iter().find(|r| &r.0 == name).unwrap();
        // 10 %, or 1 MB for these tiny models: whichever model first extracts features builds
        // the process's lazily made tables (filter banks and the like, under 1 MB) and keeps them.
        assert!(
            (mb - other).abs() <= (0.1 * mb.max(*other)).max(1.0),
            "{name}: {mb:.2} MB first order, {other:.2} MB reversed"
        );
    }
}
