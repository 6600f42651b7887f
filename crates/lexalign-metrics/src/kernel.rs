//! Dot products, blocked similarity tiles and top-k means.
//!
//! One dot-product routine is used everywhere, with a fixed accumulation order, so a cosine has
//! the same bits wherever it is computed: identical vectors give exactly tied scores, which the tie
//! rule depends on. The AVX build of the same loop only widens the lanes (Rust never fuses a
//! multiply and an add), so it returns the same bits as the SSE2 build, twice as fast.

use crate::matrix::Matrix;
use rayon::prelude::*;

/// Lanes of independent accumulators (enough to hide add latency with 4 AVX registers).
pub(crate) const LANES: usize = 16;
/// Candidates per cache tile inside a block.
const TILE: usize = 64;
/// Source rows per parallel work item.
const ROWS: usize = 8;
/// Scores held at once when streaming over candidates (32 MiB of f64).
pub const BLOCK_ELEMS: usize = 1 << 22;

#[inline(always)]
pub(crate) fn dot_body(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut h = [0.0f64; LANES / 2];
    for l in 0..LANES / 2 {
        h[l] = acc[l] + acc[l + LANES / 2];
    }
    let mut s = ((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline(always)]
fn row_dots_body(a: &[f64], m: &Matrix, j0: usize, out: &mut [f64]) {
    for (c, o) in out.iter_mut().enumerate() {
        *o = dot_body(a, m.row(j0 + c));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn row_dots_avx(a: &[f64], m: &Matrix, j0: usize, out: &mut [f64]) {
    row_dots_body(a, m, j0, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_avx(a: &[f64], b: &[f64]) -> f64 {
    dot_body(a, b)
}

fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `a · b` over the shorter length, in the crate's fixed summation order.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx() {
        // SAFETY: the CPU supports AVX (checked above).
        return unsafe { dot_avx(a, b) };
    }
    dot_body(a, b)
}

/// `out[c] = a · m.row(j0 + c)` for `c < out.len()`.
pub fn row_dots(a: &[f64], m: &Matrix, j0: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx() {
        // SAFETY: the CPU supports AVX (checked above).
        return unsafe { row_dots_avx(a, m, j0, out) };
    }
    row_dots_body(a, m, j0, out)
}

/// Fills `out` (`[a.rows, w]`, row-major) with `a.row(i) · b.row(j0 + c)`; tiles of candidates
/// stay in cache while a group of rows passes over them. With AVX-512 the tile is computed by
/// [`crate::microkernel`] (2 rows by 4 candidates at once, the same bits as [`dot`]).
pub fn sims_block(a: &Matrix, b: &Matrix, j0: usize, w: usize, out: &mut [f64]) {
    debug_assert_eq!(out.len(), a.rows * w);
    if w == 0 {
        return;
    }
    let wide = a.cols == b.cols && crate::microkernel::available();
    out.par_chunks_mut(w * ROWS)
        .enumerate()
        .for_each(|(g, chunk)| {
            for t0 in (0..w).step_by(TILE) {
                let t1 = (t0 + TILE).min(w);
                if wide {
                    crate::microkernel::tile(a, g * ROWS, b, j0, t0, t1, w, chunk);
                    continue;
                }
                for (r, orow) in chunk.chunks_mut(w).enumerate() {
                    row_dots(a.row(g * ROWS + r), b, j0 + t0, &mut orow[t0..t1]);
                }
            }
        });
}

/// Dense `[a.rows, b.rows]` dot-product matrix (for the small pair-level matrices).
pub fn dense_sims(a: &Matrix, b: &Matrix) -> Vec<f64> {
    let mut out = vec![0.0; a.rows * b.rows];
    sims_block(a, b, 0, b.rows, &mut out);
    out
}

/// The `k` largest values pushed so far, kept sorted descending.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    vals: Vec<f64>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            vals: Vec::with_capacity(k + 1),
        }
    }

    pub fn push(&mut self, v: f64) {
        if self.vals.len() == self.k {
            match self.vals.last() {
                Some(&last) if v > last => {
                    self.vals.pop();
                }
                _ => return,
            }
        }
        let pos = self
            .vals
            .iter()
            .position(|&x| v > x)
            .unwrap_or(self.vals.len());
        self.vals.insert(pos, v);
    }

    /// Mean of the kept values, summed largest first so equal multisets give equal bits.
    pub fn mean(&self) -> f64 {
        self.vals.iter().sum::<f64>() / self.vals.len() as f64
    }
}

/// For each row of `a`, the mean of its `k` largest dot products with the rows of `b`
/// (`k` clipped to `b.rows`), streaming over `b` in blocks. With unit rows this is CSLS's
/// neighbourhood density r.
pub fn mean_topk(a: &Matrix, b: &Matrix, k: usize) -> Vec<f64> {
    let k = k.min(b.rows).max(1);
    let blk = (BLOCK_ELEMS / a.rows.max(1)).clamp(1, b.rows.max(1));
    let mut tops = vec![TopK::new(k); a.rows];
    let mut buf = vec![0.0; a.rows * blk];
    for j0 in (0..b.rows).step_by(blk) {
        let w = blk.min(b.rows - j0);
        let s = &mut buf[..a.rows * w];
        sims_block(a, b, j0, w, s);
        tops.par_iter_mut()
            .zip(s.par_chunks(w))
            .for_each(|(t, row)| row.iter().for_each(|&v| t.push(v)));
    }
    tops.iter().map(TopK::mean).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avx_and_portable_dots_agree_bitwise() {
        let a: Vec<f64> = (0..643)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.3)
            .collect();
        let b: Vec<f64> = (0..643)
            .map(|i| ((i * 91 % 97) as f64 - 48.0) / 3.1)
            .collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot_body(&a, &b) - naive).abs() < 1e-9 * naive.abs().max(1.0));
        assert_eq!(dot(&a, &b).to_bits(), dot_body(&a, &b).to_bits());
        assert_eq!(dot(&a, &b).to_bits(), dot(&b, &a).to_bits());
    }

    #[test]
    fn topk_keeps_largest() {
        let mut t = TopK::new(3);
        for v in [1.0, 5.0, 2.0, 5.0, 0.5, 4.0] {
            t.push(v);
        }
        assert_eq!(t.vals, vec![5.0, 5.0, 4.0]);
        assert!((t.mean() - 14.0 / 3.0).abs() < 1e-15);
    }
}
