//! The optimisation (scikit-learn's `_gradient_descent`, two phases), trustworthiness, and the
//! rank of each word's translation, which a 2-D picture cannot show.

use anyhow::{bail, Result};

use super::{
    check_input, joint_p, kl_and_grad, pca_2d, sq_distances, Tsne, TsneOptions, CHECK_EVERY,
};
use crate::matrix::Matrix;

struct Phase {
    start: usize,
    max_iter: usize,
    momentum: f64,
    without_progress: usize,
}

/// One call of scikit-learn's `_gradient_descent`: returns (error, last iteration). Update and
/// gains start afresh in each phase, as there. Storage follows scikit-learn's dtypes: the
/// embedding, the gradient and the gains are f32 arrays (values rounded to f32 where numpy stores
/// them), the update is f64 (numpy promotes it through the f64 learning rate).
fn descend(p: &[f64], y: &mut [[f64; 2]], ph: &Phase, lr: f64, o: &TsneOptions) -> (f64, usize) {
    let n = y.len();
    let r32 = |x: f64| x as f32 as f64;
    let mut update = vec![[0.0f64; 2]; n];
    let mut gains = vec![[1.0f32; 2]; n];
    let (mut error, mut best_error, mut best_iter) = (f64::MAX, f64::MAX, ph.start);
    let mut i = ph.start;
    for it in ph.start..ph.max_iter {
        i = it;
        let check = (it + 1) % CHECK_EVERY == 0;
        let (kl, grad) = kl_and_grad(p, y);
        if check || it == ph.max_iter - 1 {
            error = kl;
        }
        let mut norm2 = 0.0f32;
        for k in 0..n {
            for c in 0..2 {
                let g32 = grad[k][c] as f32;
                let gain = &mut gains[k][c];
                if update[k][c] * (g32 as f64) < 0.0 {
                    *gain += 0.2;
                } else {
                    *gain *= 0.8;
                }
                *gain = gain.max(o.min_gain as f32);
                let step = g32 * *gain;
                norm2 += step * step;
                update[k][c] = ph.momentum * update[k][c] - lr * step as f64;
                y[k][c] = r32(y[k][c] + update[k][c]);
            }
        }
        if check {
            if error < best_error {
                best_error = error;
                best_iter = it;
            } else if it - best_iter > ph.without_progress {
                break;
            }
            if (norm2.sqrt() as f64) <= o.min_grad_norm {
                break;
            }
        }
    }
    (error, i)
}

/// Exact t-SNE of the rows of `x` into 2-D (see the module doc for the method).
pub fn tsne(x: &Matrix, o: &TsneOptions) -> Result<Tsne> {
    check_input(x, o)?;
    let n = x.rows;
    let mut p = joint_p(&sq_distances(x), n, o.perplexity);
    let mut y = pca_2d(x);
    // scikit-learn casts the PCA start to f32, then scales PC1 to standard deviation 1e-4.
    for r in &mut y {
        *r = [r[0] as f32 as f64, r[1] as f32 as f64];
    }
    let mean0 = y.iter().map(|r| r[0]).sum::<f64>() / n as f64;
    let sd0 = (y.iter().map(|r| (r[0] - mean0).powi(2)).sum::<f64>() / n as f64).sqrt();
    if sd0.is_nan() || sd0 <= 0.0 {
        bail!("t-SNE: the points have no spread along their first principal component");
    }
    let sd0 = sd0 as f32 as f64;
    for r in &mut y {
        *r = [
            (r[0] / sd0 * 1e-4) as f32 as f64,
            (r[1] / sd0 * 1e-4) as f32 as f64,
        ];
    }
    let lr = (n as f64 / o.early_exaggeration / 4.0).max(50.0);
    p.iter_mut().for_each(|v| *v *= o.early_exaggeration);
    let first = Phase {
        start: 0,
        max_iter: o.exploration_iter,
        momentum: 0.5,
        without_progress: o.exploration_iter,
    };
    let (mut kl, mut it) = descend(&p, &mut y, &first, lr, o);
    p.iter_mut().for_each(|v| *v /= o.early_exaggeration);
    if it < o.exploration_iter || o.max_iter > o.exploration_iter {
        let second = Phase {
            start: it + 1,
            max_iter: o.max_iter,
            momentum: 0.8,
            without_progress: o.n_iter_without_progress,
        };
        (kl, it) = descend(&p, &mut y, &second, lr, o);
    }
    if !kl.is_finite() || y.iter().any(|r| !r[0].is_finite() || !r[1].is_finite()) {
        bail!("t-SNE diverged (non-finite KL divergence or coordinates)");
    }
    Ok(Tsne {
        embedding: y,
        kl_divergence: kl,
        n_iter: it,
    })
}

/// scikit-learn's `trustworthiness(X, Y, n_neighbors=k)` with Euclidean distances: 1 minus the
/// penalty for points that are among a point's k nearest in `y` but not in `x`, by their rank in
/// `x`. Ties in `x` are ordered by index (numpy's stable argsort would do the same for equal
/// distances).
pub fn trustworthiness(x: &Matrix, y: &[[f64; 2]], k: usize) -> Result<f64> {
    let n = x.rows;
    if y.len() != n {
        bail!(
            "trustworthiness: {} points in the embedding, {n} in the input",
            y.len()
        );
    }
    if !(k >= 1 && (k as f64) < n as f64 / 2.0) {
        bail!("trustworthiness: n_neighbors {k} must be at least 1 and below n/2 ({n} points)");
    }
    let dx = sq_distances(x);
    let mut penalty = 0.0;
    for i in 0..n {
        let mut by_x: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        by_x.sort_by(|&a, &b| dx[i * n + a].total_cmp(&dx[i * n + b]).then(a.cmp(&b)));
        let mut rank = vec![0usize; n];
        for (r, &j) in by_x.iter().enumerate() {
            rank[j] = r + 1;
        }
        let d2 = |j: usize| (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
        let mut by_y: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        by_y.sort_by(|&a, &b| d2(a).total_cmp(&d2(b)).then(a.cmp(&b)));
        for &j in by_y.iter().take(k) {
            if rank[j] > k {
                penalty += (rank[j] - k) as f64;
            }
        }
    }
    let (nf, kf) = (n as f64, k as f64);
    Ok(1.0 - penalty * (2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0))))
}

/// For each source row i, the rank (1 = nearest) of target row i among all target rows by cosine
/// to source row i: what a t-SNE picture of translation pairs cannot show. Ties count against
/// the translation (rank = 1 + the number of targets at least as close, itself excluded).
pub fn translation_ranks(sources: &Matrix, targets: &Matrix) -> Result<Vec<usize>> {
    if sources.rows != targets.rows || sources.cols != targets.cols {
        bail!(
            "translation ranks: sources [{}, {}] and targets [{}, {}] must have the same shape",
            sources.rows,
            sources.cols,
            targets.rows,
            targets.cols
        );
    }
    let unit = |m: &Matrix, i: usize| -> Result<Vec<f64>> {
        let r = m.row(i);
        let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            bail!("translation ranks: row {i} has zero or non-finite norm");
        }
        Ok(r.iter().map(|v| v / norm).collect())
    };
    let s: Vec<Vec<f64>> = (0..sources.rows)
        .map(|i| unit(sources, i))
        .collect::<Result<_>>()?;
    let t: Vec<Vec<f64>> = (0..targets.rows)
        .map(|i| unit(targets, i))
        .collect::<Result<_>>()?;
    let cos = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    Ok((0..s.len())
        .map(|i| {
            let own = cos(&s[i], &t[i]);
            1 + (0..t.len())
                .filter(|&j| j != i && cos(&s[i], &t[j]) >= own)
                .count()
        })
        .collect())
}
