//! Exact tests on paired binary or signed outcomes: the two-sided sign test (a binomial test of
//! k successes in n at p = 1/2, scipy's `binomtest(k, n).pvalue`, which for p = 1/2 is
//! min(1, 2 P(X <= min(k, n - k)))) and McNemar's exact test, the sign test on the discordant
//! pairs.

/// Two-sided exact binomial p-value of `k` of `n` at p = 1/2 (1 when n = 0).
pub fn sign_test_p(k: u64, n: u64) -> f64 {
    assert!(k <= n, "sign test: {k} successes of {n}");
    if n == 0 {
        return 1.0;
    }
    let m = k.min(n - k);
    // P(X <= m) = sum_{i<=m} C(n, i) / 2^n, summed in log space for large n.
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut ln_c = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0f64;
    for i in 0..=m {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_c - ln2n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// McNemar's exact test on paired yes/no outcomes: `b` pairs yes -> no, `c` pairs no -> yes.
pub fn mcnemar_exact_p(b: u64, c: u64) -> f64 {
    sign_test_p(b, b + c)
}

/// Sign test of paired differences `after - before`: ties dropped; returns (n up, n down, p).
pub fn sign_test(before: &[f64], after: &[f64]) -> (u64, u64, f64) {
    assert_eq!(before.len(), after.len(), "sign test: paired samples");
    let up = before.iter().zip(after).filter(|(b, a)| a > b).count() as u64;
    let down = before.iter().zip(after).filter(|(b, a)| a < b).count() as u64;
    (up, down, sign_test_p(up, up + down))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy.stats.binomtest(k, n).pvalue: (2, 10) 0.109375, (0, 5) 0.0625, (5, 10) 1.0,
    /// (1, 20) 4.00543212890625e-05, (30, 100) 7.85013964559367e-05.
    #[test]
    fn matches_scipy_binomtest() {
        for (k, n, want) in [
            (2, 10, 0.109375),
            (0, 5, 0.0625),
            (5, 10, 1.0),
            (1, 20, 4.00543212890625e-05),
            (30, 100, 7.85013964559367e-05),
        ] {
            let p = sign_test_p(k, n);
            assert!(
                ((p - want) / want).abs() < 1e-9,
                "({k}, {n}): {p} vs {want}"
            );
        }
        assert_eq!(sign_test_p(0, 0), 1.0);
        assert_eq!(mcnemar_exact_p(8, 2), sign_test_p(2, 10));
        assert_eq!(sign_test(&[0.0, 1.0, 0.5], &[1.0, 1.0, 0.0]), (1, 1, 1.0));
    }
}
