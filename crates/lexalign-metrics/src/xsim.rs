//! LASER's xSIM error rate with the ratio margin (LASER `source/xsim.py`, `margin="ratio"`, k=4):
//! each source's k nearest candidates by cosine are rescored by
//! `cos(x, y) / ((mean_k cos(x, .) + mean_k cos(., y)) / 2)`; a source errs when its best
//! rescored candidate is not one of its gold candidates. The score LASER's own evaluations
//! report; checked against numpy (`tests/fixtures/gen_xsim.py`).

use crate::{prepare, Gold, Matrix, Space};
use anyhow::{bail, Result};

/// Mean of the `k` largest values.
fn top_k_mean(v: &[f64], k: usize) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    s[..k].iter().sum::<f64>() / k as f64
}

/// Each source's prediction: the candidate with the best ratio margin among its `k` nearest
/// (ties: the nearer by cosine, then the lower index). `k` is clipped to the candidate and
/// source counts.
pub fn xsim_predictions(src: &Matrix, cand: &Matrix, k: usize) -> Result<Vec<usize>> {
    if k == 0 || src.rows == 0 || cand.rows == 0 {
        bail!("xsim needs k >= 1 and at least one source and one candidate");
    }
    let (s, c) = prepare(src, cand, Space::Raw)?;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let sims: Vec<Vec<f64>> = (0..s.rows)
        .map(|i| (0..c.rows).map(|j| dot(s.row(i), c.row(j))).collect())
        .collect();
    let (kx, ky) = (k.min(c.rows), k.min(s.rows));
    let mean_x: Vec<f64> = sims.iter().map(|r| top_k_mean(r, kx)).collect();
    let mean_y: Vec<f64> = (0..c.rows)
        .map(|j| top_k_mean(&sims.iter().map(|r| r[j]).collect::<Vec<_>>(), ky))
        .collect();
    let pred = sims
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut nn: Vec<usize> = (0..c.rows).collect();
            nn.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            let m = |j: usize| row[j] / ((mean_x[i] + mean_y[j]) / 2.0);
            // The first best in nearest-first order, as numpy's argmax over faiss' ranking.
            let mut best = nn[0];
            for &j in &nn[1..kx] {
                if m(j) > m(best) {
                    best = j;
                }
            }
            best
        })
        .collect();
    Ok(pred)
}

/// The ratio-margin error rate in [0, 1] and the number of errors.
pub fn xsim_margin_error(
    src: &Matrix,
    cand: &Matrix,
    gold: &Gold,
    k: usize,
) -> Result<(f64, usize)> {
    let pred = xsim_predictions(src, cand, k)?;
    let gold_of = gold.source_gold();
    let errors = pred
        .iter()
        .enumerate()
        .filter(|(i, p)| gold_of[*i].binary_search(p).is_err())
        .count();
    Ok((errors as f64 / src.rows as f64, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_fixes_a_hub() {
        // Candidate 2 is a hub close to everything; cosine NN would pick it for source 1, the
        // ratio margin does not.
        let src = Matrix::from_rows(&[vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.2]]).unwrap();
        let cand = Matrix::from_rows(&[
            vec![1.0, 0.05, 0.0],
            vec![0.0, 0.9, 0.0],
            vec![0.5, 0.8, 0.3],
        ])
        .unwrap();
        let gold = Gold::new(2, 3, vec![(0, 0), (1, 1)]).unwrap();
        let (rate, n) = xsim_margin_error(&src, &cand, &gold, 2).unwrap();
        assert_eq!((rate, n), (0.0, 0));
        let wrong = Gold::new(2, 3, vec![(0, 1), (1, 0)]).unwrap();
        assert_eq!(xsim_margin_error(&src, &cand, &wrong, 2).unwrap().1, 2);
    }
}
