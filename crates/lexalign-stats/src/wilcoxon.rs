//! Wilcoxon signed-rank test with `scipy.stats.wilcoxon(x, y)`'s defaults:
//! zero_method "wilcox" (zero differences dropped), no continuity correction, two-sided,
//! method "auto" (exact null distribution for n <= 50 without ties or zeros, otherwise the
//! normal approximation with tie correction).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;

/// How the p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WilcoxonMethod {
    Exact,
    Asymptotic,
}

/// Result of the signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Wilcoxon {
    /// min(R+, R-) as scipy reports for the two-sided test.
    pub statistic: f64,
    pub p: f64,
    /// Non-zero differences used.
    pub n: usize,
    pub method: WilcoxonMethod,
}

/// Average ranks (1-based) of `v` and, per tie group, its size.
fn average_ranks(v: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut groups = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && v[idx[j]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + 1 + j) as f64 / 2.0; // mean of ranks i+1..=j
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        groups.push(j - i);
        i = j;
    }
    (ranks, groups)
}

/// Number of sign assignments of ranks 1..=n giving each rank sum R+ (0..=n(n+1)/2).
/// Exact in f64 for n <= 50 (counts stay below 2^53).
fn signed_rank_counts(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut c = vec![0.0; max + 1];
    c[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            c[s] += c[s - k];
        }
    }
    c
}

/// Two-sided Wilcoxon signed-rank test on `post - pre` (scipy: `wilcoxon(post, pre)`).
pub fn wilcoxon(post: &[f64], pre: &[f64]) -> Result<Wilcoxon> {
    if post.len() != pre.len() {
        bail!(
            "paired samples differ in length: {} post vs {} pre values",
            post.len(),
            pre.len()
        );
    }
    let n_all = post.len();
    let d: Vec<f64> = post
        .iter()
        .zip(pre)
        .map(|(a, b)| a - b)
        .filter(|x| *x != 0.0)
        .collect();
    let n_zero = n_all - d.len();
    if d.is_empty() {
        bail!(
            "all {} paired differences are zero; the signed-rank test is undefined",
            n_all
        );
    }
    let abs: Vec<f64> = d.iter().map(|x| x.abs()).collect();
    let (ranks, groups) = average_ranks(&abs);
    // `+ 0.0`: an empty f64 sum is -0.0 in Rust; scipy reports 0.0
    let r_plus: f64 = d
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum::<f64>()
        + 0.0;
    let r_minus: f64 = d
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x < 0.0)
        .map(|(_, r)| r)
        .sum::<f64>()
        + 0.0;
    let has_ties = groups.iter().any(|&g| g > 1);
    let n = d.len();
    let statistic = r_plus.min(r_minus);

    let exact = n_all <= 50 && !has_ties && n_zero == 0;
    if exact {
        return Ok(Wilcoxon {
            statistic,
            p: exact_p(n, r_plus),
            n,
            method: WilcoxonMethod::Exact,
        });
    }
    if n_all <= 13 {
        bail!(
            "Wilcoxon with ties or zero differences and only {n_all} pairs needs scipy's permutation \
             test, which is not implemented"
        );
    }
    let nf = n as f64;
    let mn = nf * (nf + 1.0) * 0.25;
    let tie: f64 = groups.iter().map(|&g| (g as f64).powi(3) - g as f64).sum();
    let se = ((nf * (nf + 1.0) * (2.0 * nf + 1.0) - tie / 2.0) / 24.0).sqrt();
    let z = (r_plus - mn) / se;
    // two-sided normal tail, 2 * Phi(-|z|) = erfc(|z| / sqrt 2), accurate deep in the tail
    let p = erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
    Ok(Wilcoxon {
        statistic,
        p,
        n,
        method: WilcoxonMethod::Asymptotic,
    })
}

/// Two-sided exact p of the signed-rank sum `r_plus` of `n` untied, non-zero differences, from
/// the exact null distribution, as scipy's `WilcoxonDistribution` sums it.
fn exact_p(n: usize, r_plus: f64) -> f64 {
    let counts = signed_rank_counts(n);
    let total = 2f64.powi(n as i32);
    let mn = n as f64 * (n as f64 + 1.0) / 4.0;
    let last = counts.len() - 1;
    // sum of the pmf over from..=to (empty when from > to)
    let pmf_sum = |from: usize, to: usize| -> f64 {
        if from > to.min(last) {
            0.0
        } else {
            counts[from..=to.min(last)].iter().sum::<f64>() / total
        }
    };
    // scipy's WilcoxonDistribution.cdf / .sf, including which side it sums directly
    let cdf = |k: usize| {
        if (k as f64) <= mn {
            pmf_sum(0, k)
        } else {
            1.0 - pmf_sum(k + 1, last)
        }
    };
    let sf = |k: usize| {
        if (k as f64) <= mn {
            pmf_sum(k, last)
        } else {
            1.0 - if k == 0 { 0.0 } else { pmf_sum(0, k - 1) }
        }
    };
    let k = r_plus.round() as usize; // integral without ties
    (2.0 * sf(k).min(cdf(k))).clamp(0.0, 1.0)
}
