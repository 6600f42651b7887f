//! Paired and Welch t-tests, effect size and confidence interval, as scipy computes them.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::describe::{mean, sd};
use crate::tdist::{t_quantile, t_two_sided_p};

/// Result of a two-sided t-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TTest {
    pub t: f64,
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

fn differences(post: &[f64], pre: &[f64]) -> Result<Vec<f64>> {
    if post.len() != pre.len() {
        bail!(
            "paired samples differ in length: {} post vs {} pre values",
            post.len(),
            pre.len()
        );
    }
    if post.len() < 2 {
        bail!("a paired test needs at least 2 pairs, got {}", post.len());
    }
    Ok(post.iter().zip(pre).map(|(a, b)| a - b).collect())
}

/// Paired t-test, `scipy.stats.ttest_rel(post, pre)`: t on `post - pre`, df = n - 1.
pub fn ttest_rel(post: &[f64], pre: &[f64]) -> Result<TTest> {
    let d = differences(post, pre)?;
    let n = d.len() as f64;
    let t = mean(&d) / (sd(&d) / n.sqrt());
    let df = n - 1.0;
    Ok(TTest {
        t,
        df,
        p: t_two_sided_p(t, df),
    })
}

/// Welch's unequal-variance t-test, `scipy.stats.ttest_ind(a, b, equal_var=False)`.
pub fn ttest_welch(a: &[f64], b: &[f64]) -> Result<TTest> {
    if a.len() < 2 || b.len() < 2 {
        bail!(
            "Welch's test needs at least 2 values per group, got {} and {}",
            a.len(),
            b.len()
        );
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (sd(a).powi(2) / na, sd(b).powi(2) / nb);
    let t = (mean(a) - mean(b)) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    Ok(TTest {
        t,
        df,
        p: t_two_sided_p(t, df),
    })
}

/// Cohen's d_z for paired data: mean(post - pre) / sd(post - pre).
pub fn cohens_dz(post: &[f64], pre: &[f64]) -> Result<f64> {
    let d = differences(post, pre)?;
    Ok(mean(&d) / sd(&d))
}

/// Confidence interval of the mean of `post - pre` at `level` (e.g. 0.95), t-based as in
/// scipy's `ttest_rel(...).confidence_interval(level)`.
pub fn mean_diff_ci(post: &[f64], pre: &[f64], level: f64) -> Result<(f64, f64)> {
    if !(level > 0.0 && level < 1.0) {
        bail!("confidence level must lie in (0, 1), got {level}");
    }
    let d = differences(post, pre)?;
    let n = d.len() as f64;
    let half = t_quantile(0.5 + level / 2.0, n - 1.0) * sd(&d) / n.sqrt();
    let m = mean(&d);
    Ok((m - half, m + half))
}
