//! Which models may be compared with each other, and how sure each comparison is.
//!
//! Two models are ranked against each other only when they were evaluated on the same test
//! videos: the same files (by content, whatever their paths) with the same true classes. Models
//! are grouped into [`TestSet`]s; every number the report ranks on gets a stratified bootstrap
//! interval ([`intervals`]), and every pair within a test set gets the exact McNemar test and a
//! paired bootstrap interval of its accuracy difference ([`Comparisons`]). The statistics are
//! [`crate::uncertainty`]'s, with its defaults (2,000 resamples, 95 %, seed 42), so a report is
//! reproducible.

use std::collections::HashMap;

use xxhash_rust::xxh3::Xxh3;

use crate::results::ModelResult;
use crate::uncertainty::{
    Bootstrap, ModelIntervals, PairedComparison, TestPredictions, compare_all, model_intervals,
};

/// The ids of `m`'s test videos in its prediction order: their content keys when the run recorded
/// them ([`crate::results::Protocol::test_videos`]), else their paths as listed in the split (older
/// result files).
pub fn video_ids(m: &ModelResult) -> &[String] {
    if m.protocol.test_videos.len() == m.y_true.len() {
        &m.protocol.test_videos
    } else {
        &m.test_paths
    }
}

/// A short, stable name of `m`'s test set: 8 hex digits of a hash of its (video, true class)
/// pairs in sorted order. Models with the same name were evaluated on the same videos.
pub fn test_set_id(m: &ModelResult) -> String {
    let mut pairs: Vec<(&str, usize)> = video_ids(m)
        .iter()
        .map(String::as_str)
        .zip(m.y_true.iter().copied())
        .collect();
    pairs.sort_unstable();
    let mut h = Xxh3::new();
    for (v, y) in pairs {
        h.update(v.as_bytes());
        h.update(&[0]);
        h.update(&(y as u64).to_le_bytes());
    }
    format!("{:08x}", h.digest() >> 32)
}

/// Models evaluated on the same test videos.
#[derive(Debug, Clone)]
pub struct TestSet<'a> {
    /// [`test_set_id`] of its models.
    pub id: String,
    /// Number of test videos.
    pub n_videos: usize,
    /// Its models, in the order given to [`test_sets`].
    pub models: Vec<&'a ModelResult>,
}

/// `models` grouped by test set, groups in order of their first model.
pub fn test_sets<'a>(models: &[&'a ModelResult]) -> Vec<TestSet<'a>> {
    let mut sets: Vec<TestSet<'a>> = Vec::new();
    for m in models {
        let id = test_set_id(m);
        match sets.iter_mut().find(|s| s.id == id) {
            Some(s) => s.models.push(m),
            None => sets.push(TestSet {
                id,
                n_videos: m.y_true.len(),
                models: vec![m],
            }),
        }
    }
    sets
}

/// Accuracy and macro F1 of `m` with their 95 % stratified bootstrap intervals (2,000 resamples,
/// seed 42); `None` for a model without test predictions.
pub fn intervals(m: &ModelResult) -> Option<ModelIntervals> {
    if m.y_true.is_empty() || m.y_true.len() != m.y_pred.len() {
        return None;
    }
    model_intervals(&m.y_true, &m.y_pred, &Bootstrap::default()).ok()
}

/// Every paired comparison within each test set, looked up by model names.
#[derive(Debug, Clone, Default)]
pub struct Comparisons {
    pairs: HashMap<(String, String), PairedComparison>,
}

impl Comparisons {
    /// Compare every pair of models that share a test set (models on other test sets are never
    /// compared). A test set whose comparison fails (e.g. a video listed twice) has no pairs.
    pub fn new(models: &[&ModelResult]) -> Comparisons {
        let mut pairs = HashMap::new();
        for set in test_sets(models) {
            let preds: Vec<TestPredictions> = set
                .models
                .iter()
                .map(|m| TestPredictions {
                    model: &m.name,
                    videos: video_ids(m),
                    y_true: &m.y_true,
                    y_pred: &m.y_pred,
                })
                .collect();
            let Ok(all) = compare_all(&preds, &Bootstrap::default()) else {
                continue;
            };
            for c in all {
                pairs.insert((c.a.clone(), c.b.clone()), c);
            }
        }
        Comparisons { pairs }
    }

    /// The comparison of `a` against `b` (accuracy difference `a - b`); `None` when they were not
    /// evaluated on the same test videos.
    pub fn get(&self, a: &str, b: &str) -> Option<PairedComparison> {
        if let Some(c) = self.pairs.get(&(a.to_string(), b.to_string())) {
            return Some(c.clone());
        }
        let c = self.pairs.get(&(b.to_string(), a.to_string()))?;
        Some(PairedComparison {
            a: c.b.clone(),
            b: c.a.clone(),
            n: c.n,
            b_only: c.c_only,
            c_only: c.b_only,
            mcnemar_p: c.mcnemar_p,
            // `+ 0.0` turns -0.0 into 0.0, so a flipped interval reads as the other way round.
            diff: -c.diff + 0.0,
            diff_interval: crate::uncertainty::Interval {
                low: -c.diff_interval.high + 0.0,
                high: -c.diff_interval.low + 0.0,
                ..c.diff_interval
            },
        })
    }

    /// All comparisons, sorted by the names of `a`, then `b`.
    pub fn all(&self) -> Vec<&PairedComparison> {
        let mut v: Vec<&PairedComparison> = self.pairs.values().collect();
        v.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{ModelKind, Protocol};

    fn model(name: &str, videos: &[&str], y_true: &[usize], y_pred: &[usize]) -> ModelResult {
        ModelResult {
            name: name.into(),
            kind: ModelKind::Classical,
            metrics: crate::metrics::evaluate(
                y_true,
                y_pred,
                &y_pred
                    .iter()
                    .map(|&p| {
                        if p == 0 {
                            vec![1.0, 0.0]
                        } else {
                            vec![0.0, 1.0]
                        }
                    })
                    .collect::<Vec<_>>(),
                2,
            )
            .unwrap(),
            efficiency: Default::default(),
            protocol: Protocol::default(),
            y_true: y_true.to_vec(),
            y_pred: y_pred.to_vec(),
            scores: Vec::new(),
            test_paths: videos.iter().map(|v| v.to_string()).collect(),
            score_kind: String::new(),
            details: Default::default(),
            artifacts: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn test_sets_ignore_order_and_separate_labels() {
        let a = model("a", &["x", "y", "z"], &[0, 1, 1], &[0, 1, 0]);
        // The same videos listed in another order: the same test set.
        let b = model("b", &["z", "x", "y"], &[1, 0, 1], &[1, 0, 1]);
        // The same files with other true classes (another class list): not the same test set.
        let c = model("c", &["x", "y", "z"], &[1, 0, 0], &[1, 0, 0]);
        assert_eq!(test_set_id(&a), test_set_id(&b));
        assert_ne!(test_set_id(&a), test_set_id(&c));
        let sets = test_sets(&[&a, &c, &b]);
        assert_eq!(sets.len(), 2);
        let names: Vec<&str> = sets[0].models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(sets[1].n_videos, 3);
    }

    #[test]
    fn comparisons_are_looked_up_both_ways_with_signs_flipped() {
        let a = model("a", &["x", "y", "z"], &[0, 1, 1], &[0, 1, 1]);
        let b = model("b", &["z", "x", "y"], &[1, 0, 1], &[0, 0, 1]);
        let c = model("c", &["p", "q", "r"], &[0, 1, 1], &[0, 1, 1]);
        let cmp = Comparisons::new(&[&a, &b, &c]);
        assert_eq!(cmp.all().len(), 1, "c shares no test set");
        assert!(cmp.get("a", "c").is_none());
        let ab = cmp.get("a", "b").unwrap();
        let ba = cmp.get("b", "a").unwrap();
        // a is right on z where b is wrong (after aligning b's order): b_only 1, c_only 0.
        assert_eq!((ab.a.as_str(), ab.b.as_str()), ("a", "b"));
        assert_eq!((ab.b_only, ab.c_only), (1, 0));
        assert_eq!((ba.a.as_str(), ba.b.as_str()), ("b", "a"));
        assert_eq!((ba.b_only, ba.c_only), (0, 1));
        assert!((ab.diff - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(ba.diff, -ab.diff);
        assert_eq!(ba.diff_interval.low, -ab.diff_interval.high);
        assert_eq!(ba.diff_interval.high, -ab.diff_interval.low);
        assert!(!ba.diff_interval.high.is_sign_negative() || ba.diff_interval.high != 0.0);
        assert_eq!(ba.mcnemar_p, ab.mcnemar_p);
    }

    #[test]
    fn intervals_of_a_perfect_model_and_of_none() {
        let a = model("a", &["x", "y"], &[0, 1], &[0, 1]);
        let i = intervals(&a).unwrap();
        assert_eq!(
            (i.accuracy_interval.low, i.accuracy_interval.high),
            (1.0, 1.0)
        );
        let mut none = a.clone();
        none.y_true.clear();
        none.y_pred.clear();
        assert!(intervals(&none).is_none());
    }
}
