//! Pair cosines and the shuffled-pair baseline (each source against another pair's target), which
//! tells "aligned" apart from "every vector is similar at this layer" (anisotropy).

use crate::kernel::dot;
use crate::lexicon::Gold;
use crate::matrix::Matrix;
use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A seeded derangement of `0..n` (`partner[i] != i`): one ChaCha8 shuffle of `0..n`, each element
/// paired with the next one in the shuffled cycle. Same algorithm, RNG and partners as
/// `lexalign_scan::shuffled_partners`, so existing scan outputs keep their baseline.
pub fn shuffled_partners(n: usize, seed: u64) -> Result<Vec<usize>> {
    if n < 2 {
        bail!("the shuffled baseline needs at least two pairs (each source is paired with another pair's target), got {n}");
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    order.shuffle(&mut rng);
    let mut partner = vec![0; n];
    for k in 0..n {
        partner[order[k]] = order[(k + 1) % n];
    }
    Ok(partner)
}

/// Cosine of every gold pair on unit-norm rows, in `gold.pairs` order.
pub fn pair_cosines(src: &Matrix, cand: &Matrix, gold: &Gold) -> Vec<f64> {
    gold.pairs
        .iter()
        .map(|&(s, t)| dot(src.row(s), cand.row(t)))
        .collect()
}

/// Cosine of pair `p`'s source with pair `partner[p]`'s target, on unit-norm rows.
pub fn shuffled_cosines(src: &Matrix, cand: &Matrix, gold: &Gold, partner: &[usize]) -> Vec<f64> {
    gold.pairs
        .iter()
        .zip(partner)
        .map(|(&(s, _), &q)| dot(src.row(s), cand.row(gold.pairs[q].1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derangement_properties() {
        assert!(shuffled_partners(1, 0).is_err());
        assert!(shuffled_partners(0, 0).is_err());
        for n in 2..60 {
            for seed in [0, 7, 42] {
                let p = shuffled_partners(n, seed).unwrap();
                let mut seen = vec![false; n];
                for (i, &j) in p.iter().enumerate() {
                    assert_ne!(i, j);
                    assert!(!seen[j]);
                    seen[j] = true;
                }
                assert_eq!(p, shuffled_partners(n, seed).unwrap());
            }
        }
    }
}
