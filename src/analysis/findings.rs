//! The key findings at the top of the report: three to six sentences written from a run's numbers,
//! the headline of the unified comparison. Which model is best in each family (with its 95 %
//! interval), whether the families' bests can be told apart on their test videos (the paired
//! verdict of [`super::paired`], never overruled), what the cheaper one saves end to end, in size
//! and in memory, and how far the test set resolves accuracy.
//!
//! Each sentence names what backs it ([`Backing`]) so the report can link it to that table or
//! section; the sentences themselves are plain Markdown (model names in bold).

use serde::{Deserialize, Serialize};

use super::insights::{
    acc_text, by, ci_text, diff_text, duration, e2e, join_bold, points, ratio, sig3,
};
use super::paired::{Comparisons, intervals, test_sets};
use crate::results::{ModelKind, ModelResult, ResultsTable, sort_by_accuracy};

/// What backs a key finding: where in the report a reader checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backing {
    /// The unified comparison table (accuracy, intervals, test sets).
    Comparison,
    /// The paired comparisons (McNemar test, paired interval of the difference).
    Pairs,
    /// The efficiency measurements (end-to-end time, size, memory).
    Costs,
}

/// One generated sentence and what backs it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyFinding {
    /// The sentence (Markdown: model names in bold).
    pub text: String,
    /// The table or section that holds its numbers.
    pub backing: Backing,
}

fn family_name(k: ModelKind) -> &'static str {
    match k {
        ModelKind::Classical => "classical",
        ModelKind::Deep => "deep",
    }
}

/// The key findings of `results`: none for an empty table, else three to six sentences.
///
/// Models are ranked only against models evaluated on the same test videos; two models are said
/// to differ in accuracy only when their paired comparison says so
/// ([`crate::uncertainty::PairedComparison::differs`]). A sentence whose numbers are missing (no
/// end-to-end time, no size) is left out rather than written with a gap.
pub fn key_findings(results: &ResultsTable) -> Vec<KeyFinding> {
    let models = sort_by_accuracy(&results.models.iter().collect::<Vec<_>>());
    let mut out = Vec::new();
    if models.is_empty() {
        return out;
    }
    let mut say = |backing: Backing, text: String| out.push(KeyFinding { text, backing });
    let cmp = Comparisons::new(&models);
    let family = |k: ModelKind| -> Vec<&ModelResult> {
        models.iter().copied().filter(|m| m.kind == k).collect()
    };
    let families: Vec<(ModelKind, Vec<&ModelResult>)> = [ModelKind::Classical, ModelKind::Deep]
        .into_iter()
        .map(|k| (k, family(k)))
        .filter(|(_, ms)| !ms.is_empty())
        .collect();

    // 1. The best model of each family, on each of its test sets.
    let mut bests: Vec<&ModelResult> = Vec::new();
    for (kind, ms) in &families {
        let name = family_name(*kind);
        let sets = test_sets(ms);
        bests.push(sets[0].models[0]);
        if sets.len() == 1 {
            let best = ms[0];
            let tied: Vec<&str> = ms[1..]
                .iter()
                .filter(|m| m.metrics.accuracy == best.metrics.accuracy)
                .map(|m| m.name.as_str())
                .collect();
            let tie = if tied.is_empty() {
                String::new()
            } else {
                format!(" (tied with {})", join_bold(&tied))
            };
            let lead = if ms.len() == 1 {
                format!("The only {name} model, **{}**,", best.name)
            } else {
                format!(
                    "The most accurate of the {} {name} models is **{}**{tie}:",
                    ms.len(),
                    best.name
                )
            };
            say(
                Backing::Comparison,
                format!(
                    "{lead} accuracy {}, macro F1 {:.3}, on {} test videos.",
                    acc_text(best),
                    best.metrics.f1,
                    best.protocol.n_videos.max(best.y_true.len())
                ),
            );
        } else {
            let each: Vec<String> = sets
                .iter()
                .map(|s| {
                    format!(
                        "**{}**, {} on test set #{} ({} videos)",
                        s.models[0].name,
                        acc_text(s.models[0]),
                        s.id,
                        s.n_videos
                    )
                })
                .collect();
            say(
                Backing::Comparison,
                format!(
                    "The {name} models were evaluated on {} different test sets, so they are \
                     ranked within each set only; the most accurate: {}.",
                    sets.len(),
                    each.join("; ")
                ),
            );
        }
    }

    // 2. Are the families' bests distinguishable? Only on the same test videos.
    let pair: Option<(&ModelResult, &ModelResult)> = match bests.as_slice() {
        [c, d] => {
            match cmp.get(&c.name, &d.name) {
                Some(p) if !p.differs() => say(
                    Backing::Pairs,
                    format!(
                        "On the same {} test videos, the two families' best, **{}** and **{}**, \
                         are not distinguishable in accuracy ({}).",
                        p.n,
                        c.name,
                        d.name,
                        diff_text(&p)
                    ),
                ),
                Some(p) => {
                    let (win, lose) = if p.diff > 0.0 { (*c, *d) } else { (*d, *c) };
                    let p = cmp.get(&win.name, &lose.name).unwrap_or(p);
                    say(
                        Backing::Pairs,
                        format!(
                            "On the same {} test videos, **{}** is {} points more accurate than \
                             **{}**, the other family's best ({}): a difference these videos \
                             resolve.",
                            p.n,
                            win.name,
                            points(win.metrics.accuracy, lose.metrics.accuracy),
                            lose.name,
                            ci_text(&p)
                        ),
                    );
                }
                None => say(
                    Backing::Comparison,
                    "The classical and deep models were evaluated on different test videos, so \
                     this run does not compare the two families' accuracy: give both the same \
                     test split to compare them."
                        .to_string(),
                ),
            }
            Some((*c, *d))
        }
        [best] => {
            say(
                Backing::Comparison,
                format!(
                    "Only {} models ran, so this run has no classical-against-deep comparison.",
                    family_name(best.kind)
                ),
            );
            // Within one family, the cost that matters is the most accurate model's against the
            // fastest one's.
            by(&models, e2e, true)
                .map(|(fast, _)| fast)
                .filter(|fast| fast.name != best.name)
                .map(|fast| (*best, fast))
        }
        _ => None,
    };

    // 3. Costs: end-to-end time, then saved size and memory.
    if let Some((a, b)) = pair {
        if let Some(text) = latency_sentence(a, b, &cmp, bests.len() == 1) {
            say(Backing::Costs, text);
        }
        if let Some(text) = footprint_sentence(a, b) {
            say(Backing::Costs, text);
        }
    } else if let ([best], true) = (bests.as_slice(), models.len() > 1)
        && let Some(t) = e2e(best)
    {
        say(
            Backing::Costs,
            format!(
                "**{}** is also the fastest end to end: {} per video from the file to its class.",
                best.name,
                duration(t)
            ),
        );
    }

    // 4. How far the test videos resolve accuracy.
    if let Some(n) = models
        .iter()
        .map(|m| m.y_true.len())
        .filter(|&n| n > 0)
        .min()
    {
        let widest = models
            .iter()
            .filter_map(|m| {
                intervals(m).map(|i| (i.accuracy_interval.high - i.accuracy_interval.low, m))
            })
            .max_by(|x, y| x.0.total_cmp(&y.0));
        let width = widest.map_or(String::new(), |(w, m)| {
            format!(
                "; the widest 95 % interval of accuracy, **{}**'s, spans {} points",
                m.name,
                points(w, 0.0)
            )
        });
        say(
            if cmp.all().is_empty() {
                Backing::Comparison
            } else {
                Backing::Pairs
            },
            format!(
                "With {n} test videos, one video moves accuracy by {} points{width}: smaller \
                 differences need more test videos.",
                points(1.0 / n as f64, 0.0)
            ),
        );
    }
    out
}

/// `a` against `b` end to end, from the file to the class; with `same_family`, `a` is the most
/// accurate model and `b` the fastest, and the paired verdict says what the speed costs.
fn latency_sentence(
    a: &ModelResult,
    b: &ModelResult,
    cmp: &Comparisons,
    same_family: bool,
) -> Option<String> {
    let (ta, tb) = (e2e(a)?, e2e(b)?);
    if !(ta > 0.0 && tb > 0.0) {
        return None;
    }
    if same_family {
        let accuracy = match cmp.get(&a.name, &b.name) {
            Some(p) if !p.differs() => format!(
                ", and not distinguishable from it in accuracy on these {} videos ({:.3} vs {:.3})",
                p.n, b.metrics.accuracy, a.metrics.accuracy
            ),
            Some(p) => format!(
                ", but {} points less accurate ({})",
                points(a.metrics.accuracy, b.metrics.accuracy),
                ci_text(&cmp.get(&b.name, &a.name).unwrap_or(p))
            ),
            None => ", on other test videos, so their accuracy is not compared".to_string(),
        };
        return Some(format!(
            "End to end, from the file to its class, **{}** is the fastest: {} per video, {} \
             faster than the most accurate **{}** ({}){accuracy}.",
            b.name,
            duration(tb),
            ratio(ta, tb),
            a.name,
            duration(ta)
        ));
    }
    let (fast, tf, slow, ts) = if ta <= tb {
        (a, ta, b, tb)
    } else {
        (b, tb, a, ta)
    };
    let verdict = if ts / tf < 1.05 {
        "about the same time".to_string()
    } else {
        format!(
            "the {} model is {} faster",
            family_name(fast.kind),
            ratio(ts, tf)
        )
    };
    Some(format!(
        "End to end, from the file to its class, **{}** takes {} per video and **{}** {}: \
         {verdict}.",
        fast.name,
        duration(tf),
        slow.name,
        duration(ts),
    ))
}

/// Saved size and memory of `a` against `b`; memory only when both were measured the same way.
fn footprint_sentence(a: &ModelResult, b: &ModelResult) -> Option<String> {
    let mut parts = Vec::new();
    let compare = |x: f64, y: f64, less: &str, more: &str| {
        if (x / y - 1.0).abs() < 0.05 {
            "about the same".to_string()
        } else if x <= y {
            format!("{} {less}", ratio(y, x))
        } else {
            format!("{} {more}", ratio(x, y))
        }
    };
    if let (Some(sa), Some(sb)) = (a.efficiency.model_size_mb, b.efficiency.model_size_mb)
        && sa > 0.0
        && sb > 0.0
    {
        parts.push(format!(
            "a saved model of {} MB vs {} MB ({})",
            sig3(sa),
            sig3(sb),
            compare(sa, sb, "smaller", "larger")
        ));
    }
    if let (Some(ma), Some(mb), Some(ka), Some(kb)) = (
        a.efficiency.memory_mb,
        b.efficiency.memory_mb,
        a.efficiency.memory_kind.as_deref(),
        b.efficiency.memory_kind.as_deref(),
    ) && ka.eq_ignore_ascii_case(kb)
        && ma > 0.0
        && mb > 0.0
    {
        parts.push(format!(
            "a {ka} of {} MB vs {} MB ({})",
            sig3(ma),
            sig3(mb),
            compare(ma, mb, "less", "more")
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "Against **{}**, **{}** has {}.",
        b.name,
        a.name,
        parts.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Efficiency, Protocol};

    /// A model on `n` test videos named `{set}{i}` (classes 0/1 alternating), right on the first
    /// `correct`; end-to-end time, saved size and peak RSS as given.
    fn model(
        name: &str,
        kind: ModelKind,
        (set, n, correct): (&str, usize, usize),
        (e2e, size, rss): (f64, f64, f64),
    ) -> ModelResult {
        let y_true: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let y_pred: Vec<usize> = y_true
            .iter()
            .enumerate()
            .map(|(i, &t)| if i < correct { t } else { 1 - t })
            .collect();
        let scores: Vec<Vec<f64>> = y_pred
            .iter()
            .map(|&p| {
                if p == 0 {
                    vec![0.8, 0.2]
                } else {
                    vec![0.3, 0.7]
                }
            })
            .collect();
        ModelResult {
            name: name.into(),
            kind,
            metrics: crate::metrics::evaluate(&y_true, &y_pred, &scores, 2).unwrap(),
            efficiency: Efficiency {
                train_time_s: 1.0,
                infer_time_s_per_video: 1e-3,
                infer_time_s_per_video_e2e: Some(e2e),
                model_size_mb: Some(size),
                memory_mb: Some(rss),
                memory_kind: Some("peak RSS".into()),
                ..Efficiency::default()
            },
            protocol: Protocol {
                split: "test".into(),
                n_videos: n,
                ..Default::default()
            },
            y_true,
            y_pred,
            scores,
            test_paths: (0..n).map(|i| format!("{set}{i}")).collect(),
            score_kind: "softmax".into(),
            details: Default::default(),
            artifacts: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn table(models: Vec<ModelResult>) -> ResultsTable {
        let mut t = ResultsTable::new();
        for m in models {
            t.push(m);
        }
        t
    }

    fn texts(f: &[KeyFinding]) -> Vec<&str> {
        f.iter().map(|k| k.text.as_str()).collect()
    }

    /// The CI text of a model's accuracy as the comparison table prints it.
    fn ci(m: &ModelResult) -> String {
        let i = intervals(m).unwrap().accuracy_interval;
        format!("(95 % CI {:.3}–{:.3})", i.low, i.high)
    }

    #[test]
    fn no_results_no_findings() {
        assert!(key_findings(&ResultsTable::new()).is_empty());
    }

    /// Both families on the same 10 videos, 8/10 against 7/10: one video apart is not
    /// distinguishable, so no sentence may rank them; the costs are quoted with their ratios.
    #[test]
    fn families_not_distinguishable_are_never_ranked() {
        let rf = model(
            "Classical-RF",
            ModelKind::Classical,
            ("v", 10, 8),
            (0.65, 0.1, 240.0),
        );
        let knn = model(
            "Classical-kNN",
            ModelKind::Classical,
            ("v", 10, 5),
            (0.6, 0.2, 230.0),
        );
        let r3d = model(
            "Deep-3D-R3D18",
            ModelKind::Deep,
            ("v", 10, 7),
            (1.3, 16.0, 960.0),
        );
        let f = key_findings(&table(vec![knn, rf.clone(), r3d.clone()]));
        let t = texts(&f);
        assert!((3..=6).contains(&t.len()), "{t:#?}");
        assert_eq!(
            t[0],
            format!(
                "The most accurate of the 2 classical models is **Classical-RF**: accuracy 0.800 {}, macro F1 {:.3}, on 10 test videos.",
                ci(&rf),
                rf.metrics.f1
            )
        );
        assert!(
            t[1].starts_with("The only deep model, **Deep-3D-R3D18**, accuracy 0.700"),
            "{}",
            t[1]
        );
        // McNemar on 1 discordant video: p = 1.
        assert!(
            t[2].starts_with(
                "On the same 10 test videos, the two families' best, **Classical-RF** and \
                 **Deep-3D-R3D18**, are not distinguishable in accuracy (+10.0 points, 95 % CI"
            ) && t[2].contains("McNemar p = 1"),
            "{}",
            t[2]
        );
        assert_eq!(f[2].backing, Backing::Pairs);
        assert!(
            !t.iter().any(|s| s.contains("more accurate than")),
            "{t:#?}"
        );
        // 1.3 s / 0.65 s = 2.0x; 16 / 0.1 MB = 160x; 960 / 240 MB = 4.0x.
        assert_eq!(
            t[3],
            "End to end, from the file to its class, **Classical-RF** takes 650 ms per video and \
             **Deep-3D-R3D18** 1.30 s: the classical model is 2.0x faster."
        );
        assert_eq!(
            t[4],
            "Against **Deep-3D-R3D18**, **Classical-RF** has a saved model of 0.100 MB vs 16.0 MB \
             (160x smaller) and a peak RSS of 240 MB vs 960 MB (4.0x less)."
        );
        assert_eq!(f[3].backing, Backing::Costs);
        assert!(t[5].starts_with("With 10 test videos, one video moves accuracy by 10.0 points"));
    }

    /// End-to-end times within 5 % of each other are called about the same, not "1.0x faster".
    #[test]
    fn near_equal_times_are_about_the_same() {
        let c = model(
            "Classical-RF",
            ModelKind::Classical,
            ("v", 10, 8),
            (1.04, 1.0, 300.0),
        );
        let d = model(
            "Deep-2D-Avg",
            ModelKind::Deep,
            ("v", 10, 7),
            (1.05, 1.0, 300.0),
        );
        let f = key_findings(&table(vec![c, d]));
        assert_eq!(
            f[3].text,
            "End to end, from the file to its class, **Classical-RF** takes 1.04 s per video and \
             **Deep-2D-Avg** 1.05 s: about the same time."
        );
        assert_eq!(
            f[4].text,
            "Against **Deep-2D-Avg**, **Classical-RF** has a saved model of 1.00 MB vs 1.00 MB \
             (about the same) and a peak RSS of 300 MB vs 300 MB (about the same)."
        );
    }

    /// 30 videos, 30/30 against 12/30: every discordant video favours the deep model, so the
    /// paired verdict resolves the difference and the sentence says which is more accurate.
    #[test]
    fn a_resolved_difference_is_stated_with_its_interval() {
        let c = model(
            "Classical-SVM",
            ModelKind::Classical,
            ("v", 30, 12),
            (0.2, 0.5, 200.0),
        );
        let d = model(
            "Deep-2D-Avg",
            ModelKind::Deep,
            ("v", 30, 30),
            (0.9, 20.0, 800.0),
        );
        let f = key_findings(&table(vec![c.clone(), d.clone()]));
        let t = texts(&f);
        assert!((3..=6).contains(&t.len()), "{t:#?}");
        let p = Comparisons::new(&[&d, &c])
            .get("Deep-2D-Avg", "Classical-SVM")
            .unwrap();
        assert!(p.differs());
        // 18 discordant videos all one way: exact two-sided p = 2 / 2^18.
        assert!((p.mcnemar_p - 2.0 / 262_144.0).abs() < 1e-15);
        assert!(
            t[2].starts_with(
                "On the same 30 test videos, **Deep-2D-Avg** is 60.0 points more accurate than \
                 **Classical-SVM**, the other family's best (95 % CI of the difference +"
            ) && t[2].contains("McNemar p < 0.001"),
            "{}",
            t[2]
        );
    }

    /// Only classical models: the findings say so, and compare the most accurate model with the
    /// fastest, in the paired verdict's words.
    #[test]
    fn one_family_has_no_cross_family_comparison() {
        let rf = model(
            "Classical-RF",
            ModelKind::Classical,
            ("v", 10, 8),
            (0.5, 1.0, 300.0),
        );
        let knn = model(
            "Classical-kNN",
            ModelKind::Classical,
            ("v", 10, 7),
            (0.05, 4.0, 300.0),
        );
        let f = key_findings(&table(vec![rf, knn]));
        let t = texts(&f);
        assert!((3..=6).contains(&t.len()), "{t:#?}");
        assert_eq!(
            t[1],
            "Only classical models ran, so this run has no classical-against-deep comparison."
        );
        assert!(
            t[2].starts_with(
                "End to end, from the file to its class, **Classical-kNN** is the fastest: 50.0 ms \
                 per video, 10x faster than the most accurate **Classical-RF** (500 ms), and not \
                 distinguishable from it in accuracy on these 10 videos (0.700 vs 0.800)."
            ),
            "{}",
            t[2]
        );
        assert_eq!(
            t[3],
            "Against **Classical-kNN**, **Classical-RF** has a saved model of 1.00 MB vs 4.00 MB \
             (4.0x smaller) and a peak RSS of 300 MB vs 300 MB (about the same)."
        );
        assert!(!t.iter().any(|s| s.contains("deep model")), "{t:#?}");
    }

    /// The families on different test videos: no sentence compares their accuracy.
    #[test]
    fn families_on_different_test_sets_are_not_compared() {
        let c = model(
            "Classical-RF",
            ModelKind::Classical,
            ("classical/", 9, 9),
            (0.2, 0.5, 200.0),
        );
        let d = model(
            "Deep-3D-R3D18",
            ModelKind::Deep,
            ("deep/", 12, 3),
            (0.9, 20.0, 800.0),
        );
        let f = key_findings(&table(vec![c, d]));
        let t = texts(&f);
        assert!((3..=6).contains(&t.len()), "{t:#?}");
        assert!(
            t[2].starts_with(
                "The classical and deep models were evaluated on different test videos"
            ),
            "{}",
            t[2]
        );
        assert_eq!(f[2].backing, Backing::Comparison);
        for s in &t {
            assert!(
                !s.contains("more accurate than") && !s.contains("distinguishable"),
                "{s}"
            );
        }
        // 9 videos is the smaller test set: one video is 11.1 points.
        assert!(
            t.last()
                .unwrap()
                .starts_with("With 9 test videos, one video moves accuracy by 11.1 points")
        );
    }

    /// A family split over two test sets is ranked within each set only.
    #[test]
    fn a_family_on_two_test_sets_is_ranked_within_each() {
        let a = model(
            "Deep-2D-Avg",
            ModelKind::Deep,
            ("a", 10, 9),
            (1.0, 20.0, 800.0),
        );
        let b = model(
            "Deep-2D-Max",
            ModelKind::Deep,
            ("b", 10, 6),
            (1.0, 20.0, 800.0),
        );
        let f = key_findings(&table(vec![b, a]));
        assert!(
            f[0].text.starts_with(
                "The deep models were evaluated on 2 different test sets, so they are ranked \
                 within each set only; the most accurate: **Deep-2D-Avg**, 0.900"
            ) && f[0].text.contains("; **Deep-2D-Max**, 0.600"),
            "{}",
            f[0].text
        );
        assert!((3..=6).contains(&f.len()), "{f:#?}");
    }
}
