//! Linear centred kernel alignment (Kornblith et al. 2019, "Similarity of Neural Network
//! Representations Revisited", eq. 5) between two representations of the same `n` items:
//! `CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`, with `Xc`, `Yc` the column-centred
//! `X [n, d1]`, `Y [n, d2]`. It is invariant to orthogonal transforms and isotropic scaling of
//! either side (not to arbitrary linear maps), so it compares the geometry of two spaces of
//! different dimension, such as an LLM layer's word vectors and LASER-2's.
//!
//! Two exact ways to the same three Frobenius norms: through the `n x n` Gram matrices
//! (`||Yc^T Xc||_F^2 = <Xc Xc^T, Yc Yc^T>_F`), cheap when there are fewer items than dimensions,
//! or by streaming the `d1 x d2` (and `d x d`) column dot products without storing them, for many
//! items. A [`CkaSide`] is prepared once and compared with many others (LASER-2's side against
//! every layer). Everything is accumulated in `f64` with [`crate::kernel::dot`].

use crate::kernel::dot;
use crate::matrix::Matrix;
use anyhow::{bail, Result};

/// Items up to which a side keeps its Gram matrix (`n x n` f64: 32 MiB at the limit).
pub const GRAM_MAX_ROWS: usize = 2048;

/// One representation, column-centred, with what every comparison needs.
#[derive(Debug, Clone)]
pub struct CkaSide {
    pub n: usize,
    pub d: usize,
    /// Centred columns as rows (`[d, n]`): the streamed feature-space products read these.
    cols: Matrix,
    /// `Xc Xc^T` (row-major `[n, n]`) when `n <= GRAM_MAX_ROWS`.
    gram: Option<Vec<f64>>,
    /// `||Xc^T Xc||_F`.
    self_norm: f64,
}

impl CkaSide {
    /// Centres `m` (rows = items); `what` names it in errors. Errors on fewer than 2 items,
    /// non-finite values and a side without variance (all rows equal: CKA is undefined).
    pub fn new(m: &Matrix, what: &str) -> Result<Self> {
        Self::with_gram_limit(m, what, GRAM_MAX_ROWS)
    }

    /// [`CkaSide::new`] with another Gram threshold (the tests take both paths).
    pub fn with_gram_limit(m: &Matrix, what: &str, gram_max_rows: usize) -> Result<Self> {
        let (n, d) = (m.rows, m.cols);
        if n < 2 {
            bail!("{what} has {n} row(s); CKA compares at least 2 items");
        }
        m.check_finite(what)?;
        let mean = m.col_mean();
        let mut cols = Matrix {
            rows: d,
            cols: n,
            data: vec![0.0; n * d],
        };
        let (mut ss_raw, mut ss_c) = (0.0, 0.0);
        for i in 0..n {
            for (j, (&v, &mu)) in m.row(i).iter().zip(&mean).enumerate() {
                let c = v - mu;
                cols.data[j * n + i] = c;
                ss_raw += v * v;
                ss_c += c * c;
            }
        }
        // Rounding leaves ~1e-16 relative residue when every row is the same vector.
        if ss_c.is_nan() || ss_c <= 1e-24 * ss_raw.max(f64::MIN_POSITIVE) {
            bail!("{what} has no variance (all {n} rows are the same vector); CKA is undefined");
        }
        let mut side = CkaSide {
            n,
            d,
            cols,
            gram: None,
            self_norm: 0.0,
        };
        side.self_norm = if n <= gram_max_rows {
            let g = side.build_gram();
            let norm = frob(&g);
            side.gram = Some(g);
            norm
        } else {
            streamed_frob2(&side.cols, &side.cols, true).sqrt()
        };
        if !(side.self_norm.is_finite() && side.self_norm > 0.0) {
            bail!(
                "{what}: ||Xc^T Xc||_F is {}; CKA is undefined",
                side.self_norm
            );
        }
        Ok(side)
    }

    /// `Xc Xc^T` from the centred rows (a row-major copy, then symmetric dots).
    fn build_gram(&self) -> Vec<f64> {
        let (n, d) = (self.n, self.d);
        let mut rows = vec![0.0; n * d];
        for j in 0..d {
            for i in 0..n {
                rows[i * d + j] = self.cols.data[j * n + i];
            }
        }
        let mut g = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..=i {
                let v = dot(&rows[i * d..(i + 1) * d], &rows[k * d..(k + 1) * d]);
                g[i * n + k] = v;
                g[k * n + i] = v;
            }
        }
        g
    }
}

/// `sqrt(sum of squares)`.
fn frob(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `||A B^T||_F^2` for `A [p, n]`, `B [q, n]`, without storing `A B^T`; `symmetric` when `A` is
/// `B` (each off-diagonal product counted twice, computed once).
fn streamed_frob2(a: &Matrix, b: &Matrix, symmetric: bool) -> f64 {
    let mut s = 0.0;
    for i in 0..a.rows {
        let ai = a.row(i);
        if symmetric {
            let dii = dot(ai, ai);
            s += dii * dii;
            for k in 0..i {
                let v = dot(ai, b.row(k));
                s += 2.0 * v * v;
            }
        } else {
            for k in 0..b.rows {
                let v = dot(ai, b.row(k));
                s += v * v;
            }
        }
    }
    s
}

/// Linear CKA of two prepared sides of the same items; in `[0, 1]` up to rounding.
pub fn cka_of(x: &CkaSide, y: &CkaSide) -> Result<f64> {
    if x.n != y.n {
        bail!(
            "CKA compares the same items, but one side has {} rows and the other {}",
            x.n,
            y.n
        );
    }
    let cross = match (&x.gram, &y.gram) {
        (Some(gx), Some(gy)) => gx.iter().zip(gy).map(|(a, b)| a * b).sum::<f64>(),
        _ => streamed_frob2(&y.cols, &x.cols, false),
    };
    let v = cross / (x.self_norm * y.self_norm);
    if !v.is_finite() {
        bail!(
            "CKA is {v} (cross term {cross}, norms {} and {})",
            x.self_norm,
            y.self_norm
        );
    }
    Ok(v)
}

/// Linear CKA between `x [n, d1]` and `y [n, d2]` (rows: the same items in the same order).
pub fn linear_cka(x: &Matrix, y: &Matrix) -> Result<f64> {
    if x.rows != y.rows {
        bail!(
            "CKA compares the same items, but X has {} rows and Y {}",
            x.rows,
            y.rows
        );
    }
    cka_of(&CkaSide::new(x, "X")?, &CkaSide::new(y, "Y")?)
}

/// Rows of `a` then rows of `b` (both sides of a lexicon as one set of items).
pub fn stack(a: &Matrix, b: &Matrix) -> Result<Matrix> {
    if a.cols != b.cols {
        bail!("cannot stack matrices of {} and {} columns", a.cols, b.cols);
    }
    let mut data = Vec::with_capacity(a.data.len() + b.data.len());
    data.extend_from_slice(&a.data);
    data.extend_from_slice(&b.data);
    Matrix::new(a.rows + b.rows, a.cols, data)
}
