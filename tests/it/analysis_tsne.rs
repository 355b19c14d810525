//! t-SNE maps: well-separated clusters stay separated (kNN accuracy in the map), the perplexity
//! guard for small sets (n = 4..10 run, fewer points fall back to PCA), determinism per seed, and
//! the caption's numbers.

use ndarray::Array2;
use vidcompare::analysis::tsne::{
    MapMethod, TsneOptions, embed_2d, guarded_perplexity, knn_accuracy, tsne_view,
};
use vidcompare::report::PlotKind;
use vidcompare::report::analysis::tsne_plot;

/// `k` Gaussian-like clusters of `per` points in `d` dimensions, centres 20 apart.
fn clusters(k: usize, per: usize, d: usize) -> (Array2<f64>, Vec<usize>) {
    let mut state = 12345u64;
    let mut noise = move || {
        // xorshift: a small deterministic generator, values in [-1, 1).
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    let n = k * per;
    let labels: Vec<usize> = (0..n).map(|i| i / per).collect();
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        let c = labels[i];
        let centre = if j % k == c { 20.0 } else { 0.0 };
        centre + noise()
    });
    (x, labels)
}

#[test]
fn separated_clusters_stay_separated_in_the_map() {
    let (x, y) = clusters(3, 20, 10);
    assert_eq!(knn_accuracy(x.view(), &y, 5), Some(1.0));
    let opts = TsneOptions::default();
    let (map, method) = embed_2d(&x, &opts).unwrap();
    assert_eq!(map.dim(), (60, 2));
    assert_eq!(
        method,
        MapMethod::Tsne {
            perplexity: 59.0 / 3.0
        }
    );
    let acc = knn_accuracy(map.view(), &y, 5).unwrap();
    assert!(acc >= 0.95, "kNN accuracy in the map {acc}");
    // Same seed, same map; another seed, another layout.
    let (again, _) = embed_2d(&x, &opts).unwrap();
    assert_eq!(again, map);
    let (other, _) = embed_2d(&x, &TsneOptions { seed: 7, ..opts }).unwrap();
    assert_ne!(other, map);
}

#[test]
fn random_labels_do_not_separate() {
    let (x, _) = clusters(3, 20, 10);
    // Labels that ignore the clusters: each cluster holds every label.
    let y: Vec<usize> = (0..60).map(|i| i % 3).collect();
    let v = tsne_view("noise", &x, &y, &[], &[], &TsneOptions::default()).unwrap();
    let o = v.knn_original.unwrap();
    assert!(o < 0.6, "{o}");
    assert!(!v.caption.contains("separate well"), "{}", v.caption);
}

#[test]
fn perplexity_guard_for_small_sets() {
    // linfa-tsne requires n - 1 >= 3 * perplexity; the notebook's max(2, min(30, n - 1)) breaks it
    // for every n below 92.
    for n in 4..=10 {
        let p = guarded_perplexity(n, 30.0).unwrap();
        assert!((n - 1) as f64 >= 3.0 * p, "n {n}: perplexity {p}");
        assert!(p > 0.0);
        let (x, _) = clusters(2, n / 2, 3);
        let x = x.slice(ndarray::s![..n.min(x.nrows()), ..]).to_owned();
        let (map, method) = embed_2d(&x, &TsneOptions::default()).unwrap();
        assert_eq!(map.nrows(), x.nrows());
        assert!(map.iter().all(|v| v.is_finite()), "n {n}");
        assert!(
            matches!(method, MapMethod::Tsne { .. }) || x.nrows() < 4,
            "n {n}"
        );
    }
    assert_eq!(guarded_perplexity(1000, 30.0), Some(30.0));
    assert_eq!(guarded_perplexity(31, 30.0), Some(10.0));
    assert_eq!(guarded_perplexity(3, 30.0), None);
    // Three points (the end-to-end test's test split): the first two principal components.
    let (x, y) = clusters(3, 1, 4);
    let v = tsne_view("tiny", &x, &y, &[], &[], &TsneOptions::default()).unwrap();
    assert_eq!(v.method, MapMethod::Pca);
    assert!(v.caption.contains("too few for t-SNE"), "{}", v.caption);
    // One column is padded to two.
    let one = Array2::from_shape_fn((6, 1), |(i, _)| i as f64);
    assert_eq!(
        embed_2d(&one, &TsneOptions::default()).unwrap().0.ncols(),
        2
    );
}

#[test]
fn bad_input_is_an_error() {
    let mut x = Array2::zeros((5, 3));
    x[[2, 1]] = f64::NAN;
    assert!(embed_2d(&x, &TsneOptions::default()).is_err());
    assert!(embed_2d(&Array2::zeros((0, 3)), &TsneOptions::default()).is_err());
    let ok = Array2::from_shape_fn((5, 2), |(i, j)| (i * 2 + j) as f64);
    let err = tsne_view("t", &ok, &[0, 1], &[], &[], &TsneOptions::default()).unwrap_err();
    assert!(err.to_string().contains("5 rows but 2 labels"), "{err}");
}

#[test]
fn view_has_one_series_per_class_and_a_measured_caption() {
    let (x, y) = clusters(3, 8, 6);
    let names: Vec<String> = ["left-right", "up-down", "circle"]
        .map(String::from)
        .to_vec();
    let paths: Vec<String> = (0..24).map(|i| format!("v{i}.mp4")).collect();
    let v = tsne_view(
        "PCA features",
        &x,
        &y,
        &names,
        &paths,
        &TsneOptions::default(),
    )
    .unwrap();
    let plot = tsne_plot(&v);
    assert_eq!(plot.kind, PlotKind::Scatter);
    let series: Vec<&str> = plot.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(series, ["left-right", "up-down", "circle"]);
    assert!(
        plot.series
            .iter()
            .all(|s| s.x.len() == 8 && s.labels.len() == 8)
    );
    assert_eq!(plot.series[1].labels[0], "v8.mp4");
    // k = 5 (classes of 8), perfect separation in the original space, chance 1/3.
    assert_eq!(v.k, 5);
    assert_eq!(v.knn_original, Some(1.0));
    let m = v.knn_map.unwrap();
    assert!(
        v.caption.contains(&format!(
            "{m:.2} in this map and 1.00 in the original space"
        )),
        "{}",
        v.caption
    );
    assert!(v.caption.contains("against 0.33"), "{}", v.caption);
    assert!(v.caption.contains("perplexity 7.67"), "{}", v.caption);
    assert!(v.caption.contains("separate well"), "{}", v.caption);
    assert_eq!(plot.caption, v.caption);
}
