//! With the `cuda` feature, compiles the project's own CUDA kernels (kernels/*.cu) to PTX with
//! nvcc (`$NVCC`, else `nvcc` on the PATH) for `$CUDA_COMPUTE_CAP` (default 70: the PTX is
//! JIT-compiled by the driver for the card it runs on). Without the feature it does nothing.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const KERNELS: [&str; 2] = ["depthwise", "patches"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = env::var("NVCC").unwrap_or_else(|_| "nvcc".to_string());
    let cap = env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "70".to_string());
    for name in KERNELS {
        let src = format!("kernels/{name}.cu");
        println!("cargo:rerun-if-changed={src}");
        let ptx = out.join(format!("{name}.ptx"));
        let status = Command::new(&nvcc)
            .args(["--ptx", "-O3", "--std=c++17"])
            .arg(format!("-arch=compute_{cap}"))
            .arg("-o")
            .arg(&ptx)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run nvcc ({nvcc}) for {src}: {e}; set NVCC or put nvcc on the PATH")
            });
        assert!(status.success(), "nvcc failed on {src} ({status})");
    }
}
