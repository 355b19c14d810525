//! What our CUDA kernels (`kernels/*.cu`, PTX compiled by build.rs) share: contiguous views of
//! candle's CUDA storage, checked int arguments and grid-stride launch sizes.

use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, LaunchConfig};
use candle_core::{Layout, Result, bail};

/// Threads per block of every kernel (a power of two: the reductions halve it).
pub(crate) const THREADS: u32 = 256;

/// The elements of a contiguous layout over `s`, or an error naming the op.
pub(crate) fn view<'a, T>(s: &'a CudaSlice<T>, l: &Layout, what: &str) -> Result<CudaView<'a, T>> {
    match l.contiguous_offsets() {
        Some((start, end)) => Ok(s.slice(start..end)),
        None => bail!("{what}: the input must be contiguous"),
    }
}

/// `v` as a kernel's `int`, or an error naming the op.
pub(crate) fn int(v: usize, what: &str) -> Result<i32> {
    match i32::try_from(v) {
        Ok(v) => Ok(v),
        Err(_) => bail!("{what}: size {v} too large for the kernel"),
    }
}

/// Launch size of a grid-stride loop over `n` elements: enough blocks to fill the card, capped.
pub(crate) fn grid_stride(n: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (
            (n.div_ceil(THREADS as usize)).clamp(1, 1 << 16) as u32,
            1,
            1,
        ),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}
