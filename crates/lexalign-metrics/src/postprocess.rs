//! Post-processing of frozen vectors, fitted on the training words of one language and applied
//! to any of its words: the cheap isotropy repairs a fine-tuning gain has to be told apart from.
//!
//! Every transform works on L2-normalised rows (hidden states' norms differ by orders of
//! magnitude between words at some layers); the metrics then normalise and centre as usual.
//! - [`PostKind::ZScore`]: per dimension, minus the training mean, divided by the training SD
//!   (population, numpy's `std`); a constant dimension is divided by 1.
//! - [`PostKind::Whiten`]: PCA (ZCA) whitening, `(x − μ) Q diag(1/√(λ + ε)) Qᵀ` with `Q, λ` the
//!   eigenvectors and eigenvalues of the training covariance (`/n`), `ε = 1e-6 · λ_max`. Rotating
//!   back by `Qᵀ` keeps each language in the model's own coordinates: two sides whitened in their
//!   own eigenbases (signs and order arbitrary) would no longer be comparable with each other.
//! - [`PostKind::RemoveTop`]: Mu & Viswanath (2018) "all-but-the-top": minus the mean, minus the
//!   projections on the top `D` principal components of the training words.

use crate::linalg::{matmul, matmul_tn, sym_eig};
use crate::matrix::Matrix;
use anyhow::{bail, Context, Result};

/// Relative floor on the covariance eigenvalues in whitening.
pub const WHITEN_EPS: f64 = 1e-6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    ZScore,
    Whiten,
    /// Remove the top `D` principal components (`D ≥ 1`).
    RemoveTop(usize),
}

impl PostKind {
    /// `zscore`, `whiten`, `remove-pc1`, ...
    pub fn name(self) -> String {
        match self {
            PostKind::ZScore => "zscore".into(),
            PostKind::Whiten => "whiten".into(),
            PostKind::RemoveTop(d) => format!("remove-pc{d}"),
        }
    }

    /// The post-processings of the baseline table: z-scoring, whitening, removing 1-3 PCs.
    pub fn all() -> Vec<PostKind> {
        vec![
            PostKind::ZScore,
            PostKind::Whiten,
            PostKind::RemoveTop(1),
            PostKind::RemoveTop(2),
            PostKind::RemoveTop(3),
        ]
    }
}

/// A fitted transform: `(x − mean) · proj` (z-scoring: `proj` diagonal, applied per dimension;
/// top-PC removal: `I − U Uᵀ`).
#[derive(Debug, Clone)]
pub struct PostFit {
    pub kind: PostKind,
    pub mean: Vec<f64>,
    /// Per-dimension divisor (z-scoring) or a `[d, d]` matrix.
    transform: Transform,
}

#[derive(Debug, Clone)]
enum Transform {
    Scale(Vec<f64>),
    Matrix(Matrix),
}

/// What every post-processing of one side is fitted from: the training rows' mean, their
/// per-dimension variance and (when a PCA-based kind is wanted) the covariance eigenvectors.
pub struct SideStats {
    mean: Vec<f64>,
    var: Vec<f64>,
    eig: Option<crate::linalg::SymEig>,
}

impl SideStats {
    /// Statistics of the training rows `train` (raw; L2-normalised first); `pca` computes the
    /// covariance eigendecomposition the whitening and top-PC kinds need (one for all of them).
    pub fn new(train: &Matrix, pca: bool) -> Result<Self> {
        if train.rows < 2 {
            bail!(
                "post-processing needs at least two training words, got {}",
                train.rows
            );
        }
        let x = train.l2_normalised("post-processing training rows")?;
        let mean = x.col_mean();
        let xc = minus(&x, &mean);
        let var = column_variance(&xc);
        let eig = if pca {
            let mut cov = matmul_tn(&xc, &xc);
            cov.data.iter_mut().for_each(|v| *v /= x.rows as f64);
            Some(sym_eig(&cov)?)
        } else {
            None
        };
        Ok(Self { mean, var, eig })
    }

    /// The fitted transform of `kind`.
    pub fn fit(&self, kind: PostKind) -> Result<PostFit> {
        let transform = match kind {
            PostKind::ZScore => Transform::Scale(
                self.var
                    .iter()
                    .map(|&v| if v > 0.0 { v.sqrt() } else { 1.0 })
                    .collect(),
            ),
            PostKind::Whiten => Transform::Matrix(self.whitening()?),
            PostKind::RemoveTop(k) => Transform::Matrix(self.top_removal(k)?),
        };
        Ok(PostFit {
            kind,
            mean: self.mean.clone(),
            transform,
        })
    }

    fn eig(&self) -> Result<&crate::linalg::SymEig> {
        self.eig
            .as_ref()
            .context("post-processing statistics computed without PCA")
    }

    fn whitening(&self) -> Result<Matrix> {
        let eig = self.eig()?;
        let d = self.mean.len();
        let eps = WHITEN_EPS * eig.values.last().copied().unwrap_or(0.0).max(0.0);
        let scale: Vec<f64> = eig
            .values
            .iter()
            .map(|&l| 1.0 / (l.max(0.0) + eps).sqrt())
            .collect();
        if scale.iter().any(|s| !s.is_finite()) {
            bail!(
                "whitening: the training covariance is zero (all training words have one vector)"
            );
        }
        let mut p = eig.vectors.clone();
        for i in 0..d {
            p.data[i * d..(i + 1) * d]
                .iter_mut()
                .zip(&scale)
                .for_each(|(v, s)| *v *= s);
        }
        Ok(matmul(&p, &crate::linalg::transpose(&eig.vectors)))
    }

    /// `I − U Uᵀ` with `U` the top-`k` eigenvectors (the last `k` columns: ascending order).
    fn top_removal(&self, k: usize) -> Result<Matrix> {
        let d = self.mean.len();
        if k == 0 || k >= d {
            bail!("remove-pc: D must be in 1..{d}, got {k}");
        }
        let v = &self.eig()?.vectors;
        let mut proj = crate::linalg::identity(d);
        for a in 0..d {
            for b in 0..d {
                let s: f64 = (d - k..d)
                    .map(|c| v.data[a * d + c] * v.data[b * d + c])
                    .sum();
                proj.data[a * d + b] -= s;
            }
        }
        Ok(proj)
    }
}

/// Fits `kind` on the training rows `train` (raw; they are L2-normalised first).
pub fn fit(kind: PostKind, train: &Matrix) -> Result<PostFit> {
    SideStats::new(train, kind != PostKind::ZScore)?.fit(kind)
}

impl PostFit {
    /// The transform applied to `x` (L2-normalised first).
    pub fn apply(&self, x: &Matrix) -> Result<Matrix> {
        let xc = minus(&x.l2_normalised("post-processed rows")?, &self.mean);
        Ok(match &self.transform {
            Transform::Scale(sd) => {
                let mut out = xc;
                for i in 0..out.rows {
                    out.data[i * out.cols..(i + 1) * out.cols]
                        .iter_mut()
                        .zip(sd)
                        .for_each(|(v, s)| *v /= s);
                }
                out
            }
            Transform::Matrix(m) => matmul(&xc, m),
        })
    }
}

fn minus(x: &Matrix, mean: &[f64]) -> Matrix {
    let mut out = x.clone();
    for i in 0..out.rows {
        out.data[i * out.cols..(i + 1) * out.cols]
            .iter_mut()
            .zip(mean)
            .for_each(|(v, m)| *v -= m);
    }
    out
}

/// Per-column mean of squares of an already centred matrix (the population variance).
fn column_variance(xc: &Matrix) -> Vec<f64> {
    let mut var = vec![0.0; xc.cols];
    for i in 0..xc.rows {
        var.iter_mut().zip(xc.row(i)).for_each(|(s, v)| *s += v * v);
    }
    var.iter_mut().for_each(|s| *s /= xc.rows as f64);
    var
}
