//! Layer-wise claims with a correction across hidden states (issue 31): Holm's step-down
//! adjustment (statsmodels' `multipletests(p, method="holm")`) and the one-sided exact binomial
//! test of a retrieval P@1 against chance (scipy's `binomtest(k, n, p, alternative="greater")`),
//! so that "at N of M hidden states" counts Holm-adjusted p < alpha, not uncorrected CIs.

use anyhow::{bail, Result};

/// Holm-adjusted p-values in the input order: sorted ascending, `p_(i) * (m - i)` (0-based i),
/// made non-decreasing by a running maximum, capped at 1. Each input must lie in [0, 1].
pub fn holm(p: &[f64]) -> Result<Vec<f64>> {
    if let Some((i, v)) = p
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        bail!("Holm: p-value {i} is {v}; p-values must be finite and in [0, 1]");
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut out = vec![0.0; m];
    let mut run = 0.0f64;
    for (i, &j) in order.iter().enumerate() {
        run = run.max((p[j] * (m - i) as f64).min(1.0));
        out[j] = run;
    }
    Ok(out)
}

/// P(X >= k) for X ~ Binomial(n, p0): the one-sided exact test that `k` hits of `n` beat chance `p0`.
pub fn binom_greater_p(k: u64, n: u64, p0: f64) -> Result<f64> {
    if k > n || !(0.0..=1.0).contains(&p0) {
        bail!("binomial test: {k} hits of {n} at chance {p0} (need k <= n and 0 <= p0 <= 1)");
    }
    if k == 0 {
        return Ok(1.0);
    }
    use statrs::distribution::{Binomial, DiscreteCDF};
    let b = Binomial::new(p0, n).map_err(|e| anyhow::anyhow!("binomial({n}, {p0}): {e}"))?;
    Ok(b.sf(k - 1))
}
