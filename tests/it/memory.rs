//! Per-stage peak memory: each stage's figure is its own, whatever ran before it.

use std::hint::black_box;

use vidcompare::memory::{StageMemory, StageMemoryMb};

use crate::common::isolated;

/// Allocates and touches `mb` MiB, then frees it, inside a measured stage.
fn stage(mb: usize) -> StageMemoryMb {
    let m = StageMemory::start();
    let v = vec![1u8; mb << 20];
    black_box(&v);
    drop(v);
    m.finish().expect("/proc/self/status is readable on Linux")
}

#[test]
fn each_stage_peak_is_its_own_in_either_order() {
    // The peak is process-wide: run alone so that no other test allocates meanwhile.
    if !isolated("memory::each_stage_peak_is_its_own_in_either_order") {
        return;
    }
    let big_first = (stage(300), stage(60));
    let small_first = (stage(60), stage(300));
    for (what, m, want) in [
        ("300 MiB first", big_first.0, 300.0),
        ("60 MiB after 300", big_first.1, 60.0),
        ("60 MiB first", small_first.0, 60.0),
        ("300 MiB after 60", small_first.1, 300.0),
    ] {
        assert!(m.reset, "{what}: the peak could not be reset");
        let own = m.own();
        assert!(
            (own - want).abs() <= 0.1 * want,
            "{what}: own peak {own:.1} MiB, want {want} within 10 % ({m:?})"
        );
        // The counted heap: exactly the vector's bytes, plus at most a few KiB of bookkeeping.
        let heap = m.heap_own().expect("this binary counts its allocations");
        assert!(
            heap >= want && heap - want < 0.05,
            "{what}: heap peak {heap:.3} MiB, want {want} ({m:?})"
        );
        assert_eq!(m.reported().2, vidcompare::memory::HEAP_PEAK);
    }
    // Live heap between stages is what the test keeps, the same at each start.
    let starts =
        [big_first.0, big_first.1, small_first.0, small_first.1].map(|m| m.heap_start.unwrap());
    assert!(
        starts.iter().all(|s| (s - starts[0]).abs() < 0.5),
        "{starts:?}"
    );
    // Without the reset the second stage would report the first one's 300 MiB.
    assert!(big_first.1.peak < big_first.0.peak - 200.0, "{big_first:?}");
}
