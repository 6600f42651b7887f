//! The AVX-512 tile of [`crate::kernel::sims_block`]: 2 rows of `a` against 4 rows of `b` at once,
//! so each loaded chunk serves several dot products (the plain loop loads both operands for every
//! product and is bound by loads, not arithmetic).
//!
//! Every product keeps [`crate::kernel::dot`]'s accumulation order exactly (16 lane accumulators,
//! the same pairwise reduction, then the tail), and Rust never fuses a multiply and an add, so the
//! scores have the same bits as the one-at-a-time loop: the tie rule of the retrieval still sees
//! exact ties, and every metric is unchanged to the last bit.

use crate::kernel::{dot_body, LANES};
use crate::matrix::Matrix;

/// Rows of `a` per micro-tile.
const R: usize = 2;
/// Rows of `b` per micro-tile.
const C: usize = 4;

/// Whether this CPU runs the AVX-512 tile.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dot_body`'s reduction of the 16 lane accumulators.
#[inline(always)]
fn reduce(acc: &[f64; LANES]) -> f64 {
    let mut h = [0.0f64; LANES / 2];
    for l in 0..LANES / 2 {
        h[l] = acc[l] + acc[l + LANES / 2];
    }
    ((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7]))
}

/// The `R x C` products of equally long rows, each in `dot_body`'s order.
#[inline(always)]
fn block_body(a: [&[f64]; R], b: [&[f64]; C]) -> [[f64; C]; R] {
    let n = a[0].len();
    let full = n - n % LANES;
    let mut acc = [[[0.0f64; LANES]; C]; R];
    let mut k = 0;
    while k < full {
        let x: [&[f64; LANES]; R] =
            std::array::from_fn(|r| a[r][k..k + LANES].try_into().expect("lane chunk"));
        let y: [&[f64; LANES]; C] =
            std::array::from_fn(|c| b[c][k..k + LANES].try_into().expect("lane chunk"));
        for r in 0..R {
            for c in 0..C {
                for l in 0..LANES {
                    acc[r][c][l] += x[r][l] * y[c][l];
                }
            }
        }
        k += LANES;
    }
    let mut out = [[0.0f64; C]; R];
    for r in 0..R {
        for c in 0..C {
            let mut s = reduce(&acc[r][c]);
            for t in full..n {
                s += a[r][t] * b[c][t];
            }
            out[r][c] = s;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512(a: [&[f64]; R], b: [&[f64]; C]) -> [[f64; C]; R] {
    block_body(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f64], b: &[f64]) -> f64 {
    dot_body(a, b)
}

/// One cache tile of `sims_block`: rows `i0..` of `a` (as many as `chunk` holds, `chunk` being
/// `[rows, w]`) against candidates `j0 + t0 .. j0 + t1` of `b`, written at columns `t0..t1`.
/// Call only when [`available`] and `a.cols == b.cols`.
#[allow(clippy::too_many_arguments)]
pub fn tile(
    a: &Matrix,
    i0: usize,
    b: &Matrix,
    j0: usize,
    t0: usize,
    t1: usize,
    w: usize,
    chunk: &mut [f64],
) {
    assert!(
        available() && a.cols == b.cols,
        "the AVX-512 tile needs AVX-512 and equal widths"
    );
    let rows = chunk.len() / w;
    let mut r = 0;
    while r < rows {
        let nr = (rows - r).min(R);
        let mut c = t0;
        while c < t1 {
            let nc = (t1 - c).min(C);
            if nr == R && nc == C {
                let ar: [&[f64]; R] = std::array::from_fn(|x| a.row(i0 + r + x));
                let br: [&[f64]; C] = std::array::from_fn(|y| b.row(j0 + c + y));
                // SAFETY: AVX-512F is present (asserted above).
                let v = unsafe { block_avx512(ar, br) };
                for x in 0..R {
                    chunk[(r + x) * w + c..(r + x) * w + c + C].copy_from_slice(&v[x]);
                }
            } else {
                for x in 0..nr {
                    for y in 0..nc {
                        // SAFETY: as above.
                        chunk[(r + x) * w + c + y] =
                            unsafe { dot_avx512(a.row(i0 + r + x), b.row(j0 + c + y)) };
                    }
                }
            }
            c += nc;
        }
        r += nr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::dot;

    #[test]
    fn portable_block_matches_dot_bitwise() {
        let row = |s: usize| -> Vec<f64> {
            (0..41)
                .map(|i| (((i * s) % 97) as f64 - 47.0) / 3.3)
                .collect()
        };
        let (a, b): (Vec<_>, Vec<_>) = (
            (0..R).map(|r| row(7 + r)).collect(),
            (0..C).map(|c| row(19 + 2 * c)).collect(),
        );
        let v = block_body(
            std::array::from_fn(|r| a[r].as_slice()),
            std::array::from_fn(|c| b[c].as_slice()),
        );
        for r in 0..R {
            for c in 0..C {
                assert_eq!(v[r][c].to_bits(), dot(&a[r], &b[c]).to_bits());
            }
        }
    }

    #[test]
    fn tile_matches_dot_bitwise() {
        if !available() {
            return;
        }
        // 37 columns: two full lane chunks and a tail; 5 rows and 7 candidates: partial tiles.
        let m = |rows: usize, s: usize| {
            let data = (0..rows * 37)
                .map(|i| (((i * s) % 113) as f64 - 56.0) / 9.7)
                .collect();
            Matrix::new(rows, 37, data).unwrap()
        };
        let (a, b) = (m(5, 31), m(9, 17));
        let (j0, t0, t1, w) = (1, 0, 7, 8);
        let mut chunk = vec![f64::NAN; 5 * w];
        tile(&a, 0, &b, j0, t0, t1, w, &mut chunk);
        for i in 0..5 {
            for c in t0..t1 {
                assert_eq!(
                    chunk[i * w + c].to_bits(),
                    dot(a.row(i), b.row(j0 + c)).to_bits(),
                    "({i}, {c})"
                );
            }
            assert!(chunk[i * w + 7].is_nan(), "column past t1 untouched");
        }
    }
}
