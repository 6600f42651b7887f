//! The SVD of a square matrix for the linear maps: eigenvectors of `MᵀM` (from
//! [`crate::linalg::sym_eig`]) as a preconditioner, then one-sided Jacobi rotations until the
//! columns are orthogonal to working precision when `M` is ill-conditioned, so small singular
//! values keep their accuracy.

use crate::kernel::dot;
use crate::linalg::{matmul, matmul_tn, sym_eig, transpose};
use crate::matrix::Matrix;
use anyhow::{bail, Result};

/// Singular value decomposition of a square matrix `m = U diag(s) Vᵀ` (singular values
/// descending; `u` and `v` hold the singular vectors as columns).
#[derive(Debug, Clone)]
pub struct Svd {
    pub u: Matrix,
    pub s: Vec<f64>,
    pub v: Matrix,
}

/// [`Svd`] of a square `m`. Columns whose singular value is zero (to working precision) get
/// left vectors completing an orthonormal basis, so `U` is always orthogonal. Accurate to about
/// 1e-9 relative or better: the eigenvectors of `MᵀM` alone when `M` is well conditioned,
/// refined by one-sided Jacobi otherwise.
pub fn svd_square(m: &Matrix) -> Result<Svd> {
    if m.rows != m.cols {
        bail!(
            "svd_square needs a square matrix, got [{}, {}]",
            m.rows,
            m.cols
        );
    }
    let n = m.rows;
    let eig = sym_eig(&matmul_tn(m, m))?;
    // Columns of B = M V, stored as rows of Bᵀ (and V as rows of Vᵀ), largest first.
    let mut vt = transpose(&eig.vectors);
    vt.data = (0..n).rev().flat_map(|i| vt.row(i).to_vec()).collect();
    let mut bt = matmul(&vt, &transpose(m));
    // B = M V has orthogonal columns up to about eps · σ_max² / (σ_i σ_j): below 1e-9 when
    // σ_min / σ_max > 1e-3, and then the Jacobi sweeps (the costly part) are skipped.
    let (lmin, lmax) = (eig.values[0], eig.values[n - 1]);
    if lmin <= 1e-6 * lmax || !lmin.is_finite() {
        jacobi_orthogonalise(&mut bt, &mut vt)?;
    }
    let mut s: Vec<f64> = (0..n).map(|i| dot(bt.row(i), bt.row(i)).sqrt()).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
    let (bt, vt) = (bt.select_rows(&order), vt.select_rows(&order));
    s = order.iter().map(|&i| s[i]).collect();
    let mut ut = bt;
    let tol = s[0].max(f64::MIN_POSITIVE) * n as f64 * f64::EPSILON;
    let rank = s.iter().take_while(|&&x| x > tol).count();
    for (r, si) in ut.data.chunks_mut(n).zip(&s).take(rank) {
        r.iter_mut().for_each(|x| *x /= si);
    }
    complete_basis(&mut ut, rank);
    Ok(Svd {
        u: transpose(&ut),
        s,
        v: transpose(&vt),
    })
}

/// One-sided Jacobi: rotates pairs of rows of `bt` (and the same pairs of `vt`) until every two
/// rows of `bt` are orthogonal to working precision.
fn jacobi_orthogonalise(bt: &mut Matrix, vt: &mut Matrix) -> Result<()> {
    let (n, c) = (bt.rows, bt.cols);
    let tol = f64::EPSILON * n as f64;
    for _sweep in 0..60 {
        let mut rotated = false;
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = (bt.row(i), bt.row(j));
                let (alpha, beta, gamma) = (dot(a, a), dot(b, b), dot(a, b));
                if gamma == 0.0 || gamma.abs() <= tol * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let cs = 1.0 / (1.0 + t * t).sqrt();
                let sn = cs * t;
                rotate_rows(&mut bt.data, c, i, j, cs, sn);
                rotate_rows(&mut vt.data, vt.cols, i, j, cs, sn);
            }
        }
        if !rotated {
            return Ok(());
        }
    }
    bail!("the Jacobi SVD did not converge in 60 sweeps")
}

fn rotate_rows(data: &mut [f64], c: usize, i: usize, j: usize, cs: f64, sn: f64) {
    let (lo, hi) = data.split_at_mut(j * c);
    let (ri, rj) = (&mut lo[i * c..(i + 1) * c], &mut hi[..c]);
    for (x, y) in ri.iter_mut().zip(rj.iter_mut()) {
        let (a, b) = (*x, *y);
        *x = cs * a - sn * b;
        *y = sn * a + cs * b;
    }
}

/// Replaces rows `rank..` of the row-orthonormal `ut` by unit vectors completing the basis
/// (Gram-Schmidt, twice, over the standard basis vectors).
fn complete_basis(ut: &mut Matrix, rank: usize) {
    let n = ut.cols;
    let mut next = rank;
    for e in 0..n {
        if next == ut.rows {
            break;
        }
        let mut v = vec![0.0; n];
        v[e] = 1.0;
        for _ in 0..2 {
            for k in 0..next {
                let p = dot(&v, ut.row(k));
                v.iter_mut().zip(ut.row(k)).for_each(|(x, u)| *x -= p * u);
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm > 1e-6 {
            ut.data[next * n..(next + 1) * n]
                .iter_mut()
                .zip(&v)
                .for_each(|(d, x)| *d = x / norm);
            next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::identity;
    use crate::linalg::tests::{max_diff, rand_matrix};

    #[test]
    #[ignore = "timing only: cargo test -p lexalign-metrics --lib timing -- --ignored --nocapture"]
    fn timing_640() {
        let a = rand_matrix(1000, 640, 9);
        let t = std::time::Instant::now();
        let g = matmul_tn(&a, &a);
        println!("gram {:?}", t.elapsed());
        let t = std::time::Instant::now();
        sym_eig(&g).unwrap();
        println!("eig {:?}", t.elapsed());
        let b = rand_matrix(1000, 640, 10);
        let m = matmul_tn(&a, &b);
        let t = std::time::Instant::now();
        svd_square(&m).unwrap();
        println!("svd {:?}", t.elapsed());
    }

    #[test]
    fn svd_reconstructs_including_rank_deficient() {
        for (m, rank) in [
            (rand_matrix(9, 9, 3), 9),
            (matmul(&rand_matrix(9, 4, 5), &rand_matrix(4, 9, 6)), 4),
        ] {
            let s = svd_square(&m).unwrap();
            let mut us = s.u.clone();
            for i in 0..9 {
                for j in 0..9 {
                    us.data[i * 9 + j] *= s.s[j];
                }
            }
            assert!(max_diff(&matmul(&us, &transpose(&s.v)), &m) < 1e-12);
            assert!(
                max_diff(&matmul_tn(&s.u, &s.u), &identity(9)) < 1e-12,
                "U orthogonal"
            );
            assert!(
                max_diff(&matmul_tn(&s.v, &s.v), &identity(9)) < 1e-12,
                "V orthogonal"
            );
            assert!(
                s.s[rank - 1] > 1e-3 && s.s[8] < 1e-10 * s.s[0] + if rank == 9 { 1.0 } else { 0.0 }
            );
        }
    }
}
