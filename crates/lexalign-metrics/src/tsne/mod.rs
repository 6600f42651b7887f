//! Exact t-SNE as scikit-learn's `TSNE(method="exact")` computes it (the authors' script 04 used
//! scikit-learn's t-SNE with perplexity 15 and 1,000 iterations), and scikit-learn's
//! `trustworthiness`.
//!
//! Followed step by step: squared Euclidean distances (cast to f32, as scikit-learn does),
//! a binary search of each point's precision to the perplexity (100 steps, tolerance 1e-5 in
//! entropy), symmetrised joint P; PCA initialisation (exact, signs as `svd_flip` with
//! `u_based_decision=False`: each component's largest-magnitude loading positive), rescaled so the
//! first coordinate has standard deviation 1e-4; Student-t (one degree of freedom) Q; gradient
//! descent with gains (+0.2 / x0.8, floor 0.01), 250 iterations at momentum 0.5 with P
//! exaggerated 12 times, then momentum 0.8 up to `max_iter`; learning rate `auto`
//! (max(N / 12 / 4, 50)); progress checked every 50 iterations (stop after 300 without
//! progress, or at gradient norm <= 1e-7). The embedding, gradient and gains are rounded to f32
//! where scikit-learn stores them in f32 arrays. Differences: sums run in another order, and the
//! PCA is an exact eigendecomposition
//! (scikit-learn's solver choice gives the same components up to rounding). The PCA start makes
//! the result deterministic: there is no random state to seed. Coordinates differ between
//! implementations anyway; parity is checked by KL divergence and trustworthiness
//! (`tests/fixtures/gen_tsne_reference.py`).

use anyhow::{bail, Result};

use crate::matrix::Matrix;

/// scikit-learn's settings (`TSNE(perplexity=15, max_iter=1000, method="exact")`).
#[derive(Debug, Clone, PartialEq)]
pub struct TsneOptions {
    pub perplexity: f64,
    pub max_iter: usize,
    pub early_exaggeration: f64,
    /// Iterations with exaggeration and momentum 0.5.
    pub exploration_iter: usize,
    pub n_iter_without_progress: usize,
    pub min_grad_norm: f64,
    pub min_gain: f64,
}

impl Default for TsneOptions {
    fn default() -> Self {
        Self {
            perplexity: 15.0,
            max_iter: 1000,
            early_exaggeration: 12.0,
            exploration_iter: 250,
            n_iter_without_progress: 300,
            min_grad_norm: 1e-7,
            min_gain: 0.01,
        }
    }
}

/// A 2-D embedding and its final KL divergence.
#[derive(Debug, Clone, PartialEq)]
pub struct Tsne {
    /// One `[x, y]` per input row.
    pub embedding: Vec<[f64; 2]>,
    pub kl_divergence: f64,
    /// Index of the last iteration run (scikit-learn's `n_iter_`).
    pub n_iter: usize,
}

const MACHINE_EPSILON: f64 = f64::EPSILON;
const CHECK_EVERY: usize = 50;

/// Squared Euclidean distances, row by row.
fn sq_distances(x: &Matrix) -> Vec<f64> {
    let n = x.rows;
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let s: f64 = x
                .row(i)
                .iter()
                .zip(x.row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            d[i * n + j] = s;
            d[j * n + i] = s;
        }
    }
    d
}

/// Conditional P of each row by binary search of its precision (scikit-learn's
/// `_binary_search_perplexity`, distances in f32).
fn conditional_p(d: &[f64], n: usize, perplexity: f64) -> Vec<f64> {
    let desired = perplexity.ln();
    let (eps, tol) = (1e-8f32 as f64, 1e-5f32 as f64);
    let mut p = vec![0.0; n * n];
    for i in 0..n {
        let row: Vec<f64> = (0..n).map(|j| d[i * n + j] as f32 as f64).collect();
        let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
        for _ in 0..100 {
            let mut sum = 0.0;
            for j in (0..n).filter(|&j| j != i) {
                p[i * n + j] = (-row[j] * beta).exp();
                sum += p[i * n + j];
            }
            if sum == 0.0 {
                sum = eps;
            }
            let mut sum_dp = 0.0;
            for j in 0..n {
                p[i * n + j] /= sum;
                sum_dp += row[j] * p[i * n + j];
            }
            let diff = sum.ln() + beta * sum_dp - desired;
            if diff.abs() <= tol {
                break;
            }
            if diff > 0.0 {
                lo = beta;
                beta = if hi == f64::INFINITY {
                    beta * 2.0
                } else {
                    (beta + hi) / 2.0
                };
            } else {
                hi = beta;
                beta = if lo == f64::NEG_INFINITY {
                    beta / 2.0
                } else {
                    (beta + lo) / 2.0
                };
            }
        }
    }
    p
}

/// Joint P (full symmetric matrix, zero diagonal), floored at machine epsilon off the diagonal.
fn joint_p(d: &[f64], n: usize, perplexity: f64) -> Vec<f64> {
    let c = conditional_p(d, n, perplexity);
    let mut p = vec![0.0; n * n];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..n {
            if i != j {
                p[i * n + j] = c[i * n + j] + c[j * n + i];
                total += p[i * n + j];
            }
        }
    }
    let total = total.max(MACHINE_EPSILON);
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            p[i * n + j] = (p[i * n + j] / total).max(MACHINE_EPSILON);
        }
    }
    p
}

/// KL(P || Q) and its gradient (scikit-learn's `_kl_divergence`, one degree of freedom).
/// `p` is the full matrix; scikit-learn's sums run over the condensed upper triangle.
fn kl_and_grad(p: &[f64], y: &[[f64; 2]]) -> (f64, Vec<[f64; 2]>) {
    let n = y.len();
    let mut w = vec![0.0; n * n];
    let mut sum = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            let (dx, dy) = (y[i][0] - y[j][0], y[i][1] - y[j][1]);
            let v = 1.0 / (1.0 + dx * dx + dy * dy);
            w[i * n + j] = v;
            w[j * n + i] = v;
            sum += v;
        }
    }
    let mut kl = 0.0;
    let mut grad = vec![[0.0; 2]; n];
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            let q = (w[i * n + j] / (2.0 * sum)).max(MACHINE_EPSILON);
            let pij = p[i * n + j];
            if j > i {
                kl += 2.0 * pij * (pij.max(MACHINE_EPSILON) / q).ln();
            }
            let f = (pij - q) * w[i * n + j];
            grad[i][0] += 4.0 * f * (y[i][0] - y[j][0]);
            grad[i][1] += 4.0 * f * (y[i][1] - y[j][1]);
        }
    }
    (kl, grad)
}

mod fit;
mod pca;
#[cfg(test)]
mod tests;

pub use fit::{translation_ranks, trustworthiness, tsne};
pub use pca::pca_2d;

/// Joint P in scikit-learn's condensed order (upper triangle, row by row), for parity tests.
pub fn joint_probabilities_condensed(x: &Matrix, perplexity: f64) -> Vec<f64> {
    let n = x.rows;
    let p = joint_p(&sq_distances(x), n, perplexity);
    (0..n)
        .flat_map(|i| ((i + 1)..n).map(move |j| (i, j)))
        .map(|(i, j)| p[i * n + j])
        .collect()
}

/// Bail on inputs scikit-learn refuses.
fn check_input(x: &Matrix, o: &TsneOptions) -> Result<()> {
    if x.rows < 2 {
        bail!("t-SNE needs at least 2 points, got {}", x.rows);
    }
    if !(o.perplexity > 0.0 && o.perplexity < x.rows as f64) {
        bail!(
            "perplexity {} must be above 0 and below the number of points ({})",
            o.perplexity,
            x.rows
        );
    }
    if let Some(i) = (0..x.rows).find(|&i| x.row(i).iter().any(|v| !v.is_finite())) {
        bail!("t-SNE input row {i} has a non-finite value");
    }
    Ok(())
}
