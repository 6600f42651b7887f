//! Linear maps from the source space to the target space fitted on paired rows (`x W ≈ y`, one
//! row per training pair): the field's default way to align two languages' frozen vectors, and so
//! the baseline any claim about fine-tuning must beat.
//!
//! - [`procrustes`]: orthogonal `W = U Vᵀ` from the SVD `U Σ Vᵀ = Xᵀ Y` (Schönemann 1966; MUSE's
//!   supervised step; scipy's `orthogonal_procrustes(X, Y)`).
//! - [`RidgeSolver`]: least squares (`λ = 0`, numpy's minimum-norm `lstsq` with its default
//!   cut-off) and ridge regression shrunk toward the identity map,
//!   `W = (XᵀX + λI)⁻¹ (XᵀY + λI)`: in one shared model the identity is itself a strong map.
//! - [`refine`]: MUSE's refinement: map, induce a dictionary of mutual CSLS nearest neighbours
//!   (`S2T&T2S`, `csls_knn_10`) among the vocabulary, refit Procrustes on it, repeat.

use crate::kernel::{dense_sims, mean_topk};
use crate::linalg::{identity, matmul, matmul_tn, sym_eig, transpose, SymEig};
use crate::matrix::Matrix;
use crate::svd::svd_square;
use anyhow::{bail, Result};

fn check_pairs(x: &Matrix, y: &Matrix) -> Result<()> {
    if x.rows != y.rows || x.cols != y.cols {
        bail!(
            "a linear map needs paired rows of one dimension: source [{}, {}] vs target [{}, {}]",
            x.rows,
            x.cols,
            y.rows,
            y.cols
        );
    }
    if x.rows < 2 {
        bail!(
            "a linear map needs at least two training pairs, got {}",
            x.rows
        );
    }
    x.check_finite("map source rows")?;
    y.check_finite("map target rows")
}

/// The orthogonal `W` minimising `‖X W − Y‖_F` (`[d, d]`).
pub fn procrustes(x: &Matrix, y: &Matrix) -> Result<Matrix> {
    check_pairs(x, y)?;
    let svd = svd_square(&matmul_tn(x, y))?;
    Ok(matmul(&svd.u, &transpose(&svd.v)))
}

/// `x · w`: every row mapped.
pub fn apply(x: &Matrix, w: &Matrix) -> Matrix {
    matmul(x, w)
}

/// Least squares and ridge-to-identity solutions for one training set, sharing one
/// eigendecomposition of `XᵀX` across every `λ`.
pub struct RidgeSolver {
    eig: SymEig,
    /// `Qᵀ XᵀY` and `Qᵀ` (for the `λI` term), `Q` the eigenvectors of `XᵀX`.
    qt_xty: Matrix,
    qt: Matrix,
    /// Rows of `X` and its dimension (numpy's `rcond` default is `eps · max(n, d)`).
    n: usize,
}

impl RidgeSolver {
    pub fn new(x: &Matrix, y: &Matrix) -> Result<Self> {
        check_pairs(x, y)?;
        let eig = sym_eig(&matmul_tn(x, x))?;
        let qt = transpose(&eig.vectors);
        let qt_xty = matmul(&qt, &matmul_tn(x, y));
        Ok(Self {
            eig,
            qt_xty,
            qt,
            n: x.rows,
        })
    }

    /// `λ = 0`: numpy's `lstsq(X, Y)`: the minimum-norm solution, singular values below
    /// `eps · max(n, d) · σ_max` treated as zero.
    pub fn least_squares(&self) -> Matrix {
        let d = self.qt.rows;
        let lmax = self.eig.values.last().copied().unwrap_or(0.0).max(0.0);
        let rcond = f64::EPSILON * self.n.max(d) as f64;
        let cut = rcond * rcond * lmax;
        let inv: Vec<f64> = self
            .eig
            .values
            .iter()
            .map(|&l| if l > cut { 1.0 / l } else { 0.0 })
            .collect();
        self.solve_with(&inv, 0.0)
    }

    /// Ridge toward the identity: `(XᵀX + λI)⁻¹ (XᵀY + λI)`, `λ > 0`.
    pub fn ridge(&self, lambda: f64) -> Result<Matrix> {
        if !(lambda > 0.0 && lambda.is_finite()) {
            bail!("ridge λ must be positive and finite, got {lambda}");
        }
        let inv: Vec<f64> = self
            .eig
            .values
            .iter()
            .map(|&l| 1.0 / (l.max(0.0) + lambda))
            .collect();
        Ok(self.solve_with(&inv, lambda))
    }

    /// `Q diag(inv) (Qᵀ XᵀY + λ Qᵀ)`.
    fn solve_with(&self, inv: &[f64], lambda: f64) -> Matrix {
        let d = self.qt.rows;
        let mut a = self.qt_xty.clone();
        for (i, row) in a.data.chunks_mut(d).enumerate() {
            for (v, q) in row.iter_mut().zip(self.qt.row(i)) {
                *v = (*v + lambda * q) * inv[i];
            }
        }
        matmul(&self.eig.vectors, &a)
    }
}

/// `W = (XᵀX + λI)⁻¹ (XᵀY + λI)` for one `λ`.
pub fn ridge_to_identity(x: &Matrix, y: &Matrix, lambda: f64) -> Result<Matrix> {
    RidgeSolver::new(x, y)?.ridge(lambda)
}

/// numpy's `lstsq(X, Y)`.
pub fn least_squares(x: &Matrix, y: &Matrix) -> Result<Matrix> {
    Ok(RidgeSolver::new(x, y)?.least_squares())
}

/// Mutual CSLS nearest neighbours between unit rows `a` and `b` (MUSE's `S2T&T2S` with
/// `csls_knn_k`): `(i, j)` where `j` is `i`'s best CSLS candidate and `i` is `j`'s; ascending.
/// Ties go to the lower index.
pub fn mutual_csls_pairs(a: &Matrix, b: &Matrix, k: usize) -> Vec<(usize, usize)> {
    let (ra, rb) = (mean_topk(a, b, k), mean_topk(b, a, k));
    let sims = dense_sims(a, b);
    let argmax = |vals: &mut dyn Iterator<Item = f64>| -> usize {
        let mut best = (f64::NEG_INFINITY, 0);
        for (j, v) in vals.enumerate() {
            if v > best.0 {
                best = (v, j);
            }
        }
        best.1
    };
    let s2t: Vec<usize> = (0..a.rows)
        .map(|i| argmax(&mut (0..b.rows).map(|j| 2.0 * sims[i * b.rows + j] - rb[j])))
        .collect();
    let t2s: Vec<usize> = (0..b.rows)
        .map(|j| argmax(&mut (0..a.rows).map(|i| 2.0 * sims[i * b.rows + j] - ra[i])))
        .collect();
    s2t.iter()
        .enumerate()
        .filter(|&(i, &j)| t2s[j] == i)
        .map(|(i, &j)| (i, j))
        .collect()
}

/// MUSE's refinement: starting from `w`, `iterations` times map the vocabulary `xv`, take the
/// mutual CSLS nearest neighbours with `yv` as the new dictionary and refit Procrustes on it.
/// Rows are unit vectors. Returns the final map and each induced dictionary's size.
pub fn refine(
    xv: &Matrix,
    yv: &Matrix,
    w: &Matrix,
    iterations: usize,
    k: usize,
) -> Result<(Matrix, Vec<usize>)> {
    let mut w = w.clone();
    let mut sizes = Vec::new();
    for it in 0..iterations {
        let mapped = apply(xv, &w).l2_normalised("mapped vocabulary")?;
        let dict = mutual_csls_pairs(&mapped, yv, k);
        if dict.len() < 2 {
            bail!(
                "refinement iteration {}: only {} mutual CSLS neighbours, too few to refit",
                it + 1,
                dict.len()
            );
        }
        sizes.push(dict.len());
        let xi: Vec<usize> = dict.iter().map(|p| p.0).collect();
        let yi: Vec<usize> = dict.iter().map(|p| p.1).collect();
        w = procrustes(&xv.select_rows(&xi), &yv.select_rows(&yi))?;
    }
    Ok((w, sizes))
}

/// The identity map of dimension `d` (the "no map" row of a table).
pub fn identity_map(d: usize) -> Matrix {
    identity(d)
}
