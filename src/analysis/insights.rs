//! Strengths and limitations written from the measured numbers of a run (the notebook's section 7
//! prints fixed sentences; these are generated): which model is most accurate, what its speed,
//! size and training time cost against the others, what the feature sets change, how accuracy
//! grows with training data, and how far the test set lets one trust a difference.

use serde::Serialize;

use super::learning::{LearningRow, summarize};
use super::paired::{Comparisons, intervals, test_sets};
use crate::results::{ModelKind, ModelResult, ResultsTable, sort_by_accuracy};
use crate::uncertainty::PairedComparison;

/// One generated sentence and the topic it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insight {
    /// `Accuracy`, `Speed and cost`, `Features`, `Data efficiency` or `Caveats`.
    pub topic: &'static str,
    /// The sentence (Markdown: model names in bold).
    pub text: String,
}

const ACCURACY: &str = "Accuracy";
const COST: &str = "Speed and cost";
const FEATURES: &str = "Features";
const DATA: &str = "Data efficiency";
const CAVEATS: &str = "Caveats";

/// Accuracy difference in percentage points, one decimal: `0.8889 - 0.4444` -> `44.4`.
pub fn points(a: f64, b: f64) -> String {
    format!("{:.1}", (a - b).abs() * 100.0)
}

/// A ratio as `450x`, `12x` or `3.2x`.
pub fn ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.1}x")
    }
}

/// A duration with a unit that keeps three significant digits: `4.39 µs`, `651 ms`, `2.08 s`.
pub fn duration(s: f64) -> String {
    let (v, unit) = if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else if s < 600.0 {
        (s, "s")
    } else {
        (s / 60.0, "min")
    };
    format!("{} {unit}", sig3(v))
}

/// Three significant digits, no exponent: `0.00259`, `12.3`, `1235`.
pub fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let d = (2 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
    format!("{v:.d$}")
}

/// A p-value as a results section writes it: `= 0.125`, or `< 0.001` below that.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_string()
    } else {
        format!("= {}", sig3(p))
    }
}

pub(crate) fn by<'a>(
    models: &[&'a ModelResult],
    key: impl Fn(&ModelResult) -> Option<f64>,
    lowest: bool,
) -> Option<(&'a ModelResult, f64)> {
    models
        .iter()
        .filter_map(|m| key(m).filter(|v| v.is_finite()).map(|v| (*m, v)))
        .reduce(|a, b| {
            let better = if lowest { b.1 < a.1 } else { b.1 > a.1 };
            if better { b } else { a }
        })
}

pub(crate) fn e2e(m: &ModelResult) -> Option<f64> {
    m.efficiency.infer_time_s_per_video_e2e
}

fn clf(m: &ModelResult) -> Option<f64> {
    Some(m.efficiency.infer_time_s_per_video).filter(|t| *t > 0.0)
}

/// The sentences for a run's models, and its learning curves when there are any.
///
/// Every number in a sentence comes from `results` (or `learning`); a sentence whose numbers are
/// missing is left out rather than written with a gap. Models are compared only with models
/// evaluated on the same test videos ([`test_sets`]), and a difference is called "not
/// distinguishable on these N videos", never a ranking, unless its paired bootstrap interval
/// excludes 0 and the exact McNemar test rejects ([`PairedComparison::differs`]).
pub fn insights(results: &ResultsTable, learning: &[LearningRow]) -> Vec<Insight> {
    let models: Vec<&ModelResult> = results.models.iter().collect();
    let mut out = Vec::new();
    if models.is_empty() {
        out.push(Insight {
            topic: CAVEATS,
            text: "No model produced results in this run.".into(),
        });
        return out;
    }
    let cmp = Comparisons::new(&models);
    let sets = test_sets(&sort_by_accuracy(&models));
    if sets.len() > 1 {
        let list: Vec<String> = sets
            .iter()
            .map(|s| {
                let names: Vec<&str> = s.models.iter().map(|m| m.name.as_str()).collect();
                format!("#{} ({} videos: {})", s.id, s.n_videos, join_bold(&names))
            })
            .collect();
        out.push(Insight {
            topic: CAVEATS,
            text: format!(
                "The models were evaluated on {} different test sets, {}. Models on different test \
                 videos are never compared here; each test set's sentences stand alone.",
                sets.len(),
                list.join("; ")
            ),
        });
    }
    for set in &sets {
        let prefix = if sets.len() > 1 {
            format!("On test set #{}: ", set.id)
        } else {
            String::new()
        };
        let mut say = |topic: &'static str, text: String| {
            out.push(Insight {
                topic,
                text: format!("{prefix}{text}"),
            })
        };
        within_test_set(&set.models, &cmp, &mut say);
    }
    let mut say = |topic: &'static str, text: String| out.push(Insight { topic, text });
    let has = |k: ModelKind| models.iter().any(|m| m.kind == k);
    let paired_families = sets.iter().any(|s| {
        s.models.iter().any(|m| m.kind == ModelKind::Classical)
            && s.models.iter().any(|m| m.kind == ModelKind::Deep)
    });
    match (has(ModelKind::Classical), has(ModelKind::Deep)) {
        (true, true) if !paired_families => say(
            CAVEATS,
            "The classical and deep models were evaluated on different test videos, so this run \
             does not compare the two families' accuracy: give both the same test split to \
             compare them."
                .to_string(),
        ),
        (true, false) => say(
            CAVEATS,
            format!(
                "No deep model ran in this run, so it compares {} classical models only; the \
                 classical-against-deep trade-off needs the deep section.",
                models.len()
            ),
        ),
        (false, true) => say(
            CAVEATS,
            format!(
                "No classical model ran in this run, so it compares {} deep models only.",
                models.len()
            ),
        ),
        _ => {}
    }

    // Learning curves.
    let points_lc = summarize(learning);
    let mut curve_models: Vec<&str> = Vec::new();
    for p in &points_lc {
        if !curve_models.contains(&p.model.as_str()) {
            curve_models.push(&p.model);
        }
    }
    let mut smallest_acc: Vec<(&str, f64, f64)> = Vec::new();
    for m in &curve_models {
        let mine: Vec<_> = points_lc.iter().filter(|p| p.model == *m).collect();
        let (Some(first), Some(last)) = (mine.first(), mine.last()) else {
            continue;
        };
        smallest_acc.push((m, first.accuracy.0, first.n_train));
        if mine.len() < 2 {
            continue;
        }
        let seeds = if first.n_seeds > 1 {
            format!(", mean of {} seeds", first.n_seeds)
        } else {
            String::new()
        };
        let share = if last.accuracy.0 > 0.0 {
            format!(" ({:.0} %)", 100.0 * first.accuracy.0 / last.accuracy.0)
        } else {
            String::new()
        };
        say(
            DATA,
            format!(
                "**{m}** reaches accuracy {:.3} with {} training videos ({:.0} % of the split{seeds}), \
                 against {:.3} with all {}{share}.",
                first.accuracy.0,
                first.n_train,
                first.fraction * 100.0,
                last.accuracy.0,
                last.n_train
            ),
        );
    }
    if smallest_acc.len() > 1
        && let Some(&(m, a, n)) = smallest_acc.iter().max_by(|x, y| x.1.total_cmp(&y.1))
    {
        say(
            DATA,
            format!(
                "With the fewest training videos, **{m}** is the most accurate of the learning curves ({a:.3} with {n} videos)."
            ),
        );
    }

    // How far the numbers can be trusted.
    if let Some(n) = models
        .iter()
        .map(|m| m.protocol.n_videos)
        .filter(|&n| n > 0)
        .min()
    {
        say(
            CAVEATS,
            format!(
                "With {n} test videos, one video moves accuracy by {} points: the 95 % intervals \
                 of the comparison table and the paired comparisons say which differences these \
                 videos can resolve.",
                points(1.0 / n as f64, 0.0)
            ),
        );
    }
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = models
            .iter()
            .filter_map(|m| m.efficiency.memory_kind.as_deref())
            .collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    if kinds.len() > 1 {
        say(
            CAVEATS,
            format!(
                "Memory is measured as {}: compare memory only between models measured the same way.",
                kinds.join(" and ")
            ),
        );
    } else if kinds == ["peak RSS"] {
        say(
            CAVEATS,
            "Memory is each model's own peak resident set size: the process's peak is reset \
             before the model trains and read after its evaluation, so it covers training, grid \
             search and inference, and the data the process already held; decoding and feature \
             extraction done before the model are not in it."
                .to_string(),
        );
    } else if kinds == [crate::memory::HEAP_PEAK] {
        say(
            CAVEATS,
            "Memory is the heap each model itself needed at its peak: the bytes allocated while              it trained and was evaluated (grid search and inference included) above what was              already allocated when it started, counted by the program's allocator, so it does              not depend on which models ran before; memory that FFmpeg allocates itself is not              counted. Each model's peak resident set is kept in models.json (`rss_peak_mb`)."
                .to_string(),
        );
    }
    out
}

/// Signed percentage points, one decimal: `+20.0`.
fn signed_points(x: f64) -> String {
    format!("{:+.1}", x * 100.0)
}

/// The 95 % interval of a paired comparison's difference, in signed points, and its McNemar
/// p-value: `95 % CI of the difference +10.0 to +50.0 points, McNemar p = 0.0312`.
pub(crate) fn ci_text(c: &PairedComparison) -> String {
    format!(
        "95 % CI of the difference {} to {} points, McNemar p {}",
        signed_points(c.diff_interval.low),
        signed_points(c.diff_interval.high),
        p_value(c.mcnemar_p)
    )
}

/// `d` as signed points with the 95 % interval and the exact McNemar p-value of a paired
/// comparison, e.g. `+20.0 points, 95 % CI -10.0 to +50.0, McNemar p = 0.5`.
pub(crate) fn diff_text(c: &PairedComparison) -> String {
    format!(
        "{} points, 95 % CI {} to {}, McNemar p {}",
        signed_points(c.diff),
        signed_points(c.diff_interval.low),
        signed_points(c.diff_interval.high),
        p_value(c.mcnemar_p)
    )
}

/// The accuracy of `m` with its bootstrap interval: `0.800 (95 % CI 0.600–1.000)`.
pub(crate) fn acc_text(m: &ModelResult) -> String {
    match intervals(m) {
        Some(i) => format!(
            "{:.3} (95 % CI {:.3}–{:.3})",
            m.metrics.accuracy, i.accuracy_interval.low, i.accuracy_interval.high
        ),
        None => format!("{:.3}", m.metrics.accuracy),
    }
}

/// The comparative sentences among models evaluated on the same test videos.
fn within_test_set(
    models: &[&ModelResult],
    cmp: &Comparisons,
    say: &mut impl FnMut(&'static str, String),
) {
    let acc = |m: &ModelResult| Some(m.metrics.accuracy);
    // A paired comparison that cannot tell `a` and `b` apart.
    let same =
        |a: &ModelResult, b: &ModelResult| cmp.get(&a.name, &b.name).filter(|c| !c.differs());

    // Accuracy.
    let Some((best, best_acc)) = by(models, acc, false) else {
        return;
    };
    let n = best.protocol.n_videos;
    let tied: Vec<&str> = models
        .iter()
        .filter(|m| m.metrics.accuracy == best_acc)
        .map(|m| m.name.as_str())
        .collect();
    let close: Vec<&str> = models
        .iter()
        .filter(|m| m.metrics.accuracy < best_acc && same(best, m).is_some())
        .map(|m| m.name.as_str())
        .collect();
    if tied.len() > 1 {
        say(
            ACCURACY,
            format!(
                "{} tie for the best accuracy, {best_acc:.3}.",
                join_bold(&tied)
            ),
        );
    } else if close.is_empty() {
        say(
            ACCURACY,
            format!(
                "**{}** is the most accurate model: accuracy {} and macro F1 {:.3} on {} {} videos.",
                best.name,
                acc_text(best),
                best.metrics.f1,
                n,
                best.protocol.split
            ),
        );
    } else {
        say(
            ACCURACY,
            format!(
                "**{}** has the highest accuracy, {}, and macro F1 {:.3} on {} {} videos, but on \
                 these videos it is not distinguishable from {} (for each, the paired 95 % interval \
                 of the accuracy difference holds 0 or the exact McNemar test gives p >= 0.05).",
                best.name,
                acc_text(best),
                best.metrics.f1,
                n,
                best.protocol.split,
                join_bold(&close)
            ),
        );
    }
    if let Some((worst, worst_acc)) = by(models, acc, true)
        && worst_acc < best_acc
    {
        let tail = match cmp.get(&best.name, &worst.name) {
            Some(c) if !c.differs() => format!(
                ", a difference not distinguishable from 0 on these {n} videos ({})",
                diff_text(&c)
            ),
            Some(c) => format!(" ({})", ci_text(&c)),
            None => String::new(),
        };
        say(
            ACCURACY,
            format!(
                "The least accurate, **{}**, reaches {:.3}: {} points below the best{tail}.",
                worst.name,
                worst_acc,
                points(best_acc, worst_acc)
            ),
        );
    }

    // Speed against accuracy: the fastest model against the most accurate one, end to end among
    // all models, classifier only within the most accurate model's family (a classical
    // classifier on precomputed features and a deep network's forward pass are not one measure).
    let family = match best.kind {
        ModelKind::Classical => "classical",
        ModelKind::Deep => "deep",
    };
    let kin: Vec<&ModelResult> = models
        .iter()
        .copied()
        .filter(|m| m.kind == best.kind)
        .collect();
    for (label, key, pool, fastest) in [
        (
            "classifier only".to_string(),
            clf as fn(&ModelResult) -> Option<f64>,
            &kin,
            format!("the fastest {family} model"),
        ),
        (
            "end to end, decoding and features included".to_string(),
            e2e,
            &models.to_vec(),
            "the fastest".to_string(),
        ),
    ] {
        if pool.len() < 2 {
            continue;
        }
        let Some((fast, t_fast)) = by(pool, key, true) else {
            continue;
        };
        let Some(t_best) = key(best) else { continue };
        if fast.name == best.name || tied.contains(&fast.name.as_str()) {
            say(
                COST,
                format!(
                    "**{}** is both the most accurate model and {fastest} per video ({label}: {}).",
                    fast.name,
                    duration(t_fast)
                ),
            );
        } else if t_fast > 0.0 {
            let accuracy = if same(best, fast).is_some() {
                format!(
                    "and not distinguishable in accuracy on these {n} videos ({:.3} vs {:.3})",
                    fast.metrics.accuracy, best_acc
                )
            } else {
                format!(
                    "but {} points less accurate",
                    points(best_acc, fast.metrics.accuracy)
                )
            };
            say(
                COST,
                format!(
                    "**{}** is {} faster per video than **{}** ({label}: {} vs {}) {accuracy}.",
                    fast.name,
                    ratio(t_best, t_fast),
                    best.name,
                    duration(t_fast),
                    duration(t_best),
                ),
            );
        }
    }
    // Where end-to-end time goes.
    if let Some((m, share)) = models
        .iter()
        .filter_map(|m| Some((*m, clf(m)? / e2e(m)?)))
        .filter(|(_, s)| s.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        && share < 0.1
    {
        say(
            COST,
            format!(
                "For **{}** the classifier takes {} of the {} per video end to end ({} %): decoding \
                     and feature extraction dominate its latency.",
                m.name,
                duration(m.efficiency.infer_time_s_per_video),
                duration(e2e(m).unwrap_or(f64::NAN)),
                sig3(share * 100.0)
            ),
        );
    }
    let size = |m: &ModelResult| m.efficiency.model_size_mb.filter(|s| *s > 0.0);
    if let (Some((small, s)), Some((large, l))) = (by(models, size, true), by(models, size, false))
        && large.name != small.name
    {
        say(
            COST,
            format!(
                "**{}** is the smallest saved model ({} MB), {} smaller than **{}** ({} MB).",
                small.name,
                sig3(s),
                ratio(l, s),
                large.name,
                sig3(l)
            ),
        );
    }
    let train = |m: &ModelResult| Some(m.efficiency.train_time_s).filter(|t| *t > 0.0);
    if let (Some((fast, f)), Some((slow, s))) = (by(models, train, true), by(models, train, false))
        && fast.name != slow.name
    {
        say(
            COST,
            format!(
                "**{}** takes {} longer to train than **{}** ({} vs {}{}).",
                slow.name,
                ratio(s, f),
                fast.name,
                duration(s),
                duration(f),
                if slow.kind == ModelKind::Classical {
                    ", grid search included"
                } else {
                    ""
                }
            ),
        );
    }

    // Classical against deep, when both families were evaluated on these videos.
    let family = |k: ModelKind| -> Vec<&ModelResult> {
        models.iter().copied().filter(|m| m.kind == k).collect()
    };
    let (classical, deep) = (family(ModelKind::Classical), family(ModelKind::Deep));
    if let (Some((c, ca)), Some((d, da))) = (by(&classical, acc, false), by(&deep, acc, false)) {
        let (tc, td, how) = match (e2e(c), e2e(d)) {
            (Some(tc), Some(td)) => (tc, td, "end to end"),
            _ => (
                c.efficiency.infer_time_s_per_video,
                d.efficiency.infer_time_s_per_video,
                "classifier only",
            ),
        };
        let speed = if td >= tc {
            format!("{} slower", ratio(td, tc))
        } else {
            format!("{} faster", ratio(tc, td))
        };
        let times = format!("({how}: {} vs {})", duration(td), duration(tc));
        match cmp.get(&d.name, &c.name) {
            Some(p) if !p.differs() => say(
                ACCURACY,
                format!(
                    "The best deep model, **{}** ({da:.3}), and the best classical model, **{}** \
                     ({ca:.3}), are not distinguishable in accuracy on these {n} videos ({}); \
                     **{}** is {speed} per video {times}.",
                    d.name,
                    c.name,
                    diff_text(&p),
                    d.name
                ),
            ),
            paired => {
                let more = if da >= ca { "more" } else { "less" };
                // A gain paid for with time (or a loss that buys speed) is a trade-off: "but".
                let link = if (da >= ca) == (td >= tc) {
                    "but"
                } else {
                    "and"
                };
                let ci = paired.map_or(String::new(), |p| format!("; {}", ci_text(&p)));
                say(
                    ACCURACY,
                    format!(
                        "The best deep model, **{}** ({da:.3}), is {} points {more} accurate than \
                         the best classical model, **{}** ({ca:.3}{ci}), {link} {speed} per video \
                         {times}.",
                        d.name,
                        points(da, ca),
                        c.name,
                    ),
                );
            }
        }
    }

    // Feature sets: `Name (variant)` against `Name`, both on these videos.
    for m in models {
        let Some((base, variant)) = m.name.strip_suffix(')').and_then(|s| s.rsplit_once(" ("))
        else {
            continue;
        };
        let Some(b) = models.iter().find(|b| b.name == base) else {
            continue;
        };
        let d = m.metrics.accuracy - b.metrics.accuracy;
        let verb = if d > 0.0 {
            format!("raise its accuracy by {} points", points(d, 0.0))
        } else if d < 0.0 {
            format!("lower its accuracy by {} points", points(d, 0.0))
        } else {
            "leave its accuracy unchanged".to_string()
        };
        let tail = match cmp.get(&m.name, &b.name) {
            Some(c) if d != 0.0 && !c.differs() => format!(
                ", a change not distinguishable from 0 on these {n} videos ({})",
                diff_text(&c)
            ),
            _ => String::new(),
        };
        say(
            FEATURES,
            format!(
                "For **{base}**, the {variant} features {verb} ({:.3} -> {:.3}; macro F1 {:.3} -> {:.3}){tail}.",
                b.metrics.accuracy, m.metrics.accuracy, b.metrics.f1, m.metrics.f1
            ),
        );
    }
}

pub(crate) fn join_bold(names: &[&str]) -> String {
    let b: Vec<String> = names.iter().map(|n| format!("**{n}**")).collect();
    match b.len() {
        0 => String::new(),
        1 => b[0].clone(),
        _ => format!("{} and {}", b[..b.len() - 1].join(", "), b[b.len() - 1]),
    }
}

/// The insights as Markdown: one bold topic line and a bullet list per topic, in topic order.
pub fn to_markdown(insights: &[Insight]) -> String {
    let mut out = String::new();
    for topic in [ACCURACY, COST, FEATURES, DATA, CAVEATS] {
        let mine: Vec<&Insight> = insights.iter().filter(|i| i.topic == topic).collect();
        if mine.is_empty() {
            continue;
        }
        out.push_str(&format!("**{topic}**\n\n"));
        for i in mine {
            out.push_str(&format!("- {}\n", i.text));
        }
        out.push('\n');
    }
    out
}
