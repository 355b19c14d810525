//! Helpers shared by the integration tests: fixture paths and loaders, tolerance checks that say
//! which value failed, the CLI binary, and running one test alone in a child process.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use serde_json::Value;

/// The crate's root folder (where `Cargo.toml`, `scripts/` and `templates/` are).
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/<rel>`.
pub fn fixture_path(rel: &str) -> PathBuf {
    crate_dir().join("tests/fixtures").join(rel)
}

/// A JSON fixture, `tests/fixtures/<rel>`; a missing or malformed file panics naming it.
pub fn fixture_json(rel: &str) -> Value {
    let path = fixture_path(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tensors of a safetensors fixture, `tests/fixtures/<rel>`, on the CPU.
pub fn fixture_tensors(rel: &str) -> BTreeMap<String, Tensor> {
    let path = fixture_path(rel);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
        .into_iter()
        .collect()
}

/// Largest |actual - expected| divided by the largest |expected|: the measure the deep parity
/// tests state their tolerances in ("max-abs relative to max |reference|").
pub fn tensor_relative_error(what: &str, actual: &Tensor, expected: &Tensor) -> f32 {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
    let a: Vec<f32> = actual
        .flatten_all()
        .and_then(|t| t.to_dtype(candle_core::DType::F32))
        .and_then(|t| t.to_vec1())
        .unwrap();
    let e: Vec<f32> = expected
        .flatten_all()
        .and_then(|t| t.to_dtype(candle_core::DType::F32))
        .and_then(|t| t.to_vec1())
        .unwrap();
    let scale = e.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&e)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(err.is_finite(), "{what}: non-finite difference");
    err / scale.max(1e-12)
}

/// Asserts `tensor_relative_error <= rtol`, printing the error either way.
pub fn assert_tensor_close(what: &str, actual: &Tensor, expected: &Tensor, rtol: f32) {
    let rel = tensor_relative_error(what, actual, expected);
    eprintln!("{what}: max abs error relative to max |reference| {rel:.2e}");
    assert!(rel <= rtol, "{what}: relative error {rel:e} > {rtol:e}");
}

/// Elementwise `|got - want| <= max(abs, rel * |want|)`, naming the first index that fails.
/// A NaN expected value needs a NaN.
pub fn assert_all_close(got: &[f64], want: &[f64], rel: f64, abs: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}[{i}]: expected NaN, got {g}");
            continue;
        }
        let tol = abs.max(rel * w.abs());
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (tolerance {tol:e})"
        );
    }
}

/// The `vidcompare` binary, run from the crate's root.
pub fn vidcompare_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vidcompare"));
    c.current_dir(crate_dir());
    c
}

/// Process-wide state (the interrupt flag) must not leak into the tests that run beside it in this
/// binary. Returns `true` in the child, where the caller runs its body; in the parent, runs the
/// named test (`module::name`) alone in a child process of this binary and asserts it passed,
/// then returns `false`.
pub fn isolated(test: &str) -> bool {
    const CHILD: &str = "VIDCOMPARE_ISOLATED_TEST";
    if std::env::var(CHILD).as_deref() == Ok(test) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in its own process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}
