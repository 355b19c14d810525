//! numpy's float reductions and `np.histogram`, reproduced to the last bit for the notebook's
//! feature arithmetic (pairwise summation, float32 mean/var, automatic-range density histogram).

use std::ops::Add;

/// `np.add.reduce` over a contiguous 1-D array: numpy's pairwise summation (8 interleaved
/// accumulators for blocks of up to 128 items, recursive halving above), added to 0.
pub(crate) fn pairwise_sum<T: Copy + Add<Output = T> + Default>(a: &[T]) -> T {
    T::default() + pairwise(a)
}

fn pairwise<T: Copy + Add<Output = T> + Default>(a: &[T]) -> T {
    let n = a.len();
    if n < 8 {
        a.iter().fold(T::default(), |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc = *acc + v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[full..] {
            res = res + v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// `a.mean()` of a float32 array: the float32 pairwise sum divided by the count (numpy divides
/// by an `intp`, i.e. in float64, then casts back; for one division that equals the float32
/// quotient).
pub(crate) fn mean_f32(a: &[f32]) -> f32 {
    (f64::from(pairwise_sum(a)) / a.len() as f64) as f32
}

/// `a.var()` (ddof 0) of a float32 array, with numpy's float32 intermediates: the mean as in
/// [`mean_f32`], squared deviations in float32, their pairwise sum over the count.
pub(crate) fn var_f32(a: &[f32]) -> f32 {
    let mean = mean_f32(a);
    let sq: Vec<f32> = a
        .iter()
        .map(|&v| {
            let d = v - mean;
            d * d
        })
        .collect();
    (f64::from(pairwise_sum(&sq)) / a.len() as f64) as f32
}

/// `np.histogram(values, bins, density=True)` of a float32 array with the automatic range, cast
/// to float32 as the notebook does.
///
/// Reproduces numpy 2's arithmetic: float32 edges from `np.linspace(min, max, bins + 1)`
/// (`i * step + min`, last edge set to `max`), a range widened to `min - 0.5 .. max + 0.5` when
/// all values are equal, the float32 bin index `(v - min) / (max - min) * bins` corrected
/// against the edges, the last bin closed on the right, and `count / (n * width)` with the
/// float32 edge differences. An empty input gives NaN densities, as numpy's 0/0 does; `bins == 0`
/// gives an empty vector where numpy raises.
pub(crate) fn histogram_density_f32(values: &[f32], bins: usize) -> Vec<f32> {
    if bins == 0 {
        return Vec::new();
    }
    let (mut first, mut last) = if values.is_empty() {
        (0.0f32, 1.0f32)
    } else {
        values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let nb = bins as f32;
    let delta = last - first;
    let step = delta / nb;
    let mut edges: Vec<f32> = (0..=bins).map(|i| i as f32 * step + first).collect();
    edges[bins] = last;

    let mut counts = vec![0u64; bins];
    for &v in values {
        let f = ((v - first) / delta) * nb;
        // Float-to-int `as` truncates toward zero like numpy's astype(intp); f >= 0 here.
        let mut i = (f as usize).min(bins);
        if i == bins {
            i -= 1;
        }
        if v < edges[i] {
            i -= 1;
        }
        if v >= edges[i + 1] && i != bins - 1 {
            i += 1;
        }
        counts[i] += 1;
    }
    let total = values.len() as f64;
    counts
        .iter()
        .zip(edges.windows(2))
        .map(|(&c, e)| (c as f64 / f64::from(e[1] - e[0]) / total) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_uses_numpys_blocking() {
        // 1e8 followed by fifteen 4s (numpy gives 100000056, checked with np.float32 arrays).
        // Pairwise: accumulator 0 gets 1e8 + 4, a tie that rounds to even (1e8; float32 spacing
        // there is 8); accumulators 1..7 get 8 each; ((1e8 + 8) + (8 + 8)) + ((8 + 8) + (8 + 8))
        // = 1e8 + 56.
        // Sequentially every + 4 rounds away: 1e8.
        let mut a = [4f32; 16];
        a[0] = 1e8;
        assert_eq!(pairwise_sum(&a), 1e8 + 56.0);
        let sequential = a.iter().fold(0f32, |s, &v| s + v);
        assert_eq!(sequential, 1e8);
        assert_eq!(pairwise_sum::<f64>(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.5f64, 2.0, 3.0]), 6.5);
    }

    #[test]
    fn mean_and_var_match_hand_values() {
        let a = [1f32, 2., 3., 4.];
        assert_eq!(mean_f32(&a), 2.5);
        assert_eq!(var_f32(&a), 1.25);
        assert_eq!(var_f32(&[7.0]), 0.0);
    }

    #[test]
    fn histogram_density_by_hand() {
        // Values 0, 255, 255, 510 in 2 bins over 0..510: edges 0, 255, 510; 255 goes right
        // (bins are closed on the left), 510 stays in the last bin (closed on the right).
        // Densities: 1 / (4 * 255) and 3 / (4 * 255).
        let h = histogram_density_f32(&[0., 255., 255., 510.], 2);
        assert_eq!(h, vec![(1.0 / 1020.0f64) as f32, (3.0 / 1020.0f64) as f32]);
        // All equal: range 99.5..100.5, the value sits on the middle edge -> upper middle bin.
        let h = histogram_density_f32(&[100.0; 5], 4);
        assert_eq!(h, vec![0.0, 0.0, 4.0, 0.0]);
        assert!(histogram_density_f32(&[], 3).iter().all(|v| v.is_nan()));
        assert!(histogram_density_f32(&[1.0], 0).is_empty());
    }
}
