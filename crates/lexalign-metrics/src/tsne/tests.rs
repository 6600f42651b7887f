//! Unit checks of the t-SNE pieces on small inputs (scikit-learn parity is in
//! `tests/tsne_parity.rs`).

use super::*;

fn m(rows: &[&[f64]]) -> Matrix {
    Matrix::new(
        rows.len(),
        rows[0].len(),
        rows.iter().flat_map(|r| r.iter().copied()).collect(),
    )
    .unwrap()
}

/// Points on a line: PC1 carries all the spread, and its scores are the centred positions.
#[test]
fn pca_of_points_on_a_line() {
    let x = m(&[
        &[0.0, 0.0, 0.0],
        &[1.0, 2.0, 0.0],
        &[2.0, 4.0, 0.0],
        &[4.0, 8.0, 0.0],
    ]);
    let y = pca_2d(&x);
    let s5 = 5f64.sqrt();
    for (r, t) in y.iter().zip([-1.75, -0.75, 0.25, 2.25]) {
        assert!((r[0] - t * s5).abs() < 1e-10, "{r:?}");
        assert!(r[1].abs() < 1e-10, "{r:?}");
    }
}

/// Each row of the conditional P has the asked perplexity (2^entropy in bits = e^entropy).
#[test]
fn binary_search_hits_the_perplexity() {
    let x = m(&[
        &[0.0, 0.1],
        &[1.0, 0.0],
        &[0.3, 2.0],
        &[2.0, 2.0],
        &[4.0, 0.5],
        &[1.5, 3.0],
        &[0.2, 0.9],
    ]);
    let n = x.rows;
    let c = conditional_p(&sq_distances(&x), n, 3.0);
    for i in 0..n {
        let row = &c[i * n..(i + 1) * n];
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(row[i], 0.0);
        let h: f64 = -row
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>();
        assert!(
            (h.exp() - 3.0).abs() < 1e-3,
            "row {i}: perplexity {}",
            h.exp()
        );
    }
}

/// The analytic gradient matches finite differences of the KL divergence.
#[test]
fn gradient_matches_finite_differences() {
    let x = m(&[
        &[0.0, 0.1, 1.0],
        &[1.0, 0.0, 0.0],
        &[0.3, 2.0, 0.5],
        &[2.0, 2.0, 2.0],
        &[4.0, 0.5, 1.0],
    ]);
    let p = joint_p(&sq_distances(&x), 5, 2.0);
    let y = vec![
        [0.1, -0.2],
        [0.5, 0.3],
        [-0.4, 0.2],
        [0.0, 0.7],
        [0.9, -0.6],
    ];
    let (_, g) = kl_and_grad(&p, &y);
    let h = 1e-6;
    for k in 0..5 {
        for c in 0..2 {
            let (mut a, mut b) = (y.clone(), y.clone());
            a[k][c] += h;
            b[k][c] -= h;
            let fd = (kl_and_grad(&p, &a).0 - kl_and_grad(&p, &b).0) / (2.0 * h);
            assert!(
                (fd - g[k][c]).abs() < 1e-6,
                "[{k}][{c}]: {fd} vs {}",
                g[k][c]
            );
        }
    }
}

#[test]
fn trustworthiness_and_ranks() {
    let rows: Vec<Vec<f64>> = (0..12)
        .map(|i| vec![i as f64, (i * i) as f64 * 0.01])
        .collect();
    let x = Matrix::new(12, 2, rows.concat()).unwrap();
    let same: Vec<[f64; 2]> = rows.iter().map(|r| [r[0], r[1]]).collect();
    assert!((trustworthiness(&x, &same, 3).unwrap() - 1.0).abs() < 1e-12);
    // Reversing the order keeps neighbourhoods; shuffling them costs trust.
    let shuffled: Vec<[f64; 2]> = (0..12).map(|i| [((i * 5) % 12) as f64, 0.0]).collect();
    assert!(trustworthiness(&x, &shuffled, 3).unwrap() < 0.8);
    assert!(trustworthiness(&x, &same, 6).is_err());
    let s = m(&[&[1.0, 0.0], &[0.0, 1.0], &[1.0, 1.0]]);
    let t = m(&[&[0.9, 0.1], &[1.0, 0.0], &[0.5, 0.5]]);
    assert_eq!(translation_ranks(&s, &t).unwrap(), vec![2, 3, 1]);
    assert!(translation_ranks(&s, &m(&[&[0.0, 0.0], &[1.0, 0.0], &[0.0, 1.0]])).is_err());
}

#[test]
fn bad_inputs_are_refused() {
    let x = m(&[&[0.0, 1.0], &[1.0, 0.0], &[1.0, 1.0]]);
    let e = format!("{:#}", tsne(&x, &TsneOptions::default()).unwrap_err());
    assert!(e.contains("perplexity 15"), "{e}");
    let bad = m(&[&[0.0, f64::NAN], &[1.0, 0.0], &[1.0, 1.0]]);
    let o = TsneOptions {
        perplexity: 1.0,
        ..TsneOptions::default()
    };
    assert!(format!("{:#}", tsne(&bad, &o).unwrap_err()).contains("row 0"));
}
