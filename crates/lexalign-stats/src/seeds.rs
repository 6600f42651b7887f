//! Seed-level statistics of a fine-tuning effect (issue 26): several training runs (seeds) of
//! one arm, each scored on the same evaluation words, give a matrix `d[seed][word]` of per-word
//! changes (e.g. centred CSLS hit after minus hit before). [`describe_seeds`] summarises the
//! per-seed means (mean, SD, range); [`hierarchical_ci`] is a percentile bootstrap CI of the
//! grand mean that resamples both sources of variation.
//!
//! The design is crossed, not nested: every seed is scored on the SAME words. One replicate
//! therefore draws the seeds with replacement, and then ONE resample of the words, used for every
//! drawn seed (the words "within each" seed are the same words). Drawing the words afresh for
//! each seed would treat the S × n scores as S × n independent words and shrink the word part of
//! the interval by up to √S. With no seed variance (identical rows) the interval is exactly the
//! word bootstrap's of one seed; with large seed variance it widens toward the seed means'
//! spread. The word draws come from their own ChaCha8 stream (seed `seed`, stream 0) and the
//! seed draws from stream 1, so switching the seed level off leaves the word draws unchanged.

use anyhow::{ensure, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Mean, SD (n − 1) and range of the per-seed means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeedSummary {
    pub n_seeds: usize,
    pub mean: f64,
    /// `None` with one seed.
    pub sd: Option<f64>,
    pub min: f64,
    pub max: f64,
}

/// The per-seed means of `d` and their summary; every row must have the same, non-zero length
/// and finite values.
pub fn describe_seeds(d: &[Vec<f64>]) -> Result<SeedSummary> {
    check(d)?;
    let means: Vec<f64> = d.iter().map(|r| crate::mean(r)).collect();
    Ok(SeedSummary {
        n_seeds: means.len(),
        mean: crate::mean(&means),
        sd: (means.len() > 1).then(|| crate::sd(&means)),
        min: means.iter().copied().fold(f64::INFINITY, f64::min),
        max: means.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

fn check(d: &[Vec<f64>]) -> Result<()> {
    ensure!(!d.is_empty(), "seed statistics need at least one seed");
    let n = d[0].len();
    ensure!(n > 0, "seed statistics need at least one word per seed");
    for (s, r) in d.iter().enumerate() {
        ensure!(
            r.len() == n,
            "seed {s} has {} words, seed 0 has {n}: every seed must be scored on the same words",
            r.len()
        );
        if let Some(w) = r.iter().position(|x| !x.is_finite()) {
            anyhow::bail!("seed {s}, word {w}: the value {} is not finite", r[w]);
        }
    }
    Ok(())
}

/// 95 % percentile CI of the grand mean of `d[seed][word]` over `reps` replicates, resampling
/// seeds (when `resample_seeds`) and the shared words (see the module doc).
pub fn hierarchical_ci(
    d: &[Vec<f64>],
    reps: usize,
    seed: u64,
    resample_seeds: bool,
) -> Result<(f64, f64)> {
    check(d)?;
    ensure!(
        reps >= 2,
        "the bootstrap needs at least 2 replicates, got {reps}"
    );
    let (s, n) = (d.len(), d[0].len());
    let mut words_rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seeds_rng = ChaCha8Rng::seed_from_u64(seed);
    seeds_rng.set_stream(1);
    let (mut idx, mut sdx) = (vec![0usize; n], (0..s).collect::<Vec<_>>());
    let mut out = Vec::with_capacity(reps);
    for _ in 0..reps {
        idx.iter_mut().for_each(|i| *i = words_rng.gen_range(0..n));
        if resample_seeds {
            sdx.iter_mut().for_each(|i| *i = seeds_rng.gen_range(0..s));
        }
        let total: f64 = sdx
            .iter()
            .map(|&k| idx.iter().map(|&i| d[k][i]).sum::<f64>() / n as f64)
            .sum();
        out.push(total / s as f64);
    }
    out.sort_by(f64::total_cmp);
    Ok((quantile(&out, 0.025), quantile(&out, 0.975)))
}

/// numpy's default (linear) quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded 0/±1 word-change vector: +1 with p 0.3, −1 with p 0.1.
    fn words(n: usize, seed: u64) -> Vec<f64> {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| match r.gen_range(0..10) {
                0..=2 => 1.0,
                3 => -1.0,
                _ => 0.0,
            })
            .collect()
    }

    #[test]
    fn no_seed_variance_is_the_word_bootstrap() {
        let w = words(600, 1);
        let d = vec![w.clone(); 5];
        let (lo, hi) = hierarchical_ci(&d, 2000, 7, true).unwrap();
        let (wlo, whi) = hierarchical_ci(&d[..1], 2000, 7, false).unwrap();
        assert!(
            (lo - wlo).abs() < 1e-12 && (hi - whi).abs() < 1e-12,
            "{lo} {hi} vs {wlo} {whi}"
        );
        // The word bootstrap's width is about 2 × 1.96 × SD / √n.
        let se = crate::sd(&w) / (w.len() as f64).sqrt();
        let width = hi - lo;
        assert!(
            (width / (2.0 * 1.96 * se) - 1.0).abs() < 0.1,
            "width {width}, normal {}",
            2.0 * 1.96 * se
        );
        let m = crate::mean(&w);
        assert!(lo < m && m < hi);
        let s = describe_seeds(&d).unwrap();
        assert_eq!((s.n_seeds, s.sd, s.min, s.max), (5, Some(0.0), m, m));
    }

    #[test]
    fn seed_variance_widens_the_interval() {
        // Seeds whose means are −0.5, −0.25, 0, 0.25, 0.5 on top of the same word noise.
        let w = words(600, 2);
        let d: Vec<Vec<f64>> = (0..5)
            .map(|k| w.iter().map(|x| x + (k as f64 - 2.0) * 0.25).collect())
            .collect();
        let (lo, hi) = hierarchical_ci(&d, 2000, 7, true).unwrap();
        let (wlo, whi) = hierarchical_ci(&d, 2000, 7, false).unwrap();
        assert!(
            hi - lo > 5.0 * (whi - wlo),
            "hierarchical {lo}..{hi}, words only {wlo}..{whi}"
        );
        // The seed means' SD is 0.395; the CI of their mean is about ±1.96 × 0.395 × √(4/5) / √5.
        assert!(hi - lo > 0.4 && hi - lo < 0.9, "{lo}..{hi}");
        let s = describe_seeds(&d).unwrap();
        assert!((s.sd.unwrap() - 0.3953).abs() < 1e-3 && (s.max - s.min - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(describe_seeds(&[]).is_err());
        let e = hierarchical_ci(&[vec![0.0, 1.0], vec![1.0]], 100, 0, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("seed 1 has 1 words"), "{e}");
        let e = describe_seeds(&[vec![0.0, f64::NAN]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("seed 0, word 1"), "{e}");
        assert!(hierarchical_ci(&[vec![1.0]], 1, 0, true).is_err());
    }
}
