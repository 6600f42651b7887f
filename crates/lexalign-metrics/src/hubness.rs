//! Hubness: how unevenly nearest-neighbour retrieval spreads over the candidates. `N_k(y)` counts
//! the queries that have candidate `y` among their `k` nearest neighbours (cosine, ties to the
//! lower index, as everywhere in this crate); the skew of the `N_k` distribution (Radovanović et
//! al. 2010; k = 10) is large when a few hubs are everyone's neighbour.

use crate::kernel::{sims_block, BLOCK_ELEMS};
use crate::matrix::Matrix;

/// k of the k-occurrence distribution in the study's tables.
pub const HUB_K: usize = 10;

/// `N_k` for each candidate row given unit `queries` and `cands` (`k` clipped to the candidates).
pub fn k_occurrence(queries: &Matrix, cands: &Matrix, k: usize) -> Vec<usize> {
    let k = k.min(cands.rows).max(1);
    let mut counts = vec![0usize; cands.rows];
    let per = (BLOCK_ELEMS / cands.rows.max(1)).max(1);
    let mut buf = vec![0.0; per.min(queries.rows) * cands.rows];
    for q0 in (0..queries.rows).step_by(per) {
        let q1 = (q0 + per).min(queries.rows);
        let block = queries.select_rows(&(q0..q1).collect::<Vec<_>>());
        let s = &mut buf[..(q1 - q0) * cands.rows];
        sims_block(&block, cands, 0, cands.rows, s);
        for row in s.chunks(cands.rows) {
            let mut idx: Vec<usize> = (0..cands.rows).collect();
            // Score descending, then lower index: the crate's tie rule.
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            idx[..k].iter().for_each(|&j| counts[j] += 1);
        }
    }
    counts
}

/// Sample skewness `m3 / m2^1.5` (scipy.stats.skew with `bias=True`); 0 for a constant sample.
pub fn skewness(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.is_empty() {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / n;
    let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m3 = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
    if m2 == 0.0 {
        return 0.0;
    }
    m3 / m2.powf(1.5)
}

/// Skew of the k-occurrence distribution of `cands` under NN retrieval from `queries`.
pub fn k_occurrence_skew(queries: &Matrix, cands: &Matrix, k: usize) -> f64 {
    let n: Vec<f64> = k_occurrence(queries, cands, k)
        .into_iter()
        .map(|c| c as f64)
        .collect();
    skewness(&n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_skews_the_distribution() {
        // Every query's nearest neighbour is candidate 0.
        let q = Matrix::from_rows(&[vec![1.0, 0.1], vec![1.0, 0.2], vec![1.0, -0.1]])
            .unwrap()
            .l2_normalised("q")
            .unwrap();
        let c = Matrix::from_rows(&[
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![-1.0, 0.0],
            vec![0.0, -1.0],
        ])
        .unwrap();
        assert_eq!(k_occurrence(&q, &c, 1), vec![3, 0, 0, 0]);
        assert!(k_occurrence_skew(&q, &c, 1) > 1.0);
        assert_eq!(skewness(&[2.0, 2.0, 2.0]), 0.0);
        assert!((skewness(&[1.0, 2.0, 10.0]) - 0.674555).abs() < 1e-5);
    }
}
