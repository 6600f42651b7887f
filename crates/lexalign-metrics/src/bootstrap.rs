//! Percentile bootstrap over source queries (the unit that is sampled when a lexicon is drawn).

use rand::{Rng, SeedableRng};

/// Linear-interpolation quantile of sorted data (numpy's default method).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// 95% percentile intervals of ratio statistics `Σ num[i] / Σ den[i]` over resampled sources.
/// Each statistic is a `(num, den)` per source: a P@1 indicator is `(hit, 1)`; a mean pair cosine
/// is `(sum of the source's pair cosines, its number of pairs)`, so the point estimate is the
/// mean over pairs. All statistics share the same `b` resamples from ChaCha8(`seed`).
pub fn ratio_cis(stats: &[(&[f64], &[f64])], b: usize, seed: u64) -> Vec<(f64, f64)> {
    let n = stats[0].0.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut reps = vec![Vec::with_capacity(b); stats.len()];
    let mut idx = vec![0usize; n];
    for _ in 0..b {
        idx.iter_mut().for_each(|i| *i = rng.gen_range(0..n));
        for (s, (num, den)) in stats.iter().enumerate() {
            let (mut a, mut d) = (0.0, 0.0);
            for &i in &idx {
                a += num[i];
                d += den[i];
            }
            reps[s].push(a / d);
        }
    }
    reps.into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            (quantile_sorted(&r, 0.025), quantile_sorted(&r, 0.975))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&x, 0.0), 1.0);
        assert_eq!(quantile_sorted(&x, 1.0), 4.0);
        assert!((quantile_sorted(&x, 0.025) - 1.075).abs() < 1e-12);
    }
}
