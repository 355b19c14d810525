//! The notebook's frame-sampling strategies, as pure functions from a frame count to frame indices.
//!
//! Classical pipeline (notebook cell In[5]): `uniform` (about one frame per second), `random`
//! (16 frames), `dense` (the first frames). Deep pipeline (cell In[10]): `uniform` is
//! `np.linspace(0, n - 1, N, dtype=int)` and `random` draws `min(N, n)` distinct frames.
//!
//! Random strategies use ChaCha8 (`rand_chacha`) seeded from the run's seed, not numpy's PCG64, so
//! the chosen indices differ from the notebook's; the distribution (a uniformly random subset,
//! sorted) is the same, and like the notebook the same seed gives the same indices for every video
//! of the same length.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How to choose which frames of a video to decode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sampling {
    /// Classical uniform: every `stride`-th frame from 0, with `stride = round(fps / target_fps)`
    /// (Python's round, half to even; at least 1). When the frame rate is unknown or not positive,
    /// `stride = max(1, n / 10)` (integer division), i.e. about ten frames.
    Uniform { target_fps: f64 },
    /// Classical random: `k` distinct frames, sorted; all frames when the video has `k` or fewer.
    Random { k: usize },
    /// Dense: the first `min(n, max_frames)` frames.
    Dense { max_frames: usize },
    /// Deep uniform: `np.linspace(0, n - 1, n_out, dtype=int)`, truncating toward zero, so
    /// indices repeat when the video has fewer than `n` frames.
    ///
    /// The notebook reads at most 400 frames before sampling (`load_video_cv2(max_frames=400)`):
    /// pass `n_frames.min(400)` to [`Sampling::indices`] to reproduce that exactly.
    Linspace { n: usize },
    /// Deep random: `min(n, n_frames)` distinct frames, sorted.
    RandomN { n: usize },
}

impl Sampling {
    /// The frame indices to decode from a video of `n_frames` frames at `fps` (None when the
    /// container does not say), ascending (with repeats only for [`Sampling::Linspace`]).
    /// An empty video gives no indices.
    ///
    /// ```
    /// use vidcompare::video::sample::Sampling;
    /// let s = Sampling::Uniform { target_fps: 1.0 };
    /// assert_eq!(s.indices(60, Some(25.0), 42), vec![0, 25, 50]);
    /// assert_eq!(Sampling::Linspace { n: 8 }.indices(5, None, 42), vec![0, 0, 1, 1, 2, 2, 3, 4]);
    /// ```
    pub fn indices(&self, n_frames: usize, fps: Option<f64>, seed: u64) -> Vec<usize> {
        if n_frames == 0 {
            return Vec::new();
        }
        match *self {
            Sampling::Uniform { target_fps } => {
                let stride = uniform_stride(n_frames, fps, target_fps);
                (0..n_frames).step_by(stride).collect()
            }
            Sampling::Random { k } => random_subset(n_frames, k, seed),
            Sampling::Dense { max_frames } => (0..n_frames.min(max_frames)).collect(),
            Sampling::Linspace { n } => linspace_int(n_frames - 1, n),
            Sampling::RandomN { n } => random_subset(n_frames, n, seed),
        }
    }

    /// The classical pipeline's strategy by its notebook name: `"uniform"` (1 frame per second),
    /// `"random"` (16 frames), `"dense"` (the first 120 frames in fast mode, else 500).
    pub fn parse_classical(name: &str, fast_mode: bool) -> Result<Sampling> {
        match name.trim().to_ascii_lowercase().as_str() {
            "uniform" => Ok(Sampling::Uniform { target_fps: 1.0 }),
            "random" => Ok(Sampling::Random { k: 16 }),
            "dense" => Ok(Sampling::Dense {
                max_frames: if fast_mode { 120 } else { 500 },
            }),
            _ => Err(Error::InvalidArgument(format!(
                "unknown classical sampling strategy {name:?}; expected uniform, random or dense"
            ))),
        }
    }
}

/// The classical uniform stride (notebook `uniform_sampling`).
fn uniform_stride(n_frames: usize, fps: Option<f64>, target_fps: f64) -> usize {
    match fps {
        Some(fps) if fps.is_finite() && fps > 0.0 => {
            // Python's `round` rounds halves to even (12.5 -> 12); a float-to-int `as` cast
            // saturates, so a zero target rate gives one frame instead of a panic.
            let stride = (fps / target_fps).round_ties_even();
            if stride.is_nan() {
                1
            } else {
                (stride as usize).max(1)
            }
        }
        _ => (n_frames / 10).max(1),
    }
}

/// `np.linspace(0, stop, num, dtype=int)`, reproducing numpy's float arithmetic: `i * step` with
/// `step = stop / (num - 1)`, truncated, and the last value set to `stop` exactly. (Exact rational
/// arithmetic differs: linspace(0, 30, 23) has 14 at position 11, not 15.)
fn linspace_int(stop: usize, num: usize) -> Vec<usize> {
    match num {
        0 => Vec::new(),
        1 => vec![0],
        _ => {
            let step = stop as f64 / (num - 1) as f64;
            let mut out: Vec<usize> = (0..num).map(|i| (i as f64 * step) as usize).collect();
            out[num - 1] = stop;
            out
        }
    }
}

/// `min(k, n)` distinct indices below `n`, sorted; every index when `n <= k`.
fn random_subset(n: usize, k: usize, seed: u64) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, n, k).into_vec();
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(target_fps: f64) -> Sampling {
        Sampling::Uniform { target_fps }
    }

    #[test]
    fn uniform_stride_from_fps() {
        let expect_25: Vec<usize> = vec![0, 25, 50, 75];
        assert_eq!(uniform(1.0).indices(100, Some(25.0), 0), expect_25);
        // round(29.97) = 30
        assert_eq!(
            uniform(1.0).indices(91, Some(29.97), 0),
            vec![0, 30, 60, 90]
        );
        // round(12.5) = 12 in Python (half to even), not 13
        assert_eq!(uniform(1.0).indices(30, Some(12.5), 0), vec![0, 12, 24]);
        // round(13.5) = 14; round(2.5) = 2
        assert_eq!(uniform(1.0).indices(30, Some(13.5), 0), vec![0, 14, 28]);
        assert_eq!(uniform(10.0).indices(7, Some(25.0), 0), vec![0, 2, 4, 6]);
        // fps below the target: stride max(1, round(0.5)=0) = 1
        assert_eq!(uniform(2.0).indices(3, Some(1.0), 0), vec![0, 1, 2]);
    }

    #[test]
    fn uniform_without_fps_takes_a_tenth() {
        // n = 95: stride 95 // 10 = 9 -> 0, 9, ..., 90
        let expect: Vec<usize> = (0..=10).map(|i| i * 9).collect();
        assert_eq!(uniform(1.0).indices(95, None, 0), expect);
        assert_eq!(uniform(1.0).indices(95, Some(0.0), 0), expect);
        assert_eq!(uniform(1.0).indices(95, Some(f64::NAN), 0), expect);
        // n < 10: stride max(1, 0) = 1
        assert_eq!(uniform(1.0).indices(4, None, 0), vec![0, 1, 2, 3]);
    }

    #[test]
    fn uniform_degenerate_target_does_not_panic() {
        assert_eq!(uniform(0.0).indices(50, Some(25.0), 0), vec![0]);
        assert_eq!(uniform(f64::NAN).indices(3, Some(25.0), 0), vec![0, 1, 2]);
    }

    #[test]
    fn linspace_matches_numpy() {
        // Values printed by numpy 2.4: np.linspace(0, N-1, n, dtype=int).tolist()
        let lin = |n| Sampling::Linspace { n };
        assert_eq!(lin(8).indices(5, None, 0), vec![0, 0, 1, 1, 2, 2, 3, 4]);
        assert_eq!(lin(5).indices(100, None, 0), vec![0, 24, 49, 74, 99]);
        assert_eq!(lin(4).indices(1, None, 0), vec![0, 0, 0, 0]);
        assert_eq!(lin(1).indices(7, None, 0), vec![0]);
        assert_eq!(lin(0).indices(7, None, 0), Vec::<usize>::new());
        assert_eq!(
            lin(16).indices(301, None, 0),
            (0..16).map(|i| i * 20).collect::<Vec<_>>()
        );
        // Floating-point truncation: exact arithmetic would give 15 at position 11.
        assert_eq!(
            lin(23).indices(31, None, 0),
            vec![
                0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 19, 20, 21, 23, 24, 25, 27, 28, 30
            ]
        );
    }

    #[test]
    fn dense_takes_the_first_frames() {
        let d = Sampling::Dense { max_frames: 120 };
        assert_eq!(d.indices(500, Some(25.0), 0), (0..120).collect::<Vec<_>>());
        assert_eq!(d.indices(50, Some(25.0), 0), (0..50).collect::<Vec<_>>());
    }

    fn check_random(s: Sampling, n: usize, k: usize) {
        let a = s.indices(n, Some(25.0), 7);
        assert_eq!(a.len(), k.min(n));
        assert!(
            a.windows(2).all(|w| w[0] < w[1]),
            "sorted and distinct: {a:?}"
        );
        assert!(a.iter().all(|&i| i < n));
        assert_eq!(a, s.indices(n, Some(25.0), 7), "same seed, same indices");
    }

    #[test]
    fn random_is_a_sorted_seeded_subset() {
        check_random(Sampling::Random { k: 16 }, 300, 16);
        check_random(Sampling::RandomN { n: 32 }, 1000, 32);
        check_random(Sampling::RandomN { n: 32 }, 20, 32);
        assert_eq!(
            Sampling::Random { k: 16 }.indices(10, None, 1),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(
            Sampling::Random { k: 16 }.indices(16, None, 1),
            (0..16).collect::<Vec<_>>()
        );
        let seeds: Vec<Vec<usize>> = (0..4)
            .map(|s| Sampling::Random { k: 16 }.indices(300, None, s))
            .collect();
        assert!(
            seeds.windows(2).any(|w| w[0] != w[1]),
            "seed changes the draw"
        );
    }

    #[test]
    fn empty_video_gives_no_indices() {
        for s in [
            uniform(1.0),
            Sampling::Random { k: 16 },
            Sampling::Dense { max_frames: 120 },
            Sampling::Linspace { n: 32 },
            Sampling::RandomN { n: 32 },
        ] {
            assert!(s.indices(0, Some(25.0), 0).is_empty(), "{s:?}");
            assert!(s.indices(0, None, 0).is_empty(), "{s:?}");
        }
    }

    #[test]
    fn parse_names() {
        assert_eq!(
            Sampling::parse_classical("uniform", true).unwrap(),
            uniform(1.0)
        );
        assert_eq!(
            Sampling::parse_classical("random", false).unwrap(),
            Sampling::Random { k: 16 }
        );
        assert_eq!(
            Sampling::parse_classical("dense", true).unwrap(),
            Sampling::Dense { max_frames: 120 }
        );
        assert_eq!(
            Sampling::parse_classical("dense", false).unwrap(),
            Sampling::Dense { max_frames: 500 }
        );
        let err = Sampling::parse_classical("sparse", true).unwrap_err();
        assert!(err.to_string().contains("sparse"));
    }
}
