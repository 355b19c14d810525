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

use serde::{Deserialize, Serialize};

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
}

impl StageMemoryMb {
    /// What the stage itself added on top of what was already resident: `peak - start`.
    pub fn own(&self) -> f64 {
        (self.peak - self.start).max(0.0)
    }
}

/// A measurement in progress: create it right before a stage, [`StageMemory::finish`] right
/// after.
#[derive(Debug, Clone)]
pub struct StageMemory {
    start_mb: Option<f64>,
    reset: bool,
}

impl StageMemory {
    /// Returns freed heap to the system, resets the peak and records the resident set.
    pub fn start() -> StageMemory {
        trim_heap();
        let reset = reset_peak();
        StageMemory {
            start_mb: current_rss_mb(),
            reset,
        }
    }

    /// The stage's figures; `None` where the platform has no `/proc/self/status`.
    pub fn finish(&self) -> Option<StageMemoryMb> {
        let peak = peak_rss_mb()?;
        let start = self.start_mb?;
        Some(StageMemoryMb {
            peak: peak.max(start),
            start,
            reset: self.reset,
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
        };
        assert_eq!(m.own(), 0.0);
    }
}
