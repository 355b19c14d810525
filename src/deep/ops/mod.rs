//! The deep models' own kernels, and the switch that routes around them.
//!
//! Each fast kernel here is a candle custom op with its own backward pass, used when the
//! tensors live on the CPU; the depthwise convolution and the 3D convolution's patch matrix also
//! have CUDA kernels (`kernels/*.cu`, with the `cuda` feature). Everything else takes a
//! device-independent path built from differentiable tensor operations. [`KernelPath::Generic`]
//! forces that path on every device, so the generic code is proven against the same torch
//! fixtures as the fast kernels (`tests/it/deep_*.rs` run both on the CPU; `vidcompare bench
//! kernels --device cuda` runs both on a GPU).
//!
//! The switch is per thread, not per process: the integration tests run in parallel threads of
//! one binary, and one test forcing the generic path must not change what the others run. The
//! dispatch decisions are taken on the calling thread (rayon workers only run kernel bodies),
//! so setting it on the thread that calls the model is enough.

pub(crate) mod adam;
pub mod conv2d;
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
pub mod depthwise;
pub(crate) mod in_place;
pub(crate) mod patches;
pub mod shift_silu;

use std::cell::Cell;

use candle_core::Device;

pub use conv2d::conv2d_inference;
pub use depthwise::{depthwise_conv2d, depthwise_conv2d_taps};
pub use shift_silu::shift_silu;

thread_local! {
    static FORCE_GENERIC: Cell<bool> = const { Cell::new(false) };
    static CPU_KERNEL_CALLS: Cell<u64> = const { Cell::new(0) };
    static CUDA_KERNEL_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// Which implementation the dispatch picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// The device's own kernels where there are some (the default): the CPU kernels on the CPU,
    /// the CUDA depthwise convolution on a GPU.
    Fast,
    /// The device-independent tensor-op path, on every device.
    Generic,
}

impl KernelPath {
    /// Both paths, fast first.
    pub const ALL: [KernelPath; 2] = [KernelPath::Fast, KernelPath::Generic];

    /// "fast" or "generic".
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Fast => "fast",
            KernelPath::Generic => "generic",
        }
    }

    /// The path this thread takes now.
    pub fn current() -> KernelPath {
        if FORCE_GENERIC.with(Cell::get) {
            KernelPath::Generic
        } else {
            KernelPath::Fast
        }
    }

    /// Runs `f` on this thread with this path, then restores the previous one (also when `f`
    /// panics).
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// Takes this path on this thread until the guard is dropped.
    pub fn enter(self) -> PathGuard {
        PathGuard {
            previous: set_force_generic(self == KernelPath::Generic),
        }
    }
}

/// Restores the previous [`KernelPath`] of its thread when dropped (see [`KernelPath::enter`]).
#[must_use = "the path reverts when the guard is dropped"]
pub struct PathGuard {
    previous: bool,
}

impl Drop for PathGuard {
    fn drop(&mut self) {
        set_force_generic(self.previous);
    }
}

/// Makes this thread's dispatch take the generic tensor-op path (`true`) or the device's own
/// kernels (`false`); returns the previous setting. Prefer [`KernelPath::run`], which restores it.
pub fn set_force_generic(on: bool) -> bool {
    FORCE_GENERIC.with(|f| f.replace(on))
}

/// How many times this thread's dispatch has chosen a CPU kernel so far: what proves, in a test,
/// which path a forward pass really took.
pub fn cpu_kernel_calls() -> u64 {
    CPU_KERNEL_CALLS.with(Cell::get)
}

/// How many times this thread's dispatch has chosen a CUDA kernel of ours so far.
pub fn cuda_kernel_calls() -> u64 {
    CUDA_KERNEL_CALLS.with(Cell::get)
}

/// The dispatch for our CUDA kernels: true for tensors on a CUDA device that the kernel
/// `supports`, on a thread that has not forced the generic path, in a build with the `cuda`
/// feature.
pub(crate) fn use_cuda_kernel(device: &Device, supports: bool) -> bool {
    let take =
        cfg!(feature = "cuda") && supports && device.is_cuda() && !FORCE_GENERIC.with(Cell::get);
    if take {
        CUDA_KERNEL_CALLS.with(|n| n.set(n.get() + 1));
    }
    take
}

/// The dispatch: true when a CPU kernel runs for tensors on `device` that the kernel
/// `supports` (dtypes), i.e. a CPU tensor on a thread that has not forced the generic path.
pub(crate) fn use_cpu_kernel(device: &Device, supports: bool) -> bool {
    let take = supports && device.is_cpu() && !FORCE_GENERIC.with(Cell::get);
    if take {
        CPU_KERNEL_CALLS.with(|n| n.set(n.get() + 1));
    }
    take
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_is_scoped_and_per_thread() {
        assert_eq!(KernelPath::current(), KernelPath::Fast);
        let calls = cpu_kernel_calls();
        KernelPath::Generic.run(|| {
            assert!(!use_cpu_kernel(&Device::Cpu, true));
            // Another thread keeps the fast path.
            let other = std::thread::spawn(|| use_cpu_kernel(&Device::Cpu, true))
                .join()
                .unwrap();
            assert!(other);
            KernelPath::Fast.run(|| assert!(use_cpu_kernel(&Device::Cpu, true)));
            assert_eq!(KernelPath::current(), KernelPath::Generic);
        });
        assert_eq!(cpu_kernel_calls(), calls + 1, "counted on this thread only");
        assert!(!use_cpu_kernel(&Device::Cpu, false), "an unsupported dtype");
        assert_eq!(KernelPath::current(), KernelPath::Fast);
        let caught = std::panic::catch_unwind(|| KernelPath::Generic.run(|| panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(
            KernelPath::current(),
            KernelPath::Fast,
            "restored after a panic"
        );
    }
}
