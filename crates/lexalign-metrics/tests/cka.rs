//! Linear CKA against the numpy reference (`fixtures/gen_cka.py`, two numpy formulations), on
//! both of the crate's paths (Gram matrices and streamed feature products), and its defining
//! properties: CKA(X, X) = 1, invariance to orthogonal transforms and isotropic scaling of either
//! side, symmetry, and errors on degenerate input.

use lexalign_metrics::cka::{cka_of, linear_cka, stack, CkaSide};
use lexalign_metrics::Matrix;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

const TOL: f64 = 1e-12;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    x: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
    cka: f64,
    cka_xx: f64,
}

/// CKA through the Gram path (limit above n) or the streamed path (limit 0).
fn cka_path(x: &Matrix, y: &Matrix, gram_limit: usize) -> f64 {
    let a = CkaSide::with_gram_limit(x, "X", gram_limit).unwrap();
    let b = CkaSide::with_gram_limit(y, "Y", gram_limit).unwrap();
    cka_of(&a, &b).unwrap()
}

#[test]
fn matches_numpy_on_both_paths() {
    let f: Fixture = serde_json::from_str(include_str!("fixtures/cka_reference.json"))
        .expect("cka_reference.json parses");
    assert_eq!(f.cases.len(), 5);
    let mut max = 0.0f64;
    for c in &f.cases {
        let (x, y) = (
            Matrix::from_rows(&c.x).unwrap(),
            Matrix::from_rows(&c.y).unwrap(),
        );
        for (path, limit) in [("gram", usize::MAX), ("streamed", 0), ("mixed", x.rows)] {
            let got = if path == "mixed" {
                let a = CkaSide::with_gram_limit(&x, "X", limit).unwrap();
                let b = CkaSide::with_gram_limit(&y, "Y", 0).unwrap();
                cka_of(&a, &b).unwrap()
            } else {
                cka_path(&x, &y, limit)
            };
            let d = (got - c.cka).abs();
            assert!(
                d <= TOL,
                "{} ({path}): rust {got}, numpy {} (diff {d:e})",
                c.name,
                c.cka
            );
            max = max.max(d);
        }
        let d = (linear_cka(&x, &x).unwrap() - c.cka_xx).abs();
        assert!(
            d <= TOL,
            "{}: CKA(X, X) differs from numpy by {d:e}",
            c.name
        );
        max = max.max(d);
    }
    // The cases span the range (a near-copy, unrelated sides) and both n < d and n > d.
    let v: Vec<f64> = f.cases.iter().map(|c| c.cka).collect();
    assert!(
        v.iter().any(|&c| c > 0.99) && v.iter().any(|&c| c < 0.3),
        "{v:?}"
    );
    assert!(
        f.cases.iter().any(|c| c.x.len() < c.x[0].len())
            && f.cases.iter().any(|c| c.x.len() > c.y[0].len())
    );
    eprintln!("max |rust - numpy| CKA: {max:e}");
}

fn gauss(rng: &mut rand_chacha::ChaCha8Rng, rows: usize, cols: usize) -> Matrix {
    let data = (0..rows * cols)
        .map(|_| (0..6).map(|_| rng.gen::<f64>() - 0.5).sum::<f64>())
        .collect();
    Matrix::new(rows, cols, data).unwrap()
}

/// A random orthogonal `d x d` matrix (Gram-Schmidt of Gaussian columns).
fn orthogonal(rng: &mut rand_chacha::ChaCha8Rng, d: usize) -> Matrix {
    let g = gauss(rng, d, d);
    let mut q: Vec<Vec<f64>> = Vec::new();
    for i in 0..d {
        let mut v = g.row(i).to_vec();
        for u in &q {
            let p: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
        }
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        q.push(v.into_iter().map(|a| a / n).collect());
    }
    Matrix::from_rows(&q).unwrap()
}

fn matmul(a: &Matrix, b: &Matrix, scale: f64) -> Matrix {
    let mut out = vec![0.0; a.rows * b.cols];
    for i in 0..a.rows {
        for k in 0..a.cols {
            for j in 0..b.cols {
                out[i * b.cols + j] += scale * a.row(i)[k] * b.row(k)[j];
            }
        }
    }
    Matrix::new(a.rows, b.cols, out).unwrap()
}

#[test]
fn invariances_and_symmetry() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for (n, d1, d2) in [(10, 16, 6), (50, 8, 12)] {
        let x = gauss(&mut rng, n, d1);
        let noise = gauss(&mut rng, n, d2);
        let mix = gauss(&mut rng, d1, d2);
        let y = Matrix::new(
            n,
            d2,
            matmul(&x, &mix, 1.0)
                .data
                .iter()
                .zip(&noise.data)
                .map(|(a, b)| a + 2.0 * b)
                .collect(),
        )
        .unwrap();
        let base = linear_cka(&x, &y).unwrap();
        assert!(base > 0.05 && base < 0.95, "a non-trivial case: {base}");
        assert!((linear_cka(&x, &x).unwrap() - 1.0).abs() < 1e-12);
        assert!(
            (linear_cka(&y, &x).unwrap() - base).abs() < 1e-12,
            "symmetric"
        );
        let xr = matmul(&x, &orthogonal(&mut rng, d1), 1.0);
        let ys = matmul(&y, &orthogonal(&mut rng, d2), 37.5);
        assert!(
            (linear_cka(&xr, &y).unwrap() - base).abs() < 1e-10,
            "orthogonal transform of X"
        );
        assert!(
            (linear_cka(&xr, &ys).unwrap() - base).abs() < 1e-10,
            "rotated and scaled Y"
        );
        let shifted = Matrix::new(
            n,
            d1,
            x.data
                .iter()
                .enumerate()
                .map(|(i, v)| v + 50.0 + (i % d1) as f64)
                .collect(),
        )
        .unwrap();
        assert!(
            (linear_cka(&shifted, &y).unwrap() - base).abs() < 1e-9,
            "a common offset is centred away"
        );
        assert!(
            (cka_path(&x, &y, 0) - base).abs() < 1e-12,
            "streamed path agrees"
        );
        // Not invariant to an arbitrary (non-orthogonal) linear map: CKA is not CCA.
        let stretch = Matrix::new(
            n,
            d1,
            x.data
                .iter()
                .enumerate()
                .map(|(i, v)| if i % d1 == 0 { 30.0 * v } else { *v })
                .collect(),
        )
        .unwrap();
        assert!((linear_cka(&stretch, &y).unwrap() - base).abs() > 1e-3);
    }
}

#[test]
fn degenerate_input_is_an_error() {
    let one = Matrix::from_rows(&[vec![1.0, 2.0]]).unwrap();
    let e = linear_cka(&one, &one).unwrap_err().to_string();
    assert!(e.contains("at least 2 items"), "{e}");
    let x = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![0.0, 1.0]]).unwrap();
    let same = Matrix::from_rows(&vec![vec![0.1, 0.7, 5.0]; 3]).unwrap();
    let e = linear_cka(&x, &same).unwrap_err().to_string();
    assert!(e.contains("Y has no variance"), "{e}");
    let nan = Matrix::from_rows(&[vec![1.0], vec![f64::NAN], vec![2.0]]).unwrap();
    let e = linear_cka(&nan, &x).unwrap_err().to_string();
    assert!(e.contains("X row 1") && e.contains("NaN"), "{e}");
    let e = linear_cka(&x, &one).unwrap_err().to_string();
    assert!(e.contains("3 rows") && e.contains("1"), "{e}");
    let s = stack(&x, &x).unwrap();
    assert_eq!((s.rows, s.row(4)), (6, x.row(1)));
    assert!(stack(&x, &same).is_err());
}
