//! End-to-end latency measured one way for every model, classical or deep.
//!
//! What a user of a trained model waits for is the time from a video file to its class: decoding,
//! sampling, feature extraction or preprocessing, and the classifier or network. Timing that for
//! all test videos at once mixes in how many ran in parallel and each model's mix of parallel and
//! sequential stages, so two models would not be measured the same way. Here every model is timed
//! the same way: one video at a time, all cores available to it, from the file (no cache), after
//! one warm-up video, over the first [`LATENCY_VIDEOS`] test videos; the figure is the median.
//! [`throughput`] is the other side: the whole test split from its files at once, all cores, in
//! videos per second.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::Result;

/// Test videos timed per model (after one warm-up): enough for a stable median, few enough that
/// timing does not rival training on a large test split.
pub const LATENCY_VIDEOS: usize = 10;

/// A model's end-to-end latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median seconds from the video file to its predicted class, one video at a time.
    pub median_s: f64,
    /// Number of videos timed (after the warm-up).
    pub videos: usize,
}

/// Time `classify` on the first `max` of `videos`, one at a time, after running it once on the
/// first video as a warm-up; `None` when there is no video to time or `max` is 0. An error of
/// `classify` is returned as it is.
///
/// ```
/// use std::path::PathBuf;
/// let videos: Vec<PathBuf> = (0..5).map(|i| PathBuf::from(format!("v{i}.mp4"))).collect();
/// let mut calls = 0;
/// let l = vidcompare::latency::measure(&videos, 3, |_| {
///     calls += 1;
///     Ok(())
/// })
/// .unwrap()
/// .unwrap();
/// assert_eq!((l.videos, calls), (3, 4)); // one warm-up, then three timed
/// ```
pub fn measure(
    videos: &[PathBuf],
    max: usize,
    mut classify: impl FnMut(&Path) -> Result<()>,
) -> Result<Option<Latency>> {
    let sample = &videos[..videos.len().min(max)];
    let Some(first) = sample.first() else {
        return Ok(None);
    };
    classify(first)?;
    let mut times = Vec::with_capacity(sample.len());
    for v in sample {
        let t = Instant::now();
        classify(v)?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(Some(Latency {
        median_s: median(&mut times),
        videos: times.len(),
    }))
}

/// Throughput: videos per second when `classify_all` takes every one of `videos` from its file
/// at once, with all cores (it decides how to spread the work: videos in parallel, a batched
/// forward pass); `None` when there is no video. An error of `classify_all` is returned as it is.
///
/// ```
/// use std::path::PathBuf;
/// let videos: Vec<PathBuf> = (0..4).map(|i| PathBuf::from(format!("v{i}.mp4"))).collect();
/// let vps = vidcompare::latency::throughput(&videos, |all| {
///     assert_eq!(all.len(), 4);
///     std::thread::sleep(std::time::Duration::from_millis(100));
///     Ok(())
/// })
/// .unwrap()
/// .unwrap();
/// assert!(vps > 4.0 && vps <= 40.0, "{vps}"); // 4 videos in 0.1 s or a little more
/// ```
pub fn throughput(
    videos: &[PathBuf],
    classify_all: impl FnOnce(&[PathBuf]) -> Result<()>,
) -> Result<Option<f64>> {
    if videos.is_empty() {
        return Ok(None);
    }
    let t = Instant::now();
    classify_all(videos)?;
    let s = t.elapsed().as_secs_f64();
    Ok(Some(videos.len() as f64 / s.max(f64::MIN_POSITIVE)))
}

/// The median of `values` (the mean of the two middle ones for an even count); NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        (values[m - 1] + values[m]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn nothing_to_time_and_errors() {
        assert!(measure(&[], 10, |_| Ok(())).unwrap().is_none());
        let v = vec![PathBuf::from("a.mp4")];
        assert!(measure(&v, 0, |_| Ok(())).unwrap().is_none());
        let err = measure(&v, 10, |p| {
            Err(crate::Error::InvalidArgument(format!(
                "{} broke",
                p.display()
            )))
        })
        .unwrap_err();
        assert!(err.to_string().contains("a.mp4 broke"));
    }

    #[test]
    fn the_median_ignores_one_slow_video() {
        let v: Vec<PathBuf> = (0..3).map(|i| PathBuf::from(format!("{i}"))).collect();
        let l = measure(&v, 10, |p| {
            if p == Path::new("1") {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(l.videos, 3);
        assert!(l.median_s < 0.1, "{}", l.median_s);
    }
}
