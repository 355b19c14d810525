//! What the CPU kernels share: their element types and the unpacking of candle's CPU storage.

use candle_core::{CpuStorage, Layout, Result, bail};

/// Element types of the float kernels.
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + Default
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    /// `self * a + b` with one rounding (a fused multiply-add where the CPU has one).
    fn mul_add(self, a: Self, b: Self) -> Self;
}
impl Real for f32 {
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
}
impl Real for f64 {
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
}

/// The elements of a contiguous layout over `data`, or an error naming the op.
pub(crate) fn contiguous<'a, T>(data: &'a [T], layout: &Layout, what: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{what}: the input must be contiguous"),
    }
}

/// The contiguous f32 data of a CPU storage that an in-place op overwrites.
pub(crate) fn f32_slice_mut<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    what: &str,
) -> Result<&'a mut [f32]> {
    let CpuStorage::F32(v) = storage else {
        bail!("{what}: only f32 is supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut v[start..end]),
        None => bail!("{what}: the tensor written in place must be contiguous"),
    }
}

/// The contiguous f32 data of a CPU storage.
pub(crate) fn f32_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> Result<&'a [f32]> {
    match storage {
        CpuStorage::F32(v) => contiguous(v, layout, what),
        _ => bail!("{what}: only f32 is supported"),
    }
}

/// Runs `kernel` on two CPU storages of the same float type.
pub(crate) fn dispatch2(
    name: &str,
    a: (&CpuStorage, &Layout),
    b: (&CpuStorage, &Layout),
    kernel32: impl Fn(&[f32], &[f32]) -> Vec<f32>,
    kernel64: impl Fn(&[f64], &[f64]) -> Vec<f64>,
) -> Result<CpuStorage> {
    match (a.0, b.0) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => Ok(CpuStorage::F32(kernel32(
            contiguous(x, a.1, name)?,
            contiguous(y, b.1, name)?,
        ))),
        (CpuStorage::F64(x), CpuStorage::F64(y)) => Ok(CpuStorage::F64(kernel64(
            contiguous(x, a.1, name)?,
            contiguous(y, b.1, name)?,
        ))),
        _ => bail!("{name}: only f32/f64 tensors of one dtype"),
    }
}

/// `dst = lhs rhs` (or `dst += lhs rhs` when `accumulate`) for row-major f32 matrices with
/// tightly packed rows: `dst` is m x n, `lhs` m x k, `rhs` k x n. One call to `gemm` with the
/// strides and flags every kernel here uses.
///
/// # Safety
/// `dst` must be valid for writes (and, when `accumulate`, reads) of `m n` values, `lhs` for
/// reads of `m k` and `rhs` of `k n`; `dst` must not overlap either input.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_rows(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    accumulate: bool,
    lhs: *const f32,
    rhs: *const f32,
    parallelism: gemm::Parallelism,
) {
    // gemm's alpha scales the destination it reads, beta the product.
    let alpha = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: the caller's: the three matrices with these sizes and row strides (column stride
    // 1), `dst` apart from the inputs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs,
            1,
            k as isize,
            rhs,
            1,
            n as isize,
            alpha,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
