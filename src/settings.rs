//! Settings resolved once: the rules that turn what a user set into typed, checked plans.
//!
//! There are three front doors (the CLI in `main.rs`, the Rhai bindings in `script/`, the evcxr
//! builders in `prelude.rs`). Each converts its own arguments (strings, `Dynamic`s, Rust values)
//! into plain Rust values and calls the functions here, so that every rule on a setting (its range,
//! its default, what "auto" means) is written once, in this file, in the way linfa's `ParamGuard`
//! turns raw parameters into checked ones:
//!
//! | setting | rule | where |
//! |---|---|---|
//! | config keys | names, kinds, ranges, defaults (`vidcompare config` lists them) | [`crate::config::KEYS`] |
//! | classical features | feature set, families, sizes, sampling, enhance | [`FeatureOptions::from_config`] |
//! | PCA | a variance fraction in (0, 1) or a count >= 1 | [`pca_fraction`], [`pca_count`] |
//! | family weights | a known family, a finite weight >= 0 | [`family_weight`] |
//! | motion weight | `motion_weight = 0` means auto: `sqrt(appearance dims / motion dims)` | [`motion_weight`] |
//! | grids | the notebook's grid per model, a parameter replaced by the caller's values | [`grid`] |
//! | run paths | `REPORT_DIR/RUN_NAME`, its `models/`, `CACHE_DIR` | [`RunPaths::from_config`] |
//! | deep profile | `deep_profile` and the keys that override it | [`DeepSettings::from_config`] |
//! | frozen layers | `frozen_bn`: auto is eval in the quick profile, train in the notebook's | [`DeepSettings::from_config`] |

use std::path::PathBuf;

use serde_json::Value;

use crate::classical::models::{canonical_kind, notebook_grid};
pub use crate::classical::pca::PcaComponents;
pub use crate::classical::pipeline::PrepOptions;
pub use crate::config::Config;
pub use crate::deep::pipeline::DeepSettings;
use crate::error::{Error, Result};
pub use crate::features::extract::FeatureOptions;
use crate::features::layout::Family;

/// The notebook's PCA: keep 95 % of the variance.
pub const DEFAULT_PCA_FRACTION: f64 = 0.95;

/// PCA keeping the fewest components whose explained variance exceeds `fraction`, which must lie
/// strictly between 0 and 1 (scikit-learn's `n_components=0.95`; a whole number of components is
/// [`pca_count`]).
///
/// ```
/// use vidcompare::settings::{PcaComponents, pca_fraction};
/// assert_eq!(pca_fraction(0.95).unwrap(), PcaComponents::Fraction(0.95));
/// assert!(pca_fraction(1.0).is_err());
/// ```
pub fn pca_fraction(fraction: f64) -> Result<PcaComponents> {
    check_pca(PcaComponents::Fraction(fraction))
}

/// PCA keeping exactly `n` components (at least 1; at most min(samples, features), which only
/// the data can tell and [`crate::classical::pca::Pca::fit`] checks).
pub fn pca_count(n: i64) -> Result<PcaComponents> {
    let n = usize::try_from(n).unwrap_or(0);
    check_pca(PcaComponents::Count(n))
}

/// The range rule of [`PcaComponents`], checked wherever one arrives.
pub fn check_pca(pca: PcaComponents) -> Result<PcaComponents> {
    match pca {
        PcaComponents::Fraction(f) if !(f > 0.0 && f < 1.0) => {
            Err(Error::InvalidArgument(format!(
                "pca = {f}: a variance fraction must lie strictly between 0 and 1, e.g. 0.95 \
                 (a whole number of components is a count: pca = 20)"
            )))
        }
        PcaComponents::Count(0) => Err(Error::InvalidArgument(
            "pca: need at least one component".into(),
        )),
        ok => Ok(ok),
    }
}

/// One family weight: multiply that family's standardised columns by `weight` before PCA.
/// The family is one of color, texture, shape, motion; the weight is finite and >= 0 (0 drops
/// the family).
pub fn family_weight(family: &str, weight: f64) -> Result<(Family, f64)> {
    let fam = Family::parse(family).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "family_weights: unknown family `{family}` (color, texture, shape, motion)"
        ))
    })?;
    if !(weight >= 0.0 && weight.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "family_weights.{family} = {weight} must be a finite number >= 0"
        )));
    }
    Ok((fam, weight))
}

/// Checked preprocessing options: the PCA rule and each family weight (a family given twice
/// keeps its last weight); the grid search refits the preprocessing per fold (the default
/// [`crate::classical::pipeline::CvPreprocess`]).
pub fn prep_options(pca: PcaComponents, weights: &[(Family, f64)]) -> Result<PrepOptions> {
    let pca = check_pca(pca)?;
    let mut family_weights: Vec<(Family, f64)> = Vec::new();
    for &(fam, w) in weights {
        let checked = family_weight(fam.as_str(), w)?;
        family_weights.retain(|(f, _)| *f != fam);
        family_weights.push(checked);
    }
    Ok(PrepOptions {
        pca,
        family_weights,
        ..PrepOptions::default()
    })
}

/// The weight of the motion family before PCA. `requested > 0` is used as given; 0 (the config
/// key's default) means auto: after standardisation every column has unit variance, so weight
/// the motion family until it carries as much variance as all appearance families together,
/// `sqrt(appearance dims / motion dims)`. `None` when there is no motion or no appearance family
/// to balance.
///
/// ```
/// use vidcompare::features::layout::Family;
/// use vidcompare::settings::motion_weight;
/// let sizes = [(Family::Color, 300), (Family::Texture, 100), (Family::Motion, 100)];
/// assert_eq!(motion_weight(0.0, &sizes), Some(2.0));
/// assert_eq!(motion_weight(4.0, &sizes), Some(4.0));
/// ```
pub fn motion_weight(requested: f64, family_sizes: &[(Family, usize)]) -> Option<f64> {
    let dims = |f: Family| {
        family_sizes
            .iter()
            .filter(|(g, _)| *g == f)
            .map(|(_, n)| *n)
            .sum::<usize>()
    };
    let motion = dims(Family::Motion);
    if requested > 0.0 {
        return (motion > 0).then_some(requested);
    }
    let appearance = dims(Family::Color) + dims(Family::Texture) + dims(Family::Shape);
    (motion > 0 && appearance > 0).then(|| (appearance as f64 / motion as f64).sqrt())
}

/// The grid to search for a model kind: the notebook's, with each parameter the caller gives
/// replaced by its values (or added, for a parameter the notebook does not search). A parameter
/// needs at least one value.
///
/// ```
/// use vidcompare::settings::grid;
/// let g = grid("rf", [("n_estimators".to_string(), vec![serde_json::json!(50)])]).unwrap();
/// assert_eq!(g[0], ("n_estimators".to_string(), vec![serde_json::json!(50)]));
/// assert_eq!(g.len(), 3);
/// ```
pub fn grid(
    kind: &str,
    overrides: impl IntoIterator<Item = (String, Vec<Value>)>,
) -> Result<Vec<(String, Vec<Value>)>> {
    let kind = canonical_kind(kind)?;
    let mut grid: Vec<(String, Vec<Value>)> = notebook_grid(kind)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for (param, values) in overrides {
        if values.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "grid for {kind}: `{param}` has no values, give at least one"
            )));
        }
        match grid.iter_mut().find(|(g, _)| *g == param) {
            Some(slot) => slot.1 = values,
            None => grid.push((param, values)),
        }
    }
    Ok(grid)
}

/// Where a run writes: its report folder `REPORT_DIR/RUN_NAME`, the saved models inside it, and
/// the caches (safe to delete).
#[derive(Debug, Clone, PartialEq)]
pub struct RunPaths {
    pub run_dir: PathBuf,
    pub model_dir: PathBuf,
    pub cache_dir: PathBuf,
}

impl RunPaths {
    pub fn from_config(cfg: &Config) -> Result<RunPaths> {
        let run_dir = PathBuf::from(cfg.str("report_dir")?).join(cfg.str("run_name")?);
        Ok(RunPaths {
            model_dir: run_dir.join("models"),
            run_dir,
            cache_dir: PathBuf::from(cfg.str("cache_dir")?),
        })
    }
}

/// The run's seed (`seed`, default 42).
pub fn seed(cfg: &Config) -> Result<u64> {
    Ok(cfg.int("seed")? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_rules_are_the_same_for_every_caller() {
        for bad in [0.0, 1.0, 1.5, -0.1, f64::NAN] {
            assert!(pca_fraction(bad).is_err(), "{bad}");
        }
        assert!(pca_count(0).is_err());
        assert!(pca_count(-3).is_err());
        assert_eq!(pca_count(5).unwrap(), PcaComponents::Count(5));
        let msg = pca_fraction(1.0).unwrap_err().to_string();
        assert!(msg.contains("strictly between 0 and 1"), "{msg}");
    }

    #[test]
    fn family_weights_are_checked_and_the_last_one_wins() {
        assert!(family_weight("colour-ish", 1.0).is_err());
        assert!(family_weight("motion", -1.0).is_err());
        assert!(family_weight("motion", f64::INFINITY).is_err());
        let p = prep_options(
            PcaComponents::Fraction(0.9),
            &[(Family::Motion, 2.0), (Family::Motion, 3.0)],
        )
        .unwrap();
        assert_eq!(p.family_weights, vec![(Family::Motion, 3.0)]);
    }

    #[test]
    fn motion_weight_auto_balances_variance() {
        // 163,752 appearance dimensions against 76 motion ones: sqrt(163752 / 76).
        let sizes = [
            (Family::Color, 408),
            (Family::Texture, 296),
            (Family::Shape, 163_048),
            (Family::Motion, 76),
        ];
        let w = motion_weight(0.0, &sizes).unwrap();
        assert!((w - (163_752.0f64 / 76.0).sqrt()).abs() < 1e-12);
        assert_eq!(motion_weight(0.0, &sizes[..3]), None);
        assert_eq!(motion_weight(0.0, &sizes[3..]), None);
    }

    #[test]
    fn grid_overrides_replace_or_add_and_need_values() {
        let g = grid("SVC", [("C".to_string(), vec![serde_json::json!(5.0)])]).unwrap();
        assert_eq!(g[0].1, vec![serde_json::json!(5.0)]);
        let g = grid("knn", [("p".to_string(), vec![serde_json::json!(1)])]).unwrap();
        assert_eq!(g.last().unwrap().0, "p");
        assert!(grid("knn", [("p".to_string(), vec![])]).is_err());
        assert!(grid("tree", []).is_err());
    }
}
