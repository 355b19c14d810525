//! A model's own peak GPU memory, read from the CUDA driver rather than from the host.
//!
//! candle allocates CUDA tensors with stream-ordered allocation (`cuMemAllocAsync`, through
//! cudarc) whenever the device supports it, so every tensor comes from the device's current memory
//! pool. The driver keeps that pool's bytes in use (`CU_MEMPOOL_ATTR_USED_MEM_CURRENT`) and their
//! high-water mark (`CU_MEMPOOL_ATTR_USED_MEM_HIGH`), which can be reset to zero. A
//! [`DeviceMemory`] started before a model resets the mark and records the bytes in use; finished
//! after it, it reads the mark: the model's own peak is `max(high, start) - start`, the device-side
//! counterpart of PyTorch's `torch.cuda.max_memory_allocated()` after
//! `reset_peak_memory_stats()`. What the pool does not serve is not counted: cuBLAS's workspace,
//! the CUDA context itself, and the pool's cached but unused memory (which `nvidia-smi` shows).
//!
//! On the CPU, in a build without the `cuda` feature, or on a device without stream-ordered
//! allocation, [`DeviceMemory::start`] gives a probe that reads `None`, and the model reports its
//! host memory under its own label instead.

use candle_core::Device;

pub use crate::memory::GPU_PEAK;

/// The device-side figures of one stage, in MiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DevicePeakMb {
    /// Pool bytes in use when the stage started (what earlier stages left alive on the device).
    pub start: f64,
    /// The stage's own peak above `start`.
    pub own: f64,
}

/// Peak device memory of one stage in progress: [`DeviceMemory::start`] right before it,
/// [`DeviceMemory::finish`] right after.
pub struct DeviceMemory {
    #[cfg(feature = "cuda")]
    probe: Option<cuda::Probe>,
}

impl DeviceMemory {
    /// Resets the device's high-water mark and records the bytes in use (after waiting for the
    /// work queued so far). A probe that reads `None` where the device's memory cannot be read.
    pub fn start(device: &Device) -> DeviceMemory {
        #[cfg(feature = "cuda")]
        {
            DeviceMemory {
                probe: cuda::Probe::start(device),
            }
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = device;
            DeviceMemory {}
        }
    }

    /// The stage's figures (after waiting for its work to finish); `None` where they could not
    /// be read.
    pub fn finish(&self) -> Option<DevicePeakMb> {
        #[cfg(feature = "cuda")]
        {
            self.probe.as_ref()?.finish()
        }
        #[cfg(not(feature = "cuda"))]
        {
            None
        }
    }
}

/// The model's own peak from the pool's figures in bytes: the mark counts from the reset, so a
/// stage that allocated nothing reads 0 while `start` bytes were in use all along.
pub fn own_peak_mb(start_bytes: u64, high_bytes: u64) -> DevicePeakMb {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    DevicePeakMb {
        start: mib(start_bytes),
        own: mib(high_bytes.max(start_bytes) - start_bytes),
    }
}

/// The GPU's name and memory for the report ("NVIDIA H200, 140.4 GiB"); `None` on the CPU or
/// where the driver does not answer.
pub fn device_name(device: &Device) -> Option<String> {
    #[cfg(feature = "cuda")]
    {
        cuda::name(device)
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = device;
        None
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::ffi::c_void;
    use std::sync::Arc;

    use candle_core::Device;
    use candle_core::cuda_backend::cudarc::driver::{CudaContext, CudaStream, sys};

    use super::{DevicePeakMb, own_peak_mb};

    pub(super) struct Probe {
        stream: Arc<CudaStream>,
        pool: sys::CUmemoryPool,
        start: u64,
    }

    // SAFETY: `pool` is a driver handle, valid in any thread once the context is bound, which
    // every call below does first; the probe never frees it.
    unsafe impl Send for Probe {}
    unsafe impl Sync for Probe {}

    fn context(device: &Device) -> Option<(Arc<CudaStream>, Arc<CudaContext>)> {
        let Device::Cuda(d) = device else {
            return None;
        };
        let stream = d.cuda_stream();
        let ctx = stream.context().clone();
        Some((stream, ctx))
    }

    fn attribute(pool: sys::CUmemoryPool, attr: sys::CUmemPool_attribute) -> Option<u64> {
        let mut value: u64 = 0;
        // SAFETY: both attributes read here are `cuuint64_t`; `value` outlives the call.
        unsafe {
            sys::cuMemPoolGetAttribute(pool, attr, (&mut value as *mut u64).cast::<c_void>())
        }
        .result()
        .ok()?;
        Some(value)
    }

    impl Probe {
        pub(super) fn start(device: &Device) -> Option<Probe> {
            let (stream, ctx) = context(device)?;
            // Without stream-ordered allocation candle's tensors do not come from the pool.
            if !ctx.has_async_alloc() {
                return None;
            }
            ctx.bind_to_thread().ok()?;
            stream.synchronize().ok()?;
            let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
            // SAFETY: `pool` is written by the driver; the device handle comes from a live context.
            unsafe { sys::cuDeviceGetMemPool(&mut pool, ctx.cu_device()) }
                .result()
                .ok()?;
            let mut zero: u64 = 0;
            // SAFETY: the high-water mark is a `cuuint64_t` that may only be set to zero.
            unsafe {
                sys::cuMemPoolSetAttribute(
                    pool,
                    sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
                    (&mut zero as *mut u64).cast::<c_void>(),
                )
            }
            .result()
            .ok()?;
            let start = attribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_CURRENT,
            )?;
            Some(Probe {
                stream,
                pool,
                start,
            })
        }

        pub(super) fn finish(&self) -> Option<DevicePeakMb> {
            self.stream.context().bind_to_thread().ok()?;
            self.stream.synchronize().ok()?;
            let high = attribute(
                self.pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
            )?;
            Some(own_peak_mb(self.start, high))
        }
    }

    pub(super) fn name(device: &Device) -> Option<String> {
        let (_, ctx) = context(device)?;
        let name = ctx.name().ok()?;
        let total = ctx.total_mem().ok()?;
        Some(format!(
            "{name}, {:.1} GiB",
            total as f64 / (1024.0 * 1024.0 * 1024.0)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_peak_counts_from_what_was_in_use() {
        let mb = 1024 * 1024;
        // 100 MB in use before, peak 350 MB: the model needed 250.
        let p = own_peak_mb(100 * mb, 350 * mb);
        assert_eq!((p.start, p.own), (100.0, 250.0));
        // Nothing allocated after the reset: the mark reads 0, the model needed nothing.
        assert_eq!(own_peak_mb(100 * mb, 0).own, 0.0);
    }

    #[test]
    fn the_cpu_has_no_device_figures() {
        let m = DeviceMemory::start(&Device::Cpu);
        assert_eq!(m.finish(), None);
        assert_eq!(device_name(&Device::Cpu), None);
    }
}
