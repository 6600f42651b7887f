//! Bilingual-lexicon-induction retrieval with NN and CSLS, both directions.
//!
//! Tie rule: candidates are ranked by score, descending, and equal scores are broken by the lower
//! candidate index. The rank of a gold item is `#{j: s_j > s_g} + #{j < g: s_j == s_g}` (0-based);
//! a query's rank is the best rank among its golds and it is correct at k when `rank < k`.
//!
//! CSLS(x, y) = 2 cos(x, y) − r_T(x) − r_S(y), where r_T(x) is the mean of the k largest cosines
//! of source x to all candidates and r_S(y) the mean of the k largest cosines of candidate y to
//! all sources (k clipped to the other side's size), as MUSE computes it. When ranking the
//! candidates of one query the query's own r is a constant, so source→target ranks by
//! `2cos − r_S(y)` and target→source by `2cos − r_T(x)`; this lets one streaming pass over the
//! candidates do everything, with memory bounded by `kernel::BLOCK_ELEMS` scores.

use crate::kernel::{dense_sims, mean_topk, sims_block, TopK, BLOCK_ELEMS};
use crate::lexicon::Gold;
use crate::matrix::Matrix;
use rayon::prelude::*;

/// 0-based best gold rank per query, for NN and for CSLS.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranks {
    pub nn: Vec<usize>,
    pub csls: Vec<usize>,
}

/// Both directions over one pair of (already normalised) spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// One entry per source row.
    pub s2t: Ranks,
    /// One entry per `Gold::gold_targets()` entry.
    pub t2s: Ranks,
    /// r_T(x) per source row.
    pub r_source: Vec<f64>,
    /// r_S(y) per gold target (same order as `Gold::gold_targets()`).
    pub r_gold_target: Vec<f64>,
    /// `[gold target][source]` cosines (the MEXA matrix, transposed).
    pub target_source_cos: Vec<f64>,
}

/// Fraction of `ranks` below `k`.
pub fn precision_at(ranks: &[usize], k: usize) -> f64 {
    ranks.iter().filter(|&&r| r < k).count() as f64 / ranks.len() as f64
}

#[inline]
fn beats(v: f64, j: usize, vg: f64, g: usize) -> bool {
    v > vg || (v == vg && j < g)
}

/// Best rank of the golds in a dense score row under the tie rule.
pub fn best_rank(scores: &[f64], golds: &[usize]) -> usize {
    golds
        .iter()
        .map(|&g| {
            scores
                .iter()
                .enumerate()
                .filter(|&(j, &v)| beats(v, j, scores[g], g))
                .count()
        })
        .min()
        .expect("every query has a gold")
}

struct Query<'a> {
    golds: &'a [usize],
    gold_nn: Vec<f64>,
    gold_key: Vec<f64>,
    nn_beats: Vec<usize>,
    csls_beats: Vec<usize>,
    top: TopK,
}

/// Runs retrieval on unit-norm `src` and `cand` rows; `k` is CSLS's neighbourhood size.
pub fn retrieve(src: &Matrix, cand: &Matrix, gold: &Gold, k: usize) -> Retrieval {
    retrieve_blocked(src, cand, gold, k, BLOCK_ELEMS)
}

/// [`retrieve`] holding at most about `block_elems` scores at once (tests use tiny blocks).
pub fn retrieve_blocked(
    src: &Matrix,
    cand: &Matrix,
    gold: &Gold,
    k: usize,
    block_elems: usize,
) -> Retrieval {
    let (ns, nc) = (src.rows, cand.rows);
    let (kt, ks) = (k.min(nc).max(1), k.min(ns).max(1));
    let source_gold = gold.source_gold();
    let targets = gold.gold_targets();
    // When every score fits in one block, the similarity matrix is computed once and the gold
    // targets' cosines are read from its columns (a dot product has the same bits either way
    // round), instead of a second product of the gold targets with the sources.
    let whole = (ns * nc <= block_elems).then(|| dense_sims(src, cand));
    // Cosines and r_S of the gold targets up front: their CSLS keys are needed before the pass.
    // Same dot products, pushed in source order, as in the pass: the same bits.
    let tcos = match &whole {
        Some(sims) => targets
            .iter()
            .flat_map(|&t| (0..ns).map(move |i| sims[i * nc + t]))
            .collect(),
        None => dense_sims(&cand.select_rows(&targets), src),
    };
    let r_gold_target: Vec<f64> = tcos
        .chunks(ns)
        .map(|row| {
            let mut t = TopK::new(ks);
            row.iter().for_each(|&v| t.push(v));
            t.mean()
        })
        .collect();
    let pos = |t: usize| targets.binary_search(&t).expect("gold target");
    let mut queries: Vec<Query> = source_gold
        .iter()
        .enumerate()
        .map(|(i, golds)| {
            let gold_nn: Vec<f64> = golds.iter().map(|&g| tcos[pos(g) * ns + i]).collect();
            let gold_key = golds
                .iter()
                .zip(&gold_nn)
                .map(|(&g, &c)| 2.0 * c - r_gold_target[pos(g)])
                .collect();
            Query {
                golds,
                gold_nn,
                gold_key,
                nn_beats: vec![0; golds.len()],
                csls_beats: vec![0; golds.len()],
                top: TopK::new(kt),
            }
        })
        .collect();

    let blk = if whole.is_some() {
        nc.max(1)
    } else {
        (block_elems / ns.max(1)).clamp(1, nc.max(1))
    };
    let mut buf = if whole.is_some() {
        Vec::new()
    } else {
        vec![0.0; ns * blk]
    };
    let mut rs = vec![0.0; blk];
    for j0 in (0..nc).step_by(blk) {
        let w = blk.min(nc - j0);
        let s: &[f64] = match &whole {
            Some(sims) => sims,
            None => {
                let s = &mut buf[..ns * w];
                sims_block(src, cand, j0, w, s);
                s
            }
        };
        rs[..w].par_iter_mut().enumerate().for_each(|(c, r)| {
            let mut t = TopK::new(ks);
            (0..ns).for_each(|i| t.push(s[i * w + c]));
            *r = t.mean();
        });
        let rs = &rs[..w];
        queries
            .par_iter_mut()
            .zip(s.par_chunks(w))
            .for_each(|(q, row)| {
                for (c, &v) in row.iter().enumerate() {
                    let j = j0 + c;
                    q.top.push(v);
                    let key = 2.0 * v - rs[c];
                    for (p, &g) in q.golds.iter().enumerate() {
                        q.nn_beats[p] += beats(v, j, q.gold_nn[p], g) as usize;
                        q.csls_beats[p] += beats(key, j, q.gold_key[p], g) as usize;
                    }
                }
            });
    }
    let min = |v: &[usize]| *v.iter().min().expect("every source has a gold");
    let s2t = Ranks {
        nn: queries.iter().map(|q| min(&q.nn_beats)).collect(),
        csls: queries.iter().map(|q| min(&q.csls_beats)).collect(),
    };
    let r_source: Vec<f64> = queries.iter().map(|q| q.top.mean()).collect();

    let target_gold = gold.target_gold();
    let (mut nn, mut csls) = (Vec::new(), Vec::new());
    for (q, golds) in target_gold.iter().enumerate() {
        let row = &tcos[q * ns..(q + 1) * ns];
        nn.push(best_rank(row, golds));
        let keys: Vec<f64> = row
            .iter()
            .zip(&r_source)
            .map(|(&c, &r)| 2.0 * c - r)
            .collect();
        csls.push(best_rank(&keys, golds));
    }
    Retrieval {
        s2t,
        t2s: Ranks { nn, csls },
        r_source,
        r_gold_target,
        target_source_cos: tcos,
    }
}

/// Dense CSLS matrix `[src.rows, cand.rows]` for unit-norm rows: `2cos − r_T(x) − r_S(y)`.
/// Materialises everything; meant for inspection and tests on small inputs.
pub fn csls_matrix(src: &Matrix, cand: &Matrix, k: usize) -> Matrix {
    let r_t = mean_topk(src, cand, k);
    let r_s = mean_topk(cand, src, k);
    let mut c = dense_sims(src, cand);
    for i in 0..src.rows {
        for j in 0..cand.rows {
            let v = &mut c[i * cand.rows + j];
            *v = 2.0 * *v - r_t[i] - r_s[j];
        }
    }
    Matrix {
        rows: src.rows,
        cols: cand.rows,
        data: c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_rule() {
        // Candidate 0 ties the gold 2; candidate 1 beats it: rank 2.
        assert_eq!(best_rank(&[0.5, 0.9, 0.5, 0.1], &[2]), 2);
        // The gold at the lower index wins the tie.
        assert_eq!(best_rank(&[0.5, 0.9, 0.5, 0.1], &[0]), 1);
        assert_eq!(best_rank(&[0.5, 0.9, 0.5, 0.1], &[3, 1]), 0);
        assert_eq!(precision_at(&[0, 1, 5, 9], 5), 0.5);
    }
}
