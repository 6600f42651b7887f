//! The dense linear algebra the linear-map and post-processing baselines need, in pure Rust and
//! `f64`, for dimensions up to about a thousand: products through the crate's dot kernel, a
//! symmetric eigendecomposition (Householder tridiagonalisation then implicit QL, the EISPACK
//! `tred2`/`tql2` pair as JAMA writes it); the SVD built on it is in [`crate::svd`].

#![allow(clippy::needless_range_loop)] // index loops mirror the EISPACK/JAMA transcription

use crate::kernel::dense_sims;
use crate::matrix::Matrix;
use anyhow::{bail, Result};

/// Transpose.
pub fn transpose(a: &Matrix) -> Matrix {
    let mut data = vec![0.0; a.rows * a.cols];
    for i in 0..a.rows {
        for (j, &v) in a.row(i).iter().enumerate() {
            data[j * a.rows + i] = v;
        }
    }
    Matrix {
        rows: a.cols,
        cols: a.rows,
        data,
    }
}

/// `a · b` (`[n, p] · [p, q]`).
pub fn matmul(a: &Matrix, b: &Matrix) -> Matrix {
    assert_eq!(a.cols, b.rows, "matmul shapes");
    let bt = transpose(b);
    Matrix {
        rows: a.rows,
        cols: b.cols,
        data: dense_sims(a, &bt),
    }
}

/// `aᵀ · b` (`[n, p]ᵀ · [n, q]`), e.g. a Gram or cross-covariance matrix.
pub fn matmul_tn(a: &Matrix, b: &Matrix) -> Matrix {
    assert_eq!(a.rows, b.rows, "matmul_tn shapes");
    let (at, bt) = (transpose(a), transpose(b));
    Matrix {
        rows: a.cols,
        cols: b.cols,
        data: dense_sims(&at, &bt),
    }
}

/// The identity `[d, d]`.
pub fn identity(d: usize) -> Matrix {
    let mut data = vec![0.0; d * d];
    (0..d).for_each(|i| data[i * d + i] = 1.0);
    Matrix {
        rows: d,
        cols: d,
        data,
    }
}

/// Eigendecomposition of a symmetric matrix: eigenvalues ascending and the matching eigenvectors
/// as the columns of `vectors` (`a = V diag(values) Vᵀ`).
#[derive(Debug, Clone)]
pub struct SymEig {
    pub values: Vec<f64>,
    pub vectors: Matrix,
}

/// [`SymEig`] of a symmetric `a`.
///
/// The EISPACK/JAMA algorithm runs on `u = Vᵀ` (every `V[x][y]` of the transcription is
/// `u[y][x]` here): its inner loops then walk rows, not columns, and `u`'s rows end up as the
/// eigenvectors.
pub fn sym_eig(a: &Matrix) -> Result<SymEig> {
    if a.rows != a.cols {
        bail!(
            "eigendecomposition needs a square matrix, got [{}, {}]",
            a.rows,
            a.cols
        );
    }
    a.check_finite("matrix to decompose")?;
    let n = a.rows;
    if n == 0 {
        bail!("eigendecomposition of an empty matrix");
    }
    // Symmetric, so u = Aᵀ = A.
    let mut u: Vec<Vec<f64>> = (0..n).map(|i| a.row(i).to_vec()).collect();
    let (mut d, mut e) = (vec![0.0; n], vec![0.0; n]);
    tred2(&mut u, &mut d, &mut e);
    tql2(&mut u, &mut d, &mut e)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| d[x].total_cmp(&d[y]).then(x.cmp(&y)));
    let values = order.iter().map(|&i| d[i]).collect();
    let rows = Matrix {
        rows: n,
        cols: n,
        data: order.iter().flat_map(|&i| u[i].iter().copied()).collect(),
    };
    Ok(SymEig {
        values,
        vectors: transpose(&rows),
    })
}

/// Householder reduction to tridiagonal form (EISPACK tred2, JAMA's transcription, on `u = Vᵀ`).
fn tred2(u: &mut [Vec<f64>], d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    for j in 0..n {
        d[j] = u[j][n - 1];
    }
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = u[j][i - 1];
                u[j][i] = 0.0;
                u[i][j] = 0.0;
            }
        } else {
            for x in d[..i].iter_mut() {
                *x /= scale;
                h += *x * *x;
            }
            let f = d[i - 1];
            let g0 = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g0;
            h -= f * g0;
            d[i - 1] = f - g0;
            e[..i].iter_mut().for_each(|x| *x = 0.0);
            for j in 0..i {
                let f = d[j];
                u[i][j] = f;
                let row = &u[j];
                let mut g = e[j] + row[j] * f;
                for k in j + 1..i {
                    g += row[k] * d[k];
                    e[k] += row[k] * f;
                }
                e[j] = g;
            }
            let mut f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                let row = &mut u[j];
                for k in j..i {
                    row[k] -= f * e[k] + g * d[k];
                }
                d[j] = row[i - 1];
                row[i] = 0.0;
            }
        }
        d[i] = h;
    }
    accumulate_tred2(u, d, e);
}

/// Accumulates the Householder transformations of [`tred2`] into `u`.
fn accumulate_tred2(u: &mut [Vec<f64>], d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    for i in 0..n.saturating_sub(1) {
        u[i][n - 1] = u[i][i];
        u[i][i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = u[i + 1][k] / h;
            }
            let (lo, hi) = u.split_at_mut(i + 1);
            let w = &hi[0][..=i];
            for row in lo.iter_mut() {
                let g: f64 = w.iter().zip(&row[..=i]).map(|(a, b)| a * b).sum();
                row[..=i]
                    .iter_mut()
                    .zip(&d[..=i])
                    .for_each(|(x, dk)| *x -= g * dk);
            }
        }
        u[i + 1][..=i].iter_mut().for_each(|x| *x = 0.0);
    }
    for j in 0..n {
        d[j] = u[j][n - 1];
        u[j][n - 1] = 0.0;
    }
    u[n - 1][n - 1] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL on the tridiagonal form (EISPACK tql2, on `u = Vᵀ`): eigenvalues in `d`, their
/// eigenvectors in `u`'s rows (unsorted).
fn tql2(u: &mut [Vec<f64>], d: &mut [f64], e: &mut [f64]) -> Result<()> {
    let n = d.len();
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let (mut f, mut tst1) = (0.0f64, 0.0f64);
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        let mut iter = 0;
        while m > l && e[l].abs() > eps * tst1 {
            iter += 1;
            if iter > 100 {
                bail!("the symmetric eigensolver did not converge (eigenvalue {l})");
            }
            let g = d[l];
            let mut p = (d[l + 1] - g) / (2.0 * e[l]);
            let mut r = p.hypot(1.0);
            if p < 0.0 {
                r = -r;
            }
            d[l] = e[l] / (p + r);
            d[l + 1] = e[l] * (p + r);
            let dl1 = d[l + 1];
            let h = g - d[l];
            for di in d.iter_mut().skip(l + 2) {
                *di -= h;
            }
            f += h;
            p = d[m];
            let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
            let el1 = e[l + 1];
            let (mut s, mut s2) = (0.0, 0.0);
            for i in (l..m).rev() {
                c3 = c2;
                c2 = c;
                s2 = s;
                let g = c * e[i];
                let h = c * p;
                r = p.hypot(e[i]);
                e[i + 1] = s * r;
                s = e[i] / r;
                c = p / r;
                p = c * d[i] - s * g;
                d[i + 1] = h + s * (c * g + s * d[i]);
                let (lo, hi) = u.split_at_mut(i + 1);
                for (a, b) in lo[i].iter_mut().zip(hi[0].iter_mut()) {
                    let hb = *b;
                    *b = s * *a + c * hb;
                    *a = c * *a - s * hb;
                }
            }
            p = -s * s2 * c3 * el1 * e[l] / dl1;
            e[l] = s * p;
            d[l] = c * p;
        }
        d[l] += f;
        e[l] = 0.0;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rand_matrix(r: usize, c: usize, seed: u64) -> Matrix {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let data = (0..r * c)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 11) as f64 / (1u64 << 53) as f64) - 0.5
            })
            .collect();
        Matrix {
            rows: r,
            cols: c,
            data,
        }
    }

    pub(crate) fn max_diff(a: &Matrix, b: &Matrix) -> f64 {
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn eig_reconstructs() {
        let a = rand_matrix(30, 7, 1);
        let g = matmul_tn(&a, &a);
        let e = sym_eig(&g).unwrap();
        assert!(e.values.windows(2).all(|w| w[0] <= w[1]));
        let mut vd = e.vectors.clone();
        for i in 0..7 {
            for j in 0..7 {
                vd.data[i * 7 + j] *= e.values[j];
            }
        }
        assert!(max_diff(&matmul(&vd, &transpose(&e.vectors)), &g) < 1e-12);
        assert!(max_diff(&matmul_tn(&e.vectors, &e.vectors), &identity(7)) < 1e-12);
    }
}
