//! Peak memory of one stage of a run (a model's training and evaluation, the feature extraction),
//! measured for that stage alone.
//!
//! The process's peak resident set (`VmHWM`) only ever grows, so reading it after each model gives
//! every model the peak of all models before it. On Linux the peak can be reset: writing `5` to
//! `/proc/self/clear_refs` sets `VmHWM` back to the current resident set. Before that, freed heap
//! that the allocator still holds is returned to the system (`malloc_trim`), so that a stage does
//! not inherit the garbage of the one before it. A [`StageMemory`] started before a stage then
//! reads the peak of that stage alone, and the resident set it started from (what earlier stages
//! left alive: loaded data, caches), so that a reader can tell the two apart.
//!
//! The measure is process-wide: work running at the same time in other threads counts too. A run
//! executes its models one after another, so each figure is that model's.
//!
//! # Heap peak
//!
//! The resident set also moves with what the allocator keeps or returns (glibc's arenas,
//! fragmentation), so the same model can read hundreds of MB apart depending on what ran before
//! it. The `vidcompare` binary therefore counts its own allocations: [`CountingAlloc`], installed
//! as the global allocator, keeps the bytes currently allocated and their peak. A stage's
//! [`StageMemoryMb::heap_peak`] is the peak of live heap bytes during the stage and
//! [`StageMemoryMb::heap_start`] the live bytes when it started, so `heap_peak - heap_start` is
//! what the stage itself needed, whatever ran before it. It counts every allocation made through
//! Rust (tensors, frames, features, models), not memory that C libraries allocate themselves
//! (FFmpeg's codec buffers). A program that does not install [`CountingAlloc`] (a library user,
//! evcxr) gets `None` there and the resident-set figures only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

/// `memory_kind` of a heap figure ([`StageMemoryMb::reported`]).
pub const HEAP_PEAK: &str = "heap peak";
/// `memory_kind` of a resident-set figure.
pub const PEAK_RSS: &str = "peak RSS";
/// `memory_kind` of a figure read from the GPU (`deep::device_memory`).
pub const GPU_PEAK: &str = "GPU peak";

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting the bytes live and their peak for [`StageMemory`]. Install it
/// in a binary with `#[global_allocator] static A: vidcompare::memory::CountingAlloc =
/// vidcompare::memory::CountingAlloc;`.
pub struct CountingAlloc;

impl CountingAlloc {
    #[inline]
    fn added(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if live > PEAK.load(Ordering::Relaxed) {
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
    }

    #[inline]
    fn removed(size: usize) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are plain atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        mark_active();
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        mark_active();
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        Self::removed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                Self::added(new_size - layout.size());
            } else {
                Self::removed(layout.size() - new_size);
            }
        }
        p
    }
}

/// Record that [`CountingAlloc`] is in use (a read first, so the flag's cache line stays shared).
#[inline]
fn mark_active() {
    if !ACTIVE.load(Ordering::Relaxed) {
        ACTIVE.store(true, Ordering::Relaxed);
    }
}

/// Bytes allocated through [`CountingAlloc`] and not yet freed; `None` when it is not the
/// program's global allocator.
pub fn heap_live_bytes() -> Option<usize> {
    ACTIVE
        .load(Ordering::Relaxed)
        .then(|| LIVE.load(Ordering::Relaxed))
}

/// Set the heap peak back to the bytes live now; returns them (`None` without [`CountingAlloc`]).
pub fn reset_heap_peak() -> Option<usize> {
    let live = heap_live_bytes()?;
    PEAK.store(live, Ordering::Relaxed);
    Some(live)
}

/// The peak of live heap bytes since the last [`reset_heap_peak`] (`None` without
/// [`CountingAlloc`]).
pub fn heap_peak_bytes() -> Option<usize> {
    heap_live_bytes()?;
    Some(PEAK.load(Ordering::Relaxed))
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The memory figures of one stage, in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageMemoryMb {
    /// Peak resident set during the stage (after the reset at its start).
    pub peak: f64,
    /// Resident set when the stage started (data and caches earlier stages left alive).
    pub start: f64,
    /// Whether the peak was reset at the start. When it could not be (not Linux, or
    /// `/proc/self/clear_refs` not writable) `peak` is the process's peak since it started.
    pub reset: bool,
    /// Peak of live heap bytes during the stage, in MiB (with [`CountingAlloc`] only).
    #[serde(default)]
    pub heap_peak: Option<f64>,
    /// Live heap bytes when the stage started, in MiB (with [`CountingAlloc`] only).
    #[serde(default)]
    pub heap_start: Option<f64>,
}

impl StageMemoryMb {
    /// What the stage itself added on top of what was already resident: `peak - start`.
    pub fn own(&self) -> f64 {
        (self.peak - self.start).max(0.0)
    }

    /// The figure a model's results report, one rule for every model: `(memory_mb, start_mb,
    /// kind)`. With [`CountingAlloc`], the heap the stage itself needed ([`Self::heap_own`]),
    /// the live heap it started from, and `"heap peak"`; otherwise the stage's peak resident set,
    /// the resident set it started from, and `"peak RSS"`.
    pub fn reported(&self) -> (f64, f64, &'static str) {
        match (self.heap_own(), self.heap_start) {
            (Some(own), Some(start)) => (own, start, HEAP_PEAK),
            _ => (self.peak, self.start, PEAK_RSS),
        }
    }

    /// The heap the stage itself needed at its peak: `heap_peak - heap_start` (with
    /// [`CountingAlloc`] only). Unlike [`Self::own`] it does not depend on what the allocator
    /// kept from earlier stages.
    pub fn heap_own(&self) -> Option<f64> {
        Some((self.heap_peak? - self.heap_start?).max(0.0))
    }
}

/// A measurement in progress: create it right before a stage, [`StageMemory::finish`] right
/// after.
#[derive(Debug, Clone)]
pub struct StageMemory {
    start_mb: Option<f64>,
    reset: bool,
    heap_start: Option<usize>,
}

impl StageMemory {
    /// Returns freed heap to the system, resets the peak and records the resident set.
    pub fn start() -> StageMemory {
        trim_heap();
        let reset = reset_peak();
        StageMemory {
            start_mb: current_rss_mb(),
            reset,
            heap_start: reset_heap_peak(),
        }
    }

    /// The stage's figures; `None` where the platform has no `/proc/self/status`.
    pub fn finish(&self) -> Option<StageMemoryMb> {
        let peak = peak_rss_mb()?;
        let start = self.start_mb?;
        let heap_peak = heap_peak_bytes()
            .zip(self.heap_start)
            .map(|(p, s)| p.max(s));
        Some(StageMemoryMb {
            peak: peak.max(start),
            start,
            reset: self.reset,
            heap_peak: heap_peak.map(mib),
            heap_start: self.heap_start.map(mib),
        })
    }
}

/// Resets the process's peak resident set (`VmHWM`) to its current resident set. Returns whether
/// it could.
pub fn reset_peak() -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Gives heap memory the allocator holds but no longer uses back to the system (glibc only; a
/// no-op elsewhere).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes glibc's allocator keep large freed blocks for reuse within a stage instead of handing
/// them back to the system at once (glibc only; elsewhere a no-op that returns false).
///
/// By default glibc serves every block above a threshold (at most 32 MB, adjusted as blocks are
/// freed) with its own `mmap` and returns it with `munmap` when freed, and trims the heap's free
/// top above twice that. Deep-model training allocates and frees blocks of that size on every
/// step (R3D-18's layer4 weights and their gradients: 28 MB each), so each step paid for fresh
/// pages again (a page fault and a zero fill per 4 KB, and TLB shootdowns on the other cores).
/// With both thresholds at 1 GiB the freed blocks are reused; [`StageMemory::start`] still hands
/// all free heap back between stages (`malloc_trim`). Measured with R3D-18 on the demo data
/// (quick profile, 2 threads, interleaved runs): an epoch of training 6.2-6.9 -> 3.5-4.2 s, peak
/// resident set 878-931 -> 948-955 MB, the heap peak unchanged.
///
/// A setting the user made in the environment (`MALLOC_MMAP_THRESHOLD_`,
/// `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES`) is kept: nothing is changed then. Returns
/// whether both thresholds were set. Call it before the work starts (the `vidcompare` binary does,
/// first thing); a library user may call it too.
pub fn keep_freed_heap() -> bool {
    const LIMIT: i32 = 1 << 30;
    let user_set = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "GLIBC_TUNABLES",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if user_set {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; it takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LIMIT) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, LIMIT) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = LIMIT;
        false
    }
}

/// Peak resident set of this process in MiB (`VmHWM`); `None` where `/proc` is unavailable.
pub fn peak_rss_mb() -> Option<f64> {
    status_field_mb("VmHWM:")
}

/// Current resident set of this process in MiB (`VmRSS`).
pub fn current_rss_mb() -> Option<f64> {
    status_field_mb("VmRSS:")
}

fn status_field_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_kb(&status, field).map(|kb| kb as f64 / 1024.0)
}

/// The value of a `Field:   123456 kB` line of a `/proc/<pid>/status` text, in kB.
fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let mut fields = line[field.len()..].split_whitespace();
    let value = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kb() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM:"), Some(2048));
        assert_eq!(parse_status_kb(status, "VmRSS:"), Some(1000));
        assert_eq!(parse_status_kb(status, "VmSwap:"), None);
        assert_eq!(parse_status_kb("VmHWM:\t12 MB\n", "VmHWM:"), None);
    }

    #[test]
    fn own_is_never_negative() {
        let m = StageMemoryMb {
            peak: 10.0,
            start: 12.0,
            reset: true,
            heap_peak: Some(3.0),
            heap_start: Some(4.0),
        };
        assert_eq!(m.own(), 0.0);
        assert_eq!(m.heap_own(), Some(0.0));
    }

    /// Minor page faults of the calling thread so far.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn thread_minor_faults() -> i64 {
        // SAFETY: getrusage writes into the zeroed struct it is given.
        unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut u), 0);
            u.ru_minflt
        }
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_freed_large_block_is_reused_without_new_page_faults() {
        if std::env::var_os("GLIBC_TUNABLES").is_some()
            || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
            || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some()
        {
            // The user's own allocator settings win (and are what this process runs with).
            assert!(!keep_freed_heap());
            return;
        }
        assert!(keep_freed_heap());
        // 48 MB: above the largest threshold glibc's own adjustment reaches (32 MB), so by
        // default every such block is a fresh mapping whose 12,288 pages all fault when filled.
        const BYTES: usize = 48 << 20;
        let fill = || {
            let v = std::hint::black_box(vec![1u8; BYTES]);
            assert_eq!(v[BYTES - 1], 1);
        };
        fill();
        let before = thread_minor_faults();
        fill();
        let faults = thread_minor_faults() - before;
        assert!(
            faults < (BYTES / 4096 / 10) as i64,
            "{faults} page faults refilling a freed 48 MB block"
        );
    }
}
