//! The first two principal-component scores, exactly: eigenvectors of the centred Gram matrix
//! (N x N, cheap for the few dozen points a t-SNE figure holds) by cyclic Jacobi rotations.
//! Signs as scikit-learn's `svd_flip(u_based_decision=False)`: each component's loading of
//! largest magnitude is positive.

use crate::matrix::Matrix;

/// Eigenvalues (descending) and eigenvectors (columns, as rows of the result) of symmetric `a`.
fn jacobi(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let scale: f64 = (0..n)
            .map(|i| a[i * n + i].powi(2))
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let vals = order.iter().map(|&i| a[i * n + i]).collect();
    let vecs = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (vals, vecs)
}

/// PCA scores `[pc1, pc2]` of each row of `x` (rows centred on their mean).
pub fn pca_2d(x: &Matrix) -> Vec<[f64; 2]> {
    let (n, d) = (x.rows, x.cols);
    let mean: Vec<f64> = (0..d)
        .map(|c| (0..n).map(|r| x.row(r)[c]).sum::<f64>() / n as f64)
        .collect();
    let xc: Vec<Vec<f64>> = (0..n)
        .map(|r| x.row(r).iter().zip(&mean).map(|(a, m)| a - m).collect())
        .collect();
    let mut gram = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let g: f64 = xc[i].iter().zip(&xc[j]).map(|(a, b)| a * b).sum();
            gram[i * n + j] = g;
            gram[j * n + i] = g;
        }
    }
    let (vals, vecs) = jacobi(gram, n);
    let mut out = vec![[0.0; 2]; n];
    for k in 0..2.min(n) {
        let sv = vals[k].max(0.0).sqrt();
        let u = &vecs[k];
        // The loading vector (a row of Vt) is Xc^T u / s; flip so its largest entry is positive.
        let load: Vec<f64> = (0..d)
            .map(|c| (0..n).map(|r| xc[r][c] * u[r]).sum::<f64>())
            .collect();
        let big = load
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(0.0);
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        for r in 0..n {
            out[r][k] = sign * u[r] * sv;
        }
    }
    out
}
