//! The SVM's hyper-parameters (`C`, kernel, gamma), checked at construction, and scikit-learn's
//! `gamma='scale'`.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The kernel of an SVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kernel {
    /// `x . y`
    Linear,
    /// `exp(-gamma |x - y|^2)`
    Rbf,
}

impl Kernel {
    /// scikit-learn's name for the kernel.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Linear => "linear",
            Kernel::Rbf => "rbf",
        }
    }
}

/// The RBF kernel width.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Gamma {
    /// scikit-learn's `'scale'`: `1 / (n_features * X.var())` over the whole training matrix
    /// (1 when that variance is 0).
    Scale,
    /// A fixed positive value.
    Value(f64),
}

/// Hyper-parameters of [`SvmParams::fit_svm`], validated at construction.
///
/// Defaults (scikit-learn's): `C = 1`, `kernel = rbf`, `gamma = scale`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SvmParams {
    pub(super) c: f64,
    pub(super) kernel: Kernel,
    pub(super) gamma: Gamma,
}

impl Default for SvmParams {
    fn default() -> Self {
        SvmParams {
            c: 1.0,
            kernel: Kernel::Rbf,
            gamma: Gamma::Scale,
        }
    }
}

impl SvmParams {
    /// Checks `C > 0` (finite) and a numeric gamma `> 0` (finite).
    ///
    /// ```
    /// use vidcompare::classical::models::svm::{Gamma, Kernel, SvmParams};
    /// assert!(SvmParams::new(1.0, Kernel::Rbf, Gamma::Scale).is_ok());
    /// assert!(SvmParams::new(0.0, Kernel::Rbf, Gamma::Scale).is_err());
    /// assert!(SvmParams::new(1.0, Kernel::Rbf, Gamma::Value(-1.0)).is_err());
    /// ```
    pub fn new(c: f64, kernel: Kernel, gamma: Gamma) -> Result<Self> {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "svm: C must be a finite number > 0, got {c}"
            )));
        }
        if let Gamma::Value(g) = gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "svm: gamma must be 'scale' or a finite number > 0, got {g}"
            )));
        }
        Ok(SvmParams { c, kernel, gamma })
    }

    /// The regularisation constant `C`.
    pub fn c(&self) -> f64 {
        self.c
    }

    /// The kernel.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The kernel width setting (ignored by the linear kernel, as in scikit-learn).
    pub fn gamma(&self) -> Gamma {
        self.gamma
    }

    /// The parameters keyed like scikit-learn's (`C`, `gamma`, `kernel`).
    pub fn to_json(&self) -> serde_json::Value {
        let gamma = match self.gamma {
            Gamma::Scale => serde_json::Value::from("scale"),
            Gamma::Value(g) => serde_json::Value::from(g),
        };
        serde_json::json!({ "C": self.c, "gamma": gamma, "kernel": self.kernel.name() })
    }
}

/// scikit-learn's `gamma='scale'`: `1 / (n_features * X.var())`, the variance over all entries.
pub fn scale_gamma(x: &Array2<f64>) -> f64 {
    let count = x.len() as f64;
    let mean = x.iter().sum::<f64>() / count;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    if var == 0.0 {
        1.0
    } else {
        1.0 / (x.ncols() as f64 * var)
    }
}
