//! Open-pool retrieval (issue 31): queries rank one large candidate pool shared by every test
//! set, and the centring mean and CSLS's neighbourhood terms come from a separate reference
//! vocabulary that holds no test word, as MUSE ranks against a 200k-word vocabulary with
//! statistics from that vocabulary rather than from the test pairs themselves.
//!
//! Protocol (numpy reference: `tests/fixtures/gen_open_pool.py`):
//! 1. Every row is L2-normalised. Centred space: subtract the mean of the normalised reference
//!    rows of the same language (`ref_query` for queries, `ref_pool` for the pool), normalise again.
//! 2. `r_T(x)` = mean of the `k` largest cosines of query `x` to the reference rows of the pool's
//!    language; `r_S(y)` = mean of the `k` largest cosines of pool row `y` to the reference rows
//!    of the queries' language (`k` clipped to the reference size).
//! 3. NN scores `cos(x, y)`; CSLS scores `2 cos(x, y) − r_T(x) − r_S(y)`.
//! 4. Tie rule (as [`crate::retrieval`]): rank of gold `g` = `#{j: s_j > s_g} + #{j < g: s_j == s_g}`
//!    (0-based); a query's rank is its best gold's; correct at k when `rank < k`.

use crate::kernel::{mean_topk, sims_block, BLOCK_ELEMS};
use crate::matrix::Matrix;
use crate::retrieval::precision_at;
use anyhow::{bail, ensure, Context, Result};
use rayon::prelude::*;

/// The pool's language side, prepared once and shared by every query set of one direction.
#[derive(Debug, Clone)]
pub struct PreparedPool {
    /// Unit (centred when `centre`) pool rows.
    pub pool: Matrix,
    /// `r_S(y)` per pool row.
    pub r_pool: Vec<f64>,
    /// Unit (centred when `centre`) reference rows of the pool's language (for `r_T`).
    ref_pool: Matrix,
    /// Mean of the normalised reference rows of the queries' language (centred space), or `None`.
    query_mean: Option<Vec<f64>>,
}

/// P@1/5/10 with NN and CSLS, and the ranks behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenRanks {
    pub nn: Vec<usize>,
    pub csls: Vec<usize>,
    /// `r_T(x)` per query.
    pub r_query: Vec<f64>,
}

impl OpenRanks {
    /// `[P@1, P@5, P@10]` of NN then CSLS.
    pub fn precisions(&self) -> [f64; 6] {
        let p = |r: &[usize], k| precision_at(r, k);
        [
            p(&self.nn, 1),
            p(&self.nn, 5),
            p(&self.nn, 10),
            p(&self.csls, 1),
            p(&self.csls, 5),
            p(&self.csls, 10),
        ]
    }
}

fn unit(m: &Matrix, what: &str) -> Result<Matrix> {
    m.check_finite(what)?;
    m.l2_normalised(what)
}

/// Normalised rows minus `mean`, normalised again.
fn centre_by(m: &Matrix, mean: &[f64], what: &str) -> Result<Matrix> {
    let mut out = m.clone();
    for i in 0..out.rows {
        let r = &mut out.data[i * m.cols..(i + 1) * m.cols];
        r.iter_mut().zip(mean).for_each(|(v, c)| *v -= c);
    }
    out.l2_normalised(&format!(
        "centred {what} (a row equal to the reference mean?)"
    ))
}

/// Unit rows of `m` and of its reference `r` in the chosen space; the reference mean when centred.
fn space(
    m: &Matrix,
    r: &Matrix,
    centre: bool,
    what: &str,
) -> Result<(Matrix, Matrix, Option<Vec<f64>>)> {
    let (m, r) = (
        unit(m, what)?,
        unit(r, &format!("{what} reference vocabulary"))?,
    );
    if !centre {
        return Ok((m, r, None));
    }
    let mean = r.col_mean();
    Ok((
        centre_by(&m, &mean, what)?,
        centre_by(&r, &mean, &format!("{what} reference vocabulary"))?,
        Some(mean),
    ))
}

impl PreparedPool {
    /// Prepares `pool` with the reference rows of its own language (`ref_pool`) and of the
    /// queries' language (`ref_query`); `k` is CSLS's neighbourhood size.
    pub fn new(
        pool: &Matrix,
        ref_pool: &Matrix,
        ref_query: &Matrix,
        k: usize,
        centre: bool,
    ) -> Result<Self> {
        ensure!(k >= 1, "the CSLS neighbourhood size must be at least 1");
        ensure!(pool.rows > 0 && ref_pool.rows > 0 && ref_query.rows > 0, "open pool: the pool and both reference vocabularies need at least one row (got {}, {}, {})", pool.rows, ref_pool.rows, ref_query.rows);
        if pool.cols != ref_pool.cols || pool.cols != ref_query.cols {
            bail!("open pool: dimensions differ (pool {}, its reference {}, the queries' reference {})", pool.cols, ref_pool.cols, ref_query.cols);
        }
        let (pool, ref_pool, _) = space(pool, ref_pool, centre, "pool")?;
        let (_, ref_q, query_mean) = space(ref_query, ref_query, centre, "query-side reference")?;
        let r_pool = mean_topk(&pool, &ref_q, k);
        Ok(Self {
            pool,
            r_pool,
            ref_pool,
            query_mean,
        })
    }

    /// Ranks of `queries` (raw rows) against the pool; `golds[i]` lists query `i`'s gold pool rows.
    pub fn rank(&self, queries: &Matrix, golds: &[Vec<usize>], k: usize) -> Result<OpenRanks> {
        ensure!(
            queries.rows == golds.len(),
            "open pool: {} query rows but {} gold lists",
            queries.rows,
            golds.len()
        );
        ensure!(
            queries.cols == self.pool.cols,
            "open pool: queries have dimension {} but the pool {}",
            queries.cols,
            self.pool.cols
        );
        for (i, g) in golds.iter().enumerate() {
            ensure!(!g.is_empty(), "open pool: query {i} has no gold target");
            if let Some(&bad) = g.iter().find(|&&j| j >= self.pool.rows) {
                bail!(
                    "open pool: query {i}'s gold {bad} is outside the pool of {} rows",
                    self.pool.rows
                );
            }
        }
        let q = unit(queries, "queries")?;
        let q = match &self.query_mean {
            Some(mean) => centre_by(&q, mean, "queries")?,
            None => q,
        };
        let r_query = mean_topk(&q, &self.ref_pool, k);
        let (nn, csls) = self.ranks(&q, golds, &r_query).context("open-pool ranks")?;
        Ok(OpenRanks { nn, csls, r_query })
    }

    /// One streaming pass over the pool: the number of candidates that beat each gold.
    fn ranks(
        &self,
        q: &Matrix,
        golds: &[Vec<usize>],
        r_query: &[f64],
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let (nq, np) = (q.rows, self.pool.rows);
        let gold_cos: Vec<Vec<f64>> = golds
            .iter()
            .enumerate()
            .map(|(i, g)| {
                g.iter()
                    .map(|&j| crate::kernel::dot(q.row(i), self.pool.row(j)))
                    .collect()
            })
            .collect();
        let key = |i: usize, c: f64, j: usize| 2.0 * c - r_query[i] - self.r_pool[j];
        let mut beats_nn: Vec<Vec<usize>> = golds.iter().map(|g| vec![0; g.len()]).collect();
        let mut beats_csls = beats_nn.clone();
        let blk = (BLOCK_ELEMS / nq.max(1)).clamp(1, np);
        let mut buf = vec![0.0; nq * blk];
        for j0 in (0..np).step_by(blk) {
            let w = blk.min(np - j0);
            let s = &mut buf[..nq * w];
            sims_block(q, &self.pool, j0, w, s);
            let s = &*s;
            beats_nn
                .par_iter_mut()
                .zip(beats_csls.par_iter_mut())
                .zip(s.par_chunks(w))
                .enumerate()
                .for_each(|(i, ((bn, bc), row))| {
                    for (c, &v) in row.iter().enumerate() {
                        let j = j0 + c;
                        let kv = key(i, v, j);
                        for (p, &g) in golds[i].iter().enumerate() {
                            let (gc, gk) = (gold_cos[i][p], key(i, gold_cos[i][p], g));
                            bn[p] += (v > gc || (v == gc && j < g)) as usize;
                            bc[p] += (kv > gk || (kv == gk && j < g)) as usize;
                        }
                    }
                });
        }
        let min = |v: Vec<Vec<usize>>| {
            v.into_iter()
                .map(|b| b.into_iter().min().unwrap_or(0))
                .collect()
        };
        Ok((min(beats_nn), min(beats_csls)))
    }
}

/// One direction in one go: [`PreparedPool::new`] then [`PreparedPool::rank`].
pub fn open_retrieval(
    queries: &Matrix,
    pool: &Matrix,
    ref_query: &Matrix,
    ref_pool: &Matrix,
    golds: &[Vec<usize>],
    k: usize,
    centre: bool,
) -> Result<OpenRanks> {
    PreparedPool::new(pool, ref_pool, ref_query, k, centre)?.rank(queries, golds, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[[f64; 2]]) -> Matrix {
        Matrix::from_rows(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn duplicate_pool_rows_tie_to_the_lower_index() {
        let pool = m(&[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
        let refs = m(&[[1.0, 1.0], [-1.0, 0.5]]);
        let q = m(&[[2.0, 0.1]]);
        let r = open_retrieval(&q, &pool, &refs, &refs, &[vec![1]], 1, false).unwrap();
        assert_eq!(r.nn, vec![1]);
        let r = open_retrieval(&q, &pool, &refs, &refs, &[vec![0]], 1, false).unwrap();
        assert_eq!(r.nn, vec![0]);
    }

    #[test]
    fn bad_gold_and_non_finite_rows_are_errors() {
        let pool = m(&[[1.0, 0.0], [0.0, 1.0]]);
        let q = m(&[[1.0, 0.0]]);
        assert!(open_retrieval(&q, &pool, &pool, &pool, &[vec![5]], 1, true)
            .unwrap_err()
            .to_string()
            .contains("outside the pool"));
        let bad = m(&[[f64::NAN, 0.0]]);
        assert!(open_retrieval(&bad, &pool, &pool, &pool, &[vec![0]], 1, true).is_err());
    }
}
