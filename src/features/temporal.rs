//! Temporal statistics over a video's per-frame feature rows (notebook `temporal_stats` and
//! `frame_to_frame_variation`).

/// `[mean, std, min, max]` of every column over the rows, concatenated block-wise: all means, then
/// all standard deviations (population, as `np.std`), all minima, all maxima. Empty input gives an
/// empty vector.
pub fn temporal_stats(rows: &[Vec<f32>]) -> Vec<f32> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let d = first.len();
    let n = rows.len() as f64;
    let mut sum = vec![0f64; d];
    let mut min = vec![f32::INFINITY; d];
    let mut max = vec![f32::NEG_INFINITY; d];
    for r in rows {
        debug_assert_eq!(r.len(), d);
        for j in 0..d {
            let v = r[j];
            sum[j] += v as f64;
            min[j] = min[j].min(v);
            max[j] = max[j].max(v);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let mut ss = vec![0f64; d];
    for r in rows {
        for j in 0..d {
            let e = r[j] as f64 - mean[j];
            ss[j] += e * e;
        }
    }
    let mut out = Vec::with_capacity(4 * d);
    out.extend(mean.iter().map(|&m| m as f32));
    out.extend(ss.iter().map(|&s| (s / n).sqrt() as f32));
    out.extend(min);
    out.extend(max);
    out
}

/// How much the per-frame features change between consecutive frames: for each pair, the mean
/// absolute difference over features; then `[mean, std, min, max]` of those. Fewer than two rows
/// give zeros.
pub fn frame_to_frame_variation(rows: &[Vec<f32>]) -> [f32; 4] {
    if rows.len() < 2 {
        return [0.0; 4];
    }
    let difs: Vec<f64> = rows
        .windows(2)
        .map(|w| {
            let s: f64 = w[0]
                .iter()
                .zip(&w[1])
                .map(|(a, b)| (*b as f64 - *a as f64).abs())
                .sum();
            s / w[0].len().max(1) as f64
        })
        .collect();
    let n = difs.len() as f64;
    let mean = difs.iter().sum::<f64>() / n;
    let std = (difs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n).sqrt();
    let min = difs.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = difs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    [mean as f32, std as f32, min as f32, max as f32]
}

/// Replace NaN and infinities by 0, as the notebook's final `np.nan_to_num(..., 0, 0, 0)`.
pub fn nan_to_num(v: &mut [f32]) {
    for x in v {
        if !x.is_finite() {
            *x = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_by_hand() {
        // Columns: [1, 3, 5] and [2, 2, 8].
        let rows = vec![vec![1.0, 2.0], vec![3.0, 2.0], vec![5.0, 8.0]];
        let s = temporal_stats(&rows);
        let std0 = (8.0f32 / 3.0).sqrt(); // deviations -2, 0, 2
        let std1 = (24.0f32 / 3.0).sqrt(); // mean 4: deviations -2, -2, 4
        let want = [3.0, 4.0, std0, std1, 1.0, 2.0, 5.0, 8.0];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{s:?}");
        }
        assert!(temporal_stats(&[]).is_empty());
    }

    #[test]
    fn variation_by_hand() {
        // Pair differences: mean(|2|,|0|) = 1, mean(|2|,|6|) = 4.
        let rows = vec![vec![1.0, 2.0], vec![3.0, 2.0], vec![5.0, 8.0]];
        let v = frame_to_frame_variation(&rows);
        assert_eq!(v, [2.5, 1.5, 1.0, 4.0]);
        assert_eq!(frame_to_frame_variation(&rows[..1]), [0.0; 4]);
    }

    #[test]
    fn nan_to_num_zeroes_non_finite() {
        let mut v = [1.0, f32::NAN, f32::INFINITY, -f32::INFINITY];
        nan_to_num(&mut v);
        assert_eq!(v, [1.0, 0.0, 0.0, 0.0]);
    }
}
