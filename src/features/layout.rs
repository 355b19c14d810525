//! Names and families of every dimension of a video's feature vector.
//!
//! A vector is a list of segments (`family/feature` with one label per dimension, optionally a
//! temporal statistic), so a dimension's name is computed on demand instead of storing 163,828
//! strings. Names read `family/feature/label[/stat]`, e.g. `shape/hog/1234/std` or
//! `motion/lk/mag_mean`.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// The four feature families of the notebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Color,
    Texture,
    Shape,
    Motion,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Color,
        Family::Texture,
        Family::Shape,
        Family::Motion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Color => "color",
            Family::Texture => "texture",
            Family::Shape => "shape",
            Family::Motion => "motion",
        }
    }

    /// Parse `color`, `texture`, `shape` or `motion` (also `colour`).
    pub fn parse(s: &str) -> Option<Family> {
        match s.trim().to_ascii_lowercase().as_str() {
            "color" | "colour" => Some(Family::Color),
            "texture" => Some(Family::Texture),
            "shape" => Some(Family::Shape),
            "motion" => Some(Family::Motion),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Labels of a segment's dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Labels {
    /// `0..n`
    Count(usize),
    Names(Vec<String>),
}

impl Labels {
    fn len(&self) -> usize {
        match self {
            Labels::Count(n) => *n,
            Labels::Names(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> String {
        match self {
            Labels::Count(_) => i.to_string(),
            Labels::Names(v) => v[i].clone(),
        }
    }
}

/// A run of dimensions that share family, feature and statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub family: Family,
    pub feature: String,
    pub labels: Labels,
    /// Temporal statistic over frames (`mean`, `std`, `min`, `max`) for per-frame features.
    pub stat: Option<String>,
}

impl Segment {
    pub fn new(family: Family, feature: &str, labels: Labels) -> Segment {
        Segment {
            family,
            feature: feature.to_string(),
            labels,
            stat: None,
        }
    }

    pub fn named(family: Family, feature: &str, names: &[&str]) -> Segment {
        Segment::new(
            family,
            feature,
            Labels::Names(names.iter().map(|s| s.to_string()).collect()),
        )
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The layout of a feature vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    segments: Vec<Segment>,
    starts: Vec<usize>,
    len: usize,
}

impl Layout {
    pub fn new() -> Layout {
        Layout::default()
    }

    pub fn push(&mut self, s: Segment) {
        self.starts.push(self.len);
        self.len += s.len();
        self.segments.push(s);
    }

    pub fn extend(&mut self, other: &Layout) {
        for s in &other.segments {
            self.push(s.clone());
        }
    }

    /// The same segments with a temporal statistic attached (for `temporal_stats` blocks).
    pub fn with_stat(&self, stat: &str) -> Layout {
        let mut l = Layout::new();
        for s in &self.segments {
            let mut s = s.clone();
            s.stat = Some(stat.to_string());
            l.push(s);
        }
        l
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    fn locate(&self, i: usize) -> (usize, usize) {
        assert!(
            i < self.len,
            "feature index {i} out of range 0..{}",
            self.len
        );
        let k = self.starts.partition_point(|&s| s <= i) - 1;
        (k, i - self.starts[k])
    }

    /// `family/feature/label[/stat]` of dimension `i`.
    pub fn name(&self, i: usize) -> String {
        let (k, j) = self.locate(i);
        let s = &self.segments[k];
        match &s.stat {
            Some(st) => format!("{}/{}/{}/{}", s.family, s.feature, s.labels.get(j), st),
            None => format!("{}/{}/{}", s.family, s.feature, s.labels.get(j)),
        }
    }

    pub fn family(&self, i: usize) -> Family {
        self.segments[self.locate(i).0].family
    }

    /// Every dimension's family, in order.
    pub fn families(&self) -> Vec<Family> {
        self.segments
            .iter()
            .flat_map(|s| std::iter::repeat_n(s.family, s.len()))
            .collect()
    }

    /// Index ranges of each segment as `(family, feature, stat, range)`.
    pub fn ranges(&self) -> Vec<(Family, String, Option<String>, Range<usize>)> {
        self.segments
            .iter()
            .zip(&self.starts)
            .map(|(s, &st)| {
                (
                    s.family,
                    s.feature.clone(),
                    s.stat.clone(),
                    st..st + s.len(),
                )
            })
            .collect()
    }

    /// Number of dimensions per family.
    pub fn family_sizes(&self) -> Vec<(Family, usize)> {
        Family::ALL
            .iter()
            .map(|&f| {
                let n = self
                    .segments
                    .iter()
                    .filter(|s| s.family == f)
                    .map(Segment::len)
                    .sum();
                (f, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_families_by_index() {
        let mut per_frame = Layout::new();
        per_frame.push(Segment::named(Family::Color, "avg", &["R", "G", "B"]));
        per_frame.push(Segment::new(Family::Shape, "hog", Labels::Count(5)));
        let mut l = Layout::new();
        l.extend(&per_frame.with_stat("mean"));
        l.extend(&per_frame.with_stat("std"));
        l.push(Segment::named(Family::Motion, "lk", &["mag_mean"]));
        assert_eq!(l.len(), 17);
        assert_eq!(l.name(0), "color/avg/R/mean");
        assert_eq!(l.name(4), "shape/hog/1/mean");
        assert_eq!(l.name(8), "color/avg/R/std");
        assert_eq!(l.name(16), "motion/lk/mag_mean");
        assert_eq!(l.family(12), Family::Shape);
        assert_eq!(
            l.family_sizes(),
            vec![(Family::Color, 6), (Family::Shape, 10), (Family::Motion, 1)]
        );
        assert_eq!(l.families().len(), 17);
    }
}
