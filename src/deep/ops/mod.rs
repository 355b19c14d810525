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
pub(crate) mod cpu;
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

/// Runs `f`, work on `device`, on a worker thread of the current rayon pool (the global one
/// unless called inside another), carrying this thread's per-thread state there and back: the
/// [`KernelPath`], the [`no_grad`](super::nn::no_grad) scope, and the kernel-call counters (what
/// `f` counted is added to this thread's). Already on a worker, or for work on another device
/// than the CPU (whose operations are queued, not run, by the calling thread), it runs `f` in
/// place.
///
/// A model's forward or training step run from a thread outside the pool hands every parallel
/// operation (a matrix product, a kernel, an in-place tail: hundreds per forward pass) to a
/// sleeping worker and sleeps until it is done, two thread switches each; run on a worker, the
/// operation starts at once on the calling thread and the other workers join in. EfficientNet-B0
/// on 8 frames of 112 px (examples of the same binary, alternating): 51-52 -> 37-39 ms at one
/// thread, 28-29 -> 23-24 ms at two; R3D-18 on one 8-frame clip 331-339 -> 302-319 ms at one.
pub fn on_pool<R: Send>(device: &Device, f: impl FnOnce() -> R + Send) -> R {
    if !device.is_cpu() || rayon::current_thread_index().is_some() {
        return f();
    }
    let generic = FORCE_GENERIC.with(Cell::get);
    let no_grad = super::nn::grad_disabled();
    let (r, cpu_calls, cuda_calls) = rayon::scope(|_| {
        // This worker's own state, restored when `f` ends (also on panic): the worker may
        // be running another caller's `f` further up its stack.
        struct Restore {
            generic: bool,
            no_grad: bool,
            cpu: u64,
            cuda: u64,
        }
        impl Drop for Restore {
            fn drop(&mut self) {
                set_force_generic(self.generic);
                super::nn::set_grad_disabled(self.no_grad);
                CPU_KERNEL_CALLS.with(|n| n.set(self.cpu));
                CUDA_KERNEL_CALLS.with(|n| n.set(self.cuda));
            }
        }
        let restore = Restore {
            generic: set_force_generic(generic),
            no_grad: super::nn::set_grad_disabled(no_grad),
            cpu: cpu_kernel_calls(),
            cuda: cuda_kernel_calls(),
        };
        let r = f();
        let cpu = cpu_kernel_calls() - restore.cpu;
        let cuda = cuda_kernel_calls() - restore.cuda;
        (r, cpu, cuda)
    });
    CPU_KERNEL_CALLS.with(|n| n.set(n.get() + cpu_calls));
    CUDA_KERNEL_CALLS.with(|n| n.set(n.get() + cuda_calls));
    r
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

    #[test]
    fn on_pool_carries_the_thread_state_to_a_worker_and_back() {
        // Outside the pool: `f` runs on a worker, with this thread's path and no_grad scope.
        assert!(rayon::current_thread_index().is_none());
        let calls = cpu_kernel_calls();
        let (worker, generic, no_grad) = KernelPath::Generic.run(|| {
            crate::deep::nn::no_grad(|| {
                on_pool(&Device::Cpu, || {
                    assert!(!use_cpu_kernel(&Device::Cpu, true), "generic on the worker");
                    assert!(KernelPath::Fast.run(|| use_cpu_kernel(&Device::Cpu, true)));
                    (
                        rayon::current_thread_index(),
                        KernelPath::current() == KernelPath::Generic,
                        crate::deep::nn::grad_disabled(),
                    )
                })
            })
        });
        assert!(worker.is_some(), "ran on a worker");
        assert!(generic && no_grad);
        assert_eq!(
            cpu_kernel_calls(),
            calls + 1,
            "the worker's count came back"
        );
        // The worker's own state was restored: a plain call sees the defaults.
        let (generic, no_grad) = on_pool(&Device::Cpu, || {
            (
                KernelPath::current() == KernelPath::Generic,
                crate::deep::nn::grad_disabled(),
            )
        });
        assert!(!generic && !no_grad);
        // A panic inside reaches the caller, and the state is still restored.
        let caught = std::panic::catch_unwind(|| {
            KernelPath::Generic.run(|| on_pool(&Device::Cpu, || panic!("inside the pool")))
        });
        assert!(caught.is_err());
        assert_eq!(on_pool(&Device::Cpu, KernelPath::current), KernelPath::Fast);
    }
}
