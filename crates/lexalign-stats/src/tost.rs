//! Equivalence tests: two one-sided t-tests (TOST, Schuirmann 1987), as statsmodels'
//! `ttost_ind(..., usevar="unequal")` (Welch) and `ttost_paired` compute them. A finding that
//! says two gains are "as large as" each other needs this test with a stated margin: a Welch
//! p >= 0.05 alone is an absence of evidence, not a shown equality.
//!
//! The difference is `mean(a) - mean(b)` (paired: `mean(a - b)`); equivalence within
//! `(low, high)` is shown at level alpha when `p = max(p_lower, p_upper) < alpha`.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::describe::{mean, sd};
use crate::tdist::t_two_sided_p;

/// Both one-sided tests of an equivalence test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tost {
    /// The observed difference.
    pub diff: f64,
    /// Its standard error.
    pub se: f64,
    pub df: f64,
    /// H0: diff <= low; t = (diff - low) / se, p = P(T >= t).
    pub t_lower: f64,
    pub p_lower: f64,
    /// H0: diff >= high; t = (diff - high) / se, p = P(T <= t).
    pub t_upper: f64,
    pub p_upper: f64,
    /// The equivalence p-value, max(p_lower, p_upper).
    pub p: f64,
}

/// `P(T >= t)` for Student's t (accurate in the small tail through the two-sided p).
fn upper_p(t: f64, df: f64) -> f64 {
    let half = 0.5 * t_two_sided_p(t, df);
    if t >= 0.0 {
        half
    } else {
        1.0 - half
    }
}

fn check_bounds(low: f64, high: f64) -> Result<()> {
    if !(low.is_finite() && high.is_finite() && low < high) {
        bail!("an equivalence margin needs finite bounds with low < high, got ({low}, {high})");
    }
    Ok(())
}

/// TOST from a difference, its standard error and degrees of freedom.
pub fn tost_from(diff: f64, se: f64, df: f64, low: f64, high: f64) -> Result<Tost> {
    check_bounds(low, high)?;
    if !(diff.is_finite() && se.is_finite() && se > 0.0 && df.is_finite() && df > 0.0) {
        bail!("TOST needs a finite difference, a positive standard error and df, got diff {diff}, se {se}, df {df}");
    }
    let (t_lower, t_upper) = ((diff - low) / se, (diff - high) / se);
    let (p_lower, p_upper) = (upper_p(t_lower, df), upper_p(-t_upper, df));
    Ok(Tost {
        diff,
        se,
        df,
        t_lower,
        p_lower,
        t_upper,
        p_upper,
        p: p_lower.max(p_upper),
    })
}

/// Welch TOST from group summaries (mean, sample SD with ddof 1, n), the difference `m1 - m2`.
#[allow(clippy::too_many_arguments)]
pub fn tost_welch_summary(
    m1: f64,
    s1: f64,
    n1: f64,
    m2: f64,
    s2: f64,
    n2: f64,
    low: f64,
    high: f64,
) -> Result<Tost> {
    if n1 < 2.0 || n2 < 2.0 {
        bail!("Welch's TOST needs at least 2 values per group, got {n1} and {n2}");
    }
    let (v1, v2) = (s1 * s1 / n1, s2 * s2 / n2);
    let df = (v1 + v2).powi(2) / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
    tost_from(m1 - m2, (v1 + v2).sqrt(), df, low, high)
}

/// Welch TOST, `statsmodels.stats.weightstats.ttost_ind(a, b, low, high, usevar="unequal")`.
pub fn tost_welch(a: &[f64], b: &[f64], low: f64, high: f64) -> Result<Tost> {
    let n = |x: &[f64]| x.len() as f64;
    tost_welch_summary(mean(a), sd(a), n(a), mean(b), sd(b), n(b), low, high)
}

/// Paired TOST on `a - b`, `statsmodels.stats.weightstats.ttost_paired(a, b, low, high)`.
pub fn tost_paired(a: &[f64], b: &[f64], low: f64, high: f64) -> Result<Tost> {
    if a.len() != b.len() || a.len() < 2 {
        bail!(
            "a paired TOST needs two samples of the same length >= 2, got {} and {}",
            a.len(),
            b.len()
        );
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len() as f64;
    tost_from(mean(&d), sd(&d) / n.sqrt(), n - 1.0, low, high)
}

/// The 95 % normal-approximation CI of `d1 - d2` for two independent estimates given with
/// their own 95 % CIs (each standard error taken as the CI's width / (2 * 1.959964)).
pub fn diff_ci_independent(d1: f64, ci1: (f64, f64), d2: f64, ci2: (f64, f64)) -> (f64, f64, f64) {
    const Z: f64 = 1.959_963_984_540_054;
    let se = |(lo, hi): (f64, f64)| (hi - lo) / (2.0 * Z);
    let s = (se(ci1).powi(2) + se(ci2).powi(2)).sqrt();
    let d = d1 - d2;
    (d, d - Z * s, d + Z * s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bounds_and_degenerate_inputs_are_errors() {
        assert!(tost_from(0.0, 1.0, 10.0, 1.0, -1.0).is_err());
        assert!(tost_from(0.0, 0.0, 10.0, -1.0, 1.0).is_err());
        assert!(tost_from(f64::NAN, 1.0, 10.0, -1.0, 1.0).is_err());
        assert!(tost_paired(&[1.0], &[1.0], -1.0, 1.0).is_err());
    }

    #[test]
    fn far_outside_the_margin_is_not_equivalent() {
        let t = tost_from(5.0, 0.1, 100.0, -1.0, 1.0).unwrap();
        assert!(t.p > 0.99, "{t:?}");
        let t = tost_from(0.0, 0.1, 100.0, -1.0, 1.0).unwrap();
        assert!(t.p < 1e-10, "{t:?}");
    }

    #[test]
    fn diff_ci_of_two_symmetric_cis() {
        let (d, lo, hi) = diff_ci_independent(0.3, (0.2, 0.4), 0.1, (0.0, 0.2));
        assert!((d - 0.2).abs() < 1e-12);
        assert!(
            (hi - d - 0.1 * 2f64.sqrt()).abs() < 1e-12
                && (d - lo - 0.1 * 2f64.sqrt()).abs() < 1e-12
        );
    }
}
