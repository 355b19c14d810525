//! Classical feature extraction: our stages and the notebook's, side by side in one run.
//!
//!     cargo bench --bench features [-- DATASET_ROOT [MAX_VIDEOS [THREADS]]]
//!
//! Prints [`vidcompare::features::bench::bench_features`]'s table: every stage of our extraction
//! (decode + resize, enhance, colour, GLCM, LBP, Gabor, Canny + contours, HOG, motion) on the same
//! videos, single-threaded so stages compare fairly, then the whole `extract_video` as the program
//! runs it on THREADS threads (default: all cores). When python3 with numpy, scipy, opencv and
//! scikit-image is available it runs `tools/bench_notebook.py` (the notebook's own functions) on
//! the same videos and prints the ratios.

use std::path::PathBuf;

use vidcompare::features::bench::bench_features;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = PathBuf::from(args.first().map_or("data/demo/classical", String::as_str));
    let max: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(9);
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    match bench_features(&root, max, threads) {
        Ok(table) => print!("{}", table.render()),
        Err(e) => {
            eprintln!("{e}\n(make the demo data first: vidcompare demo-data data/demo)");
            std::process::exit(1);
        }
    }
}
