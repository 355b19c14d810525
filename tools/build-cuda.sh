#!/usr/bin/env bash
# Build vidcompare with `--features cuda` on a machine with no GPU and no system CUDA toolkit,
# from NVIDIA's CUDA 13.0 wheels on PyPI, into its own target folder (target-cuda/).
#
#   tools/build-cuda.sh           cargo build --release --features cuda  -> target-cuda/release/vidcompare
#   tools/build-cuda.sh clippy    cargo clippy --all-targets --features cuda -- -D warnings
#   tools/build-cuda.sh check     cargo check --all-targets --features cuda (no CUDA kernels linked)
#
# About 14 minutes from scratch on 2 cores (candle's CUDA kernels are most of it); not part of
# .ci/run. Run it, and the clippy mode, before submitting any change to code behind
# #[cfg(feature = "cuda")].
#
# Environment: WHEELS (where the wheels and the assembled CUDA root are cached, default
# ~/.cache/vidcompare-cuda13), CUDA_COMPUTE_CAP (default 90: Hopper), JOBS (nvcc threads),
# FEATURES (default cuda).
#
# Why CUDA 13.0 exactly: nvcc 13.0 emits PTX ISA 9.0, which driver 580 loads; a newer nvcc
# emits PTX that driver cannot JIT. candle 0.11 turns on cudarc's dynamic linking, which links
# with -lcuda, and no wheel ships the driver's stub: a stand-in libcuda.so whose every entry
# point returns CUDA_ERROR_NO_DEVICE is made for linking only. It is never shipped: on the GPU
# machine the driver's own libcuda.so.1 is loaded. The binary needs at run time libcuda.so.1
# (driver), libcudart.so.13, libcublas.so.13 (+ libcublasLt.so.13), libcurand.so.10.
set -euo pipefail

MODE=${1:-build}
CRATE=$(cd "$(dirname "$0")/.." && pwd)
WHEELS=${WHEELS:-$HOME/.cache/vidcompare-cuda13}
VENV=$WHEELS/venv
CUDA_ROOT=$WHEELS/cuda-13.0
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

# 1. The CUDA 13.0 toolkit pieces, pinned.
if ! "$VENV/bin/python" -c 'import nvidia' 2>/dev/null \
  || [ ! -x "$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "bin", "nvcc"))')" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q \
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 \
    nvidia-cuda-nvrtc==13.0.88 nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35
fi
NV=$("$VENV/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')

# 2. A CUDA root: bin/, include/, nvvm/ from the wheels; lib64/ with the unversioned names
#    that -lcudart -lnvrtc -lcurand -lcublas -lcublasLt look for.
rm -rf "$CUDA_ROOT"
mkdir -p "$CUDA_ROOT/lib64/stubs"
ln -s "$NV/bin" "$CUDA_ROOT/bin"
ln -s "$NV/include" "$CUDA_ROOT/include"
ln -s "$NV/nvvm" "$CUDA_ROOT/nvvm"
for f in "$NV"/lib/*.so.* "$NV"/lib/*.a; do ln -s "$f" "$CUDA_ROOT/lib64/"; done
for l in cudart.so.13 nvrtc.so.13 curand.so.10 cublas.so.13 cublasLt.so.13; do
  ln -s "lib$l" "$CUDA_ROOT/lib64/lib${l%.so.*}.so"
done

# 3. The link-time stand-in for the driver library (see the header).
CUDARC_SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$CUDARC_SRC" ]; then
  (cd "$CRATE" && cargo fetch -q)
  CUDARC_SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | sort -V | tail -1)
fi
grep -ohE 'pub unsafe fn cu[A-Za-z0-9_]+\(' "$CUDARC_SRC/src/driver/sys/mod.rs" \
  | sed -E 's/pub unsafe fn (cu[A-Za-z0-9_]+)\(/int \1(void){return 100;}/' \
  | sort -u > "$CUDA_ROOT/lib64/stubs/cuda_stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA_ROOT/lib64/stubs/libcuda.so" \
  "$CUDA_ROOT/lib64/stubs/cuda_stub.c"
rm "$CUDA_ROOT/lib64/stubs/cuda_stub.c"

# 4. Build in target-cuda/, so the CPU build in target/ is not invalidated.
export PATH="$CUDA_ROOT/bin:$PATH"   # cudarc runs `nvcc --version`; cudaforge uses `which nvcc`
export CUDA_ROOT                     # cudarc's link search: $CUDA_ROOT/lib64 and lib64/stubs
export NVCC="$CUDA_ROOT/bin/nvcc"    # cudaforge (candle-kernels)
export CUDARC_CUDA_VERSION=13000     # cudarc's bindings for CUDA 13.0 (driver 580)
export CUDAFORGE_THREADS=${JOBS:-$(nproc)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CRATE/target-cuda}
cd "$CRATE"
case "$MODE" in
  build)
    time cargo build --release --features "${FEATURES:-cuda}"
    ls -l "$CARGO_TARGET_DIR/release/vidcompare"
    ;;
  clippy) cargo clippy --all-targets --features "${FEATURES:-cuda}" -- -D warnings ;;
  check) cargo check --all-targets --features "${FEATURES:-cuda}" ;;
  *) echo "usage: $0 [build|clippy|check]" >&2; exit 2 ;;
esac
