//! Per-split dataset statistics (the notebook's "load splits" cell, with the numbers a reader wants):
//! videos, classes, frames, fps, resolution and duration, probed in parallel.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, SplitName};
use crate::video::{VideoInfo, probe};

/// Minimum, mean and maximum of a quantity over a split's readable videos.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
}

impl Range {
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Range> {
        let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
        for v in values {
            min = min.min(v);
            max = max.max(v);
            sum += v;
            n += 1;
        }
        (n > 0).then(|| Range {
            min,
            mean: sum / n as f64,
            max,
        })
    }
}

/// Statistics of one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    pub split: SplitName,
    /// Videos listed in the split file.
    pub videos: usize,
    /// Videos that could be opened and hold at least one frame.
    pub readable: usize,
    /// Number of videos per class (index = label), counting every listed video.
    pub class_counts: Vec<usize>,
    pub total_frames: usize,
    pub frames: Option<Range>,
    pub fps: Option<Range>,
    pub duration_s: Option<Range>,
    pub total_duration_s: f64,
    /// Distinct resolutions as (width, height, videos), most frequent first.
    pub resolutions: Vec<(u32, u32, usize)>,
}

/// A video that could not be probed, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadVideo {
    pub split: SplitName,
    pub path: PathBuf,
    pub reason: String,
}

/// Statistics of a whole dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub root: PathBuf,
    pub class_names: Vec<String>,
    pub splits: Vec<SplitSummary>,
    pub bad_videos: Vec<BadVideo>,
}

/// Probe every video of `ds` (in parallel) and summarise each split. Videos that fail to open are
/// listed in [`DatasetSummary::bad_videos`], not fatal.
pub fn summarize(ds: &Dataset, progress: bool) -> DatasetSummary {
    let items: Vec<(SplitName, &crate::dataset::Sample)> = ds.all().collect();
    let bar = crate::util::progress::bar(progress, items.len(), "probing", "videos");
    let probed: Vec<(SplitName, usize, PathBuf, Result<VideoInfo, String>)> = items
        .par_iter()
        .map(|(split, s)| {
            let r = probe(&s.path).map_err(|e| e.to_string());
            bar.inc(1);
            (*split, s.label, s.path.clone(), r)
        })
        .collect();
    bar.finish_and_clear();

    let n_classes = ds.n_classes();
    let mut bad_videos = Vec::new();
    let splits = SplitName::ALL
        .iter()
        .map(|&split| {
            let mut class_counts = vec![0; n_classes];
            let mut infos = Vec::new();
            for (s, label, path, r) in probed.iter().filter(|p| p.0 == split) {
                class_counts[*label] += 1;
                match r {
                    Ok(info) if info.frame_count > 0 => infos.push(info),
                    Ok(_) => bad_videos.push(BadVideo {
                        split: *s,
                        path: path.clone(),
                        reason: "no frames".into(),
                    }),
                    Err(e) => bad_videos.push(BadVideo {
                        split: *s,
                        path: path.clone(),
                        reason: e.clone(),
                    }),
                }
            }
            let mut res: BTreeMap<(u32, u32), usize> = BTreeMap::new();
            for i in &infos {
                *res.entry((i.width, i.height)).or_default() += 1;
            }
            let mut resolutions: Vec<(u32, u32, usize)> =
                res.into_iter().map(|((w, h), n)| (w, h, n)).collect();
            resolutions.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
            SplitSummary {
                split,
                videos: class_counts.iter().sum(),
                readable: infos.len(),
                class_counts,
                total_frames: infos.iter().map(|i| i.frame_count).sum(),
                frames: Range::of(infos.iter().map(|i| i.frame_count as f64)),
                fps: Range::of(infos.iter().filter_map(|i| i.fps)),
                duration_s: Range::of(infos.iter().map(|i| i.duration_s)),
                total_duration_s: infos.iter().map(|i| i.duration_s).sum(),
                resolutions,
            }
        })
        .collect();
    DatasetSummary {
        root: ds.root.clone(),
        class_names: ds.class_names.clone(),
        splits,
        bad_videos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_by_hand() {
        let r = Range::of([2.0, 4.0, 9.0]).unwrap();
        assert_eq!((r.min, r.mean, r.max), (2.0, 5.0, 9.0));
        assert!(Range::of(std::iter::empty()).is_none());
    }
}
